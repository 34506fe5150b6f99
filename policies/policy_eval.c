/*
 * policy_eval.c - decisions over a loaded policy: may these roles see this
 * category for this purpose (pol_decide), use break-glass access, approve a
 * grant, use a capability; and the description of a caller's roles for
 * GET /v1/me.
 *
 * Evaluation is default deny and independent of the order in which the
 * caller's roles are given: roles and grants are visited in file order, the
 * most permissive satisfied grant wins, the first in file order on a tie.
 * When nothing is satisfied the denial says what would help (a ticket, an
 * approval) and names the grant that needs it, so `pii-policy explain` and
 * the proxy's error messages answer "why not" without a second lookup.
 *
 * Reasons name roles, categories, purposes and rules.  A name the caller
 * sent that the policy does not define is not repeated (it could be any
 * text); only the policy's own names are.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "policy_int.h"

const char *
pol_view_name(enum pol_view v)
{
	switch (v) {
	case POL_VIEW_NONE:
		return "none";
	case POL_VIEW_MASKED:
		return "masked";
	case POL_VIEW_FULL:
		return "full";
	}
	return "none";
}

const char *
pol_sensitivity_name(enum pol_sensitivity s)
{
	switch (s) {
	case POL_SENS_LOW:
		return "low";
	case POL_SENS_MEDIUM:
		return "medium";
	case POL_SENS_HIGH:
		return "high";
	}
	return "high";
}

/* "masked" / "in full", for sentences. */
static const char *
view_words(enum pol_view v)
{
	return v == POL_VIEW_FULL ? "in full" : "masked";
}

static void reason(struct pol_decision *d, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
reason(struct pol_decision *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->reason, sizeof(d->reason), fmt, ap);
	va_end(ap);
}

static void
decision_init(struct pol_decision *d, int code)
{
	memset(d, 0, sizeof(*d));
	d->code = code;
	d->view = POL_VIEW_NONE;
	d->mask = POL_MASK_REDACT;
}

/* The set of the policy's roles among names (unknown names are ignored);
 * *unknown counts the others. */
static struct pol_set
role_set(const struct pol_policy *p, const char *const *names, size_t n,
    size_t *unknown)
{
	struct pol_set s;
	size_t i;
	int ri;

	memset(&s, 0, sizeof(s));
	if (unknown != NULL)
		*unknown = 0;
	for (i = 0; names != NULL && i < n; i++) {
		if ((ri = pol_find_role(p, names[i])) >= 0)
			pol_set_add(&s, (size_t)ri);
		else if (unknown != NULL)
			(*unknown)++;
	}
	return s;
}

static int
sets_meet(const struct pol_set *a, const struct pol_set *b)
{
	size_t i;

	for (i = 0; i < 4; i++)
		if (a->w[i] & b->w[i])
			return 1;
	return 0;
}

/* "a, b, c" of the policy's roles in s, into buf. */
static const char *
role_list(const struct pol_policy *p, const struct pol_set *s, char *buf,
    size_t cap)
{
	size_t i, n = 0;

	buf[0] = '\0';
	for (i = 0; i < p->nroles; i++) {
		int w;

		if (!pol_set_has(s, i))
			continue;
		w = snprintf(buf + n, cap - n, "%s%s", n > 0 ? ", " : "",
		    p->roles[i].name);
		if (w < 0 || (size_t)w >= cap - n)
			break;
		n += (size_t)w;
	}
	return buf;
}

/* "role x" or "roles x, y" for the known roles of a query. */
static const char *
roles_phrase(const struct pol_policy *p, const struct pol_set *s, char *buf,
    size_t cap)
{
	char list[160];
	size_t i, k = 0;

	for (i = 0; i < p->nroles; i++)
		k += (size_t)pol_set_has(s, i);
	snprintf(buf, cap, "role%s %s", k == 1 ? "" : "s",
	    role_list(p, s, list, sizeof(list)));
	return buf;
}

int
pol_decide(const struct pol_policy *p, const struct pol_query *q,
    struct pol_decision *d)
{
	const struct pol_grant *best = NULL, *appr = NULL, *tick = NULL;
	const struct pol_grant *upgrade = NULL;
	struct pol_set roles;
	size_t ri, gi, unknown;
	size_t appr_role = 0, best_role = 0, tick_role = 0;
	char who[200], list[160];
	const char *cat, *pur;
	int ci, pi;

	decision_init(d, PII_ERR_POLICY_DENIED);
	if ((ci = pol_find_category(p, q->category)) < 0) {
		d->code = PII_ERR_UNKNOWN_CATEGORY;
		reason(d, "the category is not defined in the policy");
		return d->code;
	}
	cat = p->categories[ci].name;
	d->mask = p->categories[ci].mask;
	if ((pi = pol_find_purpose(p, q->purpose)) < 0) {
		reason(d, "the purpose is not defined in the policy, so no grant "
		    "covers category %s for it", cat);
		return d->code;
	}
	pur = p->purposes[pi].name;
	roles = role_set(p, q->roles, q->nroles, &unknown);

	for (ri = 0; ri < p->nroles; ri++) {
		const struct pol_role *ro = &p->roles[ri];

		if (!pol_set_has(&roles, ri))
			continue;
		for (gi = 0; gi < ro->ngrants; gi++) {
			const struct pol_grant *g = &ro->grants[gi];
			int need_t = g->require_ticket && !q->has_ticket;
			int need_a = g->require_approval && !q->has_approval;

			if (!pol_set_has(&g->categories, (size_t)ci) ||
			    !pol_set_has(&g->purposes, (size_t)pi))
				continue;
			if (!need_t && !need_a) {
				if (best == NULL || g->view > best->view) {
					best = g;
					best_role = ri;
				}
			} else if (!need_t) {
				if (appr == NULL || g->view > appr->view) {
					appr = g;
					appr_role = ri;
				}
			} else {
				/* prefer a grant a ticket alone would satisfy */
				int rank = (g->require_approval && !q->has_approval) ? 0 : 2;
				int trank = tick == NULL ? -1 :
				    ((tick->require_approval && !q->has_approval) ? 0 : 2);

				rank += g->view == POL_VIEW_FULL;
				if (tick != NULL)
					trank += tick->view == POL_VIEW_FULL;
				if (tick == NULL || rank > trank) {
					tick = g;
					tick_role = ri;
				}
			}
			if ((need_t || need_a) && (upgrade == NULL ||
			    g->view > upgrade->view))
				upgrade = g;
		}
	}

	if (best != NULL) {
		const char *with = "";

		if (best->require_ticket && best->require_approval)
			with = " with a ticket and an approved grant";
		else if (best->require_ticket)
			with = " with a ticket";
		else if (best->require_approval)
			with = " with an approved grant";
		d->code = 0;
		d->view = best->view;
		d->max_subjects_per_hour = best->max_subjects_per_hour;
		snprintf(d->rule, sizeof(d->rule), "%s", best->rule);
		if (upgrade != NULL && upgrade->view > best->view)
			reason(d, "role %s may see %s %s for purpose %s%s; the full "
			    "view needs %s (%s)", p->roles[best_role].name, cat,
			    view_words(best->view), pur, with,
			    upgrade->require_ticket && !q->has_ticket ?
			    (upgrade->require_approval && !q->has_approval ?
			    "a ticket and an approved grant" : "a ticket") :
			    "an approved grant", upgrade->rule);
		else
			reason(d, "role %s may see %s %s for purpose %s%s",
			    p->roles[best_role].name, cat, view_words(best->view),
			    pur, with);
		return 0;
	}
	if (appr != NULL) {
		struct pol_set approvers;
		size_t ai;

		memset(&approvers, 0, sizeof(approvers));
		for (ai = 0; ai < p->napprovals; ai++) {
			const struct pol_approval *a = &p->approvals[ai];
			size_t k;

			if (!pol_set_has(&a->requesters, appr_role) ||
			    !pol_set_has(&a->categories, (size_t)ci))
				continue;
			for (k = 0; k < 4; k++)
				approvers.w[k] |= a->approvers.w[k];
		}
		d->code = PII_ERR_APPROVAL_REQUIRED;
		snprintf(d->rule, sizeof(d->rule), "%s", appr->rule);
		reason(d, "role %s may see %s %s for purpose %s only with a grant "
		    "approved by another person (approver roles: %s)",
		    p->roles[appr_role].name, cat, view_words(appr->view), pur,
		    role_list(p, &approvers, list, sizeof(list)));
		return d->code;
	}
	if (tick != NULL) {
		d->code = PII_ERR_TICKET_REQUIRED;
		snprintf(d->rule, sizeof(d->rule), "%s", tick->rule);
		reason(d, "role %s needs a ticket%s to see %s %s for purpose %s",
		    p->roles[tick_role].name,
		    tick->require_approval && !q->has_approval ?
		    " and then an approved grant" : "", cat,
		    view_words(tick->view), pur);
		return d->code;
	}
	if (q->nroles == 0)
		reason(d, "the caller has no role, so nothing covers category %s "
		    "for purpose %s", cat, pur);
	else if (unknown == q->nroles)
		reason(d, "none of the caller's roles is defined in the policy, so "
		    "nothing covers category %s for purpose %s", cat, pur);
	else
		reason(d, "no grant of %s covers category %s for purpose %s",
		    roles_phrase(p, &roles, who, sizeof(who)), cat, pur);
	return d->code;
}

int
pol_breakglass(const struct pol_policy *p, const char *const *roles,
    size_t nroles, const char *category, const char *purpose,
    struct pol_decision *d)
{
	const struct pol_breakglass *best = NULL;
	struct pol_set rs;
	size_t ri, best_role = 0;
	char who[200];
	int ci, pi;

	decision_init(d, PII_ERR_POLICY_DENIED);
	if ((ci = pol_find_category(p, category)) < 0) {
		d->code = PII_ERR_UNKNOWN_CATEGORY;
		reason(d, "the category is not defined in the policy");
		return d->code;
	}
	d->mask = p->categories[ci].mask;
	if ((pi = pol_find_purpose(p, purpose)) < 0) {
		reason(d, "the purpose is not defined in the policy, so no "
		    "break-glass block covers category %s for it",
		    p->categories[ci].name);
		return d->code;
	}
	rs = role_set(p, roles, nroles, NULL);
	for (ri = 0; ri < p->nroles; ri++) {
		const struct pol_breakglass *b = &p->roles[ri].breakglass;

		if (!pol_set_has(&rs, ri) || !b->present ||
		    !pol_set_has(&b->categories, (size_t)ci) ||
		    !pol_set_has(&b->purposes, (size_t)pi))
			continue;
		if (best == NULL || b->view > best->view) {
			best = b;
			best_role = ri;
		}
	}
	if (best == NULL) {
		if (rs.w[0] == 0 && rs.w[1] == 0 && rs.w[2] == 0 && rs.w[3] == 0)
			reason(d, "none of the caller's roles is defined in the "
			    "policy, so no break-glass block covers category %s for "
			    "purpose %s", p->categories[ci].name, p->purposes[pi].name);
		else
			reason(d, "no break-glass block of %s covers category %s for "
			    "purpose %s", roles_phrase(p, &rs, who, sizeof(who)),
			    p->categories[ci].name, p->purposes[pi].name);
		return d->code;
	}
	d->code = 0;
	d->view = best->view;
	d->minutes = best->minutes;
	d->max_subjects_per_hour = best->max_subjects_per_hour;
	snprintf(d->rule, sizeof(d->rule), "%s", best->rule);
	reason(d, "role %s may use break-glass access to see %s %s for purpose "
	    "%s for %lld minutes; the access is flagged and notified",
	    p->roles[best_role].name, p->categories[ci].name,
	    view_words(best->view), p->purposes[pi].name, best->minutes);
	return 0;
}

int
pol_may_approve(const struct pol_policy *p,
    const char *const *approver_roles, size_t napprover,
    const char *const *requester_roles, size_t nrequester,
    const char *const *categories, size_t ncategories)
{
	struct pol_set approver, requester;
	size_t i, ai;

	if (categories == NULL || ncategories == 0)
		return 0;
	approver = role_set(p, approver_roles, napprover, NULL);
	requester = role_set(p, requester_roles, nrequester, NULL);
	for (i = 0; i < ncategories; i++) {
		int ci = pol_find_category(p, categories[i]), found = 0;

		if (ci < 0)
			return 0;
		for (ai = 0; ai < p->napprovals && !found; ai++) {
			const struct pol_approval *a = &p->approvals[ai];

			found = pol_set_has(&a->categories, (size_t)ci) &&
			    sets_meet(&a->approvers, &approver) &&
			    sets_meet(&a->requesters, &requester);
		}
		if (!found)
			return 0;
	}
	return 1;
}

int
pol_role_can(const struct pol_policy *p, const char *const *roles,
    size_t nroles, const char *capability)
{
	struct pol_set rs;
	unsigned int bit;
	size_t i;

	if (capability == NULL)
		return 0;
	rs = role_set(p, roles, nroles, NULL);
	if (strcmp(capability, "grants_approve") == 0) {
		for (i = 0; i < p->napprovals; i++)
			if (sets_meet(&p->approvals[i].approvers, &rs))
				return 1;
		return 0;
	}
	if (strcmp(capability, "audit_read") == 0)
		bit = POL_CAP_AUDIT_READ;
	else if (strcmp(capability, "dsr_manage") == 0)
		bit = POL_CAP_DSR_MANAGE;
	else
		return 0;
	for (i = 0; i < p->nroles; i++)
		if (pol_set_has(&rs, i) && (p->roles[i].capabilities & bit))
			return 1;
	return 0;
}

/* ---- GET /v1/me -------------------------------------------------------------- */

/* Append to arr the names of table entries (stride bytes apart, name first)
 * whose index is in s.  -1 if out of memory. */
static int
add_names(json_t *arr, const struct pol_set *s, const void *table,
    size_t n, size_t stride)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pol_set_has(s, i) && json_array_append_new(arr,
		    json_string((const char *)table + i * stride)) != 0)
			return -1;
	return 0;
}

static json_t *
names_of(const struct pol_set *s, const void *table, size_t n, size_t stride)
{
	json_t *arr = json_array();

	if (arr != NULL && add_names(arr, s, table, n, stride) != 0) {
		json_decref(arr);
		arr = NULL;
	}
	return arr;
}

#define CATS(p, s) names_of((s), (p)->categories, (p)->ncategories, \
    sizeof(struct pol_category))
#define PURS(p, s) names_of((s), (p)->purposes, (p)->npurposes, \
    sizeof(struct pol_purpose))
#define ROLES(p, s) names_of((s), (p)->roles, (p)->nroles, sizeof(struct pol_role))

static json_t *
describe_grant(const struct pol_policy *p, const struct pol_grant *g)
{
	return json_pack("{s:s, s:o*, s:o*, s:s, s:b, s:b, s:I}",
	    "rule", g->rule,
	    "categories", CATS(p, &g->categories),
	    "purposes", PURS(p, &g->purposes),
	    "view", pol_view_name(g->view),
	    "require_ticket", g->require_ticket,
	    "require_approval", g->require_approval,
	    "max_subjects_per_hour", (json_int_t)g->max_subjects_per_hour);
}

static json_t *
describe_role(const struct pol_policy *p, size_t ri)
{
	const struct pol_role *ro = &p->roles[ri];
	json_t *o, *grants, *caps, *appr;
	size_t i;

	o = json_pack("{s:s, s:b, s:s?, s:[], s:[], s:[]}", "role", ro->name,
	    "known", 1, "description", ro->description, "grants",
	    "capabilities", "may_approve");
	if (o == NULL)
		return NULL;
	grants = json_object_get(o, "grants");
	caps = json_object_get(o, "capabilities");
	appr = json_object_get(o, "may_approve");
	for (i = 0; i < ro->ngrants; i++)
		if (json_array_append_new(grants, describe_grant(p,
		    &ro->grants[i])) != 0)
			goto fail;
	if (((ro->capabilities & POL_CAP_AUDIT_READ) &&
	    json_array_append_new(caps, json_string("audit_read")) != 0) ||
	    ((ro->capabilities & POL_CAP_DSR_MANAGE) &&
	    json_array_append_new(caps, json_string("dsr_manage")) != 0))
		goto fail;
	for (i = 0; i < p->napprovals; i++) {
		const struct pol_approval *a = &p->approvals[i];

		if (!pol_set_has(&a->approvers, ri))
			continue;
		if (json_array_append_new(appr, json_pack("{s:o*, s:o*}",
		    "requesters", ROLES(p, &a->requesters),
		    "categories", CATS(p, &a->categories))) != 0)
			goto fail;
	}
	if (ro->breakglass.present) {
		const struct pol_breakglass *b = &ro->breakglass;

		if (json_object_set_new(o, "breakglass", json_pack(
		    "{s:s, s:o*, s:o*, s:s, s:I, s:I}", "rule", b->rule,
		    "categories", CATS(p, &b->categories),
		    "purposes", PURS(p, &b->purposes),
		    "view", pol_view_name(b->view),
		    "minutes", (json_int_t)b->minutes,
		    "max_subjects_per_hour",
		    (json_int_t)b->max_subjects_per_hour)) != 0)
			goto fail;
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

/* 1 if s is a name the policy could define as a role (so safe to echo). */
static int
role_name_shape(const char *s)
{
	size_t n;

	if (s == NULL || !(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (n = 1; s[n] != '\0'; n++)
		if (n >= POL_NAME_MAX - 1 || !((s[n] >= 'a' && s[n] <= 'z') ||
		    (s[n] >= '0' && s[n] <= '9') || s[n] == '_' || s[n] == '-'))
			return 0;
	return 1;
}

json_t *
pol_describe_roles(const struct pol_policy *p, const char *const *roles,
    size_t nroles)
{
	static const char *const caps[] = { "audit_read", "dsr_manage",
		"grants_approve" };
	json_t *o = NULL, *arr, *all, *r;
	size_t i, k;
	int ri;

	o = json_pack("{s:[], s:[], s:I}", "roles", "capabilities",
	    "grant_max_minutes", (json_int_t)p->grant_max_minutes);
	if (o == NULL)
		return NULL;
	if (p->dsr_deadline_days > 0)
		json_object_set_new(o, "dsr_deadline_days",
		    json_integer(p->dsr_deadline_days));
	arr = json_object_get(o, "roles");
	all = json_object_get(o, "capabilities");
	for (i = 0; roles != NULL && i < nroles; i++) {
		if ((ri = pol_find_role(p, roles[i])) >= 0)
			r = describe_role(p, (size_t)ri);
		else if (role_name_shape(roles[i]))
			r = json_pack("{s:s, s:b, s:[], s:[], s:[]}", "role", roles[i],
			    "known", 0, "grants", "capabilities", "may_approve");
		else
			r = json_pack("{s:n, s:b, s:[], s:[], s:[]}", "role", "known",
			    0, "grants", "capabilities", "may_approve");
		if (json_array_append_new(arr, r) != 0)
			goto fail;
	}
	for (k = 0; k < sizeof(caps) / sizeof(caps[0]); k++)
		if (pol_role_can(p, roles, nroles, caps[k]) &&
		    json_array_append_new(all, json_string(caps[k])) != 0)
			goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}
