/*
 * proxy_store.c - pii-proxy's database: API keys, just-in-time grants and
 * the distinct-subjects-per-hour rate limit (contract: proxy_store.h,
 * design: docs/proxy-store.md).
 *
 * Nothing stored here is PII.  A subject is kept only as a keyed BLAKE2b-256
 * hash; the 32-byte key is made once, at migrate time, kept in proxy_meta,
 * and held by a running proxy in sodium_malloc memory that is read-only
 * while it lives.  API keys are kept as SHA-256 of their 32-byte secret.
 *
 * Every statement is constant text with parameters.  bytea goes in and out
 * as hex (decode($n, 'hex') / encode(col, 'hex')), arrays as JSON
 * (array_to_json / json_array_elements_text), so no value is ever spliced
 * into SQL or an array literal.  Error messages for clients name fields and
 * rules only; the server's own text stays in pii_pg_last_error() for the
 * daemon's log.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../common/pg.h"
#include "proxy_store.h"

/* The bound on a grant's minutes; the policy's own bound on
 * grant_max_minutes is one week too. */
#define GRANT_MINUTES_MAX 10080
/* The most grants one proxy_grant_list call returns. */
#define GRANT_LIST_MAX 1000
/* Characters of the key's parts (see proxy_store.h). */
#define KEY_PREFIX "piiv_key_"
#define KEY_PREFIX_LEN 9
#define KEY_ID_BYTES 10
#define KEY_ID_LEN 16
#define KEY_SECRET_BYTES 32
#define KEY_SECRET_LEN 43
#define KEY_LEN (KEY_PREFIX_LEN + KEY_ID_LEN + 1 + KEY_SECRET_LEN)
#define GRANT_ID_BYTES 15
#define GRANT_ID_LEN (3 + 24)
/* proxy_meta's row holding the subject-hash key */
#define META_SUBJECT_KEY "subject_hash_key"
/* the first key of pg_advisory_xact_lock(int, int) for the rate limit; the
 * two-int form is a lock space apart from the bigint locks of migrations */
/* how long a sighting stands before a repeat view moves its time */
#define RATE_REFRESH "5 minutes"
#define RATE_LOCK_CLASS "7233010"

#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char b32_alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";

struct proxy_store {
	struct pii_pg *pg;
	unsigned char *skey;    /* sodium_malloc, read-only; NULL until open */
};

/* ---- schema ----------------------------------------------------------- */

static const char *const proxy_m1[] = {
	"CREATE TABLE proxy_meta ("
	"  key text PRIMARY KEY,"
	"  value bytea NOT NULL)",
	"CREATE TABLE api_keys ("
	"  id text PRIMARY KEY,"
	"  user_name text NOT NULL CHECK (char_length(user_name) BETWEEN 1 AND 127),"
	"  role text NOT NULL CHECK (role ~ '^[a-z0-9_]{1,63}$'),"
	"  secret_sha256 bytea NOT NULL CHECK (length(secret_sha256) = 32),"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  last_used_at timestamptz,"
	"  revoked_at timestamptz)",
	"CREATE INDEX api_keys_created ON api_keys (created_at, id)",
	"CREATE TABLE grants ("
	"  id text PRIMARY KEY,"
	"  requester text NOT NULL CHECK (char_length(requester) BETWEEN 1 AND 127),"
	"  requester_role text NOT NULL,"
	"  subject_key bytea NOT NULL CHECK (length(subject_key) = 32),"
	"  categories text[] NOT NULL CHECK (cardinality(categories) BETWEEN 1 AND 16),"
	"  purpose text NOT NULL,"
	"  ticket text NOT NULL DEFAULT '',"
	"  reason text NOT NULL DEFAULT '',"
	"  minutes integer NOT NULL CHECK (minutes > 0),"
	"  status text NOT NULL DEFAULT 'requested'"
	"    CHECK (status IN ('requested', 'approved', 'denied')),"
	"  approver text,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  decided_at timestamptz,"
	"  expires_at timestamptz,"
	"  CHECK (approver IS NULL OR approver <> requester),"
	"  CHECK ((status = 'requested') = (approver IS NULL)),"
	"  CHECK ((status = 'requested') = (decided_at IS NULL)),"
	"  CHECK ((status = 'approved') = (expires_at IS NOT NULL)))",
	"CREATE INDEX grants_created ON grants (created_at DESC, id DESC)",
	"CREATE INDEX grants_requester ON grants (requester, created_at DESC, id DESC)",
	"CREATE INDEX grants_covering ON grants (requester, subject_key, expires_at)"
	"  WHERE status = 'approved'",
	"CREATE TABLE subject_views ("
	"  user_name text NOT NULL,"
	"  subject_key bytea NOT NULL,"
	"  seen_at timestamptz NOT NULL,"
	"  PRIMARY KEY (user_name, subject_key))",
	"CREATE INDEX subject_views_window ON subject_views (user_name, seen_at)",
	NULL,
};

/*
 * The per-person limit on distinct subjects an hour, in one round trip.
 * true: within the limit (the sighting is recorded); false: over it.
 *  1. Seen in the last RATE_REFRESH: nothing to write (a read, no lock, no
 *     commit record), the common case of a person looking again.
 *  2. Otherwise, under the person's advisory lock: seen within the hour
 *     moves its time; else the hour's count against the limit (0: none);
 *     then older sightings (which count for nothing) go and this one is
 *     recorded.  A sighting may leave the count up to RATE_REFRESH before an
 *     hour after its last view.
 */
static const char *const proxy_m2[] = {
	"CREATE FUNCTION proxy_rate_take(p_user text, p_key bytea, p_limit bigint)"
	" RETURNS boolean LANGUAGE plpgsql AS $$"
	" DECLARE n bigint;"
	" BEGIN"
	"  PERFORM 1 FROM subject_views WHERE user_name = p_user"
	"   AND subject_key = p_key AND seen_at > now() - interval '" RATE_REFRESH "';"
	"  IF FOUND THEN RETURN true; END IF;"
	"  PERFORM pg_advisory_xact_lock(" RATE_LOCK_CLASS ", hashtext(p_user));"
	"  UPDATE subject_views SET seen_at = now() WHERE user_name = p_user"
	"   AND subject_key = p_key AND seen_at > now() - interval '1 hour';"
	"  IF FOUND THEN RETURN true; END IF;"
	"  IF p_limit > 0 THEN"
	"   SELECT count(*) INTO n FROM subject_views WHERE user_name = p_user"
	"    AND seen_at > now() - interval '1 hour';"
	"   IF n >= p_limit THEN RETURN false; END IF;"
	"  END IF;"
	"  DELETE FROM subject_views WHERE user_name = p_user"
	"   AND seen_at <= now() - interval '1 hour';"
	"  INSERT INTO subject_views (user_name, subject_key, seen_at)"
	"   VALUES (p_user, p_key, now()) ON CONFLICT (user_name, subject_key)"
	"   DO UPDATE SET seen_at = excluded.seen_at;"
	"  RETURN true;"
	" END $$",
	NULL,
};

/*
 * proxy_rate_take resolves its table in its own schema whatever the
 * caller's search_path: an object of the same name in a schema earlier on
 * the path (the role's own, "$user") or a temporary one could otherwise
 * stand in for subject_views.  pg_catalog is searched first implicitly;
 * pg_temp goes last.
 */
static const char *const proxy_m3[] = {
	"DO $$ DECLARE s text; BEGIN"
	"  SELECT n.nspname INTO STRICT s FROM pg_proc p"
	"   JOIN pg_namespace n ON n.oid = p.pronamespace"
	"   WHERE p.oid = 'proxy_rate_take(text, bytea, bigint)'::regprocedure;"
	"  EXECUTE format('ALTER FUNCTION %I.proxy_rate_take(text, bytea, bigint)"
	"   SET search_path = %I, pg_temp', s, s);"
	" END $$",
	NULL,
};

static const char *const *const proxy_migrations[] = { proxy_m1, proxy_m2,
	proxy_m3 };
#define NMIGRATIONS (sizeof(proxy_migrations) / sizeof(proxy_migrations[0]))

/* ---- small helpers ---------------------------------------------------- */

/* RFC 4648 base32, lowercase, no padding; n a multiple of 5, out holds
 * n / 5 * 8 + 1 bytes. */
static void
b32_encode(const unsigned char *in, size_t n, char *out)
{
	unsigned int acc = 0, bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32_alphabet[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
		acc &= (1u << bits) - 1;
	}
	out[o] = '\0';
}

/* A fresh random identifier: prefix then nbytes (<= 15, multiple of 5) of
 * randomness in base32. */
static void
random_id(const char *prefix, size_t nbytes, char id[PROXY_ID_MAX])
{
	unsigned char b[GRANT_ID_BYTES];
	size_t pl = strlen(prefix);

	randombytes_buf(b, nbytes);
	memcpy(id, prefix, pl);
	b32_encode(b, nbytes, id + pl);
}

/* 1 if s is exactly len characters of the lowercase base32 alphabet. */
static int
is_b32(const char *s, size_t len)
{
	return strlen(s) == len && strspn(s, b32_alphabet) == len;
}

/* 1 if s is 1..max-1 printable ASCII characters without quotes or
 * backslashes (a user name: safe in logs, audit records and JSON). */
static int
printable_ok(const char *s, size_t max)
{
	size_t n;

	if (s == NULL)
		return 0;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= max - 1 || s[n] < 0x20 || s[n] > 0x7e || s[n] == '"' ||
		    s[n] == '\\')
			return 0;
	return n > 0;
}

/* 1 if s is 1..PROXY_ROLE_MAX-1 characters of [a-z0-9_]. */
static int
role_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, PROXY_ROLE_MAX);
	return n > 0 && n < PROXY_ROLE_MAX &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* 1 if s is shorter than max bytes, well-formed UTF-8 (no overlong forms,
 * surrogates or code points past U+10FFFF) and free of control characters. */
static int
text_ok(const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = 0, len, k, i;
	unsigned int cp, min;

	if (s == NULL || (len = strnlen(s, max)) >= max)
		return 0;
	/* every read below stops at the NUL, which is within max bytes */
	while (n < len) {
		unsigned char c = p[n];

		if (c < 0x80) {
			if (c < 0x20 || c == 0x7f)
				return 0;
			n++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1; cp = c & 0x1f; min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2; cp = c & 0x0f; min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3; cp = c & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		for (i = 1; i <= k; i++) {
			if ((p[n + i] & 0xc0) != 0x80)
				return 0;   /* also stops at the NUL */
			cp = (cp << 6) | (p[n + i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
		    (cp >= 0x80 && cp < 0xa0))
			return 0;
		n += k + 1;
	}
	return 1;
}

/* A person's name as the proxy knows it (an API key's user, or a token's
 * user claim, which may be any UTF-8): 1..PROXY_NAME_MAX-1 bytes without
 * control characters. */
static int
user_ok(const char *s)
{
	return s != NULL && s[0] != '\0' && text_ok(s, PROXY_NAME_MAX);
}

/* A grant's requester_role: a policy role ([a-z][a-z0-9_-]*) or, failing
 * that, a token's role ([A-Za-z0-9_.:-]); 1..PROXY_ROLE_MAX-1 bytes. */
static int
grant_role_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return 0;
	n = strnlen(s, PROXY_ROLE_MAX);
	return n > 0 && n < PROXY_ROLE_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-") == n;
}

/* Copy a column value into a fixed field; PII_ERR_INTERNAL if it does not
 * fit (the schema's checks keep that from happening). */
static int
copy_field(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);

	if (n >= cap)
		return PII_ERR_INTERNAL;
	memcpy(dst, src, n + 1);
	return 0;
}

/* A failed statement as the code the caller answers with: 503 when the
 * database cannot be reached (or timed out), otherwise an internal error.
 * The message never carries the server's text (it may quote values). */
static int
db_error(int r, struct pii_errinfo *ei)
{
	if (r == PII_ERR_DB_UNAVAILABLE)
		return pii_errinfo_set(ei, r, NULL, "the proxy database is unavailable");
	if (r == PII_ERR_NOMEM)
		return pii_errinfo_set(ei, r, NULL, "out of memory");
	return pii_errinfo_set(ei, PII_ERR_SQL, NULL, "a proxy database statement failed");
}

/* This thread's connection, outside any transaction: a transaction a failed
 * call could not end (its connection was being dropped) ends here. */
static int
get_conn(struct proxy_store *st, PGconn **out)
{
	PGconn *c;
	int r;

	if ((r = pii_pg_conn(st->pg, &c)) != 0)
		return r;
	if (PQtransactionStatus(c) != PQTRANS_IDLE) {
		PQclear(PQexec(c, "ROLLBACK"));
		if (PQtransactionStatus(c) != PQTRANS_IDLE)
			return PII_ERR_DB_UNAVAILABLE;
	}
	*out = c;
	return 0;
}

/* Hex of a subject key, for decode($n, 'hex'). */
static void
skey_hex(const unsigned char skey[PROXY_SUBJECT_KEY_BYTES],
    char hex[PROXY_SUBJECT_KEY_BYTES * 2 + 1])
{
	sodium_bin2hex(hex, PROXY_SUBJECT_KEY_BYTES * 2 + 1, skey,
	    PROXY_SUBJECT_KEY_BYTES);
}

/* ---- lifecycle -------------------------------------------------------- */

int
proxy_store_new(const char *conninfo, int statement_timeout_ms,
    struct proxy_store **out, struct pii_errinfo *ei)
{
	struct proxy_store *st;
	int r;

	if (conninfo == NULL)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "database",
		    "a connection string is required");
	if (sodium_init() < 0)
		return pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL,
		    "libsodium could not be initialized");
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	if ((r = pii_pg_new(conninfo, "pii-proxy", statement_timeout_ms,
	    &st->pg)) != 0) {
		free(st);
		return pii_errinfo_set(ei, r, NULL, "out of memory");
	}
	*out = st;
	return 0;
}

void
proxy_store_free(struct proxy_store *st)
{
	if (st == NULL)
		return;
	if (st->skey != NULL) {
		/* sodium_free makes the page writable and wipes it */
		sodium_free(st->skey);
	}
	pii_pg_free(st->pg);
	free(st);
}

int
proxy_store_migrate(struct proxy_store *st, struct pii_errinfo *ei)
{
	unsigned char k[PROXY_SUBJECT_KEY_BYTES];
	char hex[PROXY_SUBJECT_KEY_BYTES * 2 + 1];
	const char *p[1];
	PGresult *res = NULL;
	PGconn *c;
	int r;

	r = pii_pg_migrate(st->pg, PII_PG_SCHEMA_PROXY, proxy_migrations,
	    NMIGRATIONS, NULL, ei);
	if (r != 0)
		return r;
	if ((r = get_conn(st, &c)) != 0)
		return pii_errinfo_set(ei, r, NULL, "database unreachable: %s",
		    pii_pg_last_error());
	/* a key made here loses to one a concurrent migrate stored first */
	randombytes_buf(k, sizeof(k));
	sodium_bin2hex(hex, sizeof(hex), k, sizeof(k));
	sodium_memzero(k, sizeof(k));
	p[0] = hex;
	r = pii_pg_exec(st->pg, c,
	    "INSERT INTO proxy_meta (key, value) VALUES ('" META_SUBJECT_KEY "',"
	    " decode($1, 'hex')) ON CONFLICT (key) DO NOTHING", 1, p, NULL);
	sodium_memzero(hex, sizeof(hex));
	if (r == 0)
		r = pii_pg_exec(st->pg, c,
		    "SELECT length(value) FROM proxy_meta WHERE key = '"
		    META_SUBJECT_KEY "'", 0, NULL, &res);
	if (r != 0)
		return pii_errinfo_set(ei, r, NULL, "cannot store the subject-hash "
		    "key: %s", pii_pg_last_error());
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), "32") != 0)
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "proxy_meta holds a "
		    "subject-hash key that is not 32 bytes");
	PQclear(res);
	return r;
}

int
proxy_store_open(struct proxy_store *st, struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	unsigned char *key = NULL;
	PGconn *c;
	size_t kl = 0;
	long have;
	int r;

	if ((r = get_conn(st, &c)) != 0)
		return pii_errinfo_set(ei, r, NULL, "database unreachable: %s",
		    pii_pg_last_error());
	/* the version table does not exist before the first migrate */
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT to_regclass('proxy_schema') IS NOT NULL", 0, NULL, &res)) != 0)
		goto dbfail;
	have = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	res = NULL;
	if (have) {
		if ((r = pii_pg_exec(st->pg, c,
		    "SELECT coalesce(max(version), 0) FROM proxy_schema", 0, NULL,
		    &res)) != 0)
			goto dbfail;
		have = strtol(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		res = NULL;
	}
	if (have < PROXY_SCHEMA_VERSION)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "the proxy database "
		    "schema is at version %ld, this program needs %d: run "
		    "`pii-proxy migrate`", have, PROXY_SCHEMA_VERSION);
	if (have > PROXY_SCHEMA_VERSION)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "the proxy database "
		    "schema version %ld is newer than this program (%d); upgrade "
		    "the program", have, PROXY_SCHEMA_VERSION);
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT encode(value, 'hex') FROM proxy_meta WHERE key = '"
	    META_SUBJECT_KEY "'", 0, NULL, &res)) != 0)
		goto dbfail;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "the proxy database "
		    "has no subject-hash key: run `pii-proxy migrate`");
	}
	if ((key = sodium_malloc(PROXY_SUBJECT_KEY_BYTES)) == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	} else if (sodium_hex2bin(key, PROXY_SUBJECT_KEY_BYTES, PQgetvalue(res, 0, 0),
	    (size_t)PQgetlength(res, 0, 0), NULL, &kl, NULL) != 0 ||
	    kl != PROXY_SUBJECT_KEY_BYTES) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "proxy_meta holds a "
		    "subject-hash key that is not 32 bytes");
	} else if (sodium_mprotect_readonly(key) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL, "cannot protect the "
		    "subject-hash key's memory");
	}
	/* the result's copy is ours to clear; libpq's input buffer has held
	 * it too, which is as far as wiping can reach */
	sodium_memzero(PQgetvalue(res, 0, 0), (size_t)PQgetlength(res, 0, 0));
	PQclear(res);
	if (r != 0) {
		sodium_free(key);
		return r;
	}
	sodium_free(st->skey);
	st->skey = key;
	return 0;
dbfail:
	return pii_errinfo_set(ei, r, NULL, "cannot read the proxy schema: %s",
	    pii_pg_last_error());
}

int
proxy_store_ping(struct proxy_store *st)
{
	PGconn *c;
	int r;

	if ((r = get_conn(st, &c)) != 0)
		return r;
	r = pii_pg_exec(st->pg, c, "SELECT 1 FROM proxy_meta LIMIT 0", 0, NULL, NULL);
	return r == 0 || r == PII_ERR_DB_UNAVAILABLE ? r : PII_ERR_SQL;
}

/* ---- API keys --------------------------------------------------------- */

int
proxy_apikey_create(struct proxy_store *st, const char *user,
    const char *role, char *key, size_t cap, char id[PROXY_ID_MAX],
    struct pii_errinfo *ei)
{
	unsigned char secret[KEY_SECRET_BYTES], hash[crypto_hash_sha256_BYTES];
	char secret64[sodium_base64_ENCODED_LEN(KEY_SECRET_BYTES,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING)];
	char hhex[crypto_hash_sha256_BYTES * 2 + 1];
	char kid[PROXY_ID_MAX];
	const char *p[4];
	PGconn *c;
	int r;

	if (!printable_ok(user, PROXY_NAME_MAX))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "user", "must be "
		    "1-127 printable ASCII characters without quotes or backslashes");
	if (!role_ok(role))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "role", "must be "
		    "1-63 characters of a-z, 0-9 and _");
	if (key == NULL || cap < KEY_LEN + 1 || id == NULL)
		return pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL, "no room for the key");
	if ((r = get_conn(st, &c)) != 0)
		return db_error(r, ei);

	random_id("", KEY_ID_BYTES, kid);
	randombytes_buf(secret, sizeof(secret));
	crypto_hash_sha256(hash, secret, sizeof(secret));
	sodium_bin2base64(secret64, sizeof(secret64), secret, sizeof(secret),
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_bin2hex(hhex, sizeof(hhex), hash, sizeof(hash));
	p[0] = kid;
	p[1] = user;
	p[2] = role;
	p[3] = hhex;
	r = pii_pg_exec(st->pg, c,
	    "INSERT INTO api_keys (id, user_name, role, secret_sha256)"
	    " VALUES ($1, $2, $3, decode($4, 'hex'))", 4, p, NULL);
	if (r != 0) {
		r = db_error(r, ei);
		goto out;
	}
	snprintf(key, cap, KEY_PREFIX "%s_%s", kid, secret64);
	memcpy(id, kid, strlen(kid) + 1);
	r = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	sodium_memzero(secret64, sizeof(secret64));
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(hhex, sizeof(hhex));
	return r;
}

/* Split a key into its id and the SHA-256 of its decoded secret; -1 unless
 * it has exactly the shape proxy_apikey_create makes. */
static int
apikey_parse(const char *key, char id[KEY_ID_LEN + 1],
    unsigned char hash[crypto_hash_sha256_BYTES])
{
	unsigned char secret[KEY_SECRET_BYTES];
	const char *s;
	size_t n, sl = 0;
	int r = -1;

	if (key == NULL)
		return -1;
	n = strnlen(key, KEY_LEN + 1);
	if (n != KEY_LEN || memcmp(key, KEY_PREFIX, KEY_PREFIX_LEN) != 0 ||
	    key[KEY_PREFIX_LEN + KEY_ID_LEN] != '_')
		return -1;
	memcpy(id, key + KEY_PREFIX_LEN, KEY_ID_LEN);
	id[KEY_ID_LEN] = '\0';
	if (!is_b32(id, KEY_ID_LEN))
		return -1;
	s = key + KEY_PREFIX_LEN + KEY_ID_LEN + 1;
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-_") != KEY_SECRET_LEN)
		return -1;
	/* libsodium refuses non-zero padding bits, so one secret has exactly
	 * one spelling */
	if (sodium_base642bin(secret, sizeof(secret), s, KEY_SECRET_LEN, NULL, &sl,
	    NULL, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    sl != KEY_SECRET_BYTES)
		goto out;
	crypto_hash_sha256(hash, secret, sizeof(secret));
	r = 0;
out:
	sodium_memzero(secret, sizeof(secret));
	return r;
}

int
proxy_apikey_check(struct proxy_store *st, const char *key,
    struct proxy_apikey *out)
{
	unsigned char hash[crypto_hash_sha256_BYTES], stored[crypto_hash_sha256_BYTES];
	char id[KEY_ID_LEN + 1];
	struct proxy_apikey a;
	PGresult *res = NULL;
	const char *p[1];
	PGconn *c;
	size_t sl = 0;
	int r = PII_ERR_UNAUTHENTICATED, match;

	memset(&a, 0, sizeof(a));
	if (apikey_parse(key, id, hash) != 0)
		goto out;
	if ((r = get_conn(st, &c)) != 0)
		goto out;
	p[0] = id;
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT user_name, role, encode(secret_sha256, 'hex'),"
	    " " RFC3339("created_at") ", " RFC3339("last_used_at") ","
	    " revoked_at IS NOT NULL,"
	    " last_used_at IS NULL OR last_used_at < now() - interval '1 minute'"
	    " FROM api_keys WHERE id = $1", 1, p, &res)) != 0) {
		r = r == PII_ERR_DB_UNAVAILABLE ? r : PII_ERR_SQL;
		goto out;
	}
	r = PII_ERR_UNAUTHENTICATED;
	if (PQntuples(res) != 1)
		goto out;
	match = sodium_hex2bin(stored, sizeof(stored), PQgetvalue(res, 0, 2),
	    (size_t)PQgetlength(res, 0, 2), NULL, &sl, NULL) == 0 &&
	    sl == sizeof(stored) && sodium_memcmp(stored, hash, sizeof(hash)) == 0;
	if (!match || strcmp(PQgetvalue(res, 0, 5), "f") != 0)
		goto out;
	memcpy(a.id, id, sizeof(id));
	if (copy_field(a.user, sizeof(a.user), PQgetvalue(res, 0, 0)) != 0 ||
	    copy_field(a.role, sizeof(a.role), PQgetvalue(res, 0, 1)) != 0 ||
	    copy_field(a.created_at, sizeof(a.created_at), PQgetvalue(res, 0, 3)) != 0 ||
	    copy_field(a.last_used_at, sizeof(a.last_used_at),
	    PQgetvalue(res, 0, 4)) != 0) {
		r = PII_ERR_INTERNAL;
		goto out;
	}
	/* last_used_at moves at most once a minute, so most checks only read */
	if (strcmp(PQgetvalue(res, 0, 6), "t") == 0) {
		PQclear(res);
		res = NULL;
		if ((r = pii_pg_exec(st->pg, c,
		    "UPDATE api_keys SET last_used_at = now() WHERE id = $1"
		    " AND (last_used_at IS NULL OR"
		    "  last_used_at < now() - interval '1 minute')"
		    " RETURNING " RFC3339("last_used_at"), 1, p, &res)) != 0) {
			r = r == PII_ERR_DB_UNAVAILABLE ? r : PII_ERR_SQL;
			goto out;
		}
		if (PQntuples(res) == 1 && copy_field(a.last_used_at,
		    sizeof(a.last_used_at), PQgetvalue(res, 0, 0)) != 0) {
			r = PII_ERR_INTERNAL;
			goto out;
		}
	}
	a.revoked = 0;
	*out = a;
	r = 0;
out:
	PQclear(res);
	sodium_memzero(hash, sizeof(hash));
	sodium_memzero(stored, sizeof(stored));
	return r;
}

int
proxy_apikey_revoke(struct proxy_store *st, const char *id,
    struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	const char *p[1];
	PGconn *c;
	int r, found;

	if (id == NULL || !is_b32(id, KEY_ID_LEN))
		return pii_errinfo_set(ei, PII_ERR_NOT_FOUND, "id", "no such API key");
	if ((r = get_conn(st, &c)) != 0)
		return db_error(r, ei);
	p[0] = id;
	if ((r = pii_pg_exec(st->pg, c,
	    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())"
	    " WHERE id = $1 RETURNING id", 1, p, &res)) != 0)
		return db_error(r, ei);
	found = PQntuples(res) == 1;
	PQclear(res);
	if (!found)
		return pii_errinfo_set(ei, PII_ERR_NOT_FOUND, "id", "no such API key");
	return 0;
}

/* v as a JSON string, or null for SQL NULL. */
static json_t *
str_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? json_null() :
	    json_string(PQgetvalue(res, row, col));
}

int
proxy_apikey_list(struct proxy_store *st, json_t **out, struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	json_t *arr = NULL, *o;
	PGconn *c;
	int r, i, n;

	if ((r = get_conn(st, &c)) != 0)
		return db_error(r, ei);
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT id, user_name, role, " RFC3339("created_at") ","
	    " " RFC3339("last_used_at") ", revoked_at IS NOT NULL"
	    " FROM api_keys ORDER BY created_at, id", 0, NULL, &res)) != 0)
		return db_error(r, ei);
	r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	if ((arr = json_array()) == NULL)
		goto out;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:b}",
		    "id", PQgetvalue(res, i, 0),
		    "user", PQgetvalue(res, i, 1),
		    "role", PQgetvalue(res, i, 2),
		    "created_at", PQgetvalue(res, i, 3),
		    "last_used_at", str_or_null(res, i, 4),
		    "revoked", strcmp(PQgetvalue(res, i, 5), "t") == 0);
		if (o == NULL || json_array_append_new(arr, o) != 0)
			goto out;
	}
	*out = arr;
	arr = NULL;
	r = 0;
	if (ei != NULL)
		pii_errinfo_clear(ei);
out:
	json_decref(arr);
	PQclear(res);
	return r;
}

/* ---- subjects and the rate limit -------------------------------------- */

int
proxy_subject_key(struct proxy_store *st, const char *kind,
    const char *subject, unsigned char out[PROXY_SUBJECT_KEY_BYTES])
{
	crypto_generichash_state h;

	if (st->skey == NULL)
		return PII_ERR_INTERNAL;        /* proxy_store_open first */
	if (kind == NULL || (strcmp(kind, "ref") != 0 && strcmp(kind, "token") != 0))
		return PII_ERR_INTERNAL;
	if (subject == NULL || subject[0] == '\0')
		return PII_ERR_BAD_REQUEST;
	/* "kind\0subject": kind has no NUL, so no two inputs share a message */
	if (crypto_generichash_init(&h, st->skey, PROXY_SUBJECT_KEY_BYTES,
	    PROXY_SUBJECT_KEY_BYTES) != 0 ||
	    crypto_generichash_update(&h, (const unsigned char *)kind,
	    strlen(kind) + 1) != 0 ||
	    crypto_generichash_update(&h, (const unsigned char *)subject,
	    strlen(subject)) != 0 ||
	    crypto_generichash_final(&h, out, PROXY_SUBJECT_KEY_BYTES) != 0) {
		sodium_memzero(&h, sizeof(h));
		return PII_ERR_CRYPTO;
	}
	sodium_memzero(&h, sizeof(h));
	return 0;
}

/*
 * One call, one round trip: proxy_rate_take() (migration 2) runs in its own
 * transaction.  Its writes are serialized per user by a transaction-scoped
 * advisory lock on (RATE_LOCK_CLASS, hashtext(user)): the user's rows are
 * written only under it, so the count read after taking it is exact (read
 * committed: each statement after the lock sees every earlier holder's
 * commit).  Two users whose names share a hashtext only wait for each other.
 * (As seven statements from here it took seven round trips and, for a new
 * subject, a commit's: a fifth of the proxy's time under load, where most
 * views are of a subject new to that person.)
 */
int
proxy_rate_take(struct proxy_store *st, const char *user,
    const unsigned char skey[PROXY_SUBJECT_KEY_BYTES], long long limit)
{
	char hex[PROXY_SUBJECT_KEY_BYTES * 2 + 1], lim[24];
	PGresult *res = NULL;
	const char *p[3];
	PGconn *c = NULL;
	int r;

	if (!user_ok(user) || skey == NULL || limit < 0)
		return PII_ERR_BAD_REQUEST;
	if ((r = get_conn(st, &c)) != 0)
		return r;
	skey_hex(skey, hex);
	snprintf(lim, sizeof(lim), "%lld", limit);
	p[0] = user;
	p[1] = hex;
	p[2] = lim;
	r = pii_pg_exec(st->pg, c,
	    "SELECT proxy_rate_take($1, decode($2, 'hex'), $3::bigint)", 3, p,
	    &res);
	if (r == 0 && (PQntuples(res) != 1 || PQgetisnull(res, 0, 0)))
		r = PII_ERR_SQL;
	if (r == 0 && strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		r = PII_ERR_RATE_LIMITED;
	PQclear(res);
	if (r != 0 && r != PII_ERR_RATE_LIMITED && r != PII_ERR_DB_UNAVAILABLE &&
	    r != PII_ERR_NOMEM)
		r = PII_ERR_SQL;
	return r;
}

/* ---- grants ----------------------------------------------------------- */

/* The columns of a grant row, in the order grant_from_row reads them. */
#define GRANT_COLUMNS \
	"id, requester, requester_role, encode(subject_key, 'hex')," \
	" array_to_json(categories)::text, purpose, ticket, reason, minutes," \
	" status, approver, " RFC3339("created_at") ", " RFC3339("decided_at") "," \
	" " RFC3339("expires_at") ", status = 'approved' AND expires_at <= now()"

static int
grant_from_row(const PGresult *res, int i, struct proxy_grant *g)
{
	json_t *cats = NULL, *v;
	size_t k, kl = 0;
	int r = PII_ERR_INTERNAL;

	memset(g, 0, sizeof(*g));
	if (copy_field(g->id, sizeof(g->id), PQgetvalue(res, i, 0)) != 0 ||
	    copy_field(g->requester, sizeof(g->requester), PQgetvalue(res, i, 1)) != 0 ||
	    copy_field(g->requester_role, sizeof(g->requester_role),
	    PQgetvalue(res, i, 2)) != 0 ||
	    sodium_hex2bin(g->subject_key, sizeof(g->subject_key),
	    PQgetvalue(res, i, 3), (size_t)PQgetlength(res, i, 3), NULL, &kl,
	    NULL) != 0 || kl != sizeof(g->subject_key))
		goto out;
	cats = json_loads(PQgetvalue(res, i, 4), JSON_REJECT_DUPLICATES, NULL);
	if (!json_is_array(cats) || json_array_size(cats) > PROXY_GRANT_MAX_CATEGORIES)
		goto out;
	json_array_foreach(cats, k, v) {
		if (!json_is_string(v) || copy_field(g->categories[k],
		    sizeof(g->categories[k]), json_string_value(v)) != 0)
			goto out;
	}
	g->ncategories = json_array_size(cats);
	if (copy_field(g->purpose, sizeof(g->purpose), PQgetvalue(res, i, 5)) != 0 ||
	    copy_field(g->ticket, sizeof(g->ticket), PQgetvalue(res, i, 6)) != 0 ||
	    copy_field(g->reason, sizeof(g->reason), PQgetvalue(res, i, 7)) != 0 ||
	    copy_field(g->status, sizeof(g->status), PQgetvalue(res, i, 9)) != 0 ||
	    copy_field(g->approver, sizeof(g->approver), PQgetvalue(res, i, 10)) != 0 ||
	    copy_field(g->created_at, sizeof(g->created_at), PQgetvalue(res, i, 11)) != 0 ||
	    copy_field(g->decided_at, sizeof(g->decided_at), PQgetvalue(res, i, 12)) != 0 ||
	    copy_field(g->expires_at, sizeof(g->expires_at), PQgetvalue(res, i, 13)) != 0)
		goto out;
	g->minutes = strtoll(PQgetvalue(res, i, 8), NULL, 10);
	g->expired = strcmp(PQgetvalue(res, i, 14), "t") == 0;
	r = 0;
out:
	json_decref(cats);
	return r;
}

/* "" as JSON null (a time or approver not set yet), else the string. */
static json_t *
str_or_null_s(const char *s)
{
	return s[0] == '\0' ? json_null() : json_string(s);
}

/* A grant as the API shows it: never its subject key. */
static json_t *
grant_to_json(const struct proxy_grant *g)
{
	json_t *cats = json_array();
	size_t k;

	if (cats == NULL)
		return NULL;
	for (k = 0; k < g->ncategories; k++)
		if (json_array_append_new(cats, json_string(g->categories[k])) != 0) {
			json_decref(cats);
			return NULL;
		}
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:s, s:o,"
	    " s:s, s:o, s:o, s:b}",
	    "id", g->id,
	    "requester", g->requester,
	    "requester_role", g->requester_role,
	    "categories", cats,
	    "purpose", g->purpose,
	    "ticket", g->ticket,
	    "reason", g->reason,
	    "minutes", (json_int_t)g->minutes,
	    "status", g->status,
	    "approver", str_or_null_s(g->approver),
	    "created_at", g->created_at,
	    "decided_at", str_or_null_s(g->decided_at),
	    "expires_at", str_or_null_s(g->expires_at),
	    "expired", g->expired);
}

/* 1 if id has the shape of a grant id. */
static int
grant_id_ok(const char *id)
{
	return id != NULL && strncmp(id, "gr_", 3) == 0 && is_b32(id + 3, 24);
}

int
proxy_grant_new_id(char id[PROXY_ID_MAX])
{
	random_id("gr_", GRANT_ID_BYTES, id);
	return 0;
}

int
proxy_grant_create(struct proxy_store *st, const struct proxy_grant *g,
    char id[PROXY_ID_MAX], struct pii_errinfo *ei)
{
	char hex[PROXY_SUBJECT_KEY_BYTES * 2 + 1], minutes[24], gid[PROXY_ID_MAX];
	char path[PII_ERR_MAX_FIELD];
	json_t *cats = NULL;
	char *catjson = NULL;
	const char *p[9];
	PGconn *c;
	size_t k;
	int r;

	if (!user_ok(g->requester))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "requester", "must be "
		    "1-127 bytes of UTF-8 without control characters");
	if (!grant_role_ok(g->requester_role))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "requester_role",
		    "must be 1-63 characters of A-Z, a-z, 0-9, _, ., : and -");
	if (g->ncategories == 0 || g->ncategories > PROXY_GRANT_MAX_CATEGORIES)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "categories",
		    "must list 1-%d categories", PROXY_GRANT_MAX_CATEGORIES);
	for (k = 0; k < g->ncategories; k++)
		if (!printable_ok(g->categories[k], PROXY_ROLE_MAX)) {
			snprintf(path, sizeof(path), "categories[%zu]", k);
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, path, "must be "
			    "1-63 printable ASCII characters without quotes or "
			    "backslashes");
		}
	if (!printable_ok(g->purpose, PROXY_ROLE_MAX))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "purpose", "must be "
		    "1-63 printable ASCII characters without quotes or backslashes");
	if (g->ticket[0] != '\0' && !printable_ok(g->ticket, PROXY_TICKET_MAX))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "ticket", "must be at "
		    "most 127 printable ASCII characters without quotes or "
		    "backslashes");
	if (!text_ok(g->reason, PROXY_REASON_MAX))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "reason", "must be at "
		    "most 255 bytes of UTF-8 without control characters");
	if (g->minutes < 1 || g->minutes > GRANT_MINUTES_MAX)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "minutes",
		    "must be 1-%d", GRANT_MINUTES_MAX);
	if (id == NULL)
		return pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL, "no room for the id");

	r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	if ((cats = json_array()) == NULL)
		goto out;
	for (k = 0; k < g->ncategories; k++)
		if (json_array_append_new(cats, json_string(g->categories[k])) != 0)
			goto out;
	if ((catjson = json_dumps(cats, JSON_COMPACT)) == NULL)
		goto out;
	if ((r = get_conn(st, &c)) != 0) {
		r = db_error(r, ei);
		goto out;
	}
	if (grant_id_ok(g->id))
		memcpy(gid, g->id, strlen(g->id) + 1);
	else
		random_id("gr_", GRANT_ID_BYTES, gid);
	skey_hex(g->subject_key, hex);
	snprintf(minutes, sizeof(minutes), "%lld", g->minutes);
	p[0] = gid;
	p[1] = g->requester;
	p[2] = g->requester_role;
	p[3] = hex;
	p[4] = catjson;
	p[5] = g->purpose;
	p[6] = g->ticket;
	p[7] = g->reason;
	p[8] = minutes;
	if ((r = pii_pg_exec(st->pg, c,
	    "INSERT INTO grants (id, requester, requester_role, subject_key,"
	    " categories, purpose, ticket, reason, minutes)"
	    " VALUES ($1, $2, $3, decode($4, 'hex'),"
	    " ARRAY(SELECT e FROM json_array_elements_text($5::json)"
	    "  WITH ORDINALITY AS t (e, n) ORDER BY n), $6, $7, $8,"
	    " $9::integer)", 9, p, NULL)) != 0) {
		r = db_error(r, ei);
		goto out;
	}
	memcpy(id, gid, strlen(gid) + 1);
	r = 0;
	if (ei != NULL)
		pii_errinfo_clear(ei);
out:
	free(catjson);
	json_decref(cats);
	return r;
}

int
proxy_grant_get(struct proxy_store *st, const char *id,
    struct proxy_grant *out, struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	const char *p[1];
	PGconn *c;
	int r;

	if (!grant_id_ok(id))
		return pii_errinfo_set(ei, PII_ERR_NOT_FOUND, "id", "no such grant");
	if ((r = get_conn(st, &c)) != 0)
		return db_error(r, ei);
	p[0] = id;
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT " GRANT_COLUMNS " FROM grants WHERE id = $1", 1, p, &res)) != 0)
		return db_error(r, ei);
	if (PQntuples(res) != 1)
		r = pii_errinfo_set(ei, PII_ERR_NOT_FOUND, "id", "no such grant");
	else if ((r = grant_from_row(res, 0, out)) != 0)
		r = pii_errinfo_set(ei, r, NULL, "a stored grant is malformed");
	PQclear(res);
	return r;
}

int
proxy_grant_decide(struct proxy_store *st, const char *id,
    const char *approver, int approve, struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	const char *p[2];
	PGconn *c;
	int r;

	if (!grant_id_ok(id))
		return pii_errinfo_set(ei, PII_ERR_NOT_FOUND, "id", "no such grant");
	if (!user_ok(approver))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "approver", "must be "
		    "1-127 bytes of UTF-8 without control characters");
	if ((r = get_conn(st, &c)) != 0)
		return db_error(r, ei);
	p[0] = id;
	p[1] = approver;
	if (approve)
		r = pii_pg_exec(st->pg, c,
		    "UPDATE grants SET status = 'approved', approver = $2,"
		    " decided_at = now(), expires_at = now() + minutes * interval '1 minute'"
		    " WHERE id = $1 AND status = 'requested' AND requester <> $2"
		    " RETURNING id", 2, p, &res);
	else
		r = pii_pg_exec(st->pg, c,
		    "UPDATE grants SET status = 'denied', approver = $2,"
		    " decided_at = now()"
		    " WHERE id = $1 AND status = 'requested' AND requester <> $2"
		    " RETURNING id", 2, p, &res);
	if (r != 0)
		return db_error(r, ei);
	if (PQntuples(res) == 1) {
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = NULL;
	/* nothing changed: say why */
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT status = 'requested', requester = $2 FROM grants WHERE id = $1",
	    2, p, &res)) != 0)
		return db_error(r, ei);
	if (PQntuples(res) != 1)
		r = pii_errinfo_set(ei, PII_ERR_NOT_FOUND, "id", "no such grant");
	else if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		r = pii_errinfo_set(ei, PII_ERR_CONFLICT, "id",
		    "grant is no longer pending");
	else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		r = pii_errinfo_set(ei, PII_ERR_FORBIDDEN, NULL,
		    "a grant cannot be approved by its requester");
	else    /* decided by someone else between the two statements */
		r = pii_errinfo_set(ei, PII_ERR_CONFLICT, "id",
		    "grant is no longer pending");
	PQclear(res);
	return r;
}

int
proxy_grant_list(struct proxy_store *st, const char *requester,
    const char *status, long long limit, json_t **out, struct pii_errinfo *ei)
{
	struct proxy_grant g;
	PGresult *res = NULL;
	json_t *arr = NULL, *o;
	char lim[24];
	const char *p[3];
	PGconn *c;
	int r, i, n;

	if (requester != NULL && !user_ok(requester))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "requester", "must be "
		    "1-127 bytes of UTF-8 without control characters");
	if (status == NULL)
		status = "";
	if (status[0] != '\0' && strcmp(status, "requested") != 0 &&
	    strcmp(status, "approved") != 0 && strcmp(status, "denied") != 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "status", "must be "
		    "requested, approved or denied");
	if (limit < 1)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "limit",
		    "must be at least 1");
	if (limit > GRANT_LIST_MAX)
		limit = GRANT_LIST_MAX;
	if ((r = get_conn(st, &c)) != 0)
		return db_error(r, ei);
	snprintf(lim, sizeof(lim), "%lld", limit);
	p[0] = requester;       /* NULL: SQL NULL, any requester */
	p[1] = status;
	p[2] = lim;
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT " GRANT_COLUMNS " FROM grants"
	    " WHERE ($1::text IS NULL OR requester = $1)"
	    " AND ($2::text = '' OR status = $2)"
	    " ORDER BY created_at DESC, id DESC LIMIT $3::bigint", 3, p, &res)) != 0)
		return db_error(r, ei);
	r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	if ((arr = json_array()) == NULL)
		goto out;
	n = PQntuples(res);
	for (i = 0; i < n; i++) {
		if (grant_from_row(res, i, &g) != 0) {
			r = pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL,
			    "a stored grant is malformed");
			goto out;
		}
		if ((o = grant_to_json(&g)) == NULL ||
		    json_array_append_new(arr, o) != 0)
			goto out;
	}
	*out = arr;
	arr = NULL;
	r = 0;
	if (ei != NULL)
		pii_errinfo_clear(ei);
out:
	json_decref(arr);
	PQclear(res);
	return r;
}

int
proxy_grant_covers(struct proxy_store *st, const char *user,
    const unsigned char skey[PROXY_SUBJECT_KEY_BYTES], const char *category,
    const char *purpose, char id[PROXY_ID_MAX])
{
	char hex[PROXY_SUBJECT_KEY_BYTES * 2 + 1];
	PGresult *res = NULL;
	const char *p[4];
	PGconn *c;
	int r;

	if (!user_ok(user) || skey == NULL || category == NULL || purpose == NULL)
		return PII_ERR_BAD_REQUEST;
	if ((r = get_conn(st, &c)) != 0)
		return r;
	skey_hex(skey, hex);
	p[0] = user;
	p[1] = hex;
	p[2] = category;
	p[3] = purpose;
	if ((r = pii_pg_exec(st->pg, c,
	    "SELECT id FROM grants WHERE requester = $1"
	    " AND subject_key = decode($2, 'hex') AND status = 'approved'"
	    " AND expires_at > now() AND $3 = ANY (categories) AND purpose = $4"
	    " ORDER BY expires_at DESC LIMIT 1", 4, p, &res)) != 0)
		return r == PII_ERR_DB_UNAVAILABLE ? r : PII_ERR_SQL;
	r = 0;
	if (PQntuples(res) == 1) {
		if (id != NULL && copy_field(id, PROXY_ID_MAX, PQgetvalue(res, 0, 0)) != 0)
			r = PII_ERR_INTERNAL;
		else
			r = 1;
	}
	PQclear(res);
	return r;
}
