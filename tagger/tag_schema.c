/*
 * tag_schema.c - load and validate a dataset schema.
 *
 *   {"dataset": "shop.customers", "format": "csv", "subject_prefix": "customer:",
 *    "columns": [{"name": "customer_id", "category": "subject"},
 *                {"name": "email", "category": "email"},
 *                {"name": "country", "category": "none", "reason": "ISO code"}]}
 *
 * Parsing is strict (duplicate keys, unknown keys and wrong types are
 * errors naming the field), because a schema is what lets data through.
 * "evidence" (from pii-tag scan), "unflagged" and "description" are accepted
 * and ignored; "proposed": true marks a schema nobody reviewed yet.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../common/err.h"
#include "../common/json_util.h"
#include "tag_schema.h"
#include "tag_util.h"

#define SCHEMA_MAX_BYTES (4u << 20)
#define MAX_COLUMNS 4096
#define MAX_REASON 500
#define MAX_PREFIX 64
#define MAX_SAME_CATEGORY 64   /* columns sharing one category (vault records per row) */

#define fail(err, code, column, ...) tag_error_set(err, code, 0, column, __VA_ARGS__)

static int
category_ok(const char *s)
{
	size_t n = 0;

	if (!(s[0] >= 'a' && s[0] <= 'z'))
		return 0;
	for (; *s != '\0'; s++, n++)
		if (n >= PIITAG_CATEGORY_MAX - 1 || !((*s >= 'a' && *s <= 'z') ||
		    (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

static int
printable_ok(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

void
piitag_schema_free(struct piitag_schema *s)
{
	size_t i;

	if (s == NULL)
		return;
	for (i = 0; i < s->ncols; i++) {
		free(s->cols[i].name);
		free(s->cols[i].reason);
	}
	free(s->cols);
	free(s->dataset);
	free(s->subject_prefix);
	free(s);
}

const char *
piitag_schema_dataset(const struct piitag_schema *s)
{
	return s->dataset;
}

int
piitag_schema_format(const struct piitag_schema *s, enum piitag_format *fmt)
{
	if (!s->has_format)
		return 0;
	*fmt = s->format;
	return 1;
}

int
tag_schema_find(const struct piitag_schema *s, const char *name)
{
	size_t i;

	for (i = 0; i < s->ncols; i++)
		if (strcmp(s->cols[i].name, name) == 0)
			return (int)i;
	return -1;
}

static int
parse_column(json_t *c, size_t i, struct tag_schema_col *col,
    struct piitag_error *err)
{
	static const char *const keys[] = { "name", "category", "reason",
		"evidence", "description", NULL };
	struct pii_errinfo ei;
	char path[64];
	const char *name, *cat, *reason = NULL;
	size_t nlen;

	snprintf(path, sizeof(path), "columns[%zu]", i);
	pii_errinfo_clear(&ei);
	if (!json_is_object(c))
		return fail(err, PII_ERR_CONFIG, NULL, "%s must be an object", path);
	if (pii_json_check_keys(c, keys, path, &ei) != 0)
		return fail(err, PII_ERR_CONFIG, NULL, "%s: %s", ei.field, ei.message);
	if (pii_json_get_string(c, "name", 1, PIITAG_NAME_MAX - 1, path, &name,
	    &nlen, &ei) != 0)
		return fail(err, PII_ERR_CONFIG, NULL, "%s: %s", ei.field, ei.message);
	if (nlen == 0 || !printable_ok(name))
		return fail(err, PII_ERR_CONFIG, NULL, "%s.name must be 1-%d bytes "
		    "without control characters", path, PIITAG_NAME_MAX - 1);
	if (pii_json_get_string(c, "category", 1, 64, path, &cat, NULL, &ei) != 0)
		return fail(err, PII_ERR_CONFIG, name, "%s: %s", ei.field, ei.message);
	if (!category_ok(cat))
		return fail(err, PII_ERR_CONFIG, name, "%s.category must be "
		    "\"subject\", \"none\" or a vault category ([a-z][a-z0-9_]*, at "
		    "most %d characters)", path, PIITAG_CATEGORY_MAX - 1);
	if (pii_json_get_string(c, "reason", 0, MAX_REASON, path, &reason, NULL,
	    &ei) != 0)
		return fail(err, PII_ERR_CONFIG, name, "%s: %s", ei.field, ei.message);
	if (strcmp(cat, "none") == 0) {
		if (reason == NULL || reason[0] == '\0')
			return fail(err, PII_ERR_CONFIG, name, "%s: a column declared "
			    "\"none\" needs a \"reason\" saying why it holds no "
			    "personal data", path);
		col->role = TAG_ROLE_NONE;
	} else if (reason != NULL) {
		return fail(err, PII_ERR_CONFIG, name, "%s.reason is only for "
		    "columns declared \"none\"", path);
	} else if (strcmp(cat, "subject") == 0) {
		col->role = TAG_ROLE_SUBJECT;
	} else {
		col->role = TAG_ROLE_TAG;
	}
	col->name = strdup(name);
	col->reason = reason != NULL ? strdup(reason) : NULL;
	if (col->name == NULL || (reason != NULL && col->reason == NULL))
		return fail(err, PII_ERR_NOMEM, NULL, "out of memory");
	snprintf(col->category, sizeof(col->category), "%s", cat);
	return 0;
}

int
piitag_schema_parse(const char *text, size_t len, struct piitag_schema **out,
    struct piitag_error *err)
{
	static const char *const keys[] = { "dataset", "format", "subject_prefix",
		"columns", "proposed", "unflagged", "description", "version", NULL };
	struct piitag_schema *s = NULL;
	struct pii_errinfo ei;
	json_t *root = NULL, *cols;
	const char *v;
	long long version;
	size_t i, j;
	int r;

	pii_errinfo_clear(&ei);
	if ((r = pii_json_parse(text, len, 8, &root, &ei)) != 0) {
		r = fail(err, PII_ERR_CONFIG, NULL, "%s%s%s", ei.message,
		    ei.field[0] ? " at " : "", ei.field);
		goto out;
	}
	if (!json_is_object(root)) {
		r = fail(err, PII_ERR_CONFIG, NULL, "the schema must be a JSON object");
		goto out;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		r = fail(err, PII_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	s->subject = -1;
	r = PII_ERR_CONFIG;
	if (pii_json_check_keys(root, keys, "", &ei) != 0 ||
	    pii_json_get_int(root, "version", 0, 1, 1, "", &version, &ei) != 0 ||
	    pii_json_get_bool(root, "proposed", 0, "", &s->proposed, &ei) != 0 ||
	    pii_json_get_string(root, "dataset", 1, 128, "", &v, NULL, &ei) != 0) {
		fail(err, r, NULL, "%s: %s", ei.field, ei.message);
		goto out;
	}
	if (!tag_name_ok(v, 128, "._:/-")) {
		fail(err, r, NULL, "dataset must be 1-128 characters of "
		    "[A-Za-z0-9._:/-] (it is the vault's \"source\")");
		goto out;
	}
	s->dataset = strdup(v);
	if (pii_json_get_string(root, "format", 0, 16, "", &v, NULL, &ei) != 0) {
		fail(err, r, NULL, "%s: %s", ei.field, ei.message);
		goto out;
	}
	if (v != NULL) {
		s->has_format = 1;
		if (strcmp(v, "csv") == 0)
			s->format = PIITAG_CSV;
		else if (strcmp(v, "jsonl") == 0)
			s->format = PIITAG_JSONL;
		else {
			fail(err, r, NULL, "format must be \"csv\" or \"jsonl\"");
			goto out;
		}
	}
	if (pii_json_get_string(root, "subject_prefix", 0, MAX_PREFIX, "", &v,
	    NULL, &ei) != 0) {
		fail(err, r, NULL, "%s: %s", ei.field, ei.message);
		goto out;
	}
	if (v != NULL && !printable_ok(v)) {
		fail(err, r, NULL, "subject_prefix must not hold control characters");
		goto out;
	}
	s->subject_prefix = strdup(v != NULL ? v : "");
	if (pii_json_get_array(root, "columns", 1, MAX_COLUMNS, "", &cols, &ei) != 0) {
		fail(err, r, NULL, "%s: %s", ei.field, ei.message);
		goto out;
	}
	if (s->dataset == NULL || s->subject_prefix == NULL ||
	    (s->cols = calloc(json_array_size(cols) + 1, sizeof(*s->cols))) == NULL) {
		r = fail(err, PII_ERR_NOMEM, NULL, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(cols); i++) {
		struct tag_schema_col *c = &s->cols[i];

		if ((r = parse_column(json_array_get(cols, i), i, c, err)) != 0) {
			s->ncols = i + 1;
			goto out;
		}
		s->ncols = i + 1;
		r = PII_ERR_CONFIG;
		if (tag_schema_find(s, c->name) != (int)i) {
			fail(err, r, c->name, "columns[%zu]: the column is listed twice", i);
			goto out;
		}
		if (c->role == TAG_ROLE_SUBJECT) {
			if (s->subject >= 0) {
				fail(err, r, c->name, "columns[%zu]: only one column can be "
				    "the subject (%s already is)", i,
				    s->cols[s->subject].name);
				goto out;
			}
			s->subject = (int)i;
		}
		if (c->role == TAG_ROLE_TAG) {
			s->ntagged++;
			for (j = 0; j < i; j++)
				if (s->cols[j].role == TAG_ROLE_TAG &&
				    strcmp(s->cols[j].category, c->category) == 0)
					c->slot++;
			if (c->slot >= MAX_SAME_CATEGORY) {
				fail(err, r, c->name, "columns[%zu]: more than %d columns "
				    "of category %s", i, MAX_SAME_CATEGORY, c->category);
				goto out;
			}
			if (c->slot + 1 > s->nslots)
				s->nslots = c->slot + 1;
		}
	}
	if (s->ntagged > 0 && s->subject < 0) {
		fail(err, r, NULL, "the schema tags %zu column%s but names no subject "
		    "column (a column with \"category\": \"subject\")", s->ntagged,
		    s->ntagged == 1 ? "" : "s");
		goto out;
	}
	*out = s;
	s = NULL;
	r = 0;
out:
	piitag_schema_free(s);
	json_decref(root);
	return r;
}

int
piitag_schema_load(const char *path, struct piitag_schema **out,
    struct piitag_error *err)
{
	FILE *f;
	char *buf = NULL;
	size_t n = 0;
	int r;

	if ((f = fopen(path, "rb")) == NULL)
		return fail(err, PII_ERR_IO, NULL, "cannot open the schema %.200s: %s",
		    path, strerror(errno));
	if ((buf = malloc(SCHEMA_MAX_BYTES + 1)) == NULL) {
		fclose(f);
		return fail(err, PII_ERR_NOMEM, NULL, "out of memory");
	}
	n = fread(buf, 1, SCHEMA_MAX_BYTES + 1, f);
	if (ferror(f)) {
		r = fail(err, PII_ERR_IO, NULL, "cannot read the schema %.200s", path);
	} else if (n > SCHEMA_MAX_BYTES) {
		r = fail(err, PII_ERR_CONFIG, NULL, "the schema %.200s is larger "
		    "than %u bytes", path, SCHEMA_MAX_BYTES);
	} else {
		r = piitag_schema_parse(buf, n, out, err);
		if (r != 0 && err != NULL) {
			char m[sizeof(err->msg)];

			snprintf(m, sizeof(m), "%s", err->msg);
			snprintf(err->msg, sizeof(err->msg), "schema %.200s: %.300s", path, m);
		}
	}
	fclose(f);
	free(buf);
	return r;
}
