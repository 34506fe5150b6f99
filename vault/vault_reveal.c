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
	if (rid != NULL && rid[0] != '\0' && vault_context_ok(rid) &&
	    strspn(rid, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
	    strlen(rid))
		who->request_id = rid;
	return 0;
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

void
vault_reveal(struct vault_server *vs, const struct vault_caller *who_in,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	static const char *const keys[] = { "subject", "subject_token", "categories",
		"context", NULL };
	struct vault_caller who = *who_in;
	struct pii_errinfo ei;
	const char *cats[MAX_REVEAL_CATEGORIES];
	char subject_token[VAULT_TOKEN_MAX], p[PII_ERR_MAX_FIELD];
	struct vault_dek *dek = NULL;
	struct pii_buf catlit;
	json_t *root = NULL, *jcats, *fields = NULL;
	PGresult *res = NULL;
	PGconn *c;
	const char *params[3];
	size_t i, j, ncats = 0;
	long long count = 0;
	int r;

	pii_errinfo_clear(&ei);
	pii_buf_init(&catlit, 4096);
	if ((r = vault_parse_body(vs, req, keys, &root, &ei)) != 0 ||
	    (r = vault_parse_subject(vs, root, subject_token, &ei)) != 0 ||
	    (r = parse_context(root, &who, 1, &ei)) != 0 ||
	    (r = pii_json_get_array(root, "categories", 1, MAX_REVEAL_CATEGORIES, "",
	    &jcats, &ei)) != 0)
		goto fail;
	if (json_array_size(jcats) == 0) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "categories",
		    "must not be empty");
		goto fail;
	}
	pii_buf_putc(&catlit, '{');
	for (i = 0; i < json_array_size(jcats); i++) {
		const char *cat = json_string_value(json_array_get(jcats, i));

		pii_json_path_index(p, sizeof(p), "categories", i);
		if (cat == NULL) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, p, "must be a string");
			goto fail;
		}
		if (!vault_category_known(&vs->cfg->categories, cat)) {
			r = pii_errinfo_set(&ei, PII_ERR_UNKNOWN_CATEGORY, p,
			    "unknown category");
			goto fail;
		}
		for (j = 0; j < ncats; j++)
			if (strcmp(cats[j], cat) == 0)
				break;
		if (j < ncats)
			continue;
		cats[ncats++] = cat;
		pii_buf_array_elem(&catlit, cat);
	}
	pii_buf_putc(&catlit, '}');

	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	/* One round trip: the subject, its wrapped key, its objection state
	 * and the values asked for (columns 5-9; NULL when it has none). */
	params[0] = subject_token;
	params[1] = who.purpose;
	params[2] = catlit.data;
	r = pii_pg_exec(vs->db, c,
	    "SELECT s.id, s.status, k.kek_epoch, encode(k.wrapped_dek, 'hex'),"
	    " EXISTS (SELECT 1 FROM objections o WHERE o.subject_id = s.id"
	    "         AND o.purpose IN ($2, '*')),"
	    " v.token, v.category, encode(v.ciphertext, 'hex'), v.source, "
	    RFC3339("v.last_seen")
	    " FROM subjects s LEFT JOIN subject_keys k ON k.subject_id = s.id"
	    " LEFT JOIN pii_values v ON v.subject_id = s.id"
	    "   AND v.category = ANY ($3::text[])"
	    " WHERE s.subject_token = $1"
	    " ORDER BY v.category, v.last_seen DESC, v.token", 3, params, &res);
	if (r != 0)
		goto fail;
	if (PQntuples(res) == 0) {
		deny(vs, &who, REVEAL_ACTION(&who), subject_token, cats, ncats, PII_ERR_NOT_FOUND,
		    "no such subject", req, resp);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "erased") == 0) {
		deny(vs, &who, REVEAL_ACTION(&who), subject_token, cats, ncats,
		    PII_ERR_SUBJECT_ERASED, "the subject has been erased", req, resp);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
		deny(vs, &who, REVEAL_ACTION(&who), subject_token, cats, ncats, PII_ERR_OBJECTION,
		    "the subject objects to this purpose", req, resp);
		goto out;
	}
	if (PQgetisnull(res, 0, 3)) {
		r = PII_ERR_CRYPTO;
		goto fail;
	}
	if ((r = vault_unwrap_hex(vs, subject_token, PQgetvalue(res, 0, 3),
	    PQgetvalue(res, 0, 2), &dek)) != 0)
		goto fail;
	fields = json_object();
	for (i = 0; i < ncats; i++)
		json_object_set_new(fields, cats[i], json_array());
	for (i = 0; i < (size_t)PQntuples(res); i++) {
		const char *tok = PQgetvalue(res, (int)i, 5);
		const char *cat = PQgetvalue(res, (int)i, 6);
		json_t *value = NULL;

		if (PQgetisnull(res, (int)i, 5))
			continue;   /* the subject has none of these categories */
		if ((r = vault_open_hex(dek, subject_token, cat, tok,
		    PQgetvalue(res, (int)i, 7), &value)) != 0)
			goto fail;
		json_array_append_new(json_object_get(fields, cat),
		    json_pack("{s:o, s:s, s:s, s:s}", "value", value, "token", tok,
		    "source", PQgetvalue(res, (int)i, 8), "last_seen",
		    PQgetvalue(res, (int)i, 9)));
		count++;
	}
	/* fail closed: no record, no answer */
	if (vault_audit(vs, &who, REVEAL_ACTION(&who), subject_token, cats, ncats, 1, 0, count,
	    NULL, NULL) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; nothing revealed");
		goto fail;
	}
	pii_http_reply_json(resp, 200, json_pack("{s:s, s:o}", "subject_token",
	    subject_token, "fields", fields));
	fields = NULL;
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	json_decref(fields);
	vault_dek_free(dek);
	PQclear(res);
	pii_buf_free(&catlit);
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
	/* Per distinct token, the most recently seen row of an active subject,
	 * with that subject's wrapped DEK.  Each LATERAL subquery has a LIMIT so
	 * that it cannot be pulled up into a join: every step is an index probe
	 * whatever the table statistics say.  (Planned as joins, with statistics
	 * from before a bulk load, this query once scanned subjects for every
	 * token: 93 s for 1000 tokens over 100,000 subjects, against 68 ms.) */
	r = pii_pg_exec(vs->db, c,
	    "SELECT x.token, x.category, encode(x.ciphertext, 'hex'),"
	    " x.subject_token, k.kek_epoch, encode(k.wrapped_dek, 'hex'),"
	    " EXISTS (SELECT 1 FROM objections o WHERE o.subject_id = x.sid"
	    "         AND o.purpose IN ($2, '*'))"
	    " FROM (SELECT DISTINCT t FROM unnest($1::text[]) AS a (t)) AS u"
	    " CROSS JOIN LATERAL (SELECT v.token, v.category, v.ciphertext,"
	    "   s.id AS sid, s.subject_token FROM pii_values v"
	    "   CROSS JOIN LATERAL (SELECT id, subject_token, status FROM subjects"
	    "     WHERE id = v.subject_id LIMIT 1) AS s"
	    "   WHERE v.token = u.t AND s.status = 'active'"
	    "   ORDER BY v.last_seen DESC, v.subject_id LIMIT 1) AS x"
	    " CROSS JOIN LATERAL (SELECT kek_epoch, wrapped_dek FROM subject_keys"
	    "   WHERE subject_id = x.sid LIMIT 1) AS k"
	    " ORDER BY x.token", 2, params, &res);
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
