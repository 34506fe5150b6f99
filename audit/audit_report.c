/*
 * audit_report.c - reports over the audit records (audit_report.h).
 *
 * Records hold no PII values, so a report can be handed to the data subject
 * (the "who has seen my data" part of an export) or to an auditor as it is.
 * Text from the database is printed with control characters replaced, so a
 * crafted ticket or purpose cannot rewrite the terminal it is read on.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "audit_report.h"

static const char *const columns[] = { "at", "actor", "on_behalf_of", "role",
	"purpose", "ticket", "action", "subject_token", "categories",
	"decision", "reason", "request_id", "writer", "seq", NULL };

/* s with control characters (and DEL) shown as '?', into out. */
static const char *
printable(const char *s, char *out, size_t cap)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < cap; i++)
		out[i] = ((unsigned char)s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	out[i] = '\0';
	return out;
}

static int
run(PGconn *c, const char *sql, int n, const char *const *p, PGresult **out,
    struct pii_errinfo *ei)
{
	PGresult *q = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		const char *state = PQresultErrorField(q, PG_DIAG_SQLSTATE);
		int r;

		/* SQLSTATE class 22 (data exception): a malformed --since or
		 * --until */
		if (state != NULL && strncmp(state, "22", 2) == 0)
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "since/until",
			    "not a timestamp (use e.g. 2026-11-01 or "
			    "2026-11-01T09:00:00Z)");
		else
			r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "audit query "
			    "failed: %s", PQerrorMessage(c));
		PQclear(q);
		return r;
	}
	*out = q;
	return 0;
}

static void
print_json_rows(PGresult *q, const char *const *names, FILE *out)
{
	int i, j, nf = PQnfields(q);

	fputs("[\n", out);
	for (i = 0; i < PQntuples(q); i++) {
		json_t *o = json_object();
		char *s;

		for (j = 0; j < nf && names[j] != NULL; j++)
			json_object_set_new(o, names[j], PQgetisnull(q, i, j) ?
			    json_null() : json_string(PQgetvalue(q, i, j)));
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER |
		    JSON_ENSURE_ASCII);
		fprintf(out, "  %s%s\n", s != NULL ? s : "{}",
		    i + 1 < PQntuples(q) ? "," : "");
		free(s);
		json_decref(o);
	}
	fputs("]\n", out);
}

int
audit_report_records(PGconn *c, const struct audit_report_query *rq,
    FILE *out, struct pii_errinfo *ei)
{
	const char *p[3];
	PGresult *q = NULL;
	int i, j, r;

	if ((rq->subject_token == NULL) == (rq->actor == NULL))
		return pii_errinfo_set(ei, PII_ERR_USAGE, NULL,
		    "give exactly one of --subject and --actor");
	p[0] = rq->subject_token != NULL ? rq->subject_token : rq->actor;
	p[1] = rq->since;
	p[2] = rq->until;
	r = run(c, rq->subject_token != NULL ?
	    "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	    " actor, on_behalf_of, role, purpose, ticket, action, subject_token,"
	    " array_to_string(categories, ','), decision, reason, request_id,"
	    " writer, seq::text FROM audit_records"
	    " WHERE subject_token = $1"
	    " AND ($2::timestamptz IS NULL OR at >= $2::timestamptz)"
	    " AND ($3::timestamptz IS NULL OR at < $3::timestamptz)"
	    " ORDER BY at, writer, seq" :
	    "SELECT to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	    " actor, on_behalf_of, role, purpose, ticket, action, subject_token,"
	    " array_to_string(categories, ','), decision, reason, request_id,"
	    " writer, seq::text FROM audit_records"
	    " WHERE (actor = $1 OR on_behalf_of = $1)"
	    " AND ($2::timestamptz IS NULL OR at >= $2::timestamptz)"
	    " AND ($3::timestamptz IS NULL OR at < $3::timestamptz)"
	    " ORDER BY at, writer, seq", 3, p, &q, ei);
	if (r != 0)
		return r;
	if (rq->format == AUDIT_REPORT_JSON) {
		print_json_rows(q, columns, out);
	} else {
		char b[4][160];

		fprintf(out, "%-20s  %-12s  %-20s  %-12s  %-12s  %-10s  %-8s  "
		    "%-5s  %-20s  %s\n", "at (UTC)", "actor", "on behalf of",
		    "role", "purpose", "ticket", "action", "decision", "reason",
		    "categories / subject");
		for (i = 0; i < PQntuples(q); i++) {
			fprintf(out, "%-20s  %-12s  %-20s  %-12s  %-12s  %-10s  %-8s  "
			    "%-5s  %-20s  %s / %s\n", PQgetvalue(q, i, 0),
			    printable(PQgetvalue(q, i, 1), b[0], sizeof(b[0])),
			    PQgetisnull(q, i, 2) ? "-" :
			    printable(PQgetvalue(q, i, 2), b[1], sizeof(b[1])),
			    PQgetisnull(q, i, 3) ? "-" : PQgetvalue(q, i, 3),
			    PQgetisnull(q, i, 4) ? "-" :
			    printable(PQgetvalue(q, i, 4), b[2], sizeof(b[2])),
			    PQgetisnull(q, i, 5) ? "-" :
			    printable(PQgetvalue(q, i, 5), b[3], sizeof(b[3])),
			    PQgetvalue(q, i, 6), PQgetvalue(q, i, 9),
			    PQgetvalue(q, i, 10), PQgetvalue(q, i, 8)[0] != '\0' ?
			    PQgetvalue(q, i, 8) : "-", PQgetisnull(q, i, 7) ? "-" :
			    PQgetvalue(q, i, 7));
		}
		j = PQntuples(q);
		fprintf(out, "%d record%s\n", j, j == 1 ? "" : "s");
	}
	PQclear(q);
	return 0;
}

int
audit_report_anomalies(PGconn *c, const char *since, const char *until,
    double factor, long long min_subjects, enum audit_report_format format,
    FILE *out, struct pii_errinfo *ei)
{
	static const char *const names[] = { "role", "who", "subjects",
		"peer_median", "peers", NULL };
	const char *p[2] = { since, until };
	PGresult *q = NULL;
	json_t *arr = NULL;
	int i, r, flagged = 0;

	r = run(c,
	    "WITH c AS (SELECT coalesce(role, '(service)') AS role,"
	    "   coalesce(on_behalf_of, actor) AS who,"
	    "   count(DISTINCT subject_token) AS subjects FROM audit_records"
	    "   WHERE subject_token IS NOT NULL AND decision = 'allow'"
	    "   AND ($1::timestamptz IS NULL OR at >= $1::timestamptz)"
	    "   AND ($2::timestamptz IS NULL OR at < $2::timestamptz)"
	    "   GROUP BY 1, 2)"
	    " SELECT c.role, c.who, c.subjects,"
	    "  (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY p.subjects)"
	    "   FROM c p WHERE p.role = c.role AND p.who <> c.who),"
	    "  (SELECT count(*) FROM c p WHERE p.role = c.role AND p.who <> c.who)"
	    " FROM c ORDER BY c.role, c.subjects DESC, c.who", 2, p, &q, ei);
	if (r != 0)
		return r;
	if (format == AUDIT_REPORT_JSON)
		arr = json_array();
	else
		fprintf(out, "%-16s  %-28s  %9s  %11s  %5s\n", "role", "who",
		    "subjects", "peer median", "peers");
	for (i = 0; i < PQntuples(q); i++) {
		long long subjects = strtoll(PQgetvalue(q, i, 2), NULL, 10);
		long long peers = strtoll(PQgetvalue(q, i, 4), NULL, 10);
		double median = PQgetisnull(q, i, 3) ? 0 :
		    strtod(PQgetvalue(q, i, 3), NULL);
		char b[2][160];

		if (peers < 1 || subjects < min_subjects ||
		    (double)subjects < factor * (median < 1 ? 1 : median))
			continue;
		flagged++;
		if (arr != NULL) {
			json_t *o = json_object();
			int j;

			for (j = 0; names[j] != NULL; j++)
				json_object_set_new(o, names[j],
				    json_string(PQgetvalue(q, i, j)));
			json_array_append_new(arr, o);
		} else {
			fprintf(out, "%-16s  %-28s  %9lld  %11.1f  %5lld\n",
			    printable(PQgetvalue(q, i, 0), b[0], sizeof(b[0])),
			    printable(PQgetvalue(q, i, 1), b[1], sizeof(b[1])),
			    subjects, median, peers);
		}
	}
	if (arr != NULL) {
		char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
		    JSON_ENSURE_ASCII);

		fprintf(out, "%s\n", s != NULL ? s : "[]");
		free(s);
		json_decref(arr);
	} else {
		fprintf(out, "%d actor%s far above their role's peers (>= %.1fx "
		    "the median, >= %lld subjects)\n", flagged, flagged == 1 ? "" :
		    "s", factor, min_subjects);
	}
	PQclear(q);
	return 0;
}
