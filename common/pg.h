/*
 * pg.h - PostgreSQL connections: one PGconn per thread, reconnect on failure.
 *
 * A pii_pg names a database (a libpq connection string).  Each thread that
 * asks for a connection gets its own, opened on first use and reopened after
 * the server went away, so a database restart needs no daemon restart.
 * Statements go only through PQexecParams / PQexecPrepared with constant SQL
 * text: a statement with parameters is prepared once per connection, known
 * by its (constant) text.
 */
#ifndef PII_PG_H
#define PII_PG_H

#include <libpq-fe.h>

#include "err.h"

struct pii_pg;

/* conninfo is copied.  statement_timeout_ms bounds every statement (0: none).
 * *out is new; release with pii_pg_free (accepts NULL) after every thread
 * that used it has finished. */
int pii_pg_new(const char *conninfo, const char *application_name,
    int statement_timeout_ms, struct pii_pg **out);
void pii_pg_free(struct pii_pg *pg);

/* This thread's connection, connecting if needed.  Borrowed.
 * PII_ERR_DB_UNAVAILABLE if the server cannot be reached. */
int pii_pg_conn(struct pii_pg *pg, PGconn **out);
/* 1 if c is still this thread's open connection: a failed statement whose
 * connection broke closes it (pii_pg_fail), and then c must not be used. */
int pii_pg_still_open(struct pii_pg *pg, PGconn *c);

/* After a failed statement: if the connection is broken, drop it so the
 * next pii_pg_conn reconnects, and return PII_ERR_DB_UNAVAILABLE; otherwise
 * PII_ERR_SQL (or PII_ERR_CONFLICT for a unique violation, PII_ERR_DB_UNAVAILABLE
 * for a statement timeout or lock timeout). */
int pii_pg_fail(struct pii_pg *pg, PGconn *conn, const PGresult *res);

/* Run constant SQL with text parameters; *out (may be NULL) receives the
 * result on success (release with PQclear).  Errors as pii_pg_fail. */
int pii_pg_exec(struct pii_pg *pg, PGconn *conn, const char *sql, int nparams,
    const char *const *params, PGresult **out);

/* Run a constant `COPY ... FROM STDIN` statement with data (len bytes in
 * COPY text format) as its input; *rows (may be NULL) receives the rows
 * copied.  Errors as pii_pg_fail. */
int pii_pg_copy_in(struct pii_pg *pg, PGconn *conn, const char *sql,
    const char *data, size_t len, long long *rows);

/* 1 if this thread's last statement (pii_pg_exec, pii_pg_copy_in) failed in
 * a way that may pass when its transaction runs again: a unique violation
 * raced by a concurrent insert (23505), a serialization failure (40001) or
 * a deadlock (40P01). */
int pii_pg_last_transient(void);

/* The last server error message of this thread's failure, for the server log
 * (never for a client: it may quote data). */
const char *pii_pg_last_error(void);

/* Apply schema migrations in order, each a NULL-terminated list of constant
 * single statements, recording the version in the schema table of `which`
 * (PII_PG_SCHEMA_VAULT: vault_schema, PII_PG_SCHEMA_AUDIT: audit_schema,
 * PII_PG_SCHEMA_PROXY: proxy_schema).  Runs in one
 * transaction under an advisory lock, so concurrent starts are safe.
 * *version receives the schema version after the run. */
int pii_pg_migrate(struct pii_pg *pg, int which, const char *const *const *migrations,
    size_t nmigrations, int *version, struct pii_errinfo *ei);
#define PII_PG_SCHEMA_VAULT 1
#define PII_PG_SCHEMA_AUDIT 2
#define PII_PG_SCHEMA_PROXY 3

#endif
