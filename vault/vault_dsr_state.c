/*
 * vault_dsr_state.c - the transition table of a subject-rights request.
 */
#include <string.h>

#include "vault_dsr_state.h"

static const char *const state_names[] = { "received", "verified",
	"in_progress", "completed", "rejected" };
static const char *const event_names[] = { "verify", "start", "complete",
	"reject", "extend" };

int
vault_dsr_final(enum vault_dsr_state s)
{
	return s == VAULT_DSR_COMPLETED || s == VAULT_DSR_REJECTED;
}

int
vault_dsr_next(enum vault_dsr_state from, enum vault_dsr_event event,
    enum vault_dsr_state *to)
{
	enum vault_dsr_state next;

	if ((unsigned)from > VAULT_DSR_REJECTED || vault_dsr_final(from))
		return PII_ERR_CONFLICT;
	switch (event) {
	case VAULT_DSR_VERIFY:
		if (from != VAULT_DSR_RECEIVED)
			return PII_ERR_CONFLICT;
		next = VAULT_DSR_VERIFIED;
		break;
	case VAULT_DSR_START:
		if (from != VAULT_DSR_VERIFIED)
			return PII_ERR_CONFLICT;
		next = VAULT_DSR_IN_PROGRESS;
		break;
	case VAULT_DSR_COMPLETE:
		if (from != VAULT_DSR_IN_PROGRESS)
			return PII_ERR_CONFLICT;
		next = VAULT_DSR_COMPLETED;
		break;
	case VAULT_DSR_REJECT:
		next = VAULT_DSR_REJECTED;
		break;
	case VAULT_DSR_EXTEND:
		next = from;
		break;
	default:
		return PII_ERR_CONFLICT;
	}
	*to = next;
	return 0;
}

const char *
vault_dsr_state_name(enum vault_dsr_state s)
{
	return (unsigned)s <= VAULT_DSR_REJECTED ? state_names[s] : "unknown";
}

const char *
vault_dsr_event_name(enum vault_dsr_event e)
{
	return (unsigned)e <= VAULT_DSR_EXTEND ? event_names[e] : "unknown";
}

int
vault_dsr_state_parse(const char *name, enum vault_dsr_state *out)
{
	size_t i;

	for (i = 0; name != NULL && i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(name, state_names[i]) == 0) {
			*out = (enum vault_dsr_state)i;
			return 0;
		}
	return PII_ERR_BAD_REQUEST;
}
