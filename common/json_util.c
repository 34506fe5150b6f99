/*
 * json_util.c - strict parsing of untrusted JSON and the zeroing allocator.
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "json_util.h"

/* The zeroing allocator wipes a block's whole usable size before freeing
 * it.  It keeps no header, so memory jansson returns (json_dumps) may also be
 * released with plain free() - which then does not wipe; use
 * pii_json_free_str for anything that held a value. */
static void *
zalloc(size_t n)
{
	return malloc(n);
}

static void
zfree(void *ptr)
{
	if (ptr == NULL)
		return;
	sodium_memzero(ptr, malloc_usable_size(ptr));
	free(ptr);
}

void
pii_json_init(void)
{
	json_set_alloc_funcs(zalloc, zfree);
}

void
pii_json_free_str(char *s)
{
	zfree(s);
}

/* Maximum nesting of [ and { outside strings; counts escapes correctly. */
static size_t
json_depth(const char *buf, size_t len, size_t limit, size_t *at)
{
	size_t i, depth = 0, max = 0;
	int in_str = 0;

	for (i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max) {
				max = depth;
				if (max > limit) {
					*at = i;
					return max;
				}
			}
		} else if ((c == ']' || c == '}') && depth > 0) {
			depth--;
		}
	}
	return max;
}

int
pii_json_parse(const char *buf, size_t len, size_t max_depth, json_t **out,
    struct pii_errinfo *ei)
{
	json_error_t jerr;
	json_t *j;
	size_t at = 0;

	if (max_depth == 0)
		max_depth = PII_JSON_DEFAULT_DEPTH;
	if (len == 0)
		return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
		    "request body is empty; a JSON object is required");
	/* jansson reads a raw NUL as the end of input and would ignore what
	 * follows it: refuse it here (JSON escapes NUL as \u0000) */
	if (memchr(buf, '\0', len) != NULL)
		return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
		    "NUL character at byte %zu",
		    (size_t)((const char *)memchr(buf, '\0', len) - buf));
	if (json_depth(buf, len, max_depth, &at) > max_depth)
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL,
		    "JSON nested deeper than %zu levels (at byte %zu)",
		    max_depth, at);
	j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL) {
		switch (json_error_code(&jerr)) {
		case json_error_duplicate_key:
			return pii_errinfo_set(ei, PII_ERR_DUPLICATE_KEY, NULL,
			    "duplicate object key at line %d, column %d",
			    jerr.line, jerr.column);
		case json_error_invalid_utf8:
			return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
			    "invalid UTF-8 at byte %d", jerr.position);
		case json_error_null_character:
		case json_error_null_byte_in_key:
			return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
			    "NUL character at byte %d", jerr.position);
		case json_error_premature_end_of_input:
			return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
			    "JSON ends before it is complete (byte %d)", jerr.position);
		case json_error_end_of_input_expected:
			return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
			    "trailing data after the JSON value at line %d, column %d",
			    jerr.line, jerr.column);
		case json_error_numeric_overflow:
			return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
			    "number out of range at line %d, column %d",
			    jerr.line, jerr.column);
		default:
			return pii_errinfo_set(ei, PII_ERR_INVALID_JSON, NULL,
			    "malformed JSON at line %d, column %d",
			    jerr.line, jerr.column);
		}
	}
	*out = j;
	return 0;
}

int
pii_json_dump(const json_t *j, char **out, size_t *outlen)
{
	char *s;

	s = json_dumps(j, JSON_COMPACT);
	if (s == NULL)
		return PII_ERR_NOMEM;
	*out = s;
	if (outlen != NULL)
		*outlen = strlen(s);
	return 0;
}

static int
key_is_identifier(const char *k)
{
	size_t n = 0;

	for (; *k != '\0'; k++, n++) {
		char c = *k;

		if (n >= 40)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return 0;
	}
	return n > 0;
}

const char *
pii_json_path_key(char *buf, size_t cap, const char *path, const char *key)
{
	const char *k = key_is_identifier(key) ? key : "<key>";

	if (path == NULL || path[0] == '\0')
		snprintf(buf, cap, "%s", k);
	else
		snprintf(buf, cap, "%s.%s", path, k);
	return buf;
}

const char *
pii_json_path_index(char *buf, size_t cap, const char *path, size_t index)
{
	snprintf(buf, cap, "%s[%zu]", path != NULL ? path : "", index);
	return buf;
}

int
pii_json_check_keys(const json_t *obj, const char *const *allowed,
    const char *path, struct pii_errinfo *ei)
{
	const char *key;
	json_t *v;
	char p[PII_ERR_MAX_FIELD];
	size_t i;

	json_object_foreach((json_t *)obj, key, v) {
		int found = 0;

		(void)v;
		for (i = 0; allowed[i] != NULL; i++) {
			if (strcmp(key, allowed[i]) == 0) {
				found = 1;
				break;
			}
		}
		if (!found)
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST,
			    pii_json_path_key(p, sizeof(p), path, key),
			    "unknown field");
	}
	return 0;
}

static int
get_value(const json_t *obj, const char *key, int required, const char *path,
    json_t **out, char *p, size_t pcap, struct pii_errinfo *ei)
{
	json_t *v = json_object_get(obj, key);

	pii_json_path_key(p, pcap, path, key);
	if (v == NULL || json_is_null(v)) {
		*out = NULL;
		if (required)
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
			    "is required");
		return 0;
	}
	*out = v;
	return 0;
}

int
pii_json_get_string(const json_t *obj, const char *key, int required,
    size_t maxlen, const char *path, const char **out, size_t *outlen,
    struct pii_errinfo *ei)
{
	char p[PII_ERR_MAX_FIELD];
	json_t *v;
	int r;

	if ((r = get_value(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v == NULL) {
		*out = NULL;
		if (outlen != NULL)
			*outlen = 0;
		return 0;
	}
	if (!json_is_string(v))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
		    "must be a string");
	if (json_string_length(v) > maxlen)
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, p,
		    "longer than %zu bytes", maxlen);
	*out = json_string_value(v);
	if (outlen != NULL)
		*outlen = json_string_length(v);
	return 0;
}

int
pii_json_get_object(const json_t *obj, const char *key, int required,
    const char *path, json_t **out, struct pii_errinfo *ei)
{
	char p[PII_ERR_MAX_FIELD];
	json_t *v;
	int r;

	if ((r = get_value(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v != NULL && !json_is_object(v))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
		    "must be an object");
	*out = v;
	return 0;
}

int
pii_json_get_array(const json_t *obj, const char *key, int required,
    size_t maxlen, const char *path, json_t **out, struct pii_errinfo *ei)
{
	char p[PII_ERR_MAX_FIELD];
	json_t *v;
	int r;

	if ((r = get_value(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v != NULL && !json_is_array(v))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
		    "must be an array");
	if (v != NULL && json_array_size(v) > maxlen)
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, p,
		    "more than %zu elements", maxlen);
	*out = v;
	return 0;
}

int
pii_json_get_int(const json_t *obj, const char *key, int required,
    long long min, long long max, const char *path, long long *out,
    struct pii_errinfo *ei)
{
	char p[PII_ERR_MAX_FIELD];
	json_t *v;
	long long n;
	int r;

	if ((r = get_value(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v == NULL)
		return 0;
	if (!json_is_integer(v))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
		    "must be an integer");
	n = (long long)json_integer_value(v);
	if (n < min || n > max)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
		    "must be between %lld and %lld", min, max);
	*out = n;
	return 0;
}

int
pii_json_get_bool(const json_t *obj, const char *key, int required,
    const char *path, int *out, struct pii_errinfo *ei)
{
	char p[PII_ERR_MAX_FIELD];
	json_t *v;
	int r;

	if ((r = get_value(obj, key, required, path, &v, p, sizeof(p), ei)) != 0)
		return r;
	if (v == NULL)
		return 0;
	if (!json_is_boolean(v))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
		    "must be true or false");
	*out = json_is_true(v);
	return 0;
}
