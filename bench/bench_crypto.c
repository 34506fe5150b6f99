/*
 * bench_crypto.c - per-value cost of vault_token + vault_value_seal against
 * the bare primitives doing the same work the naive way in the same run
 * (one-shot OpenSSL HMAC() with the raw key, and a fresh EVP AES-256-GCM
 * context with a fresh 12-byte nonce and an AD of the same length).
 *
 * N values of about 20 bytes (emails), best of 3 runs each.  Prints the
 * numbers and the ratio against the target; asserts nothing about timing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sodium.h>

#include "../vault/vault_crypto.h"
#include "../vault/vault_keys.h"
#include "../vault/vault_keys_int.h"

#define N_VALUES 1000000
#define RUNS 3
#define VAL_STRIDE 32
#define SUBJECT "tok_subject_v1_abcdefghijklmnopqrstuvwxyz"
#define CATEGORY "email"

static unsigned char *values;
static size_t *lens;
static unsigned char token_key[32];
static unsigned char dek_raw[32];
static volatile unsigned sink;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static size_t
val_ad_len(void)
{
	/* "piiv-val" 0 subject 0 category 0 token 0 0x01, with a token of the
	 * shape tok_email_v1_<26>. */
	return sizeof("piiv-val") + sizeof(SUBJECT) + sizeof(CATEGORY) +
	    sizeof("tok_" CATEGORY "_v1_") - 1 + 26 + 1 + 1;
}

static double
run_vault(const struct vault_keys *keys, const struct vault_dek *dek, int seal)
{
	unsigned char out[VAL_STRIDE + VAULT_SEAL_OVERHEAD];
	char tok[VAULT_TOKEN_MAX];
	size_t i, olen;
	double t0;
	int bad = 0;

	t0 = now_ns();
	for (i = 0; i < N_VALUES; i++) {
		const unsigned char *v = values + i * VAL_STRIDE;

		bad |= vault_token(keys, CATEGORY, v, lens[i], tok);
		if (seal)
			bad |= vault_value_seal(dek, SUBJECT, CATEGORY, tok, v, lens[i],
			    out, sizeof(out), &olen);
		sink += (unsigned)tok[20] + (seal ? out[20] : 0);
	}
	if (bad)
		fprintf(stderr, "bench_crypto: vault call failed\n");
	return (now_ns() - t0) / N_VALUES;
}

static double
run_bare(int seal)
{
	unsigned char msg[sizeof(CATEGORY) + VAL_STRIDE], mac[EVP_MAX_MD_SIZE];
	unsigned char ad[256], nonce[12], out[VAL_STRIDE + 16], tag[16];
	unsigned int maclen;
	size_t i, adlen = val_ad_len();
	EVP_CIPHER_CTX *ctx;
	double t0;
	int n, fin, bad = 0;

	memset(ad, 0x61, sizeof(ad));
	memcpy(msg, CATEGORY, sizeof(CATEGORY));   /* with its NUL */
	t0 = now_ns();
	for (i = 0; i < N_VALUES; i++) {
		const unsigned char *v = values + i * VAL_STRIDE;

		memcpy(msg + sizeof(CATEGORY), v, lens[i]);
		if (HMAC(EVP_sha256(), token_key, sizeof(token_key), msg,
		    sizeof(CATEGORY) + lens[i], mac, &maclen) == NULL)
			bad = 1;
		if (seal) {
			if (RAND_bytes(nonce, sizeof(nonce)) != 1 ||
			    (ctx = EVP_CIPHER_CTX_new()) == NULL) {
				bad = 1;
				continue;
			}
			if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, dek_raw,
			    nonce) != 1 ||
			    EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)adlen) != 1 ||
			    EVP_EncryptUpdate(ctx, out, &n, v, (int)lens[i]) != 1 ||
			    EVP_EncryptFinal_ex(ctx, out + n, &fin) != 1 ||
			    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, tag) != 1)
				bad = 1;
			EVP_CIPHER_CTX_free(ctx);
			sink += out[3] + tag[0];
		}
		sink += mac[0];
	}
	if (bad)
		fprintf(stderr, "bench_crypto: bare call failed\n");
	return (now_ns() - t0) / N_VALUES;
}

int
main(void)
{
	struct vault_keys *keys = NULL;
	struct vault_dek *dek = NULL;
	double vt = 1e18, bt = 1e18, vs = 1e18, bs = 1e18, x;
	size_t i;
	int run, r = 1;

	if (sodium_init() < 0)
		return 1;
	values = malloc((size_t)N_VALUES * VAL_STRIDE);
	lens = malloc((size_t)N_VALUES * sizeof(*lens));
	if (values == NULL || lens == NULL)
		goto out;
	for (i = 0; i < N_VALUES; i++)
		lens[i] = (size_t)snprintf((char *)values + i * VAL_STRIDE, VAL_STRIDE,
		    "u%07zu@example.com", i);
	randombytes_buf(token_key, sizeof(token_key));
	randombytes_buf(dek_raw, sizeof(dek_raw));
	if (vault_keys_from_raw_for_test(NULL, 1, token_key, 1, &keys) != 0 ||
	    vault_dek_new(&dek) != 0) {
		fprintf(stderr, "bench_crypto: setup failed\n");
		goto out;
	}

	/* Warm up both paths (thread contexts, provider fetches). */
	run_vault(keys, dek, 1);
	run_bare(1);
	for (run = 0; run < RUNS; run++) {
		if ((x = run_vault(keys, dek, 0)) < vt)
			vt = x;
		if ((x = run_bare(0)) < bt)
			bt = x;
		if ((x = run_vault(keys, dek, 1)) < vs)
			vs = x;
		if ((x = run_bare(1)) < bs)
			bs = x;
	}
	printf("crypto: %d values of ~%zu bytes, best of %d runs\n", N_VALUES,
	    lens[0], RUNS);
	printf("crypto: token       %6.0f ns/value   bare HMAC()        %6.0f ns/value"
	    "   ratio %.2f (target <= 1.50)\n", vt, bt, vt / bt);
	printf("crypto: token+seal  %6.0f ns/value   bare HMAC+AES-GCM  %6.0f ns/value"
	    "   ratio %.2f (target <= 1.50)\n", vs, bs, vs / bs);
	r = 0;
out:
	vault_dek_free(dek);
	vault_keys_free(keys);
	sodium_memzero(token_key, sizeof(token_key));
	sodium_memzero(dek_raw, sizeof(dek_raw));
	free(values);
	free(lens);
	return r;
}
