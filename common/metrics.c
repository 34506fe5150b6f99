/*
 * metrics.c - fixed-size tables of counters and histograms behind one mutex.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "metrics.h"

static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1.0, 2.5, 5.0 };
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))
#define NSTATUS 12

struct route_stats {
	const char *route;
	unsigned int status[NSTATUS];
	unsigned long long status_count[NSTATUS];
	unsigned long long bucket[NBUCKETS];
	unsigned long long count;
	double sum;
};

struct pii_metrics {
	pthread_mutex_t lock;
	char prefix[32];
	size_t nroutes;
	struct route_stats routes[PII_METRICS_MAX_ROUTES];
};

int
pii_metrics_new(const char *prefix, struct pii_metrics **out)
{
	struct pii_metrics *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return PII_ERR_NOMEM;
	pthread_mutex_init(&m->lock, NULL);
	snprintf(m->prefix, sizeof(m->prefix), "%s", prefix);
	*out = m;
	return 0;
}

void
pii_metrics_free(struct pii_metrics *m)
{
	if (m == NULL)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct route_stats *
route_find(struct pii_metrics *m, const char *route)
{
	size_t i;

	for (i = 0; i < m->nroutes; i++)
		if (strcmp(m->routes[i].route, route) == 0)
			return &m->routes[i];
	if (m->nroutes < PII_METRICS_MAX_ROUTES - 1) {
		m->routes[m->nroutes].route = route;
		return &m->routes[m->nroutes++];
	}
	return route_find(m, "other");
}

void
pii_metrics_observe(struct pii_metrics *m, const char *route,
    unsigned int status, double seconds)
{
	struct route_stats *rs;
	size_t i;

	if (m == NULL)
		return;
	pthread_mutex_lock(&m->lock);
	rs = route_find(m, route != NULL ? route : "other");
	for (i = 0; i < NSTATUS; i++) {
		if (rs->status[i] == status || rs->status[i] == 0) {
			rs->status[i] = status;
			rs->status_count[i]++;
			break;
		}
	}
	for (i = 0; i < NBUCKETS; i++)
		if (seconds <= buckets[i])
			rs->bucket[i]++;
	rs->count++;
	rs->sum += seconds;
	pthread_mutex_unlock(&m->lock);
}

int
pii_metrics_appendf(char **buf, size_t *len, const char *fmt, ...)
{
	va_list ap;
	char line[512];
	char *nb;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return PII_ERR_INTERNAL;
	nb = realloc(*buf, *len + (size_t)n + 1);
	if (nb == NULL)
		return PII_ERR_NOMEM;
	memcpy(nb + *len, line, (size_t)n + 1);
	*buf = nb;
	*len += (size_t)n;
	return 0;
}

int
pii_metrics_render(struct pii_metrics *m, char **buf, size_t *len)
{
	const char *p = m->prefix;
	size_t i, j;
	int r = 0;

	pthread_mutex_lock(&m->lock);
	r |= pii_metrics_appendf(buf, len,
	    "# HELP %s_http_requests_total HTTP requests by route and status.\n"
	    "# TYPE %s_http_requests_total counter\n", p, p);
	for (i = 0; i < m->nroutes; i++)
		for (j = 0; j < NSTATUS && m->routes[i].status[j] != 0; j++)
			r |= pii_metrics_appendf(buf, len,
			    "%s_http_requests_total{route=\"%s\",status=\"%u\"} %llu\n",
			    p, m->routes[i].route, m->routes[i].status[j],
			    m->routes[i].status_count[j]);
	r |= pii_metrics_appendf(buf, len,
	    "# HELP %s_http_request_duration_seconds HTTP request latency.\n"
	    "# TYPE %s_http_request_duration_seconds histogram\n", p, p);
	for (i = 0; i < m->nroutes; i++) {
		const struct route_stats *rs = &m->routes[i];

		for (j = 0; j < NBUCKETS; j++)
			r |= pii_metrics_appendf(buf, len,
			    "%s_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
			    p, rs->route, buckets[j], rs->bucket[j]);
		r |= pii_metrics_appendf(buf, len,
		    "%s_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n"
		    "%s_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n"
		    "%s_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
		    p, rs->route, rs->count, p, rs->route, rs->sum, p, rs->route,
		    rs->count);
	}
	pthread_mutex_unlock(&m->lock);
	return r != 0 ? PII_ERR_NOMEM : 0;
}
