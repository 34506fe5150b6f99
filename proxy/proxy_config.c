/*
 * proxy_config.c - parse and check pii-proxy's JSON configuration.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "../common/config.h"
#include "../common/http.h"
#include "../common/json_util.h"
#include "proxy_config.h"

static int
parse_oidc(const json_t *v, void *dst, const char *path, struct pii_errinfo *ei)
{
#define C(field) offsetof(struct proxy_oidc, field)
	static const struct pii_cfg_field f[] = {
		{ "jwks_file", PII_CFG_STRING, C(jwks_file), 1, 0, 4096, NULL },
		{ "issuer", PII_CFG_STRING, C(issuer), 1, 0, 512, NULL },
		{ "audience", PII_CFG_STRING, C(audience), 1, 0, 512, NULL },
		{ "roles_claim", PII_CFG_STRING, C(roles_claim), 0, 0, 128, NULL },
		{ "user_claim", PII_CFG_STRING, C(user_claim), 0, 0, 128, NULL },
		{ "skew_seconds", PII_CFG_INT, C(skew_seconds), 0, 0, 600, NULL },
		{ "max_lifetime_seconds", PII_CFG_INT, C(max_lifetime_seconds), 0, 0, 7 * 86400, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
#undef C
	struct proxy_oidc *o = dst;

	o->skew_seconds = 60;
	o->max_lifetime_seconds = 86400;
	return pii_config_apply(v, f, dst, path, ei);
}

/* http://127.0.0.1, http://localhost or http://[::1], then a port or a
 * path: plain HTTP only to this host (no "localhost.example", no "@") */
static int
loopback_http(const char *url)
{
	static const char *const hosts[] = { "http://127.0.0.1", "http://localhost",
		"http://[::1]" };
	size_t i, n;

	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		n = strlen(hosts[i]);
		if (strncmp(url, hosts[i], n) == 0 &&
		    (url[n] == '\0' || url[n] == '/' || url[n] == ':') &&
		    strchr(url + n, '@') == NULL)
			return 1;
	}
	return 0;
}

static int
parse_vault(const json_t *v, void *dst, const char *path, struct pii_errinfo *ei)
{
#define C(field) offsetof(struct proxy_vault_cfg, field)
	static const struct pii_cfg_field f[] = {
		{ "url", PII_CFG_STRING, C(url), 1, 0, 1024, NULL },
		{ "ca_file", PII_CFG_STRING, C(ca_file), 0, 0, 4096, NULL },
		{ "cert_file", PII_CFG_STRING, C(cert_file), 0, 0, 4096, NULL },
		{ "key_file", PII_CFG_STRING, C(key_file), 0, 0, 4096, NULL },
		{ "token_file", PII_CFG_STRING, C(token_file), 0, 0, 4096, NULL },
		{ "connections", PII_CFG_INT, C(connections), 0, 1, 256, NULL },
		{ "timeout_ms", PII_CFG_INT, C(timeout_ms), 0, 100, 120000, NULL },
		{ "reveal_batch_max", PII_CFG_INT, C(reveal_batch_max), 0, 1, 64, NULL },
		{ "reveal_batches", PII_CFG_INT, C(reveal_batches), 0, 1, 256, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
#undef C
	struct proxy_vault_cfg *c = dst;
	char p[PII_ERR_MAX_FIELD];
	int r;

	c->connections = 16;
	c->timeout_ms = 10000;
	c->reveal_batch_max = 32;
	c->reveal_batches = 2;
	if ((r = pii_config_apply(v, f, dst, path, ei)) != 0)
		return r;
	if (c->reveal_batches > c->connections)
		return pii_errinfo_set(ei, PII_ERR_CONFIG,
		    pii_json_path_key(p, sizeof(p), path, "reveal_batches"),
		    "must not be more than connections (%lld)", c->connections);
	if (strncmp(c->url, "https://", 8) != 0 && !loopback_http(c->url))
		return pii_errinfo_set(ei, PII_ERR_CONFIG,
		    pii_json_path_key(p, sizeof(p), path, "url"),
		    "must be an https:// URL (plain http only on loopback)");
	if ((c->cert_file == NULL) != (c->key_file == NULL))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "cert_file and key_file go together");
	if (c->cert_file == NULL && c->token_file == NULL)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "needs a client certificate (cert_file, key_file) or a token_file");
	return 0;
}

static int
parse_notify(const json_t *v, void *dst, const char *path, struct pii_errinfo *ei)
{
#define C(field) offsetof(struct proxy_notify_cfg, field)
	static const struct pii_cfg_field f[] = {
		{ "file", PII_CFG_STRING, C(file), 0, 0, 4096, NULL },
		{ "url", PII_CFG_STRING, C(url), 0, 0, 1024, NULL },
		{ "ca_file", PII_CFG_STRING, C(ca_file), 0, 0, 4096, NULL },
		{ "timeout_ms", PII_CFG_INT, C(timeout_ms), 0, 100, 60000, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
#undef C
	struct proxy_notify_cfg *n = dst;
	int r;

	n->timeout_ms = 3000;
	if ((r = pii_config_apply(v, f, dst, path, ei)) != 0)
		return r;
	if (n->url != NULL && strncmp(n->url, "https://", 8) != 0 &&
	    !loopback_http(n->url))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "url must be https:// (plain http only on loopback)");
	if (n->file == NULL && n->url == NULL)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "needs a file or a url (or both)");
	return 0;
}

int
proxy_config_load(const char *path, struct proxy_config **out,
    struct pii_errinfo *ei)
{
#define C(field) offsetof(struct proxy_config, field)
	static const struct pii_cfg_field f[] = {
		{ "listen", PII_CFG_CUSTOM, C(listen), 1, 0, 0, pii_cfg_parse_listen },
		{ "admin_listen", PII_CFG_CUSTOM, C(admin_listen), 0, 0, 0, pii_cfg_parse_listen },
		{ "tls", PII_CFG_CUSTOM, C(tls_cert_file), 0, 0, 0, pii_cfg_parse_tls },
		{ "database", PII_CFG_STRING, C(database), 1, 0, 4096, NULL },
		{ "audit_database", PII_CFG_STRING, C(audit_database), 1, 0, 4096, NULL },
		{ "audit_admin_database", PII_CFG_STRING, C(audit_admin_database), 0, 0, 4096, NULL },
		{ "audit_read_database", PII_CFG_STRING, C(audit_read_database), 0, 0, 4096, NULL },
		{ "audit_signing_key_file", PII_CFG_STRING, C(audit_signing_key_file), 1, 0, 4096, NULL },
		{ "audit_witness_dir", PII_CFG_STRING, C(audit_witness_dir), 1, 0, 4096, NULL },
		{ "audit_checkpoint_records", PII_CFG_INT, C(audit_checkpoint_records), 0, 1, 10000000, NULL },
		{ "audit_checkpoint_seconds", PII_CFG_INT, C(audit_checkpoint_seconds), 0, 1, 3600, NULL },
		{ "audit_publish_window_seconds", PII_CFG_INT, C(audit_publish_window_seconds), 0, 2, 86400, NULL },
		{ "audit_wait_ms", PII_CFG_INT, C(audit_wait_ms), 0, 10, 60000, NULL },
		{ "writer", PII_CFG_STRING, C(writer), 0, 0, 63, NULL },
		{ "policy_file", PII_CFG_STRING, C(policy_file), 1, 0, 4096, NULL },
		{ "oidc", PII_CFG_CUSTOM, C(oidc), 0, 0, 0, parse_oidc },
		{ "vault", PII_CFG_CUSTOM, C(vault), 1, 0, 0, parse_vault },
		{ "breakglass_notify", PII_CFG_CUSTOM, C(notify), 0, 0, 0, parse_notify },
		{ "log_level", PII_CFG_STRING, C(log_level), 0, 0, 16, NULL },
		{ "threads", PII_CFG_INT, C(threads), 0, 1, 256, NULL },
		{ "max_connections", PII_CFG_INT, C(max_connections), 0, 1, 100000, NULL },
		{ "max_connections_per_ip", PII_CFG_INT, C(max_connections_per_ip), 0, 1, 100000, NULL },
		{ "connection_timeout_seconds", PII_CFG_INT, C(connection_timeout_seconds), 0, 1, 3600, NULL },
		{ "max_body_bytes", PII_CFG_INT, C(max_body_bytes), 0, 1024, 1LL << 20, NULL },
		{ "db_statement_timeout_ms", PII_CFG_INT, C(db_statement_timeout_ms), 0, 0, 600000, NULL },
		{ "apikey_cache_seconds", PII_CFG_INT, C(apikey_cache_seconds), 0, 0, 300, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
#undef C
	struct proxy_config *cfg = NULL;
	json_t *root = NULL;
	int r;

	if ((r = pii_config_read_file(path, &root, ei)) != 0)
		return r;
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	/* a worker waits on the vault: threads bound the requests in flight */
	cfg->threads = 16;
	cfg->max_connections = 1024;
	cfg->max_connections_per_ip = 256;
	cfg->connection_timeout_seconds = 30;
	cfg->max_body_bytes = 64 << 10;
	cfg->db_statement_timeout_ms = 10000;
	cfg->apikey_cache_seconds = 5;
	cfg->audit_checkpoint_records = 1000;
	cfg->audit_checkpoint_seconds = 10;
	cfg->audit_publish_window_seconds = 300;
	cfg->audit_wait_ms = 5000;
	if ((r = pii_config_apply(root, f, cfg, "", ei)) != 0)
		goto out;
	if (cfg->audit_checkpoint_seconds >= cfg->audit_publish_window_seconds) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_checkpoint_seconds",
		    "must be less than audit_publish_window_seconds");
		goto out;
	}
	cfg->has_admin = json_object_get(root, "admin_listen") != NULL;
	cfg->has_oidc = json_object_get(root, "oidc") != NULL;
	cfg->has_notify = json_object_get(root, "breakglass_notify") != NULL;
	if (cfg->has_oidc) {
		if (cfg->oidc.roles_claim == NULL &&
		    (cfg->oidc.roles_claim = strdup("roles")) == NULL) {
			r = PII_ERR_NOMEM;
			goto out;
		}
		if (cfg->oidc.user_claim == NULL &&
		    (cfg->oidc.user_claim = strdup("sub")) == NULL) {
			r = PII_ERR_NOMEM;
			goto out;
		}
	}
	if (cfg->writer == NULL && (cfg->writer = strdup("proxy")) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = pii_http_check_plain(cfg->tls_cert_file, cfg->listen.address,
	    cfg->has_admin ? cfg->admin_listen.address : NULL, ei)) != 0)
		goto out;
	*out = cfg;
	cfg = NULL;
	r = 0;
out:
	proxy_config_free(cfg);
	json_decref(root);
	return r;
}

void
proxy_config_free(struct proxy_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->listen.address);
	free(cfg->admin_listen.address);
	free(cfg->tls_cert_file);
	free(cfg->tls_key_file);
	free(cfg->tls_client_ca_file);
	free(cfg->database);
	free(cfg->audit_database);
	free(cfg->audit_admin_database);
	free(cfg->audit_read_database);
	free(cfg->audit_signing_key_file);
	free(cfg->audit_witness_dir);
	free(cfg->writer);
	free(cfg->policy_file);
	free(cfg->oidc.jwks_file);
	free(cfg->oidc.issuer);
	free(cfg->oidc.audience);
	free(cfg->oidc.roles_claim);
	free(cfg->oidc.user_claim);
	free(cfg->vault.url);
	free(cfg->vault.ca_file);
	free(cfg->vault.cert_file);
	free(cfg->vault.key_file);
	free(cfg->vault.token_file);
	free(cfg->notify.file);
	free(cfg->notify.url);
	free(cfg->notify.ca_file);
	free(cfg->log_level);
	free(cfg);
}
