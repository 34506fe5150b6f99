/*
 * tag_vault.h - the tagger's client for the vault's POST /v1/tokenize.
 *
 * One struct tag_vault per sending thread: a keep-alive libcurl handle with
 * the CA, the client certificate or the bearer service token.  A batch is
 * retried with the same body (so the same batch_id) after a transport error,
 * 429 or 5xx, with doubling back-off; any other answer is final.
 */
#ifndef TAG_VAULT_H
#define TAG_VAULT_H

#include <stddef.h>

#include <jansson.h>

#include "piitag.h"

struct tag_vault;

/* What a failed call ended with (never holds request data). */
struct tag_vault_fail {
	long status;               /* HTTP status, 0 for a transport error */
	char code[32];             /* the vault's error.code */
	char field[128];           /* the vault's error.field */
	char message[256];         /* the vault's error.message, or the transport error */
	int attempts;
};

struct tag_vault *tag_vault_new(const struct piitag_vault_opts *o,
    struct piitag_error *err);
void tag_vault_free(struct tag_vault *v);   /* accepts NULL; wipes the token */

/* POST body (JSON) to /v1/tokenize with X-Request-Id: request_id.  0 and
 * the answer's text in *text[0..*textlen) on 200, NUL-terminated, valid
 * until the next call with v (the caller parses it).  PII_ERR_DB_UNAVAILABLE when every attempt
 * failed in a retryable way; another negative code for a final answer; f
 * says which.  *retries is increased by the retries made.  *stop, when it
 * becomes non-zero, cuts the back-off short. */
int tag_vault_tokenize(struct tag_vault *v, const char *body, size_t len,
    const char *request_id, const char **text, size_t *textlen,
    unsigned long long *retries,
    const volatile int *stop, struct tag_vault_fail *f);

#endif
