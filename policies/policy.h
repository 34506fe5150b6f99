/*
 * policy.h - libpiipolicy: the access policy, its decisions and its masks.
 *
 * A policy (JSON, policies/README.md has the format) names data categories
 * (sensitivity, mask, retention), purposes and roles.  Each role holds
 * grants {categories, purposes, view, require_ticket, require_approval,
 * max_subjects_per_hour}, optional capabilities (audit_read, dsr_manage) and
 * an optional break-glass block; an "approvals" list says which roles may
 * approve just-in-time grants for which requester roles and categories.
 *
 * Loading is strict: unknown keys, duplicate keys, unknown references, bad
 * types and contradictions are errors naming the JSON path of the fault.
 * A loaded policy is immutable, so one struct pol_policy may be shared by
 * any number of threads without locks.  Decisions are default deny.
 *
 * Nothing here logs, exits or keeps static buffers; reasons and messages
 * name roles, categories, purposes, rules and limits, never a value from a
 * request (subject, ticket, PII).
 */
#ifndef PII_POLICY_H
#define PII_POLICY_H

#include <stddef.h>

#include <jansson.h>

#include "../common/err.h"

#define POL_NAME_MAX 64               /* a name's bytes, including the NUL */
#define POL_MAX_BYTES (1024 * 1024)   /* a policy file */
#define POL_MAX_CATEGORIES 256
#define POL_MAX_PURPOSES 256
#define POL_MAX_ROLES 256
#define POL_MAX_GRANTS 64             /* per role */
#define POL_MAX_APPROVALS 256
#define POL_MAX_DESCRIPTION 1000      /* bytes of any "description" */
#define POL_MAX_SUBJECTS_PER_HOUR 1000000
#define POL_DEFAULT_GRANT_MAX_MINUTES 240
#define POL_MAX_GRANT_MINUTES 10080   /* a week: the bound on grant_max_minutes */
#define POL_MAX_BREAKGLASS_MINUTES 1440

enum pol_view { POL_VIEW_NONE = 0, POL_VIEW_MASKED = 1, POL_VIEW_FULL = 2 };
enum pol_mask { POL_MASK_EMAIL, POL_MASK_LAST4, POL_MASK_LAST2,
	POL_MASK_INITIAL, POL_MASK_YEAR, POL_MASK_REDACT };
enum pol_sensitivity { POL_SENS_LOW, POL_SENS_MEDIUM, POL_SENS_HIGH };

struct pol_policy;   /* opaque, immutable once loaded: safe to share between threads */

/* Parse len bytes of policy JSON into *out (new; release with pol_free).  On
 * error *out is untouched and ei (may be NULL) says what and where:
 * PII_ERR_INVALID_JSON / PII_ERR_DUPLICATE_KEY (ei->field is the path of the
 * repeated key), PII_ERR_CONFIG (any rule of the format or a limit; ei->field
 * is the JSON path, "roles.cs_agent.grants[1].categories[0]"), PII_ERR_NOMEM. */
int pol_parse(const char *buf, size_t len, struct pol_policy **out,
    struct pii_errinfo *ei);
/* pol_parse over a file of at most POL_MAX_BYTES; PII_ERR_IO if it cannot be
 * read.  Messages do not repeat path (the caller prints it). */
int pol_load_file(const char *path, struct pol_policy **out,
    struct pii_errinfo *ei);
void pol_free(struct pol_policy *p);   /* accepts NULL */

struct pol_query {
	const char *const *roles;   /* the caller's roles (borrowed); unknown names are roles without grants */
	size_t nroles;
	const char *category;
	const char *purpose;
	int has_ticket;      /* the request carries a ticket */
	int has_approval;    /* an approved, unexpired grant covers this subject/category/purpose */
};

struct pol_decision {
	int code;            /* 0 allow; else PII_ERR_POLICY_DENIED, PII_ERR_TICKET_REQUIRED,
	                      * PII_ERR_APPROVAL_REQUIRED, PII_ERR_UNKNOWN_CATEGORY */
	enum pol_view view;  /* on allow; POL_VIEW_NONE on a denial */
	enum pol_mask mask;  /* the category's mask (meaningful when view is masked) */
	long long max_subjects_per_hour;  /* of the deciding grant; 0 = no limit */
	char rule[128];      /* JSON path of the grant that decided ("roles.cs_agent.grants[0]"), "" if none */
	char reason[256];    /* one sentence, no values from requests beyond role/category/purpose names */
	long long minutes;   /* pol_breakglass: how long the emergency access lasts; else 0 */
};

/* Decide for one category.  Default deny.  Over all the caller's roles and
 * every grant whose categories and purposes cover the query: a satisfied
 * grant (ticket present if require_ticket, approval present if
 * require_approval) allows with its view; the most permissive satisfied grant
 * wins (full over masked; on equal views the first in file order).  If none
 * is satisfied but some grant covers the query: PII_ERR_APPROVAL_REQUIRED if
 * a covering grant lacks only an approval, else PII_ERR_TICKET_REQUIRED, with
 * rule naming that grant.  Nothing covers it: PII_ERR_POLICY_DENIED.  A
 * category the policy does not define: PII_ERR_UNKNOWN_CATEGORY.  d is always
 * filled; returns d->code. */
int pol_decide(const struct pol_policy *p, const struct pol_query *q,
    struct pol_decision *d);

/* Break-glass: may these roles use emergency access for category/purpose?
 * 0 and d filled (view, rule "roles.R.breakglass", minutes,
 * max_subjects_per_hour) if a role's breakglass block covers it (the most
 * permissive, then the first in file order), else PII_ERR_POLICY_DENIED (or
 * PII_ERR_UNKNOWN_CATEGORY for a category the policy does not define) with a
 * reason.  Returns d->code. */
int pol_breakglass(const struct pol_policy *p, const char *const *roles,
    size_t nroles, const char *category, const char *purpose,
    struct pol_decision *d);

/* Approvals: may a person with approver_roles approve a grant requested by
 * someone with requester_roles for all of these categories?  1 if, for every
 * category, one "approvals" entry lists one of the approver's roles among its
 * approvers, one of the requester's roles among its requesters and the
 * category; else 0 (also for no categories).  The proxy separately refuses
 * self-approval by user name. */
int pol_may_approve(const struct pol_policy *p,
    const char *const *approver_roles, size_t napprover,
    const char *const *requester_roles, size_t nrequester,
    const char *const *categories, size_t ncategories);

/* Capabilities that are not PII views: "audit_read" (GET /v1/audit),
 * "dsr_manage" (subject-rights requests); "grants_approve" is implied by
 * being an approver in some "approvals" entry.  1 if any role has it, else 0
 * (also for an unknown capability). */
int pol_role_can(const struct pol_policy *p, const char *const *roles,
    size_t nroles, const char *capability);

/* Limits and metadata for GET /v1/me and for grants. */
int pol_role_known(const struct pol_policy *p, const char *role);           /* 1/0 */
int pol_category_known(const struct pol_policy *p, const char *category);   /* 1/0 */
int pol_purpose_known(const struct pol_policy *p, const char *purpose);     /* 1/0 */
/* 1 for the built-in categories (email phone name address national_id card
 * iban ssn ip dob), which the vault normalizes; a policy may define others. */
int pol_category_builtin(const char *category);
/* The mask, sensitivity and retention of a category the policy defines:
 * 0, or PII_ERR_UNKNOWN_CATEGORY (outputs untouched).  retention_days 0 means
 * the policy sets none.  Any output pointer may be NULL. */
int pol_category_info(const struct pol_policy *p, const char *category,
    enum pol_mask *mask, enum pol_sensitivity *sensitivity,
    long long *retention_days);
/* Upper bound on a requested grant's minutes (policy field, default 240). */
long long pol_grant_max_minutes(const struct pol_policy *p);
/* The organization's deadline for subject-rights requests in days, stricter
 * than the legal month (policy field dsr_deadline_days, 1..31), or 0 when
 * the policy sets none. */
long long pol_dsr_deadline_days(const struct pol_policy *p);

/* Names in file order, for listing: counts, and the i-th name (borrowed from
 * p; NULL when i is out of range). */
size_t pol_category_count(const struct pol_policy *p);
size_t pol_purpose_count(const struct pol_policy *p);
size_t pol_role_count(const struct pol_policy *p);
const char *pol_category_name(const struct pol_policy *p, size_t i);
const char *pol_purpose_name(const struct pol_policy *p, size_t i);
const char *pol_role_name(const struct pol_policy *p, size_t i);

/* A JSON description of what the roles may do (grants, capabilities,
 * breakglass, approvals) for GET /v1/me: new reference, NULL if out of
 * memory.  Shape in policies/README.md. */
json_t *pol_describe_roles(const struct pol_policy *p, const char *const *roles,
    size_t nroles);

/* Names for printing (static strings, never NULL): "none" "masked" "full";
 * "email" "last4" "last2" "initial" "year" "redact"; "low" "medium" "high". */
const char *pol_view_name(enum pol_view v);
const char *pol_mask_name(enum pol_mask m);
const char *pol_sensitivity_name(enum pol_sensitivity s);

/* Masks: write the masked form of value (len bytes of UTF-8, the vault's
 * normalized value) into out (cap bytes, NUL-terminated).  0, or
 * PII_ERR_TOO_LARGE if cap is too small (out is then "" when cap > 0).  A
 * mask never reveals the whole value, never splits a UTF-8 sequence, and
 * always writes valid UTF-8 without control characters (an invalid byte or
 * a control character that would be shown is written as '?').  An empty
 * value gives "" for every mask but redact ("[redacted]").  An unknown mask
 * value redacts. */
int pol_mask_apply(enum pol_mask m, const char *value, size_t len, char *out,
    size_t cap);

#endif
