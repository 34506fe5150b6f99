/*
 * vault_crypto.h - every operation that uses key material: DEK wrap/unwrap,
 * value seal/open, tokens.  The narrow interface of DESIGN section 9: it can
 * move into a separate key-holding process without changing its callers.
 *
 * Formats (docs/keys.md):
 *   wrapped DEK  = 0x01 || nonce(24) || XChaCha20-Poly1305(KEK_e, DEK) || tag(16)
 *                  AD = "piiv-dek" 0x00 || subject_token || 0x00 || be32(e)
 *   sealed value = 0x01 || nonce(12) || AES-256-GCM(DEK, value) || tag(16)
 *                  AD = "piiv-val" 0x00 || subject_token || 0x00 || category
 *                       || 0x00 || token || 0x00 || 0x01
 *   token        = "tok_" category "_v" N "_" base32(HMAC-SHA256(token key vN,
 *                  category || 0x00 || normalized value)[0..16))   (lowercase,
 *                  RFC 4648 alphabet, no padding: 26 characters)
 * Thread-safe: all functions may be called concurrently on one vault_keys.
 */
#ifndef VAULT_CRYPTO_H
#define VAULT_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "vault_keys.h"

#define VAULT_DEK_BYTES 32
#define VAULT_WRAPPED_DEK_BYTES (1 + 24 + VAULT_DEK_BYTES + 16)
#define VAULT_SEAL_OVERHEAD (1 + 12 + 16)
#define VAULT_TOKEN_MAX 96          /* including the NUL */
#define VAULT_TOKEN_HASH_BYTES 16   /* 128 bits kept of the HMAC */

#define VAULT_WUR __attribute__((warn_unused_result))

/* A subject's data key, in sodium_malloc memory (locked, guard pages);
 * released blocks are wiped and reused by the thread (vault_crypto.c). */
struct vault_dek;

/* A new random DEK.  *out is new; release with vault_dek_free(). */
int vault_dek_new(struct vault_dek **out);
/* Wipes and releases.  Accepts NULL. */
void vault_dek_free(struct vault_dek *dek);

/* A batch's DEKs: n slots in one locked, guarded allocation, each starting
 * as a fresh random key (one random read for all).  Slots of subjects that
 * already have a key are overwritten by vault_dek_unwrap_into.  *out is new;
 * release with vault_dek_set_free (wipes; accepts NULL). */
struct vault_dek_set;
int vault_dek_set_new(size_t n, struct vault_dek_set **out) VAULT_WUR;
/* Slot i, borrowed from the set; NULL if i is out of range. */
struct vault_dek *vault_dek_set_at(struct vault_dek_set *set, size_t i);
void vault_dek_set_free(struct vault_dek_set *set);

/* Wrap dek for subject_token under the current KEK epoch; *epoch receives it. */
int vault_dek_wrap(const struct vault_keys *keys, const struct vault_dek *dek,
    const char *subject_token, uint32_t *epoch,
    unsigned char out[VAULT_WRAPPED_DEK_BYTES]);

/* Unwrap a DEK stored for subject_token under epoch.  PII_ERR_CRYPTO if the
 * tag does not verify (flipped byte, other subject, other epoch), PII_ERR_KEY
 * if the epoch is unknown or destroyed.  *out is new. */
int vault_dek_unwrap(const struct vault_keys *keys, const unsigned char *wrapped,
    size_t wrapped_len, const char *subject_token, uint32_t epoch,
    struct vault_dek **out) VAULT_WUR;

/* As vault_dek_unwrap, into a slot of a vault_dek_set; the slot is wiped
 * on failure. */
int vault_dek_unwrap_into(const struct vault_keys *keys,
    const unsigned char *wrapped, size_t wrapped_len, const char *subject_token,
    uint32_t epoch, struct vault_dek *slot) VAULT_WUR;

/* Seal plain (plen bytes) into out, which has room for plen +
 * VAULT_SEAL_OVERHEAD bytes; *outlen receives the length written. */
int vault_value_seal(const struct vault_dek *dek, const char *subject_token,
    const char *category, const char *token, const unsigned char *plain,
    size_t plen, unsigned char *out, size_t outcap, size_t *outlen);

/* Open a sealed value into out (room for slen - VAULT_SEAL_OVERHEAD bytes).
 * On any failure out is wiped and PII_ERR_CRYPTO returned: a flipped byte, a
 * value moved to another subject, category or token, a wrong DEK. */
int vault_value_open(const struct vault_dek *dek, const char *subject_token,
    const char *category, const char *token, const unsigned char *sealed,
    size_t slen, unsigned char *out, size_t outcap, size_t *outlen) VAULT_WUR;

/* Token of an already normalized value (vault_normalize.h) under the current
 * token key.  out receives a NUL-terminated token. */
int vault_token(const struct vault_keys *keys, const char *category,
    const unsigned char *normalized, size_t len, char out[VAULT_TOKEN_MAX]);

#endif
