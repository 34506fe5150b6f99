/*
 * tag_detect.h - PII detectors with validators, column-name hints, and a
 * per-column scorer.
 *
 * A detector looks at one value and says whether it is, say, a payment card
 * number: a shape check first (cheap, one pass over the bytes), then the
 * validator where one exists (Luhn, IBAN mod 97, the Korean resident
 * registration number's date and check digit, the US SSN area/group/serial
 * rules, inet_pton for IPv6).  A column is scored over a sample of its values:
 * the share of non-empty values each detector accepts, plus what the column's
 * name hints at (English and Korean).  Pure functions: no I/O, no allocation,
 * thread-safe.  Values are never copied or kept anywhere.
 */
#ifndef TAG_DETECT_H
#define TAG_DETECT_H

#include <stddef.h>
#include <stdint.h>

enum tag_detector {
	TAG_DET_EMAIL,
	TAG_DET_PHONE,    /* E.164 and national formats (KR mobile 010-1234-5678, ...) */
	TAG_DET_CARD,     /* 12..19 digits, known issuer prefix, Luhn */
	TAG_DET_IBAN,     /* country length table, mod 97 == 1 */
	TAG_DET_KR_RRN,   /* YYMMDD-GNNNNNC: real date, gender digit, check digit */
	TAG_DET_US_SSN,   /* AAA-GG-SSSS (separators required), area/group/serial rules */
	TAG_DET_IPV4,
	TAG_DET_IPV6,
	TAG_DET_DATE,     /* a calendar date (YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD);
	                   * PII (dob) only when the column name hints at a birth date */
	TAG_DET_COUNT
};

/* Bit set of the detectors that accept the value p[0..n) (1u << TAG_DET_x).
 * Leading and trailing ASCII whitespace are ignored.  0 for empty, and for a
 * value longer than 254 bytes after trimming (the longest email; nothing
 * else is that long).  One pass over the bytes counts character classes;
 * only the detectors whose shape those counts allow run.  Emails are ASCII
 * (RFC 5322 dot-atom local part).  More than one bit is rare: a 13-digit
 * RRN without its dash may also be a Luhn-valid card number. */
unsigned tag_detect_value(const char *p, size_t n);

/* "email", "phone", "card", "iban", "kr_rrn", "us_ssn", "ipv4", "ipv6", "date".
 * Static storage; "?" for an out-of-range value. */
const char *tag_detector_name(int det);
/* The vault category a detector's values belong in: "email", "phone", "card",
 * "iban", "national_id", "ssn", "ip", "ip", "dob".  Static storage. */
const char *tag_detector_category(int det);

/* The vault category a column name hints at, or NULL: "email", "phone",
 * "name", "address", "dob", "national_id", "ssn", "ip", "card", "iban".
 * Case-insensitive for ASCII; word parts split on '_', '-', ' ', '.' (any
 * byte but a letter or digit), camelCase ("firstName", "IPAddress") and
 * digits ("address2"); the most specific keyword wins ("email_address" is
 * an email, "remote_addr" an IP, "mac_address" nothing).  A last word that
 * describes the value rather than holding it ("email_verified", "card_type",
 * "ip_country", "birth_year") or a leading flag word ("is_mobile",
 * "hashed_email") cancels the hint.  Korean keywords ("이메일", "전화번호",
 * "휴대폰", "주민등록번호", "주소", "생년월일", ...) match as substrings,
 * except for "... 여부" / "... 동의" style flag names.  "name" is hinted
 * only by a whole person-name form: "name", "first_name", "customer_name",
 * "이름", "성명", "고객명", "고객 이름" (not "product_name", "username",
 * "파일이름").  Static storage.  Generic words alone ("date" in
 * "created_date", "zip", "id", "status") do not hint at PII. */
const char *tag_hint_category(const char *column_name);

/* Running counts for one column.  Zero-initialize, then add values. */
struct tag_score {
	uint64_t values;                  /* values seen, empty ones included */
	uint64_t nonempty;                /* values with a non-blank byte */
	uint64_t matched[TAG_DET_COUNT];  /* per detector */
};

/* Count one value (empty and whitespace-only values count as empty). */
void tag_score_add(struct tag_score *s, const char *p, size_t n);

/* What a column looks like. */
struct tag_finding {
	int detector;          /* best detector by share, -1 when none matched */
	const char *category;  /* proposed vault category, NULL when not PII */
	double share;          /* matched / nonempty of the best detector (0 if none) */
	uint64_t matched;      /* values the best detector accepted */
	uint64_t sample;       /* non-empty values scored */
	const char *hint;      /* the name hint's category, or NULL */
};

/* Decide whether a column named name, scored as s, looks like PII: 1 yes,
 * 0 no; f is filled either way.  It does when the best detector's share of
 * non-empty values is at least threshold (0 < threshold <= 1), or when the
 * name hints at a category (a name hint alone is enough: a column called
 * "email" whose values do not look like addresses is still an email
 * column).  The category is the detector's when one passed the threshold,
 * else the hint's.  The best detector is the one that accepted the most
 * values (ties: the lower enum value); it is reported even below the
 * threshold.  TAG_DET_DATE is a candidate only with a "dob" name hint, so a
 * date column named "created" reports detector -1. */
int tag_score_finding(const struct tag_score *s, const char *name,
    double threshold, struct tag_finding *f);

#endif
