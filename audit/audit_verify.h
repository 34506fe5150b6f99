/*
 * audit_verify.h - check an audit database (and a witness file) end to end:
 * every writer's records recomputed into its Merkle tree, every checkpoint's
 * signature and root, and the witness's checkpoints against the records.
 *
 * What fails (never merely warns), with the writer and the first bad
 * sequence number where there is one:
 *  - a record whose content no longer hashes to the leaf stored with it
 *    (changed, or swapped with another);
 *  - a gap or a repeat in the sequence numbers (deleted or inserted);
 *  - a checkpoint whose root is not the root of the records it covers;
 *  - a checkpoint (in the database or the witness) covering more records
 *    than the database holds (the tail was truncated, or the table was
 *    replaced by an older copy);
 *  - a checkpoint signed by a key not among the trusted ones, or with a bad
 *    signature;
 *  - two checkpoints of one size with different roots, or a later
 *    checkpoint smaller than an earlier one;
 *  - a malformed witness line.
 * All checkpoints of a writer lying on the one tree recomputed from its
 * records is what makes consecutive checkpoints consistent.
 */
#ifndef AUDIT_VERIFY_H
#define AUDIT_VERIFY_H

#include <stdint.h>

#include <libpq-fe.h>

#include "../common/err.h"
#include "audit_checkpoint.h"

struct audit_verify_opts {
	const struct audit_pubkey *keys;   /* trusted checkpoint keys */
	size_t nkeys;
	const char *witness_file;          /* NULL: no witness */
};

struct audit_verify_result {
	int ok;                            /* 1: everything checked out */
	char writer[AUDIT_ORIGIN_MAX];     /* where it failed */
	long long seq;                     /* first bad record, or -1 */
	char what[256];                    /* why, naming no record content */
	unsigned long long writers, records, checkpoints, witness_checkpoints;
	unsigned long long unsealed;       /* records after the last checkpoint */
};

/* Run the checks over the audit database on c.  0 if they ran (res->ok says
 * whether they passed); an error if they could not run (database error,
 * unreadable witness file), with ei saying why. */
int audit_verify(PGconn *c, const struct audit_verify_opts *opts,
    struct audit_verify_result *res, struct pii_errinfo *ei);

/* One row of the binary COPY that verify reads (its 19 columns): field i's
 * bytes, NUL-terminated, in the caller's scratch buffer; v[i] NULL for SQL
 * NULL.  PII_ERR_BAD_REQUEST unless data is exactly one such row. */
#define AUDIT_COPY_FIELDS 19
#define AUDIT_COPY_SCRATCH (256 * 1024)
struct audit_copy_row {
	const char *v[AUDIT_COPY_FIELDS];
	size_t len[AUDIT_COPY_FIELDS];
};
int audit_copy_row_parse(const char *data, size_t len,
    struct audit_copy_row *out, char *scratch, size_t cap);

/* The canonical encoding of record seq of writer, recomputed from its
 * columns, into enc (AUDIT_RECORD_MAX bytes).  PII_ERR_NOT_FOUND if there is
 * no such record (or more than one). */
int audit_db_record(PGconn *c, const char *writer, uint64_t seq,
    unsigned char *enc, size_t *len, struct pii_errinfo *ei);

#endif
