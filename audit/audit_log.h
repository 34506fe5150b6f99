/*
 * audit_log.h - the audit log writer: one record per access decision,
 * durably committed before the caller may answer.
 *
 * Records hold who, on whose behalf, why, what, about which subject token,
 * and the decision - never a PII value, so the log outlives an erasure.
 * The log lives in its own database (not the vault's).  Fail closed: if
 * audit_log_append() does not return 0, the caller must not reveal anything.
 *
 * (This is the durable writer; the Merkle tree, sequence numbers and signed
 * checkpoints of docs/audit.md extend it.)
 */
#ifndef AUDIT_LOG_H
#define AUDIT_LOG_H

#include <stddef.h>

#include "../common/err.h"

#define AUDIT_MAX_CATEGORIES 32

struct audit_record {
	const char *actor;          /* service identity or person; "anonymous" */
	const char *role;           /* role of the person, from the proxy, or NULL */
	const char *on_behalf_of;   /* person the service acts for, or NULL */
	const char *purpose;
	const char *ticket;
	const char *action;         /* "tokenize", "reveal", "detokenize", ... */
	const char *subject_token;  /* or NULL */
	const char *const *categories;
	size_t ncategories;
	const char *decision;       /* "allow" | "deny" */
	const char *reason;         /* "ok" or an API error code */
	const char *request_id;
	const char *source;         /* dataset, for tokenize */
	const char *batch_id;
	long long count;            /* values or records concerned */
};

struct audit_log;

/* conninfo names the audit database; writer is this process's origin name.
 * *out is new; release with audit_log_free (accepts NULL). */
int audit_log_new(const char *conninfo, const char *writer,
    int statement_timeout_ms, struct audit_log **out);
void audit_log_free(struct audit_log *log);

/* Create or upgrade the audit schema (INSERT-only: a trigger refuses UPDATE,
 * DELETE and TRUNCATE). */
int audit_log_migrate(struct audit_log *log, struct pii_errinfo *ei);

/* Append rec and commit it.  0: durable.  PII_ERR_AUDIT_UNAVAILABLE if the
 * record could not be committed (the caller must then fail the request). */
int audit_log_append(struct audit_log *log, const struct audit_record *rec)
    __attribute__((warn_unused_result));

/* 0 if the audit database answers. */
int audit_log_ping(struct audit_log *log);

#endif
