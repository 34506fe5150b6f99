/*
 * vault_sql_test.c - the vault's hot SQL against a real PostgreSQL (TAP).
 *
 *   vault_sql_test CONNINFO
 *
 * CONNINFO names the vault's database, as the vault connects to it (read
 * only here: the test runs SELECTs).  It checks what a plan regression
 * would silently cost: that the batch reveal read (vault_reveal_batch_sql)
 * settles on PostgreSQL's generic plan instead of being planned again on
 * every call, and that it still reads each reveal's rows behind its number.
 *
 * Prints "ok - ..." / "not ok - ..." lines; exit 0 iff all passed, 1 if not,
 * 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "../../common/pg.h"
#include "../../vault/vault_server.h"
#include "../unit/tap.h"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: vault_sql_test CONNINFO\n"
	    "Check the vault's batch reveal read against the vault database\n"
	    "CONNINFO names (SELECTs only), e.g.\n"
	    "  vault_sql_test \"host=/tmp/ds/pg/sock port=5432 dbname=piiv_vault user=piiv_vault\"\n"
	    "Prints TAP lines; exit 0 if all passed, 1 if not, 2 on usage.\n");
	return 2;
}

int
main(int argc, char **argv)
{
	struct pii_pg *pg = NULL;
	PGconn *c = NULL;
	PGresult *res = NULL;
	char toks[512], purposes[] = "{support,support,support}",
	    cats[] = "{\"{email}\",\"{email}\",\"{email}\"}";
	const char *p[3];
	long long generic = -1, custom = -1;
	int i, rows = 0, ones = 0, twos = 0, threes = 0, ok = 1;

	if (argc != 2 || strcmp(argv[1], "--help") == 0)
		return usage();
	if (pii_pg_new(argv[1], "vault_sql_test", 10000, &pg) != 0 ||
	    pii_pg_conn(pg, &c) != 0) {
		fprintf(stderr, "vault_sql_test: cannot connect: %s\n",
		    pii_pg_last_error());
		pii_pg_free(pg);
		return 1;
	}
	/* two subjects that exist, and one that does not, in the middle */
	if (pii_pg_exec(pg, c, "SELECT string_agg(subject_token, ',')"
	    " FROM (SELECT subject_token FROM subjects ORDER BY id LIMIT 2) s",
	    0, NULL, &res) != 0 || PQntuples(res) != 1 ||
	    PQgetisnull(res, 0, 0) || strchr(PQgetvalue(res, 0, 0), ',') == NULL) {
		fprintf(stderr, "vault_sql_test: the database needs two subjects\n");
		PQclear(res);
		pii_pg_free(pg);
		return 1;
	}
	{
		const char *two = PQgetvalue(res, 0, 0);
		const char *comma = strchr(two, ',');

		snprintf(toks, sizeof(toks), "{%.*s,tok_subject_v1_nosuchsubject,%s}",
		    (int)(comma - two), two, comma + 1);
	}
	PQclear(res);
	res = NULL;
	p[0] = toks;
	p[1] = purposes;
	p[2] = cats;
	/* PostgreSQL tries five custom plans before it may settle */
	for (i = 0; i < 8; i++) {
		if (pii_pg_exec(pg, c, vault_reveal_batch_sql, 3, p, &res) != 0) {
			ok = 0;
			break;
		}
		if (i < 7)
			PQclear(res);
		else
			break;
	}
	CHECK(ok, "the batch reveal read runs (%s)", ok ? "8 times" :
	    pii_pg_last_error());
	if (ok) {
		rows = PQntuples(res);
		for (i = 0; i < rows; i++) {
			long long n = strtoll(PQgetvalue(res, i, 0), NULL, 10);

			ones += n == 1;
			twos += n == 2;
			threes += n == 3;
		}
	}
	PQclear(res);
	res = NULL;
	CHECK(ones >= 1 && threes >= 1 && twos == 0 && ones + threes == rows,
	    "rows come back behind the reveal's number, none for an unknown "
	    "subject (1: %d, 2: %d, 3: %d of %d)", ones, twos, threes, rows);
	{
		const char *q[1] = { vault_reveal_batch_sql };

		if (pii_pg_exec(pg, c, "SELECT generic_plans, custom_plans"
		    " FROM pg_prepared_statements WHERE statement = $1", 1, q,
		    &res) == 0 && PQntuples(res) == 1) {
			generic = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			custom = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
		}
		PQclear(res);
	}
	CHECK(generic >= 1 && custom <= 6,
	    "the batch reveal read settles on a generic plan (%lld generic, "
	    "%lld custom of 8 runs)", generic, custom);
	pii_pg_free(pg);
	return TAP_DONE();
}
