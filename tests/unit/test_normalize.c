/*
 * test_normalize.c - unit tests of vault_normalize: one table row per
 * {category, input, expected output or expected error}.
 */
#include <stdio.h>
#include <string.h>

#include "../../vault/vault_normalize.h"
#include "tap.h"

#define NO_CC ((const char *)"")

struct row {
	const char *category;
	const char *in;        /* NUL-terminated unless inlen is set */
	size_t inlen;          /* 0: strlen(in) */
	const char *want;      /* expected output when err == 0 */
	int err;
	const char *cc;        /* default country code; NULL: "82" */
};

static const struct row rows[] = {
	/* email */
	{ "email", " Alice@Example.COM", 0, "alice@example.com", 0, NULL },
	{ "email", "alice@example.com", 0, "alice@example.com", 0, NULL },
	{ "email", "  BOB.Smith+tag@Mail.Example.org  ", 0, "bob.smith+tag@mail.example.org", 0, NULL },
	{ "email", "김민준@example.kr", 0, "김민준@example.kr", 0, NULL },
	{ "email", "alice.example.com", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "alice@@example.com", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "a@b@example.com", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "@example.com", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "alice@", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "al ice@example.com", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "   ", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "alice\t@example.com", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* phone, default country code 82 unless stated */
	{ "phone", "010-1234-5678", 0, "+821012345678", 0, NULL },
	{ "phone", "01012345678", 0, "+821012345678", 0, NULL },
	{ "phone", "+82 10-1234-5678", 0, "+821012345678", 0, NULL },
	{ "phone", "+82 10 1234 5678", 0, "+821012345678", 0, NULL },
	{ "phone", "0082 10 1234 5678", 0, "+821012345678", 0, NULL },
	{ "phone", "(02) 1234-5678", 0, "+82212345678", 0, NULL },
	{ "phone", "(02) 123-4567", 0, "+8221234567", 0, NULL },
	{ "phone", "010.1234.5678", 0, "+821012345678", 0, NULL },
	{ "phone", "+44 (0)20 7946 0958", 0, "+442079460958", 0, NULL },
	{ "phone", "+1 (212) 555-0100", 0, "+12125550100", 0, NO_CC },
	{ "phone", "(212) 555-0100", 0, "+12125550100", 0, "1" },
	{ "phone", "+82 10-1234-5678", 0, "+821012345678", 0, NO_CC },
	{ "phone", "010-1234-5678", 0, NULL, PII_ERR_BAD_REQUEST, NO_CC },
	{ "phone", "+82 123", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "123", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "+1234567890123456", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "010-CALL-NOW", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "010-1234-5678 ext 9", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "+82+1012345678", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "+0821012345678", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "phone", "010-1234-5678", 0, NULL, PII_ERR_CONFIG, "8x" },

	/* name, address */
	{ "name", "김 민준", 0, "김 민준", 0, NULL },
	{ "name", "  김   민준  ", 0, "김 민준", 0, NULL },
	{ "name", "Alice   van  der   Berg", 0, "Alice van der Berg", 0, NULL },
	{ "name", " Ålice Ömer ", 0, "Ålice Ömer", 0, NULL },
	{ "name", "   ", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "name", "Alice\tBerg", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "name", "Alice\nBerg", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "address", " 서울특별시  강남구 테헤란로   123 ", 0, "서울특별시 강남구 테헤란로 123", 0, NULL },

	/* national_id */
	{ "national_id", "900101-1234567", 0, "9001011234567", 0, NULL },
	{ "national_id", "ab 12-34 cd", 0, "AB1234CD", 0, NULL },
	{ "national_id", "12", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "national_id", "12_34", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* card */
	{ "card", "4111 1111 1111 1111", 0, "4111111111111111", 0, NULL },
	{ "card", "4111-1111-1111-1111", 0, "4111111111111111", 0, NULL },
	{ "card", " 378282246310005 ", 0, "378282246310005", 0, NULL },
	{ "card", "41111111111", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "card", "41111111111111111111", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "card", "4111 1111 1111 111x", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* iban */
	{ "iban", "de89 3704 0044 0532 0130 00", 0, "DE89370400440532013000", 0, NULL },
	{ "iban", "GB82WEST12345698765432", 0, "GB82WEST12345698765432", 0, NULL },
	{ "iban", "DE89 3704", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "iban", "1289370400440532013000", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "iban", "DEXX370400440532013000", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "iban", "DE89-3704-0044-0532-0130-00", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "iban", "DE8937040044053201300012345678901234", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* ssn */
	{ "ssn", "123-45-6789", 0, "123456789", 0, NULL },
	{ "ssn", "123 45 6789", 0, "123456789", 0, NULL },
	{ "ssn", "123-45-678", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "ssn", "123-45-67890", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "ssn", "123-45-678A", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* ip */
	{ "ip", "192.168.0.1", 0, "192.168.0.1", 0, NULL },
	{ "ip", " 10.0.0.255 ", 0, "10.0.0.255", 0, NULL },
	{ "ip", "2001:DB8::0:1", 0, "2001:db8::1", 0, NULL },
	{ "ip", "2001:0db8:0000:0000:0000:0000:0000:0001", 0, "2001:db8::1", 0, NULL },
	{ "ip", "::1", 0, "::1", 0, NULL },
	{ "ip", "256.1.1.1", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "ip", "1.2.3", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "ip", "2001:db8:::1", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "ip", "localhost", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "ip", "", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* dob */
	{ "dob", "2024-02-29", 0, "2024-02-29", 0, NULL },
	{ "dob", "2000-02-29", 0, "2000-02-29", 0, NULL },
	{ "dob", " 1990-12-31 ", 0, "1990-12-31", 0, NULL },
	{ "dob", "2023-02-29", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "dob", "1900-02-29", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "dob", "2023-13-01", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "dob", "2023-00-10", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "dob", "2023-04-31", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "dob", "2023-4-1", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "dob", "1990/12/31", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "dob", "0000-01-01", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* subject (not a built-in category, but accepted) */
	{ "subject", "  user:12345 ", 0, "user:12345", 0, NULL },
	{ "subject", "   ", 0, NULL, PII_ERR_BAD_REQUEST, NULL },

	/* custom categories: "loyalty_id" is configured below */
	{ "loyalty_id", "  LY-0042  ", 0, "LY-0042", 0, NULL },
	{ "not_configured", "x", 0, NULL, PII_ERR_UNKNOWN_CATEGORY, NULL },
	{ "Email", "alice@example.com", 0, NULL, PII_ERR_UNKNOWN_CATEGORY, NULL },
	{ "", "x", 0, NULL, PII_ERR_UNKNOWN_CATEGORY, NULL },

	/* UTF-8 and control characters, for every kind of rule */
	{ "name", "Al\xc3" "ice", 0, NULL, PII_ERR_BAD_REQUEST, NULL },        /* truncated */
	{ "name", "\xc0\xaf", 0, NULL, PII_ERR_BAD_REQUEST, NULL },            /* overlong '/' */
	{ "name", "\xe0\x80\xaf", 0, NULL, PII_ERR_BAD_REQUEST, NULL },        /* overlong */
	{ "name", "\xed\xa0\x80", 0, NULL, PII_ERR_BAD_REQUEST, NULL },        /* surrogate */
	{ "name", "\xf4\x90\x80\x80", 0, NULL, PII_ERR_BAD_REQUEST, NULL },    /* > U+10FFFF */
	{ "name", "\xff", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "name", "\x80" "abc", 0, NULL, PII_ERR_BAD_REQUEST, NULL },          /* lone continuation */
	{ "email", "alice@ex\xe4mple.com", 0, NULL, PII_ERR_BAD_REQUEST, NULL }, /* Latin-1 */
	{ "name", "Alice\x01", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "name", "Alice\x7f", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "name", "Alice\xc2\x85", 0, NULL, PII_ERR_BAD_REQUEST, NULL },       /* C1 NEL */
	{ "subject", "user\x1b[31m", 0, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "name", "Alice\0Berg", 10, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "email", "alice@example.com\0", 18, NULL, PII_ERR_BAD_REQUEST, NULL },
	{ "name", "\xf0\x9f\x98\x80 emoji", 0, "\xf0\x9f\x98\x80 emoji", 0, NULL },
};

static void
test_rows(void)
{
	struct vault_categories cats;
	struct pii_errinfo ei;
	char out[512];
	size_t i, inlen, outlen;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];

		memset(&cats, 0, sizeof(cats));
		cats.ncustom = 1;
		snprintf(cats.custom[0], sizeof(cats.custom[0]), "loyalty_id");
		snprintf(cats.default_country_code, sizeof(cats.default_country_code),
		    "%s", w->cc != NULL ? w->cc : "82");
		inlen = w->inlen != 0 ? w->inlen : strlen(w->in);
		memset(out, 'Z', sizeof(out));
		outlen = 9999;
		pii_errinfo_clear(&ei);
		r = vault_normalize(&cats, w->category, w->in, inlen, out,
		    sizeof(out), &outlen, &ei);
		if (w->err == 0) {
			CHECK(r == 0 && outlen == strlen(out),
			    "row %zu %s: accepted (%d %s)", i, w->category, r, ei.message);
			CHECK_STR(r == 0 ? out : "(error)", w->want,
			    "row %zu %s: normalized", i, w->category);
		} else {
			CHECK(r == w->err && outlen == 9999 && out[0] == '\0',
			    "row %zu %s: refused with %d (got %d: %s)", i, w->category,
			    w->err, r, ei.message);
			/* Messages never echo the value. */
			if (inlen > 3 && w->err != PII_ERR_UNKNOWN_CATEGORY)
				CHECK(strstr(ei.message, w->in) == NULL,
				    "row %zu: message does not contain the value", i);
		}
	}
}

static void
test_limits(void)
{
	struct vault_categories cats;
	struct pii_errinfo ei;
	char out[64], big[2048];
	size_t outlen;
	int r;

	memset(&cats, 0, sizeof(cats));
	snprintf(cats.default_country_code, sizeof(cats.default_country_code), "82");

	r = vault_normalize(&cats, "email", "alice@example.com", 17, out, 10,
	    &outlen, &ei);
	CHECK(r == PII_ERR_TOO_LARGE, "output buffer too small -> PII_ERR_TOO_LARGE");
	r = vault_normalize(&cats, "email", "alice@example.com", 17, out, 18,
	    &outlen, &ei);
	CHECK(r == 0 && outlen == 17, "output buffer of exactly len + 1 suffices");

	memset(big, 'a', sizeof(big));
	r = vault_normalize(&cats, "subject", big, 257, out, sizeof(out), &outlen, &ei);
	CHECK(r == PII_ERR_TOO_LARGE, "subject over 256 bytes -> PII_ERR_TOO_LARGE");
	big[0] = 'x';
	big[300] = '@';
	r = vault_normalize(&cats, "email", big, 600, out, sizeof(out), &outlen, &ei);
	CHECK(r == PII_ERR_TOO_LARGE, "email over 320 bytes -> PII_ERR_TOO_LARGE");

	r = vault_normalize(NULL, "phone", "+82 10 1234 5678", 16, out, sizeof(out),
	    &outlen, &ei);
	CHECK(r == 0 && strcmp(out, "+821012345678") == 0,
	    "NULL categories: built-ins work, international phone accepted");
	r = vault_normalize(NULL, "phone", "010-1234-5678", 13, out, sizeof(out),
	    &outlen, &ei);
	CHECK(r == PII_ERR_BAD_REQUEST && strstr(ei.message,
	    "national phone number without a configured default country code") != NULL,
	    "NULL categories: national phone refused with the rule's message");
}

static void
test_categories(void)
{
	static const struct {
		const char *name;
		int want;
	} names[] = {
		{ "loyalty_id", 0 },
		{ "x", 0 },
		{ "a1_b2", 0 },
		{ "abcdefghijklmnopqrstuvwxyz01234", 0 },       /* 31 */
		{ "abcdefghijklmnopqrstuvwxyz012345", PII_ERR_CONFIG }, /* 32 */
		{ "", PII_ERR_CONFIG },
		{ "Loyalty", PII_ERR_CONFIG },
		{ "1abc", PII_ERR_CONFIG },
		{ "_abc", PII_ERR_CONFIG },
		{ "ab-c", PII_ERR_CONFIG },
		{ "email", PII_ERR_CONFIG },
		{ "national_id", PII_ERR_CONFIG },
		{ "subject", PII_ERR_CONFIG },
	};
	struct vault_categories cats;
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		CHECK(vault_category_name_valid(names[i].name) == names[i].want,
		    "custom category name \"%s\" -> %d", names[i].name, names[i].want);
	memset(&cats, 0, sizeof(cats));
	cats.ncustom = 1;
	snprintf(cats.custom[0], sizeof(cats.custom[0]), "loyalty_id");
	for (i = 0; vault_builtin_categories[i] != NULL; i++)
		CHECK(vault_category_known(&cats, vault_builtin_categories[i]) == 1,
		    "built-in %s is known", vault_builtin_categories[i]);
	CHECK(i == 10, "ten built-in categories");
	CHECK(vault_category_known(&cats, "loyalty_id") == 1, "custom category is known");
	CHECK(vault_category_known(NULL, "loyalty_id") == 0,
	    "custom category unknown without config");
	CHECK(vault_category_known(&cats, "subject") == 0,
	    "subject is not a data category");
	CHECK(vault_category_known(&cats, "nope") == 0, "unknown category");
}

int
main(void)
{
	test_rows();
	test_limits();
	test_categories();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
