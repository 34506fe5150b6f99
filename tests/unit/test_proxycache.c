/*
 * test_proxycache.c - the proxy's time-bounded memo (proxy/proxy_cache.c):
 * hits, misses, expiry, replacement on a shared slot, a cache that keeps
 * nothing, and concurrent use.
 */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "../../common/err.h"
#include "../../proxy/proxy_cache.h"
#include "tap.h"

static void
digest_of(const char *s, unsigned char d[PROXY_CACHE_DIGEST])
{
	crypto_generichash(d, PROXY_CACHE_DIGEST, (const unsigned char *)s,
	    strlen(s), NULL, 0);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static struct proxy_cache *shared;

static void *
hammer(void *arg)
{
	unsigned char d[PROXY_CACHE_DIGEST];
	char key[32], got[32];
	int i, bad = 0;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "t%d-%d", *(int *)arg, i % 97);
		digest_of(key, d);
		proxy_cache_put(shared, d, key, strlen(key) + 1);
		if (proxy_cache_get(shared, d, got, sizeof(got)) &&
		    strcmp(got, key) != 0)
			bad++;
	}
	*(int *)arg = bad;
	return NULL;
}

int
main(void)
{
	struct proxy_cache *c = NULL, *none = NULL, *one = NULL;
	unsigned char a[PROXY_CACHE_DIGEST], b[PROXY_CACHE_DIGEST];
	char out[PROXY_CACHE_VALUE];
	pthread_t th[4];
	int ids[4], i, bad = 0;

	if (sodium_init() < 0)
		return 1;
	digest_of("alice", a);
	digest_of("bob", b);
	CHECK(proxy_cache_new(1024, 60000, &c) == 0, "new");
	CHECK(!proxy_cache_get(c, a, out, sizeof(out)), "empty: miss");
	proxy_cache_put(c, a, "v-alice", 8);
	CHECK(proxy_cache_get(c, a, out, sizeof(out)) && strcmp(out, "v-alice") == 0,
	    "put then get: hit with the value");
	CHECK(!proxy_cache_get(c, b, out, sizeof(out)), "another digest: miss");
	CHECK(!proxy_cache_get(c, a, out, 4), "a value larger than cap: miss");
	proxy_cache_put(c, a, "v-alice-2", 10);
	CHECK(proxy_cache_get(c, a, out, sizeof(out)) && strcmp(out, "v-alice-2") == 0,
	    "put again: the new value");
	{
		char big[PROXY_CACHE_VALUE + 1];

		memset(big, 'x', sizeof(big));
		proxy_cache_put(c, b, big, sizeof(big));
		CHECK(!proxy_cache_get(c, b, out, sizeof(out)),
		    "a value over PROXY_CACHE_VALUE is not stored");
	}
	proxy_cache_free(c);

	/* one slot: the second digest replaces the first */
	CHECK(proxy_cache_new(1, 60000, &one) == 0, "new, one slot");
	proxy_cache_put(one, a, "A", 2);
	proxy_cache_put(one, b, "B", 2);
	CHECK(!proxy_cache_get(one, a, out, sizeof(out)), "one slot: the first is replaced");
	CHECK(proxy_cache_get(one, b, out, sizeof(out)) && strcmp(out, "B") == 0,
	    "one slot: the second is there");
	proxy_cache_free(one);

	/* expiry: an entry lives at most its TTL */
	CHECK(proxy_cache_new(64, 20, &c) == 0, "new, 20 ms");
	proxy_cache_put(c, a, "A", 2);
	sleep_ms(200);
	CHECK(!proxy_cache_get(c, a, out, sizeof(out)), "expired: miss");
	proxy_cache_free(c);

	CHECK(proxy_cache_new(64, 0, &none) == 0, "new, TTL 0");
	proxy_cache_put(none, a, "A", 2);
	CHECK(!proxy_cache_get(none, a, out, sizeof(out)), "TTL 0 keeps nothing");
	proxy_cache_free(none);
	CHECK(proxy_cache_new(0, 1000, &none) == PII_ERR_RANGE, "zero slots: refused");
	CHECK(proxy_cache_new(8, -1, &none) == PII_ERR_RANGE, "negative TTL: refused");
	proxy_cache_free(NULL);

	CHECK(proxy_cache_new(256, 60000, &shared) == 0, "new, shared");
	for (i = 0; i < 4; i++) {
		ids[i] = i;
		pthread_create(&th[i], NULL, hammer, &ids[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += ids[i];
	}
	CHECK(bad == 0, "4 threads: every hit holds the value of its own digest (%d bad)", bad);
	proxy_cache_free(shared);
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
