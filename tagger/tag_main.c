/*
 * tag_main.c - pii-tag: the tagger's command-line tool.
 *
 *   pii-tag scan [--format csv|jsonl] [--sample N] [--out FILE] [FILE]
 *   pii-tag run --schema FILE --vault URL [--purpose P] [--manifest FILE] [IN [OUT]]
 *   pii-tag check --schema FILE [FILE]
 *
 * An output file is written through a temporary file in its directory and
 * renamed into place only when the whole run succeeded, so a failed run
 * leaves nothing at the output path.  On standard output that cannot be
 * undone: a consumer must check the exit status.
 *
 * Exit status: 0 success, 1 failure with one clear line per problem on
 * stderr, 2 usage error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/err.h"
#include "../common/keyfile.h"
#include "piitag.h"

static const char usage_text[] =
    "usage: pii-tag COMMAND [OPTIONS]\n"
    "\n"
    "  scan [--format csv|jsonl] [--sample N] [--threshold S] [--dataset NAME]\n"
    "       [--out FILE] [FILE]\n"
    "        propose a dataset schema (JSON) from the first N rows (1000; 0:\n"
    "        all): each column that looks like personal data, its category and\n"
    "        the evidence.  The proposal says \"proposed\": true; review it and\n"
    "        remove that line to commit it.\n"
    "  run --schema FILE --vault URL [--purpose P] [--manifest FILE] [IN [OUT]]\n"
    "        check the input against the schema, send tagged values to the\n"
    "        vault and write the rows with tokens in their place.  IN and OUT\n"
    "        default to stdin and stdout (\"-\").  A column that looks like\n"
    "        personal data but is neither tagged nor \"none\" fails the run\n"
    "        before anything is sent or written.  Rows of erased subjects are\n"
    "        dropped; with --purpose, rows of subjects objecting to it too.\n"
    "  check --schema FILE [FILE]\n"
    "        the same check as run, over the whole input, without the vault\n"
    "\n"
    "Options of run and check:\n"
    "  --format csv|jsonl    input format (default: the schema's, else from the\n"
    "                        file name: .jsonl/.ndjson are JSON Lines, else CSV)\n"
    "  --sample N            rows checked before anything is sent (1000)\n"
    "  --threshold S         share of sampled values that makes a column look\n"
    "                        like personal data (0.3)\n"
    "  --max-record BYTES    longest record or line accepted (1048576)\n"
    "  --batch N             rows per vault request (1000)\n"
    "  --parallel N          requests in flight (2)\n"
    "  --retries N           extra attempts per batch when the vault is\n"
    "                        unavailable (6), with doubling back-off\n"
    "  --timeout SECONDS     per request (60)\n"
    "  --run-id ID           batch ids are ID-000001, ... (default: new)\n"
    "  --token-file FILE     the service token (default: $PIIV_TAGGER_TOKEN)\n"
    "  --cert FILE --key FILE  client certificate instead of a token\n"
    "  --cacert FILE         CA of the vault (default: $PIIV_CACERT)\n"
    "  --manifest FILE       write the run's manifest (JSON) to FILE\n"
    "\n"
    "Exit status: 0 success, 1 failure, 2 usage error.\n";

enum { CMD_SCAN, CMD_RUN, CMD_CHECK };

static char tmp_path[4096];     /* removed on a signal */

static void
on_signal(int sig)
{
	if (tmp_path[0] != '\0')
		unlink(tmp_path);
	signal(sig, SIG_DFL);
	raise(sig);
}

static int
usage(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "pii-tag: %s (see pii-tag --help)\n", msg);
	else
		fputs(usage_text, stderr);
	return 2;
}

static void
print_error(const struct piitag_error *e)
{
	fprintf(stderr, "pii-tag: ");
	if (e->line > 0)
		fprintf(stderr, "line %llu%s", e->line, e->column[0] ? ", " : ": ");
	if (e->column[0] != '\0')
		fprintf(stderr, "column \"%s\": ", e->column);
	fprintf(stderr, "%s\n", e->msg[0] ? e->msg : pii_strerror(e->code));
}

static void
print_findings(const struct piitag_report *rep)
{
	size_t i;

	for (i = 0; i < rep->nfindings; i++) {
		const struct piitag_finding *f = &rep->findings[i];

		if (f->detector[0] != '\0')
			fprintf(stderr, "pii-tag: column \"%s\": looks like %s (detector "
			    "%s matched %.1f%% of %llu sampled values%s%s) but is not "
			    "tagged\n", f->column, f->category, f->detector,
			    f->share * 100.0, f->sample, f->hint[0] ? "; name hints " : "",
			    f->hint);
		else
			fprintf(stderr, "pii-tag: column \"%s\": its name hints %s but it "
			    "is not tagged\n", f->column, f->hint);
	}
	if (rep->nfindings > 0)
		fprintf(stderr, "pii-tag: tag each column in the schema, or declare it "
		    "\"none\" with a \"reason\"\n");
}

static int
parse_ull(const char *s, unsigned long long max, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (s[0] < '0' || s[0] > '9')
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v > max)
		return -1;
	*out = v;
	return 0;
}

static int
parse_share(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !(v > 0 && v <= 1))
		return -1;
	*out = v;
	return 0;
}

static int
parse_format(const char *s, enum piitag_format *fmt)
{
	if (strcmp(s, "csv") == 0)
		*fmt = PIITAG_CSV;
	else if (strcmp(s, "jsonl") == 0)
		*fmt = PIITAG_JSONL;
	else
		return -1;
	return 0;
}

static int
format_from_name(const char *name, enum piitag_format *fmt)
{
	const char *dot;

	if (name == NULL || (dot = strrchr(name, '.')) == NULL)
		return 0;
	if (strcmp(dot, ".jsonl") == 0 || strcmp(dot, ".ndjson") == 0 ||
	    strcmp(dot, ".json") == 0) {
		*fmt = PIITAG_JSONL;
		return 1;
	}
	if (strcmp(dot, ".csv") == 0) {
		*fmt = PIITAG_CSV;
		return 1;
	}
	return 0;
}

/* The options scan, run and check share: --format, --sample, --threshold,
 * --max-record.  1 if c was one of them (and its value good), 0 if not,
 * 2 (usage printed) for a bad value.  min_sample is 0 for scan ("all"). */
struct common_opts {
	enum piitag_format *format;
	int *have_fmt;
	unsigned long long *sample, min_sample;
	double *threshold;
	size_t *max_record;
};

static int
common_option(int c, const char *arg, const struct common_opts *co)
{
	unsigned long long v;

	switch (c) {
	case 'f':
		if (parse_format(arg, co->format) != 0)
			return usage("--format must be csv or jsonl");
		*co->have_fmt = 1;
		return 1;
	case 's':
		if (parse_ull(arg, 1000000000000ULL, co->sample) != 0 ||
		    *co->sample < co->min_sample)
			return usage(co->min_sample == 0 ?
			    "--sample must be a number of rows (0: all)" :
			    "--sample must be a number of rows >= 1");
		return 1;
	case 't':
		if (parse_share(arg, co->threshold) != 0)
			return usage("--threshold must be a share in (0, 1]");
		return 1;
	case 'm':
		if (parse_ull(arg, 1ULL << 30, &v) != 0 || v < 64)
			return usage("--max-record must be 64..1073741824 bytes");
		*co->max_record = (size_t)v;
		return 1;
	}
	return 0;
}

/* Read the service token from a file that only its owner can read. */
static char *
read_token_file(const char *path)
{
	struct pii_errinfo ei;
	struct stat st;
	unsigned char *buf = NULL;
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
		fprintf(stderr, "pii-tag: cannot open the token file %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	if (pii_keyfile_check(fd, "token file", path, &st, &ei) != 0) {
		fprintf(stderr, "pii-tag: %s\n", ei.message);
		close(fd);
		return NULL;
	}
	if ((buf = sodium_malloc(1025)) == NULL ||
	    pii_read_all(fd, buf, 1024, &got) != 0) {
		fprintf(stderr, "pii-tag: cannot read the token file %s\n", path);
		close(fd);
		if (buf != NULL)
			sodium_free(buf);
		return NULL;
	}
	close(fd);
	while (got > 0 && (buf[got - 1] == '\n' || buf[got - 1] == '\r' ||
	    buf[got - 1] == ' '))
		got--;
	buf[got] = '\0';
	if (got == 0) {
		fprintf(stderr, "pii-tag: the token file %s is empty\n", path);
		sodium_free(buf);
		return NULL;
	}
	return (char *)buf;
}

static char *
dup_secret(const char *s)
{
	size_t n = strlen(s);
	char *p = sodium_malloc(n + 1);

	if (p != NULL)
		memcpy(p, s, n + 1);
	return p;
}

static const char *
base_name(const char *p)
{
	const char *s = strrchr(p, '/');

	return s != NULL ? s + 1 : p;
}

/* The dataset name scan proposes: the file's base name without its
 * extension, with characters outside [A-Za-z0-9._-] made '_'. */
static void
dataset_from_file(const char *path, char *out, size_t cap)
{
	const char *b = base_name(path);
	size_t i;

	snprintf(out, cap, "%s", b);
	if (strrchr(out, '.') != NULL && strrchr(out, '.') != out)
		*strrchr(out, '.') = '\0';
	for (i = 0; out[i] != '\0'; i++)
		if (!((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z') ||
		    (out[i] >= '0' && out[i] <= '9') || out[i] == '.' || out[i] == '_' ||
		    out[i] == '-'))
			out[i] = '_';
	if (out[0] == '\0')
		snprintf(out, cap, "unnamed");
}

/* Open a temporary file beside path; its name in tmp_path. */
static FILE *
open_temp_beside(const char *path)
{
	char dir[4096], prefix[4200];
	const char *slash = strrchr(path, '/');
	int fd;
	mode_t um;
	FILE *f;

	if (slash != NULL)
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path + 1), path);
	else
		dir[0] = '\0';
	snprintf(prefix, sizeof(prefix), "%s.%s.tmp.", dir, base_name(path));
	if (pii_temp_template(tmp_path, sizeof(tmp_path), prefix) != 0) {
		fprintf(stderr, "pii-tag: the output path is too long\n");
		tmp_path[0] = '\0';
		return NULL;
	}
	if ((fd = mkostemp(tmp_path, O_CLOEXEC)) < 0) {
		fprintf(stderr, "pii-tag: cannot create a temporary file beside %s: "
		    "%s\n", path, strerror(errno));
		tmp_path[0] = '\0';
		return NULL;
	}
	um = umask(0);
	umask(um);
	(void)fchmod(fd, 0666 & ~um);
	if ((f = fdopen(fd, "wb")) == NULL) {
		close(fd);
		unlink(tmp_path);
		tmp_path[0] = '\0';
	}
	return f;
}

static int
finish_temp(FILE *f, const char *path)
{
	int ok = fflush(f) == 0 && fsync(fileno(f)) == 0;

	ok &= fclose(f) == 0;
	if (!ok || rename(tmp_path, path) != 0) {
		fprintf(stderr, "pii-tag: cannot write %s: %s\n", path, strerror(errno));
		unlink(tmp_path);
		tmp_path[0] = '\0';
		return -1;
	}
	tmp_path[0] = '\0';
	(void)pii_fsync_dir_of(path);
	return 0;
}

static void
drop_temp(FILE *f)
{
	if (f != NULL)
		fclose(f);
	if (tmp_path[0] != '\0')
		unlink(tmp_path);
	tmp_path[0] = '\0';
}

static int
cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "sample", required_argument, NULL, 's' },
		{ "threshold", required_argument, NULL, 't' },
		{ "dataset", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "max-record", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct piitag_scan_opts so;
	struct piitag_error e;
	const char *in_path = NULL, *out_path = NULL;
	char dataset[129];
	char *json = NULL;
	int c, have_fmt = 0, rc = 1;
	FILE *in = stdin, *out = NULL;
	const struct common_opts co = { &so.format, &have_fmt, &so.sample, 0,
		&so.threshold, &so.max_record };

	memset(&so, 0, sizeof(so));
	so.sample = 1000;
	so.threshold = 0.3;
	so.max_record = 1u << 20;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'f': case 's': case 't': case 'm':
			if (common_option(c, optarg, &co) != 1)
				return 2;
			break;
		case 'd':
			so.dataset = optarg;
			break;
		case 'o':
			out_path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage("unknown option");
		}
	}
	if (optind < argc)
		in_path = argv[optind++];
	if (optind < argc)
		return usage("scan takes at most one input file");
	if (in_path != NULL && strcmp(in_path, "-") != 0) {
		if (!have_fmt)
			(void)format_from_name(in_path, &so.format);
		if (so.dataset == NULL) {
			dataset_from_file(in_path, dataset, sizeof(dataset));
			so.dataset = dataset;
		}
		if ((in = fopen(in_path, "rb")) == NULL) {
			fprintf(stderr, "pii-tag: cannot open %s: %s\n", in_path,
			    strerror(errno));
			return 1;
		}
	}
	if (piitag_scan(in, &so, &json, &e) != 0) {
		print_error(&e);
		goto out;
	}
	if (out_path != NULL && strcmp(out_path, "-") != 0) {
		if ((out = open_temp_beside(out_path)) == NULL)
			goto out;
		if (fputs(json, out) < 0 || fputc('\n', out) < 0) {
			drop_temp(out);
			fprintf(stderr, "pii-tag: cannot write %s\n", out_path);
			goto out;
		}
		if (finish_temp(out, out_path) != 0)
			goto out;
	} else if (printf("%s\n", json) < 0 || fflush(stdout) != 0) {
		fprintf(stderr, "pii-tag: cannot write the schema\n");
		goto out;
	}
	rc = 0;
out:
	free(json);
	if (in != stdin)
		fclose(in);
	return rc;
}

static int
cmd_run(int argc, char **argv, int cmd)
{
	static const struct option opts[] = {
		{ "schema", required_argument, NULL, 'S' },
		{ "vault", required_argument, NULL, 'V' },
		{ "purpose", required_argument, NULL, 'p' },
		{ "manifest", required_argument, NULL, 'M' },
		{ "format", required_argument, NULL, 'f' },
		{ "sample", required_argument, NULL, 's' },
		{ "threshold", required_argument, NULL, 't' },
		{ "max-record", required_argument, NULL, 'm' },
		{ "batch", required_argument, NULL, 'b' },
		{ "parallel", required_argument, NULL, 'P' },
		{ "retries", required_argument, NULL, 'r' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "run-id", required_argument, NULL, 'R' },
		{ "token-file", required_argument, NULL, 'k' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'K' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct piitag_run_opts o;
	struct piitag_schema *schema = NULL;
	struct piitag_report rep;
	struct piitag_error e;
	const char *schema_path = NULL, *manifest_path = NULL, *token_file = NULL;
	const char *in_path = NULL, *out_path = NULL;
	unsigned long long v;
	char *token = NULL, *mjson = NULL;
	int c, have_fmt = 0, rc = 1, r;
	FILE *in = stdin, *out = NULL;
	const struct common_opts co = { &o.format, &have_fmt, &o.sample, 1,
		&o.threshold, &o.max_record };

	memset(&rep, 0, sizeof(rep));
	piitag_run_opts_init(&o);
	o.check_only = cmd == CMD_CHECK;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'S': schema_path = optarg; break;
		case 'V': o.vault.url = optarg; break;
		case 'p': o.purpose = optarg; break;
		case 'M': manifest_path = optarg; break;
		case 'R': o.run_id = optarg; break;
		case 'k': token_file = optarg; break;
		case 'c': o.vault.cert = optarg; break;
		case 'K': o.vault.key = optarg; break;
		case 'C': o.vault.cacert = optarg; break;
		case 'f': case 's': case 't': case 'm':
			if (common_option(c, optarg, &co) != 1)
				return 2;
			break;
		case 'b':
			if (parse_ull(optarg, 100000, &v) != 0 || v < 1)
				return usage("--batch must be 1..100000 rows");
			o.batch_rows = (size_t)v;
			break;
		case 'P':
			if (parse_ull(optarg, 64, &v) != 0 || v < 1)
				return usage("--parallel must be 1..64");
			o.parallel = (int)v;
			break;
		case 'r':
			if (parse_ull(optarg, 100, &v) != 0)
				return usage("--retries must be 0..100");
			o.vault.retries = (int)v;
			break;
		case 'T':
			if (parse_ull(optarg, 3600, &v) != 0 || v < 1)
				return usage("--timeout must be 1..3600 seconds");
			o.vault.timeout_ms = (long)v * 1000;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			return usage("unknown option");
		}
	}
	if (optind < argc)
		in_path = argv[optind++];
	if (optind < argc) {
		if (cmd == CMD_CHECK)
			return usage("check takes at most one input file");
		out_path = argv[optind++];
	}
	if (optind < argc)
		return usage("too many arguments");
	if (schema_path == NULL)
		return usage("--schema FILE is required");
	if (cmd == CMD_RUN) {
		if (o.vault.url == NULL)
			o.vault.url = getenv("PIIV_VAULT_URL");
		if (o.vault.url == NULL)
			return usage("--vault URL is required (or PIIV_VAULT_URL)");
		if (strncmp(o.vault.url, "https://", 8) != 0)
			return usage("--vault must be an https:// URL");
		if ((o.vault.cert == NULL) != (o.vault.key == NULL))
			return usage("--cert and --key go together");
		if (o.vault.cacert == NULL)
			o.vault.cacert = getenv("PIIV_CACERT");
		if (o.vault.cert == NULL) {
			if (token_file != NULL)
				token = read_token_file(token_file);
			else if (getenv("PIIV_TAGGER_TOKEN") != NULL)
				token = dup_secret(getenv("PIIV_TAGGER_TOKEN"));
			else
				return usage("no credentials: --token-file FILE, "
				    "PIIV_TAGGER_TOKEN, or --cert and --key");
			if (token == NULL)
				return 1;
			o.vault.token = token;
		}
	}
	if (piitag_schema_load(schema_path, &schema, &e) != 0) {
		print_error(&e);
		goto out;
	}
	o.schema = schema;
	if (!have_fmt && !piitag_schema_format(schema, &o.format))
		(void)format_from_name(in_path, &o.format);
	if (in_path != NULL && strcmp(in_path, "-") != 0 &&
	    (in = fopen(in_path, "rb")) == NULL) {
		fprintf(stderr, "pii-tag: cannot open %s: %s\n", in_path, strerror(errno));
		goto out;
	}
	if (cmd == CMD_RUN) {
		if (out_path != NULL && strcmp(out_path, "-") != 0) {
			if ((out = open_temp_beside(out_path)) == NULL)
				goto out;
		} else {
			out = stdout;
		}
	}
	r = piitag_run(&o, in, out, &rep, &e);
	if (r != 0) {
		print_error(&e);
		print_findings(&rep);
		if (out != NULL && out != stdout)
			drop_temp(out);
		out = NULL;
		if (r == PII_ERR_USAGE)
			rc = 2;
		goto out;
	}
	/* the manifest is made before the output is put in place, and a
	 * manifest that cannot be written takes the output back */
	if (manifest_path != NULL && piitag_manifest(&o, &rep,
	    in_path != NULL ? in_path : "-",
	    cmd == CMD_RUN ? (out_path != NULL ? out_path : "-") : NULL,
	    &mjson, &e) != 0) {
		print_error(&e);
		goto out;
	}
	if (out != NULL && out != stdout) {
		FILE *f = out;

		out = NULL;
		if (finish_temp(f, out_path) != 0)
			goto out;
	}
	if (manifest_path != NULL) {
		struct pii_errinfo ei;

		if (pii_write_file_atomic(manifest_path, "manifest", mjson,
		    strlen(mjson), 0, &ei) != 0) {
			fprintf(stderr, "pii-tag: %s\n", ei.message);
			if (cmd == CMD_RUN && out_path != NULL &&
			    strcmp(out_path, "-") != 0) {
				unlink(out_path);
				fprintf(stderr, "pii-tag: removed %s: a run without its "
				    "manifest is not complete\n", out_path);
			}
			goto out;
		}
	}
	if (cmd == CMD_CHECK)
		fprintf(stderr, "pii-tag: ok: %llu rows checked against the schema; "
		    "no untagged column looks like personal data\n", rep.rows_in);
	else
		fprintf(stderr, "pii-tag: %llu rows in, %llu out; %llu values "
		    "tokenized (%llu stored, %llu already held); dropped: %llu erased, "
		    "%llu objecting; %llu batch%s, %llu retr%s\n", rep.rows_in,
		    rep.rows_out, rep.values_tokenized, rep.stored, rep.existing,
		    rep.dropped_erased, rep.dropped_objection, rep.batches,
		    rep.batches == 1 ? "" : "es", rep.retries,
		    rep.retries == 1 ? "y" : "ies");
	rc = 0;
out:
	if (out != NULL && out != stdout)
		drop_temp(out);
	free(mjson);
	piitag_report_free(&rep);
	piitag_schema_free(schema);
	if (in != NULL && in != stdin)
		fclose(in);
	if (token != NULL)
		sodium_free(token);
	return rc;
}

int
main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2)
		return usage(NULL);
	cmd = argv[1];
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage_text, stdout);
		return 0;
	}
	if (sodium_init() < 0 || piitag_init() != 0) {
		fprintf(stderr, "pii-tag: cannot initialize libsodium or libcurl\n");
		return 1;
	}
	/* no zeroing allocator for jansson here: the trees pii-tag builds hold
	 * names, tokens and counts (schemas, the vault's answers, manifests),
	 * never a value from the data, which stays in the wiped batch buffers */
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGHUP, on_signal);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "scan") == 0)
		return cmd_scan(argc - 1, argv + 1);
	if (strcmp(cmd, "run") == 0)
		return cmd_run(argc - 1, argv + 1, CMD_RUN);
	if (strcmp(cmd, "check") == 0)
		return cmd_run(argc - 1, argv + 1, CMD_CHECK);
	return usage("unknown command");
}
