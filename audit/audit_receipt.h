/*
 * audit_receipt.h - erasure receipts: what the vault gives for a completed
 * erasure (GET /v1/dsr/{id}/receipt), checked with the public key alone.
 *
 * A receipt is a JSON object (docs/dsr.md):
 *
 *   {"format": "piivault-erasure-receipt v1",
 *    "statement": the signed text: compact JSON with sorted keys
 *        {"audit_origin", "audit_seq", "completed_at", "due_at",
 *         "erasure_event_id" (optional), "format", "kek_epoch", "kind",
 *         "received_at", "request_id", "subject_token", "values_erased"},
 *    "key_id": the signing key's id,
 *    "signature": base64 Ed25519 signature of the statement
 *        (audit_statement_sign, domain "erasure-receipt v1"),
 *    "proof": an inclusion proof (audit_proof.h) of the erasure's own audit
 *        record}
 *
 * The check: the signature verifies under a trusted key; the proof verifies
 * against a signed checkpoint; and the proven record is the erasure the
 * statement describes: action "erasure" by actor "dsr-executor", decision
 * allow, the statement's subject token, its request id (request_id and
 * batch_id), its origin and sequence number, and its count of values
 * erased.  A receipt holds no PII.
 */
#ifndef AUDIT_RECEIPT_H
#define AUDIT_RECEIPT_H

#include <stddef.h>

#include "../common/err.h"
#include "audit_proof.h"

#define AUDIT_RECEIPT_MAX (AUDIT_PROOF_MAX + 8192)
#define AUDIT_RECEIPT_DOMAIN "erasure-receipt v1"
#define AUDIT_RECEIPT_FORMAT "piivault-erasure-receipt v1"

struct audit_receipt_result {
	struct audit_proof_result proof;
	char request_id[65];
	char subject_token[97];
	long long kek_epoch, values_erased;
	char completed_at[32];
};

/* 0 if the receipt text is authentic and consistent (above); otherwise
 * PII_ERR_BAD_REQUEST (malformed, naming the JSON path), PII_ERR_KEY (no
 * trusted key) or PII_ERR_CRYPTO (a signature, a path or a field that does
 * not match), with ei saying what.  res is large: allocate it. */
int audit_receipt_check(const char *text, size_t len,
    const struct audit_pubkey *keys, size_t nkeys,
    struct audit_receipt_result *res, struct pii_errinfo *ei)
    __attribute__((warn_unused_result));

#endif
