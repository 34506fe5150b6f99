/*
 * fuzz_policy.c - libFuzzer target for libpiipolicy: pol_parse over the
 * input, decisions over an accepted policy, and every mask over the input
 * as a value.
 *
 * A refused policy must say why (a known code and a message; a path for
 * CONFIG errors that are not about the whole file).  An accepted one must
 * decide consistently for every role, category and purpose it defines:
 * allow only with a view and the rule of a grant, deny with no view; a
 * ticket or an approval never lowers the view nor turns an allow into a
 * denial; more roles never see less; the answer does not depend on the
 * order of the roles.  Masks must terminate their output within the buffer,
 * write valid UTF-8 without control characters, and show at most half of
 * the digits (last4/last2).  The same bytes also generate a small valid
 * policy whose every decision is compared with a reference model.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../common/err.h"
#include "../../common/json_util.h"
#include "../../policies/policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_policy: %s\n", what);
	abort();
}

/* Valid UTF-8 without C0/C1 control characters. */
static int
clean_utf8(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];
		size_t need, k;
		unsigned int cp;

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (i + need >= n)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0))
			return 0;
		i += need + 1;
	}
	return 1;
}

static size_t
count_digits(const char *s, size_t n)
{
	size_t i, d = 0;

	for (i = 0; i < n; i++)
		d += s[i] >= '0' && s[i] <= '9';
	return d;
}

static void
check_masks(const uint8_t *data, size_t size)
{
	static char out[4 * 4096 + 64];
	size_t cap = size * 4 + 32, m;

	if (cap > sizeof(out))
		return;
	for (m = 0; m <= POL_MASK_REDACT; m++) {
		size_t tight = (size_t)data[0] % (cap + 1);
		size_t len;
		int r;

		memset(out, 'Z', cap + 1);
		r = pol_mask_apply((enum pol_mask)m, (const char *)data, size, out, cap);
		if (r != 0)
			die("a mask did not fit 4x its input + 32");
		len = strlen(out);
		if (len >= cap || out[cap] != 'Z')
			die("mask output not terminated within cap");
		if (!clean_utf8((const unsigned char *)out, len))
			die("mask output is not clean UTF-8");
		if (size > 0 && m != POL_MASK_REDACT && len == size &&
		    memcmp(out, data, size) == 0 && count_digits(out, len) > 0 &&
		    (m == POL_MASK_LAST4 || m == POL_MASK_LAST2))
			die("last4/last2 returned its input unchanged");
		if ((m == POL_MASK_LAST4 || m == POL_MASK_LAST2) &&
		    count_digits(out, len) * 2 > count_digits((const char *)data, size))
			die("last4/last2 showed more than half of the digits");
		/* a tight buffer: an error and "" or the same answer */
		if (tight > 0) {
			char *t = malloc(tight + 1);
			int r2;

			if (t == NULL)
				return;
			t[tight] = 'Z';
			r2 = pol_mask_apply((enum pol_mask)m, (const char *)data, size, t,
			    tight);
			if (t[tight] != 'Z')
				die("tight mask wrote past cap");
			if (r2 == 0 && strcmp(t, out) != 0)
				die("tight mask gave another answer");
			if (r2 != 0 && (r2 != PII_ERR_TOO_LARGE || t[0] != '\0' ||
			    tight > len))
				die("tight mask failed wrongly");
			free(t);
		}
	}
}

static void
decide(const struct pol_policy *p, const char *const *roles, size_t n,
    const char *cat, const char *pur, int ticket, int approval,
    struct pol_decision *d)
{
	struct pol_query q;
	int r;

	memset(&q, 0, sizeof(q));
	q.roles = roles;
	q.nroles = n;
	q.category = cat;
	q.purpose = pur;
	q.has_ticket = ticket;
	q.has_approval = approval;
	r = pol_decide(p, &q, d);
	if (r != d->code)
		die("return value and d->code differ");
	if (r == 0) {
		if (d->view == POL_VIEW_NONE || d->rule[0] == '\0')
			die("allow without a view or a rule");
	} else {
		if (d->view != POL_VIEW_NONE)
			die("a denial with a view");
		if (r != PII_ERR_POLICY_DENIED && r != PII_ERR_TICKET_REQUIRED &&
		    r != PII_ERR_APPROVAL_REQUIRED && r != PII_ERR_UNKNOWN_CATEGORY)
			die("unexpected decision code");
		if ((r == PII_ERR_TICKET_REQUIRED || r == PII_ERR_APPROVAL_REQUIRED) &&
		    d->rule[0] == '\0')
			die("ticket/approval required without a rule");
	}
	if (d->reason[0] == '\0' || memchr(d->reason, '\0', sizeof(d->reason)) == NULL)
		die("no reason");
}

static void
check_decisions(const struct pol_policy *p)
{
	size_t nr = pol_role_count(p), nc = pol_category_count(p);
	size_t np = pol_purpose_count(p), ri, ci, pi, budget = 0;
	json_t *me;

	for (ri = 0; ri < nr && ri < 8; ri++) {
		const char *r1[1] = { pol_role_name(p, ri) };
		const char *r2[2] = { pol_role_name(p, ri), pol_role_name(p, (ri + 1) % nr) };
		const char *r2b[2] = { r2[1], r2[0] };

		for (ci = 0; ci <= nc && ci < 8; ci++) {
			const char *cat = ci < nc ? pol_category_name(p, ci) : "no_such";

			for (pi = 0; pi <= np && pi < 8; pi++) {
				const char *pur = pi < np ? pol_purpose_name(p, pi) : "no_such";
				struct pol_decision d[4], e, f, b;
				int t, a;

				if (++budget > 200)
					goto done;
				for (t = 0; t < 2; t++)
					for (a = 0; a < 2; a++)
						decide(p, r1, 1, cat, pur, t, a, &d[t * 2 + a]);
				for (t = 0; t < 4; t++) {
					/* adding a ticket (t|2) or an approval (t|1) never hurts */
					if (d[t].code == 0 && (d[t | 2].code != 0 ||
					    d[t | 2].view < d[t].view))
						die("a ticket lowered the answer");
					if (d[t].code == 0 && (d[t | 1].code != 0 ||
					    d[t | 1].view < d[t].view))
						die("an approval lowered the answer");
				}
				decide(p, r2, 2, cat, pur, 1, 0, &e);
				decide(p, r2b, 2, cat, pur, 1, 0, &f);
				if (e.code != f.code || e.view != f.view ||
				    strcmp(e.rule, f.rule) != 0)
					die("the order of the roles changed the answer");
				if (d[2].code == 0 && (e.code != 0 || e.view < d[2].view))
					die("another role lowered the answer");
				if (pol_breakglass(p, r1, 1, cat, pur, &b) == 0 &&
				    (b.view == POL_VIEW_NONE || b.minutes < 1 || b.rule[0] == '\0'))
					die("break-glass allowed without view, minutes or rule");
				(void)pol_may_approve(p, r1, 1, r2, 2, &cat, 1);
			}
		}
	}
done:
	me = pol_describe_roles(p, (const char *const[]){ pol_role_name(p, 0), "x" },
	    nr > 0 ? 2 : 0);
	if (me == NULL)
		die("describe failed");
	json_decref(me);
	if (pol_grant_max_minutes(p) < 1)
		die("grant_max_minutes below 1");
}

/* ---- generated policies against a reference model -------------------------
 *
 * Mutated bytes rarely make a policy the strict loader accepts, so the same
 * input also drives a generator: small policies (up to 6 categories, 4
 * purposes, 5 roles of up to 3 grants, 2 approvals, break-glass blocks)
 * written as JSON, loaded, and every decision compared with a reference
 * written straight from the rules in policy.h. */

#define GC 6
#define GP 4
#define GR 5
#define GG 3
#define GA 2

struct gen {
	int ncat, npur, nrole, napp;
	int mask[GC];
	struct {
		int ng;
		struct {
			unsigned int cats, purs;
			int full, ticket, approval;
			long long max;
		} g[GG];
		int bg, bgfull, bgmin;
		unsigned int bgcats, bgpurs;
		int caps;
	} r[GR];
	struct {
		unsigned int appr, req, cats;
	} a[GA];
};

struct bytes {
	const uint8_t *p;
	size_t n, i;
};

static unsigned int
take(struct bytes *b)
{
	return b->i < b->n ? b->p[b->i++] : 0;
}

/* A non-empty subset of n items. */
static unsigned int
subset(struct bytes *b, int n)
{
	return take(b) % ((1u << n) - 1) + 1;
}

static void
gen_read(struct bytes *b, struct gen *g)
{
	int i, j;

	memset(g, 0, sizeof(*g));
	g->ncat = 1 + (int)(take(b) % GC);
	g->npur = 1 + (int)(take(b) % GP);
	g->nrole = 1 + (int)(take(b) % GR);
	g->napp = (int)(take(b) % (GA + 1));
	for (i = 0; i < g->ncat; i++)
		g->mask[i] = (int)(take(b) % 6);
	for (i = 0; i < g->napp; i++) {
		g->a[i].appr = subset(b, g->nrole);
		g->a[i].req = subset(b, g->nrole);
		g->a[i].cats = subset(b, g->ncat);
	}
	for (i = 0; i < g->nrole; i++) {
		unsigned int f = take(b);

		g->r[i].ng = (int)(f % (GG + 1));
		g->r[i].caps = (int)((f >> 2) & 3);
		g->r[i].bg = (f >> 4) & 1;
		g->r[i].bgfull = (f >> 5) & 1;
		g->r[i].bgmin = 1 + (int)(take(b) % 120);
		g->r[i].bgcats = subset(b, g->ncat);
		g->r[i].bgpurs = subset(b, g->npur);
		for (j = 0; j < g->r[i].ng; j++) {
			unsigned int h = take(b);

			g->r[i].g[j].cats = subset(b, g->ncat);
			g->r[i].g[j].purs = subset(b, g->npur);
			g->r[i].g[j].full = h & 1;
			g->r[i].g[j].ticket = (h >> 1) & 1;
			/* approvals only where approvable, mostly */
			g->r[i].g[j].approval = (h >> 2) & 1;
			g->r[i].g[j].max = (long long)(h >> 3) * 7;
		}
	}
}

static size_t
put_list(char *buf, size_t cap, size_t n, const char *prefix, unsigned int set,
    int count)
{
	int i, first = 1;

	n += (size_t)snprintf(buf + n, cap - n, "[");
	for (i = 0; i < count; i++)
		if (set & (1u << i)) {
			n += (size_t)snprintf(buf + n, cap - n, "%s\"%s%d\"",
			    first ? "" : ",", prefix, i);
			first = 0;
		}
	return n + (size_t)snprintf(buf + n, cap - n, "]");
}

static size_t
gen_json(const struct gen *g, char *buf, size_t cap)
{
	static const char *const masks[] = { "email", "last4", "last2", "initial",
		"year", "redact" };
	static const char *const caps[] = { "", "\"audit_read\"", "\"dsr_manage\"",
		"\"audit_read\",\"dsr_manage\"" };
	size_t n = 0;
	int i, j;

	n += (size_t)snprintf(buf + n, cap - n, "{\"version\":1,\"categories\":{");
	for (i = 0; i < g->ncat; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s\"c%d\":{\"sensitivity\":"
		    "\"low\",\"mask\":\"%s\"}", i ? "," : "", i, masks[g->mask[i]]);
	n += (size_t)snprintf(buf + n, cap - n, "},\"purposes\":{");
	for (i = 0; i < g->npur; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s\"p%d\":{}", i ? "," : "", i);
	n += (size_t)snprintf(buf + n, cap - n, "},\"roles\":{");
	for (i = 0; i < g->nrole; i++) {
		n += (size_t)snprintf(buf + n, cap - n, "%s\"r%d\":{\"capabilities\":[%s],"
		    "\"grants\":[", i ? "," : "", i, caps[g->r[i].caps]);
		for (j = 0; j < g->r[i].ng; j++) {
			n += (size_t)snprintf(buf + n, cap - n, "%s{\"categories\":",
			    j ? "," : "");
			n = put_list(buf, cap, n, "c", g->r[i].g[j].cats, g->ncat);
			n += (size_t)snprintf(buf + n, cap - n, ",\"purposes\":");
			n = put_list(buf, cap, n, "p", g->r[i].g[j].purs, g->npur);
			n += (size_t)snprintf(buf + n, cap - n, ",\"view\":\"%s\","
			    "\"require_ticket\":%s,\"require_approval\":%s,"
			    "\"max_subjects_per_hour\":%lld}",
			    g->r[i].g[j].full ? "full" : "masked",
			    g->r[i].g[j].ticket ? "true" : "false",
			    g->r[i].g[j].approval ? "true" : "false", g->r[i].g[j].max);
		}
		n += (size_t)snprintf(buf + n, cap - n, "]");
		if (g->r[i].bg) {
			n += (size_t)snprintf(buf + n, cap - n, ",\"breakglass\":{"
			    "\"categories\":");
			n = put_list(buf, cap, n, "c", g->r[i].bgcats, g->ncat);
			n += (size_t)snprintf(buf + n, cap - n, ",\"purposes\":");
			n = put_list(buf, cap, n, "p", g->r[i].bgpurs, g->npur);
			n += (size_t)snprintf(buf + n, cap - n, ",\"view\":\"%s\","
			    "\"minutes\":%d}", g->r[i].bgfull ? "full" : "masked",
			    g->r[i].bgmin);
		}
		n += (size_t)snprintf(buf + n, cap - n, "}");
	}
	n += (size_t)snprintf(buf + n, cap - n, "},\"approvals\":[");
	for (i = 0; i < g->napp; i++) {
		n += (size_t)snprintf(buf + n, cap - n, "%s{\"approvers\":", i ? "," : "");
		n = put_list(buf, cap, n, "r", g->a[i].appr, g->nrole);
		n += (size_t)snprintf(buf + n, cap - n, ",\"requesters\":");
		n = put_list(buf, cap, n, "r", g->a[i].req, g->nrole);
		n += (size_t)snprintf(buf + n, cap - n, ",\"categories\":");
		n = put_list(buf, cap, n, "c", g->a[i].cats, g->ncat);
		n += (size_t)snprintf(buf + n, cap - n, "}");
	}
	n += (size_t)snprintf(buf + n, cap - n, "]}");
	return n;
}

/* The first grant nobody could approve ("" if none): its require_approval path. */
static void
gen_contradiction(const struct gen *g, char *path, size_t cap)
{
	int i, j, c, k;

	path[0] = '\0';
	for (i = 0; i < g->nrole; i++)
		for (j = 0; j < g->r[i].ng; j++) {
			if (!g->r[i].g[j].approval)
				continue;
			for (c = 0; c < g->ncat; c++) {
				int found = 0;

				if (!(g->r[i].g[j].cats & (1u << c)))
					continue;
				for (k = 0; k < g->napp; k++)
					found |= (g->a[k].req & (1u << i)) &&
					    (g->a[k].cats & (1u << c));
				if (!found) {
					snprintf(path, cap, "roles.r%d.grants[%d]."
					    "require_approval", i, j);
					return;
				}
			}
		}
}

/* The reference decision for roles (a bit set), category c, purpose u. */
static void
gen_expect(const struct gen *g, unsigned int roles, int c, int u, int t, int a,
    const struct pol_decision *d)
{
	int i, j, bi = -1, bj = -1, cover = 0, apponly = 0;
	char rule[64];

	for (i = 0; i < g->nrole; i++) {
		if (!(roles & (1u << i)))
			continue;
		for (j = 0; j < g->r[i].ng; j++) {
			int nt, na;

			if (!(g->r[i].g[j].cats & (1u << c)) ||
			    !(g->r[i].g[j].purs & (1u << u)))
				continue;
			cover = 1;
			nt = g->r[i].g[j].ticket && !t;
			na = g->r[i].g[j].approval && !a;
			if (!nt && !na && (bi < 0 || g->r[i].g[j].full >
			    g->r[bi].g[bj].full)) {
				bi = i;
				bj = j;
			}
			if (!nt && na)
				apponly = 1;
		}
	}
	if (bi >= 0) {
		snprintf(rule, sizeof(rule), "roles.r%d.grants[%d]", bi, bj);
		if (d->code != 0 || strcmp(d->rule, rule) != 0 ||
		    d->view != (g->r[bi].g[bj].full ? POL_VIEW_FULL : POL_VIEW_MASKED) ||
		    d->max_subjects_per_hour != g->r[bi].g[bj].max)
			die("decision differs from the reference (allow)");
		return;
	}
	if (apponly ? d->code != PII_ERR_APPROVAL_REQUIRED :
	    cover ? d->code != PII_ERR_TICKET_REQUIRED :
	    d->code != PII_ERR_POLICY_DENIED)
		die("decision differs from the reference (denial code)");
	if (!cover) {
		if (d->rule[0] != '\0')
			die("policy_denied with a rule");
		return;
	}
	/* the rule must name a grant of the kind the code speaks of */
	if (sscanf(d->rule, "roles.r%d.grants[%d]", &i, &j) != 2 || i < 0 ||
	    i >= g->nrole || j < 0 || j >= g->r[i].ng || !(roles & (1u << i)) ||
	    !(g->r[i].g[j].cats & (1u << c)) || !(g->r[i].g[j].purs & (1u << u)))
		die("a denial's rule names no covering grant");
	if (apponly && !(g->r[i].g[j].approval && !a &&
	    (!g->r[i].g[j].ticket || t)))
		die("approval_required names a grant that needs more than an approval");
	if (!apponly && !(g->r[i].g[j].ticket && !t))
		die("ticket_required names a grant that needs no ticket");
}

static void
gen_check(const uint8_t *data, size_t size)
{
	static const char *const names[GR] = { "r0", "r1", "r2", "r3", "r4" };
	static const char *const cats[GC] = { "c0", "c1", "c2", "c3", "c4", "c5" };
	static const char *const purs[GP] = { "p0", "p1", "p2", "p3" };
	static char json[16384];
	struct bytes b = { data, size, 0 };
	struct pol_policy *p = NULL;
	struct pii_errinfo ei;
	struct gen g;
	char contra[128];
	unsigned int set;
	size_t n;
	int r, c, u, t, a, i, k;

	gen_read(&b, &g);
	n = gen_json(&g, json, sizeof(json));
	if (n >= sizeof(json))
		die("generated policy too long");
	gen_contradiction(&g, contra, sizeof(contra));
	r = pol_parse(json, n, &p, &ei);
	if (contra[0] != '\0') {
		if (r != PII_ERR_CONFIG || strcmp(ei.field, contra) != 0)
			die("a grant nobody could approve was not refused at its path");
		return;
	}
	if (r != 0)
		die("a generated policy was refused");
	for (set = 1; set < (1u << g.nrole); set++) {
		const char *roles[GR];
		int nr = 0, bi = -1;
		struct pol_decision d;

		if (__builtin_popcount(set) > 2)
			continue;
		for (i = 0; i < g.nrole; i++)
			if (set & (1u << i))
				roles[nr++] = names[i];
		for (c = 0; c < g.ncat; c++)
			for (u = 0; u < g.npur; u++) {
				for (t = 0; t < 2; t++)
					for (a = 0; a < 2; a++) {
						struct pol_query q = { roles, (size_t)nr, cats[c],
							purs[u], t, a };

						pol_decide(p, &q, &d);
						gen_expect(&g, set, c, u, t, a, &d);
						if (d.code == 0 && (int)d.mask != g.mask[c])
							die("the mask is not the category's");
					}
				bi = -1;
				for (i = 0; i < g.nrole; i++)
					if ((set & (1u << i)) && g.r[i].bg &&
					    (g.r[i].bgcats & (1u << c)) &&
					    (g.r[i].bgpurs & (1u << u)) &&
					    (bi < 0 || g.r[i].bgfull > g.r[bi].bgfull))
						bi = i;
				r = pol_breakglass(p, roles, (size_t)nr, cats[c], purs[u], &d);
				if (bi < 0 ? r != PII_ERR_POLICY_DENIED :
				    (r != 0 || d.minutes != g.r[bi].bgmin ||
				    d.view != (g.r[bi].bgfull ? POL_VIEW_FULL : POL_VIEW_MASKED)))
					die("break-glass differs from the reference");
			}
		{
			struct pol_query q = { roles, (size_t)nr, "zz", purs[0], 1, 1 };

			if (pol_decide(p, &q, &d) != PII_ERR_UNKNOWN_CATEGORY)
				die("an undefined category is not unknown_category");
			q.category = cats[0];
			q.purpose = "zz";
			if (pol_decide(p, &q, &d) != PII_ERR_POLICY_DENIED)
				die("an undefined purpose is not denied");
		}
		/* capabilities */
		{
			int audit = 0, dsr = 0, appr = 0;

			for (i = 0; i < g.nrole; i++)
				if (set & (1u << i)) {
					audit |= g.r[i].caps & 1;
					dsr |= (g.r[i].caps >> 1) & 1;
				}
			for (k = 0; k < g.napp; k++)
				appr |= (g.a[k].appr & set) != 0;
			if (pol_role_can(p, roles, (size_t)nr, "audit_read") != audit ||
			    pol_role_can(p, roles, (size_t)nr, "dsr_manage") != dsr ||
			    pol_role_can(p, roles, (size_t)nr, "grants_approve") != appr)
				die("capabilities differ from the reference");
		}
		/* approvals: these roles approving each single role, for each
		 * category and for all of them */
		for (i = 0; i < g.nrole; i++) {
			const char *req[1] = { names[i] };
			int all = 1;

			for (c = 0; c < g.ncat; c++) {
				int want = 0;

				for (k = 0; k < g.napp; k++)
					want |= (g.a[k].appr & set) && (g.a[k].req & (1u << i)) &&
					    (g.a[k].cats & (1u << c));
				all &= want;
				if (pol_may_approve(p, roles, (size_t)nr, req, 1, &cats[c], 1) != want)
					die("pol_may_approve differs from the reference");
			}
			if (pol_may_approve(p, roles, (size_t)nr, req, 1, cats,
			    (size_t)g.ncat) != all)
				die("pol_may_approve of all categories differs");
		}
	}
	pol_free(p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct pol_policy *p = NULL;
	struct pii_errinfo ei;
	int r;

	if (!inited) {
		pii_json_init();
		inited = 1;
	}
	if (size > 0)
		check_masks(data, size);
	gen_check(data, size);
	memset(&ei, 0, sizeof(ei));
	r = pol_parse((const char *)data, size, &p, &ei);
	if (r != 0) {
		if (p != NULL)
			die("refused but returned a policy");
		if (r != PII_ERR_CONFIG && r != PII_ERR_INVALID_JSON &&
		    r != PII_ERR_DUPLICATE_KEY && r != PII_ERR_NOMEM)
			die("unexpected refusal code");
		if (ei.code != r || ei.message[0] == '\0')
			die("a refusal without a message");
		if (memchr(ei.field, '\0', sizeof(ei.field)) == NULL ||
		    memchr(ei.message, '\0', sizeof(ei.message)) == NULL)
			die("unterminated errinfo");
		return 0;
	}
	if (p == NULL)
		die("accepted without a policy");
	check_decisions(p);
	pol_free(p);
	return 0;
}
