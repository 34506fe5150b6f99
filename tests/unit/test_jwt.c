/*
 * test_jwt.c - the proxy's JWT verification (proxy/proxy_jwt.c) as tables:
 * tokens signed here with keys made here, each accepted or refused with
 * the exact reason; JWKS files loaded or refused naming the JSON path;
 * strict base64url known answers; and the attacks (alg none, HS256 keyed
 * with the RSA public key, kid of the other key type, embedded jwk, DER
 * ECDSA, non-canonical base64) refused.
 *
 * Templates use ${NAME} for values only known at run time (key members).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include "../../common/err.h"
#include "../../common/json_util.h"
#include "../../proxy/proxy_jwt.h"
#include "tap.h"
#include "testfiles.h"

#define NOW 1700000000LL
#define BIG 32768

static EVP_PKEY *rsa, *ec, *rsa_other, *rsa1024;
static struct pj_jwks *jwks;

static const struct pj_config cfg = {
	.issuer = "https://idp.example.com/realms/corp",
	.audience = "pii-proxy",
	.skew_seconds = 60,
	.roles_claim = "roles",
	.user_claim = "email",
	.max_lifetime_seconds = 86400,
};

/* ---- helpers: base64url, key members, templates ------------------------- */

static void
b64(const void *p, size_t n, char *out, size_t cap)
{
	sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void
bn_b64(EVP_PKEY *pk, const char *name, int width, char *out, size_t cap)
{
	BIGNUM *bn = NULL;
	unsigned char buf[1100];
	int n;

	out[0] = '\0';
	if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
		return;
	n = width > 0 ? width : BN_num_bytes(bn);
	if (BN_bn2binpad(bn, buf, n) == n)
		b64(buf, (size_t)n, out, cap);
	BN_free(bn);
}

struct var {
	const char *name;
	char value[1500];
};
static struct var vars[] = {
	{ "RSA_N", "" }, { "RSA_E", "" }, { "EC_X", "" }, { "EC_Y", "" },
	{ "EC_Y_OFF", "" }, { "EC_X31", "" }, { "RSA1024_N", "" },
	{ "OTHER_N", "" }, { "RSA_N_PAD", "" },
};

/* tpl with each ${NAME} replaced by its value, into out. */
static const char *
expand(const char *tpl, char *out, size_t cap)
{
	size_t o = 0, i, k;

	for (i = 0; tpl[i] != '\0' && o + 1 < cap; i++) {
		if (tpl[i] == '$' && tpl[i + 1] == '{') {
			for (k = 0; k < sizeof(vars) / sizeof(vars[0]); k++) {
				size_t nl = strlen(vars[k].name);

				if (strncmp(tpl + i + 2, vars[k].name, nl) == 0 &&
				    tpl[i + 2 + nl] == '}') {
					size_t vl = strlen(vars[k].value);

					if (o + vl < cap) {
						memcpy(out + o, vars[k].value, vl);
						o += vl;
					}
					i += 2 + nl;
					break;
				}
			}
			if (k < sizeof(vars) / sizeof(vars[0]))
				continue;
		}
		out[o++] = tpl[i];
	}
	out[o] = '\0';
	return out;
}

static void
set_var(const char *name, const char *value)
{
	size_t k;

	for (k = 0; k < sizeof(vars) / sizeof(vars[0]); k++)
		if (strcmp(vars[k].name, name) == 0)
			snprintf(vars[k].value, sizeof(vars[k].value), "%s", value);
}

static void
make_vars(void)
{
	char v[1500];
	unsigned char raw[40];
	size_t n;

	bn_b64(rsa, OSSL_PKEY_PARAM_RSA_N, 0, v, sizeof(v));
	set_var("RSA_N", v);
	bn_b64(rsa, OSSL_PKEY_PARAM_RSA_N, 257, v, sizeof(v));  /* leading 00 */
	set_var("RSA_N_PAD", v);
	bn_b64(rsa, OSSL_PKEY_PARAM_RSA_E, 0, v, sizeof(v));
	set_var("RSA_E", v);
	bn_b64(rsa_other, OSSL_PKEY_PARAM_RSA_N, 0, v, sizeof(v));
	set_var("OTHER_N", v);
	bn_b64(rsa1024, OSSL_PKEY_PARAM_RSA_N, 0, v, sizeof(v));
	set_var("RSA1024_N", v);
	bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_X, 32, v, sizeof(v));
	set_var("EC_X", v);
	bn_b64(ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32, v, sizeof(v));
	set_var("EC_Y", v);
	/* y with its low bit flipped: (x, y') is not on the curve. */
	if (pj_b64url_decode(v, strlen(v), raw, sizeof(raw), &n) == 0 && n == 32) {
		raw[31] ^= 0x01;
		b64(raw, 32, v, sizeof(v));
		set_var("EC_Y_OFF", v);
		b64(raw, 31, v, sizeof(v));
		set_var("EC_X31", v);
	}
}

/* ---- signing ------------------------------------------------------------ */

enum signer {
	S_RS256,        /* the JWKS's RSA key, kid rsa1 */
	S_ES256,        /* the JWKS's EC key, kid ec1, raw r||s */
	S_ES256_DER,    /* the EC key, DER signature as OpenSSL makes it */
	S_ES256_SHORT,  /* raw r||s less its last byte */
	S_ES256_LONG,   /* 00 || r || s */
	S_RS_OTHER,     /* an RSA key not in the JWKS, header still kid rsa1 */
	S_HS_PEM,       /* HS256 keyed with the RSA public key's PEM */
	S_HS_DER,       /* ... its DER SubjectPublicKeyInfo */
	S_HS_N,         /* ... its JWK "n" text */
	S_NONE,         /* alg none, empty signature */
	S_NONE_SIG,     /* alg none with some signature */
};

static int
sign_pkey(EVP_PKEY *pk, int raw, const char *msg, unsigned char *sig,
    size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[600];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *es = NULL;
	const BIGNUM *br, *bs;
	int r = -1;

	if (md == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pk, NULL) != 1 ||
	    EVP_DigestSign(md, der, &dlen, (const unsigned char *)msg,
	    strlen(msg)) != 1)
		goto out;
	if (!raw) {
		memcpy(sig, der, dlen);
		*siglen = dlen;
	} else {
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL)
			goto out;
		ECDSA_SIG_get0(es, &br, &bs);
		BN_bn2binpad(br, sig, 32);
		BN_bn2binpad(bs, sig + 32, 32);
		*siglen = 64;
	}
	r = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return r;
}

static void
hmac_secret(enum signer s, unsigned char *key, size_t cap, size_t *len)
{
	BIO *bio;
	unsigned char *der = NULL;
	char *pem;
	long n;
	int dn;

	*len = 0;
	if (s == S_HS_PEM) {
		bio = BIO_new(BIO_s_mem());
		PEM_write_bio_PUBKEY(bio, rsa);
		n = BIO_get_mem_data(bio, &pem);
		if (n > 0 && (size_t)n <= cap) {
			memcpy(key, pem, (size_t)n);
			*len = (size_t)n;
		}
		BIO_free(bio);
	} else if (s == S_HS_DER) {
		dn = i2d_PUBKEY(rsa, &der);
		if (dn > 0 && (size_t)dn <= cap) {
			memcpy(key, der, (size_t)dn);
			*len = (size_t)dn;
		}
		OPENSSL_free(der);
	} else {
		*len = strlen(vars[0].value);
		memcpy(key, vars[0].value, *len);
	}
}

static void stray_bit(char *t, int which);

static void
insert_end(char *t, const char *s)
{
	memcpy(t + strlen(t), s, strlen(s) + 1);
}

/* A compact token for header (NULL: the signer's usual one) and claims;
 * with stray, the payload's last base64url character gets a stray low bit
 * before signing (a signed but non-canonical encoding). */
static void
make_token_x(enum signer s, const char *header, const char *claims, int stray,
    char *out, size_t cap)
{
	char hx[BIG], h64[BIG], p64[BIG], input[2 * BIG], s64[2048];
	unsigned char sig[1024], key[2048];
	size_t siglen = 0, klen;
	unsigned int mlen = 0;

	if (header == NULL) {
		switch (s) {
		case S_RS256: case S_RS_OTHER:
			header = "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}";
			break;
		case S_HS_PEM: case S_HS_DER: case S_HS_N:
			header = "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"rsa1\"}";
			break;
		case S_NONE: case S_NONE_SIG:
			header = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
			break;
		default:
			header = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"ec1\"}";
		}
	}
	expand(header, hx, sizeof(hx));
	b64(hx, strlen(hx), h64, sizeof(h64));
	b64(claims, strlen(claims), p64, sizeof(p64));
	snprintf(input, sizeof(input), "%s.%s", h64, p64);
	if (stray) {
		/* stray_bit works on a whole token: give it a dummy signature. */
		insert_end(input, ".x");
		stray_bit(input, 1);
		input[strlen(input) - 2] = '\0';
	}
	switch (s) {
	case S_RS256:
		sign_pkey(rsa, 0, input, sig, &siglen);
		break;
	case S_RS_OTHER:
		sign_pkey(rsa_other, 0, input, sig, &siglen);
		break;
	case S_ES256:
		sign_pkey(ec, 1, input, sig, &siglen);
		break;
	case S_ES256_DER:
		sign_pkey(ec, 0, input, sig, &siglen);
		break;
	case S_ES256_SHORT:
		sign_pkey(ec, 1, input, sig, &siglen);
		siglen--;
		break;
	case S_ES256_LONG:
		sign_pkey(ec, 1, input, sig + 1, &siglen);
		sig[0] = 0;
		siglen++;
		break;
	case S_HS_PEM: case S_HS_DER: case S_HS_N:
		hmac_secret(s, key, sizeof(key), &klen);
		HMAC(EVP_sha256(), key, (int)klen, (unsigned char *)input,
		    strlen(input), sig, &mlen);
		siglen = mlen;
		break;
	case S_NONE:
		break;
	case S_NONE_SIG:
		memset(sig, 0x5a, 32);
		siglen = 32;
		break;
	}
	b64(sig, siglen, s64, sizeof(s64));
	snprintf(out, cap, "%s.%s", input, s64);
}

static void
make_token(enum signer s, const char *header, const char *claims, char *out,
    size_t cap)
{
	make_token_x(s, header, claims, 0, out, cap);
}

/* ---- mutations of a finished token -------------------------------------- */

enum mut {
	M_NONE,
	M_FLIP_SIG,      /* a middle character of the signature changed */
	M_FLIP_PAYLOAD,  /* a middle character of the payload changed */
	M_PAD_HEADER,    /* "=" padding after the header part */
	M_PAD_SIG,       /* "==" padding after the signature */
	M_PLUS,          /* a signature character replaced by '+' */
	M_SLASH,         /* ... by '/' */
	M_BADCHAR,       /* a payload character replaced by '*' */
	M_SPACE,         /* a space at the end */
	M_NONCANON_SIG,  /* last signature character with a stray low bit */
	M_NONCANON_PAY,  /* last payload character with a stray low bit, signed */
	M_NONCANON_HDR,  /* last header character with a stray low bit */
	M_NO_DOTS,       /* dots removed */
	M_ONE_DOT,       /* signature part and its dot removed */
	M_EXTRA_DOT,     /* ".AAAA" appended */
	M_EMPTY_PAYLOAD, /* header..signature */
	M_EMPTY_SIG,     /* header.payload. */
	M_LEN_SHORT,     /* the length passed stops one byte early */
};

static void
part(const char *t, int which, size_t *start, size_t *end)
{
	const char *d1 = strchr(t, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;

	if (d1 == NULL || d2 == NULL) {
		*start = *end = 0;
		return;
	}
	*start = which == 0 ? 0 : which == 1 ? (size_t)(d1 - t) + 1 : (size_t)(d2 - t) + 1;
	*end = which == 0 ? (size_t)(d1 - t) : which == 1 ? (size_t)(d2 - t) : strlen(t);
}

static void
insert(char *t, size_t at, const char *s)
{
	size_t n = strlen(s);

	memmove(t + at + n, t + at, strlen(t + at) + 1);
	memcpy(t + at, s, n);
}

static const char b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void
stray_bit(char *t, int which)
{
	size_t a, b;
	const char *c;

	part(t, which, &a, &b);
	if (b > a && (b - a) % 4 != 0 && (c = strchr(b64chars, t[b - 1])) != NULL)
		t[b - 1] = b64chars[(c - b64chars) | 1];
}

static size_t
mutate(char *t, enum mut m)
{
	size_t a, b, len;

	switch (m) {
	case M_NONE:
		break;
	case M_FLIP_SIG: case M_PLUS: case M_SLASH:
		part(t, 2, &a, &b);
		a += (b - a) / 2;
		t[a] = m == M_PLUS ? '+' : m == M_SLASH ? '/' : t[a] == 'A' ? 'B' : 'A';
		break;
	case M_FLIP_PAYLOAD: case M_BADCHAR:
		part(t, 1, &a, &b);
		a += (b - a) / 2;
		t[a] = m == M_BADCHAR ? '*' : t[a] == 'A' ? 'B' : 'A';
		break;
	case M_PAD_HEADER:
		part(t, 0, &a, &b);
		insert(t, b, "=");
		break;
	case M_PAD_SIG:
		insert(t, strlen(t), "==");
		break;
	case M_SPACE:
		insert(t, strlen(t), " ");
		break;
	case M_NONCANON_SIG:
		stray_bit(t, 2);
		break;
	case M_NONCANON_PAY:   /* done by make_token_x before signing */
		break;
	case M_NONCANON_HDR:
		stray_bit(t, 0);
		break;
	case M_NO_DOTS:
		while ((a = strcspn(t, ".")) < strlen(t))
			memmove(t + a, t + a + 1, strlen(t + a));
		break;
	case M_ONE_DOT:
		part(t, 2, &a, &b);
		t[a - 1] = '\0';
		break;
	case M_EMPTY_SIG:
		part(t, 2, &a, &b);
		t[a] = '\0';
		break;
	case M_EXTRA_DOT:
		insert(t, strlen(t), ".AAAA");
		break;
	case M_EMPTY_PAYLOAD:
		part(t, 1, &a, &b);
		memmove(t + a, t + b, strlen(t + b) + 1);
		break;
	case M_LEN_SHORT:
		len = strlen(t);
		return len - 1;
	}
	return strlen(t);
}

/* ---- the token table ---------------------------------------------------- */

/* NOW = 1700000000; skew 60; max lifetime 86400. */
#define ISS   "\"iss\":\"https://idp.example.com/realms/corp\""
#define AUD   "\"aud\":\"pii-proxy\""
#define EXP   "\"exp\":1700000600"
#define IAT   "\"iat\":1699999700"
#define USER  "\"email\":\"kim@corp.example\""
#define ROLES "\"roles\":[\"cs_agent\",\"support.lead\"]"
#define BASE  ISS "," AUD "," USER
#define GOOD  "{" BASE "," EXP "," IAT "," ROLES "}"
#define WITH(x) "{" BASE "," EXP "," IAT "," ROLES "," x "}"
#define NOROLES(x) "{" BASE "," EXP "," IAT "," x "}"
#define TIMES(x) "{" BASE "," ROLES "," x "}"
#define ROLES_ARE(x) NOROLES("\"roles\":" x)

struct row {
	const char *name;
	enum signer s;
	const char *header;    /* NULL: the signer's usual header */
	const char *claims;
	enum mut m;
	const char *want;      /* ei->message; NULL: accepted */
};

static const struct row rows[] = {
	/* what must pass */
	{ "valid RS256", S_RS256, NULL, GOOD, M_NONE, NULL },
	{ "valid ES256", S_ES256, NULL, GOOD, M_NONE, NULL },
	{ "typ at+JWT", S_RS256, "{\"alg\":\"RS256\",\"typ\":\"at+JWT\",\"kid\":\"rsa1\"}", GOOD, M_NONE, NULL },
	{ "typ application/at+jwt", S_RS256, "{\"alg\":\"RS256\",\"typ\":\"application/at+jwt\",\"kid\":\"rsa1\"}", GOOD, M_NONE, NULL },
	{ "no typ", S_ES256, "{\"alg\":\"ES256\",\"kid\":\"ec1\"}", GOOD, M_NONE, NULL },
	{ "header depth 8", S_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x\":[[[[[[[1]]]]]]]}", GOOD, M_NONE, NULL },

	/* time */
	{ "expired", S_RS256, NULL, TIMES("\"exp\":1699999939,\"iat\":1699999000"), M_NONE, "token expired" },
	{ "expired 60 s ago, within skew", S_RS256, NULL, TIMES("\"exp\":1699999940,\"iat\":1699999000"), M_NONE, NULL },
	{ "expired 30 s ago, within skew", S_ES256, NULL, TIMES("\"exp\":1699999970"), M_NONE, NULL },
	{ "not yet valid", S_RS256, NULL, WITH("\"nbf\":1700000061"), M_NONE, "token not yet valid" },
	{ "nbf within skew", S_RS256, NULL, WITH("\"nbf\":1700000060"), M_NONE, NULL },
	{ "iat in the future", S_RS256, NULL, TIMES("\"exp\":1700000600,\"iat\":1700000061"), M_NONE, "token issued in the future" },
	{ "iat within skew", S_RS256, NULL, TIMES("\"exp\":1700000600,\"iat\":1700000060"), M_NONE, NULL },
	{ "no exp", S_RS256, NULL, TIMES("\"iat\":1699999700"), M_NONE, "missing expiry" },
	{ "exp a string", S_RS256, NULL, TIMES("\"exp\":\"1700000600\""), M_NONE, "malformed token" },
	{ "exp negative", S_RS256, NULL, TIMES("\"exp\":-1"), M_NONE, "malformed token" },
	{ "exp after year 9999", S_RS256, NULL, TIMES("\"exp\":1e300"), M_NONE, "malformed token" },
	{ "exp with a fraction", S_RS256, NULL, TIMES("\"exp\":1700000600.5"), M_NONE, NULL },
	{ "nbf a string", S_RS256, NULL, WITH("\"nbf\":\"0\""), M_NONE, "malformed token" },
	{ "lifetime over max", S_RS256, NULL, TIMES("\"iat\":1699999700,\"exp\":1700086101"), M_NONE, "token lifetime too long" },
	{ "lifetime at max", S_RS256, NULL, TIMES("\"iat\":1699999700,\"exp\":1700086100"), M_NONE, NULL },
	{ "no iat, exp too far", S_RS256, NULL, TIMES("\"exp\":1700086401"), M_NONE, "token lifetime too long" },

	/* issuer and audience */
	{ "wrong audience", S_RS256, NULL, "{" ISS "," USER "," EXP ",\"aud\":\"pii-vault\"}", M_NONE, "wrong audience" },
	{ "audience with a space", S_RS256, NULL, "{" ISS "," USER "," EXP ",\"aud\":\"pii-proxy \"}", M_NONE, "wrong audience" },
	{ "aud array with ours", S_RS256, NULL, "{" ISS "," USER "," EXP ",\"aud\":[\"account\",\"pii-proxy\"]}", M_NONE, NULL },
	{ "aud array without ours", S_RS256, NULL, "{" ISS "," USER "," EXP ",\"aud\":[\"account\"]}", M_NONE, "wrong audience" },
	{ "aud empty array", S_RS256, NULL, "{" ISS "," USER "," EXP ",\"aud\":[]}", M_NONE, "wrong audience" },
	{ "no aud", S_RS256, NULL, "{" ISS "," USER "," EXP "}", M_NONE, "wrong audience" },
	{ "aud array with a number", S_RS256, NULL, "{" ISS "," USER "," EXP ",\"aud\":[\"pii-proxy\",1]}", M_NONE, "malformed token" },
	{ "wrong issuer", S_RS256, NULL, "{" AUD "," USER "," EXP ",\"iss\":\"https://evil.example.com/realms/corp\"}", M_NONE, "wrong issuer" },
	{ "issuer with a slash", S_RS256, NULL, "{" AUD "," USER "," EXP ",\"iss\":\"https://idp.example.com/realms/corp/\"}", M_NONE, "wrong issuer" },
	{ "no issuer", S_RS256, NULL, "{" AUD "," USER "," EXP "}", M_NONE, "wrong issuer" },
	{ "issuer not a string", S_RS256, NULL, "{" AUD "," USER "," EXP ",\"iss\":[\"https://idp.example.com/realms/corp\"]}", M_NONE, "wrong issuer" },

	/* user and roles */
	{ "no user claim", S_RS256, NULL, "{" ISS "," AUD "," EXP "," ROLES ",\"sub\":\"42\"}", M_NONE, "missing user claim" },
	{ "empty user claim", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\"\"}", M_NONE, "missing user claim" },
	{ "user claim a number", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":7}", M_NONE, "missing user claim" },
	{ "user claim with a BEL", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\"kim\\u0007@corp\"}", M_NONE, "bad user claim" },
	{ "user claim with a C1 control", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\"kim\\u0085@corp\"}", M_NONE, "bad user claim" },
	{ "user claim with a right-to-left override", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\"kim\u202e@corp\"}", M_NONE, "bad user claim" },
	{ "user claim with a line separator", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\"kim\u2028x\"}", M_NONE, "bad user claim" },
	{ "user claim in Hangul", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\"\xea\xb9\x80\xeb\xaf\xbc\xec\x88\x98\"}", M_NONE, NULL },
	{ "user claim of 127 bytes", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\""
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", M_NONE, NULL },
	{ "user claim of 128 bytes", S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"email\":\""
	  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", M_NONE, "bad user claim" },
	{ "no roles claim", S_RS256, NULL, NOROLES("\"groups\":[\"admin\"]"), M_NONE, NULL },
	{ "roles a single string", S_RS256, NULL, ROLES_ARE("\"cs_agent\""), M_NONE, NULL },
	{ "roles a number", S_RS256, NULL, ROLES_ARE("7"), M_NONE, "bad roles claim" },
	{ "roles null", S_RS256, NULL, ROLES_ARE("null"), M_NONE, "bad roles claim" },
	{ "roles an object", S_RS256, NULL, ROLES_ARE("{\"a\":\"b\"}"), M_NONE, "bad roles claim" },
	{ "role with a space", S_RS256, NULL, ROLES_ARE("[\"cs_agent\",\"cs agent\"]"), M_NONE, "bad roles claim" },
	{ "role with a slash", S_RS256, NULL, ROLES_ARE("[\"/admins\"]"), M_NONE, "bad roles claim" },
	{ "empty role", S_RS256, NULL, ROLES_ARE("[\"\"]"), M_NONE, "bad roles claim" },
	{ "role a number", S_RS256, NULL, ROLES_ARE("[\"cs_agent\",1]"), M_NONE, "bad roles claim" },
	{ "single role string with a space", S_RS256, NULL, ROLES_ARE("\"cs agent\""), M_NONE, "bad roles claim" },
	{ "role of 63 bytes", S_RS256, NULL, ROLES_ARE("[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]"), M_NONE, NULL },
	{ "role of 64 bytes", S_RS256, NULL, ROLES_ARE("[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]"), M_NONE, "bad roles claim" },
	{ "16 roles", S_RS256, NULL, ROLES_ARE("[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\"]"), M_NONE, NULL },
	{ "17 roles", S_RS256, NULL, ROLES_ARE("[\"a\",\"b\",\"c\",\"d\",\"e\",\"f\",\"g\",\"h\",\"i\",\"j\",\"k\",\"l\",\"m\",\"n\",\"o\",\"p\",\"q\"]"), M_NONE, "too many roles" },

	/* payload JSON */
	{ "duplicate claim key", S_RS256, NULL, "{" BASE "," EXP ",\"email\":\"admin@corp.example\"}", M_NONE, "malformed token" },
	{ "duplicate exp", S_RS256, NULL, "{" BASE "," EXP ",\"exp\":9999999999}", M_NONE, "malformed token" },
	{ "payload an array", S_RS256, NULL, "[1]", M_NONE, "malformed token" },
	{ "payload not JSON", S_RS256, NULL, "{" BASE, M_NONE, "malformed token" },
	{ "payload depth 9", S_RS256, NULL, WITH("\"x\":[[[[[[[[1]]]]]]]]"), M_NONE, "malformed token" },

	/* header and algorithm */
	{ "alg none, empty signature", S_NONE, NULL, GOOD, M_NONE, "algorithm not allowed" },
	{ "alg none with a signature", S_NONE_SIG, NULL, GOOD, M_NONE, "algorithm not allowed" },
	{ "alg None", S_NONE, "{\"alg\":\"None\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "algorithm not allowed" },
	{ "HS256 keyed with the RSA PEM", S_HS_PEM, NULL, GOOD, M_NONE, "algorithm not allowed" },
	{ "HS256 keyed with the RSA DER", S_HS_DER, NULL, GOOD, M_NONE, "algorithm not allowed" },
	{ "HS256 keyed with the JWK n", S_HS_N, NULL, GOOD, M_NONE, "algorithm not allowed" },
	{ "RS384", S_RS256, "{\"alg\":\"RS384\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "algorithm not allowed" },
	{ "PS256", S_RS256, "{\"alg\":\"PS256\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "algorithm not allowed" },
	{ "rs256 in lower case", S_RS256, "{\"alg\":\"rs256\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "algorithm not allowed" },
	{ "no alg", S_RS256, "{\"typ\":\"JWT\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "malformed token" },
	{ "RS256 header, kid of the EC key", S_RS256, "{\"alg\":\"RS256\",\"kid\":\"ec1\"}", GOOD, M_NONE, "key does not match algorithm" },
	{ "ES256 header, kid of the RSA key", S_ES256, "{\"alg\":\"ES256\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "key does not match algorithm" },
	{ "unknown kid", S_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa9\"}", GOOD, M_NONE, "unknown key id" },
	{ "kid with a trailing NUL escape", S_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa1\\u0000\"}", GOOD, M_NONE, "malformed token" },
	{ "no kid", S_RS256, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", GOOD, M_NONE, "missing key id" },
	{ "kid a number", S_RS256, "{\"alg\":\"RS256\",\"kid\":1}", GOOD, M_NONE, "malformed token" },
	{ "crit header", S_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"crit\":[\"exp\"]}", GOOD, M_NONE, "critical header not supported" },
	{ "typ JWS", S_RS256, "{\"alg\":\"RS256\",\"typ\":\"JWS\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "token type not allowed" },
	{ "typ a number", S_RS256, "{\"alg\":\"RS256\",\"typ\":1,\"kid\":\"rsa1\"}", GOOD, M_NONE, "token type not allowed" },
	{ "duplicate alg in header", S_RS256, "{\"alg\":\"RS256\",\"alg\":\"none\",\"kid\":\"rsa1\"}", GOOD, M_NONE, "malformed token" },
	{ "header an array", S_RS256, "[\"RS256\"]", GOOD, M_NONE, "malformed token" },
	{ "header depth 9", S_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"x\":[[[[[[[[1]]]]]]]]}", GOOD, M_NONE, "malformed token" },
	{ "embedded jwk is not trusted", S_RS_OTHER, "{\"alg\":\"RS256\",\"kid\":\"rsa1\",\"jwk\":{\"kty\":\"RSA\",\"n\":\"${OTHER_N}\",\"e\":\"AQAB\"}}", GOOD, M_NONE, "bad signature" },

	/* signature */
	{ "signed by another RSA key", S_RS_OTHER, NULL, GOOD, M_NONE, "bad signature" },
	{ "RS256 signature byte flipped", S_RS256, NULL, GOOD, M_FLIP_SIG, "bad signature" },
	{ "RS256 payload byte flipped", S_RS256, NULL, GOOD, M_FLIP_PAYLOAD, "bad signature" },
	{ "ES256 signature byte flipped", S_ES256, NULL, GOOD, M_FLIP_SIG, "bad signature" },
	{ "ES256 payload byte flipped", S_ES256, NULL, GOOD, M_FLIP_PAYLOAD, "bad signature" },
	{ "ES256 signature DER-encoded", S_ES256_DER, NULL, GOOD, M_NONE, "bad signature" },
	{ "ES256 signature of 63 bytes", S_ES256_SHORT, NULL, GOOD, M_NONE, "bad signature" },
	{ "ES256 signature of 65 bytes", S_ES256_LONG, NULL, GOOD, M_NONE, "bad signature" },
	{ "empty signature", S_RS256, NULL, GOOD, M_EMPTY_SIG, "bad signature" },
	{ "empty ES256 signature", S_ES256, NULL, GOOD, M_EMPTY_SIG, "bad signature" },

	/* base64url and shape */
	{ "padding after the header", S_RS256, NULL, GOOD, M_PAD_HEADER, "malformed token" },
	{ "padding after the signature", S_RS256, NULL, GOOD, M_PAD_SIG, "malformed token" },
	{ "'+' in the signature", S_RS256, NULL, GOOD, M_PLUS, "malformed token" },
	{ "'/' in the signature", S_ES256, NULL, GOOD, M_SLASH, "malformed token" },
	{ "'*' in the payload", S_RS256, NULL, GOOD, M_BADCHAR, "malformed token" },
	{ "trailing space", S_RS256, NULL, GOOD, M_SPACE, "malformed token" },
	{ "non-canonical last char of RS256 signature", S_RS256, NULL, GOOD, M_NONCANON_SIG, "malformed token" },
	{ "non-canonical last char of ES256 signature", S_ES256, NULL, GOOD, M_NONCANON_SIG, "malformed token" },
	{ "non-canonical last char of payload, signed", S_ES256, NULL, GOOD, M_NONCANON_PAY, "malformed token" },
	{ "non-canonical last char of header", S_RS256, "{\"alg\":\"RS256\",\"kid\":\"rsa1\"} ", GOOD, M_NONCANON_HDR, "malformed token" },
	{ "no dots", S_RS256, NULL, GOOD, M_NO_DOTS, "malformed token" },
	{ "one dot", S_RS256, NULL, GOOD, M_ONE_DOT, "malformed token" },
	{ "three dots", S_RS256, NULL, GOOD, M_EXTRA_DOT, "malformed token" },
	{ "empty payload", S_RS256, NULL, GOOD, M_EMPTY_PAYLOAD, "malformed token" },
	{ "length one short", S_RS256, NULL, GOOD, M_LEN_SHORT, "malformed token" },
};

static void
check_row(const struct row *w)
{
	static char tok[4 * BIG];
	struct pj_identity id, before;
	struct pii_errinfo ei;
	size_t len;
	int r;

	make_token_x(w->s, w->header, w->claims, w->m == M_NONCANON_PAY, tok,
	    sizeof(tok));
	len = mutate(tok, w->m);
	memset(&id, 0xa5, sizeof(id));
	before = id;
	pii_errinfo_clear(&ei);
	r = pj_verify(jwks, &cfg, tok, len, NOW, &id, &ei);
	if (w->want == NULL) {
		CHECK(r == 0, "token %s: accepted", w->name);
		if (r != 0)
			fprintf(stderr, "#   refused: %s\n", ei.message);
		return;
	}
	CHECK(r == PII_ERR_UNAUTHENTICATED && ei.code == r,
	    "token %s: refused as unauthenticated", w->name);
	CHECK_STR(ei.message, w->want, "token %s: \"%s\"", w->name, w->want);
	CHECK(memcmp(&id, &before, sizeof(id)) == 0,
	    "token %s: identity untouched", w->name);
}

/* ---- the JWKS table ----------------------------------------------------- */

#define RSA_JWK "{\"kty\":\"RSA\",\"kid\":\"rsa1\",\"n\":\"${RSA_N}\",\"e\":\"${RSA_E}\""
#define EC_JWK  "{\"kty\":\"EC\",\"kid\":\"ec1\",\"crv\":\"P-256\",\"x\":\"${EC_X}\",\"y\":\"${EC_Y}\""
#define KEYS(x) "{\"keys\":[" x "]}"

struct jrow {
	const char *name;
	const char *tpl;
	const char *field;     /* ei->field of the refusal; NULL: accepted */
};

static const struct jrow jrows[] = {
	{ "RSA and EC", KEYS(RSA_JWK ",\"alg\":\"RS256\",\"use\":\"sig\"}," EC_JWK ",\"alg\":\"ES256\"}"), NULL },
	{ "public extras ignored", KEYS(RSA_JWK ",\"x5t\":\"abc\",\"key_ops\":[\"verify\"]}"), NULL },
	{ "n with a leading zero byte", KEYS("{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"${RSA_N_PAD}\",\"e\":\"${RSA_E}\"}"), NULL },
	{ "other top-level members ignored", "{\"keys\":[" EC_JWK "}],\"note\":1}", NULL },
	{ "duplicate kid", KEYS(RSA_JWK "},{\"kty\":\"EC\",\"kid\":\"rsa1\",\"crv\":\"P-256\",\"x\":\"${EC_X}\",\"y\":\"${EC_Y}\"}"), "keys[1].kid" },
	{ "RSA 1024-bit", KEYS("{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"${RSA1024_N}\",\"e\":\"AQAB\"}"), "keys[0].n" },
	{ "private d present", KEYS(EC_JWK ",\"d\":\"AQAB\"}"), "keys[0].d" },
	{ "private p present", KEYS(RSA_JWK ",\"p\":\"AQAB\"}"), "keys[0].p" },
	{ "oct key", KEYS("{\"kty\":\"oct\",\"kid\":\"h\",\"k\":\"c2VjcmV0\"}"), "keys[0].k" },
	{ "EC point off the curve", KEYS("{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\",\"x\":\"${EC_X}\",\"y\":\"${EC_Y_OFF}\"}"), "keys[0]" },
	{ "EC x of 31 bytes", KEYS("{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-256\",\"x\":\"${EC_X31}\",\"y\":\"${EC_Y}\"}"), "keys[0].x" },
	{ "bad crv", KEYS("{\"kty\":\"EC\",\"kid\":\"e\",\"crv\":\"P-384\",\"x\":\"${EC_X}\",\"y\":\"${EC_Y}\"}"), "keys[0].crv" },
	{ "use enc", KEYS(EC_JWK "}," RSA_JWK ",\"use\":\"enc\"}"), "keys[1].use" },
	{ "unknown kty", KEYS("{\"kty\":\"OKP\",\"kid\":\"o\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}"), "keys[0].kty" },
	{ "no kty", KEYS("{\"kid\":\"o\",\"n\":\"${RSA_N}\",\"e\":\"AQAB\"}"), "keys[0].kty" },
	{ "RSA key with alg RS384", KEYS(RSA_JWK ",\"alg\":\"RS384\"}"), "keys[0].alg" },
	{ "EC key with alg RS256", KEYS(EC_JWK ",\"alg\":\"RS256\"}"), "keys[0].alg" },
	{ "n with padding", KEYS("{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"${RSA_N}=\",\"e\":\"AQAB\"}"), "keys[0].n" },
	{ "n in standard base64", KEYS("{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"+${RSA_N}\",\"e\":\"AQAB\"}"), "keys[0].n" },
	{ "e even (65538)", KEYS("{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"${RSA_N}\",\"e\":\"AQAC\"}"), "keys[0]" },
	{ "e missing", KEYS("{\"kty\":\"RSA\",\"kid\":\"r\",\"n\":\"${RSA_N}\"}"), "keys[0].e" },
	{ "no kid", KEYS("{\"kty\":\"RSA\",\"n\":\"${RSA_N}\",\"e\":\"AQAB\"}"), "keys[0].kid" },
	{ "kid of 64 bytes", KEYS("{\"kty\":\"RSA\",\"kid\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"n\":\"${RSA_N}\",\"e\":\"AQAB\"}"), "keys[0].kid" },
	{ "kid with a newline", KEYS("{\"kty\":\"RSA\",\"kid\":\"a\\nb\",\"n\":\"${RSA_N}\",\"e\":\"AQAB\"}"), "keys[0].kid" },
	{ "key_ops without verify", KEYS(RSA_JWK ",\"key_ops\":[\"encrypt\"]}"), "keys[0].key_ops" },
	{ "a key not an object", KEYS(RSA_JWK "},7"), "keys[1]" },
	{ "no keys", "{\"keys\":[]}", "keys" },
	{ "keys not an array", "{\"keys\":{}}", "keys" },
	{ "not an object", "[]", "" },
	{ "not JSON", "{\"keys\":[", "" },
	{ "duplicate member", KEYS(RSA_JWK ",\"kid\":\"rsa2\"}"), "" },
};

static void
check_jrow(const struct jrow *w)
{
	static char buf[BIG];
	struct pj_jwks *k = NULL;
	struct pii_errinfo ei;
	int r;

	expand(w->tpl, buf, sizeof(buf));
	pii_errinfo_clear(&ei);
	r = pj_jwks_parse(buf, strlen(buf), &k, &ei);
	if (w->field == NULL) {
		CHECK(r == 0 && k != NULL, "jwks %s: loaded", w->name);
		if (r != 0)
			fprintf(stderr, "#   %s: %s\n", ei.field, ei.message);
	} else {
		CHECK(r == PII_ERR_CONFIG && k == NULL, "jwks %s: refused", w->name);
		CHECK_STR(ei.field, w->field, "jwks %s: names %s", w->name,
		    w->field[0] ? w->field : "no field");
		CHECK(ei.message[0] != '\0', "jwks %s: says why", w->name);
	}
	pj_jwks_free(k);
}

/* ---- the other checks --------------------------------------------------- */

static int
verify_str(const struct pj_config *c, const char *tok, struct pj_identity *id,
    struct pii_errinfo *ei)
{
	pii_errinfo_clear(ei);
	return pj_verify(jwks, c, tok, strlen(tok), NOW, id, ei);
}

static void
check_identity(void)
{
	static char tok[4 * BIG];
	struct pj_identity id;
	struct pii_errinfo ei;
	struct pj_config c = cfg;
	int r;

	make_token(S_RS256, NULL, GOOD, tok, sizeof(tok));
	r = verify_str(&cfg, tok, &id, &ei);
	CHECK(r == 0, "identity: accepted");
	CHECK_STR(id.user, "kim@corp.example", "identity: user from email");
	CHECK(id.nroles == 2, "identity: two roles");
	CHECK_STR(id.roles[0], "cs_agent", "identity: role 0");
	CHECK_STR(id.roles[1], "support.lead", "identity: role 1");
	CHECK(id.exp == 1700000600, "identity: exp");
	CHECK_STR(id.kid, "rsa1", "identity: kid");

	make_token(S_ES256, NULL, NOROLES("\"sub\":\"u-42\""), tok, sizeof(tok));
	c.user_claim = "sub";
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == 0 && strcmp(id.user, "u-42") == 0 && id.nroles == 0 &&
	    strcmp(id.kid, "ec1") == 0, "identity: sub as user, no roles, kid ec1");

	/* Keycloak puts roles under realm_access. */
	make_token(S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"preferred_username\":\"kim\","
	    "\"realm_access\":{\"roles\":[\"auditor\"]},\"roles\":[\"x\"]}", tok, sizeof(tok));
	c.user_claim = "preferred_username";
	c.roles_claim = "realm_access.roles";
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == 0 && id.nroles == 1 && strcmp(id.roles[0], "auditor") == 0 &&
	    strcmp(id.user, "kim") == 0, "identity: dotted roles path");

	make_token(S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"preferred_username\":\"kim\","
	    "\"realm_access\":{\"roles\":\"a b\"}}", tok, sizeof(tok));
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == PII_ERR_UNAUTHENTICATED && strcmp(ei.message, "bad roles claim") == 0,
	    "identity: dotted roles path checked like roles");

	make_token(S_RS256, NULL, "{" ISS "," AUD "," EXP ",\"preferred_username\":\"kim\","
	    "\"realm_access\":[1]}", tok, sizeof(tok));
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == 0 && id.nroles == 0, "identity: path through a non-object is no roles");

	/* Auth0-style namespaced claim: the whole name is a top-level key. */
	make_token(S_RS256, NULL, "{" ISS "," AUD "," EXP "," USER ","
	    "\"https://corp.example/roles\":[\"dpo\"]}", tok, sizeof(tok));
	c = cfg;
	c.roles_claim = "https://corp.example/roles";
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == 0 && id.nroles == 1 && strcmp(id.roles[0], "dpo") == 0,
	    "identity: namespaced roles claim with dots");

	/* Skew 0: one second late is late. */
	make_token(S_RS256, NULL, TIMES("\"exp\":1699999999"), tok, sizeof(tok));
	c = cfg;
	c.skew_seconds = 0;
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == PII_ERR_UNAUTHENTICATED && strcmp(ei.message, "token expired") == 0,
	    "skew 0: a second past exp is expired");
	c.max_lifetime_seconds = 0;
	make_token(S_RS256, NULL, TIMES("\"exp\":253402300799"), tok, sizeof(tok));
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == 0, "max lifetime 0: no bound");

	c = cfg;
	c.skew_seconds = -1;
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == PII_ERR_CONFIG, "config: negative skew refused");
	c = cfg;
	c.issuer = NULL;
	r = verify_str(&c, tok, &id, &ei);
	CHECK(r == PII_ERR_CONFIG, "config: no issuer refused");
	r = pj_verify(jwks, &cfg, tok, strlen(tok), -5, &id, &ei);
	CHECK(r == PII_ERR_CONFIG, "config: negative now refused");
}

static void
check_sizes(void)
{
	static char claims[BIG], tok[4 * BIG];
	struct pj_identity id;
	struct pii_errinfo ei;
	size_t n, pad;
	int r;

	/* Grow a padding claim until the token is exactly 8192 bytes. */
	for (pad = 5000; pad < 7000; pad++) {
		n = (size_t)snprintf(claims, sizeof(claims), "{" BASE "," EXP ",\"pad\":\"");
		memset(claims + n, 'x', pad);
		snprintf(claims + n + pad, sizeof(claims) - n - pad, "\"}");
		make_token(S_RS256, NULL, claims, tok, sizeof(tok));
		if (strlen(tok) >= PJ_MAX_TOKEN)
			break;
	}
	CHECK(strlen(tok) == PJ_MAX_TOKEN || strlen(tok) == PJ_MAX_TOKEN + 1,
	    "size: a token of 8 KiB was built (%zu)", strlen(tok));
	r = verify_str(&cfg, tok, &id, &ei);
	if (strlen(tok) == PJ_MAX_TOKEN)
		CHECK(r == 0, "size: a token of exactly 8192 bytes is accepted");
	/* One byte more. */
	claims[n] = 'y';
	snprintf(claims + n + pad, sizeof(claims) - n - pad, "x\"}");
	make_token(S_RS256, NULL, claims, tok, sizeof(tok));
	r = verify_str(&cfg, tok, &id, &ei);
	CHECK(strlen(tok) > PJ_MAX_TOKEN && r == PII_ERR_UNAUTHENTICATED &&
	    strcmp(ei.message, "token too large") == 0, "size: over 8 KiB: too large");
	r = pj_verify(jwks, &cfg, "", 0, NOW, &id, &ei);
	CHECK(r == PII_ERR_UNAUTHENTICATED && strcmp(ei.message, "malformed token") == 0,
	    "size: empty token is malformed");
}

struct b64row {
	const char *in;
	const char *hex;       /* NULL: refused */
};

static const struct b64row b64rows[] = {
	{ "", "" }, { "Zg", "66" }, { "Zm8", "666f" }, { "Zm9v", "666f6f" },
	{ "-w", "fb" }, { "__8", "ffff" }, { "AAEC", "000102" },
	{ "Zh", NULL }, { "Zm9", NULL }, { "-_", NULL },  /* stray low bits */
	{ "Zg==", NULL }, { "Zg=", NULL }, { "+w", NULL }, { "/w", NULL },
	{ "Z", NULL }, { "Zm9vY", NULL }, { "Zm 9v", NULL }, { "Zm9v\n", NULL },
	{ "Zm\x80v", NULL },
};

static void
check_b64(void)
{
	unsigned char out[16];
	char hex[40];
	size_t i, n;
	int r;

	for (i = 0; i < sizeof(b64rows) / sizeof(b64rows[0]); i++) {
		const struct b64row *w = &b64rows[i];

		char shown[16];
		size_t k;

		for (k = 0; w->in[k] != '\0' && k + 1 < sizeof(shown); k++)
			shown[k] = w->in[k] >= 0x20 && w->in[k] < 0x7f ? w->in[k] : '?';
		shown[k] = '\0';
		n = 0;
		r = pj_b64url_decode(w->in, strlen(w->in), out, sizeof(out), &n);
		if (w->hex == NULL) {
			CHECK(r == -1, "base64url \"%s\" refused", shown);
		} else {
			sodium_bin2hex(hex, sizeof(hex), out, r == 0 ? n : 0);
			CHECK(r == 0 && strcmp(hex, w->hex) == 0,
			    "base64url \"%s\" is %s", w->in, w->hex);
		}
	}
	r = pj_b64url_decode("Zm9v", 4, out, 2, &n);
	CHECK(r == -1, "base64url: output larger than cap refused");
}

struct looksrow {
	const char *s;
	int want;
};

static const struct looksrow looks[] = {
	{ "eyJh.eyJi.c2ln", 1 }, { "eyJh.eyJi.", 1 }, { "a-_.b.c", 1 },
	{ "eyJh.eyJi", 0 }, { "eyJh..c2ln", 0 }, { ".eyJi.c2ln", 0 },
	{ "eyJh.eyJi.c2ln.x", 0 }, { "eyJh.eyJi.c2l=", 0 }, { "", 0 },
	{ "piiv_key_abc.def.ghi", 0 }, { "piiv_key_0123456789abcdef", 0 },
	{ "eyJh.ey Ji.c2ln", 0 },
};

static void
check_looks(void)
{
	size_t i;

	for (i = 0; i < sizeof(looks) / sizeof(looks[0]); i++)
		CHECK(pj_looks_like_jwt(looks[i].s, strlen(looks[i].s)) == looks[i].want,
		    "looks like a JWT: \"%s\" -> %d", looks[i].s, looks[i].want);
	CHECK(pj_looks_like_jwt(NULL, 0) == 0, "looks like a JWT: NULL -> 0");
}

static void
check_jwks_extra(void)
{
	static char buf[200000];
	char one[1500], path[128];
	struct pj_jwks *k = NULL;
	struct pii_errinfo ei;
	size_t i, o;
	int r;

	/* 64 keys load, 65 are refused. */
	for (int nkeys = 64; nkeys <= 65; nkeys++) {
		o = (size_t)snprintf(buf, sizeof(buf), "{\"keys\":[");
		for (i = 0; i < (size_t)nkeys; i++) {
			char tpl[300];

			snprintf(tpl, sizeof(tpl), "%s{\"kty\":\"EC\",\"kid\":\"k%zu\","
			    "\"crv\":\"P-256\",\"x\":\"${EC_X}\",\"y\":\"${EC_Y}\"}",
			    i ? "," : "", i);
			expand(tpl, one, sizeof(one));
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s", one);
		}
		snprintf(buf + o, sizeof(buf) - o, "]}");
		pii_errinfo_clear(&ei);
		r = pj_jwks_parse(buf, strlen(buf), &k, &ei);
		if (nkeys == 64)
			CHECK(r == 0 && pj_jwks_count(k) == 64, "jwks: 64 keys load");
		else
			CHECK(r == PII_ERR_CONFIG && strcmp(ei.field, "keys") == 0,
			    "jwks: 65 keys refused");
		pj_jwks_free(k);
		k = NULL;
	}
	pj_jwks_free(NULL);
	CHECK(pj_jwks_count(NULL) == 0, "jwks: count of NULL is 0");

	/* From a file. */
	expand(KEYS(RSA_JWK "}," EC_JWK "}"), buf, sizeof(buf));
	snprintf(path, sizeof(path), "%s/jwks.json", dir);
	spit(path, buf, strlen(buf), 0644);
	r = pj_jwks_load(path, &k, &ei);
	CHECK(r == 0 && pj_jwks_count(k) == 2, "jwks file: loaded");
	pj_jwks_free(k);
	k = NULL;
	snprintf(path, sizeof(path), "%s/none.json", dir);
	r = pj_jwks_load(path, &k, &ei);
	CHECK(r == PII_ERR_CONFIG && k == NULL && strstr(ei.message, "cannot read") != NULL,
	    "jwks file: missing file refused");
	snprintf(path, sizeof(path), "%s/bad.json", dir);
	expand(KEYS(EC_JWK ",\"use\":\"enc\"}"), buf, sizeof(buf));
	spit(path, buf, strlen(buf), 0644);
	r = pj_jwks_load(path, &k, &ei);
	CHECK(r == PII_ERR_CONFIG && strcmp(ei.field, "keys[0].use") == 0 &&
	    strstr(ei.message, "bad.json") != NULL, "jwks file: refusal names file and path");
	{
		size_t big = PJ_MAX_JWKS_BYTES + 1;
		char *huge = malloc(big);

		memset(huge, ' ', big);
		snprintf(path, sizeof(path), "%s/huge.json", dir);
		spit(path, huge, big, 0644);
		r = pj_jwks_load(path, &k, &ei);
		CHECK(r == PII_ERR_CONFIG && strstr(ei.message, "larger") != NULL,
		    "jwks file: over 1 MiB refused");
		r = pj_jwks_parse(huge, big, &k, &ei);
		CHECK(r == PII_ERR_CONFIG, "jwks: over 1 MiB refused by parse");
		free(huge);
	}
}

/* Many threads verify with one shared JWKS. */
struct thr {
	const char *tok;
	int ok;
};

static void *
thr_main(void *arg)
{
	struct thr *t = arg;
	struct pj_identity id;
	struct pii_errinfo ei;
	int i;

	for (i = 0; i < 100; i++)
		if (pj_verify(jwks, &cfg, t->tok, strlen(t->tok), NOW, &id, &ei) == 0)
			t->ok++;
	return NULL;
}

static void
check_threads(void)
{
	static char tok[2][4 * BIG];
	struct thr t[4];
	pthread_t th[4];
	int i, ok = 1;

	make_token(S_RS256, NULL, GOOD, tok[0], sizeof(tok[0]));
	make_token(S_ES256, NULL, GOOD, tok[1], sizeof(tok[1]));
	for (i = 0; i < 4; i++) {
		t[i].tok = tok[i % 2];
		t[i].ok = 0;
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		ok &= t[i].ok == 100;
	}
	CHECK(ok, "threads: 4 x 100 verifications with one JWKS all pass");
}

int
main(void)
{
	static char buf[BIG];
	struct pii_errinfo ei;
	size_t i;

	pii_json_init();
	if (sodium_init() < 0)
		return 2;
	test_dir_make("/tmp/test_jwt.");
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa_other = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (rsa == NULL || rsa_other == NULL || rsa1024 == NULL || ec == NULL) {
		fprintf(stderr, "test_jwt: key generation failed\n");
		return 2;
	}
	make_vars();
	expand(KEYS(RSA_JWK ",\"alg\":\"RS256\",\"use\":\"sig\"}," EC_JWK ",\"alg\":\"ES256\"}"),
	    buf, sizeof(buf));
	if (pj_jwks_parse(buf, strlen(buf), &jwks, &ei) != 0) {
		fprintf(stderr, "test_jwt: the test JWKS: %s: %s\n", ei.field, ei.message);
		return 2;
	}
	CHECK(pj_jwks_count(jwks) == 2, "the test JWKS has 2 keys");

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		check_row(&rows[i]);
	for (i = 0; i < sizeof(jrows) / sizeof(jrows[0]); i++)
		check_jrow(&jrows[i]);
	check_identity();
	check_sizes();
	check_b64();
	check_looks();
	check_jwks_extra();
	check_threads();

	pj_jwks_free(jwks);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(rsa_other);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(ec);
	remove_dir();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
