/*
 * buf.c - bounded growable buffers.
 */
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "buf.h"

void
pii_buf_init(struct pii_buf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

void
pii_buf_free(struct pii_buf *b)
{
	if (b->data != NULL) {
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->cap = 0;
}

void
pii_buf_reset(struct pii_buf *b)
{
	if (b->data != NULL)
		sodium_memzero(b->data, b->len);
	b->len = 0;
	b->failed = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

static int
reserve(struct pii_buf *b, size_t n)
{
	size_t need, ncap;
	char *nd;

	if (b->failed)
		return -1;
	if (n > b->max || b->len > b->max - n) {
		b->failed = 1;
		return -1;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	ncap = b->cap ? b->cap : 256;
	while (ncap < need)
		ncap *= 2;
	nd = malloc(ncap);
	if (nd == NULL) {
		b->failed = 1;
		return -1;
	}
	if (b->data != NULL) {
		memcpy(nd, b->data, b->len);
		sodium_memzero(b->data, b->cap);
		free(b->data);
	}
	b->data = nd;
	b->cap = ncap;
	return 0;
}

void
pii_buf_reserve(struct pii_buf *b, size_t n)
{
	(void)reserve(b, n);
}

void
pii_buf_append(struct pii_buf *b, const void *p, size_t n)
{
	if (reserve(b, n) != 0)
		return;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

void
pii_buf_puts(struct pii_buf *b, const char *s)
{
	pii_buf_append(b, s, strlen(s));
}

void
pii_buf_putc(struct pii_buf *b, char c)
{
	if (b->len + 2 <= b->cap && !b->failed && b->len < b->max) {
		b->data[b->len++] = c;   /* room checked: the common case */
		b->data[b->len] = '\0';
		return;
	}
	pii_buf_append(b, &c, 1);
}

void
pii_buf_hex(struct pii_buf *b, const unsigned char *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	if (reserve(b, n * 2) != 0)
		return;
	for (i = 0; i < n; i++) {
		b->data[b->len++] = digits[p[i] >> 4];
		b->data[b->len++] = digits[p[i] & 15];
	}
	b->data[b->len] = '\0';
}

void
pii_buf_array_elem(struct pii_buf *b, const char *s)
{
	if (b->len > 0 && b->data[b->len - 1] != '{')
		pii_buf_putc(b, ',');
	pii_buf_putc(b, '"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			pii_buf_putc(b, '\\');
		pii_buf_putc(b, *s);
	}
	pii_buf_putc(b, '"');
}

/* Length of the leading run of s that needs no escape in COPY text. */
static size_t
copy_plain_span(const char *s)
{
	return strcspn(s, "\\\t\n\r");
}

void
pii_buf_copy_field(struct pii_buf *b, const char *s)
{
	for (;;) {
		size_t n = copy_plain_span(s);

		pii_buf_append(b, s, n);
		s += n;
		switch (*s) {
		case '\0':
			return;
		case '\\':
			pii_buf_puts(b, "\\\\");
			break;
		case '\t':
			pii_buf_puts(b, "\\t");
			break;
		case '\n':
			pii_buf_puts(b, "\\n");
			break;
		default:   /* '\r' */
			pii_buf_puts(b, "\\r");
			break;
		}
		s++;
	}
}

/* Length of the leading run of s that needs no escape in a JSON string. */
static size_t
json_plain_span(const char *s)
{
	size_t n = 0;

	while (s[n] != '\0' && s[n] != '"' && s[n] != '\\' &&
	    (unsigned char)s[n] >= 0x20 && s[n] != 0x7f)
		n++;
	return n;
}

void
pii_buf_json_str(struct pii_buf *b, const char *s)
{
	static const char digits[] = "0123456789abcdef";

	pii_buf_putc(b, '"');
	for (;;) {
		size_t n = json_plain_span(s);
		unsigned char c;

		pii_buf_append(b, s, n);
		s += n;
		if ((c = (unsigned char)*s) == '\0')
			break;
		if (c == '"' || c == '\\') {
			pii_buf_putc(b, '\\');
			pii_buf_putc(b, (char)c);
		} else {
			char e[7] = { '\\', 'u', '0', '0', digits[c >> 4],
			    digits[c & 15], 0 };

			pii_buf_puts(b, e);
		}
		s++;
	}
	pii_buf_putc(b, '"');
}

int
pii_base64_chars_ok(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '='))
			return 0;
	}
	return 1;
}
