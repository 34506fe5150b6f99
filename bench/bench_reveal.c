/*
 * bench_reveal.c - audited reveal throughput and latency against pgbench.
 *
 * Vault side: C clients (1 and 16 by default), each a keep-alive libcurl
 * connection with one request in flight, driven as pgbench drives its
 * clients (one thread below 2 clients, else two, each an event loop),
 * POST /v1/reveal as the proxy identity for
 * random subjects of a pre-tokenized set, for S seconds each.  Every reveal
 * reads the subject, its wrapped DEK and its values, decrypts, and commits
 * its audit record (group commit) before answering.
 *
 * Peer: pgbench at the same concurrency for the same time, running the
 * equivalent transaction in the vault database: the same two SELECTs
 * (subject + wrapped key + objection, then the subject's values) and one
 * INSERT of an audit-record-shaped row into a table with the audit table's
 * columns, primary key and indexes, committed (synchronous_commit on, as for
 * the audit database) - one fsync'ed commit per transaction.
 *
 * --via-proxy measures the whole access path instead: C clients POST
 * /v1/access to pii-proxy (PIIV_PROXY_URL), each with its own API key of
 * role cs_lead made at start with `pii-proxy apikey create`, asking for
 * the email of a subject of the same pre-tokenized set.  The proxy
 * authenticates the key, decides by policy, takes the person's
 * distinct-subjects-per-hour limit and has the vault reveal (and audit).
 * One key per client because the proxy serializes each person's rate-limit
 * check; each client draws from its own ACCESS_WINDOW subjects, under
 * cs_lead's max_subjects_per_hour, so no request is refused by the limit.
 * The peer is the same pgbench transaction for one category.
 *
 * Prints requests/s and p50/p99 latency of the vault (or the proxy),
 * pgbench's TPS, and their ratio.  Asserts nothing about timing.
 */
#include <errno.h>
#include <glob.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <libpq-fe.h>
#include <sodium.h>
#include "bench_util.h"

/* --via-proxy: the subjects one client draws from.  Each client is its own
 * person of role cs_lead, whose grant allows 120 distinct subjects an hour
 * (max_subjects_per_hour in policies/default.json); the 1- and 16-client
 * runs reuse the same people and windows, so none passes 100. */
#define ACCESS_WINDOW 100
#define MAX_CLIENTS 256
/* an API key: piiv_key_ + 16 + _ + 43 characters (proxy_store.c) */
#define KEY_MAX 128
/* the start of a failed answer, kept for its error code */
#define ANSWER_KEEP 512

static const char *prog = "bench_reveal";

struct opts {
	const char *url, *cacert, *token, *tagger, *pg;
	const char *proxy_url, *proxy_config, *bin;   /* --via-proxy */
	int via_proxy;
	char (*keys)[KEY_MAX];  /* --via-proxy: one API key per client (wiped) */
	int nkeys;
	long long subjects, seconds;
	int clients[4];
	size_t nclients;
	char run_id[32];
};

/* One client: a keep-alive connection with one request in flight. */
struct worker {
	const struct opts *o;
	CURL *h;
	struct curl_slist *hdrs;
	int idx;
	unsigned seed;
	long long win, base;    /* the subjects it draws from */
	double t0;              /* when its request in flight was sent */
	char body[512];
	long long ok, fails;
	double *lat;            /* seconds, one per successful request */
	size_t nlat, caplat;
	char answer[ANSWER_KEEP];   /* the start of the last failed answer */
	size_t alen;
	char err[256];
};

/* A load-generator thread and the clients it drives. */
struct driver {
	const struct opts *o;
	pthread_t th;
	struct worker *w;
	int n;
	double deadline;
};

/* One concurrency level's figures. */
struct result {
	double rps, p50, p99;
	double cpu_ms;          /* the machine's busy CPU per request (-1: n/a) */
	long long ok, fails;
	char err[256];          /* the first failure, "" when none */
};

/*
 * CPU seconds the whole machine spent busy so far (/proc/stat: user, nice,
 * system, irq and softirq of all cores; not idle, iowait or steal), or -1.
 * Over a run, divided by the requests served, it is what one request costs
 * everything on the machine together (load generator, servers, database,
 * kernel): what decides how many requests the cores can carry at all.
 */
static double
cpu_busy_s(void)
{
	unsigned long long v[8] = { 0 };
	long hz = sysconf(_SC_CLK_TCK);
	FILE *f = fopen("/proc/stat", "r");
	int n;

	if (f == NULL)
		return -1;
	n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0],
	    &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
	fclose(f);
	if (n != 8 || hz <= 0)
		return -1;
	return (double)(v[0] + v[1] + v[2] + v[5] + v[6]) / (double)hz;
}

static size_t
discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

/* Keep the start of an answer that is not a 200 (for its error code); a
 * 200 carries the revealed values and is dropped unread. */
static size_t
keep(char *p, size_t size, size_t nmemb, void *arg)
{
	struct worker *w = arg;
	size_t n = size * nmemb, room = sizeof(w->answer) - 1 - w->alen;
	long code = 0;

	if (curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
	    code == 200)
		return n;
	if (n < room)
		room = n;
	memcpy(w->answer + w->alen, p, room);
	w->alen += room;
	w->answer[w->alen] = '\0';
	return n;
}

/* Free a header list after wiping every line (one holds a credential). */
static void
slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i != NULL; i = i->next)
		sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static CURL *
handle(const struct opts *o, const char *token, struct curl_slist **hdrs)
{
	char auth[512];
	CURL *h = curl_easy_init();

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	*hdrs = curl_slist_append(NULL, auth);
	sodium_memzero(auth, sizeof(auth));
	*hdrs = curl_slist_append(*hdrs, "Content-Type: application/json");
	*hdrs = curl_slist_append(*hdrs, "Expect:");
	curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	return h;
}

/* Tokenize the subject set: user:rb-<run>-<i>, one email each. */
static int
setup_subjects(const struct opts *o)
{
	struct curl_slist *hdrs = NULL;
	char url[1024];
	CURL *h = handle(o, o->tagger, &hdrs);
	long long i, done = 0;
	int rc = 0;

	snprintf(url, sizeof(url), "%s/v1/tokenize", o->url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	while (done < o->subjects && rc == 0) {
		size_t cap = 1 << 20, len = 0;
		char *body = malloc(cap);
		long code = 0;
		long long n = o->subjects - done > 1000 ? 1000 : o->subjects - done;

		if (body == NULL)
			return -1;
		len += (size_t)snprintf(body + len, cap - len,
		    "{\"source\":\"bench.reveal\",\"records\":[");
		for (i = 0; i < n; i++)
			len += (size_t)snprintf(body + len, cap - len,
			    "%s{\"subject\":\"user:rb-%s-%lld\",\"fields\":{\"email\":"
			    "\"rb%lld-%s@example.com\",\"name\":\"Bench Person %lld\"}}",
			    i ? "," : "", o->run_id, done + i, done + i, o->run_id,
			    done + i);
		len += (size_t)snprintf(body + len, cap - len, "]}");
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
		if (curl_easy_perform(h) != CURLE_OK ||
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) != CURLE_OK ||
		    code != 200) {
			fprintf(stderr, "%s: tokenize setup failed (HTTP %ld)\n", prog,
			    code);
			rc = -1;
		}
		free(body);
		done += n;
	}
	curl_easy_cleanup(h);
	slist_wipe_free(hdrs);
	return rc;
}

/* The request body for subject s: a reveal as the proxy identity, or an
 * access request as the client's person. */
static int
request_body(const struct worker *w, long long s, char *body, size_t cap)
{
	const struct opts *o = w->o;

	if (o->via_proxy)
		return snprintf(body, cap, "{\"subject\":\"user:rb-%s-%lld\","
		    "\"categories\":[\"email\"],\"purpose\":\"support\","
		    "\"ticket\":\"BENCH-1\"}", o->run_id, s);
	return snprintf(body, cap, "{\"subject\":\"user:rb-%s-%lld\","
	    "\"categories\":[\"email\",\"name\"],\"context\":{\"on_behalf_of\":"
	    "\"agent%u@corp\",\"role\":\"cs_agent\",\"purpose\":\"support\","
	    "\"ticket\":\"CS-%lld\"}}", o->run_id, s, w->seed % 50, s);
}

/* The first failure of a worker: HTTP status and the API error code. */
static void
note_failure(struct worker *w, CURLcode cc, long code)
{
	const char *c = strstr(w->answer, "\"code\"");
	char api[64] = "";

	if (w->err[0] != '\0')
		return;
	if (cc != CURLE_OK) {
		snprintf(w->err, sizeof(w->err), "%s", curl_easy_strerror(cc));
		return;
	}
	if (c != NULL && sscanf(c, "\"code\" : \"%63[a-z_]\"", api) != 1 &&
	    sscanf(c, "\"code\":\"%63[a-z_]\"", api) != 1)
		api[0] = '\0';
	snprintf(w->err, sizeof(w->err), "HTTP %ld%s%s", code,
	    api[0] ? " " : "", api);
}

/* Record the outcome of w's finished request. */
static void
record(struct worker *w, CURLcode cc, double secs)
{
	long code = 0;

	if (cc == CURLE_OK)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		w->fails++;
		note_failure(w, cc, code);
		return;
	}
	if (w->nlat == w->caplat) {
		size_t nc = w->caplat ? w->caplat * 2 : 4096;
		double *nl = realloc(w->lat, nc * sizeof(*nl));

		if (nl == NULL) {
			w->fails++;
			return;
		}
		w->lat = nl;
		w->caplat = nc;
	}
	w->lat[w->nlat++] = secs;
	w->ok++;
}

/* A client that could not send (or finish) a request: one failure. */
static void
lost(struct worker *w, const char *why)
{
	w->fails++;
	if (w->err[0] == '\0')
		snprintf(w->err, sizeof(w->err), "%s", why);
}

/* Send w's next request for a random subject of its window. */
static int
start_request(CURLM *m, struct worker *w)
{
	const struct opts *o = w->o;
	long long s = (w->base + (long long)(rand_r(&w->seed) %
	    (unsigned)w->win)) % o->subjects;
	int n = request_body(w, s, w->body, sizeof(w->body));

	curl_easy_setopt(w->h, CURLOPT_POSTFIELDS, w->body);
	curl_easy_setopt(w->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
	w->alen = 0;
	w->answer[0] = '\0';
	w->t0 = now_s();
	return curl_multi_add_handle(m, w->h) == CURLM_OK ? 0 : -1;
}

/*
 * One load-generator thread driving its share of the clients, each a
 * keep-alive connection with one request in flight, through one event loop
 * (as pgbench drives its clients: -j 2 threads for 16 clients).  A client
 * sends its next request as soon as its answer is in, until the deadline.
 * Sixteen blocking client threads on two cores measured mostly the
 * scheduler: a client whose answer had arrived often waited milliseconds to
 * run, which inflated the tail of every side but pgbench's.
 */
static void *
drive(void *arg)
{
	struct driver *d = arg;
	const struct opts *o = d->o;
	CURLM *m = curl_multi_init();
	char url[1024];
	int i, active = 0;

	if (o->via_proxy)
		snprintf(url, sizeof(url), "%s/v1/access", o->proxy_url);
	else
		snprintf(url, sizeof(url), "%s/v1/reveal", o->url);
	for (i = 0; m != NULL && i < d->n; i++) {
		struct worker *w = &d->w[i];

		w->win = o->subjects;
		w->base = 0;
		if (o->via_proxy) {
			/* this client's own subjects: under its person's hourly
			 * limit */
			w->win = o->subjects < ACCESS_WINDOW ? o->subjects :
			    ACCESS_WINDOW;
			w->base = ((long long)w->idx * w->win) % o->subjects;
			w->h = handle(o, o->keys[w->idx], &w->hdrs);
		} else {
			w->h = handle(o, o->token, &w->hdrs);
		}
		if (w->h == NULL) {
			lost(w, "cannot make a libcurl handle");
			continue;
		}
		curl_easy_setopt(w->h, CURLOPT_URL, url);
		curl_easy_setopt(w->h, CURLOPT_WRITEFUNCTION, keep);
		curl_easy_setopt(w->h, CURLOPT_WRITEDATA, w);
		curl_easy_setopt(w->h, CURLOPT_PRIVATE, w);
		if (start_request(m, w) == 0)
			active++;
		else
			lost(w, "cannot start a request");
	}
	if (m == NULL)
		for (i = 0; i < d->n; i++)
			lost(&d->w[i], "cannot make a libcurl multi handle");
	while (active > 0) {
		CURLMsg *msg;
		int still, left;

		if (curl_multi_perform(m, &still) != CURLM_OK)
			break;
		while ((msg = curl_multi_info_read(m, &left)) != NULL) {
			struct worker *w = NULL;
			CURLcode cc = msg->data.result;
			CURL *e = msg->easy_handle;
			double t1 = now_s();

			if (msg->msg != CURLMSG_DONE)
				continue;
			curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&w);
			curl_multi_remove_handle(m, e);
			record(w, cc, t1 - w->t0);
			w->t0 = 0;
			if (t1 >= d->deadline)
				active--;
			else if (start_request(m, w) != 0) {
				w->t0 = 0;
				lost(w, "cannot start a request");
				active--;
			}
		}
		if (active > 0 && curl_multi_poll(m, NULL, 0, 100, NULL) != CURLM_OK)
			break;
	}
	/* the loop broke with requests in flight: each is a failure */
	for (i = 0; active > 0 && i < d->n; i++)
		if (d->w[i].t0 != 0)
			lost(&d->w[i], "the event loop failed");
	for (i = 0; i < d->n; i++) {
		struct worker *w = &d->w[i];

		if (w->h != NULL) {
			if (m != NULL)
				curl_multi_remove_handle(m, w->h);
			curl_easy_cleanup(w->h);
		}
		slist_wipe_free(w->hdrs);
	}
	if (m != NULL)
		curl_multi_cleanup(m);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The measured side at c clients (the vault, or the proxy with
 * --via-proxy): successful requests/s, p50 and p99 in ms, and the failures
 * (any answer but 200), the first one described.  -1 when nothing
 * succeeded or memory ran out. */
static int
run_clients(const struct opts *o, int c, struct result *res)
{
	struct worker *w = calloc((size_t)c, sizeof(*w));
	struct driver d[2];
	double t0, t1, cpu0, cpu1, *all = NULL;
	size_t total = 0, k = 0;
	int i, nd, started = 0, rc = 0;

	memset(res, 0, sizeof(*res));
	res->cpu_ms = -1;
	if (w == NULL)
		return -1;
	cpu0 = cpu_busy_s();
	t0 = now_s();
	for (i = 0; i < c; i++) {
		w[i].o = o;
		w[i].idx = i;
		w[i].seed = (unsigned)(i * 7919 + 17);
	}
	/* pgbench's -j: one thread below 2 clients, else two */
	nd = c < 2 ? 1 : 2;
	for (i = 0; i < nd; i++) {
		d[i].o = o;
		d[i].w = w + (c * i) / nd;
		d[i].n = (c * (i + 1)) / nd - (c * i) / nd;
		d[i].deadline = t0 + (double)o->seconds;
		if (pthread_create(&d[i].th, NULL, drive, &d[i]) != 0) {
			rc = -1;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++)
		pthread_join(d[i].th, NULL);
	for (i = 0; i < c; i++) {
		total += w[i].nlat;
		res->ok += w[i].ok;
		res->fails += w[i].fails;
		if (res->err[0] == '\0' && w[i].err[0] != '\0')
			snprintf(res->err, sizeof(res->err), "%s", w[i].err);
	}
	t1 = now_s();
	cpu1 = cpu_busy_s();
	if (total == 0)
		rc = -1;
	if (cpu0 >= 0 && cpu1 >= cpu0 && total > 0)
		res->cpu_ms = (cpu1 - cpu0) * 1000 / (double)total;
	if (getenv("BENCH_PER_CLIENT") != NULL)
		for (i = 0; i < c; i++) {
			if (w[i].nlat == 0)
				continue;
			qsort(w[i].lat, w[i].nlat, sizeof(double), cmp_double);
			fprintf(stderr, "client %2d: %6zu requests  p50 %6.2f ms  p99 "
			    "%6.2f ms\n", i, w[i].nlat, w[i].lat[w[i].nlat / 2] * 1000,
			    w[i].lat[(size_t)((double)w[i].nlat * 0.99)] * 1000);
		}
	if (rc == 0 && (all = malloc(total * sizeof(*all))) != NULL) {
		for (i = 0; i < c; i++) {
			memcpy(all + k, w[i].lat, w[i].nlat * sizeof(*all));
			k += w[i].nlat;
		}
		qsort(all, total, sizeof(*all), cmp_double);
		res->rps = (double)total / (t1 - t0);
		res->p50 = all[total / 2] * 1000;
		res->p99 = all[(size_t)((double)total * 0.99)] * 1000;
	}
	for (i = 0; i < c; i++)
		free(w[i].lat);
	free(w);
	free(all);
	return all != NULL ? rc : -1;
}

/* Quote s for the shell in '...': 0, or -1 when it holds a quote. */
static int
shell_quoted(const char *s, char *out, size_t cap)
{
	if (strchr(s, '\'') != NULL ||
	    (size_t)snprintf(out, cap, "'%s'", s) >= cap)
		return -1;
	return 0;
}

/* Print the lines of file f to stderr, indented. */
static void
show_file(const char *f)
{
	FILE *e = fopen(f, "r");
	char line[512];

	while (e != NULL && fgets(line, sizeof(line), e) != NULL)
		fprintf(stderr, "    %s", line);
	if (e != NULL)
		fclose(e);
}

/* --via-proxy: one API key of role cs_lead per client, person
 * bench-<run>-<i>@bench.test, from `pii-proxy apikey create` (its one line
 * of stdout; its stderr goes to a file shown only on failure).  Keys are
 * never printed. */
static int
make_keys(struct opts *o, int n)
{
	char bin[1200], cfg[1200], errf[128], cmd[4096];
	int i, rc = -1;

	if ((o->keys = sodium_malloc((size_t)n * sizeof(*o->keys))) == NULL)
		return -1;
	sodium_memzero(o->keys, (size_t)n * sizeof(*o->keys));
	o->nkeys = n;
	snprintf(errf, sizeof(errf), "/tmp/bench_reveal.%ld.apikey.err",
	    (long)getpid());
	snprintf(cmd, sizeof(cmd), "%s/pii-proxy", o->bin);
	if (shell_quoted(cmd, bin, sizeof(bin)) != 0 ||
	    shell_quoted(o->proxy_config, cfg, sizeof(cfg)) != 0) {
		fprintf(stderr, "%s: PIIV_BIN and PIIV_PROXY_CONFIG must not hold a "
		    "quote\n", prog);
		return -1;
	}
	for (i = 0; i < n; i++) {
		char *k = o->keys[i];
		size_t len;
		FILE *p;
		int st;

		snprintf(cmd, sizeof(cmd), "%s apikey create --config %s --user "
		    "bench-%s-%d@bench.test --role cs_lead 2>%s", bin, cfg,
		    o->run_id, i, errf);
		if ((p = popen(cmd, "r")) == NULL) {
			fprintf(stderr, "%s: cannot run %s\n", prog, bin);
			goto out;
		}
		if (fgets(k, KEY_MAX, p) == NULL)
			k[0] = '\0';
		st = pclose(p);
		len = strcspn(k, "\r\n");
		k[len] = '\0';
		if (st != 0 || len < 20 || strncmp(k, "piiv_key_", 9) != 0 ||
		    strspn(k, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789_-") != len) {
			fprintf(stderr, "%s: pii-proxy apikey create for client %d "
			    "failed (exit status %d):\n", prog, i, st);
			show_file(errf);
			goto out;
		}
	}
	rc = 0;
out:
	unlink(errf);
	return rc;
}

/* Revoke and wipe the keys of make_keys (a failure to revoke is only
 * reported: the dev setup is private). */
static void
drop_keys(struct opts *o)
{
	char bin[1200], cfg[1200], cmd[4096], errf[128], id[32];
	int i, st, bad = 0;

	if (o->keys == NULL)
		return;
	snprintf(errf, sizeof(errf), "/tmp/bench_reveal.%ld.apikey.err",
	    (long)getpid());
	snprintf(cmd, sizeof(cmd), "%s/pii-proxy", o->bin);
	if (shell_quoted(cmd, bin, sizeof(bin)) == 0 &&
	    shell_quoted(o->proxy_config, cfg, sizeof(cfg)) == 0)
		for (i = 0; i < o->nkeys; i++) {
			const char *k = o->keys[i], *u;
			FILE *p;
			size_t n;

			/* piiv_key_<id>_<secret>: the id names the key */
			if (strncmp(k, "piiv_key_", 9) != 0 ||
			    (u = strchr(k + 9, '_')) == NULL ||
			    (n = (size_t)(u - (k + 9))) == 0 || n >= sizeof(id))
				continue;
			memcpy(id, k + 9, n);
			id[n] = '\0';
			/* make_keys checked the key's characters: no quoting needed */
			snprintf(cmd, sizeof(cmd), "%s apikey revoke --config %s %s "
			    ">/dev/null 2>%s", bin, cfg, id, errf);
			if ((p = popen(cmd, "r")) == NULL)
				st = -1;
			else
				st = pclose(p);
			if (st != 0 && bad++ == 0) {
				fprintf(stderr, "%s: pii-proxy apikey revoke %s failed "
				    "(exit status %d):\n", prog, id, st);
				show_file(errf);
			}
		}
	unlink(errf);
	if (bad > 0)
		fprintf(stderr, "%s: %d of %d bench API keys could not be revoked\n",
		    prog, bad, o->nkeys);
	sodium_free(o->keys);   /* wipes */
	o->keys = NULL;
}

static const char *const peer_setup[] = {
	"DROP TABLE IF EXISTS bench_audit_records",
	"DROP TABLE IF EXISTS bench_reveal_tokens",
	"DROP SEQUENCE IF EXISTS bench_audit_seq",
	"CREATE SEQUENCE bench_audit_seq",
	/* the audit table's columns, keys and indexes (audit/audit_log.c) */
	"CREATE TABLE bench_audit_records ("
	"  writer text NOT NULL, seq bigint NOT NULL CHECK (seq >= 0),"
	"  at timestamptz NOT NULL, actor text NOT NULL, role text,"
	"  on_behalf_of text, purpose text, ticket text, action text NOT NULL,"
	"  subject_token text, categories text[] NOT NULL,"
	"  decision text NOT NULL CHECK (decision IN ('allow','deny')),"
	"  reason text NOT NULL, request_id text NOT NULL, source text,"
	"  batch_id text, count bigint NOT NULL, leaf bytea NOT NULL,"
	"  PRIMARY KEY (writer, seq))",
	"CREATE INDEX ON bench_audit_records (subject_token, at)",
	"CREATE INDEX ON bench_audit_records (actor, at)",
	"CREATE INDEX ON bench_audit_records (request_id)",
	NULL,
};

/* p50 and p99 (ms) of the per-transaction latencies in pgbench's logs
 * PREFIX.* (third field: microseconds). */
static void
pgbench_latency(const char *prefix, double *p50, double *p99)
{
	char pattern[160], line[256];
	double *v = NULL;
	size_t n = 0, cap = 0, k;
	glob_t g;
	FILE *f;

	*p50 = *p99 = -1;
	snprintf(pattern, sizeof(pattern), "%s.*", prefix);
	if (glob(pattern, 0, NULL, &g) != 0)
		return;
	for (k = 0; k < g.gl_pathc; k++) {
		if ((f = fopen(g.gl_pathv[k], "r")) == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL) {
			long long a, b, us;

			if (sscanf(line, "%lld %lld %lld", &a, &b, &us) != 3)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 65536;
				double *nv = realloc(v, nc * sizeof(*nv));

				if (nv == NULL)
					break;
				v = nv;
				cap = nc;
			}
			v[n++] = (double)us / 1000.0;
		}
		fclose(f);
		if (unlink(g.gl_pathv[k]) != 0)
			fprintf(stderr, "%s: could not remove %s\n", prog,
			    g.gl_pathv[k]);
	}
	globfree(&g);
	if (n > 0) {
		qsort(v, n, sizeof(*v), cmp_double);
		*p50 = v[n / 2];
		*p99 = v[(size_t)((double)n * 0.99)];
	}
	free(v);
}

/* libpq's notices (DROP ... IF EXISTS of a first run) are of no interest. */
static void
quiet_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

/* Run constant SQL without parameters; failures are reported by the caller
 * where they matter. */
static PGresult *
run_sql(PGconn *c, const char *sql)
{
	return PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
}

/* pgbench at c clients for o->seconds: its TPS, or -1; latencies from its
 * per-transaction log. */
static double
run_pgbench(const struct opts *o, int c, const char *script, long long lo,
    long long hi, double *p50, double *p99, double *cpu_ms)
{
	char cmd[4096], line[512], prefix[128];
	double tps = -1, cpu0, cpu1;
	long long txs = 0;
	FILE *p;

	snprintf(prefix, sizeof(prefix), "/tmp/bench_reveal.%ld.log",
	    (long)getpid());
	snprintf(cmd, sizeof(cmd), "%s -n -M prepared -c %d -j %d -T %lld "
	    "-D lo=%lld -D hi=%lld -l --log-prefix=%s -f %s '%s' 2>&1",
	    getenv("PGBENCH") ? getenv("PGBENCH") :
	    "/usr/lib/postgresql/15/bin/pgbench", c, c < 2 ? 1 : 2, o->seconds,
	    lo, hi, prefix, script, o->pg);
	*cpu_ms = -1;
	cpu0 = cpu_busy_s();
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL) {
		double v;
		long long t;

		if (sscanf(line, "tps = %lf (without initial connection time)",
		    &v) == 1)
			tps = v;
		else if (sscanf(line, "number of transactions actually processed: "
		    "%lld", &t) == 1)
			txs = t;
		else if (strstr(line, "error") != NULL || strstr(line, "FATAL"))
			fprintf(stderr, "%s: pgbench: %s", prog, line);
	}
	pclose(p);
	cpu1 = cpu_busy_s();
	if (cpu0 >= 0 && cpu1 >= cpu0 && txs > 0)
		*cpu_ms = (cpu1 - cpu0) * 1000 / (double)txs;
	pgbench_latency(prefix, p50, p99);
	return tps;
}

/* The peer's transaction: the vault's own reveal query (vault_reveal.c)
 * for the categories of the measured side, then the audit row its reveal
 * writes. */
static int
write_script(const struct opts *o, const char *path)
{
	/* categories, role, on_behalf_of, ticket, count of the audit row */
	const char *cats = o->via_proxy ? "email" : "email,name";
	const char *role = o->via_proxy ? "cs_lead" : "cs_agent";
	const char *who = o->via_proxy ? "bench-1@bench.test" : "agent7@corp";
	const char *ticket = o->via_proxy ? "'BENCH-1'" : "'CS-' || :k";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -1;
	dprintf(fd,
	    "\\set k random(:lo, :hi)\n"
	    "BEGIN;\n"
	    "SELECT s.id, s.status, k.kek_epoch, encode(k.wrapped_dek, 'hex'),"
	    " EXISTS (SELECT 1 FROM objections o WHERE o.subject_id = s.id"
	    " AND o.purpose = 'support'), v.token, v.category,"
	    " encode(v.ciphertext, 'hex'), v.source, to_char(v.last_seen AT TIME"
	    " ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24MISS\"Z\"')"   /* pgbench takes
	    ":MI" for a variable: the same call without the colons */
	    " FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id"
	    " LEFT JOIN pii_values v ON v.subject_id = s.id"
	    " AND v.category = ANY ('{%s}'::text[])"
	    " WHERE s.subject_token = (SELECT subject_token FROM bench_reveal_tokens"
	    " WHERE n = :k)"
	    " ORDER BY v.category, v.last_seen DESC, v.token;\n"
	    "INSERT INTO bench_audit_records (writer, seq, at, actor, role,"
	    " on_behalf_of, purpose, ticket, action, subject_token, categories,"
	    " decision, reason, request_id, source, batch_id, count, leaf)"
	    " VALUES ('pgbench/1', nextval('bench_audit_seq'), now(), 'proxy',"
	    " '%s', '%s', 'support', %s, 'reveal',"
	    " 'tok_subject_v1_' || md5(:k::text), '{%s}', 'allow', 'ok',"
	    " md5(random()::text), NULL, NULL, %d,"
	    " sha256(convert_to(md5(random()::text), 'UTF8')));\n"
	    "COMMIT;\n", cats, role, who, ticket, cats, o->via_proxy ? 1 : 2);
	return close(fd);
}

static const char usage_text[] =
    "usage: %s [--via-proxy] [--seconds S] [--subjects N] [--clients C]\n"
    "Audited reveals at 1 and 16 clients (or C only) for S seconds each (10)\n"
    "over N tokenized subjects (2000), against pgbench running the\n"
    "equivalent SELECT + INSERT transaction.  Needs PIIV_VAULT_URL,\n"
    "PIIV_CACERT, PIIV_TAGGER_TOKEN, PIIV_PG and PIIV_PROXY_TOKEN.\n"
    "--via-proxy: POST /v1/access through pii-proxy instead, one API key\n"
    "of role cs_lead per client (made with pii-proxy apikey create), each\n"
    "client over its own %d subjects; needs PIIV_PROXY_URL,\n"
    "PIIV_PROXY_CONFIG and PIIV_BIN instead of PIIV_PROXY_TOKEN.\n";

int
main(int argc, char **argv)
{
	struct opts o;
	char script[256];
	const char *side;
	PGconn *c = NULL;
	PGresult *res;
	long long lo, hi;
	size_t i;
	int rc = 1, maxc = 0;

	memset(&o, 0, sizeof(o));
	script[0] = '\0';
	o.subjects = 2000;
	o.seconds = 10;
	o.clients[0] = 1;
	o.clients[1] = 16;
	o.nclients = 2;
	for (i = 1; i < (size_t)argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < (size_t)argc)
			o.seconds = strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--subjects") == 0 && i + 1 < (size_t)argc)
			o.subjects = strtoll(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--clients") == 0 && i + 1 < (size_t)argc) {
			o.clients[0] = (int)strtol(argv[++i], NULL, 10);
			o.nclients = 1;
			if (o.clients[0] < 1 || o.clients[0] > MAX_CLIENTS) {
				fprintf(stderr, "%s: --clients 1..%d\n", prog, MAX_CLIENTS);
				return 2;
			}
		} else if (strcmp(argv[i], "--via-proxy") == 0)
			o.via_proxy = 1;
		else if (strcmp(argv[i], "--help") == 0) {
			printf(usage_text, prog, ACCESS_WINDOW);
			return 0;
		} else {
			fprintf(stderr, "%s: unknown argument %s (--help)\n", prog,
			    argv[i]);
			return 2;
		}
	}
	if (o.seconds < 1 || o.seconds > 3600 || o.subjects < 1 ||
	    o.subjects > 10000000) {
		fprintf(stderr, "%s: --seconds 1..3600, --subjects 1..10000000\n",
		    prog);
		return 2;
	}
	o.url = getenv("PIIV_VAULT_URL");
	o.cacert = getenv("PIIV_CACERT");
	o.token = getenv("PIIV_PROXY_TOKEN");
	o.tagger = getenv("PIIV_TAGGER_TOKEN");
	o.pg = getenv("PIIV_PG");
	o.proxy_url = getenv("PIIV_PROXY_URL");
	o.proxy_config = getenv("PIIV_PROXY_CONFIG");
	o.bin = getenv("PIIV_BIN");
	if (!o.url || !o.cacert || !o.tagger || !o.pg) {
		fprintf(stderr, "%s: needs PIIV_VAULT_URL, PIIV_CACERT, "
		    "PIIV_TAGGER_TOKEN and PIIV_PG (. DIR/env after scripts/dev-up "
		    "DIR)\n", prog);
		return 2;
	}
	if (!o.via_proxy && !o.token) {
		fprintf(stderr, "%s: needs PIIV_PROXY_TOKEN\n", prog);
		return 2;
	}
	if (o.via_proxy && (!o.proxy_url || !o.proxy_config || !o.bin)) {
		fprintf(stderr, "%s: --via-proxy needs PIIV_PROXY_URL, "
		    "PIIV_PROXY_CONFIG and PIIV_BIN (a dev setup with pii-proxy)\n",
		    prog);
		return 2;
	}
	for (i = 0; i < o.nclients; i++)
		if (o.clients[i] > maxc)
			maxc = o.clients[i];
	snprintf(o.run_id, sizeof(o.run_id), "%ld", (long)getpid());
	if (sodium_init() < 0) {
		fprintf(stderr, "%s: libsodium failed to initialize\n", prog);
		return 1;
	}
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (setup_subjects(&o) != 0)
		goto out;
	if (o.via_proxy && make_keys(&o, maxc) != 0)
		goto out;

	/* the peer's table and script; subject ids of this run's subjects */
	c = PQconnectdb(o.pg);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", prog, PQerrorMessage(c));
		goto out;
	}
	PQsetNoticeProcessor(c, quiet_notice, NULL);
	/* a quiet start for both sides: the tables just took a bulk load
	 * (bench_tokenize), and autovacuum would otherwise work through it
	 * during whichever side runs first */
	{
		static const char *const quiet[] = { "VACUUM (ANALYZE) subjects",
			"VACUUM (ANALYZE) subject_keys", "VACUUM (ANALYZE) pii_values",
			NULL };

		for (i = 0; quiet[i] != NULL; i++) {
			res = run_sql(c, quiet[i]);
			PQclear(res);
		}
	}
	for (i = 0; peer_setup[i] != NULL; i++) {
		res = run_sql(c, peer_setup[i]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			fprintf(stderr, "%s: %s", prog, PQerrorMessage(c));
			PQclear(res);
			goto out;
		}
		PQclear(res);
	}
	/* the peer looks subjects up by token, as the vault does: this run's
	 * subject tokens, numbered 1..N in a small side table */
	{
		const char *p[1] = { "bench.reveal" };

		res = PQexecParams(c, "CREATE TABLE bench_reveal_tokens AS"
		    " SELECT row_number() OVER (ORDER BY s.id)::int AS n,"
		    " s.subject_token FROM subjects s WHERE s.id IN"
		    " (SELECT subject_id FROM pii_values WHERE source = $1)", 1, NULL,
		    p, NULL, NULL, 0);
		PQclear(res);
		res = PQexec(c, "ALTER TABLE bench_reveal_tokens ADD PRIMARY KEY (n)");
		PQclear(res);
		res = PQexec(c, "SELECT count(*) FROM bench_reveal_tokens");
		lo = 1;
		hi = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		if (hi < 1) {
			fprintf(stderr, "%s: no subjects for the peer\n", prog);
			goto out;
		}
	}
	snprintf(script, sizeof(script), "/tmp/bench_reveal.%ld.sql",
	    (long)getpid());
	if (write_script(&o, script) != 0) {
		fprintf(stderr, "%s: cannot write %s\n", prog, script);
		goto out;
	}

	if (o.via_proxy)
		printf("bench_reveal --via-proxy: %lld subjects (each client draws "
		    "from its own %d), %lld s per run; proxy: POST /v1/access (email, "
		    "role cs_lead, one API key per client) through pii-proxy to the "
		    "vault, its audit record committed; peer: pgbench, the vault's "
		    "SELECT (1 category) + an audit-row INSERT per transaction\n",
		    o.subjects, ACCESS_WINDOW, o.seconds);
	else
		printf("bench_reveal: %lld subjects, %lld s per run; vault: POST "
		    "/v1/reveal (2 categories) with its audit record committed; peer: "
		    "pgbench, the same SELECTs + an audit-row INSERT per transaction\n",
		    o.subjects, o.seconds);
	fflush(stdout);
	side = o.via_proxy ? "access" : "reveal";
	rc = 0;
	for (i = 0; i < o.nclients; i++) {
		struct result r;
		double tps, q50 = -1, q99 = -1, pcpu = -1;
		int n = o.clients[i];
		int got = run_clients(&o, n, &r);

		if (!o.via_proxy && (got != 0 || r.fails > 0)) {
			/* the vault's reveals: any failure stops the run */
			if (r.fails > 0)
				fprintf(stderr, "%s: %lld reveals failed (first: %s)\n",
				    prog, r.fails, r.err[0] ? r.err : "see the vault log");
			rc = 1;
			break;
		}
		if (got != 0) {
			printf("access  %2d clients: failed: %lld requests, none "
			    "answered 200 (first: %s)\n", n, r.fails,
			    r.err[0] ? r.err : "see the proxy log");
			rc = 1;
			break;
		}
		if (r.fails > 0) {
			fprintf(stderr, "%s: %lld of %lld access requests at %d clients "
			    "failed (first: %s)\n", prog, r.fails, r.fails + r.ok, n,
			    r.err);
			rc = 1;
		}
		tps = run_pgbench(&o, n, script, lo, hi, &q50, &q99, &pcpu);
		if (o.via_proxy)
			printf("access  %2d clients: %8.0f req/s  p50 %6.2f ms  p99 "
			    "%6.2f ms  failures %lld%s\n", n, r.rps, r.p50, r.p99,
			    r.fails, n == 16 ? "  (target p99 < 15 ms)" : "");
		else
			printf("reveal  %2d clients: %8.0f req/s  p50 %6.2f ms  p99 "
			    "%6.2f ms%s\n", n, r.rps, r.p50, r.p99,
			    n == 16 ? "  (target p99 < 10 ms)" : "");
		if (tps <= 0) {
			printf("pgbench %2d clients: failed\n", n);
			rc = 1;
			continue;
		}
		printf("pgbench %2d clients: %8.0f tps    p50 %6.2f ms  p99 %6.2f ms\n",
		    n, tps, q50, q99);
		printf("%s/pgbench ratio at %d clients: %.2f%s\n", side, n,
		    r.rps / tps, n != 16 ? "" : o.via_proxy ? "  (target >= 0.5)" :
		    "  (target >= 0.75)");
		if (r.cpu_ms > 0 && pcpu > 0 && n > 1)
			printf("cpu per request at %d clients (whole machine): %s "
			    "%.3f ms, pgbench %.3f ms (%ld cores: at most %.0f req/s "
			    "and %.0f tps at these costs)\n", n, side, r.cpu_ms, pcpu,
			    sysconf(_SC_NPROCESSORS_ONLN),
			    (double)sysconf(_SC_NPROCESSORS_ONLN) * 1000 / r.cpu_ms,
			    (double)sysconf(_SC_NPROCESSORS_ONLN) * 1000 / pcpu);
		else if (r.cpu_ms > 0 && pcpu > 0)
			printf("cpu per request at %d client (whole machine): %s "
			    "%.3f ms, pgbench %.3f ms\n", n, side, r.cpu_ms, pcpu);
		fflush(stdout);
	}
out:
	if (c != NULL) {
		res = PQexec(c, "DROP TABLE IF EXISTS bench_audit_records");
		PQclear(res);
		res = PQexec(c, "DROP TABLE IF EXISTS bench_reveal_tokens");
		PQclear(res);
		res = PQexec(c, "DROP SEQUENCE IF EXISTS bench_audit_seq");
		PQclear(res);
		PQfinish(c);
	}
	if (script[0] != '\0')
		unlink(script);
	drop_keys(&o);
	curl_global_cleanup();
	return rc;
}
