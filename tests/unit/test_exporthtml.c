/*
 * test_exporthtml.c - the HTML page of a subject's export bundle: a full
 * bundle renders with every attacker-controlled string escaped (a table of
 * hostile values, including bytes jansson's parser would refuse), values
 * grouped by category then source in byte order, exact rows for each
 * section, empty sections saying so, the same bytes twice and whatever the
 * key order; and a table of malformed bundles, each refused with the JSON
 * path of its fault.
 */
#include <stdlib.h>
#include <string.h>

#include "../../common/json_util.h"
#include "../../vault/vault_export_html.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Values are listed phone, email, name, email: the page sorts them. */
static const char full_bundle[] =
    "{\"format\":\"piivault-export v1\","
    "\"request_id\":\"dsr_01J9ZK\","
    "\"subject_token\":\"tok_subject_v1_AbC\","
    "\"generated_at\":\"2026-11-30T10:00:00Z\","
    "\"subject\":{\"status\":\"active\",\"created_at\":\"2026-11-01T09:00:00Z\"},"
    "\"values\":["
    " {\"category\":\"phone\",\"value\":\"+4915112345678\",\"token\":\"tok_phone_v1_1\","
    "  \"source\":\"shop.users\",\"first_seen\":\"2026-11-02T08:00:00Z\",\"last_seen\":\"2026-11-03T08:00:00Z\"},"
    " {\"category\":\"email\",\"value\":\"<script>alert(1)</script>\",\"token\":\"tok_email_v1_2\","
    "  \"source\":\"shop.users\",\"first_seen\":\"2026-11-01T09:00:00Z\",\"last_seen\":\"2026-11-29T17:30:00Z\"},"
    " {\"category\":\"name\",\"value\":\"O'Brien & \\\"Sons\\\"\",\"token\":\"tok_name_v1_3\","
    "  \"source\":\"crm.contacts\",\"first_seen\":\"2026-11-05 12:00:00.25+00\",\"last_seen\":\"2026-11-06T12:00:00Z\"},"
    " {\"category\":\"email\",\"value\":\"kim@example.org\",\"token\":\"tok_email_v1_4\","
    "  \"source\":\"crm.contacts\",\"first_seen\":\"2026-11-04T00:00:00Z\",\"last_seen\":\"2026-11-04T00:00:00Z\"},"
    " {\"category\":\"email\",\"value\":\"second@example.org\",\"token\":\"tok_email_v1_5\","
    "  \"source\":\"shop.users\",\"first_seen\":\"2026-11-07T00:00:00Z\",\"last_seen\":\"2026-11-08T00:00:00Z\"}"
    "],"
    "\"objections\":[{\"purpose\":\"marketing\",\"since\":\"2026-11-10T00:00:00Z\"}],"
    "\"access_history\":["
    " {\"at\":\"2026-11-20T14:00:00Z\",\"actor\":\"proxy\",\"on_behalf_of\":\"kim@corp\","
    "  \"role\":\"cs_agent\",\"action\":\"reveal\",\"purpose\":\"support\",\"ticket\":\"CS-1\","
    "  \"decision\":\"allow\",\"reason\":\"ok\",\"categories\":[\"email\",\"phone\"]},"
    " {\"at\":\"2026-11-21T03:00:00Z\",\"actor\":\"<img src=x onerror=alert(1)>\",\"on_behalf_of\":null,"
    "  \"action\":\"detokenize\",\"ticket\":\"OPS-9\","
    "  \"decision\":\"deny\",\"reason\":\"objection_in_force\",\"categories\":[]}"
    "]}";

static const char empty_bundle[] =
    "{\"format\":\"piivault-export v1\",\"request_id\":\"dsr_2\","
    "\"subject_token\":\"tok_subject_v1_Z\",\"generated_at\":\"2026-12-01T00:00:00Z\","
    "\"subject\":{\"status\":\"active\",\"created_at\":\"2026-11-01T09:00:00Z\"},"
    "\"values\":[],\"objections\":[],\"access_history\":[]}";

static json_t *
parse(const char *text)
{
	struct pii_errinfo ei;
	json_t *j = NULL;

	if (pii_json_parse(text, strlen(text), 16, &j, &ei) != 0)
		printf("# test bundle does not parse: %s\n", ei.message);
	return j;
}

static int
render(const json_t *b, char **html, size_t *len, struct pii_errinfo *ei)
{
	pii_errinfo_clear(ei);
	*html = NULL;
	*len = 0;
	return vault_export_html(b, html, len, ei);
}

static size_t
count(const char *hay, const char *needle)
{
	size_t n = 0, nl = strlen(needle);

	while ((hay = strstr(hay, needle)) != NULL) {
		n++;
		hay += nl;
	}
	return n;
}

/* Position of needle in hay, or (size_t)-1. */
static size_t
pos(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);

	return p != NULL ? (size_t)(p - hay) : (size_t)-1;
}

/* No byte below 0x20 but newline, no DEL. */
static int
no_controls(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] < 0x20 && s[i] != '\n') || s[i] == 0x7f)
			return 0;
	return 1;
}

static void
test_full(void)
{
	struct pii_errinfo ei;
	json_t *b = parse(full_bundle);
	char *html, *again;
	size_t len, alen;
	int r;

	r = render(b, &html, &len, &ei);
	CHECK(r == 0 && html != NULL, "full bundle renders (r=%d, field '%s')", r, ei.field);
	if (r != 0 || html == NULL) {
		json_decref(b);
		return;
	}
	CHECK(strlen(html) == len, "length is strlen: no NUL inside");
	CHECK(strncmp(html, "<!DOCTYPE html>\n", 16) == 0, "starts with <!DOCTYPE html>");
	CHECK(strstr(html, "<meta charset=\"utf-8\">") != NULL, "charset utf-8");
	CHECK(strstr(html, "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src "
	    "'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">") != NULL,
	    "CSP forbids scripts and remote loads");
	CHECK(pos(html, "Content-Security-Policy") < pos(html, "<style>"),
	    "CSP comes before the style sheet");
	CHECK(strstr(html, "<title>Your personal data</title>") != NULL, "title");
	CHECK(strcasestr(html, "<script") == NULL, "no raw <script anywhere");
	CHECK(strstr(html, "<tr><td>&lt;script&gt;alert(1)&lt;/script&gt;</td>"
	    "<td>2026-11-01 09:00:00 UTC</td><td>2026-11-29 17:30:00 UTC</td></tr>\n") != NULL,
	    "the script value is escaped, in its row with its times");
	CHECK(strstr(html, "<tr><td>O&#39;Brien &amp; &quot;Sons&quot;</td>"
	    "<td>2026-11-05 12:00:00.25+00</td><td>2026-11-06 12:00:00 UTC</td></tr>") != NULL,
	    "quotes and ampersand escaped; a time of another form shown as it is");
	CHECK(strstr(html, "<img") == NULL && strstr(html, "&lt;img src=x onerror=alert(1)&gt;") != NULL,
	    "an actor with markup is escaped");
	CHECK(no_controls(html, len), "no control characters in the page");

	/* header */
	CHECK(strstr(html, "<dt>Request</dt><dd>dsr_01J9ZK</dd>") != NULL, "header: request id");
	CHECK(strstr(html, "<dt>Your reference</dt><dd>tok_subject_v1_AbC</dd>") != NULL,
	    "header: subject token");
	CHECK(strstr(html, "<dt>Generated</dt><dd>2026-11-30 10:00:00 UTC</dd>") != NULL,
	    "header: generation time");
	CHECK(strstr(html, "<dt>Record status</dt><dd>active</dd>") != NULL, "header: status");

	/* grouping: categories and sources in byte order, bundle order within */
	CHECK(count(html, "<h3>email</h3>") == 1 && count(html, "<h3>name</h3>") == 1 &&
	    count(html, "<h3>phone</h3>") == 1, "each category has one heading");
	CHECK(pos(html, "<h3>email</h3>") < pos(html, "<h3>name</h3>") &&
	    pos(html, "<h3>name</h3>") < pos(html, "<h3>phone</h3>"),
	    "categories in alphabetical order (email, name, phone), not bundle order");
	CHECK(pos(html, "<h3>email</h3>\n<h4>Source: crm.contacts</h4>") != (size_t)-1 &&
	    pos(html, "kim@example.org") < pos(html, "<h4>Source: shop.users</h4>"),
	    "within email: crm.contacts before shop.users");
	CHECK(pos(html, "&lt;script&gt;") < pos(html, "second@example.org") &&
	    pos(html, "second@example.org") < pos(html, "<h3>name</h3>"),
	    "within email/shop.users: bundle order, both values under one table");
	CHECK(count(html, "<h4>Source: shop.users</h4>") == 2,
	    "shop.users heads a table under email and under phone");
	CHECK(count(html, "<h4>") == 4 && count(html, "<table>") == 6,
	    "four source tables, one objections table, one access table");

	/* objections and history */
	CHECK(strstr(html, "<h2>Objections</h2>") != NULL &&
	    strstr(html, "<tr><td>marketing</td><td>2026-11-10 00:00:00 UTC</td></tr>") != NULL,
	    "objection row");
	CHECK(strstr(html, "<h2>Who accessed your data</h2>") != NULL, "access section");
	CHECK(strstr(html, "<tr><td>2026-11-20 14:00:00 UTC</td><td>kim@corp</td><td>cs_agent</td>"
	    "<td>support (ticket CS-1)</td><td>reveal: email, phone</td>"
	    "<td>allow<br><small>ok</small></td></tr>") != NULL,
	    "access row: on_behalf_of as who, purpose with ticket, action with categories");
	CHECK(strstr(html, "<tr><td>2026-11-21 03:00:00 UTC</td>"
	    "<td>&lt;img src=x onerror=alert(1)&gt;</td><td>&mdash;</td>"
	    "<td>ticket OPS-9</td><td>detokenize</td>"
	    "<td>deny<br><small>objection_in_force</small></td></tr>") != NULL,
	    "access row: null on_behalf_of -> actor, absent role -> dash, ticket alone");
	CHECK(count(html, "None recorded") == 0, "no section of the full bundle says none");
	CHECK(strstr(html, "Art") != NULL && strstr(html, "Article 20") != NULL &&
	    strstr(html, "</footer>\n</body>\n</html>\n") != NULL, "footer names Art. 20, page ends");

	/* deterministic: the same bytes again, and for the same bundle with its
	 * keys in another order */
	r = render(b, &again, &alen, &ei);
	CHECK(r == 0 && alen == len && memcmp(again, html, len) == 0, "the same bytes twice");
	vault_export_html_free(again, alen);
	{
		json_t *rev = json_object(), *v;
		const char *k;
		const char *keys[16];
		size_t n = 0;

		json_object_foreach(b, k, v)
			keys[n++] = k;
		while (n > 0) {
			n--;
			json_object_set(rev, keys[n], json_object_get(b, keys[n]));
		}
		r = render(rev, &again, &alen, &ei);
		CHECK(r == 0 && alen == len && memcmp(again, html, len) == 0,
		    "the same bytes with the top-level keys reversed");
		vault_export_html_free(again, alen);
		json_decref(rev);
	}
	vault_export_html_free(html, len);
	vault_export_html_free(NULL, 0);
	json_decref(b);
}

static void
test_empty(void)
{
	struct pii_errinfo ei;
	json_t *b = parse(empty_bundle);
	char *html;
	size_t len;
	int r;

	r = render(b, &html, &len, &ei);
	CHECK(r == 0, "empty bundle renders (r=%d, field '%s')", r, ei.field);
	if (r == 0) {
		CHECK(count(html, "<p class=\"none\">None recorded.</p>") == 3,
		    "all three sections say None recorded");
		CHECK(strstr(html, "<h2>Data we hold</h2>\n<p class=\"none\">None recorded.</p>") != NULL &&
		    strstr(html, "<h2>Objections</h2>\n<p class=\"none\">None recorded.</p>") != NULL &&
		    strstr(html, "<h2>Who accessed your data</h2>\n<p class=\"none\">None recorded.</p>") != NULL,
		    "each under its own heading");
		CHECK(strstr(html, "<table") == NULL, "and no table");
		vault_export_html_free(html, len);
	}
	json_decref(b);
}

/* a string literal and its length, NULs included */
#define S(lit) lit, sizeof(lit) - 1

/* Hostile values, as bytes (some that jansson's parser would refuse, set
 * with json_stringn_nocheck), and their exact text in the page. */
static const struct {
	const char *name, *in;
	size_t len;
	const char *want;
} esc_rows[] = {
	{ "script tag", S("<script>x</script>"), "&lt;script&gt;x&lt;/script&gt;" },
	{ "upper-case script", S("<SCRIPT>"), "&lt;SCRIPT&gt;" },
	{ "attribute break-out", S("\" onmouseover='x' a=\""),
	  "&quot; onmouseover=&#39;x&#39; a=&quot;" },
	{ "ampersand and entity", S("&amp;&#60;"), "&amp;amp;&amp;#60;" },
	{ "comment and CDATA", S("<!-- --><![CDATA["), "&lt;!-- --&gt;&lt;![CDATA[" },
	{ "end of a table", S("</td></tr></table>"), "&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;" },
	{ "tab, newline, CR", S("a\tb\nc\rd"), "a&#xFFFD;b&#xFFFD;c&#xFFFD;d" },
	{ "C0 and DEL", S("\x01\x1b[31m\x7f"), "&#xFFFD;&#xFFFD;[31m&#xFFFD;" },
	{ "NUL inside", S("a\0b"), "a&#xFFFD;b" },
	{ "C1 control (U+0085, U+009B)", S("x\xc2\x85y\xc2\x9b"), "x&#xFFFD;y&#xFFFD;" },
	{ "non-ASCII kept", S("Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc2\xa0"),
	  "Zo\xc3\xab \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc2\xa0" },
	{ "overlong '<' (C0 BC)", S("\xc0\xbc" "b"), "&#xFFFD;&#xFFFD;b" },
	{ "overlong 3-byte '<'", S("\xe0\x80\xbc"), "&#xFFFD;&#xFFFD;&#xFFFD;" },
	{ "lone continuation byte", S("a\x80<"), "a&#xFFFD;&lt;" },
	{ "truncated sequence then '<'", S("\xe6\x97<"), "&#xFFFD;&#xFFFD;&lt;" },
	{ "surrogate (ED A0 80)", S("\xed\xa0\x80"), "&#xFFFD;&#xFFFD;&#xFFFD;" },
	{ "past U+10FFFF (F4 90 80 80)", S("\xf4\x90\x80\x80"),
	  "&#xFFFD;&#xFFFD;&#xFFFD;&#xFFFD;" },
	{ "byte FF", S("\xff"), "&#xFFFD;" },
	{ "empty value", S(""), "" },
};

static void
test_escaping(void)
{
	struct pii_errinfo ei;
	json_t *b = parse(full_bundle);
	char want[256];
	size_t i, len;
	char *html;
	int r;

	for (i = 0; i < NELEM(esc_rows); i++) {
		json_t *val = json_array_get(json_object_get(b, "values"), 1);

		json_object_set_new(val, "value", json_stringn_nocheck(esc_rows[i].in,
		    esc_rows[i].len));
		snprintf(want, sizeof(want), "<tr><td>%s</td><td>2026-11-01 09:00:00 UTC</td>",
		    esc_rows[i].want);
		r = render(b, &html, &len, &ei);
		CHECK(r == 0 && strstr(html, want) != NULL && strcasestr(html, "<script") == NULL &&
		    no_controls(html, len) && strlen(html) == len,
		    "escape: %s", esc_rows[i].name);
		if (r == 0 && strstr(html, want) == NULL) {
			const char *row = strstr(html, "<h3>email</h3>");

			printf("#   want %s\n#   page %.300s\n", want, row != NULL ? row : "");
		}
		if (r == 0)
			vault_export_html_free(html, len);
	}
	/* hostile strings in every other place: category, source, header */
	{
		json_t *val = json_array_get(json_object_get(b, "values"), 0);

		json_object_set_new(val, "category", json_string("<b>cat</b>"));
		json_object_set_new(val, "source", json_string("'src'&"));
		json_object_set_new(b, "request_id", json_string("dsr_\"<x>\""));
		json_object_set_new(json_object_get(b, "subject"), "status", json_string("a\nb"));
		r = render(b, &html, &len, &ei);
		CHECK(r == 0 && strstr(html, "<h3>&lt;b&gt;cat&lt;/b&gt;</h3>\n"
		    "<h4>Source: &#39;src&#39;&amp;</h4>") != NULL, "escape: category and source headings");
		CHECK(r == 0 && strstr(html, "<dd>dsr_&quot;&lt;x&gt;&quot;</dd>") != NULL &&
		    strstr(html, "<dd>a&#xFFFD;b</dd>") != NULL, "escape: header fields");
		CHECK(r == 0 && strstr(html, "<b>") == NULL && strstr(html, "<x>") == NULL,
		    "escape: no injected tag");
		if (r == 0)
			vault_export_html_free(html, len);
	}
	json_decref(b);
}

/* Malformed bundles: an edit of the full bundle and the refusal it gets.
 * target is the object (or array: key is then an index) to edit; set is
 * the new JSON text for key, NULL to delete it. */
static const struct {
	const char *name, *target, *key, *set;
	int want;
	const char *field;
} bad_rows[] = {
	{ "missing format", "", "format", NULL, PII_ERR_BAD_REQUEST, "format" },
	{ "format v2", "", "format", "\"piivault-export v2\"", PII_ERR_BAD_REQUEST, "format" },
	{ "format with a suffix", "", "format", "\"piivault-export v1 \"", PII_ERR_BAD_REQUEST, "format" },
	{ "format a number", "", "format", "1", PII_ERR_BAD_REQUEST, "format" },
	{ "missing request_id", "", "request_id", NULL, PII_ERR_BAD_REQUEST, "request_id" },
	{ "subject_token a number", "", "subject_token", "5", PII_ERR_BAD_REQUEST, "subject_token" },
	{ "generated_at null", "", "generated_at", "null", PII_ERR_BAD_REQUEST, "generated_at" },
	{ "unknown top-level key", "", "extra", "\"x\"", PII_ERR_BAD_REQUEST, "extra" },
	{ "unknown key, not an identifier: elided", "", "<b>", "1", PII_ERR_BAD_REQUEST, "<key>" },
	{ "missing subject", "", "subject", NULL, PII_ERR_BAD_REQUEST, "subject" },
	{ "subject an array", "", "subject", "[]", PII_ERR_BAD_REQUEST, "subject" },
	{ "subject without status", "subject", "status", NULL, PII_ERR_BAD_REQUEST, "subject.status" },
	{ "subject created_at a bool", "subject", "created_at", "true", PII_ERR_BAD_REQUEST,
	  "subject.created_at" },
	{ "unknown key in subject", "subject", "erased_at", "\"x\"", PII_ERR_BAD_REQUEST,
	  "subject.erased_at" },
	{ "missing values", "", "values", NULL, PII_ERR_BAD_REQUEST, "values" },
	{ "values an object", "", "values", "{}", PII_ERR_BAD_REQUEST, "values" },
	{ "a value a string", "values", "3", "\"x\"", PII_ERR_BAD_REQUEST, "values[3]" },
	{ "value[1] without token", "values[1]", "token", NULL, PII_ERR_BAD_REQUEST, "values[1].token" },
	{ "value[2] first_seen a bool", "values[2]", "first_seen", "true", PII_ERR_BAD_REQUEST,
	  "values[2].first_seen" },
	{ "value[0] value null", "values[0]", "value", "null", PII_ERR_BAD_REQUEST, "values[0].value" },
	{ "value[4] unknown key", "values[4]", "note", "\"x\"", PII_ERR_BAD_REQUEST, "values[4].note" },
	{ "value[0] category an array", "values[0]", "category", "[\"email\"]", PII_ERR_BAD_REQUEST,
	  "values[0].category" },
	{ "objections null", "", "objections", "null", PII_ERR_BAD_REQUEST, "objections" },
	{ "objection without since", "objections[0]", "since", NULL, PII_ERR_BAD_REQUEST,
	  "objections[0].since" },
	{ "objection unknown key", "objections[0]", "until", "\"x\"", PII_ERR_BAD_REQUEST,
	  "objections[0].until" },
	{ "missing access_history", "", "access_history", NULL, PII_ERR_BAD_REQUEST, "access_history" },
	{ "an access an array", "access_history", "0", "[]", PII_ERR_BAD_REQUEST, "access_history[0]" },
	{ "access without decision", "access_history[1]", "decision", NULL, PII_ERR_BAD_REQUEST,
	  "access_history[1].decision" },
	{ "access without reason", "access_history[0]", "reason", NULL, PII_ERR_BAD_REQUEST,
	  "access_history[0].reason" },
	{ "access actor null (not nullable)", "access_history[0]", "actor", "null", PII_ERR_BAD_REQUEST,
	  "access_history[0].actor" },
	{ "access role a number", "access_history[0]", "role", "7", PII_ERR_BAD_REQUEST,
	  "access_history[0].role" },
	{ "access ticket an object", "access_history[1]", "ticket", "{}", PII_ERR_BAD_REQUEST,
	  "access_history[1].ticket" },
	{ "access categories a string", "access_history[0]", "categories", "\"email\"",
	  PII_ERR_BAD_REQUEST, "access_history[0].categories" },
	{ "access without categories", "access_history[1]", "categories", NULL, PII_ERR_BAD_REQUEST,
	  "access_history[1].categories" },
	{ "a category a number", "access_history[0].categories", "1", "3", PII_ERR_BAD_REQUEST,
	  "access_history[0].categories[1]" },
	{ "a category null", "access_history[0].categories", "0", "null", PII_ERR_BAD_REQUEST,
	  "access_history[0].categories[0]" },
	{ "access unknown key", "access_history[0]", "ip", "\"10.0.0.1\"", PII_ERR_BAD_REQUEST,
	  "access_history[0].ip" },
};

/* The object or array at a path like "access_history[0].categories". */
static json_t *
walk(json_t *j, const char *path)
{
	char part[64];

	while (j != NULL && *path != '\0') {
		size_t n = strcspn(path, ".[");

		if (n > 0) {
			snprintf(part, sizeof(part), "%.*s", (int)n, path);
			j = json_object_get(j, part);
			path += n;
		} else if (*path == '[') {
			char *end;
			unsigned long i = strtoul(path + 1, &end, 10);

			j = json_array_get(j, i);
			path = end + 1;
		} else {
			path++;   /* '.' */
		}
	}
	return j;
}

static void
test_malformed(void)
{
	struct pii_errinfo ei;
	json_t *good = parse(full_bundle);
	size_t i;

	for (i = 0; i < NELEM(bad_rows); i++) {
		json_t *b = json_deep_copy(good), *t = walk(b, bad_rows[i].target);
		char *html = (char *)"untouched";
		size_t len = 12345;
		int r;

		if (t == NULL) {
			CHECK(0, "malformed: %s (no target %s)", bad_rows[i].name, bad_rows[i].target);
			json_decref(b);
			continue;
		}
		if (bad_rows[i].set == NULL) {
			json_object_del(t, bad_rows[i].key);
		} else {
			json_t *v = json_loads(bad_rows[i].set, JSON_DECODE_ANY, NULL);

			if (json_is_array(t))
				json_array_set_new(t, strtoul(bad_rows[i].key, NULL, 10), v);
			else
				json_object_set_new(t, bad_rows[i].key, v);
		}
		pii_errinfo_clear(&ei);
		r = vault_export_html(b, &html, &len, &ei);
		CHECK(r == bad_rows[i].want && ei.code == r && strcmp(ei.field, bad_rows[i].field) == 0 &&
		    ei.message[0] != '\0' && strcmp(html, "untouched") == 0 && len == 12345,
		    "malformed: %s -> %d at '%s' (got %d at '%s': %s)", bad_rows[i].name,
		    bad_rows[i].want, bad_rows[i].field, r, ei.field, ei.message);
		json_decref(b);
	}

	/* what a table cannot say */
	{
		static const char *const not_objects[] = { "[]", "\"x\"", "null", "1" };
		char *html = NULL;
		size_t len = 0;
		int r;

		for (i = 0; i < NELEM(not_objects); i++) {
			json_t *j = json_loads(not_objects[i], JSON_DECODE_ANY, NULL);

			pii_errinfo_clear(&ei);
			r = vault_export_html(j, &html, &len, &ei);
			CHECK(r == PII_ERR_BAD_REQUEST && ei.field[0] == '\0' && html == NULL,
			    "malformed: a bundle that is %s is refused", not_objects[i]);
			json_decref(j);
		}
		r = vault_export_html(NULL, &html, &len, NULL);
		CHECK(r == PII_ERR_BAD_REQUEST && html == NULL, "malformed: NULL bundle, NULL ei");
	}
	{
		json_t *b = json_deep_copy(good);
		char *html = NULL, *big;
		size_t len = 0;
		int r;

		/* another version with a key this renderer does not know: named
		 * by its format, not by the key */
		json_object_set_new(b, "format", json_string("piivault-export v2"));
		json_object_set_new(b, "retention", json_string("x"));
		pii_errinfo_clear(&ei);
		r = vault_export_html(b, &html, &len, &ei);
		CHECK(r == PII_ERR_BAD_REQUEST && strcmp(ei.field, "format") == 0 && html == NULL,
		    "malformed: a v2 bundle with a new key is refused by its format");
		json_object_del(b, "retention");

		/* "piivault-export v1" and a NUL: strcmp would take it */
		json_object_set_new(b, "format", json_stringn_nocheck("piivault-export v1\0x", 20));
		pii_errinfo_clear(&ei);
		r = vault_export_html(b, &html, &len, &ei);
		CHECK(r == PII_ERR_BAD_REQUEST && strcmp(ei.field, "format") == 0 && html == NULL,
		    "malformed: the format string followed by a NUL");
		json_decref(b);

		b = json_deep_copy(good);
		big = calloc(1, VAULT_EXPORT_MAX_STRING + 2);
		memset(big, 'a', VAULT_EXPORT_MAX_STRING + 1);
		json_object_set_new(json_array_get(json_object_get(b, "values"), 2), "value",
		    json_string(big));
		pii_errinfo_clear(&ei);
		r = vault_export_html(b, &html, &len, &ei);
		CHECK(r == PII_ERR_TOO_LARGE && strcmp(ei.field, "values[2].value") == 0 && html == NULL,
		    "too large: a value past %d bytes (got %d at '%s')", VAULT_EXPORT_MAX_STRING, r,
		    ei.field);
		big[VAULT_EXPORT_MAX_STRING] = '\0';
		json_object_set_new(json_array_get(json_object_get(b, "values"), 2), "value",
		    json_string(big));
		r = vault_export_html(b, &html, &len, &ei);
		CHECK(r == 0 && strstr(html, big) != NULL, "a value of exactly %d bytes renders",
		    VAULT_EXPORT_MAX_STRING);
		if (r == 0)
			vault_export_html_free(html, len);
		free(big);
		json_decref(b);
	}
	{
		json_t *b = json_deep_copy(good), *cats = json_array();
		char *html = NULL;
		size_t len = 0;
		int r;

		for (i = 0; i <= VAULT_EXPORT_MAX_CATEGORIES; i++)
			json_array_append_new(cats, json_string("email"));
		json_object_set_new(json_array_get(json_object_get(b, "access_history"), 1),
		    "categories", cats);
		pii_errinfo_clear(&ei);
		r = vault_export_html(b, &html, &len, &ei);
		CHECK(r == PII_ERR_TOO_LARGE && strcmp(ei.field, "access_history[1].categories") == 0,
		    "too large: %d categories in one access", VAULT_EXPORT_MAX_CATEGORIES + 1);
		json_decref(b);
	}
	json_decref(good);
}

int
main(void)
{
	pii_json_init();
	test_full();
	test_empty();
	test_escaping();
	test_malformed();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
