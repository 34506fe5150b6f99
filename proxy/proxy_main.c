/*
 * proxy_main.c - the pii-proxy command: migrate, serve, apikey.
 *
 * Exit codes: 0 success, 1 failure (one clear line on stderr), 2 usage.
 * SIGHUP makes a running proxy reload its policy and JWKS atomically; a
 * bad file keeps the old ones and the log says why.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../common/json_util.h"
#include "../common/log.h"
#include "proxy_server.h"

static const char usage_text[] =
    "usage: pii-proxy <command> [options]\n"
    "\n"
    "commands:\n"
    "  migrate --config FILE\n"
    "        create or upgrade the proxy database and the audit schema\n"
    "  serve --config FILE\n"
    "        run the proxy (HTTPS API and admin listener) until SIGTERM;\n"
    "        SIGHUP reloads the policy and the JWKS\n"
    "  apikey create --user U --role R [--config FILE]\n"
    "        make an API key for person U with role R (a role of the policy)\n"
    "        and print it once; only its hash is stored\n"
    "  apikey list [--config FILE]\n"
    "  apikey revoke ID [--config FILE]\n"
    "\n"
    "options:\n"
    "  -c, --config FILE    proxy configuration (JSON; see docs/proxy.md);\n"
    "                       default $PIIV_PROXY_CONFIG\n"
    "  -u, --user U         the person the key is for (as recorded in audit)\n"
    "  -r, --role R         the role the key carries\n"
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
		fprintf(stderr, "pii-proxy: %s: %s: %s\n", what, ei->field, ei->message);
	else
		fprintf(stderr, "pii-proxy: %s: %s\n", what,
		    ei != NULL && ei->message[0] ? ei->message :
		    pii_strerror(ei != NULL ? ei->code : PII_ERR_INTERNAL));
	return 1;
}

static int
open_config(const char *path, struct proxy_config **cfg, struct pii_errinfo *ei)
{
	int r;

	if ((r = proxy_config_load(path, cfg, ei)) != 0)
		return r;
	if ((*cfg)->log_level != NULL) {
		int lv;

		if (pii_log_level_parse((*cfg)->log_level, &lv) != 0)
			return pii_errinfo_set(ei, PII_ERR_CONFIG, "log_level",
			    "must be debug, info, warn or error");
		pii_log_setup("pii-proxy", lv);
	}
	return 0;
}

static void
audit_config(const struct proxy_config *cfg, const char *conninfo,
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

/* As the vault does: the audit owner migrates and grants the proxy's
 * writer role INSERT and nothing else. */
static int
migrate_audit(const struct proxy_config *cfg, struct pii_errinfo *ei)
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
cmd_migrate(const char *config)
{
	struct proxy_config *cfg = NULL;
	struct proxy_store *st = NULL;
	struct pii_errinfo ei;
	int rc = 1;

	pii_errinfo_clear(&ei);
	if (open_config(config, &cfg, &ei) != 0) {
		rc = die("config", &ei);
		goto out;
	}
	if (proxy_store_new(cfg->database, 0, &st, &ei) != 0 ||
	    proxy_store_migrate(st, &ei) != 0 || migrate_audit(cfg, &ei) != 0) {
		rc = die("migrate", &ei);
		goto out;
	}
	printf("proxy and audit schemas are current\n");
	rc = 0;
out:
	proxy_store_free(st);
	proxy_config_free(cfg);
	return rc;
}

static int
cmd_apikey(const char *config, int argc, char **argv, const char *user,
    const char *role)
{
	struct proxy_config *cfg = NULL;
	struct proxy_store *st = NULL;
	struct pol_policy *pol = NULL;
	struct pii_errinfo ei;
	const char *sub;
	int rc = 1;

	pii_errinfo_clear(&ei);
	if (argc < 1) {
		fprintf(stderr, "pii-proxy: apikey needs create, list or revoke\n");
		return usage(stderr, 2);
	}
	sub = argv[0];
	if (strcmp(sub, "create") == 0) {
		if (user == NULL || role == NULL || argc != 1) {
			fprintf(stderr, "pii-proxy: apikey create needs --user U --role R\n");
			return 2;
		}
	} else if (strcmp(sub, "list") == 0) {
		if (argc != 1 || user != NULL || role != NULL) {
			fprintf(stderr, "pii-proxy: apikey list takes no arguments\n");
			return 2;
		}
	} else if (strcmp(sub, "revoke") == 0) {
		if (argc != 2 || user != NULL || role != NULL) {
			fprintf(stderr, "pii-proxy: apikey revoke needs one key id\n");
			return 2;
		}
	} else {
		fprintf(stderr, "pii-proxy: unknown apikey command '%s'\n", sub);
		return usage(stderr, 2);
	}
	if (open_config(config, &cfg, &ei) != 0) {
		rc = die("config", &ei);
		goto out;
	}
	if (proxy_store_new(cfg->database, 0, &st, &ei) != 0 ||
	    proxy_store_open(st, &ei) != 0) {
		rc = die("database", &ei);
		goto out;
	}
	if (strcmp(sub, "create") == 0) {
		char key[PROXY_APIKEY_MAX + 1], id[PROXY_ID_MAX];

		if (pol_load_file(cfg->policy_file, &pol, &ei) != 0) {
			rc = die("policy", &ei);
			goto out;
		}
		if (!pol_role_known(pol, role)) {
			fprintf(stderr, "pii-proxy: apikey: role '%s' is not in the "
			    "policy %s\n", role, cfg->policy_file);
			goto out;
		}
		if (proxy_apikey_create(st, user, role, key, sizeof(key), id, &ei) != 0) {
			rc = die("apikey", &ei);
			goto out;
		}
		printf("%s\n", key);
		fflush(stdout);
		sodium_memzero(key, sizeof(key));
		fprintf(stderr, "pii-proxy: API key %s for %s (role %s): shown once, "
		    "stored only as a hash\n", id, user, role);
	} else if (strcmp(sub, "list") == 0) {
		json_t *list = NULL;
		char *s = NULL;
		size_t n = 0;

		if (proxy_apikey_list(st, &list, &ei) != 0) {
			rc = die("apikey", &ei);
			goto out;
		}
		if (pii_json_dump(list, &s, &n) == 0) {
			printf("%s\n", s);
			pii_json_free_str(s);
		}
		json_decref(list);
	} else {
		if (proxy_apikey_revoke(st, argv[1], &ei) != 0) {
			rc = die("apikey", &ei);
			goto out;
		}
		printf("API key %s revoked\n", argv[1]);
	}
	rc = 0;
out:
	pol_free(pol);
	proxy_store_free(st);
	proxy_config_free(cfg);
	return rc;
}

static int
cmd_serve(const char *config)
{
	struct proxy_config *cfg = NULL;
	struct proxy_server ps;
	struct audit_log_config ac;
	struct pii_errinfo ei;
	sigset_t set;
	int sig = 0, rc = 1;

	memset(&ps, 0, sizeof(ps));
	pthread_mutex_init(&ps.rules_mu, NULL);
	pthread_mutex_init(&ps.notify_mu, NULL);
	pii_errinfo_clear(&ei);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* a core dump would hold PII in flight: none, and no ptrace by peers */
	{
		struct rlimit nocore = { 0, 0 };

		setrlimit(RLIMIT_CORE, &nocore);
		prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	}
	if (open_config(config, &cfg, &ei) != 0) {
		rc = die("startup", &ei);
		goto out;
	}
	ps.cfg = cfg;
	if (proxy_rules_load(cfg, &ps.rules, &ei) != 0) {
		rc = die("startup", &ei);
		goto out;
	}
	audit_config(cfg, cfg->audit_database, (int)cfg->db_statement_timeout_ms,
	    &ac);
	if (proxy_store_new(cfg->database, (int)cfg->db_statement_timeout_ms,
	    &ps.store, &ei) != 0 || proxy_store_open(ps.store, &ei) != 0 ||
	    proxy_vault_new(&cfg->vault, &ps.vault, &ei) != 0 ||
	    proxy_cache_new(4096, cfg->apikey_cache_seconds * 1000, &ps.keys) != 0 ||
	    proxy_cache_new(65536, PROXY_SEEN_TTL_MS, &ps.seen) != 0 ||
	    audit_log_new(&ac, &ps.audit, &ei) != 0 ||
	    audit_log_start(ps.audit, &ei) != 0 ||
	    (cfg->audit_read_database != NULL &&
	    audit_log_check_reader(cfg->audit_read_database, &ei) != 0) ||
	    proxy_server_start(&ps, &ei) != 0) {
		rc = die("startup", &ei);
		goto out;
	}
	pii_log(PII_LOG_INFO, "event=started listen=%s:%u admin=%s:%u tls=%s "
	    "writer=%s oidc=%s breakglass_notify=%s", cfg->listen.address,
	    pii_http_port(ps.api), cfg->has_admin ? cfg->admin_listen.address : "-",
	    ps.admin != NULL ? pii_http_port(ps.admin) : 0,
	    cfg->tls_cert_file != NULL ? "on" : "off", cfg->writer,
	    cfg->has_oidc ? "on" : "off", cfg->has_notify ? "on" : "off");
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			pii_errinfo_clear(&ei);
			if (proxy_reload(&ps, &ei) == 0)
				pii_log(PII_LOG_INFO, "event=policy_reloaded file=%s",
				    cfg->policy_file);
			else
				pii_log(PII_LOG_ERROR, "event=policy_reload_failed "
				    "detail=\"%s%s%s\" action=kept_previous",
				    ei.field, ei.field[0] != '\0' ? ": " : "",
				    ei.message[0] != '\0' ? ei.message :
				    pii_strerror(ei.code));
			continue;
		}
		break;
	}
	pii_log(PII_LOG_INFO, "event=stopping signal=%d", sig);
	proxy_server_stop(&ps);
	audit_log_free(ps.audit);   /* a last checkpoint, published */
	ps.audit = NULL;
	rc = 0;
out:
	proxy_server_stop(&ps);
	audit_log_free(ps.audit);
	proxy_vault_free(ps.vault);
	proxy_cache_free(ps.keys);
	proxy_cache_free(ps.seen);
	proxy_store_free(ps.store);
	proxy_rules_put(ps.rules);
	proxy_config_free(cfg);
	return rc;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "user", required_argument, NULL, 'u' },
		{ "role", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd, *config = NULL, *user = NULL, *role = NULL;
	int ch, rc;

	if (sodium_init() < 0) {
		fprintf(stderr, "pii-proxy: libsodium failed to initialize\n");
		return 1;
	}
	pii_json_init();
	pii_log_setup("pii-proxy", PII_LOG_INFO);
	if (argc < 2)
		return usage(stderr, 2);
	cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0)
		return usage(stdout, 0);
	optind = 2;
	while ((ch = getopt_long(argc, argv, "c:u:r:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			config = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case 'r':
			role = optarg;
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			return usage(stderr, 2);
		}
	}
	if (config == NULL)
		config = getenv("PIIV_PROXY_CONFIG");
	if (config == NULL) {
		fprintf(stderr, "pii-proxy: %s needs --config FILE (or PIIV_PROXY_CONFIG)\n",
		    cmd);
		return 2;
	}
	if (strcmp(cmd, "apikey") == 0)
		return cmd_apikey(config, argc - optind, argv + optind, user, role);
	if (optind != argc || user != NULL || role != NULL) {
		fprintf(stderr, "pii-proxy: %s takes only --config FILE\n", cmd);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
		fprintf(stderr, "pii-proxy: libcurl failed to initialize\n");
		return 1;
	}
	if (strcmp(cmd, "migrate") == 0)
		rc = cmd_migrate(config);
	else if (strcmp(cmd, "serve") == 0)
		rc = cmd_serve(config);
	else {
		fprintf(stderr, "pii-proxy: unknown command '%s'\n", cmd);
		rc = usage(stderr, 2);
	}
	curl_global_cleanup();
	return rc;
}
