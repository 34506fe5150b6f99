/*
 * proxy_vault.c - a pool of keep-alive libcurl handles to the vault.
 *
 * Each handle keeps its TLS connection open between requests; a request
 * takes a free handle (waiting on a condition variable when all are busy)
 * and gives it back.  Authentication is the proxy's client certificate or a
 * bearer token read once from a file of mode 0600; the token lives only in
 * the header lists, wiped when the pool is freed.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "../common/buf.h"
#include "../common/keyfile.h"
#include "../common/log.h"
#include "proxy_vault.h"

#define MAX_ANSWER (64u << 20)   /* as the vault's batch answer */
#define MAX_TOKEN 512

struct handle {
	CURL *h;
	int busy;
};

/* A reveal waiting for its turn in a batch (proxy_vault_reveal). */
struct rv_item {
	struct rv_item *next;
	const char *body;
	size_t len;
	const char *request_id;
	struct proxy_vault_answer *ans;
	pthread_cond_t cv;           /* signalled when done, or when it may lead */
	int r;
	int done;
	int waiting;                 /* its thread waits on cv (not leading) */
};

struct proxy_vault {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* reveals gathered into batches: the queue, the batches in flight */
	pthread_mutex_t bmu;
	struct rv_item *bhead, *btail;
	long long binflight;
	long long no_batch_until;    /* the vault answered 404 to a batch: one
	                              * reveal per call until then (monotonic s) */
	long hold_ms;                /* test hook: PIIV_TEST_REVEAL_HOLD_MS */
	struct handle *hs;
	size_t n;
	char base[1024];
	char *auth;                  /* "Authorization: Bearer ..." or NULL (wiped) */
	const struct proxy_vault_cfg *cfg;
	char *ca, *cert, *key;
	long timeout_ms;
};

/* after a 404 to a batch: one reveal per call for this long */
#define NO_BATCH_RETRY_S 60

static long long
mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec;
}

static int
read_token(const char *path, char **out, struct pii_errinfo *ei)
{
	unsigned char buf[MAX_TOKEN + 2];
	struct stat st;
	size_t got = 0, n;
	char *line = NULL;
	int fd, r;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "vault.token_file",
		    "cannot open the vault token file");
	if ((r = pii_keyfile_check(fd, "vault token file", path, &st, ei)) != 0) {
		close(fd);
		return r;
	}
	r = pii_read_all(fd, buf, sizeof(buf) - 1, &got);
	close(fd);
	if (r != 0 || got == 0 || got > MAX_TOKEN) {
		sodium_memzero(buf, sizeof(buf));
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "vault.token_file",
		    "the vault token file must hold one token of at most %d bytes",
		    MAX_TOKEN);
	}
	n = got;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	if (n < 16 || strspn((char *)buf, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.") != n) {
		sodium_memzero(buf, sizeof(buf));
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "vault.token_file",
		    "the vault token file does not hold a token");
	}
	if ((line = malloc(n + 32)) == NULL) {
		sodium_memzero(buf, sizeof(buf));
		return PII_ERR_NOMEM;
	}
	snprintf(line, n + 32, "Authorization: Bearer %s", (char *)buf);
	sodium_memzero(buf, sizeof(buf));
	*out = line;
	return 0;
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct pii_buf *b = arg;

	pii_buf_append(b, p, size * n);
	return b->failed ? 0 : size * n;
}

int
proxy_vault_new(const struct proxy_vault_cfg *cfg, struct proxy_vault **out,
    struct pii_errinfo *ei)
{
	struct proxy_vault *v;
	size_t i, ul;
	int r;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return PII_ERR_NOMEM;
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	pthread_mutex_init(&v->bmu, NULL);
	v->cfg = cfg;
	/* tests make reveals gather deterministically: a call that takes
	 * reveals waits this long before sending them (0 to 5000 ms) */
	if (getenv("PIIV_TEST_REVEAL_HOLD_MS") != NULL) {
		v->hold_ms = strtol(getenv("PIIV_TEST_REVEAL_HOLD_MS"), NULL, 10);
		if (v->hold_ms < 0 || v->hold_ms > 5000)
			v->hold_ms = 0;
		if (v->hold_ms > 0)
			pii_log(PII_LOG_WARN, "event=test_hook name="
			    "PIIV_TEST_REVEAL_HOLD_MS ms=%ld (every gathered vault "
			    "call is delayed; never set this in production)",
			    v->hold_ms);
	}
	v->timeout_ms = (long)cfg->timeout_ms;
	ul = strlen(cfg->url);
	while (ul > 0 && cfg->url[ul - 1] == '/')
		ul--;
	if (ul >= sizeof(v->base)) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "vault.url", "too long");
		goto fail;
	}
	memcpy(v->base, cfg->url, ul);
	v->base[ul] = '\0';
	if (cfg->token_file != NULL &&
	    (r = read_token(cfg->token_file, &v->auth, ei)) != 0)
		goto fail;
	v->n = (size_t)cfg->connections;
	if ((v->hs = calloc(v->n, sizeof(*v->hs))) == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	for (i = 0; i < v->n; i++) {
		CURL *h = curl_easy_init();

		if (h == NULL) {
			r = PII_ERR_NOMEM;
			goto fail;
		}
		v->hs[i].h = h;
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, v->timeout_ms);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
		    v->timeout_ms < 5000 ? v->timeout_ms : 5000L);
		curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
		/* straight to the vault: never through a proxy named in the
		 * environment (http_proxy, https_proxy, all_proxy) */
		curl_easy_setopt(h, CURLOPT_PROXY, "");
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR,
		    strncmp(v->base, "https://", 8) == 0 ? "https" : "http");
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
		if (cfg->ca_file != NULL)
			curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
		if (cfg->cert_file != NULL) {
			curl_easy_setopt(h, CURLOPT_SSLCERT, cfg->cert_file);
			curl_easy_setopt(h, CURLOPT_SSLKEY, cfg->key_file);
		}
	}
	*out = v;
	return 0;
fail:
	proxy_vault_free(v);
	return r;
}

void
proxy_vault_free(struct proxy_vault *v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v->hs != NULL && i < v->n; i++)
		if (v->hs[i].h != NULL)
			curl_easy_cleanup(v->hs[i].h);
	free(v->hs);
	if (v->auth != NULL) {
		sodium_memzero(v->auth, strlen(v->auth));
		free(v->auth);
	}
	pthread_cond_destroy(&v->cv);
	pthread_mutex_destroy(&v->mu);
	pthread_mutex_destroy(&v->bmu);
	free(v);
}

static struct handle *
take(struct proxy_vault *v)
{
	struct handle *got = NULL;
	size_t i;

	pthread_mutex_lock(&v->mu);
	for (;;) {
		for (i = 0; i < v->n; i++)
			if (!v->hs[i].busy) {
				got = &v->hs[i];
				got->busy = 1;
				break;
			}
		if (got != NULL)
			break;
		pthread_cond_wait(&v->cv, &v->mu);
	}
	pthread_mutex_unlock(&v->mu);
	return got;
}

static void
give(struct proxy_vault *v, struct handle *h)
{
	pthread_mutex_lock(&v->mu);
	h->busy = 0;
	pthread_cond_signal(&v->cv);
	pthread_mutex_unlock(&v->mu);
}

/* Free a header list after wiping every line (one is the token). */
static void
slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i != NULL; i = i->next)
		if (i->data != NULL)
			sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static int
request(struct proxy_vault *v, const char *method, const char *path,
    const char *body, size_t len, const char *request_id,
    const char *const *extra, struct proxy_vault_answer *ans)
{
	struct curl_slist *hdrs = NULL, *t;
	struct pii_buf resp;
	struct handle *h;
	char url[1280], rid[96];
	const char *ct = NULL;
	CURLcode cc;
	size_t i;
	int r = PII_ERR_IO, sent = 1, post = strcmp(method, "POST") == 0;

	memset(ans, 0, sizeof(*ans));
	if (!post && strcmp(method, "GET") != 0)
		return PII_ERR_BAD_REQUEST;
	for (i = 0; extra != NULL && extra[i] != NULL; i++)
		if (strpbrk(extra[i], "\r\n") != NULL || strchr(extra[i], ':') == NULL)
			return PII_ERR_BAD_REQUEST;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", v->base, path) >= sizeof(url))
		return PII_ERR_BAD_REQUEST;
	snprintf(rid, sizeof(rid), "X-Request-Id: %s", request_id);
	pii_buf_init(&resp, MAX_ANSWER);
	if ((t = curl_slist_append(hdrs, "Content-Type: application/json")) == NULL)
		goto nomem;
	hdrs = t;
	if ((t = curl_slist_append(hdrs, rid)) == NULL)
		goto nomem;
	hdrs = t;
	if ((t = curl_slist_append(hdrs, "Expect:")) == NULL)
		goto nomem;
	hdrs = t;
	for (i = 0; extra != NULL && extra[i] != NULL; i++) {
		if ((t = curl_slist_append(hdrs, extra[i])) == NULL)
			goto nomem;
		hdrs = t;
	}
	if (v->auth != NULL) {
		if ((t = curl_slist_append(hdrs, v->auth)) == NULL)
			goto nomem;
		hdrs = t;
	}
	h = take(v);
	curl_easy_setopt(h->h, CURLOPT_URL, url);
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h->h, CURLOPT_WRITEDATA, &resp);
	if (post) {
		curl_easy_setopt(h->h, CURLOPT_HTTPGET, 0L);
		curl_easy_setopt(h->h, CURLOPT_POST, 1L);
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDS, body != NULL ? body : "");
		curl_easy_setopt(h->h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(body != NULL ? len : 0));
	} else {
		curl_easy_setopt(h->h, CURLOPT_HTTPGET, 1L);
	}
	cc = curl_easy_perform(h->h);
	if (cc == CURLE_OK) {
		curl_easy_getinfo(h->h, CURLINFO_RESPONSE_CODE, &ans->status);
		/* valid only until the handle's next request: copied now */
		if (curl_easy_getinfo(h->h, CURLINFO_CONTENT_TYPE, &ct) == CURLE_OK &&
		    ct != NULL && strlen(ct) < sizeof(ans->content_type))
			memcpy(ans->content_type, ct, strlen(ct) + 1);
	} else {
		long reqsize = 0;

		curl_easy_getinfo(h->h, CURLINFO_REQUEST_SIZE, &reqsize);
		sent = reqsize > 0 || !(cc == CURLE_COULDNT_RESOLVE_HOST ||
		    cc == CURLE_COULDNT_CONNECT || cc == CURLE_SSL_CONNECT_ERROR ||
		    cc == CURLE_PEER_FAILED_VERIFICATION ||
		    cc == CURLE_SSL_CERTPROBLEM || cc == CURLE_SSL_CACERT_BADFILE ||
		    cc == CURLE_OPERATION_TIMEDOUT);
	}
	/* the handle must not keep pointers into this frame */
	curl_easy_setopt(h->h, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(h->h, CURLOPT_WRITEDATA, NULL);
	curl_easy_setopt(h->h, CURLOPT_POSTFIELDS, NULL);
	give(v, h);
	if (cc != CURLE_OK || resp.failed) {
		/* PII_ERR_IO only when the request provably never reached the
		 * vault; after that the vault may have acted (and recorded it) */
		r = !resp.failed && !sent ? PII_ERR_IO : PII_ERR_INTERNAL;
		goto out;
	}
	pii_buf_putc(&resp, '\0');
	if (resp.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	ans->body = resp.data;
	ans->len = resp.len - 1;
	resp.data = NULL;
	resp.len = resp.cap = 0;
	r = 0;
	goto out;
nomem:
	r = PII_ERR_NOMEM;
out:
	slist_wipe_free(hdrs);
	pii_buf_free(&resp);
	return r;
}

int
proxy_vault_post(struct proxy_vault *v, const char *path, const char *body,
    size_t len, const char *request_id, struct proxy_vault_answer *ans)
{
	return request(v, "POST", path, body, len, request_id, NULL, ans);
}

int
proxy_vault_get(struct proxy_vault *v, const char *path, const char *request_id,
    struct proxy_vault_answer *ans)
{
	return request(v, "GET", path, NULL, 0, request_id, NULL, ans);
}

int
proxy_vault_call(struct proxy_vault *v, const char *method, const char *target,
    const char *body, size_t len, const char *request_id,
    const char *const *headers, struct proxy_vault_answer *ans)
{
	return request(v, method, target, body, len, request_id, headers, ans);
}

/* Give every item of a failed batch call the call's result r. */
static void
batch_fail_all(struct rv_item **items, size_t n, int r)
{
	size_t i;

	for (i = 0; i < n; i++)
		items[i]->r = r;
}

int
proxy_vault_split_batch(const char *body, size_t len,
    const char *const *request_ids, size_t n, struct proxy_vault_answer *out)
{
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	json_t *results = json_object_get(root, "results");
	size_t i;
	int r = PII_ERR_INTERNAL;

	for (i = 0; i < n; i++)
		memset(&out[i], 0, sizeof(out[i]));
	if (!json_is_array(results) || json_array_size(results) != n)
		goto out;
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(results, i);
		json_t *st = json_object_get(e, "status");
		const char *rid = json_string_value(json_object_get(e, "request_id"));

		if (!json_is_integer(st) || json_integer_value(st) < 100 ||
		    json_integer_value(st) > 599 ||
		    !json_is_object(json_object_get(e, "body")) || rid == NULL ||
		    strcmp(rid, request_ids[i]) != 0)
			goto out;
	}
	/* each body is detached from the tree: its reveal's thread alone
	 * holds it from here */
	for (i = 0; i < n; i++) {
		json_t *e = json_array_get(results, i);

		out[i].status = (long)json_integer_value(json_object_get(e, "status"));
		out[i].json = json_incref(json_object_get(e, "body"));
		json_object_del(e, "body");
		snprintf(out[i].content_type, sizeof(out[i].content_type),
		    "application/json");
	}
	r = 0;
out:
	json_decref(root);
	return r;
}

/* proxy_vault_split_batch into the items' answers. */
static int
batch_split(struct rv_item **items, size_t n, const struct proxy_vault_answer *bans)
{
	struct proxy_vault_answer outs[64];
	const char *rids[64] = { NULL };
	size_t i;
	int r;

	if (n > sizeof(outs) / sizeof(outs[0]))
		return PII_ERR_INTERNAL;
	for (i = 0; i < n; i++)
		rids[i] = items[i]->request_id;
	if ((r = proxy_vault_split_batch(bans->body, bans->len, rids, n, outs)) != 0)
		return r;
	for (i = 0; i < n; i++)
		*items[i]->ans = outs[i];
	return 0;
}

/* Send items[0..n) one per call, as POST /v1/reveal. */
static void
send_each(struct proxy_vault *v, struct rv_item **items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		items[i]->r = request(v, "POST", "/v1/reveal", items[i]->body,
		    items[i]->len, items[i]->request_id, NULL, items[i]->ans);
}

/* Send items[0..n) to the vault: alone as POST /v1/reveal, else together
 * as POST /v1/reveal/batch; each item's r and *ans set. */
static void
send_batch(struct proxy_vault *v, struct rv_item **items, size_t n)
{
	struct proxy_vault_answer bans;
	struct pii_buf body;
	size_t i;
	int r;

	if (n == 1) {
		send_each(v, items, 1);
		return;
	}
	pii_buf_init(&body, (size_t)64 << 20);
	pii_buf_append(&body, "{\"requests\":[", 13);
	for (i = 0; i < n; i++) {
		if (i > 0)
			pii_buf_putc(&body, ',');
		pii_buf_append(&body, items[i]->body, items[i]->len);
	}
	pii_buf_append(&body, "]}", 2);
	if (body.failed) {
		pii_buf_free(&body);
		batch_fail_all(items, n, PII_ERR_IO);   /* nothing was sent */
		return;
	}
	r = request(v, "POST", "/v1/reveal/batch", body.data, body.len,
	    items[0]->request_id, NULL, &bans);
	pii_buf_free(&body);
	if (r != 0) {
		batch_fail_all(items, n, r);
		return;
	}
	if (bans.status == 404 || bans.status == 405) {
		/* a vault without the batch endpoint: nothing was done; one
		 * reveal per call for a while, then gather again */
		proxy_vault_done(&bans);
		pthread_mutex_lock(&v->bmu);
		v->no_batch_until = mono_s() + NO_BATCH_RETRY_S;
		pthread_mutex_unlock(&v->bmu);
		send_each(v, items, n);
		return;
	}
	if (bans.status != 200 && bans.status != 400 && bans.status != 401 &&
	    bans.status != 403 && bans.status != 413) {
		/* 5xx and the like: the vault may have acted on some reveals
		 * (their records committed) before failing the call */
		proxy_vault_done(&bans);
		batch_fail_all(items, n, PII_ERR_INTERNAL);
		return;
	}
	if (bans.status != 200) {
		/* the call as a whole was refused before any reveal (identity,
		 * body): each item gets that answer, as a call of its own would */
		for (i = 0; i < n; i++) {
			struct proxy_vault_answer *a = items[i]->ans;

			a->status = bans.status;
			a->body = malloc(bans.len + 1);
			if (a->body == NULL) {
				items[i]->r = PII_ERR_INTERNAL;
				continue;
			}
			memcpy(a->body, bans.body, bans.len + 1);
			a->len = bans.len;
			memcpy(a->content_type, bans.content_type,
			    sizeof(a->content_type));
			items[i]->r = 0;
		}
		proxy_vault_done(&bans);
		return;
	}
	/* answered but not understood: the vault may have acted on every item */
	r = batch_split(items, n, &bans);
	proxy_vault_done(&bans);
	if (r != 0)
		batch_fail_all(items, n, PII_ERR_INTERNAL);
	else
		for (i = 0; i < n; i++)
			items[i]->r = 0;
}

/* Under bmu: wake the oldest waiting reveal, to lead the next call (a
 * queued reveal whose thread is busy leading another call needs no wake). */
static void
wake_leader(struct proxy_vault *v)
{
	struct rv_item *it;

	for (it = v->bhead; it != NULL; it = it->next)
		if (it->waiting) {
			pthread_cond_signal(&it->cv);
			return;
		}
}

int
proxy_vault_reveal(struct proxy_vault *v, const char *body, size_t len,
    const char *request_id, struct proxy_vault_answer *ans)
{
	struct rv_item it, *batch[64];
	size_t n, i;
	long long max = v->cfg->reveal_batch_max;

	if (max > 1) {
		pthread_mutex_lock(&v->bmu);
		if (v->no_batch_until != 0 && mono_s() < v->no_batch_until)
			max = 1;
		pthread_mutex_unlock(&v->bmu);
	}
	if (max <= 1)
		return request(v, "POST", "/v1/reveal", body, len, request_id, NULL,
		    ans);
	if (max > (long long)(sizeof(batch) / sizeof(batch[0])))
		max = (long long)(sizeof(batch) / sizeof(batch[0]));
	memset(ans, 0, sizeof(*ans));
	memset(&it, 0, sizeof(it));
	it.body = body;
	it.len = len;
	it.request_id = request_id;
	it.ans = ans;
	pthread_cond_init(&it.cv, NULL);
	pthread_mutex_lock(&v->bmu);
	if (v->btail != NULL)
		v->btail->next = &it;
	else
		v->bhead = &it;
	v->btail = &it;
	while (!it.done) {
		if (v->binflight >= v->cfg->reveal_batches || v->bhead == NULL) {
			it.waiting = 1;
			pthread_cond_wait(&it.cv, &v->bmu);
			it.waiting = 0;
			continue;
		}
		/* lead: take the oldest reveals waiting (FIFO; maybe not ours) */
		for (n = 0; n < (size_t)max && v->bhead != NULL; n++) {
			batch[n] = v->bhead;
			v->bhead = v->bhead->next;
			batch[n]->next = NULL;
		}
		if (v->bhead == NULL)
			v->btail = NULL;
		v->binflight++;
		/* more waiting and room for another call: let the next lead */
		if (v->bhead != NULL && v->binflight < v->cfg->reveal_batches)
			wake_leader(v);
		pthread_mutex_unlock(&v->bmu);
		if (v->hold_ms > 0) {
			struct timespec ts = { v->hold_ms / 1000,
				(v->hold_ms % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		send_batch(v, batch, n);
		pthread_mutex_lock(&v->bmu);
		v->binflight--;
		for (i = 0; i < n; i++) {
			batch[i]->done = 1;
			if (batch[i] != &it)
				pthread_cond_signal(&batch[i]->cv);
		}
		if (v->bhead != NULL)
			wake_leader(v);
	}
	pthread_mutex_unlock(&v->bmu);
	pthread_cond_destroy(&it.cv);
	return it.r;
}

json_t *
proxy_vault_answer_json(struct proxy_vault_answer *ans)
{
	if (ans->json == NULL && ans->body != NULL)
		ans->json = json_loadb(ans->body, ans->len, JSON_REJECT_DUPLICATES,
		    NULL);
	return ans->json;
}

void
proxy_vault_done(struct proxy_vault_answer *ans)
{
	if (ans->body != NULL) {
		sodium_memzero(ans->body, ans->len);
		free(ans->body);
	}
	ans->body = NULL;
	ans->len = 0;
	json_decref(ans->json);
	ans->json = NULL;
	ans->content_type[0] = '\0';
}
