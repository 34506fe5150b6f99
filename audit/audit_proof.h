/*
 * audit_proof.h - inclusion proofs of one audit record against a signed
 * checkpoint, in a file a third party checks with the public key alone.
 *
 * The file is a JSON object (docs/audit.md):
 *
 *   {"format": "piivault-audit-inclusion-proof v1",
 *    "record": base64 of the record's canonical encoding (audit_record.h),
 *    "seq": N, "tree_size": S,
 *    "path": [hex of each RFC 6962 audit-path hash, nearest the leaf first],
 *    "checkpoint": the signed checkpoint as a witness line, no newline}
 *
 * The checker recomputes the leaf hash from the record bytes, walks the path
 * to a root, and requires that root to be the signed checkpoint's, the
 * record's origin and sequence number to be the checkpoint's origin and the
 * proof's seq, and the signature to be by a trusted key.  Nothing in the
 * file is taken on trust.  The erasure receipts of subject-rights requests
 * use these proofs.
 */
#ifndef AUDIT_PROOF_H
#define AUDIT_PROOF_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "../common/err.h"
#include "audit_checkpoint.h"
#include "audit_record.h"

#define AUDIT_PROOF_MAX (64 * 1024)     /* largest proof file */

/* Build the proof of record seq of writer against the writer's largest
 * stored checkpoint that covers it.  *json_out is new (free()). */
int audit_proof_build(PGconn *c, const char *writer, uint64_t seq,
    char **json_out, struct pii_errinfo *ei);
/* As audit_proof_build; with smallest, against the writer's smallest stored
 * checkpoint that covers the record, which reads the fewest leaves (an
 * erasure receipt is built once, soon after its record). */
int audit_proof_build_against(PGconn *c, const char *writer, uint64_t seq,
    int smallest, char **json_out, struct pii_errinfo *ei);

struct audit_proof_result {
	struct audit_checkpoint cp;      /* the checkpoint it was checked against */
	unsigned char record[AUDIT_RECORD_MAX];
	size_t record_len;
	struct audit_record_view view;   /* into record */
};

/* Check a proof file's text against keys.  0: the record is in the log the
 * checkpoint signs; ei says what failed otherwise (PII_ERR_BAD_REQUEST for
 * a malformed file, PII_ERR_KEY for an untrusted key, PII_ERR_CRYPTO for a
 * signature or path that does not verify).  res may be large: allocate it. */
int audit_proof_check(const char *text, size_t len,
    const struct audit_pubkey *keys, size_t nkeys,
    struct audit_proof_result *res, struct pii_errinfo *ei)
    __attribute__((warn_unused_result));

#endif
