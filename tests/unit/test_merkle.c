/*
 * test_merkle.c - unit tests of audit_merkle: the RFC 6962 hashes, roots
 * and proofs against the published Certificate Transparency test vectors,
 * the compact range against whole-tree roots, every proof of every small
 * tree against a recursive reference written straight from the RFC, and
 * the verifiers against tampered proofs, sizes, indices and roots.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "../../audit/audit_merkle.h"
#include "tap.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define HB AUDIT_HASH_BYTES
/* Exhaustive proof tests cover every m < n <= SMALL_N. */
#define SMALL_N 64

typedef unsigned char hash_t[HB];

/* ---- helpers ---------------------------------------------------------- */

static void
to_hex(const unsigned char h[HB], char out[2 * HB + 1])
{
	sodium_bin2hex(out, 2 * HB + 1, h, HB);
}

/* A hex string of a table row into bytes; exits on a malformed row, which
 * is a bug of the table, not of the code under test. */
static size_t
from_hex(const char *hex, unsigned char *out, size_t cap)
{
	size_t len = 0;

	if (sodium_hex2bin(out, cap, hex, strlen(hex), NULL, &len,
	    NULL) != 0) {
		fprintf(stderr, "bad hex in table: %s\n", hex);
		exit(2);
	}
	return len;
}

static int
hash_is(const unsigned char h[HB], const char *want)
{
	char got[2 * HB + 1];

	to_hex(h, got);
	if (strcmp(got, want) != 0) {
		fprintf(stderr, "#   got  %s\n#   want %s\n", got, want);
		return 0;
	}
	return 1;
}

/* A pointer to rows of hashes, as the API takes them. */
static const hash_t *
cv(hash_t *p)
{
	return (const hash_t *)p;
}

/* n random leaf hashes (of random record bytes), or exit. */
static hash_t *
random_leaves(size_t n)
{
	hash_t *l = calloc(n ? n : 1, sizeof(*l));
	unsigned char data[48];
	size_t i;

	if (l == NULL) {
		perror("calloc");
		exit(2);
	}
	for (i = 0; i < n; i++) {
		randombytes_buf(data, sizeof(data));
		audit_merkle_leaf_hash(data, 1 + i % sizeof(data), l[i]);
	}
	return l;
}

/* ---- reference: RFC 6962 section 2.1, recursion as written ----------- */

static unsigned long long
ref_k(unsigned long long n)
{
	unsigned long long k = 1;

	while (k * 2 < n)
		k *= 2;
	return k;
}

static void
ref_mth(const hash_t *d, unsigned long long n, unsigned char out[HB])
{
	unsigned char l[HB], r[HB];
	unsigned long long k;

	if (n == 0) {
		crypto_hash_sha256(out, NULL, 0);
		return;
	}
	if (n == 1) {
		memcpy(out, d[0], HB);
		return;
	}
	k = ref_k(n);
	ref_mth(d, k, l);
	ref_mth(d + k, n - k, r);
	audit_merkle_node_hash(l, r, out);
}

static size_t
ref_path(unsigned long long m, const hash_t *d, unsigned long long n,
    hash_t *out)
{
	unsigned long long k;
	size_t len;

	if (n == 1)
		return 0;
	k = ref_k(n);
	if (m < k) {
		len = ref_path(m, d, k, out);
		ref_mth(d + k, n - k, out[len]);
	} else {
		len = ref_path(m - k, d + k, n - k, out);
		ref_mth(d, k, out[len]);
	}
	return len + 1;
}

static size_t
ref_subproof(unsigned long long m, const hash_t *d, unsigned long long n,
    int b, hash_t *out)
{
	unsigned long long k;
	size_t len;

	if (m == n) {
		if (b)
			return 0;
		ref_mth(d, n, out[0]);
		return 1;
	}
	k = ref_k(n);
	if (m <= k) {
		len = ref_subproof(m, d, k, b, out);
		ref_mth(d + k, n - k, out[len]);
	} else {
		len = ref_subproof(m - k, d + k, n - k, 0, out);
		ref_mth(d, k, out[len]);
	}
	return len + 1;
}

/* ---- known answers: the CT reference tree of 8 leaves ----------------- */

static const char *const kat_input[8] = {
	"", "00", "10", "2021", "3031", "40414243",
	"5051525354555657", "606162636465666768696a6b6c6d6e6f",
};

/* kat_root[n]: MTH of the first n inputs. */
static const char *const kat_root[9] = {
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
	"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
	"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
	"aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
	"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
	"4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
	"76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
	"ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
	"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

/* Nodes of that tree: Li is leaf i, Nab..z the root of leaves a..z. */
#define L0 "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
#define L1 "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"
#define L4 "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"
#define N01 "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"
#define N23 "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"
#define N45 "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"
#define N67 "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"
#define N0123 "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"
#define N4567 "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"

/* Inclusion proofs (0-based leaf index m) and consistency proofs (m -> n). */
static const struct {
	unsigned long long m, n;
	size_t len;
	const char *hash[3];
} kat_incl[] = {
	{ 0, 1, 0, { NULL } },
	{ 0, 2, 1, { L1 } },
	{ 1, 2, 1, { L0 } },
	{ 0, 8, 3, { L1, N23, N4567 } },
	{ 5, 8, 3, { L4, N67, N0123 } },
	{ 2, 3, 1, { N01 } },
	/* Starts with L0, leaf 1's sibling (L1 is leaf 0's sibling). */
	{ 1, 5, 3, { L0, N23, L4 } },
}, kat_cons[] = {
	{ 1, 1, 0, { NULL } },
	{ 1, 8, 3, { L1, N23, N4567 } },
	{ 6, 8, 3, { N45, N67, N0123 } },
	{ 2, 5, 2, { N23, L4 } },
	{ 2, 8, 2, { N23, N4567 } },
};

static hash_t kat_leaf[8];

static void
test_kat_hashes(void)
{
	unsigned char data[16], h[HB], l[HB];
	size_t i, len;

	audit_merkle_empty_root(h);
	CHECK(hash_is(h, kat_root[0]), "empty root is SHA-256 of nothing");
	audit_merkle_leaf_hash(NULL, 0, h);
	CHECK(hash_is(h, L0), "leaf hash of \"\" is SHA-256(0x00)");

	for (i = 0; i < NELEM(kat_input); i++) {
		len = from_hex(kat_input[i], data, sizeof(data));
		audit_merkle_leaf_hash(data, len, kat_leaf[i]);
	}
	CHECK(hash_is(kat_leaf[1], L1), "leaf hash of 00");
	CHECK(hash_is(kat_leaf[4], L4), "leaf hash of 3031");

	audit_merkle_node_hash(kat_leaf[0], kat_leaf[1], h);
	CHECK(hash_is(h, N01), "node hash of leaves 0 and 1");
	/* out aliasing an input, as the range does. */
	memcpy(l, kat_leaf[0], HB);
	audit_merkle_node_hash(l, kat_leaf[1], l);
	CHECK(hash_is(l, N01), "node hash into its left input");
	memcpy(l, kat_leaf[1], HB);
	audit_merkle_node_hash(kat_leaf[0], l, l);
	CHECK(hash_is(l, N01), "node hash into its right input");
}

static void
test_kat_roots(void)
{
	struct audit_merkle_range r;
	unsigned char h[HB];
	unsigned long long n;
	int rc;

	audit_merkle_range_init(&r);
	for (n = 0; n <= 8; n++) {
		rc = audit_merkle_root(cv(kat_leaf), n, h);
		CHECK(rc == 0 && hash_is(h, kat_root[n]),
		    "root of the first %llu CT leaves", n);
		audit_merkle_range_root(&r, h);
		CHECK(hash_is(h, kat_root[n]),
		    "range root after %llu CT leaves", n);
		if (n < 8 && audit_merkle_range_append(&r, kat_leaf[n]) != 0)
			CHECK(0, "range append of CT leaf %llu", n);
	}
}

static void
test_kat_proofs(void)
{
	hash_t proof[AUDIT_MERKLE_MAX_PROOF], want[3];
	unsigned char root[HB], root_m[HB];
	size_t i, j, np;
	int ok;

	for (i = 0; i < NELEM(kat_incl); i++) {
		unsigned long long m = kat_incl[i].m, n = kat_incl[i].n;

		ok = audit_merkle_inclusion_proof(cv(kat_leaf), n, m, proof,
		    NELEM(proof), &np) == 0 && np == kat_incl[i].len;
		for (j = 0; ok && j < np; j++)
			ok = hash_is(proof[j], kat_incl[i].hash[j]);
		CHECK(ok, "CT inclusion proof of leaf %llu in size %llu", m, n);

		for (j = 0; j < kat_incl[i].len; j++)
			from_hex(kat_incl[i].hash[j], want[j], HB);
		from_hex(kat_root[n], root, HB);
		CHECK(audit_merkle_verify_inclusion(kat_leaf[m], m, n, cv(want),
		    kat_incl[i].len, root) == 0,
		    "CT inclusion proof of leaf %llu in size %llu verifies",
		    m, n);
	}
	for (i = 0; i < NELEM(kat_cons); i++) {
		unsigned long long m = kat_cons[i].m, n = kat_cons[i].n;

		ok = audit_merkle_consistency_proof(cv(kat_leaf), m, n, proof,
		    NELEM(proof), &np) == 0 && np == kat_cons[i].len;
		for (j = 0; ok && j < np; j++)
			ok = hash_is(proof[j], kat_cons[i].hash[j]);
		CHECK(ok, "CT consistency proof %llu -> %llu", m, n);

		for (j = 0; j < kat_cons[i].len; j++)
			from_hex(kat_cons[i].hash[j], want[j], HB);
		from_hex(kat_root[m], root_m, HB);
		from_hex(kat_root[n], root, HB);
		CHECK(audit_merkle_verify_consistency(m, n, root_m, root,
		    cv(want), kat_cons[i].len) == 0,
		    "CT consistency proof %llu -> %llu verifies", m, n);
	}
}

/* ---- the compact range ------------------------------------------------ */

static unsigned
popcount(unsigned long long v)
{
	unsigned c = 0;

	for (; v != 0; v >>= 1)
		c += (unsigned)(v & 1);
	return c;
}

/* n is within one of a power of two. */
static int
near_pow2(unsigned long long n)
{
	return popcount(n - 1) == 1 || popcount(n) == 1 || popcount(n + 1) == 1;
}

static void
test_range(void)
{
	enum { SMALL = 1000, BIG = (1 << 16) + 1 };
	struct audit_merkle_range r, saved;
	hash_t *l = random_leaves(BIG);
	unsigned char got[HB], want[HB];
	unsigned long long n, bad = 0, bad_n = 0, checked = 0;

	/* Every size 0..SMALL, against the whole-tree root and the RFC's
	 * recursion. */
	audit_merkle_range_init(&r);
	for (n = 0; n <= SMALL; n++) {
		unsigned char ref[HB];

		audit_merkle_range_root(&r, got);
		ref_mth(cv(l), n, ref);
		if (audit_merkle_root(cv(l), n, want) != 0 ||
		    memcmp(got, want, HB) != 0 || memcmp(want, ref, HB) != 0 ||
		    r.size != n || r.n != popcount(n)) {
			if (bad++ == 0)
				bad_n = n;
		}
		if (n < SMALL && audit_merkle_range_append(&r, l[n]) != 0)
			bad++;
	}
	if (bad != 0)
		fprintf(stderr, "#   first bad size %llu\n", bad_n);
	CHECK(bad == 0, "range root == root == RFC MTH for sizes 0..%d "
	    "(%llu bad)", SMALL, bad);

	/* Around every larger power of two up to 2^16 + 1; sizes 0..SMALL
	 * are done. */
	bad = 0;
	for (n = SMALL; n <= BIG; n++) {
		if (near_pow2(n)) {
			audit_merkle_range_root(&r, got);
			if (audit_merkle_root(cv(l), n, want) != 0 ||
			    memcmp(got, want, HB) != 0 || r.size != n) {
				if (bad++ == 0)
					bad_n = n;
			}
			checked++;
		}
		if (n < BIG && audit_merkle_range_append(&r, l[n]) != 0)
			bad++;
	}
	if (bad != 0)
		fprintf(stderr, "#   first bad size %llu\n", bad_n);
	CHECK(bad == 0 && checked == 7 * 3, "range root == root at 2^k - 1, "
	    "2^k, 2^k + 1 for 2^10..2^16 (%llu sizes, %llu bad)", checked, bad);
	CHECK(r.size == BIG && r.n == 2,
	    "range of 2^16 + 1 leaves holds 2 subtrees (%u)", r.n);

	/* Try a batch on a copy, roll back by copying back. */
	audit_merkle_range_init(&r);
	for (n = 0; n < 100; n++)
		if (audit_merkle_range_append(&r, l[n]) != 0)
			bad++;
	saved = r;
	for (n = 0; n < 37; n++)
		if (audit_merkle_range_append(&r, l[500 + n]) != 0)
			bad++;
	r = saved;
	audit_merkle_range_root(&r, got);
	if (audit_merkle_root(cv(l), 100, want) != 0)
		bad++;
	CHECK(bad == 0 && memcmp(got, want, HB) == 0,
	    "range rolled back by copy has the old root");
	for (n = 100; n < 110; n++)
		if (audit_merkle_range_append(&r, l[n]) != 0)
			bad++;
	audit_merkle_range_root(&r, got);
	if (audit_merkle_root(cv(l), 110, want) != 0)
		bad++;
	CHECK(bad == 0 && memcmp(got, want, HB) == 0,
	    "range appends after a rollback");

	/* The size limit: 2^63 - 1 leaves, one subtree per bit. */
	audit_merkle_range_init(&r);
	r.size = AUDIT_MERKLE_MAX_SIZE - 1;
	r.n = popcount(r.size);
	randombytes_buf(r.hashes, sizeof(r.hashes[0]) * r.n);
	CHECK(audit_merkle_range_append(&r, l[0]) == 0 &&
	    r.size == AUDIT_MERKLE_MAX_SIZE && r.n == 63,
	    "range append up to 2^63 - 1 leaves");
	saved = r;
	CHECK(audit_merkle_range_append(&r, l[1]) == PII_ERR_RANGE &&
	    memcmp(&r, &saved, sizeof(r)) == 0,
	    "range append beyond 2^63 - 1 leaves: PII_ERR_RANGE, unchanged");
	free(l);
}

/* ---- every proof of every small tree ---------------------------------- */

static hash_t *small_leaves;        /* SMALL_N + 1 random leaf hashes */
static hash_t small_root[SMALL_N + 2];

static void
flip(unsigned char *p)
{
	*p ^= 0x01;
}

/*
 * All the ways to tamper with one valid inclusion proof; each must give
 * PII_ERR_CRYPTO (or PII_ERR_BAD_REQUEST for an index out of range).
 * Returns the number of tampered proofs that were accepted; counts tries.
 */
static unsigned long
tamper_inclusion(unsigned long long m, unsigned long long n, hash_t *proof,
    size_t np, unsigned long *tries)
{
	const hash_t *leaf = small_leaves;
	hash_t ext[AUDIT_MERKLE_MAX_PROOF + 1];
	unsigned char root[HB], lh[HB];
	unsigned long bad = 0;
	unsigned long long x;
	size_t i, b;

#define EXPECT(call, want) do {                                         \
	(*tries)++;                                                     \
	if ((call) != (want))                                           \
		bad++;                                                  \
} while (0)

	/* Any bit of any proof hash. */
	for (i = 0; i < np; i++)
		for (b = 0; b < HB; b++) {
			flip(&proof[i][b]);
			EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n,
			    cv(proof), np, small_root[n]), PII_ERR_CRYPTO);
			flip(&proof[i][b]);
		}
	/* Another index: the leaf claimed elsewhere in the same tree. */
	for (x = 0; x < n; x++)
		if (x != m)
			EXPECT(audit_merkle_verify_inclusion(leaf[m], x, n,
			    cv(proof), np, small_root[n]), PII_ERR_CRYPTO);
	EXPECT(audit_merkle_verify_inclusion(leaf[m], n, n, cv(proof), np,
	    small_root[n]), PII_ERR_BAD_REQUEST);
	/* Another size, with that size's true root. */
	for (x = m + 1; x <= SMALL_N + 1; x++)
		if (x != n)
			EXPECT(audit_merkle_verify_inclusion(leaf[m], m, x,
			    cv(proof), np, small_root[x]), PII_ERR_CRYPTO);
	/* Another leaf, and another leaf's hash at this index. */
	memcpy(lh, leaf[m], HB);
	flip(&lh[HB - 1]);
	EXPECT(audit_merkle_verify_inclusion(lh, m, n, cv(proof), np,
	    small_root[n]), PII_ERR_CRYPTO);
	if (n > 1)
		EXPECT(audit_merkle_verify_inclusion(leaf[(m + 1) % n], m, n,
		    cv(proof), np, small_root[n]), PII_ERR_CRYPTO);
	/* Any bit of the root, and the previous tree's root. */
	for (b = 0; b < HB; b++) {
		memcpy(root, small_root[n], HB);
		flip(&root[b]);
		EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n, cv(proof),
		    np, root), PII_ERR_CRYPTO);
	}
	EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n, cv(proof), np,
	    small_root[n - 1]), PII_ERR_CRYPTO);
	/* Truncated at either end. */
	if (np > 0) {
		EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n, cv(proof),
		    np - 1, small_root[n]), PII_ERR_CRYPTO);
		EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n,
		    cv(proof + 1), np - 1, small_root[n]), PII_ERR_CRYPTO);
	}
	/* Extended at the end, by the root itself or by the hash that a
	 * larger tree would put there. */
	memcpy(ext, proof, np * HB);
	memcpy(ext[np], small_root[n], HB);
	EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n, cv(ext), np + 1,
	    small_root[n]), PII_ERR_CRYPTO);
	memcpy(ext[np], leaf[n], HB);
	EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n, cv(ext), np + 1,
	    small_root[n]), PII_ERR_CRYPTO);
	/* Extended at the start. */
	memcpy(ext[0], leaf[n], HB);
	memcpy(ext + 1, proof, np * HB);
	EXPECT(audit_merkle_verify_inclusion(leaf[m], m, n, cv(ext), np + 1,
	    small_root[n]), PII_ERR_CRYPTO);
#undef EXPECT
	return bad;
}

static void
test_inclusion_all(void)
{
	hash_t proof[AUDIT_MERKLE_MAX_PROOF], ref[AUDIT_MERKLE_MAX_PROOF];
	unsigned long long n, m;
	unsigned long bad, bad_tamper, tries;
	size_t np, rlen;

	for (n = 1; n <= SMALL_N; n++) {
		bad = bad_tamper = tries = 0;
		for (m = 0; m < n; m++) {
			rlen = ref_path(m, cv(small_leaves), n, ref);
			if (audit_merkle_inclusion_proof(cv(small_leaves), n, m,
			    proof, NELEM(proof), &np) != 0 || np != rlen ||
			    memcmp(proof, ref, np * HB) != 0 ||
			    audit_merkle_verify_inclusion(small_leaves[m], m, n,
			    cv(proof), np, small_root[n]) != 0) {
				bad++;
				continue;
			}
			bad_tamper += tamper_inclusion(m, n, proof, np, &tries);
		}
		CHECK(bad == 0, "size %llu: every inclusion proof is RFC "
		    "PATH and verifies (%lu bad)", n, bad);
		CHECK(bad_tamper == 0, "size %llu: every tampered inclusion "
		    "proof fails (%lu of %lu accepted)", n, bad_tamper, tries);
	}
}

/* As tamper_inclusion, for the consistency proof m -> n. */
static unsigned long
tamper_consistency(unsigned long long m, unsigned long long n, hash_t *proof,
    size_t np, unsigned long *tries)
{
	hash_t ext[AUDIT_MERKLE_MAX_PROOF + 1];
	unsigned char root[HB];
	unsigned long bad = 0;
	unsigned long long x;
	size_t i, b;

#define EXPECT(call, want) do {                                         \
	(*tries)++;                                                     \
	if ((call) != (want))                                           \
		bad++;                                                  \
} while (0)
#define VERIFY(mm, nn, rm, rn, p, len)                                  \
	audit_merkle_verify_consistency((mm), (nn), (rm), (rn), cv(p), (len))

	for (i = 0; i < np; i++)
		for (b = 0; b < HB; b++) {
			flip(&proof[i][b]);
			EXPECT(VERIFY(m, n, small_root[m], small_root[n], proof,
			    np), PII_ERR_CRYPTO);
			flip(&proof[i][b]);
		}
	/* Other sizes, each with its true root. */
	for (x = 1; x <= n; x++)
		if (x != m)
			EXPECT(VERIFY(x, n, small_root[x], small_root[n], proof,
			    np), PII_ERR_CRYPTO);
	for (x = m; x <= SMALL_N + 1; x++)
		if (x != n)
			EXPECT(VERIFY(m, x, small_root[m], small_root[x], proof,
			    np), PII_ERR_CRYPTO);
	EXPECT(VERIFY(n + 1, n, small_root[n + 1], small_root[n], proof, np),
	    PII_ERR_BAD_REQUEST);
	/* Wrong roots: any bit of either, the roots swapped. */
	for (b = 0; b < HB; b++) {
		memcpy(root, small_root[m], HB);
		flip(&root[b]);
		EXPECT(VERIFY(m, n, root, small_root[n], proof, np),
		    PII_ERR_CRYPTO);
		memcpy(root, small_root[n], HB);
		flip(&root[b]);
		EXPECT(VERIFY(m, n, small_root[m], root, proof, np),
		    PII_ERR_CRYPTO);
	}
	EXPECT(VERIFY(m, n, small_root[n], small_root[m], proof, np),
	    PII_ERR_CRYPTO);
	/* Truncated at either end, emptied. */
	EXPECT(VERIFY(m, n, small_root[m], small_root[n], proof, np - 1),
	    PII_ERR_CRYPTO);
	EXPECT(VERIFY(m, n, small_root[m], small_root[n], proof + 1, np - 1),
	    PII_ERR_CRYPTO);
	EXPECT(VERIFY(m, n, small_root[m], small_root[n], proof, 0),
	    PII_ERR_CRYPTO);
	/* Extended at either end, by roots or leaves. */
	memcpy(ext, proof, np * HB);
	memcpy(ext[np], small_root[n], HB);
	EXPECT(VERIFY(m, n, small_root[m], small_root[n], ext, np + 1),
	    PII_ERR_CRYPTO);
	memcpy(ext[np], small_leaves[n], HB);
	EXPECT(VERIFY(m, n, small_root[m], small_root[n], ext, np + 1),
	    PII_ERR_CRYPTO);
	memcpy(ext[0], small_root[m], HB);
	memcpy(ext + 1, proof, np * HB);
	EXPECT(VERIFY(m, n, small_root[m], small_root[n], ext, np + 1),
	    PII_ERR_CRYPTO);
#undef VERIFY
#undef EXPECT
	return bad;
}

static void
test_consistency_all(void)
{
	hash_t proof[AUDIT_MERKLE_MAX_PROOF], ref[AUDIT_MERKLE_MAX_PROOF];
	unsigned long long n, m;
	unsigned long bad, bad_tamper, tries;
	size_t np, rlen;

	for (n = 2; n <= SMALL_N; n++) {
		bad = bad_tamper = tries = 0;
		for (m = 1; m < n; m++) {
			rlen = ref_subproof(m, cv(small_leaves), n, 1, ref);
			if (audit_merkle_consistency_proof(cv(small_leaves), m,
			    n, proof, NELEM(proof), &np) != 0 || np != rlen ||
			    np == 0 || memcmp(proof, ref, np * HB) != 0 ||
			    audit_merkle_verify_consistency(m, n, small_root[m],
			    small_root[n], cv(proof), np) != 0) {
				bad++;
				continue;
			}
			bad_tamper += tamper_consistency(m, n, proof, np,
			    &tries);
		}
		CHECK(bad == 0, "size %llu: every consistency proof is RFC "
		    "PROOF and verifies (%lu bad)", n, bad);
		CHECK(bad_tamper == 0, "size %llu: every tampered consistency "
		    "proof fails (%lu of %lu accepted)", n, bad_tamper, tries);
	}
}

/* ---- a larger tree ---------------------------------------------------- */

static void
test_large(void)
{
	enum { N = 100003 };
	static const unsigned long long ms[] = {
		0, 1, 65535, 65536, 65537, 99999, N - 1,
	};
	hash_t *l = random_leaves(N);
	hash_t proof[AUDIT_MERKLE_MAX_PROOF];
	unsigned char root[HB], root_m[HB];
	size_t i, np;

	if (audit_merkle_root(cv(l), N, root) != 0)
		CHECK(0, "root of %d leaves", N);
	for (i = 0; i < NELEM(ms); i++) {
		CHECK(audit_merkle_inclusion_proof(cv(l), N, ms[i], proof,
		    NELEM(proof), &np) == 0 && np <= 17 &&
		    audit_merkle_verify_inclusion(l[ms[i]], ms[i], N, cv(proof),
		    np, root) == 0,
		    "inclusion of leaf %llu in size %d (%zu hashes)", ms[i], N,
		    np);
		if (ms[i] == 0)
			continue;
		CHECK(audit_merkle_root(cv(l), ms[i], root_m) == 0 &&
		    audit_merkle_consistency_proof(cv(l), ms[i], N, proof,
		    NELEM(proof), &np) == 0 &&
		    audit_merkle_verify_consistency(ms[i], N, root_m, root,
		    cv(proof), np) == 0,
		    "consistency %llu -> %d (%zu hashes)", ms[i], N, np);
	}
	free(l);
}

/* ---- edges ------------------------------------------------------------ */

static void
test_edges(void)
{
	hash_t proof[AUDIT_MERKLE_MAX_PROOF], small[2];
	unsigned char h[HB], empty[HB];
	const hash_t *l = cv(small_leaves);
	size_t np;

	audit_merkle_empty_root(empty);
	CHECK(audit_merkle_root(NULL, 0, h) == 0 && memcmp(h, empty, HB) == 0,
	    "root of no leaves is the empty root");
	CHECK(audit_merkle_root(NULL, 5, h) == PII_ERR_BAD_REQUEST,
	    "root of 5 leaves at NULL: PII_ERR_BAD_REQUEST");

	/* Inclusion. */
	np = 99;
	CHECK(audit_merkle_inclusion_proof(l, 0, 0, proof, NELEM(proof),
	    &np) == PII_ERR_BAD_REQUEST && np == 99,
	    "inclusion proof in the empty tree: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_inclusion_proof(l, 8, 8, proof, NELEM(proof),
	    &np) == PII_ERR_BAD_REQUEST,
	    "inclusion proof of leaf 8 in size 8: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_inclusion_proof(l, 8, 9, proof, NELEM(proof),
	    &np) == PII_ERR_BAD_REQUEST,
	    "inclusion proof of leaf 9 in size 8: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_inclusion_proof(NULL, 8, 1, proof, NELEM(proof),
	    &np) == PII_ERR_BAD_REQUEST,
	    "inclusion proof over NULL leaves: PII_ERR_BAD_REQUEST");
	memset(small, 0xaa, sizeof(small));
	CHECK(audit_merkle_inclusion_proof(l, 8, 3, small, NELEM(small),
	    &np) == PII_ERR_RANGE && np == 99 && small[0][0] == 0xaa,
	    "inclusion proof of 3 hashes into room for 2: PII_ERR_RANGE, "
	    "nothing written");
	CHECK(audit_merkle_inclusion_proof(l, 1, 0, NULL, 0, &np) == 0 &&
	    np == 0, "inclusion proof in a tree of one leaf is empty");
	CHECK(audit_merkle_verify_inclusion(l[0], 0, 1, NULL, 0,
	    small_root[1]) == 0,
	    "empty inclusion proof verifies in a tree of one leaf");
	CHECK(audit_merkle_verify_inclusion(l[0], 0, 0, NULL, 0,
	    empty) == PII_ERR_BAD_REQUEST,
	    "inclusion in the empty tree: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_verify_inclusion(l[5], 5, 5, cv(proof), 3,
	    small_root[5]) == PII_ERR_BAD_REQUEST,
	    "inclusion of leaf 5 in size 5: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_verify_inclusion(l[5], 6, 5, cv(proof), 3,
	    small_root[5]) == PII_ERR_BAD_REQUEST,
	    "inclusion of leaf 6 in size 5: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_verify_inclusion(l[1], 1, 5, NULL, 3,
	    small_root[5]) == PII_ERR_BAD_REQUEST,
	    "inclusion with a NULL proof of 3 hashes: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_verify_inclusion(l[1], 1, 5, NULL, 0,
	    small_root[5]) == PII_ERR_CRYPTO,
	    "inclusion in size 5 with an empty proof: PII_ERR_CRYPTO");

	/* Consistency. */
	np = 99;
	CHECK(audit_merkle_consistency_proof(l, 9, 8, proof, NELEM(proof),
	    &np) == PII_ERR_BAD_REQUEST && np == 99,
	    "consistency proof 9 -> 8: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_consistency_proof(l, 8, 8, proof, NELEM(proof),
	    &np) == 0 && np == 0, "consistency proof 8 -> 8 is empty");
	np = 99;
	CHECK(audit_merkle_consistency_proof(l, 0, 8, proof, NELEM(proof),
	    &np) == 0 && np == 0, "consistency proof 0 -> 8 is empty");
	CHECK(audit_merkle_consistency_proof(NULL, 0, 0, proof, NELEM(proof),
	    &np) == 0 && np == 0, "consistency proof 0 -> 0 is empty");
	np = 99;
	CHECK(audit_merkle_consistency_proof(l, 6, 8, small, NELEM(small),
	    &np) == PII_ERR_RANGE && np == 99,
	    "consistency proof of 3 hashes into room for 2: PII_ERR_RANGE");
	CHECK(audit_merkle_consistency_proof(NULL, 3, 8, proof, NELEM(proof),
	    &np) == PII_ERR_BAD_REQUEST,
	    "consistency proof over NULL leaves: PII_ERR_BAD_REQUEST");

	CHECK(audit_merkle_verify_consistency(9, 8, small_root[9],
	    small_root[8], NULL, 0) == PII_ERR_BAD_REQUEST,
	    "consistency 9 -> 8: PII_ERR_BAD_REQUEST");
	CHECK(audit_merkle_verify_consistency(8, 8, small_root[8],
	    small_root[8], NULL, 0) == 0,
	    "consistency 8 -> 8 with equal roots and no proof");
	CHECK(audit_merkle_verify_consistency(8, 8, small_root[8],
	    small_root[7], NULL, 0) == PII_ERR_CRYPTO,
	    "consistency 8 -> 8 with different roots: PII_ERR_CRYPTO");
	CHECK(audit_merkle_verify_consistency(8, 8, small_root[8],
	    small_root[8], cv(small_root), 1) == PII_ERR_CRYPTO,
	    "consistency 8 -> 8 with a proof: PII_ERR_CRYPTO");
	CHECK(audit_merkle_verify_consistency(0, 8, empty, small_root[8],
	    NULL, 0) == 0, "consistency 0 -> 8 with no proof");
	CHECK(audit_merkle_verify_consistency(0, 0, empty, empty, NULL,
	    0) == 0, "consistency 0 -> 0 with no proof");
	CHECK(audit_merkle_verify_consistency(0, 8, empty, small_root[8],
	    cv(small_root), 1) == PII_ERR_CRYPTO,
	    "consistency 0 -> 8 with a proof: PII_ERR_CRYPTO");
	CHECK(audit_merkle_verify_consistency(0, 8, small_root[1],
	    small_root[8], NULL, 0) == PII_ERR_CRYPTO,
	    "consistency 0 -> 8 from a non-empty root: PII_ERR_CRYPTO");
	CHECK(audit_merkle_verify_consistency(3, 8, small_root[3],
	    small_root[8], NULL, 0) == PII_ERR_CRYPTO,
	    "consistency 3 -> 8 with no proof: PII_ERR_CRYPTO");
	CHECK(audit_merkle_verify_consistency(4, 8, small_root[4],
	    small_root[8], NULL, 0) == PII_ERR_CRYPTO,
	    "consistency 4 -> 8 with no proof: PII_ERR_CRYPTO");
	CHECK(audit_merkle_verify_consistency(3, 8, small_root[3],
	    small_root[8], NULL, 2) == PII_ERR_BAD_REQUEST,
	    "consistency with a NULL proof of 2 hashes: PII_ERR_BAD_REQUEST");
}

int
main(void)
{
	unsigned long long n;

	if (sodium_init() < 0)
		return 2;

	test_kat_hashes();
	test_kat_roots();
	test_kat_proofs();
	test_range();

	small_leaves = random_leaves(SMALL_N + 2);
	for (n = 0; n <= SMALL_N + 1; n++)
		ref_mth(cv(small_leaves), n, small_root[n]);
	test_inclusion_all();
	test_consistency_all();
	test_edges();
	free(small_leaves);

	test_large();
	return TAP_DONE();
}
