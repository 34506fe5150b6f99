/*
 * tag_csv.c - the tagger's streaming CSV reader (RFC 4180) and field writer.
 *
 * The reader pulls 64 KiB at a time with fread into a fixed input buffer and
 * runs a small state machine over it (field start, unquoted, quoted, after a
 * closing quote, after a CR), so a record may be split across refills at any
 * byte.  Unquoted runs are scanned and copied 16 bytes at a time with SSE2
 * (a 256-entry stop table elsewhere and for the tail), quoted runs with
 * memchr and memcpy.  Fields land unquoted and NUL-terminated in the record
 * buffer, which grows up to max_record + 2 bytes and no further: the record's
 * bytes as read (quotes and terminator included) are counted before every
 * chunk, and the copy plus one NUL per field never outgrows them.  NUL bytes
 * are noted during the scan; UTF-8 (overlongs, surrogates, > U+10FFFF and
 * truncated sequences refused) is checked once per record over the whole
 * buffer, eight ASCII bytes at a time: the NULs between fields are ASCII and
 * no sequence can run across one.
 *
 * Errors come in two kinds.  A field-level error (invalid UTF-8, NUL, a
 * ragged row) is found with the record's structure intact: the whole record
 * is consumed and the next read goes on with the next record.  A structural
 * error (quotes, a bare CR, too many fields, a record over the limit, a read
 * error) leaves no safe place to resume, so it is sticky: every later read
 * returns it again.  Buffers are wiped on free, as they hold PII.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../common/err.h"
#include "tag_io.h"
#include "tag_util.h"

#define CSV_IBUF (64u * 1024)      /* input buffer, filled by fread */
#define CSV_REC0 4096u             /* first size of the record buffer */
#define CSV_MAX_LIMIT (SIZE_MAX / 4)

enum csv_state {
	ST_FSTART,    /* at the first byte of a field */
	ST_UNQ,       /* inside an unquoted field */
	ST_QUOTED,    /* inside a quoted field */
	ST_QAFTER,    /* just after a quote inside a quoted field */
	ST_CR         /* just after a CR that ended a field */
};

struct tag_csv_reader {
	FILE *in;                  /* borrowed */
	size_t max_record;
	size_t expect;             /* fields per record, 0: no check */
	unsigned char *ib;         /* CSV_IBUF bytes of input */
	size_t ipos, iend;
	int eof;
	char *rec;                 /* the record's fields, each NUL-terminated */
	size_t rlen, rcap;
	size_t *off, *len;         /* per field: offset in rec, length */
	const char **ptr;          /* per field: rec + off, set when a record is done */
	unsigned long long line;   /* line of the next unread byte */
	int fatal;                 /* a sticky error code, 0 if none */
	struct tag_ioerr fatal_err;
};

/* Bytes that end a run of an unquoted field (NUL: to note it). */
static const unsigned char csv_stop[256] = {
	[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1, ['\0'] = 1,
};

#if defined(__SSE2__)
/* Copy the 16 bytes at p to d and return the position of the first stop
 * byte among them, 16 if none. */
static inline size_t
unq_run16(const unsigned char *p, unsigned char *d)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(',')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
	    _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\r')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('\n'))),
	    _mm_cmpeq_epi8(v, _mm_setzero_si128())));
	unsigned mask = (unsigned)_mm_movemask_epi8(m);

	_mm_storeu_si128((__m128i *)(void *)d, v);
	return mask != 0 ? (size_t)__builtin_ctz(mask) : 16;
}
#endif

static int csv_fail(struct tag_csv_reader *, struct tag_ioerr *, int, int,
    unsigned long long, const char *, ...) __attribute__((format(printf, 6, 7)));

/* Fill err (and the sticky error when fatal) and return code. */
static int
csv_fail(struct tag_csv_reader *r, struct tag_ioerr *err, int code, int fatal,
    unsigned long long line, const char *fmt, ...)
{
	va_list ap;

	err->line = line;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	if (fatal) {
		r->fatal = code;
		r->fatal_err = *err;
	}
	return code;
}

#define HIGHS 0x8080808080808080ull

/* Offset of the first byte of p[0..n) that does not begin a valid UTF-8
 * sequence, or n.  ASCII goes eight bytes at a time. */
static size_t
utf8_bad(const unsigned char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (n - i >= 8) {
			uint64_t v;

			memcpy(&v, p + i, 8);
			if ((v & HIGHS) == 0) {
				i += 8;
				continue;
			}
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = tag_utf8_seq(p + i, n - i)) == 0)
			return i;
		i += k;
	}
	return n;
}

struct tag_csv_reader *
tag_csv_reader_new(FILE *in, size_t max_record)
{
	struct tag_csv_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->in = in;
	if (max_record == 0)
		max_record = TAG_IO_DEFAULT_MAX_RECORD;
	if (max_record > CSV_MAX_LIMIT)
		max_record = CSV_MAX_LIMIT;
	r->max_record = max_record;
	r->line = 1;
	r->ib = malloc(CSV_IBUF);
	r->off = malloc(TAG_IO_MAX_FIELDS * sizeof(*r->off));
	r->len = malloc(TAG_IO_MAX_FIELDS * sizeof(*r->len));
	r->ptr = malloc(TAG_IO_MAX_FIELDS * sizeof(*r->ptr));
	if (r->ib == NULL || r->off == NULL || r->len == NULL || r->ptr == NULL) {
		tag_csv_reader_free(r);
		return NULL;
	}
	return r;
}

void
tag_csv_reader_free(struct tag_csv_reader *r)
{
	if (r == NULL)
		return;
	if (r->ib != NULL)
		sodium_memzero(r->ib, CSV_IBUF);
	if (r->rec != NULL)
		sodium_memzero(r->rec, r->rcap);
	free(r->ib);
	free(r->rec);
	free(r->off);
	free(r->len);
	free(r->ptr);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

void
tag_csv_expect(struct tag_csv_reader *r, size_t n)
{
	r->expect = n;
}

/* Refill the input buffer once it is all consumed: 0, with iend == 0 at
 * end of input, or PII_ERR_IO. */
static int
fill(struct tag_csv_reader *r)
{
	size_t n;

	r->ipos = r->iend = 0;
	if (r->eof)
		return 0;
	n = fread(r->ib, 1, CSV_IBUF, r->in);
	r->iend = n;
	if (n == 0) {
		if (ferror(r->in))
			return PII_ERR_IO;
		r->eof = 1;
	}
	return 0;
}

/* Make room for need bytes in the record buffer, keeping its first r->rlen
 * (need <= max_record + 1, see the top of the file). */
static int
rec_reserve(struct tag_csv_reader *r, size_t need)
{
	size_t ncap = r->rcap ? r->rcap : CSV_REC0;
	char *n;

	if (need <= r->rcap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > r->max_record + 2)
		ncap = r->max_record + 2;
	if (ncap < need)
		return PII_ERR_INTERNAL;
	if ((n = malloc(ncap)) == NULL)
		return PII_ERR_NOMEM;
	if (r->rec != NULL) {
		memcpy(n, r->rec, r->rlen);
		sodium_memzero(r->rec, r->rcap);
		free(r->rec);
	}
	r->rec = n;
	r->rcap = ncap;
	return 0;
}

/* What parse_record found besides the fields. */
struct csv_rec {
	unsigned long long line;   /* where the record starts */
	size_t raw;                /* bytes of the record as read */
	size_t nf;                 /* fields */
	size_t nul_field;          /* first field holding a NUL (1-based), 0: none */
	int crlf;
};

/*
 * Parse one record into r->rec, r->off, r->len: 1 done, 0 end of input
 * before any byte, negative on a structural error (in err, sticky).
 *
 * Each pass of the outer loop takes one chunk: the bytes left in the input
 * buffer, cut at the record limit.  The record buffer is made big enough
 * for the whole chunk first (each byte read adds at most one byte: content,
 * or the NUL that replaces a separator), so the inner loops copy without
 * checks.  The parse state lives in locals and is saved between chunks.
 */
static int
parse_record(struct tag_csv_reader *r, struct csv_rec *c, struct tag_ioerr *err)
{
	enum csv_state st = ST_FSTART;
	const unsigned char *ib = r->ib;
	unsigned char *dst;
	size_t *off = r->off, *len = r->len;
	size_t p, lim, room, rl = 0, nf = 0, fstart = 0, nul_field = 0;
	unsigned char b;
	int rc;

#define FIELD_BEGIN() do {                                              \
	if (nf == TAG_IO_MAX_FIELDS)                                    \
		goto too_many;                                          \
	fstart = rl;                                                    \
} while (0)
#define FIELD_END() do {                                                \
	dst[rl] = '\0';                                                 \
	off[nf] = fstart;                                               \
	len[nf] = rl - fstart;                                          \
	nf++;                                                           \
	rl++;                                                           \
} while (0)

	if (r->ipos == r->iend) {
		if (fill(r) != 0)
			return csv_fail(r, err, PII_ERR_IO, 1, r->line, "read error");
		if (r->iend == 0)
			return 0;
	}
	memset(c, 0, sizeof(*c));
	c->line = r->line;
	r->rlen = 0;
	for (;;) {
		if (r->ipos == r->iend) {
			if (fill(r) != 0)
				return csv_fail(r, err, PII_ERR_IO, 1, c->line,
				    "read error");
			if (r->iend == 0)
				break;
		}
		if (c->raw == r->max_record)
			return csv_fail(r, err, PII_ERR_TOO_LARGE, 1, c->line,
			    "record longer than %zu bytes (in field %zu)",
			    r->max_record, st == ST_CR ? nf : nf + 1);
		p = r->ipos;
		room = r->max_record - c->raw;
		lim = r->iend - p > room ? p + room : r->iend;
		r->rlen = rl;
		if ((rc = rec_reserve(r, rl + (lim - p) + 1)) != 0)
			return csv_fail(r, err, rc, 1, c->line, "out of memory");
		dst = (unsigned char *)r->rec;
		while (p < lim) {
			switch (st) {
			case ST_FSTART:
				FIELD_BEGIN();
				if (ib[p] == '"') {
					p++;
					st = ST_QUOTED;
					continue;
				}
				st = ST_UNQ;
				/* FALLTHROUGH */
			case ST_UNQ:
#if defined(__SSE2__)
				/* 16 at a time while 16 are left: dst has room for
				 * rl + (lim - p) + 1 bytes, so the copy fits. */
				while (lim - p >= 16) {
					size_t k = unq_run16(ib + p, dst + rl);

					rl += k;
					p += k;
					if (k < 16)
						break;
				}
#endif
				while (p < lim && !csv_stop[ib[p]])
					dst[rl++] = ib[p++];
				if (p == lim)
					continue;
				b = ib[p++];
				if (b == ',') {
					FIELD_END();
					st = ST_FSTART;
				} else if (b == '\n') {
					FIELD_END();
					goto record_done;
				} else if (b == '\r') {
					FIELD_END();
					st = ST_CR;
				} else if (b == '\0') {
					if (nul_field == 0)
						nul_field = nf + 1;
					dst[rl++] = b;
				} else {
					goto quote_in_unquoted;
				}
				continue;
			case ST_QUOTED: {
				const unsigned char *s = ib + p, *e = ib + lim, *q, *nl;
				size_t n;

				if ((q = memchr(s, '"', (size_t)(e - s))) != NULL)
					e = q;
				n = (size_t)(e - s);
				for (nl = s; (nl = memchr(nl, '\n', (size_t)(e - nl))) != NULL; nl++)
					r->line++;
				if (nul_field == 0 && memchr(s, '\0', n) != NULL)
					nul_field = nf + 1;
				memcpy(dst + rl, s, n);
				rl += n;
				p += n;
				if (q != NULL) {
					p++;
					st = ST_QAFTER;
				}
				continue;
			}
			case ST_QAFTER:
				b = ib[p++];
				if (b == '"') {
					dst[rl++] = b;
					st = ST_QUOTED;
				} else if (b == ',') {
					FIELD_END();
					st = ST_FSTART;
				} else if (b == '\n') {
					FIELD_END();
					goto record_done;
				} else if (b == '\r') {
					FIELD_END();
					st = ST_CR;
				} else {
					goto after_quote;
				}
				continue;
			case ST_CR:
				if (ib[p] != '\n')
					goto bare_cr;
				p++;
				c->crlf = 1;
				goto record_done;
			}
		}
		c->raw += p - r->ipos;
		r->ipos = p;
	}

	/* end of input */
	switch (st) {
	case ST_QUOTED:
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
		    "unterminated quoted field %zu", nf + 1);
	case ST_CR:
		goto bare_cr;
	case ST_FSTART:
		FIELD_BEGIN();
		/* FALLTHROUGH */
	default:
		r->rlen = rl;
		if ((rc = rec_reserve(r, rl + 1)) != 0)
			return csv_fail(r, err, rc, 1, c->line, "out of memory");
		dst = (unsigned char *)r->rec;
		FIELD_END();
		break;
	}
	r->rlen = rl;
	c->nf = nf;
	c->nul_field = nul_field;
	return 1;

record_done:
	r->line++;
	c->raw += p - r->ipos;
	r->ipos = p;
	r->rlen = rl;
	c->nf = nf;
	c->nul_field = nul_field;
	return 1;

too_many:
	return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
	    "record has more than %d fields", TAG_IO_MAX_FIELDS);
quote_in_unquoted:
	return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
	    "quote inside unquoted field %zu", nf + 1);
after_quote:
	return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
	    "characters after the closing quote of field %zu", nf + 1);
bare_cr:
	return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
	    "CR not followed by LF after field %zu", nf);
#undef FIELD_BEGIN
#undef FIELD_END
}

int
tag_csv_read(struct tag_csv_reader *r, struct tag_csv_row *row,
    struct tag_ioerr *err)
{
	struct csv_rec c;
	size_t i, bad, bad_field = 0;
	int rc;

	if (r->fatal) {
		*err = r->fatal_err;
		return r->fatal;
	}
	for (;;) {
		if ((rc = parse_record(r, &c, err)) <= 0)
			return rc;
		/* A blank line: one empty unquoted field and a terminator. */
		if (c.nf == 1 && r->len[0] == 0 && c.raw == 1 + (size_t)c.crlf)
			continue;
		break;
	}
	/* The separators' NULs are ASCII, and no sequence can span one. */
	if ((bad = utf8_bad((const unsigned char *)r->rec, r->rlen)) < r->rlen) {
		for (bad_field = 1; bad_field < c.nf && r->off[bad_field] <= bad; bad_field++)
			;
	}
	if (c.nul_field != 0 && (bad_field == 0 || c.nul_field <= bad_field))
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 0, c.line,
		    "NUL byte in field %zu", c.nul_field);
	if (bad_field != 0)
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 0, c.line,
		    "invalid UTF-8 in field %zu", bad_field);
	if (r->expect != 0 && c.nf != r->expect)
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 0, c.line,
		    "row has %zu fields, expected %zu", c.nf, r->expect);
	for (i = 0; i < c.nf; i++)
		r->ptr[i] = r->rec + r->off[i];
	row->nfields = c.nf;
	row->field = r->ptr;
	row->len = r->len;
	row->line = c.line;
	row->crlf = c.crlf;
	return 1;
}

/* Bytes that make a field need quotes. */
static const unsigned char csv_special[256] = {
	[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1,
};

void
tag_csv_put_field(struct pii_buf *out, const char *p, size_t n)
{
	const unsigned char *u = (const unsigned char *)p;
	const char *q, *end = p + n;
	size_t i = 0;

	if (n == 0)
		return;
	if (p[0] != ' ' && p[n - 1] != ' ') {
		while (i < n && !csv_special[u[i]])
			i++;
		if (i == n) {
			pii_buf_append(out, p, n);
			return;
		}
	}
	pii_buf_reserve(out, n + 2);
	pii_buf_putc(out, '"');
	while ((q = memchr(p, '"', (size_t)(end - p))) != NULL) {
		pii_buf_append(out, p, (size_t)(q - p) + 1);   /* through the quote */
		pii_buf_putc(out, '"');
		p = q + 1;
	}
	pii_buf_append(out, p, (size_t)(end - p));
	pii_buf_putc(out, '"');
}
