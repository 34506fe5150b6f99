/*
 * policy_mask.c - the masks a "masked" view shows instead of a value.
 *
 *   email    "alice@example.com"  -> "a***@example.com"
 *   last4    "+82 10-1234-5678"   -> "+** **-****-5678"
 *   last2    "900101-1234567"     -> "******-*****67"
 *   initial  "김민수"             -> "김***"
 *   year     "1990-05-17"         -> "1990-**-**"
 *   redact   anything             -> "[redacted]"
 *
 * What every mask guarantees, whatever the input (values are the vault's
 * normalized values, but a mask must not depend on that):
 * - it never shows the whole value: a one-character local part or value
 *   shows no initial; last4/last2 show at most half of the ASCII digits,
 *   and a value with fewer than two digits becomes one '*' per character;
 * - it never splits a UTF-8 sequence, and writes only valid UTF-8 without
 *   control characters: an invalid byte or a control character that would be
 *   shown becomes '?', so the result can always go into a JSON string;
 * - it writes at most cap bytes including the NUL, else PII_ERR_TOO_LARGE.
 */
#include <string.h>

#include "policy.h"

static const char *const mask_names[] = { "email", "last4", "last2",
	"initial", "year", "redact" };

#define REDACTED "[redacted]"

const char *
pol_mask_name(enum pol_mask m)
{
	if ((unsigned int)m < sizeof(mask_names) / sizeof(mask_names[0]))
		return mask_names[m];
	return "redact";
}

/* Length of the valid UTF-8 sequence at s (n > 0 bytes available), 0 if the
 * bytes there are not one (overlong forms, surrogates and code points above
 * U+10FFFF are invalid). */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < need + 1)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i <= need; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return need + 1;
}

/* A character that may be shown: valid and not a C0/C1 control. */
static int
showable(const unsigned char *s, size_t k)
{
	if (k == 0)
		return 0;
	if (k == 1)
		return s[0] >= 0x20 && s[0] != 0x7f;
	return !(k == 2 && s[0] == 0xc2 && s[1] < 0xa0);
}

struct out {
	char *p;
	size_t cap, n;
	int over;
};

static void
put(struct out *o, const void *s, size_t len)
{
	if (o->over || len + 1 > o->cap - o->n) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->n, s, len);
	o->n += len;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Copy s, replacing what cannot be shown by '?'. */
static void
put_safe(struct out *o, const unsigned char *s, size_t len)
{
	size_t i = 0, k;

	while (i < len) {
		k = utf8_seq(s + i, len - i);
		if (showable(s + i, k)) {
			put(o, s + i, k);
			i += k;
		} else {
			put(o, "?", 1);
			i += k > 0 ? k : 1;
		}
	}
}

/* The first character of s as an initial, if it can be shown and is not the
 * whole of s. */
static void
put_initial(struct out *o, const unsigned char *s, size_t len)
{
	size_t k;

	if (len == 0)
		return;
	k = utf8_seq(s, len);
	if (showable(s, k) && k < len)
		put(o, s, k);
}

static void
mask_email(struct out *o, const unsigned char *s, size_t len)
{
	const unsigned char *at = NULL;
	size_t i;

	for (i = len; i > 0; i--) {
		if (s[i - 1] == '@') {
			at = s + i - 1;
			break;
		}
	}
	if (at == NULL) {
		puts_(o, REDACTED);
		return;
	}
	put_initial(o, s, (size_t)(at - s));
	puts_(o, "***@");
	put_safe(o, at + 1, len - (size_t)(at - s) - 1);
}

/* Every ASCII digit but the last keep (at most half of them) becomes '*';
 * fewer than two digits: every character becomes '*'. */
static void
mask_last(struct out *o, const unsigned char *s, size_t len, size_t keep)
{
	size_t i, k, digits = 0, seen = 0;

	for (i = 0; i < len; i++)
		digits += s[i] >= '0' && s[i] <= '9';
	if (digits < 2) {
		for (i = 0; i < len; i += k > 0 ? k : 1) {
			k = utf8_seq(s + i, len - i);
			put(o, "*", 1);
		}
		return;
	}
	if (keep > digits / 2)
		keep = digits / 2;
	for (i = 0; i < len; ) {
		if (s[i] >= '0' && s[i] <= '9') {
			put(o, seen++ < digits - keep ? "*" : (const char *)s + i, 1);
			i++;
			continue;
		}
		k = utf8_seq(s + i, len - i);
		if (showable(s + i, k))
			put(o, s + i, k);
		else
			put(o, "?", 1);
		i += k > 0 ? k : 1;
	}
}

static int
digits2(const unsigned char *s, int lo, int hi)
{
	int v;

	if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
		return 0;
	v = (s[0] - '0') * 10 + (s[1] - '0');
	return v >= lo && v <= hi;
}

static void
mask_year(struct out *o, const unsigned char *s, size_t len)
{
	if (len == 10 && digits2(s, 0, 99) && digits2(s + 2, 0, 99) &&
	    s[4] == '-' && digits2(s + 5, 1, 12) && s[7] == '-' &&
	    digits2(s + 8, 1, 31)) {
		put(o, s, 4);
		puts_(o, "-**-**");
	} else {
		puts_(o, REDACTED);
	}
}

int
pol_mask_apply(enum pol_mask m, const char *value, size_t len, char *out,
    size_t cap)
{
	const unsigned char *s = (const unsigned char *)value;
	struct out o = { out, cap, 0, 0 };

	if (out == NULL || cap == 0)
		return PII_ERR_TOO_LARGE;
	if (value == NULL)
		len = 0;
	if (len == 0 && m != POL_MASK_REDACT) {
		out[0] = '\0';
		return 0;
	}
	switch (m) {
	case POL_MASK_EMAIL:
		mask_email(&o, s, len);
		break;
	case POL_MASK_LAST4:
		mask_last(&o, s, len, 4);
		break;
	case POL_MASK_LAST2:
		mask_last(&o, s, len, 2);
		break;
	case POL_MASK_INITIAL:
		put_initial(&o, s, len);
		puts_(&o, "***");
		break;
	case POL_MASK_YEAR:
		mask_year(&o, s, len);
		break;
	case POL_MASK_REDACT:
	default:
		puts_(&o, REDACTED);
		break;
	}
	if (o.over) {
		out[0] = '\0';
		return PII_ERR_TOO_LARGE;
	}
	out[o.n] = '\0';
	return 0;
}
