/*
 * vault_normalize.c - the categories and the per-category normalization of
 * vault_normalize.h, applied before a value is tokenized and stored.
 *
 * Every value is first checked to be UTF-8 (shortest form, no surrogates, at
 * most U+10FFFF) without NUL or control characters (C0, DEL, C1), then trimmed
 * of ASCII whitespace and rewritten by its category's rule.  Output goes to the
 * caller's buffer, which is wiped on any failure.  Error messages name the
 * rule that failed and never the value.  Pure functions: no keys, no I/O.
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include <sodium.h>

#include "vault_normalize.h"

#define NORM_INPUT_MAX 65536      /* bytes of a raw value, before trimming */
#define EMAIL_MAX 320             /* 64 local + '@' + 255 domain */
#define NAME_MAX_BYTES 256
#define ADDRESS_MAX 1024
#define SUBJECT_MAX 256
#define CUSTOM_MAX 1024
#define PHONE_MIN_DIGITS 8
#define PHONE_MAX_DIGITS 15
#define IP_TEXT_MAX 64            /* longer than any INET6_ADDRSTRLEN text */

const char *const vault_builtin_categories[] = {
	"email", "phone", "name", "address", "national_id", "card", "iban",
	"ssn", "ip", "dob", NULL
};

/* Output buffer with a fixed capacity; room is kept for the NUL. */
struct nbuf {
	char *p;
	size_t cap;
	size_t n;
	int over;
};

static void
nb_put(struct nbuf *b, char c)
{
	if (b->n + 1 >= b->cap) {
		b->over = 1;
		return;
	}
	b->p[b->n++] = c;
}

static int
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	    c == '\f';
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int
is_upper(unsigned char c)
{
	return c >= 'A' && c <= 'Z';
}

static int
is_lower(unsigned char c)
{
	return c >= 'a' && c <= 'z';
}

/* 0 if s[0..len) is UTF-8 without NUL or control characters; else a
 * PII_ERR_BAD_REQUEST with a message naming the rule. */
static int
utf8_check(const unsigned char *s, size_t len, struct pii_errinfo *ei)
{
	size_t i = 0, need, k;
	uint32_t cp, min;

	while (i < len) {
		unsigned char b = s[i];

		if (b < 0x80) {
			if (b == 0x00)
				return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
				    "value must not contain a NUL byte");
			if (b < 0x20 || b == 0x7f)
				return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
				    "value must not contain control characters");
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			need = 1;
			cp = b & 0x1f;
			min = 0x80;
		} else if (b >= 0xe0 && b <= 0xef) {
			need = 2;
			cp = b & 0x0f;
			min = 0x800;
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3;
			cp = b & 0x07;
			min = 0x10000;
		} else {
			goto bad;
		}
		if (len - i - 1 < need)
			goto bad;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				goto bad;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			goto bad;
		if (cp >= 0x80 && cp <= 0x9f)
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "value must not contain control characters");
		i += need + 1;
	}
	return 0;
bad:
	return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
	    "value must be valid UTF-8");
}

int
vault_category_known(const struct vault_categories *cats, const char *name)
{
	size_t i;

	if (name == NULL)
		return 0;
	for (i = 0; vault_builtin_categories[i] != NULL; i++)
		if (strcmp(name, vault_builtin_categories[i]) == 0)
			return 1;
	if (cats == NULL)
		return 0;
	for (i = 0; i < cats->ncustom && i < VAULT_MAX_CUSTOM_CATEGORIES; i++)
		if (strncmp(name, cats->custom[i], VAULT_CATEGORY_MAX) == 0)
			return 1;
	return 0;
}

int
vault_category_name_valid(const char *name)
{
	size_t i;

	if (name == NULL || !is_lower((unsigned char)name[0]))
		return PII_ERR_CONFIG;
	for (i = 1; name[i] != '\0'; i++) {
		unsigned char c = (unsigned char)name[i];

		if (i >= VAULT_CATEGORY_MAX - 1)
			return PII_ERR_CONFIG;
		if (!is_lower(c) && !is_digit(c) && c != '_')
			return PII_ERR_CONFIG;
	}
	if (strcmp(name, "subject") == 0)
		return PII_ERR_CONFIG;
	for (i = 0; vault_builtin_categories[i] != NULL; i++)
		if (strcmp(name, vault_builtin_categories[i]) == 0)
			return PII_ERR_CONFIG;
	return 0;
}

/* ---- the rules -------------------------------------------------------- */

static int
norm_email(const unsigned char *s, size_t len, struct nbuf *b,
    struct pii_errinfo *ei)
{
	size_t i, at = 0, atpos = 0;

	if (len > EMAIL_MAX)
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL,
		    "email must be at most %d bytes", EMAIL_MAX);
	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (is_ws(c))
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "email must not contain whitespace");
		if (c == '@') {
			at++;
			atpos = i;
		}
		nb_put(b, is_upper(c) ? (char)(c - 'A' + 'a') : (char)c);
	}
	if (at != 1)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "email must contain exactly one '@'");
	if (atpos == 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "email must have a non-empty local part");
	if (atpos == len - 1)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "email must have a non-empty domain");
	return 0;
}

/* E.164.  "+" or "00" starts an international number; otherwise the number
 * is national and gets the default country code, after dropping a leading
 * trunk '0'.  "(0)" after an international prefix is the customary trunk
 * marker ("+44 (0)20 ...") and is dropped. */
static int
norm_phone(const struct vault_categories *cats, const unsigned char *s,
    size_t len, struct nbuf *b, struct pii_errinfo *ei)
{
	char d[PHONE_MAX_DIGITS + 8];
	const char *cc = "";
	size_t i = 0, nd = 0, start = 0, cclen = 0, total;
	int intl = 0, r = 0;

	if (cats != NULL) {
		cc = cats->default_country_code;
		cclen = strnlen(cc, sizeof(cats->default_country_code));
		if (cclen == sizeof(cats->default_country_code) || cclen > 3 ||
		    (cclen > 0 && cc[0] == '0')) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
			    "default country code must be 1..3 digits");
			goto out;
		}
		for (i = 0; i < cclen; i++) {
			if (!is_digit((unsigned char)cc[i])) {
				r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
				    "default country code must be 1..3 digits");
				goto out;
			}
		}
	}
	i = 0;
	if (len > 0 && s[0] == '+') {
		intl = 1;
		i = 1;
	}
	for (; i < len; i++) {
		unsigned char c = s[i];

		if (is_digit(c)) {
			if (nd >= sizeof(d)) {
				r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
				    "phone number must have %d..%d digits",
				    PHONE_MIN_DIGITS, PHONE_MAX_DIGITS);
				goto out;
			}
			d[nd++] = (char)c;
		} else if (c == '(' && intl && nd > 0 && len - i >= 3 &&
		    s[i + 1] == '0' && s[i + 2] == ')') {
			i += 2;
		} else if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') {
			continue;
		} else {
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "phone number may contain only digits, spaces, '-', "
			    "'.', '(', ')' and a leading '+'");
			goto out;
		}
	}
	if (!intl && nd >= 2 && d[0] == '0' && d[1] == '0') {
		intl = 1;
		start = 2;
	} else if (!intl) {
		if (cclen == 0) {
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "national phone number without a configured default "
			    "country code");
			goto out;
		}
		if (nd >= 1 && d[0] == '0')
			start = 1;
	}
	total = (intl ? 0 : cclen) + (nd - start);
	if (total < PHONE_MIN_DIGITS || total > PHONE_MAX_DIGITS) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "phone number must have %d..%d digits after '+'",
		    PHONE_MIN_DIGITS, PHONE_MAX_DIGITS);
		goto out;
	}
	if (intl && d[start] == '0') {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "country code must not start with 0");
		goto out;
	}
	nb_put(b, '+');
	if (!intl)
		for (i = 0; i < cclen; i++)
			nb_put(b, cc[i]);
	for (i = start; i < nd; i++)
		nb_put(b, d[i]);
out:
	sodium_memzero(d, sizeof(d));
	return r;
}

/* name, address: runs of ASCII whitespace become one space (already trimmed). */
static int
norm_collapse(const char *what, size_t max, const unsigned char *s, size_t len,
    struct nbuf *b, struct pii_errinfo *ei)
{
	size_t i;
	int ws = 0;

	if (len == 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "%s must not be empty", what);
	for (i = 0; i < len; i++) {
		if (is_ws(s[i])) {
			ws = 1;
			continue;
		}
		if (ws)
			nb_put(b, ' ');
		ws = 0;
		nb_put(b, (char)s[i]);
	}
	if (b->n > max)
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL,
		    "%s must be at most %zu bytes", what, max);
	return 0;
}

/* subject, custom: trimmed only. */
static int
norm_trim(const char *what, size_t max, const unsigned char *s, size_t len,
    struct nbuf *b, struct pii_errinfo *ei)
{
	size_t i;

	if (len == 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "%s must not be empty", what);
	if (len > max)
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL,
		    "%s must be at most %zu bytes", what, max);
	for (i = 0; i < len; i++)
		nb_put(b, (char)s[i]);
	return 0;
}

/* Characters in skip are dropped; letters uppercased if letters; then the
 * result must be [0-9] (or [0-9A-Z] with letters) of min..max characters. */
static int
norm_alnum(const char *what, const char *skip, int letters, size_t min,
    size_t max, const unsigned char *s, size_t len, struct nbuf *b,
    struct pii_errinfo *ei)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c != 0 && strchr(skip, c) != NULL)
			continue;
		if (letters && is_lower(c))
			c = (unsigned char)(c - 'a' + 'A');
		if (!is_digit(c) && !(letters && is_upper(c)))
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "%s may contain only %s", what, letters ?
			    "letters, digits, spaces and '-'" :
			    "digits, spaces and '-'");
		if (n >= max)
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "%s must have %zu..%zu %s", what, min, max,
			    letters ? "characters" : "digits");
		nb_put(b, (char)c);
		n++;
	}
	if (n < min)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "%s must have %zu..%zu %s", what, min, max,
		    letters ? "characters" : "digits");
	return 0;
}

static int
norm_iban(const unsigned char *s, size_t len, struct nbuf *b,
    struct pii_errinfo *ei)
{
	char v[40];
	size_t i, n = 0;
	int r = 0;

	for (i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == ' ')
			continue;
		if (is_lower(c))
			c = (unsigned char)(c - 'a' + 'A');
		if (!is_digit(c) && !is_upper(c)) {
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "iban may contain only letters, digits and spaces");
			goto out;
		}
		if (n >= 34) {
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
			    "iban must have 15..34 characters");
			goto out;
		}
		v[n++] = (char)c;
	}
	if (n < 15) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "iban must have 15..34 characters");
		goto out;
	}
	if (!is_upper((unsigned char)v[0]) || !is_upper((unsigned char)v[1]) ||
	    !is_digit((unsigned char)v[2]) || !is_digit((unsigned char)v[3])) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "iban must start with two letters and two digits");
		goto out;
	}
	for (i = 0; i < n; i++)
		nb_put(b, v[i]);
out:
	sodium_memzero(v, sizeof(v));
	return r;
}

static int
norm_ip(const unsigned char *s, size_t len, struct nbuf *b,
    struct pii_errinfo *ei)
{
	char text[IP_TEXT_MAX], canon[IP_TEXT_MAX];
	unsigned char addr[16];
	size_t i;
	int r = 0;

	if (len == 0 || len >= sizeof(text)) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "ip must be an IPv4 or IPv6 address");
		goto out;
	}
	memcpy(text, s, len);
	text[len] = '\0';
	if (inet_pton(AF_INET, text, addr) == 1) {
		if (inet_ntop(AF_INET, addr, canon, sizeof(canon)) == NULL)
			r = PII_ERR_INTERNAL;
	} else if (inet_pton(AF_INET6, text, addr) == 1) {
		if (inet_ntop(AF_INET6, addr, canon, sizeof(canon)) == NULL)
			r = PII_ERR_INTERNAL;
	} else {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "ip must be an IPv4 or IPv6 address");
	}
	if (r != 0)
		goto out;
	for (i = 0; canon[i] != '\0'; i++)
		nb_put(b, canon[i]);
out:
	sodium_memzero(text, sizeof(text));
	sodium_memzero(canon, sizeof(canon));
	sodium_memzero(addr, sizeof(addr));
	return r;
}

static int
norm_dob(const unsigned char *s, size_t len, struct nbuf *b,
    struct pii_errinfo *ei)
{
	static const int mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	static const char pat[] = "dddd-dd-dd";
	int y, m, d, dim;
	size_t i;

	if (len != sizeof(pat) - 1)
		goto bad;
	for (i = 0; i < len; i++)
		if (pat[i] == 'd' ? !is_digit(s[i]) : s[i] != (unsigned char)pat[i])
			goto bad;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1 || m < 1 || m > 12)
		goto bad_date;
	dim = mdays[m - 1];
	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		dim = 29;
	if (d < 1 || d > dim)
		goto bad_date;
	for (i = 0; i < len; i++)
		nb_put(b, (char)s[i]);
	return 0;
bad:
	return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
	    "dob must be an ISO date YYYY-MM-DD");
bad_date:
	return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
	    "dob must be a date that exists on the calendar");
}

int
vault_normalize(const struct vault_categories *cats, const char *category,
    const char *in, size_t inlen, char *out, size_t outcap, size_t *outlen,
    struct pii_errinfo *ei)
{
	const unsigned char *s = (const unsigned char *)in;
	struct nbuf b = { out, outcap, 0, 0 };
	size_t len = inlen;
	int r = PII_ERR_INTERNAL, custom = 0;

	if (category == NULL || out == NULL || outcap == 0 || outlen == NULL ||
	    (in == NULL && inlen > 0)) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "invalid arguments to normalize");
		goto out;
	}
	if (strcmp(category, "subject") != 0 && !vault_category_known(cats, category)) {
		r = pii_errinfo_set(ei, PII_ERR_UNKNOWN_CATEGORY, NULL,
		    "unknown data category");
		goto out;
	}
	if (inlen > NORM_INPUT_MAX) {
		r = pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL,
		    "value must be at most %d bytes", NORM_INPUT_MAX);
		goto out;
	}
	if ((r = utf8_check(s, len, ei)) != 0)
		goto out;
	while (len > 0 && is_ws(s[0])) {
		s++;
		len--;
	}
	while (len > 0 && is_ws(s[len - 1]))
		len--;

	if (strcmp(category, "email") == 0)
		r = norm_email(s, len, &b, ei);
	else if (strcmp(category, "phone") == 0)
		r = norm_phone(cats, s, len, &b, ei);
	else if (strcmp(category, "name") == 0)
		r = norm_collapse("name", NAME_MAX_BYTES, s, len, &b, ei);
	else if (strcmp(category, "address") == 0)
		r = norm_collapse("address", ADDRESS_MAX, s, len, &b, ei);
	else if (strcmp(category, "national_id") == 0)
		r = norm_alnum("national_id", " -", 1, 4, 32, s, len, &b, ei);
	else if (strcmp(category, "card") == 0)
		r = norm_alnum("card", " -", 0, 12, 19, s, len, &b, ei);
	else if (strcmp(category, "iban") == 0)
		r = norm_iban(s, len, &b, ei);
	else if (strcmp(category, "ssn") == 0)
		r = norm_alnum("ssn", " -", 0, 9, 9, s, len, &b, ei);
	else if (strcmp(category, "ip") == 0)
		r = norm_ip(s, len, &b, ei);
	else if (strcmp(category, "dob") == 0)
		r = norm_dob(s, len, &b, ei);
	else if (strcmp(category, "subject") == 0)
		r = norm_trim("subject", SUBJECT_MAX, s, len, &b, ei);
	else
		custom = 1;
	if (custom)
		r = norm_trim("value", CUSTOM_MAX, s, len, &b, ei);
	if (r != 0)
		goto out;
	if (b.over) {
		r = pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL,
		    "normalized value does not fit the output buffer");
		goto out;
	}
	out[b.n] = '\0';
	*outlen = b.n;
	r = 0;
out:
	if (r != 0 && out != NULL && outcap > 0)
		sodium_memzero(out, outcap);
	return r;
}
