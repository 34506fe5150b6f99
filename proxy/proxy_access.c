/*
 * proxy_access.c - POST /v1/access and POST /v1/breakglass: decide, limit,
 * reveal through the vault, mask.
 *
 * Order of a request: the policy decides every category (default deny; a
 * covering grant that needs an approval looks for an approved, unexpired
 * grant of this person for this subject); then the per-person limit on
 * distinct subjects per hour; then the vault reveals, recording the
 * decision under this request id; then each value is masked here when its
 * view is masked, so a masked view never carries the full value to the
 * client.  A refusal by the proxy is recorded in the proxy's own log; a
 * refusal by the vault (objection, erasure) is recorded by the vault and
 * passed on unchanged.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../common/json_util.h"
#include "../common/log.h"
#include "proxy_handlers.h"

#define MASK_MAX 2048

/* The vault's answer to a reveal, turned into the client's answer. */
static int
masked_fields(const json_t *vfields, const struct proxy_target *t,
    const int *views, const int *masks, json_t **out)
{
	json_t *o = json_object();
	char *buf = NULL;
	size_t i, j;
	int r = PII_ERR_INTERNAL;

	if (o == NULL || (buf = malloc(MASK_MAX)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < t->ncats; i++) {
		const json_t *vals = json_object_get(vfields, t->cats[i]);
		json_t *arr = json_array();

		if (arr == NULL || json_object_set_new(o, t->cats[i], arr) != 0) {
			r = PII_ERR_NOMEM;
			goto out;
		}
		if (vals == NULL)
			continue;
		if (!json_is_array(vals))
			goto out;
		for (j = 0; j < json_array_size(vals); j++) {
			const json_t *e = json_array_get(vals, j);
			const json_t *v = json_object_get(e, "value");

			if (!json_is_string(v))
				goto out;
			if (views[i] == POL_VIEW_FULL) {
				json_array_append_new(arr, json_stringn(json_string_value(v),
				    json_string_length(v)));
				continue;
			}
			if (pol_mask_apply((enum pol_mask)masks[i], json_string_value(v),
			    json_string_length(v), buf, MASK_MAX) != 0)
				snprintf(buf, MASK_MAX, "[redacted]");
			json_array_append_new(arr, json_string(buf));
			sodium_memzero(buf, MASK_MAX);
		}
	}
	*out = o;
	o = NULL;
	r = 0;
out:
	if (buf != NULL) {
		sodium_memzero(buf, MASK_MAX);
		free(buf);
	}
	json_decref(o);
	return r;
}

/* The error object of a vault answer: its code mapped back to ours. */
static int
vault_error_code(const json_t *root)
{
	static const int codes[] = { PII_ERR_OBJECTION, PII_ERR_SUBJECT_ERASED,
		PII_ERR_NOT_FOUND, PII_ERR_AUDIT_UNAVAILABLE, PII_ERR_DB_UNAVAILABLE,
		PII_ERR_BAD_REQUEST, PII_ERR_UNKNOWN_CATEGORY };
	const char *c = NULL;
	int code = PII_ERR_INTERNAL;
	size_t i;

	if (root != NULL)
		c = json_string_value(json_object_get(json_object_get(root, "error"),
		    "code"));
	for (i = 0; c != NULL && i < sizeof(codes) / sizeof(codes[0]); i++)
		if (strcmp(c, pii_err_api_code(codes[i])) == 0)
			code = codes[i];
	return code;
}

void
proxy_reveal(struct proxy_server *ps, const struct proxy_caller *who,
    const char *role, const struct proxy_target *t, const int *views,
    const int *masks, int breakglass, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct proxy_vault_answer ans = { 0, NULL, 0, NULL, "" };
	json_t *body = NULL, *cats = NULL, *ctx = NULL, *vroot = NULL;
	json_t *fields = NULL, *views_o = NULL, *out = NULL;
	struct pii_errinfo ei;
	char *text = NULL;
	size_t tlen = 0, i;
	int r;

	pii_errinfo_clear(&ei);
	cats = json_array();
	for (i = 0; i < t->ncats; i++)
		json_array_append_new(cats, json_string(t->cats[i]));
	ctx = json_pack("{s:s, s:s, s:s, s:s}", "on_behalf_of", who->user,
	    "role", role, "purpose", t->purpose, "request_id", who->request_id);
	if (ctx != NULL && t->ticket != NULL)
		json_object_set_new(ctx, "ticket", json_string(t->ticket));
	if (ctx != NULL && breakglass)
		json_object_set_new(ctx, "breakglass", json_true());
	body = json_pack("{s:s, s:o, s:o}", strcmp(t->kind, "ref") == 0 ?
	    "subject" : "subject_token", t->subject, "categories", cats,
	    "context", ctx);
	cats = ctx = NULL;
	if (body == NULL || pii_json_dump(body, &text, &tlen) != 0) {
		pii_errinfo_set(&ei, PII_ERR_NOMEM, NULL, "out of memory");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	r = proxy_vault_reveal(ps->vault, text, tlen, who->request_id, &ans);
	if (r == PII_ERR_IO) {
		atomic_fetch_add(&ps->vault_failures, 1);
		pii_log(PII_LOG_WARN, "event=vault_unreachable request_id=%s",
		    who->request_id);
		/* it never reached the vault: nothing revealed, nothing recorded
		 * there, so the refusal is the proxy's to record */
		pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
		    "the vault is unavailable; retry later");
		proxy_deny(ps, who, role, breakglass ? "breakglass" : "access", t,
		    &ei, req, resp);
		goto out;
	}
	if (r != 0) {
		/* sent, but no whole answer: the vault may have revealed and
		 * recorded it under this request id; recording a refusal here
		 * could contradict that record, so the proxy records nothing */
		atomic_fetch_add(&ps->vault_failures, 1);
		pii_log(PII_LOG_WARN, "event=vault_outcome_unknown request_id=%s",
		    who->request_id);
		pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
		    "the vault did not answer; the audit log shows under this "
		    "request id whether it acted");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if (ans.status != 200) {
		int code = vault_error_code(proxy_vault_answer_json(&ans));

		pii_errinfo_set(&ei, code, NULL, "%s",
		    code == PII_ERR_OBJECTION ?
		    "the subject objects to this purpose" :
		    code == PII_ERR_SUBJECT_ERASED ? "the subject was erased" :
		    code == PII_ERR_NOT_FOUND ? "no such subject" :
		    code == PII_ERR_AUDIT_UNAVAILABLE ?
		    "audit log unavailable; request refused" :
		    "the vault refused the request");
		if (code == PII_ERR_OBJECTION || code == PII_ERR_SUBJECT_ERASED ||
		    code == PII_ERR_NOT_FOUND) {
			/* the vault recorded these refusals under this request id */
			atomic_fetch_add(&ps->denied, 1);
			pii_http_reply_error(resp, req, &ei);
		} else {
			/* a refusal the vault does not record: the proxy does */
			pii_log(PII_LOG_WARN, "event=vault_error status=%ld code=%s "
			    "request_id=%s", ans.status, pii_err_api_code(code),
			    who->request_id);
			proxy_deny(ps, who, role, breakglass ? "breakglass" : "access",
			    t, &ei, req, resp);
		}
		goto out;
	}
	vroot = proxy_vault_answer_json(&ans);   /* borrowed from ans */
	if (vroot == NULL ||
	    masked_fields(json_object_get(vroot, "fields"), t, views, masks,
	    &fields) != 0) {
		pii_log(PII_LOG_ERROR, "event=vault_answer_malformed request_id=%s",
		    who->request_id);
		pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL,
		    "internal error (see the proxy log)");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	views_o = json_object();
	for (i = 0; i < t->ncats; i++)
		json_object_set_new(views_o, t->cats[i],
		    json_string(pol_view_name((enum pol_view)views[i])));
	out = json_pack("{s:s, s:O, s:o, s:o, s:s, s:b}", "decision", "allow",
	    "subject_token", json_object_get(vroot, "subject_token"),
	    "views", views_o, "fields", fields, "request_id", who->request_id,
	    "breakglass", breakglass);
	views_o = fields = NULL;
	if (out == NULL) {
		pii_errinfo_set(&ei, PII_ERR_NOMEM, NULL, "out of memory");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	atomic_fetch_add(&ps->allowed, 1);
	pii_http_reply_json(resp, 200, out);
out:
	json_decref(views_o);
	json_decref(fields);
	json_decref(body);
	json_decref(cats);
	json_decref(ctx);
	if (text != NULL) {
		sodium_memzero(text, tlen);
		pii_json_free_str(text);
	}
	proxy_vault_done(&ans);
}

/* A grant is approved for the ticket it was requested under: 1 if the
 * request's ticket is that one (or the grant has none); 0 if not, with ei
 * set only when the grant could not be read. */
static int
grant_ticket_matches(struct proxy_server *ps, const char *gid,
    const char *ticket, struct pii_errinfo *ei)
{
	struct proxy_grant g;

	pii_errinfo_clear(ei);
	if (proxy_grant_get(ps->store, gid, &g, ei) != 0) {
		atomic_fetch_add(&ps->db_failures, 1);
		pii_errinfo_set(ei, PII_ERR_DB_UNAVAILABLE, NULL,
		    "the proxy database is unavailable; retry later");
		return 0;
	}
	pii_errinfo_clear(ei);
	return g.ticket[0] == '\0' ||
	    (ticket != NULL && strcmp(g.ticket, ticket) == 0);
}

/* proxy_rate_take, remembering for a few minutes what the database let
 * through: a person looking at the same customer again costs nothing */
static int
rate_take(struct proxy_server *ps, const struct proxy_caller *who,
    const struct proxy_target *t, long long limit)
{
	unsigned char d[PROXY_CACHE_DIGEST], one = 1;
	crypto_generichash_state st;
	int r;

	crypto_generichash_init(&st, NULL, 0, sizeof(d));
	crypto_generichash_update(&st, (const unsigned char *)who->user,
	    strlen(who->user) + 1);
	crypto_generichash_update(&st, t->skey, sizeof(t->skey));
	crypto_generichash_final(&st, d, sizeof(d));
	if (proxy_cache_get(ps->seen, d, &one, sizeof(one)))
		return 0;
	if ((r = proxy_rate_take(ps->store, who->user, t->skey, limit)) == 0)
		proxy_cache_put(ps->seen, d, &one, sizeof(one));
	return r;
}

void
proxy_access(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	static const char *const keys[] = { "subject", "subject_token",
		"categories", "purpose", "ticket", "reason", NULL };
	struct proxy_target t;
	struct pii_errinfo ei;
	int views[PROXY_MAX_CATEGORIES], masks[PROXY_MAX_CATEGORIES];
	char role[64] = "", field[PII_ERR_MAX_FIELD];
	long long limit = 0;
	json_t *root = NULL;
	size_t i;
	int r;

	pii_errinfo_clear(&ei);
	if ((r = proxy_parse_body(req, keys, &root, &ei)) != 0 ||
	    (r = proxy_parse_target(ps, rules->policy, root, &t, &ei)) != 0) {
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	for (i = 0; i < t.ncats; i++) {
		struct pol_query q;
		struct pol_decision d;

		memset(&q, 0, sizeof(q));
		q.roles = who->roles;
		q.nroles = who->nroles;
		q.category = t.cats[i];
		q.purpose = t.purpose;
		q.has_ticket = t.ticket != NULL;
		r = pol_decide(rules->policy, &q, &d);
		if (r == PII_ERR_APPROVAL_REQUIRED) {
			char gid[PROXY_ID_MAX];
			int c = proxy_grant_covers(ps->store, who->user, t.skey,
			    t.cats[i], t.purpose, gid);

			if (c < 0) {
				pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
				    "the proxy database is unavailable; retry later");
				pii_http_reply_error(resp, req, &ei);
				goto out;
			}
			if (c == 1 && !grant_ticket_matches(ps, gid, t.ticket, &ei)) {
				if (ei.code != 0) {
					pii_http_reply_error(resp, req, &ei);
					goto out;
				}
				/* approved for another ticket: it does not open this one */
				c = 0;
			}
			if (c == 1) {
				q.has_approval = 1;
				r = pol_decide(rules->policy, &q, &d);
			}
		}
		if (r != 0) {
			pii_json_path_index(field, sizeof(field), "categories", i);
			pii_errinfo_set(&ei, r, field, "%s", d.reason[0] != '\0' ?
			    d.reason : "the policy does not allow this access");
			if (d.rule[0] != '\0')
				proxy_rule_role(who, d.rule, role, sizeof(role));
			proxy_deny(ps, who, role[0] != '\0' ? role : NULL, "access",
			    &t, &ei, req, resp);
			goto out;
		}
		views[i] = (int)d.view;
		masks[i] = (int)d.mask;
		if (d.max_subjects_per_hour > 0 &&
		    (limit == 0 || d.max_subjects_per_hour < limit))
			limit = d.max_subjects_per_hour;
		if (role[0] == '\0')
			proxy_rule_role(who, d.rule, role, sizeof(role));
	}
	r = rate_take(ps, who, &t, limit);
	if (r == PII_ERR_RATE_LIMITED) {
		pii_errinfo_set(&ei, PII_ERR_RATE_LIMITED, NULL,
		    "more than %lld distinct subjects in the last hour", limit);
		proxy_deny(ps, who, role, "access", &t, &ei, req, resp);
		goto out;
	}
	if (r != 0) {
		atomic_fetch_add(&ps->db_failures, 1);
		pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
		    "the proxy database is unavailable; retry later");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	proxy_reveal(ps, who, role, &t, views, masks, 0, req, resp);
out:
	json_decref(root);
}

void
proxy_breakglass(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	static const char *const keys[] = { "subject", "subject_token",
		"categories", "purpose", "ticket", "reason", NULL };
	struct proxy_target t;
	struct pii_errinfo ei;
	int views[PROXY_MAX_CATEGORIES], masks[PROXY_MAX_CATEGORIES];
	char role[64] = "", field[PII_ERR_MAX_FIELD], at[32], until[32];
	long long limit = 0, minutes = 0;
	time_t end;
	json_t *root = NULL, *ev = NULL, *cats = NULL;
	char *line = NULL;
	size_t i, len = 0;
	time_t now = time(NULL);
	struct tm tm;
	int r;

	pii_errinfo_clear(&ei);
	if ((r = proxy_parse_body(req, keys, &root, &ei)) != 0 ||
	    (r = proxy_parse_target(ps, rules->policy, root, &t, &ei)) != 0) {
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if (t.reason == NULL) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "reason",
		    "break-glass access needs a reason");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	for (i = 0; i < t.ncats; i++) {
		struct pol_decision d;

		r = pol_breakglass(rules->policy, who->roles, who->nroles,
		    t.cats[i], t.purpose, &d);
		if (r != 0) {
			pii_json_path_index(field, sizeof(field), "categories", i);
			pii_errinfo_set(&ei, r, field, "%s", d.reason[0] != '\0' ?
			    d.reason : "no break-glass access for this category");
			proxy_deny(ps, who, NULL, "breakglass", &t, &ei, req, resp);
			goto out;
		}
		views[i] = (int)d.view;
		masks[i] = (int)d.mask;
		if (d.max_subjects_per_hour > 0 &&
		    (limit == 0 || d.max_subjects_per_hour < limit))
			limit = d.max_subjects_per_hour;
		if (minutes == 0 || d.minutes < minutes)
			minutes = d.minutes;
		if (role[0] == '\0')
			proxy_rule_role(who, d.rule, role, sizeof(role));
	}
	/* break-glass is bounded too: an emergency is a few subjects */
	r = rate_take(ps, who, &t, limit);
	if (r != 0) {
		if (r == PII_ERR_RATE_LIMITED) {
			pii_errinfo_set(&ei, PII_ERR_RATE_LIMITED, NULL,
			    "more than %lld distinct subjects in the last hour", limit);
			proxy_deny(ps, who, role, "breakglass", &t, &ei, req, resp);
		} else {
			atomic_fetch_add(&ps->db_failures, 1);
			pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
			    "the proxy database is unavailable; retry later");
			pii_http_reply_error(resp, req, &ei);
		}
		goto out;
	}
	/* notified before anything is revealed; no notification, no access */
	gmtime_r(&now, &tm);
	strftime(at, sizeof(at), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cats = json_array();
	for (i = 0; i < t.ncats; i++)
		json_array_append_new(cats, json_string(t.cats[i]));
	/* the policy's time box: the emergency is to be reviewed by then */
	end = now + (time_t)minutes * 60;
	gmtime_r(&end, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	ev = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:s, s:I, s:s}",
	    "event", "breakglass", "at", at, "user", who->user, "role", role,
	    "categories", cats, "purpose", t.purpose, "reason", t.reason,
	    "request_id", who->request_id, "subject_kind", t.kind,
	    "minutes", (json_int_t)minutes, "review_by", until);
	cats = NULL;
	if (ev != NULL && t.ticket != NULL)
		json_object_set_new(ev, "ticket", json_string(t.ticket));
	/* a subject token is not PII; a subject reference is left out */
	if (ev != NULL && strcmp(t.kind, "token") == 0)
		json_object_set_new(ev, "subject_token", json_string(t.subject));
	if (ev == NULL || pii_json_dump(ev, &line, &len) != 0 ||
	    proxy_notify(ps, line) != 0) {
		atomic_fetch_add(&ps->notify_failures, 1);
		pii_log(PII_LOG_ERROR, "event=breakglass_notify_failed request_id=%s",
		    who->request_id);
		pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL,
		    "the break-glass notification could not be delivered; "
		    "access refused");
		proxy_deny(ps, who, role, "breakglass", &t, &ei, req, resp);
		goto out;
	}
	atomic_fetch_add(&ps->breakglass, 1);
	pii_log(PII_LOG_WARN, "event=breakglass role=%s purpose=%s request_id=%s",
	    role, t.purpose, who->request_id);
	proxy_reveal(ps, who, role, &t, views, masks, 1, req, resp);
out:
	if (line != NULL)
		pii_json_free_str(line);
	json_decref(ev);
	json_decref(cats);
	json_decref(root);
}
