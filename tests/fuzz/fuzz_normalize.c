/*
 * fuzz_normalize.c - libFuzzer target for vault_normalize.
 *
 * Input: byte 0 chooses the category (low nibble, modulo the table below)
 * and the output capacity (bit 4: tight, just the input length + 1, so that
 * an overrun hits the end of an exact heap block; otherwise roomy); the rest
 * is the raw value.  Checked on every success:
 *  - out is NUL-terminated at *outlen and *outlen == strlen(out);
 *  - out is valid UTF-8 (shortest form, no surrogates, <= U+10FFFF);
 *  - normalizing out again, in the same category, gives out (idempotence:
 *    a stored value and the same value typed again must get one token).
 * On failure: only the documented codes, and out wiped to zero bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../vault/vault_normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const categories[] = {
	"email", "phone", "name", "address", "national_id", "card", "iban",
	"ssn", "ip", "dob", "subject", "loyalty_id",
};
#define NCAT (sizeof(categories) / sizeof(categories[0]))

/* Roomy capacity: more than any rule can produce from size bytes. */
#define ROOMY_EXTRA 64

static struct vault_categories cats;

/* 1 if s[0..n) is well-formed UTF-8. */
static int
utf8_valid(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned char b = s[i];
		size_t need, k;
		uint32_t cp, min;

		if (b < 0x80) {
			i++;
			continue;
		}
		if (b >= 0xc2 && b <= 0xdf) {
			need = 1; cp = b & 0x1f; min = 0x80;
		} else if (b >= 0xe0 && b <= 0xef) {
			need = 2; cp = b & 0x0f; min = 0x800;
		} else if (b >= 0xf0 && b <= 0xf4) {
			need = 3; cp = b & 0x07; min = 0x10000;
		} else {
			return 0;
		}
		if (n - i - 1 < need)
			return 0;
		for (k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += need + 1;
	}
	return 1;
}

static int
all_zero(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct pii_errinfo ei;
	const char *cat;
	const char *in;
	char *out = NULL, *out2 = NULL;
	size_t inlen, cap, cap2, outlen = 0, outlen2 = 0;
	int r, r2;

	if (!inited) {
		memset(&cats, 0, sizeof(cats));
		snprintf(cats.default_country_code,
		    sizeof(cats.default_country_code), "82");
		snprintf(cats.custom[0], sizeof(cats.custom[0]), "loyalty_id");
		cats.ncustom = 1;
		inited = 1;
	}
	if (size < 1)
		return 0;
	cat = categories[(data[0] & 0x0f) % NCAT];
	in = (const char *)data + 1;
	inlen = size - 1;
	cap = (data[0] & 0x10) ? inlen + 1 : inlen + ROOMY_EXTRA;

	/* An exact heap block: ASan reports a write one byte past cap. */
	out = malloc(cap);
	if (out == NULL)
		return 0;
	memset(out, 0x5a, cap);
	pii_errinfo_clear(&ei);
	r = vault_normalize(&cats, cat, in, inlen, out, cap, &outlen, &ei);
	if (r != 0) {
		if (r != PII_ERR_BAD_REQUEST && r != PII_ERR_TOO_LARGE)
			abort();
		if (ei.code != r || memchr(ei.message, '\0',
		    sizeof(ei.message)) == NULL)
			abort();
		if (!all_zero(out, cap))
			abort();   /* a partial result must not linger */
		goto out;
	}
	if (outlen >= cap || out[outlen] != '\0' || strlen(out) != outlen)
		abort();
	if (!utf8_valid((const unsigned char *)out, outlen))
		abort();

	/* Idempotence, with room to spare so a size limit cannot differ. */
	cap2 = outlen + ROOMY_EXTRA;
	if ((out2 = malloc(cap2)) == NULL)
		goto out;
	r2 = vault_normalize(&cats, cat, out, outlen, out2, cap2, &outlen2, &ei);
	if (r2 != 0) {
		fprintf(stderr, "fuzz_normalize: %s: normalized value refused on "
		    "second pass (%d: %s)\n", cat, r2, ei.message);
		abort();
	}
	if (outlen2 != outlen || memcmp(out, out2, outlen) != 0) {
		fprintf(stderr, "fuzz_normalize: %s: not idempotent "
		    "(%zu -> %zu bytes)\n", cat, outlen, outlen2);
		abort();
	}
out:
	free(out);
	free(out2);
	return 0;
}
