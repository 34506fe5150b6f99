/*
 * err.h - the one error vocabulary of piivault.
 *
 * Every function in the libraries returns 0 on success or one of the negative
 * PII_ERR_* codes below, and sets its output pointers only on success.  One
 * table (err.c) maps each code to its text, its HTTP status and the API error
 * code of the contract ("bad_request", "audit_unavailable", ...), so a daemon
 * never decides a status in two places.
 *
 * A request-level failure also carries a struct pii_errinfo: the JSON path of
 * the offending field and a message for the client.  Messages name fields,
 * limits and rules; they never contain a value that came from the request.
 */
#ifndef PII_ERR_H
#define PII_ERR_H

#include <stddef.h>

enum pii_err {
	PII_OK = 0,
	/* codes with an API meaning (see API.md, "Conventions") */
	PII_ERR_BAD_REQUEST = -1,
	PII_ERR_INVALID_JSON = -2,
	PII_ERR_DUPLICATE_KEY = -3,
	PII_ERR_TOO_LARGE = -4,
	PII_ERR_UNKNOWN_CATEGORY = -5,
	PII_ERR_UNAUTHENTICATED = -6,
	PII_ERR_FORBIDDEN = -7,
	PII_ERR_POLICY_DENIED = -8,
	PII_ERR_TICKET_REQUIRED = -9,
	PII_ERR_APPROVAL_REQUIRED = -10,
	PII_ERR_OBJECTION = -11,
	PII_ERR_RATE_LIMITED = -12,
	PII_ERR_NOT_FOUND = -13,
	PII_ERR_SUBJECT_ERASED = -14,
	PII_ERR_CONFLICT = -15,
	PII_ERR_AUDIT_UNAVAILABLE = -16,
	PII_ERR_DB_UNAVAILABLE = -17,
	PII_ERR_INTERNAL = -18,
	PII_ERR_METHOD = -19,        /* 405, api code bad_request */
	/* internal codes; reach a client only as "internal" (except RANGE) */
	PII_ERR_NOMEM = -30,
	PII_ERR_IO = -31,
	PII_ERR_CRYPTO = -32,        /* authentication tag / decrypt failure */
	PII_ERR_CONFIG = -33,
	PII_ERR_PERM = -34,          /* key file readable by group or others */
	PII_ERR_KEY = -35,           /* unknown or destroyed key version */
	PII_ERR_RANGE = -36,         /* a number outside its range: 400 bad_request */
	PII_ERR_USAGE = -37,         /* command-line usage */
	PII_ERR_SQL = -38,           /* a statement failed for a reason other than connectivity */
};

#define PII_ERR_MAX_FIELD   128
#define PII_ERR_MAX_MESSAGE 256

/* Detail of a request-level error.  field is a JSON path ("records[3].fields.email")
 * or empty; message is a sentence for the client, never containing input values. */
struct pii_errinfo {
	int code;
	char field[PII_ERR_MAX_FIELD];
	char message[PII_ERR_MAX_MESSAGE];
};

/* Text for a code: "duplicate JSON key".  Static storage, never NULL. */
const char *pii_strerror(int code);
/* API error code for a code: "duplicate_key"; internal codes give "internal". */
const char *pii_err_api_code(int code);
/* HTTP status for a code; internal codes give 500. */
unsigned int pii_err_http_status(int code);

/* Fill ei (may be NULL) and return code, so callers can write
 *   return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "records[2].subject", "must be a string");
 * field may be NULL.  The message is a printf format; never pass request data. */
int pii_errinfo_set(struct pii_errinfo *ei, int code, const char *field,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void pii_errinfo_clear(struct pii_errinfo *ei);

#endif
