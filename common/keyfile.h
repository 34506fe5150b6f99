/*
 * keyfile.h - reading and writing files that hold keys: permission checks,
 * complete reads and writes, atomic durable replacement.
 */
#ifndef PII_KEYFILE_H
#define PII_KEYFILE_H

#include <stddef.h>
#include <sys/stat.h>

#include "err.h"

/* Refuse fd unless it is a regular file owned by us (or root) without any
 * group or other permission bit.  what and path name it in the message. */
int pii_keyfile_check(int fd, const char *what, const char *path,
    struct stat *st, struct pii_errinfo *ei);

/* Read up to want bytes (fewer only at end of file); -1 on a read error. */
int pii_read_all(int fd, unsigned char *buf, size_t want, size_t *got);
/* Write all of data; -1 on error. */
int pii_write_all(int fd, const void *data, size_t len);
/* fsync the directory holding path, so a create or rename is durable. */
int pii_fsync_dir_of(const char *path);

/* Write data to path through a temporary file of mode 0600 in the same
 * directory: fsync, then link (exclusive: fails if path exists) or rename,
 * then fsync the directory.  what names the file in messages. */
int pii_write_file_atomic(const char *path, const char *what, const void *data,
    size_t len, int exclusive, struct pii_errinfo *ei);

/* prefix followed by the six placeholder characters mkstemp/mkdtemp
 * replace, into out (cap bytes; truncated prefixes are refused: -1). */
int pii_temp_template(char *out, size_t cap, const char *prefix);

/* strerror_r into buf (GNU: the text may not be in buf). */
const char *pii_errno_text(int e, char *buf, size_t cap);

#endif
