/*
 * proxy_handlers.h - the request handlers of pii-proxy and what they share
 * (internal to proxy/).
 */
#ifndef PROXY_HANDLERS_H
#define PROXY_HANDLERS_H

#include <jansson.h>

#include "proxy_server.h"

#define PROXY_MAX_CATEGORIES 16
#define PROXY_SUBJECT_MAX 256

/* What a request names: a subject and the categories asked for. */
struct proxy_target {
	const char *kind;                /* "ref" or "token" */
	const char *subject;             /* borrowed from the body */
	const char *cats[PROXY_MAX_CATEGORIES];
	size_t ncats;
	const char *purpose;
	const char *ticket;              /* or NULL */
	const char *reason;              /* or NULL */
	const char *grant_id;            /* grant actions: recorded as batch_id */
	unsigned char skey[PROXY_SUBJECT_KEY_BYTES];
};

/* Record one of the proxy's own decisions.  0 when durable, else
 * PII_ERR_AUDIT_UNAVAILABLE (the caller refuses with 503). */
int proxy_audit(struct proxy_server *ps, const struct proxy_caller *who,
    const char *role, const char *action, const struct proxy_target *t,
    int allowed, int reason_code, long long count);

/* Refuse: audit the denial, then answer with ei (or 503 when the record
 * could not be written). */
void proxy_deny(struct proxy_server *ps, const struct proxy_caller *who,
    const char *role, const char *action, const struct proxy_target *t,
    struct pii_errinfo *ei, const struct pii_http_request *req,
    struct pii_http_response *resp);

/* Parse a JSON body (strict; only keys).  *out is new. */
int proxy_parse_body(const struct pii_http_request *req,
    const char *const *keys, json_t **out, struct pii_errinfo *ei);
/* Fill t from root: subject|subject_token, categories, purpose, and
 * ticket/reason when present.  Categories must be in the policy. */
int proxy_parse_target(struct proxy_server *ps, const struct pol_policy *pol,
    json_t *root, struct proxy_target *t, struct pii_errinfo *ei);
/* Printable ASCII without quotes or backslashes, 1..max bytes. */
int proxy_text_ok(const char *s, size_t max);
/* 1 if tok is a subject token (tok_subject_v<N>_<26 base32>). */
int proxy_subject_token_ok(const char *tok);
/* The role named in a decision's rule path ("roles.cs_agent.grants[0]"),
 * into out; the caller's first role if the path names none. */
void proxy_rule_role(const struct proxy_caller *who, const char *rule,
    char *out, size_t cap);

/* Reveal through the vault and answer the client with masked or full
 * values per views[i] (enum pol_view) and masks[i].  breakglass flags the
 * vault's record. */
void proxy_reveal(struct proxy_server *ps, const struct proxy_caller *who,
    const char *role, const struct proxy_target *t, const int *views,
    const int *masks, int breakglass, const struct pii_http_request *req,
    struct pii_http_response *resp);

void proxy_access(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp);
void proxy_breakglass(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp);
void proxy_grant_request(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp);
void proxy_grant_decision(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const char *id, int approve,
    const struct pii_http_request *req, struct pii_http_response *resp);
void proxy_grant_listing(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, const struct pii_http_request *req,
    struct pii_http_response *resp);

/* ---- subject-rights requests (proxy_dsr.c) ----
 * The vault's /v1/dsr..., POST /v1/subjects/resolve and GET
 * /v1/subjects/{token}, for roles with the capability dsr_manage. */
#define PROXY_DSR_ID_MAX 65      /* [A-Za-z0-9_-]{1,64} and the NUL */

/* 1 if path is one of these routes: *route its index (< PROXY_DSR_ROUTES),
 * *name its metrics label and audit action, its request id or subject
 * token into id (else ""), *method_ok 0 when method is not the route's.
 * 0 if path is none of them (a malformed id included). */
int proxy_dsr_route(const char *method, const char *path, int *route,
    const char **name, char id[PROXY_DSR_ID_MAX], int *method_ok);
/* The label of route i (static), or NULL past the last. */
const char *proxy_dsr_route_name(int route);
/* Refuse (403, recorded) unless a role of who holds dsr_manage; else
 * forward to the vault on behalf of who and relay the answer. */
void proxy_dsr(struct proxy_server *ps, struct proxy_rules *rules,
    const struct proxy_caller *who, int route, const char *id,
    const struct pii_http_request *req, struct pii_http_response *resp);

#endif
