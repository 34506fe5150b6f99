/*
 * buf.h - a growable byte buffer with a maximum fixed when it is made.
 *
 * Used to build PostgreSQL array literals and other bounded outputs.  The
 * contents are wiped when the buffer grows or is freed, because it may hold
 * sealed or plain values.
 */
#ifndef PII_BUF_H
#define PII_BUF_H

#include <stddef.h>

struct pii_buf {
	char *data;      /* NUL-terminated when len > 0 */
	size_t len, cap, max;
	int failed;      /* set when an append would pass max or malloc failed */
};

/* Start an empty buffer that may hold at most max bytes. */
void pii_buf_init(struct pii_buf *b, size_t max);
/* Wipe and release the contents; the buffer may be reused after init. */
void pii_buf_free(struct pii_buf *b);
void pii_buf_reset(struct pii_buf *b);   /* len = 0, keep memory (wiped) */

/* Make room for n more bytes now (sets failed past max). */
void pii_buf_reserve(struct pii_buf *b, size_t n);
void pii_buf_append(struct pii_buf *b, const void *p, size_t n);
void pii_buf_puts(struct pii_buf *b, const char *s);
void pii_buf_putc(struct pii_buf *b, char c);
void pii_buf_hex(struct pii_buf *b, const unsigned char *p, size_t n);
/* Append s as one quoted element of a PostgreSQL array literal, preceded by
 * a comma unless the buffer ends with '{'. */
void pii_buf_array_elem(struct pii_buf *b, const char *s);
/* Append s as one field of PostgreSQL's COPY text format (backslash, tab,
 * newline and carriage return escaped). */
void pii_buf_copy_field(struct pii_buf *b, const char *s);
/* 1 if s[0..n) holds only the characters of standard base64
 * ([A-Za-z0-9+/=]).  libsodium 1.0.18's decoder takes any byte >= 0x80 as
 * '/', so text that must be canonical is checked with this first. */
int pii_base64_chars_ok(const char *s, size_t n);
/* Append s (UTF-8) as a quoted JSON string. */
void pii_buf_json_str(struct pii_buf *b, const char *s);

#endif
