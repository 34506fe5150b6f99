/*
 * vault_dsr_int.h - shared by vault_dsr.c (the HTTP endpoints) and
 * vault_dsr_exec.c (the executor): SQL fragments and small helpers of
 * subject-rights requests.  docs/dsr.md describes the whole.
 */
#ifndef VAULT_DSR_INT_H
#define VAULT_DSR_INT_H

#include "vault_server.h"

#define DSR_ID_MAX 64
#define DSR_RFC3339(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
#define DSR_OPEN "('received','verified','in_progress')"

/* One request as a JSON object (text), from a row of dsr_requests. */
#define DSR_JSON \
	"json_build_object('id', id, 'kind', kind, 'subject_token', subject_token," \
	" 'purposes', purposes, 'status', status," \
	" 'received_at', " DSR_RFC3339("received_at") "," \
	" 'due_at', " DSR_RFC3339("due_at") "," \
	" 'overdue', status IN " DSR_OPEN " AND due_at < now()," \
	" 'extended_months', extended_months, 'extension_reason', extension_reason," \
	" 'requested_by', requested_by, 'taken_by', taken_by," \
	" 'verified_by', verified_by, 'verified_at', " DSR_RFC3339("verified_at") "," \
	" 'started_at', " DSR_RFC3339("started_at") "," \
	" 'completed_at', " DSR_RFC3339("completed_at") "," \
	" 'rejected_by', rejected_by, 'rejected_reason', rejected_reason," \
	" 'values_erased', values_erased," \
	" 'export_ready', export_sealed IS NOT NULL)::text"

/* The executor's identity in audit records. */
extern const struct vault_identity vault_dsr_executor_id;

/* Column 0 of every row of res, each a JSON text, as one array (*out new). */
int vault_dsr_rows_json(const PGresult *res, json_t **out);

/* Test hook: with PIIV_CRASH_AT=name in the environment, the process kills
 * itself (SIGKILL) when it reaches the point called name.  The crash tests
 * use it to stop the vault at every step of a request. */
void vault_crash_point(const char *name);

/* Audit one DSR decision: action, the request id in batch_id; origin/seq
 * (may be NULL) receive the record's place in the log. */
int vault_dsr_audit(struct vault_server *vs, const struct vault_caller *who,
    const char *action, const char *subject_token, const char *dsr_id,
    int allowed, int reason_code, long long count, char *origin,
    size_t origin_cap, unsigned long long *seq);

#endif
