/*
 * config.h - JSON configuration files, loaded strictly.
 *
 * A config section is described by a table of pii_cfg_field rows; applying
 * it to a JSON object fills a struct and rejects unknown keys, wrong types,
 * out-of-range numbers and missing required keys, naming the JSON path.
 */
#ifndef PII_CONFIG_H
#define PII_CONFIG_H

#include <stddef.h>
#include <jansson.h>

#include "err.h"

#define PII_CONFIG_MAX_BYTES (1024 * 1024)

enum pii_cfg_kind {
	PII_CFG_STRING,   /* char * (new, strdup'ed; caller frees), max = max length */
	PII_CFG_INT,      /* long long, range [min, max] */
	PII_CFG_BOOL,     /* int, 0 or 1 */
	PII_CFG_CUSTOM,   /* parse(value, dst + offset, path, ei) */
};

struct pii_cfg_field {
	const char *key;
	enum pii_cfg_kind kind;
	size_t offset;
	int required;
	long long min, max;
	int (*parse)(const json_t *value, void *dst, const char *path,
	    struct pii_errinfo *ei);
};

/* Read and strictly parse a JSON file (at most PII_CONFIG_MAX_BYTES) into
 * *out (new reference).  ei->field is empty; ei->message names the file
 * position. */
int pii_config_read_file(const char *path, json_t **out, struct pii_errinfo *ei);

/* Apply fields (terminated by a row with key NULL) to obj, an object at JSON
 * path `path` ("" for the top level), filling dst. */
int pii_config_apply(const json_t *obj, const struct pii_cfg_field *fields,
    void *dst, const char *path, struct pii_errinfo *ei);

/* Read a whole small file (a PEM, a token) into a new NUL-terminated buffer.
 * max bounds its size; *out is released with free() (or wiped first if the
 * content is secret). */
/* A listener section {"address": "...", "port": N}. */
struct pii_cfg_listen {
	char *address;
	long long port;
};
/* A TLS section {"cert_file", "key_file", "client_ca_file"?}: three
 * consecutive char * fields in the destination. */
struct pii_cfg_tls {
	char *cert_file, *key_file, *client_ca_file;
};
/* PII_CFG_CUSTOM parsers for those two sections. */
int pii_cfg_parse_listen(const json_t *v, void *dst, const char *path,
    struct pii_errinfo *ei);
int pii_cfg_parse_tls(const json_t *v, void *dst, const char *path,
    struct pii_errinfo *ei);

int pii_read_small_file(const char *path, size_t max, char **out, size_t *outlen);

#endif
