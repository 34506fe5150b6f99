/*
 * tag_schema.h - the dataset schema inside libpiitag.
 *
 * A schema (JSON, committed by a person) names the dataset, the subject
 * column and every tagged column's vault category; a column may also be
 * declared "none" with a reason, which exempts it from the untagged-PII
 * check.  Columns the schema does not name pass through unchanged as long as
 * they do not look like personal data.  docs/tagger.md has the format.
 */
#ifndef TAG_SCHEMA_H
#define TAG_SCHEMA_H

#include "piitag.h"

enum tag_role { TAG_ROLE_PASS, TAG_ROLE_SUBJECT, TAG_ROLE_TAG, TAG_ROLE_NONE };

struct tag_schema_col {
	char *name;
	enum tag_role role;
	char category[PIITAG_CATEGORY_MAX];   /* "subject", a category or "none" */
	char *reason;                         /* NONE only */
	int slot;                             /* TAG: how many earlier TAG columns share the category */
};

struct piitag_schema {
	char *dataset;
	char *subject_prefix;                 /* "" when absent */
	int has_format;
	enum piitag_format format;
	int proposed;
	size_t ncols;
	struct tag_schema_col *cols;
	int subject;                          /* index into cols, -1 if none */
	int nslots;                           /* max TAG columns sharing one category */
	size_t ntagged;
};

/* Index of the column named name, or -1. */
int tag_schema_find(const struct piitag_schema *s, const char *name);

#endif
