/*
 * fuzz_tag_schema.c - libFuzzer target for piitag_schema_parse, the parser
 * of the dataset schemas that decide which columns the tagger lets through.
 *
 * A refused schema must say why (a PII_ERR_CONFIG / NOMEM code and a
 * message).  An accepted one must be consistent: at most one subject, a
 * subject whenever something is tagged, every "none" with a reason, no
 * column twice, slots counting earlier columns of the same category.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/json_util.h"
#include "../../tagger/tag_schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_tag_schema: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct piitag_schema *s = NULL;
	struct piitag_error e;
	size_t i, j, nsubj = 0, ntag = 0;
	int r;

	if (!inited) {
		pii_json_init();
		inited = 1;
	}
	memset(&e, 0, sizeof(e));
	r = piitag_schema_parse((const char *)data, size, &s, &e);
	if (r != 0) {
		if (s != NULL)
			die("refused but returned a schema");
		if (r != PII_ERR_CONFIG && r != PII_ERR_NOMEM)
			die("unexpected code");
		if (e.code != r || e.msg[0] == '\0')
			die("a refusal without a message");
		return 0;
	}
	if (s == NULL || s->dataset == NULL || s->subject_prefix == NULL)
		die("accepted without its parts");
	for (i = 0; i < s->ncols; i++) {
		const struct tag_schema_col *c = &s->cols[i];
		int slot = 0;

		if (c->name == NULL || c->name[0] == '\0')
			die("a column without a name");
		for (j = 0; j < i; j++) {
			if (strcmp(s->cols[j].name, c->name) == 0)
				die("a column twice");
			if (c->role == TAG_ROLE_TAG && s->cols[j].role == TAG_ROLE_TAG &&
			    strcmp(s->cols[j].category, c->category) == 0)
				slot++;
		}
		if (c->role == TAG_ROLE_NONE && (c->reason == NULL || c->reason[0] == '\0'))
			die("none without a reason");
		if (c->role != TAG_ROLE_NONE && c->reason != NULL)
			die("a reason on a column that is not none");
		if (c->role == TAG_ROLE_SUBJECT) {
			nsubj++;
			if (s->subject != (int)i)
				die("subject index");
		}
		if (c->role == TAG_ROLE_TAG) {
			ntag++;
			if (c->slot != slot)
				die("slot");
		}
	}
	if (nsubj > 1 || (ntag > 0 && nsubj != 1) || ntag != s->ntagged)
		die("subject or tag counts");
	piitag_schema_free(s);
	return 0;
}
