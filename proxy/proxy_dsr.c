/*
 * proxy_dsr.c - the vault's subject-rights endpoints through the proxy:
 * /v1/dsr..., POST /v1/subjects/resolve and GET /v1/subjects/{token}, for
 * people whose role holds the policy capability dsr_manage (compliance).
 *
 * The proxy decides only who may call them.  A refusal is its own decision
 * and goes to its audit log (proxy_deny); an allowed call is forwarded with
 * the proxy's service identity, the person in X-Piiv-On-Behalf-Of and the
 * deciding role in X-Piiv-Role, under this request's id, and the vault
 * records it: one record per decision, as for reveals.
 *
 * What is forwarded is rebuilt from what was checked: the path from the
 * route and its validated id, the query string re-encoded from its decoded
 * parameters, a JSON object body (strict; a caller may not set the context
 * the vault records).  The answer is relayed with its status and its
 * Content-Type when that is JSON or HTML, else 502.  Bodies carry PII: they
 * are never logged, and every copy is wiped.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>
#include <sodium.h>

#include "../common/json_util.h"
#include "../common/log.h"
#include "proxy_handlers.h"

enum {
	DSR_CREATE, DSR_LIST, DSR_GET, DSR_VERIFY, DSR_EXTEND, DSR_REJECT,
	DSR_EXPORT, DSR_RECEIPT, DSR_RESOLVE, DSR_SUBJECT,
};

static const struct dsr_route {
	const char *method;
	const char *name;       /* metrics label and audit action */
	const char *tail;       /* after /v1/dsr/{id}; NULL for other shapes */
} routes[PROXY_DSR_ROUTES] = {
	[DSR_CREATE] = { "POST", "dsr_create", NULL },
	[DSR_LIST] = { "GET", "dsr_list", NULL },
	[DSR_GET] = { "GET", "dsr_read", "" },
	[DSR_VERIFY] = { "POST", "dsr_verify", "/verify" },
	[DSR_EXTEND] = { "POST", "dsr_extend", "/extend" },
	[DSR_REJECT] = { "POST", "dsr_reject", "/reject" },
	[DSR_EXPORT] = { "GET", "dsr_export", "/export" },
	[DSR_RECEIPT] = { "GET", "dsr_receipt", "/receipt" },
	[DSR_RESOLVE] = { "POST", "subject_resolve", NULL },
	[DSR_SUBJECT] = { "GET", "subject_get", NULL },
};

#define ID_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
#define QUERY_MAX 512           /* the re-encoded query string */
#define QUERY_PARAMS_MAX 16
#define QUERY_KEY_MAX 64
#define QUERY_VALUE_MAX 256
#define CONTEXT_FIELD_MAX 128   /* the vault's bound on context strings */

const char *
proxy_dsr_route_name(int route)
{
	return route >= 0 && route < PROXY_DSR_ROUTES ? routes[route].name : NULL;
}

static int
pick(int route, const char *method, int *out, const char **name, int *method_ok)
{
	*out = route;
	*name = routes[route].name;
	*method_ok = strcmp(method, routes[route].method) == 0;
	return 1;
}

int
proxy_dsr_route(const char *method, const char *path, int *route,
    const char **name, char id[PROXY_DSR_ID_MAX], int *method_ok)
{
	const char *seg, *rest;
	size_t n;
	int i;

	id[0] = '\0';
	if (strcmp(path, "/v1/dsr") == 0)
		return pick(strcmp(method, "GET") == 0 ? DSR_LIST : DSR_CREATE,
		    method, route, name, method_ok);
	if (strcmp(path, "/v1/subjects/resolve") == 0)
		return pick(DSR_RESOLVE, method, route, name, method_ok);
	if (strncmp(path, "/v1/subjects/", 13) == 0) {
		seg = path + 13;
		n = strlen(seg);
		if (n >= PROXY_DSR_ID_MAX || !proxy_subject_token_ok(seg))
			return 0;
		memcpy(id, seg, n + 1);
		return pick(DSR_SUBJECT, method, route, name, method_ok);
	}
	if (strncmp(path, "/v1/dsr/", 8) != 0)
		return 0;
	seg = path + 8;
	n = strspn(seg, ID_CHARS);
	if (n < 1 || n >= PROXY_DSR_ID_MAX)
		return 0;
	rest = seg + n;
	for (i = DSR_GET; i <= DSR_RECEIPT; i++)
		if (strcmp(rest, routes[i].tail) == 0) {
			memcpy(id, seg, n);
			id[n] = '\0';
			return pick(i, method, route, name, method_ok);
		}
	return 0;
}

/* The first of the caller's roles that holds dsr_manage, into role. */
static int
dsr_role(const struct pol_policy *pol, const struct proxy_caller *who,
    char *role, size_t cap)
{
	size_t i;

	for (i = 0; i < who->nroles; i++)
		if (pol_role_can(pol, &who->roles[i], 1, "dsr_manage")) {
			snprintf(role, cap, "%s", who->roles[i]);
			return 1;
		}
	return 0;
}

/* ---- the query string -------------------------------------------------------- */

struct query {
	char buf[QUERY_MAX + 1];
	size_t len, n;
	const char *why;        /* set on the first fault */
};

/* Append n bytes of s: mode 1 a parameter name ([A-Za-z0-9_.-] only),
 * 0 a value (printable ASCII, percent-encoded but for [A-Za-z0-9._~:-]),
 * 2 a separator ('&' or '=') as it is.  -1 on a byte refused, -2 when
 * the query would grow past QUERY_MAX. */
static int
q_put(struct query *q, const char *s, size_t n, int mode)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int alnum = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_';
		int plain = mode == 2 || alnum || c == '~' || c == ':';

		if ((mode == 1 && !alnum) || (mode == 0 && (c < 0x20 || c > 0x7e)))
			return -1;
		if (q->len + (plain ? 1 : 3) > QUERY_MAX)
			return -2;
		if (plain) {
			q->buf[q->len++] = (char)c;
		} else {
			q->buf[q->len++] = '%';
			q->buf[q->len++] = hex[c >> 4];
			q->buf[q->len++] = hex[c & 15];
		}
	}
	q->buf[q->len] = '\0';
	return 0;
}

static enum MHD_Result
q_param(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
    const char *value, size_t value_size)
{
	struct query *q = cls;
	int r = 0;

	(void)kind;
	if (++q->n > QUERY_PARAMS_MAX) {
		q->why = "at most 16 query parameters";
		return MHD_NO;
	}
	if (key == NULL || key_size < 1 || key_size > QUERY_KEY_MAX ||
	    (value != NULL && value_size > QUERY_VALUE_MAX)) {
		q->why = "a query parameter's name must be 1-64 and its value at "
		    "most 256 characters";
		return MHD_NO;
	}
	/* a decoded NUL would shorten what the vault sees */
	if (memchr(key, '\0', key_size) != NULL ||
	    (value != NULL && memchr(value, '\0', value_size) != NULL))
		r = -1;
	if (r == 0 && q->n > 1)
		r = q_put(q, "&", 1, 2);
	if (r == 0)
		r = q_put(q, key, key_size, 1);
	if (r == 0 && value != NULL)
		r = q_put(q, "=", 1, 2);
	if (r == 0 && value != NULL)
		r = q_put(q, value, value_size, 0);
	if (r == 0)
		return MHD_YES;
	q->why = r == -1 ? "query parameter names must be [A-Za-z0-9_.-] and "
	    "values printable ASCII" : "the query string is too long";
	return MHD_NO;
}

/* The request's query parameters, decoded by the HTTP glue, re-encoded
 * into q->buf; -1 with q->why when one is not acceptable. */
static int
build_query(const struct pii_http_request *req, struct query *q)
{
	memset(q, 0, sizeof(*q));
	if (req->conn == NULL)
		return 0;
	(void)MHD_get_connection_values_n(req->conn, MHD_GET_ARGUMENT_KIND,
	    q_param, q);
	if (q->why != NULL)
		return -1;
	/* by construction; checked again before anything is sent */
	if (strspn(q->buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789._~%&=:+-") != q->len) {
		q->why = "the query string could not be encoded";
		return -1;
	}
	return 0;
}

/* ---- the body ------------------------------------------------------------------ */

/* POST /v1/subjects/resolve: {category, value, context: {purpose, ticket}}
 * as the caller sent it; the proxy writes the rest of the context (who,
 * which role, which request), as it does for reveals, so the vault's
 * record names the person whether it reads the headers or the body. */
static int
resolve_body(const struct pii_http_request *req, const struct proxy_caller *who,
    const char *role, char **text, size_t *tlen, struct pii_errinfo *ei)
{
	static const char *const keys[] = { "category", "value", "context", NULL };
	static const char *const ckeys[] = { "purpose", "ticket", NULL };
	json_t *root = NULL, *out = NULL, *ctx = NULL, *given = NULL, *v;
	const char *s;
	size_t i;
	int r;

	if ((r = proxy_parse_body(req, keys, &root, ei)) != 0)
		return r;
	if ((r = pii_json_get_object(root, "context", 0, "", &given, ei)) != 0 ||
	    (given != NULL && (r = pii_json_check_keys(given, ckeys, "context",
	    ei)) != 0))
		goto out;
	ctx = json_pack("{s:s, s:s, s:s}", "on_behalf_of", who->user, "role", role,
	    "request_id", who->request_id);
	out = json_object();
	if (ctx == NULL || out == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	for (i = 0; given != NULL && ckeys[i] != NULL; i++) {
		char p[PII_ERR_MAX_FIELD];

		if ((r = pii_json_get_string(given, ckeys[i], 0, CONTEXT_FIELD_MAX,
		    "context", &s, NULL, ei)) != 0)
			goto out;
		if (s == NULL)
			continue;
		if (!proxy_text_ok(s, CONTEXT_FIELD_MAX)) {
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST,
			    pii_json_path_key(p, sizeof(p), "context", ckeys[i]),
			    "must be 1-128 printable ASCII characters without quotes");
			goto out;
		}
		json_object_set_new(ctx, ckeys[i], json_string(s));
	}
	for (i = 0; i < 2; i++)
		if ((v = json_object_get(root, keys[i])) != NULL)
			json_object_set(out, keys[i], v);
	json_object_set_new(out, "context", ctx);
	ctx = NULL;
	if (pii_json_dump(out, text, tlen) != 0)
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
out:
	json_decref(ctx);
	json_decref(out);
	json_decref(root);
	return r;
}

/* Any other POST: a JSON object (an empty body is {}), forwarded as sent
 * once the strict parser took it, without a "context": the vault takes
 * the person and role from the proxy's headers alone. */
static int
dsr_body(const struct pii_http_request *req, struct pii_errinfo *ei)
{
	json_t *root = NULL;
	int r;

	if (req->body_len == 0)
		return 0;
	if ((r = proxy_parse_body(req, NULL, &root, ei)) != 0)
		return r;
	if (json_object_get(root, "context") != NULL)
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "context",
		    "is set by the proxy, not by the caller");
	json_decref(root);
	return r;
}

/* A new request under a policy with dsr_deadline_days: the body as sent,
 * with deadline_days set to the stricter of the caller's and the policy's
 * (the vault applies the stricter of that and its own).  *text is new. */
static int
create_body(const struct pii_http_request *req, long long days, char **text,
    size_t *tlen, struct pii_errinfo *ei)
{
	json_t *root = NULL, *given;
	int r;

	if (req->body_len == 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "a request needs a JSON body (kind, subject)");
	if ((r = proxy_parse_body(req, NULL, &root, ei)) != 0)
		return r;
	if (json_object_get(root, "context") != NULL) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "context",
		    "is set by the proxy, not by the caller");
		goto out;
	}
	given = json_object_get(root, "deadline_days");
	if (given != NULL && (!json_is_integer(given) ||
	    json_integer_value(given) < 1 || json_integer_value(given) > 31))
		goto out;   /* as sent: the vault names the field in its 400 */
	if (given != NULL && json_integer_value(given) < days)
		days = json_integer_value(given);
	if (json_object_set_new(root, "deadline_days", json_integer(days)) != 0 ||
	    pii_json_dump(root, text, tlen) != 0)
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
out:
	json_decref(root);
	return r;
}

/* ---- the answer ------------------------------------------------------------------ */

/* The Content-Type to relay for the vault's, or NULL: JSON or HTML only,
 * and only in UTF-8. */
static const char *
relay_type(const char *ct)
{
	static const struct {
		const char *type, *relayed;
	} ok[] = {
		{ "application/json", "application/json" },
		{ "text/html", "text/html; charset=utf-8" },
	};
	size_t i, n;
	const char *p;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		n = strlen(ok[i].type);
		if (strncasecmp(ct, ok[i].type, n) != 0)
			continue;
		p = ct + n;
		p += strspn(p, " ");
		if (*p == '\0')
			return ok[i].relayed;
		if (*p != ';')
			return NULL;
		p++;
		p += strspn(p, " ");
		if (strncasecmp(p, "charset=", 8) != 0)
			return NULL;
		p += 8;
		if (*p == '"')
			p++;
		if (strncasecmp(p, "utf-8", 5) != 0)
			return NULL;
		p += 5;
		if (*p == '"')
			p++;
		p += strspn(p, " ");
		return *p == '\0' ? ok[i].relayed : NULL;
	}
	return NULL;
}

static void
reply_bad_gateway(struct pii_http_response *resp,
    const struct pii_http_request *req, const char *msg)
{
	struct pii_errinfo ei;

	/* the error table has no 502 row: its shape, with the status a
	 * gateway gives for an answer it cannot pass on */
	pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL, "%s", msg);
	pii_http_reply_error(resp, req, &ei);
	if (resp->body != NULL)
		resp->status = 502;
}

static void
relay(const struct dsr_route *rt, const struct proxy_caller *who,
    struct proxy_vault_answer *ans, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	const char *ct = relay_type(ans->content_type);
	char *body;

	if (ans->status < 200 || ans->status > 599 || ct == NULL ||
	    ans->body == NULL || memchr(ans->body, '\0', ans->len) != NULL) {
		pii_log(PII_LOG_ERROR, "event=vault_answer_malformed route=%s "
		    "status=%ld request_id=%s", rt->name, ans->status,
		    who->request_id);
		reply_bad_gateway(resp, req, ct == NULL ?
		    "the vault answered with a content type the proxy does not relay" :
		    "the vault's answer could not be relayed");
		return;
	}
	if (ans->status == 401 || ans->status == 403 || ans->status >= 500)
		pii_log(PII_LOG_WARN, "event=vault_error route=%s status=%ld "
		    "request_id=%s", rt->name, ans->status, who->request_id);
	/* the answer's buffer becomes the response; the glue wipes it */
	body = ans->body;
	ans->body = NULL;
	pii_http_reply_text(resp, (unsigned int)ans->status, body, ans->len, ct);
	if (strncmp(ct, "text/html", 9) == 0)
		resp->csp = "default-src 'none'; style-src 'unsafe-inline'";
	ans->len = 0;
}

/* ---- the handler -------------------------------------------------------------------- */

void
proxy_dsr(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, int route, const char *id,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	const struct dsr_route *rt = &routes[route];
	struct proxy_vault_answer ans = { 0, NULL, 0, NULL, "" };
	struct proxy_target t;
	struct pii_errinfo ei;
	struct query q;
	char role[PJ_ROLE_MAX], target[128 + QUERY_MAX];
	char obo[PROXY_NAME_MAX + 32], hrole[PJ_ROLE_MAX + 32];
	const char *hdrs[] = { obo, hrole, NULL };
	const char *body = NULL;
	char *text = NULL;
	size_t blen = 0, tlen = 0;
	int r;

	pii_errinfo_clear(&ei);
	/* what a refusal is recorded with: the subject token asked about, or
	 * the request's id in batch_id (as a grant's) */
	memset(&t, 0, sizeof(t));
	if (route == DSR_SUBJECT) {
		t.kind = "token";
		t.subject = id;
	} else if (id[0] != '\0') {
		t.grant_id = id;
	}
	if (!dsr_role(rules->policy, who, role, sizeof(role))) {
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, NULL,
		    "subject-rights requests need a role with the dsr_manage "
		    "capability");
		proxy_deny(ps, who, NULL, rt->name, &t, &ei, req, resp);
		return;
	}
	if (build_query(req, &q) != 0) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "query", "%s", q.why);
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if (route == DSR_CREATE || route == DSR_LIST)
		r = snprintf(target, sizeof(target), "/v1/dsr");
	else if (route == DSR_RESOLVE)
		r = snprintf(target, sizeof(target), "/v1/subjects/resolve");
	else if (route == DSR_SUBJECT)
		r = snprintf(target, sizeof(target), "/v1/subjects/%s", id);
	else
		r = snprintf(target, sizeof(target), "/v1/dsr/%s%s", id, rt->tail);
	if (q.len > 0)
		r = snprintf(target + r, sizeof(target) - (size_t)r, "?%s", q.buf);
	if (strcmp(rt->method, "POST") == 0) {
		if (route == DSR_RESOLVE)
			r = resolve_body(req, who, role, &text, &tlen, &ei);
		else if (route == DSR_CREATE &&
		    pol_dsr_deadline_days(rules->policy) > 0)
			r = create_body(req, pol_dsr_deadline_days(rules->policy),
			    &text, &tlen, &ei);
		else
			r = dsr_body(req, &ei);
		if (r != 0) {
			pii_http_reply_error(resp, req, &ei);
			goto out;
		}
		if (text != NULL) {
			body = text;
			blen = tlen;
		} else if (req->body_len > 0) {
			body = (const char *)req->body;
			blen = req->body_len;
		} else {
			body = "{}";
			blen = 2;
		}
	}
	snprintf(obo, sizeof(obo), "X-Piiv-On-Behalf-Of: %s", who->user);
	snprintf(hrole, sizeof(hrole), "X-Piiv-Role: %s", role);
	atomic_fetch_add(&ps->dsr_forwarded[route], 1);
	r = proxy_vault_call(ps->vault, rt->method, target, body, blen,
	    who->request_id, hdrs, &ans);
	if (r == PII_ERR_IO || r == PII_ERR_BAD_REQUEST) {
		/* it never reached the vault: nothing done, nothing recorded
		 * there, so the refusal is the proxy's to record */
		atomic_fetch_add(&ps->vault_failures, 1);
		pii_log(PII_LOG_WARN, "event=vault_unreachable route=%s "
		    "request_id=%s", rt->name, who->request_id);
		if (r == PII_ERR_IO)
			pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
			    "the vault is unavailable; retry later");
		else
			pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL,
			    "internal error (see the proxy log)");
		proxy_deny(ps, who, role, rt->name, &t, &ei, req, resp);
		goto out;
	}
	if (r != 0) {
		/* sent, but no whole answer: the vault may have acted and
		 * recorded it under this request id; the proxy records nothing */
		atomic_fetch_add(&ps->vault_failures, 1);
		pii_log(PII_LOG_WARN, "event=vault_outcome_unknown route=%s "
		    "request_id=%s", rt->name, who->request_id);
		pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
		    "the vault did not answer; the audit log shows under this "
		    "request id whether it acted");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	relay(rt, who, &ans, req, resp);
out:
	sodium_memzero(obo, sizeof(obo));
	sodium_memzero(&q, sizeof(q));
	if (text != NULL) {
		sodium_memzero(text, tlen);
		pii_json_free_str(text);
	}
	proxy_vault_done(&ans);
}
