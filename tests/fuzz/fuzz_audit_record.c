/*
 * fuzz_audit_record.c - libFuzzer target for audit_record_decode, the
 * decoder of the canonical record encoding (audit_record.h), which
 * pii-audit verify-proof runs on the record inside a proof file.
 *
 * Each input is given whole, from an exact heap block (so a read past its
 * end shows under ASan).  A refusal must be PII_ERR_BAD_REQUEST and leave
 * the output untouched.  If it decodes, every view must lie inside the
 * input, and the record rebuilt from the views (each field copied into a
 * NUL-terminated buffer) must re-encode to the input byte for byte: one
 * record, one encoding.  Records with a NUL byte in a field are not
 * re-encoded, since a C string cannot carry one; any other refusal of
 * audit_record_encode means decode took what encode refuses, and aborts.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../audit/audit_record.h"
#include "../../common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NTEXT 13        /* text fields besides the categories */

static char text[NTEXT][AUDIT_FIELD_MAX + 1];
static char cats[AUDIT_MAX_CATEGORIES][AUDIT_FIELD_MAX + 1];
static unsigned char enc[AUDIT_RECORD_MAX];

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_audit_record: %s\n", what);
	abort();
}

/* The field as a C string in buf, NULL if absent; *nul set if it holds a
 * NUL byte. */
static const char *
field_str(const struct audit_field *f, const uint8_t *in, size_t size,
    char *buf, int *nul)
{
	if (f->p == NULL) {
		if (f->len != 0)
			die("absent field with a length");
		return NULL;
	}
	if (f->len > AUDIT_FIELD_MAX)
		die("field longer than AUDIT_FIELD_MAX");
	if ((uintptr_t)f->p < (uintptr_t)in ||
	    (uintptr_t)f->p - (uintptr_t)in > size ||
	    f->len > size - ((uintptr_t)f->p - (uintptr_t)in))
		die("field view outside the input");
	if (memchr(f->p, '\0', f->len) != NULL)
		*nul = 1;
	memcpy(buf, f->p, f->len);
	buf[f->len] = '\0';
	return buf;
}

static void
check_round_trip(const uint8_t *in, size_t size,
    const struct audit_record_view *v)
{
	const char *catp[AUDIT_MAX_CATEGORIES];
	struct audit_position pos;
	struct audit_record rec;
	size_t i, len = 0;
	int nul = 0;

	if (v->ncategories > AUDIT_MAX_CATEGORIES)
		die("more than AUDIT_MAX_CATEGORIES categories");
	memset(&rec, 0, sizeof(rec));
	pos.origin = field_str(&v->origin, in, size, text[0], &nul);
	pos.seq = v->seq;
	pos.at_us = v->at_us;
	rec.actor = field_str(&v->actor, in, size, text[1], &nul);
	rec.role = field_str(&v->role, in, size, text[2], &nul);
	rec.on_behalf_of = field_str(&v->on_behalf_of, in, size, text[3], &nul);
	rec.purpose = field_str(&v->purpose, in, size, text[4], &nul);
	rec.ticket = field_str(&v->ticket, in, size, text[5], &nul);
	rec.action = field_str(&v->action, in, size, text[6], &nul);
	rec.subject_token = field_str(&v->subject_token, in, size, text[7],
	    &nul);
	for (i = 0; i < v->ncategories; i++)
		catp[i] = field_str(&v->categories[i], in, size, cats[i], &nul);
	rec.categories = catp;
	rec.ncategories = v->ncategories;
	rec.decision = field_str(&v->decision, in, size, text[8], &nul);
	rec.reason = field_str(&v->reason, in, size, text[9], &nul);
	rec.request_id = field_str(&v->request_id, in, size, text[10], &nul);
	rec.source = field_str(&v->source, in, size, text[11], &nul);
	rec.batch_id = field_str(&v->batch_id, in, size, text[12], &nul);
	rec.count = (long long)v->count;

	if (pos.origin == NULL || rec.actor == NULL || rec.action == NULL ||
	    rec.decision == NULL || rec.reason == NULL ||
	    rec.request_id == NULL)
		die("decode accepted an absent required field");
	for (i = 0; i < v->ncategories; i++)
		if (catp[i] == NULL)
			die("decode accepted an absent category");
	if (nul)
		return;

	if (audit_record_encode(&pos, &rec, enc, sizeof(enc), &len) != 0)
		die("decode accepted a record that encode refuses");
	if (len != size || memcmp(enc, in, size) != 0)
		die("re-encoding a decoded record gives other bytes: the "
		    "encoding is not canonical");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct audit_record_view v, sentinel;
	uint8_t *copy;
	int r;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	memset(&sentinel, 0x5a, sizeof(sentinel));
	memcpy(&v, &sentinel, sizeof(v));
	r = audit_record_decode(copy, size, &v);
	if (r == 0)
		check_round_trip(copy, size, &v);
	else if (r != PII_ERR_BAD_REQUEST)
		die("decode: unexpected error code");
	else if (memcmp(&v, &sentinel, sizeof(v)) != 0)
		die("decode: refused, but wrote its output");
	free(copy);
	return 0;
}
