/*
 * keyfile.c - files that hold keys: permission checks, complete reads and
 * writes, atomic durable replacement (shared by the vault's keystore and
 * the audit log's signing key).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keyfile.h"

int
pii_temp_template(char *out, size_t cap, const char *prefix)
{
	size_t n = strlen(prefix), i;

	if (cap < n + 7)
		return -1;
	memcpy(out, prefix, n);
	for (i = 0; i < 6; i++)
		out[n + i] = 'X';
	out[n + 6] = '\0';
	return 0;
}

const char *
pii_errno_text(int e, char *buf, size_t cap)
{
	/* GNU strerror_r: returns the text, maybe not in buf. */
	return strerror_r(e, buf, cap);
}

/* Refuse fd unless it is a regular file owned by us (or root) without any
 * group or other permission bit. */
int
pii_keyfile_check(int fd, const char *what, const char *path, struct stat *st,
    struct pii_errinfo *ei)
{
	char eb[128];

	if (fstat(fd, st) != 0)
		return pii_errinfo_set(ei, PII_ERR_IO, NULL, "%s %.160s: stat: %s",
		    what, path, pii_errno_text(errno, eb, sizeof(eb)));
	if (!S_ISREG(st->st_mode))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "%s %.160s: not a regular file", what, path);
	if ((st->st_mode & 077) != 0)
		return pii_errinfo_set(ei, PII_ERR_PERM, NULL,
		    "%s %.160s: mode must be 0600 (readable by group or others)",
		    what, path);
	if (st->st_uid != geteuid() && st->st_uid != 0)
		return pii_errinfo_set(ei, PII_ERR_PERM, NULL,
		    "%s %.160s: must be owned by the user running the vault",
		    what, path);
	return 0;
}

int
pii_read_all(int fd, unsigned char *buf, size_t want, size_t *got)
{
	size_t n = 0;
	ssize_t r;

	while (n < want) {
		r = read(fd, buf + n, want - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		n += (size_t)r;
	}
	*got = n;
	return 0;
}

int
pii_write_all(int fd, const void *data, size_t len)
{
	const unsigned char *p = data;
	ssize_t w;

	while (len > 0) {
		w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so a create or rename is durable. */
int
pii_fsync_dir_of(const char *path)
{
	char *dir;
	char *slash;
	int fd, r = -1;

	if ((dir = strdup(path)) == NULL)
		return -1;
	slash = strrchr(dir, '/');
	if (slash == NULL) {
		dir[0] = '.';
		dir[1] = '\0';
	} else if (slash == dir) {
		slash[1] = '\0';
	} else {
		*slash = '\0';
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		r = fsync(fd);
		close(fd);
	}
	free(dir);
	return r;
}

/* Write data to path through a temporary file of mode 0600 in the same
 * directory: fsync, then link (exclusive: fails if path exists) or rename,
 * then fsync the directory. */
int
pii_write_file_atomic(const char *path, const char *what, const void *data,
    size_t len, int exclusive, struct pii_errinfo *ei)
{
	char eb[128];
	char *tmp = NULL;
	size_t plen = strlen(path);
	int fd = -1, r = PII_ERR_IO, e, have_tmp = 0;

	if ((tmp = malloc(plen + sizeof(".tmp.") + 6)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	memcpy(tmp, path, plen);
	(void)pii_temp_template(tmp + plen, sizeof(".tmp.") + 6, ".tmp.");
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "%s %.160s: "
		    "create temporary file: %s", what, path,
		    pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	have_tmp = 1;
	if (fchmod(fd, 0600) != 0 || pii_write_all(fd, data, len) != 0 ||
	    fsync(fd) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "%s %.160s: "
		    "write: %s", what, path,
		    pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "%s %.160s: "
		    "close: %s", what, path,
		    pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	if (exclusive) {
		if (link(tmp, path) != 0) {
			e = errno;
			r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "%s %.160s: %s",
			    what, path, e == EEXIST ? "already exists" :
			    pii_errno_text(e, eb, sizeof(eb)));
			goto out;
		}
		/* have_tmp stays set: the temporary name is unlinked below. */
	} else {
		if (rename(tmp, path) != 0) {
			r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "%s %.160s: "
			    "rename: %s", what, path, pii_errno_text(errno, eb, sizeof(eb)));
			goto out;
		}
		have_tmp = 0;
	}
	if (have_tmp) {
		unlink(tmp);
		have_tmp = 0;
	}
	if (pii_fsync_dir_of(path) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "%s %.160s: "
		    "fsync directory: %s", what, path,
		    pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (have_tmp)
		unlink(tmp);
	free(tmp);
	return r;
}
