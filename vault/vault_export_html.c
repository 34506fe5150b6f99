/*
 * vault_export_html.c - a subject's export bundle as one HTML page
 * (vault_export_html.h).
 *
 * Two passes.  check_object() walks the bundle against the field tables
 * below (the format, written once) and refuses it before a byte is
 * written; render_*() then reads it knowing every key is there and of its
 * type.
 *
 * Every string of the bundle reaches the page through esc() only, and only
 * in text content, never in an attribute, a tag name, a comment or the
 * style sheet.  esc() writes & < > " ' as references and decodes UTF-8
 * itself: bytes that are not well-formed UTF-8 (jansson refuses them when
 * parsing, but a json_t can be built without that check), NUL, C0 and C1
 * controls and DEL become U+FFFD, so no byte of a value is ever written
 * raw unless it is a printable character that means nothing in HTML text.
 * The page's Content-Security-Policy forbids scripts and remote loads
 * besides, should a future edit get this wrong.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../common/buf.h"
#include "../common/json_util.h"
#include "vault_dsr_time.h"
#include "vault_export_html.h"

/* ---- the format ------------------------------------------------------------ */

enum kind {
	K_STR,           /* a string */
	K_OPT_STR,       /* a string, null or absent */
	K_OBJ,           /* an object of the fields sub */
	K_OBJ_ARRAY,     /* an array of such objects */
	K_STR_ARRAY,     /* an array of strings */
};

struct field {
	const char *key;
	enum kind kind;
	const struct field *sub;   /* K_OBJ, K_OBJ_ARRAY */
	size_t max_items;          /* K_OBJ_ARRAY, K_STR_ARRAY */
};

static const struct field subject_fields[] = {
	{ "status", K_STR, NULL, 0 },
	{ "created_at", K_STR, NULL, 0 },
	{ NULL, K_STR, NULL, 0 },
};

static const struct field value_fields[] = {
	{ "category", K_STR, NULL, 0 },
	{ "value", K_STR, NULL, 0 },
	{ "token", K_STR, NULL, 0 },
	{ "source", K_STR, NULL, 0 },
	{ "first_seen", K_STR, NULL, 0 },
	{ "last_seen", K_STR, NULL, 0 },
	{ NULL, K_STR, NULL, 0 },
};

static const struct field objection_fields[] = {
	{ "purpose", K_STR, NULL, 0 },
	{ "since", K_STR, NULL, 0 },
	{ NULL, K_STR, NULL, 0 },
};

static const struct field access_fields[] = {
	{ "at", K_STR, NULL, 0 },
	{ "actor", K_STR, NULL, 0 },
	{ "on_behalf_of", K_OPT_STR, NULL, 0 },
	{ "role", K_OPT_STR, NULL, 0 },
	{ "action", K_STR, NULL, 0 },
	{ "purpose", K_OPT_STR, NULL, 0 },
	{ "ticket", K_OPT_STR, NULL, 0 },
	{ "decision", K_STR, NULL, 0 },
	{ "reason", K_STR, NULL, 0 },
	{ "categories", K_STR_ARRAY, NULL, VAULT_EXPORT_MAX_CATEGORIES },
	{ NULL, K_STR, NULL, 0 },
};

static const struct field bundle_fields[] = {
	{ "format", K_STR, NULL, 0 },
	{ "request_id", K_STR, NULL, 0 },
	{ "subject_token", K_STR, NULL, 0 },
	{ "generated_at", K_STR, NULL, 0 },
	{ "subject", K_OBJ, subject_fields, 0 },
	{ "values", K_OBJ_ARRAY, value_fields, VAULT_EXPORT_MAX_ITEMS },
	{ "objections", K_OBJ_ARRAY, objection_fields, VAULT_EXPORT_MAX_ITEMS },
	{ "access_history", K_OBJ_ARRAY, access_fields, VAULT_EXPORT_MAX_ITEMS },
	{ NULL, K_STR, NULL, 0 },
};

/* ---- checking ---------------------------------------------------------------- */

static int check_object(const json_t *obj, const struct field *fields,
    const char *path, struct pii_errinfo *ei);

/* The elements of array a (at path) against f. */
static int
check_elements(const json_t *a, const struct field *f, const char *path,
    struct pii_errinfo *ei)
{
	char p[PII_ERR_MAX_FIELD];
	size_t i;
	int r;

	for (i = 0; i < json_array_size(a); i++) {
		const json_t *e = json_array_get(a, i);

		pii_json_path_index(p, sizeof(p), path, i);
		if (f->kind == K_OBJ_ARRAY) {
			if ((r = check_object(e, f->sub, p, ei)) != 0)
				return r;
		} else if (!json_is_string(e)) {
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, p,
			    "must be a string");
		} else if (json_string_length(e) > VAULT_EXPORT_MAX_STRING) {
			return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, p,
			    "longer than %d bytes", VAULT_EXPORT_MAX_STRING);
		}
	}
	return 0;
}

/* obj (at path) has every field of fields, of its kind, and no other. */
static int
check_object(const json_t *obj, const struct field *fields, const char *path,
    struct pii_errinfo *ei)
{
	char p[PII_ERR_MAX_FIELD];
	const struct field *f;
	const char *key, *s;
	json_t *v;
	int r;

	if (!json_is_object(obj))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, path,
		    "must be an object");
	for (f = fields; f->key != NULL; f++) {
		switch (f->kind) {
		case K_STR:
		case K_OPT_STR:
			r = pii_json_get_string(obj, f->key, f->kind == K_STR,
			    VAULT_EXPORT_MAX_STRING, path, &s, NULL, ei);
			break;
		case K_OBJ:
			if ((r = pii_json_get_object(obj, f->key, 1, path, &v,
			    ei)) == 0)
				r = check_object(v, f->sub, pii_json_path_key(p,
				    sizeof(p), path, f->key), ei);
			break;
		default:   /* K_OBJ_ARRAY, K_STR_ARRAY */
			if ((r = pii_json_get_array(obj, f->key, 1, f->max_items,
			    path, &v, ei)) == 0)
				r = check_elements(v, f, pii_json_path_key(p,
				    sizeof(p), path, f->key), ei);
			break;
		}
		if (r != 0)
			return r;
	}
	json_object_foreach((json_t *)obj, key, v) {
		for (f = fields; f->key != NULL; f++)
			if (strcmp(key, f->key) == 0)
				break;
		if (f->key == NULL)
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST,
			    pii_json_path_key(p, sizeof(p), path, key),
			    "unknown field");
	}
	return 0;
}

static int
check_bundle(const json_t *bundle, struct pii_errinfo *ei)
{
	static const char want[] = VAULT_EXPORT_FORMAT;
	const char *s;
	size_t n;
	int r;

	if (!json_is_object(bundle))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "the bundle must be a JSON object");
	/* the format first: a bundle of another version is named as such, not
	 * by the first key this renderer does not know */
	if ((r = pii_json_get_string(bundle, "format", 1, VAULT_EXPORT_MAX_STRING,
	    "", &s, &n, ei)) != 0)
		return r;
	if (n != sizeof(want) - 1 || memcmp(s, want, n) != 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "format",
		    "must be \"%s\"", want);
	return check_object(bundle, bundle_fields, "", ei);
}

/* ---- writing ----------------------------------------------------------------- */

struct page {
	struct pii_buf b;
	int too_large;   /* the failure of b was its maximum, not malloc */
};

static void
put(struct page *pg, const char *s, size_t n)
{
	if (!pg->b.failed && (n > pg->b.max || pg->b.len > pg->b.max - n))
		pg->too_large = 1;
	pii_buf_append(&pg->b, s, n);
}

static void
puts_(struct page *pg, const char *s)
{
	put(pg, s, strlen(s));
}

#define REPLACEMENT "&#xFFFD;"

/* Length of the well-formed UTF-8 sequence at s[0..n) starting with a byte
 * >= 0x80, its code point into *cp; 0 if there is none (RFC 3629: no
 * overlong forms, no surrogates, nothing past U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, size_t n, unsigned long *cp)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len, i;
	unsigned long v;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		v = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		v = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		v = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		v = v << 6 | (s[i] & 0x3f);
	}
	*cp = v;
	return len;
}

/* s[0..n) as HTML text (also safe inside a quoted attribute). */
static void
esc(struct page *pg, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, plain = 0, len;
	unsigned long cp;

	while (i < n) {
		const char *rep = NULL;

		len = 1;
		switch (u[i]) {
		case '&':
			rep = "&amp;";
			break;
		case '<':
			rep = "&lt;";
			break;
		case '>':
			rep = "&gt;";
			break;
		case '"':
			rep = "&quot;";
			break;
		case '\'':
			rep = "&#39;";
			break;
		default:
			if (u[i] < 0x20 || u[i] == 0x7f) {
				rep = REPLACEMENT;
			} else if (u[i] >= 0x80) {
				len = utf8_seq(u + i, n - i, &cp);
				if (len == 0) {          /* one byte at a time */
					rep = REPLACEMENT;
					len = 1;
				} else if (cp <= 0x9f) { /* a C1 control */
					rep = REPLACEMENT;
				}
			}
			break;
		}
		if (rep != NULL) {
			put(pg, s + plain, i - plain);
			puts_(pg, rep);
			plain = i + len;
		}
		i += len;
	}
	put(pg, s + plain, n - plain);
}

static void
esc_json(struct page *pg, const json_t *str)
{
	esc(pg, json_string_value(str), json_string_length(str));
}

/* 1 for a string that is not empty (not null, not absent). */
static int
is_set(const json_t *str)
{
	return json_is_string(str) && json_string_length(str) > 0;
}

/* A string, or a dash when it is null, absent or empty. */
static void
esc_or_dash(struct page *pg, const json_t *str)
{
	if (is_set(str))
		esc_json(pg, str);
	else
		puts_(pg, "&mdash;");
}

/* A time "YYYY-MM-DDTHH:MM:SSZ" as "YYYY-MM-DD HH:MM:SS UTC"; any other
 * text as it is. */
static void
put_time(struct page *pg, const json_t *str)
{
	const char *s = json_string_value(str);
	int64_t t;

	if (json_string_length(str) == 20 && vault_dsr_parse(s, &t) == 0) {
		/* checked digits and separators only */
		put(pg, s, 10);
		puts_(pg, " ");
		put(pg, s + 11, 8);
		puts_(pg, " UTC");
	} else {
		esc_json(pg, str);
	}
}

static const json_t *
get(const json_t *obj, const char *key)
{
	return json_object_get(obj, key);
}

/* ---- the page ------------------------------------------------------------------ */

static const char page_head[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\">\n"
    "<head>\n"
    "<meta charset=\"utf-8\">\n"
    "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
    "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
    "<meta name=\"referrer\" content=\"no-referrer\">\n"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    "<title>Your personal data</title>\n"
    "<style>\n"
    "body{font-family:sans-serif;color:#222;max-width:64em;margin:2em auto;"
    "padding:0 1em;line-height:1.4}\n"
    "dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em}\n"
    "dt{font-weight:bold}dd{margin:0}\n"
    "table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}\n"
    "th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;"
    "vertical-align:top;overflow-wrap:anywhere}\n"
    "th{background:#f2f2f2}\n"
    "td,dd{white-space:pre-wrap}\n"
    ".none{color:#555;font-style:italic}\n"
    "footer{margin-top:3em;padding-top:1em;border-top:1px solid #ccc;"
    "font-size:.9em;color:#444}\n"
    "</style>\n"
    "</head>\n"
    "<body>\n";

static const char page_foot[] =
    "<footer>\n"
    "<p>This page answers your request for access to your personal data "
    "(Article 15 of the General Data Protection Regulation): it lists the "
    "personal data we hold about you, where each item came from and when we "
    "first and last saw it, the processing you have objected to, and every "
    "recorded access to your data, by whom, in what role and for what "
    "purpose.</p>\n"
    "<p>The JSON file delivered with this page holds the same data in a "
    "structured, machine-readable form, which you may pass on to another "
    "organisation (Article 20, data portability).</p>\n"
    "</footer>\n"
    "</body>\n"
    "</html>\n";

static const char none_recorded[] = "<p class=\"none\">None recorded.</p>\n";

static void
render_header(struct page *pg, const json_t *bundle)
{
	const json_t *subject = get(bundle, "subject");

	puts_(pg, "<header>\n<h1>Your personal data</h1>\n<dl>\n<dt>Request</dt><dd>");
	esc_json(pg, get(bundle, "request_id"));
	puts_(pg, "</dd>\n<dt>Your reference</dt><dd>");
	esc_json(pg, get(bundle, "subject_token"));
	puts_(pg, "</dd>\n<dt>Generated</dt><dd>");
	put_time(pg, get(bundle, "generated_at"));
	puts_(pg, "</dd>\n<dt>Record status</dt><dd>");
	esc_json(pg, get(subject, "status"));
	puts_(pg, "</dd>\n<dt>Record created</dt><dd>");
	put_time(pg, get(subject, "created_at"));
	puts_(pg, "</dd>\n</dl>\n</header>\n<main>\n");
}

/* A value's place in the page: category, then source, then bundle order. */
struct slot {
	const char *cat, *src;
	size_t catlen, srclen, index;
};

static int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn;
}

static int
slot_cmp(const void *pa, const void *pb)
{
	const struct slot *a = pa, *b = pb;
	int c;

	if ((c = bytes_cmp(a->cat, a->catlen, b->cat, b->catlen)) != 0)
		return c;
	if ((c = bytes_cmp(a->src, a->srclen, b->src, b->srclen)) != 0)
		return c;
	return a->index < b->index ? -1 : a->index > b->index;
}

static const char values_table_head[] =
    "<table>\n<thead><tr><th>Value</th><th>First seen</th><th>Last seen</th>"
    "</tr></thead>\n<tbody>\n";
static const char table_end[] = "</tbody>\n</table>\n";

static int
render_values(struct page *pg, const json_t *values)
{
	struct slot *slots;
	size_t i, n = json_array_size(values);

	puts_(pg, "<section>\n<h2>Data we hold</h2>\n");
	if (n == 0) {
		puts_(pg, none_recorded);
		puts_(pg, "</section>\n");
		return 0;
	}
	if ((slots = calloc(n, sizeof(*slots))) == NULL)
		return PII_ERR_NOMEM;
	for (i = 0; i < n; i++) {
		const json_t *v = json_array_get(values, i);

		slots[i].cat = json_string_value(get(v, "category"));
		slots[i].catlen = json_string_length(get(v, "category"));
		slots[i].src = json_string_value(get(v, "source"));
		slots[i].srclen = json_string_length(get(v, "source"));
		slots[i].index = i;
	}
	qsort(slots, n, sizeof(*slots), slot_cmp);
	for (i = 0; i < n; i++) {
		const struct slot *s = &slots[i];
		const json_t *v = json_array_get(values, s->index);
		int new_cat = i == 0 || bytes_cmp(s->cat, s->catlen,
		    s[-1].cat, s[-1].catlen) != 0;

		if (new_cat || bytes_cmp(s->src, s->srclen, s[-1].src,
		    s[-1].srclen) != 0) {
			if (i > 0)
				puts_(pg, table_end);
			if (new_cat) {
				puts_(pg, "<h3>");
				esc_or_dash(pg, get(v, "category"));
				puts_(pg, "</h3>\n");
			}
			puts_(pg, "<h4>Source: ");
			esc_or_dash(pg, get(v, "source"));
			puts_(pg, "</h4>\n");
			puts_(pg, values_table_head);
		}
		puts_(pg, "<tr><td>");
		esc_json(pg, get(v, "value"));
		puts_(pg, "</td><td>");
		put_time(pg, get(v, "first_seen"));
		puts_(pg, "</td><td>");
		put_time(pg, get(v, "last_seen"));
		puts_(pg, "</td></tr>\n");
	}
	puts_(pg, table_end);
	puts_(pg, "</section>\n");
	free(slots);
	return 0;
}

static void
render_objections(struct page *pg, const json_t *objections)
{
	size_t i;

	puts_(pg, "<section>\n<h2>Objections</h2>\n");
	if (json_array_size(objections) == 0) {
		puts_(pg, none_recorded);
		puts_(pg, "</section>\n");
		return;
	}
	puts_(pg, "<table>\n<thead><tr><th>You object to processing for</th>"
	    "<th>Since</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < json_array_size(objections); i++) {
		const json_t *o = json_array_get(objections, i);

		puts_(pg, "<tr><td>");
		esc_json(pg, get(o, "purpose"));
		puts_(pg, "</td><td>");
		put_time(pg, get(o, "since"));
		puts_(pg, "</td></tr>\n");
	}
	puts_(pg, table_end);
	puts_(pg, "</section>\n");
}

/* One access: when, who, role, why, what, decision. */
static void
render_access(struct page *pg, const json_t *a)
{
	const json_t *purpose = get(a, "purpose"), *ticket = get(a, "ticket");
	const json_t *cats = get(a, "categories");
	size_t i;

	puts_(pg, "<tr><td>");
	put_time(pg, get(a, "at"));
	puts_(pg, "</td><td>");
	if (is_set(get(a, "on_behalf_of")))
		esc_json(pg, get(a, "on_behalf_of"));
	else
		esc_or_dash(pg, get(a, "actor"));
	puts_(pg, "</td><td>");
	esc_or_dash(pg, get(a, "role"));
	puts_(pg, "</td><td>");
	if (is_set(purpose))
		esc_json(pg, purpose);
	if (is_set(ticket)) {
		puts_(pg, is_set(purpose) ? " (ticket " : "ticket ");
		esc_json(pg, ticket);
		if (is_set(purpose))
			puts_(pg, ")");
	}
	if (!is_set(purpose) && !is_set(ticket))
		puts_(pg, "&mdash;");
	puts_(pg, "</td><td>");
	esc_or_dash(pg, get(a, "action"));
	for (i = 0; i < json_array_size(cats); i++) {
		puts_(pg, i == 0 ? ": " : ", ");
		esc_json(pg, json_array_get(cats, i));
	}
	puts_(pg, "</td><td>");
	esc_or_dash(pg, get(a, "decision"));
	if (is_set(get(a, "reason"))) {
		puts_(pg, "<br><small>");
		esc_json(pg, get(a, "reason"));
		puts_(pg, "</small>");
	}
	puts_(pg, "</td></tr>\n");
}

static void
render_history(struct page *pg, const json_t *history)
{
	size_t i;

	puts_(pg, "<section>\n<h2>Who accessed your data</h2>\n");
	if (json_array_size(history) == 0) {
		puts_(pg, none_recorded);
		puts_(pg, "</section>\n");
		return;
	}
	puts_(pg, "<table>\n<thead><tr><th>When</th><th>Who</th><th>Role</th>"
	    "<th>Why</th><th>What</th><th>Decision</th></tr></thead>\n<tbody>\n");
	for (i = 0; i < json_array_size(history); i++)
		render_access(pg, json_array_get(history, i));
	puts_(pg, table_end);
	puts_(pg, "</section>\n");
}

int
vault_export_html(const json_t *bundle, char **out, size_t *outlen,
    struct pii_errinfo *ei)
{
	struct page pg;
	int r;

	if ((r = check_bundle(bundle, ei)) != 0)
		return r;
	memset(&pg, 0, sizeof(pg));
	pii_buf_init(&pg.b, VAULT_EXPORT_HTML_MAX);
	pii_buf_reserve(&pg.b, 16384);
	puts_(&pg, page_head);
	render_header(&pg, bundle);
	if ((r = render_values(&pg, get(bundle, "values"))) != 0) {
		r = pii_errinfo_set(ei, r, NULL, "out of memory");
		goto out;
	}
	render_objections(&pg, get(bundle, "objections"));
	render_history(&pg, get(bundle, "access_history"));
	puts_(&pg, "</main>\n");
	puts_(&pg, page_foot);
	if (pg.too_large) {
		r = pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL,
		    "the page would be larger than %u bytes",
		    (unsigned)VAULT_EXPORT_HTML_MAX);
		goto out;
	}
	if (pg.b.failed || pg.b.data == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	*out = pg.b.data;   /* handed over: malloc'd, NUL-terminated */
	*outlen = pg.b.len;
	pg.b.data = NULL;
	r = 0;
out:
	pii_buf_free(&pg.b);
	return r;
}

void
vault_export_html_free(char *html, size_t len)
{
	if (html == NULL)
		return;
	sodium_memzero(html, len);
	free(html);
}
