/*
 * proxy_cache.h - a small, fixed-size, time-bounded memo of answers the
 * proxy database already gave: which person and role an API key names, and
 * which subjects a person saw in the last minutes.
 *
 * Direct-mapped: each entry is found by a 32-byte digest (of the API key,
 * or of person and subject key), compared in constant time, and replaced
 * by whatever lands on its slot later.  An entry is only ever stored after
 * the database confirmed it, and it lives at most its TTL: a revoked key
 * keeps working for at most that long on a proxy that verified it just
 * before, and a sighting is remembered no longer than the database would
 * count it anyway.  Memory is fixed at creation; nothing here logs.
 */
#ifndef PROXY_CACHE_H
#define PROXY_CACHE_H

#include <stddef.h>

#define PROXY_CACHE_DIGEST 32
#define PROXY_CACHE_VALUE 192

struct proxy_cache;

/* slots entries living ttl_ms each.  ttl_ms 0: a cache that keeps
 * nothing.  *out is new; proxy_cache_free accepts NULL and wipes. */
int proxy_cache_new(size_t slots, long long ttl_ms, struct proxy_cache **out);
void proxy_cache_free(struct proxy_cache *c);

/* 1 and value copied into out (cap bytes) if digest is present and fresh;
 * else 0. */
int proxy_cache_get(struct proxy_cache *c,
    const unsigned char digest[PROXY_CACHE_DIGEST], void *out, size_t cap);
/* Remember value (at most PROXY_CACHE_VALUE bytes) under digest. */
void proxy_cache_put(struct proxy_cache *c,
    const unsigned char digest[PROXY_CACHE_DIGEST], const void *value,
    size_t len);

#endif
