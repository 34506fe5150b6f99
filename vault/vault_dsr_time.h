/*
 * vault_dsr_time.h - the legal clock of a subject-rights request.
 *
 * GDPR Art. 12(3): a request is answered "within one month of receipt",
 * extendable "by two further months where necessary", the data subject
 * informed within the first month.  A month is a calendar month: the same
 * day of the next month, or that month's last day when it has no such day
 * (received 31 January -> due 28 February, 29 February in a leap year).
 * Times are seconds since 1970-01-01 UTC; the due time keeps the time of
 * day of receipt.  Pure functions: no clock, no I/O.
 */
#ifndef VAULT_DSR_TIME_H
#define VAULT_DSR_TIME_H

#include <stdint.h>

#include "../common/err.h"

/* Most months a request may be extended by, in total. */
#define VAULT_DSR_MAX_EXTENSION_MONTHS 2

/* t plus months calendar months (day clamped to the month's last day).
 * PII_ERR_RANGE outside years 1970-9999 or months outside 0..1200. */
int vault_dsr_add_months(int64_t t, int months, int64_t *out);

/* The deadline of a request received at received: one calendar month, or
 * strict_days days when a policy sets a stricter bound (0: none) and that
 * comes first. */
int vault_dsr_due(int64_t received, int strict_days, int64_t *due);

/* Extend a request received at received, whose deadline is now due and
 * which has been extended by extended_months so far, by add_months more, at
 * time now.  The new deadline is received plus 1 + extended_months +
 * add_months calendar months.  PII_ERR_CONFLICT if now is not before due
 * (an extension must be decided before the deadline passes);
 * PII_ERR_BAD_REQUEST if add_months < 1 or the total would pass
 * VAULT_DSR_MAX_EXTENSION_MONTHS. */
int vault_dsr_extend(int64_t received, int64_t due, int extended_months,
    int add_months, int64_t now, int64_t *new_due);

/* "YYYY-MM-DDTHH:MM:SSZ" of t into out (21 bytes); parse the same form
 * (PII_ERR_BAD_REQUEST otherwise: no other offsets, no fractions). */
int vault_dsr_format(int64_t t, char out[21]);
int vault_dsr_parse(const char *s, int64_t *out);

#endif
