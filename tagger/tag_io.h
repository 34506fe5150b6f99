/*
 * tag_io.h - the tagger's streaming readers and writers: CSV (RFC 4180) and
 * JSON Lines.
 *
 * Readers pull one record at a time from a FILE, in memory bounded by the
 * record limit given at creation: a record longer than the limit is an
 * error, never a bigger buffer.  Every error carries the 1-based line number
 * where the offending record starts and a message that names what is wrong
 * ("unterminated quoted field", "invalid UTF-8 in field 3") and never quotes
 * the data.  Field pointers stay valid until the next read or free.
 *
 * After an error that leaves the record's bounds known (CSV: invalid UTF-8,
 * NUL, a ragged row; JSON Lines: anything but a read error or out of memory)
 * the bad record has been consumed and the next read returns the next one.
 * Other errors are sticky: every later read returns the same error again.
 *
 * Writers append to a pii_buf (common/buf.h), which the caller flushes.
 */
#ifndef TAG_IO_H
#define TAG_IO_H

#include <stdio.h>
#include <stddef.h>

#include "../common/buf.h"

#define TAG_IO_DEFAULT_MAX_RECORD (1u << 20)  /* 1 MiB per record / line */
#define TAG_IO_MAX_FIELDS 4096                /* columns per CSV record, members per JSON line */
#define TAG_IO_MSG 160

struct tag_ioerr {
	unsigned long long line;   /* 1-based line where the bad record starts; 0 if none */
	char msg[TAG_IO_MSG];      /* never contains input bytes */
};

/* ---- CSV (RFC 4180) -------------------------------------------------------
 * Fields separated by ',', records by LF or CRLF (both accepted, also mixed);
 * a field may be quoted with '"', and then holds ',', CR, LF and '""' (one
 * quote).  The first record is a header like any other: the reader returns
 * it as a row, and the caller then sets the field count every later record
 * must have (tag_csv_expect).  A final record without a line terminator is
 * accepted.  A blank line (a terminator right after a terminator, outside
 * quotes) is skipped.  Errors (PII_ERR_BAD_REQUEST): unterminated quoted field at
 * end of input, a quote inside an unquoted field, characters after a closing
 * quote, a ragged row, invalid UTF-8 or a NUL byte in a field, more than
 * TAG_IO_MAX_FIELDS fields; PII_ERR_TOO_LARGE: a record over max_record
 * bytes; PII_ERR_IO: a read error. */
struct tag_csv_reader;

struct tag_csv_row {
	size_t nfields;
	const char *const *field;   /* field[i]: unquoted bytes, NUL-terminated */
	const size_t *len;          /* len[i]: byte length of field[i] */
	unsigned long long line;    /* line where this record starts */
	int crlf;                   /* 1 if this record ended with CRLF */
};

/* in is borrowed.  max_record: the most bytes one record may take (as read,
 * quotes and terminator included; 0: TAG_IO_DEFAULT_MAX_RECORD).  NULL on
 * allocation failure. */
struct tag_csv_reader *tag_csv_reader_new(FILE *in, size_t max_record);
void tag_csv_reader_free(struct tag_csv_reader *r);   /* accepts NULL; wipes buffers */
/* Every record from now on must have n fields (0: no check). */
void tag_csv_expect(struct tag_csv_reader *r, size_t n);
/* 1 and *row filled; 0 at end of input; a negative PII_ERR_* with *err. */
int tag_csv_read(struct tag_csv_reader *r, struct tag_csv_row *row,
    struct tag_ioerr *err);

/* Append p[0..n) as one CSV field, quoted when it holds ',', '"', CR or LF
 * or begins or ends with a space (quotes doubled).  An empty field is
 * written as nothing: a record of one empty field must be written as ""
 * by the caller, or it reads back as a blank line. */
void tag_csv_put_field(struct pii_buf *out, const char *p, size_t n);

/* ---- JSON Lines -------------------------------------------------------------
 * One JSON object per line (LF or CRLF).  Lines holding only whitespace are
 * skipped.  A line must be a complete, strict JSON object: invalid JSON,
 * a duplicate key at any depth, invalid UTF-8, NUL (raw or \u0000 in a
 * string), nesting deeper than 32, a top-level value that is not an object,
 * or more than TAG_IO_MAX_FIELDS top-level members are PII_ERR_BAD_REQUEST;
 * a line over max_record bytes is PII_ERR_TOO_LARGE.  Numbers of any size
 * are accepted (kept as their text). */
enum tag_json_kind {
	TAG_JSON_STRING, TAG_JSON_NUMBER, TAG_JSON_TRUE, TAG_JSON_FALSE,
	TAG_JSON_NULL, TAG_JSON_OBJECT, TAG_JSON_ARRAY
};

struct tag_json_member {
	const char *key;            /* decoded, NUL-terminated */
	size_t key_len;
	enum tag_json_kind kind;
	size_t off, len;            /* the value's raw text: line[off .. off+len) */
	const char *str;            /* STRING: decoded text, NUL-terminated; NUMBER:
	                             * the number's text, NUL-terminated; else NULL */
	size_t str_len;
};

struct tag_jsonl_row {
	const char *line;           /* the raw line, without its terminator */
	size_t line_len;
	size_t nmembers;
	const struct tag_json_member *member;   /* top-level members, in order */
	unsigned long long line_no;
	int crlf;
};

struct tag_jsonl_reader;

/* in is borrowed.  max_record: the most bytes one line may take, without
 * its LF or CRLF (0: TAG_IO_DEFAULT_MAX_RECORD).  NULL on allocation
 * failure. */
struct tag_jsonl_reader *tag_jsonl_reader_new(FILE *in, size_t max_record);
void tag_jsonl_reader_free(struct tag_jsonl_reader *r);   /* accepts NULL; wipes */
/* 1 and *row filled; 0 at end of input; a negative PII_ERR_* with *err. */
int tag_jsonl_read(struct tag_jsonl_reader *r, struct tag_jsonl_row *row,
    struct tag_ioerr *err);

/* Append row's line to out with some top-level values replaced: for member
 * i, repl[i] == NULL keeps the original bytes, otherwise repl[i] is JSON
 * text put in place of the value (repl itself may be NULL: keep all).  Every other byte of the line is kept as
 * it was.  No line terminator is appended. */
void tag_jsonl_put_line(struct pii_buf *out, const struct tag_jsonl_row *row,
    const char *const *repl);

#endif
