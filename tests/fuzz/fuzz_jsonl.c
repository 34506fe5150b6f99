/*
 * fuzz_jsonl.c - libFuzzer target for the tagger's JSON Lines reader and
 * line writer (tagger/tag_jsonl.c).
 *
 * Each input is a whole JSON Lines stream, read through fmemopen with a
 * 4096-byte line limit; one input in two is read behind a 64 KiB prefix line
 * that puts a refill of the reader's input buffer 1 to 64 bytes into the
 * fuzzed bytes.  Every physical line must be accounted for: a row whose
 * text is exactly that line (without LF or CRLF), an error on that line
 * (PII_ERR_TOO_LARGE exactly when the line is over the limit), or nothing
 * if it is only whitespace.  A row's members must be in order inside the
 * line, with keys distinct, NUL-free and valid UTF-8, and each value's span
 * must hold its kind (a string's decoded text, a number's exact text).
 * tag_jsonl_put_line with no replacement must give the line back, and with
 * every string replaced must give a line that reads back with the same keys
 * and every other value's text unchanged.  jansson (JSON_REJECT_DUPLICATES)
 * is the second opinion: a line we accept it must accept too (unless a
 * number overflows a double for it), with the same members and strings; a
 * line we refuse as bad it must refuse, unless it nests deeper than 32.
 * Messages must hold only letters, digits and a few punctuation marks.
 * Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../../common/buf.h"
#include "../../common/err.h"
#include "../../tagger/tag_io.h"

#define SMALL_MAX 4096
#define PREFIX_MAX (1u << 17)
#define IBUF 65536
#define OUT_MAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_jsonl: %s\n", what);
	abort();
}

/* Valid UTF-8 by decoding: shortest form, no surrogate, <= U+10FFFF. */
static int
utf8_ok(const unsigned char *p, size_t n)
{
	size_t i = 0, k, j;
	unsigned long cp;

	while (i < n) {
		unsigned char c = p[i];

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xe0) == 0xc0) {
			k = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			k = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			k = 4;
			cp = c & 0x07;
		} else {
			return 0;
		}
		if (n - i < k)
			return 0;
		for (j = 1; j < k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x80) || (k == 3 && cp < 0x800) ||
		    (k == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k;
	}
	return 1;
}

static void
msg_check(const char *msg)
{
	const char *m;

	if (memchr(msg, '\0', TAG_IO_MSG) == NULL || msg[0] == '\0')
		die("message empty or not terminated");
	for (m = msg; *m != '\0'; m++)
		if (!((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') ||
		    (*m >= '0' && *m <= '9') || strchr(" (),-':{}]\\", *m) != NULL))
			die("message holds a byte outside its alphabet");
}

/* Containers nested in v, v included. */
static size_t
depth(const json_t *v)
{
	size_t d = 0, k, i;
	const char *key;
	json_t *x;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, key, x)
			if ((k = depth(x)) > d)
				d = k;
		return d + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, x)
			if ((k = depth(x)) > d)
				d = k;
		return d + 1;
	}
	return 0;
}

static const char *kind_text[] = {
	[TAG_JSON_TRUE] = "true", [TAG_JSON_FALSE] = "false", [TAG_JSON_NULL] = "null",
};

/* The row's own invariants. */
static void
row_check(const struct tag_jsonl_row *row)
{
	const char *l = row->line;
	size_t i, j, end = 0;

	for (i = 0; i < row->line_len && (l[i] == ' ' || l[i] == '\t' || l[i] == '\r'); i++)
		;
	if (i == row->line_len || l[i] != '{')
		die("a row that is not an object");
	if (row->nmembers > TAG_IO_MAX_FIELDS)
		die("too many members");
	for (i = 0; i < row->nmembers; i++) {
		const struct tag_json_member *m = &row->member[i];
		const char *v = l + m->off;

		if (m->off < end || m->len == 0 || m->off + m->len > row->line_len)
			die("a member's span is out of order or outside the line");
		end = m->off + m->len;
		if (m->key[m->key_len] != '\0' || strlen(m->key) != m->key_len ||
		    !utf8_ok((const unsigned char *)m->key, m->key_len))
			die("a key is not NUL-free UTF-8 terminated at its length");
		for (j = 0; j < i; j++)
			if (row->member[j].key_len == m->key_len &&
			    memcmp(row->member[j].key, m->key, m->key_len) == 0)
				die("a duplicate key accepted");
		switch (m->kind) {
		case TAG_JSON_STRING:
			if (m->len < 2 || v[0] != '"' || v[m->len - 1] != '"' ||
			    m->str == NULL || m->str[m->str_len] != '\0' ||
			    strlen(m->str) != m->str_len ||
			    !utf8_ok((const unsigned char *)m->str, m->str_len))
				die("a string member is not what its span holds");
			break;
		case TAG_JSON_NUMBER:
			if (m->str == NULL || m->str_len != m->len ||
			    memcmp(m->str, v, m->len) != 0 || m->str[m->len] != '\0')
				die("a number's text differs from its span");
			break;
		case TAG_JSON_TRUE:
		case TAG_JSON_FALSE:
		case TAG_JSON_NULL:
			if (m->str != NULL || m->len != strlen(kind_text[m->kind]) ||
			    memcmp(v, kind_text[m->kind], m->len) != 0)
				die("a literal's span differs");
			break;
		case TAG_JSON_OBJECT:
			if (m->str != NULL || v[0] != '{' || v[m->len - 1] != '}')
				die("an object's span is not braced");
			break;
		case TAG_JSON_ARRAY:
			if (m->str != NULL || v[0] != '[' || v[m->len - 1] != ']')
				die("an array's span is not bracketed");
			break;
		default:
			die("unknown kind");
		}
	}
}

/* put_line: no replacement gives the line back; strings replaced give a
 * line with the same keys and every other value's text. */
static void
put_check(const struct tag_jsonl_row *row)
{
	static const char *repl[TAG_IO_MAX_FIELDS];
	struct tag_jsonl_reader *r;
	struct tag_jsonl_row back;
	struct tag_ioerr e;
	struct pii_buf b;
	size_t i;
	FILE *f;

	pii_buf_init(&b, OUT_MAX);
	tag_jsonl_put_line(&b, row, NULL);
	if (b.len != row->line_len || (b.len > 0 && memcmp(b.data, row->line, b.len) != 0))
		die("put_line without replacement changed the line");
	pii_buf_reset(&b);
	for (i = 0; i < row->nmembers; i++)
		repl[i] = row->member[i].kind == TAG_JSON_STRING ? "\"tok\"" : NULL;
	tag_jsonl_put_line(&b, row, repl);
	pii_buf_putc(&b, '\n');
	if (b.failed)
		die("put buffer");
	if ((f = fmemopen(b.data, b.len, "r")) == NULL)
		die("fmemopen");
	if ((r = tag_jsonl_reader_new(f, b.len)) == NULL)
		die("reader_new");
	if (tag_jsonl_read(r, &back, &e) != 1 || back.nmembers != row->nmembers)
		die("put_line output does not read back");
	for (i = 0; i < row->nmembers; i++) {
		const struct tag_json_member *m = &row->member[i], *n = &back.member[i];

		if (n->key_len != m->key_len || memcmp(n->key, m->key, m->key_len) != 0 ||
		    n->kind != m->kind)
			die("put_line changed a key or a kind");
		if (m->kind == TAG_JSON_STRING ? strcmp(n->str, "tok") != 0 :
		    n->len != m->len || memcmp(back.line + n->off, row->line + m->off, m->len) != 0)
			die("put_line changed a value it was not asked to");
	}
	if (tag_jsonl_read(r, &back, &e) != 0)
		die("put_line output reads as more than one line");
	tag_jsonl_reader_free(r);
	fclose(f);
	pii_buf_free(&b);
}

/* jansson agrees with an accepted row. */
static void
jansson_accepts(const struct tag_jsonl_row *row)
{
	json_error_t je;
	json_t *v = json_loadb(row->line, row->line_len, JSON_REJECT_DUPLICATES, &je);
	size_t i;

	if (v == NULL) {
		if (json_error_code(&je) == json_error_numeric_overflow)
			return;
		fprintf(stderr, "jansson: %s\n", je.text);
		die("a line we accept jansson refuses");
	}
	if (!json_is_object(v) || json_object_size(v) != row->nmembers)
		die("jansson sees other members");
	for (i = 0; i < row->nmembers; i++) {
		const struct tag_json_member *m = &row->member[i];
		json_t *x = json_object_getn(v, m->key, m->key_len);
		int ok;

		switch (m->kind) {
		case TAG_JSON_STRING:
			ok = json_is_string(x) && json_string_length(x) == m->str_len &&
			    memcmp(json_string_value(x), m->str, m->str_len) == 0;
			break;
		case TAG_JSON_NUMBER: ok = json_is_number(x); break;
		case TAG_JSON_TRUE: ok = json_is_true(x); break;
		case TAG_JSON_FALSE: ok = json_is_false(x); break;
		case TAG_JSON_NULL: ok = json_is_null(x); break;
		case TAG_JSON_OBJECT: ok = json_is_object(x); break;
		default: ok = json_is_array(x); break;
		}
		if (!ok)
			die("jansson decodes a member differently");
	}
	json_decref(v);
}

/* jansson agrees with a refused line. */
static void
jansson_refuses(const char *line, size_t n)
{
	json_error_t je;
	json_t *v;

	/* a raw NUL byte: we refuse it by design, while jansson stops reading
	 * at it and may accept what came before */
	if (memchr(line, '\0', n) != NULL)
		return;
	v = json_loadb(line, n, JSON_REJECT_DUPLICATES, &je);
	if (v != NULL && json_is_object(v) && depth(v) <= 32 &&
	    json_object_size(v) <= TAG_IO_MAX_FIELDS)
		die("a line we refuse jansson accepts");
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tag_jsonl_reader *r;
	struct tag_jsonl_row row;
	struct tag_ioerr e;
	size_t prefix = 0, max = SMALL_MAX, n, i, nlines, *start = NULL, guard;
	unsigned char *seen = NULL;
	unsigned sum = 0;
	int rc, prefix_seen = 0;
	char *in, *nl;
	FILE *f;

	if (size == 0)
		return 0;
	if (size % 2 == 1) {   /* put a refill 1..64 bytes into the data */
		for (i = 0; i < size; i++)
			sum += data[i];
		prefix = IBUF - 1 - sum % 64;
		max = PREFIX_MAX;
	}
	n = prefix + size;
	if ((in = malloc(n)) == NULL)
		return 0;
	if (prefix > 0) {
		memcpy(in, "{\"p\":\"", 6);
		memset(in + 6, 'x', prefix - 9);
		memcpy(in + prefix - 3, "\"}\n", 3);
	}
	memcpy(in + prefix, data, size);

	/* where each physical line starts; a line ends at the next start - 1 */
	nlines = 1;
	for (nl = in; (nl = memchr(nl, '\n', (size_t)(in + n - nl))) != NULL; nl++)
		nlines++;
	if ((start = malloc((nlines + 1) * sizeof(*start))) == NULL ||
	    (seen = calloc(nlines + 1, 1)) == NULL)
		die("malloc");
	start[0] = 0;
	for (i = 1, nl = in; (nl = memchr(nl, '\n', (size_t)(in + n - nl))) != NULL; nl++)
		start[i++] = (size_t)(nl - in) + 1;
	start[nlines] = n + 1;
	if (start[nlines - 1] == n)
		nlines--;   /* the input ends with LF: no line after it */

	if ((f = fmemopen(in, n, "r")) == NULL)
		die("fmemopen");
	if ((r = tag_jsonl_reader_new(f, max)) == NULL)
		die("reader_new");
	for (guard = 0;; guard++) {
		unsigned long long ln;
		const char *text;
		size_t len;

		if (guard > nlines + 1)
			die("no progress");
		memset(&e, 0, sizeof(e));
		rc = tag_jsonl_read(r, &row, &e);
		if (rc == 0)
			break;
		ln = rc == 1 ? row.line_no : e.line;
		if (ln == 0 || ln > nlines || seen[ln])
			die("a line number out of range or given twice");
		seen[ln] = 1;
		text = in + start[ln - 1];
		len = start[ln] - 1 - start[ln - 1];
		if (len > 0 && text[len - 1] == '\r')
			len--;
		if (rc < 0) {
			if (rc != PII_ERR_BAD_REQUEST && rc != PII_ERR_TOO_LARGE)
				die("unexpected error code");
			if ((rc == PII_ERR_TOO_LARGE) != (len > max))
				die("PII_ERR_TOO_LARGE but for a line over the limit");
			if (prefix > 0 && ln == 1)
				die("the prefix line refused");
			msg_check(e.msg);
			if (rc == PII_ERR_BAD_REQUEST)
				jansson_refuses(text, len);
			continue;
		}
		if (rc != 1)
			die("read returned neither 1, 0 nor an error");
		if (row.line_len != len || memcmp(row.line, text, len) != 0)
			die("a row's text is not its line");
		if (row.crlf != (start[ln] - 1 - start[ln - 1] > len))
			die("crlf flag wrong");
		if (prefix > 0 && !prefix_seen) {
			prefix_seen = 1;
			if (ln != 1 || row.nmembers != 1 || row.member[0].str_len != prefix - 9)
				die("the prefix line is not read back");
			continue;
		}
		row_check(&row);
		put_check(&row);
		jansson_accepts(&row);
	}
	for (i = 1; i <= nlines; i++) {
		const char *p = in + start[i - 1], *q = in + start[i] - 1;

		if (seen[i])
			continue;
		for (; p < q; p++)
			if (*p != ' ' && *p != '\t' && *p != '\r')
				die("a line with content was skipped");
	}
	tag_jsonl_reader_free(r);
	fclose(f);
	free(start);
	free(seen);
	free(in);
	return 0;
}
