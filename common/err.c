/*
 * err.c - the table behind err.h: text, HTTP status and API code per error.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "err.h"

struct err_row {
	int code;
	unsigned int status;
	const char *api;
	const char *text;
};

static const struct err_row err_table[] = {
	{ PII_OK, 200, "ok", "success" },
	{ PII_ERR_BAD_REQUEST, 400, "bad_request", "bad request" },
	{ PII_ERR_INVALID_JSON, 400, "invalid_json", "invalid JSON" },
	{ PII_ERR_DUPLICATE_KEY, 400, "duplicate_key", "duplicate JSON key" },
	{ PII_ERR_TOO_LARGE, 413, "too_large", "input exceeds a limit" },
	{ PII_ERR_UNKNOWN_CATEGORY, 400, "unknown_category", "unknown data category" },
	{ PII_ERR_UNAUTHENTICATED, 401, "unauthenticated", "caller not authenticated" },
	{ PII_ERR_FORBIDDEN, 403, "forbidden", "operation not allowed for this identity" },
	{ PII_ERR_POLICY_DENIED, 403, "policy_denied", "denied by policy" },
	{ PII_ERR_TICKET_REQUIRED, 403, "ticket_required", "a ticket is required" },
	{ PII_ERR_APPROVAL_REQUIRED, 403, "approval_required", "approval is required" },
	{ PII_ERR_OBJECTION, 403, "objection_in_force", "the subject objects to this purpose" },
	{ PII_ERR_RATE_LIMITED, 429, "rate_limited", "rate limit exceeded" },
	{ PII_ERR_NOT_FOUND, 404, "not_found", "not found" },
	{ PII_ERR_SUBJECT_ERASED, 410, "subject_erased", "the subject has been erased" },
	{ PII_ERR_CONFLICT, 409, "conflict", "conflict with the current state" },
	{ PII_ERR_AUDIT_UNAVAILABLE, 503, "audit_unavailable", "audit log unavailable" },
	{ PII_ERR_DB_UNAVAILABLE, 503, "db_unavailable", "database unavailable" },
	{ PII_ERR_INTERNAL, 500, "internal", "internal error" },
	{ PII_ERR_METHOD, 405, "bad_request", "method not allowed" },
	{ PII_ERR_NOMEM, 500, "internal", "out of memory" },
	{ PII_ERR_IO, 500, "internal", "input/output error" },
	{ PII_ERR_CRYPTO, 500, "internal", "authentication failed: data corrupted or moved" },
	{ PII_ERR_CONFIG, 500, "internal", "invalid configuration" },
	{ PII_ERR_PERM, 500, "internal", "unsafe file permissions" },
	{ PII_ERR_KEY, 500, "internal", "unknown or destroyed key version" },
	{ PII_ERR_RANGE, 400, "bad_request", "number out of range" },
	{ PII_ERR_USAGE, 500, "internal", "usage error" },
	{ PII_ERR_SQL, 500, "internal", "database statement failed" },
};

static const struct err_row *
err_find(int code)
{
	size_t i;

	for (i = 0; i < sizeof(err_table) / sizeof(err_table[0]); i++)
		if (err_table[i].code == code)
			return &err_table[i];
	return NULL;
}

const char *
pii_strerror(int code)
{
	const struct err_row *row = err_find(code);

	return row != NULL ? row->text : "unknown error";
}

const char *
pii_err_api_code(int code)
{
	const struct err_row *row = err_find(code);

	return row != NULL ? row->api : "internal";
}

unsigned int
pii_err_http_status(int code)
{
	const struct err_row *row = err_find(code);

	return row != NULL ? row->status : 500;
}

void
pii_errinfo_clear(struct pii_errinfo *ei)
{
	if (ei == NULL)
		return;
	ei->code = 0;
	ei->field[0] = '\0';
	ei->message[0] = '\0';
}

int
pii_errinfo_set(struct pii_errinfo *ei, int code, const char *field,
    const char *fmt, ...)
{
	va_list ap;

	if (ei == NULL)
		return code;
	ei->code = code;
	snprintf(ei->field, sizeof(ei->field), "%s", field != NULL ? field : "");
	if (fmt != NULL) {
		va_start(ap, fmt);
		vsnprintf(ei->message, sizeof(ei->message), fmt, ap);
		va_end(ap);
	} else {
		snprintf(ei->message, sizeof(ei->message), "%s", pii_strerror(code));
	}
	return code;
}
