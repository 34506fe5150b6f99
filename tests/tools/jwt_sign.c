/*
 * jwt_sign.c - make the JWKS and the tokens the proxy tests need: good
 * ones, and the attacks pii-proxy must refuse.
 *
 *   jwt_sign jwks (--rsa RSA.pem:KID | --ec EC.pem:KID)... > jwks.json
 *   jwt_sign sign [--key PEM] [--kid KID] --alg RS256|ES256|HS256|none
 *       [--hmac-secret-file F] [--bad-sig] [--header-json '{...}'] CLAIMS_JSON
 *
 * `jwks` prints the public JWKS ({"keys":[...]}, each key with "kid", "alg"
 * and "use":"sig") of private PEM keys (RSA, or EC on P-256), e.g. made by
 *   openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048
 *   openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256
 *
 * `sign` prints the compact token header.payload.signature and a newline.
 * The header is {"alg":ALG,"typ":"JWT","kid":KID} ("kid" only with --kid),
 * or exactly the bytes of --header-json; CLAIMS_JSON is encoded as given
 * (so duplicate keys and odd spacing survive).  RS256 and ES256 (raw r||s)
 * need --key; HS256 takes its secret from --hmac-secret-file (say, the RSA
 * public key's PEM: the classic key-confusion attack); none has an empty
 * signature.  --bad-sig flips one bit of the signature.
 *
 * Exit 0 on success, 1 when a key cannot be read or used, 2 on a usage
 * error.  This is a test tool: it signs whatever it is told to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <sodium.h>

#define MAX_SIG 1024
#define MAX_SECRET (64 * 1024)

static const char usage_text[] =
    "usage: jwt_sign jwks (--rsa RSA.pem:KID | --ec EC.pem:KID)...\n"
    "       jwt_sign sign [--key PEM] [--kid KID] --alg RS256|ES256|HS256|none\n"
    "           [--hmac-secret-file F] [--bad-sig] [--header-json JSON] CLAIMS_JSON\n";

static int
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "jwt_sign: %s\n", why);
	fputs(usage_text, stderr);
	return 2;
}

static int
fail(const char *what, const char *arg)
{
	fprintf(stderr, "jwt_sign: %s%s%s\n", what, arg != NULL ? ": " : "",
	    arg != NULL ? arg : "");
	return 1;
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *pk;

	if (f == NULL)
		return NULL;
	pk = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	return pk;
}

/* base64url without padding of p[0..n), as a new string. */
static char *
b64url(const unsigned char *p, size_t n)
{
	size_t cap = sodium_base64_encoded_len(n,
	    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *s = malloc(cap);

	if (s != NULL)
		sodium_bin2base64(s, cap, p, n,
		    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return s;
}

/* A BIGNUM parameter of pk as base64url of exactly width bytes (0: its
 * minimal length). */
static char *
bn_param_b64(EVP_PKEY *pk, const char *name, int width)
{
	BIGNUM *bn = NULL;
	unsigned char buf[MAX_SIG];
	char *s = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(pk, name, &bn) != 1)
		return NULL;
	n = width > 0 ? width : BN_num_bytes(bn);
	if (n <= (int)sizeof(buf) && BN_bn2binpad(bn, buf, n) == n)
		s = b64url(buf, (size_t)n);
	BN_free(bn);
	return s;
}

/* The public JWK of the private key in spec "PATH:KID". */
static json_t *
jwk_of(const char *spec, int want_rsa)
{
	char path[4096], group[64];
	const char *colon = strrchr(spec, ':');
	char *a = NULL, *b = NULL;
	EVP_PKEY *pk = NULL;
	json_t *j = NULL;

	if (colon == NULL || colon == spec || colon[1] == '\0' ||
	    (size_t)(colon - spec) >= sizeof(path)) {
		fail("expected PEM:KID", spec);
		return NULL;
	}
	memcpy(path, spec, (size_t)(colon - spec));
	path[colon - spec] = '\0';
	if ((pk = read_key(path)) == NULL) {
		fail("cannot read a private key from", path);
		goto out;
	}
	if (want_rsa) {
		if (!EVP_PKEY_is_a(pk, "RSA")) {
			fail("not an RSA key", path);
			goto out;
		}
		a = bn_param_b64(pk, OSSL_PKEY_PARAM_RSA_N, 0);
		b = bn_param_b64(pk, OSSL_PKEY_PARAM_RSA_E, 0);
		if (a != NULL && b != NULL)
			j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA",
			    "kid", colon + 1, "alg", "RS256", "use", "sig",
			    "n", a, "e", b);
	} else {
		if (!EVP_PKEY_is_a(pk, "EC") ||
		    EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
		    group, sizeof(group), NULL) != 1 ||
		    strcmp(group, "prime256v1") != 0) {
			fail("not an EC P-256 key", path);
			goto out;
		}
		a = bn_param_b64(pk, OSSL_PKEY_PARAM_EC_PUB_X, 32);
		b = bn_param_b64(pk, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
		if (a != NULL && b != NULL)
			j = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "EC",
			    "kid", colon + 1, "alg", "ES256", "use", "sig",
			    "crv", "P-256", "x", a, "y", b);
	}
	if (j == NULL)
		fail("cannot export the public key", path);
out:
	free(a);
	free(b);
	EVP_PKEY_free(pk);
	return j;
}

static int
cmd_jwks(int argc, char **argv)
{
	json_t *root = json_object(), *keys = json_array(), *k;
	char *s = NULL;
	int i, r = 1;

	if (root == NULL || keys == NULL || json_object_set(root, "keys", keys) != 0)
		goto out;
	for (i = 0; i < argc; i++) {
		int rsa = strcmp(argv[i], "--rsa") == 0;

		if ((!rsa && strcmp(argv[i], "--ec") != 0) || i + 1 >= argc) {
			r = usage("jwks takes --rsa PEM:KID and --ec PEM:KID");
			goto out;
		}
		if ((k = jwk_of(argv[++i], rsa)) == NULL)
			goto out;
		json_array_append_new(keys, k);
	}
	if (json_array_size(keys) == 0) {
		r = usage("jwks needs at least one key");
		goto out;
	}
	if ((s = json_dumps(root, JSON_PRESERVE_ORDER | JSON_INDENT(1))) == NULL)
		goto out;
	if (printf("%s\n", s) < 0 || fflush(stdout) != 0) {
		r = fail("write error", NULL);
		goto out;
	}
	r = 0;
out:
	free(s);
	json_decref(keys);
	json_decref(root);
	return r;
}

/* Sign msg with pk by SHA-256: RSA PKCS#1 v1.5, or ECDSA re-encoded as raw
 * r||s.  0 on success. */
static int
sign_pkey(EVP_PKEY *pk, int ec, const unsigned char *msg, size_t n,
    unsigned char *sig, size_t *siglen)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	unsigned char der[MAX_SIG];
	const unsigned char *p = der;
	size_t dlen = sizeof(der);
	ECDSA_SIG *es = NULL;
	int r = -1;

	if (md == NULL ||
	    EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, pk, NULL) != 1 ||
	    EVP_DigestSign(md, der, &dlen, msg, n) != 1)
		goto out;
	if (!ec) {
		memcpy(sig, der, dlen);
		*siglen = dlen;
	} else {
		const BIGNUM *br, *bs;

		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)dlen)) == NULL)
			goto out;
		ECDSA_SIG_get0(es, &br, &bs);
		if (BN_bn2binpad(br, sig, 32) != 32 ||
		    BN_bn2binpad(bs, sig + 32, 32) != 32)
			goto out;
		*siglen = 64;
	}
	r = 0;
out:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	return r;
}

static int
cmd_sign(int argc, char **argv)
{
	const char *keyfile = NULL, *kid = NULL, *alg = NULL, *secretfile = NULL;
	const char *header = NULL, *claims = NULL;
	unsigned char sig[MAX_SIG], secret[MAX_SECRET];
	size_t siglen = 0, seclen = 0;
	unsigned int maclen = 0;
	char *hdr_made = NULL, *h64 = NULL, *p64 = NULL, *s64 = NULL, *input = NULL;
	EVP_PKEY *pk = NULL;
	json_t *hj = NULL;
	int i, badsig = 0, r = 1;

	for (i = 0; i < argc; i++) {
		const char *o = argv[i];

		if (strcmp(o, "--bad-sig") == 0) {
			badsig = 1;
		} else if (o[0] == '-' && o[1] == '-' && i + 1 < argc) {
			const char *v = argv[++i];

			if (strcmp(o, "--key") == 0)
				keyfile = v;
			else if (strcmp(o, "--kid") == 0)
				kid = v;
			else if (strcmp(o, "--alg") == 0)
				alg = v;
			else if (strcmp(o, "--hmac-secret-file") == 0)
				secretfile = v;
			else if (strcmp(o, "--header-json") == 0)
				header = v;
			else
				return usage("unknown option");
		} else if (claims == NULL && o[0] != '-') {
			claims = o;
		} else {
			return usage("unexpected argument");
		}
	}
	if (alg == NULL || claims == NULL)
		return usage("sign needs --alg and CLAIMS_JSON");
	if (strcmp(alg, "RS256") != 0 && strcmp(alg, "ES256") != 0 &&
	    strcmp(alg, "HS256") != 0 && strcmp(alg, "none") != 0)
		return usage("--alg must be RS256, ES256, HS256 or none");
	if ((alg[0] == 'R' || alg[0] == 'E') && keyfile == NULL)
		return usage("RS256 and ES256 need --key");
	if (alg[0] == 'H' && secretfile == NULL)
		return usage("HS256 needs --hmac-secret-file");
	if (header == NULL) {
		hj = json_pack("{s:s,s:s}", "alg", alg, "typ", "JWT");
		if (hj == NULL || (kid != NULL &&
		    json_object_set_new(hj, "kid", json_string(kid)) != 0) ||
		    (hdr_made = json_dumps(hj, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
			r = fail("bad --kid", NULL);
			goto out;
		}
		header = hdr_made;
	}
	h64 = b64url((const unsigned char *)header, strlen(header));
	p64 = b64url((const unsigned char *)claims, strlen(claims));
	if (h64 == NULL || p64 == NULL ||
	    (input = malloc(strlen(h64) + strlen(p64) + 2)) == NULL)
		goto out;
	snprintf(input, strlen(h64) + strlen(p64) + 2, "%s.%s", h64, p64);
	if (alg[0] == 'R' || alg[0] == 'E') {
		int ec = alg[0] == 'E';

		if ((pk = read_key(keyfile)) == NULL) {
			r = fail("cannot read a private key from", keyfile);
			goto out;
		}
		if (!EVP_PKEY_is_a(pk, ec ? "EC" : "RSA") ||
		    sign_pkey(pk, ec, (unsigned char *)input, strlen(input), sig,
		    &siglen) != 0) {
			r = fail("cannot sign with", keyfile);
			goto out;
		}
	} else if (alg[0] == 'H') {
		FILE *f = fopen(secretfile, "rb");

		if (f == NULL) {
			r = fail("cannot read", secretfile);
			goto out;
		}
		seclen = fread(secret, 1, sizeof(secret), f);
		fclose(f);
		if (HMAC(EVP_sha256(), secret, (int)seclen, (unsigned char *)input,
		    strlen(input), sig, &maclen) == NULL)
			goto out;
		siglen = maclen;
	}
	if (badsig && siglen > 0)
		sig[siglen - 1] ^= 0x01;
	if ((s64 = b64url(sig, siglen)) == NULL)
		goto out;
	if (printf("%s.%s\n", input, s64) < 0 || fflush(stdout) != 0) {
		r = fail("write error", NULL);
		goto out;
	}
	r = 0;
out:
	if (r == 1)
		ERR_print_errors_fp(stderr);
	sodium_memzero(secret, sizeof(secret));
	free(hdr_made);
	free(h64);
	free(p64);
	free(s64);
	free(input);
	json_decref(hj);
	EVP_PKEY_free(pk);
	return r;
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (argc < 2)
		return usage(NULL);
	if (sodium_init() < 0)
		return fail("libsodium failed to initialize", NULL);
	if (strcmp(argv[1], "jwks") == 0)
		return cmd_jwks(argc - 2, argv + 2);
	if (strcmp(argv[1], "sign") == 0)
		return cmd_sign(argc - 2, argv + 2);
	return usage("the command is jwks or sign");
}
