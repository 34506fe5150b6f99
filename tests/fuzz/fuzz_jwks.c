/*
 * fuzz_jwks.c - libFuzzer target for pj_jwks_parse, the loader of the JWKS
 * file whose keys decide which tokens pii-proxy accepts.
 *
 * A refusal must be PII_ERR_CONFIG (or NOMEM) with a message and no key
 * set.  An accepted set holds 1..64 keys, and a token that nobody signed
 * must still be refused by it as unauthenticated.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/json_util.h"
#include "../../proxy/proxy_jwt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_jwks: %s\n", what);
	abort();
}

/* {"alg":"RS256","kid":"fuzz-rsa"}.{"iss":"x"}.(256 bytes of 0x41) */
static const char token[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6ImZ1enotcnNhIn0.eyJpc3MiOiJ4In0."
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
    "QUFBQUFBQUFBQUFBQUFBQQ";

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	static const struct pj_config cfg = {
		.issuer = "x", .audience = "a", .skew_seconds = 60,
		.roles_claim = "roles", .user_claim = "sub",
	};
	struct pj_jwks *k = NULL;
	struct pj_identity id;
	struct pii_errinfo ei;
	int r;

	if (!inited) {
		pii_json_init();
		inited = 1;
	}
	pii_errinfo_clear(&ei);
	r = pj_jwks_parse((const char *)data, size, &k, &ei);
	if (r != 0) {
		if (k != NULL)
			die("refused but returned a key set");
		if (r != PII_ERR_CONFIG && r != PII_ERR_NOMEM)
			die("unexpected code");
		if (ei.code != r || ei.message[0] == '\0')
			die("a refusal without a message");
		return 0;
	}
	if (k == NULL || pj_jwks_count(k) < 1 || pj_jwks_count(k) > PJ_MAX_KEYS)
		die("accepted with a bad key count");
	r = pj_verify(k, &cfg, token, strlen(token), 1700000000LL, &id, &ei);
	if (r != PII_ERR_UNAUTHENTICATED)
		die("an unsigned token was not refused");
	pj_jwks_free(k);
	return 0;
}
