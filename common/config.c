/*
 * config.c - table-driven, strict loading of JSON configuration.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "json_util.h"

int
pii_read_small_file(const char *path, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	ssize_t n;
	int fd, r = PII_ERR_IO;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return PII_ERR_IO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		goto out;
	if ((size_t)st.st_size > max) {
		r = PII_ERR_TOO_LARGE;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto out;
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = got;
	buf = NULL;
	r = 0;
out:
	free(buf);
	close(fd);
	return r;
}

int
pii_config_read_file(const char *path, json_t **out, struct pii_errinfo *ei)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = pii_read_small_file(path, PII_CONFIG_MAX_BYTES, &text, &len);
	if (r == PII_ERR_TOO_LARGE)
		return pii_errinfo_set(ei, r, NULL, "%s: larger than %d bytes",
		    path, PII_CONFIG_MAX_BYTES);
	if (r != 0)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "%s: cannot read: %s", path, strerror(errno));
	r = pii_json_parse(text, len, 32, out, ei);
	free(text);
	if (r != 0) {
		char msg[PII_ERR_MAX_MESSAGE];

		snprintf(msg, sizeof(msg), "%s", ei != NULL ? ei->message : "");
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "%s: %s", path, msg);
	}
	return 0;
}

int
pii_config_apply(const json_t *obj, const struct pii_cfg_field *fields,
    void *dst, const char *path, struct pii_errinfo *ei)
{
	const char *allowed[64];
	char p[PII_ERR_MAX_FIELD];
	size_t i, n = 0;
	int r;

	if (!json_is_object(obj))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, path,
		    "must be an object");
	for (i = 0; fields[i].key != NULL && n < 63; i++)
		allowed[n++] = fields[i].key;
	allowed[n] = NULL;
	if ((r = pii_json_check_keys(obj, allowed, path, ei)) != 0) {
		char field[PII_ERR_MAX_FIELD];

		snprintf(field, sizeof(field), "%s", ei != NULL ? ei->field : path);
		return pii_errinfo_set(ei, PII_ERR_CONFIG, field,
		    "unknown configuration key");
	}

	for (i = 0; fields[i].key != NULL; i++) {
		const struct pii_cfg_field *f = &fields[i];
		char *slot = (char *)dst + f->offset;
		json_t *v = json_object_get(obj, f->key);

		pii_json_path_key(p, sizeof(p), path, f->key);
		if (v == NULL) {
			if (f->required)
				return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
				    "is required");
			continue;
		}
		switch (f->kind) {
		case PII_CFG_STRING: {
			char *s;

			if (!json_is_string(v))
				return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
				    "must be a string");
			if (f->max > 0 && json_string_length(v) > (size_t)f->max)
				return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
				    "longer than %lld bytes", f->max);
			s = strdup(json_string_value(v));
			if (s == NULL)
				return PII_ERR_NOMEM;
			free(*(char **)slot);
			*(char **)slot = s;
			break;
		}
		case PII_CFG_INT: {
			long long x;

			if (!json_is_integer(v))
				return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
				    "must be an integer");
			x = (long long)json_integer_value(v);
			if (x < f->min || x > f->max)
				return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
				    "must be between %lld and %lld", f->min, f->max);
			*(long long *)slot = x;
			break;
		}
		case PII_CFG_BOOL:
			if (!json_is_boolean(v))
				return pii_errinfo_set(ei, PII_ERR_CONFIG, p,
				    "must be true or false");
			*(int *)slot = json_is_true(v);
			break;
		case PII_CFG_CUSTOM:
			if ((r = f->parse(v, slot, p, ei)) != 0)
				return r;
			break;
		}
	}
	return 0;
}

int
pii_cfg_parse_listen(const json_t *v, void *dst, const char *path,
    struct pii_errinfo *ei)
{
	static const struct pii_cfg_field f[] = {
		{ "address", PII_CFG_STRING, offsetof(struct pii_cfg_listen, address), 1, 0, 64, NULL },
		{ "port", PII_CFG_INT, offsetof(struct pii_cfg_listen, port), 1, 0, 65535, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};

	return pii_config_apply(v, f, dst, path, ei);
}

int
pii_cfg_parse_tls(const json_t *v, void *dst, const char *path,
    struct pii_errinfo *ei)
{
	static const struct pii_cfg_field f[] = {
		{ "cert_file", PII_CFG_STRING, offsetof(struct pii_cfg_tls, cert_file), 1, 0, 4096, NULL },
		{ "key_file", PII_CFG_STRING, offsetof(struct pii_cfg_tls, key_file), 1, 0, 4096, NULL },
		{ "client_ca_file", PII_CFG_STRING, offsetof(struct pii_cfg_tls, client_ca_file), 0, 0, 4096, NULL },
		{ NULL, 0, 0, 0, 0, 0, NULL },
	};

	return pii_config_apply(v, f, dst, path, ei);
}
