/*
 * fuzz_export_html.c - libFuzzer target for vault_export_html, the page a
 * data subject gets for an access request, built from strings anyone who
 * can put a value in the vault controls.
 *
 * The input is parsed as JSON (pii_json_parse, as for a request body) and
 * rendered.  A refusal is BAD_REQUEST or TOO_LARGE with its code in ei, a
 * NUL-terminated path, and no output.  An accepted page:
 *  - holds no NUL (strlen is its length) and no control byte but newline;
 *  - never contains "<script", in any case;
 *  - has exactly the markup of the same bundle with every string replaced
 *    by its hex form (which keeps the strings' order and emptiness, so the
 *    grouping and the dashes are the same): the count of each of < > " '
 *    must match, so no byte of a string ever became markup;
 *  - comes out the same twice.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../common/err.h"
#include "../../common/json_util.h"
#include "../../vault/vault_export_html.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_export_html: %s\n", what);
	abort();
}

/* j with every string but the top-level "format" as lower-case hex (new). */
static json_t *
hexed(const json_t *j, int top)
{
	static const char digits[] = "0123456789abcdef";
	const char *key;
	json_t *v, *out;
	size_t i;

	if (json_is_string(j)) {
		const unsigned char *s = (const unsigned char *)json_string_value(j);
		size_t n = json_string_length(j);
		char *h = malloc(2 * n + 1);

		if (h == NULL)
			die("out of memory");
		for (i = 0; i < n; i++) {
			h[2 * i] = digits[s[i] >> 4];
			h[2 * i + 1] = digits[s[i] & 15];
		}
		out = json_stringn(h, 2 * n);
		free(h);
		return out;
	}
	if (json_is_array(j)) {
		out = json_array();
		for (i = 0; i < json_array_size(j); i++)
			json_array_append_new(out, hexed(json_array_get(j, i), 0));
		return out;
	}
	if (json_is_object(j)) {
		out = json_object();
		json_object_foreach((json_t *)j, key, v)
			json_object_set_new(out, key, top && strcmp(key, "format") == 0 ?
			    json_incref(v) : hexed(v, 0));
		return out;
	}
	return json_incref((json_t *)j);
}

static void
counts(const char *s, size_t n, size_t c[4])
{
	size_t i;

	memset(c, 0, 4 * sizeof(c[0]));
	for (i = 0; i < n; i++) {
		c[0] += s[i] == '<';
		c[1] += s[i] == '>';
		c[2] += s[i] == '"';
		c[3] += s[i] == '\'';
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct pii_errinfo ei;
	json_t *root = NULL, *hex;
	char *html = NULL, *again = NULL, *hhtml = NULL;
	size_t len = 0, alen = 0, hlen = 0, i, c1[4], c2[4];
	int r;

	if (!inited) {
		pii_json_init();
		inited = 1;
	}
	pii_errinfo_clear(&ei);
	if (pii_json_parse((const char *)data, size, PII_JSON_DEFAULT_DEPTH,
	    &root, &ei) != 0)
		return 0;

	pii_errinfo_clear(&ei);
	r = vault_export_html(root, &html, &len, &ei);
	if (r != 0) {
		if (r != PII_ERR_BAD_REQUEST && r != PII_ERR_TOO_LARGE)
			die("unexpected code");
		if (ei.code != r || html != NULL || ei.message[0] == '\0' ||
		    memchr(ei.field, '\0', sizeof(ei.field)) == NULL)
			die("a refusal without its errinfo, or with output");
		json_decref(root);
		return 0;
	}
	if (html == NULL || strlen(html) != len)
		die("output missing or with a NUL inside");
	if (strcasestr(html, "<script") != NULL)
		die("<script in the page");
	for (i = 0; i < len; i++)
		if (((unsigned char)html[i] < 0x20 && html[i] != '\n') ||
		    html[i] == 0x7f)
			die("a control byte in the page");

	if (vault_export_html(root, &again, &alen, &ei) != 0 || alen != len ||
	    memcmp(again, html, len) != 0)
		die("not deterministic");

	hex = hexed(root, 1);
	if (vault_export_html(hex, &hhtml, &hlen, &ei) == 0) {
		counts(html, len, c1);
		counts(hhtml, hlen, c2);
		if (memcmp(c1, c2, sizeof(c1)) != 0)
			die("a string of the bundle changed the page's markup");
	} else if (ei.code != PII_ERR_TOO_LARGE) {
		die("the hex form of an accepted bundle was refused");
	}
	vault_export_html_free(hhtml, hlen);
	vault_export_html_free(again, alen);
	vault_export_html_free(html, len);
	json_decref(hex);
	json_decref(root);
	return 0;
}
