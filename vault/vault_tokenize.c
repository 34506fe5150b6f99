/*
 * vault_tokenize.c - POST /v1/tokenize: values in, tokens out.
 *
 * A batch is validated whole before the database is touched (an error names
 * records[i].fields.<category>), then stored in one transaction:
 *   1. claim batch_id (a retry with the same id and content stores nothing
 *      new and answers the first run's counts; other content: 409)
 *   2. insert subjects not seen before, each with a new random DEK, wrapped
 *   3. load and unwrap the DEKs of known subjects; erased subjects and, with
 *      a purpose, objecting subjects are dropped
 *   4. seal every value under its subject's DEK and insert all of them with
 *      one multi-row statement, ON CONFLICT DO NOTHING
 *   5. write the audit record, then COMMIT.
 * Plaintext lives only in one wiped arena and in the request body.
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
	struct vault_dek *dek;
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
	const char *cats[AUDIT_MAX_CATEGORIES];
	size_t ncats;
};

static void
batch_free(struct tk_batch *b)
{
	size_t i;

	for (i = 0; i < b->nsubjects; i++)
		vault_dek_free(b->subjects[i].dek);
	free(b->subjects);
	free(b->recs);
	free(b->fields);
	pii_buf_free(&b->arena);
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

/* Steps 2 and 3: subjects, their keys, erasures and objections. */
static int
load_subjects(struct vault_server *vs, PGconn *c, struct tk_batch *b,
    struct pii_errinfo *ei)
{
	struct pii_buf toks, ids, epochs, wrapped;
	PGresult *res = NULL;
	const char *p[3];
	size_t i;
	int r, nnew = 0;

	pii_buf_init(&toks, (size_t)-1 / 2);
	pii_buf_init(&ids, (size_t)-1 / 2);
	pii_buf_init(&epochs, (size_t)-1 / 2);
	pii_buf_init(&wrapped, (size_t)-1 / 2);
	pii_buf_putc(&toks, '{');
	for (i = 0; i < b->nsubjects; i++)
		pii_buf_array_elem(&toks, b->subjects[i].token);
	pii_buf_putc(&toks, '}');
	if (toks.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	p[0] = toks.data;
	r = pii_pg_exec(vs->db, c,
	    "INSERT INTO subjects (subject_token) SELECT unnest($1::text[])"
	    " ON CONFLICT (subject_token) DO NOTHING RETURNING id, subject_token",
	    1, p, &res);
	if (r != 0)
		goto out;
	pii_buf_putc(&ids, '{');
	pii_buf_putc(&wrapped, '{');
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		size_t k = subject_index(b, PQgetvalue(res, (int)i, 1));
		unsigned char w[VAULT_WRAPPED_DEK_BYTES];
		uint32_t epoch = 0;
		char num[24];

		if (k == (size_t)-1) {
			r = PII_ERR_INTERNAL;
			goto out;
		}
		b->subjects[k].id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
		b->subjects[k].is_new = 1;
		if ((r = vault_dek_new(&b->subjects[k].dek)) != 0 ||
		    (r = vault_dek_wrap(vs->keys, b->subjects[k].dek,
		    b->subjects[k].token, &epoch, w)) != 0)
			goto out;
		snprintf(num, sizeof(num), "%s%lld", nnew ? "," : "", b->subjects[k].id);
		pii_buf_puts(&ids, num);
		if (nnew)
			pii_buf_putc(&wrapped, ',');
		pii_buf_hex(&wrapped, w, sizeof(w));
		if (epochs.len == 0) {
			snprintf(num, sizeof(num), "%u", epoch);
			pii_buf_puts(&epochs, num);
		}
		nnew++;
	}
	PQclear(res);
	res = NULL;
	pii_buf_putc(&ids, '}');
	pii_buf_putc(&wrapped, '}');
	if (ids.failed || wrapped.failed || epochs.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if (nnew > 0) {
		p[0] = ids.data;
		p[1] = epochs.data;
		p[2] = wrapped.data;
		r = pii_pg_exec(vs->db, c,
		    "INSERT INTO subject_keys (subject_id, kek_epoch, wrapped_dek)"
		    " SELECT u.id, $2::integer, decode(u.w, 'hex')"
		    " FROM unnest($1::bigint[], $3::text[]) AS u (id, w)", 3, p, NULL);
		if (r != 0)
			goto out;
	}
	if ((size_t)nnew < b->nsubjects) {
		p[0] = toks.data;
		r = pii_pg_exec(vs->db, c,
		    "SELECT s.id, s.subject_token, s.status, k.kek_epoch,"
		    " encode(k.wrapped_dek, 'hex')"
		    " FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id"
		    " WHERE s.subject_token = ANY ($1::text[])", 1, p, &res);
		if (r != 0)
			goto out;
		for (i = 0; i < (size_t)PQntuples(res); i++) {
			size_t k = subject_index(b, PQgetvalue(res, (int)i, 1));
			struct tk_subject *sj;
			unsigned char w[VAULT_WRAPPED_DEK_BYTES];
			size_t wl = 0;

			if (k == (size_t)-1)
				continue;
			sj = &b->subjects[k];
			if (sj->is_new)
				continue;
			sj->id = strtoll(PQgetvalue(res, (int)i, 0), NULL, 10);
			if (strcmp(PQgetvalue(res, (int)i, 2), "erased") == 0) {
				sj->erased = 1;
				continue;
			}
			if (PQgetisnull(res, (int)i, 4) ||
			    hex_decode(PQgetvalue(res, (int)i, 4), w, sizeof(w), &wl) != 0) {
				r = PII_ERR_INTERNAL;
				goto out;
			}
			r = vault_dek_unwrap(vs->keys, w, wl, sj->token,
			    (uint32_t)strtoul(PQgetvalue(res, (int)i, 3), NULL, 10),
			    &sj->dek);
			if (r != 0) {
				pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL,
				    "a stored subject key failed to authenticate "
				    "(see the vault log)");
				r = PII_ERR_CRYPTO;
				goto out;
			}
		}
		PQclear(res);
		res = NULL;
	}
	if (b->purpose != NULL) {
		pii_buf_reset(&ids);
		pii_buf_putc(&ids, '{');
		for (i = 0; i < b->nsubjects; i++) {
			char num[24];

			snprintf(num, sizeof(num), "%s%lld", i ? "," : "",
			    b->subjects[i].id);
			pii_buf_puts(&ids, num);
		}
		pii_buf_putc(&ids, '}');
		p[0] = ids.data;
		p[1] = b->purpose;
		r = pii_pg_exec(vs->db, c,
		    "SELECT s.subject_token FROM objections o JOIN subjects s"
		    " ON s.id = o.subject_id"
		    " WHERE o.subject_id = ANY ($1::bigint[]) AND o.purpose = $2",
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
	pii_buf_free(&ids);
	pii_buf_free(&epochs);
	pii_buf_free(&wrapped);
	return r;
}

/* Step 4: seal and insert every value of every kept record. */
static int
store_values(struct vault_server *vs, PGconn *c, struct tk_batch *b,
    long long *stored, long long *total)
{
	struct pii_buf toks, ids, cats, cts;
	unsigned char *sealed = NULL;
	size_t sealcap = (size_t)vs->cfg->max_value_bytes * 2 + 64 + VAULT_SEAL_OVERHEAD;
	PGresult *res = NULL;
	const char *p[5];
	size_t i, j;
	long long n = 0;
	int r;

	pii_buf_init(&toks, (size_t)-1 / 2);
	pii_buf_init(&ids, (size_t)-1 / 2);
	pii_buf_init(&cats, (size_t)-1 / 2);
	pii_buf_init(&cts, (size_t)-1 / 2);
	sealed = malloc(sealcap);
	if (sealed == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	pii_buf_putc(&toks, '{');
	pii_buf_putc(&ids, '{');
	pii_buf_putc(&cats, '{');
	pii_buf_putc(&cts, '{');
	for (i = 0; i < b->nrecs; i++) {
		const struct tk_record *tr = &b->recs[i];
		const struct tk_subject *sj = &b->subjects[tr->subject];
		char num[24];

		if (tr->dropped)
			continue;
		snprintf(num, sizeof(num), "%lld", sj->id);
		for (j = 0; j < tr->nfields; j++) {
			const struct tk_field *f = &b->fields[tr->first + j];
			size_t sl = 0;

			if (f->is_null)
				continue;
			r = vault_value_seal(sj->dek, sj->token, f->category, f->token,
			    (const unsigned char *)b->arena.data + f->plain_off,
			    f->plain_len, sealed, sealcap, &sl);
			if (r != 0)
				goto out;
			if (n > 0) {
				pii_buf_putc(&toks, ',');
				pii_buf_putc(&ids, ',');
				pii_buf_putc(&cats, ',');
				pii_buf_putc(&cts, ',');
			}
			pii_buf_puts(&toks, f->token);
			pii_buf_puts(&ids, num);
			pii_buf_puts(&cats, f->category);
			pii_buf_hex(&cts, sealed, sl);
			n++;
		}
	}
	pii_buf_putc(&toks, '}');
	pii_buf_putc(&ids, '}');
	pii_buf_putc(&cats, '}');
	pii_buf_putc(&cts, '}');
	if (toks.failed || ids.failed || cats.failed || cts.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	*total = n;
	*stored = 0;
	if (n == 0) {
		r = 0;
		goto out;
	}
	p[0] = toks.data;
	p[1] = ids.data;
	p[2] = cats.data;
	p[3] = cts.data;
	p[4] = b->source;
	r = pii_pg_exec(vs->db, c,
	    "INSERT INTO pii_values (token, subject_id, category, ciphertext, source)"
	    " SELECT u.t, u.s, u.c, decode(u.h, 'hex'), $5"
	    " FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[])"
	    " AS u (t, s, c, h)"
	    " ON CONFLICT (token, subject_id) DO NOTHING", 5, p, &res);
	if (r != 0)
		goto out;
	*stored = strtoll(PQcmdTuples(res), NULL, 10);
	r = 0;
out:
	PQclear(res);
	if (sealed != NULL) {
		sodium_memzero(sealed, sealcap);
		free(sealed);
	}
	pii_buf_free(&toks);
	pii_buf_free(&ids);
	pii_buf_free(&cats);
	pii_buf_free(&cts);
	return r;
}

static json_t *
build_response(const struct tk_batch *b, const char *const *subj_tokens,
    long long stored, long long existing, int replayed)
{
	json_t *recs = json_array(), *dropped = json_array(), *out;
	size_t i, j;

	for (i = 0; i < b->nrecs; i++) {
		const struct tk_record *tr = &b->recs[i];
		json_t *fields = json_object();

		for (j = 0; j < tr->nfields; j++) {
			const struct tk_field *f = &b->fields[tr->first + j];

			json_object_set_new(fields, f->category, f->is_null ||
			    tr->dropped ? json_null() : json_string(f->token));
		}
		if (tr->dropped) {
			json_decref(fields);
			fields = json_null();
			json_array_append_new(dropped, json_pack("{s:I, s:s}",
			    "index", (json_int_t)i, "reason",
			    tr->dropped == PII_ERR_OBJECTION ? "objection" :
			    "subject_erased"));
		}
		json_array_append_new(recs, json_pack("{s:s, s:o}", "subject_token",
		    subj_tokens[i], "fields", fields));
	}
	out = json_pack("{s:o, s:I, s:I, s:o}", "records", recs, "stored",
	    (json_int_t)stored, "existing", (json_int_t)existing, "dropped", dropped);
	if (out != NULL && replayed)
		json_object_set_new(out, "replayed", json_true());
	return out;
}

void
vault_tokenize(struct vault_server *vs, const struct vault_caller *who_in,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	struct vault_caller who = *who_in;
	struct tk_batch b;
	struct pii_errinfo ei;
	const char **subj_tokens = NULL;
	json_t *root = NULL;
	PGresult *res = NULL;
	PGconn *c = NULL;
	char digest[65];
	long long stored = 0, total = 0, existing = 0;
	int r, in_tx = 0, replayed = 0, claimed = 0;
	size_t i;

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

	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto dbfail;
	if ((r = pii_pg_exec(vs->db, c, "BEGIN", 0, NULL, NULL)) != 0)
		goto dbfail;
	in_tx = 1;
	if (b.batch_id != NULL) {
		const char *p[3] = { who.id->name, b.batch_id, digest };

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
				r = pii_errinfo_set(&ei, PII_ERR_CONFLICT, "batch_id",
				    "batch_id was already used for a different batch");
				goto fail;
			}
			replayed = 1;
			stored = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
			existing = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
			PQclear(res);
			res = NULL;
		}
	}
	if ((r = load_subjects(vs, c, &b, &ei)) != 0) {
		if (r == PII_ERR_CRYPTO) {
			pii_log(PII_LOG_ERROR, "event=dek_unwrap_failed "
			    "request_id=%s", who.request_id);
			r = PII_ERR_INTERNAL;
			goto fail;
		}
		goto dbfail;
	}
	for (i = 0; i < b.nrecs; i++) {
		const struct tk_subject *sj = &b.subjects[b.recs[i].subject];

		if (sj->erased)
			b.recs[i].dropped = PII_ERR_SUBJECT_ERASED;
		else if (sj->objects)
			b.recs[i].dropped = PII_ERR_OBJECTION;
	}
	{
		long long st = 0;

		if ((r = store_values(vs, c, &b, &st, &total)) != 0)
			goto dbfail;
		if (!replayed) {
			stored = st;
			existing = total - st;
		}
	}
	if (claimed) {
		char s1[24], s2[24];
		const char *p[4] = { who.id->name, b.batch_id, s1, s2 };

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
	if (vault_audit(vs, &who, "tokenize", NULL, b.cats, b.ncats, 1, 0, total,
	    b.source, b.batch_id) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; nothing was stored");
		goto fail;
	}
	if ((r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0) {
		in_tx = 0;
		goto dbfail;
	}
	in_tx = 0;
	if (!replayed)
		atomic_fetch_add(&vs->values_stored, (unsigned long long)stored);
	pii_http_reply_json(resp, 200, build_response(&b, subj_tokens, stored,
	    existing, replayed));
	goto out;

dbfail:
	vault_db_error(vs, r, &ei);
fail:
	if (ei.code == 0)
		pii_errinfo_set(&ei, r, NULL, NULL);
	pii_http_reply_error(resp, req, &ei);
out:
	PQclear(res);
	if (in_tx && c != NULL && PQstatus(c) == CONNECTION_OK)
		PQclear(PQexec(c, "ROLLBACK"));
	batch_free(&b);
	free(subj_tokens);
	json_decref(root);
}
