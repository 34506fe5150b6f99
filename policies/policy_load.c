/*
 * policy_load.c - the strict loader of policy files (format in
 * policies/README.md).
 *
 * A policy is what lets people see personal data, so anything the loader
 * does not understand is an error, never a default: unknown keys at every
 * depth, duplicate keys (with the path of the repeated key), wrong types
 * (null included), names outside [a-z][a-z0-9_]*, references to categories,
 * purposes or roles the file does not define, a name listed twice, empty
 * grant lists of categories or purposes, numbers out of range, and
 * contradictions: a grant that requires an approval nobody may give.  Each
 * error names the JSON path of the fault in ei->field.
 *
 * Sections are read in dependency order (categories, purposes, role names,
 * approvals, role bodies), so the first error reported is not always the
 * first in the file.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/config.h"
#include "../common/json_util.h"
#include "policy_int.h"

#define POL_JSON_DEPTH 16
#define PATH_MAX_LEN PII_ERR_MAX_FIELD

static const char *const builtin_categories[] = {
	"email", "phone", "name", "address", "national_id", "card", "iban",
	"ssn", "ip", "dob", NULL
};

/* Names that other parts of piivault give a meaning and so cannot be
 * categories: a subject reference, and the tagger's "not personal data". */
static const char *const reserved_categories[] = { "subject", "none", NULL };

static const char *const capability_names[] = { "audit_read", "dsr_manage", NULL };
static const unsigned int capability_bits[] = { POL_CAP_AUDIT_READ, POL_CAP_DSR_MANAGE };

static int fail(struct pii_errinfo *ei, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(struct pii_errinfo *ei, const char *field, const char *fmt, ...)
{
	char msg[PII_ERR_MAX_MESSAGE];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pii_errinfo_set(ei, PII_ERR_CONFIG, field, "%s", msg);
}

static int
nomem(struct pii_errinfo *ei)
{
	return pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
}

/* ---- names and paths ------------------------------------------------------ */

/* [a-z][a-z0-9_]* (roles: '-' too), 1..POL_NAME_MAX-1 bytes. */
static int
name_ok(const char *s, int allow_dash)
{
	size_t n;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (n = 1; s[n] != '\0'; n++) {
		char c = s[n];

		if (n >= POL_NAME_MAX - 1)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
		    (allow_dash && c == '-')))
			return 0;
	}
	return 1;
}

/* A key as it may appear in a path: [A-Za-z0-9_-], at most 63 bytes;
 * anything else is written "<key>" (it could be anything). */
static int
key_printable(const char *k, size_t n)
{
	size_t i;

	if (n == 0 || n >= POL_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = k[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return 1;
}

/* A path into buf.  Names are at most 63 bytes and nesting is shallow, so a
 * path fits PII_ERR_MAX_FIELD; were it ever longer it would be cut, never
 * overrun. */
static const char *path_fmt(char *buf, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static const char *
path_fmt(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
	return buf;
}

static const char *
path_key(char *buf, size_t cap, const char *path, const char *key)
{
	const char *k = key_printable(key, strlen(key)) ? key : "<key>";

	if (path[0] == '\0')
		return path_fmt(buf, cap, "%s", k);
	return path_fmt(buf, cap, "%s.%s", path, k);
}

static const char *
path_index(char *buf, size_t cap, const char *path, size_t i)
{
	return path_fmt(buf, cap, "%s[%zu]", path, i);
}

static int
in_list(const char *s, const char *const *list)
{
	size_t i;

	for (i = 0; list[i] != NULL; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

int
pol_category_builtin(const char *category)
{
	return category != NULL && in_list(category, builtin_categories);
}

/* ---- typed members (null is a wrong type, not an absent key) --------------- */

/* Refuse keys of obj not in allowed, naming them and what is allowed. */
static int
check_keys(const json_t *obj, const char *const *allowed, const char *path,
    struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN], list[160];
	const char *key;
	json_t *v;
	size_t i, n = 0;

	json_object_foreach((json_t *)obj, key, v) {
		(void)v;
		if (in_list(key, allowed))
			continue;
		list[0] = '\0';
		for (i = 0; allowed[i] != NULL; i++) {
			int w = snprintf(list + n, sizeof(list) - n, "%s%s",
			    i > 0 ? ", " : "", allowed[i]);

			if (w < 0 || (size_t)w >= sizeof(list) - n)
				break;
			n += (size_t)w;
		}
		return fail(ei, path_key(p, sizeof(p), path, key),
		    "unknown key (allowed here: %s)", list);
	}
	return 0;
}

/* The member key of obj into *out (NULL when absent and optional). */
static int
member(const json_t *obj, const char *key, int required, const char *path,
    json_t **out, char *p, size_t pcap, struct pii_errinfo *ei)
{
	path_key(p, pcap, path, key);
	*out = json_object_get(obj, key);
	if (*out == NULL && required)
		return fail(ei, p, "is required");
	return 0;
}

static int
get_object(const json_t *obj, const char *key, int required, const char *path,
    json_t **out, struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = member(obj, key, required, path, out, p, sizeof(p), ei)) != 0)
		return r;
	if (*out != NULL && !json_is_object(*out))
		return fail(ei, p, "must be an object");
	return 0;
}

static int
get_array(const json_t *obj, const char *key, int required, size_t max,
    const char *path, json_t **out, struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN];
	int r;

	if ((r = member(obj, key, required, path, out, p, sizeof(p), ei)) != 0)
		return r;
	if (*out == NULL)
		return 0;
	if (!json_is_array(*out))
		return fail(ei, p, "must be an array");
	if (json_array_size(*out) > max)
		return fail(ei, p, "more than %zu elements", max);
	return 0;
}

static int
get_int(const json_t *obj, const char *key, int required, long long min,
    long long max, const char *path, long long *out, struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN];
	json_t *v;
	long long n;
	int r;

	if ((r = member(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return fail(ei, p, "must be an integer");
	n = (long long)json_integer_value(v);
	if (n < min || n > max)
		return fail(ei, p, "must be between %lld and %lld", min, max);
	*out = n;
	return 0;
}

static int
get_bool(const json_t *obj, const char *key, int required, const char *path,
    int *out, struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN];
	json_t *v;
	int r;

	if ((r = member(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return fail(ei, p, "must be true or false");
	*out = json_is_true(v);
	return 0;
}

/* A string member into *out (borrowed; NULL when absent and optional). */
static int
get_string(const json_t *obj, const char *key, int required, size_t max,
    const char *path, const char **out, struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN];
	json_t *v;
	int r;

	*out = NULL;
	if ((r = member(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v == NULL)
		return 0;
	if (!json_is_string(v))
		return fail(ei, p, "must be a string");
	if (json_string_length(v) > max)
		return fail(ei, p, "longer than %zu bytes", max);
	*out = json_string_value(v);
	return 0;
}

/* An optional "description": text without control characters, copied. */
static int
get_description(const json_t *obj, const char *path, char **out,
    struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN];
	const char *s;
	size_t i;
	int r;

	if ((r = get_string(obj, "description", 0, POL_MAX_DESCRIPTION, path, &s,
	    ei)) != 0 || s == NULL)
		return r;
	for (i = 0; s[i] != '\0'; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return fail(ei, path_key(p, sizeof(p), path, "description"),
			    "must not contain control characters");
	if ((*out = strdup(s)) == NULL)
		return nomem(ei);
	return 0;
}

/* One string of an enumeration; *out is its index in names. */
static int
get_enum(const json_t *obj, const char *key, int required, const char *path,
    const char *const *names, const char *hint, int *out, struct pii_errinfo *ei)
{
	char p[PATH_MAX_LEN];
	const char *s;
	int r, i;

	if ((r = get_string(obj, key, required, 32, path, &s, ei)) != 0)
		return r;
	if (s == NULL)
		return 0;
	for (i = 0; names[i] != NULL; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	return fail(ei, path_key(p, sizeof(p), path, key), "must be %s", hint);
}

/* ---- lists of references ---------------------------------------------------- */

enum ref_kind { REF_CATEGORY, REF_PURPOSE, REF_ROLE };

static int
find_ref(const struct pol_policy *p, enum ref_kind kind, const char *name)
{
	switch (kind) {
	case REF_CATEGORY:
		return pol_find_category(p, name);
	case REF_PURPOSE:
		return pol_find_purpose(p, name);
	case REF_ROLE:
		return pol_find_role(p, name);
	}
	return -1;
}

/* obj.key: a required array of names defined in the policy's table of kind,
 * each once, non-empty, into the set *out. */
static int
get_refs(const struct pol_policy *p, const json_t *obj, const char *key,
    enum ref_kind kind, const char *path, struct pol_set *out,
    struct pii_errinfo *ei)
{
	static const char *const what[] = { "category", "purpose", "role" };
	static const char *const section[] = { "categories", "purposes", "roles" };
	char ap[PATH_MAX_LEN], ep[PATH_MAX_LEN];
	json_t *arr, *v;
	size_t i;
	int r, idx;

	memset(out, 0, sizeof(*out));
	if ((r = get_array(obj, key, 1, 256, path, &arr, ei)) != 0)
		return r;
	path_key(ap, sizeof(ap), path, key);
	if (json_array_size(arr) == 0)
		return fail(ei, ap, "must list at least one %s (there are no "
		    "wildcards: list each one)", what[kind]);
	json_array_foreach(arr, i, v) {
		const char *s;

		path_index(ep, sizeof(ep), ap, i);
		if (!json_is_string(v))
			return fail(ei, ep, "must be a string (a %s name)", what[kind]);
		s = json_string_value(v);
		if (strcmp(s, "*") == 0)
			return fail(ei, ep, "wildcards are not supported: list each "
			    "%s by name", what[kind]);
		if (!name_ok(s, kind == REF_ROLE))
			return fail(ei, ep, "is not a valid %s name", what[kind]);
		if ((idx = find_ref(p, kind, s)) < 0)
			return fail(ei, ep, "unknown %s \"%s\" (not defined under "
			    "\"%s\")", what[kind], s, section[kind]);
		if (pol_set_has(out, (size_t)idx))
			return fail(ei, ep, "lists %s \"%s\" twice", what[kind], s);
		pol_set_add(out, (size_t)idx);
	}
	return 0;
}

/* ---- sections ---------------------------------------------------------------- */

static int
parse_categories(struct pol_policy *p, const json_t *root, struct pii_errinfo *ei)
{
	static const char *const keys[] = { "sensitivity", "mask",
		"retention_days", "description", NULL };
	static const char *const sens[] = { "low", "medium", "high", NULL };
	const char *masks[POL_MASK_REDACT + 2];
	char cp[PATH_MAX_LEN];
	json_t *obj, *c;
	const char *name;
	int r, i;

	for (i = 0; i <= POL_MASK_REDACT; i++)
		masks[i] = pol_mask_name((enum pol_mask)i);
	masks[i] = NULL;
	if ((r = get_object(root, "categories", 1, "", &obj, ei)) != 0)
		return r;
	if (json_object_size(obj) > POL_MAX_CATEGORIES)
		return fail(ei, "categories", "more than %d categories",
		    POL_MAX_CATEGORIES);
	p->categories = calloc(json_object_size(obj) + 1, sizeof(*p->categories));
	if (p->categories == NULL)
		return nomem(ei);
	json_object_foreach(obj, name, c) {
		struct pol_category *cat = &p->categories[p->ncategories];
		int m = -1, s = -1;

		path_key(cp, sizeof(cp), "categories", name);
		if (!name_ok(name, 0))
			return fail(ei, cp, "a category name must be [a-z][a-z0-9_]*, "
			    "at most %d bytes", POL_NAME_MAX - 1);
		if (in_list(name, reserved_categories))
			return fail(ei, cp, "\"%s\" is reserved and cannot be a "
			    "category", name);
		if (!json_is_object(c))
			return fail(ei, cp, "must be an object");
		if ((r = check_keys(c, keys, cp, ei)) != 0 ||
		    (r = get_enum(c, "sensitivity", 1, cp, sens,
		    "\"low\", \"medium\" or \"high\"", &s, ei)) != 0 ||
		    (r = get_enum(c, "mask", 1, cp, masks, "one of \"email\", "
		    "\"last4\", \"last2\", \"initial\", \"year\", \"redact\"",
		    &m, ei)) != 0 ||
		    (r = get_int(c, "retention_days", 0, 1, 36500, cp,
		    &cat->retention_days, ei)) != 0 ||
		    (r = get_description(c, cp, &cat->description, ei)) != 0) {
			p->ncategories++;   /* so that its description is freed */
			return r;
		}
		snprintf(cat->name, sizeof(cat->name), "%s", name);
		cat->mask = (enum pol_mask)m;
		cat->sensitivity = (enum pol_sensitivity)s;
		p->ncategories++;
	}
	return 0;
}

static int
parse_purposes(struct pol_policy *p, const json_t *root, struct pii_errinfo *ei)
{
	static const char *const keys[] = { "description", NULL };
	char pp[PATH_MAX_LEN];
	json_t *obj, *v;
	const char *name;
	int r;

	if ((r = get_object(root, "purposes", 1, "", &obj, ei)) != 0)
		return r;
	if (json_object_size(obj) > POL_MAX_PURPOSES)
		return fail(ei, "purposes", "more than %d purposes", POL_MAX_PURPOSES);
	p->purposes = calloc(json_object_size(obj) + 1, sizeof(*p->purposes));
	if (p->purposes == NULL)
		return nomem(ei);
	json_object_foreach(obj, name, v) {
		struct pol_purpose *pu = &p->purposes[p->npurposes];

		path_key(pp, sizeof(pp), "purposes", name);
		if (!name_ok(name, 0))
			return fail(ei, pp, "a purpose name must be [a-z][a-z0-9_]*, "
			    "at most %d bytes", POL_NAME_MAX - 1);
		if (!json_is_object(v))
			return fail(ei, pp, "must be an object");
		snprintf(pu->name, sizeof(pu->name), "%s", name);
		p->npurposes++;
		if ((r = check_keys(v, keys, pp, ei)) != 0 ||
		    (r = get_description(v, pp, &pu->description, ei)) != 0)
			return r;
	}
	return 0;
}

/* The role names only, so approvals can refer to them. */
static int
parse_role_names(struct pol_policy *p, const json_t *roles, struct pii_errinfo *ei)
{
	char rp[PATH_MAX_LEN];
	const char *name;
	json_t *v;

	if (json_object_size(roles) > POL_MAX_ROLES)
		return fail(ei, "roles", "more than %d roles", POL_MAX_ROLES);
	p->roles = calloc(json_object_size(roles) + 1, sizeof(*p->roles));
	if (p->roles == NULL)
		return nomem(ei);
	json_object_foreach((json_t *)roles, name, v) {
		path_key(rp, sizeof(rp), "roles", name);
		if (!name_ok(name, 1))
			return fail(ei, rp, "a role name must be [a-z][a-z0-9_-]*, "
			    "at most %d bytes", POL_NAME_MAX - 1);
		if (!json_is_object(v))
			return fail(ei, rp, "must be an object");
		snprintf(p->roles[p->nroles].name, POL_NAME_MAX, "%s", name);
		p->nroles++;
	}
	return 0;
}

static int
parse_approvals(struct pol_policy *p, const json_t *root, struct pii_errinfo *ei)
{
	static const char *const keys[] = { "approvers", "requesters",
		"categories", "description", NULL };
	char ap[PATH_MAX_LEN];
	json_t *arr, *v;
	size_t i;
	int r;

	if ((r = get_array(root, "approvals", 0, POL_MAX_APPROVALS, "", &arr,
	    ei)) != 0 || arr == NULL)
		return r;
	p->approvals = calloc(json_array_size(arr) + 1, sizeof(*p->approvals));
	if (p->approvals == NULL)
		return nomem(ei);
	json_array_foreach(arr, i, v) {
		struct pol_approval *a = &p->approvals[p->napprovals];

		path_index(ap, sizeof(ap), "approvals", i);
		if (!json_is_object(v))
			return fail(ei, ap, "must be an object");
		p->napprovals++;
		if ((r = check_keys(v, keys, ap, ei)) != 0 ||
		    (r = get_refs(p, v, "approvers", REF_ROLE, ap, &a->approvers,
		    ei)) != 0 ||
		    (r = get_refs(p, v, "requesters", REF_ROLE, ap, &a->requesters,
		    ei)) != 0 ||
		    (r = get_refs(p, v, "categories", REF_CATEGORY, ap,
		    &a->categories, ei)) != 0 ||
		    (r = get_description(v, ap, &a->description, ei)) != 0)
			return r;
	}
	return 0;
}

/* The view of a grant or break-glass block: "masked" or "full". */
static int
get_view(const json_t *obj, const char *path, enum pol_view *out,
    struct pii_errinfo *ei)
{
	static const char *const views[] = { "masked", "full", NULL };
	int v = -1, r;

	if ((r = get_enum(obj, "view", 1, path, views,
	    "\"masked\" or \"full\" (a role that may not see a category has no "
	    "grant for it)", &v, ei)) != 0)
		return r;
	*out = v == 0 ? POL_VIEW_MASKED : POL_VIEW_FULL;
	return 0;
}

/* Some approvals entry lets someone approve role ri for category ci. */
static int
approvable(const struct pol_policy *p, size_t ri, size_t ci)
{
	size_t i;

	for (i = 0; i < p->napprovals; i++)
		if (pol_set_has(&p->approvals[i].requesters, ri) &&
		    pol_set_has(&p->approvals[i].categories, ci))
			return 1;
	return 0;
}

static int
parse_grant(struct pol_policy *p, size_t ri, const json_t *g, const char *gp,
    struct pol_grant *gr, struct pii_errinfo *ei)
{
	static const char *const keys[] = { "categories", "purposes", "view",
		"require_ticket", "require_approval", "max_subjects_per_hour",
		"description", NULL };
	char fp[PATH_MAX_LEN];
	size_t ci;
	int r;

	snprintf(gr->rule, sizeof(gr->rule), "%s", gp);
	if (!json_is_object(g))
		return fail(ei, gp, "must be an object");
	if ((r = check_keys(g, keys, gp, ei)) != 0 ||
	    (r = get_refs(p, g, "categories", REF_CATEGORY, gp, &gr->categories,
	    ei)) != 0 ||
	    (r = get_refs(p, g, "purposes", REF_PURPOSE, gp, &gr->purposes,
	    ei)) != 0 ||
	    (r = get_view(g, gp, &gr->view, ei)) != 0 ||
	    (r = get_bool(g, "require_ticket", 1, gp, &gr->require_ticket,
	    ei)) != 0 ||
	    (r = get_bool(g, "require_approval", 0, gp, &gr->require_approval,
	    ei)) != 0 ||
	    (r = get_int(g, "max_subjects_per_hour", 0, 0,
	    POL_MAX_SUBJECTS_PER_HOUR, gp, &gr->max_subjects_per_hour, ei)) != 0 ||
	    (r = get_description(g, gp, &gr->description, ei)) != 0)
		return r;
	if (!gr->require_approval)
		return 0;
	for (ci = 0; ci < p->ncategories; ci++)
		if (pol_set_has(&gr->categories, ci) && !approvable(p, ri, ci))
			return fail(ei, path_key(fp, sizeof(fp), gp,
			    "require_approval"), "nobody could approve it: no "
			    "\"approvals\" entry has role %s among its requesters "
			    "and category %s among its categories", p->roles[ri].name,
			    p->categories[ci].name);
	return 0;
}

static int
parse_breakglass(struct pol_policy *p, const json_t *b, const char *bp,
    struct pol_breakglass *bg, struct pii_errinfo *ei)
{
	static const char *const keys[] = { "categories", "purposes", "view",
		"minutes", "max_subjects_per_hour", "description", NULL };
	int r;

	snprintf(bg->rule, sizeof(bg->rule), "%s", bp);
	if (!json_is_object(b))
		return fail(ei, bp, "must be an object");
	if ((r = check_keys(b, keys, bp, ei)) != 0 ||
	    (r = get_refs(p, b, "categories", REF_CATEGORY, bp, &bg->categories,
	    ei)) != 0 ||
	    (r = get_refs(p, b, "purposes", REF_PURPOSE, bp, &bg->purposes,
	    ei)) != 0 ||
	    (r = get_view(b, bp, &bg->view, ei)) != 0 ||
	    (r = get_int(b, "minutes", 1, 1, POL_MAX_BREAKGLASS_MINUTES, bp,
	    &bg->minutes, ei)) != 0 ||
	    (r = get_int(b, "max_subjects_per_hour", 0, 0,
	    POL_MAX_SUBJECTS_PER_HOUR, bp, &bg->max_subjects_per_hour, ei)) != 0 ||
	    (r = get_description(b, bp, &bg->description, ei)) != 0)
		return r;
	bg->present = 1;
	return 0;
}

static int
parse_capabilities(const json_t *role, const char *rp, unsigned int *caps,
    struct pii_errinfo *ei)
{
	char ap[PATH_MAX_LEN], ep[PATH_MAX_LEN];
	json_t *arr, *v;
	size_t i, k;
	int r;

	if ((r = get_array(role, "capabilities", 0, 16, rp, &arr, ei)) != 0 ||
	    arr == NULL)
		return r;
	path_key(ap, sizeof(ap), rp, "capabilities");
	json_array_foreach(arr, i, v) {
		path_index(ep, sizeof(ep), ap, i);
		if (!json_is_string(v))
			return fail(ei, ep, "must be a string");
		for (k = 0; capability_names[k] != NULL; k++)
			if (strcmp(json_string_value(v), capability_names[k]) == 0)
				break;
		if (capability_names[k] == NULL)
			return fail(ei, ep, "must be \"audit_read\" or \"dsr_manage\" "
			    "(approving grants follows from \"approvals\")");
		if (*caps & capability_bits[k])
			return fail(ei, ep, "lists %s twice", capability_names[k]);
		*caps |= capability_bits[k];
	}
	return 0;
}

static int
parse_role(struct pol_policy *p, size_t ri, const json_t *role,
    struct pii_errinfo *ei)
{
	static const char *const keys[] = { "description", "grants",
		"capabilities", "breakglass", NULL };
	struct pol_role *ro = &p->roles[ri];
	char rp[PATH_MAX_LEN], gp[PATH_MAX_LEN], bp[PATH_MAX_LEN];
	json_t *grants, *g, *b;
	size_t i;
	int r;

	path_fmt(rp, sizeof(rp), "roles.%s", ro->name);
	if ((r = check_keys(role, keys, rp, ei)) != 0 ||
	    (r = get_description(role, rp, &ro->description, ei)) != 0 ||
	    (r = get_array(role, "grants", 1, POL_MAX_GRANTS, rp, &grants,
	    ei)) != 0 ||
	    (r = parse_capabilities(role, rp, &ro->capabilities, ei)) != 0)
		return r;
	ro->grants = calloc(json_array_size(grants) + 1, sizeof(*ro->grants));
	if (ro->grants == NULL)
		return nomem(ei);
	json_array_foreach(grants, i, g) {
		path_fmt(gp, sizeof(gp), "%s.grants[%zu]", rp, i);
		ro->ngrants++;
		if ((r = parse_grant(p, ri, g, gp, &ro->grants[i], ei)) != 0)
			return r;
	}
	if ((r = get_object(role, "breakglass", 0, rp, &b, ei)) != 0)
		return r;
	if (b != NULL) {
		path_fmt(bp, sizeof(bp), "%s.breakglass", rp);
		if ((r = parse_breakglass(p, b, bp, &ro->breakglass, ei)) != 0)
			return r;
	}
	return 0;
}

/* ---- the whole file ----------------------------------------------------------- */

/* The JSON path of the key a duplicate-key error stopped at (jansson stops
 * just after reading it, at byte pos): walk the text up to there, tracking
 * the containers and the current key or index of each. */
#define DUP_DEPTH POL_JSON_DEPTH
static void
dup_key_path(const char *buf, size_t len, size_t pos, char *out, size_t cap)
{
	struct {
		int is_obj;
		size_t index;
		char key[POL_NAME_MAX];
	} st[DUP_DEPTH];
	size_t i, depth = 0, n = 0;
	int expect_key = 0;

	for (i = 0; i < len && i < pos; i++) {
		char c = buf[i];

		if (c == '"') {
			size_t s = ++i;

			while (i < len && buf[i] != '"')
				i += buf[i] == '\\' ? 2 : 1;
			if (i > len)
				i = len;
			if (depth > 0 && depth <= DUP_DEPTH && st[depth - 1].is_obj &&
			    expect_key) {
				if (key_printable(buf + s, i - s))
					snprintf(st[depth - 1].key, POL_NAME_MAX, "%.*s",
					    (int)(i - s), buf + s);
				else
					snprintf(st[depth - 1].key, POL_NAME_MAX, "<key>");
				expect_key = 0;
			}
			continue;
		}
		switch (c) {
		case '{':
		case '[':
			if (depth < DUP_DEPTH) {
				st[depth].is_obj = c == '{';
				st[depth].index = 0;
				st[depth].key[0] = '\0';
			}
			depth++;
			expect_key = c == '{';
			break;
		case '}':
		case ']':
			if (depth > 0)
				depth--;
			expect_key = 0;
			break;
		case ',':
			if (depth > 0 && depth <= DUP_DEPTH) {
				if (st[depth - 1].is_obj)
					expect_key = 1;
				else
					st[depth - 1].index++;
			}
			break;
		default:
			break;
		}
	}
	out[0] = '\0';
	for (i = 0; i < depth && i < DUP_DEPTH && n < cap; i++) {
		int w;

		if (st[i].is_obj)
			w = snprintf(out + n, cap - n, "%s%s", n > 0 ? "." : "",
			    st[i].key);
		else
			w = snprintf(out + n, cap - n, "[%zu]", st[i].index);
		if (w < 0)
			break;
		n += (size_t)w;
	}
}

void
pol_free(struct pol_policy *p)
{
	size_t i, j;

	if (p == NULL)
		return;
	for (i = 0; i < p->ncategories; i++)
		free(p->categories[i].description);
	for (i = 0; i < p->npurposes; i++)
		free(p->purposes[i].description);
	for (i = 0; i < p->nroles; i++) {
		for (j = 0; j < p->roles[i].ngrants; j++)
			free(p->roles[i].grants[j].description);
		free(p->roles[i].grants);
		free(p->roles[i].description);
		free(p->roles[i].breakglass.description);
	}
	for (i = 0; i < p->napprovals; i++)
		free(p->approvals[i].description);
	free(p->categories);
	free(p->purposes);
	free(p->roles);
	free(p->approvals);
	free(p->description);
	free(p);
}

int
pol_parse(const char *buf, size_t len, struct pol_policy **out,
    struct pii_errinfo *ei)
{
	static const char *const keys[] = { "version", "description",
		"grant_max_minutes", "dsr_deadline_days", "categories", "purposes",
		"roles", "approvals", NULL };
	struct pii_errinfo local;
	struct pol_policy *p = NULL;
	json_t *root = NULL, *roles, *v;
	const char *name, *nul;
	long long version = 0;
	size_t ri;
	int r;

	if (ei == NULL)
		ei = &local;
	pii_errinfo_clear(ei);
	if (len == 0)
		return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
		    "the policy is empty; a JSON object is required");
	if (len > POL_MAX_BYTES)
		return fail(ei, NULL, "the policy is larger than %d bytes",
		    POL_MAX_BYTES);
	/* jansson ends the text at a raw NUL, even inside an object, and
	 * returns what it read so far: whatever follows would be ignored */
	if ((nul = memchr(buf, '\0', len)) != NULL)
		return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
		    "NUL byte at byte %zu", (size_t)(nul - buf));
	r = pii_json_parse(buf, len, POL_JSON_DEPTH, &root, ei);
	if (r == PII_ERR_DUPLICATE_KEY) {
		json_error_t jerr;
		json_t *again = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
		char path[PATH_MAX_LEN];

		json_decref(again);
		dup_key_path(buf, len, (size_t)jerr.position, path, sizeof(path));
		return pii_errinfo_set(ei, PII_ERR_DUPLICATE_KEY, path,
		    "duplicate key (line %d, column %d); each key may appear once",
		    jerr.line, jerr.column);
	}
	if (r == PII_ERR_TOO_LARGE)
		return fail(ei, NULL, "JSON nested deeper than %d levels",
		    POL_JSON_DEPTH);
	if (r != 0)
		return r;
	if (!json_is_object(root)) {
		r = fail(ei, NULL, "the policy must be a JSON object");
		goto out;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = nomem(ei);
		goto out;
	}
	p->grant_max_minutes = POL_DEFAULT_GRANT_MAX_MINUTES;
	if ((r = check_keys(root, keys, "", ei)) != 0 ||
	    (r = get_int(root, "version", 1, LLONG_MIN, LLONG_MAX, "", &version,
	    ei)) != 0)
		goto out;
	if (version != 1) {
		r = fail(ei, "version", "must be 1 (the only format this "
		    "pii-policy knows)");
		goto out;
	}
	if ((r = get_description(root, "", &p->description, ei)) != 0 ||
	    (r = get_int(root, "grant_max_minutes", 0, 1, POL_MAX_GRANT_MINUTES,
	    "", &p->grant_max_minutes, ei)) != 0 ||
	    (r = get_int(root, "dsr_deadline_days", 0, 1, 31, "",
	    &p->dsr_deadline_days, ei)) != 0 ||
	    (r = parse_categories(p, root, ei)) != 0 ||
	    (r = parse_purposes(p, root, ei)) != 0 ||
	    (r = get_object(root, "roles", 1, "", &roles, ei)) != 0 ||
	    (r = parse_role_names(p, roles, ei)) != 0 ||
	    (r = parse_approvals(p, root, ei)) != 0)
		goto out;
	ri = 0;
	json_object_foreach(roles, name, v) {
		(void)name;
		if ((r = parse_role(p, ri++, v, ei)) != 0)
			goto out;
	}
	*out = p;
	p = NULL;
	r = 0;
out:
	pol_free(p);
	json_decref(root);
	return r;
}

int
pol_load_file(const char *path, struct pol_policy **out,
    struct pii_errinfo *ei)
{
	char *text = NULL;
	size_t len = 0;
	int r, e;

	errno = 0;
	r = pii_read_small_file(path, POL_MAX_BYTES, &text, &len);
	e = errno;
	if (r == PII_ERR_TOO_LARGE)
		return fail(ei, NULL, "the policy is larger than %d bytes",
		    POL_MAX_BYTES);
	if (r == PII_ERR_NOMEM)
		return nomem(ei);
	if (r != 0)
		return pii_errinfo_set(ei, PII_ERR_IO, NULL, "cannot read: %s",
		    e != 0 ? strerror(e) : "not a regular file");
	r = pol_parse(text, len, out, ei);
	free(text);
	return r;
}

/* ---- lookups and listings ---------------------------------------------------- */

int
pol_find_category(const struct pol_policy *p, const char *name)
{
	size_t i;

	if (name != NULL)
		for (i = 0; i < p->ncategories; i++)
			if (strcmp(p->categories[i].name, name) == 0)
				return (int)i;
	return -1;
}

int
pol_find_purpose(const struct pol_policy *p, const char *name)
{
	size_t i;

	if (name != NULL)
		for (i = 0; i < p->npurposes; i++)
			if (strcmp(p->purposes[i].name, name) == 0)
				return (int)i;
	return -1;
}

int
pol_find_role(const struct pol_policy *p, const char *name)
{
	size_t i;

	if (name != NULL)
		for (i = 0; i < p->nroles; i++)
			if (strcmp(p->roles[i].name, name) == 0)
				return (int)i;
	return -1;
}

int
pol_role_known(const struct pol_policy *p, const char *role)
{
	return pol_find_role(p, role) >= 0;
}

int
pol_category_known(const struct pol_policy *p, const char *category)
{
	return pol_find_category(p, category) >= 0;
}

int
pol_purpose_known(const struct pol_policy *p, const char *purpose)
{
	return pol_find_purpose(p, purpose) >= 0;
}

int
pol_category_info(const struct pol_policy *p, const char *category,
    enum pol_mask *mask, enum pol_sensitivity *sensitivity,
    long long *retention_days)
{
	int i = pol_find_category(p, category);

	if (i < 0)
		return PII_ERR_UNKNOWN_CATEGORY;
	if (mask != NULL)
		*mask = p->categories[i].mask;
	if (sensitivity != NULL)
		*sensitivity = p->categories[i].sensitivity;
	if (retention_days != NULL)
		*retention_days = p->categories[i].retention_days;
	return 0;
}

long long
pol_grant_max_minutes(const struct pol_policy *p)
{
	return p->grant_max_minutes;
}

long long
pol_dsr_deadline_days(const struct pol_policy *p)
{
	return p->dsr_deadline_days;
}

size_t
pol_category_count(const struct pol_policy *p)
{
	return p->ncategories;
}

size_t
pol_purpose_count(const struct pol_policy *p)
{
	return p->npurposes;
}

size_t
pol_role_count(const struct pol_policy *p)
{
	return p->nroles;
}

const char *
pol_category_name(const struct pol_policy *p, size_t i)
{
	return i < p->ncategories ? p->categories[i].name : NULL;
}

const char *
pol_purpose_name(const struct pol_policy *p, size_t i)
{
	return i < p->npurposes ? p->purposes[i].name : NULL;
}

const char *
pol_role_name(const struct pol_policy *p, size_t i)
{
	return i < p->nroles ? p->roles[i].name : NULL;
}
