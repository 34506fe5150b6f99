/*
 * log.c - one line per event on stderr, with a UTC timestamp and the level.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

static const char *log_program = "piivault";
static int log_min_level = PII_LOG_INFO;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = { "debug", "info", "warn", "error" };

void
pii_log_setup(const char *program, int min_level)
{
	if (program != NULL)
		log_program = program;
	log_min_level = min_level;
}

int
pii_log_level_parse(const char *name, int *level)
{
	int i;

	for (i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = i;
			return 0;
		}
	}
	return PII_ERR_CONFIG;
}

void
pii_log(int level, const char *fmt, ...)
{
	char stamp[32], line[1024];
	struct tm tm;
	time_t now;
	va_list ap;
	int n;

	if (level < log_min_level || level < 0 || level > PII_LOG_ERROR)
		return;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", &tm);
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	/* One fprintf per line under a lock, so threads never interleave. */
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s %s[%ld] %s: %s\n", stamp, log_program,
	    (long)getpid(), level_names[level], line);
	fflush(stderr);
	pthread_mutex_unlock(&log_lock);
}
