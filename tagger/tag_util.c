/*
 * tag_util.c - helpers shared inside libpiitag (see tag_util.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "tag_util.h"

int
tag_error_set(struct piitag_error *err, int code, unsigned long long line,
    const char *column, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = code;
		err->line = line;
		if (column != NULL)
			snprintf(err->column, sizeof(err->column), "%s", column);
		va_start(ap, fmt);
		vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
		va_end(ap);
	}
	return code;
}

size_t
tag_utf8_seq(const unsigned char *p, size_t n)
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

uint64_t
tag_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ (unsigned char)p[i]) * 0x100000001b3ull;
	return h;
}

int
tag_name_ok(const char *s, size_t max, const char *extra)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		char c = *s;

		if (n >= max)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr(extra, c) != NULL))
			return 0;
	}
	return n > 0;
}
