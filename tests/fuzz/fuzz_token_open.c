/*
 * fuzz_token_open.c - libFuzzer target for the two decrypting operations of
 * vault_crypto.h: vault_value_open (a sealed value read back from
 * PostgreSQL) and vault_dek_unwrap (a wrapped DEK read back from PostgreSQL).
 * Both take bytes an attacker with database access controls.
 *
 * Keys are fixed: vault_keys_from_raw_for_test with a constant KEK (epoch 1)
 * and token key.  At start-up the harness builds, independently of
 * vault_crypto.c and with fixed nonces, one wrapped DEK (libsodium
 * XChaCha20-Poly1305) and one sealed value (OpenSSL AES-256-GCM) in the
 * formats of docs/keys.md, checks that the vault opens them, and also seals
 * and wraps one value of its own through the vault's API (random nonces).
 * Each input is then given whole:
 *  - to vault_value_open under the right subject/category/token: success is
 *    allowed only for the byte strings sealed above (and must then give the
 *    right plaintext); under a moved context it must never succeed;
 *  - to vault_dek_unwrap for the right subject and epoch: success only for
 *    the two wrapped DEKs above; for another subject never; for an unknown
 *    epoch always PII_ERR_KEY.
 * A success on any other input would mean a forgery: abort.
 *
 * PIIV_FUZZ_WRITE_SEEDS=DIR makes the harness write the two deterministic
 * inputs to DIR (that is how tests/fuzz/corpus/fuzz_token_open/valid-* were
 * made).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <sodium.h>

#include "../../common/err.h"
#include "../../vault/vault_crypto.h"
#include "../../vault/vault_keys.h"
#include "../../vault/vault_keys_int.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define EPOCH 1
#define SUBJECT "tok_subject_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa"
#define OTHER_SUBJECT "tok_subject_v1_bbbbbbbbbbbbbbbbbbbbbbbbbb"
#define CATEGORY "email"
#define OTHER_CATEGORY "phone"
#define TOKEN "tok_email_v1_cccccccccccccccccccccccccc"
#define PLAIN "alice@example.com"
#define PLAIN_LEN (sizeof(PLAIN) - 1)
#define SEALED_LEN (PLAIN_LEN + VAULT_SEAL_OVERHEAD)

static const unsigned char kek_bytes[VAULT_KEY_BYTES] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
	0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
	0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};
static const unsigned char token_key[VAULT_KEY_BYTES] = { 0x42 };
static const unsigned char dek_bytes[VAULT_DEK_BYTES] = {
	0xd0, 0xd1, 0xd2, 0xd3, 0xd4, 0xd5, 0xd6, 0xd7,
	0xd8, 0xd9, 0xda, 0xdb, 0xdc, 0xdd, 0xde, 0xdf,
	0xe0, 0xe1, 0xe2, 0xe3, 0xe4, 0xe5, 0xe6, 0xe7,
	0xe8, 0xe9, 0xea, 0xeb, 0xec, 0xed, 0xee, 0xef,
};

static struct vault_keys *keys;
static struct vault_dek *dek;           /* = dek_bytes, via unwrap */
static unsigned char known_wrapped[VAULT_WRAPPED_DEK_BYTES];
static unsigned char own_wrapped[VAULT_WRAPPED_DEK_BYTES];
static unsigned char known_sealed[SEALED_LEN];
static unsigned char own_sealed[SEALED_LEN];

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_token_open: %s\n", what);
	abort();
}

/* docs/keys.md: 0x01 || nonce(24) || XChaCha20-Poly1305(KEK, DEK) || tag,
 * AD = "piiv-dek" 0 subject 0 be32(epoch).  Fixed nonce: test data only. */
static void
make_known_wrapped(void)
{
	unsigned char ad[128];
	unsigned long long clen;
	size_t n = 0;

	memcpy(ad, "piiv-dek", 9);
	n = 9;
	memcpy(ad + n, SUBJECT, sizeof(SUBJECT));
	n += sizeof(SUBJECT);
	ad[n++] = 0;
	ad[n++] = 0;
	ad[n++] = 0;
	ad[n++] = EPOCH;
	known_wrapped[0] = 0x01;
	memset(known_wrapped + 1, 0x24, 24);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(known_wrapped + 25, &clen,
	    dek_bytes, sizeof(dek_bytes), ad, n, NULL, known_wrapped + 1,
	    kek_bytes) != 0 || clen != VAULT_DEK_BYTES + 16)
		die("libsodium encrypt failed");
}

/* docs/keys.md: 0x01 || nonce(12) || AES-256-GCM(DEK, value) || tag(16),
 * AD = "piiv-val" 0 subject 0 category 0 token 0 0x01. */
static void
make_known_sealed(void)
{
	unsigned char ad[256];
	EVP_CIPHER_CTX *c;
	size_t n = 0;
	int len = 0, fin = 0;

	memcpy(ad, "piiv-val", 9);
	n = 9;
	memcpy(ad + n, SUBJECT, sizeof(SUBJECT));
	n += sizeof(SUBJECT);
	memcpy(ad + n, CATEGORY, sizeof(CATEGORY));
	n += sizeof(CATEGORY);
	memcpy(ad + n, TOKEN, sizeof(TOKEN));
	n += sizeof(TOKEN);
	ad[n++] = 0x01;
	known_sealed[0] = 0x01;
	memset(known_sealed + 1, 0x12, 12);
	if ((c = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex(c, EVP_aes_256_gcm(), NULL, dek_bytes,
	    known_sealed + 1) != 1 ||
	    EVP_EncryptUpdate(c, NULL, &len, ad, (int)n) != 1 ||
	    EVP_EncryptUpdate(c, known_sealed + 13, &len,
	    (const unsigned char *)PLAIN, (int)PLAIN_LEN) != 1 ||
	    EVP_EncryptFinal_ex(c, known_sealed + 13 + len, &fin) != 1 ||
	    (size_t)(len + fin) != PLAIN_LEN ||
	    EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16,
	    known_sealed + 13 + PLAIN_LEN) != 1)
		die("OpenSSL encrypt failed");
	EVP_CIPHER_CTX_free(c);
}

static void
write_seed(const char *dir, const char *name, const unsigned char *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(p, 1, n, f) != n ||
	    fclose(f) != 0)
		die("cannot write a seed");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	unsigned char out[SEALED_LEN];
	struct vault_dek *d2 = NULL;
	const char *seeds;
	size_t outlen = 0;
	uint32_t e = 0;

	(void)argc;
	(void)argv;
	if (sodium_init() < 0)
		die("sodium_init failed");
	if (vault_keys_from_raw_for_test(kek_bytes, EPOCH, token_key, 1,
	    &keys) != 0)
		die("vault_keys_from_raw_for_test failed");
	make_known_wrapped();
	make_known_sealed();

	/* The vault reads what the formats describe. */
	if (vault_dek_unwrap(keys, known_wrapped, sizeof(known_wrapped), SUBJECT,
	    EPOCH, &dek) != 0)
		die("the vault does not unwrap a DEK wrapped per docs/keys.md");
	if (vault_value_open(dek, SUBJECT, CATEGORY, TOKEN, known_sealed,
	    sizeof(known_sealed), out, sizeof(out), &outlen) != 0 ||
	    outlen != PLAIN_LEN || memcmp(out, PLAIN, PLAIN_LEN) != 0)
		die("the vault does not open a value sealed per docs/keys.md");

	/* And one of its own, with its own random nonces. */
	if (vault_dek_wrap(keys, dek, SUBJECT, &e, own_wrapped) != 0 || e != EPOCH)
		die("vault_dek_wrap failed");
	if (vault_dek_unwrap(keys, own_wrapped, sizeof(own_wrapped), SUBJECT,
	    EPOCH, &d2) != 0)
		die("vault_dek_unwrap of a fresh wrap failed");
	vault_dek_free(d2);
	if (vault_value_seal(dek, SUBJECT, CATEGORY, TOKEN,
	    (const unsigned char *)PLAIN, PLAIN_LEN, own_sealed,
	    sizeof(own_sealed), &outlen) != 0 || outlen != SEALED_LEN)
		die("vault_value_seal failed");

	if ((seeds = getenv("PIIV_FUZZ_WRITE_SEEDS")) != NULL) {
		write_seed(seeds, "valid-sealed", known_sealed, sizeof(known_sealed));
		write_seed(seeds, "valid-wrapped", known_wrapped,
		    sizeof(known_wrapped));
	}
	return 0;
}

static int
is_one_of(const uint8_t *data, size_t size, const unsigned char *a,
    const unsigned char *b, size_t n)
{
	return size == n && (memcmp(data, a, n) == 0 || memcmp(data, b, n) == 0);
}

static void
fuzz_open(const uint8_t *data, size_t size)
{
	static const struct {
		const char *subject, *category, *token;
	} moved[] = {
		{ OTHER_SUBJECT, CATEGORY, TOKEN },
		{ SUBJECT, OTHER_CATEGORY, TOKEN },
		{ SUBJECT, CATEGORY, "tok_email_v1_dddddddddddddddddddddddddd" },
	};
	unsigned char *out;
	size_t cap, outlen = 0, i;
	int r;

	/* An exact heap block of the documented size, so an overrun shows. */
	cap = size > VAULT_SEAL_OVERHEAD ? size - VAULT_SEAL_OVERHEAD : 0;
	if ((out = malloc(cap ? cap : 1)) == NULL)
		return;
	r = vault_value_open(dek, SUBJECT, CATEGORY, TOKEN, data, size, out, cap,
	    &outlen);
	if (r == 0) {
		if (!is_one_of(data, size, known_sealed, own_sealed, SEALED_LEN))
			die("vault_value_open accepted a forged value");
		if (outlen != PLAIN_LEN || memcmp(out, PLAIN, PLAIN_LEN) != 0)
			die("vault_value_open returned the wrong plaintext");
	} else if (r != PII_ERR_CRYPTO) {
		die("vault_value_open: unexpected error code");
	}
	for (i = 0; i < sizeof(moved) / sizeof(moved[0]); i++) {
		r = vault_value_open(dek, moved[i].subject, moved[i].category,
		    moved[i].token, data, size, out, cap, &outlen);
		if (r != PII_ERR_CRYPTO)
			die("vault_value_open accepted a value moved to another "
			    "subject, category or token");
	}
	free(out);
}

static void
fuzz_unwrap(const uint8_t *data, size_t size)
{
	struct vault_dek *d = NULL;
	unsigned char out[SEALED_LEN];
	size_t outlen = 0;
	int r;

	r = vault_dek_unwrap(keys, data, size, SUBJECT, EPOCH, &d);
	if (r == 0) {
		if (!is_one_of(data, size, known_wrapped, own_wrapped,
		    VAULT_WRAPPED_DEK_BYTES))
			die("vault_dek_unwrap accepted a forged DEK");
		/* It is the DEK: it opens the known value. */
		if (vault_value_open(d, SUBJECT, CATEGORY, TOKEN, known_sealed,
		    sizeof(known_sealed), out, sizeof(out), &outlen) != 0)
			die("vault_dek_unwrap returned the wrong DEK");
		vault_dek_free(d);
		d = NULL;
	} else if (r != PII_ERR_CRYPTO || d != NULL) {
		die("vault_dek_unwrap: unexpected error code");
	}
	if (vault_dek_unwrap(keys, data, size, OTHER_SUBJECT, EPOCH, &d) !=
	    PII_ERR_CRYPTO || d != NULL)
		die("vault_dek_unwrap accepted a DEK moved to another subject");
	if (vault_dek_unwrap(keys, data, size, SUBJECT, EPOCH + 1, &d) !=
	    PII_ERR_KEY || d != NULL)
		die("vault_dek_unwrap: unknown epoch not PII_ERR_KEY");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* Copy into an exact heap block: reads past the end are caught. */
	uint8_t *copy = malloc(size ? size : 1);

	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	fuzz_open(copy, size);
	fuzz_unwrap(copy, size);
	free(copy);
	return 0;
}
