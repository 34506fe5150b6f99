/*
 * audit_sign.c - sign an audit checkpoint with a key file and print its
 * witness line.
 *
 * The tamper suite (tests/integration/65-audit-tamper.sh) uses it to forge
 * checkpoints that carry a valid signature but contradict the log, as a
 * writer whose signing key was stolen could:
 *
 *   audit_sign KEYFILE ORIGIN SIZE ROOT_HEX AT_US
 *   audit_sign keys/audit-signing.key vault-dev/20250101T000000Z-0a1b2c3d/1 \
 *       10 <64 hex digits> 1735689600000000
 *       -> checkpoint v1 ORIGIN 10 BASE64(ROOT) AT_US KEY_ID BASE64(SIG)
 *
 * KEYFILE is a secret key file of `pii-audit keygen` (mode 0600); SIZE is a
 * decimal 0..2^63-1, ROOT_HEX the 32-byte root as 64 hex digits, AT_US the
 * signing time in microseconds since 1970 (a decimal, may be negative).  The
 * line (formats in audit/audit_checkpoint.h) goes to stdout with its
 * newline.  Exit 0 on success, 1 when the key cannot be loaded or the
 * checkpoint cannot be signed, 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../audit/audit_checkpoint.h"

static int
usage(const char *why)
{
	if (why != NULL)
		fprintf(stderr, "audit_sign: %s\n", why);
	fprintf(stderr, "usage: audit_sign KEYFILE ORIGIN SIZE ROOT_HEX AT_US\n");
	return 2;
}

/* A plain decimal (optional '-' when neg_ok) that fits an int64. */
static int
parse_i64(const char *s, int neg_ok, int64_t *out)
{
	char *end;
	long long v;

	if (s[0] == '\0' || s[0] == '+' || (s[0] == '-' && !neg_ok) ||
	    (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

int
main(int argc, char **argv)
{
	struct audit_checkpoint cp;
	struct audit_signer *signer = NULL;
	struct pii_errinfo ei;
	char line[AUDIT_WITNESS_LINE_MAX];
	size_t rl = 0;
	int64_t size;
	int r;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "--help") == 0)) {
		printf("usage: audit_sign KEYFILE ORIGIN SIZE ROOT_HEX AT_US\n");
		return 0;
	}
	if (argc != 6)
		return usage(NULL);
	if (sodium_init() < 0) {
		fprintf(stderr, "audit_sign: libsodium failed to initialize\n");
		return 1;
	}
	memset(&cp, 0, sizeof(cp));
	if (strlen(argv[2]) >= sizeof(cp.origin) || !audit_origin_ok(argv[2]))
		return usage("ORIGIN must be 1-127 characters of [A-Za-z0-9._:/-]");
	snprintf(cp.origin, sizeof(cp.origin), "%s", argv[2]);
	if (parse_i64(argv[3], 0, &size) != 0)
		return usage("SIZE must be a decimal 0..2^63-1");
	cp.size = (uint64_t)size;
	if (strlen(argv[4]) != 2 * sizeof(cp.root) ||
	    sodium_hex2bin(cp.root, sizeof(cp.root), argv[4], strlen(argv[4]),
	    NULL, &rl, NULL) != 0 || rl != sizeof(cp.root))
		return usage("ROOT_HEX must be 64 hex digits");
	if (parse_i64(argv[5], 1, &cp.at_us) != 0)
		return usage("AT_US must be a decimal number of microseconds");

	pii_errinfo_clear(&ei);
	if (audit_signer_load(argv[1], &signer, &ei) != 0) {
		fprintf(stderr, "audit_sign: %s\n", ei.message[0] != '\0' ?
		    ei.message : pii_strerror(ei.code));
		return 1;
	}
	r = audit_checkpoint_sign(signer, &cp);
	audit_signer_free(signer);
	if (r != 0) {
		fprintf(stderr, "audit_sign: cannot sign: %s\n", pii_strerror(r));
		return 1;
	}
	if ((r = audit_checkpoint_format(&cp, line, sizeof(line))) != 0) {
		fprintf(stderr, "audit_sign: cannot format: %s\n", pii_strerror(r));
		return 1;
	}
	if (fputs(line, stdout) == EOF || fflush(stdout) != 0) {
		fprintf(stderr, "audit_sign: write error\n");
		return 1;
	}
	return 0;
}
