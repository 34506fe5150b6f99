/*
 * bench_tagdirect.c - the vault's own batch-ingest rate for a tagger input:
 * the peer of `pii-tag run` in bench/bench_tagger.sh.
 *
 *   bench_tagdirect --prefix P --source NAME [--batch N] [--parallel N]
 *                   [--fields email,phone,name,card] FILE
 *
 * Reads FILE, a CSV made by bench_tagdata (header first, no field quoted,
 * no field empty), with plain fgets and strtok.  Column "id" is the
 * subject; every column named in --fields is sent under the category of
 * the same name.  Each --batch rows (default 1000, the tagger's default)
 * become one POST /v1/tokenize body, exactly as the tagger builds it:
 *   {"source":NAME,"batch_id":"<run>-<n>","records":[
 *     {"subject":"<P><id>","fields":{"email":"...","phone":"...",...}},...]}
 * --parallel sender threads (default 2, the tagger's default), each with
 * one keep-alive libcurl handle (the dev CA, the tagger's bearer token, no
 * "Expect: 100-continue"), take the bodies from a small queue that the
 * reading thread fills, in order.  Every answer must be 200 with
 * stored + existing equal to the values sent.
 *
 * It does nothing else: no schema, no detection of untagged columns, no
 * UTF-8 or record-structure checks, no JSON parsing of the answer (two
 * counters are read with strstr), no output file.  That is the tagger's own
 * logic; what is left is reading the file and the vault's work (TLS, JSON,
 * normalize, tokens, seal, PostgreSQL, audit).  With a new --prefix every
 * subject is new, so it is a first-run ingest like the tagger's first run.
 *
 * Prints one line:
 *   direct: R rows, V values via POST /v1/tokenize  X rows/s  Y values/s  (T s)
 * The time runs from opening FILE to the last answer.  Exit 0, 1 when
 * something fails outright (an HTTP error prints its status and error
 * code), 2 on a usage error.
 *
 * Environment (scripts/dev-up's DIR/env): PIIV_VAULT_URL, PIIV_CACERT,
 * PIIV_TAGGER_TOKEN.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include "bench_util.h"

#define MAX_PARALLEL 64
#define MAX_BATCH 10000             /* the vault's max_batch_records */
#define MAX_FIELDS 16
#define MAX_COLUMNS 64
#define LINE_MAX_BYTES (64u * 1024)
#define MAX_RESPONSE (256u << 20)

static const char *prog = "bench_tagdirect";

struct body {
	char *data;
	size_t len, cap;
	long long values;               /* non-empty values in the batch */
	long long seq;
};

struct queue {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct body **slot;             /* ring of filled bodies */
	size_t cap, head, n;
	int done;                       /* the reader has finished */
	struct body **spare;            /* bodies free for reuse */
	size_t nspare;
};

struct run {
	const char *url, *cacert, *token;
	char endpoint[1024];
	struct queue q;
	pthread_mutex_t errmu;
	char err[512];
	volatile int failed;
	long long stored, existing;     /* under errmu */
};

struct growbuf {
	char *data;
	size_t len, cap;
	int failed;
};

static void
run_fail(struct run *rn, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rn->errmu);
	if (rn->err[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(rn->err, sizeof(rn->err), fmt, ap);
		va_end(ap);
	}
	rn->failed = 1;
	pthread_mutex_unlock(&rn->errmu);
	/* wake the reader and the senders */
	pthread_mutex_lock(&rn->q.mu);
	pthread_cond_broadcast(&rn->q.cv);
	pthread_mutex_unlock(&rn->q.mu);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s --prefix P --source NAME [--batch N] [--parallel N]\n"
	    "       [--fields email,phone,name,card] FILE\n"
	    "POST the rows of FILE (CSV from bench_tagdata: column \"id\" is the\n"
	    "subject, each --fields column goes under the category of its name) to\n"
	    "POST /v1/tokenize in batches of N rows (1000) from N keep-alive\n"
	    "connections (2), with no tagger logic, and print the rate.  Subjects\n"
	    "are P<id>; a new P makes every subject new.  Needs PIIV_VAULT_URL,\n"
	    "PIIV_CACERT and PIIV_TAGGER_TOKEN (. DIR/env after scripts/dev-up DIR).\n",
	    prog);
}

static int
parse_count(const char *flag, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be a number in %ld..%ld (got '%s')\n",
		    prog, flag, lo, hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- request bodies --------------------------------------------------------- */

static int
body_reserve(struct body *b, size_t more)
{
	size_t cap;
	char *d;

	if (b->len + more + 1 <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 1u << 20;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((d = realloc(b->data, cap)) == NULL)
		return -1;
	b->data = d;
	b->cap = cap;
	return 0;
}

static int
body_put(struct body *b, const char *s, size_t n)
{
	if (body_reserve(b, n) != 0)
		return -1;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

/* A JSON string: quotes, backslashes and control bytes escaped. */
static int
body_str(struct body *b, const char *pre, const char *s)
{
	size_t pl = pre != NULL ? strlen(pre) : 0, n = strlen(s), i;
	char *o;

	if (body_reserve(b, 2 + 6 * (pl + n)) != 0)
		return -1;
	o = b->data + b->len;
	*o++ = '"';
	for (i = 0; i < pl + n; i++) {
		unsigned char c = (unsigned char)(i < pl ? pre[i] : s[i - pl]);

		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c < 0x20) {
			o += snprintf(o, 7, "\\u%04x", c);
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	b->len = (size_t)(o - b->data);
	b->data[b->len] = '\0';
	return 0;
}

/* ---- the queue between the reader and the senders --------------------------- */

static struct body *
queue_get_spare(struct run *rn)
{
	struct queue *q = &rn->q;
	struct body *b = NULL;

	pthread_mutex_lock(&q->mu);
	/* at most cap filled bodies wait: the reader stays a few batches ahead */
	while (q->n == q->cap && !rn->failed)
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->nspare > 0)
		b = q->spare[--q->nspare];
	pthread_mutex_unlock(&q->mu);
	if (b == NULL)
		b = calloc(1, sizeof(*b));
	return b;
}

static int
queue_put(struct run *rn, struct body *b)
{
	struct queue *q = &rn->q;

	pthread_mutex_lock(&q->mu);
	while (q->n == q->cap && !rn->failed)
		pthread_cond_wait(&q->cv, &q->mu);
	if (rn->failed) {
		pthread_mutex_unlock(&q->mu);
		free(b->data);
		free(b);
		return -1;
	}
	q->slot[(q->head + q->n) % q->cap] = b;
	q->n++;
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	return 0;
}

/* The next filled body, or NULL when the reader is done (or a failure). */
static struct body *
queue_take(struct run *rn)
{
	struct queue *q = &rn->q;
	struct body *b = NULL;

	pthread_mutex_lock(&q->mu);
	while (q->n == 0 && !q->done && !rn->failed)
		pthread_cond_wait(&q->cv, &q->mu);
	if (q->n > 0 && !rn->failed) {
		b = q->slot[q->head];
		q->head = (q->head + 1) % q->cap;
		q->n--;
		pthread_cond_broadcast(&q->cv);
	}
	pthread_mutex_unlock(&q->mu);
	return b;
}

static void
queue_return(struct run *rn, struct body *b)
{
	struct queue *q = &rn->q;

	pthread_mutex_lock(&q->mu);
	if (q->nspare < q->cap + MAX_PARALLEL) {
		q->spare[q->nspare++] = b;
		b = NULL;
	}
	pthread_cond_broadcast(&q->cv);
	pthread_mutex_unlock(&q->mu);
	if (b != NULL) {
		free(b->data);
		free(b);
	}
}

/* ---- senders -------------------------------------------------------------------- */

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
		if (cap > MAX_RESPONSE || (d = realloc(g->data, cap)) == NULL) {
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

/* "code: message" of an error answer, or its start. */
static void
describe_error(const char *body, char *out, size_t cap)
{
	const char *c = strstr(body, "\"code\":\""), *m = strstr(body, "\"message\":\"");
	int cl = 0, ml = 0;

	if (c != NULL) {
		c += 8;
		cl = (int)strcspn(c, "\"");
	}
	if (m != NULL) {
		m += 11;
		ml = (int)strcspn(m, "\"");
	}
	if (c != NULL)
		snprintf(out, cap, "%.*s: %.*s", cl, c, ml, m != NULL ? m : "");
	else
		snprintf(out, cap, "unexpected answer: %.120s", body);
}

static void *
sender(void *arg)
{
	struct run *rn = arg;
	struct curl_slist *hdrs = NULL;
	struct growbuf resp = { 0 };
	char auth[1024], cerr[CURL_ERROR_SIZE];
	CURL *h = curl_easy_init();
	struct body *b;

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", rn->token);
	hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
	hdrs = curl_slist_append(hdrs, auth);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (h == NULL || hdrs == NULL) {
		run_fail(rn, "cannot set up libcurl");
		goto out;
	}
	curl_easy_setopt(h, CURLOPT_URL, rn->endpoint);
	curl_easy_setopt(h, CURLOPT_CAINFO, rn->cacert);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &resp);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 600L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);

	while ((b = queue_take(rn)) != NULL) {
		long status = 0;
		long long st, ex;
		CURLcode cr;

		curl_easy_setopt(h, CURLOPT_POSTFIELDS, b->data);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
		resp.len = 0;
		if (resp.data != NULL)
			resp.data[0] = '\0';
		cerr[0] = '\0';
		if ((cr = curl_easy_perform(h)) != CURLE_OK) {
			run_fail(rn, "batch %lld: %s", b->seq, cerr[0] ? cerr :
			    curl_easy_strerror(cr));
			queue_return(rn, b);
			break;
		}
		if (resp.failed || resp.data == NULL) {
			run_fail(rn, "batch %lld: answer missing or too large", b->seq);
			queue_return(rn, b);
			break;
		}
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
		if (status != 200) {
			char d[300];

			describe_error(resp.data, d, sizeof(d));
			run_fail(rn, "batch %lld: HTTP %ld %s", b->seq, status, d);
			queue_return(rn, b);
			break;
		}
		st = json_count(resp.data, "stored");
		ex = json_count(resp.data, "existing");
		if (st < 0 || ex < 0 || st + ex != b->values) {
			run_fail(rn, "batch %lld: HTTP 200 but stored %lld + existing %lld"
			    " != %lld values sent", b->seq, st, ex, b->values);
			queue_return(rn, b);
			break;
		}
		pthread_mutex_lock(&rn->errmu);
		rn->stored += st;
		rn->existing += ex;
		pthread_mutex_unlock(&rn->errmu);
		queue_return(rn, b);
	}
out:
	curl_slist_free_all(hdrs);
	if (h != NULL)
		curl_easy_cleanup(h);
	free(resp.data);
	return NULL;
}

/* ---- the reader ----------------------------------------------------------------- */

struct layout {
	int subject;                    /* column of "id" */
	int ncat;
	int col[MAX_FIELDS];            /* column of each category */
	char *cat[MAX_FIELDS];
};

/* Read FILE into batches; returns rows read, or -1 (rn->err set). */
static long long
read_file(struct run *rn, FILE *f, const struct layout *lay, long batch,
    const char *prefix, const char *source, const char *tag, long long *values)
{
	char *line = malloc(LINE_MAX_BYTES), *tok, *field[MAX_COLUMNS];
	struct body *b = NULL;
	long long rows = 0, seq = 0;
	long inbatch = 0;
	char head[512];
	int nf, k;

	*values = 0;
	if (line == NULL) {
		run_fail(rn, "out of memory");
		return -1;
	}
	while (!rn->failed && fgets(line, LINE_MAX_BYTES, f) != NULL) {
		nf = 0;
		for (tok = strtok(line, ",\r\n"); tok != NULL && nf < MAX_COLUMNS;
		    tok = strtok(NULL, ",\r\n"))
			field[nf++] = tok;
		if (nf <= lay->subject) {
			run_fail(rn, "line %lld: too few fields", rows + 2);
			break;
		}
		if (b == NULL) {
			if ((b = queue_get_spare(rn)) == NULL) {
				run_fail(rn, "out of memory");
				break;
			}
			b->len = 0;
			b->values = 0;
			b->seq = ++seq;
			snprintf(head, sizeof(head), "{\"source\":\"%s\",\"batch_id\":"
			    "\"%s-%06lld\",\"records\":[", source, tag, seq);
			if (body_put(b, head, strlen(head)) != 0)
				goto nomem;
		}
		if (body_put(b, inbatch > 0 ? ",{\"subject\":" : "{\"subject\":",
		    inbatch > 0 ? 12 : 11) != 0 ||
		    body_str(b, prefix, field[lay->subject]) != 0 ||
		    body_put(b, ",\"fields\":{", 11) != 0)
			goto nomem;
		for (k = 0; k < lay->ncat; k++) {
			if (lay->col[k] >= nf) {
				run_fail(rn, "line %lld: too few fields", rows + 2);
				goto out;
			}
			if ((k > 0 && body_put(b, ",", 1) != 0) ||
			    body_str(b, NULL, lay->cat[k]) != 0 ||
			    body_put(b, ":", 1) != 0 ||
			    body_str(b, NULL, field[lay->col[k]]) != 0)
				goto nomem;
			b->values++;
		}
		if (body_put(b, "}}", 2) != 0)
			goto nomem;
		rows++;
		if (++inbatch == batch) {
			if (body_put(b, "]}", 2) != 0)
				goto nomem;
			*values += b->values;
			(void)queue_put(rn, b);     /* frees b on failure */
			b = NULL;
			inbatch = 0;
		}
	}
	if (!rn->failed && ferror(f))
		run_fail(rn, "read error: %s", strerror(errno));
	if (b != NULL && inbatch > 0 && !rn->failed) {
		if (body_put(b, "]}", 2) != 0)
			goto nomem;
		*values += b->values;
		(void)queue_put(rn, b);
		b = NULL;
	}
	goto out;
nomem:
	run_fail(rn, "out of memory");
out:
	if (b != NULL) {
		free(b->data);
		free(b);
	}
	free(line);
	return rn->failed ? -1 : rows;
}

/* Map the header to the subject and the categories. */
static int
read_header(FILE *f, const char *fields, struct layout *lay)
{
	char line[4096], *cols[MAX_COLUMNS], *tok, *list, *save = NULL;
	int nc = 0, i;

	if (fgets(line, sizeof(line), f) == NULL) {
		fprintf(stderr, "%s: the input is empty\n", prog);
		return -1;
	}
	for (tok = strtok(line, ",\r\n"); tok != NULL && nc < MAX_COLUMNS;
	    tok = strtok(NULL, ",\r\n"))
		cols[nc++] = tok;
	lay->subject = -1;
	for (i = 0; i < nc; i++)
		if (strcmp(cols[i], "id") == 0)
			lay->subject = i;
	if (lay->subject < 0) {
		fprintf(stderr, "%s: the header has no \"id\" column\n", prog);
		return -1;
	}
	if ((list = strdup(fields)) == NULL)
		return -1;
	lay->ncat = 0;
	for (tok = strtok_r(list, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		int c = -1;

		for (i = 0; i < nc; i++)
			if (strcmp(cols[i], tok) == 0)
				c = i;
		if (c < 0 || lay->ncat == MAX_FIELDS) {
			fprintf(stderr, "%s: no column \"%s\" in the header (or too many"
			    " fields)\n", prog, tok);
			free(list);
			return -1;
		}
		lay->col[lay->ncat] = c;
		if ((lay->cat[lay->ncat++] = strdup(tok)) == NULL) {
			free(list);
			return -1;
		}
	}
	free(list);
	return lay->ncat > 0 ? 0 : -1;
}

static int
name_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++)
		if (n >= max || !((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == '-' ||
		    *s == ':' || *s == '/'))
			return 0;
	return n > 0;
}

int
main(int argc, char **argv)
{
	const char *prefix = NULL, *source = NULL, *fields = "email,phone,name,card";
	const char *path = NULL, *u;
	long batch = 1000, parallel = 2, i, started = 0;
	pthread_t tids[MAX_PARALLEL];
	struct layout lay;
	struct run rn;
	long long rows, values = 0;
	char tag[48];
	double t0, t;
	FILE *f;
	int a;

	for (a = 1; a < argc; a++) {
		const char *s = argv[a];

		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (s[0] != '-' || strcmp(s, "-") == 0) {
			if (path != NULL) {
				usage(stderr);
				return 2;
			}
			path = s;
			continue;
		}
		if (a + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (strcmp(s, "--prefix") == 0) {
			prefix = argv[++a];
		} else if (strcmp(s, "--source") == 0) {
			source = argv[++a];
		} else if (strcmp(s, "--fields") == 0) {
			fields = argv[++a];
		} else if (strcmp(s, "--batch") == 0) {
			if (parse_count(s, argv[++a], 1, MAX_BATCH, &batch) != 0)
				return 2;
		} else if (strcmp(s, "--parallel") == 0) {
			if (parse_count(s, argv[++a], 1, MAX_PARALLEL, &parallel) != 0)
				return 2;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (path == NULL || prefix == NULL || source == NULL) {
		usage(stderr);
		return 2;
	}
	if (!name_ok(source, 128) || strlen(prefix) > 64 || strchr(prefix, '"') != NULL) {
		fprintf(stderr, "%s: --source must be 1-128 characters of"
		    " [A-Za-z0-9._:/-]; --prefix at most 64 bytes\n", prog);
		return 2;
	}
	memset(&rn, 0, sizeof(rn));
	rn.url = getenv("PIIV_VAULT_URL");
	rn.cacert = getenv("PIIV_CACERT");
	rn.token = getenv("PIIV_TAGGER_TOKEN");
	if (rn.url == NULL || rn.cacert == NULL || rn.token == NULL || !*rn.url ||
	    !*rn.cacert || !*rn.token || strlen(rn.token) > 512) {
		fprintf(stderr, "%s: PIIV_VAULT_URL, PIIV_CACERT and PIIV_TAGGER_TOKEN"
		    " must be set (. DIR/env after scripts/dev-up DIR)\n", prog);
		return 1;
	}
	for (u = rn.url + strlen(rn.url); u > rn.url && u[-1] == '/'; u--)
		;
	snprintf(rn.endpoint, sizeof(rn.endpoint), "%.*s/v1/tokenize",
	    (int)(u - rn.url), rn.url);
	snprintf(tag, sizeof(tag), "direct-%ld-%ld", (long)getpid(), (long)time(NULL));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "%s: cannot initialize libcurl\n", prog);
		return 1;
	}
	pthread_mutex_init(&rn.errmu, NULL);
	pthread_mutex_init(&rn.q.mu, NULL);
	pthread_cond_init(&rn.q.cv, NULL);
	rn.q.cap = (size_t)parallel * 2;
	rn.q.slot = calloc(rn.q.cap, sizeof(*rn.q.slot));
	rn.q.spare = calloc(rn.q.cap + MAX_PARALLEL, sizeof(*rn.q.spare));
	if (rn.q.slot == NULL || rn.q.spare == NULL) {
		fprintf(stderr, "%s: out of memory\n", prog);
		return 1;
	}

	t0 = now_s();
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: cannot open %s: %s\n", prog, path, strerror(errno));
		return 1;
	}
	if (read_header(f, fields, &lay) != 0)
		return 2;
	for (i = 0; i < parallel; i++) {
		if (pthread_create(&tids[i], NULL, sender, &rn) != 0) {
			run_fail(&rn, "cannot start a sender thread");
			break;
		}
		started++;
	}
	rows = read_file(&rn, f, &lay, batch, prefix, source, tag, &values);
	fclose(f);
	pthread_mutex_lock(&rn.q.mu);
	rn.q.done = 1;
	pthread_cond_broadcast(&rn.q.cv);
	pthread_mutex_unlock(&rn.q.mu);
	for (i = 0; i < started; i++)
		pthread_join(tids[i], NULL);
	t = now_s() - t0;
	if (rn.failed || rows < 0) {
		fprintf(stderr, "%s: %s\n", prog, rn.err[0] ? rn.err : "failed");
		return 1;
	}
	if (rn.existing > 0)
		fprintf(stderr, "%s: note: %lld of the values were already stored"
		    " (not new subjects)\n", prog, rn.existing);
	printf("direct: %lld rows, %lld values via POST /v1/tokenize  %.0f rows/s"
	    "  %.0f values/s  (%.2f s)\n", rows, values, (double)rows / t,
	    (double)values / t, t);
	curl_global_cleanup();
	return 0;
}
