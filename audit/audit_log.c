/*
 * audit_log.c - durable audit records in their own PostgreSQL database.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/pg.h"
#include "audit_log.h"

struct audit_log {
	struct pii_pg *pg;
	char writer[64];
};

static const char *const audit_m1[] = {
	"CREATE TABLE audit_records ("
	"  id bigserial PRIMARY KEY,"
	"  at timestamptz NOT NULL DEFAULT now(),"
	"  writer text NOT NULL,"
	"  actor text NOT NULL,"
	"  role text,"
	"  on_behalf_of text,"
	"  purpose text,"
	"  ticket text,"
	"  action text NOT NULL,"
	"  subject_token text,"
	"  categories text[] NOT NULL DEFAULT '{}',"
	"  decision text NOT NULL CHECK (decision IN ('allow','deny')),"
	"  reason text NOT NULL,"
	"  request_id text NOT NULL,"
	"  source text,"
	"  batch_id text,"
	"  count bigint NOT NULL DEFAULT 0)",
	"CREATE INDEX audit_records_subject ON audit_records (subject_token, at)",
	"CREATE INDEX audit_records_actor ON audit_records (actor, at)",
	"CREATE INDEX audit_records_request ON audit_records (request_id)",
	"CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN RAISE EXCEPTION 'audit records are append-only (% refused)', TG_OP; END $$",
	"CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records"
	"  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
	"CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records"
	"  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
	NULL,
};

static const char *const *const audit_migrations[] = { audit_m1 };

int
audit_log_new(const char *conninfo, const char *writer,
    int statement_timeout_ms, struct audit_log **out)
{
	struct audit_log *log = calloc(1, sizeof(*log));
	int r;

	if (log == NULL)
		return PII_ERR_NOMEM;
	r = pii_pg_new(conninfo, "piivault-audit", statement_timeout_ms, &log->pg);
	if (r != 0) {
		free(log);
		return r;
	}
	snprintf(log->writer, sizeof(log->writer), "%s", writer);
	*out = log;
	return 0;
}

void
audit_log_free(struct audit_log *log)
{
	if (log == NULL)
		return;
	pii_pg_free(log->pg);
	free(log);
}

int
audit_log_migrate(struct audit_log *log, struct pii_errinfo *ei)
{
	int r;

	r = pii_pg_migrate(log->pg, PII_PG_SCHEMA_AUDIT, audit_migrations,
	    sizeof(audit_migrations) / sizeof(audit_migrations[0]), NULL, ei);
	if (r == PII_ERR_DB_UNAVAILABLE)
		r = ei != NULL ? (ei->code = PII_ERR_AUDIT_UNAVAILABLE) :
		    PII_ERR_AUDIT_UNAVAILABLE;
	return r;
}

/* A PostgreSQL text[] literal from category names (validated identifiers:
 * [a-z0-9_], so no quoting is needed; anything else is refused). */
static int
categories_literal(const char *const *cats, size_t n, char *out, size_t cap)
{
	size_t i, len = 0;
	const char *p;

	if (cap < 3)
		return PII_ERR_TOO_LARGE;
	out[len++] = '{';
	for (i = 0; i < n; i++) {
		for (p = cats[i]; *p != '\0'; p++)
			if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
			    *p == '_'))
				return PII_ERR_BAD_REQUEST;
		if (len + strlen(cats[i]) + 2 >= cap)
			return PII_ERR_TOO_LARGE;
		if (i > 0)
			out[len++] = ',';
		memcpy(out + len, cats[i], strlen(cats[i]));
		len += strlen(cats[i]);
	}
	out[len++] = '}';
	out[len] = '\0';
	return 0;
}

int
audit_log_append(struct audit_log *log, const struct audit_record *rec)
{
	static const char sql[] =
	    "INSERT INTO audit_records (writer, actor, role, on_behalf_of, purpose,"
	    " ticket, action, subject_token, categories, decision, reason,"
	    " request_id, source, batch_id, count)"
	    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::text[], $10, $11, $12,"
	    " $13, $14, $15::bigint)";
	char cats[AUDIT_MAX_CATEGORIES * 34 + 4], count[24];
	const char *p[15];
	PGconn *c;

	if (categories_literal(rec->categories, rec->ncategories, cats,
	    sizeof(cats)) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	snprintf(count, sizeof(count), "%lld", rec->count);
	p[0] = log->writer;
	p[1] = rec->actor != NULL ? rec->actor : "anonymous";
	p[2] = rec->role;
	p[3] = rec->on_behalf_of;
	p[4] = rec->purpose;
	p[5] = rec->ticket;
	p[6] = rec->action;
	p[7] = rec->subject_token;
	p[8] = cats;
	p[9] = rec->decision;
	p[10] = rec->reason;
	p[11] = rec->request_id;
	p[12] = rec->source;
	p[13] = rec->batch_id;
	p[14] = count;
	if (pii_pg_conn(log->pg, &c) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	/* autocommit: the INSERT is durable (synchronous_commit) when it returns */
	if (pii_pg_exec(log->pg, c, sql, 15, p, NULL) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	return 0;
}

int
audit_log_ping(struct audit_log *log)
{
	PGconn *c;

	if (pii_pg_conn(log->pg, &c) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	/* the table itself, not only the server: a missing or unreadable
	 * audit table means records cannot be written */
	if (pii_pg_exec(log->pg, c, "SELECT 1 FROM audit_records LIMIT 0", 0,
	    NULL, NULL) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	return 0;
}
