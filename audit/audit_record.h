/*
 * audit_record.h - an audit record and its canonical byte encoding.
 *
 * A record says who (actor, role, on behalf of whom), why (purpose,
 * ticket), did what (action) to which subject token and categories, and
 * what was decided - never a PII value, so the log outlives an erasure.
 *
 * The canonical encoding is what the Merkle tree hashes (leaf =
 * SHA-256(0x00 || encoding)).  It is defined in docs/audit.md:
 *
 *   u8  format (1)
 *   str origin                 the writer's log (writer name / process id)
 *   u64 seq                    0, 1, 2, ... without gaps within an origin
 *   i64 at_us                  microseconds since 1970-01-01 UTC
 *   str actor  ostr role  ostr on_behalf_of  ostr purpose  ostr ticket
 *   str action  ostr subject_token
 *   u16 ncategories, then str each
 *   str decision  str reason  str request_id  ostr source  ostr batch_id
 *   i64 count
 *
 * integers are big-endian; str = 0x01 || u32 length || bytes; ostr is str
 * or a single 0x00 for an absent (SQL NULL) value.  Every field is present
 * in a fixed order, so one record has exactly one encoding.
 */
#ifndef AUDIT_RECORD_H
#define AUDIT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "../common/err.h"

#define AUDIT_MAX_CATEGORIES 32
#define AUDIT_RECORD_FORMAT 1
/* Longest text field, in bytes; longer fields are refused, not cut. */
#define AUDIT_FIELD_MAX 512
/* Longest encoding: 15 text fields and the categories at their maximum. */
#define AUDIT_RECORD_MAX (1 + 8 + 8 + 8 + 2 + \
    (15 + AUDIT_MAX_CATEGORIES) * (5 + AUDIT_FIELD_MAX))

struct audit_record {
	const char *actor;          /* service identity or person; "anonymous" */
	const char *role;           /* role of the person, from the proxy, or NULL */
	const char *on_behalf_of;   /* person the service acts for, or NULL */
	const char *purpose;
	const char *ticket;
	const char *action;         /* "tokenize", "reveal", "detokenize", ... */
	const char *subject_token;  /* or NULL */
	const char *const *categories;
	size_t ncategories;
	const char *decision;       /* "allow" | "deny" */
	const char *reason;         /* "ok" or an API error code */
	const char *request_id;
	const char *source;         /* dataset, for tokenize */
	const char *batch_id;
	long long count;            /* values or records concerned */
};

/* Where a record sits in its writer's log. */
struct audit_position {
	const char *origin;
	uint64_t seq;
	int64_t at_us;
};

/* Encode into out (cap bytes; AUDIT_RECORD_MAX is always enough).
 * PII_ERR_BAD_REQUEST if a required field is NULL, a category is not
 * [a-z0-9_]+ or decision is not allow/deny; PII_ERR_TOO_LARGE if a field
 * passes AUDIT_FIELD_MAX or there are too many categories. */
int audit_record_encode(const struct audit_position *pos,
    const struct audit_record *rec, unsigned char *out, size_t cap,
    size_t *outlen);

/*
 * A decoded record: views into the encoding (not NUL-terminated: each
 * field has its length), valid while the encoding is.
 */
struct audit_field {
	const unsigned char *p;     /* NULL for an absent optional field */
	size_t len;
};

struct audit_record_view {
	struct audit_field origin;
	uint64_t seq;
	int64_t at_us;
	struct audit_field actor, role, on_behalf_of, purpose, ticket, action,
	    subject_token;
	struct audit_field categories[AUDIT_MAX_CATEGORIES];
	size_t ncategories;
	struct audit_field decision, reason, request_id, source, batch_id;
	int64_t count;
};

/* Decode a whole encoding.  PII_ERR_BAD_REQUEST if it is not exactly one
 * well-formed record (bad format byte, truncated, trailing bytes, a field
 * over its limit, a required field absent) or holds what encode refuses (a
 * decision other than allow/deny, a category not [a-z0-9_]+). */
int audit_record_decode(const unsigned char *in, size_t len,
    struct audit_record_view *out) __attribute__((warn_unused_result));

#endif
