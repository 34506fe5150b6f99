/*
 * tag_csv.c - the tagger's streaming CSV reader (RFC 4180) and field writer.
 *
 * The reader pulls 64 KiB at a time with fread into a fixed input buffer and
 * runs a small state machine over it (field start, unquoted, quoted, after a
 * closing quote, after a CR), so a record may be split across refills at any
 * byte.  Unquoted runs are scanned with a 256-entry stop table and quoted
 * runs with memchr; each run is copied in one memcpy into the record buffer,
 * where every field ends up unquoted and NUL-terminated.  The record buffer
 * grows up to max_record + 1 bytes and no further: the byte count of the
 * record as read (quotes and terminator included) is checked before every
 * run, and the unquoted copy plus one NUL per field never outgrows it.  Each
 * field is checked for NUL and UTF-8 (overlongs, surrogates, > U+10FFFF and
 * truncated sequences refused) as it completes, eight ASCII bytes at a time.
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

#include "../common/err.h"
#include "tag_io.h"

#define CSV_IBUF (64u * 1024)      /* input buffer, filled by fread */
#define CSV_REC0 4096u             /* first size of the record buffer */
#define CSV_FIELDS0 32u            /* first size of the field arrays */
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
	size_t fcap;
	unsigned long long line;   /* line of the next unread byte */
	int fatal;                 /* a sticky error code, 0 if none */
	struct tag_ioerr fatal_err;
};

/* Bytes that end a run of an unquoted field. */
static const unsigned char csv_stop[256] = {
	[','] = 1, ['"'] = 1, ['\r'] = 1, ['\n'] = 1,
};

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

/* Length of the valid UTF-8 sequence at p[0] (p[0] >= 0x80), 0 if invalid
 * (overlong, surrogate, above U+10FFFF, bad or missing continuation). */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t k, i;

	if (c >= 0xc2 && c <= 0xdf) {
		k = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		k = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		k = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < k || p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return k;
}

#define ONES  0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* 0 if p[0..n) is UTF-8 without NUL, 1 if it holds a NUL, 2 if it is not
 * valid UTF-8.  ASCII goes eight bytes at a time: a word needs a closer
 * look when a byte has its high bit set or is zero. */
static int
field_check(const unsigned char *p, size_t n)
{
	size_t i = 0, k;

	while (i < n) {
		if (n - i >= 8) {
			uint64_t v;

			memcpy(&v, p + i, 8);
			if ((((v - ONES) | v) & HIGHS) == 0) {
				i += 8;
				continue;
			}
		}
		if (p[i] == 0)
			return 1;
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return 2;
		i += k;
	}
	return 0;
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
	r->fcap = CSV_FIELDS0;
	r->ib = malloc(CSV_IBUF);
	r->off = malloc(r->fcap * sizeof(*r->off));
	r->len = malloc(r->fcap * sizeof(*r->len));
	r->ptr = malloc(r->fcap * sizeof(*r->ptr));
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

/* Make room for need bytes in the record buffer (need <= max_record + 1,
 * see the top of the file). */
static int
rec_grow(struct tag_csv_reader *r, size_t need)
{
	size_t ncap = r->rcap ? r->rcap : CSV_REC0;
	char *n;

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

static int
fields_grow(struct tag_csv_reader *r)
{
	size_t ncap = r->fcap * 2;
	size_t *noff, *nlen;
	const char **nptr;

	if (ncap > TAG_IO_MAX_FIELDS)
		ncap = TAG_IO_MAX_FIELDS;
	if ((noff = realloc(r->off, ncap * sizeof(*noff))) == NULL)
		return PII_ERR_NOMEM;
	r->off = noff;
	if ((nlen = realloc(r->len, ncap * sizeof(*nlen))) == NULL)
		return PII_ERR_NOMEM;
	r->len = nlen;
	if ((nptr = realloc(r->ptr, ncap * sizeof(*nptr))) == NULL)
		return PII_ERR_NOMEM;
	r->ptr = nptr;
	r->fcap = ncap;
	return 0;
}

/* The parse of one record, between reads of the input buffer. */
struct csv_rec {
	unsigned long long line;   /* where the record starts */
	size_t raw;                /* bytes of the record read so far */
	size_t nf;                 /* fields begun */
	size_t fstart;             /* offset in rec of the current field */
	int crlf;
	int bad;                   /* first field-level error: 1 NUL, 2 UTF-8 */
	size_t bad_field;          /* its 1-based field number */
};

static int
field_begin(struct tag_csv_reader *r, struct csv_rec *c, struct tag_ioerr *err)
{
	int rc;

	if (c->nf == TAG_IO_MAX_FIELDS)
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
		    "record has more than %d fields", TAG_IO_MAX_FIELDS);
	if (c->nf == r->fcap && (rc = fields_grow(r)) != 0)
		return csv_fail(r, err, rc, 1, c->line, "out of memory");
	c->fstart = r->rlen;
	return 0;
}

static int
field_end(struct tag_csv_reader *r, struct csv_rec *c, struct tag_ioerr *err)
{
	size_t n = r->rlen - c->fstart;
	int rc, bad;

	if (r->rlen + 1 > r->rcap && (rc = rec_grow(r, r->rlen + 1)) != 0)
		return csv_fail(r, err, rc, 1, c->line, "out of memory");
	r->rec[r->rlen++] = '\0';
	r->off[c->nf] = c->fstart;
	r->len[c->nf] = n;
	c->nf++;
	if (c->bad == 0 &&
	    (bad = field_check((const unsigned char *)r->rec + c->fstart, n)) != 0) {
		c->bad = bad;
		c->bad_field = c->nf;
	}
	return 0;
}

static inline int
rec_append(struct tag_csv_reader *r, const unsigned char *p, size_t n)
{
	int rc;

	if (r->rlen + n + 1 > r->rcap && (rc = rec_grow(r, r->rlen + n + 1)) != 0)
		return rc;
	memcpy(r->rec + r->rlen, p, n);
	r->rlen += n;
	return 0;
}

/* What follows a field (after its closing quote, or the stop byte of an
 * unquoted field): ',' or a terminator.  1 when the record is complete. */
static int
field_sep(struct tag_csv_reader *r, struct csv_rec *c, enum csv_state *st,
    unsigned char b, struct tag_ioerr *err)
{
	int rc;

	switch (b) {
	case ',':
		if ((rc = field_end(r, c, err)) != 0)
			return rc;
		*st = ST_FSTART;
		return 0;
	case '\n':
		if ((rc = field_end(r, c, err)) != 0)
			return rc;
		r->line++;
		return 1;
	case '\r':
		if ((rc = field_end(r, c, err)) != 0)
			return rc;
		*st = ST_CR;
		return 0;
	case '"':
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
		    "quote inside unquoted field %zu", c->nf + 1);
	default:
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
		    "characters after the closing quote of field %zu", c->nf + 1);
	}
}

/* Parse one record into r->rec: 1 done, 0 end of input before any byte,
 * negative on a structural error (already in err). */
static int
parse_record(struct tag_csv_reader *r, struct csv_rec *c, struct tag_ioerr *err)
{
	enum csv_state st = ST_FSTART;
	const unsigned char *ib;
	size_t p, lim, room;
	int rc;

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
			if (r->iend == 0) {
				switch (st) {
				case ST_QUOTED:
					return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1,
					    c->line, "unterminated quoted field %zu",
					    c->nf + 1);
				case ST_CR:
					return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1,
					    c->line, "CR not followed by LF after field %zu",
					    c->nf);
				case ST_FSTART:
					if ((rc = field_begin(r, c, err)) != 0)
						return rc;
					/* FALLTHROUGH */
				default:
					if ((rc = field_end(r, c, err)) != 0)
						return rc;
					return 1;
				}
			}
		}
		if (c->raw == r->max_record)
			return csv_fail(r, err, PII_ERR_TOO_LARGE, 1, c->line,
			    "record longer than %zu bytes (in field %zu)",
			    r->max_record, st == ST_CR ? c->nf : c->nf + 1);
		ib = r->ib;
		room = r->max_record - c->raw;
		lim = r->iend - r->ipos > room ? r->ipos + room : r->iend;
		switch (st) {
		case ST_FSTART:
			if ((rc = field_begin(r, c, err)) != 0)
				return rc;
			if (ib[r->ipos] == '"') {
				r->ipos++;
				c->raw++;
				st = ST_QUOTED;
				break;
			}
			st = ST_UNQ;
			/* FALLTHROUGH */
		case ST_UNQ:
			p = r->ipos;
			while (p < lim && !csv_stop[ib[p]])
				p++;
			if (p > r->ipos && rec_append(r, ib + r->ipos, p - r->ipos) != 0)
				return csv_fail(r, err, PII_ERR_NOMEM, 1, c->line,
				    "out of memory");
			c->raw += p - r->ipos;
			r->ipos = p;
			if (p == lim)
				break;
			r->ipos++;
			c->raw++;
			if ((rc = field_sep(r, c, &st, ib[p], err)) != 0)
				return rc;
			break;
		case ST_QUOTED: {
			const unsigned char *s = ib + r->ipos, *e = ib + lim, *q, *nl;

			if ((q = memchr(s, '"', (size_t)(e - s))) != NULL)
				e = q;
			for (nl = s; (nl = memchr(nl, '\n', (size_t)(e - nl))) != NULL; nl++)
				r->line++;
			if (e > s && rec_append(r, s, (size_t)(e - s)) != 0)
				return csv_fail(r, err, PII_ERR_NOMEM, 1, c->line,
				    "out of memory");
			c->raw += (size_t)(e - s);
			r->ipos += (size_t)(e - s);
			if (q != NULL) {
				r->ipos++;
				c->raw++;
				st = ST_QAFTER;
			}
			break;
		}
		case ST_QAFTER:
			r->ipos++;
			c->raw++;
			if (ib[r->ipos - 1] == '"') {
				if (rec_append(r, ib + r->ipos - 1, 1) != 0)
					return csv_fail(r, err, PII_ERR_NOMEM, 1, c->line,
					    "out of memory");
				st = ST_QUOTED;
				break;
			}
			if ((rc = field_sep(r, c, &st, ib[r->ipos - 1], err)) != 0)
				return rc;
			break;
		case ST_CR:
			if (ib[r->ipos] != '\n')
				return csv_fail(r, err, PII_ERR_BAD_REQUEST, 1, c->line,
				    "CR not followed by LF after field %zu", c->nf);
			r->ipos++;
			c->raw++;
			r->line++;
			c->crlf = 1;
			return 1;
		}
	}
}

int
tag_csv_read(struct tag_csv_reader *r, struct tag_csv_row *row,
    struct tag_ioerr *err)
{
	struct csv_rec c;
	size_t i;
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
	if (c.bad == 1)
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 0, c.line,
		    "NUL byte in field %zu", c.bad_field);
	if (c.bad == 2)
		return csv_fail(r, err, PII_ERR_BAD_REQUEST, 0, c.line,
		    "invalid UTF-8 in field %zu", c.bad_field);
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
