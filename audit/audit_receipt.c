/*
 * audit_receipt.c - check an erasure receipt (audit_receipt.h).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../common/json_util.h"
#include "audit_receipt.h"

static int
field_is(const struct audit_field *f, const char *s)
{
	size_t n = strlen(s);

	return f->p != NULL && f->len == n && memcmp(f->p, s, n) == 0;
}

int
audit_receipt_check(const char *text, size_t len,
    const struct audit_pubkey *keys, size_t nkeys,
    struct audit_receipt_result *res, struct pii_errinfo *ei)
{
	static const char *const top[] = { "format", "statement", "key_id",
		"signature", "proof", NULL };
	static const char *const skeys[] = { "audit_origin", "audit_seq",
		"completed_at", "due_at", "erasure_event_id", "format", "kek_epoch",
		"kind", "received_at", "request_id", "subject_token",
		"values_erased", NULL };
	json_t *root = NULL, *st = NULL, *proof;
	const char *fmt, *stmt, *key_id, *sig64, *sfmt, *kind, *origin, *rid,
	    *stok, *completed;
	unsigned char sig[AUDIT_SIG_BYTES];
	char *ptext = NULL;
	size_t sl = 0, siglen = 0, pl = 0;
	long long seq = 0;
	const struct audit_record_view *v;
	struct pii_errinfo ei_scratch;          /* ei may be NULL (err.h) */
	int r;

	if (ei == NULL)
		ei = &ei_scratch;
	memset(res, 0, sizeof(*res));
	if (len > AUDIT_RECEIPT_MAX)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "a receipt is at most %d bytes", AUDIT_RECEIPT_MAX);
	if ((r = pii_json_parse(text, len, 8, &root, ei)) != 0)
		return r;
	if (!json_is_object(root)) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "a receipt is a JSON object");
		goto out;
	}
	if ((r = pii_json_check_keys(root, top, "", ei)) != 0 ||
	    (r = pii_json_get_string(root, "format", 1, 64, "", &fmt, NULL, ei)) != 0 ||
	    (r = pii_json_get_string(root, "statement", 1, 4096, "", &stmt, &sl,
	    ei)) != 0 ||
	    (r = pii_json_get_string(root, "key_id", 1, AUDIT_KEY_ID_HEX, "",
	    &key_id, NULL, ei)) != 0 ||
	    (r = pii_json_get_string(root, "signature", 1, 128, "", &sig64, NULL,
	    ei)) != 0 ||
	    (r = pii_json_get_object(root, "proof", 1, "", &proof, ei)) != 0)
		goto out;
	if (strcmp(fmt, AUDIT_RECEIPT_FORMAT) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "format",
		    "not \"" AUDIT_RECEIPT_FORMAT "\"");
		goto out;
	}
	/* the key id goes into messages: only what a key id can be */
	if (strlen(key_id) != AUDIT_KEY_ID_HEX ||
	    strspn(key_id, "0123456789abcdef") != AUDIT_KEY_ID_HEX) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "key_id",
		    "not a key id (16 lowercase hex digits)");
		goto out;
	}
	if (sodium_base642bin(sig, sizeof(sig), sig64, strlen(sig64), NULL,
	    &siglen, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    siglen != sizeof(sig)) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "signature",
		    "not a base64 Ed25519 signature");
		goto out;
	}
	/* 1. the statement is signed by a trusted key */
	r = audit_statement_verify(AUDIT_RECEIPT_DOMAIN, stmt, sl, key_id, sig,
	    keys, nkeys);
	if (r != 0) {
		r = pii_errinfo_set(ei, r, "signature", r == PII_ERR_KEY ?
		    "signed by a key that is not trusted (%s)" :
		    "the signature does not verify", key_id);
		goto out;
	}
	/* 2. what it states */
	if ((r = pii_json_parse(stmt, sl, 2, &st, ei)) != 0) {
		snprintf(ei->field, sizeof(ei->field), "statement");
		goto out;
	}
	if (!json_is_object(st)) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "statement",
		    "not a JSON object");
		goto out;
	}
	if ((r = pii_json_check_keys(st, skeys, "statement", ei)) != 0 ||
	    (r = pii_json_get_string(st, "format", 1, 64, "statement", &sfmt,
	    NULL, ei)) != 0 ||
	    (r = pii_json_get_string(st, "kind", 1, 16, "statement", &kind, NULL,
	    ei)) != 0 ||
	    (r = pii_json_get_string(st, "audit_origin", 1, AUDIT_ORIGIN_MAX - 1,
	    "statement", &origin, NULL, ei)) != 0 ||
	    (r = pii_json_get_int(st, "audit_seq", 1, 0, INT64_MAX, "statement",
	    &seq, ei)) != 0 ||
	    (r = pii_json_get_string(st, "request_id", 1, 64, "statement", &rid,
	    NULL, ei)) != 0 ||
	    (r = pii_json_get_string(st, "subject_token", 1, 96, "statement",
	    &stok, NULL, ei)) != 0 ||
	    (r = pii_json_get_string(st, "completed_at", 1, 31, "statement",
	    &completed, NULL, ei)) != 0 ||
	    (r = pii_json_get_int(st, "kek_epoch", 1, 0, UINT32_MAX, "statement",
	    &res->kek_epoch, ei)) != 0 ||
	    (r = pii_json_get_int(st, "values_erased", 1, 0, INT64_MAX,
	    "statement", &res->values_erased, ei)) != 0)
		goto out;
	if (strcmp(sfmt, AUDIT_RECEIPT_FORMAT) != 0 || strcmp(kind, "erasure") != 0) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "statement",
		    "not an erasure receipt statement");
		goto out;
	}
	/* 3. the proof, and that it proves this erasure's record */
	if (pii_json_dump(proof, &ptext, &pl) != 0) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = audit_proof_check(ptext, pl, keys, nkeys, &res->proof, ei)) != 0) {
		char f[PII_ERR_MAX_FIELD];
		size_t fl = strnlen(ei->field, sizeof(ei->field) - 8);

		memcpy(f, ei->field, fl);
		f[fl] = '\0';
		memcpy(ei->field, "proof", 5);
		if (fl > 0) {
			ei->field[5] = '.';
			memcpy(ei->field + 6, f, fl + 1);
		} else
			ei->field[5] = '\0';
		goto out;
	}
	v = &res->proof.view;
	if (strcmp(res->proof.cp.origin, origin) != 0 || v->seq != (uint64_t)seq ||
	    !field_is(&v->action, "erasure") || !field_is(&v->decision, "allow") ||
	    !field_is(&v->subject_token, stok) || !field_is(&v->request_id, rid) ||
	    !field_is(&v->batch_id, rid) || !field_is(&v->actor, "dsr-executor") ||
	    v->count != (int64_t)res->values_erased) {
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, "proof",
		    "the proven audit record is not the erasure this receipt states");
		goto out;
	}
	snprintf(res->request_id, sizeof(res->request_id), "%s", rid);
	snprintf(res->subject_token, sizeof(res->subject_token), "%s", stok);
	snprintf(res->completed_at, sizeof(res->completed_at), "%s", completed);
	r = 0;
out:
	if (ptext != NULL)
		pii_json_free_str(ptext);
	json_decref(st);
	json_decref(root);
	return r;
}
