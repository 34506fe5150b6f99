/*
 * vault_sql_test.c - the vault's hot SQL against a real PostgreSQL (TAP).
 *
 *   vault_sql_test CONNINFO
 *
 * CONNINFO names the vault's database, as the vault connects to it.  It
 * checks what a plan regression would silently cost: that the batch reveal
 * read (vault_reveal_batch_sql) and the detokenize read
 * (vault_detokenize_sql) settle on PostgreSQL's generic plan instead of
 * being planned afresh on every call, and that they still read the right
 * rows.
 *
 * Whether PostgreSQL settles depends on the tables' sizes (on a handful of
 * rows every form does), so the test reads its own data: temporary tables
 * of the same shape and 5,000 subjects, which shadow the real ones in its
 * session only (nothing real is read or written).  A control runs the same
 * read with the arrays as bare parameters, the form that replanned, and
 * must not settle: else the data cannot tell the two apart (a PostgreSQL
 * whose planner no longer replans the bare form fails the control, and the
 * test must then be rethought, not the check dropped).
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

#define SUBJECTS "5000"

static int
usage(void)
{
	fprintf(stderr,
	    "usage: vault_sql_test CONNINFO\n"
	    "Check the vault's batch reveal read against the vault database\n"
	    "CONNINFO names (on temporary tables of its own), e.g.\n"
	    "  vault_sql_test \"host=/tmp/ds/pg/sock port=5432 dbname=piiv_vault user=piiv_vault\"\n"
	    "Prints TAP lines; exit 0 if all passed, 1 if not, 2 on usage.\n");
	return 2;
}

/* The session's own copies of the tables the read joins (temporary tables
 * are searched first), filled and analyzed.  0 on success. */
static int
shadow_tables(struct pii_pg *pg, PGconn *c)
{
	static const char *const sql[] = {
		"CREATE TEMP TABLE subjects (LIKE subjects INCLUDING DEFAULTS"
		" INCLUDING CONSTRAINTS INCLUDING INDEXES)",
		"CREATE TEMP TABLE subject_keys (LIKE subject_keys INCLUDING ALL)",
		"CREATE TEMP TABLE pii_values (LIKE pii_values INCLUDING ALL)",
		"CREATE TEMP TABLE objections (LIKE objections INCLUDING ALL)",
		"INSERT INTO pg_temp.subjects (id, subject_token)"
		" SELECT g, 'tok_subject_v1_t' || g"
		" FROM generate_series(1, " SUBJECTS ") g",
		"INSERT INTO pg_temp.subject_keys (subject_id, kek_epoch, wrapped_dek)"
		" SELECT g, 1, '\\x00' FROM generate_series(1, " SUBJECTS ") g",
		"INSERT INTO pg_temp.pii_values (token, subject_id, category,"
		" ciphertext, source) SELECT 'tok_email_v1_t' || g, g, 'email',"
		" '\\x00', 'vault_sql_test' FROM generate_series(1, " SUBJECTS ") g",
		"INSERT INTO pg_temp.objections (subject_id, purpose)"
		" VALUES (2, 'marketing')",
		"ANALYZE pg_temp.subjects",
		"ANALYZE pg_temp.subject_keys",
		"ANALYZE pg_temp.pii_values",
		"ANALYZE pg_temp.objections",
	};
	PGresult *res = NULL;
	size_t i;
	int ok;

	for (i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
		if (pii_pg_exec(pg, c, sql[i], 0, NULL, NULL) != 0) {
			fprintf(stderr, "# %s\n", pii_pg_last_error());
			return -1;
		}
	/* unqualified names reach them (a search_path naming pg_temp last
	 * would send the read to the real tables) */
	if (pii_pg_exec(pg, c, "SELECT bool_and(n.nspname LIKE 'pg_temp%')"
	    " FROM unnest(ARRAY['subjects', 'subject_keys', 'pii_values',"
	    " 'objections']::regclass[]) AS t (r)"
	    " JOIN pg_class k ON k.oid = t.r"
	    " JOIN pg_namespace n ON n.oid = k.relnamespace", 0, NULL, &res) != 0)
		return -1;
	ok = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return ok ? 0 : -1;
}

/* sql, with each "(SELECT $n::text[])" for n in 1..arrays as the bare
 * "$n::text[]" (malloc'ed; NULL unless all were found). */
static char *
bare_form(const char *sql, int arrays)
{
	char *out = strdup(sql), pat[32], rep[16], *at;
	int n;

	for (n = 1; out != NULL && n <= arrays; n++) {
		snprintf(pat, sizeof(pat), "(SELECT $%d::text[])", n);
		snprintf(rep, sizeof(rep), "$%d::text[]", n);
		if ((at = strstr(out, pat)) == NULL) {
			free(out);
			return NULL;
		}
		memcpy(at, rep, strlen(rep));
		memmove(at + strlen(rep), at + strlen(pat),
		    strlen(at + strlen(pat)) + 1);
	}
	return out;
}

/* Run sql (with nparams p) 8 times (PostgreSQL tries five custom plans
 * before it may settle); then its plan counts.  *res gets the last result. */
static int
run8(struct pii_pg *pg, PGconn *c, const char *sql, int nparams,
    const char *const *p, PGresult **res, long long *generic,
    long long *custom)
{
	const char *q[1] = { sql };
	PGresult *st = NULL;
	int i;

	*generic = *custom = -1;
	for (i = 0; i < 8; i++) {
		PQclear(*res);
		*res = NULL;
		if (pii_pg_exec(pg, c, sql, nparams, p, res) != 0)
			return -1;
	}
	if (pii_pg_exec(pg, c, "SELECT generic_plans, custom_plans"
	    " FROM pg_prepared_statements WHERE statement = $1", 1, q, &st) != 0)
		return -1;
	if (PQntuples(st) == 1) {
		*generic = strtoll(PQgetvalue(st, 0, 0), NULL, 10);
		*custom = strtoll(PQgetvalue(st, 0, 1), NULL, 10);
	}
	PQclear(st);
	return 0;
}

int
main(int argc, char **argv)
{
	struct pii_pg *pg = NULL;
	PGconn *c = NULL;
	PGresult *res = NULL;
	const char *p[3] = {
		"{tok_subject_v1_t1,tok_subject_v1_nosuchsubject,tok_subject_v1_t2}",
		"{support,support,marketing}",
		"{\"{email}\",\"{email}\",\"{email,phone}\"}",
	};
	const char *dp[2] = { "{tok_email_v1_t2,tok_email_v1_t1,tok_email_v1_t2}",
		"marketing" };
	char *bare = bare_form(vault_reveal_batch_sql, 3);
	char *dbare = bare_form(vault_detokenize_sql, 1);
	long long generic, custom;
	int i, r, rows = 0, at[4] = { 0, 0, 0, 0 }, objected = 0, values = 0;

	if (argc != 2 || strcmp(argv[1], "--help") == 0) {
		free(bare);
		free(dbare);
		return usage();
	}
	if (pii_pg_new(argv[1], "vault_sql_test", 30000, &pg) != 0 ||
	    pii_pg_conn(pg, &c) != 0) {
		fprintf(stderr, "vault_sql_test: cannot connect: %s\n",
		    pii_pg_last_error());
		pii_pg_free(pg);
		free(bare);
		free(dbare);
		return 1;
	}
	CHECK(shadow_tables(pg, c) == 0, "temporary tables of " SUBJECTS
	    " subjects shadow the real ones");
	CHECK(bare != NULL, "the read passes its arrays as (SELECT $n::text[])");

	r = bare != NULL ? run8(pg, c, bare, 3, p, &res, &generic, &custom) : -1;
	CHECK(r == 0 && generic == 0 && custom == 8,
	    "control: with bare array parameters the read is planned afresh on "
	    "every call (%lld generic, %lld custom of 8)", generic, custom);

	r = run8(pg, c, vault_reveal_batch_sql, 3, p, &res, &generic, &custom);
	CHECK(r == 0 && generic >= 1 && custom <= 6,
	    "the batch reveal read settles on a generic plan (%lld generic, "
	    "%lld custom of 8)", generic, custom);
	if (r == 0) {
		/* q.i, s.id, s.status, kek_epoch, dek, objected, v.token, ... */
		rows = PQntuples(res);
		for (i = 0; i < rows; i++) {
			long long n = strtoll(PQgetvalue(res, i, 0), NULL, 10);

			if (n >= 1 && n <= 3)
				at[n]++;
			objected += n == 3 && strcmp(PQgetvalue(res, i, 5), "t") == 0;
			values += !PQgetisnull(res, i, 6);
		}
	}
	PQclear(res);
	res = NULL;
	CHECK(rows == 2 && at[1] == 1 && at[2] == 0 && at[3] == 1 &&
	    objected == 1 && values == 2,
	    "rows come back behind the reveal's number, none for an unknown "
	    "subject, the objection to its purpose seen (%d %d %d of %d rows)",
	    at[1], at[2], at[3], rows);

	/* the detokenize read: one array, the same way */
	CHECK(dbare != NULL, "the detokenize read passes its tokens as "
	    "(SELECT $1::text[])");
	r = dbare != NULL ? run8(pg, c, dbare, 2, dp, &res, &generic, &custom) :
	    -1;
	CHECK(r == 0 && generic == 0 && custom == 8,
	    "control: with a bare array parameter the detokenize read is planned "
	    "afresh on every call (%lld generic, %lld custom of 8)", generic,
	    custom);
	r = run8(pg, c, vault_detokenize_sql, 2, dp, &res, &generic, &custom);
	CHECK(r == 0 && generic >= 1 && custom <= 6,
	    "the detokenize read settles on a generic plan (%lld generic, %lld "
	    "custom of 8)", generic, custom);
	/* token, category, ciphertext, subject token, epoch, dek, objected */
	rows = r == 0 ? PQntuples(res) : -1;
	CHECK(rows == 2 &&
	    strcmp(PQgetvalue(res, 0, 0), "tok_email_v1_t1") == 0 &&
	    strcmp(PQgetvalue(res, 1, 0), "tok_email_v1_t2") == 0 &&
	    strcmp(PQgetvalue(res, 0, 6), "f") == 0 &&
	    strcmp(PQgetvalue(res, 1, 6), "t") == 0,
	    "detokenize: one row per distinct token, in token order, the "
	    "objection to its purpose seen (%d rows)", rows);
	PQclear(res);
	pii_pg_free(pg);
	free(bare);
	free(dbare);
	return TAP_DONE();
}
