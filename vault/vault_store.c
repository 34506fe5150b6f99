/*
 * vault_store.c - the vault schema, its migrations, and the keystore binding.
 */
#include <string.h>

#include "vault_store.h"

static const char *const vault_m1[] = {
	"CREATE TABLE vault_meta ("
	"  key text PRIMARY KEY,"
	"  value text NOT NULL)",
	"CREATE TABLE subjects ("
	"  id bigserial PRIMARY KEY,"
	"  subject_token text NOT NULL UNIQUE,"
	"  status text NOT NULL DEFAULT 'active' CHECK (status IN ('active','erased')),"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  erased_at timestamptz)",
	"CREATE TABLE subject_keys ("
	"  subject_id bigint PRIMARY KEY REFERENCES subjects (id),"
	"  kek_epoch integer NOT NULL,"
	"  wrapped_dek bytea NOT NULL)",
	"CREATE TABLE pii_values ("
	"  token text NOT NULL,"
	"  subject_id bigint NOT NULL REFERENCES subjects (id),"
	"  category text NOT NULL,"
	"  ciphertext bytea NOT NULL,"
	"  source text NOT NULL,"
	"  first_seen timestamptz NOT NULL DEFAULT now(),"
	"  last_seen timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (token, subject_id))",
	"CREATE INDEX pii_values_subject ON pii_values (subject_id)",
	"CREATE TABLE objections ("
	"  subject_id bigint NOT NULL REFERENCES subjects (id),"
	"  purpose text NOT NULL,"
	"  since timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (subject_id, purpose))",
	"CREATE TABLE tokenize_batches ("
	"  identity text NOT NULL,"
	"  batch_id text NOT NULL,"
	"  digest text NOT NULL,"
	"  stored integer NOT NULL DEFAULT 0,"
	"  existing integer NOT NULL DEFAULT 0,"
	"  created_at timestamptz NOT NULL DEFAULT now(),"
	"  PRIMARY KEY (identity, batch_id))",
	NULL,
};

/*
 * 2: no foreign keys from subject_keys and pii_values to subjects.  Checking
 * them costs a trigger and a row lock on subjects per value, which made bulk
 * ingest 60% slower, and they guard against nothing the vault can do: it is
 * the only writer, it takes every subject_id from a subjects row read or
 * inserted in the same transaction, and erasure deletes a subject's values
 * and key before it marks the subject erased (docs/storage.md).  The test
 * suite checks that no value or key is orphaned.
 */
static const char *const vault_m2[] = {
	"ALTER TABLE subject_keys DROP CONSTRAINT IF EXISTS subject_keys_subject_id_fkey",
	"ALTER TABLE pii_values DROP CONSTRAINT IF EXISTS pii_values_subject_id_fkey",
	NULL,
};

/*
 * 3: subjects.value_tokens, the tokens of a subject's values, space
 * separated, kept by tokenize in the transaction that stores them, so a
 * re-ingest learns what a subject already holds from the row it reads
 * anyway instead of from pii_values.  NULL means "not kept": the list grew
 * past its bound, or the subject predates this migration; readers then ask
 * pii_values.  Whatever removes values of a subject must set it to NULL
 * (docs/storage.md): a token listed here is never stored again.
 */
static const char *const vault_m3[] = {
	"ALTER TABLE subjects ADD COLUMN IF NOT EXISTS value_tokens text",
	NULL,
};

/*
 * 4: subject-rights requests (docs/dsr.md).  dsr_requests holds no PII
 * value: the subject by its id and token, staff names, reasons staff typed,
 * and an export bundle only sealed under the subject's own key (so erasing
 * the subject shreds its exports too).  erasure_events is the outbox
 * downstream systems read (GET /v1/erasures), erasure_acks how far each
 * consumer has purged.  An objection of purpose '*' is a restriction of
 * processing (Art. 18): every purpose is refused.
 */
static const char *const vault_m4[] = {
	"CREATE TABLE dsr_requests ("
	"  id text PRIMARY KEY,"
	"  kind text NOT NULL CHECK (kind IN ('erasure','export','objection','restriction')),"
	"  subject_id bigint NOT NULL,"
	"  subject_token text NOT NULL,"
	"  purposes text[] NOT NULL DEFAULT '{}',"
	"  status text NOT NULL CHECK (status IN"
	"    ('received','verified','in_progress','completed','rejected')),"
	"  received_at timestamptz NOT NULL,"
	"  due_at timestamptz NOT NULL,"
	"  extended_months integer NOT NULL DEFAULT 0,"
	"  extension_reason text,"
	"  requested_by text,"
	"  taken_by text NOT NULL,"
	"  verified_by text,"
	"  verified_at timestamptz,"
	"  started_at timestamptz,"
	"  completed_at timestamptz,"
	"  rejected_by text,"
	"  rejected_reason text,"
	"  overdue_notified_at timestamptz,"
	"  audit_origin text,"
	"  audit_seq bigint,"
	"  kek_epoch integer,"
	"  values_erased integer,"
	"  export_sealed bytea,"
	"  receipt_proof text,"
	"  attempts integer NOT NULL DEFAULT 0,"
	"  next_attempt_at timestamptz,"
	"  created_at timestamptz NOT NULL DEFAULT now())",
	"CREATE INDEX dsr_requests_open ON dsr_requests (due_at, id)"
	"  WHERE status IN ('received','verified','in_progress')",
	/* what the executor claims: a backlog of requests still waiting for
	 * identity checks must not lengthen every claim */
	"CREATE INDEX dsr_requests_ready ON dsr_requests (due_at, id)"
	"  WHERE status IN ('verified','in_progress')",
	/* a queue: each request is updated a few times in quick succession,
	 * and the executor's claims walk past the dead versions until vacuum
	 * removes them, so vacuum it early */
	"ALTER TABLE dsr_requests SET (autovacuum_vacuum_scale_factor = 0.01,"
	"  autovacuum_vacuum_threshold = 200, autovacuum_vacuum_cost_delay = 0)",
	"CREATE INDEX dsr_requests_subject ON dsr_requests (subject_id)",
	"CREATE INDEX dsr_requests_status ON dsr_requests (status, due_at)",
	"CREATE TABLE erasure_events ("
	"  id bigserial PRIMARY KEY,"
	"  dsr_id text NOT NULL UNIQUE,"
	"  subject_token text NOT NULL,"
	"  tokens text[] NOT NULL,"
	"  shared_tokens text[] NOT NULL,"
	/* ids are handed out in commit order: the executor inserts an event
	 * last in its transaction, under an advisory lock held to the commit,
	 * so a consumer that has read id N never sees a smaller one appear */
	"  erased_at timestamptz NOT NULL)",
	"CREATE TABLE erasure_acks ("
	"  consumer text PRIMARY KEY,"
	"  acked_id bigint NOT NULL,"
	"  acked_at timestamptz NOT NULL)",
	"CREATE INDEX objections_purpose ON objections (purpose)",
	NULL,
};

static const char *const *const vault_migrations[] = { vault_m1, vault_m2, vault_m3,
	vault_m4 };

int
vault_store_migrate(struct pii_pg *db, const char *keystore_id,
    struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	PGconn *c;
	const char *p[1] = { keystore_id };
	int r;

	r = pii_pg_migrate(db, PII_PG_SCHEMA_VAULT, vault_migrations,
	    sizeof(vault_migrations) / sizeof(vault_migrations[0]), NULL, ei);
	if (r != 0)
		return r;
	if ((r = pii_pg_conn(db, &c)) != 0)
		return pii_errinfo_set(ei, r, NULL, "database unreachable: %s",
		    pii_pg_last_error());
	r = pii_pg_exec(db, c,
	    "INSERT INTO vault_meta (key, value) VALUES ('keystore_id', $1)"
	    " ON CONFLICT (key) DO NOTHING", 1, p, NULL);
	if (r == 0)
		r = pii_pg_exec(db, c,
		    "SELECT value FROM vault_meta WHERE key = 'keystore_id'", 0,
		    NULL, &res);
	if (r != 0)
		return pii_errinfo_set(ei, r, NULL, "cannot read vault_meta: %s",
		    pii_pg_last_error());
	if (PQntuples(res) != 1 || strcmp(PQgetvalue(res, 0, 0), keystore_id) != 0) {
		PQclear(res);
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "keystore_file",
		    "this database belongs to another keystore (id mismatch); "
		    "refusing to start with keys that cannot read its data");
	}
	PQclear(res);
	return 0;
}

int
vault_store_ping(struct pii_pg *db)
{
	PGconn *c;
	int r;

	if ((r = pii_pg_conn(db, &c)) != 0)
		return r;
	return pii_pg_exec(db, c, "SELECT 1 FROM pii_values LIMIT 0", 0, NULL, NULL);
}
