/*
 * test_proxyvault.c - pii-proxy's gathering of reveals (proxy_vault_reveal)
 * against a real HTTP server on loopback (common/http, the vault's own
 * server code) that plays a vault answering each way a vault can: batches
 * answered, the batch endpoint missing (404), a batch failing (500), a
 * batch refused as a whole (403), a batch answered out of order.
 *
 * Six callers at once, 20 ms apart, with one call in flight at a time and
 * each call held 600 ms (PIIV_TEST_REVEAL_HOLD_MS): the first goes alone as
 * POST /v1/reveal, the five others gather into one POST /v1/reveal/batch.
 * Each caller must get its own answer, or the failure a call of its own
 * would have had.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "../../common/http.h"
#include "../../common/json_util.h"
#include "../../common/metrics.h"
#include "../../proxy/proxy_vault.h"
#include "tap.h"

#define CALLERS 6

enum mode { M_OK, M_404, M_500, M_403, M_SWAP };

static _Atomic int mode;
static atomic_int singles, batches;

/* The answer of one reveal: its subject echoed, so a caller can tell its
 * own answer from another's. */
static json_t *
echo(const json_t *item)
{
	return json_pack("{s:s}", "echo",
	    json_string_value(json_object_get(item, "subject")));
}

static void
fake_vault(void *ctx, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	json_t *root = json_loadb((const char *)req->body, req->body_len, 0, NULL);
	json_t *items, *results;
	size_t i, n;

	(void)ctx;
	if (strcmp(req->path, "/v1/reveal") == 0) {
		atomic_fetch_add(&singles, 1);
		pii_http_reply_json(resp, 200, echo(root));
		json_decref(root);
		return;
	}
	atomic_fetch_add(&batches, 1);
	switch (mode) {
	case M_404:
		pii_http_reply_json(resp, 404, json_pack("{s:{s:s, s:s}}", "error",
		    "code", "not_found", "message", "no such endpoint"));
		json_decref(root);
		return;
	case M_500:
		pii_http_reply_json(resp, 500, json_pack("{s:{s:s, s:s}}", "error",
		    "code", "internal", "message", "internal error"));
		json_decref(root);
		return;
	case M_403:
		pii_http_reply_json(resp, 403, json_pack("{s:{s:s, s:s}}", "error",
		    "code", "forbidden", "message", "identity may not reveal"));
		json_decref(root);
		return;
	default:
		break;
	}
	items = json_object_get(root, "requests");
	n = json_array_size(items);
	results = json_array();
	for (i = 0; i < n; i++) {
		/* M_SWAP: answers in reverse order */
		const json_t *it = json_array_get(items, mode == M_SWAP ? n - 1 - i : i);

		json_array_append_new(results, json_pack("{s:i, s:s, s:o}",
		    "status", 200, "request_id", json_string_value(json_object_get(
		    json_object_get(it, "context"), "request_id")), "body", echo(it)));
	}
	pii_http_reply_json(resp, 200, json_pack("{s:o}", "results", results));
	json_decref(root);
}

struct caller {
	pthread_t th;
	struct proxy_vault *v;
	int idx;
	int r;
	struct proxy_vault_answer ans;
};

static void *
call(void *arg)
{
	struct caller *c = arg;
	char body[160], rid[16];

	snprintf(rid, sizeof(rid), "r%d", c->idx);
	snprintf(body, sizeof(body), "{\"subject\":\"s%d\",\"categories\":[\"email\"],"
	    "\"context\":{\"purpose\":\"support\",\"request_id\":\"%s\"}}", c->idx, rid);
	c->r = proxy_vault_reveal(c->v, body, strlen(body), rid, &c->ans);
	return NULL;
}

/* Six callers at once through a fresh pool; their results in cs. */
static void
round_of(const struct proxy_vault_cfg *cfg, struct caller *cs)
{
	struct proxy_vault *v = NULL;
	struct pii_errinfo ei;
	struct timespec gap = { 0, 20 * 1000000L };
	int i;

	pii_errinfo_clear(&ei);
	if (proxy_vault_new(cfg, &v, &ei) != 0) {
		CHECK(0, "proxy_vault_new: %s", ei.message);
		return;
	}
	atomic_store(&singles, 0);
	atomic_store(&batches, 0);
	for (i = 0; i < CALLERS; i++) {
		memset(&cs[i], 0, sizeof(cs[i]));
		cs[i].v = v;
		cs[i].idx = i;
		pthread_create(&cs[i].th, NULL, call, &cs[i]);
		nanosleep(&gap, NULL);
	}
	for (i = 0; i < CALLERS; i++)
		pthread_join(cs[i].th, NULL);
	proxy_vault_free(v);
}

/* 1 if caller c got 200 with its own subject echoed. */
static int
own_answer(struct caller *c)
{
	char want[32];
	json_t *j;

	if (c->r != 0 || c->ans.status != 200)
		return 0;
	snprintf(want, sizeof(want), "s%d", c->idx);
	j = proxy_vault_answer_json(&c->ans);
	return j != NULL && json_string_value(json_object_get(j, "echo")) != NULL &&
	    strcmp(json_string_value(json_object_get(j, "echo")), want) == 0;
}

static void
release(struct caller *cs)
{
	int i;

	for (i = 0; i < CALLERS; i++)
		proxy_vault_done(&cs[i].ans);
}

int
main(void)
{
	struct pii_http_config hc;
	struct pii_http_server *srv = NULL;
	struct pii_metrics *m = NULL;
	struct pii_errinfo ei;
	struct proxy_vault_cfg cfg;
	struct caller cs[CALLERS];
	char url[64];
	int i, n, k;

	pii_json_init();
	setenv("PIIV_TEST_REVEAL_HOLD_MS", "600", 1);
	memset(&hc, 0, sizeof(hc));
	hc.address = "127.0.0.1";
	hc.threads = 8;
	hc.server_name = "fake_vault";
	pii_errinfo_clear(&ei);
	if (pii_metrics_new("fake_vault", &m) != 0 ||
	    pii_http_start(&hc, fake_vault, NULL, NULL, m, &srv, &ei) != 0) {
		CHECK(0, "start the fake vault: %s", ei.message);
		return TAP_DONE();
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", pii_http_port(srv));
	memset(&cfg, 0, sizeof(cfg));
	cfg.url = url;
	cfg.connections = 8;
	cfg.timeout_ms = 5000;
	cfg.reveal_batch_max = 32;
	cfg.reveal_batches = 1;

	mode = M_OK;
	round_of(&cfg, cs);
	for (n = 0, i = 0; i < CALLERS; i++)
		n += own_answer(&cs[i]);
	CHECK(n == CALLERS, "answered batch: each of %d callers gets its own answer (%d did)",
	    CALLERS, n);
	CHECK(atomic_load(&singles) == 1 && atomic_load(&batches) == 1,
	    "answered batch: the first alone, the five others in one batch "
	    "(%d single, %d batch)", atomic_load(&singles), atomic_load(&batches));
	release(cs);

	mode = M_404;
	round_of(&cfg, cs);
	for (n = 0, i = 0; i < CALLERS; i++)
		n += own_answer(&cs[i]);
	CHECK(n == CALLERS, "404 to the batch: each caller still gets its own answer "
	    "(%d did)", n);
	CHECK(atomic_load(&singles) == CALLERS && atomic_load(&batches) == 1,
	    "404 to the batch: those reveals resent one per call (%d single, "
	    "%d batch)", atomic_load(&singles), atomic_load(&batches));
	release(cs);

	/* which caller went alone is the scheduler's choice: count */
	mode = M_500;
	round_of(&cfg, cs);
	for (n = 0, k = 0, i = 0; i < CALLERS; i++) {
		n += own_answer(&cs[i]);
		k += cs[i].r == PII_ERR_INTERNAL && cs[i].ans.body == NULL &&
		    cs[i].ans.json == NULL;
	}
	CHECK(n == 1 && k == CALLERS - 1, "500 to the batch: the reveal that went "
	    "alone is answered (%d), outcome unknown for each in the batch, no answer "
	    "handed out (%d of %d)", n, k, CALLERS - 1);
	release(cs);

	mode = M_403;
	round_of(&cfg, cs);
	for (n = 0, k = 0, i = 0; i < CALLERS; i++) {
		n += own_answer(&cs[i]);
		k += cs[i].r == 0 && cs[i].ans.status == 403 && cs[i].ans.body != NULL &&
		    strstr(cs[i].ans.body, "forbidden") != NULL;
	}
	CHECK(n == 1 && k == CALLERS - 1, "403 to the batch: each reveal in it gets "
	    "the refusal (%d of %d; %d alone answered)", k, CALLERS - 1, n);
	release(cs);

	mode = M_SWAP;
	round_of(&cfg, cs);
	for (n = 0, k = 0, i = 0; i < CALLERS; i++) {
		n += own_answer(&cs[i]);
		k += cs[i].r == PII_ERR_INTERNAL && cs[i].ans.body == NULL &&
		    cs[i].ans.json == NULL;
	}
	CHECK(n == 1 && k == CALLERS - 1, "answers out of order: nothing handed out, "
	    "outcome unknown for each (%d of %d; %d alone answered)", k, CALLERS - 1, n);
	release(cs);

	cfg.reveal_batch_max = 1;
	mode = M_OK;
	round_of(&cfg, cs);
	for (n = 0, i = 0; i < CALLERS; i++)
		n += own_answer(&cs[i]);
	CHECK(n == CALLERS && atomic_load(&batches) == 0,
	    "reveal_batch_max 1: every reveal its own call (%d answered, %d batch)",
	    n, atomic_load(&batches));
	release(cs);

	pii_http_stop(srv);
	pii_metrics_free(m);
	return TAP_DONE();
}
