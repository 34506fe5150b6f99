/*
 * audit_main.c - pii-audit: the audit log's command-line tool.
 *
 *   pii-audit keygen --out FILE
 *   pii-audit verify --db CONNINFO [--witness DIR] [--pubkey FILE]...
 *
 * Exit status: 0 success, 1 failure (verification failed, or it could not
 * run) with one clear line, 2 usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "audit_checkpoint.h"
#include "audit_verify.h"

#define MAX_KEYS 16

static const char usage_text[] =
    "usage: pii-audit COMMAND [OPTIONS]\n"
    "\n"
    "  keygen --out FILE\n"
    "        make an Ed25519 checkpoint signing key: FILE (secret, mode 0600)\n"
    "        and FILE.pub (the public key verifiers trust)\n"
    "  verify --db CONNINFO [--witness DIR] [--pubkey FILE]...\n"
    "        recompute every writer's Merkle tree from the audit records and\n"
    "        check every checkpoint (signature, root, order) and, with\n"
    "        --witness, the checkpoints published to DIR/checkpoints.\n"
    "        --db defaults to $PIIV_AUDIT_PG, --witness to $PIIV_WITNESS,\n"
    "        --pubkey to $PIIV_AUDIT_PUBKEY.  Exit 1 naming the writer and\n"
    "        the first bad sequence number.\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

static int
usage(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "pii-audit: %s\n", msg);
	fputs(usage_text, stderr);
	return 2;
}

static int
die(const char *what, const struct pii_errinfo *ei)
{
	fprintf(stderr, "pii-audit: %s: %s\n", what,
	    ei->message[0] != '\0' ? ei->message : pii_strerror(ei->code));
	return 1;
}

static int
cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pii_errinfo ei;
	const char *out = NULL;
	char *pub;
	size_t n;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage(NULL);
		}
	}
	if (out == NULL || optind != argc)
		return usage("keygen needs --out FILE and nothing else");
	n = strlen(out) + sizeof(".pub");
	if ((pub = malloc(n)) == NULL)
		return 1;
	snprintf(pub, n, "%s.pub", out);
	pii_errinfo_clear(&ei);
	r = audit_signer_generate(out, pub, &ei);
	if (r == 0)
		printf("audit signing key written to %s (mode 0600); public key "
		    "%s\n", out, pub);
	free(pub);
	return r == 0 ? 0 : die("keygen", &ei);
}

static int
cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "db", required_argument, NULL, 'd' },
		{ "witness", required_argument, NULL, 'w' },
		{ "pubkey", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_pubkey keys[MAX_KEYS];
	struct audit_verify_opts vo;
	struct audit_verify_result res;
	struct pii_errinfo ei;
	const char *db = getenv("PIIV_AUDIT_PG"), *wdir = getenv("PIIV_WITNESS");
	const char *keyfiles[MAX_KEYS];
	char *wfile = NULL;
	size_t nkeys = 0, i;
	PGconn *conn = NULL;
	int c, rc = 1;

	while ((c = getopt_long(argc, argv, "d:w:k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			db = optarg;
			break;
		case 'w':
			wdir = optarg;
			break;
		case 'k':
			if (nkeys == MAX_KEYS)
				return usage("at most 16 --pubkey");
			keyfiles[nkeys++] = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage(NULL);
		}
	}
	if (optind != argc)
		return usage("verify takes no operands");
	if (db == NULL || *db == '\0')
		return usage("verify needs --db CONNINFO (or PIIV_AUDIT_PG)");
	if (nkeys == 0 && getenv("PIIV_AUDIT_PUBKEY") != NULL &&
	    *getenv("PIIV_AUDIT_PUBKEY") != '\0')
		keyfiles[nkeys++] = getenv("PIIV_AUDIT_PUBKEY");
	if (nkeys == 0)
		return usage("verify needs the trusted public key: --pubkey FILE "
		    "(or PIIV_AUDIT_PUBKEY)");
	pii_errinfo_clear(&ei);
	for (i = 0; i < nkeys; i++)
		if (audit_pubkey_load(keyfiles[i], &keys[i], &ei) != 0)
			return die("verify", &ei);
	if (wdir != NULL && *wdir != '\0') {
		size_t n = strlen(wdir) + sizeof("/checkpoints");

		if ((wfile = malloc(n)) == NULL)
			return 1;
		snprintf(wfile, n, "%s/checkpoints", wdir);
	}
	conn = PQconnectdb(db);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "pii-audit: verify: cannot connect to the audit "
		    "database: %s", PQerrorMessage(conn));
		goto out;
	}
	vo.keys = keys;
	vo.nkeys = nkeys;
	vo.witness_file = wfile;
	if (audit_verify(conn, &vo, &res, &ei) != 0) {
		rc = die("verify", &ei);
		goto out;
	}
	if (!res.ok) {
		if (res.seq >= 0)
			printf("FAIL writer=%s seq=%lld: %s\n", res.writer, res.seq,
			    res.what);
		else
			printf("FAIL writer=%s: %s\n", res.writer, res.what);
		goto out;
	}
	printf("ok: %llu writers, %llu records, %llu checkpoints checked "
	    "(%llu from the witness), %llu records after the last checkpoint\n",
	    res.writers, res.records, res.checkpoints, res.witness_checkpoints,
	    res.unsealed);
	rc = 0;
out:
	PQfinish(conn);
	free(wfile);
	return rc;
}

int
main(int argc, char **argv)
{
	if (sodium_init() < 0) {
		fprintf(stderr, "pii-audit: libsodium failed to initialize\n");
		return 1;
	}
	if (argc < 2)
		return usage(NULL);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (strcmp(argv[1], "keygen") == 0)
		return cmd_keygen(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	return usage("unknown command");
}
