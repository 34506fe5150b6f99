/*
 * vault_api.c - pii-vault's HTTP surface: service authentication, the
 * per-identity allow-list, routing, and the admin endpoints.
 *
 * Every request is authenticated before its body is looked at.  A verified
 * client certificate names an identity by its CN; otherwise a bearer token
 * is hashed (SHA-256) and compared in constant time with every configured
 * hash.  Refusals (401, 403) are audited like every other decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../common/json_util.h"
#include "../common/log.h"
#include "vault_crypto.h"
#include "vault_server.h"
#include "vault_store.h"

struct route {
	const char *method;
	const char *path;           /* exact, or prefix when ending in '/' */
	unsigned int op;
	const char *name;           /* metrics label and audit action */
};

static const struct route routes[] = {
	{ "POST", "/v1/tokenize", VAULT_OP_TOKENIZE, "tokenize" },
	{ "POST", "/v1/reveal", VAULT_OP_REVEAL, "reveal" },
	{ "POST", "/v1/reveal/batch", VAULT_OP_REVEAL, "reveal_batch" },
	{ "POST", "/v1/detokenize", VAULT_OP_DETOKENIZE, "detokenize" },
	{ "POST", "/v1/subjects/resolve", VAULT_OP_RESOLVE, "resolve" },
	{ "GET", "/v1/subjects/", VAULT_OP_SUBJECT, "subject" },
	{ "POST", "/v1/dsr", VAULT_OP_DSR, "dsr" },
	{ "GET", "/v1/dsr", VAULT_OP_DSR, "dsr" },
	{ "POST", "/v1/dsr/*", VAULT_OP_DSR, "dsr" },
	{ "GET", "/v1/dsr/*", VAULT_OP_DSR, "dsr" },
	{ "GET", "/v1/objections", VAULT_OP_OBJECTIONS, "objections" },
	{ "GET", "/v1/erasures", VAULT_OP_ERASURES, "erasures" },
	{ "POST", "/v1/erasures/ack", VAULT_OP_ERASURES, "erasures_ack" },
};

int
vault_db_error(struct vault_server *vs, int r, struct pii_errinfo *ei)
{
	if (r == PII_ERR_DB_UNAVAILABLE) {
		atomic_fetch_add(&vs->db_failures, 1);
		pii_log(PII_LOG_WARN, "event=db_unavailable detail=\"%s\"",
		    pii_pg_last_error());
		return pii_errinfo_set(ei, r, NULL,
		    "the vault database is unavailable; retry later");
	}
	pii_log(PII_LOG_ERROR, "event=db_error detail=\"%s\"", pii_pg_last_error());
	return pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL,
	    "internal error (see the vault log)");
}

int
vault_audit(struct vault_server *vs, const struct vault_caller *who,
    const char *action, const char *subject_token, const char *const *cats,
    size_t ncats, int allowed, int reason_code, long long count,
    const char *source, const char *batch_id)
{
	struct audit_record rec;
	int r;

	memset(&rec, 0, sizeof(rec));
	rec.actor = who->id != NULL ? who->id->name : "anonymous";
	rec.role = who->role;
	rec.on_behalf_of = who->on_behalf_of;
	rec.purpose = who->purpose;
	rec.ticket = who->ticket;
	rec.action = action;
	rec.subject_token = subject_token;
	rec.categories = cats;
	rec.ncategories = ncats;
	rec.decision = allowed ? "allow" : "deny";
	rec.reason = allowed ? "ok" : pii_err_api_code(reason_code);
	rec.request_id = who->request_id;
	rec.source = source;
	rec.batch_id = batch_id;
	rec.count = count;
	r = audit_log_append(vs->audit, &rec);
	if (r != 0) {
		atomic_fetch_add(&vs->audit_failures, 1);
		pii_log(PII_LOG_ERROR, "event=audit_write_failed action=%s "
		    "request_id=%s detail=\"%s\"", action, who->request_id,
		    pii_pg_last_error());
		return PII_ERR_AUDIT_UNAVAILABLE;
	}
	return 0;
}

int
vault_parse_body(struct vault_server *vs, const struct pii_http_request *req,
    const char *const *keys, json_t **out, struct pii_errinfo *ei)
{
	json_t *root = NULL;
	int r;

	r = pii_json_parse((const char *)req->body, req->body_len,
	    (size_t)vs->cfg->max_json_depth, &root, ei);
	if (r != 0)
		return r;
	if (!json_is_object(root))
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "the body must be a JSON object");
	else if (keys != NULL)
		r = pii_json_check_keys(root, keys, "", ei);
	if (r != 0) {
		json_decref(root);
		return r;
	}
	*out = root;
	return 0;
}

/* Identify the caller.  0 with *out set, or PII_ERR_UNAUTHENTICATED. */
static int
authenticate(const struct vault_config *cfg, const struct pii_http_request *req,
    const struct vault_identity **out, struct pii_errinfo *ei)
{
	const char *auth = pii_http_header(req, "Authorization");
	unsigned char h[crypto_hash_sha256_BYTES];
	const struct vault_identity *found = NULL;
	size_t i, tlen;

	if (req->peer_cert_name != NULL) {
		for (i = 0; i < cfg->nidentities; i++)
			if (cfg->identities[i].cert_name[0] != '\0' &&
			    strcmp(cfg->identities[i].cert_name, req->peer_cert_name) == 0)
				found = &cfg->identities[i];
		if (found != NULL && auth == NULL) {
			*out = found;
			return 0;
		}
	}
	if (auth == NULL)
		return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
		    "no credentials: present a client certificate or "
		    "Authorization: Bearer <service token>");
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
		    "Authorization must use the Bearer scheme");
	tlen = strlen(auth + 7);
	if (tlen < 16 || tlen > 256)
		return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
		    "invalid service token");
	crypto_hash_sha256(h, (const unsigned char *)auth + 7, tlen);
	/* compare against every identity, whatever matches first */
	{
		const struct vault_identity *tok = NULL;

		for (i = 0; i < cfg->nidentities; i++) {
			int eq = sodium_memcmp(h, cfg->identities[i].token_hash,
			    sizeof(h)) == 0;

			if (eq && cfg->identities[i].has_token && tok == NULL)
				tok = &cfg->identities[i];
		}
		sodium_memzero(h, sizeof(h));
		if (tok == NULL)
			return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
			    "invalid service token");
		/* a certificate and a token naming different identities */
		if (found != NULL && found != tok)
			return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
			    "client certificate and token name different identities");
		*out = tok;
	}
	return 0;
}

static void
reply_health(struct vault_server *vs, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	(void)vs;
	(void)req;
	resp->route = "healthz";
	pii_http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
}

static void
reply_ready(struct vault_server *vs, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	int db = vault_store_ping(vs->db) == 0;
	int audit = audit_log_ping(vs->audit) == 0;

	(void)req;
	resp->route = "readyz";
	pii_http_reply_json(resp, db && audit ? 200 : 503,
	    json_pack("{s:s, s:s, s:s}", "status", db && audit ? "ready" : "unavailable",
	    "database", db ? "ok" : "unavailable", "audit", audit ? "ok" : "unavailable"));
}

static void
reply_metrics(struct vault_server *vs, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	char *buf = NULL;
	size_t len = 0;
	int r;

	(void)req;
	resp->route = "metrics";
	r = pii_metrics_render(vs->metrics, &buf, &len);
	r |= pii_metrics_appendf(&buf, &len,
	    "# HELP piiv_vault_audit_failures_total Audit records that could not be committed.\n"
	    "# TYPE piiv_vault_audit_failures_total counter\n"
	    "piiv_vault_audit_failures_total %llu\n"
	    "# HELP piiv_vault_db_unavailable_total Requests failed because the database was unavailable.\n"
	    "# TYPE piiv_vault_db_unavailable_total counter\n"
	    "piiv_vault_db_unavailable_total %llu\n"
	    "# HELP piiv_vault_values_stored_total Values newly stored by tokenize.\n"
	    "# TYPE piiv_vault_values_stored_total counter\n"
	    "piiv_vault_values_stored_total %llu\n",
	    (unsigned long long)atomic_load(&vs->audit_failures),
	    (unsigned long long)atomic_load(&vs->db_failures),
	    (unsigned long long)atomic_load(&vs->values_stored));
	{
		struct audit_log_stats st;
		const struct {
			const char *name, *type, *help;
		} am[] = {
			{ "audit_records_total", "counter", "Audit records committed." },
			{ "audit_commits_total", "counter", "Audit group commits." },
			{ "audit_commit_failures_total", "counter",
			  "Audit commits that failed (each starts a new origin)." },
			{ "audit_checkpoints_total", "counter",
			  "Signed checkpoints stored." },
			{ "audit_witness_failures_total", "counter",
			  "Failed attempts to publish checkpoints to the witness." },
			{ "audit_refused_total", "counter", "Requests refused because "
			  "no checkpoint was published within the window." },
			{ "audit_publish_overdue", "gauge", "1 while PII requests are "
			  "refused for an unpublished checkpoint." },
		};
		unsigned long long vals[7];
		size_t i;

		audit_log_get_stats(vs->audit, &st);
		vals[0] = st.records;
		vals[1] = st.commits;
		vals[2] = st.commit_failures;
		vals[3] = st.checkpoints;
		vals[4] = st.witness_failures;
		vals[5] = st.refused;
		vals[6] = (unsigned long long)st.publish_overdue;
		for (i = 0; i < sizeof(am) / sizeof(am[0]); i++)
			r |= pii_metrics_appendf(&buf, &len,
			    "# HELP piiv_vault_%s %s\n# TYPE piiv_vault_%s %s\n"
			    "piiv_vault_%s %llu\n", am[i].name, am[i].help,
			    am[i].name, am[i].type, am[i].name, vals[i]);
	}
	/* the DSR gauges need the database; without it they are left out */
	if (r == 0 && vault_dsr_metrics(vs, &buf, &len) != 0)
		pii_log(PII_LOG_WARN, "event=metrics_dsr_unavailable");
	if (r != 0) {
		free(buf);
		resp->status = 500;
		return;
	}
	pii_http_reply_text(resp, 200, buf, len,
	    "text/plain; version=0.0.4; charset=utf-8");
}

static void
reply_error(struct pii_http_response *resp, const struct pii_http_request *req,
    int code, const char *field, const char *msg)
{
	struct pii_errinfo ei;

	pii_errinfo_set(&ei, code, field, "%s", msg);
	pii_http_reply_error(resp, req, &ei);
}

static int
content_type_json(const struct pii_http_request *req)
{
	const char *ct = pii_http_header(req, "Content-Type");
	size_t n = strlen("application/json");

	return ct != NULL && strncasecmp(ct, "application/json", n) == 0 &&
	    (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* The admin listener: health, readiness, metrics; no authentication. */
static void
admin_handler(void *ctx, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct vault_server *vs = ctx;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		resp->route = "admin";
		reply_error(resp, req, PII_ERR_METHOD, NULL, "use GET");
	} else if (strcmp(req->path, "/healthz") == 0) {
		reply_health(vs, req, resp);
	} else if (strcmp(req->path, "/readyz") == 0) {
		reply_ready(vs, req, resp);
	} else if (strcmp(req->path, "/metrics") == 0) {
		reply_metrics(vs, req, resp);
	} else {
		resp->route = "not_found";
		reply_error(resp, req, PII_ERR_NOT_FOUND, NULL,
		    "no such endpoint (admin: /healthz, /readyz, /metrics)");
	}
}

static void
api_handler(void *ctx, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct vault_server *vs = ctx;
	const struct route *rt = NULL;
	struct vault_caller who;
	struct pii_errinfo ei;
	size_t i;
	int path_matched = 0;

	if (strcmp(req->path, "/healthz") == 0 && strcmp(req->method, "GET") == 0) {
		reply_health(vs, req, resp);
		return;
	}
	for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		size_t n = strlen(routes[i].path);
		/* a path ending in "*": anything below it (the handler routes further) */
		int match = routes[i].path[n - 1] == '*' ?
		    strncmp(req->path, routes[i].path, n - 1) == 0 &&
		    req->path[n - 1] != '\0' :
		    routes[i].path[n - 1] == '/' ?
		    strncmp(req->path, routes[i].path, n) == 0 && req->path[n] != '\0' &&
		    strchr(req->path + n, '/') == NULL :
		    strcmp(req->path, routes[i].path) == 0;

		/* /v1/subjects/resolve is a POST route, not a subject token */
		if (match && routes[i].op == VAULT_OP_SUBJECT &&
		    strcmp(req->path, "/v1/subjects/resolve") == 0)
			match = 0;
		if (!match)
			continue;
		path_matched = 1;
		if (strcmp(req->method, routes[i].method) == 0) {
			rt = &routes[i];
			break;
		}
	}
	if (rt == NULL) {
		resp->route = path_matched ? "method_not_allowed" : "not_found";
		if (path_matched)
			reply_error(resp, req, PII_ERR_METHOD, NULL,
			    "method not allowed for this endpoint");
		else
			reply_error(resp, req, PII_ERR_NOT_FOUND, NULL,
			    "no such endpoint");
		return;
	}
	resp->route = rt->name;

	memset(&who, 0, sizeof(who));
	who.request_id = req->request_id;
	pii_errinfo_clear(&ei);
	if (authenticate(vs->cfg, req, &who.id, &ei) != 0) {
		pii_log(PII_LOG_INFO, "event=unauthenticated route=%s client=%s "
		    "request_id=%s", rt->name, req->client_addr, req->request_id);
		if (vault_audit(vs, &who, rt->name, NULL, NULL, 0, 0,
		    PII_ERR_UNAUTHENTICATED, 0, NULL, NULL) != 0)
			pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
			    "audit log unavailable; request refused");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if ((who.id->ops & rt->op) == 0) {
		pii_log(PII_LOG_INFO, "event=forbidden identity=%s route=%s "
		    "request_id=%s", who.id->name, rt->name, req->request_id);
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, NULL,
		    "identity '%s' may not %s", who.id->name, vault_op_name(rt->op));
		if (vault_audit(vs, &who, rt->name, NULL, NULL, 0, 0,
		    PII_ERR_FORBIDDEN, 0, NULL, NULL) != 0)
			pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
			    "audit log unavailable; request refused");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if (strcmp(rt->method, "POST") == 0 && !content_type_json(req)) {
		reply_error(resp, req, PII_ERR_BAD_REQUEST, "Content-Type",
		    "Content-Type must be application/json");
		return;
	}
	switch (rt->op) {
	case VAULT_OP_TOKENIZE:
		vault_tokenize(vs, &who, req, resp);
		break;
	case VAULT_OP_REVEAL:
		if (strcmp(rt->name, "reveal_batch") == 0)
			vault_reveal_batch(vs, &who, req, resp);
		else
			vault_reveal(vs, &who, req, resp);
		break;
	case VAULT_OP_DETOKENIZE:
		vault_detokenize(vs, &who, req, resp);
		break;
	case VAULT_OP_RESOLVE:
		vault_resolve(vs, &who, req, resp);
		break;
	case VAULT_OP_SUBJECT:
		if (vault_caller_headers(req, &who, &ei) != 0) {
			pii_http_reply_error(resp, req, &ei);
			break;
		}
		vault_subject_info(vs, &who, req->path + strlen("/v1/subjects/"),
		    req, resp);
		break;
	case VAULT_OP_DSR:
		vault_dsr_handle(vs, &who, req->path + strlen("/v1/dsr"), req, resp);
		break;
	case VAULT_OP_OBJECTIONS:
		vault_objections_list(vs, &who, req, resp);
		break;
	case VAULT_OP_ERASURES:
		if (strcmp(rt->method, "POST") == 0)
			vault_erasures_ack(vs, &who, req, resp);
		else
			vault_erasures_list(vs, &who, req, resp);
		break;
	}
}

static size_t
api_limit(void *ctx, const char *method, const char *path)
{
	struct vault_server *vs = ctx;

	(void)method;
	if (strcmp(path, "/v1/tokenize") == 0 || strcmp(path, "/v1/detokenize") == 0 ||
	    strcmp(path, "/v1/reveal/batch") == 0)
		return (size_t)vs->cfg->max_body_bytes;
	return (size_t)vs->cfg->max_small_body_bytes;
}

int
vault_server_start(struct vault_server *vs, struct pii_errinfo *ei)
{
	const struct vault_config *cfg = vs->cfg;
	struct pii_http_config hc;
	int r;

	/* the reader is checked before anything is allocated */
	if (cfg->audit_read_database != NULL &&
	    (r = audit_log_check_reader(cfg->audit_read_database, ei)) != 0)
		return r;
	if ((r = pii_metrics_new("piiv_vault", &vs->metrics)) != 0)
		return r;
	if (cfg->audit_read_database != NULL &&
	    (r = pii_pg_new(cfg->audit_read_database, "piivault-audit-read",
	    (int)cfg->db_statement_timeout_ms, &vs->audit_read)) != 0) {
		vault_server_stop(vs);
		return pii_errinfo_set(ei, r, "audit_read_database",
		    "cannot use audit_read_database");
	}
	memset(&hc, 0, sizeof(hc));
	hc.address = cfg->listen.address;
	hc.port = (uint16_t)cfg->listen.port;
	hc.cert_file = cfg->tls_cert_file;
	hc.key_file = cfg->tls_key_file;
	hc.client_ca_file = cfg->tls_client_ca_file;
	hc.threads = (unsigned int)cfg->threads;
	hc.max_connections = (unsigned int)cfg->max_connections;
	hc.max_per_ip = (unsigned int)cfg->max_connections_per_ip;
	hc.timeout_seconds = (unsigned int)cfg->connection_timeout_seconds;
	hc.max_body = (size_t)cfg->max_small_body_bytes;
	hc.server_name = "piiv_vault";
	/* the executor first: the handlers use it (wake, metrics) */
	if ((r = vault_dsr_exec_start(vs, ei)) != 0) {
		vault_server_stop(vs);
		return r;
	}
	r = pii_http_start_with_admin(&hc, api_handler, api_limit,
	    cfg->has_admin ? cfg->admin_listen.address : NULL,
	    (uint16_t)cfg->admin_listen.port, admin_handler, vs, vs->metrics,
	    &vs->api, &vs->admin, ei);
	if (r != 0)
		vault_server_stop(vs);
	return r;
}

void
vault_server_stop(struct vault_server *vs)
{
	pii_http_stop(vs->api);
	pii_http_stop(vs->admin);
	vs->api = vs->admin = NULL;
	vault_dsr_exec_stop(vs);
	pii_pg_free(vs->audit_read);
	vs->audit_read = NULL;
	pii_metrics_free(vs->metrics);
	vs->metrics = NULL;
}
