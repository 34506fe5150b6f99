/*
 * vault_store.h - the vault's PostgreSQL schema and its migrations.
 *
 * Tables (docs/storage.md): subjects, subject_keys (wrapped DEKs),
 * pii_values (sealed values by token and subject), objections,
 * tokenize_batches (idempotent retries), vault_meta (which keystore the data
 * belongs to).  The queries of each operation live beside the operation
 * (vault_tokenize.c, vault_reveal.c); all are constant, parameterized SQL.
 */
#ifndef VAULT_STORE_H
#define VAULT_STORE_H

#include "../common/err.h"
#include "../common/pg.h"

/* Apply pending migrations and bind the database to keystore_id: the first
 * run records it; a later run with another keystore is refused
 * (PII_ERR_CONFIG), since its keys could decrypt nothing stored here. */
int vault_store_migrate(struct pii_pg *db, const char *keystore_id,
    struct pii_errinfo *ei);

/* 0 if the database answers a trivial query. */
int vault_store_ping(struct pii_pg *db);

#endif
