/*
 * test_tagschema.c - the tagger's dataset schema parser, as a table of
 * schemas and what must come of them: accepted (with its subject, tagged
 * count and slots), or refused with a message naming the problem.
 */
#include <stdio.h>
#include <string.h>

#include "../../common/err.h"
#include "../../common/json_util.h"
#include "../../tagger/tag_schema.h"
#include "tap.h"

struct row {
	const char *name;
	const char *json;
	const char *error;     /* substring of the message; NULL: accepted */
};

static const struct row rows[] = {
	{ "minimal", "{\"dataset\":\"a\",\"columns\":[]}", NULL },
	{ "subject and tags",
	  "{\"dataset\":\"shop.customers\",\"format\":\"csv\",\"subject_prefix\":\"c:\","
	  "\"columns\":[{\"name\":\"id\",\"category\":\"subject\"},"
	  "{\"name\":\"email\",\"category\":\"email\"},"
	  "{\"name\":\"e2\",\"category\":\"email\"},"
	  "{\"name\":\"note\",\"category\":\"none\",\"reason\":\"free text\"}]}", NULL },
	{ "evidence and unflagged are kept for reviewers",
	  "{\"dataset\":\"a\",\"unflagged\":[\"x\"],\"description\":\"d\",\"version\":1,"
	  "\"columns\":[{\"name\":\"id\",\"category\":\"subject\",\"evidence\":{\"reason\":\"r\"}}]}", NULL },
	{ "not JSON", "{\"dataset\":", "JSON ends before it is complete" },
	{ "not an object", "[1,2]", "must be a JSON object" },
	{ "duplicate key", "{\"dataset\":\"a\",\"dataset\":\"b\",\"columns\":[]}", "duplicate" },
	{ "unknown key", "{\"dataset\":\"a\",\"columns\":[],\"colums\":[]}", "colums" },
	{ "no dataset", "{\"columns\":[]}", "dataset" },
	{ "dataset with a space", "{\"dataset\":\"a b\",\"columns\":[]}", "[A-Za-z0-9._:/-]" },
	{ "bad format", "{\"dataset\":\"a\",\"format\":\"xml\",\"columns\":[]}", "csv" },
	{ "no columns", "{\"dataset\":\"a\"}", "columns" },
	{ "column not an object", "{\"dataset\":\"a\",\"columns\":[1]}", "columns[0] must be an object" },
	{ "column without a name", "{\"dataset\":\"a\",\"columns\":[{\"category\":\"email\"}]}", "name" },
	{ "empty column name", "{\"dataset\":\"a\",\"columns\":[{\"name\":\"\",\"category\":\"email\"}]}", "columns[0].name" },
	{ "bad category", "{\"dataset\":\"a\",\"columns\":[{\"name\":\"x\",\"category\":\"E-mail\"}]}", "vault category" },
	{ "none without reason", "{\"dataset\":\"a\",\"columns\":[{\"name\":\"x\",\"category\":\"none\"}]}", "needs a \"reason\"" },
	{ "none with empty reason", "{\"dataset\":\"a\",\"columns\":[{\"name\":\"x\",\"category\":\"none\",\"reason\":\"\"}]}", "needs a \"reason\"" },
	{ "reason on a tagged column",
	  "{\"dataset\":\"a\",\"columns\":[{\"name\":\"id\",\"category\":\"subject\"},"
	  "{\"name\":\"x\",\"category\":\"email\",\"reason\":\"r\"}]}", "only for columns declared \"none\"" },
	{ "column twice",
	  "{\"dataset\":\"a\",\"columns\":[{\"name\":\"id\",\"category\":\"subject\"},"
	  "{\"name\":\"id\",\"category\":\"email\"}]}", "listed twice" },
	{ "two subjects",
	  "{\"dataset\":\"a\",\"columns\":[{\"name\":\"id\",\"category\":\"subject\"},"
	  "{\"name\":\"id2\",\"category\":\"subject\"}]}", "only one column can be the subject" },
	{ "tags without a subject", "{\"dataset\":\"a\",\"columns\":[{\"name\":\"x\",\"category\":\"email\"}]}", "names no subject column" },
	{ "proposed must be a boolean", "{\"dataset\":\"a\",\"proposed\":1,\"columns\":[]}", "proposed" },
	{ "version 2 unknown", "{\"dataset\":\"a\",\"version\":2,\"columns\":[]}", "version" },
	{ "control character in a name", "{\"dataset\":\"a\",\"columns\":[{\"name\":\"a\\tb\",\"category\":\"subject\"}]}", "control characters" },
};

int
main(void)
{
	size_t i;

	pii_json_init();
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct piitag_schema *s = NULL;
		struct piitag_error e;
		int r = piitag_schema_parse(rows[i].json, strlen(rows[i].json), &s, &e);

		if (rows[i].error == NULL) {
			CHECK(r == 0 && s != NULL, "schema %s: accepted", rows[i].name);
			if (r != 0)
				fprintf(stderr, "#   %s\n", e.msg);
		} else {
			CHECK(r == PII_ERR_CONFIG && s == NULL, "schema %s: refused", rows[i].name);
			CHECK(strstr(e.msg, rows[i].error) != NULL, "schema %s: the message "
			    "names it (%s)", rows[i].name, rows[i].error);
			if (strstr(e.msg, rows[i].error) == NULL)
				fprintf(stderr, "#   message: %s\n", e.msg);
		}
		piitag_schema_free(s);
	}
	{
		const char *j = rows[1].json;
		struct piitag_schema *s = NULL;
		struct piitag_error e;
		enum piitag_format f = PIITAG_JSONL;

		(void)piitag_schema_parse(j, strlen(j), &s, &e);
		CHECK(s != NULL && s->subject == 0, "the subject is column 0");
		CHECK(s != NULL && s->ntagged == 2, "two tagged columns");
		CHECK(s != NULL && s->cols[1].slot == 0 && s->cols[2].slot == 1,
		    "the second email column takes slot 1");
		CHECK(s != NULL && s->nslots == 2, "two slots");
		CHECK(s != NULL && s->cols[3].role == TAG_ROLE_NONE, "note is none");
		CHECK(s != NULL && strcmp(s->subject_prefix, "c:") == 0, "subject prefix");
		CHECK(s != NULL && piitag_schema_format(s, &f) == 1 && f == PIITAG_CSV,
		    "format csv");
		CHECK(s != NULL && strcmp(piitag_schema_dataset(s), "shop.customers") == 0,
		    "dataset");
		piitag_schema_free(s);
	}
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
