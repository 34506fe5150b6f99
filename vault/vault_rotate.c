/*
 * vault_rotate.c - KEK rotation and the advisory lock that keeps it apart
 * from serving vaults (vault_rotate.h, docs/keys.md section 4).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../common/buf.h"
#include "../common/log.h"
#include "vault_crypto.h"
#include "vault_rotate.h"

/* VAULT_KEK_LOCK_KEY split as pg_locks shows a bigint advisory key. */
#define KEK_LOCK_CLASSID_TEXT "4240223832"
#define KEK_LOCK_OBJID_TEXT "1637028381"

#define MSG_SERVING "a vault is serving this database; stop every pii-vault " \
	"serve first (rotation re-wraps keys the running vaults hold in memory)"

/* ---- the lock, rotate-kek's side --------------------------------------- */

int
vault_rotate_lock(struct pii_pg *lockdb, struct pii_errinfo *ei)
{
	const char *p[2] = { VAULT_KEK_LOCK_KEY_TEXT, NULL };
	PGresult *res = NULL;
	PGconn *c;
	long long exclusive = 0;
	int r, got;

	if ((r = pii_pg_conn(lockdb, &c)) != 0)
		return pii_errinfo_set(ei, r, NULL, "database unreachable: %s",
		    pii_pg_last_error());
	if ((r = pii_pg_exec(lockdb, c, "SELECT pg_try_advisory_lock($1::bigint)",
	    1, p, &res)) != 0)
		return pii_errinfo_set(ei, r, NULL, "cannot take the rotation lock: %s",
		    pii_pg_last_error());
	got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	if (got)
		return 0;
	/* Who holds it: another rotation (exclusive) or serving vaults (shared).
	 * Only for the message: if pg_locks cannot be read, say "serving". */
	p[0] = KEK_LOCK_CLASSID_TEXT;
	p[1] = KEK_LOCK_OBJID_TEXT;
	if (pii_pg_exec(lockdb, c,
	    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
	    " AND database = (SELECT oid FROM pg_database"
	    "                 WHERE datname = current_database())"
	    " AND classid = $1::oid AND objid = $2::oid AND objsubid = 1"
	    " AND granted AND mode = 'ExclusiveLock'", 2, p, &res) == 0) {
		exclusive = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
	}
	if (exclusive > 0)
		return pii_errinfo_set(ei, PII_ERR_CONFLICT, NULL, "another pii-vault "
		    "rotate-kek is running on this database; let it finish");
	return pii_errinfo_set(ei, PII_ERR_CONFLICT, NULL, "%s", MSG_SERVING);
}

/* ---- the rotation ------------------------------------------------------ */

static void
rollback(struct pii_pg *db, PGconn *c)
{
	if (pii_pg_still_open(db, c))
		PQclear(PQexec(c, "ROLLBACK"));
}

/* Step 0: the database must belong to this keystore, or its keys would all
 * fail to unwrap (and a rotation would only add epochs to a foreign file). */
static int
check_binding(struct pii_pg *db, PGconn *c, const struct vault_keys *keys,
    struct pii_errinfo *ei)
{
	PGresult *res = NULL;
	int r, same;

	if ((r = pii_pg_exec(db, c,
	    "SELECT value FROM vault_meta WHERE key = 'keystore_id'", 0, NULL,
	    &res)) != 0)
		return pii_errinfo_set(ei, r, NULL, "cannot read vault_meta (run "
		    "pii-vault migrate first?): %s", pii_pg_last_error());
	if (PQntuples(res) != 1) {
		PQclear(res);
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "the vault database "
		    "records no keystore; run pii-vault migrate first");
	}
	same = strcmp(PQgetvalue(res, 0, 0), vault_keys_keystore_id(keys)) == 0;
	PQclear(res);
	if (!same)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, "keystore_file",
		    "this database belongs to another keystore (id mismatch); "
		    "refusing to rotate");
	return 0;
}

/* One batch of step 2: up to batch rows with subject_id > *last under any
 * epoch but cur, re-wrapped under cur in one transaction.  *nrows receives
 * the number of rows read (fewer than batch: this was the last one). */
static int
rewrap_batch(struct pii_pg *db, PGconn *c, const struct vault_keys *keys,
    uint32_t cur, size_t batch, long long *last, size_t *nrows,
    struct vault_rotate_result *res, struct pii_errinfo *ei)
{
	char curtext[16], lasttext[24], limtext[24];
	const char *p[4];
	unsigned char wrapped[VAULT_WRAPPED_DEK_BYTES];
	unsigned char rewrapped[VAULT_WRAPPED_DEK_BYTES];
	struct pii_buf ids, olds, blobs;
	PGresult *rows = NULL, *upd = NULL;
	long long id = 0, nupd = 0, unreadable = 0;
	size_t i, n = 0;
	int r;

	pii_buf_init(&ids, 1 << 24);
	pii_buf_init(&olds, 1 << 24);
	pii_buf_init(&blobs, 1 << 26);
	pii_buf_putc(&ids, '{');
	pii_buf_putc(&olds, '{');
	pii_buf_putc(&blobs, '{');
	snprintf(curtext, sizeof(curtext), "%" PRIu32, cur);
	snprintf(lasttext, sizeof(lasttext), "%lld", *last);
	snprintf(limtext, sizeof(limtext), "%zu", batch);
	if ((r = pii_pg_exec(db, c, "BEGIN", 0, NULL, NULL)) != 0) {
		pii_errinfo_set(ei, r, NULL, "database: %s", pii_pg_last_error());
		goto out;
	}
	p[0] = curtext;
	p[1] = lasttext;
	p[2] = limtext;
	if ((r = pii_pg_exec(db, c,
	    "SELECT k.subject_id, k.kek_epoch, encode(k.wrapped_dek, 'hex'),"
	    " s.subject_token"
	    " FROM subject_keys k LEFT JOIN subjects s ON s.id = k.subject_id"
	    " WHERE k.kek_epoch <> $1::integer AND k.subject_id > $2::bigint"
	    " ORDER BY k.subject_id LIMIT $3::integer FOR UPDATE OF k", 3, p,
	    &rows)) != 0) {
		pii_errinfo_set(ei, r, NULL, "cannot read subject_keys: %s",
		    pii_pg_last_error());
		goto out;
	}
	n = (size_t)PQntuples(rows);
	for (i = 0; i < n; i++) {
		const char *hex = PQgetvalue(rows, (int)i, 2);
		const char *token = PQgetvalue(rows, (int)i, 3);
		struct vault_dek *dek = NULL;
		long long epoch;
		size_t wlen = 0;
		uint32_t e = 0;

		id = strtoll(PQgetvalue(rows, (int)i, 0), NULL, 10);
		epoch = strtoll(PQgetvalue(rows, (int)i, 1), NULL, 10);
		if (PQgetisnull(rows, (int)i, 3)) {
			r = pii_errinfo_set(ei, PII_ERR_CONFLICT, NULL, "the subject "
			    "key of subject_id %lld has no subjects row; nothing was "
			    "destroyed", id);
			goto out;
		}
		if (epoch < 1 || epoch > (long long)UINT32_MAX) {
			unreadable++;   /* no such epoch was ever made */
			continue;
		}
		/* a malformed blob is left to vault_dek_unwrap to refuse */
		if (sodium_hex2bin(wrapped, sizeof(wrapped), hex, strlen(hex), NULL,
		    &wlen, NULL) != 0)
			wlen = 0;
		r = vault_dek_unwrap(keys, wrapped, wlen, token, (uint32_t)epoch, &dek);
		if (r == PII_ERR_KEY) {
			unreadable++;   /* its epoch is destroyed: unreadable anyway */
			continue;
		}
		if (r == PII_ERR_CRYPTO) {
			pii_errinfo_set(ei, r, NULL, "the subject key of subject_id "
			    "%lld (epoch %lld) does not authenticate (changed, moved "
			    "or tampered with); nothing was destroyed", id, epoch);
			goto out;
		}
		if (r != 0) {
			pii_errinfo_set(ei, r, NULL, "cannot unwrap the subject key of "
			    "subject_id %lld: %s", id, pii_strerror(r));
			goto out;
		}
		r = vault_dek_wrap(keys, dek, token, &e, rewrapped);
		vault_dek_free(dek);
		if (r == 0 && e != cur)
			r = PII_ERR_INTERNAL;
		if (r != 0) {
			pii_errinfo_set(ei, r, NULL, "cannot wrap the subject key of "
			    "subject_id %lld: %s", id, pii_strerror(r));
			goto out;
		}
		pii_buf_array_elem(&ids, PQgetvalue(rows, (int)i, 0));
		pii_buf_array_elem(&olds, PQgetvalue(rows, (int)i, 1));
		if (blobs.len > 1)
			pii_buf_putc(&blobs, ',');
		pii_buf_hex(&blobs, rewrapped, sizeof(rewrapped));
		nupd++;
	}
	pii_buf_putc(&ids, '}');
	pii_buf_putc(&olds, '}');
	pii_buf_putc(&blobs, '}');
	if (ids.failed || olds.failed || blobs.failed) {
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (nupd > 0) {
		p[0] = curtext;
		p[1] = ids.data;
		p[2] = olds.data;
		p[3] = blobs.data;
		if ((r = pii_pg_exec(db, c,
		    "UPDATE subject_keys k SET kek_epoch = $1::integer,"
		    " wrapped_dek = decode(u.w, 'hex')"
		    " FROM unnest($2::bigint[], $3::integer[], $4::text[])"
		    "   AS u(id, old, w)"
		    " WHERE k.subject_id = u.id AND k.kek_epoch = u.old", 4, p,
		    &upd)) != 0) {
			pii_errinfo_set(ei, r, NULL, "cannot update subject_keys: %s",
			    pii_pg_last_error());
			goto out;
		}
		if (strtoll(PQcmdTuples(upd), NULL, 10) != nupd) {
			r = pii_errinfo_set(ei, PII_ERR_CONFLICT, NULL, "subject_keys "
			    "changed during the rotation; nothing was destroyed");
			goto out;
		}
	}
	if ((r = pii_pg_exec(db, c, "COMMIT", 0, NULL, NULL)) != 0) {
		pii_errinfo_set(ei, r, NULL, "database: %s", pii_pg_last_error());
		goto out;
	}
	res->rewrapped += nupd;
	res->unreadable += unreadable;
	if (n > 0)
		*last = id;
	*nrows = n;
	r = 0;
out:
	if (r != 0)
		rollback(db, c);
	sodium_memzero(wrapped, sizeof(wrapped));
	sodium_memzero(rewrapped, sizeof(rewrapped));
	PQclear(upd);
	PQclear(rows);
	pii_buf_free(&ids);
	pii_buf_free(&olds);
	pii_buf_free(&blobs);
	return r;
}

int
vault_rotate_kek_run(struct pii_pg *db, struct vault_keys *keys,
    size_t batch, struct vault_rotate_result *res, struct pii_errinfo *ei)
{
	uint32_t live[VAULT_ROTATE_MAX_EPOCHS];
	struct pii_buf old;
	PGresult *cnt = NULL;
	PGconn *c;
	const char *p[1];
	long long last = 0, left;
	size_t i, nlive = 0, nold = 0, nrows = 0;
	int r;

	memset(res, 0, sizeof(*res));
	pii_buf_init(&old, 1 << 16);
	if (batch == 0)
		batch = VAULT_ROTATE_BATCH;
	if ((r = pii_pg_conn(db, &c)) != 0) {
		pii_errinfo_set(ei, r, NULL, "database unreachable: %s",
		    pii_pg_last_error());
		goto out;
	}
	if ((r = check_binding(db, c, keys, ei)) != 0)
		goto out;

	/* 1. a new epoch, current from now on (keystore rewritten atomically) */
	if ((r = vault_keys_rotate_kek(keys, &res->epoch, ei)) != 0)
		goto out;
	pii_log(PII_LOG_INFO, "event=rotate_kek_epoch epoch=%" PRIu32
	    " keystore=%s", res->epoch, vault_keys_keystore_id(keys));

	/* 2. re-wrap every key under another epoch, batch by batch */
	do {
		if ((r = rewrap_batch(db, c, keys, res->epoch, batch, &last, &nrows,
		    res, ei)) != 0)
			goto out;
		if (nrows > 0)
			pii_log(PII_LOG_INFO, "event=rotate_kek_batch epoch=%" PRIu32
			    " rows=%zu rewrapped=%lld unreadable=%lld "
			    "last_subject_id=%lld", res->epoch, nrows,
			    res->rewrapped, res->unreadable, last);
	} while (nrows == batch);

	/* 3. destroy the live epochs other than the new one, once no key is
	 * left under any of them (keys under destroyed epochs are not counted:
	 * nothing can read them) */
	if ((r = vault_keys_epoch_list(keys, live, VAULT_ROTATE_MAX_EPOCHS,
	    &nlive)) != 0) {
		pii_errinfo_set(ei, r, NULL, "cannot list the KEK epochs");
		goto out;
	}
	pii_buf_putc(&old, '{');
	for (i = 0; i < nlive; i++) {
		char e[16];

		if (live[i] == res->epoch)
			continue;
		snprintf(e, sizeof(e), "%" PRIu32, live[i]);
		pii_buf_array_elem(&old, e);
		nold++;
	}
	pii_buf_putc(&old, '}');
	if (old.failed) {
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	if (nold > 0) {
		p[0] = old.data;
		if ((r = pii_pg_exec(db, c, "SELECT count(*) FROM subject_keys"
		    " WHERE kek_epoch = ANY ($1::integer[])", 1, p, &cnt)) != 0) {
			pii_errinfo_set(ei, r, NULL, "cannot count subject_keys: %s",
			    pii_pg_last_error());
			goto out;
		}
		left = strtoll(PQgetvalue(cnt, 0, 0), NULL, 10);
		if (left != 0) {
			r = pii_errinfo_set(ei, PII_ERR_CONFLICT, NULL, "%lld subject "
			    "keys are still under older live epochs; nothing was "
			    "destroyed (run rotate-kek again)", left);
			goto out;
		}
	}
	for (i = 0; i < nlive; i++) {
		if (live[i] == res->epoch)
			continue;
		if ((r = vault_keys_destroy_epoch(keys, live[i], ei)) != 0)
			goto out;
		res->destroyed[res->ndestroyed++] = live[i];
		pii_log(PII_LOG_INFO, "event=rotate_kek_destroyed epoch=%" PRIu32,
		    live[i]);
	}
	r = 0;
out:
	PQclear(cnt);
	pii_buf_free(&old);
	return r;
}

/* ---- the lock, serve's side -------------------------------------------- */

struct vault_kek_guard {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;                  /* 0 waiting, 1 held, < 0 gave up */
	int stop;
	uint32_t epoch;             /* 0: not noted yet */
	struct pii_errinfo ei;
	struct pii_pg *pg;
	char *root_key_file, *keystore_file;
};

/* The CLOCK_MONOTONIC time ms from now (the guard's condition waits on that
 * clock). */
static void
deadline_in(int ms, struct timespec *until)
{
	clock_gettime(CLOCK_MONOTONIC, until);
	until->tv_sec += ms / 1000;
	until->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until->tv_nsec >= 1000000000L) {
		until->tv_sec++;
		until->tv_nsec -= 1000000000L;
	}
}

/* Sleep up to ms, or until asked to stop: 1 if asked to stop. */
static int
guard_sleep(struct vault_kek_guard *g, int ms)
{
	struct timespec until;
	int stop;

	deadline_in(ms, &until);
	pthread_mutex_lock(&g->mu);
	while (!g->stop && pthread_cond_timedwait(&g->cv, &g->mu, &until) !=
	    ETIMEDOUT)
		;
	stop = g->stop;
	pthread_mutex_unlock(&g->mu);
	return stop;
}

/* Take the lock shared without waiting: *got is 1 if taken. */
static int
try_shared(struct pii_pg *pg, PGconn *c, int *got)
{
	const char *p[1] = { VAULT_KEK_LOCK_KEY_TEXT };
	PGresult *res = NULL;
	int r;

	if ((r = pii_pg_exec(pg, c, "SELECT pg_try_advisory_lock_shared($1::bigint)",
	    1, p, &res)) != 0)
		return r;
	*got = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* 1 while the idle connection c is still up: read whatever the server left
 * on the socket (a shutdown notice, EOF) without waiting. */
static int
conn_alive(PGconn *c)
{
	struct pollfd pfd;
	int i;

	for (i = 0; i < 4 && PQstatus(c) == CONNECTION_OK; i++) {
		pfd.fd = PQsocket(c);
		pfd.events = POLLIN;
		pfd.revents = 0;
		if (pfd.fd < 0)
			return 0;
		if (poll(&pfd, 1, 0) <= 0)
			break;
		if (PQconsumeInput(c) == 0)
			return 0;
	}
	return PQstatus(c) == CONNECTION_OK;
}

/* After the lock was lost and taken again: did a rotation run meanwhile? */
static void
guard_check_keystore(struct vault_kek_guard *g)
{
	struct vault_keys *k = NULL;
	struct pii_errinfo ei;
	uint32_t noted;

	pii_errinfo_clear(&ei);
	pthread_mutex_lock(&g->mu);
	noted = g->epoch;
	pthread_mutex_unlock(&g->mu);
	if (vault_keys_open(g->root_key_file, g->keystore_file, &k, &ei) != 0) {
		pii_log(PII_LOG_WARN, "event=keystore_check_failed detail=\"%s\"",
		    ei.message[0] != '\0' ? ei.message : pii_strerror(ei.code));
		return;
	}
	if (noted != 0 && vault_keys_current_epoch(k) != noted)
		pii_log(PII_LOG_ERROR, "event=keystore_changed epoch=%" PRIu32
		    " serving_epoch=%" PRIu32 " detail=\"the KEK was rotated while "
		    "this vault served: keys it wraps now are lost at the next "
		    "rotation; restart this vault now\"",
		    vault_keys_current_epoch(k), noted);
	vault_keys_free(k);
}

static void *
guard_main(void *arg)
{
	struct vault_kek_guard *g = arg;
	PGconn *c = NULL, *held = NULL;
	int r, got = 0, waited = 0, conflict;

	/* the first acquisition; a rotation in progress is waited for */
	for (;;) {
		if ((r = pii_pg_conn(g->pg, &c)) == 0)
			r = try_shared(g->pg, c, &got);
		if (r != 0) {
			pthread_mutex_lock(&g->mu);
			pii_errinfo_set(&g->ei, r, NULL, "cannot take the KEK rotation "
			    "lock: %s", pii_pg_last_error());
			g->state = r;
			pthread_cond_broadcast(&g->cv);
			pthread_mutex_unlock(&g->mu);
			return NULL;
		}
		if (got)
			break;
		if (!waited)
			pii_log(PII_LOG_INFO, "event=kek_lock_wait detail=\"a KEK "
			    "rotation is running on this database; waiting for it "
			    "to finish\"");
		waited = 1;
		if (guard_sleep(g, 1000))
			return NULL;
	}
	held = c;
	pthread_mutex_lock(&g->mu);
	g->state = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	if (waited)
		pii_log(PII_LOG_INFO, "event=kek_lock_taken");

	/* hold it; take it again after the connection dropped */
	for (;;) {
		if (guard_sleep(g, 2000))
			return NULL;
		if (conn_alive(held))
			continue;
		pii_log(PII_LOG_WARN, "event=kek_lock_lost detail=\"the connection "
		    "holding the KEK rotation lock closed; reconnecting (do not run "
		    "rotate-kek meanwhile)\"");
		held = NULL;
		conflict = 0;
		while (held == NULL) {
			if (guard_sleep(g, 2000))
				return NULL;
			if (pii_pg_conn(g->pg, &c) != 0 || try_shared(g->pg, c, &got) != 0)
				continue;
			if (got) {
				held = c;
				break;
			}
			if (!conflict)
				pii_log(PII_LOG_ERROR, "event=kek_lock_conflict detail=\"a "
				    "KEK rotation is running while this vault serves; "
				    "stop this vault\"");
			conflict = 1;
		}
		pii_log(PII_LOG_INFO, "event=kek_lock_regained");
		guard_check_keystore(g);
	}
}

static void
guard_free(struct vault_kek_guard *g)
{
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	pii_pg_free(g->pg);
	free(g->root_key_file);
	free(g->keystore_file);
	free(g);
}

int
vault_kek_guard_start(const char *conninfo, const char *root_key_file,
    const char *keystore_file, struct vault_kek_guard **out)
{
	struct vault_kek_guard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (g == NULL)
		return PII_ERR_NOMEM;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	g->root_key_file = strdup(root_key_file);
	g->keystore_file = strdup(keystore_file);
	if (g->root_key_file == NULL || g->keystore_file == NULL ||
	    pii_pg_new(conninfo, "pii-vault-kek-lock", 0, &g->pg) != 0 ||
	    pthread_create(&g->th, NULL, guard_main, g) != 0) {
		guard_free(g);
		return PII_ERR_NOMEM;
	}
	*out = g;
	return 0;
}

int
vault_kek_guard_wait(struct vault_kek_guard *g, int timeout_ms,
    struct pii_errinfo *ei)
{
	struct timespec until;
	int state;

	deadline_in(timeout_ms, &until);
	pthread_mutex_lock(&g->mu);
	while (g->state == 0 && pthread_cond_timedwait(&g->cv, &g->mu, &until) !=
	    ETIMEDOUT)
		;
	state = g->state;
	if (state < 0 && ei != NULL)
		*ei = g->ei;
	pthread_mutex_unlock(&g->mu);
	return state;
}

void
vault_kek_guard_note_epoch(struct vault_kek_guard *g, uint32_t epoch)
{
	pthread_mutex_lock(&g->mu);
	g->epoch = epoch;
	pthread_mutex_unlock(&g->mu);
}

void
vault_kek_guard_stop(struct vault_kek_guard *g)
{
	if (g == NULL)
		return;
	pthread_mutex_lock(&g->mu);
	g->stop = 1;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
	/* the thread's connection closes as it ends (pg.h), and with it the
	 * session's lock */
	pthread_join(g->th, NULL);
	guard_free(g);
}
