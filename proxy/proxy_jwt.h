/*
 * proxy_jwt.h - verification of the company IdP's OIDC access tokens (JWT,
 * compact JWS) against a JWKS file, for pii-proxy.
 *
 * Only RS256 and ES256 are accepted; the key is chosen by the header's
 * "kid" and must be of the kind the header's "alg" names.  The signature is
 * checked before the payload is decoded; then issuer, audience, expiry and
 * the user and roles claims.  A refusal is PII_ERR_UNAUTHENTICATED with a
 * short reason in ei->message that never quotes the token or a claim.
 * docs/auth.md explains each rule.
 */
#ifndef PII_PROXY_JWT_H
#define PII_PROXY_JWT_H

#include <stddef.h>

#include "../common/err.h"

#define PJ_MAX_ROLES 16
#define PJ_NAME_MAX 128

#define PJ_MAX_TOKEN      8192           /* bytes of a compact token */
#define PJ_MAX_JSON_DEPTH 8              /* header and payload nesting */
#define PJ_MAX_JWKS_BYTES (1024 * 1024)  /* a JWKS file */
#define PJ_MAX_KEYS       64             /* keys in a JWKS */
#define PJ_KID_MAX        64             /* kid buffer: at most 63 bytes */
#define PJ_ROLE_MAX       64             /* role buffer: at most 63 bytes */
#define PJ_RSA_MIN_BITS   2048
#define PJ_RSA_MAX_BITS   8192

struct pj_jwks;  /* opaque, immutable after load, thread-safe to share */

/* Load a JWKS file ({"keys":[{"kty":"RSA","kid":"…","n":"…","e":"…",
 * "alg":"RS256","use":"sig"}, {"kty":"EC","crv":"P-256","kid":"…","x":"…",
 * "y":"…","alg":"ES256"}]}).  Strict: duplicate kid, unknown kty/crv, RSA
 * modulus < 2048 bits, EC point not on the curve, private members ("d",
 * "p", ...) present, bad base64url -> PII_ERR_CONFIG with ei->field the
 * JSON path ("keys[1].n").  Keys with "use" other than "sig" are refused.
 * Max file 1 MiB, max 64 keys.  *out new. */
int pj_jwks_load(const char *path, struct pj_jwks **out, struct pii_errinfo *ei);
int pj_jwks_parse(const char *buf, size_t len, struct pj_jwks **out,
    struct pii_errinfo *ei);
void pj_jwks_free(struct pj_jwks *k);   /* accepts NULL */
size_t pj_jwks_count(const struct pj_jwks *k);

struct pj_config {
	const char *issuer;          /* required exact match of "iss" */
	const char *audience;        /* must equal "aud" (string) or be one element of it (array) */
	long long skew_seconds;      /* allowed clock skew for exp/nbf/iat, e.g. 60 (0..3600) */
	const char *roles_claim;     /* e.g. "roles" or "groups": a string array claim (a single
	                              * string also accepted); may be a dotted path like
	                              * "realm_access.roles" (a top-level claim of that exact
	                              * name, such as "https://corp.example/roles", wins) */
	const char *user_claim;      /* e.g. "email" or "preferred_username" or "sub": the
	                              * person's name as recorded in audit (looked up like
	                              * roles_claim) */
	long long max_lifetime_seconds; /* refuse tokens whose exp - iat (or exp - now if no
	                                 * iat) exceeds this; 0 = no bound */
};

struct pj_identity {
	char user[PJ_NAME_MAX];
	char roles[PJ_MAX_ROLES][PJ_ROLE_MAX];
	size_t nroles;
	long long exp;
	char kid[PJ_KID_MAX];
};

/* Verify a compact JWS (header.payload.signature) at time now (seconds since
 * 1970).  Only RS256 and ES256 (raw 64-byte r||s) are accepted; the header's
 * "kid" picks the key, whose kind (and "alg", when the JWK has one) must
 * match the header's "alg".  "crit" is refused; "typ", if present, must be
 * "JWT" or "at+jwt" (case-insensitive, "application/" prefix allowed).  The
 * signature is verified before the payload is decoded.  Claims: iss, aud,
 * exp (required), nbf, iat, max lifetime, user claim, roles claim.  Whole
 * token at most 8 KiB, JSON depth at most 8, no duplicate keys, strict
 * base64url.  On failure PII_ERR_UNAUTHENTICATED with ei->message one of
 * "token expired", "token not yet valid", "token issued in the future",
 * "token lifetime too long", "wrong audience", "wrong issuer", "bad
 * signature", "algorithm not allowed", "key does not match algorithm",
 * "unknown key id", "missing key id", "critical header not supported",
 * "token type not allowed", "missing user claim", "bad user claim", "bad
 * roles claim", "too many roles", "token too large", "malformed token";
 * PII_ERR_CONFIG for a cfg out of range, PII_ERR_NOMEM.  On success fill
 * *out (never touched on failure). */
int pj_verify(const struct pj_jwks *k, const struct pj_config *cfg,
    const char *token, size_t len, long long now, struct pj_identity *out,
    struct pii_errinfo *ei) __attribute__((warn_unused_result));

/* The claims step of pj_verify alone, on a payload whose signature has
 * ALREADY been verified (JSON text, len bytes).  Exposed for the unit test
 * and the fuzzer; the proxy calls pj_verify.  Same errors as pj_verify. */
int pj_claims_check_verified(const struct pj_config *cfg, const char *json,
    size_t len, long long now, const char *kid, struct pj_identity *out,
    struct pii_errinfo *ei) __attribute__((warn_unused_result));

/* 1 if the string looks like a JWT (three base64url parts separated by two
 * dots, the first two non-empty), so the proxy can tell JWTs from its own
 * API keys (which start with "piiv_key_"); else 0. */
int pj_looks_like_jwt(const char *s, size_t len);

/* Strict base64url decoding (RFC 7515 section 2): no padding, nothing
 * outside [A-Za-z0-9_-], zero trailing bits.  Writes at most cap bytes to
 * out and the length to *outlen; -1 on bad input or when cap is too
 * small.  Used for tokens and JWKS members; exposed for the tests. */
int pj_b64url_decode(const char *s, size_t len, unsigned char *out,
    size_t cap, size_t *outlen);

#endif
