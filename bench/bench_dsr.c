/*
 * bench_dsr.c - subject-rights requests (issue 6): erasure latency, the
 * executor's throughput, and the vault's audited reveal rate beside it.
 *
 * 1. Erasure latency.  E subjects (default 30) are seeded with 100 distinct
 *    values each through POST /v1/tokenize as the tagger (25 records of
 *    email, phone, name and address, spread over four sources), and as many
 *    again for the peer.  Then, one subject at a time, the vault's erasure:
 *    POST /v1/dsr {"kind":"erasure","subject_token":T,"verified":true} as the
 *    proxy acting for compliance staff, then GET /v1/dsr/{id} every 2 ms
 *    until it shows completed (every GET is an audited dsr_read).  Vault
 *    side, from its own timestamps: the request row's created_at (the start
 *    of the intake transaction) to the `at` of the erasure's audit record in
 *    the audit database (written just before the completing commit), split
 *    at the dsr_start audit record.  Peer, alternating with the vault on a
 *    subject seeded the same way: the raw deletion in one transaction through
 *    libpq (DELETE the values, DELETE the key, UPDATE the subject to erased).
 *    The ratio of the medians is context, not a target: the vault's erasure
 *    also takes the request in, audits four records, finds the tokens shared
 *    with other subjects and writes the outbox event.
 *
 * 2. Executor throughput.  N subjects (default 10000, two values each) are
 *    seeded in batches of 1000 records; N requests are taken in through
 *    POST /v1/dsr by C concurrent clients (default 8) as received, so the
 *    executor leaves them alone (the intake rate is reported); then one SQL
 *    UPDATE through libpq marks all N verified (verified_by names the
 *    round).  That bypasses the audited POST /v1/dsr/{id}/verify, which is
 *    fine for a benchmark of the executor and is said in the output.  Timed
 *    from that commit until all N are completed, and over the executor's own
 *    span (first started_at to last completed_at).  The wait polls every
 *    50 ms, cheaply: the one request the executor takes last (it goes by
 *    due_at, id) by its key; once that one is completed, and every 5 s for
 *    progress, the round's open requests are counted.  (Counting all N ids
 *    every 50 ms cost 30 ms a poll and slowed the executor it measured.)
 *    One round of objections (purposes ["bench"]), then one round of
 *    erasures of the same subjects.  Idle workers wait up to
 *    dsr_poll_seconds before they look at the queue (nothing wakes them
 *    after an SQL update): the wall time includes that pick-up delay, the
 *    span does not.
 *
 * 3. Between the two rounds: audited POST /v1/reveal (the request of
 *    bench_reveal: email and name, as a cs_agent for support) at 16 clients
 *    for S seconds over the same subjects; the executor's requests/s is
 *    printed beside the reveals/s, with the ratio.
 *
 * The executor runs the vault's configured dsr_workers (read from
 * PIIV_VAULT_CONFIG and printed).  Asserts nothing about timing; exits 1
 * when a request fails outright or does not complete in time.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <sodium.h>
#include "bench_util.h"

#define VALUES_PER_SUBJECT 100
#define CATEGORIES 4            /* email, phone, name, address */
#define RECORDS_PER_SUBJECT (VALUES_PER_SUBJECT / CATEGORIES)
#define NSOURCES 4
#define BATCH 1000              /* records per tokenize call */
#define TOKEN_CAP 64
#define ID_CAP 48
#define MAX_CLIENTS 256
#define ERASURE_TIMEOUT_S 60.0  /* one erasure */
#define STALL_TIMEOUT_S 180.0   /* a round without progress */
#define ERASURE_POLL_S 0.002
#define ROUND_POLL_S 0.05
#define FULL_POLL_EVERY 100     /* polls: the open count every 5 s */

static const char *prog = "bench_dsr";
static const char *const sources[NSOURCES] = { "crm.users", "shop.orders",
	"support.tickets", "mkt.list" };

struct opts {
	const char *url, *admin_url, *cacert, *tagger, *proxy, *pg, *audit_pg;
	const char *config;
	long long subjects, erasures, seconds;
	int clients, reveal_clients;
	long long workers, poll_seconds;
	char run[32];           /* the process id, in subject references */
	int run5;               /* its last five digits, in phone numbers */
};

static void
sleep_s(double s)
{
	struct timespec ts;

	ts.tv_sec = (time_t)s;
	ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* p50, p90, p99, min, max of v[0..n) in ms (v in seconds; sorted here). */
struct stats {
	double p50, p90, p99, min, max;
};

static void
stats_of(double *v, size_t n, struct stats *st)
{
	memset(st, 0, sizeof(*st));
	if (n == 0)
		return;
	qsort(v, n, sizeof(*v), cmp_double);
	st->p50 = v[n / 2] * 1000;
	st->p90 = v[(size_t)((double)n * 0.9) < n ? (size_t)((double)n * 0.9) :
	    n - 1] * 1000;
	st->p99 = v[(size_t)((double)n * 0.99) < n ? (size_t)((double)n * 0.99) :
	    n - 1] * 1000;
	st->min = v[0] * 1000;
	st->max = v[n - 1] * 1000;
}

/* ---- HTTP --------------------------------------------------------------- */

enum as { AS_TAGGER, AS_STAFF, AS_PROXY, AS_NOBODY };

struct conn {
	CURL *h;
	struct curl_slist *hdrs;
	char *body;             /* the last answer, NUL-terminated */
	size_t len, cap;
	int oom;
	char err[CURL_ERROR_SIZE];
};

static size_t
collect(char *p, size_t size, size_t nmemb, void *arg)
{
	struct conn *k = arg;
	size_t n = size * nmemb;

	if (k->len + n + 1 > k->cap) {
		size_t nc = k->cap ? k->cap : 4096;
		char *nb;

		while (k->len + n + 1 > nc)
			nc *= 2;
		if ((nb = realloc(k->body, nc)) == NULL) {
			k->oom = 1;
			return 0;
		}
		k->body = nb;
		k->cap = nc;
	}
	memcpy(k->body + k->len, p, n);
	k->len += n;
	k->body[k->len] = '\0';
	return n;
}

static void
conn_close(struct conn *k)
{
	struct curl_slist *i;

	if (k->h != NULL)
		curl_easy_cleanup(k->h);
	for (i = k->hdrs; i != NULL; i = i->next)   /* one holds a credential */
		sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(k->hdrs);
	free(k->body);
	memset(k, 0, sizeof(*k));
}

static int
conn_open(struct conn *k, const struct opts *o, enum as who)
{
	static const char *const staff[] = { "X-Piiv-On-Behalf-Of: bench@corp",
		"X-Piiv-Role: compliance", NULL };
	struct curl_slist *l = NULL, *n;
	char auth[512];
	size_t i;

	memset(k, 0, sizeof(*k));
	if ((k->h = curl_easy_init()) == NULL)
		return -1;
	if (who != AS_NOBODY) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s",
		    who == AS_TAGGER ? o->tagger : o->proxy);
		l = curl_slist_append(NULL, auth);
		sodium_memzero(auth, sizeof(auth));
		if (l == NULL)
			goto fail;
		k->hdrs = l;
	}
	if ((n = curl_slist_append(k->hdrs, "Content-Type: application/json")) == NULL ||
	    (k->hdrs = n, n = curl_slist_append(k->hdrs, "Expect:")) == NULL)
		goto fail;
	k->hdrs = n;
	for (i = 0; who == AS_STAFF && staff[i] != NULL; i++) {
		if ((n = curl_slist_append(k->hdrs, staff[i])) == NULL)
			goto fail;
		k->hdrs = n;
	}
	curl_easy_setopt(k->h, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(k->h, CURLOPT_HTTPHEADER, k->hdrs);
	curl_easy_setopt(k->h, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(k->h, CURLOPT_WRITEDATA, k);
	curl_easy_setopt(k->h, CURLOPT_ERRORBUFFER, k->err);
	curl_easy_setopt(k->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(k->h, CURLOPT_TIMEOUT, 120L);
	curl_easy_setopt(k->h, CURLOPT_TCP_KEEPALIVE, 1L);
	return 0;
fail:
	conn_close(k);
	return -1;
}

/* POST body (or GET when body is NULL) to url: the HTTP status, or -1 when
 * there was no answer (k->err says why). */
static long
conn_do(struct conn *k, const char *url, const char *body, size_t len)
{
	long code = 0;
	CURLcode cc;

	k->len = 0;
	k->oom = 0;
	k->err[0] = '\0';
	if (k->body != NULL)
		k->body[0] = '\0';
	curl_easy_setopt(k->h, CURLOPT_URL, url);
	if (body != NULL) {
		curl_easy_setopt(k->h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(k->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else
		curl_easy_setopt(k->h, CURLOPT_HTTPGET, 1L);
	cc = curl_easy_perform(k->h);
	if (cc != CURLE_OK) {
		if (k->err[0] == '\0')
			snprintf(k->err, sizeof(k->err), "%s", curl_easy_strerror(cc));
		return -1;
	}
	curl_easy_getinfo(k->h, CURLINFO_RESPONSE_CODE, &code);
	if (k->oom)
		return -1;
	return code;
}

/* Say what failed: the status and the start of the answer (error bodies
 * carry no PII; a 200 is not shown). */
static void
report_http(const char *what, const struct conn *k, long code)
{
	if (code == 201 || code == 200)
		fprintf(stderr, "%s: %s: an answer without the expected fields\n",
		    prog, what);
	else if (code < 0)
		fprintf(stderr, "%s: %s failed: %s\n", prog, what,
		    k->oom ? "out of memory" : k->err);
	else
		fprintf(stderr, "%s: %s failed: HTTP %ld: %.300s\n", prog, what, code,
		    k->body != NULL && code != 200 ? k->body : "");
}

/* ---- seeding ---------------------------------------------------------------- */

/* The answer of one tokenize call of nrec records, record i of subject
 * subj[i]: each subject's token into tok[], the values stored added to
 * *stored.  -1 on a malformed answer or a dropped record. */
static int
take_tokens(const struct conn *k, const long long *subj, size_t nrec,
    char (*tok)[TOKEN_CAP], long long *stored)
{
	json_error_t e;
	json_t *j = json_loadb(k->body, k->len, 0, &e), *recs, *dr;
	size_t i;
	int rc = -1;

	if (j == NULL)
		goto out;
	recs = json_object_get(j, "records");
	dr = json_object_get(j, "dropped");
	if (!json_is_array(recs) || json_array_size(recs) != nrec ||
	    !json_is_integer(json_object_get(j, "stored")) ||
	    (dr != NULL && json_array_size(dr) != 0))
		goto out;
	for (i = 0; i < nrec; i++) {
		const char *t = json_string_value(json_object_get(json_array_get(recs,
		    i), "subject_token"));

		if (t == NULL || strlen(t) >= TOKEN_CAP)
			goto out;
		if (tok[subj[i]][0] == '\0')
			snprintf(tok[subj[i]], TOKEN_CAP, "%s", t);
		else if (strcmp(tok[subj[i]], t) != 0)
			goto out;
	}
	*stored += json_integer_value(json_object_get(j, "stored"));
	rc = 0;
out:
	json_decref(j);
	return rc;
}

/* One tokenize call (body: nrec records, record i of subject subj[i]).
 * 0, or -1 (said why). */
static int
tokenize_call(struct conn *k, const struct opts *o, const char *body, size_t len,
    const long long *subj, size_t nrec, char (*tok)[TOKEN_CAP],
    long long *stored)
{
	char url[1024];
	long code;

	snprintf(url, sizeof(url), "%s/v1/tokenize", o->url);
	code = conn_do(k, url, body, len);
	if (code != 200) {
		report_http("POST /v1/tokenize (seeding)", k, code);
		return -1;
	}
	if (take_tokens(k, subj, nrec, tok, stored) != 0) {
		fprintf(stderr, "%s: POST /v1/tokenize (seeding): an unexpected answer "
		    "(a record dropped, or not one per record)\n", prog);
		return -1;
	}
	return 0;
}

/* Subject s of group g: user:dsr-<run>-<g><s>. */
#define SUBJECT_FMT "user:dsr-%s-%c%lld"

/* Seed n subjects of group g ('e' the vault's erasures, 'p' the peer's)
 * with 100 distinct values each: RECORDS_PER_SUBJECT records of email,
 * phone, name and address, record r in source r % NSOURCES. */
static int
seed_rich(const struct opts *o, struct conn *k, char g, long long n,
    char (*tok)[TOKEN_CAP])
{
	long long *subj = malloc(BATCH * sizeof(*subj)), stored = 0, s;
	int src, r, rc = -1;
	char *body = NULL;
	size_t len = 0, nrec;
	FILE *f = NULL;

	if (subj == NULL)
		return -1;
	for (src = 0; src < NSOURCES; src++) {
		s = 0;
		r = src;
		while (s < n) {
			if ((f = open_memstream(&body, &len)) == NULL)
				goto out;
			fprintf(f, "{\"source\":\"%s\",\"records\":[", sources[src]);
			for (nrec = 0; nrec < BATCH && s < n; nrec++) {
				long long v = s * RECORDS_PER_SUBJECT + r;

				/* phone: +1, a digit for the group, 5 of the run, 8 of v
				 * (15 digits: distinct across subjects, runs, groups) */
				fprintf(f, "%s{\"subject\":\"" SUBJECT_FMT "\",\"fields\":{"
				    "\"email\":\"e%lld.%d.%s.%c@bench-dsr.example\","
				    "\"phone\":\"+1%d%05d%08lld\","
				    "\"name\":\"Bench Erasure %c%lld-%d\","
				    "\"address\":\"%d Bench Street, Block %lld, Seoul %s%c\"}}",
				    nrec ? "," : "", o->run, g, s, s, r, o->run, g,
				    g == 'e' ? 1 : 2, o->run5, v,
				    g, s, r, r + 1, s, o->run, g);
				subj[nrec] = s;
				r += NSOURCES;
				if (r >= RECORDS_PER_SUBJECT) {
					s++;
					r = src;
				}
			}
			fputs("]}", f);
			if (fclose(f) != 0) {
				f = NULL;
				goto out;
			}
			f = NULL;
			if (tokenize_call(k, o, body, len, subj, nrec, tok, &stored) != 0)
				goto out;
			free(body);
			body = NULL;
		}
	}
	if (stored != n * VALUES_PER_SUBJECT) {
		fprintf(stderr, "%s: seeding stored %lld values, not %lld\n", prog,
		    stored, n * VALUES_PER_SUBJECT);
		goto out;
	}
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	free(body);
	free(subj);
	return rc;
}

/* Seed n subjects of group 't' with an email and a name each, BATCH records
 * a call, the calls alternating between two sources. */
static int
seed_light(const struct opts *o, struct conn *k, long long n,
    char (*tok)[TOKEN_CAP])
{
	long long *subj = malloc(BATCH * sizeof(*subj)), stored = 0, s = 0;
	char *body = NULL;
	size_t len = 0, nrec;
	int call = 0, rc = -1;
	FILE *f;

	if (subj == NULL)
		return -1;
	while (s < n) {
		if ((f = open_memstream(&body, &len)) == NULL)
			goto out;
		fprintf(f, "{\"source\":\"%s\",\"records\":[", sources[call++ % 2]);
		for (nrec = 0; nrec < BATCH && s < n; nrec++, s++) {
			fprintf(f, "%s{\"subject\":\"" SUBJECT_FMT "\",\"fields\":{"
			    "\"email\":\"t%lld.%s@bench-dsr.example\","
			    "\"name\":\"Bench Queue %lld\"}}", nrec ? "," : "", o->run, 't',
			    s, s, o->run, s);
			subj[nrec] = s;
		}
		fputs("]}", f);
		if (fclose(f) != 0)
			goto out;
		if (tokenize_call(k, o, body, len, subj, nrec, tok, &stored) != 0)
			goto out;
		free(body);
		body = NULL;
	}
	if (stored != 2 * n) {
		fprintf(stderr, "%s: seeding stored %lld values, not %lld\n", prog,
		    stored, 2 * n);
		goto out;
	}
	rc = 0;
out:
	free(body);
	free(subj);
	return rc;
}

/* ---- requests --------------------------------------------------------------- */

/* The id of the request in a POST /v1/dsr answer, into id. */
static int
take_id(const struct conn *k, char *id)
{
	json_error_t e;
	json_t *j = json_loadb(k->body, k->len, 0, &e);
	const char *s = json_string_value(json_object_get(j, "id"));
	int rc = -1;

	if (s != NULL && strlen(s) < ID_CAP && strspn(s,
	    "abcdefghijklmnopqrstuvwxyz234567_") == strlen(s)) {
		snprintf(id, ID_CAP, "%s", s);
		rc = 0;
	}
	json_decref(j);
	return rc;
}

/* A PostgreSQL text[] literal of ids (they need no quoting: see take_id). */
static char *
id_array(char (*ids)[ID_CAP], long long n)
{
	char *out = NULL;
	size_t len = 0;
	long long i;
	FILE *f = open_memstream(&out, &len);

	if (f == NULL)
		return NULL;
	fputc('{', f);
	for (i = 0; i < n; i++)
		fprintf(f, "%s%s", i ? "," : "", ids[i]);
	fputc('}', f);
	if (fclose(f) != 0) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- 1. erasure latency ---------------------------------------------------- */

struct erasure_result {
	struct stats api, vault, queue, work, sql;
	double polls;           /* GETs per erasure, on average */
	int have_audit;         /* vault/queue/work from the audit log */
};

/* One erasure through the API: POST, then GET every 2 ms until completed.
 * *secs its latency, *polls the GETs it took. */
static int
vault_erasure(const struct opts *o, struct conn *k, const char *token,
    char *id, double *secs, long long *polls)
{
	char url[1024], body[256];
	double t0, t;
	long code;
	int n;

	n = snprintf(body, sizeof(body), "{\"kind\":\"erasure\",\"subject_token\":"
	    "\"%s\",\"verified\":true}", token);
	snprintf(url, sizeof(url), "%s/v1/dsr", o->url);
	t0 = now_s();
	code = conn_do(k, url, body, (size_t)n);
	if (code != 201 || take_id(k, id) != 0) {
		report_http("POST /v1/dsr (erasure)", k, code);
		return -1;
	}
	snprintf(url, sizeof(url), "%s/v1/dsr/%s", o->url, id);
	for (;;) {
		json_error_t e;
		json_t *j;
		const char *st;
		int done, bad;

		code = conn_do(k, url, NULL, 0);
		t = now_s();
		(*polls)++;
		if (code != 200) {
			report_http("GET /v1/dsr/{id}", k, code);
			return -1;
		}
		j = json_loadb(k->body, k->len, 0, &e);
		st = json_string_value(json_object_get(j, "status"));
		done = st != NULL && strcmp(st, "completed") == 0;
		bad = st == NULL || strcmp(st, "rejected") == 0 || (done &&
		    json_integer_value(json_object_get(j, "values_erased")) !=
		    VALUES_PER_SUBJECT);
		if (bad)
			fprintf(stderr, "%s: erasure %s: %s\n", prog, id, st == NULL ?
			    "no status in the answer" : done ? "values_erased is not 100" :
			    "rejected");
		json_decref(j);
		if (bad)
			return -1;
		if (done)
			break;
		if (t - t0 > ERASURE_TIMEOUT_S) {
			fprintf(stderr, "%s: erasure %s not completed after %.0f s\n",
			    prog, id, ERASURE_TIMEOUT_S);
			return -1;
		}
		sleep_s(ERASURE_POLL_S);
	}
	*secs = t - t0;
	return 0;
}

/* The peer: subject sid's raw deletion in one transaction. */
static int
sql_erasure(PGconn *c, const char *sid, double *secs)
{
	static const char *const steps[] = { "BEGIN",
		"DELETE FROM pii_values WHERE subject_id = $1::bigint",
		"DELETE FROM subject_keys WHERE subject_id = $1::bigint",
		"UPDATE subjects SET status = 'erased', erased_at = now(),"
		" value_tokens = NULL WHERE id = $1::bigint",
		"COMMIT", NULL };
	const char *p[1] = { sid };
	double t0 = now_s();
	size_t i;

	for (i = 0; steps[i] != NULL; i++) {
		int np = strchr(steps[i], '$') != NULL;
		PGresult *res = PQexecParams(c, steps[i], np, NULL, np ? p : NULL,
		    NULL, NULL, 0);

		if (PQresultStatus(res) != PGRES_COMMAND_OK || (i == 1 &&
		    strcmp(PQcmdTuples(res), "100") != 0)) {
			fprintf(stderr, "%s: peer erasure: %s: %s%s\n", prog, steps[i],
			    PQresultErrorMessage(res), i == 1 ? " (or not 100 rows)" : "");
			PQclear(res);
			PQclear(PQexec(c, "ROLLBACK"));
			return -1;
		}
		PQclear(res);
	}
	*secs = now_s() - t0;
	return 0;
}

/* The vault side of the erasures ids[0..n) from its timestamps: created_at
 * (the intake transaction's start), the dsr_start and erasure audit records'
 * `at`; without the audit database, completed_at (the start of the
 * completing transaction). */
static int
vault_side(const struct opts *o, PGconn *c, char (*ids)[ID_CAP],
    char (*tok)[TOKEN_CAP], long long n, struct erasure_result *er)
{
	double *tot = calloc((size_t)n, sizeof(double));
	double *q = calloc((size_t)n, sizeof(double));
	double *w = calloc((size_t)n, sizeof(double));
	double *created = calloc((size_t)n, sizeof(double));
	double *st = calloc((size_t)n, sizeof(double));
	double *en = calloc((size_t)n, sizeof(double));
	char *ida = id_array(ids, n), *toka = NULL;
	char why[256] = "";
	PGresult *res = NULL, *ares = NULL;
	PGconn *ac = NULL;
	long long i;
	int r, rc = -1;

	if (tot == NULL || q == NULL || w == NULL || created == NULL ||
	    st == NULL || en == NULL || ida == NULL)
		goto out;
	{
		const char *p[1] = { ida };

		/* row r is ids[r] */
		res = PQexecParams(c, "SELECT extract(epoch FROM d.created_at),"
		    " extract(epoch FROM d.completed_at)"
		    " FROM unnest($1::text[]) WITH ORDINALITY u (id, i)"
		    " JOIN dsr_requests d ON d.id = u.id ORDER BY u.i", 1, NULL, p,
		    NULL, NULL, 0);
	}
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != n) {
		fprintf(stderr, "%s: reading the erasures' rows: %s\n", prog,
		    PQresultErrorMessage(res));
		goto out;
	}
	for (i = 0; i < n; i++) {
		created[i] = strtod(PQgetvalue(res, (int)i, 0), NULL);
		tot[i] = strtod(PQgetvalue(res, (int)i, 1), NULL) - created[i];
	}
	er->have_audit = 0;
	if (o->audit_pg == NULL)
		snprintf(why, sizeof(why), "no PIIV_AUDIT_PG");
	else {
		/* by subject token (indexed), then the request */
		FILE *f;
		size_t len = 0;

		if ((f = open_memstream(&toka, &len)) == NULL)
			goto out;
		fputc('{', f);
		for (i = 0; i < n; i++)
			fprintf(f, "%s%s", i ? "," : "", tok[i]);
		fputc('}', f);
		if (fclose(f) != 0)
			goto out;
		ac = PQconnectdb(o->audit_pg);
		if (PQstatus(ac) != CONNECTION_OK)
			snprintf(why, sizeof(why), "%s", PQerrorMessage(ac));
		else {
			const char *p[2] = { toka, ida };

			ares = PQexecParams(ac, "SELECT u.i, a.action,"
			    " extract(epoch FROM a.at)"
			    " FROM unnest($2::text[]) WITH ORDINALITY u (id, i)"
			    " JOIN audit_records a ON a.batch_id = u.id"
			    " WHERE a.subject_token = ANY ($1::text[])"
			    " AND a.action IN ('dsr_start', 'erasure')", 2, NULL, p,
			    NULL, NULL, 0);
			if (PQresultStatus(ares) != PGRES_TUPLES_OK)
				snprintf(why, sizeof(why), "%s", PQresultErrorMessage(ares));
			else if (PQntuples(ares) != 2 * n)
				snprintf(why, sizeof(why), "%d records, not %lld",
				    PQntuples(ares), 2 * n);
		}
	}
	why[strcspn(why, "\n")] = '\0';
	if (why[0] == '\0') {
		for (r = 0; r < PQntuples(ares); r++) {
			long long k = strtoll(PQgetvalue(ares, r, 0), NULL, 10) - 1;
			double at = strtod(PQgetvalue(ares, r, 2), NULL);

			if (k < 0 || k >= n)
				continue;
			if (strcmp(PQgetvalue(ares, r, 1), "erasure") == 0)
				en[k] = at;
			else
				st[k] = at;
		}
		for (i = 0; i < n; i++) {
			if (en[i] == 0 || st[i] == 0) {
				snprintf(why, sizeof(why), "a request without its two "
				    "records");
				break;
			}
			q[i] = st[i] - created[i];
			w[i] = en[i] - st[i];
		}
	}
	if (why[0] == '\0') {
		for (i = 0; i < n; i++)
			tot[i] = en[i] - created[i];
		er->have_audit = 1;
	} else
		fprintf(stderr, "%s: the erasures' audit records were not read (%s): "
		    "the vault side is created_at -> completed_at\n", prog, why);
	stats_of(tot, (size_t)n, &er->vault);
	if (er->have_audit) {
		stats_of(q, (size_t)n, &er->queue);
		stats_of(w, (size_t)n, &er->work);
	}
	rc = 0;
out:
	PQclear(res);
	PQclear(ares);
	if (ac != NULL)
		PQfinish(ac);
	free(tot);
	free(q);
	free(w);
	free(created);
	free(st);
	free(en);
	free(ida);
	free(toka);
	return rc;
}

static int
erasure_latency(const struct opts *o, PGconn *c, struct erasure_result *er)
{
	long long n = o->erasures, i, polls = 0;
	char (*etok)[TOKEN_CAP] = calloc((size_t)n, TOKEN_CAP);
	char (*ptok)[TOKEN_CAP] = calloc((size_t)n, TOKEN_CAP);
	char (*ids)[ID_CAP] = calloc((size_t)n, ID_CAP);
	char (*psid)[24] = calloc((size_t)n, 24);
	double *api = calloc((size_t)n, sizeof(double));
	double *sql = calloc((size_t)n, sizeof(double));
	struct conn tk, sk;
	int rc = -1;

	memset(&tk, 0, sizeof(tk));
	memset(&sk, 0, sizeof(sk));
	if (etok == NULL || ptok == NULL || ids == NULL || psid == NULL ||
	    api == NULL || sql == NULL || conn_open(&tk, o, AS_TAGGER) != 0 ||
	    conn_open(&sk, o, AS_STAFF) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out;
	}
	if (seed_rich(o, &tk, 'e', n, etok) != 0 || seed_rich(o, &tk, 'p', n,
	    ptok) != 0)
		goto out;
	/* the peer's subject ids, looked up before its timed transactions */
	for (i = 0; i < n; i++) {
		const char *p[1] = { ptok[i] };
		PGresult *res = PQexecParams(c, "SELECT id FROM subjects"
		    " WHERE subject_token = $1", 1, NULL, p, NULL, NULL, 0);

		if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
			fprintf(stderr, "%s: the peer's subject %lld: %s\n", prog, i,
			    PQresultErrorMessage(res));
			PQclear(res);
			goto out;
		}
		snprintf(psid[i], 24, "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	/* settle the freshly loaded tables for both sides alike */
	PQclear(PQexec(c, "VACUUM (ANALYZE) pii_values"));
	PQclear(PQexec(c, "VACUUM (ANALYZE) subjects"));
	PQclear(PQexec(c, "VACUUM (ANALYZE) dsr_requests"));
	/* alternate: vault, peer, vault, peer ... */
	for (i = 0; i < n; i++) {
		if (vault_erasure(o, &sk, etok[i], ids[i], &api[i], &polls) != 0 ||
		    sql_erasure(c, psid[i], &sql[i]) != 0)
			goto out;
	}
	er->polls = (double)polls / (double)n;
	if (vault_side(o, c, ids, etok, n, er) != 0)
		goto out;
	stats_of(api, (size_t)n, &er->api);
	stats_of(sql, (size_t)n, &er->sql);
	rc = 0;
out:
	conn_close(&tk);
	conn_close(&sk);
	free(etok);
	free(ptok);
	free(ids);
	free(psid);
	free(api);
	free(sql);
	return rc;
}

/* ---- 2. intake and the executor ---------------------------------------------- */

struct intake {
	const struct opts *o;
	const char *kind;
	char (*tok)[TOKEN_CAP];
	char (*ids)[ID_CAP];
	double *lat;
	long long n;
	atomic_llong next;
	atomic_int failed;
};

struct intake_worker {
	struct intake *in;
	pthread_t th;
};

static void *
intake_loop(void *arg)
{
	struct intake_worker *iw = arg;
	struct intake *in = iw->in;
	struct conn k;
	char url[1024], body[512];
	long long i;

	if (conn_open(&k, in->o, AS_STAFF) != 0) {
		atomic_store(&in->failed, 1);
		return NULL;
	}
	snprintf(url, sizeof(url), "%s/v1/dsr", in->o->url);
	while (!atomic_load(&in->failed) &&
	    (i = atomic_fetch_add(&in->next, 1)) < in->n) {
		double t0;
		long code;
		int len;

		/* received, not verified: the executor leaves it alone */
		if (strcmp(in->kind, "objection") == 0)
			len = snprintf(body, sizeof(body), "{\"kind\":\"objection\","
			    "\"subject_token\":\"%s\",\"purposes\":[\"bench\"]}",
			    in->tok[i]);
		else
			len = snprintf(body, sizeof(body), "{\"kind\":\"%s\","
			    "\"subject_token\":\"%s\"}", in->kind, in->tok[i]);
		t0 = now_s();
		code = conn_do(&k, url, body, (size_t)len);
		in->lat[i] = now_s() - t0;
		if (code != 201 || take_id(&k, in->ids[i]) != 0) {
			if (!atomic_exchange(&in->failed, 1))
				report_http("POST /v1/dsr (intake)", &k, code);
			break;
		}
	}
	conn_close(&k);
	return NULL;
}

/* Take n requests of kind in through c clients: *rate requests/s, *st the
 * latencies.  -1 when one failed. */
static int
run_intake(const struct opts *o, const char *kind, char (*tok)[TOKEN_CAP],
    char (*ids)[ID_CAP], long long n, double *rate, struct stats *st)
{
	struct intake in;
	struct intake_worker *w = calloc((size_t)o->clients, sizeof(*w));
	double t0;
	int i, rc = -1;

	memset(&in, 0, sizeof(in));
	in.o = o;
	in.kind = kind;
	in.tok = tok;
	in.ids = ids;
	in.n = n;
	in.lat = calloc((size_t)n, sizeof(double));
	atomic_init(&in.next, 0);
	atomic_init(&in.failed, 0);
	if (w == NULL || in.lat == NULL)
		goto out;
	t0 = now_s();
	for (i = 0; i < o->clients; i++) {
		w[i].in = &in;
		pthread_create(&w[i].th, NULL, intake_loop, &w[i]);
	}
	for (i = 0; i < o->clients; i++)
		pthread_join(w[i].th, NULL);
	*rate = (double)n / (now_s() - t0);
	if (atomic_load(&in.failed))
		goto out;
	stats_of(in.lat, (size_t)n, st);
	rc = 0;
out:
	free(in.lat);
	free(w);
	return rc;
}

/* A counter of the vault's /metrics, or -1. */
static long long
metric(const struct opts *o, const char *name)
{
	struct conn k;
	char url[1024];
	const char *p;
	long long v = -1;
	size_t nl = strlen(name);

	if (o->admin_url == NULL || conn_open(&k, o, AS_NOBODY) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/metrics", o->admin_url);
	if (conn_do(&k, url, NULL, 0) == 200)
		for (p = k.body; p != NULL && *p != '\0'; p = strchr(p, '\n'),
		    p = p != NULL ? p + 1 : NULL)
			if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
				v = strtoll(p + nl + 1, NULL, 10);
				break;
			}
	conn_close(&k);
	return v;
}

struct round {
	double intake_rate, wall_rate, span_rate, pickup_ms, wall_s, span_s;
	double poll_ms;         /* the mean time of one progress poll */
	long long polls, failures, values_erased;
	struct stats intake;
};

static int
exec_sql(PGconn *c, const char *sql, int n, const char *const *p,
    PGresult **out, ExecStatusType want)
{
	PGresult *res = PQexecParams(c, sql, n, NULL, p, NULL, NULL, 0);

	if (PQresultStatus(res) != want) {
		fprintf(stderr, "%s: %.60s...: %s", prog, sql, PQresultErrorMessage(res));
		PQclear(res);
		return -1;
	}
	if (out != NULL)
		*out = res;
	else
		PQclear(res);
	return 0;
}

/* One round: n requests of kind taken in as received, all verified by one
 * SQL UPDATE, timed until the executor has completed all of them. */
static int
executor_round(const struct opts *o, PGconn *c, const char *kind,
    char (*tok)[TOKEN_CAP], long long n, struct round *rd)
{
	char (*ids)[ID_CAP] = calloc((size_t)n, ID_CAP);
	char *ida = NULL, want[24], tag[64], lastid[ID_CAP];
	PGresult *res = NULL;
	long long f0, f1, done = 0, last = -1;
	double t_flip, t_last, t, deadline, poll_total = 0;
	int rc = -1;

	memset(rd, 0, sizeof(*rd));
	if (ids == NULL)
		goto out;
	if (run_intake(o, kind, tok, ids, n, &rd->intake_rate, &rd->intake) != 0)
		goto out;
	if ((ida = id_array(ids, n)) == NULL)
		goto out;
	{
		const char *p[1] = { ida };

		if (exec_sql(c, "SELECT id FROM dsr_requests WHERE id = ANY"
		    " ($1::text[]) ORDER BY due_at DESC, id DESC LIMIT 1", 1, p, &res,
		    PGRES_TUPLES_OK) != 0)
			goto out;
		snprintf(lastid, sizeof(lastid), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
		res = NULL;
	}
	f0 = metric(o, "piiv_vault_dsr_step_failures_total");
	/* verified_by names this round: its requests still open are found
	 * through the index of open requests, without probing all n ids */
	snprintf(tag, sizeof(tag), "bench_dsr-%s-%s", o->run, kind);
	{
		const char *p[2] = { ida, tag };

		/* not the audited POST /v1/dsr/{id}/verify: one statement, so
		 * the executor finds all n at once */
		if (exec_sql(c, "UPDATE dsr_requests SET status = 'verified',"
		    " verified_by = $2, verified_at = now()"
		    " WHERE id = ANY ($1::text[]) AND status = 'received'", 2, p,
		    &res, PGRES_COMMAND_OK) != 0)
			goto out;
		t_flip = now_s();
		snprintf(want, sizeof(want), "%lld", n);
		if (strcmp(PQcmdTuples(res), want) != 0) {
			fprintf(stderr, "%s: the SQL verify changed %s requests, not "
			    "%lld\n", prog, PQcmdTuples(res), n);
			goto out;
		}
		PQclear(res);
		res = NULL;
		t_last = t = t_flip;
		deadline = t_flip + 60 + (double)n / 10;
		while (done < n) {
			const char *q[1] = { lastid };
			double p0;
			int full;

			sleep_s(ROUND_POLL_S);
			p0 = now_s();
			/* the request the executor takes last (it goes by due_at,
			 * id) by its key; once that one is completed, or every
			 * FULL_POLL_EVERY polls (progress), the round's open count */
			if (exec_sql(c, "SELECT status = 'completed' FROM dsr_requests"
			    " WHERE id = $1", 1, q, &res, PGRES_TUPLES_OK) != 0)
				goto out;
			full = PQntuples(res) != 1 ||
			    strcmp(PQgetvalue(res, 0, 0), "t") == 0 ||
			    rd->polls % FULL_POLL_EVERY == FULL_POLL_EVERY - 1;
			PQclear(res);
			res = NULL;
			if (full) {
				if (exec_sql(c, "SELECT count(*) FROM dsr_requests"
				    " WHERE status IN ('verified', 'in_progress')"
				    " AND verified_by = $1", 1, p + 1, &res,
				    PGRES_TUPLES_OK) != 0)
					goto out;
				done = n - strtoll(PQgetvalue(res, 0, 0), NULL, 10);
				PQclear(res);
				res = NULL;
			}
			t = now_s();
			poll_total += t - p0;
			rd->polls++;
			if (done != last) {
				last = done;
				t_last = t;
			}
			if (done < n && (t - t_last > STALL_TIMEOUT_S || t > deadline)) {
				fprintf(stderr, "%s: %s round: %lld of %lld completed after "
				    "%.0f s (%s)\n", prog, kind, done, n, t - t_flip,
				    t > deadline ? "timed out" : "no progress");
				goto out;
			}
		}
		rd->wall_s = t - t_flip;
		rd->poll_ms = poll_total / (double)rd->polls * 1000;
		if (exec_sql(c, "SELECT extract(epoch FROM min(started_at) -"
		    " max(verified_at)), extract(epoch FROM max(completed_at) -"
		    " min(started_at)), coalesce(sum(values_erased), 0),"
		    " count(*) FILTER (WHERE status = 'completed')"
		    " FROM dsr_requests WHERE id = ANY ($1::text[])", 1, p, &res,
		    PGRES_TUPLES_OK) != 0)
			goto out;
	}
	if (strtoll(PQgetvalue(res, 0, 3), NULL, 10) != n) {
		fprintf(stderr, "%s: %s round: %s of %lld requests completed (the "
		    "others were rejected)\n", prog, kind, PQgetvalue(res, 0, 3), n);
		goto out;
	}
	rd->pickup_ms = strtod(PQgetvalue(res, 0, 0), NULL) * 1000;
	rd->span_s = strtod(PQgetvalue(res, 0, 1), NULL);
	rd->values_erased = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	rd->wall_rate = (double)n / rd->wall_s;
	rd->span_rate = rd->span_s > 0 ? (double)n / rd->span_s : 0;
	f1 = metric(o, "piiv_vault_dsr_step_failures_total");
	rd->failures = f0 >= 0 && f1 >= 0 ? f1 - f0 : -1;
	if (strcmp(kind, "erasure") == 0 && rd->values_erased != 2 * n) {
		fprintf(stderr, "%s: the erasures erased %lld values, not %lld\n",
		    prog, rd->values_erased, 2 * n);
		goto out;
	}
	rc = 0;
out:
	PQclear(res);
	free(ida);
	free(ids);
	return rc;
}

/* ---- 3. audited reveals ------------------------------------------------------ */

struct revealer {
	const struct opts *o;
	pthread_t th;
	unsigned seed;
	double deadline;
	double *lat;
	size_t nlat, cap;
	long long fails;
};

static void *
reveal_loop(void *arg)
{
	struct revealer *w = arg;
	const struct opts *o = w->o;
	struct conn k;
	char url[1024], body[512];

	if (conn_open(&k, o, AS_PROXY) != 0) {
		w->fails++;
		return NULL;
	}
	snprintf(url, sizeof(url), "%s/v1/reveal", o->url);
	while (now_s() < w->deadline) {
		long long s = (long long)(rand_r(&w->seed) % (unsigned)o->subjects);
		double t0;
		long code;
		int n;

		/* bench_reveal's request */
		n = snprintf(body, sizeof(body), "{\"subject\":\"" SUBJECT_FMT "\","
		    "\"categories\":[\"email\",\"name\"],\"context\":{\"on_behalf_of\":"
		    "\"agent%u@corp\",\"role\":\"cs_agent\",\"purpose\":\"support\","
		    "\"ticket\":\"CS-%lld\"}}", o->run, 't', s, w->seed % 50, s);
		t0 = now_s();
		code = conn_do(&k, url, body, (size_t)n);
		if (code != 200) {
			if (w->fails++ == 0)
				report_http("POST /v1/reveal", &k, code);
			continue;
		}
		if (w->nlat == w->cap) {
			size_t nc = w->cap ? w->cap * 2 : 4096;
			double *nl = realloc(w->lat, nc * sizeof(*nl));

			if (nl == NULL) {
				w->fails++;
				break;
			}
			w->lat = nl;
			w->cap = nc;
		}
		w->lat[w->nlat++] = now_s() - t0;
	}
	conn_close(&k);
	return NULL;
}

static int
run_reveals(const struct opts *o, double *rps, struct stats *st)
{
	int c = o->reveal_clients, i, rc = -1;
	struct revealer *w = calloc((size_t)c, sizeof(*w));
	double t0, *all = NULL;
	size_t total = 0, k = 0;
	long long fails = 0;

	if (w == NULL)
		return -1;
	t0 = now_s();
	for (i = 0; i < c; i++) {
		w[i].o = o;
		w[i].seed = (unsigned)(i * 7919 + 17);
		w[i].deadline = t0 + (double)o->seconds;
		pthread_create(&w[i].th, NULL, reveal_loop, &w[i]);
	}
	for (i = 0; i < c; i++) {
		pthread_join(w[i].th, NULL);
		total += w[i].nlat;
		fails += w[i].fails;
	}
	*rps = (double)total / (now_s() - t0);
	if (fails > 0)
		fprintf(stderr, "%s: %lld reveals failed\n", prog, fails);
	else if (total > 0 && (all = malloc(total * sizeof(*all))) != NULL) {
		for (i = 0; i < c; i++) {
			memcpy(all + k, w[i].lat, w[i].nlat * sizeof(*all));
			k += w[i].nlat;
		}
		stats_of(all, total, st);
		rc = 0;
	}
	for (i = 0; i < c; i++)
		free(w[i].lat);
	free(w);
	free(all);
	return rc;
}

/* ---- main ------------------------------------------------------------------ */

/* dsr_workers and dsr_poll_seconds of the vault's configuration (the
 * vault's defaults when absent: 2 and 5). */
static void
read_config(struct opts *o)
{
	json_error_t e;
	json_t *j;

	o->workers = 2;
	o->poll_seconds = 5;
	if (o->config == NULL || (j = json_load_file(o->config, 0, &e)) == NULL) {
		o->workers = o->poll_seconds = -1;
		return;
	}
	if (json_is_integer(json_object_get(j, "dsr_workers")))
		o->workers = json_integer_value(json_object_get(j, "dsr_workers"));
	if (json_is_integer(json_object_get(j, "dsr_poll_seconds")))
		o->poll_seconds = json_integer_value(json_object_get(j,
		    "dsr_poll_seconds"));
	json_decref(j);
}

static void
print_round(const char *kind, long long n, const struct opts *o,
    const struct round *rd)
{
	char fails[32];

	if (rd->failures >= 0)
		snprintf(fails, sizeof(fails), "%lld", rd->failures);
	else
		snprintf(fails, sizeof(fails), "unknown");
	printf("  %-10s intake:   %7.0f req/s  (%lld POST /v1/dsr at %d clients,"
	    " as received; p50 %.2f ms, p90 %.2f ms, max %.1f ms)\n", kind,
	    rd->intake_rate, n, o->clients, rd->intake.p50, rd->intake.p90,
	    rd->intake.max);
	printf("  %-10s executor: %7.0f req/s  wall: SQL verify -> all %lld "
	    "completed in %.2f s (polled every %.0f ms, %.2f ms a poll)\n", kind,
	    rd->wall_rate, n, rd->wall_s, ROUND_POLL_S * 1000, rd->poll_ms);
	printf("  %-10s executor: %7.0f req/s  span: first started_at -> last "
	    "completed_at %.2f s; picked up %.0f ms after the verify; step "
	    "failures %s\n", kind, rd->span_rate, rd->span_s, rd->pickup_ms, fails);
}

static const char usage_text[] =
    "usage: %s [--erasures E] [--subjects N] [--seconds S] [--clients C]\n"
    "Subject-rights requests: the latency of erasing a 100-value subject\n"
    "(E subjects, default 30) against a raw SQL deletion; the executor's\n"
    "throughput over N queued verified requests (default 10000; one round of\n"
    "objections, one of erasures; intake through POST /v1/dsr at C clients,\n"
    "default 8); audited reveals at 16 clients for S seconds (default 10)\n"
    "beside it.  Needs PIIV_VAULT_URL, PIIV_CACERT, PIIV_TAGGER_TOKEN,\n"
    "PIIV_PROXY_TOKEN and PIIV_PG; uses PIIV_AUDIT_PG, PIIV_VAULT_ADMIN_URL\n"
    "and PIIV_VAULT_CONFIG when set (. DIR/env after scripts/dev-up DIR).\n";

int
main(int argc, char **argv)
{
	struct opts o;
	struct erasure_result er;
	struct round obj, era;
	struct stats rst;
	char (*tok)[TOKEN_CAP] = NULL;
	PGconn *c = NULL;
	struct conn k;
	double rps = 0, t0;
	int i, rc = 1;

	memset(&o, 0, sizeof(o));
	memset(&k, 0, sizeof(k));
	o.erasures = 30;
	o.subjects = 10000;
	o.seconds = 10;
	o.clients = 8;
	o.reveal_clients = 16;
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--erasures") == 0 && i + 1 < argc)
			o.erasures = strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--subjects") == 0 && i + 1 < argc)
			o.subjects = strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			o.seconds = strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < argc)
			o.clients = (int)strtol(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--help") == 0) {
			printf(usage_text, prog);
			return 0;
		} else {
			fprintf(stderr, "%s: unknown argument %s (--help)\n", prog, argv[i]);
			return 2;
		}
	}
	if (o.erasures < 1 || o.erasures > 10000 || o.subjects < 1 ||
	    o.subjects > 1000000 || o.seconds < 1 || o.seconds > 3600 ||
	    o.clients < 1 || o.clients > MAX_CLIENTS) {
		fprintf(stderr, "%s: --erasures 1..10000, --subjects 1..1000000, "
		    "--seconds 1..3600, --clients 1..%d\n", prog, MAX_CLIENTS);
		return 2;
	}
	o.url = getenv("PIIV_VAULT_URL");
	o.admin_url = getenv("PIIV_VAULT_ADMIN_URL");
	o.cacert = getenv("PIIV_CACERT");
	o.tagger = getenv("PIIV_TAGGER_TOKEN");
	o.proxy = getenv("PIIV_PROXY_TOKEN");
	o.pg = getenv("PIIV_PG");
	o.audit_pg = getenv("PIIV_AUDIT_PG");
	o.config = getenv("PIIV_VAULT_CONFIG");
	/* the optional ones: empty is unset */
	if (o.audit_pg != NULL && o.audit_pg[0] == '\0')
		o.audit_pg = NULL;
	if (o.admin_url != NULL && o.admin_url[0] == '\0')
		o.admin_url = NULL;
	if (o.config != NULL && o.config[0] == '\0')
		o.config = NULL;
	if (!o.url || !o.cacert || !o.tagger || !o.proxy || !o.pg) {
		fprintf(stderr, "%s: needs PIIV_VAULT_URL, PIIV_CACERT, "
		    "PIIV_TAGGER_TOKEN, PIIV_PROXY_TOKEN and PIIV_PG (. DIR/env after "
		    "scripts/dev-up DIR)\n", prog);
		return 2;
	}
	read_config(&o);
	snprintf(o.run, sizeof(o.run), "%ld", (long)getpid());
	o.run5 = (int)((long)getpid() % 100000);
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to initialize\n", prog);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	c = PQconnectdb(o.pg);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", prog, PQerrorMessage(c));
		goto out;
	}
	if (o.workers >= 0)
		printf("bench_dsr: the vault's executor runs %lld workers "
		    "(dsr_workers), idle workers look for work every %lld s "
		    "(dsr_poll_seconds)\n", o.workers, o.poll_seconds);
	else
		printf("bench_dsr: the vault's dsr_workers is unknown (no readable "
		    "PIIV_VAULT_CONFIG)\n");

	/* 1. erasure latency */
	printf("erasure of a subject of %d values (%d records of email, phone, "
	    "name, address over %d sources), %lld subjects one at a time:\n",
	    VALUES_PER_SUBJECT, RECORDS_PER_SUBJECT, NSOURCES, o.erasures);
	fflush(stdout);
	if (erasure_latency(&o, c, &er) != 0)
		goto out;
	printf("  vault, API:   p50 %7.2f ms  p90 %7.2f ms  min %7.2f ms  max "
	    "%7.2f ms  POST /v1/dsr (erasure, verified) -> GET /v1/dsr/{id} "
	    "completed (polled every %.0f ms, %.1f audited GETs each)\n",
	    er.api.p50, er.api.p90, er.api.min, er.api.max,
	    ERASURE_POLL_S * 1000, er.polls);
	if (er.have_audit) {
		printf("  vault, clock: p50 %7.2f ms  p90 %7.2f ms  min %7.2f ms  max "
		    "%7.2f ms  created_at -> the erasure's audit record\n",
		    er.vault.p50, er.vault.p90, er.vault.min, er.vault.max);
		printf("    of which:   p50 %7.2f ms  p90 %7.2f ms  min %7.2f ms  max "
		    "%7.2f ms  created_at -> dsr_start audit record (intake's "
		    "records and commit, wake-up, claim)\n", er.queue.p50,
		    er.queue.p90, er.queue.min, er.queue.max);
		printf("    and:        p50 %7.2f ms  p90 %7.2f ms  min %7.2f ms  max "
		    "%7.2f ms  dsr_start -> erasure audit record (start's commit, "
		    "re-claim, the erasure's statements)\n", er.work.p50,
		    er.work.p90, er.work.min, er.work.max);
	} else
		printf("  vault, clock: p50 %7.2f ms  p90 %7.2f ms  min %7.2f ms  max "
		    "%7.2f ms  created_at -> completed_at (both transaction starts: "
		    "without the erasure's own statements and commit)\n",
		    er.vault.p50, er.vault.p90, er.vault.min, er.vault.max);
	printf("  raw SQL peer: p50 %7.2f ms  p90 %7.2f ms  min %7.2f ms  max "
	    "%7.2f ms  libpq: BEGIN; DELETE 100 pii_values; DELETE subject_keys; "
	    "UPDATE subjects (erased); COMMIT\n", er.sql.p50, er.sql.p90,
	    er.sql.min, er.sql.max);
	printf("vault/raw SQL erasure latency ratio (medians): API %.1f, vault "
	    "clock %.1f  (context, not a target)\n", er.api.p50 / er.sql.p50,
	    er.vault.p50 / er.sql.p50);
	fflush(stdout);

	/* 2. and 3. */
	printf("executor throughput: %lld subjects (email + name) seeded in "
	    "batches of %d; %lld requests taken in as received, then all marked "
	    "verified by one SQL UPDATE (bypassing the audited POST "
	    "/v1/dsr/{id}/verify: fine for the executor's throughput, not how "
	    "requests are verified); each request is two transactions and two "
	    "audit records in the executor:\n", o.subjects, BATCH, o.subjects);
	fflush(stdout);
	if ((tok = calloc((size_t)o.subjects, TOKEN_CAP)) == NULL ||
	    conn_open(&k, &o, AS_TAGGER) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		goto out;
	}
	t0 = now_s();
	if (seed_light(&o, &k, o.subjects, tok) != 0)
		goto out;
	conn_close(&k);
	printf("  seeded in %.1f s\n", now_s() - t0);
	PQclear(PQexec(c, "VACUUM (ANALYZE) subjects"));
	PQclear(PQexec(c, "VACUUM (ANALYZE) pii_values"));
	PQclear(PQexec(c, "VACUUM (ANALYZE) dsr_requests"));
	if (executor_round(&o, c, "objection", tok, o.subjects, &obj) != 0)
		goto out;
	print_round("objection", o.subjects, &o, &obj);
	fflush(stdout);
	if (run_reveals(&o, &rps, &rst) != 0)
		goto out;
	printf("  reveal     %7.0f req/s  audited POST /v1/reveal (email, name) at "
	    "%d clients for %lld s over the same subjects; p50 %.2f ms, p99 %.2f "
	    "ms\n", rps, o.reveal_clients, o.seconds, rst.p50, rst.p99);
	fflush(stdout);
	PQclear(PQexec(c, "VACUUM (ANALYZE) dsr_requests"));
	if (executor_round(&o, c, "erasure", tok, o.subjects, &era) != 0)
		goto out;
	print_round("erasure", o.subjects, &o, &era);
	printf("executor/reveal ratio (requests/s): objection %.3f (span %.3f), "
	    "erasure %.3f (span %.3f)  (%lld workers; context, not a target)\n",
	    obj.wall_rate / rps, obj.span_rate / rps, era.wall_rate / rps,
	    era.span_rate / rps, o.workers);
	rc = 0;
out:
	conn_close(&k);
	free(tok);
	if (c != NULL)
		PQfinish(c);
	curl_global_cleanup();
	return rc;
}
