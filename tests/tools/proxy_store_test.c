/*
 * proxy_store_test.c - proxy/proxy_store.c against a real PostgreSQL (TAP).
 *
 *   proxy_store_test CONNINFO
 *
 * CONNINFO names a scratch database the test may migrate and write to
 * ("host=... port=... dbname=piiv_proxy_test user=postgres").  Every name
 * the test stores carries a random per-run suffix, so runs against one
 * database do not see each other's rows and nothing is dropped.  A second
 * libpq connection of its own reads and bends rows behind the store's back
 * (an expiry moved into the past, a sighting made two hours old).
 *
 * Prints "ok - ..." / "not ok - ..." lines; exit 0 iff all passed, 1 if not,
 * 2 on a usage error.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "../../proxy/proxy_store.h"
#include "../unit/tap.h"

static PGconn *db;          /* the test's own connection */
static char run[9];         /* per-run suffix of every stored name */

/* Server notices on the test's connection become TAP comments. */
static void
notice_comment(void *arg, const char *message)
{
	(void)arg;
	printf("# %s", message);
}

static int
usage(void)
{
	fprintf(stderr,
	    "usage: proxy_store_test CONNINFO\n"
	    "Exercise proxy_store (migrate, API keys, subject keys, rate limit,\n"
	    "grants) against the PostgreSQL database CONNINFO names, e.g.\n"
	    "  proxy_store_test \"host=/tmp/ps/pg/sock port=5432 dbname=piiv_proxy_test user=postgres\"\n"
	    "Prints TAP lines; exit 0 if all passed, 1 if not, 2 on usage.\n");
	return 2;
}

/* ---- the test's own SQL ---------------------------------------------- */

/* Run sql; the first cell of the first row into buf ("" if no row or
 * NULL).  0 on success. */
static int
sql1(const char *sql, int n, const char *const *p, char *buf, size_t cap)
{
	PGresult *res = PQexecParams(db, sql, n, NULL, p, NULL, NULL, 0);
	ExecStatusType s = res != NULL ? PQresultStatus(res) : PGRES_FATAL_ERROR;
	int r = -1;

	if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
		if (buf != NULL)
			snprintf(buf, cap, "%s", s == PGRES_TUPLES_OK &&
			    PQntuples(res) > 0 ? PQgetvalue(res, 0, 0) : "");
		r = 0;
	} else {
		printf("# sql failed: %s", PQerrorMessage(db));
	}
	PQclear(res);
	return r;
}

static long long
sql_count(const char *sql, int n, const char *const *p)
{
	char v[32];

	if (sql1(sql, n, p, v, sizeof(v)) != 0)
		return -1;
	return strtoll(v, NULL, 10);
}

static void
hex_of(const unsigned char *b, size_t n, char *out, size_t cap)
{
	sodium_bin2hex(out, cap, b, n);
}

/* 1 if s looks like "YYYY-MM-DDTHH:MM:SSZ". */
static int
rfc3339(const char *s)
{
	static const char shape[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	if (s == NULL || strlen(s) != sizeof(shape) - 1)
		return 0;
	for (i = 0; shape[i] != '\0'; i++)
		if (shape[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != shape[i])
			return 0;
	return 1;
}

/* user name "base-run" into buf */
static const char *
uname(char *buf, size_t cap, const char *base)
{
	snprintf(buf, cap, "%s-%s", base, run);
	return buf;
}

/* ---- migrate and open ------------------------------------------------- */

static void
test_schema(struct proxy_store *st, const char *conninfo)
{
	struct proxy_store *st2 = NULL, *bad = NULL;
	struct pii_errinfo ei;
	char fresh[8], k1[80], k2[80], v[32], want_v[32], newer[16], fn[8];
	const char *np[1];
	int r;

	pii_errinfo_clear(&ei);
	sql1("SELECT to_regclass('proxy_schema') IS NULL", 0, NULL, fresh,
	    sizeof(fresh));
	if (strcmp(fresh, "t") == 0) {
		r = proxy_store_open(st, &ei);
		CHECK(r == PII_ERR_CONFIG && strstr(ei.message, "pii-proxy migrate") != NULL,
		    "open before migrate: PII_ERR_CONFIG naming `pii-proxy migrate` (%d: %s)",
		    r, ei.message);
	} else {
		CHECK(1, "open before migrate # SKIP the database was migrated by an earlier run");
	}

	pii_errinfo_clear(&ei);
	r = proxy_store_migrate(st, &ei);
	CHECK(r == 0, "migrate (%d %s)", r, ei.message);
	sql1("SELECT encode(value, 'hex') FROM proxy_meta WHERE key = 'subject_hash_key'",
	    0, NULL, k1, sizeof(k1));
	CHECK(strlen(k1) == 64, "migrate made a 32-byte subject-hash key");
	r = proxy_store_migrate(st, &ei);
	CHECK(r == 0, "migrate again is idempotent (%d %s)", r, ei.message);
	sql1("SELECT encode(value, 'hex') FROM proxy_meta WHERE key = 'subject_hash_key'",
	    0, NULL, k2, sizeof(k2));
	CHECK(strcmp(k1, k2) == 0, "a second migrate keeps the subject-hash key");
	sql1("SELECT max(version) || '/' || count(*) FROM proxy_schema", 0, NULL, v,
	    sizeof(v));
	snprintf(want_v, sizeof(want_v), "%d/%d", PROXY_SCHEMA_VERSION,
	    PROXY_SCHEMA_VERSION);
	CHECK_STR(v, want_v, "proxy_schema records each version once");
	sql1("SELECT count(*) FROM pg_proc WHERE proname = 'proxy_rate_take'", 0,
	    NULL, fn, sizeof(fn));
	CHECK_STR(fn, "1", "migration 2 made proxy_rate_take()");
	sql1("SELECT array_to_string(p.proconfig, ';') = 'search_path=' ||"
	    " quote_ident(n.nspname) || ', pg_temp' FROM pg_proc p"
	    " JOIN pg_namespace n ON n.oid = p.pronamespace"
	    " WHERE p.proname = 'proxy_rate_take'", 0, NULL, fn, sizeof(fn));
	CHECK_STR(fn, "t", "migration 3 pinned proxy_rate_take()'s search_path "
	    "to its own schema, then pg_temp");

	r = proxy_store_new(conninfo, 0, &st2, &ei);
	CHECK(r == 0, "a second store");
	r = proxy_store_migrate(st2, &ei);
	sql1("SELECT encode(value, 'hex') FROM proxy_meta WHERE key = 'subject_hash_key'",
	    0, NULL, k2, sizeof(k2));
	CHECK(r == 0 && strcmp(k1, k2) == 0, "another store's migrate agrees on the key");

	pii_errinfo_clear(&ei);
	r = proxy_store_open(st, &ei);
	CHECK(r == 0, "open (%d %s)", r, ei.message);

	/* a schema newer than the program is refused */
	snprintf(newer, sizeof(newer), "%d", PROXY_SCHEMA_VERSION + 1);
	np[0] = newer;
	sql1("INSERT INTO proxy_schema (version) VALUES ($1::int)", 1, np, NULL, 0);
	pii_errinfo_clear(&ei);
	r = proxy_store_open(st2, &ei);
	CHECK(r == PII_ERR_CONFIG && strstr(ei.message, "newer") != NULL,
	    "open refuses a newer schema (%d: %s)", r, ei.message);
	r = proxy_store_migrate(st2, &ei);
	CHECK(r == PII_ERR_CONFIG, "migrate refuses a newer schema (%d)", r);
	sql1("DELETE FROM proxy_schema WHERE version = $1::int", 1, np, NULL, 0);
	r = proxy_store_open(st2, &ei);
	CHECK(r == 0, "open once the schema is current again");
	proxy_store_free(st2);

	CHECK(proxy_store_ping(st) == 0, "ping");

	/* a database that cannot be reached is PII_ERR_DB_UNAVAILABLE */
	r = proxy_store_new("host=127.0.0.1 port=1 dbname=none connect_timeout=2",
	    0, &bad, &ei);
	CHECK(r == 0, "a store for an unreachable database");
	if (r == 0) {
		unsigned char sk[PROXY_SUBJECT_KEY_BYTES] = { 1 };
		struct proxy_apikey a;
		json_t *j = NULL;

		CHECK(proxy_store_ping(bad) == PII_ERR_DB_UNAVAILABLE,
		    "unreachable: ping is PII_ERR_DB_UNAVAILABLE");
		r = proxy_store_open(bad, &ei);
		CHECK(r == PII_ERR_DB_UNAVAILABLE, "unreachable: open (%d)", r);
		r = proxy_apikey_check(bad, "piiv_key_aaaaaaaaaaaaaaaa_"
		    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", &a);
		CHECK(r == PII_ERR_DB_UNAVAILABLE, "unreachable: apikey_check (%d)", r);
		r = proxy_rate_take(bad, "someone", sk, 3);
		CHECK(r == PII_ERR_DB_UNAVAILABLE, "unreachable: rate_take (%d)", r);
		r = proxy_grant_covers(bad, "someone", sk, "email", "support", NULL);
		CHECK(r == PII_ERR_DB_UNAVAILABLE, "unreachable: grant_covers (%d)", r);
		r = proxy_grant_list(bad, NULL, "", 10, &j, &ei);
		CHECK(r == PII_ERR_DB_UNAVAILABLE && j == NULL,
		    "unreachable: grant_list (%d)", r);
	}
	proxy_store_free(bad);
	proxy_store_free(NULL);
	CHECK(1, "proxy_store_free accepts NULL");
}

/* ---- subject keys ----------------------------------------------------- */

static void
test_subject_key(struct proxy_store *st, const char *conninfo)
{
	unsigned char a[32], b[32], c[32], d[32], want[32], key[32], zero[32] = { 0 };
	struct proxy_store *st2 = NULL;
	struct pii_errinfo ei;
	crypto_generichash_state h;
	char khex[80];
	size_t kl = 0;
	int r;

	CHECK(proxy_subject_key(st, "ref", "user:12345", a) == 0 &&
	    proxy_subject_key(st, "ref", "user:12345", b) == 0 &&
	    memcmp(a, b, 32) == 0, "subject key: same subject, same key");
	CHECK(proxy_subject_key(st, "token", "user:12345", c) == 0 &&
	    memcmp(a, c, 32) != 0, "subject key: kinds are kept apart");
	CHECK(proxy_subject_key(st, "ref", "user:12346", d) == 0 &&
	    memcmp(a, d, 32) != 0, "subject key: another subject, another key");
	CHECK(memcmp(a, zero, 32) != 0, "subject key is not all zero");

	/* known answer: BLAKE2b-256 keyed with proxy_meta's key over "ref\0user:12345" */
	sql1("SELECT encode(value, 'hex') FROM proxy_meta WHERE key = 'subject_hash_key'",
	    0, NULL, khex, sizeof(khex));
	sodium_hex2bin(key, sizeof(key), khex, strlen(khex), NULL, &kl, NULL);
	crypto_generichash_init(&h, key, sizeof(key), sizeof(want));
	crypto_generichash_update(&h, (const unsigned char *)"ref\0user:12345", 14);
	crypto_generichash_final(&h, want, sizeof(want));
	CHECK(kl == 32 && memcmp(a, want, 32) == 0,
	    "subject key is BLAKE2b-256(key, \"ref\\0subject\")");

	r = proxy_store_new(conninfo, 0, &st2, &ei);
	if (r == 0)
		r = proxy_store_open(st2, &ei);
	CHECK(r == 0 && proxy_subject_key(st2, "ref", "user:12345", b) == 0 &&
	    memcmp(a, b, 32) == 0, "subject key: another store, same key");
	proxy_store_free(st2);
	st2 = NULL;
	r = proxy_store_new(conninfo, 0, &st2, &ei);
	CHECK(r == 0 && proxy_subject_key(st2, "ref", "user:12345", b) < 0,
	    "subject key before open is refused");
	proxy_store_free(st2);

	CHECK(proxy_subject_key(st, "email", "user:12345", b) < 0,
	    "subject key: unknown kind refused");
	CHECK(proxy_subject_key(st, "ref", "", b) < 0,
	    "subject key: empty subject refused");
}

/* ---- API keys --------------------------------------------------------- */

struct bad_key {
	const char *name;
	char key[128];
};

static void
test_apikeys(struct proxy_store *st)
{
	char key[PROXY_APIKEY_MAX], id[PROXY_ID_MAX], id2[PROXY_ID_MAX], user[64];
	char k2[PROXY_APIKEY_MAX], buf[256], h[80], long_user[200], long_role[80];
	unsigned char secret[32], hash[32];
	const char *secret64, *p[2];
	struct bad_key bad[24];
	struct proxy_apikey a;
	struct pii_errinfo ei;
	json_t *list = NULL, *o;
	size_t i, nbad = 0, sl = 0;
	int r, found;
	static const char b64[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

	pii_errinfo_clear(&ei);
	uname(user, sizeof(user), "alice");
	r = proxy_apikey_create(st, user, "analyst", key, sizeof(key), id, &ei);
	CHECK(r == 0, "apikey create (%d %s)", r, ei.message);
	CHECK(strlen(key) == 69 && strncmp(key, "piiv_key_", 9) == 0 && key[25] == '_',
	    "apikey: piiv_key_ + 16 + _ + 43 characters");
	CHECK(strlen(id) == 16 && strspn(id, "abcdefghijklmnopqrstuvwxyz234567") == 16 &&
	    strncmp(key + 9, id, 16) == 0, "apikey id: 16 lowercase base32 characters, in the key");
	secret64 = key + 26;
	CHECK(strspn(secret64, b64) == 43, "apikey secret: 43 base64url characters");

	/* only SHA-256 of the decoded secret is stored */
	sodium_base642bin(secret, sizeof(secret), secret64, 43, NULL, &sl, NULL,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	crypto_hash_sha256(hash, secret, sizeof(secret));
	hex_of(hash, 32, h, sizeof(h));
	p[0] = id;
	sql1("SELECT encode(secret_sha256, 'hex') FROM api_keys WHERE id = $1", 1, p,
	    buf, sizeof(buf));
	CHECK(sl == 32 && strcmp(buf, h) == 0, "api_keys holds SHA-256(secret)");
	p[1] = secret64;
	CHECK(sql_count("SELECT count(*) FROM api_keys WHERE id = $1 AND"
	    " position($2 in row(api_keys.*)::text) > 0", 2, p) == 0,
	    "api_keys does not hold the secret");

	memset(&a, 0, sizeof(a));
	r = proxy_apikey_check(st, key, &a);
	CHECK(r == 0, "apikey check: the key (%d)", r);
	CHECK_STR(a.user, user, "apikey check: user");
	CHECK_STR(a.role, "analyst", "apikey check: role");
	CHECK_STR(a.id, id, "apikey check: id");
	CHECK(a.revoked == 0 && rfc3339(a.created_at) && rfc3339(a.last_used_at),
	    "apikey check: created_at, last_used_at RFC 3339 (%s, %s)", a.created_at,
	    a.last_used_at);

	/* last_used_at moves at most once a minute */
	sql1("UPDATE api_keys SET last_used_at = '2000-01-01Z' WHERE id = $1", 1, p,
	    NULL, 0);
	r = proxy_apikey_check(st, key, &a);
	CHECK(r == 0 && strncmp(a.last_used_at, "2000", 4) != 0 &&
	    sql_count("SELECT count(*) FROM api_keys WHERE id = $1 AND"
	    " last_used_at > now() - interval '1 minute'", 1, p) == 1,
	    "apikey check: a stale last_used_at is moved to now");
	sql1("UPDATE api_keys SET last_used_at = now() - interval '30 seconds'"
	    " WHERE id = $1 RETURNING last_used_at::text", 1, p, h, sizeof(h));
	r = proxy_apikey_check(st, key, &a);
	sql1("SELECT last_used_at::text FROM api_keys WHERE id = $1", 1, p, buf,
	    sizeof(buf));
	CHECK(r == 0 && strcmp(buf, h) == 0,
	    "apikey check: a last_used_at under a minute old is left alone");

	/* wrong secret: one character changed */
	snprintf(k2, sizeof(k2), "%s", key);
	k2[40] = k2[40] == 'A' ? 'B' : 'A';
	CHECK(proxy_apikey_check(st, k2, &a) == PII_ERR_UNAUTHENTICATED,
	    "apikey check: wrong secret refused");

	/* malformed keys, each a row */
#define BAD(n, ...) do { bad[nbad].name = (n); \
	snprintf(bad[nbad].key, sizeof(bad[nbad].key), __VA_ARGS__); nbad++; } while (0)
	BAD("empty", "%s", "");
	BAD("prefix only", "piiv_key_");
	BAD("wrong prefix", "piiv_kez_%s", key + 9);
	BAD("upper-case prefix", "PIIV_KEY_%s", key + 9);
	BAD("no prefix", "%s", key + 9);
	BAD("one character short", "%.*s", 68, key);
	BAD("one character long", "%sA", key);
	BAD("padding added", "%s=", key);
	BAD("trailing newline", "%s\n", key);
	BAD("leading space", " %s", key);
	BAD("separator not _", "%.25s-%s", key, key + 26);
	BAD("id upper case", "piiv_key_%c%s", key[9] >= 'a' && key[9] <= 'z' ?
	    key[9] - 'a' + 'A' : 'Q', key + 10);
	BAD("id with 1 (not base32)", "piiv_key_1%s", key + 10);
	BAD("id with 0 (not base32)", "piiv_key_0%s", key + 10);
	BAD("secret with +", "%.26s+%s", key, key + 27);
	BAD("secret with /", "%.26s/%s", key, key + 27);
	BAD("secret with =", "%.68s=", key);
	BAD("secret with space", "%.30s %s", key, key + 31);
	/* the same secret spelled with non-zero padding bits */
	{
		const char *pos = strchr(b64, key[68]);
		size_t ix = pos != NULL ? (size_t)(pos - b64) : 0;

		BAD("secret with non-zero padding bits", "%.68s%c", key, b64[ix | 1]);
	}
	BAD("id and secret swapped", "piiv_key_%s_%.16s", secret64, id);
	for (i = 0; i < nbad; i++)
		CHECK(proxy_apikey_check(st, bad[i].key, &a) == PII_ERR_UNAUTHENTICATED,
		    "apikey check refuses a malformed key: %s", bad[i].name);
	CHECK(proxy_apikey_check(st, NULL, &a) == PII_ERR_UNAUTHENTICATED,
	    "apikey check refuses NULL");
	/* a key of the right shape whose id is unknown */
	snprintf(k2, sizeof(k2), "piiv_key_%s_%s", "zzzzzzzzzzzzzzzz", secret64);
	CHECK(proxy_apikey_check(st, k2, &a) == PII_ERR_UNAUTHENTICATED,
	    "apikey check: unknown id refused");

	/* a second key: list, then revoke the first */
	r = proxy_apikey_create(st, user, "support_lead", k2, sizeof(k2), id2, &ei);
	CHECK(r == 0 && strcmp(id, id2) != 0, "apikey: a second key, another id");
	CHECK(proxy_apikey_create(st, user, "analyst", buf, 40, id2, &ei) < 0,
	    "apikey create: a buffer too small is refused");

	r = proxy_apikey_list(st, &list, &ei);
	CHECK(r == 0 && json_is_array(list), "apikey list");
	found = 0;
	json_array_foreach(list, i, o) {
		if (strcmp(json_string_value(json_object_get(o, "id")), id) != 0)
			continue;
		found = 1;
		CHECK(json_object_size(o) == 6 &&
		    strcmp(json_string_value(json_object_get(o, "user")), user) == 0 &&
		    strcmp(json_string_value(json_object_get(o, "role")), "analyst") == 0 &&
		    rfc3339(json_string_value(json_object_get(o, "created_at"))) &&
		    rfc3339(json_string_value(json_object_get(o, "last_used_at"))) &&
		    json_is_false(json_object_get(o, "revoked")),
		    "apikey list: id, user, role, created_at, last_used_at, revoked and nothing else");
	}
	CHECK(found, "apikey list has the key");
	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "id")), id2) == 0)
			CHECK(json_is_null(json_object_get(o, "last_used_at")),
			    "apikey list: last_used_at null for a key never used");
	json_decref(list);
	list = NULL;

	r = proxy_apikey_revoke(st, id, &ei);
	CHECK(r == 0, "apikey revoke");
	CHECK(proxy_apikey_check(st, key, &a) == PII_ERR_UNAUTHENTICATED,
	    "apikey check: revoked key refused");
	CHECK(proxy_apikey_check(st, k2, &a) == 0, "apikey check: the other key still works");
	CHECK(proxy_apikey_revoke(st, id, &ei) == 0, "apikey revoke twice is 0");
	CHECK(proxy_apikey_revoke(st, "zzzzzzzzzzzzzzzz", &ei) == PII_ERR_NOT_FOUND,
	    "apikey revoke: unknown id is PII_ERR_NOT_FOUND");
	CHECK(proxy_apikey_revoke(st, "not an id", &ei) == PII_ERR_NOT_FOUND,
	    "apikey revoke: malformed id is PII_ERR_NOT_FOUND");
	r = proxy_apikey_list(st, &list, &ei);
	found = 0;
	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
			found = json_is_true(json_object_get(o, "revoked"));
	CHECK(r == 0 && found, "apikey list shows the key revoked");
	json_decref(list);

	/* user and role rules */
	memset(long_user, 'u', 127);
	long_user[127] = '\0';
	memset(long_role, 'r', 63);
	long_role[63] = '\0';
	CHECK(proxy_apikey_create(st, long_user, long_role, buf, sizeof(buf), id2,
	    &ei) == 0, "apikey create: 127-character user, 63-character role");
	{
		static const struct { const char *user, *role, *field; } rows[] = {
			{ "", "analyst", "user" },
			{ "a\"b", "analyst", "user" },
			{ "a\\b", "analyst", "user" },
			{ "a\nb", "analyst", "user" },
			{ "caf\xc3\xa9", "analyst", "user" },
			{ NULL, "analyst", "user" },
			{ "bob", "", "role" },
			{ "bob", "Analyst", "role" },
			{ "bob", "data-analyst", "role" },
			{ "bob", "a b", "role" },
			{ "bob", NULL, "role" },
		};

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			pii_errinfo_clear(&ei);
			r = proxy_apikey_create(st, rows[i].user, rows[i].role, buf,
			    sizeof(buf), id2, &ei);
			CHECK(r == PII_ERR_BAD_REQUEST && strcmp(ei.field, rows[i].field) == 0 &&
			    ei.message[0] != '\0',
			    "apikey create refuses a bad %s (row %zu)", rows[i].field, i);
		}
		long_user[127] = 'u';
		long_user[128] = '\0';
		CHECK(proxy_apikey_create(st, long_user, "analyst", buf, sizeof(buf),
		    id2, &ei) == PII_ERR_BAD_REQUEST, "apikey create: 128-character user refused");
		long_role[63] = 'r';
		long_role[64] = '\0';
		CHECK(proxy_apikey_create(st, "bob", long_role, buf, sizeof(buf),
		    id2, &ei) == PII_ERR_BAD_REQUEST, "apikey create: 64-character role refused");
	}
	sodium_memzero(key, sizeof(key));
	sodium_memzero(k2, sizeof(k2));
#undef BAD
}

/* ---- rate limit ------------------------------------------------------- */

struct rate_worker {
	struct proxy_store *st;
	const char *user;
	int base;
	int ok, limited, other;
};

static void *
rate_worker(void *arg)
{
	struct rate_worker *w = arg;
	unsigned char sk[32];
	char s[64];
	int i, r;

	for (i = 0; i < 5; i++) {
		snprintf(s, sizeof(s), "user:c%d", w->base + i);
		if (proxy_subject_key(w->st, "ref", s, sk) != 0) {
			w->other++;
			continue;
		}
		r = proxy_rate_take(w->st, w->user, sk, 10);
		if (r == 0)
			w->ok++;
		else if (r == PII_ERR_RATE_LIMITED)
			w->limited++;
		else
			w->other++;
	}
	return NULL;
}

static void
test_rate(struct proxy_store *st)
{
	unsigned char s[6][32];
	char ua[64], ub[64], uc[64], ud[64], name[64], hex[80];
	struct rate_worker w[8];
	pthread_t t[8];
	const char *p[2];
	int i, r;

	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "user:r%d", i);
		proxy_subject_key(st, "ref", name, s[i]);
	}
	uname(ua, sizeof(ua), "ra");
	uname(ub, sizeof(ub), "rb");
	uname(uc, sizeof(uc), "rc");
	uname(ud, sizeof(ud), "rd");
	p[0] = ua;

	for (i = 0; i < 3; i++) {
		r = proxy_rate_take(st, ua, s[i], 3);
		CHECK(r == 0, "rate limit 3: distinct subject %d allowed (%d)", i + 1, r);
	}
	CHECK(proxy_rate_take(st, ua, s[0], 3) == 0,
	    "rate limit 3: a subject seen this hour is allowed again");
	CHECK(proxy_rate_take(st, ua, s[3], 3) == PII_ERR_RATE_LIMITED,
	    "rate limit 3: a fourth subject is refused");
	CHECK(sql_count("SELECT count(*) FROM subject_views WHERE user_name = $1", 1,
	    p) == 3, "rate limit: a refusal records nothing");
	CHECK(proxy_rate_take(st, ub, s[3], 3) == 0,
	    "rate limit: another user is not affected");
	for (i = 0; i < 6; i++) {
		r = proxy_rate_take(st, uc, s[i], 0);
		CHECK(r == 0, "limit 0: subject %d allowed (%d)", i + 1, r);
	}
	p[0] = uc;
	CHECK(sql_count("SELECT count(*) FROM subject_views WHERE user_name = $1", 1,
	    p) == 6, "limit 0: every sighting recorded");
	CHECK(sql_count("SELECT count(*) FROM subject_views WHERE user_name = $1"
	    " AND length(subject_key) = 32", 1, p) == 6,
	    "subject_views holds 32-byte subject keys");

	/* a repeat moves seen_at */
	p[0] = ua;
	hex_of(s[1], 32, hex, sizeof(hex));
	p[1] = hex;
	sql1("UPDATE subject_views SET seen_at = now() - interval '30 minutes'"
	    " WHERE user_name = $1 AND subject_key = decode($2, 'hex')", 2, p, NULL, 0);
	CHECK(proxy_rate_take(st, ua, s[1], 3) == 0 &&
	    sql_count("SELECT count(*) FROM subject_views WHERE user_name = $1 AND"
	    " subject_key = decode($2, 'hex') AND seen_at > now() - interval '1 minute'",
	    2, p) == 1, "rate limit: a repeat sighting moves seen_at");

	/* a sighting older than the hour no longer counts, and is cleared */
	hex_of(s[0], 32, hex, sizeof(hex));
	sql1("UPDATE subject_views SET seen_at = now() - interval '2 hours'"
	    " WHERE user_name = $1 AND subject_key = decode($2, 'hex')", 2, p, NULL, 0);
	CHECK(proxy_rate_take(st, ua, s[3], 3) == 0,
	    "rate limit: a sighting two hours old frees its place");
	CHECK(sql_count("SELECT count(*) FROM subject_views WHERE user_name = $1", 1,
	    p) == 3 && sql_count("SELECT count(*) FROM subject_views WHERE"
	    " user_name = $1 AND subject_key = decode($2, 'hex')", 2, p) == 0,
	    "rate limit: the old sighting was deleted");
	CHECK(proxy_rate_take(st, ua, s[0], 3) == PII_ERR_RATE_LIMITED,
	    "rate limit: the old subject is new again, and refused");

	CHECK(proxy_rate_take(st, ua, s[0], -1) == PII_ERR_BAD_REQUEST,
	    "rate limit: a negative limit is refused");
	CHECK(proxy_rate_take(st, "bad\nuser", s[0], 3) == PII_ERR_BAD_REQUEST &&
	    proxy_rate_take(st, "", s[0], 3) == PII_ERR_BAD_REQUEST &&
	    proxy_rate_take(st, "caf\xe9", s[0], 3) == PII_ERR_BAD_REQUEST,
	    "rate limit: a bad user name is refused (control, empty, not UTF-8)");
	uname(name, sizeof(name), "Jos\xc3\xa9 \"JJ\" O'Brien \\");
	CHECK(proxy_rate_take(st, name, s[0], 3) == 0 && proxy_rate_take(st, name,
	    s[1], 1) == PII_ERR_RATE_LIMITED,
	    "rate limit: a token's user name (UTF-8, quotes) is taken as it is");

	/* 8 threads, 5 distinct subjects each, one user, limit 10 */
	for (i = 0; i < 8; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].st = st;
		w[i].user = ud;
		w[i].base = i * 5;
		pthread_create(&t[i], NULL, rate_worker, &w[i]);
	}
	r = 0;
	{
		int ok = 0, limited = 0, other = 0;

		for (i = 0; i < 8; i++) {
			pthread_join(t[i], NULL);
			ok += w[i].ok;
			limited += w[i].limited;
			other += w[i].other;
		}
		p[0] = ud;
		CHECK(ok == 10 && limited == 30 && other == 0,
		    "concurrent rate_take: exactly 10 of 40 allowed (%d ok, %d limited, %d other)",
		    ok, limited, other);
		CHECK(sql_count("SELECT count(*) FROM subject_views WHERE user_name = $1",
		    1, p) == 10, "concurrent rate_take: 10 sightings recorded");
	}
}

/* proxy_rate_take reads its own schema's table whatever the caller's
 * search_path puts first: here a schema named after the role ("$user",
 * first on the default path) holding a decoy subject_views. */
static void
test_rate_search_path(struct proxy_store *st, const char *conninfo)
{
	struct proxy_store *st3 = NULL;
	struct pii_errinfo ei;
	unsigned char sk[32];
	char uf[64], made[8];
	const char *p[1];
	int r;

	uname(uf, sizeof(uf), "rf");
	p[0] = uf;
	proxy_subject_key(st, "ref", "user:sp1", sk);
	sql1("DO $$ BEGIN"
	    " EXECUTE format('CREATE SCHEMA %I', current_user);"
	    " EXECUTE format('CREATE TABLE %I.subject_views"
	    "  (LIKE public.subject_views INCLUDING ALL)', current_user);"
	    " END $$", 0, NULL, NULL, 0);
	sql1("SELECT to_regclass(quote_ident(current_user) || '.subject_views')"
	    " IS NOT NULL", 0, NULL, made, sizeof(made));
	CHECK_STR(made, "t", "a decoy subject_views in the role's own schema");
	r = proxy_store_new(conninfo, 0, &st3, &ei);
	CHECK(r == 0 && proxy_rate_take(st3, uf, sk, 3) == 0,
	    "a fresh store's rate_take with the decoy first on its path");
	CHECK(sql_count("SELECT count(*) FROM public.subject_views"
	    " WHERE user_name = $1", 1, p) == 1,
	    "the sighting went to the proxy schema's subject_views");
	proxy_store_free(st3);
	/* the decoy's count last: the query reads it through current_user */
	sql1("DO $$ DECLARE n bigint; BEGIN"
	    " EXECUTE format('SELECT count(*) FROM %I.subject_views',"
	    "  current_user) INTO n;"
	    " IF n <> 0 THEN RAISE EXCEPTION 'decoy holds % rows', n; END IF;"
	    " EXECUTE format('DROP SCHEMA %I CASCADE', current_user);"
	    " END $$", 0, NULL, NULL, 0);
	sql1("SELECT to_regclass(quote_ident(current_user) || '.subject_views')"
	    " IS NULL", 0, NULL, made, sizeof(made));
	CHECK_STR(made, "t", "the decoy stayed empty (and is gone)");
}

/* A statement timeout inside rate_take's transaction (another session holds
 * the user's lock) must leave the connection usable, the lock released; a
 * server that dropped the connection is reconnected to. */
static void
test_rate_failures(struct proxy_store *st, const char *conninfo)
{
	struct proxy_store *slow = NULL;
	struct pii_errinfo ei;
	unsigned char sk[32];
	char ue[64], killed[16];
	const char *p[1];
	int r, r2;

	uname(ue, sizeof(ue), "re");
	p[0] = ue;
	proxy_subject_key(st, "ref", "user:t1", sk);
	r = proxy_store_new(conninfo, 300, &slow, &ei);
	CHECK(r == 0 && proxy_rate_take(slow, ue, sk, 3) == 0,
	    "a store with a 300 ms statement timeout");
	sql1("BEGIN", 0, NULL, NULL, 0);
	sql1("SELECT pg_advisory_xact_lock(7233010, hashtext($1))", 1, p, NULL, 0);
	/* a subject not seen yet: a recent sighting would need no lock */
	proxy_subject_key(st, "ref", "user:t2", sk);
	r = proxy_rate_take(slow, ue, sk, 3);
	CHECK(r == PII_ERR_DB_UNAVAILABLE,
	    "rate_take waiting past the statement timeout is PII_ERR_DB_UNAVAILABLE (%d)", r);
	CHECK(sql_count("SELECT count(*) FROM pg_stat_activity WHERE application_name ="
	    " 'pii-proxy' AND datname = current_database() AND state <> 'idle'", 0,
	    NULL) == 0, "the timed-out transaction was rolled back at once");
	sql1("COMMIT", 0, NULL, NULL, 0);
	r = proxy_rate_take(slow, ue, sk, 3);
	CHECK(r == 0, "rate_take after a timeout works on the same store (%d)", r);
	CHECK(sql_count("SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a"
	    " USING (pid) WHERE l.locktype = 'advisory' AND a.application_name ="
	    " 'pii-proxy' AND a.datname = current_database()", 0, NULL) == 0,
	    "no advisory lock is left held");
	proxy_store_free(slow);

	/* the server ends the store's connections */
	sql1("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE"
	    " application_name = 'pii-proxy' AND datname = current_database()", 0,
	    NULL, killed, sizeof(killed));
	r = proxy_rate_take(st, ue, sk, 3);
	r2 = proxy_rate_take(st, ue, sk, 3);
	CHECK(strcmp(killed, "0") != 0 && (r == 0 || r == PII_ERR_DB_UNAVAILABLE) &&
	    r2 == 0, "rate_take reconnects after the server dropped its connection"
	    " (%s killed; %d then %d)", killed, r, r2);
}

/* ---- grants ----------------------------------------------------------- */

static void
grant_init(struct proxy_grant *g, const char *requester,
    const unsigned char sk[32])
{
	memset(g, 0, sizeof(*g));
	snprintf(g->requester, sizeof(g->requester), "%s", requester);
	snprintf(g->requester_role, sizeof(g->requester_role), "analyst");
	memcpy(g->subject_key, sk, 32);
	snprintf(g->categories[0], sizeof(g->categories[0]), "email");
	snprintf(g->categories[1], sizeof(g->categories[1]), "phone");
	g->ncategories = 2;
	snprintf(g->purpose, sizeof(g->purpose), "fraud_investigation");
	snprintf(g->ticket, sizeof(g->ticket), "TCK-1234");
	snprintf(g->reason, sizeof(g->reason), "customer called \xe2\x80\x93 caf\xc3\xa9");
	g->minutes = 30;
}

/* The object of list whose id is id (borrowed), or NULL. */
static json_t *
find_id(json_t *list, const char *id)
{
	json_t *o;
	size_t i;

	json_array_foreach(list, i, o)
		if (strcmp(json_string_value(json_object_get(o, "id")), id) == 0)
			return o;
	return NULL;
}

static void
test_grants(struct proxy_store *st)
{
	static const char *const keys[] = { "id", "requester", "requester_role",
		"categories", "purpose", "ticket", "reason", "minutes", "status",
		"approver", "created_at", "decided_at", "expires_at", "expired", NULL };
	unsigned char s1[32], s2[32];
	char req[64], boss[64], other[64], id[PROXY_ID_MAX], id2[PROXY_ID_MAX];
	char cid[PROXY_ID_MAX];
	struct proxy_grant g, got;
	struct pii_errinfo ei;
	json_t *list = NULL, *o;
	const char *p[1];
	size_t i;
	int r, ok;

	pii_errinfo_clear(&ei);
	proxy_subject_key(st, "ref", "user:g1", s1);
	proxy_subject_key(st, "ref", "user:g2", s2);
	uname(req, sizeof(req), "requester");
	uname(boss, sizeof(boss), "approver");
	uname(other, sizeof(other), "other");

	grant_init(&g, req, s1);
	r = proxy_grant_create(st, &g, id, &ei);
	CHECK(r == 0, "grant create (%d %s)", r, ei.message);
	CHECK(strlen(id) == 27 && strncmp(id, "gr_", 3) == 0 &&
	    strspn(id + 3, "abcdefghijklmnopqrstuvwxyz234567") == 24,
	    "grant id: gr_ + 24 lowercase base32 characters");

	r = proxy_grant_get(st, id, &got, &ei);
	CHECK(r == 0, "grant get (%d)", r);
	CHECK_STR(got.id, id, "grant get: id");
	CHECK_STR(got.requester, req, "grant get: requester");
	CHECK_STR(got.requester_role, "analyst", "grant get: requester_role");
	CHECK(memcmp(got.subject_key, s1, 32) == 0, "grant get: subject key");
	CHECK(got.ncategories == 2 && strcmp(got.categories[0], "email") == 0 &&
	    strcmp(got.categories[1], "phone") == 0, "grant get: categories in order");
	CHECK_STR(got.purpose, "fraud_investigation", "grant get: purpose");
	CHECK_STR(got.ticket, "TCK-1234", "grant get: ticket");
	CHECK_STR(got.reason, g.reason, "grant get: reason (UTF-8)");
	CHECK(got.minutes == 30, "grant get: minutes");
	CHECK_STR(got.status, "requested", "grant get: status requested");
	CHECK(got.approver[0] == '\0' && got.decided_at[0] == '\0' &&
	    got.expires_at[0] == '\0' && got.expired == 0 && rfc3339(got.created_at),
	    "grant get: undecided (no approver, decided_at, expires_at)");
	CHECK(proxy_grant_get(st, "gr_zzzzzzzzzzzzzzzzzzzzzzzz", &got, &ei) ==
	    PII_ERR_NOT_FOUND, "grant get: unknown id is PII_ERR_NOT_FOUND");
	CHECK(proxy_grant_get(st, "nonsense", &got, &ei) == PII_ERR_NOT_FOUND,
	    "grant get: malformed id is PII_ERR_NOT_FOUND");

	CHECK(proxy_grant_covers(st, req, s1, "email", "fraud_investigation", cid) == 0,
	    "grant covers: not before approval");

	pii_errinfo_clear(&ei);
	r = proxy_grant_decide(st, id, req, 1, &ei);
	CHECK(r == PII_ERR_FORBIDDEN && strcmp(ei.message,
	    "a grant cannot be approved by its requester") == 0,
	    "grant decide: self-approval is PII_ERR_FORBIDDEN (%d %s)", r, ei.message);
	CHECK(proxy_grant_decide(st, id, req, 0, &ei) == PII_ERR_FORBIDDEN,
	    "grant decide: self-denial is PII_ERR_FORBIDDEN");
	CHECK(proxy_grant_decide(st, "gr_zzzzzzzzzzzzzzzzzzzzzzzz", boss, 1, &ei) ==
	    PII_ERR_NOT_FOUND, "grant decide: unknown id is PII_ERR_NOT_FOUND");
	CHECK(proxy_grant_decide(st, id, "bad\tname", 1, &ei) == PII_ERR_BAD_REQUEST,
	    "grant decide: a bad approver name is refused");

	r = proxy_grant_decide(st, id, boss, 1, &ei);
	CHECK(r == 0, "grant decide: approved by another person (%d %s)", r, ei.message);
	r = proxy_grant_get(st, id, &got, &ei);
	CHECK(r == 0 && strcmp(got.status, "approved") == 0 &&
	    strcmp(got.approver, boss) == 0 && rfc3339(got.decided_at) &&
	    rfc3339(got.expires_at) && got.expired == 0,
	    "grant get: approved, approver, decided_at, expires_at");
	p[0] = id;
	CHECK(sql_count("SELECT count(*) FROM grants WHERE id = $1 AND"
	    " expires_at = decided_at + interval '30 minutes'", 1, p) == 1,
	    "grant approve: expires_at = decision + minutes");

	pii_errinfo_clear(&ei);
	r = proxy_grant_decide(st, id, boss, 1, &ei);
	CHECK(r == PII_ERR_CONFLICT && strcmp(ei.message, "grant is no longer pending") == 0,
	    "grant decide again: PII_ERR_CONFLICT (%d %s)", r, ei.message);
	CHECK(proxy_grant_decide(st, id, other, 0, &ei) == PII_ERR_CONFLICT,
	    "grant deny after approval: PII_ERR_CONFLICT");

	cid[0] = '\0';
	CHECK(proxy_grant_covers(st, req, s1, "email", "fraud_investigation", cid) == 1 &&
	    strcmp(cid, id) == 0, "grant covers: requester, subject, email, purpose");
	CHECK(proxy_grant_covers(st, req, s1, "phone", "fraud_investigation", NULL) == 1,
	    "grant covers: the second category");
	CHECK(proxy_grant_covers(st, req, s2, "email", "fraud_investigation", cid) == 0,
	    "grant covers: not another subject");
	CHECK(proxy_grant_covers(st, req, s1, "ssn", "fraud_investigation", cid) == 0,
	    "grant covers: not another category");
	CHECK(proxy_grant_covers(st, req, s1, "email", "marketing", cid) == 0,
	    "grant covers: not another purpose");
	CHECK(proxy_grant_covers(st, boss, s1, "email", "fraud_investigation", cid) == 0,
	    "grant covers: not another user (the approver)");

	/* a denied grant */
	grant_init(&g, req, s2);
	g.ncategories = 1;
	snprintf(g.ticket, sizeof(g.ticket), "%s", "");
	snprintf(g.reason, sizeof(g.reason), "%s", "");
	r = proxy_grant_create(st, &g, id2, &ei);
	CHECK(r == 0 && strcmp(id, id2) != 0, "grant create: a second grant (no ticket, no reason)");
	r = proxy_grant_decide(st, id2, boss, 0, &ei);
	CHECK(r == 0, "grant decide: denied (%d)", r);
	r = proxy_grant_get(st, id2, &got, &ei);
	CHECK(r == 0 && strcmp(got.status, "denied") == 0 &&
	    strcmp(got.approver, boss) == 0 && rfc3339(got.decided_at) &&
	    got.expires_at[0] == '\0' && got.expired == 0,
	    "grant get: denied, approver, decided_at, no expires_at");
	CHECK(proxy_grant_covers(st, req, s2, "email", "fraud_investigation", cid) == 0,
	    "grant covers: not by a denied grant");
	CHECK(proxy_grant_decide(st, id2, other, 1, &ei) == PII_ERR_CONFLICT,
	    "grant approve after denial: PII_ERR_CONFLICT");

	/* a grant of another requester, for the list filters */
	grant_init(&g, other, s1);
	CHECK(proxy_grant_create(st, &g, cid, &ei) == 0, "grant create: another requester");

	/* list */
	r = proxy_grant_list(st, req, "", 100, &list, &ei);
	CHECK(r == 0 && json_array_size(list) == 2, "grant list: the requester's two grants");
	CHECK(json_array_size(list) == 2 &&
	    strcmp(json_string_value(json_object_get(json_array_get(list, 0), "id")), id2) == 0,
	    "grant list: newest first");
	o = find_id(list, id);
	ok = o != NULL && json_object_size(o) == 14;
	for (i = 0; ok && keys[i] != NULL; i++)
		ok = json_object_get(o, keys[i]) != NULL;
	CHECK(ok, "grant list: exactly the 14 documented fields (no subject key)");
	CHECK(o != NULL && json_is_array(json_object_get(o, "categories")) &&
	    json_array_size(json_object_get(o, "categories")) == 2 &&
	    json_integer_value(json_object_get(o, "minutes")) == 30 &&
	    strcmp(json_string_value(json_object_get(o, "status")), "approved") == 0 &&
	    strcmp(json_string_value(json_object_get(o, "approver")), boss) == 0 &&
	    strcmp(json_string_value(json_object_get(o, "reason")),
	    "customer called \xe2\x80\x93 caf\xc3\xa9") == 0 &&
	    rfc3339(json_string_value(json_object_get(o, "created_at"))) &&
	    rfc3339(json_string_value(json_object_get(o, "decided_at"))) &&
	    rfc3339(json_string_value(json_object_get(o, "expires_at"))) &&
	    json_is_false(json_object_get(o, "expired")),
	    "grant list: the approved grant's values");
	json_decref(list);
	list = NULL;

	r = proxy_grant_list(st, other, "", 100, &list, &ei);
	o = json_array_get(list, 0);
	CHECK(r == 0 && json_array_size(list) == 1 &&
	    strcmp(json_string_value(json_object_get(o, "status")), "requested") == 0 &&
	    json_is_null(json_object_get(o, "approver")) &&
	    json_is_null(json_object_get(o, "decided_at")) &&
	    json_is_null(json_object_get(o, "expires_at")),
	    "grant list: a pending grant has null approver, decided_at, expires_at");
	json_decref(list);
	list = NULL;

	r = proxy_grant_list(st, req, "approved", 100, &list, &ei);
	CHECK(r == 0 && json_array_size(list) == 1 && find_id(list, id) != NULL,
	    "grant list: filtered by status");
	json_decref(list);
	list = NULL;
	r = proxy_grant_list(st, req, "", 1, &list, &ei);
	CHECK(r == 0 && json_array_size(list) == 1 && find_id(list, id2) != NULL,
	    "grant list: limit 1 gives the newest");
	json_decref(list);
	list = NULL;
	r = proxy_grant_list(st, NULL, "", 1000, &list, &ei);
	CHECK(r == 0 && find_id(list, id) != NULL && find_id(list, id2) != NULL &&
	    find_id(list, cid) != NULL, "grant list: all requesters");
	json_decref(list);
	list = NULL;
	CHECK(proxy_grant_list(st, req, "pending", 10, &list, &ei) == PII_ERR_BAD_REQUEST &&
	    list == NULL, "grant list: an unknown status is refused");
	CHECK(proxy_grant_list(st, req, "", 0, &list, &ei) == PII_ERR_BAD_REQUEST &&
	    list == NULL, "grant list: limit 0 is refused");

	/* expiry */
	sql1("UPDATE grants SET expires_at = now() - interval '1 minute' WHERE id = $1",
	    1, p, NULL, 0);
	CHECK(proxy_grant_covers(st, req, s1, "email", "fraud_investigation", cid) == 0,
	    "grant covers: not after expiry");
	r = proxy_grant_get(st, id, &got, &ei);
	CHECK(r == 0 && got.expired == 1, "grant get: expired");
	r = proxy_grant_list(st, req, "approved", 10, &list, &ei);
	o = find_id(list, id);
	CHECK(r == 0 && o != NULL && json_is_true(json_object_get(o, "expired")),
	    "grant list: expired true");
	json_decref(list);
	list = NULL;

	/* the store holds no subject as given */
	CHECK(sql_count("SELECT count(*) FROM grants WHERE"
	    " position('user:g' in row(grants.*)::text) > 0", 0, NULL) == 0,
	    "grants hold no subject reference");

	/* bad grants, each a row */
	{
		static const struct { const char *name, *field; } rows[] = {
			{ "no categories", "categories" },
			{ "17 categories", "categories" },
			{ "a category with a quote", "categories[1]" },
			{ "an empty category", "categories[0]" },
			{ "an empty purpose", "purpose" },
			{ "0 minutes", "minutes" },
			{ "10081 minutes", "minutes" },
			{ "negative minutes", "minutes" },
			{ "a reason with a newline", "reason" },
			{ "a reason that is not UTF-8", "reason" },
			{ "a reason with an overlong encoding", "reason" },
			{ "a ticket with a quote", "ticket" },
			{ "a role with a space", "requester_role" },
			{ "an empty requester", "requester" },
		};

		for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
			grant_init(&g, req, s1);
			switch (i) {
			case 0: g.ncategories = 0; break;
			case 1: g.ncategories = 17; break;
			case 2: snprintf(g.categories[1], 64, "%s", "em\"ail"); break;
			case 3: g.categories[0][0] = '\0'; break;
			case 4: g.purpose[0] = '\0'; break;
			case 5: g.minutes = 0; break;
			case 6: g.minutes = 10081; break;
			case 7: g.minutes = -5; break;
			case 8: snprintf(g.reason, sizeof(g.reason), "%s", "a\nb"); break;
			case 9: snprintf(g.reason, sizeof(g.reason), "%s", "caf\xe9"); break;
			case 10: snprintf(g.reason, sizeof(g.reason), "%s", "\xc0\xaf"); break;
			case 11: snprintf(g.ticket, sizeof(g.ticket), "%s", "T\"1"); break;
			case 12: snprintf(g.requester_role, sizeof(g.requester_role), "%s", "cs agent"); break;
			case 13: g.requester[0] = '\0'; break;
			}
			pii_errinfo_clear(&ei);
			r = proxy_grant_create(st, &g, id2, &ei);
			CHECK(r == PII_ERR_BAD_REQUEST && strcmp(ei.field, rows[i].field) == 0,
			    "grant create refuses %s (%d, field %s)", rows[i].name, r, ei.field);
		}
	}
	grant_init(&g, req, s1);
	g.minutes = 10080;
	CHECK(proxy_grant_create(st, &g, id2, &ei) == 0, "grant create: 10080 minutes");

	/* a token's user and role as they come */
	{
		char jwt_user[64], jwt_boss[64];

		uname(jwt_user, sizeof(jwt_user), "Jos\xc3\xa9 \"JJ\" O'Brien");
		uname(jwt_boss, sizeof(jwt_boss), "Ren\xc3\xa9" "e \\ Boss");
		grant_init(&g, jwt_user, s2);
		snprintf(g.requester_role, sizeof(g.requester_role), "%s", "CS-Agent.eu:1");
		r = proxy_grant_create(st, &g, id2, &ei);
		CHECK(r == 0, "grant create: a UTF-8 requester with quotes, a token role (%d %s)",
		    r, ei.message);
		CHECK(proxy_grant_decide(st, id2, jwt_user, 1, &ei) == PII_ERR_FORBIDDEN,
		    "grant decide: that requester may not approve it");
		CHECK(proxy_grant_decide(st, id2, jwt_boss, 1, &ei) == 0 &&
		    proxy_grant_covers(st, jwt_user, s2, "phone", "fraud_investigation",
		    cid) == 1 && strcmp(cid, id2) == 0,
		    "grant: approved by a UTF-8 approver, covers its requester");
		r = proxy_grant_list(st, jwt_user, "", 10, &list, &ei);
		o = json_array_get(list, 0);
		CHECK(r == 0 && json_array_size(list) == 1 &&
		    strcmp(json_string_value(json_object_get(o, "requester")), jwt_user) == 0 &&
		    strcmp(json_string_value(json_object_get(o, "approver")), jwt_boss) == 0,
		    "grant list: by a UTF-8 requester");
		json_decref(list);
		list = NULL;
	}

	CHECK(proxy_store_ping(st) == 0, "ping at the end");
}

int
main(int argc, char **argv)
{
	struct proxy_store *st = NULL;
	struct pii_errinfo ei;
	unsigned char rb[4];
	int r;

	if (argc != 2 || argv[1][0] == '\0' || argv[1][0] == '-')
		return usage();
	if (sodium_init() < 0) {
		fprintf(stderr, "proxy_store_test: libsodium init failed\n");
		return 1;
	}
	randombytes_buf(rb, sizeof(rb));
	sodium_bin2hex(run, sizeof(run), rb, sizeof(rb));
	printf("# run %s\n", run);

	db = PQconnectdb(argv[1]);
	if (PQstatus(db) != CONNECTION_OK) {
		CHECK(0, "connect to the test database: %s", PQerrorMessage(db));
		PQfinish(db);
		return 1;
	}
	PQsetNoticeProcessor(db, notice_comment, NULL);
	PQclear(PQexec(db, "SET client_min_messages = warning"));
	r = proxy_store_new(argv[1], 5000, &st, &ei);
	CHECK(r == 0, "proxy_store_new");
	if (r != 0) {
		PQfinish(db);
		return 1;
	}
	test_schema(st, argv[1]);
	test_subject_key(st, argv[1]);
	test_apikeys(st);
	test_rate(st);
	test_rate_search_path(st, argv[1]);
	test_rate_failures(st, argv[1]);
	test_grants(st);
	proxy_store_free(st);
	PQfinish(db);
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
