/*
 * vault_server.h - the running vault: what every request handler shares.
 */
#ifndef VAULT_SERVER_H
#define VAULT_SERVER_H

#include <stdatomic.h>

#include "../audit/audit_log.h"
#include "../common/http.h"
#include "../common/metrics.h"
#include "../common/pg.h"
#include "vault_config.h"
#include "vault_crypto.h"
#include "vault_keys.h"

struct vault_server {
	const struct vault_config *cfg;      /* borrowed */
	struct vault_keys *keys;             /* borrowed */
	struct pii_pg *db;
	struct audit_log *audit;
	struct pii_metrics *metrics;
	struct pii_http_server *api, *admin;
	atomic_ullong audit_failures;
	atomic_ullong db_failures;
	atomic_ullong values_stored;
	atomic_ullong dropped_erased;       /* ingest records of erased subjects */
	atomic_ullong dropped_objection;    /* ... of subjects objecting to the purpose */
	struct vault_dsr_exec *dsr;         /* the executor (vault_dsr_exec.c) */
	struct pii_pg *audit_read;          /* audit_read_database, or NULL */
};

/* The context a handler acts in: who asks, for whom, why. */
struct vault_caller {
	const struct vault_identity *id;    /* NULL until authenticated */
	const char *request_id;
	const char *on_behalf_of, *role, *purpose, *ticket;
	int breakglass;                     /* context.breakglass of a reveal */
};

/* Start the API (and admin) listeners.  vs->cfg, keys, db and audit must be set. */
int vault_server_start(struct vault_server *vs, struct pii_errinfo *ei);
void vault_server_stop(struct vault_server *vs);

/* Request handlers (vault_api.c dispatches to them). */
void vault_tokenize(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
/* POST /v1/reveal/batch: at most this many reveals in one call */
#define VAULT_REVEAL_BATCH_MAX 64
/* its one read: parameters are the reveals' subject tokens, purposes and
 * category lists, as three text[] literals in the same order */
extern const char vault_reveal_batch_sql[];
void vault_reveal_batch(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
void vault_reveal(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
/* its one read: parameters are the tokens (a text[] literal) and the
 * purpose */
extern const char vault_detokenize_sql[];
void vault_detokenize(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
void vault_resolve(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
void vault_subject_info(struct vault_server *vs, const struct vault_caller *who,
    const char *subject_token, const struct pii_http_request *req,
    struct pii_http_response *resp);

/* Record one decision in the audit log.  0 when durable; otherwise the
 * caller answers 503 audit_unavailable and reveals nothing. */
int vault_audit(struct vault_server *vs, const struct vault_caller *who,
    const char *action, const char *subject_token, const char *const *cats,
    size_t ncats, int allowed, int reason_code, long long count,
    const char *source, const char *batch_id);

/* Parse a request body: strict JSON, an object, only the given keys
 * (NULL-terminated; NULL: any).  *out is new. */
int vault_parse_body(struct vault_server *vs, const struct pii_http_request *req,
    const char *const *keys, json_t **out, struct pii_errinfo *ei);

/* Shared by the handlers (vault_reveal.c). */
/* 1 if s is printable ASCII without quotes or backslashes (safe in logs). */
int vault_context_ok(const char *s);
/* The category of a well-formed token into cat; else PII_ERR_BAD_REQUEST. */
int vault_token_category(const char *tok, char cat[VAULT_CATEGORY_MAX]);
/* Unwrap a DEK stored as hex with its epoch (decimal text).  *out is new. */
int vault_unwrap_hex(struct vault_server *vs, const char *subject_token,
    const char *hex, const char *epoch, struct vault_dek **out);
/* Open one sealed value (hex) into a new JSON string. */
int vault_open_hex(const struct vault_dek *dek, const char *subject_token,
    const char *category, const char *token, const char *hex, json_t **out);
/* Answer an error: storage and crypto failures become their client-facing
 * forms (and are logged); anything else as ei says. */
void vault_reply_fail(struct vault_server *vs, const struct pii_http_request *req,
    struct pii_http_response *resp, int r, struct pii_errinfo *ei);
/* The subject token named by "subject" (a reference, tokenized) or
 * "subject_token" in root, exactly one of them. */
int vault_parse_subject(struct vault_server *vs, json_t *root,
    char token[VAULT_TOKEN_MAX], struct pii_errinfo *ei);

/* X-Piiv-On-Behalf-Of and X-Piiv-Role into who (the person and role a
 * service such as pii-proxy acts for); PII_ERR_BAD_REQUEST naming the header
 * if one is malformed. */
int vault_caller_headers(const struct pii_http_request *req,
    struct vault_caller *who, struct pii_errinfo *ei);

/* Subject-rights requests (vault_dsr.c).  rest is the path after /v1/dsr. */
void vault_dsr_handle(struct vault_server *vs, const struct vault_caller *who,
    const char *rest, const struct pii_http_request *req,
    struct pii_http_response *resp);
void vault_objections_list(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
void vault_erasures_list(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
void vault_erasures_ack(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);

/* The executor (vault_dsr_exec.c): cfg->dsr_workers threads carrying out
 * verified requests, and the overdue watch. */
int vault_dsr_exec_start(struct vault_server *vs, struct pii_errinfo *ei);
void vault_dsr_exec_stop(struct vault_server *vs);
/* A request became verified: let a worker look now rather than at its poll. */
void vault_dsr_exec_wake(struct vault_server *vs);
/* Append the DSR gauges (open, due within 7 days, overdue) to a metrics
 * text; 0 or an error (the database is unreachable). */
int vault_dsr_metrics(struct vault_server *vs, char **buf, size_t *len);

/* Map a storage error to the client-facing error and count it. */
int vault_db_error(struct vault_server *vs, int r, struct pii_errinfo *ei);

#endif
