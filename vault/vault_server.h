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
void vault_reveal(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp);
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

/* Map a storage error to the client-facing error and count it. */
int vault_db_error(struct vault_server *vs, int r, struct pii_errinfo *ei);

#endif
