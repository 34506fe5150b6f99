/*
 * metrics.h - request counters and latency histograms in Prometheus text.
 *
 * Labels are bounded by construction: a route is a static string chosen by
 * the handler ("tokenize"), never a URL (which could hold a token) and never
 * a value.  Thread-safe.
 */
#ifndef PII_METRICS_H
#define PII_METRICS_H

#include <stddef.h>

#define PII_METRICS_MAX_ROUTES 48

struct pii_metrics;

/* *out is new; release with pii_metrics_free (accepts NULL). */
int pii_metrics_new(const char *prefix, struct pii_metrics **out);
void pii_metrics_free(struct pii_metrics *m);

/* Count one request of route (static string) answered with status after
 * seconds.  Routes beyond PII_METRICS_MAX_ROUTES are counted as "other". */
void pii_metrics_observe(struct pii_metrics *m, const char *route,
    unsigned int status, double seconds);

/* Append the Prometheus text of m to *buf (a malloc'ed, NUL-terminated
 * buffer of *len bytes, grown as needed). */
int pii_metrics_render(struct pii_metrics *m, char **buf, size_t *len);

/* Append a printf-formatted line to a render buffer (for gauges a daemon adds). */
int pii_metrics_appendf(char **buf, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
