/*
 * fuzz_jwt.c - libFuzzer target for pj_verify, the proxy's JWT check, with
 * a fixed JWKS of one RSA and one EC key whose private halves were thrown
 * away after signing the seed corpus.
 *
 * No input can be accepted: every token must be signed by one of the two
 * keys, and the seeds that are signed fail a claim (expired, wrong
 * audience, ...), which the signature stops a mutation from changing.  So
 * acceptance aborts.  A refusal must be PII_ERR_UNAUTHENTICATED with one
 * of the fixed reasons (never text from the input) and leave the identity
 * untouched; whatever pj_looks_like_jwt says no to must be refused as
 * malformed or too large.
 *
 * The same input is also given to pj_claims_check_verified as a payload
 * whose signature had verified, so the claims code is fuzzed too: there an
 * acceptance must yield a clean identity (a printable user, at most 16
 * roles of [A-Za-z0-9_.:-], exp not past).
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

#define NOW 1700000000LL

static const char jwks_json[] =
    "{\"keys\":["
    "{\"kty\":\"RSA\",\"kid\":\"fuzz-rsa\",\"alg\":\"RS256\",\"use\":\"sig\",\"e\":\"AQAB\",\"n\":\""
    "sjN7N9o4DS_FM5j85pSsLFUudLCbIWHHG7uSuJiyaOwZWpbWB8cZulihaXh9"
    "qFVROfxKuooKpwVCDhNTCd_FNCVniI_F49GrI1FBztTHGM8o8rB8FJrkeyqQ"
    "u5gUGh5SKpLzTxW040k1d93czE_9ooz8QZU2gfDaAi15TQUWEf-cN8iOy72q"
    "SdqQSw98vRpfbx6O1yOrTbFd3UOeU57Tx7uLStmqs-bzxqYvpID9wCdlnKv0"
    "yaimXkY3nEQtH0LDCXwqfyaN0-qKGpwqa-jJAQiYmSRxPpRp2Cziy18cqBBn"
    "ICq6hNgLxxu1NXUA0GwF-ghVkRpeNx1cQG1Z_gW06w\"},"
    "{\"kty\":\"EC\",\"kid\":\"fuzz-ec\",\"alg\":\"ES256\",\"use\":\"sig\",\"crv\":\"P-256\","
    "\"x\":\"zBtitTXVj7CutESVpEVW3SrOBB9lUHYA4ok-nIKbyts\","
    "\"y\":\"o3lOfdHSLvR2WWlLSnecG7QAZkebCKRfs-fBkIcJEXE\"}"
    "]}";

static const struct pj_config cfg = {
	.issuer = "https://idp.example.com/realms/corp",
	.audience = "pii-proxy",
	.skew_seconds = 60,
	.roles_claim = "roles",
	.user_claim = "email",
	.max_lifetime_seconds = 86400,
};

static const char *const reasons[] = {
	"token expired", "token not yet valid", "token issued in the future",
	"token lifetime too long", "wrong audience", "wrong issuer",
	"bad signature", "algorithm not allowed", "key does not match algorithm",
	"unknown key id", "missing key id", "critical header not supported",
	"token type not allowed", "missing user claim", "bad user claim",
	"bad roles claim", "too many roles", "token too large",
	"malformed token", "missing expiry", NULL
};

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_jwt: %s\n", what);
	abort();
}

static void
check_refusal(int r, const struct pii_errinfo *ei)
{
	size_t i;

	if (r == PII_ERR_NOMEM)
		return;
	if (r != PII_ERR_UNAUTHENTICATED || ei->code != r)
		die("unexpected code");
	for (i = 0; reasons[i] != NULL; i++)
		if (strcmp(ei->message, reasons[i]) == 0)
			return;
	die("a refusal with a message not in the fixed list");
}

static void
check_identity(const struct pj_identity *id)
{
	size_t i, j, n = strlen(id->user);

	if (n == 0 || n >= PJ_NAME_MAX || strcmp(id->kid, "k") != 0)
		die("accepted a bad user or kid");
	for (i = 0; i < n; i++)
		if ((unsigned char)id->user[i] < 0x20 || id->user[i] == 0x7f)
			die("accepted a control character in the user");
	if (id->nroles > PJ_MAX_ROLES || id->exp < NOW - cfg.skew_seconds)
		die("accepted too many roles or an expired token");
	for (i = 0; i < id->nroles; i++) {
		n = strlen(id->roles[i]);
		if (n == 0 || n >= PJ_ROLE_MAX ||
		    strspn(id->roles[i], "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "abcdefghijklmnopqrstuvwxyz0123456789_.:-") != n)
			die("accepted a bad role");
		for (j = 0; j < sizeof(id->roles[i]); j++)
			if (j > n && id->roles[i][j] != '\0')
				die("role not NUL-padded");
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct pj_jwks *jwks;
	struct pj_identity id, before;
	struct pii_errinfo ei;
	int r;

	if (jwks == NULL) {
		pii_json_init();
		if (pj_jwks_parse(jwks_json, strlen(jwks_json), &jwks, &ei) != 0 ||
		    pj_jwks_count(jwks) != 2)
			die("the embedded JWKS does not load");
	}
	memset(&id, 0x5a, sizeof(id));
	before = id;
	pii_errinfo_clear(&ei);
	r = pj_verify(jwks, &cfg, (const char *)data, size, NOW, &id, &ei);
	if (r == 0)
		die("accepted a token nobody could have signed");
	check_refusal(r, &ei);
	if (memcmp(&id, &before, sizeof(id)) != 0)
		die("a refusal changed the identity");
	if (!pj_looks_like_jwt((const char *)data, size) &&
	    strcmp(ei.message, "malformed token") != 0 &&
	    strcmp(ei.message, "token too large") != 0)
		die("not JWT-shaped but refused for another reason");

	memset(&id, 0, sizeof(id));
	pii_errinfo_clear(&ei);
	r = pj_claims_check_verified(&cfg, (const char *)data, size, NOW, "k",
	    &id, &ei);
	if (r == 0)
		check_identity(&id);
	else
		check_refusal(r, &ei);
	return 0;
}
