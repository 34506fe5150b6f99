/*
 * proxy_api.c - pii-proxy's HTTP surface: who the caller is, routing, the
 * proxy's own audit records, GET /v1/me and /v1/audit, the admin listener,
 * and policy reloads.
 *
 * Authentication comes first, before a body is looked at: a bearer API key
 * ("piiv_key_...", checked against its stored hash) or an OIDC JWT
 * (verified against the configured JWKS).  A failure is 401 and is audited
 * like every other refusal.  Decisions the proxy takes alone (refusals,
 * grants, audit reads) go to the proxy's own audit log; a reveal the policy
 * allows is recorded by the vault, under the same request id, so every
 * decision is recorded exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../audit/audit_report.h"
#include "../common/json_util.h"
#include "../common/log.h"
#include "proxy_handlers.h"

/* ---- rules (policy + JWKS) and reloads ------------------------------------- */

static void
rules_free(struct proxy_rules *r)
{
	if (r == NULL)
		return;
	pol_free(r->policy);
	pj_jwks_free(r->jwks);
	free(r);
}

int
proxy_rules_load(const struct proxy_config *cfg, struct proxy_rules **out,
    struct pii_errinfo *ei)
{
	struct proxy_rules *r;
	time_t now = time(NULL);
	struct tm tm;
	int rc;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return PII_ERR_NOMEM;
	atomic_init(&r->refs, 1);
	if ((rc = pol_load_file(cfg->policy_file, &r->policy, ei)) != 0)
		goto fail;
	if (cfg->has_oidc &&
	    (rc = pj_jwks_load(cfg->oidc.jwks_file, &r->jwks, ei)) != 0)
		goto fail;
	gmtime_r(&now, &tm);
	strftime(r->loaded_at, sizeof(r->loaded_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	*out = r;
	return 0;
fail:
	rules_free(r);
	return rc;
}

struct proxy_rules *
proxy_rules_get(struct proxy_server *ps)
{
	struct proxy_rules *r;

	pthread_mutex_lock(&ps->rules_mu);
	r = ps->rules;
	atomic_fetch_add(&r->refs, 1);
	pthread_mutex_unlock(&ps->rules_mu);
	return r;
}

void
proxy_rules_put(struct proxy_rules *r)
{
	if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1)
		rules_free(r);
}

int
proxy_reload(struct proxy_server *ps, struct pii_errinfo *ei)
{
	struct proxy_rules *fresh = NULL, *old;
	int r;

	if ((r = proxy_rules_load(ps->cfg, &fresh, ei)) != 0) {
		atomic_fetch_add(&ps->reload_failures, 1);
		return r;
	}
	pthread_mutex_lock(&ps->rules_mu);
	old = ps->rules;
	ps->rules = fresh;
	pthread_mutex_unlock(&ps->rules_mu);
	proxy_rules_put(old);
	atomic_fetch_add(&ps->reloads, 1);
	return 0;
}

/* ---- shared helpers -------------------------------------------------------- */

int
proxy_text_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; s[n] != '\0'; n++)
		if (s[n] < 0x20 || s[n] > 0x7e || s[n] == '"' || s[n] == '\\')
			return 0;
	return n >= 1 && n <= max;
}

void
proxy_rule_role(const struct proxy_caller *who, const char *rule, char *out,
    size_t cap)
{
	const char *p, *e;

	if (strncmp(rule, "roles.", 6) == 0) {
		p = rule + 6;
		e = strchr(p, '.');
		if (e == NULL)
			e = p + strlen(p);
		if ((size_t)(e - p) < cap && e > p) {
			memcpy(out, p, (size_t)(e - p));
			out[e - p] = '\0';
			return;
		}
	}
	snprintf(out, cap, "%s", who->nroles > 0 ? who->roles[0] : "none");
}

int
proxy_audit(struct proxy_server *ps, const struct proxy_caller *who,
    const char *role, const char *action, const struct proxy_target *t,
    int allowed, int reason_code, long long count)
{
	struct audit_record rec;
	char roles[PJ_MAX_ROLES * 64];
	size_t i, n = 0;

	roles[0] = '\0';
	if (role == NULL) {
		for (i = 0; i < who->nroles && n + 66 < sizeof(roles); i++)
			n += (size_t)snprintf(roles + n, sizeof(roles) - n, "%s%s",
			    i > 0 ? "," : "", who->roles[i]);
		role = n > 0 ? roles : NULL;
	}
	memset(&rec, 0, sizeof(rec));
	rec.actor = who->user[0] != '\0' ? who->user : "anonymous";
	rec.role = role;
	rec.purpose = t != NULL ? t->purpose : NULL;
	rec.ticket = t != NULL ? t->ticket : NULL;
	rec.action = action;
	/* a subject named by its token is recorded by it; a reference never */
	rec.subject_token = t != NULL && t->kind != NULL &&
	    strcmp(t->kind, "token") == 0 ? t->subject : NULL;
	rec.categories = t != NULL ? t->cats : NULL;
	rec.ncategories = t != NULL ? t->ncats : 0;
	rec.decision = allowed ? "allow" : "deny";
	rec.reason = allowed ? "ok" : pii_err_api_code(reason_code);
	rec.request_id = who->request_id;
	rec.source = who->method;
	rec.batch_id = t != NULL ? t->grant_id : NULL;
	rec.count = count;
	if (audit_log_append(ps->audit, &rec) != 0) {
		atomic_fetch_add(&ps->audit_failures, 1);
		pii_log(PII_LOG_ERROR, "event=audit_write_failed action=%s "
		    "request_id=%s", action, who->request_id);
		return PII_ERR_AUDIT_UNAVAILABLE;
	}
	return 0;
}

void
proxy_deny(struct proxy_server *ps, const struct proxy_caller *who,
    const char *role, const char *action, const struct proxy_target *t,
    struct pii_errinfo *ei, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	atomic_fetch_add(&ps->denied, 1);
	if (ei->code == PII_ERR_RATE_LIMITED)
		atomic_fetch_add(&ps->rate_limited, 1);
	pii_log(PII_LOG_INFO, "event=denied action=%s user_roles=%zu reason=%s "
	    "request_id=%s", action, who->nroles, pii_err_api_code(ei->code),
	    who->request_id);
	if (proxy_audit(ps, who, role, action, t, 0, ei->code, 0) != 0)
		pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; request refused");
	pii_http_reply_error(resp, req, ei);
}

int
proxy_parse_body(const struct pii_http_request *req, const char *const *keys,
    json_t **out, struct pii_errinfo *ei)
{
	json_t *root = NULL;
	int r;

	if ((r = pii_json_parse((const char *)req->body, req->body_len,
	    PII_JSON_DEFAULT_DEPTH, &root, ei)) != 0)
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

static int
name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && s[0] >= 'a' && s[0] <= 'z' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* tok_subject_v<N>_<26 base32>: the vault's subject token grammar */
int
proxy_subject_token_ok(const char *tok)
{
	const char *p = tok + 13;
	size_t nd;

	if (strncmp(tok, "tok_subject_v", 13) != 0)
		return 0;
	nd = strspn(p, "0123456789");
	if (nd == 0 || nd > 9 || p[nd] != '_')
		return 0;
	p += nd + 1;
	return strlen(p) == 26 && strspn(p, "abcdefghijklmnopqrstuvwxyz234567") == 26;
}

int
proxy_parse_target(struct proxy_server *ps, const struct pol_policy *pol,
    json_t *root, struct proxy_target *t, struct pii_errinfo *ei)
{
	const char *ref = NULL, *tok = NULL;
	char p[PII_ERR_MAX_FIELD];
	json_t *cats;
	size_t i, j;
	int r;

	memset(t, 0, sizeof(*t));
	if ((r = pii_json_get_string(root, "subject", 0, PROXY_SUBJECT_MAX, "",
	    &ref, NULL, ei)) != 0 ||
	    (r = pii_json_get_string(root, "subject_token", 0, PROXY_SUBJECT_MAX,
	    "", &tok, NULL, ei)) != 0)
		return r;
	if ((ref == NULL) == (tok == NULL))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "subject",
		    "give exactly one of subject and subject_token");
	t->kind = ref != NULL ? "ref" : "token";
	t->subject = ref != NULL ? ref : tok;
	if (!proxy_text_ok(t->subject, PROXY_SUBJECT_MAX))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST,
		    ref != NULL ? "subject" : "subject_token",
		    "must be 1-256 printable ASCII characters without quotes");
	if (tok != NULL && !proxy_subject_token_ok(tok))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "subject_token",
		    "is not a subject token");
	if ((r = pii_json_get_array(root, "categories", 1, PROXY_MAX_CATEGORIES,
	    "", &cats, ei)) != 0)
		return r;
	if (json_array_size(cats) == 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "categories",
		    "must name at least one category");
	for (i = 0; i < json_array_size(cats); i++) {
		json_t *c = json_array_get(cats, i);
		const char *s;

		pii_json_path_index(p, sizeof(p), "categories", i);
		if (!json_is_string(c) || !name_ok(s = json_string_value(c)))
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
			    "must be a category name");
		for (j = 0; j < t->ncats; j++)
			if (strcmp(t->cats[j], s) == 0)
				return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
				    "listed twice");
		t->cats[t->ncats++] = s;
	}
	if ((r = pii_json_get_string(root, "purpose", 1, 63, "", &t->purpose,
	    NULL, ei)) != 0)
		return r;
	if (!name_ok(t->purpose))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "purpose",
		    "must be a purpose name ([a-z][a-z0-9_]*)");
	if (json_object_get(root, "ticket") != NULL) {
		if ((r = pii_json_get_string(root, "ticket", 0, PROXY_TICKET_MAX - 1,
		    "", &t->ticket, NULL, ei)) != 0)
			return r;
		if (t->ticket != NULL && !proxy_text_ok(t->ticket, PROXY_TICKET_MAX - 1))
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "ticket",
			    "must be 1-127 printable ASCII characters without quotes");
	}
	if (json_object_get(root, "reason") != NULL) {
		if ((r = pii_json_get_string(root, "reason", 0, PROXY_REASON_MAX - 1,
		    "", &t->reason, NULL, ei)) != 0)
			return r;
		if (t->reason != NULL && !proxy_text_ok(t->reason, PROXY_REASON_MAX - 1))
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "reason",
			    "must be 1-255 printable ASCII characters without quotes");
	}
	(void)pol;
	if (proxy_subject_key(ps->store, t->kind, t->subject, t->skey) != 0)
		return pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL, "internal error");
	return 0;
}

/* ---- authentication -------------------------------------------------------- */

static int
authenticate(struct proxy_server *ps, struct proxy_rules *rules,
    const struct pii_http_request *req, struct proxy_caller *who,
    struct pii_errinfo *ei)
{
	const char *auth = pii_http_header(req, "Authorization");
	const char *cred;
	size_t len, i;
	int r;

	if (auth == NULL)
		return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
		    "no credentials: send Authorization: Bearer <JWT or API key>");
	if (strncasecmp(auth, "Bearer ", 7) != 0)
		return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
		    "Authorization must use the Bearer scheme");
	cred = auth + 7;
	len = strlen(cred);
	if (strncmp(cred, "piiv_key_", 9) == 0) {
		struct proxy_apikey k;
		struct {
			char user[PROXY_NAME_MAX];
			char role[PROXY_ROLE_MAX];
		} memo;
		unsigned char d[PROXY_CACHE_DIGEST];

		/* a key verified in the last apikey_cache_seconds */
		crypto_hash_sha256(d, (const unsigned char *)cred, len);
		if (proxy_cache_get(ps->keys, d, &memo, sizeof(memo))) {
			snprintf(who->user, sizeof(who->user), "%s", memo.user);
			snprintf(who->role_buf[0], sizeof(who->role_buf[0]), "%s",
			    memo.role);
			who->roles[0] = who->role_buf[0];
			who->nroles = 1;
			who->method = "apikey";
			sodium_memzero(&memo, sizeof(memo));
			sodium_memzero(d, sizeof(d));
			return 0;
		}
		r = proxy_apikey_check(ps->store, cred, &k);
		if (r == PII_ERR_DB_UNAVAILABLE) {
			atomic_fetch_add(&ps->db_failures, 1);
			return pii_errinfo_set(ei, PII_ERR_DB_UNAVAILABLE, NULL,
			    "the proxy database is unavailable; retry later");
		}
		if (r != 0)
			return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
			    "invalid or revoked API key");
		snprintf(who->user, sizeof(who->user), "%s", k.user);
		snprintf(who->role_buf[0], sizeof(who->role_buf[0]), "%s", k.role);
		who->roles[0] = who->role_buf[0];
		who->nroles = 1;
		who->method = "apikey";
		memset(&memo, 0, sizeof(memo));
		snprintf(memo.user, sizeof(memo.user), "%s", k.user);
		snprintf(memo.role, sizeof(memo.role), "%s", k.role);
		proxy_cache_put(ps->keys, d, &memo, sizeof(memo));
		sodium_memzero(&memo, sizeof(memo));
		sodium_memzero(d, sizeof(d));
		sodium_memzero(&k, sizeof(k));
		return 0;
	}
	if (pj_looks_like_jwt(cred, len)) {
		struct pj_identity id;
		struct pj_config pc;

		if (rules->jwks == NULL)
			return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
			    "single sign-on is not configured on this proxy");
		memset(&pc, 0, sizeof(pc));
		pc.issuer = ps->cfg->oidc.issuer;
		pc.audience = ps->cfg->oidc.audience;
		pc.skew_seconds = ps->cfg->oidc.skew_seconds;
		pc.roles_claim = ps->cfg->oidc.roles_claim;
		pc.user_claim = ps->cfg->oidc.user_claim;
		pc.max_lifetime_seconds = ps->cfg->oidc.max_lifetime_seconds;
		if ((r = pj_verify(rules->jwks, &pc, cred, len, (long long)time(NULL),
		    &id, ei)) != 0)
			return r == PII_ERR_UNAUTHENTICATED ? r :
			    pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
			    "invalid token");
		snprintf(who->user, sizeof(who->user), "%s", id.user);
		for (i = 0; i < id.nroles && i < PJ_MAX_ROLES; i++) {
			snprintf(who->role_buf[i], sizeof(who->role_buf[i]), "%s",
			    id.roles[i]);
			who->roles[i] = who->role_buf[i];
		}
		who->nroles = i;
		who->method = "oidc";
		return 0;
	}
	return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
	    "the bearer credential is neither an API key nor a JWT");
}

/* Who the caller is, in a form the vault and the audit log accept:
 * 1-127 printable ASCII characters without quotes or backslashes. */
static int
authenticate_checked(struct proxy_server *ps, struct proxy_rules *rules,
    const struct pii_http_request *req, struct proxy_caller *who,
    struct pii_errinfo *ei)
{
	int r = authenticate(ps, rules, req, who, ei);

	if (r == 0 && !proxy_text_ok(who->user, PROXY_NAME_MAX - 1)) {
		who->user[0] = '\0';
		who->nroles = 0;
		return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL,
		    "the user name must be 1-127 printable ASCII characters "
		    "without quotes or backslashes (configure oidc.user_claim)");
	}
	return r;
}

/* ---- GET /v1/me, GET /v1/audit ------------------------------------------- */

static void
reply_me(struct proxy_rules *rules, const struct proxy_caller *who,
    struct pii_http_response *resp)
{
	json_t *roles = json_array(), *o;
	size_t i;

	for (i = 0; i < who->nroles; i++)
		json_array_append_new(roles, json_string(who->roles[i]));
	o = json_pack("{s:s, s:o, s:s, s:o, s:s}", "user", who->user,
	    "roles", roles, "authenticated_by", who->method,
	    "policy", pol_describe_roles(rules->policy, who->roles, who->nroles),
	    "policy_loaded_at", rules->loaded_at);
	pii_http_reply_json(resp, 200, o);
}

static int
ts_ok(const char *s)
{
	size_t n = s != NULL ? strlen(s) : 0;

	return s == NULL || (n >= 10 && n <= 40 &&
	    strspn(s, "0123456789-:T.Z+ ") == n);
}

static void
reply_audit(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct audit_report_query q;
	struct proxy_target t;
	struct pii_errinfo ei;
	char asked[160];
	PGconn *c = NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *mem = NULL;
	json_t *records = NULL;
	int r;

	pii_errinfo_clear(&ei);
	if (!pol_role_can(rules->policy, who->roles, who->nroles, "audit_read")) {
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, NULL,
		    "reading the audit log needs a role with audit_read");
		proxy_deny(ps, who, NULL, "audit_read", NULL, &ei, req, resp);
		return;
	}
	memset(&q, 0, sizeof(q));
	q.subject_token = pii_http_query(req, "subject_token");
	q.actor = pii_http_query(req, "actor");
	q.since = pii_http_query(req, "since");
	q.until = pii_http_query(req, "until");
	q.format = AUDIT_REPORT_JSON;
	if ((q.subject_token == NULL) == (q.actor == NULL)) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "subject_token",
		    "give exactly one of subject_token and actor");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if ((q.subject_token != NULL && !proxy_text_ok(q.subject_token, 128)) ||
	    (q.actor != NULL && !proxy_text_ok(q.actor, 128)) ||
	    !ts_ok(q.since) || !ts_ok(q.until)) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, NULL,
		    "subject_token/actor must be printable text; since/until RFC 3339 times");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if (ps->cfg->audit_read_database == NULL) {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL,
		    "this proxy has no audit_read_database configured");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	/* reading the log is itself recorded, with what was asked, before
	 * anything is read: the subject token queried, or the person (kept
	 * in batch_id, which a read has no other use for) */
	memset(&t, 0, sizeof(t));
	if (q.subject_token != NULL) {
		t.kind = "token";
		t.subject = q.subject_token;
	} else {
		snprintf(asked, sizeof(asked), "actor:%s", q.actor);
		t.grant_id = asked;
	}
	if (proxy_audit(ps, who, NULL, "audit_read", &t, 1, 0, 0) != 0) {
		pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; request refused");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	{
		/* bounded: a dead audit host must not hold a worker for long */
		static const char *const kw[] = { "dbname", "connect_timeout",
			"options", "application_name", NULL };
		const char *const val[] = { ps->cfg->audit_read_database, "5",
			"-c statement_timeout=15000", "pii-proxy-audit-read", NULL };

		c = PQconnectdbParams(kw, val, 1);
	}
	if (PQstatus(c) != CONNECTION_OK) {
		pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
		    "the audit database is unavailable; retry later");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if ((mem = open_memstream(&buf, &len)) == NULL) {
		pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL, "internal error");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	r = audit_report_records(c, &q, mem, &ei);
	fclose(mem);
	mem = NULL;
	if (r != 0) {
		if (ei.code == 0)
			pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL, "internal error");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	records = json_loadb(buf, len, 0, NULL);
	if (records == NULL) {
		pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL, "internal error");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	pii_http_reply_json(resp, 200, json_pack("{s:o}", "records", records));
out:
	if (mem != NULL)
		fclose(mem);
	free(buf);
	PQfinish(c);
}

/* ---- routing ---------------------------------------------------------------- */

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

enum route_id {
	R_ACCESS, R_BREAKGLASS, R_GRANTS_POST, R_GRANTS_GET, R_GRANT_APPROVE,
	R_GRANT_DENY, R_ME, R_AUDIT, R_DSR,
};

/* Match method and path; id of a grant route, or of a subject-rights
 * route (its index into *dsr), into gid. */
static int
route_of(const struct pii_http_request *req, enum route_id *out,
    const char **name, char *gid, size_t gcap, int *dsr, int *path_matched)
{
	const char *p = req->path, *m = req->method;
	int post = strcmp(m, "POST") == 0, get = strcmp(m, "GET") == 0;
	int method_ok = 0;

	*path_matched = 1;
	if (gcap >= PROXY_DSR_ID_MAX &&
	    proxy_dsr_route(m, p, dsr, name, gid, &method_ok)) {
		*out = R_DSR;
		return method_ok ? 0 : -1;
	}
	if (strcmp(p, "/v1/access") == 0) {
		*name = "access";
		*out = R_ACCESS;
		return post ? 0 : -1;
	}
	if (strcmp(p, "/v1/breakglass") == 0) {
		*name = "breakglass";
		*out = R_BREAKGLASS;
		return post ? 0 : -1;
	}
	if (strcmp(p, "/v1/grants") == 0) {
		*name = post ? "grant_request" : "grant_list";
		*out = post ? R_GRANTS_POST : R_GRANTS_GET;
		return post || get ? 0 : -1;
	}
	if (strncmp(p, "/v1/grants/", 11) == 0) {
		const char *id = p + 11, *slash = strchr(id, '/');
		size_t n = slash != NULL ? (size_t)(slash - id) : 0;

		if (slash != NULL && n > 0 && n < gcap && n < PROXY_ID_MAX &&
		    (strcmp(slash, "/approve") == 0 || strcmp(slash, "/deny") == 0)) {
			memcpy(gid, id, n);
			gid[n] = '\0';
			*out = slash[1] == 'a' ? R_GRANT_APPROVE : R_GRANT_DENY;
			*name = slash[1] == 'a' ? "grant_approve" : "grant_deny";
			return post ? 0 : -1;
		}
	}
	if (strcmp(p, "/v1/me") == 0) {
		*name = "me";
		*out = R_ME;
		return get ? 0 : -1;
	}
	if (strcmp(p, "/v1/audit") == 0) {
		*name = "audit";
		*out = R_AUDIT;
		return get ? 0 : -1;
	}
	*path_matched = 0;
	return -1;
}

static void
api_handler(void *ctx, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct proxy_server *ps = ctx;
	struct proxy_rules *rules;
	struct proxy_caller who;
	struct pii_errinfo ei;
	enum route_id rt;
	const char *name = NULL;
	char gid[PROXY_DSR_ID_MAX > PROXY_ID_MAX ? PROXY_DSR_ID_MAX : PROXY_ID_MAX];
	int matched = 0, dsr = 0;

	if (strcmp(req->path, "/healthz") == 0 && strcmp(req->method, "GET") == 0) {
		resp->route = "healthz";
		pii_http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	if (route_of(req, &rt, &name, gid, sizeof(gid), &dsr, &matched) != 0) {
		resp->route = matched ? "method_not_allowed" : "not_found";
		if (matched)
			reply_error(resp, req, PII_ERR_METHOD, NULL,
			    "method not allowed for this endpoint");
		else
			reply_error(resp, req, PII_ERR_NOT_FOUND, NULL,
			    "no such endpoint");
		return;
	}
	resp->route = name;
	memset(&who, 0, sizeof(who));
	who.request_id = req->request_id;
	who.method = NULL;
	pii_errinfo_clear(&ei);
	rules = proxy_rules_get(ps);
	if (authenticate_checked(ps, rules, req, &who, &ei) != 0) {
		pii_log(PII_LOG_INFO, "event=unauthenticated route=%s client=%s "
		    "request_id=%s", name, req->client_addr, req->request_id);
		who.user[0] = '\0';
		who.nroles = 0;
		if (ei.code == PII_ERR_DB_UNAVAILABLE)
			pii_http_reply_error(resp, req, &ei);
		else
			proxy_deny(ps, &who, NULL, name, NULL, &ei, req, resp);
		goto out;
	}
	if (strcmp(req->method, "POST") == 0 && req->body_len > 0 &&
	    !content_type_json(req)) {
		reply_error(resp, req, PII_ERR_BAD_REQUEST, "Content-Type",
		    "Content-Type must be application/json");
		goto out;
	}
	switch (rt) {
	case R_ACCESS:
		proxy_access(ps, rules, &who, req, resp);
		break;
	case R_BREAKGLASS:
		proxy_breakglass(ps, rules, &who, req, resp);
		break;
	case R_GRANTS_POST:
		proxy_grant_request(ps, rules, &who, req, resp);
		break;
	case R_GRANTS_GET:
		proxy_grant_listing(ps, rules, &who, req, resp);
		break;
	case R_GRANT_APPROVE:
	case R_GRANT_DENY:
		proxy_grant_decision(ps, rules, &who, gid, rt == R_GRANT_APPROVE,
		    req, resp);
		break;
	case R_ME:
		reply_me(rules, &who, resp);
		break;
	case R_AUDIT:
		reply_audit(ps, rules, &who, req, resp);
		break;
	case R_DSR:
		proxy_dsr(ps, rules, &who, dsr, gid, req, resp);
		break;
	}
out:
	proxy_rules_put(rules);
}

/* ---- admin listener ---------------------------------------------------------- */

static void
reply_metrics(struct proxy_server *ps, struct pii_http_response *resp)
{
	struct audit_log_stats st;
	char *buf = NULL;
	size_t len = 0;
	int r;

	audit_log_get_stats(ps->audit, &st);
	r = pii_metrics_render(ps->metrics, &buf, &len);
	{
		const struct {
			const char *name, *type, *help, *label;
			unsigned long long v;
		} m[] = {
			{ "decisions_total", "counter", "Access decisions taken by the proxy.",
			  "{decision=\"allow\"}", atomic_load(&ps->allowed) },
			{ "decisions_total", NULL, NULL, "{decision=\"deny\"}",
			  atomic_load(&ps->denied) },
			{ "rate_limited_total", "counter",
			  "Requests refused for the distinct-subject limit.", "",
			  atomic_load(&ps->rate_limited) },
			{ "breakglass_total", "counter", "Break-glass accesses.", "",
			  atomic_load(&ps->breakglass) },
			{ "notify_failures_total", "counter",
			  "Break-glass notifications that could not be delivered.", "",
			  atomic_load(&ps->notify_failures) },
			{ "audit_failures_total", "counter",
			  "Audit records that could not be committed.", "",
			  atomic_load(&ps->audit_failures) },
			{ "vault_failures_total", "counter",
			  "Vault requests that failed in transport.", "",
			  atomic_load(&ps->vault_failures) },
			{ "db_unavailable_total", "counter",
			  "Requests failed because the proxy database was unavailable.", "",
			  atomic_load(&ps->db_failures) },
			{ "policy_reloads_total", "counter", "Policy reloads (SIGHUP), by result.",
			  "{result=\"ok\"}", atomic_load(&ps->reloads) },
			{ "policy_reloads_total", NULL, NULL, "{result=\"failed\"}",
			  atomic_load(&ps->reload_failures) },
			{ "audit_records_total", "counter",
			  "Audit records committed by this proxy.", "", st.records },
			{ "audit_publish_overdue", "gauge", "1 while requests are refused "
			  "for an unpublished checkpoint.", "",
			  (unsigned long long)st.publish_overdue },
		};
		size_t i;

		for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
			if (m[i].help != NULL)
				r |= pii_metrics_appendf(&buf, &len,
				    "# HELP piiv_proxy_%s %s\n# TYPE piiv_proxy_%s %s\n",
				    m[i].name, m[i].help, m[i].name, m[i].type);
			r |= pii_metrics_appendf(&buf, &len, "piiv_proxy_%s%s %llu\n",
			    m[i].name, m[i].label, m[i].v);
		}
	}
	{
		int i;

		r |= pii_metrics_appendf(&buf, &len, "# HELP piiv_proxy_dsr_forwarded_total "
		    "Subject-rights calls forwarded to the vault, by route.\n"
		    "# TYPE piiv_proxy_dsr_forwarded_total counter\n");
		for (i = 0; i < PROXY_DSR_ROUTES; i++)
			r |= pii_metrics_appendf(&buf, &len,
			    "piiv_proxy_dsr_forwarded_total{route=\"%s\"} %llu\n",
			    proxy_dsr_route_name(i),
			    (unsigned long long)atomic_load(&ps->dsr_forwarded[i]));
	}
	if (r != 0) {
		free(buf);
		reply_error(resp, NULL, PII_ERR_INTERNAL, NULL, "internal error");
		return;
	}
	pii_http_reply_text(resp, 200, buf, len, "text/plain; version=0.0.4");
}

static void
admin_handler(void *ctx, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct proxy_server *ps = ctx;

	if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0) {
		resp->route = "admin";
		reply_error(resp, req, PII_ERR_METHOD, NULL, "use GET");
	} else if (strcmp(req->path, "/healthz") == 0) {
		resp->route = "healthz";
		pii_http_reply_json(resp, 200, json_pack("{s:s}", "status", "ok"));
	} else if (strcmp(req->path, "/readyz") == 0) {
		int db = proxy_store_ping(ps->store) == 0;
		int audit = audit_log_ping(ps->audit) == 0;

		resp->route = "readyz";
		pii_http_reply_json(resp, db && audit ? 200 : 503,
		    json_pack("{s:s, s:s, s:s}", "status",
		    db && audit ? "ready" : "unavailable", "database",
		    db ? "ok" : "unavailable", "audit", audit ? "ok" : "unavailable"));
	} else if (strcmp(req->path, "/metrics") == 0) {
		resp->route = "metrics";
		reply_metrics(ps, resp);
	} else {
		resp->route = "not_found";
		reply_error(resp, req, PII_ERR_NOT_FOUND, NULL,
		    "no such endpoint (admin: /healthz, /readyz, /metrics)");
	}
}

static size_t
api_limit(void *ctx, const char *method, const char *path)
{
	struct proxy_server *ps = ctx;

	(void)method;
	(void)path;
	return (size_t)ps->cfg->max_body_bytes;
}

int
proxy_server_start(struct proxy_server *ps, struct pii_errinfo *ei)
{
	const struct proxy_config *cfg = ps->cfg;
	struct pii_http_config hc;
	int r;

	if ((r = pii_metrics_new("piiv_proxy", &ps->metrics)) != 0)
		return r;
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
	hc.max_body = (size_t)cfg->max_body_bytes;
	hc.server_name = "piiv_proxy";
	return pii_http_start_with_admin(&hc, api_handler, api_limit,
	    cfg->has_admin ? cfg->admin_listen.address : NULL,
	    (uint16_t)cfg->admin_listen.port, admin_handler, ps, ps->metrics,
	    &ps->api, &ps->admin, ei);
}

void
proxy_server_stop(struct proxy_server *ps)
{
	pii_http_stop(ps->api);
	pii_http_stop(ps->admin);
	ps->api = ps->admin = NULL;
	pii_metrics_free(ps->metrics);
	ps->metrics = NULL;
}
