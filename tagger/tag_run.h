/*
 * tag_run.h - helpers shared inside libpiitag (not part of piitag.h).
 */
#ifndef TAG_RUN_H
#define TAG_RUN_H

#include <stddef.h>

/* The current UTC time as "2026-11-30T01:02:03Z" into buf. */
void tag_now_rfc3339(char *buf, size_t cap);

#endif
