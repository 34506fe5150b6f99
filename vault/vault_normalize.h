/*
 * vault_normalize.h - categories and the normalization applied before a value
 * is tokenized and stored, so that " Alice@Example.COM" and "alice@example.com"
 * are one value.  Pure functions: no keys, no I/O.
 *
 *   email        trim; lowercase; exactly one '@', non-empty local part and
 *                domain, no whitespace or control characters
 *   phone        E.164 "+<digits>" (8..15 digits).  Accepts spaces, '-', '.',
 *                '(', ')'; "00" as international prefix; a national number
 *                (leading trunk '0') gets the configured default country code
 *   name         trim; runs of whitespace become one space (case kept)
 *   address      as name
 *   national_id  spaces and '-' removed; ASCII letters uppercased;
 *                [0-9A-Z] only, 4..32 characters
 *   card         digits only (spaces and '-' removed), 12..19 digits
 *   iban         spaces removed, uppercased, 15..34 alphanumerics starting
 *                with two letters and two digits
 *   ssn          digits only (spaces and '-' removed), exactly 9 digits
 *   ip           IPv4 or IPv6 in canonical text form (inet_pton/inet_ntop)
 *   dob          ISO date YYYY-MM-DD that exists on the calendar
 *   subject      trim (a subject reference such as "user:12345")
 *   custom       trim (categories added in the vault config)
 * Values must be valid UTF-8 without NUL or control characters.
 */
#ifndef VAULT_NORMALIZE_H
#define VAULT_NORMALIZE_H

#include <stddef.h>

#include "../common/err.h"

#define VAULT_CATEGORY_MAX 32     /* name length, including the NUL */
#define VAULT_MAX_CUSTOM_CATEGORIES 64

/* The built-in categories, NULL-terminated ("email", "phone", ...).  "subject"
 * is not among them: it names a subject reference, not a data category. */
extern const char *const vault_builtin_categories[];

struct vault_categories {
	size_t ncustom;
	char custom[VAULT_MAX_CUSTOM_CATEGORIES][VAULT_CATEGORY_MAX];
	char default_country_code[8];   /* digits, e.g. "82"; empty: national numbers refused */
};

/* 1 if name is a built-in or configured custom category, else 0. */
int vault_category_known(const struct vault_categories *cats, const char *name);
/* 0 if name is usable as a custom category name: [a-z][a-z0-9_]{0,30}, not a
 * built-in, not "subject".  Else PII_ERR_CONFIG. */
int vault_category_name_valid(const char *name);

/* Normalize in (inlen bytes) as category into out (outcap bytes, NUL added;
 * *outlen excludes it).  PII_ERR_UNKNOWN_CATEGORY for an unknown category,
 * PII_ERR_BAD_REQUEST when the value is not valid for it (ei->message says
 * what rule failed, never the value), PII_ERR_TOO_LARGE when out is too small. */
int vault_normalize(const struct vault_categories *cats, const char *category,
    const char *in, size_t inlen, char *out, size_t outcap, size_t *outlen,
    struct pii_errinfo *ei);

#endif
