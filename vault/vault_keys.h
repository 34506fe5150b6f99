/*
 * vault_keys.h - the root key and the keystore: the only owner of key bytes.
 *
 * Key hierarchy (docs/keys.md):
 *   root key (32 random bytes, file mode 0600, never leaves this module)
 *     └─ wraps, in the keystore file (JSON, outside PostgreSQL):
 *          KEK epochs  e = 1, 2, ...   (random, destroyable)
 *          token keys  v = 1, 2, ...   (random)
 *   KEK epoch e wraps each subject's DEK (vault_crypto.h), stored in PostgreSQL.
 *
 * All key material lives in sodium_malloc memory.  The root key is no-access
 * except while the keystore is read or written; KEKs and the precomputed HMAC
 * states of the token keys are read-only after load.  No other module sees a
 * key byte: callers use the operations of vault_crypto.h.
 */
#ifndef VAULT_KEYS_H
#define VAULT_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define VAULT_ROOT_KEY_BYTES 32
#define VAULT_KEYSTORE_ID_HEX 32   /* 16 random bytes, lowercase hex */

struct vault_keys;   /* opaque */

/* Write a new random root key to path (created O_EXCL, mode 0600).
 * Fails with PII_ERR_IO if the file exists. */
int vault_keys_generate_root(const char *path, struct pii_errinfo *ei);

/* Create a new keystore at keystore_path (O_EXCL, mode 0600) holding KEK
 * epoch 1 and token key version 1, wrapped by the root key at root_path. */
int vault_keys_keystore_init(const char *root_path, const char *keystore_path,
    struct pii_errinfo *ei);

/* Load the root key and the keystore.  Refuses (PII_ERR_PERM) a root key or
 * keystore file readable or writable by group or others, and (PII_ERR_CRYPTO)
 * a keystore whose entries do not authenticate under the root key.
 * *out is new; release with vault_keys_free(). */
int vault_keys_open(const char *root_path, const char *keystore_path,
    struct vault_keys **out, struct pii_errinfo *ei);

/* Wipes and releases every key.  Accepts NULL. */
void vault_keys_free(struct vault_keys *keys);

/* Borrowed, NUL-terminated, VAULT_KEYSTORE_ID_HEX characters. */
const char *vault_keys_keystore_id(const struct vault_keys *keys);
/* The epoch new DEKs are wrapped under, and the token key version in use. */
uint32_t vault_keys_current_epoch(const struct vault_keys *keys);
uint32_t vault_keys_token_version(const struct vault_keys *keys);

/* The live (not destroyed) KEK epochs, ascending, into epochs (cap entries);
 * *n receives their number.  PII_ERR_TOO_LARGE if cap is too small. */
int vault_keys_epoch_list(const struct vault_keys *keys, uint32_t *epochs,
    size_t cap, size_t *n);

/* KEK rotation (`pii-vault rotate-kek`), in two steps with the re-wrap of the
 * live DEKs (vault_dek_unwrap + vault_dek_wrap) between them:
 *
 * vault_keys_rotate_kek: add a new random KEK epoch (one above any epoch ever
 * used, destroyed ones included), make it current, and rewrite the keystore
 * file atomically; *epoch receives it.
 * vault_keys_destroy_epoch: remove epoch's wrapped KEK from the keystore file
 * (rewritten atomically), record it in destroyed_epochs and wipe it from keys;
 * every DEK still wrapped under it becomes unreadable (PII_ERR_KEY).
 * PII_ERR_CONFLICT for the current epoch, PII_ERR_KEY for an unknown one.
 *
 * Both change keys in place only once the file is safely written, and are not
 * thread-safe: no other call may use keys meanwhile.  Other processes holding
 * the keystore open must reopen it to see the change. */
int vault_keys_rotate_kek(struct vault_keys *keys, uint32_t *epoch,
    struct pii_errinfo *ei);
int vault_keys_destroy_epoch(struct vault_keys *keys, uint32_t epoch,
    struct pii_errinfo *ei);

#endif
