/*
 * test_tagio.c - unit tests of the tagger's streaming readers and writers
 * (tagger/tag_csv.c, tagger/tag_jsonl.c).  Each table row is an input and
 * the full story the reader tells about it, as text: every record with its
 * line number and fields, every error with its code, line and message.
 * Generated inputs cover what tables cannot spell out: records that span
 * refills of the 64 KiB input buffer, 4096 fields, 32 levels of nesting.
 *
 * Messages must never quote the input: error rows hold the marker "zqxv"
 * in the bad record and each is checked for it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/err.h"
#include "../../tagger/tag_io.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define MARK "zqxv"
#define OUT_MAX (64u << 20)

static int leaked;    /* an error message held the marker */
static int broken;    /* a row broke an invariant (terminator, spans) */

/* A FILE holding p[0..n), positioned at its start. */
static FILE *
input(const char *p, size_t n)
{
	FILE *f = tmpfile();

	if (f == NULL || (n > 0 && fwrite(p, 1, n, f) != n)) {
		perror("tmpfile");
		exit(2);
	}
	rewind(f);
	return f;
}

static void
note_err(struct pii_buf *out, int rc, const struct tag_ioerr *e)
{
	char head[64];

	snprintf(head, sizeof(head), "!%d@%llu ", rc, e->line);
	pii_buf_puts(out, head);
	pii_buf_puts(out, e->msg);
	pii_buf_putc(out, '\n');
	if (strstr(e->msg, MARK) != NULL)
		leaked = 1;
}

/* ---- CSV ------------------------------------------------------------------ */

/* Everything the CSV reader says about in, as text: "LINE[r]:[f1][f2]\n"
 * per record ('r' when it ended in CRLF) and "!CODE@LINE MESSAGE\n" per
 * error.  Reading goes on after an error until end of input or until the
 * same error comes twice (a sticky one).  expect: after the first record,
 * require its field count. */
static void
csv_dump(const char *in, size_t n, size_t max, int expect, struct pii_buf *out)
{
	FILE *f = input(in, n);
	struct tag_csv_reader *r = tag_csv_reader_new(f, max);
	struct tag_csv_row row;
	struct tag_ioerr e, last;
	char head[64];
	int rc, lastrc = 0, first = 1;
	size_t i, guard;

	memset(&last, 0, sizeof(last));
	for (guard = 0; r != NULL && guard <= n + 1; guard++) {
		memset(&e, 0, sizeof(e));
		rc = tag_csv_read(r, &row, &e);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == lastrc && e.line == last.line &&
			    strcmp(e.msg, last.msg) == 0)
				break;
			note_err(out, rc, &e);
			lastrc = rc;
			last = e;
			continue;
		}
		lastrc = 0;
		snprintf(head, sizeof(head), "%llu%s:", row.line, row.crlf ? "r" : "");
		pii_buf_puts(out, head);
		for (i = 0; i < row.nfields; i++) {
			if (row.field[i][row.len[i]] != '\0' ||
			    strlen(row.field[i]) != row.len[i])
				broken = 1;
			pii_buf_putc(out, '[');
			pii_buf_append(out, row.field[i], row.len[i]);
			pii_buf_putc(out, ']');
		}
		pii_buf_putc(out, '\n');
		if (first && expect)
			tag_csv_expect(r, row.nfields);
		first = 0;
	}
	tag_csv_reader_free(r);
	fclose(f);
}

struct csv_case {
	const char *name;
	const char *in;
	size_t inlen;       /* 0: strlen(in) */
	size_t max;         /* 0: the default */
	int expect;
	const char *want;
};

static const struct csv_case csv_cases[] = {
	/* records */
	{ "simple", "a,b,c\n1,2,3\n", 0, 0, 1, "1:[a][b][c]\n2:[1][2][3]\n" },
	{ "no final newline", "a,b\n1,2", 0, 0, 1, "1:[a][b]\n2:[1][2]\n" },
	{ "CRLF", "a,b\r\n1,2\r\n", 0, 0, 1, "1r:[a][b]\n2r:[1][2]\n" },
	{ "mixed LF and CRLF", "a,b\r\n1,2\n3,4\r\n", 0, 0, 1,
	  "1r:[a][b]\n2:[1][2]\n3r:[3][4]\n" },
	{ "quoted comma", "\"a,b\",c\n", 0, 0, 0, "1:[a,b][c]\n" },
	{ "doubled quotes", "\"say \"\"hi\"\"\",x\n", 0, 0, 0, "1:[say \"hi\"][x]\n" },
	{ "only a doubled quote", "\"\"\"\"\n", 0, 0, 0, "1:[\"]\n" },
	{ "quoted LF", "\"line1\nline2\",b\nc,d\n", 0, 0, 1,
	  "1:[line1\nline2][b]\n3:[c][d]\n" },
	{ "quoted CRLF", "\"a\r\nb\",c\r\nd,e\r\n", 0, 0, 1,
	  "1r:[a\r\nb][c]\n3r:[d][e]\n" },
	{ "line numbers after multi-line records", "x\n\"1\n2\n3\",y\nz,w\n\"\n\",\"\n\"\nlast,1\n",
	  0, 0, 0, "1:[x]\n2:[1\n2\n3][y]\n5:[z][w]\n6:[\n][\n]\n9:[last][1]\n" },
	{ "blank lines skipped", "a,b\n\n1,2\n\r\n\n3,4\n", 0, 0, 1,
	  "1:[a][b]\n3:[1][2]\n6:[3][4]\n" },
	{ "leading blank lines", "\n\na\n", 0, 0, 0, "3:[a]\n" },
	{ "empty fields", "a,,c\n,,\n", 0, 0, 1, "1:[a][][c]\n2:[][][]\n" },
	{ "quoted empty field is not blank", "\"\"\n\"\"", 0, 0, 0, "1:[]\n2:[]\n" },
	{ "trailing comma at end of input", "a,", 0, 0, 0, "1:[a][]\n" },
	{ "trailing comma then LF", "a,\n", 0, 0, 0, "1:[a][]\n" },
	{ "empty input", "", 0, 0, 0, "" },
	{ "only blank lines", "\n\r\n\n", 0, 0, 0, "" },
	{ "CR inside quotes", "\"a\rb\",c\n", 0, 0, 0, "1:[a\rb][c]\n" },
	{ "UTF-8", "김민준,Ålice,😀,\xe2\x82\xac\n", 0, 0, 0,
	  "1:[김민준][Ålice][😀][\xe2\x82\xac]\n" },
	{ "U+10FFFF", "\xf4\x8f\xbf\xbf\n", 0, 0, 0, "1:[\xf4\x8f\xbf\xbf]\n" },
	{ "quoted at end of input", "\"a\"", 0, 0, 0, "1:[a]\n" },
	{ "spaces kept", " a , b \n", 0, 0, 0, "1:[ a ][ b ]\n" },
	{ "tab kept", "a\tb,c\n", 0, 0, 0, "1:[a\tb][c]\n" },
	{ "quoted then CRLF at end", "\"a\",\"b\"\r\n", 0, 0, 0, "1r:[a][b]\n" },
	{ "exactly at the limit", "abc\n", 0, 4, 0, "1:[abc]\n" },
	{ "exactly at the limit, no terminator", "abcd", 0, 4, 0, "1:[abcd]\n" },
	{ "quotes count toward the limit", "\"ab\"\n", 0, 5, 0, "1:[ab]\n" },

	/* errors */
	{ "unterminated quoted field", "a,b\n\"zqxv,c\n", 0, 0, 0,
	  "1:[a][b]\n!-1@2 unterminated quoted field 1\n" },
	{ "unterminated over lines", "a\nb,\"zqxv\n\nmore\n", 0, 0, 0,
	  "1:[a]\n!-1@2 unterminated quoted field 2\n" },
	{ "quote inside unquoted field", "a,b\nc,zq\"xv\n", 0, 0, 1,
	  "1:[a][b]\n!-1@2 quote inside unquoted field 2\n" },
	{ "characters after closing quote", "\"zqxv\"x,b\n", 0, 0, 0,
	  "!-1@1 characters after the closing quote of field 1\n" },
	{ "space after closing quote", "a,\"zqxv\" \n", 0, 0, 0,
	  "!-1@1 characters after the closing quote of field 2\n" },
	{ "ragged row, more", "a,b\n1,2,zqxv\n4,5\n", 0, 0, 1,
	  "1:[a][b]\n!-1@2 row has 3 fields, expected 2\n3:[4][5]\n" },
	{ "ragged row, fewer", "a,b,c\nzqxv\n1,2,3\n", 0, 0, 1,
	  "1:[a][b][c]\n!-1@2 row has 1 fields, expected 3\n3:[1][2][3]\n" },
	{ "ragged after multi-line", "a,b\n\"x\ny\"\n\"zqxv\"\nc,d\n", 0, 0, 1,
	  "1:[a][b]\n!-1@2 row has 1 fields, expected 2\n!-1@4 row has 1 fields, expected 2\n5:[c][d]\n" },
	{ "invalid UTF-8 byte", "a,b\n1,zq\xffxv\n2,3\n", 0, 0, 1,
	  "1:[a][b]\n!-1@2 invalid UTF-8 in field 2\n3:[2][3]\n" },
	{ "overlong", "zqxv,\xc0\xaf\n", 0, 0, 0, "!-1@1 invalid UTF-8 in field 2\n" },
	{ "overlong 3 bytes", "zqxv,\xe0\x80\xaf\n", 0, 0, 0, "!-1@1 invalid UTF-8 in field 2\n" },
	{ "surrogate", "zqxv,x\xed\xa0\x80\n", 0, 0, 0, "!-1@1 invalid UTF-8 in field 2\n" },
	{ "above U+10FFFF", "\xf4\x90\x80\x80,zqxv\n", 0, 0, 0, "!-1@1 invalid UTF-8 in field 1\n" },
	{ "F5 lead byte", "zqxv,\xf5\x80\x80\x80\n", 0, 0, 0, "!-1@1 invalid UTF-8 in field 2\n" },
	{ "lone continuation", "zqxv,\x80\n", 0, 0, 0, "!-1@1 invalid UTF-8 in field 2\n" },
	{ "truncated sequence", "ab\xe4\xb8" ",zqxv\n", 0, 0, 0, "!-1@1 invalid UTF-8 in field 1\n" },
	{ "truncated at end of input", "zqxv,x\xe4", 0, 0, 0, "!-1@1 invalid UTF-8 in field 2\n" },
	{ "invalid UTF-8 in a multi-line quoted field", "\"a\n\xff" "zqxv\",b\nc,d\n",
	  0, 0, 0, "!-1@1 invalid UTF-8 in field 1\n3:[c][d]\n" },
	{ "NUL", "a\0zqxv,c\nd,e\n", 13, 0, 0, "!-1@1 NUL byte in field 1\n2:[d][e]\n" },
	{ "NUL in quotes", "x,\"zqxv\0\"\n", 10, 0, 0, "!-1@1 NUL byte in field 2\n" },
	{ "first bad field is named", "\xff,\0\n", 4, 0, 0, "!-1@1 invalid UTF-8 in field 1\n" },
	{ "record over the limit", "short,row\n0123456789,zqxv456789\n", 0, 16, 0,
	  "1:[short][row]\n!-4@2 record longer than 16 bytes (in field 2)\n" },
	{ "one byte over", "abcd\n", 0, 4, 0, "!-4@1 record longer than 4 bytes (in field 1)\n" },
	{ "CRLF pushes over", "abc\r\n", 0, 4, 0, "!-4@1 record longer than 4 bytes (in field 1)\n" },
	{ "over the limit inside quotes", "\"zqxv\n\n\n\n\n\n\n\n\n\n\"\n", 0, 8, 0,
	  "!-4@1 record longer than 8 bytes (in field 1)\n" },
	{ "bare CR", "a\rzqxv\n", 0, 0, 0, "!-1@1 CR not followed by LF after field 1\n" },
	{ "bare CR after quoted", "\"zqxv\"\rb", 0, 0, 0, "!-1@1 CR not followed by LF after field 1\n" },
	{ "CR at end of input", "zqxv\r", 0, 0, 0, "!-1@1 CR not followed by LF after field 1\n" },
	{ "bare CR line", "a\n\r\rzqxv\n", 0, 0, 0, "1:[a]\n!-1@2 CR not followed by LF after field 1\n" },
};

static void
test_csv_table(void)
{
	struct pii_buf out;
	size_t k;

	for (k = 0; k < NELEM(csv_cases); k++) {
		const struct csv_case *c = &csv_cases[k];

		pii_buf_init(&out, OUT_MAX);
		leaked = broken = 0;
		csv_dump(c->in, c->inlen ? c->inlen : strlen(c->in), c->max,
		    c->expect, &out);
		CHECK_STR(out.len ? out.data : "", c->want, "csv: %s", c->name);
		if (strchr(c->want, '!') != NULL)
			CHECK(!leaked, "csv: %s: message holds no input", c->name);
		if (broken)
			CHECK(0, "csv: %s: fields NUL-terminated at len", c->name);
		pii_buf_free(&out);
	}
}

/* A structural error is sticky; a field-level one is not. */
static void
test_csv_sticky(void)
{
	static const char in[] = "a\n\"zqxv\n";
	FILE *f = input(in, sizeof(in) - 1);
	struct tag_csv_reader *r = tag_csv_reader_new(f, 0);
	struct tag_csv_row row;
	struct tag_ioerr e1, e2;
	int rc1, rc2;

	CHECK(r != NULL && tag_csv_read(r, &row, &e1) == 1, "csv sticky: first record");
	rc1 = tag_csv_read(r, &row, &e1);
	rc2 = tag_csv_read(r, &row, &e2);
	CHECK(rc1 == PII_ERR_BAD_REQUEST && rc2 == rc1 && e1.line == 2 &&
	    e2.line == 2 && strcmp(e1.msg, e2.msg) == 0,
	    "csv sticky: the unterminated quote comes again");
	tag_csv_reader_free(r);
	fclose(f);

	f = fopen("/dev/null", "w");
	r = tag_csv_reader_new(f, 0);
	rc1 = tag_csv_read(r, &row, &e1);
	rc2 = tag_csv_read(r, &row, &e2);
	CHECK(rc1 == PII_ERR_IO && rc2 == PII_ERR_IO, "csv: a read error is PII_ERR_IO (%d)", rc1);
	tag_csv_reader_free(r);
	fclose(f);
	tag_csv_reader_free(NULL);
	CHECK(1, "csv: free accepts NULL");
}

/* 4096 fields pass, 4097 do not. */
static void
test_csv_many_fields(void)
{
	struct pii_buf in, out;
	size_t i;

	for (i = 0; i < 2; i++) {
		size_t n = TAG_IO_MAX_FIELDS + i, k;

		pii_buf_init(&in, OUT_MAX);
		pii_buf_init(&out, OUT_MAX);
		for (k = 0; k < n; k++)
			pii_buf_puts(&in, k ? ",f" : "f");
		pii_buf_putc(&in, '\n');
		csv_dump(in.data, in.len, 0, 0, &out);
		if (i == 0)
			CHECK(out.len == 3 + 3 * n && strncmp(out.data, "1:[f][f]", 8) == 0,
			    "csv: %zu fields read", n);
		else
			CHECK_STR(out.data, "!-1@1 record has more than 4096 fields\n",
			    "csv: %zu fields refused", n);
		pii_buf_free(&in);
		pii_buf_free(&out);
	}
}

/* Records that span refills of the input buffer at every kind of byte:
 * quoted fields with newlines and doubled quotes, CRLF, UTF-8. */
static void
test_csv_big(void)
{
	unsigned shift;

	for (shift = 0; shift < 4; shift++) {
		struct pii_buf in, want, got;
		char num[128];
		size_t i, k, nrec = 12000;

		pii_buf_init(&in, OUT_MAX);
		pii_buf_init(&want, OUT_MAX);
		pii_buf_init(&got, OUT_MAX);
		for (i = 0; i < nrec; i++) {
			size_t pad = (i * 7 + shift) % 41;

			snprintf(num, sizeof(num), "%zu", i);
			pii_buf_puts(&in, num);
			pii_buf_puts(&in, ",\"q\"\"");
			pii_buf_puts(&in, num);
			pii_buf_puts(&in, "\nline\",");
			for (k = 0; k < pad; k++)
				pii_buf_puts(&in, k % 5 == 0 ? "김" : "x");
			pii_buf_puts(&in, i % 2 ? "\r\n" : "\n");

			snprintf(num, sizeof(num), "%zu%s:[%zu][q\"%zu\nline][",
			    2 * i + 1, i % 2 ? "r" : "", i, i);
			pii_buf_puts(&want, num);
			for (k = 0; k < pad; k++)
				pii_buf_puts(&want, k % 5 == 0 ? "김" : "x");
			pii_buf_puts(&want, "]\n");
		}
		broken = 0;
		csv_dump(in.data, in.len, 0, 1, &got);
		CHECK(in.len > 4 * 65536 && !in.failed && !want.failed,
		    "csv big %u: input of %zu bytes", shift, in.len);
		CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0 &&
		    !broken, "csv big %u: %zu records across refills", shift, nrec);
		pii_buf_free(&in);
		pii_buf_free(&want);
		pii_buf_free(&got);
	}
}

struct put_case {
	const char *in;
	const char *want;
};

static const struct put_case put_cases[] = {
	{ "abc", "abc" },
	{ "", "" },
	{ "a,b", "\"a,b\"" },
	{ "say \"hi\"", "\"say \"\"hi\"\"\"" },
	{ "\"", "\"\"\"\"" },
	{ "a\nb", "\"a\nb\"" },
	{ "a\rb", "\"a\rb\"" },
	{ "a\r\nb", "\"a\r\nb\"" },
	{ " lead", "\" lead\"" },
	{ "trail ", "\"trail \"" },
	{ " ", "\" \"" },
	{ "mid space", "mid space" },
	{ "김민준", "김민준" },
	{ "tab\there", "tab\there" },
	{ "\"\"\"", "\"\"\"\"\"\"\"\"" },
	{ "a\"b,c\nd", "\"a\"\"b,c\nd\"" },
};

/* put_field writes what the reader reads back, byte for byte. */
static void
test_csv_put_field(void)
{
	struct pii_buf out, rec;
	size_t k;

	for (k = 0; k < NELEM(put_cases); k++) {
		const struct put_case *c = &put_cases[k];
		struct tag_csv_reader *r;
		struct tag_csv_row row;
		struct tag_ioerr e;
		FILE *f;
		int ok;

		pii_buf_init(&out, 1024);
		tag_csv_put_field(&out, c->in, strlen(c->in));
		CHECK_STR(out.len ? out.data : "", c->want, "put_field row %zu", k);

		pii_buf_init(&rec, 1024);
		pii_buf_puts(&rec, "x,");
		tag_csv_put_field(&rec, c->in, strlen(c->in));
		pii_buf_puts(&rec, ",y\r\n");
		f = input(rec.data, rec.len);
		r = tag_csv_reader_new(f, 0);
		ok = tag_csv_read(r, &row, &e) == 1 && row.nfields == 3 &&
		    row.len[1] == strlen(c->in) &&
		    memcmp(row.field[1], c->in, row.len[1]) == 0 &&
		    strcmp(row.field[2], "y") == 0 && row.crlf == 1 &&
		    tag_csv_read(r, &row, &e) == 0;
		CHECK(ok, "put_field row %zu reads back", k);
		tag_csv_reader_free(r);
		fclose(f);
		pii_buf_free(&out);
		pii_buf_free(&rec);
	}
}

/* ---- JSON Lines ------------------------------------------------------------- */

static const char kind_char[] = "sntfzoa";

/* Everything the JSONL reader says about in, as text: per line
 * "LINE[r]:{key|kind|off+len|str}...\n" (kind: s n t f z(null) o a; str
 * "-" when NULL) and "!CODE@LINE MESSAGE\n" per error.  Also checks that
 * put_line with no replacement gives back the line. */
static void
jsonl_dump(const char *in, size_t n, size_t max, struct pii_buf *out)
{
	FILE *f = input(in, n);
	struct tag_jsonl_reader *r = tag_jsonl_reader_new(f, max);
	struct tag_jsonl_row row;
	struct tag_ioerr e, last;
	struct pii_buf again;
	char head[96];
	int rc, lastrc = 0;
	size_t i, guard;

	memset(&last, 0, sizeof(last));
	for (guard = 0; r != NULL && guard <= n + 1; guard++) {
		memset(&e, 0, sizeof(e));
		rc = tag_jsonl_read(r, &row, &e);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == lastrc && e.line == last.line &&
			    strcmp(e.msg, last.msg) == 0)
				break;
			note_err(out, rc, &e);
			lastrc = rc;
			last = e;
			continue;
		}
		lastrc = 0;
		snprintf(head, sizeof(head), "%llu%s:", row.line_no, row.crlf ? "r" : "");
		pii_buf_puts(out, head);
		for (i = 0; i < row.nmembers; i++) {
			const struct tag_json_member *m = &row.member[i];

			if (m->off + m->len > row.line_len || strlen(m->key) != m->key_len ||
			    (m->str != NULL && strlen(m->str) != m->str_len))
				broken = 1;
			pii_buf_putc(out, '{');
			pii_buf_append(out, m->key, m->key_len);
			snprintf(head, sizeof(head), "|%c|%zu+%zu|", kind_char[m->kind],
			    m->off, m->len);
			pii_buf_puts(out, head);
			if (m->str != NULL)
				pii_buf_append(out, m->str, m->str_len);
			else
				pii_buf_putc(out, '-');
			pii_buf_putc(out, '}');
		}
		pii_buf_putc(out, '\n');
		pii_buf_init(&again, OUT_MAX);
		tag_jsonl_put_line(&again, &row, NULL);
		if (again.len != row.line_len ||
		    (again.len > 0 && memcmp(again.data, row.line, again.len) != 0))
			broken = 1;
		pii_buf_free(&again);
	}
	tag_jsonl_reader_free(r);
	fclose(f);
}

struct jsonl_case {
	const char *name;
	const char *in;
	size_t inlen;       /* 0: strlen(in) */
	size_t max;         /* 0: the default */
	const char *want;
};

static const struct jsonl_case jsonl_cases[] = {
	/* lines */
	{ "one string", "{\"a\":\"x\"}\n", 0, 0, "1:{a|s|5+3|x}\n" },
	{ "every kind",
	  "{\"s\":\"v\",\"n\":-1.5e3,\"t\":true,\"f\":false,\"z\":null,\"o\":{\"k\":[1,2]},\"a\":[]}\n",
	  0, 0, "1:{s|s|5+3|v}{n|n|13+6|-1.5e3}{t|t|24+4|-}{f|f|33+5|-}{z|z|43+4|-}"
	  "{o|o|52+11|-}{a|a|68+2|-}\n" },
	{ "whitespace and CRLF", " { \"a\" : 1 ,\t\"b\" :\"y\" } \r\n", 0, 0,
	  "1r:{a|n|9+1|1}{b|s|18+3|y}\n" },
	{ "big integer kept as text", "{\"id\":123456789012345678901234567890}\n", 0, 0,
	  "1:{id|n|6+30|123456789012345678901234567890}\n" },
	{ "huge exponent kept", "{\"x\":-0.000e-99999}\n", 0, 0, "1:{x|n|5+13|-0.000e-99999}\n" },
	{ "numbers", "{\"a\":0,\"b\":-0,\"c\":1E+5,\"d\":10.25e-3}\n", 0, 0,
	  "1:{a|n|5+1|0}{b|n|11+2|-0}{c|n|18+4|1E+5}{d|n|27+8|10.25e-3}\n" },
	{ "escapes decoded", "{\"e\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"}\n", 0, 0,
	  "1:{e|s|5+22|a\"b\\c/d\b\f\n\r\t}\n" },
	{ "\\u escapes", "{\"u\":\"\\u00e9\\u4E2D\\u0041\"}\n", 0, 0,
	  "1:{u|s|5+20|é中A}\n" },
	{ "surrogate pair", "{\"p\":\"\\ud83d\\ude00!\"}\n", 0, 0, "1:{p|s|5+15|😀!}\n" },
	{ "escaped key", "{\"k\\u0065y\":1}\n", 0, 0, "1:{key|n|12+1|1}\n" },
	{ "empty key and value", "{\"\":\"\"}\n", 0, 0, "1:{|s|4+2|}\n" },
	{ "empty object", "{}\n", 0, 0, "1:\n" },
	{ "blank lines skipped", "{\"a\":1}\n\n   \n\t\r\n{\"b\":2}\n", 0, 0,
	  "1:{a|n|5+1|1}\n5:{b|n|5+1|2}\n" },
	{ "final line without LF", "{\"a\":1}\n{\"b\":true}", 0, 0,
	  "1:{a|n|5+1|1}\n2:{b|t|5+4|-}\n" },
	{ "raw UTF-8", "{\"이름\":\"김민준\"}\n", 0, 0, "1:{이름|s|10+11|김민준}\n" },
	{ "same key in sibling objects", "{\"a\":{\"x\":1},\"b\":{\"x\":2}}\n", 0, 0,
	  "1:{a|o|5+7|-}{b|o|17+7|-}\n" },
	{ "same key at each depth", "{\"x\":{\"x\":{\"x\":[{\"x\":1}]}}}\n", 0, 0,
	  "1:{x|o|5+21|-}\n" },
	{ "many distinct keys",
	  "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1}}\n",
	  0, 0, "1:{k0|n|6+1|0}{k1|n|13+1|1}{k2|n|20+1|2}{k3|n|27+1|3}{k4|n|34+1|4}"
	  "{k5|n|41+1|5}{k6|n|48+1|6}{k7|n|55+1|7}{k8|n|62+1|8}{k9|n|69+1|9}"
	  "{k10|o|77+55|-}\n" },
	{ "keys differing in length", "{\"a\":1,\"aa\":2,\"aaa\":3}\n", 0, 0,
	  "1:{a|n|5+1|1}{aa|n|12+1|2}{aaa|n|20+1|3}\n" },
	{ "nested strings checked only", "{\"o\":{\"k\":\"\\u00e9\"},\"l\":[\"x\",\"\"]}\n", 0, 0,
	  "1:{o|o|5+14|-}{l|a|24+8|-}\n" },
	{ "exactly at the limit", "{\"a\":1}\n", 0, 7, "1:{a|n|5+1|1}\n" },
	{ "CR not counted in the limit", "{\"a\":1}\r\n", 0, 7, "1r:{a|n|5+1|1}\n" },

	/* errors */
	{ "array", "[\"zqxv\"]\n", 0, 0, "!-1@1 line is not a JSON object (column 1)\n" },
	{ "string", " \"zqxv\"\n", 0, 0, "!-1@1 line is not a JSON object (column 2)\n" },
	{ "number", "42\n", 0, 0, "!-1@1 line is not a JSON object (column 1)\n" },
	{ "bad value", "{\"a\":zqxv}\n", 0, 0,
	  "!-1@1 expected a value in member 1 (column 6)\n" },
	{ "missing colon", "{\"zqxv\" 1}\n", 0, 0, "!-1@1 expected ':' in member 1 (column 9)\n" },
	{ "trailing comma", "{\"a\":1,}\n", 0, 0, "!-1@1 expected a key in member 2 (column 8)\n" },
	{ "unclosed object", "{\"a\":1\n", 0, 0,
	  "!-1@1 expected ',' or '}' in member 1 (column 7)\n" },
	{ "unterminated string", "{\"a\":\"zqxv}\n", 0, 0,
	  "!-1@1 unterminated string in member 1 (column 12)\n" },
	{ "bad literal", "{\"a\":tru}\n", 0, 0, "!-1@1 invalid literal in member 1 (column 6)\n" },
	{ "bare key", "{zqxv:1}\n", 0, 0, "!-1@1 expected a key in member 1 (column 2)\n" },
	{ "leading zero", "{\"a\":01}\n", 0, 0,
	  "!-1@1 expected ',' or '}' in member 1 (column 7)\n" },
	{ "dot without digits", "{\"a\":1.}\n", 0, 0, "!-1@1 invalid number in member 1 (column 8)\n" },
	{ "minus alone", "{\"a\":-}\n", 0, 0, "!-1@1 invalid number in member 1 (column 7)\n" },
	{ "empty exponent", "{\"a\":1e+}\n", 0, 0, "!-1@1 invalid number in member 1 (column 9)\n" },
	{ "plus sign", "{\"a\":+1}\n", 0, 0, "!-1@1 expected a value in member 1 (column 6)\n" },
	{ "leading dot", "{\"a\":.5}\n", 0, 0, "!-1@1 expected a value in member 1 (column 6)\n" },
	{ "bad array", "{\"a\":[1 2]}\n", 0, 0,
	  "!-1@1 expected ',' or ']' in member 1 (column 9)\n" },
	{ "array trailing comma", "{\"a\":[1,]}\n", 0, 0,
	  "!-1@1 expected a value in member 1 (column 9)\n" },
	{ "invalid escape", "{\"a\":\"zqxv\\x\"}\n", 0, 0,
	  "!-1@1 invalid escape in member 1 (column 11)\n" },
	{ "short \\u", "{\"a\":\"\\u12\"}\n", 0, 0, "!-1@1 invalid \\u escape in member 1 (column 7)\n" },
	{ "raw control character", "{\"a\":\"zq\txv\"}\n", 0, 0,
	  "!-1@1 control character in a string in member 1 (column 9)\n" },
	{ "duplicate key", "{\"zqxv\":1,\"b\":2,\"zqxv\":3}\n", 0, 0,
	  "!-1@1 duplicate key in member 3 (column 26)\n" },
	{ "duplicate key by escape", "{\"a\":1,\"\\u0061\":2}\n", 0, 0,
	  "!-1@1 duplicate key in member 2 (column 19)\n" },
	{ "duplicate key among many",
	  "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,\"k7\":7,\"k8\":8,\"k9\":9,\"k3\":0,\"k9\":1}\n",
	  0, 0, "!-1@1 duplicate key in member 11 (column 86)\n" },
	{ "duplicate nested key", "{\"a\":{\"zqxv\":1,\"zqxv\":2}}\n", 0, 0,
	  "!-1@1 duplicate key in a nested object in member 1 (column 25)\n" },
	{ "duplicate key in an array's object", "{\"a\":1,\"b\":[{\"x\":1},{\"y\":1,\"y\":2}]}\n", 0, 0,
	  "!-1@1 duplicate key in a nested object in member 2 (column 34)\n" },
	{ "duplicate nested among many",
	  "{\"o\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,\"zqxv\":1,\"zqxv\":1}}\n",
	  0, 0, "!-1@1 duplicate key in a nested object in member 1 (column 79)\n" },
	{ "many distinct keys (hash check)",
	  "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
	  "\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,"
	  "\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17,\"k18\":{\"a\":1,"
	  "\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,\"h\":1,\"i\":1,"
	  "\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,\"p\":1,\"q\":1,"
	  "\"r\":1}}\n",
	  0, 0, "1:{k0|n|6+1|0}{k1|n|13+1|1}{k2|n|20+1|2}{k3|n|27+1|3}{k4|n|34+1|4}"
	  "{k5|n|41+1|5}{k6|n|48+1|6}{k7|n|55+1|7}{k8|n|62+1|8}{k9|n|69+1|9}"
	  "{k10|n|77+2|10}{k11|n|86+2|11}{k12|n|95+2|12}{k13|n|104+2|13}"
	  "{k14|n|113+2|14}{k15|n|122+2|15}{k16|n|131+2|16}{k17|n|140+2|17}"
	  "{k18|o|149+109|-}\n" },
	{ "duplicate key among many (hash check)",
	  "{\"k0\":0,\"k1\":1,\"k2\":2,\"k3\":3,\"k4\":4,\"k5\":5,\"k6\":6,"
	  "\"k7\":7,\"k8\":8,\"k9\":9,\"k10\":10,\"k11\":11,\"k12\":12,"
	  "\"k13\":13,\"k14\":14,\"k15\":15,\"k16\":16,\"k17\":17,\"k18\":18,"
	  "\"k19\":19,\"k3\":0,\"k9\":1}\n",
	  0, 0, "!-1@1 duplicate key in member 21 (column 176)\n" },
	{ "duplicate nested key among many (hash check)",
	  "{\"o\":{\"a\":1,\"b\":1,\"c\":1,\"d\":1,\"e\":1,\"f\":1,\"g\":1,"
	  "\"h\":1,\"i\":1,\"j\":1,\"k\":1,\"l\":1,\"m\":1,\"n\":1,\"o\":1,"
	  "\"p\":1,\"q\":1,\"r\":1,\"zqxv\":1,\"b\":2,\"zqxv\":3}}\n",
	  0, 0, "!-1@1 duplicate key in a nested object in member 1 (column 139)\n" },
	{ "trailing data", "{\"a\":1} zqxv\n", 0, 0, "!-1@1 data after the object (column 9)\n" },
	{ "two objects", "{\"a\":1}{\"b\":2}\n", 0, 0, "!-1@1 data after the object (column 8)\n" },
	{ "lone high surrogate", "{\"a\":\"\\ud800zqxv\"}\n", 0, 0,
	  "!-1@1 unpaired UTF-16 surrogate escape in member 1 (column 7)\n" },
	{ "lone low surrogate", "{\"a\":\"\\udc00\"}\n", 0, 0,
	  "!-1@1 unpaired UTF-16 surrogate escape in member 1 (column 7)\n" },
	{ "high then non-low", "{\"a\":\"\\ud800\\u0041\"}\n", 0, 0,
	  "!-1@1 unpaired UTF-16 surrogate escape in member 1 (column 7)\n" },
	{ "high at end of string", "{\"a\":\"\\udbff\"}\n", 0, 0,
	  "!-1@1 unpaired UTF-16 surrogate escape in member 1 (column 7)\n" },
	{ "\\u0000", "{\"a\":\"zqxv\\u0000\"}\n", 0, 0,
	  "!-1@1 \\u0000 (NUL) in a string in member 1 (column 11)\n" },
	{ "raw NUL", "{\"a\":\"zq\0xv\"}\n", 14, 0, "!-1@1 NUL byte (column 9)\n" },
	{ "invalid UTF-8", "{\"a\":\"zqxv\xff\"}\n", 0, 0,
	  "!-1@1 invalid UTF-8 in member 1 (column 11)\n" },
	{ "overlong", "{\"a\":\"\xc0\x80zqxv\"}\n", 0, 0,
	  "!-1@1 invalid UTF-8 in member 1 (column 7)\n" },
	{ "encoded surrogate", "{\"a\":\"\xed\xa0\x80zqxv\"}\n", 0, 0,
	  "!-1@1 invalid UTF-8 in member 1 (column 7)\n" },
	{ "above U+10FFFF", "{\"a\":\"\xf4\x90\x80\x80zqxv\"}\n", 0, 0,
	  "!-1@1 invalid UTF-8 in member 1 (column 7)\n" },
	{ "truncated sequence", "{\"a\":\"\xe4\xb8\"}\n", 0, 0,
	  "!-1@1 invalid UTF-8 in member 1 (column 7)\n" },
	{ "invalid UTF-8 in a key", "{\"zqxv\xff\":1}\n", 0, 0,
	  "!-1@1 invalid UTF-8 in member 1 (column 7)\n" },
	{ "non-ASCII outside strings", "{\"a\":\xc3\xa9}\n", 0, 0,
	  "!-1@1 non-ASCII byte outside a string in member 1 (column 6)\n" },
	{ "line over the limit", "{\"a\":\"zqxv\"}\n{\"b\":1}\n", 0, 8,
	  "!-4@1 line longer than 8 bytes\n2:{b|n|5+1|1}\n" },
	{ "errors leave the next line readable", "{\"a\":1}\n{zqxv\n\n{\"b\":2}\r\n", 0, 0,
	  "1:{a|n|5+1|1}\n!-1@2 expected a key in member 1 (column 2)\n4r:{b|n|5+1|2}\n" },
};

static void
test_jsonl_table(void)
{
	struct pii_buf out;
	size_t k;

	for (k = 0; k < NELEM(jsonl_cases); k++) {
		const struct jsonl_case *c = &jsonl_cases[k];

		pii_buf_init(&out, OUT_MAX);
		leaked = broken = 0;
		jsonl_dump(c->in, c->inlen ? c->inlen : strlen(c->in), c->max, &out);
		CHECK_STR(out.len ? out.data : "", c->want, "jsonl: %s", c->name);
		if (strchr(c->want, '!') != NULL && strstr(c->in, MARK) != NULL)
			CHECK(!leaked, "jsonl: %s: message holds no input", c->name);
		if (broken)
			CHECK(0, "jsonl: %s: spans, terminators and put_line", c->name);
		pii_buf_free(&out);
	}
}

/* 32 levels of nesting pass, 33 do not; 4096 members pass, 4097 do not. */
static void
test_jsonl_limits(void)
{
	struct pii_buf in, out;
	size_t levels, n, k;

	for (levels = 32; levels <= 33; levels++) {
		pii_buf_init(&in, OUT_MAX);
		pii_buf_init(&out, OUT_MAX);
		pii_buf_puts(&in, "{\"a\":");
		for (k = 1; k < levels; k++)
			pii_buf_puts(&in, k % 2 ? "[" : "{\"b\":");
		for (k = levels - 1; k >= 1; k--)
			pii_buf_puts(&in, k % 2 ? "]" : "}");
		pii_buf_puts(&in, "}\n");
		jsonl_dump(in.data, in.len, 0, &out);
		if (levels == 32)
			CHECK(strncmp(out.data, "1:{a|a|5+", 9) == 0, "jsonl: 32 levels pass");
		else
			CHECK_STR(out.data, "!-1@1 nesting deeper than 32 in member 1 (column 97)\n",
			    "jsonl: 33 levels refused");
		pii_buf_free(&in);
		pii_buf_free(&out);
	}
	for (n = TAG_IO_MAX_FIELDS; n <= TAG_IO_MAX_FIELDS + 1; n++) {
		char key[64];

		pii_buf_init(&in, OUT_MAX);
		pii_buf_init(&out, OUT_MAX);
		pii_buf_putc(&in, '{');
		for (k = 0; k < n; k++) {
			snprintf(key, sizeof(key), "%s\"k%zu\":%zu", k ? "," : "", k, k);
			pii_buf_puts(&in, key);
		}
		pii_buf_puts(&in, "}\n");
		jsonl_dump(in.data, in.len, 0, &out);
		if (n == TAG_IO_MAX_FIELDS)
			CHECK(strstr(out.data, "{k4095|n|") != NULL && out.data[0] == '1',
			    "jsonl: %zu members pass", n);
		else
			CHECK(strncmp(out.data, "!-1@1 more than 4096 members (column ", 37) == 0,
			    "jsonl: %zu members refused", n);
		pii_buf_free(&in);
		pii_buf_free(&out);
	}
}

/* Lines across refills, some longer than the input buffer, one over the
 * limit; a read error. */
static void
test_jsonl_big(void)
{
	struct pii_buf in, want, got;
	struct tag_jsonl_reader *r;
	struct tag_jsonl_row row;
	struct tag_ioerr e1, e2;
	char num[128];
	size_t i, k, nlines = 9000;
	FILE *f;
	int rc1, rc2;

	pii_buf_init(&in, OUT_MAX);
	pii_buf_init(&want, OUT_MAX);
	pii_buf_init(&got, OUT_MAX);
	for (i = 0; i < nlines; i++) {
		size_t pad = i % 1000 == 999 ? 70000 + i : (i * 13) % 53;

		if (i == 4500)
			pad = 300000;   /* over the limit below */
		snprintf(num, sizeof(num), "{\"i\":%zu,\"s\":\"", i);
		pii_buf_puts(&in, num);
		for (k = 0; k < pad; k++)
			pii_buf_puts(&in, k % 3 ? "y" : "é");
		pii_buf_puts(&in, "\\u00e9\",\"o\":{\"k\":[1]}}");
		pii_buf_puts(&in, i % 2 ? "\r\n" : "\n");
	}
	/* {"i":I,"s":"PAD\u00e9","o":{"k":[1]}} */
	for (i = 0; i < nlines; i++) {
		size_t pad = i % 1000 == 999 ? 70000 + i : (i * 13) % 53, ilen, slen;

		if (i == 4500) {
			pii_buf_puts(&want, "!-4@4501 line longer than 262144 bytes\n");
			continue;
		}
		snprintf(num, sizeof(num), "%zu", i);
		ilen = strlen(num);
		slen = 0;
		for (k = 0; k < pad; k++)
			slen += k % 3 ? 1 : 2;
		snprintf(num, sizeof(num), "%zu%s:{i|n|5+%zu|%zu}{s|s|%zu+%zu|",
		    i + 1, i % 2 ? "r" : "", ilen, i, 5 + ilen + 5, slen + 8);
		pii_buf_puts(&want, num);
		for (k = 0; k < pad; k++)
			pii_buf_puts(&want, k % 3 ? "y" : "é");
		snprintf(num, sizeof(num), "é}{o|o|%zu+9|-}\n", 5 + ilen + 5 + slen + 8 + 5);
		pii_buf_puts(&want, num);
	}
	broken = leaked = 0;
	jsonl_dump(in.data, in.len, 262144, &got);
	CHECK(in.len > 1000000 && !in.failed && !want.failed,
	    "jsonl big: input of %zu bytes", in.len);
	CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0 && !broken,
	    "jsonl big: %zu lines across refills, one over the limit", nlines);
	pii_buf_free(&in);
	pii_buf_free(&want);
	pii_buf_free(&got);

	f = fopen("/dev/null", "w");
	r = tag_jsonl_reader_new(f, 0);
	rc1 = tag_jsonl_read(r, &row, &e1);
	rc2 = tag_jsonl_read(r, &row, &e2);
	CHECK(rc1 == PII_ERR_IO && rc2 == PII_ERR_IO, "jsonl: a read error is PII_ERR_IO, sticky");
	tag_jsonl_reader_free(r);
	fclose(f);
	tag_jsonl_reader_free(NULL);
	CHECK(1, "jsonl: free accepts NULL");
}

struct putline_case {
	const char *line;
	const char *repl[4];
	const char *want;
};

static const struct putline_case putline_cases[] = {
	{ "{\"a\":\"x\",\"b\":2}", { "\"T\"", NULL }, "{\"a\":\"T\",\"b\":2}" },
	{ " { \"a\" : \"x\" ,  \"b\":2 }  ", { NULL, "\"tok\"" },
	  " { \"a\" : \"x\" ,  \"b\":\"tok\" }  " },
	{ "{\"k\\u0065y\":\"v\\n\",\"o\":{\"x\":[1, 2]}}", { "null", "0" },
	  "{\"k\\u0065y\":null,\"o\":0}" },
	{ "{\"a\":1,\"b\":[true],\"c\":\"\\ud83d\\ude00\"}", { NULL, NULL, NULL },
	  "{\"a\":1,\"b\":[true],\"c\":\"\\ud83d\\ude00\"}" },
	{ "{\"a\":1,\"b\":2,\"c\":3}", { "\"x\"", "{\"t\":\"y\"}", "[]" },
	  "{\"a\":\"x\",\"b\":{\"t\":\"y\"},\"c\":[]}" },
	{ "{\"n\":123456789012345678901234567890,\"e\":\"a@b.c\"}", { NULL, "\"tok_1\"" },
	  "{\"n\":123456789012345678901234567890,\"e\":\"tok_1\"}" },
	{ "{}", { NULL }, "{}" },
	{ "{\"a\":\"\"}\t", { "\"\"" }, "{\"a\":\"\"}\t" },
};

static void
test_jsonl_put_line(void)
{
	size_t k;

	for (k = 0; k < NELEM(putline_cases); k++) {
		const struct putline_case *c = &putline_cases[k];
		struct tag_jsonl_reader *r;
		struct tag_jsonl_row row;
		struct tag_ioerr e;
		struct pii_buf in, out;
		FILE *f;

		pii_buf_init(&in, 4096);
		pii_buf_init(&out, 4096);
		pii_buf_puts(&in, c->line);
		pii_buf_puts(&in, "\r\n");
		f = input(in.data, in.len);
		r = tag_jsonl_reader_new(f, 0);
		if (tag_jsonl_read(r, &row, &e) == 1) {
			tag_jsonl_put_line(&out, &row, c->repl);
			CHECK_STR(out.len ? out.data : "", c->want, "put_line row %zu", k);
		} else {
			CHECK(0, "put_line row %zu: line read (%s)", k, e.msg);
		}
		tag_jsonl_reader_free(r);
		fclose(f);
		pii_buf_free(&in);
		pii_buf_free(&out);
	}
}

int
main(void)
{
	test_csv_table();
	test_csv_sticky();
	test_csv_many_fields();
	test_csv_big();
	test_csv_put_field();
	test_jsonl_table();
	test_jsonl_limits();
	test_jsonl_big();
	test_jsonl_put_line();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
