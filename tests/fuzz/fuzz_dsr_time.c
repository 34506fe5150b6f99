/*
 * fuzz_dsr_time.c - the subject-rights deadline's time parser: anything it
 * accepts formats back to the same text, and the deadline arithmetic on it
 * never fails or goes backwards.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../vault/vault_dsr_time.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char s[64], back[21];
	int64_t t, due, ext;

	if (size >= sizeof(s))
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	if (vault_dsr_parse(s, &t) != 0)
		return 0;
	if (vault_dsr_format(t, back) != 0 || strcmp(back, s) != 0)
		abort();
	if (vault_dsr_due(t, (int)(size % 40), &due) == 0) {
		if (due <= t)
			abort();
		if (vault_dsr_extend(t, due, 0, 2, t, &ext) == 0 && ext < due)
			abort();
	}
	return 0;
}
