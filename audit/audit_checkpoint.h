/*
 * audit_checkpoint.h - signed checkpoints of an audit log, the Ed25519 key
 * that signs them, and the witness file they are published to.
 *
 * A checkpoint commits to the first `size` records of one writer's log
 * (its origin) through their RFC 6962 Merkle root.  The signed message is
 * the text
 *
 *   "piivault audit checkpoint v1\n" origin "\n" size "\n"
 *   base64(root) "\n" at_us "\n"
 *
 * A witness line (one per checkpoint, in an append-only file outside the
 * database) is
 *
 *   "checkpoint v1 " origin " " size " " base64(root) " " at_us " "
 *   key_id " " base64(signature) "\n"
 *
 * Key files (pii-audit keygen): the secret key file, mode 0600, holds
 * "piivault-audit-signing-key v1 " base64(32-byte seed) "\n"; the public
 * key file "piivault-audit-public-key v1 " base64(32-byte key) "\n".  A
 * key id is the hex of the first 8 bytes of SHA-256("piivault-audit-key"
 * 0x00 || public key).
 */
#ifndef AUDIT_CHECKPOINT_H
#define AUDIT_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define AUDIT_ORIGIN_MAX 128           /* including the NUL */
#define AUDIT_KEY_ID_HEX 16
#define AUDIT_SIG_BYTES 64
#define AUDIT_PK_BYTES 32
#define AUDIT_WITNESS_LINE_MAX 512

struct audit_checkpoint {
	char origin[AUDIT_ORIGIN_MAX];
	uint64_t size;
	unsigned char root[32];
	int64_t at_us;
	char key_id[AUDIT_KEY_ID_HEX + 1];
	unsigned char sig[AUDIT_SIG_BYTES];
};

struct audit_pubkey {
	unsigned char pk[AUDIT_PK_BYTES];
	char key_id[AUDIT_KEY_ID_HEX + 1];
};

/* The signing key, in sodium_malloc memory, no-access while idle. */
struct audit_signer;

/* 1 if origin is 1..127 characters of [A-Za-z0-9._:/-]. */
int audit_origin_ok(const char *origin);

/* Make a new key pair: secret_path (mode 0600, must not exist) and
 * public_path (mode 0644, must not exist). */
int audit_signer_generate(const char *secret_path, const char *public_path,
    struct pii_errinfo *ei);
/* Load a secret key file; refused if group or others can read it.  *out is
 * new; release with audit_signer_free (accepts NULL). */
int audit_signer_load(const char *path, struct audit_signer **out,
    struct pii_errinfo *ei);
void audit_signer_free(struct audit_signer *s);
/* The signer's public key (borrowed). */
const struct audit_pubkey *audit_signer_pubkey(const struct audit_signer *s);

/* Load a public key file. */
int audit_pubkey_load(const char *path, struct audit_pubkey *out,
    struct pii_errinfo *ei);

/* Sign cp (origin, size, root, at_us set): fills key_id and sig. */
int audit_checkpoint_sign(const struct audit_signer *s,
    struct audit_checkpoint *cp);
/* 0 if cp carries a valid signature by one of keys[0..nkeys); PII_ERR_KEY
 * if its key id is none of them; PII_ERR_CRYPTO if the signature is bad. */
int audit_checkpoint_verify(const struct audit_checkpoint *cp,
    const struct audit_pubkey *keys, size_t nkeys)
    __attribute__((warn_unused_result));

/* Statements signed with a checkpoint key (erasure receipts): the signed
 * message is "piivault statement v1\n" domain "\n" text, which no
 * checkpoint message can equal.  domain is 1-64 characters without a
 * newline (e.g. "erasure-receipt v1").  key_id receives the signer's id. */
int audit_statement_sign(const struct audit_signer *s, const char *domain,
    const char *text, size_t len, char key_id[AUDIT_KEY_ID_HEX + 1],
    unsigned char sig[AUDIT_SIG_BYTES]);
/* 0 if sig is a valid signature of the statement by the key named key_id
 * among keys; PII_ERR_KEY if none is that key, PII_ERR_CRYPTO if bad. */
int audit_statement_verify(const char *domain, const char *text, size_t len,
    const char *key_id, const unsigned char sig[AUDIT_SIG_BYTES],
    const struct audit_pubkey *keys, size_t nkeys)
    __attribute__((warn_unused_result));

/* The witness line of cp, NUL-terminated, into out (AUDIT_WITNESS_LINE_MAX
 * is always enough). */
int audit_checkpoint_format(const struct audit_checkpoint *cp, char *out,
    size_t cap);
/* Parse one witness line (with or without its newline).  PII_ERR_BAD_REQUEST
 * names nothing of the input: a line is well formed or it is not. */
int audit_checkpoint_parse(const char *line, size_t len,
    struct audit_checkpoint *out) __attribute__((warn_unused_result));

/* Append cp's witness line to the file path (O_APPEND, created 0644) and
 * fsync it.  One write() per line, so concurrent writers do not interleave. */
int audit_witness_append(const char *path, const struct audit_checkpoint *cp,
    struct pii_errinfo *ei);

#endif
