/*
 * vault_reveal.c - the read side: POST /v1/reveal, /v1/detokenize,
 * /v1/subjects/resolve and GET /v1/subjects/{token}.
 *
 * Fail closed: every value is decrypted into a JSON tree (zeroing
 * allocator), then the audit record is committed, and only then is the
 * answer sent.  If the audit write fails the tree is wiped and the caller
 * gets 503 audit_unavailable.  Erased subjects answer 410 subject_erased;
 * a subject's objection to the stated purpose answers 403
 * objection_in_force; both refusals are audited.
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

#define MAX_CONTEXT_FIELD 128
/* a reveal the proxy made under break-glass is audited as its own action */
#define REVEAL_ACTION(who) ((who)->breakglass ? "breakglass_reveal" : "reveal")
#define MAX_REVEAL_CATEGORIES 16
#define MAX_DETOKENIZE 1000
#define RFC3339(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Printable ASCII without quotes or backslashes: safe in logs and audit. */
int
vault_context_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s < 0x20 || *s > 0x7e || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

/* A request id the caller may give in context.request_id. */
static int
request_id_ok(const char *rid)
{
	return rid != NULL && rid[0] != '\0' && vault_context_ok(rid) &&
	    strspn(rid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789._-") == strlen(rid);
}

/* Parse "context" into who; purpose is required when need_purpose. */
static int
parse_context(json_t *root, struct vault_caller *who, int need_purpose,
    struct pii_errinfo *ei)
{
	static const char *const keys[] = { "on_behalf_of", "role", "purpose",
		"ticket", "request_id", "breakglass", NULL };
	const char **slots[] = { &who->on_behalf_of, &who->role, &who->purpose,
		&who->ticket, NULL };
	const char *rid = NULL;
	char p[PII_ERR_MAX_FIELD];
	json_t *ctx;
	size_t i;
	int r;

	if ((r = pii_json_get_object(root, "context", need_purpose, "", &ctx, ei)) != 0)
		return r;
	if (ctx == NULL)
		return 0;
	if ((r = pii_json_check_keys(ctx, keys, "context", ei)) != 0)
		return r;
	for (i = 0; slots[i] != NULL; i++) {
		if ((r = pii_json_get_string(ctx, keys[i], need_purpose && i == 2,
		    MAX_CONTEXT_FIELD, "context", slots[i], NULL, ei)) != 0)
			return r;
		if (*slots[i] != NULL && (!vault_context_ok(*slots[i]) ||
		    (*slots[i])[0] == '\0'))
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST,
			    pii_json_path_key(p, sizeof(p), "context", keys[i]),
			    "must be 1-128 printable ASCII characters without quotes");
	}
	if ((r = pii_json_get_string(ctx, "request_id", 0, 64, "context", &rid,
	    NULL, ei)) != 0)
		return r;
	/* the proxy's emergency access: recorded under its own action */
	if ((r = pii_json_get_bool(ctx, "breakglass", 0, "context",
	    &who->breakglass, ei)) != 0)
		return r;
	/* the proxy's request id ties its decision to this one */
	if (request_id_ok(rid))
		who->request_id = rid;
	return 0;
}

/* context.request_id of a reveal when it is one parse_context would take,
 * else NULL: a batch result carries it even when the reveal is refused
 * before its context is read. */
static const char *
item_request_id(const json_t *item)
{
	const char *rid = json_string_value(json_object_get(json_object_get(item,
	    "context"), "request_id"));

	return request_id_ok(rid) && strlen(rid) <= 64 ? rid : NULL;
}

/* The category of a well-formed token, into cat; else PII_ERR_BAD_REQUEST. */
int
vault_token_category(const char *tok, char cat[VAULT_CATEGORY_MAX])
{
	size_t n = strlen(tok), i, end;
	const char *last;

	if (n < 4 + 1 + 3 + 1 + 26 || n >= VAULT_TOKEN_MAX ||
	    strncmp(tok, "tok_", 4) != 0)
		return PII_ERR_BAD_REQUEST;
	last = strrchr(tok, '_');
	if (last == NULL || strlen(last + 1) != 26 ||
	    strspn(last + 1, "abcdefghijklmnopqrstuvwxyz234567") != 26)
		return PII_ERR_BAD_REQUEST;
	end = (size_t)(last - tok);
	i = end;
	while (i > 4 && tok[i - 1] >= '0' && tok[i - 1] <= '9')
		i--;
	if (i == end || i < 4 + 3 || tok[i - 1] != 'v' || tok[i - 2] != '_')
		return PII_ERR_BAD_REQUEST;
	if (i - 2 - 4 == 0 || i - 2 - 4 >= VAULT_CATEGORY_MAX)
		return PII_ERR_BAD_REQUEST;
	memcpy(cat, tok + 4, i - 2 - 4);
	cat[i - 2 - 4] = '\0';
	return 0;
}

static int
hex_to_bin(const char *hex, unsigned char *out, size_t cap, size_t *outlen)
{
	return sodium_hex2bin(out, cap, hex, strlen(hex), NULL, outlen, NULL) == 0 ?
	    0 : PII_ERR_INTERNAL;
}

/* Unwrap a DEK from a (hex wrapped, epoch) pair of columns. */
int
vault_unwrap_hex(struct vault_server *vs, const char *subject_token, const char *hex,
    const char *epoch, struct vault_dek **out)
{
	unsigned char w[VAULT_WRAPPED_DEK_BYTES];
	size_t wl = 0;
	int r;

	if (hex_to_bin(hex, w, sizeof(w), &wl) != 0)
		return PII_ERR_CRYPTO;
	r = vault_dek_unwrap(vs->keys, w, wl, subject_token,
	    (uint32_t)strtoul(epoch, NULL, 10), out);
	return r;
}

/* Decrypt one sealed value (hex) into a new JSON string. */
int
vault_open_hex(const struct vault_dek *dek, const char *subject_token,
    const char *category, const char *token, const char *hex, json_t **out)
{
	unsigned char *sealed = NULL, *plain = NULL;
	size_t hl = strlen(hex), sl = 0, pl = 0;
	int r = PII_ERR_CRYPTO;

	sealed = malloc(hl / 2 + 1);
	plain = malloc(hl / 2 + 1);
	if (sealed == NULL || plain == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if (hex_to_bin(hex, sealed, hl / 2 + 1, &sl) != 0)
		goto out;
	r = vault_value_open(dek, subject_token, category, token, sealed, sl, plain,
	    hl / 2 + 1, &pl);
	if (r != 0)
		goto out;
	*out = json_stringn((const char *)plain, pl);
	r = *out != NULL ? 0 : PII_ERR_NOMEM;
out:
	if (plain != NULL) {
		sodium_memzero(plain, hl / 2 + 1);
		free(plain);
	}
	free(sealed);
	return r;
}

void
vault_reply_fail(struct vault_server *vs, const struct pii_http_request *req,
    struct pii_http_response *resp, int r, struct pii_errinfo *ei)
{
	if (r == PII_ERR_DB_UNAVAILABLE || r == PII_ERR_SQL)
		vault_db_error(vs, r, ei);
	else if (r == PII_ERR_CRYPTO || r == PII_ERR_KEY) {
		pii_log(PII_LOG_ERROR, "event=decrypt_failed request_id=%s "
		    "detail=\"%s\"", req->request_id, pii_strerror(r));
		pii_errinfo_set(ei, PII_ERR_INTERNAL, NULL,
		    "stored data failed to authenticate (see the vault log)");
	} else if (ei->code == 0)
		pii_errinfo_set(ei, r, NULL, NULL);
	pii_http_reply_error(resp, req, ei);
}

/* Refuse with code, auditing the refusal first. */
static void
deny(struct vault_server *vs, const struct vault_caller *who, const char *action,
    const char *subject_token, const char *const *cats, size_t ncats, int code,
    const char *msg, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct pii_errinfo ei;

	pii_errinfo_set(&ei, code, NULL, "%s", msg);
	if (vault_audit(vs, who, action, subject_token, cats, ncats, 0, code, 0,
	    NULL, NULL) != 0)
		pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; request refused");
	pii_http_reply_error(resp, req, &ei);
}

/* Find the subject named by "subject" or "subject_token" in root. */
int
vault_parse_subject(struct vault_server *vs, json_t *root, char token[VAULT_TOKEN_MAX],
    struct pii_errinfo *ei)
{
	const char *ref = NULL, *tok = NULL;
	char norm[300], cat[VAULT_CATEGORY_MAX];
	size_t rl = 0, nl = 0;
	int r;

	if ((r = pii_json_get_string(root, "subject", 0, 256, "", &ref, &rl, ei)) != 0 ||
	    (r = pii_json_get_string(root, "subject_token", 0, VAULT_TOKEN_MAX - 1, "",
	    &tok, NULL, ei)) != 0)
		return r;
	if ((ref == NULL) == (tok == NULL))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "subject",
		    "give exactly one of subject and subject_token");
	if (tok != NULL) {
		if (vault_token_category(tok, cat) != 0 || strcmp(cat, "subject") != 0)
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "subject_token",
			    "not a subject token (tok_subject_v<N>_...)");
		snprintf(token, VAULT_TOKEN_MAX, "%s", tok);
		return 0;
	}
	r = vault_normalize(&vs->cfg->categories, "subject", ref, rl, norm,
	    sizeof(norm), &nl, ei);
	if (r == 0)
		r = vault_token(vs->keys, "subject", (unsigned char *)norm, nl, token);
	sodium_memzero(norm, sizeof(norm));
	if (r != 0 && ei->field[0] == '\0')
		snprintf(ei->field, sizeof(ei->field), "subject");
	return r;
}

/*
 * One reveal, in parts so that a batch's audit records are committed
 * together: reveal_begin parses, reads and decrypts; reveal_submit queues
 * the audit record (allow, or the refusal) without waiting; reveal_end
 * waits for that record and only then answers.  A failure before a record is submitted
 * (bad input, database, crypto) is answered with no record, as before.
 */
struct reveal_job {
	struct vault_caller who;
	char subject_token[VAULT_TOKEN_MAX];
	const char *cats[MAX_REVEAL_CATEGORIES];
	size_t ncats;
	int fail;                       /* nonzero: answer ei, nothing audited */
	struct pii_errinfo ei;
	int refused;                    /* nonzero: refused with this code, audited */
	const char *refusal;
	json_t *fields;                 /* the answer once audited (allow) */
	long long count;                /* values revealed */
	struct pii_buf catlit;          /* the categories as a text[] literal */
	int to_submit;                  /* a record is due (reveal_submit) */
	struct audit_pending *ap;       /* the record submitted, or NULL */
	int submit_failed;
};

/* Submit job's record (allow when !job->refused), not waiting for it. */
static void
reveal_submit(struct vault_server *vs, struct reveal_job *job)
{
	struct audit_record rec;

	if (!job->to_submit)
		return;
	job->to_submit = 0;
	memset(&rec, 0, sizeof(rec));
	rec.actor = job->who.id != NULL ? job->who.id->name : "anonymous";
	rec.role = job->who.role;
	rec.on_behalf_of = job->who.on_behalf_of;
	rec.purpose = job->who.purpose;
	rec.ticket = job->who.ticket;
	rec.action = REVEAL_ACTION(&job->who);
	rec.subject_token = job->subject_token;
	rec.categories = job->cats;
	rec.ncategories = job->ncats;
	rec.decision = job->refused ? "deny" : "allow";
	rec.reason = job->refused ? pii_err_api_code(job->refused) : "ok";
	rec.request_id = job->who.request_id;
	rec.count = job->count;
	if (audit_log_submit(vs->audit, &rec, &job->ap) != 0) {
		job->ap = NULL;
		job->submit_failed = 1;
	}
}

/* The columns of a reveal's rows, after the batch's leading ordinal. */
#define REVEAL_COLUMNS(purpose) \
	"s.id, s.status, k.kek_epoch, encode(k.wrapped_dek, 'hex')," \
	" EXISTS (SELECT 1 FROM objections o WHERE o.subject_id = s.id" \
	"         AND o.purpose IN (" purpose ", '*'))," \
	" v.token, v.category, encode(v.ciphertext, 'hex'), v.source, " \
	RFC3339("v.last_seen")

/* Parse one reveal (root) into job; on bad input job->fail is set. */
static void
reveal_parse(struct vault_server *vs, const struct vault_caller *who_in,
    json_t *root, struct reveal_job *job)
{
	static const char *const keys[] = { "subject", "subject_token", "categories",
		"context", NULL };
	char p[PII_ERR_MAX_FIELD];
	json_t *jcats;
	size_t i, j;
	int r;

	job->who = *who_in;
	pii_errinfo_clear(&job->ei);
	pii_buf_init(&job->catlit, 4096);
	if (!json_is_object(root)) {
		r = pii_errinfo_set(&job->ei, PII_ERR_BAD_REQUEST, NULL,
		    "the body must be a JSON object");
		goto fail;
	}
	/* the context first: its request id is the item's in a batch */
	if ((r = pii_json_check_keys(root, keys, "", &job->ei)) != 0 ||
	    (r = parse_context(root, &job->who, 1, &job->ei)) != 0 ||
	    (r = vault_parse_subject(vs, root, job->subject_token, &job->ei)) != 0 ||
	    (r = pii_json_get_array(root, "categories", 1, MAX_REVEAL_CATEGORIES, "",
	    &jcats, &job->ei)) != 0)
		goto fail;
	if (json_array_size(jcats) == 0) {
		r = pii_errinfo_set(&job->ei, PII_ERR_BAD_REQUEST, "categories",
		    "must not be empty");
		goto fail;
	}
	pii_buf_putc(&job->catlit, '{');
	for (i = 0; i < json_array_size(jcats); i++) {
		const char *cat = json_string_value(json_array_get(jcats, i));

		pii_json_path_index(p, sizeof(p), "categories", i);
		if (cat == NULL) {
			r = pii_errinfo_set(&job->ei, PII_ERR_BAD_REQUEST, p,
			    "must be a string");
			goto fail;
		}
		if (!vault_category_known(&vs->cfg->categories, cat)) {
			r = pii_errinfo_set(&job->ei, PII_ERR_UNKNOWN_CATEGORY, p,
			    "unknown category");
			goto fail;
		}
		for (j = 0; j < job->ncats; j++)
			if (strcmp(job->cats[j], cat) == 0)
				break;
		if (j < job->ncats)
			continue;
		job->cats[job->ncats++] = cat;
		pii_buf_array_elem(&job->catlit, cat);
	}
	pii_buf_putc(&job->catlit, '}');
	if (job->catlit.failed) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	return;
fail:
	job->fail = r != 0 ? r : PII_ERR_INTERNAL;
}

/* Decide and decrypt one reveal from its rows [first, last) of res, whose
 * reveal columns start at col (REVEAL_COLUMNS); no rows: no such subject.
 * Sets the refusal or the fields, and marks the record due. */
static void
reveal_read(struct vault_server *vs, struct reveal_job *job,
    const PGresult *res, int first, int last, int col)
{
	struct vault_dek *dek = NULL;
	int i, r;

	if (first == last) {
		job->refused = PII_ERR_NOT_FOUND;
		job->refusal = "no such subject";
	} else if (strcmp(PQgetvalue(res, first, col + 1), "erased") == 0) {
		job->refused = PII_ERR_SUBJECT_ERASED;
		job->refusal = "the subject has been erased";
	} else if (strcmp(PQgetvalue(res, first, col + 4), "t") == 0) {
		job->refused = PII_ERR_OBJECTION;
		job->refusal = "the subject objects to this purpose";
	}
	if (job->refused) {
		job->to_submit = 1;
		return;
	}
	if (PQgetisnull(res, first, col + 3)) {
		r = PII_ERR_CRYPTO;
		goto fail;
	}
	if ((r = vault_unwrap_hex(vs, job->subject_token, PQgetvalue(res, first,
	    col + 3), PQgetvalue(res, first, col + 2), &dek)) != 0)
		goto fail;
	job->fields = json_object();
	for (i = 0; i < (int)job->ncats; i++)
		json_object_set_new(job->fields, job->cats[i], json_array());
	for (i = first; i < last; i++) {
		const char *tok = PQgetvalue(res, i, col + 5);
		const char *cat = PQgetvalue(res, i, col + 6);
		json_t *value = NULL;

		if (PQgetisnull(res, i, col + 5))
			continue;   /* the subject has none of these categories */
		if ((r = vault_open_hex(dek, job->subject_token, cat, tok,
		    PQgetvalue(res, i, col + 7), &value)) != 0)
			goto fail;
		json_array_append_new(json_object_get(job->fields, cat),
		    json_pack("{s:o, s:s, s:s, s:s}", "value", value, "token", tok,
		    "source", PQgetvalue(res, i, col + 8), "last_seen",
		    PQgetvalue(res, i, col + 9)));
		job->count++;
	}
	vault_dek_free(dek);
	job->to_submit = 1;
	return;
fail:
	vault_dek_free(dek);
	job->fail = r;
	job->count = 0;
	json_decref(job->fields);
	job->fields = NULL;
}

/* Parse and read one reveal: one round trip for the subject, its wrapped
 * key, its objection state and the values asked for. */
static void
reveal_begin(struct vault_server *vs, const struct vault_caller *who_in,
    json_t *root, struct reveal_job *job)
{
	PGresult *res = NULL;
	PGconn *c;
	const char *params[3];
	int r;

	reveal_parse(vs, who_in, root, job);
	if (job->fail)
		return;
	if ((r = pii_pg_conn(vs->db, &c)) != 0) {
		job->fail = r;
		return;
	}
	params[0] = job->subject_token;
	params[1] = job->who.purpose;
	params[2] = job->catlit.data;
	if ((r = pii_pg_exec(vs->db, c, "SELECT " REVEAL_COLUMNS("$2")
	    " FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id"
	    " LEFT JOIN pii_values v ON v.subject_id = s.id"
	    "   AND v.category = ANY ($3::text[])"
	    " WHERE s.subject_token = $1"
	    " ORDER BY v.category, v.last_seen DESC, v.token", 3, params, &res)) != 0) {
		job->fail = r;
		return;
	}
	reveal_read(vs, job, res, 0, PQntuples(res), 0);
	PQclear(res);
}

/* Wait for job's record, then answer (resp); req supplies the request id
 * of error answers. */
static void
reveal_end(struct vault_server *vs, struct reveal_job *job,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	struct pii_errinfo ei;
	int r = 0;

	if (job->fail) {
		vault_reply_fail(vs, req, resp, job->fail, &job->ei);
		return;
	}
	/* fail closed: no record, no answer */
	if (job->submit_failed || audit_log_await(vs->audit, job->ap, NULL, 0,
	    NULL) != 0)
		r = PII_ERR_AUDIT_UNAVAILABLE;
	job->ap = NULL;
	if (r != 0) {
		atomic_fetch_add(&vs->audit_failures, 1);
		pii_log(PII_LOG_ERROR, "event=audit_write_failed action=%s "
		    "request_id=%s detail=\"%s\"", REVEAL_ACTION(&job->who),
		    job->who.request_id, pii_pg_last_error());
		pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL, "%s",
		    job->refused ? "audit log unavailable; request refused" :
		    "audit log unavailable; nothing revealed");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if (job->refused) {
		pii_errinfo_set(&ei, job->refused, NULL, "%s", job->refusal);
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	pii_http_reply_json(resp, 200, json_pack("{s:s, s:o}", "subject_token",
	    job->subject_token, "fields", job->fields));
	job->fields = NULL;
}

static void
reveal_job_free(struct reveal_job *job)
{
	json_decref(job->fields);
	job->fields = NULL;
	pii_buf_free(&job->catlit);
}

void
vault_reveal(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	struct reveal_job job;
	struct pii_errinfo ei;
	json_t *root = NULL;

	memset(&job, 0, sizeof(job));
	pii_errinfo_clear(&ei);
	if (vault_parse_body(vs, req, NULL, &root, &ei) != 0) {
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	reveal_begin(vs, who, root, &job);
	reveal_submit(vs, &job);
	reveal_end(vs, &job, req, resp);
	reveal_job_free(&job);
	json_decref(root);
}

/*
 * The read behind POST /v1/reveal/batch.  Each array is a scalar subquery,
 * (SELECT $n::text[]), rather than the bare parameter: given the array
 * itself, PostgreSQL sized unnest() by its length and, once the tables
 * held a few thousand subjects, priced a custom plan for a batch under ten
 * below the generic plan (sized for ten), so it planned the four-table
 * join afresh on every call: 0.5 ms of database CPU per batch, more than
 * running it.  Through a subquery every plan sizes the batch alike and the
 * statement settles on its generic plan (index probes per reveal, right
 * for any batch up to VAULT_REVEAL_BATCH_MAX).  tests/tools/vault_sql_test
 * checks that it does, and that the bare form would not.
 */
const char vault_reveal_batch_sql[] =
    "SELECT q.i, " REVEAL_COLUMNS("q.purpose")
    " FROM unnest((SELECT $1::text[]), (SELECT $2::text[]),"
    "   (SELECT $3::text[])) WITH ORDINALITY AS q (tok, purpose, cats, i)"
    " JOIN subjects s ON s.subject_token = q.tok"
    " LEFT JOIN subject_keys k ON k.subject_id = s.id"
    " LEFT JOIN pii_values v ON v.subject_id = s.id"
    "   AND v.category = ANY (q.cats::text[])"
    " ORDER BY q.i, v.category, v.last_seen DESC, v.token";

/*
 * The read behind POST /v1/detokenize: per distinct token, the most recently
 * seen row of an active subject, with that subject's wrapped DEK.  Each
 * LATERAL subquery has a LIMIT so that it cannot be pulled up into a join:
 * every step is an index probe whatever the table statistics say.  (Planned
 * as joins, with statistics from before a bulk load, this query once
 * scanned subjects for every token: 93 s for 1000 tokens over 100,000
 * subjects, against 68 ms.)  The tokens come through a scalar subquery for
 * the reason given at vault_reveal_batch_sql: as a bare parameter a short
 * list was planned afresh on every call (0.2 ms each); now the statement
 * settles on its generic plan.  tests/tools/vault_sql_test checks both.
 */
const char vault_detokenize_sql[] =
    "SELECT x.token, x.category, encode(x.ciphertext, 'hex'),"
    " x.subject_token, k.kek_epoch, encode(k.wrapped_dek, 'hex'),"
    " EXISTS (SELECT 1 FROM objections o WHERE o.subject_id = x.sid"
    "         AND o.purpose IN ($2, '*'))"
    " FROM (SELECT DISTINCT t FROM unnest((SELECT $1::text[])) AS a (t))"
    "   AS u"
    " CROSS JOIN LATERAL (SELECT v.token, v.category, v.ciphertext,"
    "   s.id AS sid, s.subject_token FROM pii_values v"
    "   CROSS JOIN LATERAL (SELECT id, subject_token, status FROM subjects"
    "     WHERE id = v.subject_id LIMIT 1) AS s"
    "   WHERE v.token = u.t AND s.status = 'active'"
    "   ORDER BY v.last_seen DESC, v.subject_id LIMIT 1) AS x"
    " CROSS JOIN LATERAL (SELECT kek_epoch, wrapped_dek FROM subject_keys"
    "   WHERE subject_id = x.sid LIMIT 1) AS k"
    " ORDER BY x.token";

/*
 * Read every parsed reveal of a batch in one round trip: the reveals'
 * subject tokens, purposes and category lists as parallel arrays, numbered
 * by unnest WITH ORDINALITY; each reveal's rows come back together, in the
 * order of the single query, behind its number.  A database failure fails
 * each of them (nothing audited), as it would one reveal alone.
 */
static void
reveal_read_batch(struct vault_server *vs, struct reveal_job *jobs, size_t n)
{
	struct pii_buf toks, purposes, cats;
	size_t *idx = NULL, m = 0, i;
	PGresult *res = NULL;
	PGconn *c = NULL;
	const char *params[3];
	int r = 0, row, rows;

	pii_buf_init(&toks, (size_t)1 << 20);
	pii_buf_init(&purposes, (size_t)1 << 20);
	pii_buf_init(&cats, (size_t)4 << 20);
	if ((idx = calloc(n, sizeof(*idx))) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	pii_buf_putc(&toks, '{');
	pii_buf_putc(&purposes, '{');
	pii_buf_putc(&cats, '{');
	for (i = 0; i < n; i++) {
		if (jobs[i].fail)
			continue;
		if (jobs[i].who.purpose == NULL) {   /* parse_context requires it */
			jobs[i].fail = PII_ERR_INTERNAL;
			continue;
		}
		idx[m++] = i;
		pii_buf_array_elem(&toks, jobs[i].subject_token);
		pii_buf_array_elem(&purposes, jobs[i].who.purpose);
		pii_buf_array_elem(&cats, jobs[i].catlit.data);
	}
	pii_buf_putc(&toks, '}');
	pii_buf_putc(&purposes, '}');
	pii_buf_putc(&cats, '}');
	if (m == 0)
		goto out;
	if (toks.failed || purposes.failed || cats.failed) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto out;
	params[0] = toks.data;
	params[1] = purposes.data;
	params[2] = cats.data;
	if ((r = pii_pg_exec(vs->db, c, vault_reveal_batch_sql, 3, params,
	    &res)) != 0)
		goto out;
	rows = PQntuples(res);
	row = 0;
	for (i = 0; i < m; i++) {
		int first = row;
		long long want = (long long)i + 1;

		while (row < rows && strtoll(PQgetvalue(res, row, 0), NULL, 10) == want)
			row++;
		reveal_read(vs, &jobs[idx[i]], res, first, row, 1);
	}
	if (row != rows) {
		/* rows out of order: trust none of it */
		r = PII_ERR_INTERNAL;
		for (i = 0; i < m; i++) {
			json_decref(jobs[idx[i]].fields);
			jobs[idx[i]].fields = NULL;
			jobs[idx[i]].to_submit = 0;
			jobs[idx[i]].refused = 0;
		}
	}
out:
	for (i = 0; r != 0 && i < m; i++)
		jobs[idx[i]].fail = r;
	PQclear(res);
	free(idx);
	pii_buf_free(&toks);
	pii_buf_free(&purposes);
	pii_buf_free(&cats);
}

/*
 * POST /v1/reveal/batch {"requests": [reveal, ...]}: up to
 * VAULT_REVEAL_BATCH_MAX reveals, each exactly as POST /v1/reveal would
 * take it (its own context: person, role, purpose, ticket, request id), in
 * one call.  The answer is 200 {"results": [{"status", "request_id",
 * "body"}, ...]} in the same order, each status and body what /v1/reveal
 * would have answered, request_id the item's (context.request_id, else the
 * call's); every item has its own audit record, and the records are
 * committed together before anything is answered.  pii-proxy gathers the
 * access requests that arrive while its earlier calls are in flight into
 * one such call.
 */
void
vault_reveal_batch(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	static const char *const keys[] = { "requests", NULL };
	struct reveal_job *jobs = NULL;
	struct pii_errinfo ei;
	struct pii_buf out;
	json_t *root = NULL, *items;
	size_t i, n;

	pii_errinfo_clear(&ei);
	pii_buf_init(&out, (size_t)64 << 20);
	if (vault_parse_body(vs, req, keys, &root, &ei) != 0 ||
	    pii_json_get_array(root, "requests", 1, VAULT_REVEAL_BATCH_MAX, "",
	    &items, &ei) != 0) {
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if ((n = json_array_size(items)) == 0) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "requests",
		    "must not be empty");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	if ((jobs = calloc(n, sizeof(*jobs))) == NULL) {
		pii_errinfo_set(&ei, PII_ERR_NOMEM, NULL, "out of memory");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	for (i = 0; i < n; i++) {
		char path[PII_ERR_MAX_FIELD];

		if (!json_is_object(json_array_get(items, i))) {
			pii_json_path_index(path, sizeof(path), "requests", i);
			jobs[i].fail = pii_errinfo_set(&jobs[i].ei, PII_ERR_BAD_REQUEST,
			    path, "must be a JSON object (one reveal)");
			jobs[i].who = *who;
			continue;
		}
		reveal_parse(vs, who, json_array_get(items, i), &jobs[i]);
		/* a field named in an item's error is under its index */
		if (jobs[i].fail && jobs[i].ei.field[0] != '\0') {
			snprintf(path, sizeof(path), "requests[%zu].%s", i,
			    jobs[i].ei.field);
			snprintf(jobs[i].ei.field, sizeof(jobs[i].ei.field), "%s",
			    path);
		}
	}
	reveal_read_batch(vs, jobs, n);
	/* every record at once: one group commit for the batch */
	for (i = 0; i < n; i++)
		reveal_submit(vs, &jobs[i]);
	pii_buf_append(&out, "{\"results\":[", 12);
	for (i = 0; i < n; i++) {
		struct pii_http_request ireq = *req;
		struct pii_http_response iresp;
		char head[48];

		/* an item's errors carry its own request id */
		ireq.request_id = jobs[i].who.request_id != NULL ?
		    jobs[i].who.request_id : req->request_id;
		if (ireq.request_id == req->request_id &&
		    item_request_id(json_array_get(items, i)) != NULL)
			ireq.request_id = item_request_id(json_array_get(items, i));
		memset(&iresp, 0, sizeof(iresp));
		reveal_end(vs, &jobs[i], &ireq, &iresp);
		snprintf(head, sizeof(head), "%s{\"status\":%u,\"request_id\":",
		    i ? "," : "", iresp.body != NULL ? iresp.status : 500);
		pii_buf_append(&out, head, strlen(head));
		pii_buf_json_str(&out, ireq.request_id);
		pii_buf_append(&out, ",\"body\":", 8);
		if (iresp.body != NULL) {
			pii_buf_append(&out, iresp.body, iresp.body_len);
			iresp.body_free(iresp.body);
		} else {
			pii_buf_puts(&out, "{\"error\":{\"code\":\"internal\","
			    "\"message\":\"internal error\"}}");
		}
		pii_buf_putc(&out, '}');
	}
	pii_buf_append(&out, "]}", 2);
	if (out.failed) {
		pii_errinfo_set(&ei, PII_ERR_NOMEM, NULL, "out of memory");
		pii_http_reply_error(resp, req, &ei);
		goto out;
	}
	{
		char *text = out.data;
		size_t len = out.len;

		out.data = NULL;
		out.len = out.cap = 0;
		pii_http_reply_text(resp, 200, text, len, "application/json");
	}
out:
	for (i = 0; jobs != NULL && i < n; i++) {
		/* a submitted record is always awaited (reveal_end did) */
		reveal_job_free(&jobs[i]);
	}
	free(jobs);
	pii_buf_free(&out);
	json_decref(root);
}

void
vault_detokenize(struct vault_server *vs, const struct vault_caller *who_in,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	static const char *const keys[] = { "tokens", "context", NULL };
	struct vault_caller who = *who_in;
	struct pii_errinfo ei;
	struct pii_buf toklit;
	char p[PII_ERR_MAX_FIELD], cat[VAULT_CATEGORY_MAX];
	const char *cats[AUDIT_MAX_CATEGORIES];
	json_t *root = NULL, *jtoks, *values = NULL, *withheld = NULL, *missing = NULL;
	PGresult *res = NULL;
	PGconn *c;
	const char *params[2];
	struct audit_record *recs = NULL;
	size_t i, j, ncats = 0, nsubj = 0;
	int r;

	pii_errinfo_clear(&ei);
	pii_buf_init(&toklit, 1 << 20);
	if ((r = vault_parse_body(vs, req, keys, &root, &ei)) != 0 ||
	    (r = parse_context(root, &who, 1, &ei)) != 0 ||
	    (r = pii_json_get_array(root, "tokens", 1, MAX_DETOKENIZE, "", &jtoks,
	    &ei)) != 0)
		goto fail;
	if (json_array_size(jtoks) == 0) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "tokens",
		    "must not be empty");
		goto fail;
	}
	pii_buf_putc(&toklit, '{');
	for (i = 0; i < json_array_size(jtoks); i++) {
		const char *tok = json_string_value(json_array_get(jtoks, i));

		pii_json_path_index(p, sizeof(p), "tokens", i);
		if (tok == NULL || vault_token_category(tok, cat) != 0 ||
		    strcmp(cat, "subject") == 0) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, p,
			    "not a value token (tok_<category>_v<N>_<26 base32>)");
			goto fail;
		}
		if (!vault_category_known(&vs->cfg->categories, cat)) {
			r = pii_errinfo_set(&ei, PII_ERR_UNKNOWN_CATEGORY, p,
			    "unknown category");
			goto fail;
		}
		pii_buf_array_elem(&toklit, tok);
	}
	pii_buf_putc(&toklit, '}');
	if (toklit.failed) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	params[0] = toklit.data;
	params[1] = who.purpose;
	r = pii_pg_exec(vs->db, c, vault_detokenize_sql, 2, params, &res);
	if (r != 0)
		goto fail;
	values = json_object();
	withheld = json_array();
	missing = json_array();
	recs = calloc((size_t)PQntuples(res) + 1, sizeof(*recs));
	if (values == NULL || recs == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		const char *tok = PQgetvalue(res, (int)i, 0);
		const char *vcat = PQgetvalue(res, (int)i, 1);
		const char *stok = PQgetvalue(res, (int)i, 3);
		struct vault_dek *dek = NULL;
		json_t *value = NULL;

		if (strcmp(PQgetvalue(res, (int)i, 6), "t") == 0) {
			json_array_append_new(withheld, json_pack("{s:s, s:s}", "token",
			    tok, "reason", "objection_in_force"));
			continue;
		}
		if ((r = vault_unwrap_hex(vs, stok, PQgetvalue(res, (int)i, 5),
		    PQgetvalue(res, (int)i, 4), &dek)) != 0)
			goto fail;
		r = vault_open_hex(dek, stok, vcat, tok, PQgetvalue(res, (int)i, 2), &value);
		vault_dek_free(dek);
		if (r != 0)
			goto fail;
		json_object_set_new(values, tok, value);
		for (j = 0; j < ncats; j++)
			if (strcmp(cats[j], vcat) == 0)
				break;
		if (j == ncats && ncats < AUDIT_MAX_CATEGORIES)
			cats[ncats++] = vcat;
		/* one audit record per subject whose data is revealed */
		for (j = 0; j < nsubj; j++)
			if (strcmp(recs[j].subject_token, stok) == 0)
				break;
		if (j == nsubj)
			recs[nsubj++].subject_token = stok;
		recs[j].count++;
	}
	for (i = 0; i < json_array_size(jtoks); i++) {
		const char *tok = json_string_value(json_array_get(jtoks, i));
		int seen = json_object_get(values, tok) != NULL;

		for (j = 0; !seen && j < json_array_size(withheld); j++)
			seen = strcmp(json_string_value(json_object_get(
			    json_array_get(withheld, j), "token")), tok) == 0;
		if (!seen)
			json_array_append_new(missing, json_string(tok));
	}
	for (j = 0; j < nsubj || (nsubj == 0 && j == 0); j++) {
		if (vault_audit(vs, &who, "detokenize", nsubj ? recs[j].subject_token :
		    NULL, cats, ncats, 1, 0, nsubj ? recs[j].count : 0, NULL, NULL) != 0) {
			r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
			    "audit log unavailable; nothing revealed");
			goto fail;
		}
	}
	pii_http_reply_json(resp, 200, json_pack("{s:o, s:o, s:o}", "values", values,
	    "not_found", missing, "withheld", withheld));
	values = withheld = missing = NULL;
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	json_decref(values);
	json_decref(withheld);
	json_decref(missing);
	free(recs);
	PQclear(res);
	pii_buf_free(&toklit);
	json_decref(root);
}

void
vault_resolve(struct vault_server *vs, const struct vault_caller *who_in,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	static const char *const keys[] = { "category", "value", "context", NULL };
	struct vault_caller who = *who_in;
	struct pii_errinfo ei;
	const char *cat = NULL, *value = NULL;
	char token[VAULT_TOKEN_MAX];
	char *norm = NULL;
	size_t vl = 0, nl = 0, i, normcap = (size_t)vs->cfg->max_value_bytes * 2 + 64;
	json_t *root = NULL, *list = NULL;
	PGresult *res = NULL;
	PGconn *c;
	const char *params[1];
	int r;

	pii_errinfo_clear(&ei);
	if ((r = vault_parse_body(vs, req, keys, &root, &ei)) != 0 ||
	    (r = parse_context(root, &who, 0, &ei)) != 0 ||
	    (r = pii_json_get_string(root, "category", 1, VAULT_CATEGORY_MAX - 1, "",
	    &cat, NULL, &ei)) != 0 ||
	    (r = pii_json_get_string(root, "value", 1, (size_t)vs->cfg->max_value_bytes,
	    "", &value, &vl, &ei)) != 0)
		goto fail;
	if (!vault_category_known(&vs->cfg->categories, cat)) {
		r = pii_errinfo_set(&ei, PII_ERR_UNKNOWN_CATEGORY, "category",
		    "unknown category");
		goto fail;
	}
	norm = malloc(normcap);
	if (norm == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	r = vault_normalize(&vs->cfg->categories, cat, value, vl, norm, normcap, &nl,
	    &ei);
	if (r != 0) {
		snprintf(ei.field, sizeof(ei.field), "value");
		goto fail;
	}
	if ((r = vault_token(vs->keys, cat, (unsigned char *)norm, nl, token)) != 0)
		goto fail;
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	params[0] = token;
	r = pii_pg_exec(vs->db, c,
	    "SELECT DISTINCT s.subject_token FROM pii_values v"
	    " JOIN subjects s ON s.id = v.subject_id"
	    " WHERE v.token = $1 AND s.status = 'active' ORDER BY 1", 1, params, &res);
	if (r != 0)
		goto fail;
	list = json_array();
	for (i = 0; i < (size_t)PQntuples(res) || (i == 0 && PQntuples(res) == 0); i++) {
		const char *stok = PQntuples(res) ? PQgetvalue(res, (int)i, 0) : NULL;

		if (vault_audit(vs, &who, "resolve", stok, &cat, 1, 1, 0,
		    PQntuples(res) ? 1 : 0, NULL, NULL) != 0) {
			r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
			    "audit log unavailable; request refused");
			goto fail;
		}
		if (stok != NULL)
			json_array_append_new(list, json_string(stok));
	}
	pii_http_reply_json(resp, 200, json_pack("{s:o}", "subject_tokens", list));
	list = NULL;
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	if (norm != NULL) {
		sodium_memzero(norm, normcap);
		free(norm);
	}
	json_decref(list);
	PQclear(res);
	json_decref(root);
}

void
vault_subject_info(struct vault_server *vs, const struct vault_caller *who,
    const char *subject_token, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct pii_errinfo ei;
	char cat[VAULT_CATEGORY_MAX];
	json_t *out = NULL, *cats, *sources, *objections;
	PGresult *res = NULL;
	PGconn *c;
	const char *params[1] = { subject_token };
	int r;

	pii_errinfo_clear(&ei);
	if (vault_token_category(subject_token, cat) != 0 || strcmp(cat, "subject") != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "subject_token",
		    "not a subject token (tok_subject_v<N>_...)");
		goto fail;
	}
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	r = pii_pg_exec(vs->db, c,
	    "SELECT s.status, " RFC3339("s.created_at") ", " RFC3339("s.erased_at") ","
	    " coalesce((SELECT json_agg(json_build_object('category', category,"
	    "   'count', n, 'first_seen', " RFC3339("f") ", 'last_seen', " RFC3339("l") ")"
	    "   ORDER BY category) FROM (SELECT category, count(*) AS n,"
	    "   min(first_seen) AS f, max(last_seen) AS l FROM pii_values"
	    "   WHERE subject_id = s.id GROUP BY category) x), '[]'),"
	    " coalesce((SELECT json_agg(DISTINCT source) FROM pii_values"
	    "   WHERE subject_id = s.id), '[]'),"
	    " coalesce((SELECT json_agg(json_build_object('purpose', purpose,"
	    "   'since', " RFC3339("since") ") ORDER BY purpose) FROM objections"
	    "   WHERE subject_id = s.id), '[]')"
	    " FROM subjects s WHERE s.subject_token = $1", 1, params, &res);
	if (r != 0)
		goto fail;
	if (PQntuples(res) == 0) {
		deny(vs, who, "subject", subject_token, NULL, 0, PII_ERR_NOT_FOUND,
		    "no such subject", req, resp);
		goto out;
	}
	cats = json_loads(PQgetvalue(res, 0, 3), 0, NULL);
	sources = json_loads(PQgetvalue(res, 0, 4), 0, NULL);
	objections = json_loads(PQgetvalue(res, 0, 5), 0, NULL);
	out = json_pack("{s:s, s:s, s:s?, s:o*, s:o*, s:o*}", "subject_token",
	    subject_token, "status", PQgetvalue(res, 0, 0), "created_at",
	    PQgetvalue(res, 0, 1), "categories", cats, "sources", sources,
	    "objections", objections);
	if (out != NULL && !PQgetisnull(res, 0, 2))
		json_object_set_new(out, "erased_at", json_string(PQgetvalue(res, 0, 2)));
	if (out == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	if (vault_audit(vs, who, "subject", subject_token, NULL, 0, 1, 0, 0, NULL,
	    NULL) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; request refused");
		goto fail;
	}
	pii_http_reply_json(resp, 200, out);
	out = NULL;
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	json_decref(out);
	PQclear(res);
}
