/*
 * test_dsrtime.c - the state machine of a subject-rights request, every
 * (state, event) pair; and its deadline as a table:
 * month ends, leap years, stricter policy days, extensions before and
 * after the deadline and beyond two months; and the calendar arithmetic
 * against glibc's timegm/gmtime over many random instants.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../vault/vault_dsr_state.h"
#include "../../vault/vault_dsr_time.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static int64_t
at(const char *s)
{
	int64_t t = -1;

	if (vault_dsr_parse(s, &t) != 0)
		printf("# bad test time %s\n", s);
	return t;
}

static const struct {
	const char *received;
	int strict_days;
	const char *due;
} due_rows[] = {
	{ "2025-01-15T09:30:00Z", 0, "2025-02-15T09:30:00Z" },
	{ "2025-01-31T10:00:00Z", 0, "2025-02-28T10:00:00Z" },   /* no 31 Feb */
	{ "2024-01-31T10:00:00Z", 0, "2024-02-29T10:00:00Z" },   /* leap year */
	{ "2024-01-30T10:00:00Z", 0, "2024-02-29T10:00:00Z" },
	{ "2024-01-29T23:59:59Z", 0, "2024-02-29T23:59:59Z" },
	{ "2100-01-31T00:00:00Z", 0, "2100-02-28T00:00:00Z" },   /* century, not leap */
	{ "2000-01-31T00:00:00Z", 0, "2000-02-29T00:00:00Z" },   /* 400: leap */
	{ "2024-02-29T12:00:00Z", 0, "2024-03-29T12:00:00Z" },
	{ "2025-03-31T08:00:00Z", 0, "2025-04-30T08:00:00Z" },
	{ "2025-05-31T08:00:00Z", 0, "2025-06-30T08:00:00Z" },
	{ "2025-08-31T08:00:00Z", 0, "2025-09-30T08:00:00Z" },
	{ "2025-10-31T08:00:00Z", 0, "2025-11-30T08:00:00Z" },
	{ "2025-11-30T08:00:00Z", 0, "2025-12-30T08:00:00Z" },
	{ "2025-12-31T23:00:00Z", 0, "2026-01-31T23:00:00Z" },   /* year end */
	{ "2025-12-15T00:00:00Z", 0, "2026-01-15T00:00:00Z" },
	{ "2025-01-15T09:30:00Z", 14, "2025-01-29T09:30:00Z" },  /* policy: 14 days */
	{ "2025-02-01T00:00:00Z", 30, "2025-03-01T00:00:00Z" },  /* 30 days > 28-day month: the month wins */
	{ "2025-01-01T00:00:00Z", 31, "2025-02-01T00:00:00Z" },  /* equal */
	{ "2025-01-01T00:00:00Z", 45, "2025-02-01T00:00:00Z" },  /* laxer than the law: ignored */
};

static const struct {
	const char *name;
	const char *received, *due, *now;
	int extended, add;
	int want;
	const char *new_due;
} ext_rows[] = {
	{ "one month, before the deadline", "2025-01-31T10:00:00Z", "2025-02-28T10:00:00Z",
	  "2025-02-20T00:00:00Z", 0, 1, 0, "2025-03-31T10:00:00Z" },
	{ "two months at once", "2025-01-31T10:00:00Z", "2025-02-28T10:00:00Z",
	  "2025-02-28T09:59:59Z", 0, 2, 0, "2025-04-30T10:00:00Z" },
	{ "a second month after a first", "2025-01-31T10:00:00Z", "2025-03-31T10:00:00Z",
	  "2025-03-30T00:00:00Z", 1, 1, 0, "2025-04-30T10:00:00Z" },
	{ "leap year", "2024-01-31T10:00:00Z", "2024-02-29T10:00:00Z",
	  "2024-02-01T00:00:00Z", 0, 1, 0, "2024-03-31T10:00:00Z" },
	{ "at the deadline: too late", "2025-01-31T10:00:00Z", "2025-02-28T10:00:00Z",
	  "2025-02-28T10:00:00Z", 0, 1, PII_ERR_CONFLICT, NULL },
	{ "after the deadline: too late", "2025-01-31T10:00:00Z", "2025-02-28T10:00:00Z",
	  "2025-03-05T00:00:00Z", 0, 1, PII_ERR_CONFLICT, NULL },
	{ "three months: refused", "2025-01-31T10:00:00Z", "2025-02-28T10:00:00Z",
	  "2025-02-01T00:00:00Z", 0, 3, PII_ERR_BAD_REQUEST, NULL },
	{ "a third month after two: refused", "2025-01-31T10:00:00Z", "2025-04-30T10:00:00Z",
	  "2025-04-01T00:00:00Z", 2, 1, PII_ERR_BAD_REQUEST, NULL },
	{ "two after one: refused", "2025-01-31T10:00:00Z", "2025-03-31T10:00:00Z",
	  "2025-03-01T00:00:00Z", 1, 2, PII_ERR_BAD_REQUEST, NULL },
	{ "zero months: refused", "2025-01-31T10:00:00Z", "2025-02-28T10:00:00Z",
	  "2025-02-01T00:00:00Z", 0, 0, PII_ERR_BAD_REQUEST, NULL },
};

static const char *const bad_times[] = {
	"2025-02-29T00:00:00Z", "2025-13-01T00:00:00Z", "2025-00-10T00:00:00Z",
	"2025-01-32T00:00:00Z", "2025-01-01T24:00:00Z", "2025-01-01T00:60:00Z",
	"2025-01-01T00:00:60Z", "2025-01-01 00:00:00Z", "2025-01-01T00:00:00+01:00",
	"2025-01-01T00:00:00.5Z", "1969-12-31T23:59:59Z", "25-01-01T00:00:00Z", "",
	"2025-01-01T00:00:00z", "2025-1-01T00:00:00Z",
};

/* every (state, event) pair: the state after it, or -1 for refused */
static const int transitions[5][5] = {
	/*               verify               start                  complete             reject              extend */
	/* received */ { VAULT_DSR_VERIFIED,  -1,                    -1,                  VAULT_DSR_REJECTED, VAULT_DSR_RECEIVED },
	/* verified */ { -1,                  VAULT_DSR_IN_PROGRESS, -1,                  VAULT_DSR_REJECTED, VAULT_DSR_VERIFIED },
	/* in_prog. */ { -1,                  -1,                    VAULT_DSR_COMPLETED, VAULT_DSR_REJECTED, VAULT_DSR_IN_PROGRESS },
	/* completed*/ { -1,                  -1,                    -1,                  -1,                 -1 },
	/* rejected */ { -1,                  -1,                    -1,                  -1,                 -1 },
};

static void
test_states(void)
{
	enum vault_dsr_state to, back;
	int s, e, r;

	for (s = 0; s < 5; s++)
		for (e = 0; e < 5; e++) {
			to = (enum vault_dsr_state)99;
			r = vault_dsr_next((enum vault_dsr_state)s, (enum vault_dsr_event)e, &to);
			if (transitions[s][e] < 0)
				CHECK(r == PII_ERR_CONFLICT && to == (enum vault_dsr_state)99,
				    "state %s: %s refused", vault_dsr_state_name((enum vault_dsr_state)s),
				    vault_dsr_event_name((enum vault_dsr_event)e));
			else
				CHECK(r == 0 && (int)to == transitions[s][e], "state %s: %s -> %s",
				    vault_dsr_state_name((enum vault_dsr_state)s),
				    vault_dsr_event_name((enum vault_dsr_event)e),
				    vault_dsr_state_name((enum vault_dsr_state)transitions[s][e]));
		}
	for (s = 0; s < 5; s++)
		CHECK(vault_dsr_state_parse(vault_dsr_state_name((enum vault_dsr_state)s), &back) == 0 &&
		    (int)back == s, "state name round trip: %s", vault_dsr_state_name((enum vault_dsr_state)s));
	CHECK(vault_dsr_state_parse("done", &back) == PII_ERR_BAD_REQUEST, "unknown state name refused");
	CHECK(vault_dsr_final(VAULT_DSR_COMPLETED) && vault_dsr_final(VAULT_DSR_REJECTED) &&
	    !vault_dsr_final(VAULT_DSR_IN_PROGRESS), "completed and rejected are final");
	CHECK(vault_dsr_next((enum vault_dsr_state)7, VAULT_DSR_REJECT, &to) == PII_ERR_CONFLICT,
	    "an unknown state is refused");
}

int
main(void)
{
	char buf[21];
	int64_t t, due;
	size_t i;
	int r;

	for (i = 0; i < NELEM(due_rows); i++) {
		r = vault_dsr_due(at(due_rows[i].received), due_rows[i].strict_days, &due);
		CHECK(r == 0 && vault_dsr_format(due, buf) == 0 &&
		    strcmp(buf, due_rows[i].due) == 0, "due: received %s, strict %d -> %s (got %s)",
		    due_rows[i].received, due_rows[i].strict_days, due_rows[i].due,
		    r == 0 ? buf : "error");
	}
	for (i = 0; i < NELEM(ext_rows); i++) {
		int64_t nd = 0;

		r = vault_dsr_extend(at(ext_rows[i].received), at(ext_rows[i].due),
		    ext_rows[i].extended, ext_rows[i].add, at(ext_rows[i].now), &nd);
		if (ext_rows[i].want != 0) {
			CHECK(r == ext_rows[i].want, "extend: %s -> %d (got %d)",
			    ext_rows[i].name, ext_rows[i].want, r);
		} else {
			CHECK(r == 0 && vault_dsr_format(nd, buf) == 0 &&
			    strcmp(buf, ext_rows[i].new_due) == 0,
			    "extend: %s -> %s (got %s)", ext_rows[i].name,
			    ext_rows[i].new_due, r == 0 ? buf : "error");
		}
	}
	for (i = 0; i < NELEM(bad_times); i++)
		CHECK(vault_dsr_parse(bad_times[i], &t) == PII_ERR_BAD_REQUEST,
		    "parse refuses '%s'", bad_times[i]);
	CHECK(vault_dsr_add_months(at("9999-12-01T00:00:00Z"), 1, &t) == PII_ERR_RANGE,
	    "past year 9999: PII_ERR_RANGE");
	CHECK(vault_dsr_add_months(0, -1, &t) == PII_ERR_RANGE, "negative months: PII_ERR_RANGE");
	CHECK(vault_dsr_due(-1, 0, &t) == PII_ERR_RANGE, "before 1970: PII_ERR_RANGE");
	CHECK(vault_dsr_due(0, -3, &t) == PII_ERR_RANGE, "negative strict days: PII_ERR_RANGE");

	/* the calendar against glibc over random instants up to year 9000 */
	{
		int bad = 0, n;

		srandom(12345);
		for (n = 0; n < 20000; n++) {
			int64_t s = ((int64_t)random() << 16 ^ random()) % 221845392000LL;
			time_t tt = (time_t)s;
			struct tm tm;
			char want[32];
			int64_t back = -1;

			gmtime_r(&tt, &tm);
			strftime(want, sizeof(want), "%Y-%m-%dT%H:%M:%SZ", &tm);
			if (vault_dsr_format(s, buf) != 0 || strcmp(buf, want) != 0 ||
			    vault_dsr_parse(buf, &back) != 0 || back != s)
				bad++;
		}
		CHECK(bad == 0, "format/parse agree with gmtime on 20000 random instants (%d differ)", bad);
	}
	/* adding months agrees with the day-clamped calendar rule */
	{
		int bad = 0, n;

		for (n = 0; n < 5000; n++) {
			int64_t s = ((int64_t)random() << 16 ^ random()) % 3000000000LL, o;
			int k = (int)(random() % 40);
			time_t tt = (time_t)s, to;
			struct tm a, b, want;
			int last;

			gmtime_r(&tt, &a);
			memset(&want, 0, sizeof(want));
			want.tm_year = a.tm_year + (a.tm_mon + k) / 12;
			want.tm_mon = (a.tm_mon + k) % 12;
			want.tm_mday = 1;
			want.tm_hour = a.tm_hour;
			want.tm_min = a.tm_min;
			want.tm_sec = a.tm_sec;
			/* the last day of the target month, from glibc */
			b = want;
			b.tm_mon++;
			to = timegm(&b) - 86400;
			gmtime_r(&to, &b);
			last = b.tm_mday;
			want.tm_mday = a.tm_mday < last ? a.tm_mday : last;
			if (vault_dsr_add_months(s, k, &o) != 0 || o != (int64_t)timegm(&want))
				bad++;
		}
		CHECK(bad == 0, "add_months agrees with timegm's calendar on 5000 random cases (%d differ)", bad);
	}
	test_states();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
