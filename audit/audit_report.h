/*
 * audit_report.h - pii-audit report: who did what to whose data, when, why
 * and with what decision; and actors who touch far more distinct subjects
 * than their role's peers.
 */
#ifndef AUDIT_REPORT_H
#define AUDIT_REPORT_H

#include <stdio.h>

#include <libpq-fe.h>

#include "../common/err.h"

enum audit_report_format { AUDIT_REPORT_TABLE, AUDIT_REPORT_JSON };

struct audit_report_query {
	const char *subject_token;   /* exactly one of subject_token, actor */
	const char *actor;           /* matches actor or on_behalf_of */
	const char *since, *until;   /* timestamps PostgreSQL accepts, or NULL */
	enum audit_report_format format;
};

/* Write the matching records, oldest first, to out. */
int audit_report_records(PGconn *c, const struct audit_report_query *q,
    FILE *out, struct pii_errinfo *ei);

/* Anomalies between since and until: per role, each person's (or service's)
 * count of distinct subjects; one whose count is at least `factor` times
 * the median of the others in the role, and at least min_subjects, is
 * listed.  A role with a single member is compared with nobody. */
int audit_report_anomalies(PGconn *c, const char *since, const char *until,
    double factor, long long min_subjects, enum audit_report_format format,
    FILE *out, struct pii_errinfo *ei);

#endif
