/*
 * bench_reveal.c - audited reveal throughput and latency against pgbench.
 *
 * Vault side: C client threads (1 and 16 by default), each with one
 * keep-alive libcurl handle, POST /v1/reveal as the proxy identity for
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
 * Prints requests/s and p50/p99 latency of the vault, pgbench's TPS, and
 * their ratio.  Asserts nothing about timing.
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

static const char *prog = "bench_reveal";

struct opts {
	const char *url, *cacert, *token, *tagger, *pg;
	long long subjects, seconds;
	int clients[4];
	size_t nclients;
	char run_id[32];
};

struct worker {
	const struct opts *o;
	pthread_t th;
	unsigned seed;
	double deadline;
	long long ok, fails;
	double *lat;            /* seconds, one per successful request */
	size_t nlat, caplat;
	char err[256];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t
discard(char *p, size_t size, size_t nmemb, void *arg)
{
	(void)p;
	(void)arg;
	return size * nmemb;
}

static CURL *
handle(const struct opts *o, const char *token, struct curl_slist **hdrs)
{
	char auth[512];
	CURL *h = curl_easy_init();

	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
	*hdrs = curl_slist_append(NULL, auth);
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
	curl_slist_free_all(hdrs);
	return rc;
}

static void *
reveal_loop(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	struct curl_slist *hdrs = NULL;
	char url[1024], body[512];
	CURL *h = handle(o, o->token, &hdrs);

	snprintf(url, sizeof(url), "%s/v1/reveal", o->url);
	curl_easy_setopt(h, CURLOPT_URL, url);
	while (now_s() < w->deadline) {
		long long s = (long long)(rand_r(&w->seed) % (unsigned)o->subjects);
		long code = 0;
		double t0;
		int n;

		n = snprintf(body, sizeof(body), "{\"subject\":\"user:rb-%s-%lld\","
		    "\"categories\":[\"email\",\"name\"],\"context\":{\"on_behalf_of\":"
		    "\"agent%u@corp\",\"role\":\"cs_agent\",\"purpose\":\"support\","
		    "\"ticket\":\"CS-%lld\"}}", o->run_id, s, w->seed % 50, s);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)n);
		t0 = now_s();
		if (curl_easy_perform(h) == CURLE_OK &&
		    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
		    code == 200) {
			if (w->nlat == w->caplat) {
				size_t nc = w->caplat ? w->caplat * 2 : 4096;
				double *nl = realloc(w->lat, nc * sizeof(*nl));

				if (nl == NULL)
					break;
				w->lat = nl;
				w->caplat = nc;
			}
			w->lat[w->nlat++] = now_s() - t0;
			w->ok++;
		} else {
			w->fails++;
			if (w->err[0] == '\0')
				snprintf(w->err, sizeof(w->err), "HTTP %ld", code);
		}
	}
	curl_easy_cleanup(h);
	curl_slist_free_all(hdrs);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The vault side at c clients: requests/s, p50 and p99 in ms. */
static int
run_vault(const struct opts *o, int c, double *rps, double *p50, double *p99)
{
	struct worker *w = calloc((size_t)c, sizeof(*w));
	double t0, t1, *all = NULL;
	size_t total = 0, k = 0;
	long long fails = 0;
	int i, rc = 0;

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
	t1 = now_s();
	if (fails > 0) {
		fprintf(stderr, "%s: %lld reveals failed (first: %s)\n", prog, fails,
		    w[0].err[0] ? w[0].err : "see the vault log");
		rc = -1;
	}
	if (total == 0)
		rc = -1;
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
		*rps = (double)total / (t1 - t0);
		*p50 = all[total / 2] * 1000;
		*p99 = all[(size_t)((double)total * 0.99)] * 1000;
	}
	for (i = 0; i < c; i++)
		free(w[i].lat);
	free(w);
	free(all);
	return all != NULL ? rc : -1;
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
    long long hi, double *p50, double *p99)
{
	char cmd[4096], line[512], prefix[128];
	double tps = -1;
	FILE *p;

	snprintf(prefix, sizeof(prefix), "/tmp/bench_reveal.%ld.log",
	    (long)getpid());
	snprintf(cmd, sizeof(cmd), "%s -n -M prepared -c %d -j %d -T %lld "
	    "-D lo=%lld -D hi=%lld -l --log-prefix=%s -f %s '%s' 2>&1",
	    getenv("PGBENCH") ? getenv("PGBENCH") :
	    "/usr/lib/postgresql/15/bin/pgbench", c, c < 2 ? 1 : 2, o->seconds,
	    lo, hi, prefix, script, o->pg);
	if ((p = popen(cmd, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), p) != NULL) {
		double v;

		if (sscanf(line, "tps = %lf (without initial connection time)",
		    &v) == 1)
			tps = v;
		else if (strstr(line, "error") != NULL || strstr(line, "FATAL"))
			fprintf(stderr, "%s: pgbench: %s", prog, line);
	}
	pclose(p);
	pgbench_latency(prefix, p50, p99);
	return tps;
}

int
main(int argc, char **argv)
{
	struct opts o;
	char script[256];
	PGconn *c;
	PGresult *res;
	long long lo, hi;
	size_t i;
	int rc = 0, fd;

	memset(&o, 0, sizeof(o));
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
			if (o.clients[0] < 1 || o.clients[0] > 256) {
				fprintf(stderr, "%s: --clients 1..256\n", prog);
				return 2;
			}
		}
		else if (strcmp(argv[i], "--help") == 0) {
			printf("usage: %s [--seconds S] [--subjects N] [--clients C]\n"
			    "Audited reveals at 1 and 16 clients (or C only) for S seconds each (10)\n"
			    "over N tokenized subjects (2000), against pgbench running the\n"
			    "equivalent SELECT + INSERT transaction.  Needs PIIV_VAULT_URL,\n"
			    "PIIV_CACERT, PIIV_PROXY_TOKEN, PIIV_TAGGER_TOKEN, PIIV_PG.\n",
			    prog);
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
	if (!o.url || !o.cacert || !o.token || !o.tagger || !o.pg) {
		fprintf(stderr, "%s: needs PIIV_VAULT_URL, PIIV_CACERT, "
		    "PIIV_PROXY_TOKEN, PIIV_TAGGER_TOKEN and PIIV_PG\n", prog);
		return 2;
	}
	snprintf(o.run_id, sizeof(o.run_id), "%ld", (long)getpid());
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (setup_subjects(&o) != 0)
		return 1;

	/* the peer's table and script; subject ids of this run's subjects */
	c = PQconnectdb(o.pg);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", prog, PQerrorMessage(c));
		return 1;
	}
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
			return 1;
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
			return 1;
		}
	}
	snprintf(script, sizeof(script), "/tmp/bench_reveal.%ld.sql",
	    (long)getpid());
	fd = open(script, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot write %s\n", prog, script);
		return 1;
	}
	/* the vault's own reveal query (vault_reveal.c), then the audit row */
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
	    " AND v.category = ANY ('{email,name}'::text[])"
	    " WHERE s.subject_token = (SELECT subject_token FROM bench_reveal_tokens"
	    " WHERE n = :k)"
	    " ORDER BY v.category, v.last_seen DESC, v.token;\n"
	    "INSERT INTO bench_audit_records (writer, seq, at, actor, role,"
	    " on_behalf_of, purpose, ticket, action, subject_token, categories,"
	    " decision, reason, request_id, source, batch_id, count, leaf)"
	    " VALUES ('pgbench/1', nextval('bench_audit_seq'), now(), 'proxy',"
	    " 'cs_agent', 'agent7@corp', 'support', 'CS-' || :k, 'reveal',"
	    " 'tok_subject_v1_' || md5(:k::text), '{email,name}', 'allow', 'ok',"
	    " md5(random()::text), NULL, NULL, 2,"
	    " sha256(convert_to(md5(random()::text), 'UTF8')));\n"
	    "COMMIT;\n");
	close(fd);

	printf("bench_reveal: %lld subjects, %lld s per run; vault: POST /v1/reveal"
	    " (2 categories) with its audit record committed; peer: pgbench, the "
	    "same SELECTs + an audit-row INSERT per transaction\n", o.subjects,
	    o.seconds);
	for (i = 0; i < o.nclients; i++) {
		double rps = 0, p50 = 0, p99 = 0, tps, q50, q99;
		int n = o.clients[i];

		if (run_vault(&o, n, &rps, &p50, &p99) != 0) {
			rc = 1;
			break;
		}
		tps = run_pgbench(&o, n, script, lo, hi, &q50, &q99);
		printf("reveal  %2d clients: %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms"
		    "%s\n", n, rps, p50, p99, n == 16 ? "  (target p99 < 10 ms)" : "");
		if (tps <= 0) {
			printf("pgbench %2d clients: failed\n", n);
			rc = 1;
			continue;
		}
		printf("pgbench %2d clients: %8.0f tps    p50 %6.2f ms  p99 %6.2f ms\n",
		    n, tps, q50, q99);
		printf("reveal/pgbench ratio at %d clients: %.2f%s\n", n, rps / tps,
		    n == 16 ? "  (target >= 0.75)" : "");
	}
	res = PQexec(c, "DROP TABLE IF EXISTS bench_audit_records");
	PQclear(res);
	res = PQexec(c, "DROP TABLE IF EXISTS bench_reveal_tokens");
	PQclear(res);
	res = PQexec(c, "DROP SEQUENCE IF EXISTS bench_audit_seq");
	PQclear(res);
	PQfinish(c);
	unlink(script);
	curl_global_cleanup();
	return rc;
}
