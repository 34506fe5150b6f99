/*
 * tag_scan.c - propose a dataset schema from a sample of the data.
 *
 * Every column is scored by the detectors over the first N rows (all rows
 * with N = 0); a column that looks like personal data is proposed with its
 * category and the evidence (detector, share of the sampled non-empty values
 * it accepted, sample size, name hint).  A column whose name suggests the
 * subject's identifier is proposed as the subject.  The result says
 * "proposed": true: pii-tag run refuses it until a person has reviewed it
 * and removed that line, because a scan is a suggestion, not a decision.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/err.h"
#include "tag_detect.h"
#include "tag_io.h"
#include "tag_run.h"
#include "tag_util.h"
#include "piitag.h"

#define SCAN_MAX_COLUMNS 4096

struct scol {
	char *name;
	struct tag_score score;
};

#define sfail(err, code, line, ...) tag_error_set(err, code, line, NULL, __VA_ARGS__)

/* 1 if a column name suggests the subject's identifier. */
static int
subject_like(const char *name)
{
	static const char *const exact[] = { "id", "uid", "user_id", "userid",
		"customer_id", "customerid", "member_id", "memberid", "account_id",
		"accountid", "client_id", "clientid", "subject_id", "subject",
		"person_id", "cust_id", "user", "customer", "회원번호", "고객번호",
		"회원id", "고객id", "회원아이디", NULL };
	char low[PIITAG_NAME_MAX];
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < sizeof(low); i++)
		low[i] = (name[i] >= 'A' && name[i] <= 'Z') ? (char)(name[i] + 32) :
		    name[i];
	low[i] = '\0';
	for (i = 0; exact[i] != NULL; i++)
		if (strcmp(low, exact[i]) == 0)
			return 1;
	return 0;
}

static int
col_find_add(struct scol **cols, size_t *n, size_t *cap, const char *name,
    size_t len)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (strlen((*cols)[i].name) == len && memcmp((*cols)[i].name, name, len) == 0)
			return (int)i;
	if (*n >= SCAN_MAX_COLUMNS)
		return PII_ERR_TOO_LARGE;
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 32;
		struct scol *nv = realloc(*cols, nc * sizeof(*nv));

		if (nv == NULL)
			return PII_ERR_NOMEM;
		*cols = nv;
		*cap = nc;
	}
	memset(&(*cols)[*n], 0, sizeof(**cols));
	if (((*cols)[*n].name = malloc(len + 1)) == NULL)
		return PII_ERR_NOMEM;
	memcpy((*cols)[*n].name, name, len);
	(*cols)[*n].name[len] = '\0';
	return (int)(*n)++;
}

int
piitag_scan(FILE *in, const struct piitag_scan_opts *o, char **json,
    struct piitag_error *err)
{
	struct tag_csv_reader *csv = NULL;
	struct tag_jsonl_reader *jl = NULL;
	struct scol *cols = NULL;
	size_t ncols = 0, capcols = 0, i;
	unsigned long long rows = 0;
	json_t *root = NULL, *jcols = NULL, *unflagged = NULL;
	char when[32];
	int r, subject = -1;

	*json = NULL;
	if (!(o->threshold > 0 && o->threshold <= 1))
		return sfail(err, PII_ERR_USAGE, 0, "--threshold must be in (0, 1]");
	if (o->dataset != NULL && !tag_name_ok(o->dataset, 128, "._:/-"))
		return sfail(err, PII_ERR_USAGE, 0, "the dataset name must be 1-128 "
		    "characters of [A-Za-z0-9._:/-]");
	if (o->format == PIITAG_CSV) {
		struct tag_csv_row row;
		struct tag_ioerr ioe;

		memset(&ioe, 0, sizeof(ioe));
		if ((csv = tag_csv_reader_new(in, o->max_record)) == NULL) {
			r = sfail(err, PII_ERR_NOMEM, 0, "out of memory");
			goto out;
		}
		if ((r = tag_csv_read(csv, &row, &ioe)) <= 0) {
			r = r < 0 ? sfail(err, r, ioe.line, "%s", ioe.msg) :
			    sfail(err, PII_ERR_BAD_REQUEST, 0, "the input is empty: a CSV "
			    "input starts with a header row");
			goto out;
		}
		for (i = 0; i < row.nfields; i++)
			if ((r = col_find_add(&cols, &ncols, &capcols, row.field[i],
			    row.len[i])) < 0 || (size_t)r != i) {
				r = r < 0 ? sfail(err, r, row.line, "out of memory") :
				    sfail(err, PII_ERR_BAD_REQUEST, row.line, "the header "
				    "names column %zu twice", i + 1);
				goto out;
			}
		tag_csv_expect(csv, row.nfields);
		while (o->sample == 0 || rows < o->sample) {
			r = tag_csv_read(csv, &row, &ioe);
			if (r == 0)
				break;
			if (r < 0) {
				r = sfail(err, r, ioe.line, "%s", ioe.msg);
				goto out;
			}
			rows++;
			for (i = 0; i < row.nfields; i++)
				tag_score_add(&cols[i].score, row.field[i], row.len[i]);
		}
	} else {
		struct tag_jsonl_row row;
		struct tag_ioerr ioe;

		memset(&ioe, 0, sizeof(ioe));
		if ((jl = tag_jsonl_reader_new(in, o->max_record)) == NULL) {
			r = sfail(err, PII_ERR_NOMEM, 0, "out of memory");
			goto out;
		}
		while (o->sample == 0 || rows < o->sample) {
			r = tag_jsonl_read(jl, &row, &ioe);
			if (r == 0)
				break;
			if (r < 0) {
				r = sfail(err, r, ioe.line, "%s", ioe.msg);
				goto out;
			}
			rows++;
			for (i = 0; i < row.nmembers; i++) {
				const struct tag_json_member *m = &row.member[i];
				int c = col_find_add(&cols, &ncols, &capcols, m->key, m->key_len);

				if (c < 0) {
					r = sfail(err, c, row.line_no, c == PII_ERR_TOO_LARGE ?
					    "more than %d distinct top-level keys" :
					    "out of memory", SCAN_MAX_COLUMNS);
					goto out;
				}
				if (m->kind == TAG_JSON_STRING || m->kind == TAG_JSON_NUMBER)
					tag_score_add(&cols[c].score, m->str, m->str_len);
			}
		}
	}

	tag_now_rfc3339(when, sizeof(when));
	root = json_object();
	jcols = json_array();
	unflagged = json_array();
	if (root == NULL || jcols == NULL || unflagged == NULL) {
		r = sfail(err, PII_ERR_NOMEM, 0, "out of memory");
		goto out;
	}
	{
		char desc[256];

		snprintf(desc, sizeof(desc), "Proposed by pii-tag scan at %s from %llu "
		    "row%s. Review every column, give the subject column and a "
		    "reason for each \"none\", then remove \"proposed\".", when, rows,
		    rows == 1 ? "" : "s");
		json_object_set_new(root, "dataset", json_string(o->dataset != NULL ?
		    o->dataset : "unnamed"));
		json_object_set_new(root, "format", json_string(o->format == PIITAG_CSV ?
		    "csv" : "jsonl"));
		json_object_set_new(root, "proposed", json_true());
		json_object_set_new(root, "description", json_string(desc));
	}
	for (i = 0; i < ncols && subject < 0; i++)
		if (subject_like(cols[i].name))
			subject = (int)i;
	if (subject >= 0) {
		json_t *c = json_object();

		json_object_set_new(c, "name", json_string(cols[subject].name));
		json_object_set_new(c, "category", json_string("subject"));
		json_object_set_new(c, "evidence", json_pack("{s:s}", "reason",
		    "the name suggests the data subject's identifier"));
		json_array_append_new(jcols, c);
	}
	for (i = 0; i < ncols; i++) {
		struct tag_finding f;
		json_t *c, *ev;

		if ((int)i == subject)
			continue;
		if (tag_score_finding(&cols[i].score, cols[i].name, o->threshold, &f) != 1) {
			json_array_append_new(unflagged, json_string(cols[i].name));
			continue;
		}
		c = json_object();
		ev = json_object();
		json_object_set_new(c, "name", json_string(cols[i].name));
		json_object_set_new(c, "category", json_string(f.category != NULL ?
		    f.category : "none"));
		if (f.detector >= 0) {
			json_object_set_new(ev, "detector",
			    json_string(tag_detector_name(f.detector)));
			json_object_set_new(ev, "share", json_real(f.share));
			json_object_set_new(ev, "matched", json_integer((json_int_t)f.matched));
		}
		json_object_set_new(ev, "sample", json_integer((json_int_t)f.sample));
		if (f.hint != NULL)
			json_object_set_new(ev, "hint", json_string(f.hint));
		json_object_set_new(c, "evidence", ev);
		json_array_append_new(jcols, c);
	}
	json_object_set_new(root, "columns", jcols);
	jcols = NULL;
	json_object_set_new(root, "unflagged", unflagged);
	unflagged = NULL;
	if ((*json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER |
	    JSON_REAL_PRECISION(4))) == NULL) {
		r = sfail(err, PII_ERR_NOMEM, 0, "out of memory");
		goto out;
	}
	r = 0;
out:
	json_decref(root);
	json_decref(jcols);
	json_decref(unflagged);
	tag_csv_reader_free(csv);
	tag_jsonl_reader_free(jl);
	for (i = 0; i < ncols; i++)
		free(cols[i].name);
	free(cols);
	return r;
}
