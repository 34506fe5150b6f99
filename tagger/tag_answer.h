/*
 * tag_answer.h - a fast reader for the vault's answer to POST /v1/tokenize.
 *
 * The vault writes its answer in one exact shape (vault_tokenize.c):
 *   {"records":[{"subject_token":"T","fields":{"C":"T"|null,...}|null},...],
 *    "stored":N,"existing":N,"dropped":[{"index":N,"reason":"R"},...]
 *    [,"replayed":true]}
 * with tokens and categories of [A-Za-z0-9_] only.  tag_answer_scan reads
 * exactly that and nothing else, calling back per record, field and drop.
 * Anything outside the shape (whitespace, escapes, other keys or order) makes
 * it answer 0, and the caller parses the text with jansson instead: the fast
 * path is an optimization, never a looser parser.
 */
#ifndef TAG_ANSWER_H
#define TAG_ANSWER_H

#include <stddef.h>

struct tag_answer_cb {
	void *ctx;
	/* record i: its subject token (s[0..n), not NUL-terminated) */
	int (*record)(void *ctx, size_t i, const char *s, size_t n);
	/* a field of record i: category c[0..cn), token t[0..tn) or t NULL for null */
	int (*field)(void *ctx, size_t i, const char *c, size_t cn, const char *t,
	    size_t tn);
	/* record index was dropped; objection 1 for "objection", 0 for
	 * "subject_erased" */
	int (*dropped)(void *ctx, size_t index, int objection);
};

/* 1: p[0..n) had the shape and every callback returned 0 (*stored,
 * *existing, *nrecords set); 0: not the shape (callbacks may have run: the
 * caller resets what they filled); a negative value a callback returned. */
int tag_answer_scan(const char *p, size_t n, const struct tag_answer_cb *cb,
    unsigned long long *stored, unsigned long long *existing, size_t *nrecords);

#endif
