/*
 * vault_dsr_exec.c - the executor of subject-rights requests, and the
 * overdue watch (docs/dsr.md).
 *
 * Workers (cfg->dsr_workers threads) take verified and in-progress
 * requests, oldest deadline first, with FOR UPDATE SKIP LOCKED, so any
 * number of workers in any number of vaults share the queue.  A request is
 * carried out in two transactions:
 *
 *   1. verified -> in_progress (audited "dsr_start")
 *   2. the work of its kind, and in_progress -> completed (audited with the
 *      kind's own action: "erasure", "export", "objection", "restriction")
 *
 * Each transaction writes its audit record before it commits (no record, no
 * transition) and re-reads the row under its lock, so after a crash at any
 * point the request resumes where its last commit left it and its work is
 * done exactly once.  A crash between an audit record and its commit leaves
 * that record in the log for a step that is then done again: the log may
 * show an attempt twice, the database never.
 *
 * Work by kind, all inside transaction 2:
 *   erasure      the subject's values, wrapped key and objections are
 *                deleted and the subject row becomes its tombstone (status
 *                erased, value_tokens NULL); an event goes to the outbox,
 *                last, under an advisory lock held to the commit (event
 *                ids in commit order).
 *   export       every value decrypted, objections, the access history
 *                from the audit log, as one JSON bundle sealed under the
 *                subject's own key.
 *   objection    one objections row per purpose.
 *   restriction  one objections row of purpose '*' (every purpose).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <sodium.h>

#include "../common/buf.h"
#include "../common/json_util.h"
#include "../common/log.h"
#include "vault_dsr_int.h"
#include "vault_dsr_time.h"

struct vault_dsr_exec {
	struct vault_server *vs;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stopping;
	unsigned long long wakes;
	size_t nthreads;
	pthread_t *threads;
	pthread_t watch;
	int watch_started;
	atomic_ullong completed, rejected, failures, notified;
};

static const char *crash_at;

void
vault_crash_point(const char *name)
{
	if (crash_at != NULL && strcmp(crash_at, name) == 0) {
		pii_log(PII_LOG_WARN, "event=crash_point name=%s (PIIV_CRASH_AT)", name);
		raise(SIGKILL);
	}
}

/* ---- the work of each kind ------------------------------------------------ */

static int
exec_sql(struct vault_server *vs, PGconn *c, const char *sql, int n,
    const char *const *p, PGresult **res)
{
	return pii_pg_exec(vs->db, c, sql, n, p, res);
}

/* Erase subject sid: delete values, key and objections; tombstone; outbox.
 * *nvalues receives the values deleted, *epoch the KEK epoch its key was
 * wrapped under (0: it had none). */
static int
do_erasure(struct vault_server *vs, PGconn *c, const char *sid,
    long long *nvalues, long long *epoch, char **tokens, char **shared)
{
	PGresult *res = NULL;
	const char *p[4];
	int r;

	p[0] = sid;
	/* the tokens the subject holds; those another live subject also holds
	 * are listed apart, so downstream purges them only in this subject's
	 * rows (two people may share one phone number) */
	r = exec_sql(vs, c,
	    "SELECT coalesce(array_agg(token ORDER BY token) FILTER (WHERE NOT shared), '{}'),"
	    " coalesce(array_agg(token ORDER BY token) FILTER (WHERE shared), '{}'),"
	    " (SELECT count(*) FROM pii_values WHERE subject_id = $1::bigint),"
	    " coalesce((SELECT kek_epoch FROM subject_keys WHERE subject_id = $1::bigint), 0)"
	    " FROM (SELECT m.token, EXISTS (SELECT 1 FROM pii_values v"
	    "   JOIN subjects s ON s.id = v.subject_id WHERE v.token = m.token"
	    "   AND v.subject_id <> $1::bigint AND s.status = 'active') AS shared"
	    "   FROM (SELECT DISTINCT token FROM pii_values"
	    "     WHERE subject_id = $1::bigint) m) x", 1, p, &res);
	if (r != 0)
		return r;
	*nvalues = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	*epoch = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	*tokens = strdup(PQgetvalue(res, 0, 0));
	*shared = strdup(PQgetvalue(res, 0, 1));
	if (*tokens == NULL || *shared == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = exec_sql(vs, c, "DELETE FROM pii_values WHERE subject_id = $1::bigint",
	    1, p, NULL)) != 0 ||
	    (r = exec_sql(vs, c, "DELETE FROM subject_keys WHERE subject_id = $1::bigint",
	    1, p, NULL)) != 0 ||
	    (r = exec_sql(vs, c, "DELETE FROM objections WHERE subject_id = $1::bigint",
	    1, p, NULL)) != 0 ||
	    (r = exec_sql(vs, c, "UPDATE subjects SET status = 'erased',"
	    " erased_at = now(), value_tokens = NULL WHERE id = $1::bigint",
	    1, p, NULL)) != 0 ||
	    /* exports were sealed under the key just deleted: drop them too,
	     * with the text staff typed about the person's requests.  Rows
	     * another worker holds are skipped, not waited for (it may be
	     * waiting for the subject row this transaction holds): such a
	     * request is rejected when it runs, and clears its own text */
	    (r = exec_sql(vs, c, "UPDATE dsr_requests SET export_sealed = NULL,"
	    " requested_by = NULL, extension_reason = NULL, rejected_reason = NULL"
	    " WHERE id IN (SELECT id FROM dsr_requests WHERE subject_id = $1::bigint"
	    "   FOR UPDATE SKIP LOCKED)", 1, p, NULL)) != 0)
		goto out;
out:
	PQclear(res);
	return r;
}

/* The subject's access history from the audit log, as a JSON array. */
static int
access_history(struct vault_server *vs, const char *subject_token, json_t **out)
{
	PGresult *res = NULL;
	PGconn *c;
	char lim[24];
	const char *p[2] = { subject_token, lim };
	int r;

	if (vs->audit_read == NULL)
		return PII_ERR_AUDIT_UNAVAILABLE;
	snprintf(lim, sizeof(lim), "%lld", vs->cfg->export_max_history);
	if ((r = pii_pg_conn(vs->audit_read, &c)) != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	r = pii_pg_exec(vs->audit_read, c,
	    "SELECT json_build_object('at', " DSR_RFC3339("at") ", 'actor', actor,"
	    " 'on_behalf_of', on_behalf_of, 'role', role, 'action', action,"
	    " 'purpose', purpose, 'ticket', ticket, 'decision', decision,"
	    " 'reason', reason, 'categories', categories)::text"
	    " FROM (SELECT * FROM audit_records WHERE subject_token = $1"
	    "   ORDER BY at DESC, writer DESC, seq DESC LIMIT $2::bigint) r"
	    " ORDER BY at, writer, seq", 2, p, &res);
	if (r != 0)
		return PII_ERR_AUDIT_UNAVAILABLE;
	r = vault_dsr_rows_json(res, out);
	PQclear(res);
	return r;
}

/* Build the export bundle of subject sid and store it sealed. */
static int
do_export(struct vault_server *vs, PGconn *c, const char *dsr_id,
    const char *sid, const char *subject_token, long long *nvalues)
{
	PGresult *res = NULL, *vals = NULL;
	struct vault_dek *dek = NULL;
	json_t *bundle = NULL, *values, *hist = NULL, *obj;
	char gen[21], *text = NULL, *hex = NULL;
	unsigned char *sealed = NULL;
	size_t tl = 0, sl = 0;
	const char *p[2] = { sid, NULL };
	int r, i;

	r = exec_sql(vs, c,
	    "SELECT s.status, " DSR_RFC3339("s.created_at") ", k.kek_epoch,"
	    " encode(k.wrapped_dek, 'hex'),"
	    " coalesce((SELECT json_agg(json_build_object('purpose', purpose,"
	    "   'since', " DSR_RFC3339("since") ") ORDER BY purpose)"
	    "   FROM objections WHERE subject_id = s.id), '[]')::text"
	    " FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id"
	    " WHERE s.id = $1::bigint", 1, p, &res);
	if (r != 0)
		goto out;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 3)) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	if ((r = vault_unwrap_hex(vs, subject_token, PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 2), &dek)) != 0)
		goto out;
	r = exec_sql(vs, c,
	    "SELECT token, category, encode(ciphertext, 'hex'), source,"
	    " " DSR_RFC3339("first_seen") ", " DSR_RFC3339("last_seen")
	    " FROM pii_values WHERE subject_id = $1::bigint"
	    " ORDER BY category, source, token", 1, p, &vals);
	if (r != 0)
		goto out;
	values = json_array();
	for (i = 0; i < PQntuples(vals); i++) {
		json_t *v = NULL;

		r = vault_open_hex(dek, subject_token, PQgetvalue(vals, i, 1),
		    PQgetvalue(vals, i, 0), PQgetvalue(vals, i, 2), &v);
		if (r != 0) {
			json_decref(values);
			goto out;
		}
		json_array_append_new(values, json_pack("{s:s, s:o, s:s, s:s, s:s, s:s}",
		    "category", PQgetvalue(vals, i, 1), "value", v,
		    "token", PQgetvalue(vals, i, 0), "source", PQgetvalue(vals, i, 3),
		    "first_seen", PQgetvalue(vals, i, 4),
		    "last_seen", PQgetvalue(vals, i, 5)));
	}
	*nvalues = PQntuples(vals);
	if ((r = access_history(vs, subject_token, &hist)) != 0) {
		json_decref(values);
		goto out;
	}
	obj = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
	vault_dsr_format((int64_t)time(NULL), gen);
	bundle = json_pack("{s:s, s:s, s:s, s:s, s:{s:s, s:s}, s:o, s:o, s:o}",
	    "format", "piivault-export v1", "request_id", dsr_id,
	    "subject_token", subject_token, "generated_at", gen,
	    "subject", "status", PQgetvalue(res, 0, 0), "created_at",
	    PQgetvalue(res, 0, 1), "values", values, "objections",
	    obj != NULL ? obj : json_array(), "access_history", hist);
	hist = NULL;
	if (bundle == NULL || (r = pii_json_dump(bundle, &text, &tl)) != 0) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	sl = tl + VAULT_SEAL_OVERHEAD;
	if ((sealed = malloc(sl)) == NULL || (hex = malloc(sl * 2 + 1)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = vault_value_seal(dek, subject_token, "dsr_export", dsr_id,
	    (const unsigned char *)text, tl, sealed, sl, &sl)) != 0)
		goto out;
	sodium_bin2hex(hex, sl * 2 + 1, sealed, sl);
	{
		const char *q[2] = { dsr_id, hex };

		r = exec_sql(vs, c, "UPDATE dsr_requests SET"
		    " export_sealed = decode($2, 'hex') WHERE id = $1", 2, q, NULL);
	}
out:
	if (text != NULL) {
		sodium_memzero(text, tl);
		pii_json_free_str(text);
	}
	free(sealed);
	free(hex);
	json_decref(bundle);
	json_decref(hist);
	vault_dek_free(dek);
	PQclear(vals);
	PQclear(res);
	return r;
}

static int
do_objection(struct vault_server *vs, PGconn *c, const char *sid,
    const char *purposes, int restriction)
{
	const char *p[2] = { sid, restriction ? "{*}" : purposes };

	return exec_sql(vs, c, "INSERT INTO objections (subject_id, purpose)"
	    " SELECT $1::bigint, unnest($2::text[]) ON CONFLICT DO NOTHING",
	    2, p, NULL);
}

/* ---- one request ---------------------------------------------------------- */

/* pg_advisory_xact_lock key of the erasure outbox: "piiv" "outb" */
#define OUTBOX_LOCK "7046274403779229026"

#define CLAIM_SQL(where) \
	"SELECT d.id, d.kind, d.status, d.subject_id, d.subject_token," \
	" d.purposes::text, s.status FROM dsr_requests d" \
	" JOIN subjects s ON s.id = d.subject_id WHERE " where \
	" ORDER BY d.due_at, d.id LIMIT 1 FOR UPDATE OF d SKIP LOCKED"

static void
rollback(struct vault_server *vs, PGconn *c)
{
	if (pii_pg_still_open(vs->db, c) && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

/* Take the next request and carry it out.  *did: 1 if there was one. */
static int
run_one(struct vault_dsr_exec *ex, int *did)
{
	struct vault_server *vs = ex->vs;
	struct vault_caller who;
	PGresult *res = NULL;
	PGconn *c = NULL;
	char id[DSR_ID_MAX + 1], kind[16], sid[24], stok[VAULT_TOKEN_MAX];
	char origin[AUDIT_ORIGIN_MAX], seqbuf[24], nbuf[24], ebuf[24];
	unsigned long long seq = 0;
	long long nvalues = 0, epoch = 0;
	char *tokens = NULL, *shared = NULL;
	int r, erased;

	*did = 0;
	memset(&who, 0, sizeof(who));
	who.id = &vault_dsr_executor_id;
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		return r;
	/* transaction 1: verified -> in_progress */
	if ((r = pii_pg_exec(vs->db, c, "BEGIN", 0, NULL, NULL)) != 0 ||
	    (r = pii_pg_exec(vs->db, c, CLAIM_SQL("d.status IN ('verified','in_progress')"
	    " AND (d.next_attempt_at IS NULL OR d.next_attempt_at <= now())"),
	    0, NULL, &res)) != 0)
		goto fail;
	if (PQntuples(res) == 0) {
		r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL);
		goto out;
	}
	*did = 1;
	snprintf(id, sizeof(id), "%s", PQgetvalue(res, 0, 0));
	snprintf(kind, sizeof(kind), "%s", PQgetvalue(res, 0, 1));
	snprintf(sid, sizeof(sid), "%s", PQgetvalue(res, 0, 3));
	snprintf(stok, sizeof(stok), "%s", PQgetvalue(res, 0, 4));
	who.request_id = id;
	{
		const char *p[1] = { id };

		/* Before any work: the next attempt waits, so a request whose
		 * work kills the process (it crashes it each time) backs off
		 * instead of being retried at once after every restart. */
		if ((r = pii_pg_exec(vs->db, c, "UPDATE dsr_requests SET"
		    " attempts = attempts + 1, next_attempt_at = now() +"
		    " make_interval(secs => power(2, least(attempts + 1, 12)))"
		    " WHERE id = $1", 1, p, NULL)) != 0)
			goto fail;
		if (strcmp(PQgetvalue(res, 0, 2), "in_progress") == 0) {
			/* a resumed request: the bump is committed on its own */
			PQclear(res);
			res = NULL;
			if ((r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0 ||
			    (r = pii_pg_exec(vs->db, c, "BEGIN", 0, NULL, NULL)) != 0 ||
			    (r = pii_pg_exec(vs->db, c, CLAIM_SQL("d.id = $1 AND"
			    " d.status = 'in_progress'"), 1, p, &res)) != 0)
				goto fail;
			if (PQntuples(res) == 0) {
				r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL);
				goto out;
			}
		}
	}
	if (strcmp(PQgetvalue(res, 0, 2), "verified") == 0) {
		const char *p[1] = { id };

		vault_crash_point("dsr_start_before_audit");
		if (vault_dsr_audit(vs, &who, "dsr_start", stok, id, 1, 0, 0, NULL, 0,
		    NULL) != 0) {
			r = PII_ERR_AUDIT_UNAVAILABLE;
			goto fail;
		}
		vault_crash_point("dsr_start_after_audit");
		if ((r = pii_pg_exec(vs->db, c, "UPDATE dsr_requests SET"
		    " status = 'in_progress', started_at = now() WHERE id = $1",
		    1, p, NULL)) != 0 ||
		    (r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0)
			goto fail;
		vault_crash_point("dsr_started");
		PQclear(res);
		res = NULL;
		/* transaction 2 re-reads the row under its lock: whoever holds
		 * it now (another worker after a crash) does the work */
		if ((r = pii_pg_exec(vs->db, c, "BEGIN", 0, NULL, NULL)) != 0 ||
		    (r = pii_pg_exec(vs->db, c, CLAIM_SQL("d.id = $1 AND"
		    " d.status = 'in_progress'"), 1, p, &res)) != 0)
			goto fail;
		if (PQntuples(res) == 0) {
			r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL);
			goto out;
		}
	}
	/* transaction 2 (row locked, status in_progress): the work.  The
	 * subject's row is locked too, FOR UPDATE by an erasure (a concurrent
	 * ingest that gives the subject a value updates that row, so one
	 * waits for the other) and FOR KEY SHARE otherwise (no erasure
	 * meanwhile, while an ingest's update of the row does not wait);
	 * its status is read under that lock. */
	{
		const char *p[1] = { sid };
		PGresult *lk = NULL;

		r = pii_pg_exec(vs->db, c, strcmp(kind, "erasure") == 0 ?
		    "SELECT status FROM subjects WHERE id = $1::bigint FOR UPDATE" :
		    "SELECT status FROM subjects WHERE id = $1::bigint FOR KEY SHARE",
		    1, p, &lk);
		if (r != 0)
			goto fail;
		erased = PQntuples(lk) != 1 ||
		    strcmp(PQgetvalue(lk, 0, 0), "erased") == 0;
		PQclear(lk);
	}
	if (erased && strcmp(kind, "erasure") != 0) {
		const char *p[1] = { id };

		/* nothing left to export or object for */
		if (vault_dsr_audit(vs, &who, "dsr_reject", stok, id, 0,
		    PII_ERR_SUBJECT_ERASED, 0, NULL, 0, NULL) != 0) {
			r = PII_ERR_AUDIT_UNAVAILABLE;
			goto fail;
		}
		if ((r = pii_pg_exec(vs->db, c, "UPDATE dsr_requests SET"
		    " status = 'rejected', rejected_by = 'dsr-executor',"
		    " rejected_reason = 'the subject was erased before this request"
		    " was carried out', requested_by = NULL, extension_reason = NULL"
		    " WHERE id = $1", 1, p, NULL)) != 0 ||
		    (r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0)
			goto fail;
		atomic_fetch_add(&ex->rejected, 1);
		pii_log(PII_LOG_INFO, "event=dsr_rejected dsr=%s kind=%s "
		    "reason=subject_erased", id, kind);
		goto out;
	}
	if (strcmp(kind, "erasure") == 0)
		r = erased ? 0 : do_erasure(vs, c, sid, &nvalues, &epoch, &tokens,
		    &shared);
	else if (strcmp(kind, "export") == 0)
		r = do_export(vs, c, id, sid, stok, &nvalues);
	else
		r = do_objection(vs, c, sid, PQgetvalue(res, 0, 5),
		    strcmp(kind, "restriction") == 0);
	if (r != 0)
		goto fail;
	vault_crash_point("dsr_work_done");
	if (vault_dsr_audit(vs, &who, kind, stok, id, 1, 0, nvalues, origin,
	    sizeof(origin), &seq) != 0) {
		r = PII_ERR_AUDIT_UNAVAILABLE;
		goto fail;
	}
	vault_crash_point("dsr_complete_after_audit");
	snprintf(seqbuf, sizeof(seqbuf), "%llu", seq);
	snprintf(nbuf, sizeof(nbuf), "%lld", nvalues);
	snprintf(ebuf, sizeof(ebuf), "%lld", epoch);
	/* The outbox event last, under a lock held to the commit: event ids
	 * are then handed out in commit order, so a consumer that has read id
	 * n can never later see a smaller one appear. */
	if (tokens != NULL) {
		const char *q[4] = { id, stok, tokens, shared };

		if ((r = pii_pg_exec(vs->db, c, "SELECT pg_advisory_xact_lock("
		    OUTBOX_LOCK ")", 0, NULL, NULL)) != 0 ||
		    (r = pii_pg_exec(vs->db, c, "INSERT INTO erasure_events (dsr_id,"
		    " subject_token, tokens, shared_tokens, erased_at)"
		    " VALUES ($1, $2, $3::text[], $4::text[], now())", 4, q, NULL)) != 0)
			goto fail;
	}
	{
		const char *p[5] = { id, origin, seqbuf, nbuf, ebuf };

		if ((r = pii_pg_exec(vs->db, c, "UPDATE dsr_requests SET"
		    " status = 'completed', completed_at = now(), audit_origin = $2,"
		    " audit_seq = $3::bigint,"
		    " requested_by = CASE WHEN kind = 'erasure' THEN NULL"
		    "   ELSE requested_by END,"
		    " extension_reason = CASE WHEN kind = 'erasure' THEN NULL"
		    "   ELSE extension_reason END,"
		    " values_erased = CASE WHEN kind = 'erasure' THEN $4::integer END,"
		    " kek_epoch = CASE WHEN kind = 'erasure' THEN $5::integer END"
		    " WHERE id = $1", 5, p, NULL)) != 0 ||
		    (r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0)
			goto fail;
	}
	atomic_fetch_add(&ex->completed, 1);
	pii_log(PII_LOG_INFO, "event=dsr_completed dsr=%s kind=%s count=%lld",
	    id, kind, nvalues);
	vault_crash_point("dsr_completed");
	goto out;
fail:
	pii_log(PII_LOG_WARN, "event=dsr_step_failed dsr=%s reason=%s detail=\"%s\"",
	    *did ? id : "-", pii_err_api_code(r), r == PII_ERR_SQL ||
	    r == PII_ERR_DB_UNAVAILABLE ? pii_pg_last_error() : pii_strerror(r));
	if (c != NULL)
		rollback(vs, c);
	atomic_fetch_add(&ex->failures, 1);
	/* a request that keeps failing waits longer each time (up to about an
	 * hour) instead of holding up the queue behind it; attempts was
	 * counted when it was taken */
	if (*did && pii_pg_still_open(vs->db, c)) {
		const char *p[1] = { id };

		(void)pii_pg_exec(vs->db, c, "UPDATE dsr_requests SET"
		    " next_attempt_at = now() +"
		    " make_interval(secs => power(2, least(attempts, 12)))"
		    " WHERE id = $1", 1, p, NULL);
	}
out:
	free(tokens);
	free(shared);
	PQclear(res);
	return r;
}

static void *
worker_main(void *arg)
{
	struct vault_dsr_exec *ex = arg;
	struct timespec ts;
	int did, r, fails = 0;

	pthread_mutex_lock(&ex->mu);
	while (!ex->stopping) {
		unsigned long long seen = ex->wakes;
		long wait_s;

		pthread_mutex_unlock(&ex->mu);
		r = run_one(ex, &did);
		pthread_mutex_lock(&ex->mu);
		if (r == 0 && did) {
			fails = 0;
			continue;
		}
		if (r != 0)
			fails++;
		/* idle: until woken or the poll; after failures, back off */
		wait_s = r != 0 ? (fails < 6 ? 1L << fails : 60) :
		    (long)ex->vs->cfg->dsr_poll_seconds;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_s;
		while (!ex->stopping && ex->wakes == seen)
			if (pthread_cond_timedwait(&ex->cv, &ex->mu, &ts) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* ---- overdue watch and its notification hook --------------------------------- */

static size_t
discard_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
	(void)ptr;
	(void)ud;
	return size * nmemb;
}

static int
notify_url(const struct vault_config *cfg, const char *line, size_t len)
{
	struct curl_slist *h = NULL;
	CURL *cu = curl_easy_init();
	long code = 0;
	CURLcode cr;

	if (cu == NULL)
		return PII_ERR_NOMEM;
	h = curl_slist_append(h, "Content-Type: application/json");
	curl_easy_setopt(cu, CURLOPT_URL, cfg->dsr_notify_url);
	curl_easy_setopt(cu, CURLOPT_HTTPHEADER, h);
	curl_easy_setopt(cu, CURLOPT_POSTFIELDS, line);
	curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE, (long)len);
	curl_easy_setopt(cu, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, discard_body);
	curl_easy_setopt(cu, CURLOPT_PROTOCOLS_STR, "https,http");
	if (cfg->dsr_notify_cacert != NULL)
		curl_easy_setopt(cu, CURLOPT_CAINFO, cfg->dsr_notify_cacert);
	cr = curl_easy_perform(cu);
	if (cr == CURLE_OK)
		curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(h);
	curl_easy_cleanup(cu);
	return cr == CURLE_OK && code >= 200 && code < 300 ? 0 : PII_ERR_IO;
}

static int
notify_file(const char *path, const char *line, size_t len)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	int r = 0;

	if (fd < 0)
		return PII_ERR_IO;
	if (write(fd, line, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd) != 0)
		r = PII_ERR_IO;
	close(fd);
	return r;
}

/* Requests that passed their deadline and were not yet reported: claimed
 * and marked reported in one statement (row locks, SKIP LOCKED: two vaults
 * never take the same one), then logged and notified with no transaction
 * open; a request whose notification failed is unmarked, and tried again
 * at the next sweep.  A crash in between leaves it marked: it was logged. */
static void
overdue_sweep(struct vault_dsr_exec *ex)
{
	struct vault_server *vs = ex->vs;
	PGresult *res = NULL;
	PGconn *c;
	int i;

	if (pii_pg_conn(vs->db, &c) != 0 ||
	    pii_pg_exec(vs->db, c, "UPDATE dsr_requests d SET overdue_notified_at = now()"
	    " FROM (SELECT id FROM dsr_requests WHERE status IN " DSR_OPEN
	    "   AND due_at < now() AND overdue_notified_at IS NULL"
	    "   ORDER BY due_at LIMIT 100 FOR UPDATE SKIP LOCKED) x"
	    " WHERE d.id = x.id"
	    " RETURNING d.id, jsonb_build_object('event', 'dsr_overdue', 'id', d.id,"
	    " 'kind', d.kind, 'status', d.status, 'subject_token', d.subject_token,"
	    " 'received_at', " DSR_RFC3339("d.received_at") ","
	    " 'due_at', " DSR_RFC3339("d.due_at") ")::text, " DSR_RFC3339("d.due_at") ","
	    " d.kind, d.status", 0, NULL, &res) != 0)
		return;
	for (i = 0; i < PQntuples(res); i++) {
		const char *id = PQgetvalue(res, i, 0);
		const char *line = PQgetvalue(res, i, 1);
		size_t len = strlen(line);
		int ok = 1, stop;

		pthread_mutex_lock(&ex->mu);
		stop = ex->stopping;
		pthread_mutex_unlock(&ex->mu);
		pii_log(PII_LOG_WARN, "event=dsr_overdue dsr=%s kind=%s status=%s "
		    "due_at=%s", id, PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
		    PQgetvalue(res, i, 2));
		if (!stop && vs->cfg->dsr_notify_file != NULL &&
		    notify_file(vs->cfg->dsr_notify_file, line, len) != 0) {
			pii_log(PII_LOG_ERROR, "event=dsr_notify_failed dsr=%s "
			    "hook=file", id);
			ok = 0;
		}
		if (!stop && vs->cfg->dsr_notify_url != NULL &&
		    notify_url(vs->cfg, line, len) != 0) {
			pii_log(PII_LOG_ERROR, "event=dsr_notify_failed dsr=%s "
			    "hook=url", id);
			ok = 0;
		}
		if (ok && !stop) {
			atomic_fetch_add(&ex->notified, 1);
			continue;
		}
		{
			const char *p[1] = { id };

			/* not delivered (or shutting down): the next sweep */
			(void)pii_pg_exec(vs->db, c, "UPDATE dsr_requests SET"
			    " overdue_notified_at = NULL WHERE id = $1", 1, p, NULL);
		}
	}
	PQclear(res);
}

static void *
watch_main(void *arg)
{
	struct vault_dsr_exec *ex = arg;
	struct timespec ts;

	pthread_mutex_lock(&ex->mu);
	while (!ex->stopping) {
		pthread_mutex_unlock(&ex->mu);
		overdue_sweep(ex);
		pthread_mutex_lock(&ex->mu);
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)ex->vs->cfg->dsr_overdue_check_seconds;
		while (!ex->stopping)
			if (pthread_cond_timedwait(&ex->cv, &ex->mu, &ts) == ETIMEDOUT)
				break;
	}
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

/* ---- start, stop, metrics ---------------------------------------------------- */

int
vault_dsr_exec_start(struct vault_server *vs, struct pii_errinfo *ei)
{
	struct vault_dsr_exec *ex;
	size_t i;

	crash_at = getenv("PIIV_CRASH_AT");
	if ((ex = calloc(1, sizeof(*ex))) == NULL)
		return pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	ex->vs = vs;
	pthread_mutex_init(&ex->mu, NULL);
	pthread_cond_init(&ex->cv, NULL);
	vs->dsr = ex;
	ex->threads = calloc((size_t)vs->cfg->dsr_workers + 1, sizeof(pthread_t));
	if (ex->threads == NULL) {
		vault_dsr_exec_stop(vs);
		return pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
	}
	for (i = 0; i < (size_t)vs->cfg->dsr_workers; i++) {
		if (pthread_create(&ex->threads[i], NULL, worker_main, ex) != 0) {
			vault_dsr_exec_stop(vs);
			return pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL,
			    "cannot start the DSR executor threads");
		}
		ex->nthreads++;
	}
	if (pthread_create(&ex->watch, NULL, watch_main, ex) != 0) {
		vault_dsr_exec_stop(vs);
		return pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL,
		    "cannot start the DSR overdue watch");
	}
	ex->watch_started = 1;
	return 0;
}

void
vault_dsr_exec_stop(struct vault_server *vs)
{
	struct vault_dsr_exec *ex = vs->dsr;
	size_t i;

	if (ex == NULL)
		return;
	pthread_mutex_lock(&ex->mu);
	ex->stopping = 1;
	pthread_cond_broadcast(&ex->cv);
	pthread_mutex_unlock(&ex->mu);
	for (i = 0; i < ex->nthreads; i++)
		pthread_join(ex->threads[i], NULL);
	if (ex->watch_started)
		pthread_join(ex->watch, NULL);
	free(ex->threads);
	pthread_cond_destroy(&ex->cv);
	pthread_mutex_destroy(&ex->mu);
	free(ex);
	vs->dsr = NULL;
}

void
vault_dsr_exec_wake(struct vault_server *vs)
{
	struct vault_dsr_exec *ex = vs->dsr;

	if (ex == NULL)
		return;
	pthread_mutex_lock(&ex->mu);
	ex->wakes++;
	pthread_cond_broadcast(&ex->cv);
	pthread_mutex_unlock(&ex->mu);
}

int
vault_dsr_metrics(struct vault_server *vs, char **buf, size_t *len)
{
	struct vault_dsr_exec *ex = vs->dsr;
	PGresult *res = NULL;
	PGconn *c;
	int r = 0;

	{
		static const struct {
			const char *name, *help;
		} m[] = {
			{ "ingest_dropped_erased_total", "Ingested records dropped "
			  "because their subject was erased (the tombstone at work)." },
			{ "ingest_dropped_objection_total", "Ingested records dropped "
			  "because their subject objects to the job's purpose." },
			{ "dsr_completed_total", "Subject-rights requests completed "
			  "by this vault's executor." },
			{ "dsr_step_failures_total", "Executor steps that failed and "
			  "will be retried." },
			{ "dsr_overdue_notified_total", "Overdue requests reported to "
			  "the notification hook." },
		};
		unsigned long long v[5];
		size_t i;

		v[0] = atomic_load(&vs->dropped_erased);
		v[1] = atomic_load(&vs->dropped_objection);
		v[2] = ex != NULL ? atomic_load(&ex->completed) : 0;
		v[3] = ex != NULL ? atomic_load(&ex->failures) : 0;
		v[4] = ex != NULL ? atomic_load(&ex->notified) : 0;
		for (i = 0; i < 5; i++)
			r |= pii_metrics_appendf(buf, len, "# HELP piiv_vault_%s %s\n"
			    "# TYPE piiv_vault_%s counter\npiiv_vault_%s %llu\n",
			    m[i].name, m[i].help, m[i].name, m[i].name, v[i]);
	}
	if (r != 0)
		return r;
	if ((r = pii_pg_conn(vs->db, &c)) != 0 ||
	    (r = pii_pg_exec(vs->db, c, "SELECT count(*),"
	    " count(*) FILTER (WHERE due_at >= now()"
	    "   AND due_at < now() + interval '7 days'),"
	    " count(*) FILTER (WHERE due_at < now())"
	    " FROM dsr_requests WHERE status IN " DSR_OPEN, 0, NULL, &res)) != 0)
		return r;
	r = pii_metrics_appendf(buf, len,
	    "# HELP piiv_vault_dsr_open Subject-rights requests not yet completed "
	    "or rejected.\n"
	    "# TYPE piiv_vault_dsr_open gauge\n"
	    "piiv_vault_dsr_open %s\n", PQgetvalue(res, 0, 0));
	r |= pii_metrics_appendf(buf, len,
	    "# HELP piiv_vault_dsr_due_7d Open requests due within the next 7 days.\n"
	    "# TYPE piiv_vault_dsr_due_7d gauge\n"
	    "piiv_vault_dsr_due_7d %s\n", PQgetvalue(res, 0, 1));
	r |= pii_metrics_appendf(buf, len,
	    "# HELP piiv_vault_dsr_overdue Open requests past their deadline.\n"
	    "# TYPE piiv_vault_dsr_overdue gauge\n"
	    "piiv_vault_dsr_overdue %s\n", PQgetvalue(res, 0, 2));
	PQclear(res);
	return r;
}

int
vault_dsr_rows_json(const PGresult *res, json_t **out)
{
	int i;

	if ((*out = json_array()) == NULL)
		return PII_ERR_NOMEM;
	for (i = 0; i < PQntuples(res); i++) {
		json_t *j = json_loads(PQgetvalue(res, i, 0), 0, NULL);

		if (j == NULL || json_array_append_new(*out, j) != 0) {
			json_decref(*out);
			*out = NULL;
			return PII_ERR_NOMEM;
		}
	}
	return 0;
}
