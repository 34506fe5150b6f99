/*
 * vault_config.c - parse and check pii-vault's JSON configuration.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../common/config.h"
#include "../common/http.h"
#include "../common/json_util.h"
#include "vault_config.h"

static const struct {
	const char *name;
	unsigned int bit;
} op_names[] = {
	{ "tokenize", VAULT_OP_TOKENIZE },
	{ "reveal", VAULT_OP_REVEAL },
	{ "detokenize", VAULT_OP_DETOKENIZE },
	{ "resolve", VAULT_OP_RESOLVE },
	{ "subject", VAULT_OP_SUBJECT },
	{ "objections", VAULT_OP_OBJECTIONS },
	{ "dsr", VAULT_OP_DSR },
	{ "erasures", VAULT_OP_ERASURES },
};

const char *
vault_op_name(unsigned int op)
{
	size_t i;

	for (i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (op_names[i].bit == op)
			return op_names[i].name;
	return "unknown";
}

static int
parse_custom_categories(const json_t *v, void *dst, const char *path,
    struct pii_errinfo *ei)
{
	struct vault_categories *cats = dst;
	char p[PII_ERR_MAX_FIELD];
	size_t i, j;

	if (!json_is_array(v))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path, "must be an array");
	if (json_array_size(v) > VAULT_MAX_CUSTOM_CATEGORIES)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "at most %d custom categories", VAULT_MAX_CUSTOM_CATEGORIES);
	for (i = 0; i < json_array_size(v); i++) {
		const json_t *e = json_array_get(v, i);
		const char *name;

		pii_json_path_index(p, sizeof(p), path, i);
		if (!json_is_string(e))
			return pii_errinfo_set(ei, PII_ERR_CONFIG, p, "must be a string");
		name = json_string_value(e);
		if (vault_category_name_valid(name) != 0)
			return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
			    "must match [a-z][a-z0-9_]{0,30} and not be a built-in category");
		for (j = 0; j < cats->ncustom; j++)
			if (strcmp(cats->custom[j], name) == 0)
				return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
				    "listed twice");
		snprintf(cats->custom[cats->ncustom++], VAULT_CATEGORY_MAX, "%s", name);
	}
	return 0;
}

static int
parse_country_code(const json_t *v, void *dst, const char *path,
    struct pii_errinfo *ei)
{
	struct vault_categories *cats = dst;
	const char *s;
	size_t n;

	if (!json_is_string(v))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path, "must be a string");
	s = json_string_value(v);
	n = strlen(s);
	if (n < 1 || n > 3 || strspn(s, "0123456789") != n || s[0] == '0')
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "must be a country calling code of 1 to 3 digits, e.g. \"82\"");
	snprintf(cats->default_country_code, sizeof(cats->default_country_code),
	    "%s", s);
	return 0;
}

struct identity_raw {
	char *name, *token_sha256, *cert_name;
	json_t *ops;
};

static int
parse_ops(const json_t *v, void *dst, const char *path, struct pii_errinfo *ei)
{
	(void)path;
	(void)ei;
	*(const json_t **)dst = v;
	return 0;
}

static int
parse_identities(const json_t *v, void *dst, const char *path,
    struct pii_errinfo *ei)
{
	static const struct pii_cfg_field f[] = {
		{ "name", PII_CFG_STRING, offsetof(struct identity_raw, name), 1, 0, 63, NULL },
		{ "token_sha256", PII_CFG_STRING, offsetof(struct identity_raw, token_sha256), 0, 0, 64, NULL },
		{ "cert_name", PII_CFG_STRING, offsetof(struct identity_raw, cert_name), 0, 0, 127, NULL },
		{ "operations", PII_CFG_CUSTOM, offsetof(struct identity_raw, ops), 1, 0, 0, parse_ops },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
	struct vault_config *cfg = (struct vault_config *)((char *)dst -
	    offsetof(struct vault_config, identities));
	char p[PII_ERR_MAX_FIELD], q[PII_ERR_MAX_FIELD];
	size_t i, j, k;
	int r = 0;

	if (!json_is_array(v))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path, "must be an array");
	if (json_array_size(v) > VAULT_MAX_IDENTITIES)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "at most %d identities", VAULT_MAX_IDENTITIES);
	for (i = 0; i < json_array_size(v) && r == 0; i++) {
		struct identity_raw raw = { 0 };
		struct vault_identity *id = &cfg->identities[cfg->nidentities];

		pii_json_path_index(p, sizeof(p), path, i);
		r = pii_config_apply(json_array_get(v, i), f, &raw, p, ei);
		if (r != 0)
			goto next;
		snprintf(id->name, sizeof(id->name), "%s", raw.name);
		if (strcmp(id->name, "dsr-executor") == 0 ||
		    strcmp(id->name, "anonymous") == 0) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG,
			    pii_json_path_key(q, sizeof(q), p, "name"),
			    "\"%s\" is reserved (the audit log uses it)", id->name);
			goto next;
		}
		for (j = 0; j < cfg->nidentities; j++)
			if (strcmp(cfg->identities[j].name, id->name) == 0) {
				r = pii_errinfo_set(ei, PII_ERR_CONFIG,
				    pii_json_path_key(q, sizeof(q), p, "name"),
				    "identity listed twice");
				goto next;
			}
		if (raw.token_sha256 != NULL) {
			size_t bl = 0;

			if (strlen(raw.token_sha256) != 64 ||
			    sodium_hex2bin(id->token_hash, sizeof(id->token_hash),
			    raw.token_sha256, 64, NULL, &bl, NULL) != 0 || bl != 32) {
				r = pii_errinfo_set(ei, PII_ERR_CONFIG,
				    pii_json_path_key(q, sizeof(q), p, "token_sha256"),
				    "must be 64 hex digits (SHA-256 of the token)");
				goto next;
			}
			id->has_token = 1;
		}
		if (raw.cert_name != NULL)
			snprintf(id->cert_name, sizeof(id->cert_name), "%s", raw.cert_name);
		if (!id->has_token && id->cert_name[0] == '\0') {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, p,
			    "an identity needs token_sha256 or cert_name");
			goto next;
		}
		pii_json_path_key(q, sizeof(q), p, "operations");
		if (!json_is_array(raw.ops)) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, q, "must be an array");
			goto next;
		}
		for (j = 0; j < json_array_size(raw.ops); j++) {
			const char *name = json_string_value(json_array_get(raw.ops, j));
			int found = 0;

			for (k = 0; name != NULL && k < sizeof(op_names) / sizeof(op_names[0]); k++)
				if (strcmp(name, op_names[k].name) == 0) {
					id->ops |= op_names[k].bit;
					found = 1;
				}
			if (!found) {
				char e[PII_ERR_MAX_FIELD];

				r = pii_errinfo_set(ei, PII_ERR_CONFIG,
				    pii_json_path_index(e, sizeof(e), q, j),
				    "unknown operation (tokenize, reveal, detokenize, "
				    "resolve, subject, objections, dsr, erasures)");
				goto next;
			}
		}
		cfg->nidentities++;
next:
		free(raw.name);
		if (raw.token_sha256 != NULL)
			sodium_memzero(raw.token_sha256, strlen(raw.token_sha256));
		free(raw.token_sha256);
		free(raw.cert_name);
	}
	return r;
}

/* https://..., or http:// to a loopback host, as libcurl parses the URL
 * (a prefix test would pass http://127.0.0.1@elsewhere/). */
static int
notify_url_ok(const char *url)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	int ok = 0;

	if (u == NULL)
		return 0;
	if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		ok = strcmp(scheme, "https") == 0 || (strcmp(scheme, "http") == 0 &&
		    (strcmp(host, "127.0.0.1") == 0 || strcmp(host, "[::1]") == 0 ||
		    strcmp(host, "localhost") == 0));
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return ok;
}

struct top {
	struct vault_config *cfg;
};

int
vault_config_load(const char *path, struct vault_config **out,
    struct pii_errinfo *ei)
{
#define C(field) offsetof(struct vault_config, field)
	static const struct pii_cfg_field f[] = {
		{ "listen", PII_CFG_CUSTOM, C(listen), 1, 0, 0, pii_cfg_parse_listen },
		{ "admin_listen", PII_CFG_CUSTOM, C(admin_listen), 0, 0, 0, pii_cfg_parse_listen },
		{ "tls", PII_CFG_CUSTOM, C(tls_cert_file), 0, 0, 0, pii_cfg_parse_tls },
		{ "root_key_file", PII_CFG_STRING, C(root_key_file), 1, 0, 4096, NULL },
		{ "keystore_file", PII_CFG_STRING, C(keystore_file), 1, 0, 4096, NULL },
		{ "database", PII_CFG_STRING, C(database), 1, 0, 4096, NULL },
		{ "audit_database", PII_CFG_STRING, C(audit_database), 1, 0, 4096, NULL },
		{ "audit_admin_database", PII_CFG_STRING, C(audit_admin_database), 0, 0, 4096, NULL },
		{ "audit_signing_key_file", PII_CFG_STRING, C(audit_signing_key_file), 1, 0, 4096, NULL },
		{ "audit_witness_dir", PII_CFG_STRING, C(audit_witness_dir), 1, 0, 4096, NULL },
		{ "audit_checkpoint_records", PII_CFG_INT, C(audit_checkpoint_records), 0, 1, 10000000, NULL },
		{ "audit_checkpoint_seconds", PII_CFG_INT, C(audit_checkpoint_seconds), 0, 1, 3600, NULL },
		{ "audit_publish_window_seconds", PII_CFG_INT, C(audit_publish_window_seconds), 0, 2, 86400, NULL },
		{ "audit_wait_ms", PII_CFG_INT, C(audit_wait_ms), 0, 10, 60000, NULL },
		{ "writer", PII_CFG_STRING, C(writer), 0, 0, 63, NULL },
		{ "log_level", PII_CFG_STRING, C(log_level), 0, 0, 16, NULL },
		{ "threads", PII_CFG_INT, C(threads), 0, 1, 256, NULL },
		{ "max_connections", PII_CFG_INT, C(max_connections), 0, 1, 100000, NULL },
		{ "max_connections_per_ip", PII_CFG_INT, C(max_connections_per_ip), 0, 1, 100000, NULL },
		{ "connection_timeout_seconds", PII_CFG_INT, C(connection_timeout_seconds), 0, 1, 3600, NULL },
		{ "max_body_bytes", PII_CFG_INT, C(max_body_bytes), 0, 1024, 256LL << 20, NULL },
		{ "max_small_body_bytes", PII_CFG_INT, C(max_small_body_bytes), 0, 1024, 16LL << 20, NULL },
		{ "max_batch_records", PII_CFG_INT, C(max_batch_records), 0, 1, 1000000, NULL },
		{ "max_value_bytes", PII_CFG_INT, C(max_value_bytes), 0, 16, 65536, NULL },
		{ "max_json_depth", PII_CFG_INT, C(max_json_depth), 0, 4, 64, NULL },
		{ "db_statement_timeout_ms", PII_CFG_INT, C(db_statement_timeout_ms), 0, 0, 600000, NULL },
		{ "phone_default_country_code", PII_CFG_CUSTOM, C(categories), 0, 0, 0, parse_country_code },
		{ "custom_categories", PII_CFG_CUSTOM, C(categories), 0, 0, 0, parse_custom_categories },
		{ "identities", PII_CFG_CUSTOM, C(identities), 1, 0, 0, parse_identities },
		{ "audit_read_database", PII_CFG_STRING, C(audit_read_database), 0, 0, 4096, NULL },
		{ "dsr_deadline_days", PII_CFG_INT, C(dsr_deadline_days), 0, 0, 31, NULL },
		{ "dsr_workers", PII_CFG_INT, C(dsr_workers), 0, 0, 64, NULL },
		{ "dsr_poll_seconds", PII_CFG_INT, C(dsr_poll_seconds), 0, 1, 3600, NULL },
		{ "dsr_overdue_check_seconds", PII_CFG_INT, C(dsr_overdue_check_seconds), 0, 1, 86400, NULL },
		{ "dsr_notify_file", PII_CFG_STRING, C(dsr_notify_file), 0, 0, 4096, NULL },
		{ "dsr_notify_url", PII_CFG_STRING, C(dsr_notify_url), 0, 0, 4096, NULL },
		{ "dsr_notify_cacert", PII_CFG_STRING, C(dsr_notify_cacert), 0, 0, 4096, NULL },
		{ "dsr_verify_by_another", PII_CFG_BOOL, C(dsr_verify_by_another), 0, 0, 0, NULL },
		{ "export_max_history", PII_CFG_INT, C(export_max_history), 0, 1, 1000000, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};
#undef C
	struct vault_config *cfg = NULL;
	json_t *root = NULL;
	int r;

	if ((r = pii_config_read_file(path, &root, ei)) != 0)
		return r;
	cfg = calloc(1, sizeof(*cfg));
	if (cfg == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	cfg->threads = 8;
	cfg->max_connections = 1024;
	cfg->max_connections_per_ip = 256;
	cfg->connection_timeout_seconds = 30;
	cfg->max_body_bytes = 8 << 20;
	cfg->max_small_body_bytes = 64 << 10;
	cfg->max_batch_records = 10000;
	cfg->max_value_bytes = 1024;
	cfg->max_json_depth = 16;
	cfg->db_statement_timeout_ms = 10000;
	cfg->audit_checkpoint_records = 1000;
	cfg->audit_checkpoint_seconds = 10;
	cfg->audit_publish_window_seconds = 300;
	cfg->audit_wait_ms = 5000;
	cfg->dsr_workers = 2;
	cfg->dsr_poll_seconds = 5;
	cfg->dsr_overdue_check_seconds = 60;
	cfg->export_max_history = 10000;
	if ((r = pii_config_apply(root, f, cfg, "", ei)) != 0)
		goto out;
	if (cfg->audit_checkpoint_seconds >= cfg->audit_publish_window_seconds) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_checkpoint_seconds",
		    "must be less than audit_publish_window_seconds");
		goto out;
	}
	if (cfg->dsr_notify_url != NULL && !notify_url_ok(cfg->dsr_notify_url)) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "dsr_notify_url",
		    "must be an https:// URL (plain http only to a loopback host)");
		goto out;
	}
	cfg->has_admin = json_object_get(root, "admin_listen") != NULL;
	if (cfg->writer == NULL && (cfg->writer = strdup("vault")) == NULL) {
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
	vault_config_free(cfg);
	json_decref(root);
	return r;
}

void
vault_config_free(struct vault_config *cfg)
{
	if (cfg == NULL)
		return;
	free(cfg->listen.address);
	free(cfg->admin_listen.address);
	free(cfg->tls_cert_file);
	free(cfg->tls_key_file);
	free(cfg->tls_client_ca_file);
	free(cfg->root_key_file);
	free(cfg->keystore_file);
	free(cfg->database);
	free(cfg->audit_database);
	free(cfg->audit_admin_database);
	free(cfg->audit_signing_key_file);
	free(cfg->audit_witness_dir);
	free(cfg->writer);
	free(cfg->log_level);
	free(cfg->audit_read_database);
	free(cfg->dsr_notify_file);
	free(cfg->dsr_notify_url);
	free(cfg->dsr_notify_cacert);
	sodium_memzero(cfg->identities, sizeof(cfg->identities));
	free(cfg);
}
