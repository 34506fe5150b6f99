/*
 * fuzz_reveal_batch.c - libFuzzer target for proxy_vault_split_batch, the
 * proxy's parser of the vault's POST /v1/reveal/batch answers.
 *
 * Input: one byte n (1 + byte % 8 reveals, request ids "r0".."r7"), then the
 * answer body.  Besides "no crash, no leak, no UB" it checks the promises of
 * proxy_vault.h: on success every answer has a status 100-599 and a JSON
 * object body that it alone holds; on failure nothing is handed out.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../proxy/proxy_vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const rids[8] = { "r0", "r1", "r2", "r3", "r4", "r5",
		"r6", "r7" };
	struct proxy_vault_answer out[8];
	size_t n, i;
	int r;

	if (size < 1)
		return 0;
	n = 1 + (size_t)(data[0] % 8);
	r = proxy_vault_split_batch((const char *)data + 1, size - 1, rids, n, out);
	for (i = 0; i < n; i++) {
		if (r != 0) {
			if (out[i].body != NULL || out[i].json != NULL)
				abort();
			continue;
		}
		if (out[i].status < 100 || out[i].status > 599 ||
		    !json_is_object(out[i].json) || out[i].json->refcount != 1)
			abort();
		proxy_vault_done(&out[i]);
	}
	return 0;
}
