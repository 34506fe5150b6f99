/*
 * tag_vault.c - POST /v1/tokenize over HTTPS with libcurl.
 *
 * The handle keeps its connection alive between batches.  Authentication is
 * a client certificate (--cert/--key) or a bearer service token; the token
 * lives only in the Authorization header line, wiped when the client is
 * freed.  The answer is parsed strictly (duplicate keys refused) by the
 * caller's rules; error bodies are read for their code, field and message
 * only, which the vault guarantees never hold request values.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/json_util.h"
#include "tag_vault.h"

#define MAX_RESPONSE (256u << 20)
#define MAX_BACKOFF_MS 5000L

struct tag_vault {
	CURL *h;
	struct curl_slist *hdrs;
	char *auth;                  /* "Authorization: Bearer ..." (wiped) */
	char url[1024];
	struct pii_buf resp;
	long timeout_ms, retry_ms;
	int retries;
};

/* Free a header list after wiping every line: one of them is the
 * Authorization header, and curl_slist_append keeps its own copy. */
static void
slist_wipe_free(struct curl_slist *l)
{
	struct curl_slist *i;

	for (i = l; i != NULL; i = i->next)
		if (i->data != NULL)
			sodium_memzero(i->data, strlen(i->data));
	curl_slist_free_all(l);
}

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
	struct pii_buf *b = arg;

	pii_buf_append(b, p, size * n);
	return b->failed ? 0 : size * n;
}

void
tag_vault_free(struct tag_vault *v)
{
	if (v == NULL)
		return;
	if (v->h != NULL)
		curl_easy_cleanup(v->h);
	slist_wipe_free(v->hdrs);
	if (v->auth != NULL) {
		sodium_memzero(v->auth, strlen(v->auth));
		free(v->auth);
	}
	pii_buf_free(&v->resp);
	free(v);
}

static int
vfail(struct piitag_error *err, int code, const char *msg)
{
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = code;
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
	}
	return code;
}

struct tag_vault *
tag_vault_new(const struct piitag_vault_opts *o, struct piitag_error *err)
{
	struct tag_vault *v;
	size_t n;

	if (o->url == NULL || strncmp(o->url, "https://", 8) != 0) {
		vfail(err, PII_ERR_USAGE, "the vault URL must start with https://");
		return NULL;
	}
	if ((v = calloc(1, sizeof(*v))) == NULL) {
		vfail(err, PII_ERR_NOMEM, "out of memory");
		return NULL;
	}
	n = strlen(o->url);
	while (n > 0 && o->url[n - 1] == '/')
		n--;
	if (n + sizeof("/v1/tokenize") > sizeof(v->url)) {
		vfail(err, PII_ERR_USAGE, "the vault URL is too long");
		goto fail;
	}
	memcpy(v->url, o->url, n);
	memcpy(v->url + n, "/v1/tokenize", sizeof("/v1/tokenize"));
	v->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : 60000;
	v->retry_ms = o->retry_ms > 0 ? o->retry_ms : 200;
	v->retries = o->retries >= 0 ? o->retries : 6;
	pii_buf_init(&v->resp, MAX_RESPONSE);
	if ((v->h = curl_easy_init()) == NULL) {
		vfail(err, PII_ERR_INTERNAL, "cannot start libcurl");
		goto fail;
	}
	v->hdrs = curl_slist_append(NULL, "Content-Type: application/json");
	/* no "Expect: 100-continue" round trip before big bodies */
	v->hdrs = curl_slist_append(v->hdrs, "Expect:");
	if (o->token != NULL) {
		size_t tl = strlen(o->token), hl = sizeof("Authorization: Bearer ") - 1;

		if ((v->auth = malloc(hl + tl + 1)) == NULL) {
			vfail(err, PII_ERR_NOMEM, "out of memory");
			goto fail;
		}
		memcpy(v->auth, "Authorization: Bearer ", hl);
		memcpy(v->auth + hl, o->token, tl + 1);
		v->hdrs = curl_slist_append(v->hdrs, v->auth);
	}
	if (v->hdrs == NULL) {
		vfail(err, PII_ERR_NOMEM, "out of memory");
		goto fail;
	}
	curl_easy_setopt(v->h, CURLOPT_URL, v->url);
	curl_easy_setopt(v->h, CURLOPT_POST, 1L);
	curl_easy_setopt(v->h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(v->h, CURLOPT_TIMEOUT_MS, v->timeout_ms);
	curl_easy_setopt(v->h, CURLOPT_CONNECTTIMEOUT_MS,
	    v->timeout_ms < 10000 ? v->timeout_ms : 10000L);
	curl_easy_setopt(v->h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(v->h, CURLOPT_PROTOCOLS_STR, "https");
	curl_easy_setopt(v->h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(v->h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(v->h, CURLOPT_HTTPHEADER, v->hdrs);
	curl_easy_setopt(v->h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(v->h, CURLOPT_WRITEDATA, &v->resp);
	if (o->cacert != NULL)
		curl_easy_setopt(v->h, CURLOPT_CAINFO, o->cacert);
	if (o->cert != NULL) {
		curl_easy_setopt(v->h, CURLOPT_SSLCERT, o->cert);
		curl_easy_setopt(v->h, CURLOPT_SSLKEY, o->key != NULL ? o->key : o->cert);
	}
	return v;
fail:
	tag_vault_free(v);
	return NULL;
}

/* The vault's error body: {"error":{"code":..,"message":..,"field":..}} */
static void
read_error(const struct pii_buf *b, struct tag_vault_fail *f)
{
	struct pii_errinfo ei;
	json_t *j = NULL, *e;
	const char *s;

	if (b->len == 0 || pii_json_parse(b->data, b->len, 8, &j, &ei) != 0)
		return;
	e = json_object_get(j, "error");
	if ((s = json_string_value(json_object_get(e, "code"))) != NULL)
		snprintf(f->code, sizeof(f->code), "%s", s);
	if ((s = json_string_value(json_object_get(e, "field"))) != NULL)
		snprintf(f->field, sizeof(f->field), "%s", s);
	if ((s = json_string_value(json_object_get(e, "message"))) != NULL)
		snprintf(f->message, sizeof(f->message), "%s", s);
	json_decref(j);
}

static void
nap_ms(long ms, const volatile int *stop)
{
	struct timespec ts;

	while (ms > 0 && (stop == NULL || !*stop)) {
		long step = ms > 50 ? 50 : ms;

		ts.tv_sec = 0;
		ts.tv_nsec = step * 1000000L;
		nanosleep(&ts, NULL);
		ms -= step;
	}
}

int
tag_vault_tokenize(struct tag_vault *v, const char *body, size_t len,
    const char *request_id, const char **text, size_t *textlen,
    unsigned long long *retries,
    const volatile int *stop, struct tag_vault_fail *f)
{
	struct curl_slist *hdrs = NULL;
	char rid[96];
	long backoff = v->retry_ms;
	int attempt, r = PII_ERR_DB_UNAVAILABLE;

	memset(f, 0, sizeof(*f));
	snprintf(rid, sizeof(rid), "X-Request-Id: %.64s", request_id);
	{
		struct curl_slist *all;

		/* the fixed lines, then this batch's request id */
		for (all = v->hdrs; all != NULL; all = all->next)
			hdrs = curl_slist_append(hdrs, all->data);
		hdrs = curl_slist_append(hdrs, rid);
		if (hdrs == NULL) {
			snprintf(f->message, sizeof(f->message), "out of memory");
			return PII_ERR_NOMEM;
		}
	}
	curl_easy_setopt(v->h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(v->h, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(v->h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	for (attempt = 0; attempt <= v->retries; attempt++) {
		CURLcode cc;
		long status = 0;

		if (attempt > 0) {
			(*retries)++;
			nap_ms(backoff, stop);
			backoff = backoff * 2 > MAX_BACKOFF_MS ? MAX_BACKOFF_MS : backoff * 2;
			if (stop != NULL && *stop)
				break;
		}
		f->attempts = attempt + 1;
		pii_buf_reset(&v->resp);
		cc = curl_easy_perform(v->h);
		if (cc != CURLE_OK) {
			f->status = 0;
			snprintf(f->message, sizeof(f->message), "%s",
			    curl_easy_strerror(cc));
			if (cc == CURLE_SSL_CACERT_BADFILE || cc == CURLE_SSL_CERTPROBLEM ||
			    cc == CURLE_PEER_FAILED_VERIFICATION ||
			    cc == CURLE_UNSUPPORTED_PROTOCOL || cc == CURLE_URL_MALFORMAT) {
				r = PII_ERR_CONFIG;      /* retrying will not help */
				goto out;
			}
			continue;
		}
		curl_easy_getinfo(v->h, CURLINFO_RESPONSE_CODE, &status);
		f->status = status;
		if (status == 200) {
			if (v->resp.failed || v->resp.len == 0) {
				r = PII_ERR_INTERNAL;
				snprintf(f->message, sizeof(f->message),
				    "the vault's answer is empty or too large");
				goto out;
			}
			*text = v->resp.data;
			*textlen = v->resp.len;
			r = 0;
			goto out;
		}
		f->code[0] = f->field[0] = f->message[0] = '\0';
		read_error(&v->resp, f);
		if (status == 429 || status >= 500) {
			if (f->message[0] == '\0')
				snprintf(f->message, sizeof(f->message), "HTTP %ld", status);
			continue;
		}
		/* a final answer */
		if (status == 401)
			r = PII_ERR_UNAUTHENTICATED;
		else if (status == 403)
			r = PII_ERR_FORBIDDEN;
		else if (status == 409)
			r = PII_ERR_CONFLICT;
		else if (status == 413)
			r = PII_ERR_TOO_LARGE;
		else if (strcmp(f->code, "unknown_category") == 0)
			r = PII_ERR_UNKNOWN_CATEGORY;
		else
			r = PII_ERR_BAD_REQUEST;
		if (f->message[0] == '\0')
			snprintf(f->message, sizeof(f->message), "HTTP %ld", status);
		goto out;
	}
	r = PII_ERR_DB_UNAVAILABLE;
out:
	curl_easy_setopt(v->h, CURLOPT_HTTPHEADER, v->hdrs);
	slist_wipe_free(hdrs);
	if (r != 0)
		pii_buf_reset(&v->resp);
	return r;
}
