/*
 * tag_run.c - the tagger's pipeline: read rows, check, tokenize, write.
 *
 * The main thread reads records (tag_csv / tag_jsonl) and copies each into
 * the current batch.  Columns the schema does not name are scored by the
 * detectors on every row.  Nothing is sent and nothing is written until the
 * first `sample` rows have been read and no untagged column looks like
 * personal data; then the filled batches go, in order, to a queue that
 * `parallel` sender threads serve, each with its own keep-alive connection
 * to the vault.  The main thread writes batches back in input order as they
 * come back, so output order is input order and at most a ring of batches is
 * in memory, whatever the input's size.  At the end of input the untagged
 * columns are judged once more over every row.
 *
 * A batch holds the rows' bytes (PII: wiped when reused or freed), the
 * request body (PII: wiped), and the tokens from the answer.  A row becomes
 * one vault record per "slot": when two tagged columns share a category
 * (email and backup_email), the second goes in a second record for the same
 * subject, since a record has one field per category.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>
#include <sodium.h>

#include "../common/buf.h"
#include "../common/err.h"
#include "../common/json_util.h"
#include "tag_answer.h"
#include "tag_detect.h"
#include "tag_io.h"
#include "tag_run.h"
#include "tag_schema.h"
#include "tag_util.h"
#include "tag_vault.h"

#define TOKMAX 96                  /* a token, NUL included */
#define MAX_JSONL_COLUMNS 4096     /* distinct top-level keys */
#define BODY_MAX (512u << 20)
#define DATA_MAX (1024u << 20)

enum { B_FREE, B_FILLING, B_PENDING, B_QUEUED, B_DONE };
enum { DROP_NONE, DROP_ERASED, DROP_OBJECTION };
enum { CELL_NULL, CELL_VALUE };

struct rcol {
	char *name;
	enum tag_role role;
	const char *category;        /* borrowed from the schema */
	int slot;
	int need;                    /* index among needed columns, -1 */
	int hdr;                     /* CSV: index in the header */
	struct tag_score score;      /* PASS columns */
	unsigned long long tokenized, empty;
};

struct brow {
	size_t cell;                 /* index of the row's first cell */
	size_t off, len;             /* JSONL: the raw line in data */
	unsigned long long line;
	unsigned char crlf, drop;
};

struct bcell {
	size_t off, len;             /* the value (CSV: the field) in data */
	size_t span_off, span_len;   /* JSONL: the value's raw text in the line */
	unsigned char kind, present;
};

struct batch {
	int state;
	size_t nrows, caprows;
	struct brow *rows;
	size_t ncells, capcells;
	struct bcell *cells;
	struct pii_buf data;
	struct pii_buf body;
	size_t nrecs, caprecs;
	uint32_t *rec_row;
	uint16_t *rec_slot;
	char *tok;                   /* nrows * nneed * TOKMAX */
	size_t captok;
	char id[80];
	int rc;
	struct piitag_error err;
	unsigned long long stored, existing, retries;
	struct batch *qnext;
};

struct run {
	const struct piitag_run_opts *o;
	const struct piitag_schema *s;
	struct piitag_report *rep;
	struct piitag_error *err;
	FILE *out;

	struct rcol *cols;
	size_t ncols, capcols;
	int *hash;                   /* JSONL: open addressing over cols, -1 empty */
	size_t hashcap;
	int *need;                   /* column index of each needed column */
	size_t nneed;                /* need[0] is the subject when there is one */
	int *jmap;                   /* JSONL: member -> column, per row */

	/* CSV header, kept to write it before the first batch */
	struct pii_buf header;
	int header_written;

	struct batch *ring;
	size_t nring, head, used;
	struct batch *cur;
	int checked;
	unsigned long long seq;

	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct batch *qhead, *qtail;
	volatile int stop;
	int nthreads, nstarted;
	pthread_t *threads;
	struct tag_vault **vaults;
	struct pii_buf outbuf;
};

#define rfail tag_error_set

int
piitag_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 :
	    PII_ERR_INTERNAL;
}

void
piitag_run_opts_init(struct piitag_run_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->format = PIITAG_CSV;
	o->batch_rows = 1000;
	o->parallel = 2;
	o->sample = 1000;
	o->threshold = 0.3;
	o->max_record = TAG_IO_DEFAULT_MAX_RECORD;
	o->vault.timeout_ms = 60000;
	o->vault.retries = 6;
	o->vault.retry_ms = 200;
}

void
piitag_report_free(struct piitag_report *rep)
{
	if (rep == NULL)
		return;
	free(rep->columns);
	free(rep->findings);
	rep->columns = NULL;
	rep->findings = NULL;
	rep->ncolumns = rep->nfindings = 0;
}

void
tag_now_rfc3339(char *buf, size_t cap)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- columns ------------------------------------------------------------------ */

static uint32_t
name_hash(const char *s, size_t n)
{
	return (uint32_t)tag_hash(s, n);
}

static int
col_lookup(struct run *R, const char *name, size_t n)
{
	size_t i = name_hash(name, n) & (R->hashcap - 1);

	for (;; i = (i + 1) & (R->hashcap - 1)) {
		int c = R->hash[i];

		if (c < 0)
			return -1;
		if (strlen(R->cols[c].name) == n && memcmp(R->cols[c].name, name, n) == 0)
			return c;
	}
}

/* Add a column (PASS unless the schema names it).  Its index, or a
 * negative code. */
static int
col_add(struct run *R, const char *name, size_t n)
{
	struct rcol *c;
	int si;

	/* the array is made at its full size and never moves: sender
	 * threads read the needed columns while JSON Lines input adds new
	 * keys */
	if (R->ncols >= R->capcols)
		return PII_ERR_TOO_LARGE;
	c = &R->cols[R->ncols];
	memset(c, 0, sizeof(*c));
	if ((c->name = malloc(n + 1)) == NULL)
		return PII_ERR_NOMEM;
	memcpy(c->name, name, n);
	c->name[n] = '\0';
	c->role = TAG_ROLE_PASS;
	c->need = -1;
	c->hdr = -1;
	si = tag_schema_find(R->s, c->name);
	if (si >= 0) {
		c->role = R->s->cols[si].role;
		c->category = R->s->cols[si].category;
		c->slot = R->s->cols[si].slot;
	}
	if (R->hash != NULL) {
		size_t i = name_hash(name, n) & (R->hashcap - 1);

		while (R->hash[i] >= 0)
			i = (i + 1) & (R->hashcap - 1);
		R->hash[i] = (int)R->ncols;
	}
	return (int)R->ncols++;
}

/* After the columns of the schema are known: the needed list (subject
 * first, then tagged columns in schema order). */
static int
setup_need(struct run *R)
{
	size_t i, k = 0;

	if ((R->need = calloc(R->s->ncols + 1, sizeof(*R->need))) == NULL)
		return PII_ERR_NOMEM;
	if (R->s->subject >= 0)
		R->need[k++] = -2;   /* filled below */
	for (i = 0; i < R->s->ncols; i++)
		if (R->s->cols[i].role == TAG_ROLE_TAG)
			R->need[k++] = -3 - (int)i;
	R->nneed = k;
	for (i = 0; i < k; i++) {
		const char *name = R->need[i] == -2 ? R->s->cols[R->s->subject].name :
		    R->s->cols[-3 - R->need[i]].name;
		int c = -1;
		size_t j;

		for (j = 0; j < R->ncols; j++)
			if (strcmp(R->cols[j].name, name) == 0) {
				c = (int)j;
				break;
			}
		if (c < 0)
			return PII_ERR_INTERNAL;
		R->need[i] = c;
		R->cols[c].need = (int)i;
	}
	return 0;
}

/* ---- batches ------------------------------------------------------------------ */

static void
batch_reset(struct batch *b)
{
	b->nrows = b->ncells = b->nrecs = 0;
	pii_buf_reset(&b->data);
	pii_buf_reset(&b->body);
	b->rc = 0;
	memset(&b->err, 0, sizeof(b->err));
	b->stored = b->existing = b->retries = 0;
	b->qnext = NULL;
}

static void
batch_free(struct batch *b)
{
	pii_buf_free(&b->data);
	pii_buf_free(&b->body);
	free(b->rows);
	free(b->cells);
	free(b->rec_row);
	free(b->rec_slot);
	free(b->tok);
}

static int
grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t nc;
	void *np;

	if (need <= *cap)
		return 0;
	nc = *cap ? *cap : 64;
	while (nc < need)
		nc *= 2;
	if ((np = realloc(*p, nc * elem)) == NULL)
		return PII_ERR_NOMEM;
	*p = np;
	*cap = nc;
	return 0;
}

static struct brow *
batch_add_row(struct batch *b, size_t ncells)
{
	struct brow *row;

	if (grow((void **)&b->rows, &b->caprows, b->nrows + 1, sizeof(*b->rows)) != 0 ||
	    grow((void **)&b->cells, &b->capcells, b->ncells + ncells,
	    sizeof(*b->cells)) != 0)
		return NULL;
	row = &b->rows[b->nrows++];
	memset(row, 0, sizeof(*row));
	memset(&b->cells[b->ncells], 0, ncells * sizeof(*b->cells));
	row->cell = b->ncells;
	b->ncells += ncells;
	return row;
}

static size_t
data_put(struct batch *b, const char *p, size_t n)
{
	size_t off = b->data.len;

	pii_buf_append(&b->data, p, n);
	pii_buf_putc(&b->data, '\0');
	return off;
}

/* ---- the request and the answer ---------------------------------------------- */

static const char *
row_cell_text(const struct run *R, const struct batch *b, size_t r, size_t k,
    size_t *len, int *present)
{
	const struct brow *row = &b->rows[r];
	const struct bcell *c;

	if (R->o->format == PIITAG_CSV)
		c = &b->cells[row->cell + (size_t)R->cols[R->need[k]].hdr];
	else
		c = &b->cells[row->cell + k];
	*present = c->kind == CELL_VALUE;
	*len = c->len;
	return b->data.data + c->off;
}

static int
build_body(const struct run *R, struct batch *b)
{
	const struct piitag_schema *s = R->s;
	size_t r, k;
	int slot;

	pii_buf_reset(&b->body);
	pii_buf_puts(&b->body, "{\"source\":");
	pii_buf_json_str(&b->body, s->dataset);
	pii_buf_puts(&b->body, ",\"batch_id\":");
	pii_buf_json_str(&b->body, b->id);
	if (R->o->purpose != NULL) {
		pii_buf_puts(&b->body, ",\"purpose\":");
		pii_buf_json_str(&b->body, R->o->purpose);
	}
	pii_buf_puts(&b->body, ",\"records\":[");
	b->nrecs = 0;
	if (grow((void **)&b->rec_row, &b->caprecs, b->nrows *
	    (size_t)(s->nslots > 0 ? s->nslots : 1) + 1, sizeof(*b->rec_row)) != 0)
		return PII_ERR_NOMEM;
	free(b->rec_slot);
	if ((b->rec_slot = malloc(b->caprecs * sizeof(*b->rec_slot))) == NULL)
		return PII_ERR_NOMEM;
	for (r = 0; r < b->nrows; r++) {
		size_t slen;
		int present;
		const char *subj = row_cell_text(R, b, r, 0, &slen, &present);

		for (slot = 0; slot < (s->nslots > 0 ? s->nslots : 1); slot++) {
			int any = 0, first = 1;

			if (slot > 0) {
				/* a second record only when its slot has a value */
				for (k = 1; k < R->nneed; k++) {
					size_t vl;
					int pr;

					if (R->cols[R->need[k]].slot != slot)
						continue;
					(void)row_cell_text(R, b, r, k, &vl, &pr);
					any |= pr;
				}
				if (!any)
					continue;
			}
			if (b->nrecs > 0)
				pii_buf_putc(&b->body, ',');
			b->rec_row[b->nrecs] = (uint32_t)r;
			b->rec_slot[b->nrecs] = (uint16_t)slot;
			b->nrecs++;
			pii_buf_puts(&b->body, "{\"subject\":\"");
			/* prefix + value as one JSON string */
			{
				struct pii_buf tmp;

				pii_buf_init(&tmp, slen + strlen(s->subject_prefix) + 1);
				pii_buf_puts(&tmp, s->subject_prefix);
				pii_buf_append(&tmp, subj, slen);
				pii_buf_putc(&tmp, '\0');
				b->body.len--;   /* drop the opening quote: json_str adds it */
				pii_buf_json_str(&b->body, tmp.failed ? "" : tmp.data);
				pii_buf_free(&tmp);
			}
			pii_buf_puts(&b->body, ",\"fields\":{");
			for (k = 1; k < R->nneed; k++) {
				const struct rcol *c = &R->cols[R->need[k]];
				size_t vl;
				int pr;
				const char *v;

				if (c->slot != slot)
					continue;
				v = row_cell_text(R, b, r, k, &vl, &pr);
				if (!first)
					pii_buf_putc(&b->body, ',');
				first = 0;
				pii_buf_json_str(&b->body, c->category);
				pii_buf_putc(&b->body, ':');
				if (pr)
					pii_buf_json_str(&b->body, v);
				else
					pii_buf_puts(&b->body, "null");
			}
			pii_buf_puts(&b->body, "}}");
		}
	}
	pii_buf_puts(&b->body, "]}");
	return b->body.failed ? PII_ERR_TOO_LARGE : 0;
}

static int
token_ok(const char *t)
{
	size_t n = 0;

	for (; *t != '\0'; t++, n++)
		if (n >= TOKMAX - 1 || !((*t >= 'a' && *t <= 'z') ||
		    (*t >= 'A' && *t <= 'Z') || (*t >= '0' && *t <= '9') || *t == '_'))
			return 0;
	return n > 0;
}

static int
read_answer(const struct run *R, struct batch *b, json_t *resp)
{
	json_t *recs = json_object_get(resp, "records");
	json_t *dropped = json_object_get(resp, "dropped");
	size_t i, k;

	if (!json_is_array(recs) || json_array_size(recs) != b->nrecs ||
	    (dropped != NULL && !json_is_array(dropped)))
		return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's answer "
		    "to batch %s does not match the request", b->id);
	if (grow((void **)&b->tok, &b->captok, b->nrows * R->nneed * TOKMAX, 1) != 0)
		return rfail(&b->err, PII_ERR_NOMEM, 0, NULL, "out of memory");
	memset(b->tok, 0, b->nrows * R->nneed * TOKMAX);
	for (i = 0; i < json_array_size(dropped); i++) {
		json_t *d = json_array_get(dropped, i);
		json_t *ix = json_object_get(d, "index");
		const char *why = json_string_value(json_object_get(d, "reason"));
		long long x = json_is_integer(ix) ? json_integer_value(ix) : -1;

		if (x < 0 || (size_t)x >= b->nrecs || why == NULL)
			return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's "
			    "answer to batch %s has a bad \"dropped\" entry", b->id);
		b->rows[b->rec_row[x]].drop = strcmp(why, "objection") == 0 ?
		    DROP_OBJECTION : DROP_ERASED;
	}
	for (i = 0; i < b->nrecs; i++) {
		json_t *rec = json_array_get(recs, i), *fields;
		size_t r = b->rec_row[i];
		const char *st = json_string_value(json_object_get(rec, "subject_token"));
		char *base = b->tok + r * R->nneed * TOKMAX;

		if (b->rows[r].drop != DROP_NONE)
			continue;
		if (st == NULL || !token_ok(st))
			return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's "
			    "answer to batch %s lacks a subject token", b->id);
		memcpy(base, st, strlen(st) + 1);
		fields = json_object_get(rec, "fields");
		for (k = 1; k < R->nneed; k++) {
			const struct rcol *c = &R->cols[R->need[k]];
			json_t *v;
			const char *t;

			if (c->slot != b->rec_slot[i])
				continue;
			v = json_object_get(fields, c->category);
			if (v == NULL || json_is_null(v)) {
				size_t vl;
				int pr;

				(void)row_cell_text(R, b, r, k, &vl, &pr);
				if (pr)   /* sent, so it must come back as a token */
					return rfail(&b->err, PII_ERR_INTERNAL,
					    b->rows[r].line, c->name, "the vault's answer "
					    "to batch %s lacks the token of this value", b->id);
				continue;
			}
			if ((t = json_string_value(v)) == NULL || !token_ok(t))
				return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the "
				    "vault's answer to batch %s has a bad token", b->id);
			memcpy(base + k * TOKMAX, t, strlen(t) + 1);
		}
	}
	b->stored = (unsigned long long)json_integer_value(json_object_get(resp, "stored"));
	b->existing = (unsigned long long)json_integer_value(json_object_get(resp,
	    "existing"));
	return 0;
}

/* ---- the fast answer path (tag_answer.c) ---- */

struct fast_ctx {
	const struct run *R;
	struct batch *b;
};

static int
fast_record(void *ctx, size_t i, const char *s, size_t n)
{
	struct fast_ctx *x = ctx;
	struct batch *b = x->b;
	char *base;

	if (i >= b->nrecs || n >= TOKMAX)
		return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's answer "
		    "to batch %s does not match the request", b->id);
	base = b->tok + (size_t)b->rec_row[i] * x->R->nneed * TOKMAX;
	memcpy(base, s, n);
	base[n] = '\0';
	return 0;
}

static int
fast_field(void *ctx, size_t i, const char *c, size_t cn, const char *t, size_t tn)
{
	struct fast_ctx *x = ctx;
	const struct run *R = x->R;
	struct batch *b = x->b;
	char *base = b->tok + (size_t)b->rec_row[i] * R->nneed * TOKMAX;
	size_t k;

	if (t == NULL)
		return 0;
	for (k = 1; k < R->nneed; k++) {
		const struct rcol *col = &R->cols[R->need[k]];

		if (col->slot != b->rec_slot[i] || strlen(col->category) != cn ||
		    memcmp(col->category, c, cn) != 0)
			continue;
		if (base[k * TOKMAX] != '\0' || tn >= TOKMAX)
			return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's "
			    "answer to batch %s has a bad token", b->id);
		memcpy(base + k * TOKMAX, t, tn);
		base[k * TOKMAX + tn] = '\0';
		return 0;
	}
	return 0;   /* a category this batch did not send: ignored, as by jansson */
}

static int
fast_dropped(void *ctx, size_t index, int objection)
{
	struct fast_ctx *x = ctx;

	x->b->rows[x->b->rec_row[index]].drop = objection ? DROP_OBJECTION :
	    DROP_ERASED;
	return 0;
}

/* Read the answer text: the fast path when it has the vault's exact shape,
 * else jansson.  Then every value sent must have come back as a token. */
static int
read_answer_text(const struct run *R, struct batch *b, const char *text,
    size_t len)
{
	struct fast_ctx x = { R, b };
	const struct tag_answer_cb cb = { &x, fast_record, fast_field, fast_dropped };
	unsigned long long stored = 0, existing = 0;
	size_t i, k, nrec = 0, r;
	int fast;

	if (grow((void **)&b->tok, &b->captok, b->nrows * R->nneed * TOKMAX, 1) != 0)
		return rfail(&b->err, PII_ERR_NOMEM, 0, NULL, "out of memory");
	memset(b->tok, 0, b->nrows * R->nneed * TOKMAX);
	fast = tag_answer_scan(text, len, &cb, &stored, &existing, &nrec);
	if (fast < 0)
		return fast;
	if (fast == 1 && nrec != b->nrecs)
		return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's answer "
		    "to batch %s does not match the request", b->id);
	if (fast == 0) {
		struct pii_errinfo ei;
		json_t *resp = NULL;
		int rc;

		for (r = 0; r < b->nrows; r++)
			b->rows[r].drop = DROP_NONE;
		if (pii_json_parse(text, len, 16, &resp, &ei) != 0)
			return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's "
			    "answer to batch %s is not valid JSON (%.160s)", b->id,
			    ei.message);
		rc = read_answer(R, b, resp);
		json_decref(resp);
		return rc;
	}
	for (i = 0; i < b->nrecs; i++) {
		const char *base;

		r = b->rec_row[i];
		if (b->rows[r].drop != DROP_NONE)
			continue;
		base = b->tok + r * R->nneed * TOKMAX;
		if (base[0] == '\0')
			return rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "the vault's "
			    "answer to batch %s lacks a subject token", b->id);
		for (k = 1; k < R->nneed; k++) {
			const struct rcol *c = &R->cols[R->need[k]];
			size_t vl;
			int pr;

			if (c->slot != b->rec_slot[i])
				continue;
			(void)row_cell_text(R, b, r, k, &vl, &pr);
			if (pr && base[k * TOKMAX] == '\0')
				return rfail(&b->err, PII_ERR_INTERNAL, b->rows[r].line,
				    c->name, "the vault's answer to batch %s lacks the "
				    "token of this value", b->id);
		}
	}
	/* slot records of a dropped row were dropped with it; a row whose slot-0
	 * record was kept has its subject token */
	b->stored = stored;
	b->existing = existing;
	return 0;
}

/* The vault refused a batch: say which line and column, from its field
 * "records[i].fields.<category>" or "records[i].subject". */
static void
vault_refusal(const struct run *R, struct batch *b, int code,
    const struct tag_vault_fail *f)
{
	const char *col = NULL, *dot;
	unsigned long long line = 0;
	size_t i = 0, k;

	if (sscanf(f->field, "records[%zu]", &i) == 1 && i < b->nrecs) {
		size_t r = b->rec_row[i];

		line = b->rows[r].line;
		if (strstr(f->field, "].subject") != NULL && R->nneed > 0)
			col = R->cols[R->need[0]].name;
		else if ((dot = strstr(f->field, "].fields.")) != NULL) {
			dot += sizeof("].fields.") - 1;
			for (k = 1; k < R->nneed; k++) {
				const struct rcol *c = &R->cols[R->need[k]];

				if (c->slot == b->rec_slot[i] && strcmp(c->category, dot) == 0)
					col = c->name;
			}
		}
	}
	if (line > 0)
		rfail(&b->err, code, line, col, "the vault refused the value (%s%s%s)",
		    f->code, f->code[0] ? ": " : "", f->message);
	else
		rfail(&b->err, code, 0, NULL, "the vault refused batch %s: HTTP %ld "
		    "%s%s%s%s%s", b->id, f->status, f->code, f->code[0] ? ": " : "",
		    f->message, f->field[0] ? " at " : "", f->field);
}

static void
send_batch(struct run *R, struct tag_vault *v, struct batch *b)
{
	struct tag_vault_fail f;
	const char *text = NULL;
	size_t tlen = 0;
	int r;

	if ((r = build_body(R, b)) != 0) {
		b->rc = rfail(&b->err, r, b->nrows ? b->rows[0].line : 0, NULL,
		    "batch %s is too large to send (lower --batch)", b->id);
		return;
	}
	r = tag_vault_tokenize(v, b->body.data, b->body.len, b->id, &text, &tlen,
	    &b->retries, &R->stop, &f);
	pii_buf_reset(&b->body);
	if (r == PII_ERR_DB_UNAVAILABLE) {
		b->rc = rfail(&b->err, r, 0, NULL, "the vault at %.200s did not take "
		    "batch %s after %d attempt%s (last: %s%s%.160s)", R->o->vault.url,
		    b->id, f.attempts, f.attempts == 1 ? "" : "s", f.code,
		    f.code[0] ? ": " : "", f.message);
		return;
	}
	if (r != 0) {
		if (f.status == 0)
			b->rc = rfail(&b->err, r, 0, NULL, "cannot reach the vault at "
			    "%.200s: %s", R->o->vault.url, f.message);
		else {
			vault_refusal(R, b, r, &f);
			b->rc = r;
		}
		return;
	}
	b->rc = read_answer_text(R, b, text, tlen);
}

static void *
sender(void *arg)
{
	struct run *R = arg;
	struct tag_vault *v;
	struct batch *b;
	size_t me;

	pthread_mutex_lock(&R->mu);
	me = (size_t)R->nthreads++;
	v = R->vaults[me];
	for (;;) {
		while (R->qhead == NULL && !R->stop)
			pthread_cond_wait(&R->cv, &R->mu);
		if (R->qhead == NULL)
			break;
		b = R->qhead;
		R->qhead = b->qnext;
		if (R->qhead == NULL)
			R->qtail = NULL;
		pthread_mutex_unlock(&R->mu);
		if (R->stop)
			b->rc = rfail(&b->err, PII_ERR_INTERNAL, 0, NULL, "stopped");
		else
			send_batch(R, v, b);
		pthread_mutex_lock(&R->mu);
		b->state = B_DONE;
		pthread_cond_broadcast(&R->cv);
	}
	pthread_mutex_unlock(&R->mu);
	return NULL;
}

/* ---- writing ------------------------------------------------------------------ */

static int
flush_out(struct run *R)
{
	if (R->outbuf.failed)
		return rfail(R->err, PII_ERR_NOMEM, 0, NULL, "out of memory");
	if (R->outbuf.len > 0 &&
	    fwrite(R->outbuf.data, 1, R->outbuf.len, R->out) != R->outbuf.len)
		return rfail(R->err, PII_ERR_IO, 0, NULL, "cannot write the output");
	pii_buf_reset(&R->outbuf);
	return 0;
}

static void
put_json_token(struct pii_buf *o, const char *t)
{
	pii_buf_putc(o, '"');
	pii_buf_puts(o, t);
	pii_buf_putc(o, '"');
}

struct span { size_t off, len; const char *tok; };

static int
write_batch(struct run *R, struct batch *b)
{
	struct piitag_report *rep = R->rep;
	struct span sp[64], *spans = sp;
	size_t r, k, i;

	if (R->nneed > 64 && (spans = calloc(R->nneed, sizeof(*spans))) == NULL)
		return rfail(R->err, PII_ERR_NOMEM, 0, NULL, "out of memory");
	if (!R->header_written) {
		if (R->header.len > 0)
			pii_buf_append(&R->outbuf, R->header.data, R->header.len);
		R->header_written = 1;
	}
	for (r = 0; r < b->nrows; r++) {
		const struct brow *row = &b->rows[r];
		const char *base = b->tok != NULL ? b->tok + r * R->nneed * TOKMAX : NULL;

		if (row->drop == DROP_ERASED) {
			rep->dropped_erased++;
			continue;
		}
		if (row->drop == DROP_OBJECTION) {
			rep->dropped_objection++;
			continue;
		}
		rep->rows_out++;
		for (k = 0; k < R->nneed; k++) {
			struct rcol *c = &R->cols[R->need[k]];

			if (base != NULL && base[k * TOKMAX] != '\0') {
				c->tokenized++;
				if (k > 0)
					rep->values_tokenized++;
			} else {
				c->empty++;
			}
		}
		if (R->o->format == PIITAG_CSV) {
			for (i = 0; i < R->ncols; i++) {
				const struct bcell *c = &b->cells[row->cell + i];
				int nk = R->cols[i].need;

				if (i > 0)
					pii_buf_putc(&R->outbuf, ',');
				if (nk >= 0 && base != NULL && base[nk * TOKMAX] != '\0')
					pii_buf_puts(&R->outbuf, base + (size_t)nk * TOKMAX);
				else if (R->ncols == 1 && c->len == 0)
					pii_buf_puts(&R->outbuf, "\"\"");   /* not a blank line */
				else
					tag_csv_put_field(&R->outbuf, b->data.data + c->off, c->len);
			}
		} else {
			const char *line = b->data.data + row->off;
			size_t ns = 0, at = 0;

			for (k = 0; k < R->nneed; k++) {
				const struct bcell *c = &b->cells[row->cell + k];

				if (!c->present || base == NULL || base[k * TOKMAX] == '\0')
					continue;
				spans[ns].off = c->span_off;
				spans[ns].len = c->span_len;
				spans[ns].tok = base + k * TOKMAX;
				/* keep them sorted by offset */
				for (i = ns; i > 0 && spans[i - 1].off > spans[i].off; i--) {
					struct span t = spans[i];

					spans[i] = spans[i - 1];
					spans[i - 1] = t;
				}
				ns++;
			}
			for (i = 0; i < ns; i++) {
				pii_buf_append(&R->outbuf, line + at, spans[i].off - at);
				put_json_token(&R->outbuf, spans[i].tok);
				at = spans[i].off + spans[i].len;
			}
			pii_buf_append(&R->outbuf, line + at, row->len - at);
		}
		pii_buf_puts(&R->outbuf, row->crlf ? "\r\n" : "\n");
		if (R->outbuf.len > (1u << 20)) {
			int e = flush_out(R);

			if (e != 0) {
				if (spans != sp)
					free(spans);
				return e;
			}
		}
	}
	if (spans != sp)
		free(spans);
	rep->stored += b->stored;
	rep->existing += b->existing;
	rep->retries += b->retries;
	rep->batches++;
	return flush_out(R);
}

/* ---- the check for untagged personal data ------------------------------------ */

/* Judge every PASS column; fill rep->findings.  PII_ERR_BAD_REQUEST when a
 * column looks like personal data. */
static int
check_untagged(struct run *R, int at_end)
{
	struct piitag_report *rep = R->rep;
	size_t i, n = 0;

	free(rep->findings);
	rep->findings = NULL;
	rep->nfindings = 0;
	for (i = 0; i < R->ncols; i++) {
		struct tag_finding f;

		if (R->cols[i].role != TAG_ROLE_PASS)
			continue;
		if (tag_score_finding(&R->cols[i].score, R->cols[i].name,
		    R->o->threshold, &f) != 1)
			continue;
		if (n == 0 && (rep->findings = calloc(R->ncols, sizeof(*rep->findings))) == NULL)
			return rfail(R->err, PII_ERR_NOMEM, 0, NULL, "out of memory");
		{
			struct piitag_finding *pf = &rep->findings[n++];

			snprintf(pf->column, sizeof(pf->column), "%s", R->cols[i].name);
			snprintf(pf->category, sizeof(pf->category), "%s",
			    f.category != NULL ? f.category : "");
			snprintf(pf->detector, sizeof(pf->detector), "%s",
			    f.detector >= 0 ? tag_detector_name(f.detector) : "");
			snprintf(pf->hint, sizeof(pf->hint), "%s", f.hint != NULL ? f.hint : "");
			pf->share = f.share;
			pf->matched = f.matched;
			pf->sample = f.sample;
		}
	}
	rep->nfindings = n;
	if (n == 0)
		return 0;
	return rfail(R->err, PII_ERR_BAD_REQUEST, 0, NULL, "%zu column%s look%s like "
	    "personal data but %s neither tagged nor declared \"none\" with a "
	    "reason in the schema%s", n, n == 1 ? "" : "s", n == 1 ? "s" : "",
	    n == 1 ? "is" : "are", at_end ? " (found further into the input than "
	    "the first sample: discard the output)" : "");
}

/* ---- the ring ------------------------------------------------------------------ */

static void
submit(struct run *R, struct batch *b)
{
	pthread_mutex_lock(&R->mu);
	b->state = B_QUEUED;
	b->qnext = NULL;
	if (R->qtail != NULL)
		R->qtail->qnext = b;
	else
		R->qhead = b;
	R->qtail = b;
	pthread_cond_signal(&R->cv);
	pthread_mutex_unlock(&R->mu);
}

static void
submit_pending(struct run *R)
{
	size_t i;

	for (i = 0; i < R->used; i++) {
		struct batch *b = &R->ring[(R->head + i) % R->nring];

		if (b->state == B_PENDING) {
			if (R->o->check_only || R->nneed == 0) {
				b->state = B_DONE;
				continue;
			}
			submit(R, b);
		}
	}
}

/* Wait for the oldest batch, write it, free its slot. */
static int
drain_one(struct run *R)
{
	struct batch *b = &R->ring[R->head];
	int r;

	if (b->state == B_PENDING || b->state == B_FILLING)
		return rfail(R->err, PII_ERR_INTERNAL, 0, NULL, "batch ring stalled");
	pthread_mutex_lock(&R->mu);
	while (b->state != B_DONE)
		pthread_cond_wait(&R->cv, &R->mu);
	pthread_mutex_unlock(&R->mu);
	if (b->rc != 0) {
		*R->err = b->err;
		return b->rc;
	}
	if (R->o->check_only) {
		R->rep->batches++;
		r = 0;
	} else {
		r = write_batch(R, b);
	}
	batch_reset(b);
	b->state = B_FREE;
	R->head = (R->head + 1) % R->nring;
	R->used--;
	return r;
}

/* The batch rows go into; NULL with *R->err on failure. */
static struct batch *
current(struct run *R, int *rc)
{
	struct batch *b;

	*rc = 0;
	if (R->cur != NULL)
		return R->cur;
	if (R->used == R->nring) {
		if (!R->checked) {
			/* the sample outgrew the ring: judge what we have */
			if ((*rc = check_untagged(R, 0)) != 0)
				return NULL;
			R->checked = 1;
			submit_pending(R);
		}
		if ((*rc = drain_one(R)) != 0)
			return NULL;
	}
	b = &R->ring[(R->head + R->used) % R->nring];
	R->used++;
	batch_reset(b);
	b->state = B_FILLING;
	R->seq++;
	snprintf(b->id, sizeof(b->id), "%.40s-%06llu", R->rep->run_id, R->seq);
	R->cur = b;
	return b;
}

static int
close_current(struct run *R)
{
	struct batch *b = R->cur;

	if (b == NULL)
		return 0;
	R->cur = NULL;
	if (b->nrows == 0) {
		/* nothing in it: give the slot back */
		b->state = B_FREE;
		R->used--;
		R->seq--;
		return 0;
	}
	if (b->data.failed)
		return rfail(R->err, PII_ERR_NOMEM, 0, NULL, "out of memory");
	b->state = B_PENDING;
	if (R->checked) {
		if (R->o->check_only || R->nneed == 0)
			b->state = B_DONE;
		else
			submit(R, b);
	}
	return 0;
}

/* ---- rows ------------------------------------------------------------------ */

static int
value_check(struct run *R, const struct rcol *c, unsigned long long line,
    int need_idx, int present)
{
	if (need_idx == 0 && R->s->subject >= 0 && !present)
		return rfail(R->err, PII_ERR_BAD_REQUEST, line, c->name, "the subject "
		    "column is empty: every row needs its subject");
	return 0;
}

static int
add_csv_row(struct run *R, const struct tag_csv_row *row)
{
	struct batch *b;
	struct brow *br;
	size_t i;
	int rc;

	for (i = 0; i < row->nfields; i++) {
		struct rcol *c = &R->cols[i];

		if (c->role == TAG_ROLE_PASS)
			tag_score_add(&c->score, row->field[i], row->len[i]);
		else if (c->need >= 0) {
			size_t n = row->len[i], s = 0;

			while (s < n && (row->field[i][s] == ' ' || row->field[i][s] == '\t'))
				s++;
			if ((rc = value_check(R, c, row->line, c->need, s < n)) != 0)
				return rc;
		}
	}
	if ((b = current(R, &rc)) == NULL)
		return rc;
	if ((br = batch_add_row(b, R->ncols)) == NULL)
		return rfail(R->err, PII_ERR_NOMEM, row->line, NULL, "out of memory");
	br->line = row->line;
	br->crlf = (unsigned char)row->crlf;
	for (i = 0; i < row->nfields; i++) {
		struct bcell *c = &b->cells[br->cell + i];
		size_t n = row->len[i], s = 0;

		while (s < n && (row->field[i][s] == ' ' || row->field[i][s] == '\t'))
			s++;
		c->off = data_put(b, row->field[i], row->len[i]);
		c->len = row->len[i];
		c->kind = s < n ? CELL_VALUE : CELL_NULL;
		c->present = 1;
	}
	return 0;
}

static int
add_jsonl_row(struct run *R, const struct tag_jsonl_row *row)
{
	struct batch *b;
	struct brow *br;
	size_t i, k;
	int rc;

	/* map members to columns, scoring untagged ones */
	for (i = 0; i < row->nmembers; i++) {
		const struct tag_json_member *m = &row->member[i];
		int c = col_lookup(R, m->key, m->key_len);

		if (c < 0 && (c = col_add(R, m->key, m->key_len)) < 0)
			return rfail(R->err, c, row->line_no, NULL, c == PII_ERR_TOO_LARGE ?
			    "more than %d distinct top-level keys" : "out of memory",
			    MAX_JSONL_COLUMNS);
		R->jmap[i] = c;
		if (R->cols[c].role == TAG_ROLE_PASS &&
		    (m->kind == TAG_JSON_STRING || m->kind == TAG_JSON_NUMBER))
			tag_score_add(&R->cols[c].score, m->str, m->str_len);
	}
	if ((b = current(R, &rc)) == NULL)
		return rc;
	if ((br = batch_add_row(b, R->nneed)) == NULL)
		return rfail(R->err, PII_ERR_NOMEM, row->line_no, NULL, "out of memory");
	br->line = row->line_no;
	br->crlf = (unsigned char)row->crlf;
	br->off = data_put(b, row->line, row->line_len);
	br->len = row->line_len;
	for (i = 0; i < row->nmembers; i++) {
		const struct tag_json_member *m = &row->member[i];
		const struct rcol *c = &R->cols[R->jmap[i]];
		struct bcell *cell;
		size_t s = 0;

		if (c->need < 0)
			continue;
		cell = &b->cells[br->cell + (size_t)c->need];
		if (m->kind == TAG_JSON_OBJECT || m->kind == TAG_JSON_ARRAY ||
		    m->kind == TAG_JSON_TRUE || m->kind == TAG_JSON_FALSE)
			return rfail(R->err, PII_ERR_BAD_REQUEST, row->line_no, c->name,
			    "a tagged value must be a string, a number or null");
		cell->present = 1;
		cell->span_off = m->off;
		cell->span_len = m->len;
		if (m->kind == TAG_JSON_NULL)
			continue;
		while (s < m->str_len && (m->str[s] == ' ' || m->str[s] == '\t'))
			s++;
		if (s == m->str_len)
			continue;
		cell->kind = CELL_VALUE;
		cell->off = data_put(b, m->str, m->str_len);
		cell->len = m->str_len;
	}
	for (k = 0; k < R->nneed; k++) {
		const struct bcell *cell = &b->cells[br->cell + k];

		if ((rc = value_check(R, &R->cols[R->need[k]], row->line_no, (int)k,
		    cell->kind == CELL_VALUE)) != 0)
			return rc;
	}
	return 0;
}

/* ---- the run ------------------------------------------------------------------ */

static int
start_senders(struct run *R)
{
	int i, n = R->o->parallel;

	if ((R->vaults = calloc((size_t)n, sizeof(*R->vaults))) == NULL ||
	    (R->threads = calloc((size_t)n, sizeof(*R->threads))) == NULL)
		return rfail(R->err, PII_ERR_NOMEM, 0, NULL, "out of memory");
	for (i = 0; i < n; i++)
		if ((R->vaults[i] = tag_vault_new(&R->o->vault, R->err)) == NULL)
			return R->err->code ? R->err->code : PII_ERR_INTERNAL;
	R->nstarted = n;
	for (i = 0; i < n; i++) {
		if (pthread_create(&R->threads[i], NULL, sender, R) != 0) {
			R->nstarted = i;
			return rfail(R->err, PII_ERR_INTERNAL, 0, NULL,
			    "cannot start a sender thread");
		}
	}
	return 0;
}

static void
stop_senders(struct run *R, int started)
{
	int i;

	pthread_mutex_lock(&R->mu);
	R->stop = 1;
	pthread_cond_broadcast(&R->cv);
	pthread_mutex_unlock(&R->mu);
	for (i = 0; i < started; i++)
		pthread_join(R->threads[i], NULL);
	if (R->vaults != NULL)
		for (i = 0; i < R->o->parallel; i++)
			tag_vault_free(R->vaults[i]);
	free(R->vaults);
	free(R->threads);
}

static void
new_run_id(char *out, size_t cap)
{
	unsigned char rnd[4];
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y%m%dT%H%M%SZ", &tm);
	randombytes_buf(rnd, sizeof(rnd));
	snprintf(out, cap, "run-%s-%02x%02x%02x%02x", ts, rnd[0], rnd[1], rnd[2], rnd[3]);
}

static int
setup_csv_header(struct run *R, struct tag_csv_reader *csv)
{
	struct tag_csv_row row;
	struct tag_ioerr ioe;
	size_t i, j;
	int r;

	memset(&ioe, 0, sizeof(ioe));
	r = tag_csv_read(csv, &row, &ioe);
	if (r < 0)
		return rfail(R->err, r, ioe.line, NULL, "%s", ioe.msg);
	if (r == 0)
		return rfail(R->err, PII_ERR_BAD_REQUEST, 0, NULL, "the input is empty: "
		    "a CSV input starts with a header row");
	for (i = 0; i < row.nfields; i++) {
		for (j = 0; j < i; j++)
			if (row.len[i] == row.len[j] &&
			    memcmp(row.field[i], row.field[j], row.len[i]) == 0)
				return rfail(R->err, PII_ERR_BAD_REQUEST, row.line, row.field[i],
				    "the header names this column twice");
		if ((r = col_add(R, row.field[i], row.len[i])) < 0)
			return rfail(R->err, r, row.line, NULL, "out of memory");
		R->cols[r].hdr = (int)i;
		if (i > 0)
			pii_buf_putc(&R->header, ',');
		tag_csv_put_field(&R->header, row.field[i], row.len[i]);
	}
	pii_buf_puts(&R->header, row.crlf ? "\r\n" : "\n");
	if (R->header.failed)
		return rfail(R->err, PII_ERR_NOMEM, row.line, NULL, "out of memory "
		    "for the header");
	for (i = 0; i < R->s->ncols; i++) {
		const struct tag_schema_col *sc = &R->s->cols[i];
		int found = 0;

		for (j = 0; j < R->ncols; j++)
			found |= strcmp(R->cols[j].name, sc->name) == 0;
		if (!found && sc->role != TAG_ROLE_NONE)
			return rfail(R->err, PII_ERR_BAD_REQUEST, row.line, sc->name,
			    "the schema names this column but the input's header "
			    "does not have it");
	}
	tag_csv_expect(csv, row.nfields);
	return 0;
}

int
piitag_run(const struct piitag_run_opts *o, FILE *in, FILE *out,
    struct piitag_report *rep, struct piitag_error *err)
{
	struct tag_csv_reader *csv = NULL;
	struct tag_jsonl_reader *jl = NULL;
	struct piitag_error scratch;
	struct run R;
	size_t i;
	int r, started = 0;

	if (err == NULL)
		err = &scratch;
	memset(err, 0, sizeof(*err));
	memset(rep, 0, sizeof(*rep));
	memset(&R, 0, sizeof(R));
	R.o = o;
	R.s = o->schema;
	R.rep = rep;
	R.err = err;
	R.out = out;
	pthread_mutex_init(&R.mu, NULL);
	pthread_cond_init(&R.cv, NULL);
	pii_buf_init(&R.header, o->max_record * 2 + 16);
	pii_buf_init(&R.outbuf, DATA_MAX);
	tag_now_rfc3339(rep->started, sizeof(rep->started));
	if (o->run_id != NULL) {
		if (!tag_name_ok(o->run_id, 40, "._-")) {
			r = rfail(err, PII_ERR_USAGE, 0, NULL, "the run id must be 1-40 "
			    "characters of [A-Za-z0-9._-]");
			goto out;
		}
		snprintf(rep->run_id, sizeof(rep->run_id), "%s", o->run_id);
	} else {
		new_run_id(rep->run_id, sizeof(rep->run_id));
	}
	if (o->schema == NULL || o->batch_rows < 1 || o->batch_rows > 100000 ||
	    o->parallel < 1 || o->parallel > 64 || o->sample < 1 ||
	    !(o->threshold > 0 && o->threshold <= 1) || o->max_record < 64) {
		r = rfail(err, PII_ERR_USAGE, 0, NULL, "bad options: --batch 1..100000, "
		    "--parallel 1..64, --sample >= 1, --threshold in (0, 1]");
		goto out;
	}
	if (o->schema->proposed) {
		r = rfail(err, PII_ERR_CONFIG, 0, NULL, "the schema is a proposal from "
		    "pii-tag scan (\"proposed\": true): review every column, then "
		    "remove \"proposed\" to commit it");
		goto out;
	}
	/* ring: room for the sample plus the batches in flight */
	R.nring = (size_t)o->parallel * 2 + 1 +
	    (size_t)((o->sample + o->batch_rows - 1) / o->batch_rows);
	if (R.nring > 4096) {
		/* the whole sample is held before anything is sent: refuse a
		 * sample that would need more batches than that in memory */
		r = rfail(err, PII_ERR_USAGE, 0, NULL, "--sample %llu with --batch %zu "
		    "needs more than 4096 batches in memory: raise --batch or lower "
		    "--sample", o->sample, o->batch_rows);
		goto out;
	}
	R.capcols = MAX_JSONL_COLUMNS;
	if ((R.cols = calloc(R.capcols, sizeof(*R.cols))) == NULL) {
		r = rfail(err, PII_ERR_NOMEM, 0, NULL, "out of memory");
		goto out;
	}
	if ((R.ring = calloc(R.nring, sizeof(*R.ring))) == NULL) {
		r = rfail(err, PII_ERR_NOMEM, 0, NULL, "out of memory");
		goto out;
	}
	for (i = 0; i < R.nring; i++) {
		pii_buf_init(&R.ring[i].data, DATA_MAX);
		pii_buf_init(&R.ring[i].body, BODY_MAX);
	}

	if (o->format == PIITAG_CSV) {
		if ((csv = tag_csv_reader_new(in, o->max_record)) == NULL) {
			r = rfail(err, PII_ERR_NOMEM, 0, NULL, "out of memory");
			goto out;
		}
		if ((r = setup_csv_header(&R, csv)) != 0)
			goto out;
	} else {
		if ((jl = tag_jsonl_reader_new(in, o->max_record)) == NULL ||
		    (R.jmap = calloc(TAG_IO_MAX_FIELDS, sizeof(*R.jmap))) == NULL ||
		    (R.hash = malloc(2 * MAX_JSONL_COLUMNS * sizeof(*R.hash))) == NULL) {
			r = rfail(err, PII_ERR_NOMEM, 0, NULL, "out of memory");
			goto out;
		}
		R.hashcap = 2 * MAX_JSONL_COLUMNS;
		for (i = 0; i < R.hashcap; i++)
			R.hash[i] = -1;
		for (i = 0; i < R.s->ncols; i++)
			if ((r = col_add(&R, R.s->cols[i].name, strlen(R.s->cols[i].name))) < 0) {
				r = rfail(err, r, 0, NULL, "out of memory");
				goto out;
			}
	}
	if ((r = setup_need(&R)) != 0) {
		r = rfail(err, r, 0, NULL, "out of memory");
		goto out;
	}
	if (!o->check_only && R.nneed > 0) {
		r = start_senders(&R);
		started = R.nstarted;
		if (r != 0)
			goto out;
	}

	for (;;) {
		struct tag_ioerr ioe;

		memset(&ioe, 0, sizeof(ioe));
		if (csv != NULL) {
			struct tag_csv_row row;

			r = tag_csv_read(csv, &row, &ioe);
			if (r == 1) {
				rep->rows_in++;
				if ((r = add_csv_row(&R, &row)) == 0)
					r = 1;
			}
		} else {
			struct tag_jsonl_row row;

			r = tag_jsonl_read(jl, &row, &ioe);
			if (r == 1) {
				rep->rows_in++;
				if ((r = add_jsonl_row(&R, &row)) == 0)
					r = 1;
			}
		}
		if (r == 0)
			break;
		if (r < 0) {
			if (ioe.msg[0] != '\0')
				rfail(err, r, ioe.line, NULL, "%s", ioe.msg);
			goto out;
		}
		if (R.cur != NULL && R.cur->nrows >= o->batch_rows &&
		    (r = close_current(&R)) != 0)
			goto out;
		if (!R.checked && rep->rows_in >= o->sample) {
			if ((r = check_untagged(&R, 0)) != 0)
				goto out;
			R.checked = 1;
			submit_pending(&R);
		}
		/* batches that came back go out in order, without waiting */
		while (R.used > 0 && R.ring[R.head].state == B_DONE &&
		    &R.ring[R.head] != R.cur) {
			if ((r = drain_one(&R)) != 0)
				goto out;
		}
	}
	if ((r = close_current(&R)) != 0)
		goto out;
	if (!R.checked) {
		if ((r = check_untagged(&R, 0)) != 0)
			goto out;
		R.checked = 1;
		submit_pending(&R);
	}
	while (R.used > 0)
		if ((r = drain_one(&R)) != 0)
			goto out;
	if (!o->check_only && !R.header_written && csv != NULL) {
		pii_buf_append(&R.outbuf, R.header.data, R.header.len);
		R.header_written = 1;
		if ((r = flush_out(&R)) != 0)
			goto out;
	}
	/* the whole input, judged once more */
	if ((r = check_untagged(&R, 1)) != 0)
		goto out;
	if (!o->check_only && out != NULL && fflush(out) != 0) {
		r = rfail(err, PII_ERR_IO, 0, NULL, "cannot write the output");
		goto out;
	}
	r = 0;
out:
	if (R.threads != NULL || R.vaults != NULL)
		stop_senders(&R, started);
	tag_now_rfc3339(rep->ended, sizeof(rep->ended));
	if ((rep->columns = calloc(R.ncols + 1, sizeof(*rep->columns))) != NULL) {
		for (i = 0; i < R.ncols; i++) {
			struct piitag_column_report *c = &rep->columns[i];

			snprintf(c->name, sizeof(c->name), "%s", R.cols[i].name);
			snprintf(c->category, sizeof(c->category), "%s",
			    R.cols[i].category != NULL ? R.cols[i].category : "");
			c->tokenized = R.cols[i].tokenized;
			c->empty = R.cols[i].empty;
		}
		rep->ncolumns = R.ncols;
	}
	if (r != 0 && err->code == 0)
		err->code = r;
	tag_csv_reader_free(csv);
	tag_jsonl_reader_free(jl);
	if (R.ring != NULL)
		for (i = 0; i < R.nring; i++)
			batch_free(&R.ring[i]);
	free(R.ring);
	for (i = 0; i < R.ncols; i++)
		free(R.cols[i].name);
	free(R.cols);
	free(R.hash);
	free(R.need);
	free(R.jmap);
	pii_buf_free(&R.header);
	pii_buf_free(&R.outbuf);
	pthread_mutex_destroy(&R.mu);
	pthread_cond_destroy(&R.cv);
	return r;
}
