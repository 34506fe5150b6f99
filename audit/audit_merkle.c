/*
 * audit_merkle.c - the RFC 6962 Merkle tree: hashes, the compact range the
 * writer appends to, root and proofs over an array of leaf hashes, and the
 * RFC 9162 proof verifiers.
 *
 * Everything is iterative.  The RFC defines MTH, PATH and PROOF by
 * recursion on "k, the largest power of two smaller than n"; the root is
 * computed here with a compact range instead (each leaf pushed like a
 * binary counter increment, n - 1 node hashes in all, 2 KB of stack), and
 * the proofs walk the RFC's recursion from the top down in a loop.  The
 * recursion appends each level's sibling after the deeper ones, so the walk
 * fills the proof from its end towards its start: the proof comes out in
 * the RFC's order without a temporary copy.
 */
#include <string.h>

#include <sodium.h>

#include "audit_merkle.h"

/* The RFC 6962 domain separation prefixes. */
#define LEAF_PREFIX 0x00
#define NODE_PREFIX 0x01

void
audit_merkle_leaf_hash(const unsigned char *data, size_t len,
    unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_hash_sha256_state st;
	const unsigned char prefix = LEAF_PREFIX;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &prefix, 1);
	if (len > 0)
		crypto_hash_sha256_update(&st, data, len);
	crypto_hash_sha256_final(&st, out);
}

void
audit_merkle_node_hash(const unsigned char l[AUDIT_HASH_BYTES],
    const unsigned char r[AUDIT_HASH_BYTES],
    unsigned char out[AUDIT_HASH_BYTES])
{
	/*
	 * One contiguous buffer and the one-shot call: cheaper than three
	 * updates on the verifier's hot path, and the copy is what lets out
	 * alias l or r.
	 */
	unsigned char buf[1 + 2 * AUDIT_HASH_BYTES];

	buf[0] = NODE_PREFIX;
	memcpy(buf + 1, l, AUDIT_HASH_BYTES);
	memcpy(buf + 1 + AUDIT_HASH_BYTES, r, AUDIT_HASH_BYTES);
	crypto_hash_sha256(out, buf, sizeof(buf));
}

void
audit_merkle_empty_root(unsigned char out[AUDIT_HASH_BYTES])
{
	crypto_hash_sha256(out, NULL, 0);
}

/* k of RFC 6962: the largest power of two smaller than n, for n >= 2. */
static unsigned long long
split_point(unsigned long long n)
{
	return 1ULL << (63 - __builtin_clzll(n - 1));
}

/* ---- compact range ------------------------------------------------------ */

void
audit_merkle_range_init(struct audit_merkle_range *r)
{
	memset(r, 0, sizeof(*r));
}

/*
 * Append without the size check.  Each trailing one bit of the old size is
 * a perfect subtree that the new leaf's subtree now equals in size, so the
 * two merge into one of twice the size - the carry of a binary increment.
 * n stays popcount(size) <= 64, and the merges cost 1 amortized per leaf.
 */
static void
range_push(struct audit_merkle_range *r,
    const unsigned char h[AUDIT_HASH_BYTES])
{
	unsigned long long carry = r->size;

	memcpy(r->hashes[r->n], h, AUDIT_HASH_BYTES);
	r->n++;
	while (carry & 1) {
		audit_merkle_node_hash(r->hashes[r->n - 2], r->hashes[r->n - 1],
		    r->hashes[r->n - 2]);
		r->n--;
		carry >>= 1;
	}
	r->size++;
}

int
audit_merkle_range_append(struct audit_merkle_range *r,
    const unsigned char leaf_hash[AUDIT_HASH_BYTES])
{
	if (r->size >= AUDIT_MERKLE_MAX_SIZE)
		return PII_ERR_RANGE;
	range_push(r, leaf_hash);
	return 0;
}

void
audit_merkle_range_root(const struct audit_merkle_range *r,
    unsigned char out[AUDIT_HASH_BYTES])
{
	unsigned char h[AUDIT_HASH_BYTES];
	unsigned i;

	if (r->n == 0) {
		audit_merkle_empty_root(out);
		return;
	}
	/*
	 * The RFC splits off the largest power of two on the left, which is
	 * hashes[0]; the rest of the tree is MTH of the remaining entries, by
	 * the same rule.  So fold from the right.
	 */
	memcpy(h, r->hashes[r->n - 1], sizeof(h));
	for (i = r->n - 1; i-- > 0;)
		audit_merkle_node_hash(r->hashes[i], h, h);
	memcpy(out, h, sizeof(h));
}

/* ---- whole trees -------------------------------------------------------- */

/* MTH(leaves[0..n-1]), arguments already checked. */
static void
subtree_root(const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long n, unsigned char out[AUDIT_HASH_BYTES])
{
	struct audit_merkle_range r;
	unsigned long long i;

	audit_merkle_range_init(&r);
	for (i = 0; i < n; i++)
		range_push(&r, leaves[i]);
	audit_merkle_range_root(&r, out);
}

int
audit_merkle_root(const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long n, unsigned char out[AUDIT_HASH_BYTES])
{
	if (leaves == NULL && n > 0)
		return PII_ERR_BAD_REQUEST;
	subtree_root(leaves, n, out);
	return 0;
}

/*
 * PATH(m, D[n]) of RFC 6962 section 2.1.1, top down:
 *
 *   m <  k: PATH(m, D[0:k]) : MTH(D[k:n])
 *   m >= k: PATH(m - k, D[k:n]) : MTH(D[0:k])
 *
 * With proof NULL, only count the hashes; otherwise proof has room for
 * len, the count, and is filled from its end (the top level's sibling is
 * the last hash).  Returns the count.
 */
static size_t
inclusion_walk(const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long n, unsigned long long m,
    unsigned char (*proof)[AUDIT_HASH_BYTES], size_t len)
{
	unsigned long long lo = 0, k;
	size_t count = 0;

	while (n > 1) {
		k = split_point(n);
		if (m < k) {
			if (proof != NULL)
				subtree_root(leaves + lo + k, n - k,
				    proof[len - 1 - count]);
			n = k;
		} else {
			if (proof != NULL)
				subtree_root(leaves + lo, k,
				    proof[len - 1 - count]);
			lo += k;
			m -= k;
			n -= k;
		}
		count++;
	}
	return count;
}

int
audit_merkle_inclusion_proof(
    const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long n, unsigned long long m,
    unsigned char (*proof)[AUDIT_HASH_BYTES], size_t cap, size_t *nproof)
{
	size_t len;

	if (m >= n || leaves == NULL)
		return PII_ERR_BAD_REQUEST;
	/* Count first, so that a short buffer costs no hashing. */
	len = inclusion_walk(leaves, n, m, NULL, 0);
	if (len > cap || (len > 0 && proof == NULL))
		return PII_ERR_RANGE;
	inclusion_walk(leaves, n, m, proof, len);
	*nproof = len;
	return 0;
}

/*
 * PROOF(m, D[n]) = SUBPROOF(m, D[n], true) of RFC 6962 section 2.1.2, top
 * down, for 0 < m < n:
 *
 *   m == n:  {} if b (the old root is known to the verifier), else MTH(D[m])
 *   m <= k:  SUBPROOF(m, D[0:k], b) : MTH(D[k:n])
 *   m >  k:  SUBPROOF(m - k, D[k:n], false) : MTH(D[0:k])
 *
 * proof NULL and len as in inclusion_walk.
 */
static size_t
consistency_walk(const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long m, unsigned long long n,
    unsigned char (*proof)[AUDIT_HASH_BYTES], size_t len)
{
	unsigned long long lo = 0, k;
	size_t count = 0;
	int whole = 1;  /* b: still on the old tree's own root */

	/* m >= 1 throughout, so m < n means n >= 2 and k exists. */
	while (m != n) {
		k = split_point(n);
		if (m <= k) {
			if (proof != NULL)
				subtree_root(leaves + lo + k, n - k,
				    proof[len - 1 - count]);
			n = k;
		} else {
			if (proof != NULL)
				subtree_root(leaves + lo, k,
				    proof[len - 1 - count]);
			lo += k;
			m -= k;
			n -= k;
			whole = 0;
		}
		count++;
	}
	if (!whole) {
		if (proof != NULL)
			subtree_root(leaves + lo, n, proof[len - 1 - count]);
		count++;
	}
	return count;
}

int
audit_merkle_consistency_proof(
    const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long m, unsigned long long n,
    unsigned char (*proof)[AUDIT_HASH_BYTES], size_t cap, size_t *nproof)
{
	size_t len;

	if (m > n || (leaves == NULL && n > 0))
		return PII_ERR_BAD_REQUEST;
	/* RFC 6962 defines PROOF for 0 < m < n; the rest prove nothing. */
	if (m == 0 || m == n) {
		*nproof = 0;
		return 0;
	}
	len = consistency_walk(leaves, m, n, NULL, 0);
	if (len > cap || proof == NULL)
		return PII_ERR_RANGE;
	consistency_walk(leaves, m, n, proof, len);
	*nproof = len;
	return 0;
}

/* ---- verification (RFC 9162 section 2.1.3.2 and 2.1.4.2) ---------------- */

/*
 * fn is the index of the node being climbed from and sn the index of the
 * last node, both at the current level.  Where fn == sn and fn is even,
 * the node is the right edge of its level with no right sibling: it is
 * carried up unchanged until it becomes a right child (fn odd) or reaches
 * the leftmost column (fn == 0).
 */
static void
skip_right_edge(unsigned long long *fn, unsigned long long *sn)
{
	while ((*fn & 1) == 0 && *fn != 0) {
		*fn >>= 1;
		*sn >>= 1;
	}
}

/* Roots and proofs are public values: a plain comparison will do. */
static int
hash_eq(const unsigned char a[AUDIT_HASH_BYTES],
    const unsigned char b[AUDIT_HASH_BYTES])
{
	return memcmp(a, b, AUDIT_HASH_BYTES) == 0;
}

int
audit_merkle_verify_inclusion(
    const unsigned char leaf_hash[AUDIT_HASH_BYTES],
    unsigned long long m, unsigned long long n,
    const unsigned char (*proof)[AUDIT_HASH_BYTES], size_t nproof,
    const unsigned char root[AUDIT_HASH_BYTES])
{
	unsigned char r[AUDIT_HASH_BYTES];
	unsigned long long fn, sn;
	size_t i;

	if (m >= n || (proof == NULL && nproof > 0))
		return PII_ERR_BAD_REQUEST;
	fn = m;
	sn = n - 1;
	memcpy(r, leaf_hash, sizeof(r));
	for (i = 0; i < nproof; i++) {
		/* Already at the root: the proof is too long. */
		if (sn == 0)
			return PII_ERR_CRYPTO;
		if ((fn & 1) || fn == sn) {
			audit_merkle_node_hash(proof[i], r, r);
			skip_right_edge(&fn, &sn);
		} else
			audit_merkle_node_hash(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	/* sn != 0: the proof stopped short of the root. */
	if (sn != 0 || !hash_eq(r, root))
		return PII_ERR_CRYPTO;
	return 0;
}

int
audit_merkle_verify_consistency(unsigned long long m, unsigned long long n,
    const unsigned char root_m[AUDIT_HASH_BYTES],
    const unsigned char root_n[AUDIT_HASH_BYTES],
    const unsigned char (*proof)[AUDIT_HASH_BYTES], size_t nproof)
{
	unsigned char fr[AUDIT_HASH_BYTES], sr[AUDIT_HASH_BYTES];
	unsigned char empty[AUDIT_HASH_BYTES];
	unsigned long long fn, sn;
	size_t i;

	if (m > n || (proof == NULL && nproof > 0))
		return PII_ERR_BAD_REQUEST;
	if (m == 0) {
		/*
		 * The empty tree is a prefix of every tree, but a checkpoint
		 * of size 0 with any other root than the empty one is bogus.
		 */
		audit_merkle_empty_root(empty);
		return nproof == 0 && hash_eq(root_m, empty) ? 0 :
		    PII_ERR_CRYPTO;
	}
	if (m == n)
		return nproof == 0 && hash_eq(root_m, root_n) ? 0 :
		    PII_ERR_CRYPTO;
	if (nproof == 0)
		return PII_ERR_CRYPTO;

	fn = m - 1;
	sn = n - 1;
	/*
	 * When m is a power of two the old tree is a whole subtree of the
	 * new one and the proof leaves its root out (SUBPROOF with b true):
	 * start from root_m.  Otherwise the proof starts with the old tree's
	 * rightmost whole subtree.
	 */
	if ((m & (m - 1)) == 0) {
		memcpy(fr, root_m, sizeof(fr));
		i = 0;
	} else {
		memcpy(fr, proof[0], sizeof(fr));
		i = 1;
	}
	memcpy(sr, fr, sizeof(sr));
	/* Climb to the level of that subtree's root. */
	while (fn & 1) {
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < nproof; i++) {
		if (sn == 0)
			return PII_ERR_CRYPTO;
		if ((fn & 1) || fn == sn) {
			/* A left sibling: part of both trees. */
			audit_merkle_node_hash(proof[i], fr, fr);
			audit_merkle_node_hash(proof[i], sr, sr);
			skip_right_edge(&fn, &sn);
		} else {
			/* A right sibling: only in the new tree. */
			audit_merkle_node_hash(sr, proof[i], sr);
		}
		fn >>= 1;
		sn >>= 1;
	}
	if (sn != 0 || !hash_eq(fr, root_m) || !hash_eq(sr, root_n))
		return PII_ERR_CRYPTO;
	return 0;
}
