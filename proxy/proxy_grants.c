/*
 * proxy_grants.c - just-in-time access: POST /v1/grants (request),
 * POST /v1/grants/{id}/approve and /deny, GET /v1/grants.
 *
 * A grant opens one subject, some categories, one purpose, for a bounded
 * number of minutes from its approval.  It can be requested only for what
 * the requester's role could see with an approval (a grant never widens the
 * policy), and approved or denied only by another person whose role the
 * policy lets approve that role's requests for those categories.  Every
 * request, approval and denial is recorded in the proxy's audit log.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/json_util.h"
#include "../common/log.h"
#include "proxy_handlers.h"

#define GRANT_LIST_MAX 200
#define GRANT_PENDING_MAX 1000

static int
store_error(struct proxy_server *ps, int r, struct pii_errinfo *ei)
{
	if (r == PII_ERR_DB_UNAVAILABLE || r == PII_ERR_INTERNAL || r == PII_ERR_SQL ||
	    r == PII_ERR_NOMEM) {
		atomic_fetch_add(&ps->db_failures, 1);
		return pii_errinfo_set(ei, PII_ERR_DB_UNAVAILABLE, NULL,
		    "the proxy database is unavailable; retry later");
	}
	return r;
}

void
proxy_grant_request(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	static const char *const keys[] = { "subject", "subject_token",
		"categories", "purpose", "ticket", "reason", "minutes", NULL };
	struct proxy_target t;
	struct proxy_grant g;
	struct pii_errinfo ei;
	char role[64] = "", field[PII_ERR_MAX_FIELD], id[PROXY_ID_MAX];
	long long maxmin = pol_grant_max_minutes(rules->policy), minutes = 0;
	json_t *root = NULL;
	size_t i;
	int r;

	pii_errinfo_clear(&ei);
	if ((r = proxy_parse_body(req, keys, &root, &ei)) != 0 ||
	    (r = proxy_parse_target(ps, rules->policy, root, &t, &ei)) != 0 ||
	    (r = pii_json_get_int(root, "minutes", 1, 1, maxmin, "", &minutes,
	    &ei)) != 0) {
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if (t.reason == NULL) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "reason",
		    "a grant request needs a reason");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	/* only what an approval would open, with the ticket the rule wants */
	for (i = 0; i < t.ncats; i++) {
		struct pol_query q;
		struct pol_decision d;

		memset(&q, 0, sizeof(q));
		q.roles = who->roles;
		q.nroles = who->nroles;
		q.category = t.cats[i];
		q.purpose = t.purpose;
		q.has_ticket = t.ticket != NULL;
		q.has_approval = 1;
		r = pol_decide(rules->policy, &q, &d);
		if (r == 0 && role[0] == '\0')
			proxy_rule_role(who, d.rule, role, sizeof(role));
		if (r == 0) {
			/* is an approval what it takes? */
			q.has_approval = 0;
			if (pol_decide(rules->policy, &q, &d) == 0) {
				pii_json_path_index(field, sizeof(field), "categories", i);
				pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, field,
				    "needs no approval: use POST /v1/access");
				pii_http_reply_error(resp, req, &ei);
				goto out;
			}
			continue;
		}
		pii_json_path_index(field, sizeof(field), "categories", i);
		pii_errinfo_set(&ei, r, field, "%s", d.reason[0] != '\0' ? d.reason :
		    "no approval could open this access");
		proxy_deny(ps, who, NULL, "grant_request", &t, &ei, req, resp);
		goto out;
	}
	memset(&g, 0, sizeof(g));
	snprintf(g.requester, sizeof(g.requester), "%s", who->user);
	snprintf(g.requester_role, sizeof(g.requester_role), "%s", role);
	memcpy(g.subject_key, t.skey, sizeof(g.subject_key));
	for (i = 0; i < t.ncats && i < PROXY_GRANT_MAX_CATEGORIES; i++)
		snprintf(g.categories[i], sizeof(g.categories[i]), "%s", t.cats[i]);
	g.ncategories = i;
	snprintf(g.purpose, sizeof(g.purpose), "%s", t.purpose);
	snprintf(g.ticket, sizeof(g.ticket), "%s", t.ticket != NULL ? t.ticket : "");
	snprintf(g.reason, sizeof(g.reason), "%s", t.reason);
	g.minutes = minutes;
	/* recorded before it exists (with the id it will have): a grant
	 * nobody can see in the log must never be approvable */
	if ((r = proxy_grant_new_id(id)) != 0) {
		pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL, "internal error");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	t.grant_id = id;
	snprintf(g.id, sizeof(g.id), "%s", id);
	if (proxy_audit(ps, who, role, "grant_request", &t, 1, 0, 0) != 0) {
		pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; request refused");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if ((r = proxy_grant_create(ps->store, &g, id, &ei)) != 0) {
		store_error(ps, r, &ei);
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	pii_log(PII_LOG_INFO, "event=grant_requested grant=%s role=%s request_id=%s",
	    id, role, who->request_id);
	pii_http_reply_json(resp, 201, json_pack("{s:s, s:s, s:I, s:s}", "id", id,
	    "status", "requested", "minutes", (json_int_t)minutes, "request_id",
	    who->request_id));
out:
	json_decref(root);
}

void
proxy_grant_decision(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const char *id, int approve,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	const char *action = approve ? "grant_approve" : "grant_deny";
	const char *req_role[1], *cats[PROXY_GRANT_MAX_CATEGORIES];
	struct proxy_target t;
	struct proxy_grant g;
	struct pii_errinfo ei;
	size_t i;
	int r;

	pii_errinfo_clear(&ei);
	memset(&t, 0, sizeof(t));
	if (req->body_len != 0) {
		json_t *root = NULL;
		static const char *const keys[] = { NULL };

		/* an optional empty object; anything else is refused */
		if (proxy_parse_body(req, keys, &root, &ei) != 0) {
			pii_http_reply_error(resp, req, &ei);
			return;
		}
		json_decref(root);
	}
	if (strncmp(id, "gr_", 3) != 0 || strlen(id) > 40 ||
	    strspn(id + 3, "abcdefghijklmnopqrstuvwxyz234567") != strlen(id + 3)) {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL, "no such grant");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if ((r = proxy_grant_get(ps->store, id, &g, &ei)) != 0) {
		store_error(ps, r, &ei);
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	for (i = 0; i < g.ncategories; i++) {
		cats[i] = g.categories[i];
		t.cats[i] = g.categories[i];
	}
	t.ncats = g.ncategories;
	t.purpose = g.purpose;
	t.ticket = g.ticket[0] != '\0' ? g.ticket : NULL;
	if (strcmp(g.requester, who->user) == 0) {
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, NULL,
		    "a grant cannot be approved or denied by its requester");
		proxy_deny(ps, who, NULL, action, &t, &ei, req, resp);
		return;
	}
	req_role[0] = g.requester_role;
	if (!pol_may_approve(rules->policy, who->roles, who->nroles, req_role, 1,
	    cats, g.ncategories)) {
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, NULL,
		    "your role may not decide grants of role %s for these categories",
		    g.requester_role);
		proxy_deny(ps, who, NULL, action, &t, &ei, req, resp);
		return;
	}
	if (strcmp(g.status, "requested") != 0) {
		pii_errinfo_set(&ei, PII_ERR_CONFLICT, NULL,
		    "grant is no longer pending");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	/* recorded before it takes effect: an approval the log lacks must
	 * never open anything (fail closed) */
	t.grant_id = id;
	if (proxy_audit(ps, who, NULL, action, &t, 1, 0, 0) != 0) {
		pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; nothing was decided");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if ((r = proxy_grant_decide(ps->store, id, who->user, approve, &ei)) != 0) {
		store_error(ps, r, &ei);
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	pii_log(PII_LOG_INFO, "event=%s grant=%s request_id=%s", action, id,
	    who->request_id);
	if ((r = proxy_grant_get(ps->store, id, &g, &ei)) != 0) {
		store_error(ps, r, &ei);
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	pii_http_reply_json(resp, 200, json_pack("{s:s, s:s, s:s, s:s?}", "id", id,
	    "status", g.status, "approver", g.approver, "expires_at",
	    g.expires_at[0] != '\0' ? g.expires_at : NULL));
}

void
proxy_grant_listing(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	const char *status = pii_http_query(req, "status");
	struct pii_errinfo ei;
	json_t *all = NULL, *pending = NULL, *mine = json_array(), *e;
	size_t i;
	int r;

	pii_errinfo_clear(&ei);
	if (status != NULL && strcmp(status, "requested") != 0 &&
	    strcmp(status, "approved") != 0 && strcmp(status, "denied") != 0) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "status",
		    "must be requested, approved or denied");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	/* the caller's own grants, then every pending one they may decide
	 * (two queries: a system-wide newest-N would hide older ones) */
	if ((r = proxy_grant_list(ps->store, who->user, status != NULL ? status : "",
	    GRANT_LIST_MAX, &all, &ei)) != 0 ||
	    ((status == NULL || strcmp(status, "requested") == 0) &&
	    (r = proxy_grant_list(ps->store, NULL, "requested", GRANT_PENDING_MAX,
	    &pending, &ei)) != 0)) {
		store_error(ps, r, &ei);
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	json_array_foreach(pending, i, e) {
		const char *rq = json_string_value(json_object_get(e, "requester"));

		if (rq != NULL && strcmp(rq, who->user) != 0)
			json_array_append(all, e);
	}
	/* a person sees their own grants and those they may decide */
	json_array_foreach(all, i, e) {
		const char *rq = json_string_value(json_object_get(e, "requester"));
		const char *rr = json_string_value(json_object_get(e, "requester_role"));
		const json_t *cs = json_object_get(e, "categories");
		const char *cats[PROXY_GRANT_MAX_CATEGORIES];
		size_t j, n = 0;
		int own = rq != NULL && strcmp(rq, who->user) == 0;

		for (j = 0; j < json_array_size(cs) && n < PROXY_GRANT_MAX_CATEGORIES; j++)
			cats[n++] = json_string_value(json_array_get(cs, j));
		if (own || (rr != NULL && pol_may_approve(rules->policy, who->roles,
		    who->nroles, &rr, 1, cats, n)))
			json_array_append(mine, e);
	}
	pii_http_reply_json(resp, 200, json_pack("{s:O}", "grants", mine));
out:
	json_decref(all);
	json_decref(pending);
	json_decref(mine);
}
