/*
 * test_policy.c - libpiipolicy as tables: decisions over policies/default.json
 * (role x category x purpose x ticket x approval -> code, view, rule) and
 * over small inline policies for the evaluation order; broken policies with
 * the JSON path each error must name; masks (UTF-8, short values, invalid
 * UTF-8, tight buffers); approvals, break-glass, capabilities, /v1/me.
 *
 * Run from the repository root (tests/run does): it reads
 * policies/default.json by that relative path.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../common/err.h"
#include "../../common/json_util.h"
#include "../../policies/policy.h"
#include "tap.h"

#define DEFAULT_POLICY "policies/default.json"
#define NROLES 3

static const char *
code_name(int code)
{
	return code == 0 ? "allow" : pii_err_api_code(code);
}

/* ---- decisions over the default policy ------------------------------------- */

struct decide_row {
	const char *roles[NROLES];     /* NULL-terminated */
	const char *category;
	const char *purpose;
	int ticket, approval;
	int code;
	enum pol_view view;
	const char *rule;              /* "" none */
	long long max_sph;             /* checked on allow */
};

#define DENIED PII_ERR_POLICY_DENIED
#define TICKET PII_ERR_TICKET_REQUIRED
#define APPROVAL PII_ERR_APPROVAL_REQUIRED
#define UNKNOWN PII_ERR_UNKNOWN_CATEGORY
#define NONE POL_VIEW_NONE
#define MASKED POL_VIEW_MASKED
#define FULL POL_VIEW_FULL

static const struct decide_row default_rows[] = {
	/* cs_agent: masked contact data with a ticket */
	{ { "cs_agent" }, "email", "support", 1, 0, 0, MASKED, "roles.cs_agent.grants[0]", 60 },
	{ { "cs_agent" }, "email", "support", 0, 0, TICKET, NONE, "roles.cs_agent.grants[0]", 0 },
	{ { "cs_agent" }, "email", "support", 0, 1, TICKET, NONE, "roles.cs_agent.grants[0]", 0 },
	{ { "cs_agent" }, "email", "support", 1, 1, 0, MASKED, "roles.cs_agent.grants[0]", 60 },
	{ { "cs_agent" }, "phone", "support", 1, 0, 0, MASKED, "roles.cs_agent.grants[0]", 60 },
	{ { "cs_agent" }, "name", "support", 1, 0, 0, MASKED, "roles.cs_agent.grants[0]", 60 },
	{ { "cs_agent" }, "address", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "cs_agent" }, "card", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "cs_agent" }, "email", "marketing", 1, 1, DENIED, NONE, "", 0 },
	{ { "cs_agent" }, "email", "incident", 1, 1, DENIED, NONE, "", 0 },
	/* cs_agent: national ID in full needs a ticket and an approval */
	{ { "cs_agent" }, "national_id", "support", 0, 0, TICKET, NONE, "roles.cs_agent.grants[1]", 0 },
	{ { "cs_agent" }, "national_id", "support", 0, 1, TICKET, NONE, "roles.cs_agent.grants[1]", 0 },
	{ { "cs_agent" }, "national_id", "support", 1, 0, APPROVAL, NONE, "roles.cs_agent.grants[1]", 0 },
	{ { "cs_agent" }, "national_id", "support", 1, 1, 0, FULL, "roles.cs_agent.grants[1]", 10 },
	{ { "cs_agent" }, "national_id", "fraud", 1, 1, DENIED, NONE, "", 0 },
	/* cs_lead: full contact data with a ticket */
	{ { "cs_lead" }, "email", "support", 1, 0, 0, FULL, "roles.cs_lead.grants[0]", 120 },
	{ { "cs_lead" }, "email", "support", 0, 0, TICKET, NONE, "roles.cs_lead.grants[0]", 0 },
	{ { "cs_lead" }, "address", "support", 1, 0, 0, FULL, "roles.cs_lead.grants[0]", 120 },
	{ { "cs_lead" }, "name", "support", 1, 0, 0, FULL, "roles.cs_lead.grants[0]", 120 },
	{ { "cs_lead" }, "national_id", "support", 1, 0, APPROVAL, NONE, "roles.cs_lead.grants[1]", 0 },
	{ { "cs_lead" }, "national_id", "support", 1, 1, 0, FULL, "roles.cs_lead.grants[1]", 20 },
	{ { "cs_lead" }, "card", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "cs_lead" }, "email", "analytics", 1, 1, DENIED, NONE, "", 0 },
	/* no PII for compliance, the CEO, on-call outside break-glass */
	{ { "compliance" }, "email", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "compliance" }, "national_id", "legal", 1, 1, DENIED, NONE, "", 0 },
	{ { "ceo" }, "email", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "ceo" }, "national_id", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "ceo" }, "dob", "analytics", 1, 1, DENIED, NONE, "", 0 },
	{ { "oncall" }, "email", "incident", 1, 1, DENIED, NONE, "", 0 },
	/* several roles: the most permissive, whatever their order */
	{ { "cs_agent", "cs_lead" }, "email", "support", 1, 0, 0, FULL, "roles.cs_lead.grants[0]", 120 },
	{ { "cs_lead", "cs_agent" }, "email", "support", 1, 0, 0, FULL, "roles.cs_lead.grants[0]", 120 },
	{ { "ceo", "cs_agent" }, "phone", "support", 1, 0, 0, MASKED, "roles.cs_agent.grants[0]", 60 },
	{ { "cs_agent", "cs_lead" }, "national_id", "support", 1, 0, APPROVAL, NONE, "roles.cs_agent.grants[1]", 0 },
	{ { "intern", "cs_agent" }, "email", "support", 1, 0, 0, MASKED, "roles.cs_agent.grants[0]", 60 },
	/* unknown roles, categories, purposes */
	{ { "intern" }, "email", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { NULL }, "email", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "CS_AGENT" }, "email", "support", 1, 1, DENIED, NONE, "", 0 },
	{ { "cs_agent" }, "E-mail", "support", 1, 1, UNKNOWN, NONE, "", 0 },
	{ { "cs_agent" }, "subject", "support", 1, 1, UNKNOWN, NONE, "", 0 },
	{ { "cs_agent" }, "", "support", 1, 1, UNKNOWN, NONE, "", 0 },
	{ { "cs_agent" }, NULL, "support", 1, 1, UNKNOWN, NONE, "", 0 },
	{ { "cs_agent" }, "email", "Support", 1, 1, DENIED, NONE, "", 0 },
	{ { "cs_agent" }, "email", NULL, 1, 1, DENIED, NONE, "", 0 },
};

static size_t
nroles_of(const char *const *roles)
{
	size_t n = 0;

	while (n < NROLES && roles[n] != NULL)
		n++;
	return n;
}

static void
check_decision(const char *what, const struct pol_policy *p,
    const struct decide_row *row)
{
	struct pol_query q;
	struct pol_decision d;
	int r;

	memset(&q, 0, sizeof(q));
	q.roles = row->roles;
	q.nroles = nroles_of(row->roles);
	q.category = row->category;
	q.purpose = row->purpose;
	q.has_ticket = row->ticket;
	q.has_approval = row->approval;
	memset(&d, 0xa5, sizeof(d));
	r = pol_decide(p, &q, &d);
	CHECK(r == row->code && d.code == r, "%s: %s%s%s / %s / %s%s%s -> %s "
	    "(got %s)", what, row->roles[0] ? row->roles[0] : "(no role)",
	    row->roles[1] ? "+" : "", row->roles[1] ? row->roles[1] : "",
	    row->category ? row->category : "(null)",
	    row->purpose ? row->purpose : "(null)",
	    row->ticket ? " ticket" : "", row->approval ? " approved" : "",
	    code_name(row->code), code_name(r));
	CHECK(d.view == row->view, "%s: ... view %s", what, pol_view_name(row->view));
	CHECK_STR(d.rule, row->rule, "%s: ... rule \"%s\"", what, row->rule);
	CHECK(d.reason[0] != '\0' && memchr(d.reason, '\0', sizeof(d.reason)),
	    "%s: ... has a reason", what);
	if (row->code == 0)
		CHECK(d.max_subjects_per_hour == row->max_sph,
		    "%s: ... max_subjects_per_hour %lld", what, row->max_sph);
	else
		CHECK(d.max_subjects_per_hour == 0 && d.minutes == 0,
		    "%s: ... a denial carries no limits", what);
}

static void
test_default_decisions(const struct pol_policy *p)
{
	size_t i;

	for (i = 0; i < sizeof(default_rows) / sizeof(default_rows[0]); i++)
		check_decision("default", p, &default_rows[i]);
}

/* Reasons name the policy's names; never a request value the policy does
 * not define (it could be PII typed into the wrong field). */
static void
test_reasons(const struct pol_policy *p)
{
	static const char *const roles[] = { "bob@example.com", "ceo" };
	static const char *const only_bad[] = { "bob@example.com" };
	struct pol_query q;
	struct pol_decision d;

	memset(&q, 0, sizeof(q));
	q.roles = roles;
	q.nroles = 2;
	q.category = "email";
	q.purpose = "support";
	pol_decide(p, &q, &d);
	CHECK(strstr(d.reason, "bob") == NULL && strstr(d.reason, "ceo") != NULL &&
	    strstr(d.reason, "email") != NULL && strstr(d.reason, "support") != NULL,
	    "denial reason names role ceo, category and purpose, not the unknown role");
	q.roles = only_bad;
	q.nroles = 1;
	pol_decide(p, &q, &d);
	CHECK(strstr(d.reason, "bob") == NULL && strstr(d.reason, "defined in the policy") != NULL,
	    "only an unknown role: the reason says so without repeating it");
	q.roles = roles + 1;
	q.purpose = "alice@example.com";
	pol_decide(p, &q, &d);
	CHECK(d.code == DENIED && strstr(d.reason, "alice") == NULL,
	    "unknown purpose: denied, the purpose is not repeated");
	q.purpose = "support";
	q.category = "alice@example.com";
	pol_decide(p, &q, &d);
	CHECK(d.code == UNKNOWN && strstr(d.reason, "alice") == NULL,
	    "unknown category: unknown_category, not repeated");
	q.roles = (const char *const[]){ "cs_agent" };
	q.category = "national_id";
	q.has_ticket = 1;
	pol_decide(p, &q, &d);
	CHECK(strstr(d.reason, "cs_lead") != NULL,
	    "approval_required names the approver roles: %s", d.reason);
}

/* ---- evaluation order over inline policies ------------------------------- */

#define MINI_HEAD "{\"version\":1,\"categories\":{" \
	"\"email\":{\"sensitivity\":\"medium\",\"mask\":\"email\"}," \
	"\"phone\":{\"sensitivity\":\"medium\",\"mask\":\"last4\"}}," \
	"\"purposes\":{\"support\":{},\"fraud\":{}},"
#define G(view, ticket, approval) "{\"categories\":[\"email\"],\"purposes\":[\"support\"]," \
	"\"view\":\"" view "\",\"require_ticket\":" ticket ",\"require_approval\":" approval "}"
#define APPROVE_R "\"approvals\":[{\"approvers\":[\"s\"],\"requesters\":[\"r\",\"s\"],\"categories\":[\"email\"]}]"

struct order_row {
	const char *name;
	const char *policy;
	const char *roles[NROLES];
	int ticket, approval;
	int code;
	enum pol_view view;
	const char *rule;
	const char *reason_has;   /* substring of the reason, or NULL */
};

static const struct order_row order_rows[] = {
	{ "equal views: the first grant in file order",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("masked", "false", "false") ","
	  G("masked", "false", "false") "]},\"s\":{\"grants\":[]}}}",
	  { "r" }, 0, 0, 0, MASKED, "roles.r.grants[0]", NULL },
	{ "full beats an earlier masked grant",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("masked", "false", "false") ","
	  G("full", "false", "false") "]},\"s\":{\"grants\":[]}}}",
	  { "r" }, 0, 0, 0, FULL, "roles.r.grants[1]", NULL },
	{ "satisfied masked wins over unsatisfied full, and says what full needs",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("full", "true", "false") ","
	  G("masked", "false", "false") "]},\"s\":{\"grants\":[]}}}",
	  { "r" }, 0, 0, 0, MASKED, "roles.r.grants[1]", "full view needs a ticket" },
	{ "with the ticket the full grant wins",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("full", "true", "false") ","
	  G("masked", "false", "false") "]},\"s\":{\"grants\":[]}}}",
	  { "r" }, 1, 0, 0, FULL, "roles.r.grants[0]", NULL },
	{ "a grant lacking only an approval: approval_required",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("masked", "true", "false") ","
	  G("full", "false", "true") "]},\"s\":{\"grants\":[]}}," APPROVE_R "}",
	  { "r" }, 0, 0, APPROVAL, NONE, "roles.r.grants[1]", "approver roles: s" },
	{ "ticket_required names the grant a ticket alone satisfies",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("full", "true", "true") ","
	  G("masked", "true", "false") "]},\"s\":{\"grants\":[]}}," APPROVE_R "}",
	  { "r" }, 0, 0, TICKET, NONE, "roles.r.grants[1]", "needs a ticket to see" },
	{ "ticket_required for a grant needing both says the approval comes next",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("full", "true", "true") "]},"
	  "\"s\":{\"grants\":[]}}," APPROVE_R "}",
	  { "r" }, 0, 0, TICKET, NONE, "roles.r.grants[0]", "and then an approved grant" },
	{ "roles in file order, not in query order",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("masked", "false", "false") "]},"
	  "\"s\":{\"grants\":[" G("masked", "false", "false") "]}}}",
	  { "s", "r" }, 0, 0, 0, MASKED, "roles.r.grants[0]", NULL },
	{ "a grant without require_ticket needs no ticket",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("full", "false", "false") "]},"
	  "\"s\":{\"grants\":[]}}}",
	  { "r" }, 0, 0, 0, FULL, "roles.r.grants[0]", NULL },
	{ "an approval alone does not replace a ticket",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[" G("full", "true", "true") "]},"
	  "\"s\":{\"grants\":[]}}," APPROVE_R "}",
	  { "r" }, 0, 1, TICKET, NONE, "roles.r.grants[0]", NULL },
	{ "a grant covers only its purposes",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[{\"categories\":[\"email\"],"
	  "\"purposes\":[\"fraud\"],\"view\":\"full\",\"require_ticket\":false}]},"
	  "\"s\":{\"grants\":[]}}}",
	  { "r" }, 1, 1, DENIED, NONE, "", "no grant of role r" },
	{ "a grant covers only its categories",
	  MINI_HEAD "\"roles\":{\"r\":{\"grants\":[{\"categories\":[\"phone\"],"
	  "\"purposes\":[\"support\"],\"view\":\"full\",\"require_ticket\":false}]},"
	  "\"s\":{\"grants\":[]}}}",
	  { "r" }, 1, 1, DENIED, NONE, "", NULL },
};

static void
test_order(void)
{
	size_t i;

	for (i = 0; i < sizeof(order_rows) / sizeof(order_rows[0]); i++) {
		const struct order_row *o = &order_rows[i];
		struct pol_policy *p = NULL;
		struct pii_errinfo ei;
		struct pol_query q;
		struct pol_decision d;
		int r;

		r = pol_parse(o->policy, strlen(o->policy), &p, &ei);
		CHECK(r == 0, "order %s: the policy loads", o->name);
		if (r != 0) {
			fprintf(stderr, "#   %s: %s\n", ei.field, ei.message);
			continue;
		}
		memset(&q, 0, sizeof(q));
		q.roles = o->roles;
		q.nroles = nroles_of(o->roles);
		q.category = "email";
		q.purpose = "support";
		q.has_ticket = o->ticket;
		q.has_approval = o->approval;
		r = pol_decide(p, &q, &d);
		CHECK(r == o->code && d.view == o->view, "order %s: %s %s (got %s %s)",
		    o->name, code_name(o->code), pol_view_name(o->view),
		    code_name(r), pol_view_name(d.view));
		CHECK_STR(d.rule, o->rule, "order %s: rule", o->name);
		if (o->reason_has != NULL) {
			CHECK(strstr(d.reason, o->reason_has) != NULL,
			    "order %s: reason says \"%s\"", o->name, o->reason_has);
			if (strstr(d.reason, o->reason_has) == NULL)
				fprintf(stderr, "#   reason: %s\n", d.reason);
		}
		pol_free(p);
	}
}

/* ---- broken policies ---------------------------------------------------------- */

#define CATS "\"categories\":{\"email\":{\"sensitivity\":\"medium\",\"mask\":\"email\"}," \
	"\"national_id\":{\"sensitivity\":\"high\",\"mask\":\"last2\"}}"
#define PURS "\"purposes\":{\"support\":{},\"incident\":{}}"
#define HEAD "{\"version\":1," CATS "," PURS ","
#define GR "{\"categories\":[\"email\"],\"purposes\":[\"support\"],\"view\":\"masked\",\"require_ticket\":true}"
/* a policy with role agent holding one grant whose fields are F */
#define GRANT_WITH(F) HEAD "\"roles\":{\"agent\":{\"grants\":[{" F "}]},\"lead\":{\"grants\":[]}}}"
#define GF(cats, purs, rest) "\"categories\":" cats ",\"purposes\":" purs "," rest
#define OKG(rest) GF("[\"email\"]", "[\"support\"]", rest)
#define ROLE_WITH(F) HEAD "\"roles\":{\"agent\":{" F "},\"lead\":{\"grants\":[]}}}"
#define BG(F) ROLE_WITH("\"grants\":[],\"breakglass\":{" F "}")
#define OKBG "\"categories\":[\"email\"],\"purposes\":[\"incident\"],\"view\":\"full\""
#define APPR(F) HEAD "\"roles\":{\"agent\":{\"grants\":[]},\"lead\":{\"grants\":[]}},\"approvals\":[{" F "}]}"

struct bad_row {
	const char *name;
	const char *json;
	int code;
	const char *field;        /* the JSON path ei->field must be */
	const char *message;      /* substring of ei->message, or NULL */
};

static const struct bad_row bad_rows[] = {
	{ "empty", "", PII_ERR_INVALID_JSON, "", "empty" },
	{ "not JSON", "{\"version\":", PII_ERR_INVALID_JSON, "", NULL },
	{ "trailing garbage", "{} x", PII_ERR_INVALID_JSON, "", NULL },
	{ "not an object", "[]", PII_ERR_CONFIG, "", "JSON object" },
	{ "nested too deep", "{\"a\":[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]}", PII_ERR_CONFIG, "", "deeper" },
	/* unknown keys at every depth */
	{ "unknown key at the top", HEAD "\"roles\":{},\"colour\":1}", PII_ERR_CONFIG, "colour", "unknown key" },
	{ "unknown key in a category", "{\"version\":1,\"categories\":{\"email\":{\"sensitivity\":"
	  "\"low\",\"mask\":\"email\",\"colour\":1}}," PURS ",\"roles\":{}}", PII_ERR_CONFIG,
	  "categories.email.colour", "allowed here: sensitivity, mask" },
	{ "unknown key in a purpose", "{\"version\":1," CATS ",\"purposes\":{\"support\":{\"basis\":\"x\"}},"
	  "\"roles\":{}}", PII_ERR_CONFIG, "purposes.support.basis", "unknown key" },
	{ "unknown key in a role", ROLE_WITH("\"grants\":[],\"grant\":[]"), PII_ERR_CONFIG,
	  "roles.agent.grant", "unknown key" },
	{ "unknown key in a grant", GRANT_WITH(OKG("\"view\":\"full\",\"require_ticket\":true,\"view_mode\":1")),
	  PII_ERR_CONFIG, "roles.agent.grants[0].view_mode", "unknown key" },
	{ "unknown key in break-glass", BG(OKBG ",\"minutes\":5,\"hours\":1"), PII_ERR_CONFIG,
	  "roles.agent.breakglass.hours", "unknown key" },
	{ "unknown key in an approval", APPR("\"approvers\":[\"lead\"],\"requesters\":[\"agent\"],"
	  "\"categories\":[\"email\"],\"approver\":1"), PII_ERR_CONFIG, "approvals[0].approver", "unknown key" },
	{ "unknown key that is not an identifier", HEAD "\"roles\":{},\"a b\":1}", PII_ERR_CONFIG,
	  "<key>", "unknown key" },
	/* duplicate keys, with the path of the repeated key */
	{ "duplicate key at the top", "{\"version\":1,\"version\":1}", PII_ERR_DUPLICATE_KEY, "version", "duplicate" },
	{ "duplicate key in a grant", GRANT_WITH(OKG("\"view\":\"masked\",\"require_ticket\":true,\"view\":\"full\"")),
	  PII_ERR_DUPLICATE_KEY, "roles.agent.grants[0].view", "duplicate" },
	{ "duplicate role", HEAD "\"roles\":{\"agent\":{\"grants\":[]},\"agent\":{\"grants\":[]}}}",
	  PII_ERR_DUPLICATE_KEY, "roles.agent", "duplicate" },
	{ "duplicate key in a second grant", HEAD "\"roles\":{\"agent\":{\"grants\":[" GR ",{\"purposes\":[],"
	  "\"purposes\":[]}]}}}", PII_ERR_DUPLICATE_KEY, "roles.agent.grants[1].purposes", "duplicate" },
	{ "duplicate key in a category with strings holding brackets", "{\"version\":1,\"description\":\"a{[\\\"]}\","
	  "\"categories\":{\"email\":{\"mask\":\"email\",\"mask\":\"last4\"}}}", PII_ERR_DUPLICATE_KEY,
	  "categories.email.mask", "duplicate" },
	/* references */
	{ "unknown category in a grant", GRANT_WITH(GF("[\"email\",\"phone\"]", "[\"support\"]",
	  "\"view\":\"full\",\"require_ticket\":true")), PII_ERR_CONFIG,
	  "roles.agent.grants[0].categories[1]", "unknown category \"phone\"" },
	{ "unknown purpose in a grant", GRANT_WITH(GF("[\"email\"]", "[\"sales\"]",
	  "\"view\":\"full\",\"require_ticket\":true")), PII_ERR_CONFIG,
	  "roles.agent.grants[0].purposes[0]", "unknown purpose" },
	{ "unknown role in an approval", APPR("\"approvers\":[\"boss\"],\"requesters\":[\"agent\"],"
	  "\"categories\":[\"email\"]"), PII_ERR_CONFIG, "approvals[0].approvers[0]", "unknown role" },
	{ "unknown category in an approval", APPR("\"approvers\":[\"lead\"],\"requesters\":[\"agent\"],"
	  "\"categories\":[\"ssn\"]"), PII_ERR_CONFIG, "approvals[0].categories[0]", "unknown category" },
	{ "unknown category in break-glass", BG("\"categories\":[\"ip\"],\"purposes\":[\"incident\"],"
	  "\"view\":\"full\",\"minutes\":5"), PII_ERR_CONFIG, "roles.agent.breakglass.categories[0]",
	  "unknown category" },
	{ "unknown purpose in break-glass", BG("\"categories\":[\"email\"],\"purposes\":[\"ops\"],"
	  "\"view\":\"full\",\"minutes\":5"), PII_ERR_CONFIG, "roles.agent.breakglass.purposes[0]",
	  "unknown purpose" },
	{ "a wildcard", GRANT_WITH(GF("[\"*\"]", "[\"support\"]", "\"view\":\"full\",\"require_ticket\":true")),
	  PII_ERR_CONFIG, "roles.agent.grants[0].categories[0]", "wildcards are not supported" },
	{ "a category listed twice", GRANT_WITH(GF("[\"email\",\"email\"]", "[\"support\"]",
	  "\"view\":\"full\",\"require_ticket\":true")), PII_ERR_CONFIG,
	  "roles.agent.grants[0].categories[1]", "twice" },
	{ "no categories", GRANT_WITH(GF("[]", "[\"support\"]", "\"view\":\"full\",\"require_ticket\":true")),
	  PII_ERR_CONFIG, "roles.agent.grants[0].categories", "at least one" },
	{ "no purposes", GRANT_WITH(GF("[\"email\"]", "[]", "\"view\":\"full\",\"require_ticket\":true")),
	  PII_ERR_CONFIG, "roles.agent.grants[0].purposes", "at least one" },
	{ "no approvers", APPR("\"approvers\":[],\"requesters\":[\"agent\"],\"categories\":[\"email\"]"),
	  PII_ERR_CONFIG, "approvals[0].approvers", "at least one" },
	/* views */
	{ "view none", GRANT_WITH(OKG("\"view\":\"none\",\"require_ticket\":true")), PII_ERR_CONFIG,
	  "roles.agent.grants[0].view", "\"masked\" or \"full\"" },
	{ "view Full", GRANT_WITH(OKG("\"view\":\"Full\",\"require_ticket\":true")), PII_ERR_CONFIG,
	  "roles.agent.grants[0].view", "\"masked\" or \"full\"" },
	{ "break-glass view", BG(GF("[\"email\"]", "[\"incident\"]", "\"view\":\"raw\",\"minutes\":5")),
	  PII_ERR_CONFIG, "roles.agent.breakglass.view", "\"masked\" or \"full\"" },
	/* missing required fields */
	{ "missing version", "{" CATS "," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "version", "is required" },
	{ "missing categories", "{\"version\":1," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "categories", "is required" },
	{ "missing purposes", "{\"version\":1," CATS ",\"roles\":{}}", PII_ERR_CONFIG, "purposes", "is required" },
	{ "missing roles", "{\"version\":1," CATS "," PURS "}", PII_ERR_CONFIG, "roles", "is required" },
	{ "missing sensitivity", "{\"version\":1,\"categories\":{\"email\":{\"mask\":\"email\"}}," PURS
	  ",\"roles\":{}}", PII_ERR_CONFIG, "categories.email.sensitivity", "is required" },
	{ "missing mask", "{\"version\":1,\"categories\":{\"email\":{\"sensitivity\":\"low\"}}," PURS
	  ",\"roles\":{}}", PII_ERR_CONFIG, "categories.email.mask", "is required" },
	{ "missing grants", ROLE_WITH("\"description\":\"d\""), PII_ERR_CONFIG, "roles.agent.grants", "is required" },
	{ "missing view", GRANT_WITH(OKG("\"require_ticket\":true")), PII_ERR_CONFIG,
	  "roles.agent.grants[0].view", "is required" },
	{ "missing require_ticket", GRANT_WITH(OKG("\"view\":\"full\"")), PII_ERR_CONFIG,
	  "roles.agent.grants[0].require_ticket", "is required" },
	{ "missing grant categories", GRANT_WITH("\"purposes\":[\"support\"],\"view\":\"full\",\"require_ticket\":true"),
	  PII_ERR_CONFIG, "roles.agent.grants[0].categories", "is required" },
	{ "missing break-glass minutes", BG(OKBG), PII_ERR_CONFIG, "roles.agent.breakglass.minutes", "is required" },
	{ "missing requesters", APPR("\"approvers\":[\"lead\"],\"categories\":[\"email\"]"), PII_ERR_CONFIG,
	  "approvals[0].requesters", "is required" },
	/* contradictions */
	{ "require_approval without any approvals", GRANT_WITH(OKG("\"view\":\"full\",\"require_ticket\":true,"
	  "\"require_approval\":true")), PII_ERR_CONFIG, "roles.agent.grants[0].require_approval",
	  "nobody could approve" },
	{ "require_approval, approvals for another requester", HEAD "\"roles\":{\"agent\":{\"grants\":["
	  "{" OKG("\"view\":\"full\",\"require_ticket\":true,\"require_approval\":true") "}]},"
	  "\"lead\":{\"grants\":[]}},\"approvals\":[{\"approvers\":[\"lead\"],\"requesters\":[\"lead\"],"
	  "\"categories\":[\"email\"]}]}", PII_ERR_CONFIG, "roles.agent.grants[0].require_approval",
	  "role agent" },
	{ "require_approval, approvals for another category", HEAD "\"roles\":{\"agent\":{\"grants\":["
	  "{" GF("[\"national_id\",\"email\"]", "[\"support\"]", "\"view\":\"full\",\"require_ticket\":true,"
	  "\"require_approval\":true") "}]},\"lead\":{\"grants\":[]}},\"approvals\":[{\"approvers\":[\"lead\"],"
	  "\"requesters\":[\"agent\"],\"categories\":[\"national_id\"]}]}", PII_ERR_CONFIG,
	  "roles.agent.grants[0].require_approval", "category email" },
	/* names */
	{ "category name with a dash", "{\"version\":1,\"categories\":{\"e-mail\":{\"sensitivity\":\"low\","
	  "\"mask\":\"email\"}}," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "categories.e-mail", "[a-z][a-z0-9_]*" },
	{ "category name in capitals", "{\"version\":1,\"categories\":{\"Email\":{\"sensitivity\":\"low\","
	  "\"mask\":\"email\"}}," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "categories.Email", "category name" },
	{ "category name of 64 bytes", "{\"version\":1,\"categories\":{\"a123456789012345678901234567890"
	  "123456789012345678901234567890123\":{\"sensitivity\":\"low\",\"mask\":\"email\"}}," PURS
	  ",\"roles\":{}}", PII_ERR_CONFIG, "categories.<key>", "at most 63 bytes" },
	{ "reserved category subject", "{\"version\":1,\"categories\":{\"subject\":{\"sensitivity\":\"low\","
	  "\"mask\":\"email\"}}," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "categories.subject", "reserved" },
	{ "purpose starting with a digit", "{\"version\":1," CATS ",\"purposes\":{\"1st\":{}},\"roles\":{}}",
	  PII_ERR_CONFIG, "purposes.1st", "purpose name" },
	{ "role in capitals", HEAD "\"roles\":{\"CS_Agent\":{\"grants\":[]}}}", PII_ERR_CONFIG,
	  "roles.CS_Agent", "role name" },
	{ "empty role name", HEAD "\"roles\":{\"\":{\"grants\":[]}}}", PII_ERR_CONFIG, "roles.<key>", "role name" },
	{ "reference that is not a name", GRANT_WITH(GF("[\"Email\"]", "[\"support\"]",
	  "\"view\":\"full\",\"require_ticket\":true")), PII_ERR_CONFIG, "roles.agent.grants[0].categories[0]",
	  "not a valid category name" },
	/* types and ranges */
	{ "version as a string", "{\"version\":\"1\"," CATS "," PURS ",\"roles\":{}}", PII_ERR_CONFIG,
	  "version", "integer" },
	{ "version 2", "{\"version\":2," CATS "," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "version", "must be 1" },
	{ "version 0", "{\"version\":0," CATS "," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "version", "must be 1" },
	{ "require_ticket as a string", GRANT_WITH(OKG("\"view\":\"full\",\"require_ticket\":\"yes\"")),
	  PII_ERR_CONFIG, "roles.agent.grants[0].require_ticket", "true or false" },
	{ "require_approval null", GRANT_WITH(OKG("\"view\":\"full\",\"require_ticket\":true,\"require_approval\":null")),
	  PII_ERR_CONFIG, "roles.agent.grants[0].require_approval", "true or false" },
	{ "max_subjects_per_hour fractional", GRANT_WITH(OKG("\"view\":\"full\",\"require_ticket\":true,"
	  "\"max_subjects_per_hour\":1.5")), PII_ERR_CONFIG, "roles.agent.grants[0].max_subjects_per_hour", "integer" },
	{ "max_subjects_per_hour too high", GRANT_WITH(OKG("\"view\":\"full\",\"require_ticket\":true,"
	  "\"max_subjects_per_hour\":1000001")), PII_ERR_CONFIG, "roles.agent.grants[0].max_subjects_per_hour",
	  "between 0 and 1000000" },
	{ "max_subjects_per_hour negative", GRANT_WITH(OKG("\"view\":\"full\",\"require_ticket\":true,"
	  "\"max_subjects_per_hour\":-1")), PII_ERR_CONFIG, "roles.agent.grants[0].max_subjects_per_hour",
	  "between" },
	{ "grant categories as a string", GRANT_WITH(GF("\"email\"", "[\"support\"]",
	  "\"view\":\"full\",\"require_ticket\":true")), PII_ERR_CONFIG, "roles.agent.grants[0].categories", "array" },
	{ "a category reference as a number", GRANT_WITH(GF("[3]", "[\"support\"]",
	  "\"view\":\"full\",\"require_ticket\":true")), PII_ERR_CONFIG, "roles.agent.grants[0].categories[0]", "string" },
	{ "grants as an object", ROLE_WITH("\"grants\":{}"), PII_ERR_CONFIG, "roles.agent.grants", "array" },
	{ "a grant as a string", ROLE_WITH("\"grants\":[\"email\"]"), PII_ERR_CONFIG, "roles.agent.grants[0]", "object" },
	{ "a role as an array", HEAD "\"roles\":{\"agent\":[]}}", PII_ERR_CONFIG, "roles.agent", "object" },
	{ "roles as an array", HEAD "\"roles\":[]}", PII_ERR_CONFIG, "roles", "object" },
	{ "approvals as an object", HEAD "\"roles\":{},\"approvals\":{}}", PII_ERR_CONFIG, "approvals", "array" },
	{ "an approval as a string", HEAD "\"roles\":{},\"approvals\":[\"x\"]}", PII_ERR_CONFIG, "approvals[0]", "object" },
	{ "a category as a string", "{\"version\":1,\"categories\":{\"email\":\"email\"}," PURS ",\"roles\":{}}",
	  PII_ERR_CONFIG, "categories.email", "object" },
	{ "description as a number", ROLE_WITH("\"grants\":[],\"description\":5"), PII_ERR_CONFIG,
	  "roles.agent.description", "string" },
	{ "description with a control character", ROLE_WITH("\"grants\":[],\"description\":\"a\\u0007b\""),
	  PII_ERR_CONFIG, "roles.agent.description", "control characters" },
	{ "bad sensitivity", "{\"version\":1,\"categories\":{\"email\":{\"sensitivity\":\"secret\",\"mask\":"
	  "\"email\"}}," PURS ",\"roles\":{}}", PII_ERR_CONFIG, "categories.email.sensitivity", "\"low\"" },
	{ "bad mask", "{\"version\":1,\"categories\":{\"email\":{\"sensitivity\":\"low\",\"mask\":\"first3\"}},"
	  PURS ",\"roles\":{}}", PII_ERR_CONFIG, "categories.email.mask", "\"last4\"" },
	{ "retention_days 0", "{\"version\":1,\"categories\":{\"email\":{\"sensitivity\":\"low\",\"mask\":"
	  "\"email\",\"retention_days\":0}}," PURS ",\"roles\":{}}", PII_ERR_CONFIG,
	  "categories.email.retention_days", "between 1 and 36500" },
	{ "grant_max_minutes 0", "{\"version\":1,\"grant_max_minutes\":0," CATS "," PURS ",\"roles\":{}}",
	  PII_ERR_CONFIG, "grant_max_minutes", "between 1 and 10080" },
	{ "dsr_deadline_days 32", "{\"version\":1,\"dsr_deadline_days\":32," CATS "," PURS ",\"roles\":{}}",
	  PII_ERR_CONFIG, "dsr_deadline_days", "between 1 and 31" },
	{ "dsr_deadline_days a string", "{\"version\":1,\"dsr_deadline_days\":\"10\"," CATS "," PURS ",\"roles\":{}}",
	  PII_ERR_CONFIG, "dsr_deadline_days", "" },
	{ "break-glass minutes too long", BG(OKBG ",\"minutes\":1441"), PII_ERR_CONFIG,
	  "roles.agent.breakglass.minutes", "between 1 and 1440" },
	{ "break-glass as an array", ROLE_WITH("\"grants\":[],\"breakglass\":[]"), PII_ERR_CONFIG,
	  "roles.agent.breakglass", "object" },
	{ "unknown capability", ROLE_WITH("\"grants\":[],\"capabilities\":[\"pii_read\"]"), PII_ERR_CONFIG,
	  "roles.agent.capabilities[0]", "audit_read" },
	{ "grants_approve is not a listed capability", ROLE_WITH("\"grants\":[],\"capabilities\":[\"grants_approve\"]"),
	  PII_ERR_CONFIG, "roles.agent.capabilities[0]", "approvals" },
	{ "capability twice", ROLE_WITH("\"grants\":[],\"capabilities\":[\"audit_read\",\"audit_read\"]"),
	  PII_ERR_CONFIG, "roles.agent.capabilities[1]", "twice" },
};

/* A policy with n categories, or with one role of n grants. */
static char *
many(size_t ncat, size_t ngrants)
{
	size_t cap = 64 + ncat * 64 + ngrants * 128 + 256, n = 0, i;
	char *b = malloc(cap);

	if (b == NULL)
		return NULL;
	n += (size_t)snprintf(b + n, cap - n, "{\"version\":1,\"categories\":{");
	for (i = 0; i < ncat; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s\"c%zu\":{\"sensitivity\":"
		    "\"low\",\"mask\":\"redact\"}", i ? "," : "", i);
	n += (size_t)snprintf(b + n, cap - n, "},\"purposes\":{\"p\":{}},"
	    "\"roles\":{\"r\":{\"grants\":[");
	for (i = 0; i < ngrants; i++)
		n += (size_t)snprintf(b + n, cap - n, "%s{\"categories\":[\"c0\"],"
		    "\"purposes\":[\"p\"],\"view\":\"masked\",\"require_ticket\":false}",
		    i ? "," : "");
	snprintf(b + n, cap - n, "]}}}");
	return b;
}

static void
test_bad(void)
{
	struct {
		const char *name;
		size_t ncat, ngrants;
		int ok;
		const char *field;
	} sized[] = {
		{ "256 categories", 256, 1, 1, "" },
		{ "257 categories", 257, 1, 0, "categories" },
		{ "64 grants", 1, 64, 1, "" },
		{ "65 grants", 1, 65, 0, "roles.r.grants" },
	};
	size_t i;

	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		const struct bad_row *b = &bad_rows[i];
		struct pol_policy *p = NULL;
		struct pii_errinfo ei;
		int r;

		memset(&ei, 0, sizeof(ei));
		r = pol_parse(b->json, strlen(b->json), &p, &ei);
		CHECK(r == b->code && ei.code == r && p == NULL, "bad %s: refused with "
		    "%s (got %s)", b->name, pii_strerror(b->code), pii_strerror(r));
		CHECK_STR(ei.field, b->field, "bad %s: names \"%s\"", b->name, b->field);
		if (b->message != NULL) {
			CHECK(strstr(ei.message, b->message) != NULL,
			    "bad %s: message says \"%s\"", b->name, b->message);
			if (strstr(ei.message, b->message) == NULL)
				fprintf(stderr, "#   message: %s\n", ei.message);
		}
		pol_free(p);
	}
	for (i = 0; i < sizeof(sized) / sizeof(sized[0]); i++) {
		char *j = many(sized[i].ncat, sized[i].ngrants);
		struct pol_policy *p = NULL;
		struct pii_errinfo ei;
		int r;

		memset(&ei, 0, sizeof(ei));
		r = j != NULL ? pol_parse(j, strlen(j), &p, &ei) : PII_ERR_NOMEM;
		if (sized[i].ok) {
			CHECK(r == 0 && p != NULL, "limit %s: accepted", sized[i].name);
		} else {
			CHECK(r == PII_ERR_CONFIG && p == NULL, "limit %s: refused",
			    sized[i].name);
			CHECK_STR(ei.field, sized[i].field, "limit %s: names %s",
			    sized[i].name, sized[i].field);
		}
		pol_free(p);
		free(j);
	}
	{
		struct pii_errinfo ei;
		struct pol_policy *p = (struct pol_policy *)&ei;   /* must stay untouched */
		char *big = malloc(POL_MAX_BYTES + 2);
		int r;

		if (big != NULL) {
			memset(big, ' ', POL_MAX_BYTES + 1);
			big[0] = '{';
			big[POL_MAX_BYTES] = '}';
			r = pol_parse(big, POL_MAX_BYTES + 1, &p, &ei);
			CHECK(r == PII_ERR_CONFIG && strstr(ei.message, "larger") != NULL,
			    "a policy over 1 MiB is refused");
			CHECK(p == (struct pol_policy *)&ei, "a refusal leaves *out alone");
			free(big);
		}
	}
	{
		struct pol_policy *p = NULL;
		struct pii_errinfo ei;
		const char nul[] = "{\"version\":1\0}";

		CHECK(pol_parse(nul, sizeof(nul) - 1, &p, &ei) == PII_ERR_INVALID_JSON &&
		    strstr(ei.message, "NUL") != NULL,
		    "a NUL byte is invalid JSON (jansson would stop reading there)");
		CHECK(pol_parse("{", 1, &p, NULL) == PII_ERR_INVALID_JSON,
		    "errors without an errinfo");
		CHECK(pol_load_file("tests/unit/no-such-policy.json", &p, &ei) == PII_ERR_IO &&
		    strstr(ei.message, "cannot read") != NULL, "a missing file is PII_ERR_IO");
		CHECK(pol_load_file("tests/unit", &p, &ei) == PII_ERR_IO,
		    "a directory is PII_ERR_IO");
		pol_free(NULL);
		CHECK(1, "pol_free(NULL)");
	}
}

/* Accepted shapes that a stricter reading might refuse by mistake. */
static void
test_good(void)
{
	static const struct {
		const char *name;
		const char *json;
	} rows[] = {
		{ "minimal", "{\"version\":1,\"categories\":{},\"purposes\":{},\"roles\":{}}" },
		{ "role names with dashes and digits", HEAD "\"roles\":{\"cs-agent-2\":{\"grants\":[" GR "]}}}" },
		{ "a requester approving its own role (another person)", HEAD "\"roles\":{\"agent\":{\"grants\":["
		  "{" OKG("\"view\":\"full\",\"require_ticket\":true,\"require_approval\":true") "}]}},"
		  "\"approvals\":[{\"approvers\":[\"agent\"],\"requesters\":[\"agent\"],\"categories\":[\"email\"]}]}" },
		{ "a 63-byte category name", "{\"version\":1,\"categories\":{\"a123456789012345678901234567890"
		  "12345678901234567890123456789012\":{\"sensitivity\":\"low\",\"mask\":\"email\"}}," PURS
		  ",\"roles\":{}}" },
		{ "a custom category", "{\"version\":1,\"categories\":{\"loyalty_id\":{\"sensitivity\":\"low\","
		  "\"mask\":\"last4\",\"retention_days\":30,\"description\":\"d\"}}," PURS ",\"roles\":{}}" },
		{ "every optional field", "{\"version\":1,\"description\":\"x\",\"grant_max_minutes\":60,"
		  "\"dsr_deadline_days\":20," CATS ","
		  "\"purposes\":{\"support\":{\"description\":\"s\"},\"incident\":{}},\"roles\":{\"agent\":{"
		  "\"description\":\"a\",\"capabilities\":[\"audit_read\"],\"grants\":[{" OKG("\"view\":\"masked\","
		  "\"require_ticket\":false,\"require_approval\":false,\"max_subjects_per_hour\":0,\"description\":\"g\"")
		  "}],\"breakglass\":{" OKBG ",\"minutes\":1,\"max_subjects_per_hour\":5,\"description\":\"b\"}}},"
		  "\"approvals\":[]}" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pol_policy *p = NULL;
		struct pii_errinfo ei;
		int r = pol_parse(rows[i].json, strlen(rows[i].json), &p, &ei);

		CHECK(r == 0 && p != NULL, "good %s: accepted", rows[i].name);
		if (r != 0)
			fprintf(stderr, "#   %s: %s\n", ei.field, ei.message);
		if (i == 5 && p != NULL)
			CHECK(pol_grant_max_minutes(p) == 60, "grant_max_minutes read");
		if (i == 5 && p != NULL)
			CHECK(pol_dsr_deadline_days(p) == 20, "dsr_deadline_days read");
		if (i == 0 && p != NULL)
			CHECK(pol_grant_max_minutes(p) == 240, "grant_max_minutes defaults to 240");
		if (i == 0 && p != NULL)
			CHECK(pol_dsr_deadline_days(p) == 0, "dsr_deadline_days defaults to none");
		pol_free(p);
	}
}

/* ---- masks -------------------------------------------------------------------- */

struct mask_row {
	enum pol_mask mask;
	const char *in;
	const char *want;
};

static const struct mask_row mask_rows[] = {
	{ POL_MASK_EMAIL, "alice@example.com", "a***@example.com" },
	{ POL_MASK_EMAIL, "a@example.com", "***@example.com" },
	{ POL_MASK_EMAIL, "@example.com", "***@example.com" },
	{ POL_MASK_EMAIL, "alice@", "a***@" },
	{ POL_MASK_EMAIL, "a@b@example.com", "a***@example.com" },
	{ POL_MASK_EMAIL, "\xea\xb9\x80\xeb\xaf\xbc@example.kr", "\xea\xb9\x80***@example.kr" },
	{ POL_MASK_EMAIL, "no-at-sign", "[redacted]" },
	{ POL_MASK_EMAIL, "", "" },
	{ POL_MASK_EMAIL, "\xff" "bc@x.com", "***@x.com" },
	{ POL_MASK_EMAIL, "\xea\xb9@x.com", "***@x.com" },
	{ POL_MASK_EMAIL, "ab@x\xffy.com", "a***@x?y.com" },
	{ POL_MASK_EMAIL, "ab@x\ny", "a***@x?y" },
	{ POL_MASK_LAST4, "+82 10-1234-5678", "+** **-****-5678" },
	{ POL_MASK_LAST4, "4111111111111111", "************1111" },
	{ POL_MASK_LAST4, "123456", "***456" },
	{ POL_MASK_LAST4, "12345", "***45" },
	{ POL_MASK_LAST4, "123", "**3" },
	{ POL_MASK_LAST4, "12", "*2" },
	{ POL_MASK_LAST4, "1", "*" },
	{ POL_MASK_LAST4, "", "" },
	{ POL_MASK_LAST4, "abc", "***" },
	{ POL_MASK_LAST4, "a1c", "***" },
	{ POL_MASK_LAST4, "\xea\xb9\x80\xeb\xaf\xbc", "**" },
	{ POL_MASK_LAST4, "DE89370400440532013000", "DE****************3000" },
	{ POL_MASK_LAST4, "AB12CD34", "AB**CD34" },
	{ POL_MASK_LAST4, "\xff" "12345678", "?****5678" },
	{ POL_MASK_LAST4, "\x01" "12345678", "?****5678" },
	{ POL_MASK_LAST4, "\xec\xa0\x84\xed\x99\x94 010-1234-5678", "\xec\xa0\x84\xed\x99\x94 ***-****-5678" },
	{ POL_MASK_LAST4, "\xe2\x82" "12", "??*2" },
	{ POL_MASK_LAST2, "900101-1234567", "******-*****67" },
	{ POL_MASK_LAST2, "1234", "**34" },
	{ POL_MASK_LAST2, "123", "**3" },
	{ POL_MASK_LAST2, "9", "*" },
	{ POL_MASK_LAST2, "X", "*" },
	{ POL_MASK_INITIAL, "\xea\xb9\x80\xeb\xaf\xbc\xec\x88\x98", "\xea\xb9\x80***" },
	{ POL_MASK_INITIAL, "Kim Minsu", "K***" },
	{ POL_MASK_INITIAL, "Al", "A***" },
	{ POL_MASK_INITIAL, "K", "***" },
	{ POL_MASK_INITIAL, "\xea\xb9\x80", "***" },
	{ POL_MASK_INITIAL, "", "" },
	{ POL_MASK_INITIAL, "\xff" "abc", "***" },
	{ POL_MASK_INITIAL, "\xea\xb9", "***" },
	{ POL_MASK_INITIAL, "\xc2\x85x", "***" },
	{ POL_MASK_INITIAL, "\xed\xa0\x80x", "***" },
	{ POL_MASK_INITIAL, "\xc0\xafx", "***" },
	{ POL_MASK_INITIAL, "\xf0\x9f\x98\x80" "ab", "\xf0\x9f\x98\x80***" },
	{ POL_MASK_YEAR, "1990-05-17", "1990-**-**" },
	{ POL_MASK_YEAR, "2000-12-31", "2000-**-**" },
	{ POL_MASK_YEAR, "1990-13-01", "[redacted]" },
	{ POL_MASK_YEAR, "1990-00-10", "[redacted]" },
	{ POL_MASK_YEAR, "1990/05/17", "[redacted]" },
	{ POL_MASK_YEAR, "90-05-17", "[redacted]" },
	{ POL_MASK_YEAR, "1990-05-17T00:00:00Z", "[redacted]" },
	{ POL_MASK_YEAR, "", "" },
	{ POL_MASK_REDACT, "alice@example.com", "[redacted]" },
	{ POL_MASK_REDACT, "", "[redacted]" },
	{ (enum pol_mask)99, "alice", "[redacted]" },
};

static void
test_masks(void)
{
	static const struct {
		enum pol_mask mask;
		const char *in;
		size_t cap;
		int code;
	} caps[] = {
		{ POL_MASK_EMAIL, "alice@example.com", 16, PII_ERR_TOO_LARGE },
		{ POL_MASK_EMAIL, "alice@example.com", 17, 0 },
		{ POL_MASK_REDACT, "x", 10, PII_ERR_TOO_LARGE },
		{ POL_MASK_REDACT, "x", 11, 0 },
		{ POL_MASK_INITIAL, "\xea\xb9\x80\xeb\xaf\xbc", 6, PII_ERR_TOO_LARGE },
		{ POL_MASK_INITIAL, "\xea\xb9\x80\xeb\xaf\xbc", 7, 0 },
		{ POL_MASK_LAST4, "4111111111111111", 16, PII_ERR_TOO_LARGE },
		{ POL_MASK_LAST4, "4111111111111111", 17, 0 },
		{ POL_MASK_YEAR, "1990-05-17", 10, PII_ERR_TOO_LARGE },
		{ POL_MASK_LAST2, "", 1, 0 },
		{ POL_MASK_LAST2, "12", 0, PII_ERR_TOO_LARGE },
	};
	char out[128];
	size_t i;

	for (i = 0; i < sizeof(mask_rows) / sizeof(mask_rows[0]); i++) {
		const struct mask_row *m = &mask_rows[i];
		int r;

		memset(out, 'Z', sizeof(out));
		r = pol_mask_apply(m->mask, m->in, strlen(m->in), out, sizeof(out));
		CHECK(r == 0, "mask %s row %zu: ok", pol_mask_name(m->mask), i);
		CHECK_STR(out, m->want, "mask %s row %zu: \"%s\"", pol_mask_name(m->mask),
		    i, m->want);
	}
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		int r;

		memset(out, 'Z', sizeof(out));
		r = pol_mask_apply(caps[i].mask, caps[i].in, strlen(caps[i].in), out,
		    caps[i].cap);
		CHECK(r == caps[i].code, "mask %s into %zu bytes: %s",
		    pol_mask_name(caps[i].mask), caps[i].cap, pii_strerror(caps[i].code));
		if (caps[i].cap > 0)
			CHECK(memchr(out, '\0', caps[i].cap) != NULL && out[caps[i].cap] == 'Z',
			    "mask %s into %zu bytes: terminated, nothing past cap",
			    pol_mask_name(caps[i].mask), caps[i].cap);
		if (r != 0 && caps[i].cap > 0)
			CHECK(out[0] == '\0', "mask %s into %zu bytes: \"\" on failure",
			    pol_mask_name(caps[i].mask), caps[i].cap);
	}
	{
		/* a value that is not NUL-terminated: only len bytes are read */
		const char v[] = { 'a', 'b', '@', 'x', 'y' };

		CHECK(pol_mask_apply(POL_MASK_EMAIL, v, 4, out, sizeof(out)) == 0 &&
		    strcmp(out, "a***@x") == 0, "mask email reads only len bytes");
		CHECK(pol_mask_apply(POL_MASK_INITIAL, NULL, 0, out, sizeof(out)) == 0 &&
		    out[0] == '\0', "mask of a NULL, empty value");
	}
	CHECK_STR(pol_mask_name(POL_MASK_LAST4), "last4", "pol_mask_name");
	CHECK_STR(pol_view_name(POL_VIEW_FULL), "full", "pol_view_name full");
	CHECK_STR(pol_view_name(POL_VIEW_NONE), "none", "pol_view_name none");
}

/* ---- approvals, break-glass, capabilities, /v1/me --------------------------- */

#define L(...) (const char *const[]){ __VA_ARGS__ }, sizeof((const char *const[]){ __VA_ARGS__ }) / sizeof(const char *)

static void
test_approvals(const struct pol_policy *p)
{
	const char *const none[1] = { NULL };

	CHECK(pol_may_approve(p, L("cs_lead"), L("cs_agent"), L("national_id")) == 1,
	    "approve: cs_lead for cs_agent, national_id");
	CHECK(pol_may_approve(p, L("cs_agent"), L("cs_agent"), L("national_id")) == 0,
	    "approve: not cs_agent for cs_agent");
	CHECK(pol_may_approve(p, L("compliance"), L("cs_agent"), L("national_id")) == 0,
	    "approve: not compliance for cs_agent");
	CHECK(pol_may_approve(p, L("compliance"), L("cs_lead"), L("national_id")) == 1,
	    "approve: compliance for cs_lead");
	CHECK(pol_may_approve(p, L("cs_lead"), L("cs_lead"), L("national_id")) == 1,
	    "approve: another cs_lead for cs_lead (self-approval is the proxy's check)");
	CHECK(pol_may_approve(p, L("ceo"), L("cs_agent"), L("national_id")) == 0,
	    "approve: not the ceo");
	CHECK(pol_may_approve(p, L("ceo", "cs_lead"), L("cs_agent"), L("national_id")) == 1,
	    "approve: any of the approver's roles");
	CHECK(pol_may_approve(p, L("cs_lead"), L("cs_agent"), L("email")) == 0,
	    "approve: not a category without an approvals entry");
	CHECK(pol_may_approve(p, L("cs_lead"), L("cs_agent"), L("national_id", "email")) == 0,
	    "approve: every category must be approvable");
	CHECK(pol_may_approve(p, L("cs_lead"), L("cs_agent"), none, 0) == 0,
	    "approve: nothing to approve is no");
	CHECK(pol_may_approve(p, L("cs_lead"), L("cs_agent"), L("nope")) == 0,
	    "approve: unknown category");
	CHECK(pol_may_approve(p, L("cs_lead"), L("intern"), L("national_id")) == 0,
	    "approve: unknown requester role");
	CHECK(pol_may_approve(p, none, 0, L("cs_agent"), L("national_id")) == 0,
	    "approve: approver without roles");
}

static void
test_breakglass(const struct pol_policy *p)
{
	static const struct {
		const char *roles[NROLES];
		const char *category, *purpose;
		int code;
		enum pol_view view;
		long long minutes;
		const char *rule;
	} rows[] = {
		{ { "oncall" }, "email", "incident", 0, FULL, 60, "roles.oncall.breakglass" },
		{ { "oncall" }, "address", "incident", 0, FULL, 60, "roles.oncall.breakglass" },
		{ { "cs_agent", "oncall" }, "phone", "incident", 0, FULL, 60, "roles.oncall.breakglass" },
		{ { "oncall" }, "national_id", "incident", DENIED, NONE, 0, "" },
		{ { "oncall" }, "email", "support", DENIED, NONE, 0, "" },
		{ { "cs_lead" }, "email", "incident", DENIED, NONE, 0, "" },
		{ { "ceo" }, "email", "incident", DENIED, NONE, 0, "" },
		{ { NULL }, "email", "incident", DENIED, NONE, 0, "" },
		{ { "oncall" }, "nope", "incident", UNKNOWN, NONE, 0, "" },
		{ { "oncall" }, "email", "nope", DENIED, NONE, 0, "" },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct pol_decision d;
		int r = pol_breakglass(p, rows[i].roles, nroles_of(rows[i].roles),
		    rows[i].category, rows[i].purpose, &d);

		CHECK(r == rows[i].code && d.code == r && d.view == rows[i].view &&
		    d.minutes == rows[i].minutes, "breakglass %s / %s / %s: %s %s",
		    rows[i].roles[0] ? rows[i].roles[0] : "(none)", rows[i].category,
		    rows[i].purpose, code_name(rows[i].code), pol_view_name(rows[i].view));
		CHECK_STR(d.rule, rows[i].rule, "breakglass row %zu: rule", i);
		CHECK(d.reason[0] != '\0', "breakglass row %zu: a reason", i);
	}
}

static void
test_capabilities(const struct pol_policy *p)
{
	static const struct {
		const char *roles[NROLES];
		const char *cap;
		int want;
	} rows[] = {
		{ { "compliance" }, "audit_read", 1 },
		{ { "compliance" }, "dsr_manage", 1 },
		{ { "compliance" }, "grants_approve", 1 },
		{ { "compliance" }, "pii_read", 0 },
		{ { "compliance" }, "", 0 },
		{ { "cs_lead" }, "audit_read", 0 },
		{ { "cs_lead" }, "dsr_manage", 0 },
		{ { "cs_lead" }, "grants_approve", 1 },
		{ { "cs_agent" }, "grants_approve", 0 },
		{ { "cs_agent" }, "audit_read", 0 },
		{ { "ceo" }, "audit_read", 0 },
		{ { "ceo" }, "dsr_manage", 0 },
		{ { "ceo" }, "grants_approve", 0 },
		{ { "oncall" }, "audit_read", 0 },
		{ { "ceo", "compliance" }, "audit_read", 1 },
		{ { "intern" }, "audit_read", 0 },
		{ { NULL }, "audit_read", 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		CHECK(pol_role_can(p, rows[i].roles, nroles_of(rows[i].roles),
		    rows[i].cap) == rows[i].want, "can %s%s%s %s: %d",
		    rows[i].roles[0] ? rows[i].roles[0] : "(none)",
		    rows[i].roles[1] ? "+" : "", rows[i].roles[1] ? rows[i].roles[1] : "",
		    rows[i].cap, rows[i].want);
}

static void
test_metadata(const struct pol_policy *p)
{
	enum pol_mask m = POL_MASK_REDACT;
	enum pol_sensitivity s = POL_SENS_LOW;
	long long days = 0;
	json_t *me, *r0, *g;
	size_t i;

	CHECK(pol_role_known(p, "cs_agent") && pol_role_known(p, "cs_lead") &&
	    pol_role_known(p, "compliance") && pol_role_known(p, "ceo"),
	    "the default policy has cs_agent, cs_lead, compliance, ceo");
	CHECK(!pol_role_known(p, "intern") && !pol_role_known(p, NULL), "unknown roles");
	CHECK(pol_grant_max_minutes(p) == 240, "default grant_max_minutes 240");
	for (i = 0; i < pol_category_count(p); i++)
		CHECK(pol_category_builtin(pol_category_name(p, i)),
		    "default category %s is built in", pol_category_name(p, i));
	CHECK(pol_category_count(p) == 10, "the default policy has the 10 built-in categories");
	CHECK(!pol_category_builtin("loyalty_id") && !pol_category_builtin(NULL),
	    "loyalty_id is not built in");
	CHECK(pol_category_info(p, "national_id", &m, &s, &days) == 0 &&
	    m == POL_MASK_LAST2 && s == POL_SENS_HIGH && days == 1825,
	    "national_id: last2, high, 1825 days");
	CHECK(pol_category_info(p, "nope", &m, NULL, NULL) == PII_ERR_UNKNOWN_CATEGORY,
	    "category info of an unknown category");
	CHECK(pol_purpose_known(p, "incident") && !pol_purpose_known(p, "sales"), "purposes");
	CHECK(pol_role_name(p, pol_role_count(p)) == NULL, "names past the end are NULL");

	me = pol_describe_roles(p, L("cs_agent", "compliance", "intern", "Bad Name"));
	CHECK(me != NULL && json_array_size(json_object_get(me, "roles")) == 4,
	    "describe: one entry per role");
	r0 = json_array_get(json_object_get(me, "roles"), 0);
	g = json_array_get(json_object_get(r0, "grants"), 1);
	CHECK(json_array_size(json_object_get(r0, "grants")) == 2 &&
	    strcmp(json_string_value(json_object_get(g, "view")), "full") == 0 &&
	    json_is_true(json_object_get(g, "require_approval")) &&
	    strcmp(json_string_value(json_array_get(json_object_get(g, "categories"), 0)),
	    "national_id") == 0, "describe: cs_agent's second grant");
	CHECK(json_array_size(json_object_get(json_array_get(json_object_get(me, "roles"), 1),
	    "capabilities")) == 2, "describe: compliance's capabilities");
	CHECK(json_is_false(json_object_get(json_array_get(json_object_get(me, "roles"), 2),
	    "known")), "describe: intern is not known");
	CHECK(json_is_null(json_object_get(json_array_get(json_object_get(me, "roles"), 3),
	    "role")), "describe: a role name of another shape is not echoed");
	CHECK(json_array_size(json_object_get(me, "capabilities")) == 3,
	    "describe: audit_read, dsr_manage and grants_approve over all roles");
	json_decref(me);
	me = pol_describe_roles(p, L("oncall", "cs_lead"));
	r0 = json_array_get(json_object_get(me, "roles"), 0);
	CHECK(json_integer_value(json_object_get(json_object_get(r0, "breakglass"),
	    "minutes")) == 60, "describe: oncall's break-glass minutes");
	r0 = json_array_get(json_object_get(me, "roles"), 1);
	CHECK(json_array_size(json_object_get(r0, "may_approve")) == 2,
	    "describe: cs_lead approves in two entries");
	json_decref(me);
}

int
main(void)
{
	struct pol_policy *p = NULL;
	struct pii_errinfo ei;
	int r;

	pii_json_init();
	r = pol_load_file(DEFAULT_POLICY, &p, &ei);
	CHECK(r == 0, "%s loads", DEFAULT_POLICY);
	if (r != 0) {
		fprintf(stderr, "#   %s: %s: %s\n", DEFAULT_POLICY, ei.field, ei.message);
		printf("# %d checks, %d failed\n", tap_count, tap_failed);
		return 1;
	}
	test_default_decisions(p);
	test_reasons(p);
	test_order();
	test_bad();
	test_good();
	test_masks();
	test_approvals(p);
	test_breakglass(p);
	test_capabilities(p);
	test_metadata(p);
	pol_free(p);
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
