/*
 * vault_main.c - the pii-vault command: keygen, migrate, serve, rotate-kek.
 *
 * Exit codes: 0 success, 1 failure (one clear line on stderr), 2 usage.
 */
#include <pthread.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../audit/audit_log.h"
#include "../common/json_util.h"
#include "../common/log.h"
#include "../common/pg.h"
#include "vault_config.h"
#include "vault_keys.h"
#include "vault_rotate.h"
#include "vault_server.h"
#include "vault_store.h"

static const char usage_text[] =
    "usage: pii-vault <command> [options]\n"
    "\n"
    "commands:\n"
    "  keygen --out FILE [--keystore FILE]\n"
    "        write a new random root key (mode 0600); with --keystore, also a\n"
    "        new keystore (KEK epoch 1, token key v1) wrapped by that key\n"
    "  keystore-init --config FILE\n"
    "        create the keystore named in the config, wrapped by its root key\n"
    "  migrate --config FILE\n"
    "        create or upgrade the vault and audit database schemas\n"
    "  serve --config FILE\n"
    "        run the vault (HTTPS API and admin listener) until SIGTERM\n"
    "  rotate-kek --config FILE\n"
    "        re-wrap every subject key under a new KEK epoch, then destroy the\n"
    "        old epochs, so keys in older database backups become unreadable.\n"
    "        Offline: stop every pii-vault serve of the database first\n"
    "\n"
    "options:\n"
    "  dsr-due --config FILE [--days N]\n"
    "        subject-rights requests still open that are overdue or due\n"
    "        within N days (default 7), soonest first, read from the vault\n"
    "        database (no personal data: ids, kinds, states, deadlines)\n"
    "\n"
    "  -c, --config FILE    vault configuration (JSON; see docs/operations.md)\n"
    "  -d, --days N         dsr-due: the horizon in days (0 to 3650)\n"
    "  -o, --out FILE       root key file to create\n"
    "  -k, --keystore FILE  keystore file to create\n"
    "  -h, --help           this help\n";

static int
usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

static int
die(const char *what, const struct pii_errinfo *ei)
{
	if (ei != NULL && ei->field[0] != '\0')
		fprintf(stderr, "pii-vault: %s: %s: %s\n", what, ei->field, ei->message);
	else
		fprintf(stderr, "pii-vault: %s: %s\n", what,
		    ei != NULL && ei->message[0] ? ei->message :
		    pii_strerror(ei != NULL ? ei->code : PII_ERR_INTERNAL));
	return 1;
}

static int
cmd_keygen(const char *out, const char *keystore)
{
	struct pii_errinfo ei;

	pii_errinfo_clear(&ei);
	if (vault_keys_generate_root(out, &ei) != 0)
		return die("keygen", &ei);
	printf("root key written to %s (mode 0600)\n", out);
	if (keystore != NULL) {
		if (vault_keys_keystore_init(out, keystore, &ei) != 0)
			return die("keystore", &ei);
		printf("keystore written to %s (mode 0600)\n", keystore);
	}
	return 0;
}

static int
open_all(const char *config, struct vault_config **cfg, struct vault_keys **keys,
    struct pii_errinfo *ei)
{
	int r;

	if ((r = vault_config_load(config, cfg, ei)) != 0)
		return r;
	if ((*cfg)->log_level != NULL) {
		int lv;

		if (pii_log_level_parse((*cfg)->log_level, &lv) != 0)
			return pii_errinfo_set(ei, PII_ERR_CONFIG, "log_level",
			    "must be debug, info, warn or error");
		pii_log_setup("pii-vault", lv);
	}
	if (keys != NULL && (r = vault_keys_open((*cfg)->root_key_file,
	    (*cfg)->keystore_file, keys, ei)) != 0)
		return r;
	return 0;
}

/* The audit log settings of cfg, for conninfo. */
static void
audit_config(const struct vault_config *cfg, const char *conninfo,
    int timeout_ms, struct audit_log_config *ac)
{
	memset(ac, 0, sizeof(*ac));
	ac->conninfo = conninfo;
	ac->writer = cfg->writer;
	ac->statement_timeout_ms = timeout_ms;
	ac->signing_key_file = cfg->audit_signing_key_file;
	ac->witness_dir = cfg->audit_witness_dir;
	ac->checkpoint_records = (unsigned)cfg->audit_checkpoint_records;
	ac->checkpoint_seconds = (unsigned)cfg->audit_checkpoint_seconds;
	ac->publish_window_seconds = (unsigned)cfg->audit_publish_window_seconds;
	ac->wait_ms = (unsigned)cfg->audit_wait_ms;
}

/*
 * The audit schema is migrated as the owner of the audit database
 * (audit_admin_database), who then grants the writer role of
 * audit_database INSERT and nothing else.  serve never holds the owner's
 * credentials: it only checks that the schema is current.
 */
static int
migrate_audit(const struct vault_config *cfg, struct pii_errinfo *ei)
{
	struct audit_log_config owner, writer, reader;

	audit_config(cfg, cfg->audit_admin_database != NULL ?
	    cfg->audit_admin_database : cfg->audit_database, 0, &owner);
	audit_config(cfg, cfg->audit_database, 0, &writer);
	audit_config(cfg, cfg->audit_read_database, 0, &reader);
	return audit_log_setup(&owner, cfg->audit_admin_database != NULL ?
	    &writer : NULL, cfg->audit_admin_database != NULL &&
	    cfg->audit_read_database != NULL ? &reader : NULL, ei);
}

static int
cmd_keystore_init(const char *config)
{
	struct vault_config *cfg = NULL;
	struct pii_errinfo ei;
	int rc = 1;

	pii_errinfo_clear(&ei);
	if (open_all(config, &cfg, NULL, &ei) != 0) {
		rc = die("config", &ei);
		goto out;
	}
	if (vault_keys_keystore_init(cfg->root_key_file, cfg->keystore_file, &ei) != 0) {
		rc = die("keystore", &ei);
		goto out;
	}
	printf("keystore written to %s (mode 0600)\n", cfg->keystore_file);
	rc = 0;
out:
	vault_config_free(cfg);
	return rc;
}

/* pii-vault dsr-due: what compliance must act on, for a cron job or a
 * person at a terminal. */
static int
cmd_dsr_due(const char *config, long days)
{
	struct vault_config *cfg = NULL;
	struct pii_pg *db = NULL;
	struct pii_errinfo ei;
	PGresult *res = NULL;
	PGconn *c;
	char dbuf[24];
	const char *p[1] = { dbuf };
	int rc = 1, i, overdue = 0;

	pii_errinfo_clear(&ei);
	if (vault_config_load(config, &cfg, &ei) != 0) {
		rc = die("config", &ei);
		goto out;
	}
	snprintf(dbuf, sizeof(dbuf), "%ld", days);
	if (pii_pg_new(cfg->database, "pii-vault-dsr-due", 10000, &db) != 0 ||
	    pii_pg_conn(db, &c) != 0 ||
	    pii_pg_exec(db, c, "SELECT id, kind, status,"
	    " to_char(due_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
	    " due_at < now(), floor(extract(epoch FROM due_at - now()) / 86400)::bigint,"
	    " extended_months"
	    " FROM dsr_requests WHERE status IN ('received','verified','in_progress')"
	    " AND due_at < now() + make_interval(days => $1::integer)"
	    " ORDER BY due_at, id", 1, p, &res) != 0) {
		fprintf(stderr, "pii-vault: dsr-due: cannot read the vault database: "
		    "%s\n", pii_pg_last_error());
		goto out;
	}
	if (PQntuples(res) > 0)
		printf("%-32s %-12s %-12s %-21s %s\n", "REQUEST", "KIND", "STATUS",
		    "DUE (UTC)", "");
	for (i = 0; i < PQntuples(res); i++) {
		int late = strcmp(PQgetvalue(res, i, 4), "t") == 0;
		long left = strtol(PQgetvalue(res, i, 5), NULL, 10);

		overdue += late;
		printf("%-32s %-12s %-12s %-21s %s%s\n", PQgetvalue(res, i, 0),
		    PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
		    PQgetvalue(res, i, 3), late ? "OVERDUE" : left < 1 ?
		    "due today" : "", strcmp(PQgetvalue(res, i, 6), "0") != 0 ?
		    " (extended)" : "");
	}
	printf("%d open request%s due within %ld day%s, %d overdue\n",
	    PQntuples(res), PQntuples(res) == 1 ? "" : "s", days,
	    days == 1 ? "" : "s", overdue);
	rc = 0;
out:
	PQclear(res);
	pii_pg_free(db);
	vault_config_free(cfg);
	return rc;
}

static int
cmd_migrate(const char *config)
{
	struct vault_config *cfg = NULL;
	struct vault_keys *keys = NULL;
	struct pii_pg *db = NULL;
	struct pii_errinfo ei;
	int rc = 1;

	pii_errinfo_clear(&ei);
	if (open_all(config, &cfg, &keys, &ei) != 0) {
		rc = die("startup", &ei);
		goto out;
	}
	if (pii_pg_new(cfg->database, "pii-vault", 0, &db) != 0) {
		fprintf(stderr, "pii-vault: out of memory\n");
		goto out;
	}
	if (vault_store_migrate(db, vault_keys_keystore_id(keys), &ei) != 0 ||
	    migrate_audit(cfg, &ei) != 0) {
		rc = die("migrate", &ei);
		goto out;
	}
	printf("vault and audit schemas are current\n");
	rc = 0;
out:
	pii_pg_free(db);
	vault_keys_free(keys);
	vault_config_free(cfg);
	return rc;
}

static int
cmd_serve(const char *config)
{
	struct vault_config *cfg = NULL;
	struct vault_keys *keys = NULL;
	struct vault_server vs;
	struct vault_kek_guard *guard = NULL;
	struct audit_log_config ac;
	struct pii_errinfo ei;
	sigset_t set;
	int sig = 0, rc = 1;

	memset(&vs, 0, sizeof(vs));
	pii_errinfo_clear(&ei);
	/* signals are taken by sigwait below; threads inherit the mask */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* a core dump would hold key material: none, and no ptrace by peers */
	{
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}

	if (open_all(config, &cfg, &keys, &ei) != 0) {
		rc = die("startup", &ei);
		goto out;
	}
	vs.cfg = cfg;
	vs.keys = keys;
	if (pii_pg_new(cfg->database, "pii-vault", (int)cfg->db_statement_timeout_ms,
	    &vs.db) != 0) {
		fprintf(stderr, "pii-vault: out of memory\n");
		goto out;
	}
	audit_config(cfg, cfg->audit_database, (int)cfg->db_statement_timeout_ms,
	    &ac);
	if (vault_store_migrate(vs.db, vault_keys_keystore_id(keys), &ei) != 0 ||
	    audit_log_new(&ac, &vs.audit, &ei) != 0 ||
	    audit_log_start(vs.audit, &ei) != 0) {
		rc = die("startup", &ei);
		goto out;
	}
	/* Hold the KEK rotation lock shared while serving (vault_rotate.h), so
	 * rotate-kek cannot destroy the epoch this vault wraps new keys under. */
	if (vault_kek_guard_start(cfg->database, cfg->root_key_file,
	    cfg->keystore_file, &guard) != 0) {
		fprintf(stderr, "pii-vault: out of memory\n");
		goto out;
	}
	for (;;) {
		struct timespec now = { 0, 0 };
		int held = vault_kek_guard_wait(guard, 250, &ei);

		if (held == 1)
			break;
		if (held < 0) {
			rc = die("startup", &ei);
			goto out;
		}
		/* waiting for a rotation to finish: a stop request still stops */
		sig = sigtimedwait(&set, NULL, &now);
		if (sig == SIGTERM || sig == SIGINT) {
			pii_log(PII_LOG_INFO, "event=stopping signal=%d", sig);
			rc = 0;
			goto out;
		}
	}
	/* The keys were read before the lock: a rotation may have finished in
	 * between.  Read them again now that none can run. */
	{
		struct vault_keys *fresh = NULL;

		if (vault_keys_open(cfg->root_key_file, cfg->keystore_file, &fresh,
		    &ei) != 0) {
			rc = die("startup", &ei);
			goto out;
		}
		if (strcmp(vault_keys_keystore_id(fresh),
		    vault_keys_keystore_id(keys)) != 0) {
			vault_keys_free(fresh);
			fprintf(stderr, "pii-vault: startup: keystore_file: the "
			    "keystore was replaced during startup; start again\n");
			goto out;
		}
		vault_keys_free(keys);
		keys = fresh;
		vs.keys = keys;
	}
	vault_kek_guard_note_epoch(guard, vault_keys_current_epoch(keys));
	if (vault_server_start(&vs, &ei) != 0) {
		rc = die("startup", &ei);
		goto out;
	}
	pii_log(PII_LOG_INFO, "event=started listen=%s:%u admin=%s:%u tls=%s "
	    "client_certs=%s writer=%s keystore=%s", cfg->listen.address,
	    pii_http_port(vs.api), cfg->has_admin ? cfg->admin_listen.address : "-",
	    vs.admin != NULL ? pii_http_port(vs.admin) : 0,
	    cfg->tls_cert_file != NULL ? "on" : "off",
	    cfg->tls_client_ca_file != NULL ? "on" : "off", cfg->writer,
	    vault_keys_keystore_id(keys));
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			pii_log(PII_LOG_INFO, "event=sighup action=ignored "
			    "detail=\"restart to apply configuration changes\"");
			continue;
		}
		break;
	}
	pii_log(PII_LOG_INFO, "event=stopping signal=%d", sig);
	vault_server_stop(&vs);
	audit_log_free(vs.audit);   /* a last checkpoint, published */
	vs.audit = NULL;
	rc = 0;
out:
	audit_log_free(vs.audit);
	/* the lock goes last, once nothing wraps a key any more */
	vault_kek_guard_stop(guard);
	pii_pg_free(vs.db);
	vault_keys_free(keys);
	vault_config_free(cfg);
	return rc;
}

/*
 * rotate-kek (docs/keys.md section 4).  The lock comes first and the
 * keystore after it: keys read before the lock could predate a rotation that
 * finished meanwhile, and rewriting the keystore from them would bring its
 * destroyed epoch back and lose its new one.
 */
static int
cmd_rotate_kek(const char *config)
{
	struct vault_config *cfg = NULL;
	struct vault_keys *keys = NULL;
	struct pii_pg *lockdb = NULL, *db = NULL;
	struct vault_rotate_result res;
	struct pii_errinfo ei;
	char destroyed[VAULT_ROTATE_MAX_EPOCHS * 11 + 8];
	size_t i, off = 0;
	int rc = 1;

	pii_errinfo_clear(&ei);
	memset(&res, 0, sizeof(res));
	/* key material in memory: no core dump, no ptrace by peers */
	{
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (open_all(config, &cfg, NULL, &ei) != 0) {
		rc = die("rotate-kek", &ei);
		goto out;
	}
	if (pii_pg_new(cfg->database, "pii-vault-rotate-kek", 0, &lockdb) != 0 ||
	    pii_pg_new(cfg->database, "pii-vault-rotate-kek", 0, &db) != 0) {
		fprintf(stderr, "pii-vault: out of memory\n");
		goto out;
	}
	if (vault_rotate_lock(lockdb, &ei) != 0 ||
	    vault_keys_open(cfg->root_key_file, cfg->keystore_file, &keys,
	    &ei) != 0) {
		rc = die("rotate-kek", &ei);
		goto out;
	}
	pii_log(PII_LOG_INFO, "event=rotate_kek_start keystore=%s epoch=%u",
	    vault_keys_keystore_id(keys), vault_keys_current_epoch(keys));
	if (vault_rotate_kek_run(db, keys, 0, &res, &ei) != 0) {
		rc = die("rotate-kek", &ei);
		goto out;
	}
	if (res.unreadable > 0)
		fprintf(stderr, "pii-vault: rotate-kek: %lld subject keys were "
		    "already unreadable (destroyed epoch); left as they are\n",
		    res.unreadable);
	destroyed[0] = '\0';
	for (i = 0; i < res.ndestroyed && off < sizeof(destroyed); i++)
		off += (size_t)snprintf(destroyed + off, sizeof(destroyed) - off,
		    "%s%u", i > 0 ? "," : "", res.destroyed[i]);
	printf("rotate-kek: epoch %u current; %lld subject keys re-wrapped; "
	    "destroyed epochs %s\n", res.epoch, res.rewrapped,
	    res.ndestroyed > 0 ? destroyed : "none");
	rc = 0;
out:
	vault_keys_free(keys);
	pii_pg_free(db);
	pii_pg_free(lockdb);   /* closes its connection: the lock goes last */
	vault_config_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "out", required_argument, NULL, 'o' },
		{ "keystore", required_argument, NULL, 'k' },
		{ "days", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *config = NULL, *out = NULL, *keystore = NULL;
	long days = -1;
	char *end;
	int ch;

	if (sodium_init() < 0) {
		fprintf(stderr, "pii-vault: libsodium failed to initialize\n");
		return 1;
	}
	pii_json_init();
	pii_log_setup("pii-vault", PII_LOG_INFO);
	/* once, before any thread: the DSR overdue hook uses libcurl */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "pii-vault: libcurl failed to initialize\n");
		return 1;
	}
	if (argc < 2)
		return usage(stderr, 2);
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0)
		return usage(stdout, 0);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:o:k:d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			days = strtol(optarg, &end, 10);
			if (optarg[0] == '\0' || *end != '\0' || days < 0 || days > 3650) {
				fprintf(stderr, "pii-vault: --days is a whole number "
				    "from 0 to 3650\n");
				return 2;
			}
			break;
		case 'c':
			config = optarg;
			break;
		case 'o':
			out = optarg;
			break;
		case 'k':
			keystore = optarg;
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 2);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "pii-vault: unexpected argument\n");
		return usage(stderr, 2);
	}
	if (strcmp(cmd, "keygen") == 0) {
		if (out == NULL || config != NULL) {
			fprintf(stderr, "pii-vault: keygen needs --out FILE\n");
			return 2;
		}
		return cmd_keygen(out, keystore);
	}
	if (days >= 0 && strcmp(cmd, "dsr-due") != 0) {
		fprintf(stderr, "pii-vault: --days is an option of dsr-due only\n");
		return 2;
	}
	if (config == NULL || out != NULL || keystore != NULL) {
		fprintf(stderr, "pii-vault: %s needs --config FILE (and nothing else)\n",
		    cmd);
		return 2;
	}
	if (strcmp(cmd, "keystore-init") == 0)
		return cmd_keystore_init(config);
	if (strcmp(cmd, "migrate") == 0)
		return cmd_migrate(config);
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(config);
	if (strcmp(cmd, "rotate-kek") == 0)
		return cmd_rotate_kek(config);
	if (strcmp(cmd, "dsr-due") == 0)
		return cmd_dsr_due(config, days < 0 ? 7 : days);
	fprintf(stderr, "pii-vault: unknown command '%s'\n", cmd);
	return usage(stderr, 2);
}
