/*
 * audit_verify.c - pii-audit verify: recompute every writer's Merkle tree
 * from its records and hold every checkpoint (database and witness) to it.
 * What is checked, and why that is enough, is in audit_verify.h.
 *
 * Records stream from PostgreSQL in single-row mode, writer by writer, in
 * sequence order, so memory stays small for any log size: the tree is a
 * compact range, and the checkpoints of one writer are held sorted by size
 * and compared as the range reaches each size.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "audit_merkle.h"
#include "audit_record.h"
#include "audit_verify.h"

#define WITNESS_FILE_MAX (256u << 20)

struct cp_item {
	struct audit_checkpoint cp;
	int from_witness;
};

struct cp_list {
	struct cp_item *v;
	size_t n, cap;
};

static int
cp_push(struct cp_list *l, const struct audit_checkpoint *cp, int w)
{
	if (l->n == l->cap) {
		size_t nc = l->cap ? l->cap * 2 : 64;
		struct cp_item *nv = realloc(l->v, nc * sizeof(*nv));

		if (nv == NULL)
			return PII_ERR_NOMEM;
		l->v = nv;
		l->cap = nc;
	}
	l->v[l->n].cp = *cp;
	l->v[l->n].from_witness = w;
	l->n++;
	return 0;
}

static int
fail(struct audit_verify_result *res, const char *writer, long long seq,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct audit_verify_result *res, const char *writer, long long seq,
    const char *fmt, ...)
{
	va_list ap;

	res->ok = 0;
	snprintf(res->writer, sizeof(res->writer), "%s", writer);
	res->seq = seq;
	va_start(ap, fmt);
	vsnprintf(res->what, sizeof(res->what), fmt, ap);
	va_end(ap);
	return 0;
}

/* Every line of the witness file; a malformed one fails verification. */
static int
load_witness(const char *path, struct cp_list *w, struct audit_verify_result *res,
    struct pii_errinfo *ei)
{
	FILE *f;
	char line[AUDIT_WITNESS_LINE_MAX + 2];
	unsigned long long lineno = 0;
	int r = 0;

	if ((f = fopen(path, "re")) == NULL) {
		/* nothing published yet; the summary says 0 from the witness */
		if (errno == ENOENT)
			return 0;
		return pii_errinfo_set(ei, PII_ERR_IO, NULL, "witness %.160s: "
		    "cannot open", path);
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		struct audit_checkpoint cp;
		size_t n = strlen(line);

		lineno++;
		if (n == 0 || line[n - 1] != '\n' ||
		    audit_checkpoint_parse(line, n, &cp) != 0) {
			fail(res, "-", -1, "witness line %llu is malformed",
			    lineno);
			break;
		}
		if ((r = cp_push(w, &cp, 1)) != 0)
			break;
	}
	if (ferror(f) && r == 0)
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "witness %.160s: read "
		    "error", path);
	fclose(f);
	return r;
}

static int
cmp_item_size(const void *a, const void *b)
{
	const struct cp_item *x = a, *y = b;

	if (x->cp.size != y->cp.size)
		return x->cp.size < y->cp.size ? -1 : 1;
	if (x->cp.at_us != y->cp.at_us)
		return x->cp.at_us < y->cp.at_us ? -1 : 1;
	return 0;
}

static int
cmp_item_time(const void *a, const void *b)
{
	const struct cp_item *x = a, *y = b;

	if (x->cp.at_us != y->cp.at_us)
		return x->cp.at_us < y->cp.at_us ? -1 : 1;
	if (x->cp.size != y->cp.size)
		return x->cp.size < y->cp.size ? -1 : 1;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The checkpoints of writer from the database, appended to l. */
static int
load_db_checkpoints(PGconn *c, const char *writer, struct cp_list *l,
    struct audit_verify_result *res, struct pii_errinfo *ei)
{
	const char *p[1] = { writer };
	PGresult *q;
	int i, r = 0;

	q = PQexecParams(c, "SELECT size, encode(root, 'hex'), at_us, key_id,"
	    " encode(signature, 'hex') FROM audit_checkpoints WHERE writer = $1",
	    1, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		PQclear(q);
		return pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading "
		    "audit_checkpoints failed: %s", PQerrorMessage(c));
	}
	for (i = 0; i < PQntuples(q) && r == 0 && res->ok; i++) {
		struct audit_checkpoint cp;
		size_t rl = 0, sl = 0;
		long long size = strtoll(PQgetvalue(q, i, 0), NULL, 10);

		memset(&cp, 0, sizeof(cp));
		snprintf(cp.origin, sizeof(cp.origin), "%s", writer);
		cp.size = size < 0 ? 0 : (uint64_t)size;
		cp.at_us = strtoll(PQgetvalue(q, i, 2), NULL, 10);
		snprintf(cp.key_id, sizeof(cp.key_id), "%s", PQgetvalue(q, i, 3));
		if (size < 0 || sodium_hex2bin(cp.root, sizeof(cp.root),
		    PQgetvalue(q, i, 1), strlen(PQgetvalue(q, i, 1)), NULL, &rl,
		    NULL) != 0 || rl != sizeof(cp.root) ||
		    sodium_hex2bin(cp.sig, sizeof(cp.sig), PQgetvalue(q, i, 4),
		    strlen(PQgetvalue(q, i, 4)), NULL, &sl, NULL) != 0 ||
		    sl != sizeof(cp.sig) || strlen(PQgetvalue(q, i, 3)) !=
		    AUDIT_KEY_ID_HEX) {
			fail(res, writer, -1, "a stored checkpoint (size %lld) is "
			    "malformed", size);
			break;
		}
		r = cp_push(l, &cp, 0);
	}
	PQclear(q);
	return r;
}

/* Signatures, repeats and order of one writer's checkpoints. */
static void
check_checkpoints(const char *writer, struct cp_list *l,
    const struct audit_verify_opts *o, struct audit_verify_result *res)
{
	size_t i;

	for (i = 0; i < l->n && res->ok; i++) {
		const struct audit_checkpoint *cp = &l->v[i].cp;
		const char *where = l->v[i].from_witness ? "witness" : "database";

		switch (audit_checkpoint_verify(cp, o->keys, o->nkeys)) {
		case 0:
			break;
		case PII_ERR_KEY:
			fail(res, writer, -1, "the %s checkpoint at size %" PRIu64
			    " is signed by key %s, which is not trusted", where,
			    cp->size, cp->key_id);
			return;
		default:
			fail(res, writer, -1, "the %s checkpoint at size %" PRIu64
			    " has a bad signature", where, cp->size);
			return;
		}
	}
	/* in time order, a log only grows */
	qsort(l->v, l->n, sizeof(*l->v), cmp_item_time);
	for (i = 1; i < l->n && res->ok; i++)
		if (l->v[i].cp.size < l->v[i - 1].cp.size)
			fail(res, writer, -1, "the checkpoint of size %" PRIu64
			    " was signed after one of size %" PRIu64 ": the log "
			    "shrank", l->v[i].cp.size, l->v[i - 1].cp.size);
	/* by size: one root per size */
	qsort(l->v, l->n, sizeof(*l->v), cmp_item_size);
	for (i = 1; i < l->n && res->ok; i++)
		if (l->v[i].cp.size == l->v[i - 1].cp.size &&
		    memcmp(l->v[i].cp.root, l->v[i - 1].cp.root, 32) != 0)
			fail(res, writer, -1, "two checkpoints of size %" PRIu64
			    " have different roots", l->v[i].cp.size);
}

/* Split s at commas into at most max views (s is modified). */
static size_t
split_categories(char *s, const char **out, size_t max)
{
	size_t n = 0;
	char *save = NULL, *t;

	if (*s == '\0')
		return 0;
	for (t = strtok_r(s, ",", &save); t != NULL;
	    t = strtok_r(NULL, ",", &save)) {
		if (n == max)
			return max + 1;
		out[n++] = t;
	}
	return n;
}

static const char *
col(PGresult *q, int i)
{
	return PQgetisnull(q, 0, i) ? NULL : PQgetvalue(q, 0, i);
}

/* The columns of a record, in the order row_encode reads them. */
#define RECORD_COLUMNS "seq, (extract(epoch FROM at) * 1000000)::bigint," \
	" actor, role, on_behalf_of, purpose, ticket, action, subject_token," \
	" array_to_string(categories, ','), cardinality(categories)," \
	" decision, reason, request_id, source, batch_id, count," \
	" encode(leaf, 'hex')"

/* The canonical encoding of the record in row 0 of q (RECORD_COLUMNS). */
static int
row_encode(PGresult *q, const char *writer, unsigned char *enc, size_t *len)
{
	struct audit_record rec;
	struct audit_position pos;
	const char *cats[AUDIT_MAX_CATEGORIES + 1];
	char catbuf[AUDIT_MAX_CATEGORIES * (AUDIT_FIELD_MAX + 1) + 1];
	size_t nc;

	memset(&rec, 0, sizeof(rec));
	rec.actor = col(q, 2);
	rec.role = col(q, 3);
	rec.on_behalf_of = col(q, 4);
	rec.purpose = col(q, 5);
	rec.ticket = col(q, 6);
	rec.action = col(q, 7);
	rec.subject_token = col(q, 8);
	if (strlen(PQgetvalue(q, 0, 9)) >= sizeof(catbuf))
		return PII_ERR_BAD_REQUEST;
	snprintf(catbuf, sizeof(catbuf), "%s", PQgetvalue(q, 0, 9));
	nc = split_categories(catbuf, cats, AUDIT_MAX_CATEGORIES);
	if (nc > AUDIT_MAX_CATEGORIES ||
	    (long long)nc != strtoll(PQgetvalue(q, 0, 10), NULL, 10))
		return PII_ERR_BAD_REQUEST;
	rec.categories = cats;
	rec.ncategories = nc;
	rec.decision = col(q, 11);
	rec.reason = col(q, 12);
	rec.request_id = col(q, 13);
	rec.source = col(q, 14);
	rec.batch_id = col(q, 15);
	rec.count = strtoll(PQgetvalue(q, 0, 16), NULL, 10);
	pos.origin = writer;
	pos.seq = (uint64_t)strtoll(PQgetvalue(q, 0, 0), NULL, 10);
	pos.at_us = strtoll(PQgetvalue(q, 0, 1), NULL, 10);
	return audit_record_encode(&pos, &rec, enc, AUDIT_RECORD_MAX, len);
}

int
audit_db_record(PGconn *c, const char *writer, uint64_t seq,
    unsigned char *enc, size_t *len, struct pii_errinfo *ei)
{
	const char *p[2];
	char num[24];
	PGresult *q;
	int r;

	snprintf(num, sizeof(num), "%" PRIu64, seq);
	p[0] = writer;
	p[1] = num;
	q = PQexecParams(c, "SELECT " RECORD_COLUMNS " FROM audit_records"
	    " WHERE writer = $1 AND seq = $2::bigint", 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		PQclear(q);
		return pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading "
		    "audit_records failed: %s", PQerrorMessage(c));
	}
	if (PQntuples(q) != 1) {
		r = pii_errinfo_set(ei, PII_ERR_NOT_FOUND, NULL, "writer %s has "
		    "%s record %" PRIu64, writer, PQntuples(q) ? "more than one" :
		    "no", seq);
		PQclear(q);
		return r;
	}
	r = row_encode(q, writer, enc, len);
	PQclear(q);
	if (r != 0)
		return pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "record %" PRIu64
		    " of %s is not well formed (run pii-audit verify)", seq, writer);
	return 0;
}

/* Columns read by check_records, in binary: seq int8, at timestamptz
 * (int8 microseconds since 2000-01-01), text fields, categories joined by
 * commas with their count, count int8, leaf bytea. */
#define BINARY_COLUMNS "seq, at, actor, role, on_behalf_of, purpose, ticket," \
	" action, subject_token, array_to_string(categories, ','),"  \
	" cardinality(categories)::int8, decision, reason, request_id, source," \
	" batch_id, count, leaf"
#define FETCH_ROWS 20000
#define PG_EPOCH_US 946684800000000LL   /* 2000-01-01 in Unix microseconds */

static int64_t
be64(const char *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | (unsigned char)p[i];
	return (int64_t)v;
}


int
audit_copy_row_parse(const char *data, size_t len, struct audit_copy_row *out,
    char *scratch, size_t cap)
{
	size_t off = 2, used = 0;
	int i, n;

	if (len < 2)
		return PII_ERR_BAD_REQUEST;
	n = (int)(((unsigned char)data[0] << 8) | (unsigned char)data[1]);
	if (n != AUDIT_COPY_FIELDS)
		return PII_ERR_BAD_REQUEST;
	for (i = 0; i < n; i++) {
		int32_t fl;

		if (len - off < 4)
			return PII_ERR_BAD_REQUEST;
		fl = (int32_t)(((uint32_t)(unsigned char)data[off] << 24) |
		    ((uint32_t)(unsigned char)data[off + 1] << 16) |
		    ((uint32_t)(unsigned char)data[off + 2] << 8) |
		    (uint32_t)(unsigned char)data[off + 3]);
		off += 4;
		if (fl == -1) {
			out->v[i] = NULL;
			out->len[i] = 0;
			continue;
		}
		if (fl < 0 || (size_t)fl > len - off || (size_t)fl >= cap - used)
			return PII_ERR_BAD_REQUEST;
		memcpy(scratch + used, data + off, (size_t)fl);
		scratch[used + (size_t)fl] = '\0';
		out->v[i] = scratch + used;
		out->len[i] = (size_t)fl;
		used += (size_t)fl + 1;
		off += (size_t)fl;
	}
	return off == len ? 0 : PII_ERR_BAD_REQUEST;
}

/* A parsed row (BINARY_COLUMNS, writer): its seq, its stored leaf, and the
 * canonical encoding recomputed from its columns. */
static int
row_view_encode(const struct audit_copy_row *rw, const char *writer,
    long long *seq, unsigned char stored[32], unsigned char *enc, size_t *len)
{
	struct audit_record rec;
	struct audit_position pos;
	const char *cats[AUDIT_MAX_CATEGORIES + 1];
	char catbuf[AUDIT_MAX_CATEGORIES * (AUDIT_FIELD_MAX + 1) + 1];
	size_t nc, i;

	for (i = 0; i < 17; i++)
		if ((i == 0 || i == 1 || i == 10 || i == 16) &&
		    (rw->v[i] == NULL || rw->len[i] != 8))
			return PII_ERR_BAD_REQUEST;
	if (rw->v[17] == NULL || rw->len[17] != 32 || rw->v[9] == NULL ||
	    rw->len[9] >= sizeof(catbuf))
		return PII_ERR_BAD_REQUEST;
	/* text fields with a NUL byte cannot be what the writer hashed */
	for (i = 2; i < 16; i++)
		if (rw->v[i] != NULL && i != 10 && strlen(rw->v[i]) != rw->len[i])
			return PII_ERR_BAD_REQUEST;
	*seq = be64(rw->v[0]);
	memcpy(stored, rw->v[17], 32);
	memset(&rec, 0, sizeof(rec));
	rec.actor = rw->v[2];
	rec.role = rw->v[3];
	rec.on_behalf_of = rw->v[4];
	rec.purpose = rw->v[5];
	rec.ticket = rw->v[6];
	rec.action = rw->v[7];
	rec.subject_token = rw->v[8];
	memcpy(catbuf, rw->v[9], rw->len[9] + 1);
	nc = split_categories(catbuf, cats, AUDIT_MAX_CATEGORIES);
	if (nc > AUDIT_MAX_CATEGORIES || (int64_t)nc != be64(rw->v[10]))
		return PII_ERR_BAD_REQUEST;
	rec.categories = cats;
	rec.ncategories = nc;
	rec.decision = rw->v[11];
	rec.reason = rw->v[12];
	rec.request_id = rw->v[13];
	rec.source = rw->v[14];
	rec.batch_id = rw->v[15];
	rec.count = be64(rw->v[16]);
	pos.origin = writer;
	pos.seq = (uint64_t)*seq;
	pos.at_us = be64(rw->v[1]) + PG_EPOCH_US;
	return audit_record_encode(&pos, &rec, enc, AUDIT_RECORD_MAX, len);
}

static int
sql_fail(PGconn *c, PGresult *q, struct pii_errinfo *ei)
{
	int r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading audit_records "
	    "failed: %s", PQerrorMessage(c));

	PQclear(q);
	return r;
}

/* What one pass over the records learned about one writer. */
struct wstate {
	char *writer;
	unsigned char (*leaf)[32];   /* recomputed leaf hash, by seq */
	unsigned char *seen;         /* 1 where a record of that seq was read */
	uint64_t cap, end;           /* slots allocated; highest seq + 1 */
	unsigned long long rows;
	long long first_bad;         /* lowest seq with a problem, or -1 */
	char why[160];
};

struct wlist {
	struct wstate *v;
	size_t n, cap, last;
};

#define MAX_SEQ (1ULL << 36)    /* far beyond any log this can hold in memory */

static void
wlist_free(struct wlist *wl)
{
	size_t i;

	for (i = 0; i < wl->n; i++) {
		free(wl->v[i].writer);
		free(wl->v[i].leaf);
		free(wl->v[i].seen);
	}
	free(wl->v);
}

static struct wstate *
wlist_get(struct wlist *wl, const char *writer, size_t len)
{
	struct wstate *w;
	size_t i;

	if (wl->last < wl->n && strlen(wl->v[wl->last].writer) == len &&
	    memcmp(wl->v[wl->last].writer, writer, len) == 0)
		return &wl->v[wl->last];
	for (i = 0; i < wl->n; i++)
		if (strlen(wl->v[i].writer) == len &&
		    memcmp(wl->v[i].writer, writer, len) == 0) {
			wl->last = i;
			return &wl->v[i];
		}
	if (wl->n == wl->cap) {
		size_t nc = wl->cap ? wl->cap * 2 : 16;
		struct wstate *nv = realloc(wl->v, nc * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		wl->v = nv;
		wl->cap = nc;
	}
	w = &wl->v[wl->n];
	memset(w, 0, sizeof(*w));
	if ((w->writer = strndup(writer, len)) == NULL)
		return NULL;
	w->first_bad = -1;
	wl->last = wl->n++;
	return w;
}

static void
wbad(struct wstate *w, long long seq, const char *why)
{
	if (w->first_bad < 0 || seq < w->first_bad) {
		w->first_bad = seq;
		snprintf(w->why, sizeof(w->why), "%s", why);
	}
}

static int
wgrow(struct wstate *w, uint64_t seq)
{
	uint64_t nc;
	unsigned char (*nl)[32], *ns;

	if (seq < w->cap)
		return 0;
	nc = w->cap ? w->cap : 1024;
	while (nc <= seq)
		nc *= 2;
	if ((nl = realloc(w->leaf, nc * 32)) == NULL)
		return PII_ERR_NOMEM;
	w->leaf = nl;
	if ((ns = realloc(w->seen, nc)) == NULL)
		return PII_ERR_NOMEM;
	memset(ns + w->cap, 0, nc - w->cap);
	w->seen = ns;
	w->cap = nc;
	return 0;
}

/*
 * One pass over every record, in whatever order the table is stored (a
 * sequential scan, read through a cursor in binary in blocks of 20000: the
 * text protocol, one result per row and an index-ordered scan each cost
 * more than all the hashing).  Each record's leaf is recomputed from its
 * columns, compared with its stored leaf and kept by (writer, seq); order,
 * gaps and repeats are judged afterwards from the seq slots.
 */
static int
scan_records(PGconn *c, struct wlist *wl, struct pii_errinfo *ei)
{
	static const char sig[11] = "PGCOPY\n\377\r\n";   /* and its NUL */
	struct audit_copy_row rw;
	unsigned char *enc = NULL;
	char *scratch = NULL, *buf = NULL;
	PGresult *q = NULL;
	int r = 0, n, first = 1;

	enc = malloc(AUDIT_RECORD_MAX);
	scratch = malloc(AUDIT_COPY_SCRATCH);
	if (enc == NULL || scratch == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	q = PQexec(c, "COPY (SELECT " BINARY_COLUMNS ", writer FROM audit_records)"
	    " TO STDOUT WITH (FORMAT binary)");
	if (PQresultStatus(q) != PGRES_COPY_OUT) {
		r = sql_fail(c, q, ei);
		q = NULL;
		goto out;
	}
	PQclear(q);
	q = NULL;
	while ((n = PQgetCopyData(c, &buf, 0)) > 0) {
		const char *d = buf;
		size_t len = (size_t)n;
		unsigned char stored[32];
		struct wstate *w;
		size_t enclen = 0;
		long long seq = -1;

		if (first) {
			/* the header: signature, flags, extension area */
			uint32_t ext;

			first = 0;
			if (len < 19 || memcmp(d, sig, sizeof(sig)) != 0) {
				r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "unexpected "
				    "COPY header from the server");
				break;
			}
			ext = ((uint32_t)(unsigned char)d[15] << 24) |
			    ((uint32_t)(unsigned char)d[16] << 16) |
			    ((uint32_t)(unsigned char)d[17] << 8) |
			    (uint32_t)(unsigned char)d[18];
			if (ext > len - 19) {
				r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "unexpected "
				    "COPY header from the server");
				break;
			}
			d += 19 + ext;
			len -= 19 + ext;
			if (len == 0) {
				PQfreemem(buf);
				buf = NULL;
				continue;
			}
		}
		if (len == 2 && d[0] == '\377' && d[1] == '\377') {   /* trailer */
			PQfreemem(buf);
			buf = NULL;
			continue;
		}
		if (audit_copy_row_parse(d, len, &rw, scratch,
		    AUDIT_COPY_SCRATCH) != 0) {
			r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "a COPY row from "
			    "the server is malformed");
			break;
		}
		if (rw.v[18] == NULL || rw.len[18] == 0 ||
		    rw.len[18] >= AUDIT_ORIGIN_MAX)
			w = wlist_get(wl, "?", 1);
		else
			w = wlist_get(wl, rw.v[18], rw.len[18]);
		if (w == NULL) {
			r = PII_ERR_NOMEM;
			break;
		}
		w->rows++;
		PQfreemem(buf);
		buf = NULL;
		if (row_view_encode(&rw, w->writer, &seq, stored, enc,
		    &enclen) != 0) {
			if (seq >= 0 && (uint64_t)seq < MAX_SEQ)
				wbad(w, seq, "is not a well-formed record (changed)");
			else
				wbad(w, 0, "has a record with an impossible sequence "
				    "number");
			continue;
		}
		if (seq < 0 || (uint64_t)seq >= MAX_SEQ) {
			wbad(w, 0, "has a record with an impossible sequence number");
			continue;
		}
		if ((r = wgrow(w, (uint64_t)seq)) != 0)
			break;
		if (w->seen[seq]) {
			wbad(w, seq, "appears twice (a record was inserted)");
			continue;
		}
		w->seen[seq] = 1;
		if ((uint64_t)seq + 1 > w->end)
			w->end = (uint64_t)seq + 1;
		audit_merkle_leaf_hash(enc, enclen, w->leaf[seq]);
		if (memcmp(w->leaf[seq], stored, 32) != 0)
			wbad(w, seq, "does not match its hash (changed, or moved)");
	}
	if (buf != NULL)
		PQfreemem(buf);
	/* drain: the COPY's end (or the rest of it, after an error) */
	if (r != 0)
		while ((n = PQgetCopyData(c, &buf, 0)) > 0)
			PQfreemem(buf);
	if (n == -2 && r == 0)
		r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading audit_records "
		    "failed: %s", PQerrorMessage(c));
	while ((q = PQgetResult(c)) != NULL) {
		if (r == 0 && PQresultStatus(q) != PGRES_COMMAND_OK)
			r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading "
			    "audit_records failed: %s", PQerrorMessage(c));
		PQclear(q);
	}
out:
	free(enc);
	free(scratch);
	return r;
}

/* One writer's records (w may be NULL: none) against its checkpoints l
 * (sorted by size). */
static int
check_writer(const char *writer, const struct wstate *w,
    const struct cp_list *l, struct audit_verify_result *res)
{
	struct audit_merkle_range rg;
	unsigned long long n = 0, i;
	long long last_good = 0;
	size_t next_cp = 0;

	/* the first gap, or the first bad record, whichever comes first */
	if (w != NULL) {
		while (n < w->end && w->seen[n])
			n++;
		if (w->first_bad >= 0 && (unsigned long long)w->first_bad <= n)
			return fail(res, writer, w->first_bad, "record %lld %s",
			    w->first_bad, w->why);
		if (n < w->end)
			return fail(res, writer, (long long)n, "record %llu is "
			    "missing (deleted)", n);
	}
	audit_merkle_range_init(&rg);
	while (next_cp < l->n && l->v[next_cp].cp.size == 0) {
		unsigned char empty[32];

		audit_merkle_empty_root(empty);
		if (memcmp(empty, l->v[next_cp].cp.root, 32) != 0)
			return fail(res, writer, 0, "a checkpoint of size 0 does "
			    "not have the empty root");
		next_cp++;
	}
	for (i = 0; i < n; i++) {
		if (audit_merkle_range_append(&rg, w->leaf[i]) != 0)
			return fail(res, writer, (long long)i, "log too large");
		while (next_cp < l->n && l->v[next_cp].cp.size == i + 1) {
			unsigned char root[32];

			audit_merkle_range_root(&rg, root);
			if (memcmp(root, l->v[next_cp].cp.root, 32) != 0)
				return fail(res, writer, last_good, "records %lld to "
				    "%llu do not match the signed checkpoint at size "
				    "%llu (%s)", last_good, i, i + 1,
				    l->v[next_cp].from_witness ? "witness" :
				    "database");
			last_good = (long long)(i + 1);
			next_cp++;
		}
	}
	res->records += n;
	if (next_cp < l->n) {
		const struct cp_item *big = &l->v[l->n - 1];

		return fail(res, writer, (long long)n, "the log ends after %llu "
		    "records but a %s checkpoint covers %" PRIu64 ": records "
		    "%llu and later are missing (truncated or replaced by an "
		    "older copy)", n, big->from_witness ? "witness" : "database",
		    big->cp.size, n);
	}
	res->unsealed += n - (unsigned long long)last_good;
	return 0;
}

int
audit_verify(PGconn *c, const struct audit_verify_opts *o,
    struct audit_verify_result *res, struct pii_errinfo *ei)
{
	struct cp_list witness = { 0 }, l = { 0 };
	struct wlist wl = { 0 };
	char **writers = NULL;
	size_t nw = 0, capw = 0, i, j;
	PGresult *q = NULL;
	int r = 0;

	memset(res, 0, sizeof(*res));
	res->ok = 1;
	res->seq = -1;
	if (o->witness_file != NULL &&
	    ((r = load_witness(o->witness_file, &witness, res, ei)) != 0 ||
	    !res->ok))
		goto out;
	res->witness_checkpoints = witness.n;
	/* a witness given but empty or gone, while the database holds
	 * checkpoints that were published to it, has been removed or replaced */
	if (o->witness_file != NULL && witness.n == 0) {
		q = PQexec(c, "SELECT count(*) FROM audit_checkpoints");
		if (PQresultStatus(q) != PGRES_TUPLES_OK) {
			r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading "
			    "audit_checkpoints failed: %s", PQerrorMessage(c));
			goto out;
		}
		if (strtoll(PQgetvalue(q, 0, 0), NULL, 10) > 0) {
			fail(res, "-", -1, "the witness %s is missing or empty but "
			    "the database holds %s checkpoints", o->witness_file,
			    PQgetvalue(q, 0, 0));
			goto out;
		}
		PQclear(q);
		q = NULL;
	}
	if ((r = scan_records(c, &wl, ei)) != 0)
		goto out;
	q = PQexec(c, "SELECT DISTINCT writer FROM audit_checkpoints");
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading the audit "
		    "writers failed: %s", PQerrorMessage(c));
		goto out;
	}
	capw = (size_t)PQntuples(q) + witness.n + wl.n + 1;
	if ((writers = calloc(capw, sizeof(*writers))) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	for (i = 0; i < (size_t)PQntuples(q); i++)
		if ((writers[nw++] = strdup(PQgetvalue(q, (int)i, 0))) == NULL) {
			r = PII_ERR_NOMEM;
			goto out;
		}
	for (i = 0; i < witness.n; i++)
		if ((writers[nw++] = strdup(witness.v[i].cp.origin)) == NULL) {
			r = PII_ERR_NOMEM;
			goto out;
		}
	for (i = 0; i < wl.n; i++)
		if ((writers[nw++] = strdup(wl.v[i].writer)) == NULL) {
			r = PII_ERR_NOMEM;
			goto out;
		}
	qsort(writers, nw, sizeof(*writers), cmp_str);
	for (i = 0; i < nw && res->ok && r == 0; i++) {
		const struct wstate *w = NULL;

		if (i > 0 && strcmp(writers[i], writers[i - 1]) == 0)
			continue;
		res->writers++;
		l.n = 0;
		if ((r = load_db_checkpoints(c, writers[i], &l, res, ei)) != 0 ||
		    !res->ok)
			break;
		for (j = 0; j < witness.n; j++)
			if (strcmp(witness.v[j].cp.origin, writers[i]) == 0 &&
			    (r = cp_push(&l, &witness.v[j].cp, 1)) != 0)
				goto out;
		res->checkpoints += l.n;
		check_checkpoints(writers[i], &l, o, res);
		if (!res->ok)
			break;
		for (j = 0; j < wl.n; j++)
			if (strcmp(wl.v[j].writer, writers[i]) == 0)
				w = &wl.v[j];
		check_writer(writers[i], w, &l, res);
	}
out:
	PQclear(q);
	for (i = 0; i < nw; i++)
		free(writers[i]);
	free(writers);
	free(witness.v);
	free(l.v);
	wlist_free(&wl);
	return r;
}
