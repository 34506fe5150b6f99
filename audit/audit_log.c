/*
 * audit_log.c - the audit log writer: group commit of records into the
 * audit database, an in-memory Merkle tree per origin, signed checkpoints
 * published to a witness file, and the fail-closed rules of audit_log.h.
 *
 * Threads: request threads queue an entry (a private copy of the record)
 * and wait on `done`; the appender thread takes everything queued, gives
 * each entry its sequence number and time, encodes and hashes it, inserts
 * the batch (and a checkpoint when one is due) with one statement that
 * commits on its own, and wakes the waiters.  Only the appender touches the tree and the database
 * connection that writes; the mutex guards the queue, the entries' states
 * and the statistics.  An entry is freed by whichever of its two holders
 * (the waiting request, the appender) lets go of it last, so a request that
 * times out can leave while its record is still being written.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/buf.h"
#include "../common/pg.h"
#include "audit_log.h"
#include "audit_merkle.h"

#define DEF_CHECKPOINT_RECORDS 1000
#define DEF_CHECKPOINT_SECONDS 10
#define DEF_PUBLISH_WINDOW 300
#define DEF_WAIT_MS 5000
#define DEF_MAX_BATCH 1024
#define MAX_PENDING_CP 4          /* checkpoints waiting for the witness */
#define WRITER_MAX 64

enum { E_QUEUED, E_TAKEN, E_OK, E_FAILED };

struct entry {
	struct entry *next;
	struct audit_record rec;        /* strings point into buf */
	const char *cats[AUDIT_MAX_CATEGORIES];
	char *buf;
	size_t buflen;
	int state;
	int refs;                       /* holders: the request, the log */
	int64_t deadline_us;            /* the request gives up waiting then */
	uint64_t seq;                   /* where the appender put it (E_OK) */
	char origin[AUDIT_ORIGIN_MAX];
};

struct audit_log {
	char *conninfo, *writer, *keyfile, *witness_path;
	unsigned cp_records, cp_seconds, window_s, wait_ms, max_batch;
	struct pii_pg *pg;
	struct audit_signer *signer;
	pthread_mutex_t sign_mu;        /* the signer's memory protection is
	                                 * toggled per signature: one at a time */

	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t thread;
	int started, stopping;
	struct entry *head, *tail;
	int64_t unpub_since_us;         /* oldest record not under a published
	                                 * checkpoint; 0: none (under mu) */
	struct audit_log_stats st;      /* under mu */
	/* checkpoints waiting for the witness (under mu), and the thread that
	 * appends them, so that the appender never waits for the witness's
	 * fsync: a stalled appender stalls every request waiting to commit */
	struct audit_checkpoint pending[MAX_PENDING_CP];
	size_t npending;
	pthread_cond_t pub_cv;
	pthread_t pub_thread;
	int pub_started, pub_stopping;

	/* appender thread only */
	char origin_base[AUDIT_ORIGIN_MAX - 12];
	unsigned gen;
	char origin[AUDIT_ORIGIN_MAX];
	int origin_dead;
	struct audit_merkle_range range;
	uint64_t cp_size;               /* size of the last stored checkpoint */
	int64_t cp_at_us;
};

/* ---- schema ------------------------------------------------------------- */

static const char *const audit_m1[] = {
	"CREATE TABLE audit_records ("
	"  writer text NOT NULL,"
	"  seq bigint NOT NULL CHECK (seq >= 0),"
	"  at timestamptz NOT NULL,"
	"  actor text NOT NULL,"
	"  role text,"
	"  on_behalf_of text,"
	"  purpose text,"
	"  ticket text,"
	"  action text NOT NULL,"
	"  subject_token text,"
	"  categories text[] NOT NULL,"
	"  decision text NOT NULL CHECK (decision IN ('allow','deny')),"
	"  reason text NOT NULL,"
	"  request_id text NOT NULL,"
	"  source text,"
	"  batch_id text,"
	"  count bigint NOT NULL,"
	"  leaf bytea NOT NULL,"
	"  PRIMARY KEY (writer, seq))",
	"CREATE INDEX audit_records_subject ON audit_records (subject_token, at)",
	"CREATE INDEX audit_records_actor ON audit_records (actor, at)",
	"CREATE INDEX audit_records_request ON audit_records (request_id)",
	"CREATE TABLE audit_checkpoints ("
	"  writer text NOT NULL,"
	"  size bigint NOT NULL CHECK (size >= 0),"
	"  root bytea NOT NULL,"
	"  at_us bigint NOT NULL,"
	"  key_id text NOT NULL,"
	"  signature bytea NOT NULL)",
	/* not unique: two checkpoints of one size must be storable so that
	 * verify can see and report them, not merely be prevented here */
	"CREATE INDEX audit_checkpoints_writer ON audit_checkpoints (writer, size)",
	"CREATE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$"
	" BEGIN RAISE EXCEPTION 'audit tables are append-only (% refused)', TG_OP; END $$",
	"CREATE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE ON audit_records"
	"  FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
	"CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records"
	"  FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
	"CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE"
	"  ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
	"CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE"
	"  ON audit_checkpoints FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
	"REVOKE ALL ON audit_records, audit_checkpoints FROM PUBLIC",
	/* a role name is an identifier, not a value: it is quoted by format()
	 * with %I inside the function, and the function is called with the name
	 * as a bound parameter */
	"CREATE FUNCTION audit_grant_writer(r name) RETURNS void LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  EXECUTE format('REVOKE ALL ON audit_records, audit_checkpoints FROM %I', r);"
	"  EXECUTE format('GRANT INSERT ON audit_records, audit_checkpoints TO %I', r);"
	"  EXECUTE format('GRANT SELECT ON audit_schema TO %I', r);"
	" END $$",
	NULL,
};

/* 2: the read-only role of audit_read_database (export access histories,
 * erasure receipts, GET /v1/audit): SELECT on the log and nothing else. */
static const char *const audit_m2[] = {
	"CREATE FUNCTION audit_grant_reader(r name) RETURNS void LANGUAGE plpgsql AS $$"
	" BEGIN"
	"  EXECUTE format('REVOKE ALL ON audit_records, audit_checkpoints FROM %I', r);"
	"  EXECUTE format('GRANT SELECT ON audit_records, audit_checkpoints,"
	" audit_schema TO %I', r);"
	" END $$",
	NULL,
};

/* 3: "what did this person see" (pii-audit report --actor, GET /v1/audit
 * ?actor=) matches actor OR on_behalf_of, and a person is nearly always the
 * on_behalf_of of a service's record: without an index on it the question
 * read the whole log.  Partial: service calls with nobody behind them add
 * no entry. */
static const char *const audit_m3[] = {
	"CREATE INDEX audit_records_on_behalf_of ON audit_records"
	" (on_behalf_of, at) WHERE on_behalf_of IS NOT NULL",
	NULL,
};

static const char *const *const audit_migrations[] = { audit_m1, audit_m2,
	audit_m3 };

_Static_assert(sizeof(audit_migrations) / sizeof(audit_migrations[0]) ==
    AUDIT_SCHEMA_VERSION, "AUDIT_SCHEMA_VERSION is the number of migrations");

/* ---- small helpers -------------------------------------------------------- */

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static char *
dup_str(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

/* 1 if w is 1..WRITER_MAX-1 characters of [A-Za-z0-9._:-] (no '/': the
 * origin adds its own parts after one). */
static int
writer_ok(const char *w)
{
	return w != NULL && strlen(w) < WRITER_MAX && strchr(w, '/') == NULL &&
	    audit_origin_ok(w);
}

int
audit_log_new(const struct audit_log_config *cfg, struct audit_log **out,
    struct pii_errinfo *ei)
{
	struct audit_log *log;
	int r;

	if (cfg == NULL || cfg->conninfo == NULL || !writer_ok(cfg->writer))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "writer",
		    "must be 1-63 characters of [A-Za-z0-9._:-]");
	if ((log = calloc(1, sizeof(*log))) == NULL)
		return PII_ERR_NOMEM;
	log->conninfo = dup_str(cfg->conninfo);
	log->writer = dup_str(cfg->writer);
	log->keyfile = dup_str(cfg->signing_key_file);
	if (cfg->witness_dir != NULL) {
		size_t n = strlen(cfg->witness_dir) + sizeof("/checkpoints");

		if ((log->witness_path = malloc(n)) != NULL)
			snprintf(log->witness_path, n, "%s/checkpoints",
			    cfg->witness_dir);
	}
	log->cp_records = cfg->checkpoint_records ? cfg->checkpoint_records :
	    DEF_CHECKPOINT_RECORDS;
	log->cp_seconds = cfg->checkpoint_seconds ? cfg->checkpoint_seconds :
	    DEF_CHECKPOINT_SECONDS;
	log->window_s = cfg->publish_window_seconds ?
	    cfg->publish_window_seconds : DEF_PUBLISH_WINDOW;
	log->wait_ms = cfg->wait_ms ? cfg->wait_ms : DEF_WAIT_MS;
	log->max_batch = cfg->max_batch ? cfg->max_batch : DEF_MAX_BATCH;
	if (log->conninfo == NULL || log->writer == NULL ||
	    (cfg->signing_key_file != NULL && log->keyfile == NULL) ||
	    (cfg->witness_dir != NULL && log->witness_path == NULL)) {
		audit_log_free(log);
		return PII_ERR_NOMEM;
	}
	pthread_mutex_init(&log->mu, NULL);
	pthread_mutex_init(&log->sign_mu, NULL);
	pthread_cond_init(&log->work, NULL);
	pthread_cond_init(&log->done, NULL);
	pthread_cond_init(&log->pub_cv, NULL);
	r = pii_pg_new(log->conninfo, "piivault-audit", cfg->statement_timeout_ms,
	    &log->pg);
	if (r != 0) {
		audit_log_free(log);
		return r;
	}
	*out = log;
	return 0;
}

static void
entry_release(struct entry *e)
{
	if (--e->refs > 0)
		return;
	if (e->buf != NULL) {
		sodium_memzero(e->buf, e->buflen);
		free(e->buf);
	}
	free(e);
}

int
audit_log_migrate(struct audit_log *log, struct pii_errinfo *ei)
{
	int r;

	r = pii_pg_migrate(log->pg, PII_PG_SCHEMA_AUDIT, audit_migrations,
	    sizeof(audit_migrations) / sizeof(audit_migrations[0]), NULL, ei);
	if (r == PII_ERR_DB_UNAVAILABLE)
		r = ei != NULL ? (ei->code = PII_ERR_AUDIT_UNAVAILABLE) :
		    PII_ERR_AUDIT_UNAVAILABLE;
	return r;
}

int
audit_log_current_role(struct audit_log *log, char *out, size_t cap,
    struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	PGconn *c;
	int r;

	if ((r = pii_pg_conn(log->pg, &c)) != 0 ||
	    (r = pii_pg_exec(log->pg, c, "SELECT current_user", 0, NULL,
	    &res)) != 0)
		return pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit database: %s", pii_pg_last_error());
	snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int
audit_log_grant_writer(struct audit_log *log, const char *role,
    struct pii_errinfo *ei)
{
	const char *p[1] = { role };
	PGconn *c;
	int r;

	if ((r = pii_pg_conn(log->pg, &c)) != 0 ||
	    (r = pii_pg_exec(log->pg, c, "SELECT audit_grant_writer($1)", 1, p,
	    NULL)) != 0)
		return pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit database: cannot grant INSERT to the writer: %s",
		    pii_pg_last_error());
	return 0;
}

int
audit_log_grant_reader(struct audit_log *log, const char *role,
    struct pii_errinfo *ei)
{
	const char *p[1] = { role };
	PGconn *c;
	int r;

	if ((r = pii_pg_conn(log->pg, &c)) != 0 ||
	    (r = pii_pg_exec(log->pg, c, "SELECT audit_grant_reader($1)", 1, p,
	    NULL)) != 0)
		return pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit database: cannot grant SELECT to the reader: %s",
		    pii_pg_last_error());
	return 0;
}

int
audit_log_check_reader(const char *conninfo, struct pii_errinfo *ei)
{
	static const char *const keys[] = { "dbname", "connect_timeout", NULL };
	const char *vals[] = { conninfo, "10", NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	PGresult *res = NULL;
	int r = 0;

	if (c == NULL || PQstatus(c) != CONNECTION_OK) {
		r = pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit_read_database unreachable: %s",
		    c != NULL ? PQerrorMessage(c) : "out of memory");
		goto out;
	}
	res = PQexec(c, "SELECT has_table_privilege('audit_records', 'SELECT'),"
	    " has_table_privilege('audit_records', 'INSERT')"
	    "   OR has_table_privilege('audit_records', 'UPDATE')"
	    "   OR has_table_privilege('audit_records', 'DELETE')"
	    "   OR has_table_privilege('audit_records', 'TRUNCATE')"
	    "   OR has_any_column_privilege('audit_records', 'UPDATE')"
	    "   OR has_table_privilege('audit_checkpoints', 'INSERT')"
	    "   OR has_table_privilege('audit_checkpoints', 'UPDATE')"
	    "   OR has_table_privilege('audit_checkpoints', 'DELETE')"
	    "   OR has_table_privilege('audit_checkpoints', 'TRUNCATE')"
	    "   OR has_any_column_privilege('audit_checkpoints', 'UPDATE')");
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_read_database",
		    "cannot read the audit tables' privileges (run migrate)");
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0)
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_read_database",
		    "this role cannot read the audit log (run migrate, which "
		    "grants it SELECT)");
	else if (strcmp(PQgetvalue(res, 0, 1), "t") == 0)
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_read_database",
		    "this role can change the audit log; give reading a role "
		    "with SELECT only (migrate grants it)");
out:
	PQclear(res);
	PQfinish(c);
	return r;
}

/* The schema is current and this role may INSERT and nothing else. */
static int
check_schema(struct audit_log *log, struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	PGconn *c;
	int r, v;

	if ((r = pii_pg_conn(log->pg, &c)) != 0)
		return pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit database unreachable: %s", pii_pg_last_error());
	r = pii_pg_exec(log->pg, c,
	    "SELECT coalesce(max(version), 0) FROM audit_schema", 0, NULL, &res);
	if (r != 0)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_database",
		    "cannot read the audit schema version (run pii-vault migrate "
		    "or pii-proxy migrate with the audit owner's "
		    "audit_admin_database): %s", pii_pg_last_error());
	v = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	if (v != AUDIT_SCHEMA_VERSION)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_database",
		    "audit schema is at version %d, this build needs %d: run "
		    "pii-vault migrate or pii-proxy migrate", v,
		    AUDIT_SCHEMA_VERSION);
	r = pii_pg_exec(log->pg, c,
	    "SELECT has_table_privilege('audit_records', 'INSERT')"
	    "   AND has_table_privilege('audit_checkpoints', 'INSERT'),"
	    " has_table_privilege('audit_records', 'UPDATE, DELETE, TRUNCATE')"
	    "   OR has_table_privilege('audit_checkpoints', 'UPDATE, DELETE, TRUNCATE')"
	    "   OR EXISTS (SELECT 1 FROM pg_class t WHERE t.relname IN"
	    "     ('audit_records', 'audit_checkpoints')"
	    "     AND pg_has_role(t.relowner, 'USAGE'))"
	    "   OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user)",
	    0, NULL, &res);
	if (r != 0)
		return pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit database: %s", pii_pg_last_error());
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		PQclear(res);
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_database",
		    "the audit writer role cannot INSERT into the audit tables "
		    "(pii-vault migrate grants it)");
	}
	if (strcmp(PQgetvalue(res, 0, 1), "f") != 0) {
		PQclear(res);
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_database",
		    "the audit writer role may change or delete audit records "
		    "(it owns the tables, is a superuser, or has UPDATE, DELETE "
		    "or TRUNCATE): connect as a role with INSERT only");
	}
	PQclear(res);
	return 0;
}

/* ---- the appender ------------------------------------------------------- */

static void
new_origin(struct audit_log *log)
{
	log->gen++;
	snprintf(log->origin, sizeof(log->origin), "%s/%u", log->origin_base,
	    log->gen);
	audit_merkle_range_init(&log->range);
	log->cp_size = 0;
	log->cp_at_us = now_us();
	log->origin_dead = 0;
}

/* at_us as a timestamptz literal, exact to the microsecond. */
static void
time_literal(int64_t at_us, char out[64])
{
	struct tm tm;
	time_t s = (time_t)(at_us / 1000000);

	gmtime_r(&s, &tm);
	snprintf(out, 64, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
	    tm.tm_sec, (int)(at_us % 1000000));
}

/* The batch as parallel PostgreSQL array literals, one per column. */
enum { A_SEQ, A_AT, A_ACTOR, A_ROLE, A_OBO, A_PURPOSE, A_TICKET, A_ACTION,
	A_SUBJECT, A_CATS, A_DECISION, A_REASON, A_RID, A_SOURCE, A_BATCH,
	A_COUNT, A_LEAF, A_N };

struct cols {
	struct pii_buf b[A_N];
};

/* s as the next element of array b; NULL as SQL NULL. */
static void
arr_add(struct pii_buf *b, const char *s)
{
	if (s != NULL) {
		pii_buf_array_elem(b, s);
		return;
	}
	if (b->len > 0 && b->data[b->len - 1] != '{')
		pii_buf_putc(b, ',');
	pii_buf_puts(b, "NULL");
}

static void
cols_add(struct cols *cl, const struct audit_position *pos,
    const struct audit_record *rec, const unsigned char leaf[AUDIT_HASH_BYTES])
{
	char num[24], at[64], hex[AUDIT_HASH_BYTES * 2 + 1];
	struct pii_buf cats;
	size_t i;

	snprintf(num, sizeof(num), "%" PRIu64, pos->seq);
	arr_add(&cl->b[A_SEQ], num);
	time_literal(pos->at_us, at);
	arr_add(&cl->b[A_AT], at);
	arr_add(&cl->b[A_ACTOR], rec->actor);
	arr_add(&cl->b[A_ROLE], rec->role);
	arr_add(&cl->b[A_OBO], rec->on_behalf_of);
	arr_add(&cl->b[A_PURPOSE], rec->purpose);
	arr_add(&cl->b[A_TICKET], rec->ticket);
	arr_add(&cl->b[A_ACTION], rec->action);
	arr_add(&cl->b[A_SUBJECT], rec->subject_token);
	/* categories are [a-z0-9_]+ (audit_record_encode checked them): the
	 * element is the text of a text[] literal, cast per row */
	pii_buf_init(&cats, 64 * AUDIT_MAX_CATEGORIES);
	pii_buf_putc(&cats, '{');
	for (i = 0; i < rec->ncategories; i++) {
		if (i > 0)
			pii_buf_putc(&cats, ',');
		pii_buf_puts(&cats, rec->categories[i]);
	}
	pii_buf_putc(&cats, '}');
	arr_add(&cl->b[A_CATS], cats.failed ? "{}" : cats.data);
	pii_buf_free(&cats);
	arr_add(&cl->b[A_DECISION], rec->decision);
	arr_add(&cl->b[A_REASON], rec->reason);
	arr_add(&cl->b[A_RID], rec->request_id);
	arr_add(&cl->b[A_SOURCE], rec->source);
	arr_add(&cl->b[A_BATCH], rec->batch_id);
	snprintf(num, sizeof(num), "%lld", rec->count);
	arr_add(&cl->b[A_COUNT], num);
	sodium_bin2hex(hex, sizeof(hex), leaf, AUDIT_HASH_BYTES);
	arr_add(&cl->b[A_LEAF], hex);
}

/* The records of a batch, and the checkpoint when one is due, in ONE
 * statement committed on its own: one round trip and one WAL flush per
 * group commit.  (BEGIN, COPY and COMMIT took four round trips, and every
 * request of the next batch waited for all of them.) */
#define INSERT_RECORDS \
	"INSERT INTO audit_records (writer, seq, at, actor, role, on_behalf_of," \
	" purpose, ticket, action, subject_token, categories, decision, reason," \
	" request_id, source, batch_id, count, leaf)" \
	" SELECT $1, u.seq, u.at::timestamptz, u.actor, u.role, u.obo," \
	" u.purpose, u.ticket, u.action, u.subj, u.cats::text[], u.decision," \
	" u.reason, u.rid, u.source, u.batch, u.count, decode(u.leaf, 'hex')" \
	" FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[]," \
	" $6::text[], $7::text[], $8::text[], $9::text[], $10::text[]," \
	" $11::text[], $12::text[], $13::text[], $14::text[], $15::text[]," \
	" $16::text[], $17::bigint[], $18::text[]) AS u (seq, at, actor, role," \
	" obo, purpose, ticket, action, subj, cats, decision, reason, rid," \
	" source, batch, count, leaf)"

static int
store_checkpoint(struct audit_log *log, PGconn *c,
    const struct audit_checkpoint *cp)
{
	char size[24], at[24], root[65], sig[129];
	const char *p[6];

	snprintf(size, sizeof(size), "%" PRIu64, cp->size);
	snprintf(at, sizeof(at), "%" PRId64, cp->at_us);
	sodium_bin2hex(root, sizeof(root), cp->root, sizeof(cp->root));
	sodium_bin2hex(sig, sizeof(sig), cp->sig, sizeof(cp->sig));
	p[0] = cp->origin;
	p[1] = size;
	p[2] = root;
	p[3] = at;
	p[4] = cp->key_id;
	p[5] = sig;
	return pii_pg_exec(log->pg, c,
	    "INSERT INTO audit_checkpoints (writer, size, root, at_us, key_id,"
	    " signature) VALUES ($1, $2::bigint, decode($3, 'hex'), $4::bigint,"
	    " $5, decode($6, 'hex'))", 6, p, NULL);
}

static int
make_checkpoint(struct audit_log *log, const struct audit_merkle_range *rg,
    struct audit_checkpoint *cp)
{
	int r;

	memset(cp, 0, sizeof(*cp));
	snprintf(cp->origin, sizeof(cp->origin), "%s", log->origin);
	cp->size = rg->size;
	audit_merkle_range_root(rg, cp->root);
	cp->at_us = now_us();
	pthread_mutex_lock(&log->sign_mu);
	r = audit_checkpoint_sign(log->signer, cp);
	pthread_mutex_unlock(&log->sign_mu);
	return r;
}

/* Queue cp for the witness (the newest are kept if the queue is full) and
 * wake the publisher.  Called with mu held. */
static void
pending_add_locked(struct audit_log *log, const struct audit_checkpoint *cp)
{
	if (log->npending == MAX_PENDING_CP) {
		memmove(&log->pending[0], &log->pending[1],
		    sizeof(log->pending[0]) * (MAX_PENDING_CP - 1));
		log->npending--;
	}
	log->pending[log->npending++] = *cp;
	pthread_cond_signal(&log->pub_cv);
}

static void
pending_add(struct audit_log *log, const struct audit_checkpoint *cp)
{
	pthread_mutex_lock(&log->mu);
	pending_add_locked(log, cp);
	pthread_mutex_unlock(&log->mu);
}

/*
 * The publisher: takes every waiting checkpoint, appends them to the
 * witness oldest first (each line fsynced) without holding mu, and puts
 * back what could not be written, to retry every audit_checkpoint_seconds.
 */
static void *
publisher(void *arg)
{
	struct audit_log *log = arg;
	struct audit_checkpoint mine[MAX_PENDING_CP];
	struct pii_errinfo ei;
	size_t n, done, i;
	int stop = 0;

	pthread_mutex_lock(&log->mu);
	while (!stop) {
		if (log->npending == 0 && !log->pub_stopping) {
			struct timespec ts;
			int64_t due = now_us() + (int64_t)log->cp_seconds * 1000000;

			ts.tv_sec = (time_t)(due / 1000000);
			ts.tv_nsec = (long)(due % 1000000) * 1000;
			(void)pthread_cond_timedwait(&log->pub_cv, &log->mu, &ts);
		}
		stop = log->pub_stopping;
		n = log->npending;
		memcpy(mine, log->pending, n * sizeof(mine[0]));
		log->npending = 0;
		pthread_mutex_unlock(&log->mu);

		for (done = 0; done < n; done++)
			if (audit_witness_append(log->witness_path, &mine[done],
			    &ei) != 0)
				break;

		pthread_mutex_lock(&log->mu);
		if (done < n) {
			/* put the rest back before anything queued meanwhile;
			 * if that overflows, the oldest go */
			size_t keep = n - done, total = keep + log->npending;
			struct audit_checkpoint merged[2 * MAX_PENDING_CP];

			memcpy(merged, &mine[done], keep * sizeof(merged[0]));
			memcpy(merged + keep, log->pending,
			    log->npending * sizeof(merged[0]));
			i = total > MAX_PENDING_CP ? total - MAX_PENDING_CP : 0;
			log->npending = total - i;
			memcpy(log->pending, merged + i,
			    log->npending * sizeof(merged[0]));
			log->st.witness_failures++;
		}
		if (done > 0) {
			const struct audit_checkpoint *last = &mine[done - 1];

			/* everything of the current origin up to last->size is
			 * witnessed; records after it are newer than it */
			if (done == n && log->npending == 0 &&
			    strcmp(last->origin, log->st.origin) == 0 &&
			    last->size == log->st.size)
				log->unpub_since_us = 0;
			else if (log->npending == 0)
				log->unpub_since_us = last->at_us;
		}
		log->st.publish_overdue = log->unpub_since_us != 0 &&
		    now_us() - log->unpub_since_us >
		    (int64_t)log->window_s * 1000000;
		if (stop && log->npending > 0 && done == 0)
			break;   /* stopping, and the witness does not take them */
		stop = stop && log->npending == 0;
	}
	pthread_mutex_unlock(&log->mu);
	return NULL;
}

/* Write a batch (n >= 1 entries) and, when due, a checkpoint, in one
 * transaction.  Returns 0 if committed. */
static int
commit_batch(struct audit_log *log, struct entry **batch, size_t n)
{
	struct audit_merkle_range rg;
	struct audit_checkpoint cp;
	struct cols cl;
	unsigned char *enc = NULL, leaf[AUDIT_HASH_BYTES];
	const char *p[23];
	char size[24], at[24], root[65], sig[129];
	PGconn *c = NULL;
	size_t i, enclen;
	int64_t t;
	int r, due;

	if (log->origin_dead)
		new_origin(log);
	rg = log->range;
	for (i = 0; i < A_N; i++) {
		pii_buf_init(&cl.b[i], (size_t)-1 / 2);
		pii_buf_putc(&cl.b[i], '{');
	}
	if ((enc = malloc(AUDIT_RECORD_MAX)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	t = now_us();
	for (i = 0; i < n; i++) {
		struct audit_position pos = { log->origin, rg.size, t };

		batch[i]->seq = rg.size;
		memcpy(batch[i]->origin, log->origin, sizeof(batch[i]->origin));
		r = audit_record_encode(&pos, &batch[i]->rec, enc,
		    AUDIT_RECORD_MAX, &enclen);
		if (r != 0)
			goto out;
		audit_merkle_leaf_hash(enc, enclen, leaf);
		if ((r = audit_merkle_range_append(&rg, leaf)) != 0)
			goto out;
		cols_add(&cl, &pos, &batch[i]->rec, leaf);
	}
	for (i = 0; i < A_N; i++) {
		pii_buf_putc(&cl.b[i], '}');
		if (cl.b[i].failed) {
			r = PII_ERR_NOMEM;
			goto out;
		}
		p[1 + i] = cl.b[i].data;
	}
	p[0] = log->origin;
	due = rg.size - log->cp_size >= log->cp_records ||
	    t - log->cp_at_us >= (int64_t)log->cp_seconds * 1000000;
	if (due) {
		if ((r = make_checkpoint(log, &rg, &cp)) != 0)
			goto out;
		snprintf(size, sizeof(size), "%" PRIu64, cp.size);
		snprintf(at, sizeof(at), "%" PRId64, cp.at_us);
		sodium_bin2hex(root, sizeof(root), cp.root, sizeof(cp.root));
		sodium_bin2hex(sig, sizeof(sig), cp.sig, sizeof(cp.sig));
		p[18] = size;
		p[19] = root;
		p[20] = at;
		p[21] = cp.key_id;
		p[22] = sig;
	}
	if ((r = pii_pg_conn(log->pg, &c)) != 0)
		goto out;
	if (due)
		r = pii_pg_exec(log->pg, c,
		    "WITH records AS (" INSERT_RECORDS ")"
		    " INSERT INTO audit_checkpoints (writer, size, root, at_us,"
		    " key_id, signature) VALUES ($1, $19::bigint, decode($20, 'hex'),"
		    " $21::bigint, $22, decode($23, 'hex'))", 23, p, NULL);
	else
		r = pii_pg_exec(log->pg, c, INSERT_RECORDS, 18, p, NULL);
	if (r != 0)
		goto out;
	log->range = rg;
	pthread_mutex_lock(&log->mu);
	if (log->unpub_since_us == 0)
		log->unpub_since_us = t;
	log->st.records += n;
	log->st.commits++;
	log->st.size = rg.size;
	pthread_mutex_unlock(&log->mu);
	if (due) {
		log->cp_size = cp.size;
		log->cp_at_us = cp.at_us;
		pthread_mutex_lock(&log->mu);
		log->st.checkpoints++;
		pthread_mutex_unlock(&log->mu);
		pending_add(log, &cp);
	}
	r = 0;
out:
	if (r != 0) {
		/* the outcome of a failed commit is unknown: never reuse these
		 * sequence numbers; the next batch starts a new origin */
		log->origin_dead = 1;
		pthread_mutex_lock(&log->mu);
		log->st.commit_failures++;
		pthread_mutex_unlock(&log->mu);
	}
	free(enc);
	for (i = 0; i < A_N; i++)
		pii_buf_free(&cl.b[i]);
	return r;
}

/* A checkpoint with no new records in its transaction: on the timer and at
 * shutdown, when records were committed since the last one. */
static void
checkpoint_alone(struct audit_log *log)
{
	struct audit_checkpoint cp;
	PGconn *c;

	if (log->origin_dead || log->range.size == log->cp_size)
		return;
	if (make_checkpoint(log, &log->range, &cp) != 0 ||
	    pii_pg_conn(log->pg, &c) != 0 || store_checkpoint(log, c, &cp) != 0) {
		pthread_mutex_lock(&log->mu);
		log->st.commit_failures++;
		pthread_mutex_unlock(&log->mu);
		return;
	}
	log->cp_size = cp.size;
	log->cp_at_us = cp.at_us;
	pthread_mutex_lock(&log->mu);
	log->st.checkpoints++;
	pthread_mutex_unlock(&log->mu);
	pending_add(log, &cp);
}

static void *
appender(void *arg)
{
	struct audit_log *log = arg;
	struct entry **batch;
	size_t n, i;
	int stop = 0, r;

	batch = calloc(log->max_batch, sizeof(*batch));
	pthread_mutex_lock(&log->mu);
	while (!stop) {
		if (log->head == NULL && !log->stopping) {
			struct timespec ts;
			int64_t due = log->cp_at_us + (int64_t)log->cp_seconds * 1000000;

			if (log->range.size == log->cp_size)
				due = now_us() + (int64_t)log->cp_seconds * 1000000;
			ts.tv_sec = (time_t)(due / 1000000);
			ts.tv_nsec = (long)(due % 1000000) * 1000;
			(void)pthread_cond_timedwait(&log->work, &log->mu, &ts);
		}
		n = 0;
		while (batch != NULL && log->head != NULL && n < log->max_batch) {
			struct entry *e = log->head;

			log->head = e->next;
			if (log->head == NULL)
				log->tail = NULL;
			e->state = E_TAKEN;
			batch[n++] = e;
		}
		stop = log->stopping && log->head == NULL;
		pthread_mutex_unlock(&log->mu);

		r = n > 0 ? commit_batch(log, batch, n) : 0;
		if (n == 0 && now_us() - log->cp_at_us >=
		    (int64_t)log->cp_seconds * 1000000)
			checkpoint_alone(log);
		if (stop)
			checkpoint_alone(log);

		pthread_mutex_lock(&log->mu);
		for (i = 0; i < n; i++) {
			batch[i]->state = r == 0 ? E_OK : E_FAILED;
			entry_release(batch[i]);
		}
		if (n > 0)
			pthread_cond_broadcast(&log->done);
		snprintf(log->st.origin, sizeof(log->st.origin), "%s", log->origin);
	}
	pthread_mutex_unlock(&log->mu);
	free(batch);
	return NULL;
}

int
audit_log_start(struct audit_log *log, struct pii_errinfo *ei)
{
	unsigned char rnd[4];
	char stamp[20], hex[9];
	struct stat sb;
	struct tm tm;
	time_t now = time(NULL);
	int r;

	if (log->keyfile == NULL || log->witness_path == NULL)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "the audit log needs a signing key file and a witness directory");
	if ((r = audit_signer_load(log->keyfile, &log->signer, ei)) != 0)
		return r;
	{
		char *dir = strdup(log->witness_path);

		if (dir == NULL)
			return PII_ERR_NOMEM;
		*strrchr(dir, '/') = '\0';
		r = stat(dir, &sb) != 0 || !S_ISDIR(sb.st_mode) ||
		    access(dir, W_OK) != 0;
		if (r)
			pii_errinfo_set(ei, PII_ERR_CONFIG, "audit_witness_dir",
			    "%.160s is not a writable directory", dir);
		free(dir);
		if (r)
			return PII_ERR_CONFIG;
	}
	if ((r = check_schema(log, ei)) != 0)
		return r;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	randombytes_buf(rnd, sizeof(rnd));
	sodium_bin2hex(hex, sizeof(hex), rnd, sizeof(rnd));
	snprintf(log->origin_base, sizeof(log->origin_base), "%s/%s-%s",
	    log->writer, stamp, hex);
	new_origin(log);
	snprintf(log->st.origin, sizeof(log->st.origin), "%s", log->origin);
	if (pthread_create(&log->pub_thread, NULL, publisher, log) != 0)
		return pii_errinfo_set(ei, PII_ERR_NOMEM, NULL,
		    "cannot start the audit publisher thread");
	log->pub_started = 1;
	if (pthread_create(&log->thread, NULL, appender, log) != 0)
		return pii_errinfo_set(ei, PII_ERR_NOMEM, NULL,
		    "cannot start the audit appender thread");
	log->started = 1;
	return 0;
}

void
audit_log_free(struct audit_log *log)
{
	struct entry *e;

	if (log == NULL)
		return;
	if (log->started) {
		pthread_mutex_lock(&log->mu);
		log->stopping = 1;
		pthread_cond_broadcast(&log->work);
		pthread_mutex_unlock(&log->mu);
		pthread_join(log->thread, NULL);
	}
	if (log->pub_started) {
		/* after the appender: its last checkpoint is published too */
		pthread_mutex_lock(&log->mu);
		log->pub_stopping = 1;
		pthread_cond_broadcast(&log->pub_cv);
		pthread_mutex_unlock(&log->mu);
		pthread_join(log->pub_thread, NULL);
	}
	while ((e = log->head) != NULL) {   /* none once the appender ran */
		log->head = e->next;
		entry_release(e);
	}
	if (log->conninfo != NULL) {
		pthread_mutex_destroy(&log->mu);
		pthread_mutex_destroy(&log->sign_mu);
		pthread_cond_destroy(&log->work);
		pthread_cond_destroy(&log->done);
		pthread_cond_destroy(&log->pub_cv);
	}
	pii_pg_free(log->pg);
	audit_signer_free(log->signer);
	free(log->conninfo);
	free(log->writer);
	free(log->keyfile);
	free(log->witness_path);
	free(log);
}

/* A private copy of rec: its strings in one buffer. */
static struct entry *
entry_new(const struct audit_record *rec)
{
	const char *const *src[14] = { &rec->actor, &rec->role,
		&rec->on_behalf_of, &rec->purpose, &rec->ticket, &rec->action,
		&rec->subject_token, &rec->decision, &rec->reason,
		&rec->request_id, &rec->source, &rec->batch_id, NULL };
	const char **dst[14];
	struct entry *e;
	size_t i, len = 0, off = 0;

	if (rec->ncategories > AUDIT_MAX_CATEGORIES ||
	    (rec->ncategories > 0 && rec->categories == NULL))
		return NULL;
	if ((e = calloc(1, sizeof(*e))) == NULL)
		return NULL;
	e->rec = *rec;
	dst[0] = &e->rec.actor;
	dst[1] = &e->rec.role;
	dst[2] = &e->rec.on_behalf_of;
	dst[3] = &e->rec.purpose;
	dst[4] = &e->rec.ticket;
	dst[5] = &e->rec.action;
	dst[6] = &e->rec.subject_token;
	dst[7] = &e->rec.decision;
	dst[8] = &e->rec.reason;
	dst[9] = &e->rec.request_id;
	dst[10] = &e->rec.source;
	dst[11] = &e->rec.batch_id;
	for (i = 0; src[i] != NULL; i++)
		if (*src[i] != NULL)
			len += strnlen(*src[i], AUDIT_FIELD_MAX + 1) + 1;
	for (i = 0; i < rec->ncategories; i++)
		len += strnlen(rec->categories[i], AUDIT_FIELD_MAX + 1) + 1;
	if ((e->buf = malloc(len + 1)) == NULL) {
		free(e);
		return NULL;
	}
	e->buflen = len + 1;
	for (i = 0; src[i] != NULL; i++) {
		size_t n;

		if (*src[i] == NULL)
			continue;
		n = strnlen(*src[i], AUDIT_FIELD_MAX + 1);
		memcpy(e->buf + off, *src[i], n);
		e->buf[off + n] = '\0';
		*dst[i] = e->buf + off;
		off += n + 1;
	}
	for (i = 0; i < rec->ncategories; i++) {
		size_t n = strnlen(rec->categories[i], AUDIT_FIELD_MAX + 1);

		memcpy(e->buf + off, rec->categories[i], n);
		e->buf[off + n] = '\0';
		e->cats[i] = e->buf + off;
		off += n + 1;
	}
	e->rec.categories = e->cats;
	e->refs = 2;
	return e;
}

int
audit_log_append(struct audit_log *log, const struct audit_record *rec)
{
	return audit_log_append_at(log, rec, NULL, 0, NULL);
}

int
audit_log_append_at(struct audit_log *log, const struct audit_record *rec,
    char *origin, size_t origin_cap, uint64_t *seq)
{
	struct audit_pending *p;
	int r;

	if ((r = audit_log_submit(log, rec, &p)) != 0)
		return r;
	return audit_log_await(log, p, origin, origin_cap, seq);
}

int
audit_log_submit(struct audit_log *log, const struct audit_record *rec,
    struct audit_pending **out)
{
	struct entry *e;
	int64_t t;

	*out = NULL;
	if (log == NULL || rec == NULL)
		return PII_ERR_AUDIT_UNAVAILABLE;
	if ((e = entry_new(rec)) == NULL)
		return PII_ERR_AUDIT_UNAVAILABLE;
	t = now_us();
	e->deadline_us = t + (int64_t)log->wait_ms * 1000;
	pthread_mutex_lock(&log->mu);
	if (!log->started || log->stopping || (log->unpub_since_us != 0 &&
	    t - log->unpub_since_us > (int64_t)log->window_s * 1000000)) {
		log->st.refused++;
		log->st.publish_overdue = log->started && !log->stopping;
		pthread_mutex_unlock(&log->mu);
		e->refs = 1;
		entry_release(e);
		return PII_ERR_AUDIT_UNAVAILABLE;
	}
	e->state = E_QUEUED;
	if (log->tail != NULL)
		log->tail->next = e;
	else
		log->head = e;
	log->tail = e;
	pthread_cond_signal(&log->work);
	pthread_mutex_unlock(&log->mu);
	*out = (struct audit_pending *)e;
	return 0;
}

int
audit_log_await(struct audit_log *log, struct audit_pending *p, char *origin,
    size_t origin_cap, uint64_t *seq)
{
	struct entry *e = (struct entry *)p;
	struct timespec dl;
	int r;

	if (e == NULL)
		return PII_ERR_AUDIT_UNAVAILABLE;
	dl.tv_sec = (time_t)(e->deadline_us / 1000000);
	dl.tv_nsec = (long)(e->deadline_us % 1000000) * 1000;
	pthread_mutex_lock(&log->mu);
	while (e->state == E_QUEUED || e->state == E_TAKEN)
		if (pthread_cond_timedwait(&log->done, &log->mu, &dl) == ETIMEDOUT)
			break;
	if (e->state == E_OK) {
		r = 0;
		if (origin != NULL && origin_cap > 0)
			snprintf(origin, origin_cap, "%s", e->origin);
		if (seq != NULL)
			*seq = e->seq;
	} else {
		r = PII_ERR_AUDIT_UNAVAILABLE;
		if (e->state == E_QUEUED) {
			/* never taken: unlink it, so it is never written */
			struct entry **pp = &log->head, *prev = NULL;

			while (*pp != NULL && *pp != e) {
				prev = *pp;
				pp = &(*pp)->next;
			}
			if (*pp == e) {
				*pp = e->next;
				if (log->tail == e)
					log->tail = prev;
				e->refs--;   /* the log's hold */
			}
		}
	}
	entry_release(e);
	pthread_mutex_unlock(&log->mu);
	return r;
}

int
audit_log_ping(struct audit_log *log)
{
	PGresult *res = NULL;
	PGconn *c;
	int ok;

	if (pii_pg_conn(log->pg, &c) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	/* the table itself, not only the server: a missing table or a lost
	 * privilege means records cannot be written */
	if (pii_pg_exec(log->pg, c,
	    "SELECT has_table_privilege('audit_records', 'INSERT')", 0, NULL,
	    &res) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	ok = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	pthread_mutex_lock(&log->mu);
	if (log->started && log->unpub_since_us != 0 && now_us() -
	    log->unpub_since_us > (int64_t)log->window_s * 1000000)
		ok = 0;
	pthread_mutex_unlock(&log->mu);
	return ok ? 0 : PII_ERR_AUDIT_UNAVAILABLE;
}

void
audit_log_get_stats(struct audit_log *log, struct audit_log_stats *out)
{
	pthread_mutex_lock(&log->mu);
	*out = log->st;
	out->publish_overdue = log->started && log->unpub_since_us != 0 &&
	    now_us() - log->unpub_since_us > (int64_t)log->window_s * 1000000;
	pthread_mutex_unlock(&log->mu);
}

int
audit_log_setup(const struct audit_log_config *owner,
    const struct audit_log_config *writer, const struct audit_log_config *reader,
    struct pii_errinfo *ei)
{
	struct audit_log *admin = NULL, *w = NULL, *rd = NULL;
	char arole[128], wrole[128], rrole[128];
	int r;

	if ((r = audit_log_new(owner, &admin, ei)) != 0)
		goto out;
	if ((r = audit_log_migrate(admin, ei)) != 0)
		goto out;
	if ((writer != NULL || reader != NULL) &&
	    (r = audit_log_current_role(admin, arole, sizeof(arole), ei)) != 0)
		goto out;
	if (writer != NULL) {
		if ((r = audit_log_new(writer, &w, ei)) != 0 ||
		    (r = audit_log_current_role(w, wrole, sizeof(wrole), ei)) != 0)
			goto out;
		if (strcmp(arole, wrole) != 0 &&
		    (r = audit_log_grant_writer(admin, wrole, ei)) != 0)
			goto out;
	}
	if (reader != NULL) {
		if ((r = audit_log_new(reader, &rd, ei)) != 0 ||
		    (r = audit_log_current_role(rd, rrole, sizeof(rrole), ei)) != 0)
			goto out;
		/* the owner and the writer keep what they have */
		if (strcmp(arole, rrole) != 0 &&
		    (writer == NULL || strcmp(wrole, rrole) != 0))
			r = audit_log_grant_reader(admin, rrole, ei);
	}
out:
	audit_log_free(rd);
	audit_log_free(w);
	audit_log_free(admin);
	return r;
}

int
audit_log_sign_statement(struct audit_log *log, const char *domain,
    const char *text, size_t len, char key_id[AUDIT_KEY_ID_HEX + 1],
    unsigned char sig[AUDIT_SIG_BYTES])
{
	int r;

	if (log == NULL || log->signer == NULL)
		return PII_ERR_AUDIT_UNAVAILABLE;
	pthread_mutex_lock(&log->sign_mu);
	r = audit_statement_sign(log->signer, domain, text, len, key_id, sig);
	pthread_mutex_unlock(&log->sign_mu);
	return r;
}
