/*
 * bench_tokenize.c - end-to-end tokenize throughput against its raw peer.
 *
 * Side 1, "tokenize": N values go through POST /v1/tokenize of a running
 * vault (HTTPS, keep-alive, one libcurl easy handle per client thread, the
 * tagger's bearer token), in batches of --batch records of two fields each:
 *   record i (1-based): subject "user:<i>",
 *                       email   "user<i>@example.com",
 *                       phone   "+8210<i as 8 digits>"
 * (with an odd N the last record has the email only).  Every batch carries a
 * batch_id, as the tagger sends one.  Per batch the vault validates and
 * normalizes, computes the tokens, inserts the new subjects and their wrapped
 * DEKs (subjects, subject_keys), seals every value and inserts it
 * (pii_values), claims the batch_id (tokenize_batches), writes one audit
 * record and commits.
 *
 * Side 2, "copy", the peer: the same rows written with libpq COPY FROM STDIN
 * (text format, bytea as \\x hex) into fresh tables made LIKE the vault's
 * (INCLUDING ALL: the same columns, defaults, CHECKs, primary keys, unique
 * constraints and indexes; LIKE copies no foreign keys), in the vault
 * database, as the vault's role:
 *   bench_copy_subjects      N/2 rows (id, subject_token); status and
 *                            created_at from their defaults
 *   bench_copy_subject_keys  N/2 rows (subject_id, kek_epoch, wrapped_dek of
 *                            VAULT_WRAPPED_DEK_BYTES random bytes)
 *   bench_copy_values        N rows (token, subject_id, category, ciphertext
 *                            of 1+12+len+16 random bytes where len is the
 *                            normalized value's length, source);
 *                            first_seen and last_seen from their defaults
 * Tokens have the exact length and prefix of the vault's (taken from its
 * first answer) with random base32 bodies, so the indexes see the same key
 * sizes and the same random insertion order.  The peer writes no
 * tokenize_batches or audit rows and checks no foreign keys; the vault does.
 * Each table is one COPY (one per stream with --copy-streams > 1), each
 * committed on its own.  The bench tables are dropped at the end.
 *
 * Prints the two rates and their ratio against the target of the issue;
 * asserts nothing about timing.  Exit 0, or 1 when something fails outright
 * (an HTTP error prints its status and error code), 2 on a usage error.
 *
 * Environment (as written by scripts/dev-up into DIR/env): PIIV_VAULT_URL,
 * PIIV_CACERT, PIIV_TAGGER_TOKEN, PIIV_PG.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>

#include "../vault/vault_crypto.h"
#include "bench_util.h"

#define DEFAULT_VALUES 1000000LL
#define DEFAULT_BATCH 2000
#define DEFAULT_THREADS 2
#define MAX_VALUES 200000000LL      /* phone numbers have 8 free digits */
#define MAX_BATCH 100000
#define MAX_THREADS 64
#define MAX_RESPONSE (256u << 20)
#define RECORD_JSON_MAX 160         /* one record's JSON, generously */
#define COPY_CHUNK (1u << 20)
#define SOURCE "bench.users"
#define TARGET 0.80

static const char *prog = "bench_tokenize";

struct opts {
	long long values;
	long long batch;
	long long threads;
	long long copy_streams;
	const char *url, *cacert, *token, *pg;
};

/* A token shape seen in the vault's answer: "tok_email_v1_" and 39. */
struct tok_shape {
	char prefix[VAULT_TOKEN_MAX];
	size_t len;
};

struct run {
	const struct opts *o;
	long long nrecords, nbatches;
	char url[1024];
	char run_tag[48];
	atomic_llong next_batch;
	atomic_llong stored, existing;
	atomic_int failed;
	pthread_mutex_t lock;           /* guards the fields below */
	int have_shapes;
	struct tok_shape subj, email, phone;
	char err[512];
};

struct growbuf {
	char *data;
	size_t len, cap;
	int failed;
};

/* Record the first failure; later ones are dropped. */
static void
run_fail(struct run *rn, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rn->lock);
	if (rn->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(rn->err, sizeof(rn->err), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&rn->lock);
	atomic_store(&rn->failed, 1);
}

static int
parse_count(const char *flag, const char *s, long long lo, long long hi,
    long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be a number in %lld..%lld (got '%s')\n",
		    prog, flag, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s [--values N] [--batch N] [--threads N] [--copy-streams N]\n"
	    "Tokenize N values (default %lld) through POST /v1/tokenize in batches of\n"
	    "--batch records (default %d; two fields each: email, phone) from --threads\n"
	    "client threads (default %d), then COPY the same rows into copies of the\n"
	    "vault's tables with --copy-streams connections (default 1), and print both\n"
	    "rates and their ratio.  Needs PIIV_VAULT_URL, PIIV_CACERT, PIIV_TAGGER_TOKEN\n"
	    "and PIIV_PG (. DIR/env after scripts/dev-up DIR).\n",
	    prog, DEFAULT_VALUES, DEFAULT_BATCH, DEFAULT_THREADS);
}

/* ---- the synthetic data, shared by both sides ----------------------------- */

/* Record r (0-based) holds values 2r (email) and 2r+1 (phone, if < N). */
static int
rec_has_phone(const struct opts *o, long long r)
{
	return 2 * r + 1 < o->values;
}

static size_t
email_of(long long r, char *out, size_t cap)
{
	return (size_t)snprintf(out, cap, "user%lld@example.com", r + 1);
}

static size_t
phone_of(long long r, char *out, size_t cap)
{
	return (size_t)snprintf(out, cap, "+8210%08lld", r + 1);
}

/* ---- side 1: the HTTP batch API ------------------------------------------- */

static size_t
on_body(char *p, size_t size, size_t nmemb, void *arg)
{
	struct growbuf *g = arg;
	size_t n = size * nmemb;

	if (g->len + n + 1 > g->cap) {
		size_t cap = g->cap ? g->cap : 65536;
		char *d;

		while (cap < g->len + n + 1)
			cap *= 2;
		if (cap > MAX_RESPONSE) {
			g->failed = 1;
			return 0;
		}
		if ((d = realloc(g->data, cap)) == NULL) {
			g->failed = 1;
			return 0;
		}
		g->data = d;
		g->cap = cap;
	}
	memcpy(g->data + g->len, p, n);
	g->len += n;
	g->data[g->len] = '\0';
	return n;
}

/* The number after "key": in a JSON answer, or -1. */
static long long
json_count(const char *body, const char *key)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	if ((p = strstr(body, pat)) == NULL)
		return -1;
	return strtoll(p + strlen(pat), NULL, 10);
}

/* The first token starting with prefix ("tok_email_") in body. */
static int
find_shape(const char *body, const char *prefix, struct tok_shape *out)
{
	char pat[64];
	const char *p, *e, *v;

	snprintf(pat, sizeof(pat), "\"%s", prefix);
	if ((p = strstr(body, pat)) == NULL)
		return -1;
	p++;
	if ((e = strchr(p, '"')) == NULL || (size_t)(e - p) >= VAULT_TOKEN_MAX)
		return -1;
	/* the prefix is everything up to the last '_': tok_<cat>_v<N>_ */
	for (v = e; v > p && v[-1] != '_'; v--)
		;
	out->len = (size_t)(e - p);
	memcpy(out->prefix, p, (size_t)(v - p));
	out->prefix[v - p] = '\0';
	return 0;
}

/* "bad_request: message (field x)" from an error answer, or the raw start. */
static void
describe_error(const char *body, char *out, size_t cap)
{
	json_error_t je;
	json_t *root = json_loads(body, 0, &je), *e;
	const char *code = NULL, *msg = NULL, *field = NULL;

	if (root != NULL && (e = json_object_get(root, "error")) != NULL) {
		code = json_string_value(json_object_get(e, "code"));
		msg = json_string_value(json_object_get(e, "message"));
		field = json_string_value(json_object_get(e, "field"));
	}
	if (code != NULL)
		snprintf(out, cap, "%s: %s%s%s%s", code, msg ? msg : "",
		    field ? " (field " : "", field ? field : "", field ? ")" : "");
	else
		snprintf(out, cap, "unexpected answer: %.120s", body);
	json_decref(root);
}

/* Build batch bi's request body into body (room checked by the caller). */
static size_t
build_batch(struct run *rn, long long bi, char *body, size_t cap)
{
	const struct opts *o = rn->o;
	long long r, lo = bi * o->batch, hi = lo + o->batch;
	size_t n;
	char email[64], phone[32];

	if (hi > rn->nrecords)
		hi = rn->nrecords;
	n = (size_t)snprintf(body, cap,
	    "{\"source\":\"" SOURCE "\",\"batch_id\":\"%s-%lld\",\"records\":[",
	    rn->run_tag, bi);
	for (r = lo; r < hi; r++) {
		email_of(r, email, sizeof(email));
		if (rec_has_phone(o, r)) {
			phone_of(r, phone, sizeof(phone));
			n += (size_t)snprintf(body + n, cap - n,
			    "%s{\"subject\":\"user:%lld\",\"fields\":{\"email\":\"%s\","
			    "\"phone\":\"%s\"}}", r > lo ? "," : "", r + 1, email, phone);
		} else {
			n += (size_t)snprintf(body + n, cap - n,
			    "%s{\"subject\":\"user:%lld\",\"fields\":{\"email\":\"%s\"}}",
			    r > lo ? "," : "", r + 1, email);
		}
	}
	n += (size_t)snprintf(body + n, cap - n, "]}");
	return n;
}

static void *
client_thread(void *arg)
{
	struct run *rn = arg;
	const struct opts *o = rn->o;
	struct curl_slist *hdrs = NULL;
	struct growbuf resp = { 0 };
	char auth[1024], cerr[CURL_ERROR_SIZE];
	size_t cap = (size_t)o->batch * RECORD_JSON_MAX + 256;
	char *body = malloc(cap);
	CURL *h = curl_easy_init();

	if (body == NULL || h == NULL) {
		run_fail(rn, "out of memory");
		goto out;
	}
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->token);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Expect:");   /* no 100-continue round trip */
	if (hdrs == NULL) {
		run_fail(rn, "out of memory");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, rn->url);
	curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);

	while (!atomic_load(&rn->failed)) {
		long long bi = atomic_fetch_add(&rn->next_batch, 1);
		long long st, ex, lo, hi, sent;
		long status = 0;
		size_t n;
		CURLcode cr;

		if (bi >= rn->nbatches)
			break;
		n = build_batch(rn, bi, body, cap);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		resp.len = 0;
		cerr[0] = '\0';
		if ((cr = curl_easy_perform(h)) != CURLE_OK) {
			run_fail(rn, "batch %lld: %s", bi, cerr[0] ? cerr :
			    curl_easy_strerror(cr));
			break;
		}
		if (resp.failed || resp.data == NULL) {
			run_fail(rn, "batch %lld: answer missing or over %u bytes", bi,
			    MAX_RESPONSE);
			break;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200) {
			char d[300];

			describe_error(resp.data, d, sizeof(d));
			run_fail(rn, "batch %lld: HTTP %ld %s", bi, status, d);
			break;
		}
		lo = bi * o->batch;
		hi = lo + o->batch < rn->nrecords ? lo + o->batch : rn->nrecords;
		sent = 2 * (hi - lo) - (rec_has_phone(o, hi - 1) ? 0 : 1);
		st = json_count(resp.data, "stored");
		ex = json_count(resp.data, "existing");
		if (st < 0 || ex < 0 || st + ex != sent) {
			run_fail(rn, "batch %lld: HTTP 200 but stored %lld + existing %lld"
			    " != %lld values sent", bi, st, ex, sent);
			break;
		}
		atomic_fetch_add(&rn->stored, st);
		atomic_fetch_add(&rn->existing, ex);
		pthread_mutex_lock(&rn->lock);
		if (!rn->have_shapes &&
		    find_shape(resp.data, "tok_subject_", &rn->subj) == 0 &&
		    find_shape(resp.data, "tok_email_", &rn->email) == 0 &&
		    (o->values < 2 || find_shape(resp.data, "tok_phone_", &rn->phone) == 0))
			rn->have_shapes = 1;
		pthread_mutex_unlock(&rn->lock);
	}
out:
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	free(body);
	free(resp.data);
	return NULL;
}

static int
run_tokenize(struct run *rn, double *secs)
{
	const struct opts *o = rn->o;
	pthread_t tids[MAX_THREADS];
	long long i, nt = o->threads;
	double t0;

	if (nt > rn->nbatches)
		nt = rn->nbatches;
	t0 = now_s();
	for (i = 0; i < nt; i++) {
		if (pthread_create(&tids[i], NULL, client_thread, rn) != 0) {
			run_fail(rn, "cannot start a client thread");
			break;
		}
	}
	nt = i;
	for (i = 0; i < nt; i++)
		pthread_join(tids[i], NULL);
	*secs = now_s() - t0;
	if (atomic_load(&rn->failed))
		return -1;
	if (!rn->have_shapes) {
		run_fail(rn, "no tokens of the expected shape in the vault's answers");
		return -1;
	}
	return 0;
}

/* ---- side 2: the raw COPY peer -------------------------------------------- */

static uint64_t
splitmix64(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* A token of the vault's shape: its prefix, then random base32 up to len. */
static void
put_token(struct growbuf *g, const struct tok_shape *ts, uint64_t *rng)
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	size_t pl = strlen(ts->prefix), i;
	uint64_t bits = 0;
	int nbits = 0;

	memcpy(g->data + g->len, ts->prefix, pl);
	g->len += pl;
	for (i = pl; i < ts->len; i++) {
		if (nbits < 5) {
			bits = splitmix64(rng);
			nbits = 64;
		}
		g->data[g->len++] = b32[bits & 31];
		bits >>= 5;
		nbits -= 5;
	}
}

/* n random bytes as COPY text bytea: \\x then hex. */
static void
put_bytea(struct growbuf *g, size_t n)
{
	static const char hx[] = "0123456789abcdef";
	unsigned char raw[VAULT_WRAPPED_DEK_BYTES + 256];
	size_t i;

	randombytes_buf(raw, n);
	memcpy(g->data + g->len, "\\\\x", 3);
	g->len += 3;
	for (i = 0; i < n; i++) {
		g->data[g->len++] = hx[raw[i] >> 4];
		g->data[g->len++] = hx[raw[i] & 15];
	}
}

static void
put_str(struct growbuf *g, const char *s)
{
	size_t n = strlen(s);

	memcpy(g->data + g->len, s, n);
	g->len += n;
}

static int
pg_ok(PGconn *c, const char *sql, char *err, size_t errcap)
{
	PGresult *res = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
	int ok = PQresultStatus(res) == PGRES_COMMAND_OK ||
	    PQresultStatus(res) == PGRES_TUPLES_OK;

	if (!ok)
		snprintf(err, errcap, "%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	return ok ? 0 : -1;
}

enum copy_table { CT_SUBJECTS, CT_KEYS, CT_VALUES };

struct copy_job {
	struct run *rn;
	long long lo, hi;               /* records */
	uint64_t seed;
	char err[512];
};

/* Append record r's rows of table t to g (room: COPY_CHUNK slack). */
static void
copy_rows(const struct run *rn, enum copy_table t, long long r, struct growbuf *g,
    uint64_t *rng)
{
	char num[64];
	size_t vl;

	switch (t) {
	case CT_SUBJECTS:
		snprintf(num, sizeof(num), "%lld\t", r + 1);
		put_str(g, num);
		put_token(g, &rn->subj, rng);
		g->data[g->len++] = '\n';
		break;
	case CT_KEYS:
		snprintf(num, sizeof(num), "%lld\t1\t", r + 1);
		put_str(g, num);
		put_bytea(g, VAULT_WRAPPED_DEK_BYTES);
		g->data[g->len++] = '\n';
		break;
	case CT_VALUES:
		vl = email_of(r, num, sizeof(num));
		put_token(g, &rn->email, rng);
		snprintf(num, sizeof(num), "\t%lld\temail\t", r + 1);
		put_str(g, num);
		put_bytea(g, VAULT_SEAL_OVERHEAD + vl);
		put_str(g, "\t" SOURCE "\n");
		if (rec_has_phone(rn->o, r)) {
			vl = phone_of(r, num, sizeof(num));
			put_token(g, &rn->phone, rng);
			snprintf(num, sizeof(num), "\t%lld\tphone\t", r + 1);
			put_str(g, num);
			put_bytea(g, VAULT_SEAL_OVERHEAD + vl);
			put_str(g, "\t" SOURCE "\n");
		}
		break;
	}
}

static int
copy_one(PGconn *c, struct copy_job *j, enum copy_table t, struct growbuf *g,
    uint64_t *rng)
{
	static const char *const sql[] = {
		"COPY bench_copy_subjects (id, subject_token) FROM STDIN",
		"COPY bench_copy_subject_keys (subject_id, kek_epoch, wrapped_dek) FROM STDIN",
		"COPY bench_copy_values (token, subject_id, category, ciphertext, source)"
		" FROM STDIN",
	};
	PGresult *res = PQexecParams(c, sql[t], 0, NULL, NULL, NULL, NULL, 0);
	long long r;

	if (PQresultStatus(res) != PGRES_COPY_IN) {
		snprintf(j->err, sizeof(j->err), "%s: %s", sql[t], PQerrorMessage(c));
		PQclear(res);
		return -1;
	}
	PQclear(res);
	g->len = 0;
	for (r = j->lo; r < j->hi; r++) {
		copy_rows(j->rn, t, r, g, rng);
		if (g->len > g->cap - 4096 || r + 1 == j->hi) {
			if (PQputCopyData(c, g->data, (int)g->len) != 1) {
				snprintf(j->err, sizeof(j->err), "COPY: %s", PQerrorMessage(c));
				return -1;
			}
			g->len = 0;
		}
	}
	if (PQputCopyEnd(c, NULL) != 1) {
		snprintf(j->err, sizeof(j->err), "COPY end: %s", PQerrorMessage(c));
		return -1;
	}
	while ((res = PQgetResult(c)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			snprintf(j->err, sizeof(j->err), "COPY: %s", PQerrorMessage(c));
			PQclear(res);
			while ((res = PQgetResult(c)) != NULL)
				PQclear(res);
			return -1;
		}
		PQclear(res);
	}
	return 0;
}

static void *
copy_thread(void *arg)
{
	struct copy_job *j = arg;
	struct growbuf g = { 0 };
	uint64_t rng = j->seed;
	PGconn *c = PQconnectdb(j->rn->o->pg);
	int t;

	if (PQstatus(c) != CONNECTION_OK) {
		snprintf(j->err, sizeof(j->err), "connect: %s", PQerrorMessage(c));
		goto out;
	}
	g.cap = COPY_CHUNK + 8192;
	if ((g.data = malloc(g.cap)) == NULL) {
		snprintf(j->err, sizeof(j->err), "out of memory");
		goto out;
	}
	for (t = CT_SUBJECTS; t <= CT_VALUES && j->lo < j->hi; t++)
		if (copy_one(c, j, (enum copy_table)t, &g, &rng) != 0)
			break;
out:
	free(g.data);
	PQfinish(c);
	return NULL;
}

static const char *const copy_setup[] = {
	"SET client_min_messages = warning",
	"DROP TABLE IF EXISTS bench_copy_values, bench_copy_subject_keys,"
	" bench_copy_subjects",
	"CREATE TABLE bench_copy_subjects (LIKE subjects INCLUDING ALL)",
	/* ids come from the COPY; leave the vault's sequence alone */
	"ALTER TABLE bench_copy_subjects ALTER COLUMN id DROP DEFAULT",
	"CREATE TABLE bench_copy_subject_keys (LIKE subject_keys INCLUDING ALL)",
	"CREATE TABLE bench_copy_values (LIKE pii_values INCLUDING ALL)",
	NULL,
};

static int
run_copy(struct run *rn, double *secs)
{
	const struct opts *o = rn->o;
	struct copy_job jobs[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	PGconn *c = PQconnectdb(o->pg);
	long long i, ns = o->copy_streams, per;
	const char *su;
	char err[512];
	double t0;
	int rc = -1, started = 0;

	if (PQstatus(c) != CONNECTION_OK) {
		run_fail(rn, "PIIV_PG: %s", PQerrorMessage(c));
		goto out;
	}
	for (i = 0; copy_setup[i] != NULL; i++) {
		if (pg_ok(c, copy_setup[i], err, sizeof(err)) != 0) {
			run_fail(rn, "%s", err);
			goto out;
		}
	}
	/* Settle first: write out what the tokenize side left dirty, so that
	 * the COPY, like the tokenize side, starts right after a checkpoint.
	 * That takes a superuser (PIIV_PG_SUPER); without one, skip it. */
	if ((su = getenv("PIIV_PG_SUPER")) != NULL && *su != '\0') {
		PGconn *sc = PQconnectdb(su);

		if (PQstatus(sc) != CONNECTION_OK ||
		    pg_ok(sc, "CHECKPOINT", err, sizeof(err)) != 0)
			fprintf(stderr, "%s: note: no CHECKPOINT before the COPY: %s",
			    prog, PQerrorMessage(sc));
		PQfinish(sc);
	}
	if (ns > rn->nrecords)
		ns = rn->nrecords;
	per = (rn->nrecords + ns - 1) / ns;
	t0 = now_s();
	for (i = 0; i < ns; i++) {
		memset(&jobs[i], 0, sizeof(jobs[i]));
		jobs[i].rn = rn;
		jobs[i].lo = i * per;
		jobs[i].hi = (i + 1) * per < rn->nrecords ? (i + 1) * per : rn->nrecords;
		randombytes_buf(&jobs[i].seed, sizeof(jobs[i].seed));
		if (pthread_create(&tids[i], NULL, copy_thread, &jobs[i]) != 0) {
			run_fail(rn, "cannot start a COPY thread");
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	*secs = now_s() - t0;
	for (i = 0; i < started; i++)
		if (jobs[i].err[0] != '\0') {
			run_fail(rn, "%s", jobs[i].err);
			goto out;
		}
	if (started == ns)
		rc = 0;
out:
	if (PQstatus(c) == CONNECTION_OK && getenv("BENCH_KEEP_TABLES") == NULL)
		(void)pg_ok(c, copy_setup[1], err, sizeof(err));
	PQfinish(c);
	return rc;
}

/* ---- main -------------------------------------------------------------- */

int
main(int argc, char **argv)
{
	struct opts o = { DEFAULT_VALUES, DEFAULT_BATCH, DEFAULT_THREADS, 1,
		NULL, NULL, NULL, NULL };
	struct run rn;
	double ttok = 0, tcopy = 0, rtok, rcopy;
	const char *u;
	int i;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i];
		long long *dst = NULL, lo = 1, hi = 0;

		if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(a, "--values") == 0) {
			dst = &o.values; hi = MAX_VALUES;
		} else if (strcmp(a, "--batch") == 0) {
			dst = &o.batch; hi = MAX_BATCH;
		} else if (strcmp(a, "--threads") == 0) {
			dst = &o.threads; hi = MAX_THREADS;
		} else if (strcmp(a, "--copy-streams") == 0) {
			dst = &o.copy_streams; hi = MAX_THREADS;
		} else {
			usage(stderr);
			return 2;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (parse_count(a, argv[++i], lo, hi, dst) != 0)
			return 2;
	}
	o.url = getenv("PIIV_VAULT_URL");
	o.cacert = getenv("PIIV_CACERT");
	o.token = getenv("PIIV_TAGGER_TOKEN");
	o.pg = getenv("PIIV_PG");
	if (o.url == NULL || o.cacert == NULL || o.token == NULL || o.pg == NULL ||
	    !*o.url || !*o.cacert || !*o.token || !*o.pg) {
		fprintf(stderr, "%s: PIIV_VAULT_URL, PIIV_CACERT, PIIV_TAGGER_TOKEN and"
		    " PIIV_PG must be set (. DIR/env after scripts/dev-up DIR)\n", prog);
		return 1;
	}
	if (strlen(o.token) > 512) {
		fprintf(stderr, "%s: PIIV_TAGGER_TOKEN is implausibly long\n", prog);
		return 1;
	}
	if (sodium_init() < 0 || curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "%s: cannot initialize libsodium or libcurl\n", prog);
		return 1;
	}

	memset(&rn, 0, sizeof(rn));
	rn.o = &o;
	pthread_mutex_init(&rn.lock, NULL);
	rn.nrecords = (o.values + 1) / 2;
	rn.nbatches = (rn.nrecords + o.batch - 1) / o.batch;
	for (u = o.url + strlen(o.url); u > o.url && u[-1] == '/'; u--)
		;
	snprintf(rn.url, sizeof(rn.url), "%.*s/v1/tokenize", (int)(u - o.url), o.url);
	snprintf(rn.run_tag, sizeof(rn.run_tag), "bench-%ld-%ld", (long)getpid(),
	    (long)time(NULL));

	printf("bench_tokenize: %lld values = %lld records x (email, phone),"
	    " %lld batches of <= %lld records, %lld client threads\n",
	    o.values, rn.nrecords, rn.nbatches, o.batch, o.threads);
	fflush(stdout);

	if (run_tokenize(&rn, &ttok) != 0)
		goto fail;
	if (atomic_load(&rn.existing) > 0)
		fprintf(stderr, "%s: note: %lld of the values were already stored"
		    " (not a fresh vault); the rate counts them anyway\n", prog,
		    (long long)atomic_load(&rn.existing));
	rtok = (double)o.values / ttok;
	printf("tokenize: %lld values via HTTP batch API  %.0f values/s  (%.2f s)\n",
	    o.values, rtok, ttok);
	fflush(stdout);

	if (run_copy(&rn, &tcopy) != 0)
		goto fail;
	rcopy = (double)o.values / tcopy;
	printf("copy:     %lld rows via raw COPY         %.0f rows/s    (%.2f s)\n",
	    o.values, rcopy, tcopy);
	printf("tokenize/copy ratio: %.2f  (target >= %.2f)\n", rtok / rcopy, TARGET);
	curl_global_cleanup();
	return 0;
fail:
	fprintf(stderr, "%s: %s\n", prog, rn.err[0] ? rn.err : "failed");
	curl_global_cleanup();
	return 1;
}
