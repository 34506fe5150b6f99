/*
 * pg.c - per-thread PostgreSQL connections with automatic reconnection.
 */
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

struct pii_pg {
	char *conninfo;
	char appname[64];
	char timeout[32];
	pthread_key_t key;
};

static __thread char pg_last_error[256];

/*
 * Statements with parameters are prepared once per connection and then
 * only bound and executed: parsing and planning them on every call cost
 * the database more than running them.  The SQL text is constant (callers
 * pass literals), so a statement is known by its pointer, checked against
 * its text.  A thread holds at most a few connections (one per database).
 */
#define STMT_CACHE 48
#define STMT_CONNS 4

struct stmt_cache {
	PGconn *conn;
	size_t n;
	const char *sql[STMT_CACHE];
};

static __thread struct stmt_cache stmt_caches[STMT_CONNS];

/* Forget what was prepared on c (it is being closed). */
static void
stmt_forget(PGconn *c)
{
	size_t i;

	for (i = 0; i < STMT_CONNS; i++)
		if (stmt_caches[i].conn == c) {
			stmt_caches[i].conn = NULL;
			stmt_caches[i].n = 0;
		}
}

static struct stmt_cache *
stmt_cache_of(PGconn *c)
{
	size_t i, freeslot = STMT_CONNS;

	for (i = 0; i < STMT_CONNS; i++) {
		if (stmt_caches[i].conn == c)
			return &stmt_caches[i];
		if (stmt_caches[i].conn == NULL && freeslot == STMT_CONNS)
			freeslot = i;
	}
	if (freeslot == STMT_CONNS)
		return NULL;
	stmt_caches[freeslot].conn = c;
	stmt_caches[freeslot].n = 0;
	return &stmt_caches[freeslot];
}
static __thread char pg_last_state[6];   /* SQLSTATE of the last failure */

static void
conn_destroy(void *p)
{
	if (p != NULL) {
		stmt_forget(p);
		PQfinish(p);
	}
}

int
pii_pg_new(const char *conninfo, const char *application_name,
    int statement_timeout_ms, struct pii_pg **out)
{
	struct pii_pg *pg = calloc(1, sizeof(*pg));

	if (pg == NULL)
		return PII_ERR_NOMEM;
	pg->conninfo = strdup(conninfo);
	if (pg->conninfo == NULL || pthread_key_create(&pg->key, conn_destroy) != 0) {
		free(pg->conninfo);
		free(pg);
		return PII_ERR_NOMEM;
	}
	snprintf(pg->appname, sizeof(pg->appname), "%s",
	    application_name != NULL ? application_name : "piivault");
	snprintf(pg->timeout, sizeof(pg->timeout), "%d",
	    statement_timeout_ms > 0 ? statement_timeout_ms : 0);
	*out = pg;
	return 0;
}

void
pii_pg_free(struct pii_pg *pg)
{
	PGconn *c;

	if (pg == NULL)
		return;
	c = pthread_getspecific(pg->key);
	if (c != NULL) {
		stmt_forget(c);
		PQfinish(c);
		pthread_setspecific(pg->key, NULL);
	}
	pthread_key_delete(pg->key);
	free(pg->conninfo);
	free(pg);
}

const char *
pii_pg_last_error(void)
{
	return pg_last_error;
}

/* Keep the server's message for the log, except for data exceptions (22)
 * and integrity violations (23), whose messages quote values: of those only
 * the SQLSTATE is kept. */
static void
note_error_state(const char *state, const char *msg)
{
	size_t n;

	snprintf(pg_last_state, sizeof(pg_last_state), "%s",
	    state != NULL ? state : "");
	if (state != NULL && (strncmp(state, "22", 2) == 0 ||
	    strncmp(state, "23", 2) == 0))
		snprintf(pg_last_error, sizeof(pg_last_error), "SQLSTATE %s", state);
	else if (state != NULL)
		snprintf(pg_last_error, sizeof(pg_last_error), "SQLSTATE %s: %s",
		    state, msg != NULL ? msg : "");
	else
		snprintf(pg_last_error, sizeof(pg_last_error), "%s",
		    msg != NULL ? msg : "");
	n = strlen(pg_last_error);
	while (n > 0 && (pg_last_error[n - 1] == '\n' || pg_last_error[n - 1] == ' '))
		pg_last_error[--n] = '\0';
	for (n = 0; pg_last_error[n] != '\0'; n++)
		if (pg_last_error[n] == '\n' || pg_last_error[n] == '"')
			pg_last_error[n] = ' ';
}

static void
note_error(const char *msg)
{
	note_error_state(NULL, msg);
}

static void
quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

int
pii_pg_conn(struct pii_pg *pg, PGconn **out)
{
	PGconn *c = pthread_getspecific(pg->key);
	const char *keys[] = { "dbname", "application_name", "connect_timeout",
		"options", NULL };
	char options[64];
	const char *vals[5];

	/* An idle connection whose server went away (restart, failover)
	 * still says CONNECTION_OK until it is used: read what the server
	 * left on the socket (libpq's socket is non-blocking, so this never
	 * waits); a shutdown notice or EOF marks the connection bad. */
	if (c != NULL && PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) == PQTRANS_IDLE) {
		struct pollfd pfd;
		int i;

		/* the notice and the EOF may need separate reads */
		for (i = 0; i < 4; i++) {
			pfd.fd = PQsocket(c);
			pfd.events = POLLIN;
			pfd.revents = 0;
			if (pfd.fd < 0 || poll(&pfd, 1, 0) <= 0)
				break;
			if (PQconsumeInput(c) == 0 || PQstatus(c) != CONNECTION_OK)
				break;
		}
	}
	if (c != NULL && PQstatus(c) == CONNECTION_OK &&
	    PQtransactionStatus(c) != PQTRANS_UNKNOWN) {
		*out = c;
		return 0;
	}
	if (c != NULL) {
		stmt_forget(c);
		PQfinish(c);
		pthread_setspecific(pg->key, NULL);
	}
	snprintf(options, sizeof(options), "-c statement_timeout=%s", pg->timeout);
	vals[0] = pg->conninfo;
	vals[1] = pg->appname;
	vals[2] = "5";
	vals[3] = options;
	vals[4] = NULL;
	/* expand_dbname=1: the conninfo string supplies the rest; the keywords
	 * after it fill in only what it does not set... except that later
	 * keywords override, so connect_timeout and options win. */
	c = PQconnectdbParams(keys, vals, 1);
	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		note_error(c != NULL ? PQerrorMessage(c) : "out of memory");
		if (c != NULL)
			PQfinish(c);
		return PII_ERR_DB_UNAVAILABLE;
	}
	/* server notices ("already exists, skipping") are not for stderr */
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	pthread_setspecific(pg->key, c);
	*out = c;
	return 0;
}

int
pii_pg_still_open(struct pii_pg *pg, PGconn *c)
{
	return c != NULL && pthread_getspecific(pg->key) == c &&
	    PQstatus(c) == CONNECTION_OK;
}

int
pii_pg_fail(struct pii_pg *pg, PGconn *conn, const PGresult *res)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	note_error_state(state, res != NULL ? PQresultErrorField(res,
	    PG_DIAG_MESSAGE_PRIMARY) : PQerrorMessage(conn));
	if (PQstatus(conn) != CONNECTION_OK) {
		if (pthread_getspecific(pg->key) == conn) {
			stmt_forget(conn);
			PQfinish(conn);
			pthread_setspecific(pg->key, NULL);
		}
		return PII_ERR_DB_UNAVAILABLE;
	}
	if (state != NULL) {
		if (strcmp(state, "23505") == 0)
			return PII_ERR_CONFLICT;
		/* query_canceled (statement_timeout), lock_not_available,
		 * admin/crash shutdown, cannot_connect_now */
		if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0 ||
		    strncmp(state, "57P", 3) == 0 || strncmp(state, "08", 2) == 0)
			return PII_ERR_DB_UNAVAILABLE;
	}
	return PII_ERR_SQL;
}

int
pii_pg_exec(struct pii_pg *pg, PGconn *conn, const char *sql, int nparams,
    const char *const *params, PGresult **out)
{
	PGresult *res;
	ExecStatusType st;

	pg_last_state[0] = '\0';
	res = NULL;
	if (nparams > 0) {
		struct stmt_cache *sc = stmt_cache_of(conn);
		size_t i = 0;
		char name[32];

		while (sc != NULL && i < sc->n && (sc->sql[i] != sql ||
		    strcmp(sc->sql[i], sql) != 0))
			i++;
		if (sc != NULL && i == sc->n && sc->n < STMT_CACHE) {
			PGresult *pr;

			snprintf(name, sizeof(name), "piiv_%zu", i);
			pr = PQprepare(conn, name, sql, nparams, NULL);
			if (pr != NULL && PQresultStatus(pr) == PGRES_COMMAND_OK) {
				sc->sql[sc->n++] = sql;
				PQclear(pr);
			} else {
				/* its error is the statement's error */
				res = pr != NULL ? pr : PQmakeEmptyPGresult(conn,
				    PGRES_FATAL_ERROR);
				i = STMT_CACHE;
			}
		}
		if (res == NULL && sc != NULL && i < sc->n) {
			snprintf(name, sizeof(name), "piiv_%zu", i);
			res = PQexecPrepared(conn, name, nparams, params, NULL, NULL, 0);
		}
	}
	if (res == NULL)
		res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);
	st = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		int r = pii_pg_fail(pg, conn, res);

		PQclear(res);
		return r;
	}
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return 0;
}

int
pii_pg_last_transient(void)
{
	return strcmp(pg_last_state, "23505") == 0 ||
	    strcmp(pg_last_state, "40001") == 0 ||
	    strcmp(pg_last_state, "40P01") == 0;
}

/* COPY data goes out in pieces of at most this many bytes. */
#define COPY_CHUNK (256 * 1024)

int
pii_pg_copy_in(struct pii_pg *pg, PGconn *conn, const char *sql,
    const char *data, size_t len, long long *rows)
{
	PGresult *res;
	size_t off = 0;
	int r = 0;

	pg_last_state[0] = '\0';
	res = PQexecParams(conn, sql, 0, NULL, NULL, NULL, NULL, 0);
	if (res == NULL || PQresultStatus(res) != PGRES_COPY_IN) {
		r = pii_pg_fail(pg, conn, res);
		PQclear(res);
		/* a statement that unexpectedly produced no COPY state leaves
		 * nothing else pending; drain in case it did */
		while (PQstatus(conn) == CONNECTION_OK &&
		    (res = PQgetResult(conn)) != NULL)
			PQclear(res);
		return r != 0 ? r : PII_ERR_SQL;
	}
	PQclear(res);
	while (off < len) {
		size_t n = len - off < COPY_CHUNK ? len - off : COPY_CHUNK;

		if (PQputCopyData(conn, data + off, (int)n) != 1)
			break;
		off += n;
	}
	/* on a short send, end the COPY with an error so the server aborts it;
	 * the message names no data */
	if (PQputCopyEnd(conn, off < len ? "client could not send COPY data" :
	    NULL) != 1) {
		note_error(PQerrorMessage(conn));
		r = PII_ERR_DB_UNAVAILABLE;
	}
	while ((res = PQgetResult(conn)) != NULL) {
		if (r == 0 && PQresultStatus(res) != PGRES_COMMAND_OK)
			r = pii_pg_fail(pg, conn, res);
		else if (r == 0 && rows != NULL)
			*rows = strtoll(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		if (PQstatus(conn) != CONNECTION_OK)
			break;
	}
	if (r == 0 && off < len)
		r = PII_ERR_DB_UNAVAILABLE;
	if (r == 0 && PQstatus(conn) != CONNECTION_OK)
		r = pii_pg_fail(pg, conn, NULL);
	return r;
}

/* The statements of pii_pg_migrate that name the version table, per schema.
 * Constant text for each case: no identifier is ever spliced into SQL. */
struct schema_sql {
	const char *create;
	const char *current;
	const char *record;
	long long lock;
};

static const struct schema_sql schema_sql[] = {
	{ "CREATE TABLE IF NOT EXISTS vault_schema (version integer PRIMARY KEY,"
	  " applied_at timestamptz NOT NULL DEFAULT now())",
	  "SELECT coalesce(max(version), 0) FROM vault_schema",
	  "INSERT INTO vault_schema (version) VALUES ($1::integer)", 7233001 },
	{ "CREATE TABLE IF NOT EXISTS audit_schema (version integer PRIMARY KEY,"
	  " applied_at timestamptz NOT NULL DEFAULT now())",
	  "SELECT coalesce(max(version), 0) FROM audit_schema",
	  "INSERT INTO audit_schema (version) VALUES ($1::integer)", 7233002 },
	{ "CREATE TABLE IF NOT EXISTS proxy_schema (version integer PRIMARY KEY,"
	  " applied_at timestamptz NOT NULL DEFAULT now())",
	  "SELECT coalesce(max(version), 0) FROM proxy_schema",
	  "INSERT INTO proxy_schema (version) VALUES ($1::integer)", 7233003 },
};

int
pii_pg_migrate(struct pii_pg *pg, int which, const char *const *const *migrations,
    size_t nmigrations, int *version, struct pii_errinfo *ei)
{
	const struct schema_sql *ss;
	PGresult *res = NULL;
	PGconn *c;
	char v[24], lock[24];
	const char *p[1];
	long have = 0;
	size_t i, j;
	int r;

	if (which != PII_PG_SCHEMA_VAULT && which != PII_PG_SCHEMA_AUDIT &&
	    which != PII_PG_SCHEMA_PROXY)
		return PII_ERR_INTERNAL;
	ss = &schema_sql[which - 1];
	if ((r = pii_pg_conn(pg, &c)) != 0)
		return pii_errinfo_set(ei, r, NULL, "database unreachable: %s",
		    pii_pg_last_error());
	if ((r = pii_pg_exec(pg, c, "BEGIN", 0, NULL, NULL)) != 0)
		goto fail;
	snprintf(lock, sizeof(lock), "%lld", ss->lock);
	p[0] = lock;
	if ((r = pii_pg_exec(pg, c, "SELECT pg_advisory_xact_lock($1::bigint)", 1,
	    p, NULL)) != 0)
		goto fail;
	if ((r = pii_pg_exec(pg, c, ss->create, 0, NULL, NULL)) != 0)
		goto fail;
	if ((r = pii_pg_exec(pg, c, ss->current, 0, NULL, &res)) != 0)
		goto fail;
	have = strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	res = NULL;
	if (have > (long)nmigrations) {
		r = PII_ERR_CONFIG;
		pii_errinfo_set(ei, r, NULL, "database schema version %ld is newer "
		    "than this program (%zu); upgrade the program", have, nmigrations);
		PQclear(PQexec(c, "ROLLBACK"));
		return r;
	}
	for (i = (size_t)have; i < nmigrations; i++) {
		for (j = 0; migrations[i][j] != NULL; j++)
			if ((r = pii_pg_exec(pg, c, migrations[i][j], 0, NULL,
			    NULL)) != 0)
				goto fail;
		snprintf(v, sizeof(v), "%zu", i + 1);
		p[0] = v;
		if ((r = pii_pg_exec(pg, c, ss->record, 1, p, NULL)) != 0)
			goto fail;
	}
	if ((r = pii_pg_exec(pg, c, "COMMIT", 0, NULL, NULL)) != 0)
		goto fail;
	if (version != NULL)
		*version = (int)nmigrations;
	return 0;
fail:
	PQclear(res);
	if (pii_pg_still_open(pg, c))
		PQclear(PQexec(c, "ROLLBACK"));
	return pii_errinfo_set(ei, r, NULL, "schema migration failed: %s",
	    pii_pg_last_error());
}
