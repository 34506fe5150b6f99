/*
 * vault_config.h - pii-vault's configuration file (JSON, strict).
 *
 * See docs/operations.md for every key.  Unknown keys, wrong types and
 * out-of-range numbers are refused with the JSON path of the culprit.
 */
#ifndef VAULT_CONFIG_H
#define VAULT_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "vault_normalize.h"

#define VAULT_MAX_IDENTITIES 32

/* Operations a service identity may be allowed. */
enum vault_op {
	VAULT_OP_TOKENIZE = 1 << 0,
	VAULT_OP_REVEAL = 1 << 1,
	VAULT_OP_DETOKENIZE = 1 << 2,
	VAULT_OP_RESOLVE = 1 << 3,
	VAULT_OP_SUBJECT = 1 << 4,
	VAULT_OP_OBJECTIONS = 1 << 5,
	VAULT_OP_DSR = 1 << 6,
	VAULT_OP_ERASURES = 1 << 7,
};

struct vault_identity {
	char name[64];
	unsigned char token_hash[32];   /* SHA-256 of the bearer token */
	int has_token;
	char cert_name[128];            /* client certificate CN, or "" */
	unsigned int ops;               /* enum vault_op bits */
};

#include "../common/config.h"



struct vault_config {
	struct pii_cfg_listen listen;
	struct pii_cfg_listen admin_listen;
	int has_admin;
	char *tls_cert_file, *tls_key_file, *tls_client_ca_file;
	char *root_key_file;
	char *keystore_file;
	char *database;
	char *audit_database;
	char *audit_admin_database;        /* migrate only: the owner */
	char *audit_signing_key_file;
	char *audit_witness_dir;
	long long audit_checkpoint_records;
	long long audit_checkpoint_seconds;
	long long audit_publish_window_seconds;
	long long audit_wait_ms;
	char *writer;
	char *log_level;
	long long threads;
	long long max_connections;
	long long max_connections_per_ip;
	long long connection_timeout_seconds;
	long long max_body_bytes;          /* batch endpoints */
	long long max_small_body_bytes;    /* everything else */
	long long max_batch_records;
	long long max_value_bytes;
	long long max_json_depth;
	long long db_statement_timeout_ms;
	char *audit_read_database;         /* SELECT on the audit tables: export
	                                    * access history, erasure receipts */
	long long dsr_deadline_days;       /* 0: one calendar month */
	long long dsr_workers;             /* executor threads; 0: none */
	long long dsr_poll_seconds;
	long long dsr_overdue_check_seconds;
	char *dsr_notify_file, *dsr_notify_url, *dsr_notify_cacert;
	long long export_max_history;      /* access-history records in an export */
	int dsr_verify_by_another;         /* four eyes: taker != verifier */
	struct vault_categories categories;
	size_t nidentities;
	struct vault_identity identities[VAULT_MAX_IDENTITIES];
};

/* Load and validate path into *out (new; release with vault_config_free). */
int vault_config_load(const char *path, struct vault_config **out,
    struct pii_errinfo *ei);
void vault_config_free(struct vault_config *cfg);

/* The name of one operation bit ("tokenize"), for messages. */
const char *vault_op_name(unsigned int op);

#endif
