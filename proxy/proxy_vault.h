/*
 * proxy_vault.h - pii-proxy's HTTPS client for the vault: a pool of
 * keep-alive libcurl handles authenticated by the proxy's client
 * certificate (or its service token).
 *
 * Answers from the vault carry PII: the response buffer is wiped when it is
 * released, and nothing from a body is ever logged.
 */
#ifndef PROXY_VAULT_H
#define PROXY_VAULT_H

#include <stddef.h>

#include "../common/err.h"
#include "proxy_config.h"

struct proxy_vault;

/* *out is new; proxy_vault_free accepts NULL. */
int proxy_vault_new(const struct proxy_vault_cfg *cfg, struct proxy_vault **out,
    struct pii_errinfo *ei);
void proxy_vault_free(struct proxy_vault *v);

#define PROXY_VAULT_CT_MAX 128

/* An answer: status, body (NUL-terminated; wiped by proxy_vault_done) and
 * the answer's Content-Type ("" when it had none or a longer one). */
struct proxy_vault_answer {
	long status;
	char *body;
	size_t len;
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
void proxy_vault_done(struct proxy_vault_answer *ans);

#endif
