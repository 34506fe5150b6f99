/*
 * proxy_cache.c - the direct-mapped, time-bounded memo of proxy_cache.h.
 *
 * Striped locks: slot i is guarded by lock i % NLOCKS, so concurrent
 * requests rarely wait on each other.  Entries hold a digest, an expiry on
 * the monotonic clock and a small value; they are wiped when replaced and
 * when the cache is freed.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../common/err.h"
#include "proxy_cache.h"

#define NLOCKS 64

struct entry {
	unsigned char digest[PROXY_CACHE_DIGEST];
	long long expires_ms;        /* 0: empty */
	size_t len;
	unsigned char value[PROXY_CACHE_VALUE];
};

struct proxy_cache {
	pthread_mutex_t locks[NLOCKS];
	struct entry *slots;
	size_t n;
	long long ttl_ms;
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t
slot_of(const struct proxy_cache *c, const unsigned char *d)
{
	uint64_t h;

	memcpy(&h, d, sizeof(h));
	return (size_t)(h % c->n);
}

int
proxy_cache_new(size_t slots, long long ttl_ms, struct proxy_cache **out)
{
	struct proxy_cache *c;
	size_t i;

	if (slots == 0 || slots > (1u << 24) || ttl_ms < 0)
		return PII_ERR_RANGE;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return PII_ERR_NOMEM;
	if ((c->slots = calloc(slots, sizeof(*c->slots))) == NULL) {
		free(c);
		return PII_ERR_NOMEM;
	}
	for (i = 0; i < NLOCKS; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	c->n = slots;
	c->ttl_ms = ttl_ms;
	*out = c;
	return 0;
}

void
proxy_cache_free(struct proxy_cache *c)
{
	size_t i;

	if (c == NULL)
		return;
	sodium_memzero(c->slots, c->n * sizeof(*c->slots));
	free(c->slots);
	for (i = 0; i < NLOCKS; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c);
}

int
proxy_cache_get(struct proxy_cache *c,
    const unsigned char digest[PROXY_CACHE_DIGEST], void *out, size_t cap)
{
	size_t i;
	struct entry *e;
	int hit = 0;

	if (c == NULL || c->ttl_ms == 0)
		return 0;
	i = slot_of(c, digest);
	e = &c->slots[i];
	pthread_mutex_lock(&c->locks[i % NLOCKS]);
	if (e->expires_ms != 0 && e->expires_ms > now_ms() &&
	    sodium_memcmp(e->digest, digest, PROXY_CACHE_DIGEST) == 0 &&
	    e->len <= cap) {
		memcpy(out, e->value, e->len);
		hit = 1;
	}
	pthread_mutex_unlock(&c->locks[i % NLOCKS]);
	return hit;
}

void
proxy_cache_put(struct proxy_cache *c,
    const unsigned char digest[PROXY_CACHE_DIGEST], const void *value,
    size_t len)
{
	size_t i;
	struct entry *e;

	if (c == NULL || c->ttl_ms == 0 || len > PROXY_CACHE_VALUE)
		return;
	i = slot_of(c, digest);
	e = &c->slots[i];
	pthread_mutex_lock(&c->locks[i % NLOCKS]);
	sodium_memzero(e, sizeof(*e));
	memcpy(e->digest, digest, PROXY_CACHE_DIGEST);
	memcpy(e->value, value, len);
	e->len = len;
	e->expires_ms = now_ms() + c->ttl_ms;
	pthread_mutex_unlock(&c->locks[i % NLOCKS]);
}
