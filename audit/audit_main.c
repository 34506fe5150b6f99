/*
 * audit_main.c - pii-audit: the audit log's command-line tool.
 *
 *   pii-audit keygen --out FILE
 *   pii-audit verify --db CONNINFO [--witness DIR] [--pubkey FILE]...
 *   pii-audit report (--subject TOKEN | --actor NAME | --anomalies) ...
 *   pii-audit proof --writer W --seq N [--db CONNINFO] [--out FILE]
 *   pii-audit verify-proof [--pubkey FILE]... PROOF_FILE
 *
 * Exit status: 0 success, 1 failure (verification failed, or it could not
 * run) with one clear line, 2 usage error.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../common/config.h"
#include "audit_checkpoint.h"
#include "audit_proof.h"
#include "audit_receipt.h"
#include "audit_report.h"
#include "audit_verify.h"

#define MAX_KEYS 16

static const char usage_text[] =
    "usage: pii-audit COMMAND [OPTIONS]\n"
    "\n"
    "  keygen --out FILE\n"
    "        make an Ed25519 checkpoint signing key: FILE (secret, mode 0600)\n"
    "        and FILE.pub (the public key verifiers trust)\n"
    "  verify --db CONNINFO [--witness DIR] [--pubkey FILE[:FILE...]]...\n"
    "        recompute every writer's Merkle tree from the audit records and\n"
    "        check every checkpoint (signature, root, order) and, with\n"
    "        --witness, the checkpoints published to DIR/checkpoints.\n"
    "        --db defaults to $PIIV_AUDIT_PG, --witness to $PIIV_WITNESS,\n"
    "        --pubkey to $PIIV_AUDIT_PUBKEY (FILE[:FILE...]: one key per\n"
    "        writer, e.g. the vault's and the proxy's).  Exit 1 naming the\n"
    "        writer and the first bad sequence number.\n"
    "  report (--subject TOKEN | --actor NAME) [--since T] [--until T]\n"
    "         [--format table|json] [--db CONNINFO]\n"
    "        who did what to whose data, when, why, with what decision\n"
    "        (--actor matches the service identity or the person it acted for)\n"
    "  report --anomalies [--since T] [--until T] [--factor F] [--min N]\n"
    "        people touching at least F (3) times the median number of\n"
    "        distinct subjects of their role's peers, and at least N (10)\n"
    "  proof --writer W --seq N [--db CONNINFO] [--out FILE]\n"
    "        an inclusion proof of record N of writer W against its latest\n"
    "        signed checkpoint, as JSON (stdout or FILE)\n"
    "  verify-proof [--pubkey FILE]... PROOF_FILE\n"
    "        check a proof with the public key alone; prints the record\n"
    "  verify-receipt [--pubkey FILE]... RECEIPT_FILE\n"
    "        check an erasure receipt (GET /v1/dsr/{id}/receipt of the vault)\n"
    "        with the public key alone: its signature, its audit proof, and\n"
    "        that the proven record is the erasure it states\n"
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
	fprintf(stderr, "pii-audit: %s: %s%s%s\n", what, ei->field,
	    ei->field[0] != '\0' ? ": " : "",
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

/* Add the files of a --pubkey argument (FILE or FILE:FILE...): -1 past
 * MAX_KEYS.  list is modified (it is argv). */
static int
add_keyfiles(char *list, const char **files, size_t *n)
{
	char *p, *save = NULL;

	for (p = strtok_r(list, ":", &save); p != NULL; p = strtok_r(NULL, ":", &save)) {
		if (*n == MAX_KEYS)
			return -1;
		files[(*n)++] = p;
	}
	return 0;
}

/* The trusted public keys: the --pubkey files, else $PIIV_AUDIT_PUBKEY
 * (one file, or several separated by ':', as PATH; one per writer's
 * signing key: the vault's and the proxy's).  0, 1 (a key would not load:
 * said) or 2 (none given: usage). */
static int
load_trusted_keys(const char *cmd, const char **files, size_t n,
    struct audit_pubkey *keys, size_t *nkeys)
{
	struct pii_errinfo ei;
	const char *env = getenv("PIIV_AUDIT_PUBKEY");
	char msg[96];
	size_t i;

	static char envcopy[4096];

	if (n == 0 && env != NULL && *env != '\0') {
		char *p, *save = NULL;

		if (strlen(env) >= sizeof(envcopy))
			return usage("PIIV_AUDIT_PUBKEY is too long");
		snprintf(envcopy, sizeof(envcopy), "%s", env);
		for (p = strtok_r(envcopy, ":", &save); p != NULL && n < MAX_KEYS;
		    p = strtok_r(NULL, ":", &save))
			files[n++] = p;
	}
	if (n == 0) {
		snprintf(msg, sizeof(msg), "%s needs the trusted public key: "
		    "--pubkey FILE (or PIIV_AUDIT_PUBKEY)", cmd);
		return usage(msg);
	}
	pii_errinfo_clear(&ei);
	for (i = 0; i < n; i++)
		if (audit_pubkey_load(files[i], &keys[i], &ei) != 0)
			return die(cmd, &ei);
	*nkeys = n;
	return 0;
}

static PGconn *connect_db(const char *db, const char *cmd);

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
	size_t nkeys = 0;
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
			if (add_keyfiles(optarg, keyfiles, &nkeys) != 0)
				return usage("at most 16 public keys");
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
	if ((c = load_trusted_keys("verify", keyfiles, nkeys, keys, &nkeys)) != 0)
		return c;
	pii_errinfo_clear(&ei);
	if (wdir != NULL && *wdir != '\0') {
		size_t n = strlen(wdir) + sizeof("/checkpoints");

		if ((wfile = malloc(n)) == NULL)
			return 1;
		snprintf(wfile, n, "%s/checkpoints", wdir);
	}
	if ((conn = connect_db(db, "verify")) == NULL)
		goto out;
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

static PGconn *
connect_db(const char *db, const char *cmd)
{
	PGconn *conn;

	if (db == NULL || *db == '\0') {
		fprintf(stderr, "pii-audit: %s needs --db CONNINFO (or "
		    "PIIV_AUDIT_PG)\n", cmd);
		return NULL;
	}
	conn = PQconnectdb(db);
	if (PQstatus(conn) != CONNECTION_OK) {
		fprintf(stderr, "pii-audit: %s: cannot connect to the audit "
		    "database: %s", cmd, PQerrorMessage(conn));
		PQfinish(conn);
		return NULL;
	}
	return conn;
}

/* A decimal in [min, max], or -1 with a message. */
static int
parse_ll(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "actor", required_argument, NULL, 'a' },
		{ "anomalies", no_argument, NULL, 'A' },
		{ "since", required_argument, NULL, 'S' },
		{ "until", required_argument, NULL, 'U' },
		{ "format", required_argument, NULL, 'f' },
		{ "factor", required_argument, NULL, 'F' },
		{ "min", required_argument, NULL, 'm' },
		{ "db", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct audit_report_query rq;
	struct pii_errinfo ei;
	const char *db = getenv("PIIV_AUDIT_PG");
	long long min = 10, fx10 = 30;
	int c, anomalies = 0, r;
	PGconn *conn;

	memset(&rq, 0, sizeof(rq));
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			rq.subject_token = optarg;
			break;
		case 'a':
			rq.actor = optarg;
			break;
		case 'A':
			anomalies = 1;
			break;
		case 'S':
			rq.since = optarg;
			break;
		case 'U':
			rq.until = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "table") == 0)
				rq.format = AUDIT_REPORT_TABLE;
			else if (strcmp(optarg, "json") == 0)
				rq.format = AUDIT_REPORT_JSON;
			else
				return usage("--format is table or json");
			break;
		case 'F': {
			double f;
			char *end;

			f = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(f >= 1.0 && f <= 1000))
				return usage("--factor is a number from 1 to 1000");
			fx10 = (long long)(f * 10 + 0.5);
			break;
		}
		case 'm':
			if (parse_ll(optarg, 1, 1000000000, &min) != 0)
				return usage("--min is a whole number from 1");
			break;
		case 'd':
			db = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage(NULL);
		}
	}
	if (optind != argc)
		return usage("report takes no operands");
	if (anomalies + (rq.subject_token != NULL) + (rq.actor != NULL) != 1)
		return usage("report needs exactly one of --subject, --actor and "
		    "--anomalies");
	if ((conn = connect_db(db, "report")) == NULL)
		return 1;
	pii_errinfo_clear(&ei);
	r = anomalies ? audit_report_anomalies(conn, rq.since, rq.until,
	    (double)fx10 / 10.0, min, rq.format, stdout, &ei) :
	    audit_report_records(conn, &rq, stdout, &ei);
	PQfinish(conn);
	return r == 0 ? 0 : die("report", &ei);
}

static int
cmd_proof(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "writer", required_argument, NULL, 'w' },
		{ "seq", required_argument, NULL, 'n' },
		{ "db", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct pii_errinfo ei;
	const char *db = getenv("PIIV_AUDIT_PG"), *writer = NULL, *out = NULL;
	long long seq = -1;
	char *json = NULL;
	PGconn *conn;
	FILE *f;
	int c, r;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'w':
			writer = optarg;
			break;
		case 'n':
			if (parse_ll(optarg, 0, INT64_MAX - 1, &seq) != 0)
				return usage("--seq is a record's sequence number (0, 1, ...)");
			break;
		case 'd':
			db = optarg;
			break;
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
	if (optind != argc || writer == NULL || seq < 0)
		return usage("proof needs --writer W and --seq N");
	if ((conn = connect_db(db, "proof")) == NULL)
		return 1;
	pii_errinfo_clear(&ei);
	r = audit_proof_build(conn, writer, (uint64_t)seq, &json, &ei);
	PQfinish(conn);
	if (r != 0)
		return die("proof", &ei);
	if (out == NULL) {
		printf("%s\n", json);
	} else if ((f = fopen(out, "wx")) == NULL ||
	    fprintf(f, "%s\n", json) < 0 || fclose(f) != 0) {
		fprintf(stderr, "pii-audit: proof: cannot write %s (it must not "
		    "exist yet)\n", out);
		free(json);
		return 1;
	}
	free(json);
	return 0;
}

static void
print_field(const char *name, const struct audit_field *f)
{
	int i;

	printf("  %-14s ", name);
	if (f->p == NULL) {
		printf("-\n");
		return;
	}
	for (i = 0; i < (int)f->len; i++)
		putchar(f->p[i] < 0x20 || f->p[i] == 0x7f ? '?' : f->p[i]);
	putchar('\n');
}

/* verify-proof and verify-receipt: [--pubkey FILE]... FILE.  Loads the
 * trusted keys into keys (*nkeys) and FILE (at most max bytes) into *text.
 * -1 when the caller goes on; otherwise the exit status. */
static int
keys_and_file(const char *cmd, int argc, char **argv, size_t max,
    struct audit_pubkey keys[MAX_KEYS], size_t *nkeys, char **text,
    size_t *len)
{
	static const struct option opts[] = {
		{ "pubkey", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *keyfiles[MAX_KEYS];
	char msg[64];
	int c;

	*nkeys = 0;
	while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			if (add_keyfiles(optarg, keyfiles, nkeys) != 0)
				return usage("at most 16 public keys");
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage(NULL);
		}
	}
	if (optind + 1 != argc) {
		snprintf(msg, sizeof(msg), "%s needs one FILE", cmd);
		return usage(msg);
	}
	if ((c = load_trusted_keys(cmd, keyfiles, *nkeys, keys, nkeys)) != 0)
		return c;
	if (pii_read_small_file(argv[optind], max, text, len) != 0) {
		fprintf(stderr, "pii-audit: %s: cannot read %s (at most %zu "
		    "bytes)\n", cmd, argv[optind], max);
		return 1;
	}
	return -1;
}

static int
cmd_verify_proof(int argc, char **argv)
{
	struct audit_pubkey keys[MAX_KEYS];
	struct audit_proof_result *res = NULL;
	struct pii_errinfo ei;
	const struct audit_record_view *v;
	char *text = NULL;
	size_t nkeys = 0, len = 0, i;
	int rc = 1;

	if ((rc = keys_and_file("verify-proof", argc, argv, AUDIT_PROOF_MAX,
	    keys, &nkeys, &text, &len)) != -1)
		return rc;
	rc = 1;
	pii_errinfo_clear(&ei);
	if ((res = malloc(sizeof(*res))) == NULL)
		goto out;
	if (audit_proof_check(text, len, keys, nkeys, res, &ei) != 0) {
		printf("FAIL: %s%s%s\n", ei.field[0] != '\0' ? ei.field : "",
		    ei.field[0] != '\0' ? ": " : "", ei.message);
		goto out;
	}
	v = &res->view;
	printf("ok: record %llu of %s is in the log signed at size %llu by key "
	    "%s\n", (unsigned long long)v->seq, res->cp.origin,
	    (unsigned long long)res->cp.size, res->cp.key_id);
	print_field("actor", &v->actor);
	print_field("on_behalf_of", &v->on_behalf_of);
	print_field("role", &v->role);
	print_field("purpose", &v->purpose);
	print_field("ticket", &v->ticket);
	print_field("action", &v->action);
	print_field("subject_token", &v->subject_token);
	for (i = 0; i < v->ncategories; i++)
		print_field("category", &v->categories[i]);
	print_field("decision", &v->decision);
	print_field("reason", &v->reason);
	print_field("request_id", &v->request_id);
	printf("  %-14s %lld\n", "at_us", (long long)v->at_us);
	rc = 0;
out:
	free(res);
	free(text);
	return rc;
}

static int
cmd_verify_receipt(int argc, char **argv)
{
	struct audit_pubkey keys[MAX_KEYS];
	struct audit_receipt_result *res = NULL;
	struct pii_errinfo ei;
	char *text = NULL;
	size_t nkeys = 0, len = 0;
	int rc;

	if ((rc = keys_and_file("verify-receipt", argc, argv, AUDIT_RECEIPT_MAX,
	    keys, &nkeys, &text, &len)) != -1)
		return rc;
	rc = 1;
	pii_errinfo_clear(&ei);
	if ((res = malloc(sizeof(*res))) == NULL)
		goto out;
	if (audit_receipt_check(text, len, keys, nkeys, res, &ei) != 0) {
		printf("FAIL: %s%s%s\n", ei.field[0] != '\0' ? ei.field : "",
		    ei.field[0] != '\0' ? ": " : "", ei.message);
		goto out;
	}
	printf("ok: request %s erased subject %s (%lld values, key under KEK "
	    "epoch %lld) at %s;\n    its audit record %llu of %s is in the log "
	    "signed at size %llu by key %s\n", res->request_id,
	    res->subject_token, res->values_erased, res->kek_epoch,
	    res->completed_at, (unsigned long long)res->proof.view.seq,
	    res->proof.cp.origin, (unsigned long long)res->proof.cp.size,
	    res->proof.cp.key_id);
	rc = 0;
out:
	free(res);
	free(text);
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
	if (strcmp(argv[1], "report") == 0)
		return cmd_report(argc - 1, argv + 1);
	if (strcmp(argv[1], "proof") == 0)
		return cmd_proof(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify-proof") == 0)
		return cmd_verify_proof(argc - 1, argv + 1);
	if (strcmp(argv[1], "verify-receipt") == 0)
		return cmd_verify_receipt(argc - 1, argv + 1);
	return usage("unknown command");
}
