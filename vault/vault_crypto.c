/*
 * vault_crypto.c - every use of key material: DEK wrap/unwrap (libsodium
 * XChaCha20-Poly1305), value seal/open (OpenSSL AES-256-GCM) and tokens
 * (HMAC-SHA256 from precomputed keyed SHA-256 states).
 *
 * Speed matters here: a tagger run tokenizes and seals millions of values.
 * Two things keep the per-value cost near that of the bare primitives:
 *  - each token key's HMAC inner and outer SHA-256 states (the key XOR ipad
 *    and XOR opad blocks already compressed) are computed once when the
 *    keystore is loaded and kept read-only in sodium_malloc memory; a token
 *    copies the two states and finishes them, two SHA-256 compressions for
 *    a short value instead of four plus OpenSSL's per-call MAC setup;
 *  - each thread keeps one AES-256-GCM EVP_CIPHER_CTX for sealing and one
 *    for opening, set up once, and only rekeys them per call
 *    (EVP_CipherInit_ex with a NULL cipher), so no cipher fetch or context
 *    allocation happens per value.  After each call the context is rekeyed
 *    with an all-zero key so that no DEK schedule lingers in OpenSSL's heap.
 * The SHA-256 low-level API is deprecated in OpenSSL 3 but remains the only
 * way to copy a keyed midstate cheaply (EVP_MD_CTX_copy allocates), hence
 * OPENSSL_SUPPRESS_DEPRECATED in this file only.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "vault_crypto.h"
#include "vault_keys_int.h"
#include "vault_normalize.h"

#define DEK_VERSION 0x01
#define DEK_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES   /* 24 */
#define DEK_AD_PREFIX "piiv-dek"
#define DEK_AD_MAX (sizeof(DEK_AD_PREFIX) + VAULT_TOKEN_MAX + 4)

#define VAL_VERSION 0x01
#define VAL_NONCE 12
#define VAL_TAG 16
#define VAL_AD_PREFIX "piiv-val"
#define VAL_AD_MAX (sizeof(VAL_AD_PREFIX) + VAULT_TOKEN_MAX + \
    VAULT_CATEGORY_MAX + VAULT_TOKEN_MAX + 1)
#define VAL_PLAIN_MAX ((size_t)INT_MAX - 64)   /* EVP lengths are int */

#define TOKEN_VALUE_MAX (1024 * 1024)   /* bytes of a normalized value */
#define TOKEN_B32_LEN 26                /* ceil(16 * 8 / 5) */

_Static_assert(VAULT_WRAPPED_DEK_BYTES == 1 + DEK_NONCE + VAULT_DEK_BYTES +
    crypto_aead_xchacha20poly1305_ietf_ABYTES, "wrapped DEK layout");
_Static_assert(VAULT_SEAL_OVERHEAD == 1 + VAL_NONCE + VAL_TAG, "sealed layout");

struct vault_dek {
	unsigned char key[VAULT_DEK_BYTES];
};

struct vault_hmac_state {
	SHA256_CTX inner;   /* after compressing key XOR ipad */
	SHA256_CTX outer;   /* after compressing key XOR opad */
};

#define NONCE_POOL (VAL_NONCE * 512)   /* random bytes fetched at once */

/* Per-thread AES-256-GCM contexts, set up once with the cipher, and a pool
 * of random bytes from which value nonces are taken. */
#define DEK_CACHE 8   /* wiped DEK blocks a thread keeps for reuse */

struct crypto_tl {
	EVP_CIPHER_CTX *enc;
	EVP_CIPHER_CTX *dec;
	struct vault_dek *dek_cache[DEK_CACHE];
	size_t ndek;
	unsigned fork_gen;               /* crypto_fork_gen when pool was filled */
	size_t pool_used;
	unsigned char pool[NONCE_POOL];
};

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static pthread_key_t crypto_tl_key;
static int crypto_ready;
/* Bumped in a forked child, so the child never reuses the parent's pool.
 * Written only in a child that has a single thread. */
static unsigned crypto_fork_gen;
static __thread struct crypto_tl *crypto_tl;
static const unsigned char zero_key[32];

static void
crypto_tl_destroy(void *p)
{
	struct crypto_tl *t = p;

	if (t == NULL)
		return;
	while (t->ndek > 0)
		sodium_free(t->dek_cache[--t->ndek]);
	EVP_CIPHER_CTX_free(t->enc);
	EVP_CIPHER_CTX_free(t->dec);
	sodium_memzero(t, sizeof(*t));
	free(t);
	crypto_tl = NULL;
}

static void
crypto_atfork_child(void)
{
	crypto_fork_gen++;
}

static void
crypto_init(void)
{
	if (sodium_init() < 0)
		return;
	if (pthread_key_create(&crypto_tl_key, crypto_tl_destroy) != 0)
		return;
	if (pthread_atfork(NULL, NULL, crypto_atfork_child) != 0)
		return;
	crypto_ready = 1;
}

static int
crypto_start(void)
{
	pthread_once(&crypto_once, crypto_init);
	return crypto_ready ? 0 : PII_ERR_CRYPTO;
}

/* This thread's contexts (borrowed), created on first use. */
static struct crypto_tl *
crypto_tl_get(void)
{
	struct crypto_tl *t;

	if (crypto_tl != NULL)
		return crypto_tl;
	if (crypto_start() != 0)
		return NULL;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->pool_used = NONCE_POOL;   /* empty: filled on first use */
	t->enc = EVP_CIPHER_CTX_new();
	t->dec = EVP_CIPHER_CTX_new();
	if (t->enc == NULL || t->dec == NULL ||
	    EVP_EncryptInit_ex(t->enc, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_DecryptInit_ex(t->dec, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(t->enc, EVP_CTRL_AEAD_SET_IVLEN, VAL_NONCE, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(t->dec, EVP_CTRL_AEAD_SET_IVLEN, VAL_NONCE, NULL) != 1 ||
	    pthread_setspecific(crypto_tl_key, t) != 0) {
		crypto_tl_destroy(t);
		return NULL;
	}
	crypto_tl = t;
	return t;
}

/* n fresh random nonce bytes (n <= NONCE_POOL).  randombytes_buf costs a
 * system call or a getpid() per call on some systems (over 1 us under a
 * sandboxing kernel), so random bytes are fetched NONCE_POOL at a time and
 * each used once.  Only for nonces: keys come straight from randombytes_buf
 * into locked memory. */
static void
nonce_take(struct crypto_tl *t, unsigned char *out, size_t n)
{
	if (t->pool_used + n > NONCE_POOL || t->fork_gen != crypto_fork_gen) {
		randombytes_buf(t->pool, NONCE_POOL);
		t->pool_used = 0;
		t->fork_gen = crypto_fork_gen;
	}
	memcpy(out, t->pool + t->pool_used, n);
	sodium_memzero(t->pool + t->pool_used, n);
	t->pool_used += n;
}

/* Replace the DEK schedule left in ctx by one of an all-zero key. */
static void
ctx_scrub(EVP_CIPHER_CTX *ctx)
{
	(void)EVP_CipherInit_ex(ctx, NULL, NULL, zero_key, NULL, -1);
}

/* ---- DEKs ------------------------------------------------------------- */

/*
 * A single DEK lives in its own sodium_malloc block (locked, guard pages,
 * canary).  Making and releasing such a block changes page protections and
 * unmaps memory, and on a virtual machine each of those flushes the TLB of
 * every core running one of our threads: per reveal, that cost more than
 * the request's cryptography.  So a thread keeps up to DEK_CACHE released
 * blocks, wiped, and reuses them; they are freed when the thread ends.
 */
static struct vault_dek *
dek_alloc(void)
{
	struct crypto_tl *t = crypto_tl_get();

	if (t != NULL && t->ndek > 0)
		return t->dek_cache[--t->ndek];
	return sodium_malloc(sizeof(struct vault_dek));
}

int
vault_dek_new(struct vault_dek **out)
{
	struct vault_dek *d;
	int r;

	if ((r = crypto_start()) != 0)
		return r;
	if ((d = dek_alloc()) == NULL)
		return PII_ERR_NOMEM;
	randombytes_buf(d->key, sizeof(d->key));
	*out = d;
	return 0;
}

void
vault_dek_free(struct vault_dek *dek)
{
	struct crypto_tl *t;

	if (dek == NULL)
		return;
	sodium_memzero(dek, sizeof(*dek));
	t = crypto_tl_get();
	if (t != NULL && t->ndek < DEK_CACHE) {
		t->dek_cache[t->ndek++] = dek;
		return;
	}
	sodium_free(dek);
}

/*
 * A batch's DEKs live in one sodium_allocarray: one mmap, mlock and pair of
 * guard pages per batch instead of per subject.  Each sodium_malloc/free
 * changes page protections and unmaps, and on a virtual machine every such
 * change flushes the TLB of each core running one of our threads; per
 * subject that cost more than all the cryptography of a batch.
 */
struct vault_dek_set {
	size_t n;
	struct vault_dek *slot;   /* n keys, sodium_allocarray */
};

int
vault_dek_set_new(size_t n, struct vault_dek_set **out)
{
	struct vault_dek_set *s;
	int r;

	if (out == NULL || n == 0)
		return PII_ERR_BAD_REQUEST;
	if ((r = crypto_start()) != 0)
		return r;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return PII_ERR_NOMEM;
	if ((s->slot = sodium_allocarray(n, sizeof(*s->slot))) == NULL) {
		free(s);
		return PII_ERR_NOMEM;
	}
	s->n = n;
	randombytes_buf(s->slot, n * sizeof(*s->slot));
	*out = s;
	return 0;
}

struct vault_dek *
vault_dek_set_at(struct vault_dek_set *set, size_t i)
{
	return set != NULL && i < set->n ? &set->slot[i] : NULL;
}

void
vault_dek_set_free(struct vault_dek_set *set)
{
	if (set == NULL)
		return;
	sodium_free(set->slot);   /* wipes */
	free(set);
}

/* 0 and the length of s if it is a NUL-terminated string of 1..max-1 bytes. */
static int
str_bounded(const char *s, size_t max, size_t *len)
{
	size_t n;

	if (s == NULL)
		return PII_ERR_BAD_REQUEST;
	n = strnlen(s, max);
	if (n == 0)
		return PII_ERR_BAD_REQUEST;
	if (n >= max)
		return PII_ERR_TOO_LARGE;
	*len = n;
	return 0;
}

/* AD of a wrapped DEK: "piiv-dek" 0 subject_token 0 be32(epoch). */
static int
dek_ad(unsigned char ad[DEK_AD_MAX], const char *subject_token, uint32_t epoch,
    size_t *adlen)
{
	size_t n = 0, slen;
	int r;

	if ((r = str_bounded(subject_token, VAULT_TOKEN_MAX, &slen)) != 0)
		return r;
	memcpy(ad, DEK_AD_PREFIX, sizeof(DEK_AD_PREFIX));   /* with its NUL */
	n += sizeof(DEK_AD_PREFIX);
	memcpy(ad + n, subject_token, slen + 1);            /* with its NUL */
	n += slen + 1;
	ad[n++] = (unsigned char)(epoch >> 24);
	ad[n++] = (unsigned char)(epoch >> 16);
	ad[n++] = (unsigned char)(epoch >> 8);
	ad[n++] = (unsigned char)epoch;
	*adlen = n;
	return 0;
}

int
vault_dek_wrap(const struct vault_keys *keys, const struct vault_dek *dek,
    const char *subject_token, uint32_t *epoch,
    unsigned char out[VAULT_WRAPPED_DEK_BYTES])
{
	unsigned char ad[DEK_AD_MAX];
	struct crypto_tl *t;
	const unsigned char *kek;
	unsigned long long clen;
	size_t adlen;
	uint32_t e;
	int r;

	if (keys == NULL || dek == NULL || epoch == NULL || out == NULL)
		return PII_ERR_BAD_REQUEST;
	if ((r = crypto_start()) != 0)
		return r;
	e = keys->current_epoch;
	if ((kek = vault_keys_kek(keys, e)) == NULL)
		return PII_ERR_KEY;
	if ((r = dek_ad(ad, subject_token, e, &adlen)) != 0)
		return r;
	if ((t = crypto_tl_get()) == NULL)
		return PII_ERR_NOMEM;
	out[0] = DEK_VERSION;
	nonce_take(t, out + 1, DEK_NONCE);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(out + 1 + DEK_NONCE, &clen,
	    dek->key, VAULT_DEK_BYTES, ad, adlen, NULL, out + 1, kek) != 0 ||
	    clen != VAULT_WRAPPED_DEK_BYTES - 1 - DEK_NONCE) {
		sodium_memzero(out, VAULT_WRAPPED_DEK_BYTES);
		return PII_ERR_CRYPTO;
	}
	*epoch = e;
	return 0;
}

/* Unwrap into key (VAULT_DEK_BYTES of caller memory); wiped on failure. */
static int
dek_unwrap(const struct vault_keys *keys, const unsigned char *wrapped,
    size_t wrapped_len, const char *subject_token, uint32_t epoch,
    unsigned char key[VAULT_DEK_BYTES])
{
	unsigned char ad[DEK_AD_MAX];
	const unsigned char *kek;
	unsigned long long mlen;
	size_t adlen;
	int r;

	if (keys == NULL || wrapped == NULL)
		return PII_ERR_BAD_REQUEST;
	if ((r = crypto_start()) != 0)
		return r;
	if ((r = dek_ad(ad, subject_token, epoch, &adlen)) != 0)
		return r;
	if ((kek = vault_keys_kek(keys, epoch)) == NULL)
		return PII_ERR_KEY;
	if (wrapped_len != VAULT_WRAPPED_DEK_BYTES || wrapped[0] != DEK_VERSION)
		return PII_ERR_CRYPTO;
	/* libsodium checks the tag before it writes any plaintext. */
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, &mlen, NULL,
	    wrapped + 1 + DEK_NONCE, wrapped_len - 1 - DEK_NONCE, ad, adlen,
	    wrapped + 1, kek) != 0 || mlen != VAULT_DEK_BYTES) {
		sodium_memzero(key, VAULT_DEK_BYTES);
		return PII_ERR_CRYPTO;
	}
	return 0;
}

int
vault_dek_unwrap(const struct vault_keys *keys, const unsigned char *wrapped,
    size_t wrapped_len, const char *subject_token, uint32_t epoch,
    struct vault_dek **out)
{
	struct vault_dek *d;
	int r;

	if (out == NULL)
		return PII_ERR_BAD_REQUEST;
	if ((r = crypto_start()) != 0)
		return r;
	if ((d = dek_alloc()) == NULL)
		return PII_ERR_NOMEM;
	if ((r = dek_unwrap(keys, wrapped, wrapped_len, subject_token, epoch,
	    d->key)) != 0) {
		vault_dek_free(d);
		return r;
	}
	*out = d;
	return 0;
}

int
vault_dek_unwrap_into(const struct vault_keys *keys,
    const unsigned char *wrapped, size_t wrapped_len, const char *subject_token,
    uint32_t epoch, struct vault_dek *slot)
{
	int r;

	if (slot == NULL)
		return PII_ERR_BAD_REQUEST;
	r = dek_unwrap(keys, wrapped, wrapped_len, subject_token, epoch, slot->key);
	if (r != 0)
		sodium_memzero(slot->key, sizeof(slot->key));
	return r;
}

/* ---- values ----------------------------------------------------------- */

/* AD of a sealed value: "piiv-val" 0 subject_token 0 category 0 token 0 0x01. */
static int
val_ad(unsigned char ad[VAL_AD_MAX], const char *subject_token,
    const char *category, const char *token, size_t *adlen)
{
	size_t n = 0, slen, clen, tlen;
	int r;

	if ((r = str_bounded(subject_token, VAULT_TOKEN_MAX, &slen)) != 0 ||
	    (r = str_bounded(category, VAULT_CATEGORY_MAX, &clen)) != 0 ||
	    (r = str_bounded(token, VAULT_TOKEN_MAX, &tlen)) != 0)
		return r;
	memcpy(ad, VAL_AD_PREFIX, sizeof(VAL_AD_PREFIX));
	n += sizeof(VAL_AD_PREFIX);
	memcpy(ad + n, subject_token, slen + 1);
	n += slen + 1;
	memcpy(ad + n, category, clen + 1);
	n += clen + 1;
	memcpy(ad + n, token, tlen + 1);
	n += tlen + 1;
	ad[n++] = VAL_VERSION;
	*adlen = n;
	return 0;
}

int
vault_value_seal(const struct vault_dek *dek, const char *subject_token,
    const char *category, const char *token, const unsigned char *plain,
    size_t plen, unsigned char *out, size_t outcap, size_t *outlen)
{
	unsigned char ad[VAL_AD_MAX];
	struct crypto_tl *t = NULL;
	size_t adlen;
	int adn = 0, n = 0, fin = 0, r = PII_ERR_INTERNAL, dirty = 0;

	if (dek == NULL || out == NULL || outlen == NULL ||
	    (plain == NULL && plen > 0)) {
		r = PII_ERR_BAD_REQUEST;
		goto out;
	}
	if ((r = val_ad(ad, subject_token, category, token, &adlen)) != 0)
		goto out;
	if (plen > VAL_PLAIN_MAX || outcap < plen + VAULT_SEAL_OVERHEAD) {
		r = PII_ERR_TOO_LARGE;
		goto out;
	}
	if ((t = crypto_tl_get()) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	out[0] = VAL_VERSION;
	nonce_take(t, out + 1, VAL_NONCE);
	dirty = 1;
	if (EVP_EncryptInit_ex(t->enc, NULL, NULL, dek->key, out + 1) != 1 ||
	    EVP_EncryptUpdate(t->enc, NULL, &adn, ad, (int)adlen) != 1 ||
	    (plen > 0 && EVP_EncryptUpdate(t->enc, out + 1 + VAL_NONCE, &n, plain,
	    (int)plen) != 1) ||
	    EVP_EncryptFinal_ex(t->enc, out + 1 + VAL_NONCE + n, &fin) != 1 ||
	    (size_t)n + (size_t)fin != plen ||
	    EVP_CIPHER_CTX_ctrl(t->enc, EVP_CTRL_AEAD_GET_TAG, VAL_TAG,
	    out + 1 + VAL_NONCE + plen) != 1) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	ctx_scrub(t->enc);
	dirty = 0;
	*outlen = plen + VAULT_SEAL_OVERHEAD;
	r = 0;
out:
	if (dirty && t != NULL) {
		ctx_scrub(t->enc);
		sodium_memzero(out, plen + VAULT_SEAL_OVERHEAD);
	}
	return r;
}

int
vault_value_open(const struct vault_dek *dek, const char *subject_token,
    const char *category, const char *token, const unsigned char *sealed,
    size_t slen, unsigned char *out, size_t outcap, size_t *outlen)
{
	unsigned char ad[VAL_AD_MAX], tag[VAL_TAG], none[1];
	unsigned char *o = out != NULL ? out : none;   /* out may be NULL if empty */
	struct crypto_tl *t = NULL;
	size_t adlen, mlen;
	int adn = 0, n = 0, fin = 0, r = PII_ERR_INTERNAL;

	if (dek == NULL || sealed == NULL || outlen == NULL ||
	    (out == NULL && outcap > 0)) {
		r = PII_ERR_BAD_REQUEST;
		goto out;
	}
	if ((r = val_ad(ad, subject_token, category, token, &adlen)) != 0)
		goto out;
	if (slen < VAULT_SEAL_OVERHEAD || sealed[0] != VAL_VERSION ||
	    slen - VAULT_SEAL_OVERHEAD > VAL_PLAIN_MAX) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	mlen = slen - VAULT_SEAL_OVERHEAD;
	if (outcap < mlen || (out == NULL && mlen > 0)) {
		r = PII_ERR_TOO_LARGE;
		goto out;
	}
	if ((t = crypto_tl_get()) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	memcpy(tag, sealed + 1 + VAL_NONCE + mlen, VAL_TAG);
	/* OpenSSL writes plaintext before the tag is known: on failure it is
	 * wiped below before anyone sees it. */
	if (EVP_DecryptInit_ex(t->dec, NULL, NULL, dek->key, sealed + 1) != 1 ||
	    EVP_DecryptUpdate(t->dec, NULL, &adn, ad, (int)adlen) != 1 ||
	    (mlen > 0 && EVP_DecryptUpdate(t->dec, o, &n, sealed + 1 + VAL_NONCE,
	    (int)mlen) != 1) ||
	    EVP_CIPHER_CTX_ctrl(t->dec, EVP_CTRL_AEAD_SET_TAG, VAL_TAG, tag) != 1 ||
	    EVP_DecryptFinal_ex(t->dec, o + n, &fin) != 1 ||
	    (size_t)n + (size_t)fin != mlen) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	*outlen = mlen;
	r = 0;
out:
	if (t != NULL)
		ctx_scrub(t->dec);
	if (r != 0 && out != NULL && outcap > 0)
		sodium_memzero(out, outcap);
	return r;
}

/* ---- tokens ----------------------------------------------------------- */

int
vault_hmac_state_new(const unsigned char key[VAULT_KEY_BYTES],
    struct vault_hmac_state **out)
{
	unsigned char pad[SHA256_CBLOCK];
	struct vault_hmac_state *st;
	size_t i;
	int r = PII_ERR_CRYPTO;

	if ((st = sodium_malloc(sizeof(*st))) == NULL)
		return PII_ERR_NOMEM;
	memset(pad, 0x36, sizeof(pad));
	for (i = 0; i < VAULT_KEY_BYTES; i++)
		pad[i] ^= key[i];
	if (SHA256_Init(&st->inner) != 1 ||
	    SHA256_Update(&st->inner, pad, sizeof(pad)) != 1)
		goto out;
	memset(pad, 0x5c, sizeof(pad));
	for (i = 0; i < VAULT_KEY_BYTES; i++)
		pad[i] ^= key[i];
	if (SHA256_Init(&st->outer) != 1 ||
	    SHA256_Update(&st->outer, pad, sizeof(pad)) != 1)
		goto out;
	sodium_mprotect_readonly(st);
	*out = st;
	st = NULL;
	r = 0;
out:
	sodium_memzero(pad, sizeof(pad));
	sodium_free(st);
	return r;
}

void
vault_hmac_state_free(struct vault_hmac_state *st)
{
	sodium_free(st);   /* accepts NULL; wipes */
}

/* RFC 4648 base32, lowercase, no padding: 16 bytes give 26 characters. */
static void
b32_16(const unsigned char in[VAULT_TOKEN_HASH_BYTES], char out[TOKEN_B32_LEN])
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz234567";
	uint32_t acc = 0;
	size_t i, o = 0;
	int bits = 0;

	for (i = 0; i < VAULT_TOKEN_HASH_BYTES; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = alpha[(acc >> bits) & 31];
		}
	}
	if (bits > 0)
		out[o++] = alpha[(acc << (5 - bits)) & 31];
}

/* 0 if category is [a-z][a-z0-9_]* and shorter than VAULT_CATEGORY_MAX. */
static int
token_category(const char *category, size_t *len)
{
	size_t i;

	if (category == NULL || category[0] < 'a' || category[0] > 'z')
		return PII_ERR_BAD_REQUEST;
	for (i = 1; category[i] != '\0'; i++) {
		char c = category[i];

		if (i >= VAULT_CATEGORY_MAX - 1)
			return PII_ERR_TOO_LARGE;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return PII_ERR_BAD_REQUEST;
	}
	*len = i;
	return 0;
}

int
vault_token(const struct vault_keys *keys, const char *category,
    const unsigned char *normalized, size_t len, char out[VAULT_TOKEN_MAX])
{
	const struct vault_token_key *tk;
	SHA256_CTX c;
	unsigned char ih[SHA256_DIGEST_LENGTH], mac[SHA256_DIGEST_LENGTH];
	char buf[VAULT_TOKEN_MAX], digits[10];
	size_t clen = 0, n = 0, nd = 0;
	uint32_t v;
	int r = PII_ERR_INTERNAL;

	if (keys == NULL || out == NULL || normalized == NULL || len == 0) {
		r = PII_ERR_BAD_REQUEST;
		goto out;
	}
	if ((r = token_category(category, &clen)) != 0)
		goto out;
	if (len > TOKEN_VALUE_MAX) {
		r = PII_ERR_TOO_LARGE;
		goto out;
	}
	if (memchr(normalized, '\0', len) != NULL) {
		r = PII_ERR_BAD_REQUEST;
		goto out;
	}
	if ((tk = keys->cur_token) == NULL) {
		r = PII_ERR_KEY;
		goto out;
	}

	/* HMAC = H(K^opad || H(K^ipad || category || 0x00 || value)), with
	 * both keyed blocks already compressed into tk->hmac. */
	c = tk->hmac->inner;
	if (SHA256_Update(&c, category, clen + 1) != 1 ||     /* with its NUL */
	    SHA256_Update(&c, normalized, len) != 1 ||
	    SHA256_Final(ih, &c) != 1) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	c = tk->hmac->outer;
	if (SHA256_Update(&c, ih, sizeof(ih)) != 1 || SHA256_Final(mac, &c) != 1) {
		r = PII_ERR_CRYPTO;
		goto out;
	}

	/* "tok_" category "_v" N "_" base32: at most 4+31+2+10+1+26+1 bytes. */
	memcpy(buf, "tok_", 4);
	n = 4;
	memcpy(buf + n, category, clen);
	n += clen;
	buf[n++] = '_';
	buf[n++] = 'v';
	v = keys->token_version;
	do {
		digits[nd++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	while (nd > 0)
		buf[n++] = digits[--nd];
	buf[n++] = '_';
	b32_16(mac, buf + n);
	n += TOKEN_B32_LEN;
	buf[n] = '\0';
	memcpy(out, buf, n + 1);
	r = 0;
out:
	sodium_memzero(&c, sizeof(c));
	sodium_memzero(ih, sizeof(ih));
	sodium_memzero(mac, sizeof(mac));
	return r;
}
