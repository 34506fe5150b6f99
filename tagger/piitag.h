/*
 * piitag.h - libpiitag, the ETL hook of piivault.
 *
 * A job streams a dataset (CSV or JSON Lines) through the tagger.  A dataset
 * schema, committed by a person, says which column names the data subject
 * and which columns hold which category of personal data; every other column
 * must not look like personal data, or carry an explicit "none" with a
 * reason.  Tagged values go to the vault (POST /v1/tokenize, in batches, over
 * HTTPS) and the rows continue with tokens in their place.
 *
 *   piitag_init()                          once per process, before threads
 *   piitag_schema_load() / _free()         the committed schema
 *   piitag_scan()                          propose a schema from a sample
 *   piitag_run()                           check, tokenize, write rows
 *   piitag_manifest()                      describe a run (JSON)
 *
 * Every function returns 0 or a negative PII_ERR_* code (common/err.h) and
 * then fills a struct piitag_error.  Nothing here logs, prints or exits, and
 * no message ever contains a value read from the data: messages name lines,
 * columns, detectors and rules.
 *
 * Ownership: *_free() releases what *_load()/_new made and accepts NULL;
 * strings handed back through char ** are malloc'd and the caller frees them.
 */
#ifndef PIITAG_H
#define PIITAG_H

#include <stddef.h>
#include <stdio.h>

#define PIITAG_NAME_MAX 256        /* column name bytes, including the NUL */
#define PIITAG_CATEGORY_MAX 32

enum piitag_format { PIITAG_CSV = 0, PIITAG_JSONL = 1 };

struct piitag_error {
	int code;                        /* PII_ERR_* (negative) */
	unsigned long long line;         /* input line, 0 when not about one */
	char column[PIITAG_NAME_MAX];    /* column, "" when not about one */
	char msg[512];                   /* one sentence, no data values */
};

/* Set up libcurl.  Call once before any other function, while the process
 * has one thread.  0 or PII_ERR_INTERNAL. */
int piitag_init(void);

/* ---- schema ------------------------------------------------------------------ */
struct piitag_schema;

/* Read and validate a schema file (JSON; see docs/tagger.md).  A schema
 * that pii-tag scan proposed and nobody reviewed ("proposed": true) loads,
 * but piitag_run refuses it. */
int piitag_schema_load(const char *path, struct piitag_schema **out,
    struct piitag_error *err);
int piitag_schema_parse(const char *text, size_t len, struct piitag_schema **out,
    struct piitag_error *err);
void piitag_schema_free(struct piitag_schema *s);
/* The schema's dataset name (borrowed). */
const char *piitag_schema_dataset(const struct piitag_schema *s);
/* 1 and *fmt when the schema names its format, else 0. */
int piitag_schema_format(const struct piitag_schema *s, enum piitag_format *fmt);

/* ---- findings ------------------------------------------------------------------ */
/* One column that looks like personal data, with its evidence. */
struct piitag_finding {
	char column[PIITAG_NAME_MAX];
	char category[PIITAG_CATEGORY_MAX];  /* proposed vault category */
	char detector[16];                   /* "email", ... or "" (name hint only) */
	char hint[PIITAG_CATEGORY_MAX];      /* category the name hints at, or "" */
	double share;                        /* matched / sample */
	unsigned long long matched, sample;
};

/* ---- scan -------------------------------------------------------------------- */
struct piitag_scan_opts {
	enum piitag_format format;
	unsigned long long sample;   /* rows to look at; 0: all of them */
	double threshold;            /* share of values that makes a column PII (0.3) */
	size_t max_record;           /* bytes per record or line (1 MiB) */
	const char *dataset;         /* the proposed schema's dataset name, or NULL */
};

/* Read up to o->sample rows of in and make a proposed schema: every column
 * that looks like personal data with its category and evidence, a proposed
 * subject column when a name suggests one, "proposed": true.  *json is a
 * malloc'd NUL-terminated string. */
int piitag_scan(FILE *in, const struct piitag_scan_opts *o, char **json,
    struct piitag_error *err);

/* ---- run --------------------------------------------------------------------- */
struct piitag_vault_opts {
	const char *url;             /* https://vault:8443 */
	const char *cacert;          /* CA bundle file, or NULL for the system's */
	const char *token;           /* bearer service token, or NULL */
	const char *cert, *key;      /* client certificate and key files, or NULL */
	long timeout_ms;             /* per request (60000) */
	int retries;                 /* extra attempts per batch (6) */
	long retry_ms;               /* first back-off (200), doubled up to 5 s */
};

struct piitag_run_opts {
	enum piitag_format format;
	const struct piitag_schema *schema;
	const char *purpose;         /* the job's purpose, or NULL */
	size_t batch_rows;           /* rows per vault batch (1000) */
	int parallel;                /* batches in flight (2) */
	unsigned long long sample;   /* rows checked before anything is sent (1000) */
	double threshold;            /* as in scan (0.3) */
	size_t max_record;           /* bytes per record or line (1 MiB) */
	const char *run_id;          /* batch ids are RUNID-N; NULL: a new one */
	int check_only;              /* check the input against the schema only:
	                              * no vault, no output */
	struct piitag_vault_opts vault;
};

struct piitag_column_report {
	char name[PIITAG_NAME_MAX];
	char category[PIITAG_CATEGORY_MAX];  /* "subject", a category, "none" or "" (untagged) */
	unsigned long long tokenized;        /* values replaced by tokens */
	unsigned long long empty;            /* empty or null values left as they were */
};

struct piitag_report {
	char run_id[64];
	char started[32], ended[32];         /* RFC 3339 UTC */
	unsigned long long rows_in, rows_out;
	unsigned long long values_tokenized; /* values sent and replaced */
	unsigned long long stored, existing; /* the vault's counts */
	unsigned long long dropped_erased, dropped_objection;
	unsigned long long batches, retries;
	size_t ncolumns;
	struct piitag_column_report *columns;
	size_t nfindings;                    /* untagged columns that look like PII */
	struct piitag_finding *findings;
};

/* Defaults for every field but schema and vault.url. */
void piitag_run_opts_init(struct piitag_run_opts *o);

/* Stream in to out.  Before anything is sent or written, the first o->sample
 * rows are checked: a column that looks like personal data but is neither
 * tagged nor "none" fails the run with PII_ERR_BAD_REQUEST and one finding
 * per such column in rep->findings (the check goes on over every later row;
 * a column that turns out to look like PII by the end fails the run too, and
 * the caller must then discard what was written).  Rows of erased subjects
 * are dropped, and with o->purpose those of subjects objecting to it; both
 * are counted.  rep is filled on success and, as far as the run got, on
 * failure; release it with piitag_report_free. */
int piitag_run(const struct piitag_run_opts *o, FILE *in, FILE *out,
    struct piitag_report *rep, struct piitag_error *err);
void piitag_report_free(struct piitag_report *rep);

/* The run's manifest: dataset, columns and categories, counts, DataHub-style
 * schema field tags and an OpenLineage-style run event.  *json malloc'd. */
int piitag_manifest(const struct piitag_run_opts *o,
    const struct piitag_report *rep, const char *input_name,
    const char *output_name, char **json, struct piitag_error *err);

#endif
