/*
 * proxy_config.h - pii-proxy's JSON configuration.
 *
 * Everything the proxy needs to be the one door for people: its listener
 * and TLS, its own database (API keys, grants, rate counts), the audit log
 * it writes its own decisions to, the policy file, the identity provider
 * (JWKS, issuer, audience), the vault and how to reach it, and where
 * break-glass notifications go.  Strict: unknown keys are errors naming
 * their JSON path.  Format: docs/proxy.md.
 */
#ifndef PROXY_CONFIG_H
#define PROXY_CONFIG_H

#include "../common/err.h"

#include "../common/config.h"



struct proxy_oidc {
	char *jwks_file, *issuer, *audience, *roles_claim, *user_claim;
	long long skew_seconds, max_lifetime_seconds;
};

struct proxy_vault_cfg {
	char *url;                    /* https://vault:8443 */
	char *ca_file;                /* the CA that signed the vault's certificate */
	char *cert_file, *key_file;   /* the proxy's client certificate */
	char *token_file;             /* or a service token (file of mode 0600) */
	long long connections;        /* keep-alive pool size */
	long long timeout_ms;
	long long reveal_batch_max;   /* reveals gathered into one vault call (1: none) */
	long long reveal_batches;     /* such calls in flight at once */
};

struct proxy_notify_cfg {
	char *file;                   /* append one JSON line per event */
	char *url;                    /* POST the same JSON */
	char *ca_file;                /* for an https url; default: system CAs */
	long long timeout_ms;
};

struct proxy_config {
	struct pii_cfg_listen listen, admin_listen;
	int has_admin;
	char *tls_cert_file, *tls_key_file, *tls_client_ca_file;
	char *database;               /* the proxy's own database */
	char *audit_database;
	char *audit_admin_database;   /* migrate only: the audit owner */
	char *audit_read_database;    /* GET /v1/audit: a role that may SELECT */
	char *audit_signing_key_file;
	char *audit_witness_dir;
	long long audit_checkpoint_records, audit_checkpoint_seconds;
	long long audit_publish_window_seconds, audit_wait_ms;
	char *writer;
	char *policy_file;
	int has_oidc;
	struct proxy_oidc oidc;
	struct proxy_vault_cfg vault;
	int has_notify;
	struct proxy_notify_cfg notify;
	char *log_level;
	long long threads, max_connections, max_connections_per_ip;
	long long connection_timeout_seconds, max_body_bytes;
	long long db_statement_timeout_ms;
	long long apikey_cache_seconds;   /* how long a verified key is trusted */
};

/* Load and check path.  *out is new; proxy_config_free accepts NULL. */
int proxy_config_load(const char *path, struct proxy_config **out,
    struct pii_errinfo *ei);
void proxy_config_free(struct proxy_config *cfg);

#endif
