/*
 * json_util.h - strict JSON for untrusted input, and a zeroing allocator.
 *
 * pii_json_parse() is the only way request bodies and config files become
 * json_t: it bounds nesting depth before jansson sees the text, rejects
 * duplicate keys (jansson's default is last-wins), invalid UTF-8 and NUL,
 * and reports errors by position only - jansson's own messages quote the
 * input ("... near 'x'"), which could be PII, so they are never passed on.
 *
 * pii_json_init() installs an allocator that wipes every block jansson frees,
 * so plaintext held in a json_t tree (a revealed value) does not linger.
 */
#ifndef PII_JSON_UTIL_H
#define PII_JSON_UTIL_H

#include <stddef.h>
#include <jansson.h>

#include "err.h"

#define PII_JSON_DEFAULT_DEPTH 16

/* Install the zeroing allocator.  Call once, before any other jansson use. */
void pii_json_init(void);

/* Parse len bytes into *out (new reference).  On failure ei names the kind
 * and the byte offset: PII_ERR_INVALID_JSON, PII_ERR_DUPLICATE_KEY,
 * PII_ERR_TOO_LARGE (nesting deeper than max_depth). */
int pii_json_parse(const char *buf, size_t len, size_t max_depth, json_t **out,
    struct pii_errinfo *ei);

/* Compact serialization into *out (new; release with pii_json_free_str). */
int pii_json_dump(const json_t *j, char **out, size_t *outlen);
/* Wipe and release a string from pii_json_dump.  Accepts NULL. */
void pii_json_free_str(char *s);

/* PII_ERR_BAD_REQUEST naming "path.key" if obj has a key not in allowed
 * (NULL-terminated).  A key is quoted in the path only when it looks like an
 * identifier ([A-Za-z0-9_-], at most 40 characters); otherwise it is elided. */
int pii_json_check_keys(const json_t *obj, const char *const *allowed,
    const char *path, struct pii_errinfo *ei);

/* Typed getters.  *out is borrowed from obj.  A missing key gives
 * PII_ERR_BAD_REQUEST "is required" when required, else 0 with *out NULL.
 * Strings longer than maxlen bytes give PII_ERR_TOO_LARGE. */
int pii_json_get_string(const json_t *obj, const char *key, int required,
    size_t maxlen, const char *path, const char **out, size_t *outlen,
    struct pii_errinfo *ei);
int pii_json_get_object(const json_t *obj, const char *key, int required,
    const char *path, json_t **out, struct pii_errinfo *ei);
int pii_json_get_array(const json_t *obj, const char *key, int required,
    size_t maxlen, const char *path, json_t **out, struct pii_errinfo *ei);
int pii_json_get_int(const json_t *obj, const char *key, int required,
    long long min, long long max, const char *path, long long *out,
    struct pii_errinfo *ei);
int pii_json_get_bool(const json_t *obj, const char *key, int required,
    const char *path, int *out, struct pii_errinfo *ei);

/* path + "." + key into buf (or path + "[i]" for pii_json_path_index). */
const char *pii_json_path_key(char *buf, size_t cap, const char *path,
    const char *key);
const char *pii_json_path_index(char *buf, size_t cap, const char *path,
    size_t index);

#endif
