/*
 * test_common.c - unit tests of common/: the error table (err.c), strict JSON
 * and its helpers (json_util.c), bounded buffers (buf.c), strict config
 * loading (config.c, through vault_config_load on small temp files) and the
 * loopback test of the HTTP glue (http.c).  Every group is a table of rows.
 *
 * Request data must never reach an error message or path: several rows parse
 * input holding a distinctive marker ("alice", "zqxv") and check that
 * neither ei.message nor ei.field contains it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../common/buf.h"
#include "../../common/config.h"
#include "../../common/err.h"
#include "../../common/http.h"
#include "../../common/json_util.h"
#include "../../common/keyfile.h"
#include "../../vault/vault_config.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* ---- err.c ------------------------------------------------------------ */

static const struct {
	int code;
	unsigned int status;
	const char *api;
} err_rows[] = {
	{ PII_OK, 200, "ok" },
	{ PII_ERR_BAD_REQUEST, 400, "bad_request" },
	{ PII_ERR_INVALID_JSON, 400, "invalid_json" },
	{ PII_ERR_DUPLICATE_KEY, 400, "duplicate_key" },
	{ PII_ERR_TOO_LARGE, 413, "too_large" },
	{ PII_ERR_UNKNOWN_CATEGORY, 400, "unknown_category" },
	{ PII_ERR_UNAUTHENTICATED, 401, "unauthenticated" },
	{ PII_ERR_FORBIDDEN, 403, "forbidden" },
	{ PII_ERR_POLICY_DENIED, 403, "policy_denied" },
	{ PII_ERR_TICKET_REQUIRED, 403, "ticket_required" },
	{ PII_ERR_APPROVAL_REQUIRED, 403, "approval_required" },
	{ PII_ERR_OBJECTION, 403, "objection_in_force" },
	{ PII_ERR_RATE_LIMITED, 429, "rate_limited" },
	{ PII_ERR_NOT_FOUND, 404, "not_found" },
	{ PII_ERR_SUBJECT_ERASED, 410, "subject_erased" },
	{ PII_ERR_CONFLICT, 409, "conflict" },
	{ PII_ERR_AUDIT_UNAVAILABLE, 503, "audit_unavailable" },
	{ PII_ERR_DB_UNAVAILABLE, 503, "db_unavailable" },
	{ PII_ERR_INTERNAL, 500, "internal" },
	{ PII_ERR_METHOD, 405, "bad_request" },
	{ PII_ERR_NOMEM, 500, "internal" },
	{ PII_ERR_IO, 500, "internal" },
	{ PII_ERR_CRYPTO, 500, "internal" },
	{ PII_ERR_CONFIG, 500, "internal" },
	{ PII_ERR_PERM, 500, "internal" },
	{ PII_ERR_KEY, 500, "internal" },
	/* Listed among the internal codes in err.h, but a client error. */
	{ PII_ERR_RANGE, 400, "bad_request" },
	{ PII_ERR_USAGE, 500, "internal" },
	{ PII_ERR_SQL, 500, "internal" },
};

/* The API codes of API.md "Conventions" (and "ok" for success). */
static const char *const api_codes[] = { "ok", "bad_request", "invalid_json",
	"duplicate_key", "too_large", "unknown_category", "unauthenticated",
	"forbidden", "policy_denied", "ticket_required", "approval_required",
	"objection_in_force", "rate_limited", "not_found", "subject_erased",
	"conflict", "audit_unavailable", "db_unavailable", "internal", NULL };

static int
api_code_listed(const char *s)
{
	size_t i;

	for (i = 0; api_codes[i] != NULL; i++)
		if (strcmp(s, api_codes[i]) == 0)
			return 1;
	return 0;
}

static void
test_err_table(void)
{
	static const int unknown[] = { 1, -20, -29, -39, -1000, 12345 };
	size_t i, j;

	for (i = 0; i < NELEM(err_rows); i++) {
		int c = err_rows[i].code;
		const char *text = pii_strerror(c);

		CHECK(text != NULL && text[0] != '\0' &&
		    strcmp(text, "unknown error") != 0, "err %d has a text", c);
		CHECK(pii_err_http_status(c) == err_rows[i].status,
		    "err %d -> HTTP %u", c, err_rows[i].status);
		CHECK_STR(pii_err_api_code(c), err_rows[i].api,
		    "err %d -> api code %s", c, err_rows[i].api);
		CHECK(api_code_listed(pii_err_api_code(c)),
		    "err %d api code is one of API.md's", c);
		for (j = 0; j < i; j++)
			if (strcmp(text, pii_strerror(err_rows[j].code)) == 0)
				break;
		CHECK(j == i, "err %d text is distinct", c);
	}
	for (i = 0; i < NELEM(unknown); i++) {
		CHECK(pii_err_http_status(unknown[i]) == 500,
		    "unknown code %d -> 500", unknown[i]);
		CHECK_STR(pii_err_api_code(unknown[i]), "internal",
		    "unknown code %d -> internal", unknown[i]);
		CHECK(pii_strerror(unknown[i]) != NULL &&
		    pii_strerror(unknown[i])[0] != '\0',
		    "unknown code %d still has a text", unknown[i]);
	}
}

static void
test_errinfo(void)
{
	struct pii_errinfo ei;
	char longs[1000];
	size_t i;
	int r;

	memset(longs, 'x', sizeof(longs) - 1);
	longs[sizeof(longs) - 1] = '\0';

	pii_errinfo_clear(&ei);
	CHECK(ei.code == 0 && ei.field[0] == '\0' && ei.message[0] == '\0',
	    "errinfo_clear empties");
	pii_errinfo_clear(NULL);
	CHECK(1, "errinfo_clear(NULL) is harmless");

	r = pii_errinfo_set(&ei, PII_ERR_TOO_LARGE, "records[3].fields.email",
	    "longer than %zu bytes", (size_t)1024);
	CHECK(r == PII_ERR_TOO_LARGE && ei.code == PII_ERR_TOO_LARGE,
	    "errinfo_set returns and stores the code");
	CHECK_STR(ei.field, "records[3].fields.email", "errinfo_set field");
	CHECK_STR(ei.message, "longer than 1024 bytes", "errinfo_set formats");

	r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, NULL, "is required");
	CHECK(r == PII_ERR_BAD_REQUEST && ei.field[0] == '\0',
	    "errinfo_set with NULL field empties it");

	CHECK(pii_errinfo_set(NULL, PII_ERR_CONFLICT, "x", "y %d", 1) ==
	    PII_ERR_CONFLICT, "errinfo_set(NULL, ...) returns the code");

	/* Overlong field and message: truncated, terminated, no overflow
	 * (the sanitizer build catches a write past either array). */
	memset(&ei, 0x7f, sizeof(ei));
	pii_errinfo_set(&ei, PII_ERR_INTERNAL, longs, "%s and %s", longs, longs);
	CHECK(strlen(ei.field) == PII_ERR_MAX_FIELD - 1,
	    "overlong field truncated to %d bytes", PII_ERR_MAX_FIELD - 1);
	CHECK(strlen(ei.message) == PII_ERR_MAX_MESSAGE - 1,
	    "overlong message truncated to %d bytes", PII_ERR_MAX_MESSAGE - 1);
	for (i = 0; i < strlen(ei.message); i++)
		if (ei.message[i] != 'x')
			break;
	CHECK(i == strlen(ei.message), "truncated message is a prefix");
}

/* ---- json_util.c: parse ----------------------------------------------- */

/* n levels of {"a": ... 1 ... } */
static char *
nested_objects(size_t n)
{
	size_t i, len = n * 6 + 2;
	char *s = malloc(len), *p = s;

	if (s == NULL)
		abort();
	for (i = 0; i < n; i++) {
		memcpy(p, "{\"a\":", 5);
		p += 5;
	}
	*p++ = '1';
	for (i = 0; i < n; i++)
		*p++ = '}';
	*p = '\0';
	return s;
}

struct parse_row {
	const char *name;
	const char *in;
	size_t len;            /* 0: strlen(in) */
	size_t depth;
	int want;
	const char *secret;    /* must not appear in message or field */
};

static const struct parse_row parse_rows[] = {
	{ "valid object", "{\"subject\":\"user:1\",\"fields\":{\"email\":\"a@b.com\"}}", 0, 16, 0, NULL },
	{ "valid array", "[1,2,{\"a\":null}]", 0, 16, 0, NULL },
	{ "whitespace around", " \n{\"a\":true}\n ", 0, 16, 0, NULL },
	{ "unicode escapes", "{\"n\":\"\\uae40\\ubbfc\\uc900 \\ud83d\\ude00\"}", 0, 16, 0, NULL },
	{ "depth 2 at limit 2", "{\"a\":[1]}", 0, 2, 0, NULL },
	{ "depth 3 over limit 2", "{\"a\":[[1]]}", 0, 2, PII_ERR_TOO_LARGE, NULL },
	{ "brackets inside a string do not count", "{\"a\":\"[[[[{{{{\\\"[[[\"}", 0, 2, 0, NULL },
	{ "depth 0 means the default", "[[[[[[[[1]]]]]]]]", 0, 0, 0, NULL },
	{ "duplicate key", "{\"email\":\"bob@zqxv.org\",\"email\":\"carol@zqxv.org\"}", 0, 16, PII_ERR_DUPLICATE_KEY, "zqxv" },
	{ "duplicate key nested", "{\"a\":{\"k\":1,\"k\":2}}", 0, 16, PII_ERR_DUPLICATE_KEY, NULL },
	{ "unquoted value", "{\"email\": alice@example.com}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "unquoted key", "{alice:1}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "bad escape", "{\"n\":\"alice\\q\"}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "single quotes", "{'alice':'x'}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "invalid UTF-8", "{\"n\":\"alice\xff\"}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "overlong UTF-8", "{\"n\":\"\xc0\xafzqxv\"}", 0, 16, PII_ERR_INVALID_JSON, "zqxv" },
	{ "UTF-8 surrogate", "{\"n\":\"\xed\xa0\x80zqxv\"}", 0, 16, PII_ERR_INVALID_JSON, "zqxv" },
	{ "invalid UTF-8 in a key", "{\"alice\xfe\":1}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "escaped NUL", "{\"n\":\"alice\\u0000x\"}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "raw NUL byte", "{\"n\":\"alice\0x\"}", 15, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "raw NUL after a whole document", "{\"a\":1}\0{\"b\":2}", 15, 16, PII_ERR_INVALID_JSON, NULL },
	{ "raw NUL between members", "{\"a\":1\0,\"b\":2}", 14, 16, PII_ERR_INVALID_JSON, NULL },
	{ "lone surrogate escape", "{\"n\":\"\\ud800zqxv\"}", 0, 16, PII_ERR_INVALID_JSON, "zqxv" },
	{ "trailing garbage", "{\"a\":1} alice", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "two documents", "{\"a\":1}{\"b\":2}", 0, 16, PII_ERR_INVALID_JSON, NULL },
	{ "truncated", "{\"email\":\"alice@exa", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "empty body", "", 0, 16, PII_ERR_INVALID_JSON, NULL },
	{ "only whitespace", "  \n ", 0, 16, PII_ERR_INVALID_JSON, NULL },
	{ "bare string", "\"alice\"", 0, 16, PII_ERR_INVALID_JSON, "alice" },
	{ "number overflow", "{\"a\":1e99999}", 0, 16, PII_ERR_INVALID_JSON, "99999" },
	{ "integer overflow", "{\"a\":123456789012345678901234567890}", 0, 16, PII_ERR_INVALID_JSON, "1234567890" },
	{ "control char in string", "{\"n\":\"alice\nbob\"}", 0, 16, PII_ERR_INVALID_JSON, "alice" },
};

static void
test_json_parse(void)
{
	struct pii_errinfo ei;
	json_t *j;
	char *deep;
	size_t i;
	int r;

	for (i = 0; i < NELEM(parse_rows); i++) {
		const struct parse_row *row = &parse_rows[i];
		size_t len = row->len ? row->len : strlen(row->in);

		j = NULL;
		pii_errinfo_clear(&ei);
		r = pii_json_parse(row->in, len, row->depth, &j, &ei);
		CHECK(r == row->want, "parse: %s -> %d (got %d)", row->name,
		    row->want, r);
		if (row->want == 0) {
			CHECK(j != NULL, "parse: %s gives a tree", row->name);
		} else {
			CHECK(j == NULL && ei.code == r && ei.message[0] != '\0',
			    "parse: %s sets ei and not *out", row->name);
			CHECK(ei.field[0] == '\0', "parse: %s has no field",
			    row->name);
		}
		if (row->secret != NULL)
			CHECK(strstr(ei.message, row->secret) == NULL &&
			    strstr(ei.field, row->secret) == NULL,
			    "parse: %s message does not quote the input",
			    row->name);
		json_decref(j);
	}

	/* Nesting: 16 levels pass the default limit, 17 do not. */
	deep = nested_objects(16);
	j = NULL;
	r = pii_json_parse(deep, strlen(deep), 16, &j, &ei);
	CHECK(r == 0 && j != NULL, "parse: depth 16 at limit 16 ok");
	json_decref(j);
	free(deep);

	deep = nested_objects(17);
	j = NULL;
	r = pii_json_parse(deep, strlen(deep), 16, &j, &ei);
	CHECK(r == PII_ERR_TOO_LARGE && j == NULL,
	    "parse: depth 17 at limit 16 -> PII_ERR_TOO_LARGE");
	r = pii_json_parse(deep, strlen(deep), PII_JSON_DEFAULT_DEPTH + 1, &j, &ei);
	CHECK(r == 0, "parse: depth 17 at limit 17 ok");
	json_decref(j);
	free(deep);

	/* Far too deep for jansson's own recursion: refused before it. */
	deep = nested_objects(100000);
	j = NULL;
	r = pii_json_parse(deep, strlen(deep), 16, &j, &ei);
	CHECK(r == PII_ERR_TOO_LARGE && j == NULL,
	    "parse: depth 100000 refused by the depth scan");
	free(deep);
}

static void
test_json_dump(void)
{
	struct pii_errinfo ei;
	static const char in[] = "{\"a\":[1,\"x\"],\"b\":{\"c\":null}}";
	json_t *j = NULL, *k = NULL;
	char *s = NULL;
	size_t n = 0;

	CHECK(pii_json_parse(in, strlen(in), 16, &j, &ei) == 0, "dump: parse");
	CHECK(pii_json_dump(j, &s, &n) == 0 && s != NULL && n == strlen(s),
	    "dump: compact text with its length");
	CHECK(s != NULL && strchr(s, ' ') == NULL, "dump: compact");
	CHECK(s != NULL && pii_json_parse(s, n, 16, &k, &ei) == 0 &&
	    json_equal(j, k), "dump: round trip");
	pii_json_free_str(s);
	pii_json_free_str(NULL);
	CHECK(1, "pii_json_free_str(NULL) is harmless");
	json_decref(j);
	json_decref(k);
}

/* ---- json_util.c: keys and getters ------------------------------------ */

static json_t *
parse_ok(const char *s)
{
	struct pii_errinfo ei;
	json_t *j = NULL;

	if (pii_json_parse(s, strlen(s), 16, &j, &ei) != 0) {
		fprintf(stderr, "# test input does not parse: %s\n", ei.message);
		abort();
	}
	return j;
}

struct keys_row {
	const char *name;
	const char *obj;
	const char *path;
	int want;
	const char *field;     /* expected ei.field when want != 0 */
};

static const struct keys_row keys_rows[] = {
	{ "all allowed", "{\"subject\":1,\"fields\":{}}", "records[0]", 0, NULL },
	{ "empty object", "{}", "", 0, NULL },
	{ "unknown at top", "{\"subject\":1,\"colour\":2}", "", PII_ERR_BAD_REQUEST, "colour" },
	{ "unknown nested", "{\"colour\":2}", "records[0]", PII_ERR_BAD_REQUEST, "records[0].colour" },
	{ "unknown deeper", "{\"x-y_9\":2}", "records[3].fields", PII_ERR_BAD_REQUEST, "records[3].fields.x-y_9" },
	{ "email as key elided", "{\"alice@example.com\":1}", "records[0]", PII_ERR_BAD_REQUEST, "records[0].<key>" },
	{ "email as key at top", "{\"alice@example.com\":1}", "", PII_ERR_BAD_REQUEST, "<key>" },
	{ "space in key elided", "{\"alice smith\":1}", "context", PII_ERR_BAD_REQUEST, "context.<key>" },
	{ "dot in key elided", "{\"alice.smith\":1}", "context", PII_ERR_BAD_REQUEST, "context.<key>" },
	{ "non-ASCII key elided", "{\"\\uae40alice\":1}", "", PII_ERR_BAD_REQUEST, "<key>" },
	{ "empty key elided", "{\"\":1}", "", PII_ERR_BAD_REQUEST, "<key>" },
	{ "40-char key kept", "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}", "", PII_ERR_BAD_REQUEST, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	{ "41-char key elided", "{\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\":1}", "", PII_ERR_BAD_REQUEST, "<key>" },
};

static void
test_json_check_keys(void)
{
	static const char *const allowed[] = { "subject", "fields", NULL };
	struct pii_errinfo ei;
	size_t i;

	for (i = 0; i < NELEM(keys_rows); i++) {
		const struct keys_row *row = &keys_rows[i];
		json_t *j = parse_ok(row->obj);
		int r;

		pii_errinfo_clear(&ei);
		r = pii_json_check_keys(j, allowed, row->path, &ei);
		CHECK(r == row->want, "check_keys: %s -> %d (got %d)",
		    row->name, row->want, r);
		if (row->want != 0) {
			CHECK_STR(ei.field, row->field, "check_keys: %s path",
			    row->name);
			CHECK(strstr(ei.field, "alice") == NULL &&
			    strstr(ei.message, "alice") == NULL,
			    "check_keys: %s does not echo the key", row->name);
		}
		json_decref(j);
	}
}

enum getter { G_STRING, G_INT, G_BOOL, G_ARRAY, G_OBJECT };

struct get_row {
	const char *name;
	enum getter kind;
	const char *obj;
	const char *key;
	int required;
	long long max;         /* string/array max length; int max (min = -max) */
	int want;
	const char *field;     /* expected ei.field when want != 0 */
	int present;           /* 1: *out set (non-NULL / value stored) */
};

static const struct get_row get_rows[] = {
	{ "string ok", G_STRING, "{\"s\":\"abc\"}", "s", 1, 3, 0, NULL, 1 },
	{ "string at max", G_STRING, "{\"s\":\"\\uae40\"}", "s", 1, 3, 0, NULL, 1 },
	{ "string too long", G_STRING, "{\"s\":\"abcd\"}", "s", 1, 3, PII_ERR_TOO_LARGE, "rec.s", 0 },
	{ "string bytes not chars", G_STRING, "{\"s\":\"\\uae40\\uae40\"}", "s", 1, 5, PII_ERR_TOO_LARGE, "rec.s", 0 },
	{ "string wrong type", G_STRING, "{\"s\":12}", "s", 1, 10, PII_ERR_BAD_REQUEST, "rec.s", 0 },
	{ "string array", G_STRING, "{\"s\":[\"a\"]}", "s", 0, 10, PII_ERR_BAD_REQUEST, "rec.s", 0 },
	{ "string missing required", G_STRING, "{}", "s", 1, 10, PII_ERR_BAD_REQUEST, "rec.s", 0 },
	{ "string null required", G_STRING, "{\"s\":null}", "s", 1, 10, PII_ERR_BAD_REQUEST, "rec.s", 0 },
	{ "string missing optional", G_STRING, "{}", "s", 0, 10, 0, NULL, 0 },
	{ "int ok", G_INT, "{\"n\":-5}", "n", 1, 5, 0, NULL, 1 },
	{ "int out of range", G_INT, "{\"n\":6}", "n", 1, 5, PII_ERR_BAD_REQUEST, "rec.n", 0 },
	{ "int real", G_INT, "{\"n\":1.5}", "n", 1, 5, PII_ERR_BAD_REQUEST, "rec.n", 0 },
	{ "int string", G_INT, "{\"n\":\"1\"}", "n", 1, 5, PII_ERR_BAD_REQUEST, "rec.n", 0 },
	{ "int missing required", G_INT, "{}", "n", 1, 5, PII_ERR_BAD_REQUEST, "rec.n", 0 },
	{ "int missing optional", G_INT, "{}", "n", 0, 5, 0, NULL, 0 },
	{ "bool ok", G_BOOL, "{\"b\":true}", "b", 1, 0, 0, NULL, 1 },
	{ "bool int", G_BOOL, "{\"b\":1}", "b", 1, 0, PII_ERR_BAD_REQUEST, "rec.b", 0 },
	{ "bool string", G_BOOL, "{\"b\":\"true\"}", "b", 0, 0, PII_ERR_BAD_REQUEST, "rec.b", 0 },
	{ "array ok", G_ARRAY, "{\"a\":[1,2]}", "a", 1, 2, 0, NULL, 1 },
	{ "array too long", G_ARRAY, "{\"a\":[1,2,3]}", "a", 1, 2, PII_ERR_TOO_LARGE, "rec.a", 0 },
	{ "array wrong type", G_ARRAY, "{\"a\":{}}", "a", 1, 2, PII_ERR_BAD_REQUEST, "rec.a", 0 },
	{ "array missing required", G_ARRAY, "{}", "a", 1, 2, PII_ERR_BAD_REQUEST, "rec.a", 0 },
	{ "object ok", G_OBJECT, "{\"o\":{}}", "o", 1, 0, 0, NULL, 1 },
	{ "object wrong type", G_OBJECT, "{\"o\":[]}", "o", 1, 0, PII_ERR_BAD_REQUEST, "rec.o", 0 },
	{ "object missing optional", G_OBJECT, "{}", "o", 0, 0, 0, NULL, 0 },
};

static void
test_json_getters(void)
{
	struct pii_errinfo ei;
	size_t i;

	for (i = 0; i < NELEM(get_rows); i++) {
		const struct get_row *row = &get_rows[i];
		json_t *j = parse_ok(row->obj), *o = NULL;
		const char *s = NULL;
		size_t slen = 99;
		long long n = 12345;
		int b = -1, r = 0, present = 0;

		pii_errinfo_clear(&ei);
		switch (row->kind) {
		case G_STRING:
			r = pii_json_get_string(j, row->key, row->required,
			    (size_t)row->max, "rec", &s, &slen, &ei);
			present = s != NULL;
			if (r == 0 && s != NULL)
				CHECK(slen == strlen(s), "get: %s length",
				    row->name);
			break;
		case G_INT:
			r = pii_json_get_int(j, row->key, row->required,
			    -row->max, row->max, "rec", &n, &ei);
			present = n != 12345;
			break;
		case G_BOOL:
			r = pii_json_get_bool(j, row->key, row->required, "rec",
			    &b, &ei);
			present = b != -1;
			break;
		case G_ARRAY:
			r = pii_json_get_array(j, row->key, row->required,
			    (size_t)row->max, "rec", &o, &ei);
			present = o != NULL;
			break;
		case G_OBJECT:
			r = pii_json_get_object(j, row->key, row->required,
			    "rec", &o, &ei);
			present = o != NULL;
			break;
		}
		CHECK(r == row->want, "get: %s -> %d (got %d)", row->name,
		    row->want, r);
		if (row->want != 0)
			CHECK_STR(ei.field, row->field, "get: %s path", row->name);
		else
			CHECK(present == row->present, "get: %s output %s",
			    row->name, row->present ? "set" : "not set");
		json_decref(j);
	}
}

/* ---- buf.c ------------------------------------------------------------ */

/* COPY text fields and JSON strings written straight into a buffer. */
static void
test_buf_formats(void)
{
	static const struct {
		const char *in, *copy, *json;
	} rows[] = {
		{ "tok_email_v1_abc", "tok_email_v1_abc", "\"tok_email_v1_abc\"" },
		{ "", "", "\"\"" },
		{ "a\tb\nc\rd", "a\\tb\\nc\\rd", "\"a\\u0009b\\u000ac\\u000dd\"" },
		{ "back\\slash", "back\\\\slash", "\"back\\\\slash\"" },
		{ "say \"hi\"", "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "\x01\x1f\x7f", "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
		{ "김민준", "김민준", "\"김민준\"" },
	};
	struct pii_buf b;
	struct pii_errinfo ei;
	json_t *j;
	size_t i;

	for (i = 0; i < NELEM(rows); i++) {
		pii_buf_init(&b, 1024);
		pii_buf_copy_field(&b, rows[i].in);
		CHECK(!b.failed && b.len == strlen(rows[i].copy) &&
		    (b.len == 0 || strcmp(b.data, rows[i].copy) == 0),
		    "buf copy field: row %zu", i);
		pii_buf_free(&b);

		pii_buf_init(&b, 1024);
		pii_buf_json_str(&b, rows[i].in);
		CHECK(!b.failed && strcmp(b.data, rows[i].json) == 0,
		    "buf json string: row %zu", i);
		/* and it parses back to the input */
		j = NULL;
		pii_buf_puts(&b, "]");
		{
			struct pii_buf w;

			pii_buf_init(&w, 1024);
			pii_buf_putc(&w, '[');
			pii_buf_append(&w, b.data, b.len);
			CHECK(pii_json_parse(w.data, w.len, 4, &j, &ei) == 0 &&
			    json_is_string(json_array_get(j, 0)) &&
			    strcmp(json_string_value(json_array_get(j, 0)),
			    rows[i].in) == 0, "buf json string: row %zu round trip", i);
			json_decref(j);
			pii_buf_free(&w);
		}
		pii_buf_free(&b);
	}
	pii_buf_init(&b, 5);
	pii_buf_json_str(&b, "abcd");
	CHECK(b.failed, "buf json string: quotes count against max");
	pii_buf_free(&b);
	pii_buf_init(&b, 2);
	pii_buf_copy_field(&b, "a\t");
	CHECK(b.failed, "buf copy field: escapes count against max");
	pii_buf_free(&b);
}

static void
test_buf(void)
{
	static const struct {
		const char *name;
		const char *elems[4];
		const char *want;
	} rows[] = {
		{ "plain", { "a", "b", NULL }, "{\"a\",\"b\"}" },
		{ "quote", { "say \"hi\"", NULL }, "{\"say \\\"hi\\\"\"}" },
		{ "backslash", { "C:\\dir\\", NULL }, "{\"C:\\\\dir\\\\\"}" },
		{ "both", { "\\\"", "x", NULL }, "{\"\\\\\\\"\",\"x\"}" },
		{ "empty element", { "", "NULL", NULL }, "{\"\",\"NULL\"}" },
		{ "comma and braces", { "a,b", "{c}", NULL }, "{\"a,b\",\"{c}\"}" },
		{ "no elements", { NULL }, "{}" },
	};
	struct pii_buf b;
	size_t i, j;

	for (i = 0; i < NELEM(rows); i++) {
		pii_buf_init(&b, 1024);
		pii_buf_putc(&b, '{');
		for (j = 0; rows[i].elems[j] != NULL; j++)
			pii_buf_array_elem(&b, rows[i].elems[j]);
		pii_buf_putc(&b, '}');
		CHECK(!b.failed, "buf array: %s not failed", rows[i].name);
		CHECK_STR(b.data, rows[i].want, "buf array: %s", rows[i].name);
		CHECK(b.len == strlen(rows[i].want), "buf array: %s len",
		    rows[i].name);
		pii_buf_free(&b);
	}

	/* The maximum: exactly max fits, one more byte fails, and stays failed. */
	pii_buf_init(&b, 8);
	pii_buf_puts(&b, "12345678");
	CHECK(!b.failed && b.len == 8, "buf: exactly max fits");
	CHECK_STR(b.data, "12345678", "buf: content at max");
	pii_buf_putc(&b, '9');
	CHECK(b.failed && b.len == 8, "buf: max + 1 fails, len unchanged");
	pii_buf_reset(&b);
	CHECK(!b.failed && b.len == 0, "buf: reset clears len and failed");
	pii_buf_puts(&b, "abc");
	CHECK(!b.failed && b.len == 3, "buf: usable after reset");
	pii_buf_puts(&b, "defghi");
	CHECK(b.failed, "buf: overflow after reset fails");
	pii_buf_putc(&b, 'x');
	CHECK(b.failed && b.len == 3, "buf: failed is sticky");
	pii_buf_free(&b);
	CHECK(b.data == NULL && b.len == 0, "buf: free empties");
	pii_buf_free(&b);
	CHECK(1, "buf: double free of an emptied buffer is harmless");

	pii_buf_init(&b, 4);
	pii_buf_putc(&b, '{');
	pii_buf_array_elem(&b, "\"\"");
	CHECK(b.failed, "buf: escaping counts against max");
	pii_buf_free(&b);

	pii_buf_init(&b, 1 << 20);
	for (i = 0; i < 1000; i++)
		pii_buf_array_elem(&b, "grow\\");
	CHECK(!b.failed && b.len == 1000 * 9 - 1, "buf: grows past 256 bytes");
	pii_buf_free(&b);

	pii_buf_init(&b, 4);
	pii_buf_hex(&b, (const unsigned char *)"\x00\xff", 2);
	CHECK(!b.failed, "buf hex: 4 chars fit max 4");
	CHECK_STR(b.data, "00ff", "buf hex: 00ff");
	pii_buf_hex(&b, (const unsigned char *)"\x01", 1);
	CHECK(b.failed && b.len == 4, "buf hex: over max fails");
	pii_buf_free(&b);

	pii_buf_init(&b, 0);
	pii_buf_puts(&b, "");
	pii_buf_putc(&b, 'a');
	CHECK(b.failed && b.len == 0, "buf: max 0 holds nothing");
	pii_buf_free(&b);
}

/* ---- config.c via vault_config_load ----------------------------------- */

static char cfg_dir[64];

#define HASH_A "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
#define CFG_FILES "\"root_key_file\":\"r\",\"keystore_file\":\"k\"," \
	"\"database\":\"d\",\"audit_database\":\"a\"," \
	"\"audit_signing_key_file\":\"s\",\"audit_witness_dir\":\"w\","
#define ID_TOKEN "{\"name\":\"tagger\",\"token_sha256\":\"" HASH_A "\"," \
	"\"operations\":[\"tokenize\"]}"
#define TLS "\"tls\":{\"cert_file\":\"c.pem\",\"key_file\":\"k.pem\"},"
#define LISTEN(a) "\"listen\":{\"address\":\"" a "\",\"port\":8443},"

struct cfg_row {
	const char *name;
	const char *text;
	int want;
	const char *field;     /* expected ei.field when want != 0 */
	const char *secret;    /* must appear in neither field nor message */
};

static const struct cfg_row cfg_rows[] = {
	{ "plain HTTP on 127.0.0.1 accepted",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"identities\":[" ID_TOKEN "]}", 0, NULL, NULL },
	{ "plain HTTP on ::1 accepted",
	  "{" LISTEN("::1") CFG_FILES "\"identities\":[" ID_TOKEN "]}", 0, NULL, NULL },
	{ "TLS on 0.0.0.0 accepted",
	  "{" LISTEN("0.0.0.0") TLS CFG_FILES "\"identities\":[" ID_TOKEN "]}", 0, NULL, NULL },
	{ "plain HTTP on 0.0.0.0 refused",
	  "{" LISTEN("0.0.0.0") CFG_FILES "\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG, "tls", NULL },
	{ "plain HTTP on :: refused",
	  "{" LISTEN("::") CFG_FILES "\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG, "tls", NULL },
	{ "plain HTTP admin on 10.0.0.1 refused",
	  "{" LISTEN("127.0.0.1") "\"admin_listen\":{\"address\":\"10.0.0.1\",\"port\":9000},"
	  CFG_FILES "\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG, "tls", NULL },
	{ "unknown key at top level",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"colour\":1,\"identities\":[" ID_TOKEN "]}",
	  PII_ERR_CONFIG, "colour", NULL },
	{ "unknown key not an identifier",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"alice@example.com\":1,\"identities\":[" ID_TOKEN "]}",
	  PII_ERR_CONFIG, "<key>", "alice" },
	{ "unknown key in listen",
	  "{\"listen\":{\"address\":\"127.0.0.1\",\"port\":1,\"backlog\":5}," CFG_FILES
	  "\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG, "listen.backlog", NULL },
	{ "unknown key in identities[0]",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"identities\":[{\"name\":\"t\",\"cert_name\":\"t\","
	  "\"operations\":[],\"colour\":1}]}", PII_ERR_CONFIG, "identities[0].colour", NULL },
	{ "unknown key in identities[1]",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"identities\":[" ID_TOKEN ",{\"name\":\"u\","
	  "\"cert_name\":\"u\",\"operations\":[],\"colour\":1}]}",
	  PII_ERR_CONFIG, "identities[1].colour", NULL },
	{ "bad token_sha256: not hex",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"identities\":[{\"name\":\"t\",\"token_sha256\":"
	  "\"zz86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\","
	  "\"operations\":[]}]}", PII_ERR_CONFIG, "identities[0].token_sha256", "zz86" },
	{ "bad token_sha256: too short",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"identities\":[{\"name\":\"t\",\"token_sha256\":"
	  "\"9f86d081\",\"operations\":[]}]}", PII_ERR_CONFIG, "identities[0].token_sha256", "9f86d081" },
	{ "identity without credential",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"identities\":[{\"name\":\"t\",\"operations\":[]}]}",
	  PII_ERR_CONFIG, "identities[0]", NULL },
	{ "unknown operation",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"identities\":[{\"name\":\"t\",\"cert_name\":\"t\","
	  "\"operations\":[\"tokenize\",\"fly\"]}]}", PII_ERR_CONFIG, "identities[0].operations[1]", NULL },
	{ "missing database",
	  "{" LISTEN("127.0.0.1") "\"root_key_file\":\"r\",\"keystore_file\":\"k\","
	  "\"audit_database\":\"a\",\"audit_signing_key_file\":\"s\","
	  "\"audit_witness_dir\":\"w\",\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG,
	  "database", NULL },
	{ "missing audit signing key",
	  "{" LISTEN("127.0.0.1") "\"root_key_file\":\"r\",\"keystore_file\":\"k\","
	  "\"database\":\"d\",\"audit_database\":\"a\",\"audit_witness_dir\":\"w\","
	  "\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG, "audit_signing_key_file", NULL },
	{ "checkpoint interval not under the publish window",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"audit_checkpoint_seconds\":300,"
	  "\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG, "audit_checkpoint_seconds", NULL },
	{ "port out of range",
	  "{\"listen\":{\"address\":\"127.0.0.1\",\"port\":65536}," CFG_FILES
	  "\"identities\":[" ID_TOKEN "]}", PII_ERR_CONFIG, "listen.port", NULL },
	{ "threads wrong type",
	  "{" LISTEN("127.0.0.1") CFG_FILES "\"threads\":\"8\",\"identities\":[" ID_TOKEN "]}",
	  PII_ERR_CONFIG, "threads", NULL },
	{ "duplicate key",
	  "{" LISTEN("127.0.0.1") LISTEN("127.0.0.1") CFG_FILES "\"identities\":[" ID_TOKEN "]}",
	  PII_ERR_CONFIG, "", NULL },
	{ "not an object", "[]", PII_ERR_CONFIG, "", NULL },
	{ "malformed", "{\"database\": alice}", PII_ERR_CONFIG, "", "alice" },
};

static int
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL)
		return -1;
	fputs(text, f);
	return fclose(f);
}

static void
test_config(void)
{
	struct vault_config *cfg;
	struct pii_errinfo ei;
	char path[128];
	size_t i;
	int r;

	(void)pii_temp_template(cfg_dir, sizeof(cfg_dir), "/tmp/piiv-test-common-");
	if (mkdtemp(cfg_dir) == NULL) {
		CHECK(0, "config: mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/vault.json", cfg_dir);
	for (i = 0; i < NELEM(cfg_rows); i++) {
		const struct cfg_row *row = &cfg_rows[i];

		if (write_file(path, row->text) != 0) {
			CHECK(0, "config: %s: cannot write %s", row->name, path);
			continue;
		}
		cfg = NULL;
		pii_errinfo_clear(&ei);
		r = vault_config_load(path, &cfg, &ei);
		CHECK(r == row->want, "config: %s -> %d (got %d: %s)", row->name,
		    row->want, r, r != 0 ? ei.message : "ok");
		if (row->want == 0) {
			CHECK(cfg != NULL && cfg->nidentities >= 1,
			    "config: %s loads identities", row->name);
		} else {
			CHECK(cfg == NULL, "config: %s leaves *out alone", row->name);
			CHECK_STR(ei.field, row->field, "config: %s names the path",
			    row->name);
		}
		if (row->secret != NULL)
			CHECK(strstr(ei.field, row->secret) == NULL &&
			    strstr(ei.message, row->secret) == NULL,
			    "config: %s does not echo the value", row->name);
		vault_config_free(cfg);
		unlink(path);
	}

	/* The values of an accepted file. */
	write_file(path, "{" LISTEN("127.0.0.1") CFG_FILES
	    "\"threads\":4,\"phone_default_country_code\":\"82\","
	    "\"custom_categories\":[\"loyalty_id\"],"
	    "\"identities\":[" ID_TOKEN ",{\"name\":\"proxy\",\"cert_name\":\"proxy\","
	    "\"operations\":[\"reveal\",\"detokenize\"]}]}");
	cfg = NULL;
	r = vault_config_load(path, &cfg, &ei);
	CHECK(r == 0 && cfg != NULL, "config: full file loads");
	if (cfg != NULL) {
		CHECK_STR(cfg->listen.address, "127.0.0.1", "config: listen.address");
		CHECK(cfg->listen.port == 8443, "config: listen.port");
		CHECK(cfg->threads == 4 && cfg->max_json_depth == 16,
		    "config: threads set, max_json_depth defaulted");
		CHECK_STR(cfg->writer, "vault", "config: writer defaults to vault");
		CHECK_STR(cfg->categories.default_country_code, "82",
		    "config: country code");
		CHECK(cfg->categories.ncustom == 1 &&
		    strcmp(cfg->categories.custom[0], "loyalty_id") == 0,
		    "config: custom category");
		CHECK(cfg->nidentities == 2 && cfg->identities[0].has_token &&
		    cfg->identities[0].token_hash[0] == 0x9f &&
		    cfg->identities[0].ops == VAULT_OP_TOKENIZE,
		    "config: identity 0 token and operations");
		CHECK(cfg->nidentities == 2 && !cfg->identities[1].has_token &&
		    strcmp(cfg->identities[1].cert_name, "proxy") == 0 &&
		    cfg->identities[1].ops == (VAULT_OP_REVEAL | VAULT_OP_DETOKENIZE),
		    "config: identity 1 certificate and operations");
	}
	vault_config_free(cfg);
	vault_config_free(NULL);
	unlink(path);

	cfg = NULL;
	r = vault_config_load(path, &cfg, &ei);
	CHECK(r == PII_ERR_CONFIG && cfg == NULL, "config: missing file refused");
	rmdir(cfg_dir);
}

/* ---- http.c ----------------------------------------------------------- */

static void
test_loopback(void)
{
	static const struct {
		const char *addr;
		int want;
	} rows[] = {
		{ "127.0.0.1", 1 },
		{ "127.1.2.3", 1 },
		{ "127.255.255.255", 1 },
		{ "::1", 1 },
		{ "0:0:0:0:0:0:0:1", 1 },
		{ "10.0.0.1", 0 },
		{ "0.0.0.0", 0 },
		{ "::", 0 },
		{ "128.0.0.1", 0 },
		{ "126.255.255.255", 0 },
		{ "::ffff:127.0.0.1", 0 },
		{ "192.168.1.1", 0 },
		{ "localhost", 0 },
		{ "127.0.0.1 ", 0 },
		{ "127.0.0.1:80", 0 },
		{ "[::1]", 0 },
		{ "127.1", 0 },
		{ "", 0 },
		{ "garbage", 0 },
		{ NULL, 0 },
	};
	size_t i;

	for (i = 0; i < NELEM(rows); i++)
		CHECK(pii_http_is_loopback(rows[i].addr) == rows[i].want,
		    "is_loopback(%s) == %d", rows[i].addr ? rows[i].addr : "NULL",
		    rows[i].want);
}

int
main(void)
{
	pii_json_init();
	test_err_table();
	test_errinfo();
	test_json_parse();
	test_json_dump();
	test_json_check_keys();
	test_json_getters();
	test_buf();
	test_buf_formats();
	test_config();
	test_loopback();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
