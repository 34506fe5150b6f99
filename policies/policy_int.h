/*
 * policy_int.h - the loaded policy's representation, shared by the loader
 * (policy_load.c) and the evaluator (policy_eval.c).  Not for other
 * components: they see struct pol_policy as opaque (policy.h).
 *
 * Names are resolved to indexes at load time, and a grant's categories,
 * purposes and an approval's roles are bit sets over those indexes, so a
 * decision is a few lookups and bit tests with no allocation.
 */
#ifndef PII_POLICY_INT_H
#define PII_POLICY_INT_H

#include <stdint.h>

#include "policy.h"

/* A set of indexes < 256 (categories, purposes or roles). */
struct pol_set {
	uint64_t w[4];
};

static inline int
pol_set_has(const struct pol_set *s, size_t i)
{
	return i < 256 && (s->w[i / 64] >> (i % 64)) & 1;
}

static inline void
pol_set_add(struct pol_set *s, size_t i)
{
	if (i < 256)
		s->w[i / 64] |= (uint64_t)1 << (i % 64);
}

#define POL_CAP_AUDIT_READ 0x1u
#define POL_CAP_DSR_MANAGE 0x2u

#define POL_RULE_MAX 128   /* = sizeof(((struct pol_decision *)0)->rule) */

struct pol_category {
	char name[POL_NAME_MAX];
	enum pol_mask mask;
	enum pol_sensitivity sensitivity;
	long long retention_days;      /* 0: none set */
	char *description;             /* NULL when absent */
};

struct pol_purpose {
	char name[POL_NAME_MAX];
	char *description;
};

struct pol_grant {
	struct pol_set categories;
	struct pol_set purposes;
	enum pol_view view;
	int require_ticket;
	int require_approval;
	long long max_subjects_per_hour;   /* 0: no limit */
	char rule[POL_RULE_MAX];           /* "roles.cs_agent.grants[0]" */
	char *description;
};

struct pol_breakglass {
	int present;
	struct pol_set categories;
	struct pol_set purposes;
	enum pol_view view;
	long long minutes;
	long long max_subjects_per_hour;
	char rule[POL_RULE_MAX];           /* "roles.oncall.breakglass" */
	char *description;
};

struct pol_role {
	char name[POL_NAME_MAX];
	char *description;
	size_t ngrants;
	struct pol_grant *grants;
	unsigned int capabilities;         /* POL_CAP_* */
	struct pol_breakglass breakglass;
};

struct pol_approval {
	struct pol_set approvers;          /* role indexes */
	struct pol_set requesters;         /* role indexes */
	struct pol_set categories;
	char *description;
};

struct pol_policy {
	char *description;
	long long grant_max_minutes;
	long long dsr_deadline_days;    /* 0: none */
	size_t ncategories, npurposes, nroles, napprovals;
	struct pol_category *categories;
	struct pol_purpose *purposes;
	struct pol_role *roles;
	struct pol_approval *approvals;
};

/* Index of a name in its table, or -1.  NULL names give -1. */
int pol_find_category(const struct pol_policy *p, const char *name);
int pol_find_purpose(const struct pol_policy *p, const char *name);
int pol_find_role(const struct pol_policy *p, const char *name);

#endif
