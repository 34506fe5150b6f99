/*
 * vault_keys_int.h - private to vault_keys.c and vault_crypto.c: the layout of
 * struct vault_keys and the precomputed HMAC states of the token keys.
 *
 * Nothing outside those two files (and their unit tests and benchmark) may
 * include this header: it is the inside of the narrow interface of DESIGN
 * section 9.  Every pointer to key material below points into sodium_malloc
 * memory that is read-only (KEKs, HMAC states) or no-access (the root key)
 * while the structure is in use.
 */
#ifndef VAULT_KEYS_INT_H
#define VAULT_KEYS_INT_H

#include <stddef.h>
#include <stdint.h>

#include "vault_keys.h"

#define VAULT_KEY_BYTES 32          /* KEKs and token keys */
#define VAULT_MAX_KEKS 256          /* live KEK epochs in one keystore */
#define VAULT_MAX_TOKEN_KEYS 256    /* token key versions in one keystore */
#define VAULT_MAX_DESTROYED 65536   /* destroyed epochs remembered */
#define VAULT_TIME_TEXT 21          /* "YYYY-MM-DDTHH:MM:SSZ" and NUL */

/* Keyed SHA-256 inner and outer states of one token key (vault_crypto.c). */
struct vault_hmac_state;

struct vault_kek {
	uint32_t epoch;
	char created_at[VAULT_TIME_TEXT];
	char *wrapped_b64;              /* malloc; the keystore entry (not secret) */
	unsigned char *key;             /* sodium_malloc, VAULT_KEY_BYTES, read-only */
};

struct vault_token_key {
	uint32_t version;
	char created_at[VAULT_TIME_TEXT];
	char *wrapped_b64;              /* malloc; the keystore entry (not secret) */
	struct vault_hmac_state *hmac;  /* sodium_malloc, read-only */
};

struct vault_keys {
	char keystore_id[VAULT_KEYSTORE_ID_HEX + 1];
	char created_at[VAULT_TIME_TEXT];
	char *keystore_path;            /* malloc; NULL for test-built keys */
	unsigned char *root;            /* sodium_malloc, no-access; NULL for test-built keys */
	uint32_t current_epoch;
	uint32_t token_version;
	size_t nkeks;
	struct vault_kek *keks;         /* malloc, VAULT_MAX_KEKS entries */
	size_t ntoken;
	struct vault_token_key *tokens; /* malloc, VAULT_MAX_TOKEN_KEYS entries */
	const struct vault_token_key *cur_token;   /* borrowed, into tokens */
	size_t ndestroyed;
	uint32_t *destroyed;            /* malloc, VAULT_MAX_DESTROYED entries */
};

/* The KEK bytes of epoch (borrowed, read-only), or NULL if the epoch is
 * unknown or destroyed. */
const unsigned char *vault_keys_kek(const struct vault_keys *keys,
    uint32_t epoch);

/* Precompute the keyed SHA-256 states of HMAC-SHA256 under key (32 bytes).
 * *out is new, in read-only sodium_malloc memory; release with
 * vault_hmac_state_free().  Defined in vault_crypto.c. */
int vault_hmac_state_new(const unsigned char key[VAULT_KEY_BYTES],
    struct vault_hmac_state **out);
/* Wipes and releases.  Accepts NULL. */
void vault_hmac_state_free(struct vault_hmac_state *st);

/* TEST ONLY (unit tests, benchmark): keys built from given bytes rather than
 * from files, so that known-answer tests can recompute tokens independently.
 * kek may be NULL (a random KEK is used).  keystore_id is 32 '0' characters,
 * there is no root key and no keystore file; vault_keys_rotate_kek() and
 * vault_keys_destroy_epoch() refuse such keys.  *out is new. */
int vault_keys_from_raw_for_test(const unsigned char *kek, uint32_t epoch,
    const unsigned char token_key[VAULT_KEY_BYTES], uint32_t token_version,
    struct vault_keys **out);

#endif
