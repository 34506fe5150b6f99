/*
 * tag_manifest.c - the description of one tagger run, for people and catalogs.
 *
 * The manifest says what went in and out (dataset, files, columns and their
 * categories), what happened (rows in and out, values tokenized, what the
 * vault stored or already held, rows dropped and why, batches, retries), and
 * carries the column tags in two forms a catalog ingests:
 *   "datahub":     a DataHub-style schemaMetadata aspect whose fields carry
 *                  globalTags "urn:li:tag:pii.<category>"
 *   "openlineage": an OpenLineage-style COMPLETE run event whose output
 *                  dataset has a schema facet and a piivault_tags facet
 * It holds names and counts only, never a value.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../common/err.h"
#include "tag_schema.h"
#include "piitag.h"

#define PRODUCER "https://github.com/piivault/piivault/tree/main/tagger"
#define OL_SCHEMA "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"

/* A UUID (version 4 layout) derived from the run id, so the event's runId is
 * stable for one run. */
static void
run_uuid(const char *run_id, char out[37])
{
	unsigned char h[16];

	crypto_generichash(h, sizeof(h), (const unsigned char *)run_id,
	    strlen(run_id), NULL, 0);
	h[6] = (unsigned char)((h[6] & 0x0f) | 0x40);
	h[8] = (unsigned char)((h[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", h[0], h[1], h[2], h[3], h[4], h[5], h[6],
	    h[7], h[8], h[9], h[10], h[11], h[12], h[13], h[14], h[15]);
}

static json_t *
jstr_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static int
tagged(const char *cat)
{
	return cat[0] != '\0' && strcmp(cat, "none") != 0;
}

int
piitag_manifest(const struct piitag_run_opts *o,
    const struct piitag_report *rep, const char *input_name,
    const char *output_name, char **json, struct piitag_error *err)
{
	const struct piitag_schema *s = o->schema;
	json_t *root, *cols, *counts, *dh, *dhfields, *ol, *olfields, *tags;
	char uuid[37];
	size_t i;

	*json = NULL;
	root = json_object();
	cols = json_array();
	dhfields = json_array();
	olfields = json_array();
	tags = json_object();
	if (root == NULL || cols == NULL || dhfields == NULL || olfields == NULL ||
	    tags == NULL)
		goto nomem;
	for (i = 0; i < rep->ncolumns; i++) {
		const struct piitag_column_report *c = &rep->columns[i];
		json_t *jc = json_object(), *f;
		const char *role = c->category[0] == '\0' ? "untagged" :
		    strcmp(c->category, "none") == 0 ? "none" :
		    strcmp(c->category, "subject") == 0 ? "subject" : "tagged";

		json_object_set_new(jc, "name", json_string(c->name));
		json_object_set_new(jc, "category", c->category[0] ?
		    json_string(c->category) : json_null());
		json_object_set_new(jc, "role", json_string(role));
		if (tagged(c->category)) {
			char tag[64];

			json_object_set_new(jc, "tokenized", json_integer((json_int_t)c->tokenized));
			json_object_set_new(jc, "empty", json_integer((json_int_t)c->empty));
			snprintf(tag, sizeof(tag), "pii.%s", c->category);
			f = json_pack("{s:s,s:s,s:{s:[{s:s+}]}}", "fieldPath", c->name,
			    "nativeDataType", "string", "globalTags", "tags", "tag",
			    "urn:li:tag:", tag);
			json_array_append_new(dhfields, f);
			json_object_set_new(tags, c->name, json_string(tag));
			json_array_append_new(olfields, json_pack("{s:s,s:s,s:s}", "name",
			    c->name, "type", "string", "description", tag));
		} else {
			json_array_append_new(olfields, json_pack("{s:s,s:s}", "name",
			    c->name, "type", "string"));
		}
		json_array_append_new(cols, jc);
	}
	counts = json_pack("{s:I,s:I,s:I,s:I,s:I,s:{s:I,s:I},s:I,s:I}",
	    "rows_in", (json_int_t)rep->rows_in, "rows_out", (json_int_t)rep->rows_out,
	    "values_tokenized", (json_int_t)rep->values_tokenized,
	    "stored", (json_int_t)rep->stored, "existing", (json_int_t)rep->existing,
	    "dropped", "subject_erased", (json_int_t)rep->dropped_erased,
	    "objection", (json_int_t)rep->dropped_objection,
	    "batches", (json_int_t)rep->batches, "retries", (json_int_t)rep->retries);
	dh = json_pack("{s:{s:s,s:s,s:i,s:o}}", "schemaMetadata", "schemaName",
	    s->dataset, "platform", "urn:li:dataPlatform:file", "version", 0,
	    "fields", dhfields);
	dhfields = NULL;
	run_uuid(rep->run_id, uuid);
	ol = json_pack("{s:s,s:s,s:s,s:s,s:{s:s,s:{s:{s:s,s:s,s:s}}},"
	    "s:{s:s,s:s},s:[{s:s,s:s}],s:[{s:s,s:s,s:{s:{s:s,s:s,s:o},"
	    "s:{s:s,s:s,s:o}}}]}",
	    "eventType", "COMPLETE", "eventTime", rep->ended,
	    "producer", PRODUCER, "schemaURL", OL_SCHEMA,
	    "run", "runId", uuid, "facets", "piivault_run", "_producer", PRODUCER,
	    "_schemaURL", PRODUCER, "run_id", rep->run_id,
	    "job", "namespace", "piivault", "name", s->dataset,
	    "inputs", "namespace", "file", "name", input_name != NULL ? input_name : "-",
	    "outputs", "namespace", "file", "name",
	    output_name != NULL ? output_name : "-",
	    "facets", "schema", "_producer", PRODUCER, "_schemaURL",
	    "https://openlineage.io/spec/facets/1-1-1/SchemaDatasetFacet.json",
	    "fields", olfields,
	    "piivault_tags", "_producer", PRODUCER, "_schemaURL", PRODUCER,
	    "fields", tags);
	olfields = tags = NULL;
	if (counts == NULL || dh == NULL || ol == NULL) {
		json_decref(counts);
		json_decref(dh);
		json_decref(ol);
		goto nomem;
	}
	json_object_set_new(root, "manifest_version", json_integer(1));
	json_object_set_new(root, "run_id", json_string(rep->run_id));
	json_object_set_new(root, "dataset", json_string(s->dataset));
	json_object_set_new(root, "format", json_string(o->format == PIITAG_CSV ?
	    "csv" : "jsonl"));
	json_object_set_new(root, "input", jstr_or_null(input_name));
	json_object_set_new(root, "output", jstr_or_null(output_name));
	json_object_set_new(root, "purpose", jstr_or_null(o->purpose));
	json_object_set_new(root, "vault", jstr_or_null(o->vault.url));
	json_object_set_new(root, "started", json_string(rep->started));
	json_object_set_new(root, "ended", json_string(rep->ended));
	json_object_set_new(root, "columns", cols);
	cols = NULL;
	json_object_set_new(root, "counts", counts);
	json_object_set_new(root, "datahub", dh);
	json_object_set_new(root, "openlineage", ol);
	*json = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(root);
	if (*json == NULL)
		goto nomem2;
	return 0;
nomem:
	json_decref(root);
	json_decref(cols);
	json_decref(dhfields);
	json_decref(olfields);
	json_decref(tags);
nomem2:
	if (err != NULL) {
		memset(err, 0, sizeof(*err));
		err->code = PII_ERR_NOMEM;
		snprintf(err->msg, sizeof(err->msg), "cannot build the manifest");
	}
	return PII_ERR_NOMEM;
}
