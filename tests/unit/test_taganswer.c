/*
 * test_taganswer.c - the fast reader of the vault's tokenize answer: the
 * vault's exact shape is read with every callback; anything else (spaces,
 * escapes, other keys or order, trailing data, bad numbers) answers 0 so the
 * caller falls back to jansson.
 */
#include <stdio.h>
#include <string.h>

#include "../../tagger/tag_answer.h"
#include "tap.h"

struct seen {
	char log[1024];
	size_t len;
};

/* Append "<tag><a>=<b>;" to the log. */
static void
add(struct seen *s, char tag, const char *a, size_t an, const char *b, size_t bn)
{
	int n = snprintf(s->log + s->len, sizeof(s->log) - s->len, "%c%.*s=%.*s;",
	    tag, (int)an, a != NULL ? a : "", (int)bn, b != NULL ? b : "");

	if (n > 0 && s->len + (size_t)n < sizeof(s->log))
		s->len += (size_t)n;
}

static int
on_record(void *ctx, size_t i, const char *s, size_t n)
{
	char num[8];

	snprintf(num, sizeof(num), "%zu", i);
	add(ctx, 'R', num, strlen(num), s, n);
	return 0;
}

static int
on_field(void *ctx, size_t i, const char *c, size_t cn, const char *t, size_t tn)
{
	(void)i;
	add(ctx, 'F', c, cn, t != NULL ? t : "null", t != NULL ? tn : 4);
	return 0;
}

static int
on_dropped(void *ctx, size_t index, int objection)
{
	char num[8];

	snprintf(num, sizeof(num), "%zu", index);
	add(ctx, 'D', num, strlen(num), objection ? "o" : "e", 1);
	return 0;
}

struct row {
	const char *name, *text;
	int want;                  /* 1 read, 0 fall back */
	const char *log;           /* callbacks, when read */
	unsigned long long stored, existing;
	size_t nrec;
};

static const struct row rows[] = {
	{ "two records", "{\"records\":[{\"subject_token\":\"tok_subject_v1_a\",\"fields\":"
	  "{\"email\":\"tok_email_v1_b\",\"name\":null}},{\"subject_token\":\"tok_subject_v1_c\","
	  "\"fields\":{}}],\"stored\":1,\"existing\":0,\"dropped\":[]}", 1,
	  "R0=tok_subject_v1_a;Femail=tok_email_v1_b;Fname=null;R1=tok_subject_v1_c;", 1, 0, 2 },
	{ "drops and replayed", "{\"records\":[{\"subject_token\":\"s1\",\"fields\":null},"
	  "{\"subject_token\":\"s2\",\"fields\":null}],\"stored\":0,\"existing\":12,"
	  "\"dropped\":[{\"index\":0,\"reason\":\"subject_erased\"},{\"index\":1,\"reason\":"
	  "\"objection\"}],\"replayed\":true}", 1, "R0=s1;R1=s2;D0=e;D1=o;", 0, 12, 2 },
	{ "no records", "{\"records\":[],\"stored\":0,\"existing\":0,\"dropped\":[]}", 1, "", 0, 0, 0 },
	{ "a space", "{\"records\": [],\"stored\":0,\"existing\":0,\"dropped\":[]}", 0, NULL, 0, 0, 0 },
	{ "an escape", "{\"records\":[{\"subject_token\":\"a\\u0041\",\"fields\":null}],"
	  "\"stored\":0,\"existing\":0,\"dropped\":[]}", 0, NULL, 0, 0, 0 },
	{ "keys in another order", "{\"stored\":0,\"records\":[],\"existing\":0,\"dropped\":[]}", 0, NULL, 0, 0, 0 },
	{ "trailing data", "{\"records\":[],\"stored\":0,\"existing\":0,\"dropped\":[]}x", 0, NULL, 0, 0, 0 },
	{ "truncated", "{\"records\":[{\"subject_token\":\"s1\",\"fields\":{\"email\":\"t", 0, NULL, 0, 0, 0 },
	{ "leading zero", "{\"records\":[],\"stored\":01,\"existing\":0,\"dropped\":[]}", 0, NULL, 0, 0, 0 },
	{ "negative", "{\"records\":[],\"stored\":-1,\"existing\":0,\"dropped\":[]}", 0, NULL, 0, 0, 0 },
	{ "drop index out of range", "{\"records\":[{\"subject_token\":\"s1\",\"fields\":null}],"
	  "\"stored\":0,\"existing\":0,\"dropped\":[{\"index\":1,\"reason\":\"objection\"}]}", 0, NULL, 0, 0, 0 },
	{ "unknown reason", "{\"records\":[{\"subject_token\":\"s1\",\"fields\":null}],"
	  "\"stored\":0,\"existing\":0,\"dropped\":[{\"index\":0,\"reason\":\"other\"}]}", 0, NULL, 0, 0, 0 },
	{ "empty token", "{\"records\":[{\"subject_token\":\"\",\"fields\":null}],"
	  "\"stored\":0,\"existing\":0,\"dropped\":[]}", 0, NULL, 0, 0, 0 },
	{ "a token with a dash", "{\"records\":[{\"subject_token\":\"a-b\",\"fields\":null}],"
	  "\"stored\":0,\"existing\":0,\"dropped\":[]}", 0, NULL, 0, 0, 0 },
	{ "an error body", "{\"error\":{\"code\":\"bad_request\"}}", 0, NULL, 0, 0, 0 },
	{ "empty", "", 0, NULL, 0, 0, 0 },
};

int
main(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		struct seen s;
		const struct tag_answer_cb cb = { &s, on_record, on_field, on_dropped };
		unsigned long long st = 99, ex = 99;
		size_t nrec = 99;
		int r;

		memset(&s, 0, sizeof(s));
		r = tag_answer_scan(w->text, strlen(w->text), &cb, &st, &ex, &nrec);
		CHECK(r == w->want, "answer %s: %s", w->name, w->want ? "read" : "falls back");
		if (w->want == 1 && r == 1) {
			CHECK_STR(s.log, w->log, "answer %s: callbacks", w->name);
			CHECK(st == w->stored && ex == w->existing && nrec == w->nrec,
			    "answer %s: counts", w->name);
		}
	}
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
