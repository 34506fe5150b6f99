/*
 * fuzz_json_body.c - libFuzzer target for pii_json_parse, the strict parser
 * every request body goes through, and for the helpers the handlers use on
 * its result (pii_json_check_keys, the typed getters, pii_json_dump).
 *
 * Besides "no crash, no leak, no UB", it checks the promises of json_util.h
 * and err.h that a fuzzer can check without knowing the exact wording:
 *  - a failure is one of PII_ERR_INVALID_JSON / DUPLICATE_KEY / TOO_LARGE,
 *    mirrored in ei.code, with an empty field and a NUL-terminated message;
 *  - the message never quotes the input: no "word" of 10 or more characters
 *    of the input ([A-Za-z0-9@_], at least one letter) appears in it.  The
 *    fixed texts in json_util.c have no word that long, so a hit is a leak;
 *  - a path reported by check_keys or a getter contains only identifier
 *    characters, '.', '[', ']', '<' and '>': a key that is not an
 *    identifier is elided, never echoed;
 *  - an accepted document dumps, and the dump parses again to an equal value.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../common/err.h"
#include "../../common/json_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEPTH 16
#define LEAK_WORD_MIN 10

static int
is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '@' || c == '_';
}

static int
is_letter(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Abort if a long word of the input occurs in msg. */
static void
check_no_echo(const uint8_t *data, size_t size, const char *msg)
{
	size_t i = 0, mlen = strlen(msg);

	while (i < size) {
		size_t j = i;
		int letter = 0;

		while (j < size && is_word(data[j])) {
			letter |= is_letter(data[j]);
			j++;
		}
		if (j - i >= LEAK_WORD_MIN && letter &&
		    memmem(msg, mlen, data + i, j - i) != NULL)
			abort();
		i = j + 1;
	}
}

static void
check_errinfo(const struct pii_errinfo *ei, int r)
{
	if (ei->code != r)
		abort();
	if (memchr(ei->field, '\0', sizeof(ei->field)) == NULL ||
	    memchr(ei->message, '\0', sizeof(ei->message)) == NULL)
		abort();
}

/* A reported path holds identifiers and path punctuation only. */
static void
check_path(const char *p)
{
	for (; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;

		if (!(is_letter(c) || (c >= '0' && c <= '9') || c == '_' ||
		    c == '-' || c == '.' || c == '[' || c == ']' || c == '<' ||
		    c == '>'))
			abort();
	}
}

/* After a getter: 0, or an error whose path is clean. */
static void
check_getter(int r, const struct pii_errinfo *ei)
{
	if (r == 0)
		return;
	if (r != PII_ERR_BAD_REQUEST && r != PII_ERR_TOO_LARGE)
		abort();
	check_errinfo(ei, r);
	check_path(ei->field);
}

/* The handlers' use of one record-like object at path. */
static void
exercise_object(const json_t *obj, const char *path)
{
	static const char *const allowed[] = { "source", "batch_id", "purpose",
		"records", "subject", "subject_token", "categories", "context",
		"tokens", "category", "value", NULL };
	static const char *const ctx_keys[] = { "on_behalf_of", "role",
		"purpose", "ticket", "request_id", NULL };
	struct pii_errinfo ei;
	const char *s;
	size_t slen;
	json_t *o, *a;
	long long n;
	int b, r;

	pii_errinfo_clear(&ei);
	r = pii_json_check_keys(obj, allowed, path, &ei);
	if (r != 0) {
		if (r != PII_ERR_BAD_REQUEST)
			abort();
		check_errinfo(&ei, r);
		check_path(ei.field);
	}

	r = pii_json_get_string(obj, "subject", 0, 256, path, &s, &slen, &ei);
	check_getter(r, &ei);
	if (r == 0 && s != NULL && strlen(s) != slen)
		abort();   /* NUL inside a string got through */
	r = pii_json_get_string(obj, "source", 1, 8, path, &s, NULL, &ei);
	check_getter(r, &ei);
	r = pii_json_get_array(obj, "records", 0, 4, path, &a, &ei);
	check_getter(r, &ei);
	r = pii_json_get_array(obj, "tokens", 0, 1000, path, &a, &ei);
	check_getter(r, &ei);
	r = pii_json_get_object(obj, "context", 0, path, &o, &ei);
	check_getter(r, &ei);
	if (r == 0 && o != NULL) {
		pii_errinfo_clear(&ei);
		r = pii_json_check_keys(o, ctx_keys, "context", &ei);
		if (r != 0) {
			check_errinfo(&ei, r);
			check_path(ei.field);
		}
	}
	r = pii_json_get_int(obj, "limit", 0, -5, 5, path, &n, &ei);
	check_getter(r, &ei);
	r = pii_json_get_bool(obj, "verified", 0, path, &b, &ei);
	check_getter(r, &ei);
}

static void
exercise(const json_t *root)
{
	char p[PII_ERR_MAX_FIELD];
	const char *key;
	json_t *records, *v;
	size_t i;

	if (!json_is_object(root))
		return;
	exercise_object(root, "");
	/* Every key of the root, as a path: never echoes a non-identifier. */
	json_object_foreach((json_t *)root, key, v) {
		(void)v;
		check_path(pii_json_path_key(p, sizeof(p), "records[0]", key));
	}
	records = json_object_get(root, "records");
	if (!json_is_array(records))
		return;
	for (i = 0; i < json_array_size(records) && i < 8; i++) {
		json_t *rec = json_array_get(records, i);

		pii_json_path_index(p, sizeof(p), "records", i);
		if (json_is_object(rec))
			exercise_object(rec, p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct pii_errinfo ei;
	json_t *root = NULL, *again = NULL;
	char *dump = NULL;
	size_t dlen = 0;
	int r;

	if (!inited) {
		pii_json_init();
		inited = 1;
	}
	pii_errinfo_clear(&ei);
	r = pii_json_parse((const char *)data, size, DEPTH, &root, &ei);
	if (r != 0) {
		if (r != PII_ERR_INVALID_JSON && r != PII_ERR_DUPLICATE_KEY &&
		    r != PII_ERR_TOO_LARGE)
			abort();
		check_errinfo(&ei, r);
		if (ei.field[0] != '\0')
			abort();
		check_no_echo(data, size, ei.message);
		return 0;
	}
	if (root == NULL)
		abort();

	exercise(root);

	if (pii_json_dump(root, &dump, &dlen) != 0)
		abort();
	if (strlen(dump) != dlen)
		abort();
	/* The compact dump is no deeper and has the same keys: it parses, and
	 * to an equal value. */
	pii_errinfo_clear(&ei);
	if (pii_json_parse(dump, dlen, DEPTH, &again, &ei) != 0)
		abort();
	if (!json_equal(root, again))
		abort();
	json_decref(again);
	pii_json_free_str(dump);
	json_decref(root);
	return 0;
}
