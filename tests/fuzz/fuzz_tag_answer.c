/*
 * fuzz_tag_answer.c - libFuzzer target for tag_answer_scan, the fast reader
 * of the vault's tokenize answers.  Every span handed to a callback must lie
 * inside the input and hold only [A-Za-z0-9_]; drop indexes must name a
 * record already seen; an accepted input must also be valid JSON to jansson
 * (the fast path never accepts what the strict parser would refuse).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../tagger/tag_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct ctx {
	const char *p;
	size_t n, records;
};

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_tag_answer: %s\n", what);
	abort();
}

static void
span_ok(const struct ctx *x, const char *s, size_t n)
{
	size_t i;

	if (s < x->p || s + n > x->p + x->n || n == 0)
		die("a span outside the input");
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			die("a span with a character outside [A-Za-z0-9_]");
}

static int
on_record(void *c, size_t i, const char *s, size_t n)
{
	struct ctx *x = c;

	if (i != x->records)
		die("records out of order");
	x->records++;
	span_ok(x, s, n);
	return 0;
}

static int
on_field(void *c, size_t i, const char *k, size_t kn, const char *t, size_t tn)
{
	struct ctx *x = c;

	if (i + 1 != x->records)
		die("a field of another record");
	span_ok(x, k, kn);
	if (t != NULL)
		span_ok(x, t, tn);
	return 0;
}

static int
on_dropped(void *c, size_t index, int objection)
{
	struct ctx *x = c;

	if (index >= x->records || (objection != 0 && objection != 1))
		die("a drop of no record");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = malloc(size ? size : 1);
	struct ctx x;
	const struct tag_answer_cb cb = { &x, on_record, on_field, on_dropped };
	unsigned long long st, ex;
	size_t nrec;
	int r;

	if (copy == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	x.p = copy;
	x.n = size;
	x.records = 0;
	r = tag_answer_scan(copy, size, &cb, &st, &ex, &nrec);
	if (r != 0 && r != 1)
		die("an unexpected result");
	if (r == 1) {
		json_error_t je;
		json_t *j = json_loadb(copy, size, JSON_REJECT_DUPLICATES, &je);

		if (nrec != x.records)
			die("record count");
		if (j == NULL || !json_is_object(j))
			die("accepted what jansson refuses");
		json_decref(j);
	}
	free(copy);
	return 0;
}
