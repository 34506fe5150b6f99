/*
 * fuzz_csv.c - libFuzzer target for the tagger's streaming CSV reader and
 * field writer (tagger/tag_csv.c).
 *
 * Each input is a whole CSV stream, read through fmemopen with a 4096-byte
 * record limit until the end or a sticky error.  What the reader says (every
 * record with its line and fields, every error with its code, line and
 * message) must equal what a plain byte-at-a-time reference parser of the
 * same rules, written here, says: that checks the chunking, the SSE2 scan,
 * the refills and the limit against the rules.  One input in three is read
 * behind a 64 KiB prefix record that puts a refill of the reader's input
 * buffer 1 to 64 bytes into the fuzzed bytes.  Every field must be
 * NUL-terminated at its length, hold no NUL and be valid UTF-8 (checked by a
 * decoder of its own); messages must hold only letters, digits and
 * " (),-"; and the first records, written back with tag_csv_put_field, must
 * read back as the same bytes.  Any violation aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/err.h"
#include "../../tagger/tag_io.h"

#define SMALL_MAX 4096
#define PREFIX_MAX (1u << 17)
#define IBUF 65536
#define DUMP_MAX (16u << 20)
#define ROUND_TRIPS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_csv: %s\n", what);
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
		    (*m >= '0' && *m <= '9') || strchr(" (),-", *m) != NULL))
			die("message holds a byte outside its alphabet");
}

static void
put_err(struct pii_buf *out, int code, unsigned long long line, const char *msg)
{
	char head[64];

	snprintf(head, sizeof(head), "!%d@%llu ", code, line);
	pii_buf_puts(out, head);
	pii_buf_puts(out, msg);
	pii_buf_putc(out, '\n');
}

static void
put_rec(struct pii_buf *out, unsigned long long line, int crlf, size_t nf,
    const char *const *f, const size_t *len)
{
	char head[64];
	size_t i;

	snprintf(head, sizeof(head), "%llu%s:", line, crlf ? "r" : "");
	pii_buf_puts(out, head);
	for (i = 0; i < nf; i++) {
		pii_buf_putc(out, '[');
		pii_buf_append(out, f[i], len[i]);
		pii_buf_putc(out, ']');
	}
	pii_buf_putc(out, '\n');
}

/* Write a record with tag_csv_put_field and read it back. */
static void
round_trip(const struct tag_csv_row *row)
{
	struct pii_buf b;
	struct tag_csv_reader *r;
	struct tag_csv_row back;
	struct tag_ioerr e;
	FILE *f;
	size_t i;

	pii_buf_init(&b, DUMP_MAX);
	if (row->nfields == 1 && row->len[0] == 0)
		pii_buf_puts(&b, "\"\"");   /* else it reads back as a blank line */
	for (i = 0; i < row->nfields && !(row->nfields == 1 && row->len[0] == 0); i++) {
		if (i > 0)
			pii_buf_putc(&b, ',');
		tag_csv_put_field(&b, row->field[i], row->len[i]);
	}
	pii_buf_puts(&b, row->crlf ? "\r\n" : "\n");
	if (b.failed)
		die("round trip buffer");
	if ((f = fmemopen(b.data, b.len, "r")) == NULL)
		die("fmemopen");
	if ((r = tag_csv_reader_new(f, b.len)) == NULL)
		die("reader_new");
	if (tag_csv_read(r, &back, &e) != 1 || back.nfields != row->nfields ||
	    back.crlf != row->crlf)
		die("round trip: record not read back");
	for (i = 0; i < row->nfields; i++)
		if (back.len[i] != row->len[i] ||
		    memcmp(back.field[i], row->field[i], row->len[i]) != 0)
			die("round trip: a field differs");
	if (tag_csv_read(r, &back, &e) != 0)
		die("round trip: more than one record");
	tag_csv_reader_free(r);
	fclose(f);
	pii_buf_free(&b);
}

/* What the reader says about in[0..n).  prefix: the length of the prefix
 * record in front of the data (0: none), checked here, not dumped. */
static void
reader_dump(char *in, size_t n, size_t prefix, size_t max, int use_expect,
    struct pii_buf *out)
{
	struct tag_csv_reader *r;
	struct tag_csv_row row;
	struct tag_ioerr e, last;
	unsigned long long prev = 0, lines = 1;
	size_t i, guard, total, returned = 0;
	int prefix_seen = 0;
	const char *nl;
	int rc, lastrc = 0;
	FILE *f;

	for (nl = in; (nl = memchr(nl, '\n', (size_t)(in + n - nl))) != NULL; nl++)
		lines++;
	if ((f = fmemopen(in, n, "r")) == NULL)
		die("fmemopen");
	if ((r = tag_csv_reader_new(f, max)) == NULL)
		die("reader_new");
	memset(&last, 0, sizeof(last));
	for (guard = 0;; guard++) {
		if (guard > n + 2)
			die("no progress");
		memset(&e, 0, sizeof(e));
		rc = tag_csv_read(r, &row, &e);
		if (rc == 0)
			break;
		if (rc < 0) {
			if (rc == lastrc && e.line == last.line &&
			    strcmp(e.msg, last.msg) == 0)
				break;   /* sticky */
			if (rc != PII_ERR_BAD_REQUEST && rc != PII_ERR_TOO_LARGE)
				die("unexpected error code");
			if (prefix > 0 && !prefix_seen)
				die("an error before the prefix record");
			msg_check(e.msg);
			if (e.line <= prev || e.line > lines)
				die("error line out of order or range");
			prev = e.line;
			put_err(out, rc, e.line, e.msg);
			lastrc = rc;
			last = e;
			continue;
		}
		if (rc != 1)
			die("read returned neither 1, 0 nor an error");
		lastrc = 0;
		if (row.line <= prev || row.line > lines)
			die("record line out of order or range");
		prev = row.line;
		if (row.nfields == 0 || row.nfields > TAG_IO_MAX_FIELDS)
			die("field count out of range");
		if (prefix > 0 && !prefix_seen) {
			prefix_seen = 1;
			if (row.line != 1 || row.nfields != 1 || row.len[0] != prefix - 1 ||
			    row.field[0][0] != 'x' || row.field[0][prefix - 2] != 'x')
				die("the prefix record is not read back");
			continue;
		}
		for (i = 0, total = 0; i < row.nfields; i++) {
			if (row.field[i][row.len[i]] != '\0' ||
			    strlen(row.field[i]) != row.len[i])
				die("a field is not NUL-terminated at its length");
			if (!utf8_ok((const unsigned char *)row.field[i], row.len[i]))
				die("accepted invalid UTF-8");
			total += row.len[i];
		}
		if (total > max)
			die("a record holds more than the limit");
		put_rec(out, row.line, row.crlf, row.nfields, row.field, row.len);
		if (returned < ROUND_TRIPS)
			round_trip(&row);
		if (++returned == 1 && use_expect)
			tag_csv_expect(r, row.nfields);
	}
	tag_csv_reader_free(r);
	fclose(f);
}

/* ---- the reference: the rules, one byte at a time ---------------------- */

enum { R_FSTART, R_UNQ, R_QUOTED, R_QAFTER, R_CR };

static size_t ref_off[TAG_IO_MAX_FIELDS], ref_len[TAG_IO_MAX_FIELDS];
static const char *ref_ptr[TAG_IO_MAX_FIELDS];

static void
ref_dump(const char *s, size_t n, unsigned long long line, size_t max,
    int use_expect, struct pii_buf *out)
{
	struct pii_buf rec;
	unsigned long long start;
	size_t i = 0, expect = 0, returned = 0, raw, nf, k, bad;
	char msg[TAG_IO_MSG];
	int st, crlf, done;

	pii_buf_init(&rec, DUMP_MAX);
	while (i < n) {
		start = line;
		raw = nf = 0;
		crlf = done = 0;
		st = R_FSTART;
		pii_buf_reset(&rec);
#define BEGIN() do {                                                    \
	if (nf == TAG_IO_MAX_FIELDS) {                                  \
		snprintf(msg, sizeof(msg), "record has more than %d fields", \
		    TAG_IO_MAX_FIELDS);                                     \
		goto sticky;                                            \
	}                                                               \
	ref_off[nf] = rec.len;                                          \
} while (0)
#define END() do {                                                      \
	ref_len[nf] = rec.len - ref_off[nf];                            \
	pii_buf_putc(&rec, '\0');                                       \
	nf++;                                                           \
} while (0)
		while (!done) {
			unsigned char c;

			if (i == n) {
				if (st == R_QUOTED) {
					snprintf(msg, sizeof(msg),
					    "unterminated quoted field %zu", nf + 1);
					goto sticky;
				}
				if (st == R_CR)
					goto bare_cr;
				if (st == R_FSTART)
					BEGIN();
				END();
				break;
			}
			if (raw == max) {
				snprintf(msg, sizeof(msg),
				    "record longer than %zu bytes (in field %zu)", max,
				    st == R_CR ? nf : nf + 1);
				goto sticky;
			}
			c = (unsigned char)s[i];
			if (st == R_CR) {
				if (c != '\n')
					goto bare_cr;
				crlf = 1;
				line++;
				done = 1;
			} else if (st == R_QUOTED) {
				if (c == '"') {
					st = R_QAFTER;
				} else {
					line += c == '\n';
					pii_buf_putc(&rec, (char)c);
				}
			} else if (st == R_QAFTER && c == '"') {
				pii_buf_putc(&rec, '"');
				st = R_QUOTED;
			} else {
				if (st == R_FSTART) {
					BEGIN();
					st = R_UNQ;
					if (c == '"') {
						st = R_QUOTED;
						i++;
						raw++;
						continue;
					}
				}
				if (c == ',') {
					END();
					st = R_FSTART;
				} else if (c == '\n') {
					END();
					line++;
					done = 1;
				} else if (c == '\r') {
					END();
					st = R_CR;
				} else if (st == R_QAFTER) {
					snprintf(msg, sizeof(msg),
					    "characters after the closing quote of field %zu",
					    nf + 1);
					goto sticky;
				} else if (c == '"') {
					snprintf(msg, sizeof(msg),
					    "quote inside unquoted field %zu", nf + 1);
					goto sticky;
				} else {
					pii_buf_putc(&rec, (char)c);
				}
			}
			i++;
			raw++;
		}
#undef BEGIN
#undef END
		if (rec.failed)
			die("reference buffer");
		if (nf == 1 && ref_len[0] == 0 && raw == 1 + (size_t)crlf)
			continue;   /* blank line */
		for (k = 0; k < nf; k++)
			ref_ptr[k] = rec.data + ref_off[k];
		bad = 0;
		for (k = 0; k < nf && bad == 0; k++) {
			if (memchr(ref_ptr[k], '\0', ref_len[k]) != NULL) {
				snprintf(msg, sizeof(msg), "NUL byte in field %zu", k + 1);
				bad = 1;
			} else if (!utf8_ok((const unsigned char *)ref_ptr[k], ref_len[k])) {
				snprintf(msg, sizeof(msg), "invalid UTF-8 in field %zu", k + 1);
				bad = 1;
			}
		}
		if (bad == 0 && expect != 0 && nf != expect) {
			snprintf(msg, sizeof(msg), "row has %zu fields, expected %zu",
			    nf, expect);
			bad = 1;
		}
		if (bad) {
			put_err(out, PII_ERR_BAD_REQUEST, start, msg);
			continue;
		}
		put_rec(out, start, crlf, nf, ref_ptr, ref_len);
		if (++returned == 1 && use_expect)
			expect = nf;
	}
	pii_buf_free(&rec);
	return;

bare_cr:
	snprintf(msg, sizeof(msg), "CR not followed by LF after field %zu", nf);
sticky:
	put_err(out, strncmp(msg, "record longer", 13) == 0 ? PII_ERR_TOO_LARGE :
	    PII_ERR_BAD_REQUEST, start, msg);
	pii_buf_free(&rec);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pii_buf got, want;
	size_t prefix = 0, max = SMALL_MAX, n, i;
	unsigned sum = 0;
	int use_expect = size % 3 == 1;
	char *in;

	if (size == 0)
		return 0;
	if (size % 3 == 2) {   /* put a refill 1..64 bytes into the data */
		for (i = 0; i < size; i++)
			sum += data[i];
		prefix = IBUF - 1 - sum % 64;
		max = PREFIX_MAX;
	}
	n = prefix + size;
	if ((in = malloc(n)) == NULL)
		return 0;
	if (prefix > 0) {
		memset(in, 'x', prefix - 1);
		in[prefix - 1] = '\n';
	}
	memcpy(in + prefix, data, size);

	pii_buf_init(&got, DUMP_MAX);
	pii_buf_init(&want, DUMP_MAX);
	reader_dump(in, n, prefix, max, use_expect, &got);
	ref_dump(in + prefix, size, prefix > 0 ? 2 : 1, max, use_expect, &want);
	if (got.failed || want.failed)
		die("dump buffer");
	if (got.len != want.len || (got.len > 0 && memcmp(got.data, want.data, got.len) != 0)) {
		fprintf(stderr, "reader:\n%s\nreference:\n%s\n",
		    got.len ? got.data : "", want.len ? want.data : "");
		die("the reader and the reference disagree");
	}
	pii_buf_free(&got);
	pii_buf_free(&want);
	free(in);
	return 0;
}
