/*
 * vault_dsr_state.h - the states of a subject-rights request and the only
 * transitions between them.
 *
 *   received --verify--> verified --start--> in_progress --complete--> completed
 *       |                    |                    |
 *       +------reject--------+------reject--------+--> rejected
 *
 * Extending the deadline is not a transition: it is allowed in received,
 * verified and in_progress (before the deadline, vault_dsr_time.h).
 * completed and rejected are final.  Every transition is audited by its
 * caller.  Pure functions.
 */
#ifndef VAULT_DSR_STATE_H
#define VAULT_DSR_STATE_H

#include "../common/err.h"

enum vault_dsr_state {
	VAULT_DSR_RECEIVED,
	VAULT_DSR_VERIFIED,
	VAULT_DSR_IN_PROGRESS,
	VAULT_DSR_COMPLETED,
	VAULT_DSR_REJECTED,
};

enum vault_dsr_event {
	VAULT_DSR_VERIFY,
	VAULT_DSR_START,
	VAULT_DSR_COMPLETE,
	VAULT_DSR_REJECT,
	VAULT_DSR_EXTEND,
};

/* The state after event in state from, into *to (from itself for
 * VAULT_DSR_EXTEND); PII_ERR_CONFLICT if the event is not allowed there. */
int vault_dsr_next(enum vault_dsr_state from, enum vault_dsr_event event,
    enum vault_dsr_state *to);
/* 1 for completed and rejected. */
int vault_dsr_final(enum vault_dsr_state s);
/* "received", "verified", ... and back (PII_ERR_BAD_REQUEST for others). */
const char *vault_dsr_state_name(enum vault_dsr_state s);
int vault_dsr_state_parse(const char *name, enum vault_dsr_state *out);
const char *vault_dsr_event_name(enum vault_dsr_event e);

#endif
