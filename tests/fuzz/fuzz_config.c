/*
 * fuzz_config.c - libFuzzer target for vault_config_load, the strict loader
 * of pii-vault's JSON configuration (common/config.c + vault/vault_config.c).
 *
 * The input is written to an anonymous O_TMPFILE file in /tmp (reached by
 * path through /proc/self/fd/N, so nothing is left behind even after a
 * crash); without O_TMPFILE support a mkstemp file is used and unlinked at
 * exit.  Each run loads it and frees the result.  On success the config must
 * hold what vault_config.h promises: the required keys, ports and limits in
 * range, at most VAULT_MAX_IDENTITIES identities each with a name, a
 * credential and operations, and plain HTTP only on loopback.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/err.h"
#include "../../common/http.h"
#include "../../common/json_util.h"
#include "../../common/keyfile.h"
#include "../../vault/vault_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int tmp_fd = -1;
static char tmp_path[64];
static char tmp_unlink[64];   /* mkstemp fallback: removed at exit */

static void
remove_tmp(void)
{
	if (tmp_unlink[0] != '\0')
		unlink(tmp_unlink);
}

static void
open_tmp(void)
{
	tmp_fd = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (tmp_fd >= 0) {
		snprintf(tmp_path, sizeof(tmp_path), "/proc/self/fd/%d", tmp_fd);
		return;
	}
	(void)pii_temp_template(tmp_unlink, sizeof(tmp_unlink), "/tmp/fuzz_config.");
	tmp_fd = mkstemp(tmp_unlink);
	if (tmp_fd < 0) {
		perror("fuzz_config: mkstemp");
		abort();
	}
	snprintf(tmp_path, sizeof(tmp_path), "%s", tmp_unlink);
	atexit(remove_tmp);
}

static void
write_tmp(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (ftruncate(tmp_fd, 0) != 0)
		abort();
	while (off < size) {
		ssize_t n = pwrite(tmp_fd, data + off, size - off, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			abort();
		off += (size_t)n;
	}
}

static void
check_config(const struct vault_config *c)
{
	size_t i;

	if (c->listen.address == NULL || c->root_key_file == NULL ||
	    c->keystore_file == NULL || c->database == NULL ||
	    c->audit_database == NULL || c->writer == NULL)
		abort();
	if (c->listen.port < 0 || c->listen.port > 65535)
		abort();
	if (c->has_admin && (c->admin_listen.address == NULL ||
	    c->admin_listen.port < 0 || c->admin_listen.port > 65535))
		abort();
	if (c->threads < 1 || c->threads > 256 || c->max_json_depth < 4 ||
	    c->max_json_depth > 64 || c->max_value_bytes < 16 ||
	    c->max_body_bytes < 1024 || c->max_batch_records < 1)
		abort();
	if (c->tls_cert_file == NULL && (!pii_http_is_loopback(c->listen.address) ||
	    (c->has_admin && !pii_http_is_loopback(c->admin_listen.address))))
		abort();
	if ((c->tls_cert_file == NULL) != (c->tls_key_file == NULL))
		abort();
	if (c->categories.ncustom > VAULT_MAX_CUSTOM_CATEGORIES)
		abort();
	for (i = 0; i < c->categories.ncustom; i++)
		if (vault_category_name_valid(c->categories.custom[i]) != 0)
			abort();
	if (c->nidentities > VAULT_MAX_IDENTITIES)
		abort();
	for (i = 0; i < c->nidentities; i++) {
		const struct vault_identity *id = &c->identities[i];

		if (memchr(id->name, '\0', sizeof(id->name)) == NULL ||
		    memchr(id->cert_name, '\0', sizeof(id->cert_name)) == NULL)
			abort();
		if (!id->has_token && id->cert_name[0] == '\0')
			abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int inited;
	struct vault_config *cfg = NULL;
	struct pii_errinfo ei;
	int r;

	if (!inited) {
		pii_json_init();
		open_tmp();
		inited = 1;
	}
	write_tmp(data, size);
	pii_errinfo_clear(&ei);
	r = vault_config_load(tmp_path, &cfg, &ei);
	if (r == 0) {
		if (cfg == NULL)
			abort();
		check_config(cfg);
	} else {
		if (r > 0 || cfg != NULL)
			abort();
		if (memchr(ei.field, '\0', sizeof(ei.field)) == NULL ||
		    memchr(ei.message, '\0', sizeof(ei.message)) == NULL)
			abort();
	}
	vault_config_free(cfg);
	return 0;
}
