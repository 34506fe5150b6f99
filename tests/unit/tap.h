/*
 * tap.h - the unit tests' tiny harness.  Each check prints "ok - NAME" or
 * "not ok - NAME"; tests/run counts them.  Tests read like tables: loop over
 * rows and call CHECK once per row with a name that says which row.
 */
#ifndef PII_TAP_H
#define PII_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_failed;
static int tap_count;

#define CHECK(cond, ...) do {                                           \
	tap_count++;                                                    \
	if (cond) {                                                     \
		printf("ok - ");                                        \
	} else {                                                        \
		tap_failed++;                                           \
		printf("not ok - [%s:%d] ", __FILE__, __LINE__);        \
	}                                                               \
	printf(__VA_ARGS__);                                            \
	printf("\n");                                                   \
	fflush(stdout);                                                 \
} while (0)

#define CHECK_STR(got, want, ...) do {                                  \
	const char *g_ = (got), *w_ = (want);                           \
	int eq_ = (g_ != NULL && w_ != NULL && strcmp(g_, w_) == 0);    \
	if (!eq_)                                                       \
		fprintf(stderr, "#   got  \"%s\"\n#   want \"%s\"\n",   \
		    g_ ? g_ : "(null)", w_ ? w_ : "(null)");            \
	CHECK(eq_, __VA_ARGS__);                                        \
} while (0)

#define TAP_DONE() (tap_failed ? 1 : 0)

#endif
