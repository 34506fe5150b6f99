/*
 * audit_record.c - the canonical byte encoding of an audit record (the
 * layout is in audit_record.h and docs/audit.md).
 *
 * Length-prefixed fields in a fixed order rather than JSON: one record has
 * exactly one encoding, so the verifier recomputes the same leaf hash from
 * the database columns that the writer hashed, with no canonicalization
 * rules to get wrong.
 */
#include <string.h>

#include "audit_record.h"

struct wbuf {
	unsigned char *p;
	size_t len, cap;
	int err;
};

static void
put(struct wbuf *w, const void *p, size_t n)
{
	if (w->err != 0)
		return;
	if (n > w->cap - w->len) {
		w->err = PII_ERR_TOO_LARGE;
		return;
	}
	memcpy(w->p + w->len, p, n);
	w->len += n;
}

static void
put_u64(struct wbuf *w, uint64_t v)
{
	unsigned char b[8];
	int i;

	for (i = 7; i >= 0; i--) {
		b[i] = (unsigned char)(v & 0xff);
		v >>= 8;
	}
	put(w, b, sizeof(b));
}

static void
put_str(struct wbuf *w, const char *s, int optional)
{
	unsigned char hdr[5];
	size_t n;

	if (w->err != 0)
		return;
	if (s == NULL) {
		if (!optional) {
			w->err = PII_ERR_BAD_REQUEST;
			return;
		}
		hdr[0] = 0x00;
		put(w, hdr, 1);
		return;
	}
	n = strnlen(s, AUDIT_FIELD_MAX + 1);
	if (n > AUDIT_FIELD_MAX) {
		w->err = PII_ERR_TOO_LARGE;
		return;
	}
	hdr[0] = 0x01;
	hdr[1] = (unsigned char)(n >> 24);
	hdr[2] = (unsigned char)(n >> 16);
	hdr[3] = (unsigned char)(n >> 8);
	hdr[4] = (unsigned char)n;
	put(w, hdr, sizeof(hdr));
	put(w, s, n);
}

static int
category_ok(const char *c)
{
	if (c == NULL || *c == '\0')
		return 0;
	for (; *c != '\0'; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
		    *c == '_'))
			return 0;
	return 1;
}

int
audit_record_encode(const struct audit_position *pos,
    const struct audit_record *rec, unsigned char *out, size_t cap,
    size_t *outlen)
{
	struct wbuf w = { out, 0, cap, 0 };
	unsigned char b[2];
	size_t i;

	if (pos == NULL || rec == NULL || out == NULL || outlen == NULL ||
	    rec->decision == NULL || (rec->ncategories > 0 &&
	    rec->categories == NULL))
		return PII_ERR_BAD_REQUEST;
	if (strcmp(rec->decision, "allow") != 0 &&
	    strcmp(rec->decision, "deny") != 0)
		return PII_ERR_BAD_REQUEST;
	if (rec->ncategories > AUDIT_MAX_CATEGORIES)
		return PII_ERR_TOO_LARGE;
	for (i = 0; i < rec->ncategories; i++)
		if (!category_ok(rec->categories[i]))
			return PII_ERR_BAD_REQUEST;
	b[0] = AUDIT_RECORD_FORMAT;
	put(&w, b, 1);
	put_str(&w, pos->origin, 0);
	put_u64(&w, pos->seq);
	put_u64(&w, (uint64_t)pos->at_us);
	put_str(&w, rec->actor, 0);
	put_str(&w, rec->role, 1);
	put_str(&w, rec->on_behalf_of, 1);
	put_str(&w, rec->purpose, 1);
	put_str(&w, rec->ticket, 1);
	put_str(&w, rec->action, 0);
	put_str(&w, rec->subject_token, 1);
	b[0] = (unsigned char)(rec->ncategories >> 8);
	b[1] = (unsigned char)rec->ncategories;
	put(&w, b, 2);
	for (i = 0; i < rec->ncategories; i++)
		put_str(&w, rec->categories[i], 0);
	put_str(&w, rec->decision, 0);
	put_str(&w, rec->reason, 0);
	put_str(&w, rec->request_id, 0);
	put_str(&w, rec->source, 1);
	put_str(&w, rec->batch_id, 1);
	put_u64(&w, (uint64_t)rec->count);
	if (w.err != 0)
		return w.err;
	*outlen = w.len;
	return 0;
}

/* ---- decoding ----------------------------------------------------------- */

struct rbuf {
	const unsigned char *p;
	size_t len, off;
	int err;
};

static uint64_t
get_u64(struct rbuf *r)
{
	uint64_t v = 0;
	int i;

	if (r->err != 0 || r->len - r->off < 8) {
		r->err = PII_ERR_BAD_REQUEST;
		return 0;
	}
	for (i = 0; i < 8; i++)
		v = (v << 8) | r->p[r->off + (size_t)i];
	r->off += 8;
	return v;
}

static void
get_str(struct rbuf *r, struct audit_field *f, int optional)
{
	size_t n;

	f->p = NULL;
	f->len = 0;
	if (r->err != 0)
		return;
	if (r->off >= r->len) {
		r->err = PII_ERR_BAD_REQUEST;
		return;
	}
	if (r->p[r->off] == 0x00 && optional) {
		r->off++;
		return;
	}
	if (r->p[r->off] != 0x01 || r->len - r->off < 5) {
		r->err = PII_ERR_BAD_REQUEST;
		return;
	}
	n = ((size_t)r->p[r->off + 1] << 24) | ((size_t)r->p[r->off + 2] << 16) |
	    ((size_t)r->p[r->off + 3] << 8) | r->p[r->off + 4];
	r->off += 5;
	if (n > AUDIT_FIELD_MAX || n > r->len - r->off) {
		r->err = PII_ERR_BAD_REQUEST;
		return;
	}
	f->p = r->p + r->off;
	f->len = n;
	r->off += n;
}

static int
field_is(const struct audit_field *f, const char *s)
{
	return f->p != NULL && f->len == strlen(s) && memcmp(f->p, s, f->len) == 0;
}

static int
category_field_ok(const struct audit_field *f)
{
	size_t i;

	if (f->p == NULL || f->len == 0)
		return 0;
	for (i = 0; i < f->len; i++) {
		unsigned char c = f->p[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
			return 0;
	}
	return 1;
}

int
audit_record_decode(const unsigned char *in, size_t len,
    struct audit_record_view *out)
{
	struct rbuf r = { in, len, 0, 0 };
	struct audit_record_view v;
	size_t i, n;

	if (in == NULL || out == NULL || len < 1 || in[0] != AUDIT_RECORD_FORMAT)
		return PII_ERR_BAD_REQUEST;
	memset(&v, 0, sizeof(v));
	r.off = 1;
	get_str(&r, &v.origin, 0);
	v.seq = get_u64(&r);
	v.at_us = (int64_t)get_u64(&r);
	get_str(&r, &v.actor, 0);
	get_str(&r, &v.role, 1);
	get_str(&r, &v.on_behalf_of, 1);
	get_str(&r, &v.purpose, 1);
	get_str(&r, &v.ticket, 1);
	get_str(&r, &v.action, 0);
	get_str(&r, &v.subject_token, 1);
	if (r.err == 0 && r.len - r.off >= 2) {
		n = ((size_t)r.p[r.off] << 8) | r.p[r.off + 1];
		r.off += 2;
		if (n > AUDIT_MAX_CATEGORIES)
			r.err = PII_ERR_BAD_REQUEST;
		for (i = 0; r.err == 0 && i < n; i++)
			get_str(&r, &v.categories[i], 0);
		v.ncategories = n;
	} else {
		r.err = PII_ERR_BAD_REQUEST;
	}
	get_str(&r, &v.decision, 0);
	get_str(&r, &v.reason, 0);
	get_str(&r, &v.request_id, 0);
	get_str(&r, &v.source, 1);
	get_str(&r, &v.batch_id, 1);
	v.count = (int64_t)get_u64(&r);
	if (r.err != 0 || r.off != r.len)
		return PII_ERR_BAD_REQUEST;
	/* what encode refuses, decode refuses too: one record, one encoding */
	if (!field_is(&v.decision, "allow") && !field_is(&v.decision, "deny"))
		return PII_ERR_BAD_REQUEST;
	for (i = 0; i < v.ncategories; i++)
		if (!category_field_ok(&v.categories[i]))
			return PII_ERR_BAD_REQUEST;
	*out = v;
	return 0;
}
