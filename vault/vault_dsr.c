/*
 * vault_dsr.c - subject-rights requests over HTTP (docs/dsr.md):
 *
 *   POST /v1/dsr                      take a request in (received, or verified)
 *   GET  /v1/dsr?status=&due_before=&subject_token=&limit=&after=
 *   GET  /v1/dsr/{id}
 *   POST /v1/dsr/{id}/verify | /extend | /reject
 *   GET  /v1/dsr/{id}/export[?format=html]   the bundle of a completed export
 *   GET  /v1/dsr/{id}/receipt                the signed receipt of an erasure
 *   GET  /v1/objections?purpose=P            subjects objecting to P
 *   GET  /v1/erasures?after=ID, POST /v1/erasures/ack   the erasure outbox
 *
 * The person acting (through pii-proxy) comes in X-Piiv-On-Behalf-Of and
 * X-Piiv-Role.  Every transition is recorded in the audit log before it is
 * committed: no record, no transition.  The executor (vault_dsr_exec.c)
 * carries verified requests out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../audit/audit_proof.h"
#include "../common/buf.h"
#include "../common/json_util.h"
#include "../common/log.h"
#include "vault_dsr_int.h"
#include "vault_dsr_state.h"
#include "vault_dsr_time.h"
#include "vault_export_html.h"

#define MAX_PURPOSES 16
#define MAX_REASON 1000
#define LIST_DEFAULT 100
#define LIST_MAX 1000
#define EVENTS_MAX 1000

const struct vault_identity vault_dsr_executor_id = { .name = "dsr-executor" };

int
vault_dsr_audit(struct vault_server *vs, const struct vault_caller *who,
    const char *action, const char *subject_token, const char *dsr_id,
    int allowed, int reason_code, long long count, char *origin,
    size_t origin_cap, unsigned long long *seq)
{
	struct audit_record rec;
	uint64_t s = 0;
	int r;

	memset(&rec, 0, sizeof(rec));
	rec.actor = who->id != NULL ? who->id->name : "anonymous";
	rec.role = who->role;
	rec.on_behalf_of = who->on_behalf_of;
	rec.purpose = who->purpose;
	rec.action = action;
	rec.subject_token = subject_token;
	rec.decision = allowed ? "allow" : "deny";
	rec.reason = allowed ? "ok" : pii_err_api_code(reason_code);
	rec.request_id = who->request_id;
	rec.batch_id = dsr_id;
	rec.count = count;
	r = audit_log_append_at(vs->audit, &rec, origin, origin_cap, &s);
	if (r != 0) {
		atomic_fetch_add(&vs->audit_failures, 1);
		pii_log(PII_LOG_ERROR, "event=audit_write_failed action=%s "
		    "request_id=%s dsr=%s", action, who->request_id,
		    dsr_id != NULL ? dsr_id : "-");
		return PII_ERR_AUDIT_UNAVAILABLE;
	}
	if (seq != NULL)
		*seq = s;
	return 0;
}

/* ---- small helpers ------------------------------------------------------ */

static int
id_ok(const char *s, size_t n)
{
	size_t i;

	if (n == 0 || n > DSR_ID_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= '0' && s[i] <= '9') || s[i] == '_' || s[i] == '-'))
			return 0;
	return 1;
}

/* A purpose name as the policies spell them: [a-z][a-z0-9_]{0,62}. */
static int
purpose_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 63 && s[0] >= 'a' && s[0] <= 'z' &&
	    strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789_") == n;
}

/* Free text typed by staff (reasons, requested_by): 1..max bytes of UTF-8
 * without control characters.  Stored in the vault database only; never
 * logged nor audited. */
static int
text_ok(const char *s, size_t max)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > max)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return 0;
	return 1;
}

static void
new_id(char out[4 + 26 + 1])
{
	static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";
	unsigned char rnd[16];
	unsigned int acc = 0, bits = 0;
	size_t i, o = 4;

	randombytes_buf(rnd, sizeof(rnd));
	memcpy(out, "dsr_", 4);
	for (i = 0; i < sizeof(rnd); i++) {
		acc = (acc << 8) | rnd[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits > 0)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

/* The person and role the proxy acts for, from its headers. */
int
vault_caller_headers(const struct pii_http_request *req, struct vault_caller *who,
    struct pii_errinfo *ei)
{
	static const char *const names[] = { "X-Piiv-On-Behalf-Of", "X-Piiv-Role" };
	const char **slots[] = { &who->on_behalf_of, &who->role };
	size_t i;

	for (i = 0; i < 2; i++) {
		const char *v = pii_http_header(req, names[i]);

		if (v == NULL)
			continue;
		if (v[0] == '\0' || strlen(v) > 128 || !vault_context_ok(v))
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, names[i],
			    "must be 1-128 printable ASCII characters without quotes");
		*slots[i] = v;
	}
	return 0;
}

/* Who took an action, for the request's row: the person, else the service. */
static const char *
staff(const struct vault_caller *who)
{
	return who->on_behalf_of != NULL ? who->on_behalf_of : who->id->name;
}

static void
reply_row_json(struct pii_http_response *resp, unsigned int status, const char *text)
{
	json_t *j = json_loads(text, 0, NULL);

	if (j == NULL) {
		resp->status = 500;
		return;
	}
	pii_http_reply_json(resp, status, j);
}

/* ?limit=N of a listing, 1 to max (absent: *n as it is), also as text. */
static int
query_limit(const char *lim, long max, long *n, char text[16],
    struct pii_errinfo *ei)
{
	if (lim != NULL) {
		char *end;

		*n = strtol(lim, &end, 10);
		if (*lim == '\0' || *end != '\0' || *n < 1 || *n > max)
			return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "limit",
			    "must be 1 to %ld", max);
	}
	snprintf(text, 16, "%ld", *n);
	return 0;
}

/* Record an allowed read before it is answered: 0, or the refusal in ei
 * (no record, no answer). */
static int
allowed(struct vault_server *vs, const struct vault_caller *who,
    const char *action, const char *subject_token, const char *dsr_id,
    long long count, struct pii_errinfo *ei)
{
	if (vault_dsr_audit(vs, who, action, subject_token, dsr_id, 1, 0, count,
	    NULL, 0, NULL) != 0)
		return pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; request refused");
	return 0;
}

/* Refuse, recording the refusal first. */
static void
deny(struct vault_server *vs, const struct vault_caller *who, const char *action,
    const char *subject_token, const char *dsr_id, struct pii_errinfo *ei,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	if (vault_dsr_audit(vs, who, action, subject_token, dsr_id, 0, ei->code, 0,
	    NULL, 0, NULL) != 0)
		pii_errinfo_set(ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; request refused");
	pii_http_reply_error(resp, req, ei);
}

static int
body_object(struct vault_server *vs, const struct pii_http_request *req,
    const char *const *keys, json_t **out, struct pii_errinfo *ei)
{
	if (req->body_len == 0) {
		*out = json_object();
		return *out != NULL ? 0 : PII_ERR_NOMEM;
	}
	return vault_parse_body(vs, req, keys, out, ei);
}

static void
rollback(struct vault_server *vs, PGconn *c)
{
	if (pii_pg_still_open(vs->db, c) && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
}

/* ---- POST /v1/dsr --------------------------------------------------------- */

static void
dsr_create(struct vault_server *vs, struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	static const char *const keys[] = { "kind", "subject", "subject_token",
		"received_at", "purposes", "requested_by", "verified",
		"deadline_days", NULL };
	static const char *const kinds[] = { "erasure", "export", "objection",
		"restriction", NULL };
	struct pii_errinfo ei;
	char token[VAULT_TOKEN_MAX], id[32], recv[21], due[21], p[PII_ERR_MAX_FIELD];
	const char *kind = NULL, *received = NULL, *requested_by = NULL;
	json_t *root = NULL, *jp = NULL;
	struct pii_buf plit;
	PGresult *res = NULL;
	PGconn *c = NULL;
	int64_t trecv, tdue;
	long long days = 0, strict = vs->cfg->dsr_deadline_days;
	int verified = 0, r;
	size_t i;

	pii_errinfo_clear(&ei);
	pii_buf_init(&plit, 4096);
	if ((r = body_object(vs, req, keys, &root, &ei)) != 0 ||
	    (r = pii_json_get_string(root, "kind", 1, 16, "", &kind, NULL, &ei)) != 0 ||
	    (r = pii_json_get_string(root, "received_at", 0, 40, "", &received,
	    NULL, &ei)) != 0 ||
	    (r = pii_json_get_string(root, "requested_by", 0, 256, "", &requested_by,
	    NULL, &ei)) != 0 ||
	    (r = pii_json_get_array(root, "purposes", 0, MAX_PURPOSES, "", &jp,
	    &ei)) != 0 ||
	    (r = pii_json_get_bool(root, "verified", 0, "", &verified, &ei)) != 0 ||
	    (r = pii_json_get_int(root, "deadline_days", 0, 1, 31, "", &days,
	    &ei)) != 0)
		goto fail;
	/* a stricter deadline than the vault's own (the proxy passes its
	 * policy's): the stricter of the two applies */
	if (days > 0 && (strict == 0 || days < strict))
		strict = days;
	for (i = 0; kinds[i] != NULL && strcmp(kinds[i], kind) != 0; i++)
		;
	if (kinds[i] == NULL) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "kind",
		    "must be erasure, export, objection or restriction");
		goto fail;
	}
	if (requested_by != NULL && !text_ok(requested_by, 256)) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "requested_by",
		    "must be 1-256 characters without control characters");
		goto fail;
	}
	/* purposes: required by an objection, meaningless elsewhere */
	if ((strcmp(kind, "objection") == 0) != (jp != NULL && json_array_size(jp) > 0)) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "purposes",
		    strcmp(kind, "objection") == 0 ?
		    "an objection names the purposes objected to" :
		    "only an objection names purposes");
		goto fail;
	}
	pii_buf_putc(&plit, '{');
	for (i = 0; jp != NULL && i < json_array_size(jp); i++) {
		const char *pu = json_string_value(json_array_get(jp, i));

		if (pu == NULL || !purpose_ok(pu)) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST,
			    pii_json_path_index(p, sizeof(p), "purposes", i),
			    "a purpose name: [a-z][a-z0-9_]{0,62}");
			goto fail;
		}
		pii_buf_array_elem(&plit, pu);
	}
	pii_buf_putc(&plit, '}');
	if (plit.failed) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	trecv = (int64_t)time(NULL);
	if (received != NULL) {
		if (vault_dsr_parse(received, &trecv) != 0) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "received_at",
			    "must be an RFC 3339 time (2026-01-31T09:00:00Z)");
			goto fail;
		}
		if (trecv > (int64_t)time(NULL) + 300) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "received_at",
			    "is in the future");
			goto fail;
		}
	}
	if ((r = vault_dsr_due(trecv, (int)strict, &tdue)) != 0) {
		pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "received_at", "out of range");
		goto fail;
	}
	vault_dsr_format(trecv, recv);
	vault_dsr_format(tdue, due);
	if ((r = vault_parse_subject(vs, root, token, &ei)) != 0)
		goto fail;
	if (vs->cfg->dsr_verify_by_another && who->on_behalf_of == NULL) {
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, "X-Piiv-On-Behalf-Of",
		    "this vault has two people handle a request "
		    "(dsr_verify_by_another): name the person who takes it in");
		deny(vs, who, "dsr_create", token, NULL, &ei, req, resp);
		goto out;
	}
	if (verified && vs->cfg->dsr_verify_by_another) {
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, "verified",
		    "this vault has another person verify a request than the one "
		    "who takes it in (dsr_verify_by_another): file it unverified");
		deny(vs, who, "dsr_create", token, NULL, &ei, req, resp);
		goto out;
	}
	if (strcmp(kind, "export") == 0 && vs->audit_read == NULL) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "this vault has no audit_read_database: an export carries the "
		    "subject's access history and cannot be made");
		goto fail;
	}
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	{
		const char *q[1] = { token };

		r = pii_pg_exec(vs->db, c, "SELECT id, status FROM subjects"
		    " WHERE subject_token = $1", 1, q, &res);
		if (r != 0)
			goto fail;
	}
	if (PQntuples(res) == 0) {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, "subject",
		    "no such subject: the vault holds nothing for it");
		deny(vs, who, "dsr_create", token, NULL, &ei, req, resp);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "erased") == 0) {
		pii_errinfo_set(&ei, PII_ERR_SUBJECT_ERASED, "subject",
		    "the subject has already been erased");
		deny(vs, who, "dsr_create", token, NULL, &ei, req, resp);
		goto out;
	}
	new_id(id);
	{
		const char *q[10] = { id, kind, PQgetvalue(res, 0, 0), token,
			plit.data, verified ? "verified" : "received", recv, due,
			requested_by, staff(who) };
		PGresult *ins = NULL;

		if ((r = pii_pg_exec(vs->db, c, "BEGIN", 0, NULL, NULL)) != 0)
			goto fail;
		r = pii_pg_exec(vs->db, c,
		    "INSERT INTO dsr_requests (id, kind, subject_id, subject_token,"
		    " purposes, status, received_at, due_at, requested_by, taken_by,"
		    " verified_by, verified_at)"
		    " VALUES ($1, $2, $3::bigint, $4, $5::text[], $6, $7::timestamptz,"
		    " $8::timestamptz, $9, $10,"
		    " CASE WHEN $6 = 'verified' THEN $10 END,"
		    " CASE WHEN $6 = 'verified' THEN now() END)"
		    " RETURNING " DSR_JSON, 10, q, &ins);
		if (r != 0)
			goto fail;
		if (vault_dsr_audit(vs, who, "dsr_create", token, id, 1, 0, 0, NULL,
		    0, NULL) != 0 || (verified && vault_dsr_audit(vs, who,
		    "dsr_verify", token, id, 1, 0, 0, NULL, 0, NULL) != 0)) {
			PQclear(ins);
			r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
			    "audit log unavailable; the request was not taken in");
			goto fail;
		}
		if ((r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0) {
			PQclear(ins);
			goto fail;
		}
		pii_log(PII_LOG_INFO, "event=dsr_received dsr=%s kind=%s status=%s "
		    "due_at=%s request_id=%s", id, kind, verified ? "verified" :
		    "received", due, req->request_id);
		reply_row_json(resp, 201, PQgetvalue(ins, 0, 0));
		PQclear(ins);
	}
	if (verified)
		vault_dsr_exec_wake(vs);
	goto out;
fail:
	if (c != NULL)
		rollback(vs, c);
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	PQclear(res);
	pii_buf_free(&plit);
	json_decref(root);
}

/* ---- GET /v1/dsr ------------------------------------------------------- */

static void
dsr_list(struct vault_server *vs, struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	const char *status = pii_http_query(req, "status");
	const char *due_before = pii_http_query(req, "due_before");
	const char *stok = pii_http_query(req, "subject_token");
	const char *after = pii_http_query(req, "after");
	const char *lim = pii_http_query(req, "limit");
	char cat[VAULT_CATEGORY_MAX], limbuf[16], dueb[21];
	enum vault_dsr_state st;
	struct pii_errinfo ei;
	PGresult *res = NULL;
	PGconn *c;
	json_t *list = NULL;
	long n = LIST_DEFAULT;
	int r;

	pii_errinfo_clear(&ei);
	if (status != NULL && strcmp(status, "open") != 0 &&
	    vault_dsr_state_parse(status, &st) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "status", "must be open, "
		    "received, verified, in_progress, completed or rejected");
		goto fail;
	}
	if (due_before != NULL) {
		int64_t t;

		if (vault_dsr_parse(due_before, &t) != 0) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "due_before",
			    "must be an RFC 3339 time");
			goto fail;
		}
		vault_dsr_format(t, dueb);
		due_before = dueb;
	}
	if (stok != NULL && (vault_token_category(stok, cat) != 0 ||
	    strcmp(cat, "subject") != 0)) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "subject_token",
		    "not a subject token (tok_subject_v<N>_...)");
		goto fail;
	}
	if (after != NULL && !id_ok(after, strlen(after))) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "after",
		    "not a request id");
		goto fail;
	}
	if ((r = query_limit(lim, LIST_MAX, &n, limbuf, &ei)) != 0)
		goto fail;
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	if (after != NULL) {
		const char *q[1] = { after };

		if ((r = pii_pg_exec(vs->db, c, "SELECT 1 FROM dsr_requests"
		    " WHERE id = $1", 1, q, &res)) != 0)
			goto fail;
		if (PQntuples(res) == 0) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "after",
			    "no such request");
			goto fail;
		}
		PQclear(res);
		res = NULL;
	}
	{
		const char *q[5] = { status, due_before, stok, after, limbuf };

		r = pii_pg_exec(vs->db, c,
		    "SELECT " DSR_JSON " FROM dsr_requests"
		    " WHERE ($1::text IS NULL OR status = $1"
		    "        OR ($1 = 'open' AND status IN " DSR_OPEN "))"
		    " AND ($2::timestamptz IS NULL OR due_at < $2::timestamptz)"
		    " AND ($3::text IS NULL OR subject_token = $3)"
		    " AND ($4::text IS NULL OR (due_at, id) >"
		    "      (SELECT due_at, id FROM dsr_requests WHERE id = $4))"
		    " ORDER BY due_at, id LIMIT $5::integer", 5, q, &res);
		if (r != 0)
			goto fail;
	}
	if ((r = vault_dsr_rows_json(res, &list)) != 0)
		goto fail;
	if ((r = allowed(vs, who, "dsr_list", stok, NULL, PQntuples(res), &ei)) != 0)
		goto fail;
	{
		json_t *out = json_pack("{s:o}", "requests", list);

		list = NULL;
		if (out != NULL && PQntuples(res) == (int)n) {
			json_t *last = json_array_get(json_object_get(out, "requests"),
			    (size_t)n - 1);

			json_object_set(out, "next_after", json_object_get(last, "id"));
		}
		pii_http_reply_json(resp, 200, out);
	}
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	json_decref(list);
	PQclear(res);
}

/* ---- one request: read, transitions ---------------------------------------- */

/* Load request id FOR UPDATE (in a transaction) or plainly; 0 with *res
 * holding one row: DSR_JSON, status, kind, subject_token, received_at
 * (epoch seconds), due_at (epoch seconds), extended_months, taken_by. */
static int
load_request(struct vault_server *vs, PGconn *c, const char *id, int lock,
    PGresult **res)
{
	const char *q[1] = { id };

	return pii_pg_exec(vs->db, c, lock ?
	    "SELECT " DSR_JSON ", status, kind, subject_token,"
	    " extract(epoch FROM received_at)::bigint,"
	    " extract(epoch FROM due_at)::bigint, extended_months, taken_by"
	    " FROM dsr_requests WHERE id = $1 FOR UPDATE" :
	    "SELECT " DSR_JSON ", status, kind, subject_token,"
	    " extract(epoch FROM received_at)::bigint,"
	    " extract(epoch FROM due_at)::bigint, extended_months, taken_by"
	    " FROM dsr_requests WHERE id = $1", 1, q, res);
}

static void
dsr_get(struct vault_server *vs, struct vault_caller *who, const char *id,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	struct pii_errinfo ei;
	PGresult *res = NULL;
	PGconn *c;
	int r;

	pii_errinfo_clear(&ei);
	if ((r = pii_pg_conn(vs->db, &c)) != 0 ||
	    (r = load_request(vs, c, id, 0, &res)) != 0)
		goto fail;
	if (PQntuples(res) == 0) {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL, "no such request");
		deny(vs, who, "dsr_read", NULL, id, &ei, req, resp);
		goto out;
	}
	if ((r = allowed(vs, who, "dsr_read", PQgetvalue(res, 0, 3), id, 0,
	    &ei)) != 0)
		goto fail;
	reply_row_json(resp, 200, PQgetvalue(res, 0, 0));
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	PQclear(res);
}

static void
dsr_transition(struct vault_server *vs, struct vault_caller *who, const char *id,
    enum vault_dsr_event ev, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	static const char *const verify_keys[] = { NULL };
	static const char *const extend_keys[] = { "months", "reason", NULL };
	static const char *const reject_keys[] = { "reason", NULL };
	const char *action = ev == VAULT_DSR_VERIFY ? "dsr_verify" :
	    ev == VAULT_DSR_EXTEND ? "dsr_extend" : "dsr_reject";
	struct pii_errinfo ei;
	enum vault_dsr_state from, to;
	const char *reason = NULL;
	long long months = 0;
	char newdue[21], mbuf[8];
	json_t *root = NULL;
	PGresult *res = NULL, *upd = NULL;
	PGconn *c = NULL;
	int r;

	pii_errinfo_clear(&ei);
	if ((r = body_object(vs, req, ev == VAULT_DSR_VERIFY ? verify_keys :
	    ev == VAULT_DSR_EXTEND ? extend_keys : reject_keys, &root, &ei)) != 0)
		goto fail;
	if (ev == VAULT_DSR_EXTEND &&
	    (r = pii_json_get_int(root, "months", 1, 1,
	    VAULT_DSR_MAX_EXTENSION_MONTHS, "", &months, &ei)) != 0)
		goto fail;
	if (ev != VAULT_DSR_VERIFY) {
		if ((r = pii_json_get_string(root, "reason", 1, MAX_REASON, "",
		    &reason, NULL, &ei)) != 0)
			goto fail;
		if (!text_ok(reason, MAX_REASON)) {
			r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "reason",
			    "must be 1-%d characters without control characters",
			    MAX_REASON);
			goto fail;
		}
	}
	if ((r = pii_pg_conn(vs->db, &c)) != 0 ||
	    (r = pii_pg_exec(vs->db, c, "BEGIN", 0, NULL, NULL)) != 0 ||
	    (r = load_request(vs, c, id, 1, &res)) != 0)
		goto fail;
	if (PQntuples(res) == 0) {
		rollback(vs, c);
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL, "no such request");
		deny(vs, who, action, NULL, id, &ei, req, resp);
		goto out;
	}
	if (vault_dsr_state_parse(PQgetvalue(res, 0, 1), &from) != 0) {
		r = PII_ERR_INTERNAL;
		goto fail;
	}
	if (vault_dsr_next(from, ev, &to) != 0) {
		rollback(vs, c);
		pii_errinfo_set(&ei, PII_ERR_CONFLICT, "status",
		    "the request is %s: it cannot be %s", vault_dsr_state_name(from),
		    ev == VAULT_DSR_VERIFY ? "verified" : ev == VAULT_DSR_EXTEND ?
		    "extended" : "rejected");
		deny(vs, who, action, PQgetvalue(res, 0, 3), id, &ei, req, resp);
		goto out;
	}
	/* four eyes: whoever took the request in does not verify it */
	if (ev == VAULT_DSR_VERIFY && vs->cfg->dsr_verify_by_another &&
	    (who->on_behalf_of == NULL ||
	    strcmp(PQgetvalue(res, 0, 7), who->on_behalf_of) == 0)) {
		rollback(vs, c);
		pii_errinfo_set(&ei, PII_ERR_FORBIDDEN, NULL,
		    "this vault has another person verify a request than the one "
		    "who took it in (dsr_verify_by_another)");
		deny(vs, who, action, PQgetvalue(res, 0, 3), id, &ei, req, resp);
		goto out;
	}
	if (ev == VAULT_DSR_EXTEND) {
		int64_t due2;

		r = vault_dsr_extend(strtoll(PQgetvalue(res, 0, 4), NULL, 10),
		    strtoll(PQgetvalue(res, 0, 5), NULL, 10),
		    (int)strtol(PQgetvalue(res, 0, 6), NULL, 10), (int)months, (int64_t)time(NULL),
		    &due2);
		if (r != 0) {
			rollback(vs, c);
			pii_errinfo_set(&ei, r, r == PII_ERR_CONFLICT ? "due_at" : "months",
			    r == PII_ERR_CONFLICT ? "the deadline has passed: an "
			    "extension must be decided before it" :
			    "extensions add at most %d months in all",
			    VAULT_DSR_MAX_EXTENSION_MONTHS);
			deny(vs, who, action, PQgetvalue(res, 0, 3), id, &ei, req, resp);
			goto out;
		}
		vault_dsr_format(due2, newdue);
	}
	snprintf(mbuf, sizeof(mbuf), "%lld", months);
	{
		const char *q[5] = { id, vault_dsr_state_name(to), staff(who), reason,
			ev == VAULT_DSR_EXTEND ? newdue : mbuf };

		if (ev == VAULT_DSR_VERIFY)
			r = pii_pg_exec(vs->db, c,
			    "UPDATE dsr_requests SET status = $2, verified_by = $3,"
			    " verified_at = now() WHERE id = $1 RETURNING " DSR_JSON,
			    3, q, &upd);
		else if (ev == VAULT_DSR_REJECT)
			r = pii_pg_exec(vs->db, c,
			    "UPDATE dsr_requests SET status = $2, rejected_by = $3,"
			    " rejected_reason = $4 WHERE id = $1 RETURNING " DSR_JSON,
			    4, q, &upd);
		else {
			q[1] = mbuf;
			r = pii_pg_exec(vs->db, c,
			    "UPDATE dsr_requests SET due_at = $5::timestamptz,"
			    " extended_months = extended_months + $2::integer,"
			    " extension_reason = coalesce(extension_reason || E'\\n', '')"
			    "   || $3 || ': ' || $4,"
			    " overdue_notified_at = NULL"
			    " WHERE id = $1 RETURNING " DSR_JSON, 5, q, &upd);
		}
		if (r != 0)
			goto fail;
	}
	if (vault_dsr_audit(vs, who, action, PQgetvalue(res, 0, 3), id, 1, 0,
	    months, NULL, 0, NULL) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; nothing was changed");
		goto fail;
	}
	if ((r = pii_pg_exec(vs->db, c, "COMMIT", 0, NULL, NULL)) != 0)
		goto fail;
	pii_log(PII_LOG_INFO, "event=%s dsr=%s status=%s request_id=%s", action, id,
	    vault_dsr_state_name(to), req->request_id);
	reply_row_json(resp, 200, PQgetvalue(upd, 0, 0));
	if (ev == VAULT_DSR_VERIFY)
		vault_dsr_exec_wake(vs);
	goto out;
fail:
	if (c != NULL)
		rollback(vs, c);
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	PQclear(upd);
	PQclear(res);
	json_decref(root);
}

/* ---- GET /v1/dsr/{id}/export ---------------------------------------------- */

static void
dsr_export(struct vault_server *vs, struct vault_caller *who, const char *id,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	const char *format = pii_http_query(req, "format");
	struct pii_errinfo ei;
	struct vault_dek *dek = NULL;
	json_t *text = NULL, *bundle = NULL;
	PGresult *res = NULL;
	PGconn *c;
	char *html = NULL;
	size_t hl = 0;
	const char *q[1] = { id };
	int r, want_html;

	pii_errinfo_clear(&ei);
	if (format != NULL && strcmp(format, "json") != 0 && strcmp(format, "html") != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "format",
		    "must be json or html");
		goto fail;
	}
	want_html = format != NULL && strcmp(format, "html") == 0;
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	r = pii_pg_exec(vs->db, c,
	    "SELECT d.kind, d.status, d.subject_token, s.status,"
	    " encode(d.export_sealed, 'hex'), k.kek_epoch, encode(k.wrapped_dek, 'hex')"
	    " FROM dsr_requests d JOIN subjects s ON s.id = d.subject_id"
	    " LEFT JOIN subject_keys k ON k.subject_id = d.subject_id"
	    " WHERE d.id = $1", 1, q, &res);
	if (r != 0)
		goto fail;
	if (PQntuples(res) == 0) {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL, "no such request");
		deny(vs, who, "export_fetch", NULL, id, &ei, req, resp);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "export") != 0) {
		pii_errinfo_set(&ei, PII_ERR_CONFLICT, NULL,
		    "this request is a %s, not an export", PQgetvalue(res, 0, 0));
		deny(vs, who, "export_fetch", PQgetvalue(res, 0, 2), id, &ei, req, resp);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 3), "erased") == 0) {
		pii_errinfo_set(&ei, PII_ERR_SUBJECT_ERASED, NULL,
		    "the subject has been erased since; so has the export");
		deny(vs, who, "export_fetch", PQgetvalue(res, 0, 2), id, &ei, req, resp);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "completed") != 0 || PQgetisnull(res, 0, 4)) {
		pii_errinfo_set(&ei, PII_ERR_CONFLICT, "status",
		    "the export is not ready: the request is %s", PQgetvalue(res, 0, 1));
		deny(vs, who, "export_fetch", PQgetvalue(res, 0, 2), id, &ei, req, resp);
		goto out;
	}
	if (PQgetisnull(res, 0, 6)) {
		r = PII_ERR_CRYPTO;
		goto fail;
	}
	if ((r = vault_unwrap_hex(vs, PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 6),
	    PQgetvalue(res, 0, 5), &dek)) != 0 ||
	    (r = vault_open_hex(dek, PQgetvalue(res, 0, 2), "dsr_export", id,
	    PQgetvalue(res, 0, 4), &text)) != 0)
		goto fail;
	if (want_html) {
		bundle = json_loads(json_string_value(text), JSON_ALLOW_NUL, NULL);
		if (bundle == NULL) {
			r = PII_ERR_INTERNAL;
			goto fail;
		}
		if ((r = vault_export_html(bundle, &html, &hl, &ei)) != 0) {
			pii_log(PII_LOG_ERROR, "event=export_render_failed dsr=%s "
			    "reason=%s", id, pii_err_api_code(r));
			pii_errinfo_clear(&ei);
			r = r == PII_ERR_TOO_LARGE ? pii_errinfo_set(&ei, r, "format",
			    "the export is too large for a page; fetch the JSON bundle") :
			    pii_errinfo_set(&ei, PII_ERR_INTERNAL, NULL,
			    "internal error (see the vault log)");
			goto fail;
		}
	}
	if (vault_dsr_audit(vs, who, "export_fetch", PQgetvalue(res, 0, 2), id, 1, 0,
	    0, NULL, 0, NULL) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "audit log unavailable; nothing is sent");
		goto fail;
	}
	if (want_html) {
		pii_http_reply_text(resp, 200, html, hl, "text/html; charset=utf-8");
		resp->csp = "default-src 'none'; style-src 'unsafe-inline'";
		html = NULL;
	} else {
		size_t tl = strlen(json_string_value(text));
		char *copy = malloc(tl + 1);

		if (copy == NULL) {
			r = PII_ERR_NOMEM;
			goto fail;
		}
		memcpy(copy, json_string_value(text), tl + 1);
		pii_http_reply_text(resp, 200, copy, tl, "application/json");
	}
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	if (html != NULL) {
		sodium_memzero(html, hl);
		free(html);
	}
	vault_dek_free(dek);
	json_decref(text);
	json_decref(bundle);
	PQclear(res);
}

/* ---- GET /v1/dsr/{id}/receipt --------------------------------------------- */

static void
dsr_receipt(struct vault_server *vs, struct vault_caller *who, const char *id,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	struct pii_errinfo ei;
	PGresult *res = NULL;
	PGconn *c, *ac;
	char *proof = NULL, *stmt = NULL;
	char key_id[AUDIT_KEY_ID_HEX + 1];
	unsigned char sig[AUDIT_SIG_BYTES];
	char sigb64[sodium_base64_ENCODED_LEN(AUDIT_SIG_BYTES,
	    sodium_base64_VARIANT_ORIGINAL)];
	json_t *st = NULL, *jproof = NULL, *out = NULL;
	size_t sl = 0;
	const char *q[1] = { id };
	int r;

	pii_errinfo_clear(&ei);
	if (vs->audit_read == NULL) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "this vault has no audit_read_database: receipts carry an "
		    "audit inclusion proof and cannot be made");
		goto fail;
	}
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	r = pii_pg_exec(vs->db, c,
	    "SELECT d.kind, d.status, d.subject_token, " DSR_RFC3339("d.received_at") ","
	    " " DSR_RFC3339("d.due_at") ", " DSR_RFC3339("d.completed_at") ","
	    " d.kek_epoch, d.values_erased, d.audit_origin, d.audit_seq,"
	    " (SELECT e.id FROM erasure_events e WHERE e.dsr_id = d.id),"
	    " d.receipt_proof"
	    " FROM dsr_requests d WHERE d.id = $1", 1, q, &res);
	if (r != 0)
		goto fail;
	if (PQntuples(res) == 0) {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL, "no such request");
		deny(vs, who, "receipt", NULL, id, &ei, req, resp);
		goto out;
	}
	if (strcmp(PQgetvalue(res, 0, 0), "erasure") != 0 ||
	    strcmp(PQgetvalue(res, 0, 1), "completed") != 0 || PQgetisnull(res, 0, 9)) {
		pii_errinfo_set(&ei, PII_ERR_CONFLICT, "status", strcmp(PQgetvalue(res,
		    0, 0), "erasure") != 0 ? "only an erasure has a receipt" :
		    "the erasure is not completed: the request is %s",
		    PQgetvalue(res, 0, 1));
		deny(vs, who, "receipt", PQgetvalue(res, 0, 2), id, &ei, req, resp);
		goto out;
	}
	/* the proof of the erasure's own audit record: built once, against the
	 * first checkpoint that covers it, and kept with the request */
	if (!PQgetisnull(res, 0, 11)) {
		if ((proof = strdup(PQgetvalue(res, 0, 11))) == NULL) {
			r = PII_ERR_NOMEM;
			goto fail;
		}
	} else if ((r = pii_pg_conn(vs->audit_read, &ac)) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "the audit database is unavailable; retry later");
		goto fail;
	}
	if (proof == NULL && (r = audit_proof_build_against(ac,
	    PQgetvalue(res, 0, 8), strtoull(PQgetvalue(res, 0, 9), NULL, 10), 1,
	    &proof, &ei)) == 0) {
		const char *k[2] = { id, proof };

		/* keeping it is an optimization: a failure only means the
		 * next request builds it again */
		if (pii_pg_exec(vs->db, c, "UPDATE dsr_requests SET receipt_proof = $2"
		    " WHERE id = $1 AND receipt_proof IS NULL", 2, k, NULL) != 0)
			pii_log(PII_LOG_WARN, "event=receipt_proof_not_kept dsr=%s", id);
	}
	if (r != 0) {
		if (r == PII_ERR_NOT_FOUND) {
			pii_errinfo_clear(&ei);
			r = pii_errinfo_set(&ei, PII_ERR_CONFLICT, NULL,
			    "no signed checkpoint covers the erasure's audit record "
			    "yet; retry within %lld seconds",
			    vs->cfg->audit_checkpoint_seconds);
		} else {
			pii_log(PII_LOG_ERROR, "event=receipt_proof_failed dsr=%s "
			    "detail=\"%s\"", id, ei.message);
			pii_errinfo_clear(&ei);
			r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
			    "the audit inclusion proof could not be built "
			    "(see the vault log)");
		}
		goto fail;
	}
	jproof = json_loads(proof, 0, NULL);
	st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I}",
	    "format", "piivault-erasure-receipt v1",
	    "request_id", id,
	    "kind", "erasure",
	    "subject_token", PQgetvalue(res, 0, 2),
	    "received_at", PQgetvalue(res, 0, 3),
	    "due_at", PQgetvalue(res, 0, 4),
	    "completed_at", PQgetvalue(res, 0, 5),
	    "kek_epoch", (json_int_t)strtoll(PQgetvalue(res, 0, 6), NULL, 10),
	    "values_erased", (json_int_t)strtoll(PQgetvalue(res, 0, 7), NULL, 10),
	    "audit_origin", PQgetvalue(res, 0, 8),
	    "audit_seq", (json_int_t)strtoll(PQgetvalue(res, 0, 9), NULL, 10));
	if (jproof == NULL || st == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	if (!PQgetisnull(res, 0, 10))
		json_object_set_new(st, "erasure_event_id",
		    json_integer(strtoll(PQgetvalue(res, 0, 10), NULL, 10)));
	stmt = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	if (stmt == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	sl = strlen(stmt);
	if ((r = audit_log_sign_statement(vs->audit, "erasure-receipt v1", stmt, sl,
	    key_id, sig)) != 0) {
		r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
		    "the receipt could not be signed");
		goto fail;
	}
	sodium_bin2base64(sigb64, sizeof(sigb64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	out = json_pack("{s:s, s:s, s:s, s:s, s:o}", "format",
	    "piivault-erasure-receipt v1", "statement", stmt, "key_id", key_id,
	    "signature", sigb64, "proof", jproof);
	jproof = NULL;
	if (out == NULL) {
		r = PII_ERR_NOMEM;
		goto fail;
	}
	if ((r = allowed(vs, who, "receipt", PQgetvalue(res, 0, 2), id, 0,
	    &ei)) != 0)
		goto fail;
	pii_http_reply_json(resp, 200, out);
	out = NULL;
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	json_decref(out);
	json_decref(jproof);
	json_decref(st);
	free(stmt);
	free(proof);
	PQclear(res);
}

/* ---- routing under /v1/dsr -------------------------------------------------- */

void
vault_dsr_handle(struct vault_server *vs, const struct vault_caller *who_in,
    const char *rest, const struct pii_http_request *req,
    struct pii_http_response *resp)
{
	struct vault_caller who = *who_in;
	struct pii_errinfo ei;
	char id[DSR_ID_MAX + 1];
	const char *slash, *sub;
	int post = strcmp(req->method, "POST") == 0;
	size_t n;

	pii_errinfo_clear(&ei);
	if (vault_caller_headers(req, &who, &ei) != 0) {
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	if (rest[0] == '\0') {
		if (post)
			dsr_create(vs, &who, req, resp);
		else
			dsr_list(vs, &who, req, resp);
		return;
	}
	/* rest is "/{id}" or "/{id}/{action}" */
	rest++;
	slash = strchr(rest, '/');
	n = slash != NULL ? (size_t)(slash - rest) : strlen(rest);
	sub = slash != NULL ? slash + 1 : "";
	if (!id_ok(rest, n) || strchr(sub, '/') != NULL ||
	    (slash != NULL && sub[0] == '\0')) {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL, "no such endpoint");
		pii_http_reply_error(resp, req, &ei);
		return;
	}
	memcpy(id, rest, n);
	id[n] = '\0';
	if (!post && sub[0] == '\0')
		dsr_get(vs, &who, id, req, resp);
	else if (!post && strcmp(sub, "export") == 0)
		dsr_export(vs, &who, id, req, resp);
	else if (!post && strcmp(sub, "receipt") == 0)
		dsr_receipt(vs, &who, id, req, resp);
	else if (post && strcmp(sub, "verify") == 0)
		dsr_transition(vs, &who, id, VAULT_DSR_VERIFY, req, resp);
	else if (post && strcmp(sub, "extend") == 0)
		dsr_transition(vs, &who, id, VAULT_DSR_EXTEND, req, resp);
	else if (post && strcmp(sub, "reject") == 0)
		dsr_transition(vs, &who, id, VAULT_DSR_REJECT, req, resp);
	else if (sub[0] == '\0' || strcmp(sub, "export") == 0 ||
	    strcmp(sub, "receipt") == 0 || strcmp(sub, "verify") == 0 ||
	    strcmp(sub, "extend") == 0 || strcmp(sub, "reject") == 0) {
		pii_errinfo_set(&ei, PII_ERR_METHOD, NULL,
		    "method not allowed for this endpoint");
		pii_http_reply_error(resp, req, &ei);
	} else {
		pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, NULL, "no such endpoint "
		    "(/v1/dsr/{id}, /verify, /extend, /reject, /export, /receipt)");
		pii_http_reply_error(resp, req, &ei);
	}
}

/* ---- GET /v1/objections?purpose=P ----------------------------------------- */

void
vault_objections_list(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	const char *purpose = pii_http_query(req, "purpose");
	struct pii_errinfo ei;
	PGresult *res = NULL;
	PGconn *c;
	json_t *list = NULL;
	int r, i;

	pii_errinfo_clear(&ei);
	if (purpose == NULL || !purpose_ok(purpose)) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "purpose",
		    "give ?purpose=P, a purpose name ([a-z][a-z0-9_]{0,62})");
		goto fail;
	}
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	{
		const char *q[1] = { purpose };

		/* '*' is a restriction: the subject objects to every purpose */
		r = pii_pg_exec(vs->db, c,
		    "SELECT DISTINCT s.subject_token FROM objections o"
		    " JOIN subjects s ON s.id = o.subject_id"
		    " WHERE o.purpose IN ($1, '*') AND s.status = 'active'"
		    " ORDER BY 1", 1, q, &res);
		if (r != 0)
			goto fail;
	}
	list = json_array();
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(list, json_string(PQgetvalue(res, i, 0)));
	{
		struct vault_caller w = *who;

		w.purpose = purpose;
		if ((r = allowed(vs, &w, "objections", NULL, NULL,
		    PQntuples(res), &ei)) != 0)
			goto fail;
	}
	pii_http_reply_json(resp, 200, json_pack("{s:s, s:o}", "purpose", purpose,
	    "subject_tokens", list));
	list = NULL;
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	json_decref(list);
	PQclear(res);
}

/* ---- the erasure outbox ----------------------------------------------------- */

/* GET /v1/erasures?after=ID&limit=N: events after ID, or after what this
 * consumer (the calling identity) last acknowledged. */
void
vault_erasures_list(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	const char *after = pii_http_query(req, "after");
	const char *lim = pii_http_query(req, "limit");
	struct pii_errinfo ei;
	PGresult *res = NULL;
	PGconn *c;
	json_t *list = NULL;
	char limbuf[16];
	long n = 100;
	int r;

	pii_errinfo_clear(&ei);
	if (after != NULL && (after[0] == '\0' || strlen(after) > 18 ||
	    strspn(after, "0123456789") != strlen(after))) {
		r = pii_errinfo_set(&ei, PII_ERR_BAD_REQUEST, "after",
		    "must be an event id (a whole number)");
		goto fail;
	}
	if ((r = query_limit(lim, EVENTS_MAX, &n, limbuf, &ei)) != 0)
		goto fail;
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	{
		const char *q[3] = { after, who->id->name, limbuf };

		r = pii_pg_exec(vs->db, c,
		    "SELECT json_build_object('id', id, 'request_id', dsr_id,"
		    " 'subject_token', subject_token, 'tokens', tokens,"
		    " 'shared_tokens', shared_tokens,"
		    " 'erased_at', " DSR_RFC3339("erased_at") ")::text"
		    " FROM erasure_events WHERE id > coalesce($1::bigint,"
		    "  (SELECT acked_id FROM erasure_acks WHERE consumer = $2), 0)"
		    " ORDER BY id LIMIT $3::integer", 3, q, &res);
		if (r != 0)
			goto fail;
	}
	if ((r = vault_dsr_rows_json(res, &list)) != 0)
		goto fail;
	if ((r = allowed(vs, who, "erasures", NULL, NULL, PQntuples(res), &ei)) != 0)
		goto fail;
	pii_http_reply_json(resp, 200, json_pack("{s:o}", "events", list));
	list = NULL;
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	json_decref(list);
	PQclear(res);
}

/* POST /v1/erasures/ack {"id": N}: the calling identity has purged every
 * event up to N.  Acknowledgements only move forward. */
void
vault_erasures_ack(struct vault_server *vs, const struct vault_caller *who,
    const struct pii_http_request *req, struct pii_http_response *resp)
{
	static const char *const keys[] = { "id", NULL };
	struct pii_errinfo ei;
	json_t *root = NULL;
	PGresult *res = NULL;
	PGconn *c;
	long long id = 0;
	char idbuf[24];
	int r;

	pii_errinfo_clear(&ei);
	if ((r = vault_parse_body(vs, req, keys, &root, &ei)) != 0 ||
	    (r = pii_json_get_int(root, "id", 1, 1, (long long)1 << 62, "", &id,
	    &ei)) != 0)
		goto fail;
	snprintf(idbuf, sizeof(idbuf), "%lld", id);
	if ((r = pii_pg_conn(vs->db, &c)) != 0)
		goto fail;
	{
		const char *q[2] = { who->id->name, idbuf };

		r = pii_pg_exec(vs->db, c,
		    "SELECT EXISTS (SELECT 1 FROM erasure_events WHERE id = $2::bigint),"
		    " (SELECT acked_id FROM erasure_acks WHERE consumer = $1)",
		    2, q, &res);
		if (r != 0)
			goto fail;
		if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
			r = pii_errinfo_set(&ei, PII_ERR_NOT_FOUND, "id",
			    "no erasure event has this id");
			goto fail;
		}
		if (vault_dsr_audit(vs, who, "erasures_ack", NULL, NULL, 1, 0, id,
		    NULL, 0, NULL) != 0) {
			r = pii_errinfo_set(&ei, PII_ERR_AUDIT_UNAVAILABLE, NULL,
			    "audit log unavailable; nothing was recorded");
			goto fail;
		}
		PQclear(res);
		res = NULL;
		r = pii_pg_exec(vs->db, c,
		    "INSERT INTO erasure_acks (consumer, acked_id, acked_at)"
		    " VALUES ($1, $2::bigint, now()) ON CONFLICT (consumer) DO UPDATE"
		    " SET acked_id = greatest(erasure_acks.acked_id, EXCLUDED.acked_id),"
		    " acked_at = now() RETURNING acked_id", 2, q, &res);
		if (r != 0)
			goto fail;
	}
	pii_http_reply_json(resp, 200, json_pack("{s:s, s:I}", "consumer",
	    who->id->name, "acked_id", (json_int_t)strtoll(PQgetvalue(res, 0, 0),
	    NULL, 10)));
	goto out;
fail:
	vault_reply_fail(vs, req, resp, r, &ei);
out:
	PQclear(res);
	json_decref(root);
}
