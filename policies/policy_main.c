/*
 * policy_main.c - pii-policy: check a policy file, explain a decision.
 *
 *   pii-policy check FILE
 *   pii-policy explain --policy FILE --role R [--role R]... --category C
 *       --purpose P [--ticket] [--approved] [--breakglass] [--format text|json]
 *   pii-policy describe --policy FILE --role R [--role R]...
 *
 * explain answers the question the proxy asks on every request (may these
 * roles see category C for purpose P?) with the same library and prints
 * the decision, the view, the mask, the rule that decided and why.  A
 * denial is an answer, not a failure: explain exits 0 either way.
 *
 * Exit status: 0 success, 1 failure (the policy cannot be read or is
 * invalid: one line "pii-policy: FILE: PATH: message"), 2 usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/err.h"
#include "policy.h"

#define MAX_ROLES 32

static const char usage_text[] =
    "usage: pii-policy COMMAND [OPTIONS]\n"
    "\n"
    "  check FILE\n"
    "        validate a policy file; prints \"FILE: ok (N categories, N purposes,\n"
    "        N roles)\" or one line naming the JSON path of the first fault\n"
    "  explain --policy FILE --role R [--role R]... --category C --purpose P\n"
    "          [--ticket] [--approved] [--breakglass] [--format text|json]\n"
    "        may a caller with these roles see category C for purpose P, and why\n"
    "        (not): the decision, the view, the mask, the deciding rule and the\n"
    "        reason.  --ticket: the request carries a ticket; --approved: an\n"
    "        approved grant covers it; --breakglass: ask about emergency access\n"
    "        instead.  Exits 0 whether allowed or denied.\n"
    "  describe --policy FILE --role R [--role R]...\n"
    "        what these roles may do (grants, capabilities, break-glass,\n"
    "        approvals), as the JSON that GET /v1/me shows\n"
    "\n"
    "Exit status: 0 success, 1 an unreadable or invalid policy, 2 usage error.\n";

static const char check_usage[] =
    "usage: pii-policy check FILE\n"
    "Validate a policy file (format: policies/README.md).  Prints\n"
    "\"FILE: ok (N categories, N purposes, N roles)\" and exits 0, or prints\n"
    "\"pii-policy: FILE: PATH: message\" and exits 1.\n";

static const char explain_usage[] =
    "usage: pii-policy explain --policy FILE --role R [--role R]... --category C\n"
    "           --purpose P [--ticket] [--approved] [--breakglass]\n"
    "           [--format text|json]\n"
    "May a caller with these roles see category C for purpose P, and why (not)?\n"
    "  --ticket       the request carries a ticket\n"
    "  --approved     an approved, unexpired grant covers the request\n"
    "  --breakglass   ask whether the roles may use emergency access instead\n"
    "  --format F     text (default) or json\n"
    "Exits 0 whether allowed or denied, 1 for a bad policy, 2 for a usage error.\n";

static const char describe_usage[] =
    "usage: pii-policy describe --policy FILE --role R [--role R]...\n"
    "Print what these roles may do as JSON (the policy part of GET /v1/me).\n";

static int
usage(const char *cmd, const char *msg)
{
	fprintf(stderr, "pii-policy: %s%s%s (see pii-policy %s%s--help)\n",
	    cmd != NULL ? cmd : "", cmd != NULL ? ": " : "", msg,
	    cmd != NULL ? cmd : "", cmd != NULL ? " " : "");
	return 2;
}

/* The message for getopt's '?' or ':' at argv[optind - 1]. */
static int
bad_option(const char *cmd, int c, char **argv)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "%s %.200s", c == ':' ? "missing value for" :
	    "unknown option", argv[optind - 1]);
	return usage(cmd, msg);
}

static int
load(const char *path, struct pol_policy **p)
{
	struct pii_errinfo ei;
	int r;

	pii_errinfo_clear(&ei);
	if ((r = pol_load_file(path, p, &ei)) == 0)
		return 0;
	if (ei.field[0] != '\0')
		fprintf(stderr, "pii-policy: %s: %s: %s\n", path, ei.field,
		    ei.message[0] ? ei.message : pii_strerror(r));
	else
		fprintf(stderr, "pii-policy: %s: %s\n", path,
		    ei.message[0] ? ei.message : pii_strerror(r));
	return 1;
}

static int
cmd_check(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct pol_policy *p = NULL;
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (c == 'h') {
			fputs(check_usage, stdout);
			return 0;
		}
		return bad_option("check", c, argv);
	}
	if (optind >= argc)
		return usage("check", "a policy FILE is required");
	if (optind + 1 < argc)
		return usage("check", "one policy FILE at a time");
	if (load(argv[optind], &p) != 0)
		return 1;
	printf("%s: ok (%zu categories, %zu purposes, %zu roles)\n", argv[optind],
	    pol_category_count(p), pol_purpose_count(p), pol_role_count(p));
	pol_free(p);
	return 0;
}

static void
print_text(const struct pol_policy *p, const struct pol_decision *d,
    const char *const *roles, size_t nroles, const char *category,
    int breakglass)
{
	size_t i;

	printf("decision: %s\n", d->code == 0 ? "allow" : "deny");
	printf("code: %s\n", d->code == 0 ? "ok" : pii_err_api_code(d->code));
	printf("view: %s\n", pol_view_name(d->view));
	printf("mask: %s\n", pol_category_known(p, category) ?
	    pol_mask_name(d->mask) : "-");
	printf("rule: %s\n", d->rule[0] ? d->rule : "-");
	if (d->code == 0)
		printf("max_subjects_per_hour: %lld%s\n", d->max_subjects_per_hour,
		    d->max_subjects_per_hour == 0 ? " (no limit)" : "");
	if (breakglass && d->code == 0)
		printf("minutes: %lld\n", d->minutes);
	printf("reason: %s\n", d->reason);
	for (i = 0; i < nroles; i++)
		if (!pol_role_known(p, roles[i]))
			printf("note: role %s is not defined in the policy\n", roles[i]);
}

/* A JSON string, or NULL (left out of the output) if s is not UTF-8. */
static json_t *
jstr(const char *s)
{
	return s != NULL ? json_string(s) : NULL;
}

static int
print_json(const struct pol_policy *p, const struct pol_decision *d,
    const char *const *roles, size_t nroles, const char *category,
    const char *purpose, int ticket, int approved, int breakglass)
{
	json_t *o, *qroles, *unknown;
	char *s;
	size_t i;

	qroles = json_array();
	unknown = json_array();
	for (i = 0; i < nroles && qroles != NULL && unknown != NULL; i++) {
		json_array_append_new(qroles, jstr(roles[i]));
		if (!pol_role_known(p, roles[i]))
			json_array_append_new(unknown, jstr(roles[i]));
	}
	o = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I, s:s, s:{s:o*, s:o*, s:o*, "
	    "s:b, s:b, s:b}, s:o*}",
	    "decision", d->code == 0 ? "allow" : "deny",
	    "code", d->code == 0 ? "ok" : pii_err_api_code(d->code),
	    "view", pol_view_name(d->view),
	    "mask", pol_category_known(p, category) ? pol_mask_name(d->mask) : NULL,
	    "rule", d->rule[0] ? d->rule : NULL,
	    "max_subjects_per_hour", (json_int_t)d->max_subjects_per_hour,
	    "reason", d->reason,
	    "query", "roles", qroles, "category", jstr(category),
	    "purpose", jstr(purpose), "ticket", ticket, "approved", approved,
	    "breakglass", breakglass,
	    "unknown_roles", unknown);
	if (o != NULL && breakglass && d->code == 0)
		json_object_set_new(o, "minutes", json_integer(d->minutes));
	s = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	if (s == NULL) {
		fprintf(stderr, "pii-policy: explain: cannot format the answer\n");
		return 1;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}

static int
cmd_explain(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "role", required_argument, NULL, 'r' },
		{ "category", required_argument, NULL, 'c' },
		{ "purpose", required_argument, NULL, 'u' },
		{ "ticket", no_argument, NULL, 't' },
		{ "approved", no_argument, NULL, 'a' },
		{ "breakglass", no_argument, NULL, 'b' },
		{ "format", required_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *roles[MAX_ROLES];
	const char *policy = NULL, *category = NULL, *purpose = NULL;
	struct pol_policy *p = NULL;
	struct pol_decision d;
	struct pol_query q;
	size_t nroles = 0;
	int c, ticket = 0, approved = 0, breakglass = 0, json = 0, rc;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy = optarg;
			break;
		case 'r':
			if (nroles == MAX_ROLES)
				return usage("explain", "at most 32 --role options");
			roles[nroles++] = optarg;
			break;
		case 'c':
			category = optarg;
			break;
		case 'u':
			purpose = optarg;
			break;
		case 't':
			ticket = 1;
			break;
		case 'a':
			approved = 1;
			break;
		case 'b':
			breakglass = 1;
			break;
		case 'f':
			if (strcmp(optarg, "json") == 0)
				json = 1;
			else if (strcmp(optarg, "text") == 0)
				json = 0;
			else
				return usage("explain", "--format must be text or json");
			break;
		case 'h':
			fputs(explain_usage, stdout);
			return 0;
		default:
			return bad_option("explain", c, argv);
		}
	}
	if (optind < argc)
		return usage("explain", "unexpected argument");
	if (policy == NULL)
		return usage("explain", "--policy FILE is required");
	if (nroles == 0)
		return usage("explain", "--role is required (repeat it for several roles)");
	if (category == NULL)
		return usage("explain", "--category is required");
	if (purpose == NULL)
		return usage("explain", "--purpose is required");
	if (breakglass && (ticket || approved))
		return usage("explain", "--breakglass does not combine with "
		    "--ticket or --approved");
	if (load(policy, &p) != 0)
		return 1;
	if (breakglass) {
		(void)pol_breakglass(p, roles, nroles, category, purpose, &d);
	} else {
		memset(&q, 0, sizeof(q));
		q.roles = roles;
		q.nroles = nroles;
		q.category = category;
		q.purpose = purpose;
		q.has_ticket = ticket;
		q.has_approval = approved;
		(void)pol_decide(p, &q, &d);
	}
	rc = 0;
	if (json)
		rc = print_json(p, &d, roles, nroles, category, purpose, ticket,
		    approved, breakglass);
	else
		print_text(p, &d, roles, nroles, category, breakglass);
	pol_free(p);
	return rc;
}

static int
cmd_describe(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "role", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	const char *roles[MAX_ROLES];
	const char *policy = NULL;
	struct pol_policy *p = NULL;
	size_t nroles = 0;
	json_t *o;
	char *s;
	int c;

	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			policy = optarg;
			break;
		case 'r':
			if (nroles == MAX_ROLES)
				return usage("describe", "at most 32 --role options");
			roles[nroles++] = optarg;
			break;
		case 'h':
			fputs(describe_usage, stdout);
			return 0;
		default:
			return bad_option("describe", c, argv);
		}
	}
	if (optind < argc)
		return usage("describe", "unexpected argument");
	if (policy == NULL)
		return usage("describe", "--policy FILE is required");
	if (nroles == 0)
		return usage("describe", "--role is required (repeat it for several roles)");
	if (load(policy, &p) != 0)
		return 1;
	o = pol_describe_roles(p, roles, nroles);
	s = o != NULL ? json_dumps(o, JSON_INDENT(2)) : NULL;
	json_decref(o);
	pol_free(p);
	if (s == NULL) {
		fprintf(stderr, "pii-policy: describe: out of memory\n");
		return 1;
	}
	printf("%s\n", s);
	free(s);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	opterr = 0;
	if (argc < 2) {
		fputs(usage_text, stderr);
		return 2;
	}
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(cmd, "check") == 0)
		return cmd_check(argc - 1, argv + 1);
	if (strcmp(cmd, "explain") == 0)
		return cmd_explain(argc - 1, argv + 1);
	if (strcmp(cmd, "describe") == 0)
		return cmd_describe(argc - 1, argv + 1);
	return usage(NULL, "unknown command");
}
