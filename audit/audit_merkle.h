/*
 * audit_merkle.h - the RFC 6962 (Certificate Transparency) Merkle tree over
 * a writer's audit records.
 *
 * Hashes (RFC 6962 section 2.1, SHA-256):
 *
 *   leaf     = SHA-256(0x00 || record encoding)
 *   node     = SHA-256(0x01 || left || right)
 *   MTH({})  = SHA-256("")
 *   MTH(D[n]) for n > 1 = node(MTH(D[0:k]), MTH(D[k:n])), k the largest
 *              power of two smaller than n
 *
 * The 0x00 / 0x01 prefixes keep a leaf from ever being taken for an inner
 * node (second-preimage resistance); the split at the largest power of two
 * makes every tree a prefix of every larger one, which is what consistency
 * proofs rely on.
 *
 * Two ways in: a compact range that the writer carries from record to
 * record (O(1) amortized per append, O(log n) state), and functions over an
 * array of leaf hashes that the verifier and the proof tool use.  Inclusion
 * and consistency proofs are RFC 6962 section 2.1.1 and 2.1.2 exactly, in
 * the RFC's order (the sibling nearest the leaf first), so any CT or RFC 9162
 * verifier accepts them; the verifiers here are RFC 9162 section 2.1.3.2
 * and 2.1.4.2.
 *
 * Sizes and indices are unsigned long long but stay below 2^63
 * (AUDIT_MERKLE_MAX_SIZE) so that they fit the i64 of the record encoding
 * and a PostgreSQL bigint.  No function allocates.
 */
#ifndef AUDIT_MERKLE_H
#define AUDIT_MERKLE_H

#include <stddef.h>

#include "../common/err.h"

#define AUDIT_HASH_BYTES 32
/* Most hashes in a compact range or in any proof: one per bit of a size. */
#define AUDIT_MERKLE_MAX_PROOF 64
/* Largest tree: 2^63 - 1 leaves, so a size always fits a signed 64-bit. */
#define AUDIT_MERKLE_MAX_SIZE 0x7fffffffffffffffULL

#define AUDIT_MERKLE_WUR __attribute__((warn_unused_result))

/* SHA-256(0x00 || data).  data may be NULL if len is 0. */
void audit_merkle_leaf_hash(const unsigned char *data, size_t len,
    unsigned char out[AUDIT_HASH_BYTES]);
/* SHA-256(0x01 || l || r).  out may alias l or r. */
void audit_merkle_node_hash(const unsigned char l[AUDIT_HASH_BYTES],
    const unsigned char r[AUDIT_HASH_BYTES],
    unsigned char out[AUDIT_HASH_BYTES]);
/* MTH of the empty tree: SHA-256(""), e3b0c442... */
void audit_merkle_empty_root(unsigned char out[AUDIT_HASH_BYTES]);

/*
 * Compact range (Merkle frontier) of leaves [0, size): the roots of the
 * perfect subtrees that cover them, one per set bit of size.
 *
 * Order: hashes[0] is the leftmost and largest subtree (the highest set bit
 * of size), hashes[n - 1] the rightmost and smallest (the lowest set bit,
 * the one holding the newest leaf).  So n == popcount(size), and appending
 * works on the end of the array like a binary counter: push the leaf, then
 * merge the last two entries once per trailing one bit of the old size.
 *
 * Plain data, fixed size, no pointers: the appender copies it to try a
 * batch and copies it back to roll back.
 */
struct audit_merkle_range {
	unsigned long long size;        /* leaves covered */
	unsigned char hashes[AUDIT_MERKLE_MAX_PROOF][AUDIT_HASH_BYTES];
	unsigned n;                     /* valid entries of hashes */
};

/* The empty range (size 0). */
void audit_merkle_range_init(struct audit_merkle_range *r);
/* Append one leaf hash.  PII_ERR_RANGE, r unchanged, if r already holds
 * AUDIT_MERKLE_MAX_SIZE leaves. */
int audit_merkle_range_append(struct audit_merkle_range *r,
    const unsigned char leaf_hash[AUDIT_HASH_BYTES]) AUDIT_MERKLE_WUR;
/* MTH of the leaves appended so far; the empty root for size 0. */
void audit_merkle_range_root(const struct audit_merkle_range *r,
    unsigned char out[AUDIT_HASH_BYTES]);

/*
 * Whole-tree functions over leaves[0..n-1], an array of leaf hashes
 * (borrowed, read only).  Each returns 0 and fills its outputs, or an error
 * and leaves them untouched.  They take O(n) hashes and O(log n) stack.
 */

/* MTH(D[n]); the empty root for n == 0 (leaves may then be NULL).
 * PII_ERR_BAD_REQUEST if leaves is NULL and n > 0. */
int audit_merkle_root(const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long n, unsigned char out[AUDIT_HASH_BYTES]);

/* PATH(m, D[n]): the audit path of leaf m, *nproof hashes written to
 * proof[0..cap-1] (AUDIT_MERKLE_MAX_PROOF is always enough).
 * PII_ERR_BAD_REQUEST if m >= n (so also if n == 0) or leaves is NULL;
 * PII_ERR_RANGE if the path has more than cap hashes. */
int audit_merkle_inclusion_proof(
    const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long n, unsigned long long m,
    unsigned char (*proof)[AUDIT_HASH_BYTES], size_t cap, size_t *nproof);

/* 0 if proof shows that leaf_hash is leaf m of the tree of size n whose
 * root is root; PII_ERR_CRYPTO if not; PII_ERR_BAD_REQUEST if m >= n or
 * proof is NULL while nproof > 0. */
int audit_merkle_verify_inclusion(
    const unsigned char leaf_hash[AUDIT_HASH_BYTES],
    unsigned long long m, unsigned long long n,
    const unsigned char (*proof)[AUDIT_HASH_BYTES], size_t nproof,
    const unsigned char root[AUDIT_HASH_BYTES]) AUDIT_MERKLE_WUR;

/* PROOF(m, D[n]): that the tree of the first m leaves is a prefix of the
 * tree of n leaves.  The proof is empty for m == n and, by convention, for
 * m == 0 (the empty tree is a prefix of every tree).  PII_ERR_BAD_REQUEST if
 * m > n or leaves is NULL while n > 0; PII_ERR_RANGE if the proof has more
 * than cap hashes. */
int audit_merkle_consistency_proof(
    const unsigned char (*leaves)[AUDIT_HASH_BYTES],
    unsigned long long m, unsigned long long n,
    unsigned char (*proof)[AUDIT_HASH_BYTES], size_t cap, size_t *nproof);

/* 0 if proof shows that the tree of size m with root root_m is a prefix of
 * the tree of size n with root root_n; PII_ERR_CRYPTO if not.  m == n needs
 * an empty proof and equal roots; m == 0 needs an empty proof and root_m
 * equal to the empty root.  PII_ERR_BAD_REQUEST if m > n or proof is NULL
 * while nproof > 0. */
int audit_merkle_verify_consistency(unsigned long long m, unsigned long long n,
    const unsigned char root_m[AUDIT_HASH_BYTES],
    const unsigned char root_n[AUDIT_HASH_BYTES],
    const unsigned char (*proof)[AUDIT_HASH_BYTES], size_t nproof)
    AUDIT_MERKLE_WUR;

#endif
