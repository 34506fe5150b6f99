/*
 * test_detect.c - unit tests of the tagger's detectors, validators,
 * column-name hints and column scorer (tagger/tag_detect.c): one table row
 * per value {input, detector, accepted?}, per exact detector set, per column
 * name {name, category}, and per scored column {name, values, finding}.
 * Check digits in the rows (Luhn, IBAN mod 97, RRN) were computed with an
 * independent implementation, and every checksum case has a one-digit-off
 * twin that must fail.
 */
#include <stdio.h>
#include <string.h>

#include "../../tagger/tag_detect.h"
#include "tap.h"

#define NONE (-1)       /* row.det: no detector may accept the value */

struct row {
	const char *in;
	int det;        /* TAG_DET_x, or NONE */
	int want;       /* 1: det accepts it; 0: det refuses it */
};

static const struct row rows[] = {
	/* email */
	{ "alice@example.com", TAG_DET_EMAIL, 1 },
	{ "Bob.Smith+tag@Mail.Example.org", TAG_DET_EMAIL, 1 },
	{ "  alice@example.com\t", TAG_DET_EMAIL, 1 },
	{ "o'reilly_{x}!#$%&*=?^`|~/-@sub-1.example.co.kr", TAG_DET_EMAIL, 1 },
	{ "a@b.co", TAG_DET_EMAIL, 1 },
	{ "user@123.example.com", TAG_DET_EMAIL, 1 },
	{ "alice.example.com", TAG_DET_EMAIL, 0 },
	{ "alice@@example.com", TAG_DET_EMAIL, 0 },
	{ "a@b@example.com", TAG_DET_EMAIL, 0 },
	{ "@example.com", TAG_DET_EMAIL, 0 },
	{ "alice@", TAG_DET_EMAIL, 0 },
	{ "alice@localhost", TAG_DET_EMAIL, 0 },
	{ "al ice@example.com", TAG_DET_EMAIL, 0 },
	{ ".alice@example.com", TAG_DET_EMAIL, 0 },
	{ "alice.@example.com", TAG_DET_EMAIL, 0 },
	{ "al..ice@example.com", TAG_DET_EMAIL, 0 },
	{ "alice@-example.com", TAG_DET_EMAIL, 0 },
	{ "alice@example-.com", TAG_DET_EMAIL, 0 },
	{ "alice@example..com", TAG_DET_EMAIL, 0 },
	{ "alice@.example.com", TAG_DET_EMAIL, 0 },
	{ "alice@example.com.", TAG_DET_EMAIL, 0 },
	{ "alice@example.c", TAG_DET_EMAIL, 0 },
	{ "alice@example.c0m", TAG_DET_EMAIL, 0 },
	{ "alice@exa_mple.com", TAG_DET_EMAIL, 0 },
	{ "\"alice\"@example.com", TAG_DET_EMAIL, 0 },
	{ "alice(x)@example.com", TAG_DET_EMAIL, 0 },
	{ "alice@example.com:80", TAG_DET_EMAIL, 0 },
	{ "\xea\xb9\x80@example.kr", TAG_DET_EMAIL, 0 },
	{ "alice@ex\xe4mple.com", TAG_DET_EMAIL, 0 },
	{ "mailto:alice@example.com", TAG_DET_EMAIL, 0 },
	{ "alice@example.com, bob@example.com", TAG_DET_EMAIL, 0 },

	/* phone: E.164 */
	{ "+82 10-1234-5678", TAG_DET_PHONE, 1 },
	{ "+821012345678", TAG_DET_PHONE, 1 },
	{ "+1 (212) 555-0100", TAG_DET_PHONE, 1 },
	{ "+44 (0)20 7946 0958", TAG_DET_PHONE, 1 },
	{ "+49.30.1234567", TAG_DET_PHONE, 1 },
	{ "+1234567", TAG_DET_PHONE, 0 },               /* 7 digits */
	{ "+1234567890123456", TAG_DET_PHONE, 0 },      /* 16 digits */
	{ "+0821012345678", TAG_DET_PHONE, 0 },         /* country code 0 */
	{ "+82+1012345678", TAG_DET_PHONE, 0 },
	{ "+ 82 10 1234 5678", TAG_DET_PHONE, 0 },
	{ "+82 10--1234-5678", TAG_DET_PHONE, 0 },
	{ "+82 (10 1234 5678", TAG_DET_PHONE, 0 },
	{ "+82 10 1234 5678-", TAG_DET_PHONE, 0 },
	/* phone: Korean */
	{ "010-1234-5678", TAG_DET_PHONE, 1 },
	{ "010 1234 5678", TAG_DET_PHONE, 1 },
	{ "01012345678", TAG_DET_PHONE, 1 },
	{ "0111234567", TAG_DET_PHONE, 1 },
	{ "010.1234.5678", TAG_DET_PHONE, 1 },
	{ "016-123-4567", TAG_DET_PHONE, 1 },
	{ "02-123-4567", TAG_DET_PHONE, 1 },
	{ "02-1234-5678", TAG_DET_PHONE, 1 },
	{ "031-123-4567", TAG_DET_PHONE, 1 },
	{ "(02) 123-4567", TAG_DET_PHONE, 1 },
	{ "070-1234-5678", TAG_DET_PHONE, 1 },
	{ "010-1234 5678", TAG_DET_PHONE, 0 },          /* mixed separators */
	{ "010-12345678", TAG_DET_PHONE, 1 },           /* generic national */
	{ "01212345678", TAG_DET_PHONE, 0 },            /* 012 is no mobile prefix */
	{ "010123456789", TAG_DET_PHONE, 0 },
	{ "0101234567890", TAG_DET_PHONE, 0 },
	{ "010-CALL-NOW", TAG_DET_PHONE, 0 },
	{ "010-1234-5678 ext 9", TAG_DET_PHONE, 0 },
	/* phone: North American */
	{ "(555) 123-4567", TAG_DET_PHONE, 1 },
	{ "555-123-4567", TAG_DET_PHONE, 1 },
	{ "555.123.4567", TAG_DET_PHONE, 1 },
	{ "555 123 4567", TAG_DET_PHONE, 1 },
	{ "155-123-4567", TAG_DET_PHONE, 0 },           /* area code starts with 1 */
	{ "555-123-45678", TAG_DET_PHONE, 0 },
	{ "555-1234-567", TAG_DET_PHONE, 0 },
	{ "(555 123-4567", TAG_DET_PHONE, 0 },
	{ "555) 123-4567", TAG_DET_PHONE, 0 },
	{ "555-(123)-4567", TAG_DET_PHONE, 0 },         /* only the first group in () */
	/* phone: generic national with a trunk 0 */
	{ "020 7946 0958", TAG_DET_PHONE, 1 },
	{ "030 1234567", TAG_DET_PHONE, 1 },
	{ "01 23 45 67 89", TAG_DET_PHONE, 1 },
	{ "0612-345678", TAG_DET_PHONE, 1 },
	{ "020.7946.0958", TAG_DET_PHONE, 0 },          /* '.' only in the fixed shapes */
	{ "0 23 45 67 89 1", TAG_DET_PHONE, 0 },        /* one-digit groups */
	{ "012-34-5678", TAG_DET_PHONE, 0 },            /* the SSN shape */
	{ "020 7946", TAG_DET_PHONE, 0 },               /* 7 digits */
	{ "0201 2345 67890", TAG_DET_PHONE, 0 },        /* 13 digits */
	/* phone: bare digit runs, dates and IP addresses are not phones */
	{ "5551234567", TAG_DET_PHONE, 0 },
	{ "0207946095", TAG_DET_PHONE, 0 },
	{ "123456789012", TAG_DET_PHONE, 0 },
	{ "2024-01-02", TAG_DET_PHONE, 0 },
	{ "02-01-2024", TAG_DET_PHONE, 0 },
	{ "2024 01 02", TAG_DET_PHONE, 0 },
	{ "192.168.100.200", TAG_DET_PHONE, 0 },
	{ "10.0.0.1", TAG_DET_PHONE, 0 },
	{ "123-45-6789", TAG_DET_PHONE, 0 },

	/* card: one per issuer range edge, Luhn valid */
	{ "4111111111111111", TAG_DET_CARD, 1 },
	{ "4111 1111 1111 1111", TAG_DET_CARD, 1 },
	{ "4111-1111-1111-1111", TAG_DET_CARD, 1 },
	{ "4222222222222", TAG_DET_CARD, 1 },
	{ "400000000002", TAG_DET_CARD, 1 },            /* 12 digits */
	{ "4000000000000000006", TAG_DET_CARD, 1 },     /* 19 digits */
	{ "5555555555554444", TAG_DET_CARD, 1 },
	{ "5100000000000008", TAG_DET_CARD, 1 },
	{ "2221000000000009", TAG_DET_CARD, 1 },
	{ "2720000000000005", TAG_DET_CARD, 1 },
	{ "2223003122003222", TAG_DET_CARD, 1 },
	{ "378282246310005", TAG_DET_CARD, 1 },
	{ "3782 822463 10005", TAG_DET_CARD, 1 },
	{ "340000000000009", TAG_DET_CARD, 1 },
	{ "6011111111111117", TAG_DET_CARD, 1 },
	{ "6440000000000005", TAG_DET_CARD, 1 },
	{ "6490000000000004", TAG_DET_CARD, 1 },
	{ "6500000000000002", TAG_DET_CARD, 1 },
	{ "3530111333300000", TAG_DET_CARD, 1 },
	{ "3589000000000003", TAG_DET_CARD, 1 },
	{ "30569309025904", TAG_DET_CARD, 1 },
	{ "36000000000008", TAG_DET_CARD, 1 },
	{ "38520000023237", TAG_DET_CARD, 1 },
	{ "6200000000000005", TAG_DET_CARD, 1 },
	{ "6200000000000000000", TAG_DET_CARD, 1 },
	{ "5000000000000009", TAG_DET_CARD, 1 },
	{ "5600000000000003", TAG_DET_CARD, 1 },
	{ "6304000000000000", TAG_DET_CARD, 1 },
	{ "6759649826438453", TAG_DET_CARD, 1 },
	{ "6763000000000004", TAG_DET_CARD, 1 },
	/* card: Luhn failures (one digit off) */
	{ "4111111111111112", TAG_DET_CARD, 0 },
	{ "378282246310006", TAG_DET_CARD, 0 },         /* 15 digits, Luhn fails */
	{ "371449635398432", TAG_DET_CARD, 0 },
	{ "5555555555554445", TAG_DET_CARD, 0 },
	/* card: Luhn valid but no known issuer */
	{ "1000000000000008", TAG_DET_CARD, 0 },
	{ "9000000000000001", TAG_DET_CARD, 0 },
	{ "2220000000000000", TAG_DET_CARD, 0 },
	{ "2721000000000004", TAG_DET_CARD, 0 },
	{ "6012000000000003", TAG_DET_CARD, 0 },
	{ "6430000000000007", TAG_DET_CARD, 0 },
	{ "3527000000000008", TAG_DET_CARD, 0 },
	{ "3590000000000000", TAG_DET_CARD, 0 },
	{ "30600000000001", TAG_DET_CARD, 0 },
	{ "5900000000000000", TAG_DET_CARD, 0 },
	{ "6764000000000003", TAG_DET_CARD, 0 },
	/* card: lengths and separators */
	{ "40000000006", TAG_DET_CARD, 0 },             /* 11 digits */
	{ "40000000000000000002", TAG_DET_CARD, 0 },    /* 20 digits */
	{ "4111 1111-1111 1111", TAG_DET_CARD, 0 },
	{ "4111  1111 1111 1111", TAG_DET_CARD, 0 },
	{ "-4111-1111-1111-1111", TAG_DET_CARD, 0 },
	{ "4111.1111.1111.1111", TAG_DET_CARD, 0 },
	{ "4111 1111 1111 111x", TAG_DET_CARD, 0 },
	{ "3056 930902 5904", TAG_DET_CARD, 1 },        /* Diners 4-6-4 */
	{ "4000 0000 0000 0000 006", TAG_DET_CARD, 1 }, /* last group of 3 */
	{ "4111 11 1111 1111 11", TAG_DET_CARD, 0 },    /* a group of 2 */
	{ "4111111 111111111", TAG_DET_CARD, 0 },       /* a group of 7 */
	{ "422222-2222222", TAG_DET_CARD, 0 },          /* RRN grouping, Luhn valid */

	/* iban */
	{ "DE89370400440532013000", TAG_DET_IBAN, 1 },
	{ "DE89 3704 0044 0532 0130 00", TAG_DET_IBAN, 1 },
	{ "de89 3704 0044 0532 0130 00", TAG_DET_IBAN, 1 },
	{ "GB82WEST12345698765432", TAG_DET_IBAN, 1 },
	{ "gb82 west 1234 5698 7654 32", TAG_DET_IBAN, 1 },
	{ "FR1420041010050500013M02606", TAG_DET_IBAN, 1 },
	{ "NL91ABNA0417164300", TAG_DET_IBAN, 1 },
	{ "BE68539007547034", TAG_DET_IBAN, 1 },
	{ "CH9300762011623852957", TAG_DET_IBAN, 1 },
	{ "NO9386011117947", TAG_DET_IBAN, 1 },
	{ "MT84MALT011000012345MTLCAST001S", TAG_DET_IBAN, 1 },
	{ "ES9121000418450200051332", TAG_DET_IBAN, 1 },
	{ "IT60X0542811101000000123456", TAG_DET_IBAN, 1 },
	{ "PL61109010140000071219812874", TAG_DET_IBAN, 1 },
	{ "AT611904300234573201", TAG_DET_IBAN, 1 },
	{ "SE4550000000058398257466", TAG_DET_IBAN, 1 },
	{ "IE29AIBK93115212345678", TAG_DET_IBAN, 1 },
	{ "SA0380000000608010167519", TAG_DET_IBAN, 1 },
	{ "TR330006100519786457841326", TAG_DET_IBAN, 1 },
	{ "LI21088100002324013AA", TAG_DET_IBAN, 1 },
	{ "DE89370400440532013001", TAG_DET_IBAN, 0 },  /* one digit changed */
	{ "DE88370400440532013000", TAG_DET_IBAN, 0 },  /* check digits changed */
	{ "PL61109010140000071219812875", TAG_DET_IBAN, 0 },
	{ "GB82WEST12345698765433", TAG_DET_IBAN, 0 },
	{ "DE8937040044053201300", TAG_DET_IBAN, 0 },   /* 21 for DE's 22 */
	{ "DE893704004405320130000", TAG_DET_IBAN, 0 }, /* 23 */
	{ "XX89370400440532013000", TAG_DET_IBAN, 0 },  /* no such country */
	{ "1289370400440532013000", TAG_DET_IBAN, 0 },
	{ "DEXX370400440532013000", TAG_DET_IBAN, 0 },
	{ "DE89 37040 0440 5320 1300 0", TAG_DET_IBAN, 0 },
	{ "DE89  3704 0044 0532 0130 00", TAG_DET_IBAN, 0 },
	{ "DE89-3704-0044-0532-0130-00", TAG_DET_IBAN, 0 },
	{ "DE89370400440532013000XYZ12345678901", TAG_DET_IBAN, 0 },

	/* kr_rrn */
	{ "900101-1234568", TAG_DET_KR_RRN, 1 },
	{ "9001011234568", TAG_DET_KR_RRN, 1 },
	{ "850315-2345678", TAG_DET_KR_RRN, 1 },
	{ "000229-3123454", TAG_DET_KR_RRN, 1 },        /* 2000-02-29 */
	{ "010203-4123453", TAG_DET_KR_RRN, 1 },
	{ "991231-1876546", TAG_DET_KR_RRN, 1 },
	{ "050505-7123454", TAG_DET_KR_RRN, 1 },        /* foreign resident, 2000s */
	{ "770707-5678900", TAG_DET_KR_RRN, 1 },
	{ "880808-6123456", TAG_DET_KR_RRN, 1 },
	{ "960229-9123458", TAG_DET_KR_RRN, 1 },        /* 1896-02-29 */
	{ "040229-8123457", TAG_DET_KR_RRN, 1 },
	{ "991231-0123457", TAG_DET_KR_RRN, 1 },        /* 1899 */
	{ "900101-1234567", TAG_DET_KR_RRN, 0 },        /* wrong check digit */
	{ "9001011234567", TAG_DET_KR_RRN, 0 },
	{ "850315-2345679", TAG_DET_KR_RRN, 0 },
	{ "900230-1234563", TAG_DET_KR_RRN, 0 },        /* Feb 30, checksum right */
	{ "010229-3123451", TAG_DET_KR_RRN, 0 },        /* 2001-02-29 */
	{ "000229-1123459", TAG_DET_KR_RRN, 0 },        /* 1900-02-29 */
	{ "000229-9123451", TAG_DET_KR_RRN, 0 },        /* 1800-02-29 */
	{ "990229-9123450", TAG_DET_KR_RRN, 0 },        /* 1899-02-29 */
	{ "901301-1234565", TAG_DET_KR_RRN, 0 },        /* month 13 */
	{ "900100-1234564", TAG_DET_KR_RRN, 0 },        /* day 0 */
	{ "950431-2123458", TAG_DET_KR_RRN, 0 },        /* April 31 */
	{ "90010-11234568", TAG_DET_KR_RRN, 0 },
	{ "900101 1234568", TAG_DET_KR_RRN, 0 },
	{ "900101-123456", TAG_DET_KR_RRN, 0 },

	/* us_ssn */
	{ "123-45-6789", TAG_DET_US_SSN, 1 },
	{ "123 45 6789", TAG_DET_US_SSN, 1 },
	{ "899-99-9999", TAG_DET_US_SSN, 1 },
	{ "001-01-0001", TAG_DET_US_SSN, 1 },
	{ "123456789", TAG_DET_US_SSN, 0 },             /* separators required */
	{ "000-12-3456", TAG_DET_US_SSN, 0 },
	{ "666-12-3456", TAG_DET_US_SSN, 0 },
	{ "900-12-3456", TAG_DET_US_SSN, 0 },
	{ "999-12-3456", TAG_DET_US_SSN, 0 },
	{ "123-00-4567", TAG_DET_US_SSN, 0 },
	{ "123-45-0000", TAG_DET_US_SSN, 0 },
	{ "123-45 6789", TAG_DET_US_SSN, 0 },
	{ "123-45-67890", TAG_DET_US_SSN, 0 },
	{ "12-345-6789", TAG_DET_US_SSN, 0 },
	{ "123.45.6789", TAG_DET_US_SSN, 0 },

	/* ipv4 */
	{ "192.168.0.1", TAG_DET_IPV4, 1 },
	{ "0.0.0.0", TAG_DET_IPV4, 1 },
	{ "255.255.255.255", TAG_DET_IPV4, 1 },
	{ " 10.0.0.1 ", TAG_DET_IPV4, 1 },
	{ "256.1.1.1", TAG_DET_IPV4, 0 },
	{ "1.2.3.256", TAG_DET_IPV4, 0 },
	{ "192.168.01.1", TAG_DET_IPV4, 0 },
	{ "00.1.2.3", TAG_DET_IPV4, 0 },
	{ "1.2.3", TAG_DET_IPV4, 0 },
	{ "1.2.3.4.5", TAG_DET_IPV4, 0 },
	{ "1..2.3", TAG_DET_IPV4, 0 },
	{ "1.2.3.", TAG_DET_IPV4, 0 },
	{ "1000.2.3.4", TAG_DET_IPV4, 0 },
	{ "1.2.3.4/24", TAG_DET_IPV4, 0 },

	/* ipv6 */
	{ "::1", TAG_DET_IPV6, 1 },
	{ "::", TAG_DET_IPV6, 1 },
	{ "2001:db8::1", TAG_DET_IPV6, 1 },
	{ "2001:DB8:0:0:0:0:0:1", TAG_DET_IPV6, 1 },
	{ "fe80::1ff:fe23:4567:890a", TAG_DET_IPV6, 1 },
	{ "::ffff:192.168.0.1", TAG_DET_IPV6, 1 },
	{ "1:2:3:4:5:6:7:8", TAG_DET_IPV6, 1 },
	{ "fe80::1%eth0", TAG_DET_IPV6, 0 },            /* no zones */
	{ "2001:db8:::1", TAG_DET_IPV6, 0 },
	{ "1:2:3:4:5:6:7:8:9", TAG_DET_IPV6, 0 },
	{ "gggg::1", TAG_DET_IPV6, 0 },
	{ "12:30:45", TAG_DET_IPV6, 0 },
	{ "00:1a:2b:3c:4d:5e", TAG_DET_IPV6, 0 },
	{ "[2001:db8::1]", TAG_DET_IPV6, 0 },
	{ "2001:0db8:0000:0000:0000:0000:0000:0001:ffff", TAG_DET_IPV6, 0 },
	{ "0000:0000:0000:0000:0000:ffff:192.168.100.200", TAG_DET_IPV6, 1 }, /* 45, the longest */
	{ "0000:0000:0000:0000:0000:ffff:192.168.100.200 x", TAG_DET_IPV6, 0 },

	/* date */
	{ "2024-01-02", TAG_DET_DATE, 1 },
	{ "2024/01/02", TAG_DET_DATE, 1 },
	{ "2024.01.02", TAG_DET_DATE, 1 },
	{ "20240102", TAG_DET_DATE, 1 },
	{ "2024-02-29", TAG_DET_DATE, 1 },
	{ "2000-02-29", TAG_DET_DATE, 1 },
	{ "1900-01-01", TAG_DET_DATE, 1 },
	{ "2100-12-31", TAG_DET_DATE, 1 },
	{ "2023-02-29", TAG_DET_DATE, 0 },
	{ "2100-02-29", TAG_DET_DATE, 0 },
	{ "1899-12-31", TAG_DET_DATE, 0 },
	{ "2101-01-01", TAG_DET_DATE, 0 },
	{ "2024-13-01", TAG_DET_DATE, 0 },
	{ "2024-00-10", TAG_DET_DATE, 0 },
	{ "2024-04-31", TAG_DET_DATE, 0 },
	{ "2024-1-2", TAG_DET_DATE, 0 },
	{ "2024-01/02", TAG_DET_DATE, 0 },
	{ "20241301", TAG_DET_DATE, 0 },
	{ "02-01-2024", TAG_DET_DATE, 0 },
	{ "2024-01-02T10:00", TAG_DET_DATE, 0 },

	/* nothing at all */
	{ "", NONE, 0 },
	{ "   ", NONE, 0 },
	{ "\t\r\n", NONE, 0 },
	{ "hello world", NONE, 0 },
	{ "\xea\xb9\x80\xeb\xaf\xbc\xec\xa4\x80", NONE, 0 },  /* 김민준 */
	{ "42", NONE, 0 },
	{ "3.14159", NONE, 0 },
	{ "1234567", NONE, 0 },
	{ "ORDER-2024-000123", NONE, 0 },
	{ "true", NONE, 0 },
	{ "https://example.com/a@b.c", NONE, 0 },
	/* past 45 bytes only an email is possible */
	{ "card 4111 1111 1111 1111 and phone 010-1234-5678", NONE, 0 },
	{ "write to alice@example.com for the details, thanks", NONE, 0 },
	{ "first.middle.last.name.of.someone@a-long-subdomain.example.com", TAG_DET_EMAIL, 1 },
};

/* Values that more than one detector (or exactly one) must accept. */
struct exact_row {
	const char *in;
	unsigned mask;
};

#define B(d) (1u << (d))

static const struct exact_row exact_rows[] = {
	{ "4111111111111111", B(TAG_DET_CARD) },
	{ "alice@example.com", B(TAG_DET_EMAIL) },
	{ "010-1234-5678", B(TAG_DET_PHONE) },
	{ "2024-01-02", B(TAG_DET_DATE) },
	{ "20240102", B(TAG_DET_DATE) },
	{ "192.168.0.1", B(TAG_DET_IPV4) },
	{ "123-45-6789", B(TAG_DET_US_SSN) },
	{ "900101-1234568", B(TAG_DET_KR_RRN) },
	{ "DE89370400440532013000", B(TAG_DET_IBAN) },
	{ "::1", B(TAG_DET_IPV6) },
	{ "+821012345678", B(TAG_DET_PHONE) },
};

struct hint_row {
	const char *name;
	const char *want;       /* NULL: no hint */
};

static const struct hint_row hint_rows[] = {
	/* email */
	{ "email", "email" }, { "e_mail", "email" }, { "E-Mail", "email" },
	{ "mail", "email" }, { "emailaddress", "email" },
	{ "email_address", "email" }, { "EmailAddress", "email" },
	{ "customer_email", "email" }, { "contactEmail", "email" },
	/* phone */
	{ "phone", "phone" }, { "mobile", "phone" }, { "tel", "phone" },
	{ "telephone", "phone" }, { "cell", "phone" }, { "cellphone", "phone" },
	{ "msisdn", "phone" }, { "phone_number", "phone" },
	{ "phoneNumber", "phone" }, { "contact_number", "phone" },
	{ "home_phone", "phone" }, { "mobile_no", "phone" },
	/* ssn, national id */
	{ "ssn", "ssn" }, { "SSN", "ssn" }, { "social_security", "ssn" },
	{ "social_security_number", "ssn" },
	{ "rrn", "national_id" }, { "resident_registration_number", "national_id" },
	{ "national_id", "national_id" }, { "nid", "national_id" },
	{ "jumin", "national_id" }, { "jumin_no", "national_id" },
	/* dob */
	{ "birth", "dob" }, { "dob", "dob" }, { "DOB", "dob" },
	{ "birthday", "dob" }, { "birthdate", "dob" }, { "birth_date", "dob" },
	{ "date_of_birth", "dob" }, { "dateOfBirth", "dob" },
	{ "customer_dob", "dob" },
	/* name: person-name forms only */
	{ "name", "name" }, { "first_name", "name" }, { "last_name", "name" },
	{ "full_name", "name" }, { "given_name", "name" }, { "family_name", "name" },
	{ "middle_name", "name" }, { "surname", "name" }, { "firstname", "name" },
	{ "lastName", "name" }, { "FullName", "name" }, { "customer_name", "name" },
	{ "contact_name", "name" }, { "holder_name", "name" },
	{ "cardholder_name", "name" }, { "card_holder", "name" },
	{ "user_first_name", "name" }, { "name_kr", "name" },
	/* address */
	{ "addr", "address" }, { "address", "address" }, { "street", "address" },
	{ "street_address", "address" }, { "home_address", "address" },
	{ "mailing_address", "address" }, { "postal_address", "address" },
	{ "shipping_address", "address" }, { "billing_address", "address" },
	{ "address_line1", "address" }, { "addressLine2", "address" },
	/* ip: the most specific wins over "address" */
	{ "ip", "ip" }, { "ip_address", "ip" }, { "ipaddr", "ip" },
	{ "IPAddress", "ip" }, { "client_ip", "ip" }, { "remote_addr", "ip" },
	{ "remoteAddress", "ip" }, { "ipv4", "ip" }, { "src_ip", "ip" },
	/* card, iban */
	{ "card", "card" }, { "card_number", "card" }, { "cc_number", "card" },
	{ "credit_card", "card" }, { "credit_card_number", "card" },
	{ "pan", "card" }, { "CardNo", "card" },
	{ "iban", "iban" }, { "bank_account_iban", "iban" }, { "IBAN", "iban" },
	/* Korean */
	{ "이메일", "email" }, { "메일", "email" }, { "이메일주소", "email" },
	{ "전화번호", "phone" }, { "전화", "phone" }, { "휴대폰", "phone" },
	{ "핸드폰", "phone" }, { "휴대전화", "phone" }, { "연락처", "phone" },
	{ "휴대폰 번호", "phone" }, { "고객_연락처", "phone" },
	{ "주민등록번호", "national_id" }, { "주민번호", "national_id" },
	{ "생년월일", "dob" }, { "생일", "dob" },
	{ "이름", "name" }, { "성명", "name" }, { "고객명", "name" },
	{ "고객 이름", "name" }, { "회원명", "name" },
	{ "주소", "address" }, { "배송지 주소", "address" },
	{ "카드번호", "card" }, { "IP주소", "ip" },
	/* not PII */
	{ "product_name", NULL }, { "file_name", NULL }, { "filename", NULL },
	{ "username", NULL }, { "user_name", NULL }, { "userName", NULL },
	{ "company_name", NULL }, { "hostname", NULL }, { "display_name", NULL },
	{ "created_date", NULL }, { "created", NULL }, { "updated_at", NULL },
	{ "id", NULL }, { "status", NULL }, { "country", NULL },
	{ "zip", NULL }, { "postcode", NULL }, { "zip_code", NULL },
	{ "amount", NULL }, { "order_id", NULL }, { "description", NULL },
	{ "mac_address", NULL }, { "server_addr", NULL },
	{ "email_verified", NULL }, { "is_mobile", NULL }, { "has_email", NULL },
	{ "phone_type", NULL }, { "card_type", NULL }, { "card_expiry", NULL },
	{ "ip_country", NULL }, { "birth_year", NULL }, { "hashed_email", NULL },
	{ "email_sent_at", NULL }, { "zipcode", NULL }, { "shipping", NULL },
	{ "hotel", NULL }, { "company", NULL }, { "japan", NULL },
	{ "계좌번호", NULL }, { "상품명", NULL }, { "파일이름", NULL },
	{ "상품이름", NULL }, { "이메일수신여부", NULL }, { "생성일자", NULL },
	{ "", NULL }, { "___", NULL }, { "123", NULL },
};

/* A scored column. */
#define MAXVALS 12

struct col_row {
	const char *what;
	const char *name;
	const char *vals[MAXVALS];      /* up to the first NULL */
	int want_pii;
	int want_det;                   /* -1: none */
	const char *want_cat;           /* NULL: not PII */
	unsigned want_matched;
	unsigned want_sample;
};

static const struct col_row col_rows[] = {
	{ "8 of 10 emails", "contact",
	    { "a@example.com", "b@example.com", "c@example.org", "d@example.net",
	      "e@example.com", "f@example.co.kr", "g@example.com", "h@example.com",
	      "not an email", "n/a" },
	    1, TAG_DET_EMAIL, "email", 8, 10 },
	{ "dates named birth_date", "birth_date",
	    { "1990-01-02", "1985-12-31", "2000-02-29", "1977-07-07" },
	    1, TAG_DET_DATE, "dob", 4, 4 },
	{ "dates named created", "created",
	    { "2024-01-02", "2024-01-03", "2024-02-29", "2023-12-31" },
	    0, -1, NULL, 0, 4 },
	{ "junk named email", "email",
	    { "x", "y", "zzz", "123" },
	    1, -1, "email", 0, 4 },
	{ "empty column", "notes",
	    { "", "  ", "", "\t" },
	    0, -1, NULL, 0, 0 },
	{ "no values at all", "notes",
	    { NULL },
	    0, -1, NULL, 0, 0 },
	{ "empty values not counted", "c1",
	    { "010-1234-5678", "", "010 9876 5432", "  ", "01055556666" },
	    1, TAG_DET_PHONE, "phone", 3, 3 },
	{ "below the threshold", "c2",
	    { "4111111111111111", "hello", "world", "foo", "bar" },
	    0, TAG_DET_CARD, NULL, 1, 5 },
	{ "below the threshold, hinted", "card_number",
	    { "4111111111111111", "hello", "world", "foo", "bar" },
	    1, TAG_DET_CARD, "card", 1, 5 },
	{ "detector beats hint", "phone",
	    { "alice@example.com", "bob@example.com", "carol@example.com" },
	    1, TAG_DET_EMAIL, "email", 3, 3 },
	{ "IP column (4 v4 + 1 v6 count together as ip)", "c3",
	    { "10.0.0.1", "192.168.1.20", "8.8.8.8", "172.16.0.1", "::1" },
	    1, TAG_DET_IPV4, "ip", 5, 5 },
	{ "RRN column", "c4",
	    { "900101-1234568", "850315-2345678", "000229-3123454", "991231-1876546" },
	    1, TAG_DET_KR_RRN, "national_id", 4, 4 },
	{ "SSN column", "c5",
	    { "123-45-6789", "001-01-0001", "899-99-9999" },
	    1, TAG_DET_US_SSN, "ssn", 3, 3 },
	{ "IBAN column", "c6",
	    { "DE89370400440532013000", "GB82WEST12345698765432", "NL91ABNA0417164300" },
	    1, TAG_DET_IBAN, "iban", 3, 3 },
	{ "tie: lower enum wins", "c7",
	    { "alice@example.com", "010-1234-5678" },
	    0, TAG_DET_EMAIL, NULL, 1, 2 },
	{ "name column by hint", "customer_name",
	    { "Alice Berg", "Bob Smith" },
	    1, -1, "name", 0, 2 },
	{ "generic text", "product_name",
	    { "Widget", "Gadget", "Thing" },
	    0, -1, NULL, 0, 3 },
};

static void
test_values(void)
{
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const struct row *w = &rows[i];
		unsigned bits = tag_detect_value(w->in, strlen(w->in));

		if (w->det == NONE)
			CHECK(bits == 0, "value row %zu: \"%s\" matches nothing (got 0x%x)",
			    i, w->in, bits);
		else
			CHECK(((bits >> w->det) & 1u) == (unsigned)w->want,
			    "value row %zu: %s %s \"%s\" (bits 0x%x)", i,
			    tag_detector_name(w->det), w->want ? "accepts" : "refuses",
			    w->in, bits);
	}
	for (i = 0; i < sizeof(exact_rows) / sizeof(exact_rows[0]); i++) {
		const struct exact_row *w = &exact_rows[i];
		unsigned bits = tag_detect_value(w->in, strlen(w->in));

		CHECK(bits == w->mask, "exact row %zu: \"%s\" -> 0x%x (got 0x%x)",
		    i, w->in, w->mask, bits);
	}
}

static void
test_value_edges(void)
{
	char big[600];
	unsigned bits;

	/* The length is honoured: no reading past n, NUL bytes inside. */
	bits = tag_detect_value("alice@example.comXYZ", 17);
	CHECK(bits == B(TAG_DET_EMAIL), "value bounded by n, not by NUL");
	bits = tag_detect_value("10.0.0.1\0", 9);
	CHECK(bits == 0, "a NUL byte inside the value is not trimmed");
	bits = tag_detect_value("4111111111111111", 15);
	CHECK((bits & B(TAG_DET_CARD)) == 0, "15 of 16 card digits is not a card");
	CHECK(tag_detect_value(NULL, 0) == 0, "NULL value matches nothing");
	CHECK(tag_detect_value("x", 0) == 0, "n = 0 matches nothing");

	/* The longest email (254 bytes) and one byte over. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "a@", 2);
	memcpy(big + 2 + 63, ".", 1);
	memcpy(big + 2 + 63 + 1 + 63, ".", 1);
	memcpy(big + 2 + 63 + 1 + 63 + 1 + 63, ".", 1);
	/* a@ + 63 + . + 63 + . + 63 + . + 58 = 254 */
	CHECK(tag_detect_value(big, 254) == B(TAG_DET_EMAIL), "254-byte email accepted");
	CHECK(tag_detect_value(big, 255) == 0, "255-byte email refused");
	memcpy(big + 254, "   ", 3);
	CHECK(tag_detect_value(big, 257) == B(TAG_DET_EMAIL),
	    "trailing blanks do not count toward the limit");
	/* Label and local-part limits: 63 and 64 bytes, and one over. */
	memset(big, 'a', sizeof(big));
	memcpy(big, "alice@", 6);
	memcpy(big + 6 + 63, ".com", 4);
	CHECK(tag_detect_value(big, 6 + 63 + 4) == B(TAG_DET_EMAIL),
	    "63-byte domain label accepted");
	memset(big, 'a', sizeof(big));
	memcpy(big, "alice@", 6);
	memcpy(big + 6 + 64, ".com", 4);
	CHECK(tag_detect_value(big, 6 + 64 + 4) == 0, "64-byte domain label refused");
	memset(big, 'a', sizeof(big));
	memcpy(big + 64, "@example.com", 12);
	CHECK(tag_detect_value(big, 64 + 12) == B(TAG_DET_EMAIL),
	    "64-byte local part accepted");
	memset(big, 'a', sizeof(big));
	memcpy(big + 65, "@example.com", 12);
	CHECK(tag_detect_value(big, 65 + 12) == 0, "65-byte local part refused");
}

static void
test_names(void)
{
	static const char *const names[] = {
		"email", "phone", "card", "iban", "kr_rrn", "us_ssn", "ipv4", "ipv6", "date"
	};
	static const char *const cats[] = {
		"email", "phone", "card", "iban", "national_id", "ssn", "ip", "ip", "dob"
	};
	int d;

	for (d = 0; d < TAG_DET_COUNT; d++) {
		CHECK_STR(tag_detector_name(d), names[d], "detector %d name", d);
		CHECK_STR(tag_detector_category(d), cats[d], "detector %d category", d);
	}
	CHECK_STR(tag_detector_name(-1), "?", "name of -1");
	CHECK_STR(tag_detector_name(TAG_DET_COUNT), "?", "name of TAG_DET_COUNT");
	CHECK_STR(tag_detector_category(99), "?", "category of 99");
}

static void
test_hints(void)
{
	size_t i;

	for (i = 0; i < sizeof(hint_rows) / sizeof(hint_rows[0]); i++) {
		const struct hint_row *w = &hint_rows[i];
		const char *got = tag_hint_category(w->name);

		if (w->want == NULL)
			CHECK(got == NULL, "hint row %zu: \"%s\" hints nothing (got %s)",
			    i, w->name, got != NULL ? got : "NULL");
		else
			CHECK_STR(got, w->want, "hint row %zu: \"%s\" -> %s", i,
			    w->name, w->want);
	}
	CHECK(tag_hint_category(NULL) == NULL, "NULL name hints nothing");
}

static void
test_columns(void)
{
	struct tag_score s;
	struct tag_finding f;
	size_t i, k;
	int r;

	for (i = 0; i < sizeof(col_rows) / sizeof(col_rows[0]); i++) {
		const struct col_row *w = &col_rows[i];
		double want_share;

		memset(&s, 0, sizeof(s));
		for (k = 0; k < MAXVALS && w->vals[k] != NULL; k++)
			tag_score_add(&s, w->vals[k], strlen(w->vals[k]));
		r = tag_score_finding(&s, w->name, 0.8, &f);
		want_share = w->want_sample != 0 && w->want_det >= 0 ?
		    (double)w->want_matched / w->want_sample : 0.0;
		CHECK(r == w->want_pii && f.detector == w->want_det &&
		    f.matched == w->want_matched && f.sample == w->want_sample &&
		    s.values == k && f.share > want_share - 1e-9 &&
		    f.share < want_share + 1e-9 &&
		    ((f.category == NULL && w->want_cat == NULL) ||
		    (f.category != NULL && w->want_cat != NULL &&
		    strcmp(f.category, w->want_cat) == 0)),
		    "column %zu (%s): pii %d det %d cat %s share %.2f %u/%u "
		    "(got %d, %d, %s, %.2f, %llu/%llu)", i, w->what, w->want_pii,
		    w->want_det, w->want_cat != NULL ? w->want_cat : "NULL",
		    want_share, w->want_matched, w->want_sample, r, f.detector,
		    f.category != NULL ? f.category : "NULL", f.share,
		    (unsigned long long)f.matched, (unsigned long long)f.sample);
	}

	/* The 8-of-10 email column, field by field. */
	memset(&s, 0, sizeof(s));
	for (k = 0; k < MAXVALS && col_rows[0].vals[k] != NULL; k++)
		tag_score_add(&s, col_rows[0].vals[k], strlen(col_rows[0].vals[k]));
	r = tag_score_finding(&s, "contact", 0.8, &f);
	CHECK(r == 1 && f.share > 0.79999 && f.share < 0.80001,
	    "email column share is 0.8");
	CHECK(f.hint == NULL, "\"contact\" hints nothing");
	r = tag_score_finding(&s, "contact", 0.9, &f);
	CHECK(r == 0 && f.category == NULL && f.detector == TAG_DET_EMAIL,
	    "the same column under threshold 0.9 is not PII, detector still reported");
	r = tag_score_finding(&s, "customer_email", 0.9, &f);
	CHECK(r == 1 && f.hint != NULL && strcmp(f.hint, "email") == 0 &&
	    strcmp(f.category, "email") == 0,
	    "under the threshold but hinted: PII by hint");

	/* A date column without a dob hint never reports DATE. */
	memset(&s, 0, sizeof(s));
	tag_score_add(&s, "2024-01-02", 10);
	r = tag_score_finding(&s, "created_date", 0.5, &f);
	CHECK(r == 0 && f.detector == -1 && f.share == 0.0 && f.sample == 1,
	    "created_date dates: no detector, not PII");
	r = tag_score_finding(&s, "생년월일", 0.5, &f);
	CHECK(r == 1 && f.detector == TAG_DET_DATE && strcmp(f.category, "dob") == 0,
	    "생년월일 dates: dob by the date detector");
	CHECK(s.matched[TAG_DET_DATE] == 1 && s.nonempty == 1 && s.values == 1,
	    "score counts a date");
	tag_score_add(&s, NULL, 0);
	CHECK(s.values == 2 && s.nonempty == 1, "NULL value counts as empty");

	/* Detectors of one category count together: half IPv4, half IPv6
	 * under a neutral name is an ip column at share 1. */
	memset(&s, 0, sizeof(s));
	tag_score_add(&s, "192.0.2.1", 9);
	tag_score_add(&s, "2001:db8::1", 11);
	tag_score_add(&s, "198.51.100.7", 12);
	tag_score_add(&s, "fe80::1", 7);
	tag_score_add(&s, "2001:db8::2", 11);
	r = tag_score_finding(&s, "x", 0.6, &f);
	CHECK(r == 1 && f.category != NULL && strcmp(f.category, "ip") == 0 &&
	    f.matched == 5 && f.share > 0.99999, "mixed v4/v6 column: ip at share 1");
	CHECK(f.detector == TAG_DET_IPV6, "the category's busiest detector is named (ipv6, 3 of 5)");
	/* ...and categories still compete: 3 emails beat 2 addresses */
	memset(&s, 0, sizeof(s));
	tag_score_add(&s, "a@example.com", 13);
	tag_score_add(&s, "b@example.com", 13);
	tag_score_add(&s, "c@example.com", 13);
	tag_score_add(&s, "192.0.2.1", 9);
	tag_score_add(&s, "2001:db8::1", 11);
	r = tag_score_finding(&s, "x", 0.5, &f);
	CHECK(r == 1 && f.detector == TAG_DET_EMAIL && f.matched == 3,
	    "3 emails against 1 v4 + 1 v6: email");
}

int
main(void)
{
	test_values();
	test_value_edges();
	test_names();
	test_hints();
	test_columns();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
