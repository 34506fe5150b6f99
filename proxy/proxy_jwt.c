/*
 * proxy_jwt.c - OIDC access-token (JWT) verification against a JWKS file.
 *
 * pj_jwks_parse turns the IdP's published keys into OpenSSL public keys
 * (EVP_PKEY_fromdata); pj_verify checks a compact JWS with them and returns
 * the caller's name and roles for policy and audit.
 *
 * Why it is this narrow: the known JWT breaks come from verifiers that let
 * the token decide how it is checked - "alg":"none", an HMAC "verified" with
 * the RSA public key as its secret, a key fetched from "jku"/"x5u" or taken
 * from "jwk", a payload trusted before its signature.  Here the token picks
 * nothing but a kid among the keys the operator installed; each key verifies
 * exactly one algorithm, fixed by its type (RSA: RS256, EC P-256: ES256);
 * nothing in the token is fetched or used as a key; base64url and JSON have
 * one accepted encoding each (no padding, no stray bits, no duplicate keys);
 * the payload is not even decoded until the signature over header.payload
 * verifies.  Failures say why in a few fixed words and never quote the
 * token, which is a credential, nor a claim.
 *
 * A pj_jwks is immutable after load; verification only reads its EVP_PKEYs
 * (each call makes its own EVP_MD_CTX), so one set serves every thread.
 * See docs/auth.md.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "../common/config.h"
#include "../common/json_util.h"
#include "../common/keyfile.h"
#include "proxy_jwt.h"

#define PJ_TIME_MAX 253402300799LL   /* 9999-12-31T23:59:59Z */
#define PJ_SKEW_MAX 3600
#define PJ_ES256_SIG 64
#define PJ_EC_COORD 32

enum pj_alg { PJ_RS256 = 1, PJ_ES256 = 2 };

struct pj_key {
	char kid[PJ_KID_MAX];
	enum pj_alg alg;         /* the one algorithm this key verifies */
	size_t sigsize;          /* exact signature length: modulus bytes, or 64 */
	EVP_PKEY *pkey;
};

struct pj_jwks {
	size_t n;                /* keys[0..n) are loaded */
	struct pj_key keys[];
};

/* ---- base64url ---------------------------------------------------------- */

static int
b64url_val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
pj_b64url_decode(const char *s, size_t len, unsigned char *out, size_t cap,
    size_t *outlen)
{
	uint32_t acc = 0;
	size_t i, bits = 0, n = 0;

	/* One leftover character holds 6 bits: never a whole byte. */
	if (len % 4 == 1 || len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0) > cap)
		return -1;
	for (i = 0; i < len; i++) {
		int v = b64url_val((unsigned char)s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[n++] = (unsigned char)(acc >> bits);
			acc &= (1u << bits) - 1;
		}
	}
	/* The 2 or 4 bits left after the last byte must be zero, so that
	 * each byte string has exactly one encoding. */
	if (acc != 0)
		return -1;
	*outlen = n;
	return 0;
}

/* ---- JWKS --------------------------------------------------------------- */

/* Members that only a private (or symmetric) key has. */
static const char *const private_members[] = {
	"d", "p", "q", "dp", "dq", "qi", "oth", "k", NULL
};

static int
cfg_err(struct pii_errinfo *ei, const char *path, const char *key,
    const char *msg)
{
	char p[PII_ERR_MAX_FIELD];

	if (key != NULL)
		path = pii_json_path_key(p, sizeof(p), path, key);
	return pii_errinfo_set(ei, PII_ERR_CONFIG, path, "%s", msg);
}

/* A string member, as pii_json_get_string but refused as PII_ERR_CONFIG. */
static int
jwk_str(const json_t *jwk, const char *key, int required, size_t maxlen,
    const char *path, const char **out, size_t *outlen, struct pii_errinfo *ei)
{
	int r = pii_json_get_string(jwk, key, required, maxlen, path, out,
	    outlen, ei);

	if (r != 0) {
		if (ei != NULL)
			ei->code = PII_ERR_CONFIG;
		r = PII_ERR_CONFIG;
	}
	return r;
}

/* A required base64url member decoded into out (at most cap bytes). */
static int
jwk_b64(const json_t *jwk, const char *key, const char *path,
    unsigned char *out, size_t cap, size_t *outlen, struct pii_errinfo *ei)
{
	const char *s;
	size_t slen;
	int r;

	if ((r = jwk_str(jwk, key, 1, 2 * cap + 8, path, &s, &slen, ei)) != 0)
		return r;
	if (slen / 4 * 3 > cap)
		return cfg_err(ei, path, key, "is too long for this key type");
	if (slen == 0 || pj_b64url_decode(s, slen, out, cap, outlen) != 0)
		return cfg_err(ei, path, key, "must be non-empty base64url "
		    "without padding (RFC 7515: [A-Za-z0-9_-], no '=')");
	return 0;
}

/* An EVP_PKEY of type ("RSA", "EC") from bld's parameters, only if
 * OpenSSL's public-key check passes; NULL otherwise. */
static EVP_PKEY *
pkey_from(const char *type, OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pk = NULL, *ret = NULL;

	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto out;
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, pk, NULL)) == NULL ||
	    EVP_PKEY_public_check(check) != 1)
		goto out;
	ret = pk;
	pk = NULL;
out:
	if (ret == NULL)
		ERR_clear_error();
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pk);
	OSSL_PARAM_free(params);
	return ret;
}

static int
jwk_rsa(const json_t *jwk, const char *path, struct pj_key *key,
    struct pii_errinfo *ei)
{
	unsigned char n[PJ_RSA_MAX_BITS / 8 + 1], e[32];
	size_t nlen = 0, elen = 0;
	BIGNUM *bn = NULL, *be = NULL;
	OSSL_PARAM_BLD *bld = NULL;
	int bits, r;

	if ((r = jwk_b64(jwk, "n", path, n, sizeof(n), &nlen, ei)) != 0 ||
	    (r = jwk_b64(jwk, "e", path, e, sizeof(e), &elen, ei)) != 0)
		goto out;
	r = PII_ERR_NOMEM;
	if ((bn = BN_bin2bn(n, (int)nlen, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)elen, NULL)) == NULL)
		goto out;
	bits = BN_num_bits(bn);
	if (bits < PJ_RSA_MIN_BITS) {
		r = cfg_err(ei, path, "n", "RSA modulus must be at least 2048 bits");
		goto out;
	}
	if (bits > PJ_RSA_MAX_BITS) {
		r = cfg_err(ei, path, "n", "RSA modulus must be at most 8192 bits");
		goto out;
	}
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
		goto out;
	if ((key->pkey = pkey_from("RSA", bld)) == NULL) {
		r = cfg_err(ei, path, NULL, "not a valid RSA public key (n, e)");
		goto out;
	}
	key->alg = PJ_RS256;
	key->sigsize = (size_t)EVP_PKEY_get_size(key->pkey);
	r = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn);
	BN_free(be);
	return r;
}

static int
jwk_ec(const json_t *jwk, const char *path, struct pj_key *key,
    struct pii_errinfo *ei)
{
	unsigned char pub[1 + 2 * PJ_EC_COORD];
	OSSL_PARAM_BLD *bld = NULL;
	const char *crv;
	size_t xlen = 0, ylen = 0;
	int r;

	if ((r = jwk_str(jwk, "crv", 1, 16, path, &crv, NULL, ei)) != 0)
		goto out;
	if (strcmp(crv, "P-256") != 0) {
		r = cfg_err(ei, path, "crv", "unsupported curve (only P-256)");
		goto out;
	}
	/* RFC 7518 6.2.1.2: each coordinate is the full 32 bytes. */
	pub[0] = 0x04;   /* uncompressed point: 04 || x || y */
	if ((r = jwk_b64(jwk, "x", path, pub + 1, PJ_EC_COORD, &xlen, ei)) != 0 ||
	    (r = jwk_b64(jwk, "y", path, pub + 1 + PJ_EC_COORD, PJ_EC_COORD,
	    &ylen, ei)) != 0)
		goto out;
	if (xlen != PJ_EC_COORD || ylen != PJ_EC_COORD) {
		r = cfg_err(ei, path, xlen != PJ_EC_COORD ? "x" : "y",
		    "must be exactly 32 bytes");
		goto out;
	}
	r = PII_ERR_NOMEM;
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
	    "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY,
	    pub, sizeof(pub)))
		goto out;
	if ((key->pkey = pkey_from("EC", bld)) == NULL) {
		r = cfg_err(ei, path, NULL, "EC point is not on the P-256 curve");
		goto out;
	}
	key->alg = PJ_ES256;
	key->sigsize = PJ_ES256_SIG;
	r = 0;
out:
	OSSL_PARAM_BLD_free(bld);
	return r;
}

/* 1 if s[0..n) is 1..max bytes of printable ASCII. */
static int
printable_ascii(const char *s, size_t n, size_t max)
{
	size_t i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			return 0;
	return 1;
}

/* keys[i] of the JWKS into *key; on failure *key holds nothing to free. */
static int
jwk_load(const json_t *jwk, size_t i, struct pj_key *key,
    struct pii_errinfo *ei)
{
	char path[32];
	const char *kty, *kid, *use, *alg;
	size_t kidlen, j;
	json_t *ops;
	int r, is_rsa;

	pii_json_path_index(path, sizeof(path), "keys", i);
	if (!json_is_object(jwk))
		return cfg_err(ei, path, NULL, "must be an object");
	for (j = 0; private_members[j] != NULL; j++)
		if (json_object_get(jwk, private_members[j]) != NULL)
			return cfg_err(ei, path, private_members[j],
			    "is a private key member; the JWKS must hold public "
			    "keys only");
	if ((r = jwk_str(jwk, "kty", 1, 8, path, &kty, NULL, ei)) != 0)
		return r;
	if (strcmp(kty, "RSA") != 0 && strcmp(kty, "EC") != 0)
		return cfg_err(ei, path, "kty", "unsupported key type (RSA or EC)");
	is_rsa = strcmp(kty, "RSA") == 0;
	if ((r = jwk_str(jwk, "kid", 1, PJ_KID_MAX - 1, path, &kid, &kidlen,
	    ei)) != 0)
		return r;
	if (!printable_ascii(kid, kidlen, PJ_KID_MAX - 1))
		return cfg_err(ei, path, "kid",
		    "must be 1-63 bytes of printable ASCII");
	if ((r = jwk_str(jwk, "use", 0, 16, path, &use, NULL, ei)) != 0)
		return r;
	if (use != NULL && strcmp(use, "sig") != 0)
		return cfg_err(ei, path, "use",
		    "must be \"sig\" (only signature keys belong in this JWKS)");
	if ((r = jwk_str(jwk, "alg", 0, 16, path, &alg, NULL, ei)) != 0)
		return r;
	if (alg != NULL && strcmp(alg, is_rsa ? "RS256" : "ES256") != 0)
		return cfg_err(ei, path, "alg", is_rsa ?
		    "must be RS256 for an RSA key" : "must be ES256 for an EC key");
	ops = json_object_get(jwk, "key_ops");
	if (ops != NULL) {
		json_t *op;
		size_t k;
		int verify = 0;

		if (!json_is_array(ops))
			return cfg_err(ei, path, "key_ops", "must be an array");
		json_array_foreach(ops, k, op)
			if (json_is_string(op) &&
			    strcmp(json_string_value(op), "verify") == 0)
				verify = 1;
		if (!verify)
			return cfg_err(ei, path, "key_ops",
			    "does not allow \"verify\"");
	}
	memcpy(key->kid, kid, kidlen);
	key->kid[kidlen] = '\0';
	return is_rsa ? jwk_rsa(jwk, path, key, ei) : jwk_ec(jwk, path, key, ei);
}

int
pj_jwks_parse(const char *buf, size_t len, struct pj_jwks **out,
    struct pii_errinfo *ei)
{
	json_t *root = NULL, *keys, *jwk;
	struct pj_jwks *set = NULL;
	char p[32], f[PII_ERR_MAX_FIELD];
	size_t i, j, n;
	int r;

	if (len > PJ_MAX_JWKS_BYTES)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "JWKS larger than %d bytes", PJ_MAX_JWKS_BYTES);
	if ((r = pii_json_parse(buf, len, PJ_MAX_JSON_DEPTH, &root, ei)) != 0) {
		char msg[PII_ERR_MAX_MESSAGE];

		snprintf(msg, sizeof(msg), "%s", ei != NULL ? ei->message : "");
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "JWKS is not valid JSON: %s", msg);
	}
	r = PII_ERR_CONFIG;
	keys = json_is_object(root) ? json_object_get(root, "keys") : NULL;
	if (!json_is_object(root)) {
		pii_errinfo_set(ei, r, NULL, "JWKS must be a JSON object");
		goto out;
	}
	if (!json_is_array(keys) || (n = json_array_size(keys)) == 0 ||
	    n > PJ_MAX_KEYS) {
		pii_errinfo_set(ei, r, "keys", "must be an array of 1-%d keys",
		    PJ_MAX_KEYS);
		goto out;
	}
	if ((set = calloc(1, sizeof(*set) + n * sizeof(set->keys[0]))) == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	json_array_foreach(keys, i, jwk) {
		if ((r = jwk_load(jwk, i, &set->keys[i], ei)) != 0)
			goto out;
		set->n = i + 1;
		for (j = 0; j < i; j++) {
			if (strcmp(set->keys[j].kid, set->keys[i].kid) == 0) {
				r = pii_errinfo_set(ei, PII_ERR_CONFIG,
				    pii_json_path_key(f, sizeof(f),
				    pii_json_path_index(p, sizeof(p), "keys", i),
				    "kid"), "duplicate kid (also keys[%zu])", j);
				goto out;
			}
		}
	}
	*out = set;
	set = NULL;
	r = 0;
out:
	pj_jwks_free(set);
	json_decref(root);
	return r;
}

int
pj_jwks_load(const char *path, struct pj_jwks **out, struct pii_errinfo *ei)
{
	char *text = NULL, msg[PII_ERR_MAX_MESSAGE], field[PII_ERR_MAX_FIELD];
	char eb[128];
	size_t len = 0;
	int r;

	errno = 0;
	r = pii_read_small_file(path, PJ_MAX_JWKS_BYTES, &text, &len);
	if (r == PII_ERR_TOO_LARGE)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "JWKS %s: larger than %d bytes", path, PJ_MAX_JWKS_BYTES);
	if (r != 0)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "JWKS %s: cannot read: %s", path, errno != 0 ?
		    pii_errno_text(errno, eb, sizeof(eb)) : "not a regular file");
	r = pj_jwks_parse(text, len, out, ei);
	free(text);
	if (r != 0 && ei != NULL) {
		snprintf(msg, sizeof(msg), "%s", ei->message);
		snprintf(field, sizeof(field), "%s", ei->field);
		pii_errinfo_set(ei, r, field, "JWKS %s: %s", path, msg);
	}
	return r;
}

void
pj_jwks_free(struct pj_jwks *k)
{
	size_t i;

	if (k == NULL)
		return;
	for (i = 0; i < k->n; i++)
		EVP_PKEY_free(k->keys[i].pkey);
	free(k);
}

size_t
pj_jwks_count(const struct pj_jwks *k)
{
	return k != NULL ? k->n : 0;
}

/* ---- token -------------------------------------------------------------- */

static int
config_ok(const struct pj_config *cfg, long long now)
{
	return cfg->issuer != NULL && cfg->issuer[0] != '\0' &&
	    cfg->audience != NULL && cfg->audience[0] != '\0' &&
	    cfg->user_claim != NULL && cfg->user_claim[0] != '\0' &&
	    cfg->roles_claim != NULL && cfg->roles_claim[0] != '\0' &&
	    cfg->skew_seconds >= 0 && cfg->skew_seconds <= PJ_SKEW_MAX &&
	    cfg->max_lifetime_seconds >= 0 &&
	    cfg->max_lifetime_seconds <= PJ_TIME_MAX &&
	    now >= 0 && now <= PJ_TIME_MAX;
}

static int
deny(struct pii_errinfo *ei, const char *why)
{
	return pii_errinfo_set(ei, PII_ERR_UNAUTHENTICATED, NULL, "%s", why);
}

int
pj_looks_like_jwt(const char *s, size_t len)
{
	size_t i, dots = 0, part = 0;

	if (s == NULL || (len >= 9 && memcmp(s, "piiv_key_", 9) == 0))
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] == '.') {
			if (part == 0 || ++dots > 2)
				return 0;
			part = 0;
		} else if (b64url_val((unsigned char)s[i]) < 0) {
			return 0;
		} else {
			part++;
		}
	}
	return dots == 2;
}

/* Verify sig over msg with key: RS256 (PKCS#1 v1.5, SHA-256, signature
 * exactly the modulus size) or ES256 (raw r||s of 32 bytes each, re-encoded
 * as the DER ECDSA-Sig-Value OpenSSL expects).  1 if it verifies. */
static int
sig_ok(const struct pj_key *key, const unsigned char *msg, size_t msglen,
    const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;   /* owned by md */
	ECDSA_SIG *es = NULL;
	BIGNUM *br = NULL, *bs = NULL;
	unsigned char *der = NULL;
	const unsigned char *vsig = sig;
	size_t vlen = siglen;
	int derlen, ok = 0;

	if (siglen != key->sigsize)
		goto out;
	if (key->alg == PJ_ES256) {
		if ((es = ECDSA_SIG_new()) == NULL ||
		    (br = BN_bin2bn(sig, PJ_EC_COORD, NULL)) == NULL ||
		    (bs = BN_bin2bn(sig + PJ_EC_COORD, PJ_EC_COORD, NULL)) == NULL ||
		    ECDSA_SIG_set0(es, br, bs) != 1)
			goto out;
		br = bs = NULL;   /* owned by es now */
		if ((derlen = i2d_ECDSA_SIG(es, &der)) <= 0)
			goto out;
		vsig = der;
		vlen = (size_t)derlen;
	}
	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, key->pkey,
	    NULL) != 1)
		goto out;
	if (key->alg == PJ_RS256 &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto out;
	ok = EVP_DigestVerify(md, vsig, vlen, msg, msglen) == 1;
out:
	ERR_clear_error();   /* a failed verify leaves errors on this thread */
	EVP_MD_CTX_free(md);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	BN_free(br);
	BN_free(bs);
	return ok;
}

static const struct pj_key *
find_key(const struct pj_jwks *k, const char *kid, size_t kidlen)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (strlen(k->keys[i].kid) == kidlen &&
		    memcmp(k->keys[i].kid, kid, kidlen) == 0)
			return &k->keys[i];
	return NULL;
}

/* "JWT" or "at+jwt" (RFC 9068), case-insensitive, with or without the
 * "application/" prefix (RFC 7515 4.1.9). */
static int
typ_ok(const char *t)
{
	if (strncasecmp(t, "application/", 12) == 0)
		t += 12;
	return strcasecmp(t, "JWT") == 0 || strcasecmp(t, "at+jwt") == 0;
}

/* Check the decoded header; on success *key is the key that must verify. */
static int
check_header(const struct pj_jwks *k, const char *hdr, size_t len,
    const struct pj_key **key, struct pii_errinfo *ei)
{
	json_t *h = NULL, *v;
	enum pj_alg alg;
	const char *s;
	int r;

	if (pii_json_parse(hdr, len, PJ_MAX_JSON_DEPTH, &h, NULL) != 0 ||
	    !json_is_object(h)) {
		r = deny(ei, "malformed token");
		goto out;
	}
	if (json_object_get(h, "crit") != NULL) {
		r = deny(ei, "critical header not supported");
		goto out;
	}
	v = json_object_get(h, "alg");
	if (!json_is_string(v)) {
		r = deny(ei, "malformed token");
		goto out;
	}
	s = json_string_value(v);
	if (strcmp(s, "RS256") == 0) {
		alg = PJ_RS256;
	} else if (strcmp(s, "ES256") == 0) {
		alg = PJ_ES256;
	} else {
		r = deny(ei, "algorithm not allowed");
		goto out;
	}
	v = json_object_get(h, "typ");
	if (v != NULL && (!json_is_string(v) || !typ_ok(json_string_value(v)))) {
		r = deny(ei, "token type not allowed");
		goto out;
	}
	v = json_object_get(h, "kid");
	if (v == NULL) {
		r = deny(ei, "missing key id");
		goto out;
	}
	if (!json_is_string(v)) {
		r = deny(ei, "malformed token");
		goto out;
	}
	if ((*key = find_key(k, json_string_value(v), json_string_length(v))) == NULL) {
		r = deny(ei, "unknown key id");
		goto out;
	}
	if ((*key)->alg != alg) {
		r = deny(ei, "key does not match algorithm");
		goto out;
	}
	r = 0;
out:
	json_decref(h);
	return r;
}

int
pj_verify(const struct pj_jwks *k, const struct pj_config *cfg,
    const char *token, size_t len, long long now, struct pj_identity *out,
    struct pii_errinfo *ei)
{
	const struct pj_key *key = NULL;
	unsigned char *buf = NULL, *hdr, *sig, *pay;
	size_t dot[2], ndots = 0, i, hlen, slen, plen;
	int r;

	if (k == NULL || cfg == NULL || token == NULL || out == NULL ||
	    !config_ok(cfg, now))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "JWT configuration missing or out of range");
	if (len > PJ_MAX_TOKEN)
		return deny(ei, "token too large");
	/* Shape: header.payload.signature, only base64url characters. */
	for (i = 0; i < len; i++) {
		if (token[i] == '.') {
			if (ndots == 2)
				return deny(ei, "malformed token");
			dot[ndots++] = i;
		} else if (b64url_val((unsigned char)token[i]) < 0) {
			return deny(ei, "malformed token");
		}
	}
	if (ndots != 2 || dot[0] == 0 || dot[1] == dot[0] + 1)
		return deny(ei, "malformed token");
	/* Decoded parts together are shorter than the token. */
	if ((buf = malloc(len)) == NULL)
		return pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	hdr = buf;
	if (pj_b64url_decode(token, dot[0], hdr, len, &hlen) != 0) {
		r = deny(ei, "malformed token");
		goto out;
	}
	if ((r = check_header(k, (const char *)hdr, hlen, &key, ei)) != 0)
		goto out;
	sig = hdr + hlen;
	if (pj_b64url_decode(token + dot[1] + 1, len - dot[1] - 1, sig,
	    len - hlen, &slen) != 0) {
		r = deny(ei, "malformed token");
		goto out;
	}
	/* The signature covers the ASCII "header.payload" as sent. */
	if (!sig_ok(key, (const unsigned char *)token, dot[1], sig, slen)) {
		r = deny(ei, "bad signature");
		goto out;
	}
	/* Only now is the payload worth decoding. */
	pay = sig + slen;
	if (pj_b64url_decode(token + dot[0] + 1, dot[1] - dot[0] - 1, pay,
	    len - hlen - slen, &plen) != 0) {
		r = deny(ei, "malformed token");
		goto out;
	}
	r = pj_claims_check_verified(cfg, (const char *)pay, plen, now,
	    key->kid, out, ei);
out:
	sodium_memzero(buf, len);
	free(buf);
	return r;
}

/* ---- claims ------------------------------------------------------------- */

/* The claim called name: a top-level member of exactly that name, else the
 * member reached by the dotted path ("realm_access.roles").  Borrowed; NULL
 * if absent (or a step of the path is not an object). */
static json_t *
claim_get(json_t *claims, const char *name)
{
	json_t *v = json_object_get(claims, name);
	const char *p, *dot;

	if (v != NULL || strchr(name, '.') == NULL)
		return v;
	v = claims;
	for (p = name;; p = dot + 1) {
		dot = strchr(p, '.');
		if (!json_is_object(v))
			return NULL;
		v = json_object_getn(v, p, dot != NULL ? (size_t)(dot - p) : strlen(p));
		if (v == NULL || dot == NULL)
			return v;
	}
}

/* A NumericDate claim: 1 and *out if present, 0 if absent, -1 if it is
 * not a number in [0, 9999-12-31] (fractions are truncated). */
static int
claim_time(json_t *c, const char *name, long long *out)
{
	json_t *v = json_object_get(c, name);
	double d;

	if (v == NULL)
		return 0;
	if (!json_is_number(v))
		return -1;
	d = json_number_value(v);
	if (!(d >= 0 && d <= (double)PJ_TIME_MAX))
		return -1;
	*out = (long long)d;
	return 1;
}

/* A person's name for audit: 1..127 bytes of UTF-8 (jansson has checked
 * the encoding) without C0 or C1 control characters, DEL, the line and
 * paragraph separators or the bidirectional overrides and isolates
 * (U+2028..U+202E, U+2066..U+2069), which could make an audit line read
 * differently from what it holds. */
static int
user_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n >= PJ_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] < 0xa0)
			return 0;   /* U+0080..U+009F */
		if (c == 0xe2 && i + 2 < n) {
			unsigned char c1 = (unsigned char)s[i + 1];
			unsigned char c2 = (unsigned char)s[i + 2];

			if ((c1 == 0x80 && c2 >= 0xa8 && c2 <= 0xae) ||
			    (c1 == 0x81 && c2 >= 0xa6 && c2 <= 0xa9))
				return 0;
		}
	}
	return 1;
}

static int
role_ok(const json_t *v)
{
	const char *s;
	size_t i, n;

	if (!json_is_string(v))
		return 0;
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0 || n >= PJ_ROLE_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' || c == ':' ||
		    c == '-'))
			return 0;
	}
	return 1;
}

static int
aud_ok(const json_t *aud, const char *want)
{
	const json_t *v;
	size_t i;
	int found = 0;

	if (aud == NULL)
		return 0;
	if (json_is_string(aud))
		return strcmp(json_string_value(aud), want) == 0 ? 1 : 0;
	if (!json_is_array(aud))
		return -1;
	json_array_foreach(aud, i, v) {
		if (!json_is_string(v))
			return -1;
		if (strcmp(json_string_value(v), want) == 0)
			found = 1;
	}
	return found;
}

int
pj_claims_check_verified(const struct pj_config *cfg, const char *json,
    size_t len, long long now, const char *kid, struct pj_identity *out,
    struct pii_errinfo *ei)
{
	struct pj_identity id;
	json_t *c = NULL, *v, *e;
	long long exp = 0, nbf = 0, iat = 0, skew;
	int has_iat = 0, r;
	size_t i, n;

	memset(&id, 0, sizeof(id));
	if (cfg == NULL || json == NULL || out == NULL || !config_ok(cfg, now))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "JWT configuration missing or out of range");
	skew = cfg->skew_seconds;
	if (pii_json_parse(json, len, PJ_MAX_JSON_DEPTH, &c, NULL) != 0 ||
	    !json_is_object(c)) {
		r = deny(ei, "malformed token");
		goto out;
	}
	v = json_object_get(c, "iss");
	if (!json_is_string(v) || strcmp(json_string_value(v), cfg->issuer) != 0) {
		r = deny(ei, "wrong issuer");
		goto out;
	}
	if ((r = aud_ok(json_object_get(c, "aud"), cfg->audience)) != 1) {
		r = deny(ei, r < 0 ? "malformed token" : "wrong audience");
		goto out;
	}
	if ((r = claim_time(c, "exp", &exp)) != 1 ||
	    claim_time(c, "nbf", &nbf) < 0 ||
	    (has_iat = claim_time(c, "iat", &iat)) < 0) {
		r = deny(ei, r == 0 ? "missing expiry" : "malformed token");
		goto out;
	}
	if (now > exp + skew) {
		r = deny(ei, "token expired");
		goto out;
	}
	if (now + skew < nbf) {
		r = deny(ei, "token not yet valid");
		goto out;
	}
	if (has_iat && iat > now + skew) {
		r = deny(ei, "token issued in the future");
		goto out;
	}
	if (cfg->max_lifetime_seconds > 0 &&
	    exp - (has_iat ? iat : now) > cfg->max_lifetime_seconds) {
		r = deny(ei, "token lifetime too long");
		goto out;
	}
	v = claim_get(c, cfg->user_claim);
	if (!json_is_string(v) || json_string_length(v) == 0) {
		r = deny(ei, "missing user claim");
		goto out;
	}
	if (!user_ok(json_string_value(v), json_string_length(v))) {
		r = deny(ei, "bad user claim");
		goto out;
	}
	memcpy(id.user, json_string_value(v), json_string_length(v));
	v = claim_get(c, cfg->roles_claim);
	if (v != NULL && !json_is_array(v) && !role_ok(v)) {
		r = deny(ei, "bad roles claim");
		goto out;
	}
	if (json_is_string(v)) {
		memcpy(id.roles[0], json_string_value(v), json_string_length(v));
		id.nroles = 1;
	} else if (v != NULL) {
		if ((n = json_array_size(v)) > PJ_MAX_ROLES) {
			r = deny(ei, "too many roles");
			goto out;
		}
		json_array_foreach(v, i, e) {
			if (!role_ok(e)) {
				r = deny(ei, "bad roles claim");
				goto out;
			}
			memcpy(id.roles[i], json_string_value(e),
			    json_string_length(e));
		}
		id.nroles = n;
	}
	id.exp = exp;
	if (kid != NULL)
		snprintf(id.kid, sizeof(id.kid), "%s", kid);
	*out = id;
	r = 0;
out:
	sodium_memzero(&id, sizeof(id));
	json_decref(c);
	return r;
}
