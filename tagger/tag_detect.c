/*
 * tag_detect.c - PII detectors with validators, column-name hints, and the
 * per-column scorer.
 *
 * tag_detect_value() is on the hot path of `pii-tag scan`, so it makes one
 * pass over the trimmed bytes, adding a 64-bit word per byte from a constant
 * table: eight 8-bit counters (digits, letters, '@', '.', ':', '-', ' ', and
 * everything else).  Values longer than TAG_DETECT_MAX_VALUE bytes match
 * nothing, so no counter can overflow.  From those counts it runs only the
 * detectors whose shape is possible (a value with no digit and no '@' or ':'
 * costs the pass and a few compares); each detector then checks the exact
 * grammar and its validator (Luhn, IBAN mod 97 computed digit by digit, the
 * RRN date and check digit, SSN area/group/serial, inet_pton for IPv6).
 * Column-name hints split ASCII names into lowercase words and look up word
 * sequences in a small table by priority (the most specific wins:
 * "email_address" is an email, "remote_addr" an IP), and Korean names by
 * UTF-8 substring.  Everything here is pure: no allocation, no I/O, no
 * global state, only constant tables, so it is thread-safe.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "tag_detect.h"

#define TAG_DETECT_MAX_VALUE 254   /* the longest value any detector accepts (email) */

/* ---- the character-class summary ---------------------------------------- */

/* Field shifts in the summary word: one 8-bit count per class. */
enum {
	SH_DIGIT = 0,
	SH_ALPHA = 8,
	SH_AT = 16,
	SH_DOT = 24,
	SH_COLON = 32,
	SH_DASH = 40,
	SH_SPACE = 48,
	SH_OTHER = 56
};

#define IS_D(c)  ((c) >= '0' && (c) <= '9')
#define IS_A(c)  (((c) >= 'a' && (c) <= 'z') || ((c) >= 'A' && (c) <= 'Z'))
#define CLS(c)   ((uint64_t)1 << (IS_D(c) ? SH_DIGIT : IS_A(c) ? SH_ALPHA : \
	(c) == '@' ? SH_AT : (c) == '.' ? SH_DOT : (c) == ':' ? SH_COLON :  \
	(c) == '-' ? SH_DASH : (c) == ' ' ? SH_SPACE : SH_OTHER))
#define CLS4(c)  CLS(c), CLS((c) + 1), CLS((c) + 2), CLS((c) + 3)
#define CLS16(c) CLS4(c), CLS4((c) + 4), CLS4((c) + 8), CLS4((c) + 12)
#define CLS64(c) CLS16(c), CLS16((c) + 16), CLS16((c) + 32), CLS16((c) + 48)

static const uint64_t cls_tab[256] = {
	CLS64(0), CLS64(64), CLS64(128), CLS64(192)
};

#define FIELD(sum, sh) ((unsigned)(((sum) >> (sh)) & 0xff))

static int
is_digit(unsigned char c)
{
	return (unsigned)(c - '0') < 10u;
}

static int
is_alpha(unsigned char c)
{
	return (unsigned)((c | 0x20) - 'a') < 26u;
}

static int
is_alnum(unsigned char c)
{
	return is_digit(c) || is_alpha(c);
}

static int
is_blank(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int
is_leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
date_exists(unsigned y, unsigned m, unsigned d)
{
	static const unsigned char mdays[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};

	if (m < 1 || m > 12 || d < 1)
		return 0;
	if (m == 2 && is_leap(y))
		return d <= 29;
	return d <= mdays[m - 1];
}

/* Value of n (<= 4) ASCII digits at p; the caller checked they are digits. */
static unsigned
num(const unsigned char *p, size_t n)
{
	unsigned v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v * 10 + (unsigned)(p[i] - '0');
	return v;
}

static int
all_digits(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!is_digit(p[i]))
			return 0;
	return 1;
}

/* ---- email --------------------------------------------------------------- */

/* Email character flags: E_LOCAL for RFC 5322 atext (letters, digits and
 * !#$%&'*+-/=?^_`{|}~) and '.', E_DOT for '.', E_LDH for domain label
 * bytes, E_ALPHA for letters. */
enum { E_LOCAL = 1, E_LDH = 2, E_ALPHA = 4, E_DOT = 8 };

#define IS_ATEXT_SPECIAL(c) ((c) == '!' || (c) == '#' || (c) == '$' ||      \
	(c) == '%' || (c) == '&' || (c) == '\'' || (c) == '*' || (c) == '+' ||  \
	(c) == '-' || (c) == '/' || (c) == '=' || (c) == '?' || (c) == '^' ||  \
	(c) == '_' || (c) == '`' || (c) == '{' || (c) == '|' || (c) == '}' ||  \
	(c) == '~')
#define EF(c)    ((IS_D(c) || IS_A(c) || IS_ATEXT_SPECIAL(c) ? E_LOCAL : 0) | \
	((c) == '.' ? E_LOCAL | E_DOT : 0) | \
	(IS_D(c) || IS_A(c) || (c) == '-' ? E_LDH : 0) | (IS_A(c) ? E_ALPHA : 0))
#define EF4(c)   EF(c), EF((c) + 1), EF((c) + 2), EF((c) + 3)
#define EF16(c)  EF4(c), EF4((c) + 4), EF4((c) + 8), EF4((c) + 12)
#define EF64(c)  EF16(c), EF16((c) + 16), EF16((c) + 32), EF16((c) + 48)

static const unsigned char email_tab[256] = {
	EF64(0), EF64(64), EF64(128), EF64(192)
};

/* local@domain: a dot-atom local part of 1..64 bytes; a domain of two or
 * more LDH labels of 1..63 bytes, none starting or ending with '-', the
 * last one letters only, at least 2.  The caller saw exactly one '@'. */
static int
email_ok(const unsigned char *p, size_t n)
{
	size_t at, i, start;
	unsigned all = E_ALPHA | E_LDH, local = E_LOCAL, prev = 0, dots = 0;

	at = (size_t)((const unsigned char *)memchr(p, '@', n) - p);
	if (at == 0 || at > 64 || n - at - 1 < 4)
		return 0;
	/* Local part: atext runs split by single dots (no branch per byte:
	 * every byte must be E_LOCAL, and no two E_DOT bytes may touch). */
	if (p[0] == '.' || p[at - 1] == '.')
		return 0;
	for (i = 0; i < at; i++) {
		unsigned f = email_tab[p[i]];

		local &= f;
		dots |= prev & f;
		prev = f;
	}
	if (!(local & E_LOCAL) || (dots & E_DOT))
		return 0;
	/* Domain: labels of LDH bytes split by single dots. */
	for (start = i = at + 1; ; i++) {
		if (i < n && p[i] != '.') {
			all &= email_tab[p[i]];
			continue;
		}
		if (i == start || i - start > 63 || p[start] == '-' || p[i - 1] == '-' ||
		    !(all & E_LDH))
			return 0;
		if (i == n)
			break;
		start = i + 1;
		all = E_ALPHA | E_LDH;
	}
	/* The top-level domain: letters only, 2 or more, after at least one dot. */
	return start > at + 1 && i - start >= 2 && (all & E_ALPHA);
}

/* ---- phone --------------------------------------------------------------- */

#define PH_MAXGROUPS 8
#define PH_MAXDIGITS 15

struct phone_parse {
	int plus;                            /* started with '+' */
	int ngroups, ndigits;
	int paren;                           /* index of the "(...)" group, -1 if none */
	unsigned char len[PH_MAXGROUPS];     /* digits per group */
	unsigned char sep[PH_MAXGROUPS];     /* '-', '.', ' ' or 0 before each group */
	unsigned char d[PH_MAXDIGITS];
};

/* Split a phone-shaped value into digit groups.  Between two groups: at most
 * one of '-', '.', ' ', plus at most one parenthesis (')' right after a
 * group, '(' right before one); one pair of parentheses at most, around a
 * single group.  An optional leading '+'; it must end with a digit. */
static int
phone_split(const unsigned char *p, size_t n, struct phone_parse *pp)
{
	size_t i = 0;
	int inparen = 0;

	pp->plus = 0;
	pp->ngroups = 0;
	pp->ndigits = 0;
	pp->paren = -1;
	if (n > 0 && p[0] == '+') {
		pp->plus = 1;
		i = 1;
	}
	while (i < n) {
		unsigned char sep = 0;
		int open = 0, close = 0;
		size_t start;

		for (; i < n && !is_digit(p[i]); i++) {
			unsigned char c = p[i];

			if (c == ')') {
				if (!inparen || close || open || sep)
					return -1;
				close = 1;
				inparen = 0;
			} else if (c == '(') {
				if (inparen || open || pp->paren >= 0)
					return -1;
				open = 1;
			} else if (c == '-' || c == '.' || c == ' ') {
				if (sep || open)
					return -1;
				sep = c;
			} else {
				return -1;
			}
		}
		if (i == n)
			return -1;              /* trailing separator */
		if (pp->ngroups == 0 && (sep || close))
			return -1;              /* leading separator */
		if (pp->ngroups == PH_MAXGROUPS)
			return -1;
		if (open) {
			inparen = 1;
			pp->paren = pp->ngroups;
		}
		start = i;
		for (; i < n && is_digit(p[i]); i++) {
			if (pp->ndigits == PH_MAXDIGITS)
				return -1;
			pp->d[pp->ndigits++] = (unsigned char)(p[i] - '0');
		}
		pp->len[pp->ngroups] = (unsigned char)(i - start);
		pp->sep[pp->ngroups] = sep;
		pp->ngroups++;
	}
	return pp->ngroups > 0 && !inparen ? 0 : -1;
}

static int
kr_mobile_prefix(const struct phone_parse *pp)
{
	unsigned char c;

	if (pp->ndigits != 10 && pp->ndigits != 11)
		return 0;
	c = pp->d[2];
	return pp->d[0] == 0 && pp->d[1] == 1 &&
	    (c == 0 || c == 1 || c == 6 || c == 7 || c == 8 || c == 9);
}

static int
phone_ok(const unsigned char *p, size_t n)
{
	struct phone_parse pp;
	unsigned char s = 0;
	int k, ng;

	if (phone_split(p, n, &pp) != 0)
		return 0;
	ng = pp.ngroups;
	if (pp.plus)    /* E.164: country code (no leading 0) and 8..15 digits */
		return pp.ndigits >= 8 && pp.d[0] != 0;
	if (ng == 1)    /* the only digits-only form: a Korean mobile number */
		return pp.paren < 0 && kr_mobile_prefix(&pp);
	if (pp.paren > 0)
		return 0;
	/* One separator kind after the first group; "(02) " counts as one. */
	for (k = 1; k < ng; k++) {
		if (k == 1 && pp.paren == 0)
			continue;
		if (pp.sep[k] == 0 || (s != 0 && pp.sep[k] != s))
			return 0;
		s = pp.sep[k];
	}
	if (ng == 3 && pp.len[2] == 4) {
		/* Korean mobile 010-1234-5678 / 010 1234 5678 */
		if (pp.len[0] == 3 && (pp.len[1] == 3 || pp.len[1] == 4) &&
		    kr_mobile_prefix(&pp))
			return 1;
		/* Korean landline: 02, 031..064, 070 */
		if ((pp.len[1] == 3 || pp.len[1] == 4) && pp.d[0] == 0 &&
		    ((pp.len[0] == 2 && pp.d[1] == 2) ||
		    (pp.len[0] == 3 && ((pp.d[1] >= 3 && pp.d[1] <= 6 &&
		    pp.d[2] >= 1 && pp.d[2] <= 5) || (pp.d[1] == 7 && pp.d[2] == 0)))))
			return 1;
		/* North American (555) 123-4567, 555-123-4567, 555.123.4567 */
		if (pp.len[0] == 3 && pp.len[1] == 3 && pp.d[0] >= 2)
			return 1;
	}
	/* Generic national: a trunk 0, groups of 2+ digits split by '-' or ' ',
	 * 9..11 digits; not the SSN shape 3-2-4. */
	if (pp.d[0] != 0 || pp.ndigits < 9 || pp.ndigits > 11 || s == '.')
		return 0;
	if (pp.len[0] < 2 || pp.len[0] > 5)
		return 0;
	for (k = 1; k < ng; k++)
		if (pp.len[k] < 2)
			return 0;
	if (ng == 3 && pp.len[0] == 3 && pp.len[1] == 2 && pp.len[2] == 4)
		return 0;
	return 1;
}

/* ---- payment card --------------------------------------------------------- */

static int
card_issuer_known(const unsigned char *d)
{
	unsigned p2 = (unsigned)(d[0] * 10 + d[1]);
	unsigned p3 = p2 * 10 + d[2];
	unsigned p4 = p3 * 10 + d[3];

	if (d[0] == 4)                                  /* Visa */
		return 1;
	if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720))
		return 1;                               /* Mastercard */
	if (p2 == 34 || p2 == 37)                       /* Amex */
		return 1;
	if (p4 == 6011 || (p3 >= 644 && p3 <= 649) || p2 == 65)
		return 1;                               /* Discover */
	if (p4 >= 3528 && p4 <= 3589)                   /* JCB */
		return 1;
	if ((p3 >= 300 && p3 <= 305) || p2 == 36 || p2 == 38)
		return 1;                               /* Diners */
	if (p2 == 62)                                   /* UnionPay */
		return 1;
	if (p2 == 50 || (p2 >= 56 && p2 <= 58) || p4 == 6304 || p4 == 6759 ||
	    (p4 >= 6761 && p4 <= 6763))
		return 1;                               /* Maestro */
	return 0;
}

/* 12..19 digits: one run, or groups of 3..6 digits (the last 1..6) split
 * by single spaces or by single '-', not both.  A 6-7 grouping (a dashed
 * RRN) is not a card.  Luhn in the same pass: the sums with the doubling on
 * even and on odd positions from the left are both kept, and the digit
 * count picks one at the end (the rightmost digit is never doubled). */
static int
card_ok(const unsigned char *p, size_t n)
{
	static const unsigned char dbl[10] = { 0, 2, 4, 6, 8, 1, 3, 5, 7, 9 };
	unsigned char head[4] = { 0, 0, 0, 0 }, sep = 0;
	unsigned even = 0, odd = 0;     /* doubled at even / odd positions */
	size_t i, nd = 0, group = 0;

	for (i = 0; i < n; i++) {
		unsigned c = p[i], v = c - '0';

		if (v < 10) {
			if (nd < 4)
				head[nd] = (unsigned char)v;
			if (nd & 1) {
				even += v;
				odd += dbl[v];
			} else {
				even += dbl[v];
				odd += v;
			}
			nd++;
			group++;
		} else if ((c == ' ' || c == '-') && group >= 3 && group <= 6 &&
		    (sep == 0 || sep == c)) {
			sep = (unsigned char)c;
			group = 0;
		} else {
			return 0;
		}
	}
	if (group == 0 || (sep != 0 && group > 6) || nd < 12 || nd > 19)
		return 0;
	return card_issuer_known(head) && ((nd & 1) ? odd : even) % 10 == 0;
}

/* ---- IBAN ---------------------------------------------------------------- */

#define CC(a, b) (((a) - 'A') * 26 + ((b) - 'A'))

/* IBAN length by country (SWIFT IBAN registry); 0: not an IBAN country. */
static const unsigned char iban_len[26 * 26] = {
	[CC('A', 'D')] = 24, [CC('A', 'E')] = 23, [CC('A', 'L')] = 28,
	[CC('A', 'T')] = 20, [CC('A', 'Z')] = 28, [CC('B', 'A')] = 20,
	[CC('B', 'E')] = 16, [CC('B', 'G')] = 22, [CC('B', 'H')] = 22,
	[CC('B', 'I')] = 27, [CC('B', 'R')] = 29, [CC('B', 'Y')] = 28,
	[CC('C', 'H')] = 21, [CC('C', 'R')] = 22, [CC('C', 'Y')] = 28,
	[CC('C', 'Z')] = 24, [CC('D', 'E')] = 22, [CC('D', 'J')] = 27,
	[CC('D', 'K')] = 18, [CC('D', 'O')] = 28, [CC('E', 'E')] = 20,
	[CC('E', 'G')] = 29, [CC('E', 'S')] = 24, [CC('F', 'I')] = 18,
	[CC('F', 'K')] = 18, [CC('F', 'O')] = 18, [CC('F', 'R')] = 27,
	[CC('G', 'B')] = 22, [CC('G', 'E')] = 22, [CC('G', 'I')] = 23,
	[CC('G', 'L')] = 18, [CC('G', 'R')] = 27, [CC('G', 'T')] = 28,
	[CC('H', 'R')] = 21, [CC('H', 'U')] = 28, [CC('I', 'E')] = 22,
	[CC('I', 'L')] = 23, [CC('I', 'Q')] = 23, [CC('I', 'S')] = 26,
	[CC('I', 'T')] = 27, [CC('J', 'O')] = 30, [CC('K', 'W')] = 30,
	[CC('K', 'Z')] = 20, [CC('L', 'B')] = 28, [CC('L', 'C')] = 32,
	[CC('L', 'I')] = 21, [CC('L', 'T')] = 20, [CC('L', 'U')] = 20,
	[CC('L', 'V')] = 21, [CC('L', 'Y')] = 25, [CC('M', 'C')] = 27,
	[CC('M', 'D')] = 24, [CC('M', 'E')] = 22, [CC('M', 'K')] = 19,
	[CC('M', 'N')] = 20, [CC('M', 'R')] = 27, [CC('M', 'T')] = 31,
	[CC('M', 'U')] = 30, [CC('N', 'I')] = 28, [CC('N', 'L')] = 18,
	[CC('N', 'O')] = 15, [CC('O', 'M')] = 23, [CC('P', 'K')] = 24,
	[CC('P', 'L')] = 28, [CC('P', 'S')] = 29, [CC('P', 'T')] = 25,
	[CC('Q', 'A')] = 29, [CC('R', 'O')] = 24, [CC('R', 'S')] = 22,
	[CC('R', 'U')] = 33, [CC('S', 'A')] = 24, [CC('S', 'C')] = 31,
	[CC('S', 'D')] = 18, [CC('S', 'E')] = 24, [CC('S', 'I')] = 19,
	[CC('S', 'K')] = 24, [CC('S', 'M')] = 27, [CC('S', 'O')] = 23,
	[CC('S', 'T')] = 25, [CC('S', 'V')] = 28, [CC('T', 'L')] = 23,
	[CC('T', 'N')] = 24, [CC('T', 'R')] = 26, [CC('U', 'A')] = 29,
	[CC('V', 'A')] = 22, [CC('V', 'G')] = 24, [CC('X', 'K')] = 20,
};

#define IBAN_MAX 34     /* the longest IBAN any country may have */

/* IBAN character values: '0'..'9' as 0..9, letters of either case as
 * 10..35, anything else B36_BAD. */
#define B36_BAD 0xff
#define B36(c)   (IS_D(c) ? (c) - '0' : ((c) >= 'A' && (c) <= 'Z') ? (c) - 'A' + 10 : \
	((c) >= 'a' && (c) <= 'z') ? (c) - 'a' + 10 : B36_BAD)
#define B36_4(c)  B36(c), B36((c) + 1), B36((c) + 2), B36((c) + 3)
#define B36_16(c) B36_4(c), B36_4((c) + 4), B36_4((c) + 8), B36_4((c) + 12)
#define B36_64(c) B36_16(c), B36_16((c) + 16), B36_16((c) + 32), B36_16((c) + 48)

static const unsigned char b36_tab[256] = {
	B36_64(0), B36_64(64), B36_64(128), B36_64(192)
};

/* Append one IBAN character value v (0..35) to the running remainder: a
 * digit as one decimal digit, a letter as two.  r is reduced mod 97 only
 * once it passes 10^7, so it stays below 2^32 (10^7 * 100 + 35). */
static uint32_t
iban_mod(uint32_t r, unsigned v)
{
	r = r * (v < 10 ? 10u : 100u) + v;
	return r >= 10000000u ? r % 97u : r;
}

/* Country, two check digits, alphanumeric BBAN, the country's length, and
 * mod 97 of BBAN + country + check digits (letters as 10..35) == 1, all in
 * one pass: the first four characters are kept aside and appended last.
 * Either no spaces or single spaces between groups of 4 (the last 1..4). */
static int
iban_ok(const unsigned char *p, size_t n)
{
	unsigned char head[4];
	size_t i, k = 0, group = 0;
	uint32_t r = 0;
	unsigned want = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = p[i];

		if (c == ' ') {
			if (group != 4)
				return 0;
			group = 0;
			continue;
		}
		group++;
		if (k >= 4) {
			unsigned v = b36_tab[c];

			if (v == B36_BAD || k == want)
				return 0;
			r = iban_mod(r, v);
			k++;
			continue;
		}
		head[k++] = c;
		if (k == 4) {
			if (!is_alpha(head[0]) || !is_alpha(head[1]) ||
			    !is_digit(head[2]) || !is_digit(head[3]))
				return 0;
			want = iban_len[CC(head[0] & ~0x20, head[1] & ~0x20)];
			if (want == 0)
				return 0;
		}
	}
	if (k != want || want == 0)
		return 0;
	for (i = 0; i < 4; i++)
		r = iban_mod(r, b36_tab[head[i]]);
	return r % 97u == 1;
}

/* ---- Korean resident registration number --------------------------------- */

/* YYMMDD-GNNNNNC or the same 13 digits without the dash: G gives the century
 * (1,2,5,6: 1900s; 3,4,7,8: 2000s; 9,0: 1800s), the date must exist there,
 * and C = (11 - sum(d[i] * w[i]) % 11) % 10 with w = 2..9,2..5. */
static int
kr_rrn_ok(const unsigned char *p, size_t n)
{
	static const unsigned char w[12] = { 2, 3, 4, 5, 6, 7, 8, 9, 2, 3, 4, 5 };
	unsigned char d[13];
	unsigned sum = 0, y, g;
	size_t i, k = 0;

	if ((n != 13 && n != 14) || (n == 14 && p[6] != '-'))
		return 0;
	for (i = 0; i < n; i++) {
		if (n == 14 && i == 6)
			continue;
		if (!is_digit(p[i]))
			return 0;
		d[k++] = (unsigned char)(p[i] - '0');
	}
	g = d[6];
	y = (unsigned)(d[0] * 10 + d[1]);
	if (g == 1 || g == 2 || g == 5 || g == 6)
		y += 1900;
	else if (g == 3 || g == 4 || g == 7 || g == 8)
		y += 2000;
	else
		y += 1800;
	if (!date_exists(y, (unsigned)(d[2] * 10 + d[3]), (unsigned)(d[4] * 10 + d[5])))
		return 0;
	for (i = 0; i < 12; i++)
		sum += (unsigned)d[i] * w[i];
	return (11 - sum % 11) % 10 == d[12];
}

/* ---- US social security number -------------------------------------------- */

/* AAA-GG-SSSS or AAA GG SSSS; area not 000, 666 or 900-999; group not 00;
 * serial not 0000.  The caller checked the length is 11. */
static int
us_ssn_ok(const unsigned char *p, size_t n)
{
	unsigned area, group, serial;

	if (n != 11 || (p[3] != '-' && p[3] != ' ') || p[6] != p[3])
		return 0;
	if (!all_digits(p, 3) || !all_digits(p + 4, 2) || !all_digits(p + 7, 4))
		return 0;
	area = num(p, 3);
	group = num(p + 4, 2);
	serial = num(p + 7, 4);
	return area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
}

/* ---- IP addresses --------------------------------------------------------- */

/* Exactly four parts of 0..255, no leading zeros.  The caller checked there
 * are only digits and three dots. */
static int
ipv4_ok(const unsigned char *p, size_t n)
{
	size_t i = 0, start;
	int parts = 0;

	for (;;) {
		start = i;
		while (i < n && is_digit(p[i]))
			i++;
		if (i == start || i - start > 3 || (p[start] == '0' && i - start > 1) ||
		    num(p + start, i - start) > 255)
			return 0;
		parts++;
		if (i == n)
			return parts == 4;
		i++;    /* the '.' */
	}
}

#define IPV6_MAX 45     /* INET6_ADDRSTRLEN - 1 */

static int
ipv6_ok(const unsigned char *p, size_t n)
{
	char buf[IPV6_MAX + 1];
	struct in6_addr a;

	if (n > IPV6_MAX)
		return 0;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* ---- dates ---------------------------------------------------------------- */

/* YYYYMMDD, or YYYY-MM-DD with '-', '/' or '.' (the same twice); a real date
 * in 1900..2100. */
static int
date_ok(const unsigned char *p, size_t n)
{
	unsigned y, m, d;

	if (n == 8) {
		if (!all_digits(p, 8))
			return 0;
		m = num(p + 4, 2);
		d = num(p + 6, 2);
	} else {
		if (p[4] != p[7] || (p[4] != '-' && p[4] != '/' && p[4] != '.'))
			return 0;
		if (!all_digits(p, 4) || !all_digits(p + 5, 2) || !all_digits(p + 8, 2))
			return 0;
		m = num(p + 5, 2);
		d = num(p + 8, 2);
	}
	y = num(p, 4);
	return y >= 1900 && y <= 2100 && date_exists(y, m, d);
}

/* ---- one value ------------------------------------------------------------ */

#define BIT(d) (1u << (d))

/* The detectors whose shape the summary allows.  Each test is a handful of
 * compares on the counts; most values (names, amounts, codes, free text)
 * leave none, and cost nothing more than the summary pass. */
static inline unsigned
candidates(uint64_t sum, size_t n)
{
	unsigned dig = FIELD(sum, SH_DIGIT), alpha = FIELD(sum, SH_ALPHA),
	    at = FIELD(sum, SH_AT), dot = FIELD(sum, SH_DOT),
	    colon = FIELD(sum, SH_COLON), dash = FIELD(sum, SH_DASH),
	    space = FIELD(sum, SH_SPACE), other = FIELD(sum, SH_OTHER);
	unsigned c = 0;

	if (at != 0)
		return at == 1 && dot >= 1 && colon == 0 && space == 0 &&
		    alpha >= 2 && n >= 6 ? BIT(TAG_DET_EMAIL) : 0;
	if (colon != 0)
		return colon >= 2 && space == 0 && dash == 0 && other == 0 &&
		    n <= IPV6_MAX ? BIT(TAG_DET_IPV6) : 0;
	if (alpha != 0)
		return alpha >= 2 && dig >= 2 && dig + alpha + space == n &&
		    dig + alpha >= 15 && dig + alpha <= IBAN_MAX ? BIT(TAG_DET_IBAN) : 0;
	if (dig < 4)
		return 0;
	/* Digits and punctuation only from here. */
	if (dot == 3 && dig + 3 == n && n <= 15)
		c |= BIT(TAG_DET_IPV4);
	if (dig == 8 && (n == 8 || (n == 10 && (dash == 2 || dot == 2 || other == 2))))
		c |= BIT(TAG_DET_DATE);
	if (dig == 13 && (n == 13 || (n == 14 && dash == 1)))
		c |= BIT(TAG_DET_KR_RRN);
	if (dig == 9 && n == 11 && (dash == 2 || space == 2))
		c |= BIT(TAG_DET_US_SSN);
	if (dig >= 12 && dig <= 19 && dot == 0 && other == 0)
		c |= BIT(TAG_DET_CARD);
	if (dig >= 8 && dig <= PH_MAXDIGITS)
		c |= BIT(TAG_DET_PHONE);
	return c;
}

/* Run the validators the summary allows.  Shapes that exclude the others
 * return early: an IPv4 address or a date is nothing else, and a value that
 * is a card, an RRN or an SSN can never be a phone number (cards start with
 * 2..6, the phone formats with '+', 0 or a 3-3-4 North American shape;
 * RRNs have 13 digits; SSNs are 3-2-4). */
static unsigned
run_detectors(const unsigned char *p, size_t n, unsigned cand)
{
	unsigned bits = 0;

	if (cand & BIT(TAG_DET_EMAIL))
		return email_ok(p, n) ? BIT(TAG_DET_EMAIL) : 0;
	if (cand & BIT(TAG_DET_IPV6))
		return ipv6_ok(p, n) ? BIT(TAG_DET_IPV6) : 0;
	if (cand & BIT(TAG_DET_IBAN))
		return iban_ok(p, n) ? BIT(TAG_DET_IBAN) : 0;
	if ((cand & BIT(TAG_DET_IPV4)) && ipv4_ok(p, n))
		return BIT(TAG_DET_IPV4);
	if ((cand & BIT(TAG_DET_DATE)) && date_ok(p, n))
		return BIT(TAG_DET_DATE);
	if ((cand & BIT(TAG_DET_US_SSN)) && us_ssn_ok(p, n))
		return BIT(TAG_DET_US_SSN);
	if ((cand & BIT(TAG_DET_KR_RRN)) && kr_rrn_ok(p, n))
		bits |= BIT(TAG_DET_KR_RRN);
	if ((cand & BIT(TAG_DET_CARD)) && card_ok(p, n))
		bits |= BIT(TAG_DET_CARD);
	if (bits == 0 && (cand & BIT(TAG_DET_PHONE)) && phone_ok(p, n))
		bits |= BIT(TAG_DET_PHONE);
	return bits;
}

/* Past this length only an email is possible (the longest other shape is a
 * 45-byte IPv6 address), so a value without '@' needs no summary. */
#define SHORT_SHAPES_MAX 45

/* The detectors for p[0..n), n bytes after trimming. */
static inline unsigned
detect_trimmed(const unsigned char *p, size_t n)
{
	uint64_t sa = 0, sb = 0, sc = 0, sd = 0;
	unsigned cand;
	size_t i;

	if (n == 0 || n > TAG_DETECT_MAX_VALUE)
		return 0;
	if (n > SHORT_SHAPES_MAX && memchr(p, '@', n) == NULL)
		return 0;
	/* Four independent sums; a field is at most n <= 254, so none carries. */
	for (i = 0; i + 4 <= n; i += 4) {
		sa += cls_tab[p[i]];
		sb += cls_tab[p[i + 1]];
		sc += cls_tab[p[i + 2]];
		sd += cls_tab[p[i + 3]];
	}
	for (; i < n; i++)
		sa += cls_tab[p[i]];
	cand = candidates(sa + sb + sc + sd, n);
	return cand != 0 ? run_detectors(p, n, cand) : 0;
}

static inline void
trim(const unsigned char **pp, size_t *np)
{
	const unsigned char *p = *pp;
	size_t n = *np;

	while (n > 0 && is_blank(p[0])) {
		p++;
		n--;
	}
	while (n > 0 && is_blank(p[n - 1]))
		n--;
	*pp = p;
	*np = n;
}

unsigned
tag_detect_value(const char *value, size_t n)
{
	const unsigned char *p = (const unsigned char *)value;

	if (p == NULL)
		return 0;
	trim(&p, &n);
	return detect_trimmed(p, n);
}

static const char *const det_names[TAG_DET_COUNT] = {
	"email", "phone", "card", "iban", "kr_rrn", "us_ssn", "ipv4", "ipv6", "date"
};
static const char *const det_categories[TAG_DET_COUNT] = {
	"email", "phone", "card", "iban", "national_id", "ssn", "ip", "ip", "dob"
};

const char *
tag_detector_name(int det)
{
	return det >= 0 && det < TAG_DET_COUNT ? det_names[det] : "?";
}

const char *
tag_detector_category(int det)
{
	return det >= 0 && det < TAG_DET_COUNT ? det_categories[det] : "?";
}

/* ---- column-name hints ---------------------------------------------------- */

#define HINT_MAXWORDS 16
#define HINT_WORDLEN 32         /* longer words match nothing */
#define HINT_JOINED 96
#define HINT_NGRAM 4            /* words looked up together: "date_of_birth" */

struct words {
	int n;
	char w[HINT_MAXWORDS][HINT_WORDLEN];
};

static const char CAT_EMAIL[] = "email", CAT_PHONE[] = "phone",
    CAT_NAME[] = "name", CAT_ADDRESS[] = "address", CAT_DOB[] = "dob",
    CAT_NATID[] = "national_id", CAT_SSN[] = "ssn", CAT_IP[] = "ip",
    CAT_CARD[] = "card", CAT_IBAN[] = "iban";

/* A word or word sequence (joined without separators) and what it hints at.
 * The highest priority in a name wins, so that compounds beat their parts
 * ("email_address" is an email, "remote_addr" an IP); category NULL marks a
 * compound that is not PII ("mac_address"). */
struct keyword {
	const char *key;
	const char *cat;
	int prio;
};

static const struct keyword ascii_keys[] = {
	{ "ipaddress", CAT_IP, 5 }, { "ipaddr", CAT_IP, 5 },
	{ "remoteaddr", CAT_IP, 5 }, { "remoteaddress", CAT_IP, 5 },
	{ "peeraddr", CAT_IP, 5 }, { "peeraddress", CAT_IP, 5 },
	{ "clientaddr", CAT_IP, 5 }, { "srcaddr", CAT_IP, 5 },
	{ "sourceaddr", CAT_IP, 5 }, { "xforwardedfor", CAT_IP, 5 },
	{ "emailaddress", CAT_EMAIL, 5 }, { "emailaddr", CAT_EMAIL, 5 },
	{ "mailaddress", CAT_EMAIL, 5 },
	{ "macaddress", NULL, 5 }, { "macaddr", NULL, 5 },
	{ "hwaddress", NULL, 5 }, { "hwaddr", NULL, 5 },
	{ "serveraddress", NULL, 5 }, { "serveraddr", NULL, 5 },
	{ "hostaddress", NULL, 5 }, { "hostaddr", NULL, 5 },
	{ "walletaddress", NULL, 5 }, { "contractaddress", NULL, 5 },
	{ "webaddress", NULL, 5 }, { "bindaddress", NULL, 5 },
	{ "bindaddr", NULL, 5 }, { "listenaddress", NULL, 5 },
	{ "listenaddr", NULL, 5 }, { "memoryaddress", NULL, 5 },
	{ "baseaddress", NULL, 5 }, { "gatewayaddress", NULL, 5 },

	{ "dob", CAT_DOB, 4 }, { "birthday", CAT_DOB, 4 },
	{ "birthdate", CAT_DOB, 4 }, { "birthdt", CAT_DOB, 4 },
	{ "dateofbirth", CAT_DOB, 4 },
	{ "ssn", CAT_SSN, 4 }, { "socialsecurity", CAT_SSN, 4 },
	{ "socialsecuritynumber", CAT_SSN, 4 }, { "socialsecurityno", CAT_SSN, 4 },
	{ "rrn", CAT_NATID, 4 }, { "residentregistrationnumber", CAT_NATID, 4 },
	{ "residentregistrationno", CAT_NATID, 4 },
	{ "nationalid", CAT_NATID, 4 }, { "nationalidnumber", CAT_NATID, 4 },
	{ "nid", CAT_NATID, 4 }, { "jumin", CAT_NATID, 4 },
	{ "juminno", CAT_NATID, 4 }, { "juminnumber", CAT_NATID, 4 },
	{ "card", CAT_CARD, 4 }, { "cardnumber", CAT_CARD, 4 },
	{ "cardno", CAT_CARD, 4 }, { "cardnum", CAT_CARD, 4 },
	{ "creditcard", CAT_CARD, 4 }, { "creditcardnumber", CAT_CARD, 4 },
	{ "ccnumber", CAT_CARD, 4 }, { "ccnum", CAT_CARD, 4 },
	{ "ccno", CAT_CARD, 4 }, { "pan", CAT_CARD, 4 },
	{ "iban", CAT_IBAN, 4 }, { "bankaccountiban", CAT_IBAN, 4 },

	{ "email", CAT_EMAIL, 3 }, { "mail", CAT_EMAIL, 3 },
	{ "ip", CAT_IP, 3 }, { "ipv", CAT_IP, 3 },
	{ "phone", CAT_PHONE, 3 }, { "phonenumber", CAT_PHONE, 3 },
	{ "phoneno", CAT_PHONE, 3 }, { "phonenum", CAT_PHONE, 3 },
	{ "mobile", CAT_PHONE, 3 }, { "mobilenumber", CAT_PHONE, 3 },
	{ "mobileno", CAT_PHONE, 3 }, { "mobilenum", CAT_PHONE, 3 },
	{ "tel", CAT_PHONE, 3 }, { "telno", CAT_PHONE, 3 },
	{ "telephone", CAT_PHONE, 3 }, { "telephonenumber", CAT_PHONE, 3 },
	{ "cell", CAT_PHONE, 3 }, { "cellphone", CAT_PHONE, 3 },
	{ "cellnumber", CAT_PHONE, 3 }, { "msisdn", CAT_PHONE, 3 },
	{ "contactnumber", CAT_PHONE, 3 }, { "contactno", CAT_PHONE, 3 },
	{ "contactphone", CAT_PHONE, 3 },

	{ "birth", CAT_DOB, 2 },

	{ "address", CAT_ADDRESS, 1 }, { "addr", CAT_ADDRESS, 1 },
	{ "street", CAT_ADDRESS, 1 }, { "streetaddress", CAT_ADDRESS, 1 },
};

/* A last word that turns "email_verified", "phone_type", "card_expiry" or
 * "ip_country" into something about the value rather than the value. */
static const char *const qualifier_words[] = {
	"verified", "verify", "verification", "confirmed", "confirm", "valid",
	"validated", "validation", "count", "cnt", "type", "kind", "status",
	"state", "flag", "yn", "enabled", "enable", "disabled", "domain",
	"template", "format", "fmt", "hash", "hashed", "masked", "token",
	"length", "len", "optin", "opt", "consent", "sent", "country", "code",
	"prefix", "ext", "extension", "brand", "expiry", "exp", "expiration",
	"network", "version", "ver", "id", "key", "idx", "seq", "provider",
	"bounce", "bounced", "at", "time", "ts", "timestamp", "date",
	"updated", "created", "changed", "modified", "year", "month", "place",
	"city", "region", "geo", "lat", "lon", "lng", "latitude", "longitude",
	"zip", "postcode", "last", "bin", "issuer", "bank", "allowed",
	"blocked", "list", "server", "host", "os", "app", "device", "model",
	"platform", "carrier", "operator", "browser", "agent", "md", "sha",
};

/* A word anywhere before the match that makes it a flag, a count or a
 * transformed value: "is_mobile", "has_email", "num_phones", "hashed_email". */
static const char *const negator_words[] = {
	"is", "has", "num", "count", "cnt", "total", "hashed", "hash",
	"masked", "encrypted", "enc", "tokenized", "sha", "md",
};

/* Person-name columns: [prefix] form [suffix], the whole name. */
static const char *const name_prefixes[] = {
	"customer", "cust", "client", "contact", "holder", "cardholder",
	"accountholder", "patient", "employee", "emp", "member", "student",
	"recipient", "receiver", "sender", "beneficiary", "owner", "real",
	"maiden", "mothersmaiden", "mothermaiden", "guardian",
	"parent", "person", "applicant", "subscriber", "buyer", "passenger",
	"guest", "tenant", "payer", "payee", "shipping", "billing", "english",
	"eng", "korean", "kor", "kr", "en", "ko", "hangul", "latin", "native",
	"romanized", "user",
};
static const char *const name_forms[] = {
	"name", "fullname", "firstname", "lastname", "givenname", "familyname",
	"middlename", "surname", "forename", "namefirst", "namelast",
	"namefull", "fname", "lname",
};
static const char *const name_suffixes[] = {
	"", "kr", "ko", "kor", "korean", "en", "eng", "english",
};
/* Whole names that are person names without a form word. */
static const char *const name_whole[] = {
	"cardholder", "accountholder",
};

static int
in_list(const char *s, const char *const *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return 1;
	return 0;
}

#define IN_LIST(s, list) in_list((s), (list), sizeof(list) / sizeof((list)[0]))

/* Split an ASCII column name into lowercase words: on any byte that is not a
 * letter or digit, on lower-to-upper ("firstName"), before the last capital
 * of a run followed by a lowercase letter ("IPAddress"), and between letters
 * and digits.  Words of digits are dropped; bytes >= 0x80 separate words. */
static void
split_words(const char *name, struct words *ws)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i, len = 0;
	int skip = 0;

	ws->n = 0;
	for (i = 0; ; i++) {
		unsigned char c = p[i], prev = i > 0 ? p[i - 1] : 0;
		int brk;

		if (c == '\0' || !is_alnum(c)) {
			brk = 1;
		} else if (len == 0) {
			brk = 0;
		} else if (is_digit(c) != is_digit(prev)) {
			brk = 1;
		} else if (c >= 'A' && c <= 'Z' && prev >= 'a' && prev <= 'z') {
			brk = 1;
		} else if (c >= 'A' && c <= 'Z' && prev >= 'A' && prev <= 'Z' &&
		    p[i + 1] >= 'a' && p[i + 1] <= 'z') {
			brk = 1;
		} else {
			brk = 0;
		}
		if (brk && len > 0) {
			/* Close the word: keep it unless it is digits or too long. */
			if (!skip && !is_digit(ws->w[ws->n][0]))
				ws->w[ws->n++][len] = '\0';
			len = 0;
			skip = 0;
			if (ws->n == HINT_MAXWORDS)
				return;
		}
		if (c == '\0')
			return;
		if (!is_alnum(c))
			continue;
		if (len + 1 >= HINT_WORDLEN) {
			skip = 1;
			len++;
			continue;
		}
		ws->w[ws->n][len++] = (char)(c | (is_alpha(c) ? 0x20 : 0));
	}
}

/* Join words [from, to) into buf; 0 if it does not fit. */
static int
join_words(const struct words *ws, int from, int to, char *buf, size_t size)
{
	size_t len = 0, l;
	int i;

	buf[0] = '\0';
	for (i = from; i < to; i++) {
		l = strlen(ws->w[i]);
		if (len + l + 1 > size)
			return 0;
		memcpy(buf + len, ws->w[i], l + 1);
		len += l;
	}
	return 1;
}

static int
is_person_name(const char *joined)
{
	size_t i, j, k, lp, lf, ls, n = strlen(joined);

	if (n == 0)
		return 0;
	if (IN_LIST(joined, name_whole))
		return 1;
	for (i = 0; i <= sizeof(name_prefixes) / sizeof(name_prefixes[0]); i++) {
		/* i == number of prefixes stands for no prefix */
		const char *pre = i < sizeof(name_prefixes) / sizeof(name_prefixes[0]) ?
		    name_prefixes[i] : "";

		lp = strlen(pre);
		if (lp > n || memcmp(joined, pre, lp) != 0)
			continue;
		for (j = 0; j < sizeof(name_forms) / sizeof(name_forms[0]); j++) {
			const char *form = name_forms[j];

			lf = strlen(form);
			if (lp + lf > n || memcmp(joined + lp, form, lf) != 0)
				continue;
			/* "user_name" is an account handle; "user_first_name" is not. */
			if (strcmp(form, "name") == 0 && strcmp(pre, "user") == 0)
				continue;
			for (k = 0; k < sizeof(name_suffixes) / sizeof(name_suffixes[0]); k++) {
				ls = strlen(name_suffixes[k]);
				if (lp + lf + ls == n &&
				    memcmp(joined + lp + lf, name_suffixes[k], ls) == 0)
					return 1;
			}
		}
	}
	return 0;
}

struct hint_match {
	const char *cat;
	int prio;       /* 0: no match */
};

static void
ascii_hint(const char *name, struct hint_match *m)
{
	struct words ws;
	char buf[HINT_JOINED];
	int i, j, k, best_from = 0, best_to = 0;
	size_t e;

	m->cat = NULL;
	m->prio = 0;
	split_words(name, &ws);
	if (ws.n == 0)
		return;
	if (join_words(&ws, 0, ws.n, buf, sizeof(buf)) && is_person_name(buf)) {
		m->cat = CAT_NAME;
		m->prio = 1;
		return;
	}
	/* The best keyword over every run of up to HINT_NGRAM words; on equal
	 * priority the later one, the head of an English compound, wins. */
	for (i = 0; i < ws.n; i++) {
		for (j = i + 1; j <= ws.n && j - i <= HINT_NGRAM; j++) {
			if (!join_words(&ws, i, j, buf, sizeof(buf)))
				break;
			for (e = 0; e < sizeof(ascii_keys) / sizeof(ascii_keys[0]); e++) {
				if (ascii_keys[e].prio < m->prio ||
				    strcmp(buf, ascii_keys[e].key) != 0)
					continue;
				m->cat = ascii_keys[e].cat;
				m->prio = ascii_keys[e].prio;
				best_from = i;
				best_to = j;
			}
		}
	}
	if (m->prio == 0)
		return;
	if (best_to < ws.n && IN_LIST(ws.w[ws.n - 1], qualifier_words))
		m->cat = NULL;
	for (k = 0; k < best_from; k++)
		if (IN_LIST(ws.w[k], negator_words))
			m->cat = NULL;
	if (m->cat == NULL)
		m->prio = 0;
}

/* Korean keywords, matched as UTF-8 substrings. */
static const struct keyword korean_keys[] = {
	{ "주민등록번호", CAT_NATID, 4 }, { "주민번호", CAT_NATID, 4 },
	{ "외국인등록번호", CAT_NATID, 4 },
	{ "카드번호", CAT_CARD, 4 },
	{ "생년월일", CAT_DOB, 4 }, { "생일", CAT_DOB, 4 },
	{ "이메일", CAT_EMAIL, 3 }, { "메일", CAT_EMAIL, 3 },
	{ "전자우편", CAT_EMAIL, 3 },
	{ "아이피", CAT_IP, 3 },
	{ "전화", CAT_PHONE, 3 }, { "휴대폰", CAT_PHONE, 3 },
	{ "핸드폰", CAT_PHONE, 3 }, { "연락처", CAT_PHONE, 3 },
	{ "주소", CAT_ADDRESS, 1 },
};

/* A Korean name ending in one of these is about the value, not the value:
 * "이메일수신여부" (email opt-in), "휴대폰인증" (phone verified). */
static const char *const korean_qualifiers[] = {
	"여부", "동의", "유무", "건수", "횟수", "코드", "유형", "인증",
	"일시", "일자", "수신",
};

/* Korean person-name columns: the whole name (ASCII removed) is
 * [person] + 이름/성명/성함, [person] + 명, or one of the person words. */
static const char *const korean_persons[] = {
	"고객", "회원", "직원", "사원", "환자", "학생", "보호자", "신청자",
	"담당자", "대표자", "계약자", "가입자", "주문자", "수취인", "수령인",
	"예금주", "카드소유자", "소유자", "영문", "한글",
};
static const char *const korean_name_forms[] = { "이름", "성명", "성함" };
static const char *const korean_name_whole[] = {
	"예금주", "수취인", "수령인", "받는분", "받는사람",
};

static int
korean_person_name(const char *s, size_t n)
{
	size_t i, j, lp, lf;

	for (i = 0; i < sizeof(korean_name_whole) / sizeof(korean_name_whole[0]); i++)
		if (strlen(korean_name_whole[i]) == n &&
		    memcmp(s, korean_name_whole[i], n) == 0)
			return 1;
	for (i = 0; i <= sizeof(korean_persons) / sizeof(korean_persons[0]); i++) {
		const char *pre = i < sizeof(korean_persons) / sizeof(korean_persons[0]) ?
		    korean_persons[i] : "";

		lp = strlen(pre);
		if (lp > n || memcmp(s, pre, lp) != 0)
			continue;
		for (j = 0; j < sizeof(korean_name_forms) / sizeof(korean_name_forms[0]); j++) {
			lf = strlen(korean_name_forms[j]);
			if (lp + lf == n && memcmp(s + lp, korean_name_forms[j], lf) == 0)
				return 1;
		}
		/* 고객명, 회원명, 예금주명: a person word + 명 */
		if (lp > 0 && n == lp + strlen("명") && memcmp(s + lp, "명", n - lp) == 0)
			return 1;
	}
	return 0;
}

static void
korean_hint(const char *name, struct hint_match *m)
{
	char kbuf[HINT_JOINED];
	size_t i, kn = 0, l;

	m->cat = NULL;
	m->prio = 0;
	/* The non-ASCII bytes only: "고객_이름" reads as "고객이름". */
	for (i = 0; name[i] != '\0'; i++) {
		if ((unsigned char)name[i] < 0x80)
			continue;
		if (kn + 1 == sizeof(kbuf))
			return;         /* too long to be a column name we know */
		kbuf[kn++] = name[i];
	}
	kbuf[kn] = '\0';
	if (kn == 0)
		return;
	if (korean_person_name(kbuf, kn)) {
		m->cat = CAT_NAME;
		m->prio = 1;
		return;
	}
	for (i = 0; i < sizeof(korean_qualifiers) / sizeof(korean_qualifiers[0]); i++) {
		l = strlen(korean_qualifiers[i]);
		if (kn >= l && memcmp(kbuf + kn - l, korean_qualifiers[i], l) == 0)
			return;
	}
	for (i = 0; i < sizeof(korean_keys) / sizeof(korean_keys[0]); i++) {
		if (korean_keys[i].prio > m->prio && strstr(kbuf, korean_keys[i].key) != NULL) {
			m->cat = korean_keys[i].cat;
			m->prio = korean_keys[i].prio;
		}
	}
}

const char *
tag_hint_category(const char *column_name)
{
	struct hint_match a, k;

	if (column_name == NULL)
		return NULL;
	ascii_hint(column_name, &a);
	korean_hint(column_name, &k);
	return k.prio > a.prio ? k.cat : a.cat;
}

/* ---- scoring -------------------------------------------------------------- */

void
tag_score_add(struct tag_score *s, const char *value, size_t n)
{
	const unsigned char *p = (const unsigned char *)value;
	unsigned bits;
	int d;

	s->values++;
	if (p == NULL)
		return;
	trim(&p, &n);
	if (n == 0)
		return;
	s->nonempty++;
	bits = detect_trimmed(p, n);
	for (d = 0; bits != 0; d++, bits >>= 1)
		if (bits & 1u)
			s->matched[d]++;
}

int
tag_score_finding(const struct tag_score *s, const char *name,
    double threshold, struct tag_finding *f)
{
	const char *hint = tag_hint_category(name);
	int d, dob = hint != NULL && strcmp(hint, CAT_DOB) == 0;

	f->detector = -1;
	f->category = NULL;
	f->share = 0;
	f->matched = 0;
	f->sample = s->nonempty;
	f->hint = hint;
	for (d = 0; d < TAG_DET_COUNT && s->nonempty > 0; d++) {
		uint64_t m = 0;
		int e;

		if (d == TAG_DET_DATE && !dob)
			continue;
		/* Detectors of one category count together (ipv4 and ipv6 are
		 * both "ip"; no value is accepted by both): a column of half v4,
		 * half v6 addresses is an ip column at share 1.  The detector
		 * named is the category's busiest. */
		for (e = 0; e < TAG_DET_COUNT; e++)
			if (strcmp(det_categories[e], det_categories[d]) == 0 &&
			    (e != TAG_DET_DATE || dob))
				m += s->matched[e];
		/* Strictly more: on equal counts the lower enum value stays. */
		if (m > f->matched || (m == f->matched && f->detector >= 0 &&
		    strcmp(det_categories[f->detector], det_categories[d]) == 0 &&
		    s->matched[d] > s->matched[f->detector])) {
			f->detector = d;
			f->matched = m;
		}
	}
	if (f->detector >= 0)
		f->share = (double)f->matched / (double)s->nonempty;
	if (f->detector >= 0 && f->share >= threshold)
		f->category = det_categories[f->detector];
	else
		f->category = hint;
	return f->category != NULL;
}
