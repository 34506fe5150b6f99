/*
 * proxy_vault.h - pii-proxy's HTTPS client for the vault: a pool of
 * keep-alive libcurl handles authenticated by the proxy's client
 * certificate (or its service token).
 *
 * Answers from the vault carry PII: the response buffer is wiped when it is
 * released (a parsed body too, by the wiping allocator pii_json_init()
 * installs, as every pii-proxy does at start), and nothing from a body is
 * ever logged.
 */
#ifndef PROXY_VAULT_H
#define PROXY_VAULT_H

#include <stddef.h>

#include <jansson.h>

#include "../common/err.h"
#include "proxy_config.h"

struct proxy_vault;

/* *out is new; proxy_vault_free accepts NULL. */
int proxy_vault_new(const struct proxy_vault_cfg *cfg, struct proxy_vault **out,
    struct pii_errinfo *ei);
void proxy_vault_free(struct proxy_vault *v);

#define PROXY_VAULT_CT_MAX 128

/* An answer: status, body (NUL-terminated; wiped by proxy_vault_done) and
 * the answer's Content-Type ("" when it had none or a longer one).  A
 * gathered reveal's answer (proxy_vault_reveal) may come parsed only, with
 * body NULL: read reveal answers through proxy_vault_answer_json. */
struct proxy_vault_answer {
	long status;
	char *body;                  /* as received; NULL when only json is set */
	size_t len;
	json_t *json;                /* the body parsed (proxy_vault_answer_json) */
	char content_type[PROXY_VAULT_CT_MAX];
};

/* POST body to path ("/v1/reveal") with request_id as X-Request-Id, waiting
 * for a free handle.  0 with *ans filled (any HTTP status); PII_ERR_IO when
 * the request never reached the vault (no connection, TLS refused);
 * PII_ERR_INTERNAL when it was sent but no whole answer came back (the
 * vault may have acted and recorded it).  Release ans with proxy_vault_done. */
int proxy_vault_post(struct proxy_vault *v, const char *path, const char *body,
    size_t len, const char *request_id, struct proxy_vault_answer *ans);
int proxy_vault_get(struct proxy_vault *v, const char *path,
    const char *request_id, struct proxy_vault_answer *ans);
/* The general call: method "GET" or "POST" (anything else is
 * PII_ERR_BAD_REQUEST, nothing sent), target the path with its query string
 * ("/v1/dsr?status=received"), body and len for a POST (NULL: an empty
 * body), and headers, a NULL-terminated list of extra "Name: value" lines
 * (NULL: none; a line holding CR or LF is PII_ERR_BAD_REQUEST, nothing
 * sent).  The copies made of them (and of every header) are wiped after
 * the call; the caller wipes its own.  Results as proxy_vault_post, and
 * ans->content_type. */
int proxy_vault_call(struct proxy_vault *v, const char *method,
    const char *target, const char *body, size_t len, const char *request_id,
    const char *const *headers, struct proxy_vault_answer *ans);
/*
 * One reveal (body: the JSON object POST /v1/reveal takes, whose context
 * carries request_id): results as proxy_vault_post(v, "/v1/reveal", ...),
 * except that the body may be there parsed only (ans->json set, ans->body
 * NULL): read it with proxy_vault_answer_json.  Reveals that arrive while
 * vault.reveal_batches calls are already in flight wait, and the next free
 * caller sends up to vault.reveal_batch_max of them, oldest first, in one
 * POST /v1/reveal/batch; each gets its own result back, checked to carry
 * its own request id.  A call that fails fails each reveal in it the same way.
 * With reveal_batch_max 1 (or a vault without the batch endpoint) every
 * reveal is its own call.
 */
int proxy_vault_reveal(struct proxy_vault *v, const char *body, size_t len,
    const char *request_id, struct proxy_vault_answer *ans);
/* The answer's body as JSON, parsed once and kept in ans->json (borrowed:
 * proxy_vault_done releases it); NULL if the body is not JSON (not
 * remembered: each call tries again, so callers ask once). */
json_t *proxy_vault_answer_json(struct proxy_vault_answer *ans);
/* The answers of the n reveals of a 200 answer of POST /v1/reveal/batch
 * (body, len): out[i] gets the status and the parsed body (out[i].json; no
 * text) of result i.
 * 0, or PII_ERR_INTERNAL (out untouched but cleared) unless there is
 * exactly one result per reveal, in order, each with a status 100-599, an
 * object body and request_id equal to request_ids[i].
 * Release each out[i] with proxy_vault_done. */
int proxy_vault_split_batch(const char *body, size_t len,
    const char *const *request_ids, size_t n, struct proxy_vault_answer *out);
void proxy_vault_done(struct proxy_vault_answer *ans);

#endif
