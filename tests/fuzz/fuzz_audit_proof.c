/*
 * fuzz_audit_proof.c - libFuzzer target for audit_proof_check, which parses
 * inclusion-proof files (JSON with base64, hex and a witness line) that
 * anyone may hand to pii-audit verify-proof.
 *
 * The input is checked against a fixed public key.  Whatever it holds, the
 * check must return 0 or one of its documented errors and never crash; an
 * accepted proof must be one whose record decodes and whose checkpoint
 * names that record's origin (the fixed key signs nothing, so acceptance
 * itself would be a bug: abort).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../audit/audit_proof.h"
#include "../../common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_proof_result res;
	struct audit_pubkey key;
	struct pii_errinfo ei;
	char *copy;
	int r;

	/* a key no proof in the corpus is signed with: all-0x11 bytes */
	memset(&key, 0, sizeof(key));
	memset(key.pk, 0x11, sizeof(key.pk));
	memcpy(key.key_id, "0123456789abcdef", 17);
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	pii_errinfo_clear(&ei);
	r = audit_proof_check(copy, size, &key, 1, &res, &ei);
	if (r == 0) {
		fprintf(stderr, "fuzz_audit_proof: accepted a proof no trusted "
		    "key signed\n");
		abort();
	}
	if (r != PII_ERR_BAD_REQUEST && r != PII_ERR_TOO_LARGE &&
	    r != PII_ERR_CRYPTO && r != PII_ERR_KEY &&
	    r != PII_ERR_INVALID_JSON && r != PII_ERR_DUPLICATE_KEY &&
	    r != PII_ERR_RANGE && r != PII_ERR_NOMEM) {
		fprintf(stderr, "fuzz_audit_proof: unexpected error %d\n", r);
		abort();
	}
	free(copy);
	return 0;
}
