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

static const char *
bcol(PGresult *q, int row, int i)
{
	return PQgetisnull(q, row, i) ? NULL : PQgetvalue(q, row, i);
}

/* Row `row` of a binary BINARY_COLUMNS result: its seq, its stored leaf,
 * and the canonical encoding recomputed from its columns. */
static int
binary_row_encode(PGresult *q, int row, const char *writer, long long *seq,
    unsigned char stored[32], unsigned char *enc, size_t *len)
{
	struct audit_record rec;
	struct audit_position pos;
	const char *cats[AUDIT_MAX_CATEGORIES + 1];
	char catbuf[AUDIT_MAX_CATEGORIES * (AUDIT_FIELD_MAX + 1) + 1];
	int i;
	size_t nc;

	for (i = 0; i < 18; i++)
		if ((i == 0 || i == 1 || i == 10 || i == 16) &&
		    (PQgetisnull(q, row, i) || PQgetlength(q, row, i) != 8))
			return PII_ERR_BAD_REQUEST;
	if (PQgetisnull(q, row, 17) || PQgetlength(q, row, 17) != 32)
		return PII_ERR_BAD_REQUEST;
	*seq = be64(PQgetvalue(q, row, 0));
	memcpy(stored, PQgetvalue(q, row, 17), 32);
	memset(&rec, 0, sizeof(rec));
	rec.actor = bcol(q, row, 2);
	rec.role = bcol(q, row, 3);
	rec.on_behalf_of = bcol(q, row, 4);
	rec.purpose = bcol(q, row, 5);
	rec.ticket = bcol(q, row, 6);
	rec.action = bcol(q, row, 7);
	rec.subject_token = bcol(q, row, 8);
	if (PQgetisnull(q, row, 9) ||
	    (size_t)PQgetlength(q, row, 9) >= sizeof(catbuf))
		return PII_ERR_BAD_REQUEST;
	memcpy(catbuf, PQgetvalue(q, row, 9), (size_t)PQgetlength(q, row, 9) + 1);
	nc = split_categories(catbuf, cats, AUDIT_MAX_CATEGORIES);
	if (nc > AUDIT_MAX_CATEGORIES ||
	    (int64_t)nc != be64(PQgetvalue(q, row, 10)))
		return PII_ERR_BAD_REQUEST;
	rec.categories = cats;
	rec.ncategories = nc;
	rec.decision = bcol(q, row, 11);
	rec.reason = bcol(q, row, 12);
	rec.request_id = bcol(q, row, 13);
	rec.source = bcol(q, row, 14);
	rec.batch_id = bcol(q, row, 15);
	rec.count = be64(PQgetvalue(q, row, 16));
	pos.origin = writer;
	pos.seq = (uint64_t)*seq;
	pos.at_us = be64(PQgetvalue(q, row, 1)) + PG_EPOCH_US;
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

/* Read writer's records in sequence order, through a cursor fetched in
 * binary in large blocks (the text protocol and one result per row cost
 * more than all the hashing), and hold the checkpoints in l (sorted by
 * size) to them. */
static int
check_records(PGconn *c, const char *writer, const struct cp_list *l,
    struct audit_verify_result *res, struct pii_errinfo *ei)
{
	const char *p[1] = { writer };
	struct audit_merkle_range rg;
	unsigned char *enc = NULL;
	unsigned long long n = 0;
	long long last_good = 0;
	size_t next_cp = 0;
	PGresult *q = NULL;
	int r = 0, done = 0, row;

	if ((enc = malloc(AUDIT_RECORD_MAX)) == NULL)
		return PII_ERR_NOMEM;
	audit_merkle_range_init(&rg);
	/* checkpoints of size 0 cover nothing: the empty root */
	while (next_cp < l->n && l->v[next_cp].cp.size == 0) {
		unsigned char empty[32];

		audit_merkle_empty_root(empty);
		if (memcmp(empty, l->v[next_cp].cp.root, 32) != 0) {
			fail(res, writer, 0, "a checkpoint of size 0 does not have "
			    "the empty root");
			done = 1;
		}
		next_cp++;
	}
	q = PQexec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
	if (PQresultStatus(q) != PGRES_COMMAND_OK) {
		r = sql_fail(c, q, ei);
		goto out;
	}
	PQclear(q);
	q = PQexecParams(c, "DECLARE audit_verify_cur NO SCROLL CURSOR FOR"
	    " SELECT " BINARY_COLUMNS " FROM audit_records WHERE writer = $1"
	    " ORDER BY seq", 1, NULL, p, NULL, NULL, 1);
	if (PQresultStatus(q) != PGRES_COMMAND_OK) {
		r = sql_fail(c, q, ei);
		goto out;
	}
	PQclear(q);
	q = NULL;
	while (!done) {
		q = PQexecParams(c, "FETCH FORWARD 20000 FROM audit_verify_cur", 0,
		    NULL, NULL, NULL, NULL, 1);
		if (PQresultStatus(q) != PGRES_TUPLES_OK) {
			r = sql_fail(c, q, ei);
			q = NULL;
			goto out;
		}
		if (PQntuples(q) == 0)
			break;
		for (row = 0; row < PQntuples(q) && !done; row++) {
			unsigned char leaf[32], stored[32];
			size_t enclen = 0;
			long long seq = -1;
			int er;

			er = binary_row_encode(q, row, writer, &seq, stored, enc,
			    &enclen);
			if (seq != (long long)n && seq >= 0) {
				if (seq < (long long)n)
					fail(res, writer, seq, "record %lld appears "
					    "twice (a record was inserted)", seq);
				else
					fail(res, writer, (long long)n, "record %llu is "
					    "missing (deleted)", n);
				done = 1;
				break;
			}
			if (er != 0) {
				fail(res, writer, (long long)n, "record %llu is not a "
				    "well-formed record (changed)", n);
				done = 1;
				break;
			}
			audit_merkle_leaf_hash(enc, enclen, leaf);
			if (memcmp(leaf, stored, 32) != 0) {
				fail(res, writer, seq, "record %lld does not match its "
				    "hash (changed, or moved)", seq);
				done = 1;
				break;
			}
			if (audit_merkle_range_append(&rg, leaf) != 0) {
				fail(res, writer, seq, "log too large");
				done = 1;
				break;
			}
			n++;
			while (next_cp < l->n && l->v[next_cp].cp.size == n) {
				unsigned char root[32];

				audit_merkle_range_root(&rg, root);
				if (memcmp(root, l->v[next_cp].cp.root, 32) != 0) {
					fail(res, writer, last_good, "records %lld to %llu "
					    "do not match the signed checkpoint at size "
					    "%llu (%s)", last_good, n - 1, n,
					    l->v[next_cp].from_witness ? "witness" :
					    "database");
					done = 1;
					break;
				}
				last_good = (long long)n;
				next_cp++;
			}
		}
		PQclear(q);
		q = NULL;
	}
out:
	PQclear(q);
	q = PQexec(c, "ROLLBACK");   /* read only: nothing to keep */
	PQclear(q);
	free(enc);
	if (r != 0 || !res->ok)
		return r;
	res->records += n;
	if (next_cp < l->n) {
		/* l is sorted by size: the largest is last */
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
	q = PQexec(c, "SELECT writer FROM audit_records GROUP BY writer"
	    " UNION SELECT writer FROM audit_checkpoints");
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading the audit "
		    "writers failed: %s", PQerrorMessage(c));
		goto out;
	}
	capw = (size_t)PQntuples(q) + witness.n + 1;
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
	qsort(writers, nw, sizeof(*writers), cmp_str);
	for (i = 0; i < nw && res->ok && r == 0; i++) {
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
		r = check_records(c, writers[i], &l, res, ei);
	}
out:
	PQclear(q);
	for (i = 0; i < nw; i++)
		free(writers[i]);
	free(writers);
	free(witness.v);
	free(l.v);
	return r;
}
