/*
 * proxy_store.h - pii-proxy's own database: API keys, just-in-time grants
 * and the per-person count of distinct subjects behind the rate limit.
 *
 * The proxy database holds no PII.  API keys are kept as SHA-256 hashes of
 * their secret part.  A subject is never stored as given: grants and the
 * rate limit keep a keyed BLAKE2b hash of it (proxy_subject_key), whose key
 * is made at migrate time and lives in the proxy database only, so a dump
 * of another system cannot be joined with it.
 *
 * Every statement is parameterized; every function returns 0 or a negative
 * PII_ERR_* code (PII_ERR_DB_UNAVAILABLE when the database cannot be
 * reached, so the caller answers 503).
 */
#ifndef PROXY_STORE_H
#define PROXY_STORE_H

#include <stddef.h>
#include <jansson.h>

#include "../common/err.h"

#define PROXY_SCHEMA_VERSION 3
#define PROXY_NAME_MAX 128          /* user names, approvers */
#define PROXY_ROLE_MAX 64
#define PROXY_ID_MAX 40             /* API key ids and grant ids */
#define PROXY_GRANT_MAX_CATEGORIES 16
#define PROXY_TICKET_MAX 128
#define PROXY_REASON_MAX 256
#define PROXY_SUBJECT_KEY_BYTES 32
/* "piiv_key_" + 16-char id + "_" + 43-char secret */
#define PROXY_APIKEY_MAX 80

struct proxy_store;

/* *out is new; proxy_store_free accepts NULL.  Connects lazily. */
int proxy_store_new(const char *conninfo, int statement_timeout_ms,
    struct proxy_store **out, struct pii_errinfo *ei);
void proxy_store_free(struct proxy_store *st);

/* Create or upgrade the schema (idempotent) and make the subject-hash key
 * if there is none. */
int proxy_store_migrate(struct proxy_store *st, struct pii_errinfo *ei);
/* The schema is current; loads the subject-hash key.  Call before use. */
int proxy_store_open(struct proxy_store *st, struct pii_errinfo *ei);
/* 0 if the database answers. */
int proxy_store_ping(struct proxy_store *st);

/* ---- API keys ------------------------------------------------------------
 * A key is "piiv_key_<id>_<secret>": id is 16 lowercase base32 characters
 * (the lookup handle, shown by list), secret 32 random bytes in unpadded
 * base64url.  Only SHA-256(secret) is stored. */
struct proxy_apikey {
	char id[PROXY_ID_MAX];
	char user[PROXY_NAME_MAX];
	char role[PROXY_ROLE_MAX];
	char created_at[32];            /* RFC 3339 UTC */
	char last_used_at[32];          /* "" if never */
	int revoked;
};

/* A new key for user and role into key (cap >= PROXY_APIKEY_MAX), its id
 * into id.  The caller shows key once and wipes it. */
int proxy_apikey_create(struct proxy_store *st, const char *user,
    const char *role, char *key, size_t cap, char id[PROXY_ID_MAX],
    struct pii_errinfo *ei);
/* Authenticate key: 0 and *out if it is well-formed, known, not revoked and
 * its secret matches (constant-time compare).  PII_ERR_UNAUTHENTICATED
 * otherwise, without saying which. */
int proxy_apikey_check(struct proxy_store *st, const char *key,
    struct proxy_apikey *out);
/* PII_ERR_NOT_FOUND if no such id; revoking twice is 0. */
int proxy_apikey_revoke(struct proxy_store *st, const char *id,
    struct pii_errinfo *ei);
/* [{"id","user","role","created_at","last_used_at","revoked"}], new. */
int proxy_apikey_list(struct proxy_store *st, json_t **out,
    struct pii_errinfo *ei);

/* ---- subjects ------------------------------------------------------------ */
/* Keyed hash of a subject as named in a request: kind is "ref" (a subject
 * reference such as "user:12345") or "token" (a subject token). */
int proxy_subject_key(struct proxy_store *st, const char *kind,
    const char *subject, unsigned char out[PROXY_SUBJECT_KEY_BYTES]);

/* How long the proxy may remember, without asking the database again, that
 * proxy_rate_take let a person see a subject: less than the few minutes
 * during which the database itself answers a repeat from one read. */
#define PROXY_SEEN_TTL_MS (4 * 60 * 1000)

/* The rate limit: 0 if user may see this subject now - it was seen by user
 * within the last hour, or user has seen fewer than limit distinct subjects
 * in the last hour - and the sighting is recorded; PII_ERR_RATE_LIMITED
 * otherwise (nothing recorded).  limit 0: no limit, still recorded.
 * Concurrent calls for one user are serialized. */
int proxy_rate_take(struct proxy_store *st, const char *user,
    const unsigned char skey[PROXY_SUBJECT_KEY_BYTES], long long limit);

/* ---- grants --------------------------------------------------------------
 * Just-in-time access: requested by one person, approved or denied by
 * another, approved for `minutes` from the approval. */
struct proxy_grant {
	char id[PROXY_ID_MAX];          /* "gr_" + 24 base32 chars */
	char requester[PROXY_NAME_MAX];
	char requester_role[PROXY_ROLE_MAX];
	unsigned char subject_key[PROXY_SUBJECT_KEY_BYTES];
	char categories[PROXY_GRANT_MAX_CATEGORIES][PROXY_ROLE_MAX];
	size_t ncategories;
	char purpose[PROXY_ROLE_MAX];
	char ticket[PROXY_TICKET_MAX];
	char reason[PROXY_REASON_MAX];
	long long minutes;
	char status[16];                /* requested approved denied */
	char approver[PROXY_NAME_MAX];  /* "" until decided */
	char created_at[32], decided_at[32], expires_at[32];
	int expired;                    /* approved but past expires_at */
};

/* A new grant id, so a request can be recorded before it is stored. */
int proxy_grant_new_id(char id[PROXY_ID_MAX]);
/* Store g (status requested) under g->id when that is a grant id from
 * proxy_grant_new_id, else under a new one; the id into id. */
int proxy_grant_create(struct proxy_store *st, const struct proxy_grant *g,
    char id[PROXY_ID_MAX], struct pii_errinfo *ei);
/* PII_ERR_NOT_FOUND if no such grant. */
int proxy_grant_get(struct proxy_store *st, const char *id,
    struct proxy_grant *out, struct pii_errinfo *ei);
/* Approve (approve = 1: expires now + minutes) or deny a requested grant,
 * recording approver.  PII_ERR_CONFLICT if it is no longer requested. */
int proxy_grant_decide(struct proxy_store *st, const char *id,
    const char *approver, int approve, struct pii_errinfo *ei);
/* Grants as a JSON array (new): requester's own when requester is not NULL,
 * else all; status "" for any.  Newest first, at most limit. */
int proxy_grant_list(struct proxy_store *st, const char *requester,
    const char *status, long long limit, json_t **out, struct pii_errinfo *ei);
/* 1 if user holds an approved, unexpired grant for this subject covering
 * category and purpose (its id into id), 0 if not, < 0 on error. */
int proxy_grant_covers(struct proxy_store *st, const char *user,
    const unsigned char skey[PROXY_SUBJECT_KEY_BYTES], const char *category,
    const char *purpose, char id[PROXY_ID_MAX]);

#endif
