/*
 * testfiles.h - a scratch directory and whole-file helpers shared by the
 * unit tests that write key files (header-only: each test is one program).
 */
#ifndef PIIV_TESTFILES_H
#define PIIV_TESTFILES_H

#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/keyfile.h"

#define TF_UNUSED __attribute__((unused))

static char dir[64];

/* Make the scratch directory /tmp/PREFIX??????; exit 2 if impossible. */
static TF_UNUSED void
test_dir_make(const char *prefix)
{
	if (pii_temp_template(dir, sizeof(dir), prefix) != 0 ||
	    mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
}

/* Remove the scratch directory and the files in it. */
static TF_UNUSED void
remove_dir(void)
{
	char p[512];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

/* The whole file, NUL-terminated, its length in *len (may be NULL); NULL
 * if unreadable. */
static TF_UNUSED char *
slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf != NULL && len != NULL)
		*len = (size_t)n;
	return buf;
}

/* Write data to a new file path of the given mode. */
static TF_UNUSED int
spit(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd;
	ssize_t w;

	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL, mode);
	if (fd < 0)
		return -1;
	w = write(fd, data, len);
	fchmod(fd, mode);
	close(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static TF_UNUSED mode_t
file_mode(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return (mode_t)-1;
	return st.st_mode & 07777;
}

#endif
