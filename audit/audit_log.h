/*
 * audit_log.h - the tamper-evident, fail-closed audit log writer.
 *
 * One log per writer process: its origin ("<writer>/<start time>-<random>
 * /<generation>") names it.  One appender thread assigns sequence numbers
 * without gaps, extends an RFC 6962 Merkle tree kept in memory as a compact
 * range, and commits the records of all waiting requests in one transaction
 * (group commit).  Every N records or T seconds it also stores an
 * Ed25519-signed checkpoint (origin, size, root) with the records and
 * appends it to a witness file outside the database.
 *
 * Fail closed: audit_log_append() returns 0 only once the record is
 * committed; if it does not, the caller must not reveal anything.  If no
 * checkpoint could be published for longer than the publish window, every
 * append is refused until one is.  After a failed commit the origin is
 * closed and the next batch starts a new one (generation + 1), so a commit
 * whose outcome is unknown can never leave a gap or a fork in any log.
 *
 * Records never hold a PII value (audit_record.h), so the log outlives an
 * erasure.  Formats: docs/audit.md.
 */
#ifndef AUDIT_LOG_H
#define AUDIT_LOG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "audit_checkpoint.h"
#include "audit_record.h"

#define AUDIT_SCHEMA_VERSION 3

struct audit_log_config {
	const char *conninfo;            /* the audit database */
	const char *writer;              /* writer name, [A-Za-z0-9._:-] */
	int statement_timeout_ms;
	const char *signing_key_file;    /* needed by audit_log_start */
	const char *witness_dir;         /* needed by audit_log_start */
	unsigned checkpoint_records;     /* 0: 1000 */
	unsigned checkpoint_seconds;     /* 0: 10 */
	unsigned publish_window_seconds; /* 0: 300 */
	unsigned wait_ms;                /* longest wait for a commit; 0: 5000 */
	unsigned max_batch;              /* records per commit; 0: 1024 */
};

struct audit_log_stats {
	unsigned long long records;      /* committed */
	unsigned long long commits;
	unsigned long long commit_failures;
	unsigned long long checkpoints;  /* stored */
	unsigned long long witness_failures;
	unsigned long long refused;      /* appends refused: window passed, stopped */
	unsigned long long size;         /* records in the current origin */
	int publish_overdue;             /* 1 while appends are refused for it */
	char origin[AUDIT_ORIGIN_MAX];
};

struct audit_log;

/* Strings of cfg are copied.  *out is new; release with audit_log_free
 * (accepts NULL; stops the appender after a last checkpoint). */
int audit_log_new(const struct audit_log_config *cfg, struct audit_log **out,
    struct pii_errinfo *ei);
void audit_log_free(struct audit_log *log);

/* Create or upgrade the audit schema.  Needs the owner of the audit
 * database (pii-vault migrate); the writer itself has INSERT only. */
int audit_log_migrate(struct audit_log *log, struct pii_errinfo *ei);
/* As the owner: give role INSERT on the audit tables and nothing more. */
int audit_log_grant_writer(struct audit_log *log, const char *role,
    struct pii_errinfo *ei);
/* What `migrate` does for a writer (pii-vault, pii-proxy): as the owner of
 * the audit database (owner; its conninfo), create or upgrade the schema,
 * then, when writer is not NULL and names another role, give that role
 * INSERT and nothing more, and when reader is not NULL and names a role
 * that is neither, give it SELECT and nothing more. */
int audit_log_setup(const struct audit_log_config *owner,
    const struct audit_log_config *writer, const struct audit_log_config *reader,
    struct pii_errinfo *ei);
/* As the owner: give role SELECT on the audit tables and nothing more
 * (the role of audit_read_database; migrate does it when given a reader). */
int audit_log_grant_reader(struct audit_log *log, const char *role,
    struct pii_errinfo *ei);
/* At startup: conninfo (audit_read_database) may SELECT the audit log and
 * may not change it.  PII_ERR_CONFIG naming audit_read_database otherwise. */
int audit_log_check_reader(const char *conninfo, struct pii_errinfo *ei);
/* The role of cfg->conninfo (connects to find out). */
int audit_log_current_role(struct audit_log *log, char *out, size_t cap,
    struct pii_errinfo *ei);

/* Check that the schema is current and that this connection's role can
 * INSERT into the audit tables but not UPDATE, DELETE or TRUNCATE them and
 * does not own them; load the signing key; start the appender. */
int audit_log_start(struct audit_log *log, struct pii_errinfo *ei);

/* Append rec and wait for its commit.  0: durable.  PII_ERR_AUDIT_UNAVAILABLE
 * if it could not be committed within wait_ms, the log is stopped, or no
 * checkpoint was published within the window. */
int audit_log_append(struct audit_log *log, const struct audit_record *rec)
    __attribute__((warn_unused_result));

/* As audit_log_append; on success the record's origin (into origin, cap
 * origin_cap; AUDIT_ORIGIN_MAX is enough) and sequence number (*seq) are
 * returned, for an inclusion proof later (audit_proof.h).  Either may be
 * NULL. */
int audit_log_append_at(struct audit_log *log, const struct audit_record *rec,
    char *origin, size_t origin_cap, uint64_t *seq)
    __attribute__((warn_unused_result));

/* audit_log_append_at in two halves, so that a caller with several records
 * (one per item of a batch) has them committed together: submit queues a
 * copy of rec and returns at once; await waits for that record's commit (0:
 * durable; origin and seq as for audit_log_append_at) and releases *p.
 * Every successful submit must be awaited exactly once.  The wait_ms bound
 * runs from the submit.  A record whose wait ends before the appender took
 * it is never written. */
struct audit_pending;
int audit_log_submit(struct audit_log *log, const struct audit_record *rec,
    struct audit_pending **p) __attribute__((warn_unused_result));
int audit_log_await(struct audit_log *log, struct audit_pending *p,
    char *origin, size_t origin_cap, uint64_t *seq)
    __attribute__((warn_unused_result));

/* Sign a statement with the log's checkpoint key under its own domain
 * (audit_statement_sign); the log must be started. */
int audit_log_sign_statement(struct audit_log *log, const char *domain,
    const char *text, size_t len, char key_id[AUDIT_KEY_ID_HEX + 1],
    unsigned char sig[AUDIT_SIG_BYTES]);

/* 0 if the audit database answers and the appender can write. */
int audit_log_ping(struct audit_log *log);

void audit_log_get_stats(struct audit_log *log, struct audit_log_stats *out);

#endif
