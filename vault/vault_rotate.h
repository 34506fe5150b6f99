/*
 * vault_rotate.h - KEK rotation (`pii-vault rotate-kek`) and the lock that
 * keeps it offline with respect to serving vaults (docs/keys.md section 4).
 *
 * A serving vault holds the keystore in memory and wraps new DEKs under the
 * epoch that was current when it started.  If a rotation destroyed that epoch
 * while the vault served, every key the vault wrapped afterwards would be
 * unreadable.  So the two exclude each other through one PostgreSQL advisory
 * lock of the vault database, VAULT_KEK_LOCK_KEY:
 *
 *   serve       holds it SHARED (pg_advisory_lock_shared) for the life of the
 *               process, on a connection of its own (vault_kek_guard_*);
 *   rotate-kek  takes it EXCLUSIVELY (pg_try_advisory_lock) on a connection of
 *               its own before it opens the keystore, and refuses to run if
 *               it cannot (vault_rotate_lock); it holds it to the end.
 *
 * Advisory locks belong to one database: the lock orders the vaults and the
 * rotations of one vault database, whose keystore it is.
 */
#ifndef VAULT_ROTATE_H
#define VAULT_ROTATE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"
#include "../common/pg.h"
#include "vault_keys.h"

/* The first 8 bytes of SHA-256("piivault-kek") (fcbcae586193121d...) as a
 * big-endian signed 64-bit integer.  In pg_locks: locktype 'advisory',
 * classid 4240223832, objid 1637028381, objsubid 1. */
#define VAULT_KEK_LOCK_KEY (-235121385912724963LL)
#define VAULT_KEK_LOCK_KEY_TEXT "-235121385912724963"

/* Rows re-wrapped per transaction. */
#define VAULT_ROTATE_BATCH 1000
/* At most this many live epochs (the keystore's own bound). */
#define VAULT_ROTATE_MAX_EPOCHS 256

/* ---- rotate-kek -------------------------------------------------------- */

/* Take the rotation lock exclusively on this thread's connection of lockdb
 * (keep lockdb, and so the lock, until the rotation is over).
 * PII_ERR_CONFLICT, with the message for the operator, if a vault serves
 * this database or another rotation runs. */
int vault_rotate_lock(struct pii_pg *lockdb, struct pii_errinfo *ei);

struct vault_rotate_result {
	uint32_t epoch;               /* the new current epoch */
	long long rewrapped;          /* subject keys re-wrapped under it */
	long long unreadable;         /* rows under an epoch already destroyed
	                               * (or unknown): left as they are */
	uint32_t destroyed[VAULT_ROTATE_MAX_EPOCHS];   /* ascending */
	size_t ndestroyed;
};

/*
 * The rotation, with the lock held and keys opened after it was taken:
 *   0. the database must belong to keys' keystore (vault_meta);
 *   1. vault_keys_rotate_kek: a new epoch becomes current;
 *   2. every subject_keys row under another epoch is unwrapped and wrapped
 *      again under the new one, batch rows (0: VAULT_ROTATE_BATCH) per
 *      transaction; a row whose epoch is already destroyed is counted in
 *      res->unreadable and left; a row that does not authenticate
 *      (PII_ERR_CRYPTO) stops the rotation, naming its subject_id;
 *   3. once no row is left under a live epoch other than the new one, every
 *      such epoch is destroyed (vault_keys_destroy_epoch).
 * Crash-safe: a failure or crash at any point leaves every key readable, and
 * a rerun adds one more epoch and finishes the job.  Logs a line per batch.
 * res is filled as far as the rotation went, also on failure.
 */
int vault_rotate_kek_run(struct pii_pg *db, struct vault_keys *keys,
    size_t batch, struct vault_rotate_result *res, struct pii_errinfo *ei);

/* ---- serve ------------------------------------------------------------- */

struct vault_kek_guard;

/*
 * Start a thread that takes the rotation lock SHARED on a connection of its
 * own to conninfo and holds it until vault_kek_guard_stop.  While a rotation
 * holds the lock it logs event=kek_lock_wait and waits.  If the connection
 * drops once held, it logs event=kek_lock_lost (warn), reconnects and takes
 * the lock again (event=kek_lock_regained); if the keystore's current epoch
 * (read from root_key_file, keystore_file) then differs from the one noted
 * with vault_kek_guard_note_epoch, it logs event=keystore_changed (error).
 * The paths are copied.  *out is new.
 */
int vault_kek_guard_start(const char *conninfo, const char *root_key_file,
    const char *keystore_file, struct vault_kek_guard **out);

/* Wait up to timeout_ms for the first acquisition: 1 held, 0 not yet,
 * or a negative code (ei filled) if the thread gave up (database
 * unreachable at start). */
int vault_kek_guard_wait(struct vault_kek_guard *g, int timeout_ms,
    struct pii_errinfo *ei);

/* The current epoch of the keys the vault serves with. */
void vault_kek_guard_note_epoch(struct vault_kek_guard *g, uint32_t epoch);

/* Stop the thread (its connection closes, releasing the lock) and free g.
 * Accepts NULL. */
void vault_kek_guard_stop(struct vault_kek_guard *g);

#endif
