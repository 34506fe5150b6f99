/*
 * vault_tokenize.c - POST /v1/tokenize: values in, tokens out.
 *
 * A batch is validated whole before the database is touched (an error names
 * records[i].fields.<category>), then stored in one transaction:
 *   1. claim batch_id (a retry with the same id and content stores nothing
 *      new and answers the first run's counts; other content: 409)
 *   2. look up the batch's subjects: known ones give their wrapped DEK
 *      (unwrapped), erasure status and, with a purpose, objections; unknown
 *      ones are inserted, each with a new random DEK, wrapped (COPY)
 *   3. seal every value under its subject's DEK; values of new subjects go
 *      in by COPY, values of known subjects by one multi-row INSERT ... ON
 *      CONFLICT DO NOTHING
 *   4. write the audit record, then COMMIT.
 * Two batches creating the same subject at once: the unique index on
 * subject_token fails one of them (23505), which rolls back and runs again,
 * then finds the subject.  Deadlocks and serialization failures likewise.
 * Plaintext lives only in one wiped arena and in the request body; the
 * batch's DEKs in one locked allocation (vault_dek_set).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../common/buf.h"
#include "../common/json_util.h"
#include "../common/log.h"
#include "vault_crypto.h"
#include "vault_normalize.h"
#include "vault_server.h"

#define MAX_FIELDS_PER_RECORD 64
#define MAX_SOURCE 128
#define MAX_BATCH_ID 64
#define MAX_PURPOSE 64
#define MAX_SUBJECT_REF 256
/* tokens of a known subject fetched per batch (more still work: the rest
 * go through INSERT ... ON CONFLICT DO NOTHING) */
#define KNOWN_MAX_STR "64"

struct tk_field {
	char category[VAULT_CATEGORY_MAX];
	char token[VAULT_TOKEN_MAX];
	size_t plain_off, plain_len;   /* into the arena */
	int is_null;
};

struct tk_subject {
	char token[VAULT_TOKEN_MAX];
	long long id;
	int erased;
	int objects;
	int is_new;
	struct vault_dek *dek;         /* a slot of tk_batch.deks, or NULL */
	size_t known_off, known_len;   /* tokens it already has, into tk_batch.known */
	/* a known subject's wrapped DEK, unwrapped only when one of its values
	 * has to be sealed (a re-ingest of known values needs no key) */
	unsigned char wrapped[VAULT_WRAPPED_DEK_BYTES];
	size_t wrapped_len;
	uint32_t epoch;
	int dek_pending;
};

struct tk_record {
	char subject_token[VAULT_TOKEN_MAX];
	size_t first, nfields;
	size_t subject;                /* index into subjects */
	int dropped;                   /* 0 or PII_ERR_SUBJECT_ERASED / PII_ERR_OBJECTION */
};

struct tk_batch {
	const char *source, *batch_id, *purpose;
	struct tk_record *recs;
	size_t nrecs;
	struct tk_field *fields;
	size_t nfields;
	struct tk_subject *subjects;
	size_t nsubjects;
	struct pii_buf arena;          /* normalized plaintext */
	struct pii_buf known;          /* " tok tok ... " per known subject (no PII) */
	struct vault_dek_set *deks;    /* slot i for subjects[i] */
	const char *cats[AUDIT_MAX_CATEGORIES];
	size_t ncats;
	int raced;                     /* a subject was erased under this batch */
};

static void
batch_free(struct tk_batch *b)
{
	vault_dek_set_free(b->deks);
	free(b->subjects);
	free(b->recs);
	free(b->fields);
	pii_buf_free(&b->arena);
	pii_buf_free(&b->known);
}

static int
token_chars_ok(const char *s, size_t max)
{
	size_t n = 0;

	for (; *s != '\0'; s++, n++) {
		char c = *s;

		if (n >= max)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		    c == ':' || c == '/'))
			return 0;
	}
	return n > 0;
}

static int
cmp_subject(const void *a, const void *b)
{
	return strcmp(((const struct tk_subject *)a)->token,
	    ((const struct tk_subject *)b)->token);
}

/* Validate and normalize the whole batch; compute every token. */
static int
parse_batch(struct vault_server *vs, json_t *root, struct tk_batch *b,
    struct pii_errinfo *ei)
{
	static const char *const top_keys[] = { "source", "batch_id", "purpose",
		"records", NULL };
	static const char *const rec_keys[] = { "subject", "fields", NULL };
	const struct vault_config *cfg = vs->cfg;
	char path[PII_ERR_MAX_FIELD], fpath[PII_ERR_MAX_FIELD], vpath[PII_ERR_MAX_FIELD];
	char *norm = NULL;
	json_t *records;
	size_t i, maxfields, normcap;
	int r;

	if (!json_is_object(root))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "the body must be a JSON object");
	if ((r = pii_json_check_keys(root, top_keys, "", ei)) != 0)
		return r;
	if ((r = pii_json_get_string(root, "source", 1, MAX_SOURCE, "", &b->source,
	    NULL, ei)) != 0)
		return r;
	if (!token_chars_ok(b->source, MAX_SOURCE))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "source",
		    "must be 1-128 characters of [A-Za-z0-9._:/-]");
	if ((r = pii_json_get_string(root, "batch_id", 0, MAX_BATCH_ID, "",
	    &b->batch_id, NULL, ei)) != 0)
		return r;
	if (b->batch_id != NULL && !token_chars_ok(b->batch_id, MAX_BATCH_ID))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "batch_id",
		    "must be 1-64 characters of [A-Za-z0-9._:/-]");
	if ((r = pii_json_get_string(root, "purpose", 0, MAX_PURPOSE, "",
	    &b->purpose, NULL, ei)) != 0)
		return r;
	if (b->purpose != NULL && !token_chars_ok(b->purpose, MAX_PURPOSE))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "purpose",
		    "must be 1-64 characters of [A-Za-z0-9._:/-]");
	if ((r = pii_json_get_array(root, "records", 1,
	    (size_t)cfg->max_batch_records, "", &records, ei)) != 0)
		return r;
	if (json_array_size(records) == 0)
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "records",
		    "must not be empty");

	b->nrecs = json_array_size(records);
	maxfields = 0;
	for (i = 0; i < b->nrecs; i++) {
		json_t *f = json_object_get(json_array_get(records, i), "fields");

		if (json_is_object(f))
			maxfields += json_object_size(f);
	}
	b->recs = calloc(b->nrecs, sizeof(*b->recs));
	b->fields = calloc(maxfields ? maxfields : 1, sizeof(*b->fields));
	b->subjects = calloc(b->nrecs, sizeof(*b->subjects));
	normcap = (size_t)cfg->max_value_bytes * 2 + 64;
	norm = malloc(normcap);
	if (b->recs == NULL || b->fields == NULL || b->subjects == NULL || norm == NULL) {
		free(norm);
		return PII_ERR_NOMEM;
	}
	pii_buf_init(&b->arena, (size_t)cfg->max_body_bytes * 2 + 1024);
	pii_buf_init(&b->known, (size_t)64 << 20);

	for (i = 0; i < b->nrecs; i++) {
		json_t *rec = json_array_get(records, i), *fields, *v;
		struct tk_record *tr = &b->recs[i];
		struct tk_subject *sj = &b->subjects[i];
		const char *subject, *cat;
		size_t slen, nlen;

		pii_json_path_index(path, sizeof(path), "records", i);
		if (!json_is_object(rec)) {
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, path,
			    "must be an object");
			goto out;
		}
		if ((r = pii_json_check_keys(rec, rec_keys, path, ei)) != 0 ||
		    (r = pii_json_get_string(rec, "subject", 1, MAX_SUBJECT_REF, path,
		    &subject, &slen, ei)) != 0 ||
		    (r = pii_json_get_object(rec, "fields", 1, path, &fields, ei)) != 0)
			goto out;
		pii_json_path_key(fpath, sizeof(fpath), path, "subject");
		r = vault_normalize(&cfg->categories, "subject", subject, slen, norm,
		    normcap, &nlen, ei);
		if (r != 0) {
			snprintf(ei->field, sizeof(ei->field), "%s", fpath);
			goto out;
		}
		if ((r = vault_token(vs->keys, "subject", (unsigned char *)norm, nlen,
		    tr->subject_token)) != 0)
			goto out;
		memcpy(sj->token, tr->subject_token, sizeof(sj->token));
		sodium_memzero(norm, nlen);
		pii_json_path_key(fpath, sizeof(fpath), path, "fields");
		if (json_object_size(fields) > MAX_FIELDS_PER_RECORD) {
			r = pii_errinfo_set(ei, PII_ERR_TOO_LARGE, fpath,
			    "more than %d fields", MAX_FIELDS_PER_RECORD);
			goto out;
		}
		tr->first = b->nfields;
		json_object_foreach(fields, cat, v) {
			struct tk_field *tf = &b->fields[b->nfields];
			size_t k;

			pii_json_path_key(vpath, sizeof(vpath), fpath, cat);
			if (!vault_category_known(&cfg->categories, cat)) {
				r = pii_errinfo_set(ei, PII_ERR_UNKNOWN_CATEGORY, vpath,
				    "unknown category");
				goto out;
			}
			snprintf(tf->category, sizeof(tf->category), "%s", cat);
			if (json_is_null(v)) {
				tf->is_null = 1;
				b->nfields++;
				continue;
			}
			if (!json_is_string(v)) {
				r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, vpath,
				    "must be a string or null");
				goto out;
			}
			if (json_string_length(v) > (size_t)cfg->max_value_bytes) {
				r = pii_errinfo_set(ei, PII_ERR_TOO_LARGE, vpath,
				    "value longer than %lld bytes", cfg->max_value_bytes);
				goto out;
			}
			r = vault_normalize(&cfg->categories, cat, json_string_value(v),
			    json_string_length(v), norm, normcap, &nlen, ei);
			if (r != 0) {
				snprintf(ei->field, sizeof(ei->field), "%s", vpath);
				goto out;
			}
			if ((r = vault_token(vs->keys, cat, (unsigned char *)norm, nlen,
			    tf->token)) != 0)
				goto out;
			tf->plain_off = b->arena.len;
			tf->plain_len = nlen;
			pii_buf_append(&b->arena, norm, nlen);
			sodium_memzero(norm, nlen);
			if (b->arena.failed) {
				r = pii_errinfo_set(ei, PII_ERR_TOO_LARGE, vpath,
				    "batch too large");
				goto out;
			}
			b->nfields++;
			for (k = 0; k < b->ncats; k++)
				if (strcmp(b->cats[k], cat) == 0)
					break;
			if (k == b->ncats && b->ncats < AUDIT_MAX_CATEGORIES)
				b->cats[b->ncats++] = cat;
		}
		tr->nfields = b->nfields - tr->first;
	}
	/* distinct subjects: sort the per-record copies and squeeze duplicates */
	qsort(b->subjects, b->nrecs, sizeof(*b->subjects), cmp_subject);
	b->nsubjects = 0;
	for (i = 0; i < b->nrecs; i++)
		if (b->nsubjects == 0 || strcmp(b->subjects[i].token,
		    b->subjects[b->nsubjects - 1].token) != 0)
			b->subjects[b->nsubjects++] = b->subjects[i];
	r = 0;
out:
	free(norm);
	return r;
}

static size_t
subject_index(const struct tk_batch *b, const char *token)
{
	size_t lo = 0, hi = b->nsubjects;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(b->subjects[mid].token, token);

		if (c == 0)
			return mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (size_t)-1;
}

/* A keyed digest of the batch's content for idempotent retries: computed over
 * tokens only, so it reveals nothing a token does not. */
static void
batch_digest(const struct tk_batch *b, const char *const *subj_tokens,
    char out[65])
{
	crypto_hash_sha256_state st;
	unsigned char h[32];
	size_t i, j;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)b->source,
	    strlen(b->source) + 1);
	if (b->purpose != NULL)
		crypto_hash_sha256_update(&st, (const unsigned char *)b->purpose,
		    strlen(b->purpose));
	crypto_hash_sha256_update(&st, (const unsigned char *)"", 1);
	for (i = 0; i < b->nrecs; i++) {
		crypto_hash_sha256_update(&st, (const unsigned char *)subj_tokens[i],
		    strlen(subj_tokens[i]) + 1);
		for (j = 0; j < b->recs[i].nfields; j++) {
			const struct tk_field *f = &b->fields[b->recs[i].first + j];

			crypto_hash_sha256_update(&st, (const unsigned char *)f->category,
			    strlen(f->category) + 1);
			crypto_hash_sha256_update(&st, (const unsigned char *)
			    (f->is_null ? "" : f->token), strlen(f->is_null ? "" :
			    f->token) + 1);
		}
	}
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

static int
hex_decode(const char *hex, unsigned char *out, size_t cap, size_t *outlen)
{
	return sodium_hex2bin(out, cap, hex, strlen(hex), NULL, outlen, NULL) == 0 ?
	    0 : PII_ERR_INTERNAL;
}

static void
buf_num(struct pii_buf *b, long long v)
{
	char num[24];

	snprintf(num, sizeof(num), "%lld", v);
	pii_buf_puts(b, num);
}

/* Forget what a failed attempt learned from the database. */
static void
batch_reset(struct tk_batch *b)
{
	size_t i;

	for (i = 0; i < b->nsubjects; i++) {
		struct tk_subject *sj = &b->subjects[i];

		sj->id = 0;
		sj->erased = sj->objects = sj->is_new = 0;
		sj->dek = NULL;
		sj->dek_pending = 0;
		sj->known_off = sj->known_len = 0;
	}
	pii_buf_reset(&b->known);
	for (i = 0; i < b->nrecs; i++)
		b->recs[i].dropped = 0;
	b->raced = 0;
}

/*
 * Step 2: which subjects exist, their keys, erasures and objections.  A
 * subject that is not there yet is created by this transaction: its row in
 * subjects (a unique index on subject_token, so a concurrent batch creating
 * the same subject makes one of the two fail with 23505 and run again, when
 * it finds the subject) and its wrapped DEK in subject_keys.
 */
/* Longest subjects.value_tokens kept (bytes); past it the list is NULL and
 * readers ask pii_values (about 90 tokens). */
#define VALUE_TOKENS_MAX 4096
#define VALUE_TOKENS_MAX_STR "4096"

/*
 * The value_tokens of each subject new to this batch, as a text[] literal in
 * the order load_subjects inserts them (subjects without an id yet): the
 * tokens of every value of theirs this batch stores - all of them, since a
 * new subject holds nothing and cannot be erased or objecting.  A list past
 * VALUE_TOKENS_MAX is NULL.
 */
static int
new_value_tokens(const struct tk_batch *b, struct pii_buf *out)
{
	size_t *head = NULL, *next = NULL, i, k, j;
	struct pii_buf one;
	int r = PII_ERR_NOMEM;

	pii_buf_init(&one, VALUE_TOKENS_MAX);
	head = malloc(b->nsubjects * sizeof(*head) + 1);
	next = malloc(b->nrecs * sizeof(*next) + 1);
	if (head == NULL || next == NULL)
		goto out;
	for (k = 0; k < b->nsubjects; k++)
		head[k] = (size_t)-1;
	for (i = b->nrecs; i-- > 0;) {
		next[i] = head[b->recs[i].subject];
		head[b->recs[i].subject] = i;
	}
	pii_buf_reset(out);
	pii_buf_putc(out, '{');
	for (k = 0; k < b->nsubjects; k++) {
		if (b->subjects[k].id != 0)
			continue;
		pii_buf_reset(&one);
		for (i = head[k]; i != (size_t)-1; i = next[i])
			for (j = 0; j < b->recs[i].nfields; j++) {
				const struct tk_field *f = &b->fields[b->recs[i].first + j];

				if (f->is_null)
					continue;
				if (one.len > 0)
					pii_buf_putc(&one, ' ');
				pii_buf_puts(&one, f->token);
			}
		if (one.failed) {
			/* too many to keep: readers ask pii_values */
			if (out->len > 1)
				pii_buf_putc(out, ',');
			pii_buf_puts(out, "NULL");
			one.failed = 0;
		} else {
			pii_buf_array_elem(out, one.len > 0 ? one.data : "");
		}
	}
	pii_buf_putc(out, '}');
	r = out->failed ? PII_ERR_NOMEM : 0;
out:
	pii_buf_free(&one);
	free(head);
	free(next);
	return r;
}

static int
load_subjects(struct vault_server *vs, PGconn *c, struct tk_batch *b)
{
	struct pii_buf toks, keys, cats, vt;
	PGresult *res = NULL;
	const char *p[2];
	size_t i, nnew = 0, nold = 0;
	int r;

	pii_buf_init(&toks, (size_t)-1 / 2);
	pii_buf_init(&keys, (size_t)-1 / 2);
	pii_buf_init(&cats, (size_t)-1 / 2);
	pii_buf_init(&vt, (size_t)-1 / 2);
	pii_buf_putc(&toks, '{');
	for (i = 0; i < b->nsubjects; i++)
		pii_buf_array_elem(&toks, b->subjects[i].token);
	pii_buf_putc(&toks, '}');
	if (toks.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	/* One index probe per subject, whatever the statistics say: with
	 * "subject_token = ANY ($1)" the planner prices a thousand probes above
	 * a sequential scan (random_page_cost), and then every batch reads the
	 * whole table.  A LIMIT keeps each LATERAL subquery from being pulled
	 * up into a join it could plan that way. */
	/* the batch's categories, to fetch the tokens a known subject already
	 * has in them: values it holds need no sealing and no INSERT (a
	 * re-ingest then reads instead of writing) */
	pii_buf_putc(&cats, '{');
	for (i = 0; i < b->ncats; i++)
		pii_buf_array_elem(&cats, b->cats[i]);
	pii_buf_putc(&cats, '}');
	if (cats.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	p[0] = toks.data;
	p[1] = cats.data;
	/* the subject's own list of tokens when it keeps one; pii_values
	 * only for a subject that does not (the subquery runs only then) */
	r = pii_pg_exec(vs->db, c,
	    "SELECT s.id, s.subject_token, s.status, k.kek_epoch,"
	    " encode(k.wrapped_dek, 'hex'), coalesce(s.value_tokens,"
	    "  (SELECT string_agg(x.token, ' ') FROM"
	    "   (SELECT token FROM pii_values WHERE subject_id = s.id"
	    "    AND category = ANY ($2::text[]) LIMIT " KNOWN_MAX_STR ") AS x))"
	    " FROM unnest($1::text[]) AS u (t)"
	    " CROSS JOIN LATERAL (SELECT id, subject_token, status, value_tokens"
	    "   FROM subjects WHERE subject_token = u.t LIMIT 1) AS s"
	    " LEFT JOIN LATERAL (SELECT kek_epoch, wrapped_dek FROM subject_keys"
	    "   WHERE subject_id = s.id LIMIT 1) AS k ON true", 2, p, &res);
	if (r != 0)
		goto out;
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		size_t k = subject_index(b, PQgetvalue(res, (int)i, 1));
		struct tk_subject *sj;
		unsigned char w[VAULT_WRAPPED_DEK_BYTES];
		size_t wl = 0;

		if (k == (size_t)-1 || b->subjects[k].id != 0)
			continue;
		sj = &b->subjects[k];
		sj->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
		nold++;
		if (strcmp(PQgetvalue(res, (int)i, 2), "erased") == 0) {
			sj->erased = 1;
			continue;
		}
		if (!PQgetisnull(res, (int)i, 5)) {
			sj->known_off = b->known.len;
			pii_buf_putc(&b->known, ' ');
			pii_buf_puts(&b->known, PQgetvalue(res, (int)i, 5));
			pii_buf_putc(&b->known, ' ');
			sj->known_len = b->known.len - sj->known_off;
			if (b->known.failed) {
				r = PII_ERR_NOMEM;
				goto out;
			}
		}
		if (PQgetisnull(res, (int)i, 4) ||
		    hex_decode(PQgetvalue(res, (int)i, 4), w, sizeof(w), &wl) != 0) {
			r = PII_ERR_INTERNAL;
			goto out;
		}
		memcpy(sj->wrapped, w, wl);
		sj->wrapped_len = wl;
		sj->epoch = (uint32_t)strtoul(PQgetvalue(res, (int)i, 3), NULL, 10);
		sj->dek_pending = 1;
	}
	PQclear(res);
	res = NULL;

	if (nold < b->nsubjects) {
		pii_buf_reset(&toks);
		pii_buf_putc(&toks, '{');
		for (i = 0; i < b->nsubjects; i++)
			if (b->subjects[i].id == 0)
				pii_buf_array_elem(&toks, b->subjects[i].token);
		pii_buf_putc(&toks, '}');
		if (toks.failed) {
			r = PII_ERR_NOMEM;
			goto out;
		}
		p[0] = toks.data;
		/* each new subject starts with the list of the tokens this batch
		 * stores for it (store_values stores every one of them) */
		if ((r = new_value_tokens(b, &vt)) != 0)
			goto out;
		p[1] = vt.data;
		r = pii_pg_exec(vs->db, c,
		    "INSERT INTO subjects (subject_token, value_tokens)"
		    " SELECT * FROM unnest($1::text[], $2::text[])"
		    " RETURNING id, subject_token", 2, p, &res);
		if (r != 0)
			goto out;
		for (i = 0; i < (size_t)PQntuples(res); i++) {
			size_t k = subject_index(b, PQgetvalue(res, (int)i, 1));
			struct tk_subject *sj;
			unsigned char w[VAULT_WRAPPED_DEK_BYTES];
			uint32_t epoch = 0;

			if (k == (size_t)-1 || b->subjects[k].id != 0) {
				r = PII_ERR_INTERNAL;
				goto out;
			}
			sj = &b->subjects[k];
			sj->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
			sj->is_new = 1;
			/* the slot already holds a fresh random key */
			sj->dek = vault_dek_set_at(b->deks, k);
			if ((r = vault_dek_wrap(vs->keys, sj->dek, sj->token, &epoch,
			    w)) != 0)
				goto out;
			buf_num(&keys, sj->id);
			pii_buf_putc(&keys, '\t');
			buf_num(&keys, (long long)epoch);
			pii_buf_puts(&keys, "\t\\\\x");
			pii_buf_hex(&keys, w, sizeof(w));
			pii_buf_putc(&keys, '\n');
			nnew++;
		}
		PQclear(res);
		res = NULL;
		if (nnew + nold != b->nsubjects || keys.failed) {
			r = keys.failed ? PII_ERR_NOMEM : PII_ERR_INTERNAL;
			goto out;
		}
		r = pii_pg_copy_in(vs->db, c,
		    "COPY subject_keys (subject_id, kek_epoch, wrapped_dek) FROM STDIN",
		    keys.data, keys.len, NULL);
		if (r != 0)
			goto out;
	}

	/* objections: only a subject that existed before can have one */
	if (b->purpose != NULL && nold > 0) {
		pii_buf_reset(&toks);
		pii_buf_putc(&toks, '{');
		for (i = 0; i < b->nsubjects; i++) {
			if (b->subjects[i].is_new)
				continue;
			if (toks.len > 1)
				pii_buf_putc(&toks, ',');
			buf_num(&toks, b->subjects[i].id);
		}
		pii_buf_putc(&toks, '}');
		p[0] = toks.data;
		p[1] = b->purpose;
		r = pii_pg_exec(vs->db, c,
		    "SELECT s.subject_token FROM objections o JOIN subjects s"
		    " ON s.id = o.subject_id"
		    " WHERE o.subject_id = ANY ($1::bigint[])"
		    " AND o.purpose IN ($2, '*')",
		    2, p, &res);
		if (r != 0)
			goto out;
		for (i = 0; i < (size_t)PQntuples(res); i++) {
			size_t k = subject_index(b, PQgetvalue(res, (int)i, 0));

			if (k != (size_t)-1)
				b->subjects[k].objects = 1;
		}
	}
	r = 0;
out:
	PQclear(res);
	pii_buf_free(&toks);
	pii_buf_free(&keys);
	pii_buf_free(&cats);
	pii_buf_free(&vt);
	return r;
}

/* Unwrap a known subject's DEK into its slot the first time one of its
 * values is sealed. */
static int
subject_dek(struct vault_server *vs, struct tk_batch *b, size_t k,
    struct pii_errinfo *ei)
{
	struct tk_subject *sj = &b->subjects[k];

	if (!sj->dek_pending)
		return 0;
	sj->dek = vault_dek_set_at(b->deks, k);
	if (vault_dek_unwrap_into(vs->keys, sj->wrapped, sj->wrapped_len,
	    sj->token, sj->epoch, sj->dek) != 0) {
		pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL, "a stored subject key "
		    "failed to authenticate (see the vault log)");
		return PII_ERR_CRYPTO;
	}
	sj->dek_pending = 0;
	return 0;
}

/* 1 if the database already holds token for the known subject sj (from
 * the tokens load_subjects fetched, " tok tok "). */
static int
subject_has(const struct tk_batch *b, const struct tk_subject *sj,
    const char *token)
{
	const char *list = b->known.data + sj->known_off, *at;
	size_t tl = strlen(token), left = sj->known_len;

	if (sj->known_len == 0)
		return 0;
	while (left > tl + 1 && (at = memmem(list, left, token, tl)) != NULL) {
		if (at > list && at[-1] == ' ' && at[tl] == ' ')
			return 1;
		left -= (size_t)(at - list) + 1;
		list = at + 1;
	}
	return 0;
}

/* A value of a new subject, for ordering and squeezing duplicates. */
struct tk_newval {
	size_t subject;
	const struct tk_field *f;
};

static int
cmp_newval(const void *a, const void *b)
{
	const struct tk_newval *x = a, *y = b;

	if (x->subject != y->subject)
		return x->subject < y->subject ? -1 : 1;
	return strcmp(x->f->token, y->f->token);
}

/*
 * Step 4: seal and store every value of every kept record.  Values of
 * subjects created by this transaction cannot be stored already: they go in
 * by COPY, after duplicates within the batch are squeezed out.  Values of
 * subjects that existed go through INSERT ... ON CONFLICT DO NOTHING, which
 * is what makes a re-ingest cheap.
 */
static int
store_values(struct vault_server *vs, PGconn *c, struct tk_batch *b,
    long long *stored, long long *total, struct pii_errinfo *ei)
{
	struct pii_buf copy, toks, ids, cats, cts;
	struct tk_newval *nv = NULL;
	unsigned char *sealed = NULL;
	size_t sealcap = (size_t)vs->cfg->max_value_bytes * 2 + 64 + VAULT_SEAL_OVERHEAD;
	PGresult *res = NULL;
	const char *p[5];
	size_t i, j, nnv = 0;
	long long n = 0, nold = 0, copied = 0;
	int r;

	pii_buf_init(&copy, (size_t)-1 / 2);
	pii_buf_init(&toks, (size_t)-1 / 2);
	pii_buf_init(&ids, (size_t)-1 / 2);
	pii_buf_init(&cats, (size_t)-1 / 2);
	pii_buf_init(&cts, (size_t)-1 / 2);
	sealed = malloc(sealcap);
	nv = calloc(b->nfields ? b->nfields : 1, sizeof(*nv));
	if (sealed == NULL || nv == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	/* one allocation for the COPY data of a typical batch: per value a
	 * token, an id, a category, the source and the hex of the sealed value */
	pii_buf_reserve(&copy, b->arena.len * 2 + b->nfields *
	    (2 * VAULT_SEAL_OVERHEAD + 64 + strlen(b->source)));
	pii_buf_putc(&toks, '{');
	pii_buf_putc(&ids, '{');
	pii_buf_putc(&cats, '{');
	pii_buf_putc(&cts, '{');
	for (i = 0; i < b->nrecs; i++) {
		const struct tk_record *tr = &b->recs[i];
		const struct tk_subject *sj = &b->subjects[tr->subject];

		if (tr->dropped)
			continue;
		for (j = 0; j < tr->nfields; j++) {
			const struct tk_field *f = &b->fields[tr->first + j];
			size_t sl = 0;

			if (f->is_null)
				continue;
			n++;
			if (sj->is_new) {
				nv[nnv].subject = tr->subject;
				nv[nnv++].f = f;
				continue;
			}
			if (subject_has(b, sj, f->token))
				continue;   /* stored before: nothing to write */
			if ((r = subject_dek(vs, b, tr->subject, ei)) != 0)
				goto out;
			r = vault_value_seal(sj->dek, sj->token, f->category, f->token,
			    (const unsigned char *)b->arena.data + f->plain_off,
			    f->plain_len, sealed, sealcap, &sl);
			if (r != 0)
				goto out;
			if (nold > 0) {
				pii_buf_putc(&toks, ',');
				pii_buf_putc(&ids, ',');
				pii_buf_putc(&cats, ',');
				pii_buf_putc(&cts, ',');
			}
			pii_buf_puts(&toks, f->token);
			buf_num(&ids, sj->id);
			pii_buf_puts(&cats, f->category);
			pii_buf_hex(&cts, sealed, sl);
			nold++;
		}
	}
	pii_buf_putc(&toks, '}');
	pii_buf_putc(&ids, '}');
	pii_buf_putc(&cats, '}');
	pii_buf_putc(&cts, '}');

	qsort(nv, nnv, sizeof(*nv), cmp_newval);
	for (i = 0; i < nnv; i++) {
		const struct tk_subject *sj = &b->subjects[nv[i].subject];
		const struct tk_field *f = nv[i].f;
		size_t sl = 0;

		if (i > 0 && cmp_newval(&nv[i - 1], &nv[i]) == 0)
			continue;   /* the same value twice for one new subject */
		r = vault_value_seal(sj->dek, sj->token, f->category, f->token,
		    (const unsigned char *)b->arena.data + f->plain_off,
		    f->plain_len, sealed, sealcap, &sl);
		if (r != 0)
			goto out;
		pii_buf_copy_field(&copy, f->token);
		pii_buf_putc(&copy, '\t');
		buf_num(&copy, sj->id);
		pii_buf_putc(&copy, '\t');
		pii_buf_copy_field(&copy, f->category);
		pii_buf_puts(&copy, "\t\\\\x");
		pii_buf_hex(&copy, sealed, sl);
		pii_buf_putc(&copy, '\t');
		pii_buf_copy_field(&copy, b->source);
		pii_buf_putc(&copy, '\n');
	}
	if (copy.failed || toks.failed || ids.failed || cats.failed || cts.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	*total = n;
	*stored = 0;
	if (copy.len > 0) {
		r = pii_pg_copy_in(vs->db, c,
		    "COPY pii_values (token, subject_id, category, ciphertext, source)"
		    " FROM STDIN", copy.data, copy.len, &copied);
		if (r != 0)
			goto out;
	}
	if (nold > 0) {
		p[0] = toks.data;
		p[1] = ids.data;
		p[2] = cats.data;
		p[3] = cts.data;
		p[4] = b->source;
		/* what a known subject newly holds joins its value_tokens, in
		 * the same statement (a list past its bound becomes NULL) */
		r = pii_pg_exec(vs->db, c,
		    "WITH ins AS (INSERT INTO pii_values (token, subject_id, category,"
		    "  ciphertext, source)"
		    "  SELECT u.t, u.s, u.c, decode(u.h, 'hex'), $5"
		    "  FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])"
		    "  AS u (t, s, c, h)"
		    "  ON CONFLICT (token, subject_id) DO NOTHING"
		    "  RETURNING subject_id, token),"
		    " added AS (SELECT subject_id, string_agg(token, ' ') AS toks"
		    "  FROM ins GROUP BY subject_id),"
		    " upd AS (UPDATE subjects s SET value_tokens = CASE"
		    "  WHEN s.value_tokens IS NULL THEN NULL"
		    "  WHEN length(s.value_tokens) + length(a.toks) + 1 > "
		    VALUE_TOKENS_MAX_STR " THEN NULL"
		    "  WHEN s.value_tokens = '' THEN a.toks"
		    "  ELSE s.value_tokens || ' ' || a.toks END"
		    "  FROM added a WHERE s.id = a.subject_id"
		    "  AND s.status = 'active' RETURNING s.id)"
		    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM added),"
		    " (SELECT count(*) FROM upd)", 5, p, &res);
		if (r != 0)
			goto out;
		*stored = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		/* Every subject that gained a value had its row updated, which
		 * locks it against an erasure (which locks it first, FOR
		 * UPDATE).  A row the update skipped was erased after this
		 * batch read it: the batch runs again and drops the subject. */
		if (strcmp(PQgetvalue(res, 0, 1), PQgetvalue(res, 0, 2)) != 0) {
			b->raced = 1;
			r = PII_ERR_CONFLICT;
			goto out;
		}
	}
	*stored += copied;
	r = 0;
out:
	PQclear(res);
	if (sealed != NULL) {
		sodium_memzero(sealed, sealcap);
		free(sealed);
	}
	free(nv);
	pii_buf_free(&copy);
	pii_buf_free(&toks);
	pii_buf_free(&ids);
	pii_buf_free(&cats);
	pii_buf_free(&cts);
	return r;
}

/* The answer, written straight into a buffer: for a batch of thousands of
 * values building a jansson tree and dumping it cost a fifth of the vault's
 * time.  Same shape as before: records in order, each record's fields in
 * the order they came. */
static char *
build_response(const struct tk_batch *b, const char *const *subj_tokens,
    long long stored, long long existing, int replayed, size_t *len)
{
	struct pii_buf o;
	size_t i, j;
	int first_drop = 1;
	char *s;

	pii_buf_init(&o, (size_t)-1 / 2);
	pii_buf_reserve(&o, 64 + b->nrecs * 64 + b->nfields * 64);
	pii_buf_puts(&o, "{\"records\":[");
	for (i = 0; i < b->nrecs; i++) {
		const struct tk_record *tr = &b->recs[i];

		if (i > 0)
			pii_buf_putc(&o, ',');
		pii_buf_puts(&o, "{\"subject_token\":");
		pii_buf_json_str(&o, subj_tokens[i]);
		pii_buf_puts(&o, ",\"fields\":");
		if (tr->dropped) {
			pii_buf_puts(&o, "null}");
			continue;
		}
		pii_buf_putc(&o, '{');
		for (j = 0; j < tr->nfields; j++) {
			const struct tk_field *f = &b->fields[tr->first + j];

			if (j > 0)
				pii_buf_putc(&o, ',');
			pii_buf_json_str(&o, f->category);
			pii_buf_putc(&o, ':');
			if (f->is_null)
				pii_buf_puts(&o, "null");
			else
				pii_buf_json_str(&o, f->token);
		}
		pii_buf_puts(&o, "}}");
	}
	pii_buf_puts(&o, "],\"stored\":");
	buf_num(&o, stored);
	pii_buf_puts(&o, ",\"existing\":");
	buf_num(&o, existing);
	pii_buf_puts(&o, ",\"dropped\":[");
	for (i = 0; i < b->nrecs; i++) {
		if (!b->recs[i].dropped)
			continue;
		if (!first_drop)
			pii_buf_putc(&o, ',');
		first_drop = 0;
		pii_buf_puts(&o, "{\"index\":");
		buf_num(&o, (long long)i);
		pii_buf_puts(&o, b->recs[i].dropped == PII_ERR_OBJECTION ?
		    ",\"reason\":\"objection\"}" : ",\"reason\":\"subject_erased\"}");
	}
	pii_buf_putc(&o, ']');
	if (replayed)
		pii_buf_puts(&o, ",\"replayed\":true");
	pii_buf_putc(&o, '}');
	if (o.failed) {
		pii_buf_free(&o);
		return NULL;
	}
	s = o.data;      /* ownership passes to the caller */
	*len = o.len;
	return s;
}

/* Everything that touches the database, in one transaction.  *transient is
 * set when a failure may pass if the transaction runs again. */
static int
run_batch(struct vault_server *vs, PGconn *c, struct tk_batch *b,
    const struct vault_caller *who, const char *digest, long long *stored_out,
    long long *existing_out, int *replayed_out, struct pii_errinfo *ei,
    int *transient)
{
	PGresult *res = NULL;
	long long stored = 0, existing = 0, st = 0, total = 0;
	unsigned long long n_erased = 0, n_objecting = 0;
	int r, replayed = 0, claimed = 0;
	size_t i;

	*transient = 0;
	batch_reset(b);
	if ((r = pii_pg_exec(vs->db, c, "BEGIN", 0, NULL, NULL)) != 0)
		goto dbfail;
	if (b->batch_id != NULL) {
		const char *p[3] = { who->id->name, b->batch_id, digest };

		r = pii_pg_exec(vs->db, c,
		    "INSERT INTO tokenize_batches (identity, batch_id, digest)"
		    " VALUES ($1, $2, $3) ON CONFLICT (identity, batch_id) DO NOTHING",
		    3, p, &res);
		if (r != 0)
			goto dbfail;
		claimed = strtol(PQcmdTuples(res), NULL, 10) == 1;
		PQclear(res);
		res = NULL;
		if (!claimed) {
			r = pii_pg_exec(vs->db, c,
			    "SELECT digest, stored, existing FROM tokenize_batches"
			    " WHERE identity = $1 AND batch_id = $2", 2, p, &res);
			if (r != 0)
				goto dbfail;
			if (PQntuples(res) != 1 ||
			    strcmp(PQgetvalue(res, 0, 0), digest) != 0) {
				r = pii_errinfo_set(ei, PII_ERR_CONFLICT, "batch_id",
				    "batch_id was already used for a different batch");
				goto out;
			}
			replayed = 1;
			stored = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
			existing = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
			PQclear(res);
			res = NULL;
		}
	}
	if ((r = load_subjects(vs, c, b)) != 0)
		goto dbfail;
	for (i = 0; i < b->nrecs; i++) {
		const struct tk_subject *sj = &b->subjects[b->recs[i].subject];

		if (sj->erased) {
			b->recs[i].dropped = PII_ERR_SUBJECT_ERASED;
			n_erased++;
		} else if (sj->objects) {
			b->recs[i].dropped = PII_ERR_OBJECTION;
			n_objecting++;
		}
	}
	if ((r = store_values(vs, c, b, &st, &total, ei)) != 0) {
		if (r == PII_ERR_CRYPTO) {
			pii_log(PII_LOG_ERROR, "event=dek_unwrap_failed "
			    "request_id=%s", who->request_id);
			r = PII_ERR_INTERNAL;
			goto out;
		}
		goto dbfail;
	}
	if (!replayed) {
		stored = st;
		existing = total - st;
	}
	if (claimed) {
		char s1[24], s2[24];
		const char *p[4] = { who->id->name, b->batch_id, s1, s2 };

		snprintf(s1, sizeof(s1), "%lld", stored);
		snprintf(s2, sizeof(s2), "%lld", existing);
		r = pii_pg_exec(vs->db, c,
		    "UPDATE tokenize_batches SET stored = $3::integer,"
		    " existing = $4::integer WHERE identity = $1 AND batch_id = $2",
		    4, p, NULL);
		if (r != 0)
			goto dbfail;
	}
	/* the record is durable before the values are */
	if (vault_audit(vs, who, "tokenize", NULL, b->cats, b->ncats, 1, 0, total,
	    b->source, b->batch_id) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; nothing was stored");
		goto out;
	}
	if ((r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0)
		goto dbfail;
	/* a tombstone at work: records of erased subjects dropped */
	atomic_fetch_add(&vs->dropped_erased, n_erased);
	atomic_fetch_add(&vs->dropped_objection, n_objecting);
	*stored_out = stored;
	*existing_out = existing;
	*replayed_out = replayed;
	r = 0;
	goto out;
dbfail:
	*transient = b->raced || ((r == PII_ERR_CONFLICT || r == PII_ERR_SQL) &&
	    pii_pg_last_transient());
	if (!*transient)
		vault_db_error(vs, r, ei);
out:
	PQclear(res);
	if (r != 0 && pii_pg_still_open(vs->db, c) &&
	    PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return r;
}

/* How often a batch runs again after losing a race to a concurrent one. */
#define TOKENIZE_ATTEMPTS 4

void
vault_tokenize(struct vault_server *vs, const struct vault_caller *who_in,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	struct vault_caller who = *who_in;
	struct tk_batch b;
	struct pii_errinfo ei;
	const char **subj_tokens = NULL;
	json_t *root = NULL;
	PGconn *c = NULL;
	char digest[65], *body;
	long long stored = 0, existing = 0;
	int r, replayed = 0, transient = 0, attempt;
	size_t i, blen = 0;

	memset(&b, 0, sizeof(b));
	pii_errinfo_clear(&ei);
	r = pii_json_parse((const char *)req->body, req->body_len,
	    (size_t)vs->cfg->max_json_depth, &root, &ei);
	if (r != 0)
		goto fail;
	if ((r = parse_batch(vs, root, &b, &ei)) != 0)
		goto fail;
	who.purpose = b.purpose;

	/* each record's subject token, in record order, for the answer */
	subj_tokens = calloc(b.nrecs, sizeof(*subj_tokens));
	if (subj_tokens == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	for (i = 0; i < b.nrecs; i++) {
		subj_tokens[i] = b.recs[i].subject_token;
		b.recs[i].subject = subject_index(&b, subj_tokens[i]);
	}
	batch_digest(&b, subj_tokens, digest);
	/* one slot per subject, each a fresh random key until unwrapped over */
	if ((r = vault_dek_set_new(b.nsubjects, &b.deks)) != 0)
		goto fail;

	for (attempt = 1; attempt <= TOKENIZE_ATTEMPTS; attempt++) {
		if ((r = pii_pg_conn(vs->db, &c)) != 0) {
			vault_db_error(vs, r, &ei);
			goto fail;
		}
		r = run_batch(vs, c, &b, &who, digest, &stored, &existing,
		    &replayed, &ei, &transient);
		if (r == 0 || !transient)
			break;
		pii_log(PII_LOG_INFO, "event=tokenize_retry attempt=%d "
		    "request_id=%s reason=%s", attempt, who.request_id,
		    pii_pg_last_error());
	}
	if (r != 0) {
		if (transient) {
			atomic_fetch_add(&vs->db_failures, 1);
			pii_log(PII_LOG_WARN, "event=tokenize_gave_up attempts=%d "
			    "request_id=%s", TOKENIZE_ATTEMPTS, who.request_id);
			pii_errinfo_set(&ei, PII_ERR_DB_UNAVAILABLE, NULL,
			    "the batch kept colliding with concurrent batches; "
			    "retry later");
		}
		goto fail;
	}
	if (!replayed)
		atomic_fetch_add(&vs->values_stored, (unsigned long long)stored);
	body = build_response(&b, subj_tokens, stored, existing, replayed, &blen);
	if (body == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	pii_http_reply_text(resp, 200, body, blen, "application/json");
	goto out;

fail:
	if (ei.code == 0)
		pii_errinfo_set(&ei, r, NULL, NULL);
	pii_http_reply_error(resp, req, &ei);
out:
	batch_free(&b);
	free(subj_tokens);
	json_decref(root);
}
