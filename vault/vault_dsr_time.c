/*
 * vault_dsr_time.c - calendar arithmetic for subject-rights deadlines.
 *
 * Dates are converted to and from a count of days since 1970-01-01 with
 * the proleptic Gregorian rules (a year is a leap year when divisible by 4,
 * except centuries not divisible by 400), so no time zone database, locale
 * or libc time function is involved: the same input gives the same
 * deadline everywhere.
 */
#include <stdio.h>
#include <string.h>

#include "vault_dsr_time.h"

#define SECS_PER_DAY 86400
#define MIN_YEAR 1970
#define MAX_YEAR 9999

static int
leap(long y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(long y, int m)
{
	static const int d[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };

	return m == 2 && leap(y) ? 29 : d[m - 1];
}

/* Days from 1970-01-01 to y-m-d (y >= 1970). */
static int64_t
days_from_date(long y, int m, int d)
{
	int64_t days = 0;
	long yy;
	int mm;

	for (yy = MIN_YEAR; yy < y; yy++)
		days += leap(yy) ? 366 : 365;
	for (mm = 1; mm < m; mm++)
		days += month_days(y, mm);
	return days + d - 1;
}

/* The date of a day count (>= 0). */
static void
date_from_days(int64_t days, long *y, int *m, int *d)
{
	long yy = MIN_YEAR;
	int mm = 1;

	/* 400 Gregorian years are exactly 146097 days */
	yy += (long)(days / 146097) * 400;
	days %= 146097;
	while (days >= (leap(yy) ? 366 : 365)) {
		days -= leap(yy) ? 366 : 365;
		yy++;
	}
	while (days >= month_days(yy, mm)) {
		days -= month_days(yy, mm);
		mm++;
	}
	*y = yy;
	*m = mm;
	*d = (int)days + 1;
}

static int
split(int64_t t, long *y, int *m, int *d, int64_t *secs)
{
	if (t < 0)
		return PII_ERR_RANGE;
	date_from_days(t / SECS_PER_DAY, y, m, d);
	*secs = t % SECS_PER_DAY;
	return *y > MAX_YEAR ? PII_ERR_RANGE : 0;
}

int
vault_dsr_add_months(int64_t t, int months, int64_t *out)
{
	int64_t secs;
	long y;
	int m, d, r, last;

	if (months < 0 || months > 1200)
		return PII_ERR_RANGE;
	if ((r = split(t, &y, &m, &d, &secs)) != 0)
		return r;
	y += (m - 1 + months) / 12;
	m = (m - 1 + months) % 12 + 1;
	if (y > MAX_YEAR)
		return PII_ERR_RANGE;
	last = month_days(y, m);
	if (d > last)
		d = last;
	*out = days_from_date(y, m, d) * SECS_PER_DAY + secs;
	return 0;
}

int
vault_dsr_due(int64_t received, int strict_days, int64_t *due)
{
	int64_t month;
	int r;

	if (strict_days < 0 || strict_days > 3650)
		return PII_ERR_RANGE;
	if ((r = vault_dsr_add_months(received, 1, &month)) != 0)
		return r;
	if (strict_days > 0 && received + (int64_t)strict_days * SECS_PER_DAY < month)
		month = received + (int64_t)strict_days * SECS_PER_DAY;
	*due = month;
	return 0;
}

int
vault_dsr_extend(int64_t received, int64_t due, int extended_months,
    int add_months, int64_t now, int64_t *new_due)
{
	if (add_months < 1 || extended_months < 0 ||
	    extended_months + add_months > VAULT_DSR_MAX_EXTENSION_MONTHS)
		return PII_ERR_BAD_REQUEST;
	if (now >= due)
		return PII_ERR_CONFLICT;
	return vault_dsr_add_months(received, 1 + extended_months + add_months,
	    new_due);
}

int
vault_dsr_format(int64_t t, char out[21])
{
	int64_t secs;
	long y;
	int m, d, r;

	char tmp[64];

	if ((r = split(t, &y, &m, &d, &secs)) != 0)
		return r;
	/* y <= 9999, 1 <= m <= 12, 1 <= d <= 31: exactly 20 characters */
	snprintf(tmp, sizeof(tmp), "%04ld-%02d-%02dT%02d:%02d:%02dZ", y, m, d,
	    (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
	memcpy(out, tmp, 21);
	out[20] = '\0';
	return 0;
}

static int
digits(const char *s, int n, int *out)
{
	int i, v = 0;

	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return 0;
}

int
vault_dsr_parse(const char *s, int64_t *out)
{
	int y, m, d, hh, mi, ss;

	if (s == NULL || strlen(s) != 20 || s[4] != '-' || s[7] != '-' ||
	    s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z' ||
	    digits(s, 4, &y) != 0 || digits(s + 5, 2, &m) != 0 ||
	    digits(s + 8, 2, &d) != 0 || digits(s + 11, 2, &hh) != 0 ||
	    digits(s + 14, 2, &mi) != 0 || digits(s + 17, 2, &ss) != 0)
		return PII_ERR_BAD_REQUEST;
	if (y < MIN_YEAR || m < 1 || m > 12 || d < 1 || d > month_days(y, m) ||
	    hh > 23 || mi > 59 || ss > 59)
		return PII_ERR_BAD_REQUEST;
	*out = days_from_date(y, m, d) * SECS_PER_DAY + hh * 3600 + mi * 60 + ss;
	return 0;
}
