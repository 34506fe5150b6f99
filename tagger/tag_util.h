/*
 * tag_util.h - small helpers shared by the files of libpiitag: the error
 * setter behind every struct piitag_error, UTF-8 sequence checking, a
 * string hash, and the character rule of names sent to the vault.
 */
#ifndef TAG_UTIL_H
#define TAG_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include "piitag.h"

/* Fill err (may be NULL): code, line (0: none), column (NULL: none) and a
 * printf message that must not hold data values.  Returns code. */
int tag_error_set(struct piitag_error *err, int code, unsigned long long line,
    const char *column, const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Length of the valid UTF-8 sequence at p[0] (p[0] >= 0x80, n bytes
 * available), 0 if invalid (overlong, surrogate, above U+10FFFF, bad or
 * missing continuation). */
size_t tag_utf8_seq(const unsigned char *p, size_t n);

/* FNV-1a over p[0..n). */
uint64_t tag_hash(const char *p, size_t n);

/* 1 if s is 1..max characters of [A-Za-z0-9] and the characters of extra
 * (e.g. "._:/-", the vault's rule for source and batch ids). */
int tag_name_ok(const char *s, size_t max, const char *extra);

#endif
