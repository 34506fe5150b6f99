/*
 * log.h - PII-free logging for daemons and commands.
 *
 * Only mains log (libraries return codes).  A log line names events, field
 * names, error codes, tokens and request ids; it never carries a value that
 * came from a request body or the database.  Lines go to stderr as
 *   2026-11-22T03:40:00Z pii-vault[1234] info: event key=value ...
 */
#ifndef PII_LOG_H
#define PII_LOG_H

enum pii_log_level {
	PII_LOG_DEBUG = 0,
	PII_LOG_INFO = 1,
	PII_LOG_WARN = 2,
	PII_LOG_ERROR = 3,
};

/* Program name (borrowed; must outlive logging) and the lowest level printed. */
void pii_log_setup(const char *program, int min_level);
/* Parse "debug" | "info" | "warn" | "error"; PII_ERR_CONFIG otherwise. */
int pii_log_level_parse(const char *name, int *level);
void pii_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
