/*
 * fuzz_receipt.c - libFuzzer target for audit_receipt_check, which parses
 * erasure receipts (JSON holding a signed JSON statement, base64, and an
 * inclusion proof with its own base64, hex and witness line) that anyone
 * may hand to pii-audit verify-receipt.
 *
 * The input is checked against one fixed trusted public key.  The seed
 * corpus (tests/fuzz/corpus/fuzz_receipt) holds a fully valid receipt
 * signed by that key - statement and checkpoint - so that the fuzzer
 * starts past the signatures and explores the checks behind them; the
 * secret key was used once, by a throwaway generator, and is kept nowhere.
 * (To remake the corpus: make a key pair, sign new seeds with it, and
 * replace FIXED_PK and FIXED_KEY_ID below.)
 *
 * Whatever the input, the check must return 0 or one of its documented
 * errors and never crash.  When it accepts, what it accepted must be what
 * a receipt promises (abort otherwise): the proven record is an allowed
 * "erasure" by "dsr-executor" of the subject, request and number of values
 * the result names, with request_id and batch_id both that request, in the
 * fixed key's checkpoint.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../audit/audit_receipt.h"
#include "../../common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Ed25519 public key of the seed corpus's signer, and its key id. */
static const unsigned char FIXED_PK[AUDIT_PK_BYTES] = {
	0xe4, 0xdd, 0xfc, 0xab, 0x11, 0xc6, 0x9f, 0xc2,
	0x52, 0xd1, 0x1d, 0x9a, 0x64, 0xea, 0x44, 0xdc,
	0x3e, 0x1d, 0x19, 0xe6, 0x0e, 0x79, 0x53, 0x05,
	0x77, 0x2a, 0x37, 0xf8, 0x38, 0xb2, 0x24, 0xd1,
};
#define FIXED_KEY_ID "eb5376edc8a7c362"

static int
field_is(const struct audit_field *f, const char *s)
{
	size_t n = strlen(s);

	return f->p != NULL && f->len == n && memcmp(f->p, s, n) == 0;
}

static void
fail(const char *what)
{
	fprintf(stderr, "fuzz_receipt: accepted a receipt %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_receipt_result res;
	static int init;
	struct audit_pubkey key;
	struct pii_errinfo ei;
	const struct audit_record_view *v;
	char *copy;
	int r;

	if (!init) {
		if (sodium_init() < 0)
			abort();
		init = 1;
	}
	memset(&key, 0, sizeof(key));
	memcpy(key.pk, FIXED_PK, sizeof(key.pk));
	memcpy(key.key_id, FIXED_KEY_ID, sizeof(FIXED_KEY_ID));
	/* an exact-size copy, so that reading past size is caught */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	pii_errinfo_clear(&ei);
	r = audit_receipt_check(copy, size, &key, 1, &res, &ei);
	if (r == 0) {
		v = &res.proof.view;
		if (!field_is(&v->action, "erasure"))
			fail("whose record is not an erasure");
		if (!field_is(&v->decision, "allow"))
			fail("whose erasure was not allowed");
		if (!field_is(&v->actor, "dsr-executor"))
			fail("whose erasure was not the DSR executor's");
		if (v->count != (int64_t)res.values_erased)
			fail("whose record counts other values than it states");
		if (!field_is(&v->request_id, res.request_id) ||
		    !field_is(&v->batch_id, res.request_id))
			fail("whose record is of another request");
		if (!field_is(&v->subject_token, res.subject_token))
			fail("whose record is of another subject");
		if (!field_is(&v->origin, res.proof.cp.origin) ||
		    v->seq >= res.proof.cp.size)
			fail("whose record is not in its checkpoint");
		if (strcmp(res.proof.cp.key_id, FIXED_KEY_ID) != 0)
			fail("whose checkpoint is not signed by the trusted key");
		if (res.kek_epoch < 0 || res.kek_epoch > UINT32_MAX ||
		    res.values_erased < 0)
			fail("with an out-of-range number");
	} else if (r != PII_ERR_BAD_REQUEST && r != PII_ERR_TOO_LARGE &&
	    r != PII_ERR_CRYPTO && r != PII_ERR_KEY &&
	    r != PII_ERR_INVALID_JSON && r != PII_ERR_DUPLICATE_KEY &&
	    r != PII_ERR_RANGE && r != PII_ERR_NOMEM) {
		fprintf(stderr, "fuzz_receipt: unexpected error %d\n", r);
		abort();
	} else if (memchr(ei.field, '\0', sizeof(ei.field)) == NULL ||
	    memchr(ei.message, '\0', sizeof(ei.message)) == NULL) {
		fprintf(stderr, "fuzz_receipt: error text not terminated\n");
		abort();
	} else if (audit_receipt_check(copy, size, &key, 1, &res, NULL) != r) {
		/* err.h: ei may be NULL; the outcome must not depend on it */
		fprintf(stderr, "fuzz_receipt: another result without ei\n");
		abort();
	}
	free(copy);
	return 0;
}
