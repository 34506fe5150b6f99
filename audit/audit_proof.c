/*
 * audit_proof.c - build and check inclusion proofs of audit records
 * (format in audit_proof.h and docs/audit.md).
 *
 * Building reads the writer's stored leaf hashes up to its largest
 * checkpoint, recomputes the target record's encoding from its columns, and
 * refuses to produce a proof unless the leaves give the checkpoint's root
 * and the record gives its stored leaf: a proof is never made from a log
 * that would not verify.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "../common/buf.h"
#include "../common/json_util.h"
#include "audit_merkle.h"
#include "audit_proof.h"
#include "audit_verify.h"

#define PROOF_FORMAT "piivault-audit-inclusion-proof v1"

/* The writer's largest stored checkpoint with size > seq (sorted by size
 * then time, so repeated copies of one size give the latest). */
static int
find_checkpoint(PGconn *c, const char *writer, uint64_t seq, int smallest,
    struct audit_checkpoint *cp, struct pii_errinfo *ei)
{
	const char *p[2];
	char num[24];
	PGresult *q;
	size_t rl = 0, sl = 0;
	int r = 0;

	snprintf(num, sizeof(num), "%" PRIu64, seq);
	p[0] = writer;
	p[1] = num;
	q = PQexecParams(c, smallest ?
	    "SELECT size, encode(root, 'hex'), at_us, key_id,"
	    " encode(signature, 'hex') FROM audit_checkpoints"
	    " WHERE writer = $1 AND size > $2::bigint"
	    " ORDER BY size ASC, at_us DESC LIMIT 1" :
	    "SELECT size, encode(root, 'hex'), at_us, key_id,"
	    " encode(signature, 'hex') FROM audit_checkpoints"
	    " WHERE writer = $1 AND size > $2::bigint"
	    " ORDER BY size DESC, at_us DESC LIMIT 1", 2, NULL, p, NULL, NULL, 0);
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading "
		    "audit_checkpoints failed: %s", PQerrorMessage(c));
		goto out;
	}
	if (PQntuples(q) != 1) {
		r = pii_errinfo_set(ei, PII_ERR_NOT_FOUND, NULL, "no checkpoint of "
		    "%s covers record %" PRIu64 " yet (checkpoints come every N "
		    "records or T seconds)", writer, seq);
		goto out;
	}
	memset(cp, 0, sizeof(*cp));
	snprintf(cp->origin, sizeof(cp->origin), "%s", writer);
	cp->size = (uint64_t)strtoll(PQgetvalue(q, 0, 0), NULL, 10);
	cp->at_us = strtoll(PQgetvalue(q, 0, 2), NULL, 10);
	snprintf(cp->key_id, sizeof(cp->key_id), "%s", PQgetvalue(q, 0, 3));
	if (sodium_hex2bin(cp->root, sizeof(cp->root), PQgetvalue(q, 0, 1),
	    strlen(PQgetvalue(q, 0, 1)), NULL, &rl, NULL) != 0 ||
	    rl != sizeof(cp->root) || sodium_hex2bin(cp->sig, sizeof(cp->sig),
	    PQgetvalue(q, 0, 4), strlen(PQgetvalue(q, 0, 4)), NULL, &sl,
	    NULL) != 0 || sl != sizeof(cp->sig))
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "a stored checkpoint "
		    "of %s is malformed (run pii-audit verify)", writer);
out:
	PQclear(q);
	return r;
}

/* Leaves [0, n) of writer, as stored, into leaves. */
static int
load_leaves(PGconn *c, const char *writer, uint64_t n,
    unsigned char (*leaves)[32], struct pii_errinfo *ei)
{
	const char *p[2];
	char num[24];
	PGresult *q;
	uint64_t i;
	int r = 0;

	snprintf(num, sizeof(num), "%" PRIu64, n);
	p[0] = writer;
	p[1] = num;
	q = PQexecParams(c, "SELECT seq, leaf FROM audit_records"
	    " WHERE writer = $1 AND seq < $2::bigint ORDER BY seq", 2, NULL, p,
	    NULL, NULL, 1);   /* binary: seq as int8, leaf as 32 bytes */
	if (PQresultStatus(q) != PGRES_TUPLES_OK) {
		r = pii_errinfo_set(ei, PII_ERR_SQL, NULL, "reading "
		    "audit_records failed: %s", PQerrorMessage(c));
		goto out;
	}
	if ((uint64_t)PQntuples(q) != n) {
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "%s has %d records "
		    "below the checkpoint's %" PRIu64 " (run pii-audit verify)",
		    writer, PQntuples(q), n);
		goto out;
	}
	for (i = 0; i < n; i++) {
		const unsigned char *s = (const unsigned char *)PQgetvalue(q,
		    (int)i, 0);
		uint64_t seq = 0;
		int b;

		for (b = 0; b < 8; b++)
			seq = (seq << 8) | s[b];
		if (PQgetlength(q, (int)i, 0) != 8 || seq != i ||
		    PQgetlength(q, (int)i, 1) != 32) {
			r = pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "%s: record %"
			    PRIu64 " is missing or malformed (run pii-audit verify)",
			    writer, i);
			goto out;
		}
		memcpy(leaves[i], PQgetvalue(q, (int)i, 1), 32);
	}
out:
	PQclear(q);
	return r;
}

int
audit_proof_build(PGconn *c, const char *writer, uint64_t seq,
    char **json_out, struct pii_errinfo *ei)
{
	return audit_proof_build_against(c, writer, seq, 0, json_out, ei);
}

int
audit_proof_build_against(PGconn *c, const char *writer, uint64_t seq,
    int smallest, char **json_out, struct pii_errinfo *ei)
{
	struct audit_checkpoint cp;
	unsigned char (*leaves)[32] = NULL, *enc = NULL, leaf[32], root[32];
	unsigned char path[AUDIT_MERKLE_MAX_PROOF][32];
	char line[AUDIT_WITNESS_LINE_MAX], *b64 = NULL, hex[65];
	json_t *o = NULL, *arr = NULL;
	size_t enclen = 0, np = 0, i;
	int r;

	if (!audit_origin_ok(writer))
		return pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "writer",
		    "not a writer origin");
	if ((r = find_checkpoint(c, writer, seq, smallest, &cp, ei)) != 0)
		return r;
	if (cp.size > (64ULL << 20))
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL, "checkpoint "
		    "too large for an in-memory proof");
	leaves = malloc((size_t)cp.size * 32);
	enc = malloc(AUDIT_RECORD_MAX);
	if (leaves == NULL || enc == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = load_leaves(c, writer, cp.size, leaves, ei)) != 0)
		goto out;
	if ((r = audit_merkle_root((const unsigned char (*)[32])leaves, cp.size,
	    root)) != 0)
		goto out;
	if (memcmp(root, cp.root, 32) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "the stored records "
		    "of %s do not give the root of its checkpoint at size %" PRIu64
		    " (run pii-audit verify)", writer, cp.size);
		goto out;
	}
	if ((r = audit_db_record(c, writer, seq, enc, &enclen, ei)) != 0)
		goto out;
	audit_merkle_leaf_hash(enc, enclen, leaf);
	if (memcmp(leaf, leaves[seq], 32) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "record %" PRIu64
		    " of %s does not match its hash (run pii-audit verify)", seq,
		    writer);
		goto out;
	}
	if ((r = audit_merkle_inclusion_proof((const unsigned char (*)[32])leaves,
	    cp.size, seq, path, AUDIT_MERKLE_MAX_PROOF, &np)) != 0)
		goto out;
	if ((r = audit_checkpoint_format(&cp, line, sizeof(line))) != 0)
		goto out;
	line[strcspn(line, "\n")] = '\0';
	i = sodium_base64_ENCODED_LEN(enclen, sodium_base64_VARIANT_ORIGINAL);
	if ((b64 = malloc(i)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	sodium_bin2base64(b64, i, enc, enclen, sodium_base64_VARIANT_ORIGINAL);
	arr = json_array();
	for (i = 0; arr != NULL && i < np; i++) {
		sodium_bin2hex(hex, sizeof(hex), path[i], 32);
		json_array_append_new(arr, json_string(hex));
	}
	o = json_pack("{s:s, s:s, s:I, s:I, s:o, s:s}", "format", PROOF_FORMAT,
	    "record", b64, "seq", (json_int_t)seq, "tree_size",
	    (json_int_t)cp.size, "path", arr, "checkpoint", line);
	arr = NULL;
	if (o == NULL || (*json_out = json_dumps(o, JSON_INDENT(2) |
	    JSON_PRESERVE_ORDER)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	r = 0;
out:
	json_decref(arr);
	json_decref(o);
	free(b64);
	free(enc);
	free(leaves);
	return r;
}

int
audit_proof_check(const char *text, size_t len,
    const struct audit_pubkey *keys, size_t nkeys,
    struct audit_proof_result *res, struct pii_errinfo *ei)
{
	static const char *const top[] = { "format", "record", "seq",
		"tree_size", "path", "checkpoint", NULL };
	unsigned char path[AUDIT_MERKLE_MAX_PROOF][32], leaf[32];
	const char *fmt, *rec64, *line;
	size_t rec64len = 0, linelen = 0, np, i, bl = 0;
	long long seq, size;
	json_t *root = NULL, *jpath;
	int r;

	memset(res, 0, sizeof(*res));
	if (len > AUDIT_PROOF_MAX)
		return pii_errinfo_set(ei, PII_ERR_TOO_LARGE, NULL, "proof file "
		    "larger than %d bytes", AUDIT_PROOF_MAX);
	if ((r = pii_json_parse(text, len, 4, &root, ei)) != 0)
		return r;
	if (!json_is_object(root)) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, NULL,
		    "a proof is a JSON object");
		goto out;
	}
	if ((r = pii_json_check_keys(root, top, "", ei)) != 0 ||
	    (r = pii_json_get_string(root, "format", 1, 64, "", &fmt, NULL,
	    ei)) != 0 ||
	    (r = pii_json_get_string(root, "record", 1, AUDIT_RECORD_MAX * 2,
	    "", &rec64, &rec64len, ei)) != 0 ||
	    (r = pii_json_get_int(root, "seq", 1, 0, INT64_MAX, "", &seq,
	    ei)) != 0 ||
	    (r = pii_json_get_int(root, "tree_size", 1, 1, INT64_MAX, "", &size,
	    ei)) != 0 ||
	    (r = pii_json_get_array(root, "path", 1, AUDIT_MERKLE_MAX_PROOF, "",
	    &jpath, ei)) != 0 ||
	    (r = pii_json_get_string(root, "checkpoint", 1,
	    AUDIT_WITNESS_LINE_MAX - 1, "", &line, &linelen, ei)) != 0)
		goto out;
	if (strcmp(fmt, PROOF_FORMAT) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "format",
		    "not \"" PROOF_FORMAT "\"");
		goto out;
	}
	if (!pii_base64_chars_ok(rec64, rec64len) ||
	    sodium_base642bin(res->record, sizeof(res->record), rec64, rec64len,
	    NULL, &res->record_len, NULL, sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    audit_record_decode(res->record, res->record_len, &res->view) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "record",
		    "not a base64 canonical audit record");
		goto out;
	}
	np = json_array_size(jpath);
	for (i = 0; i < np; i++) {
		const char *h = json_string_value(json_array_get(jpath, i));

		if (h == NULL || strlen(h) != 64 || sodium_hex2bin(path[i], 32, h,
		    64, NULL, &bl, NULL) != 0 || bl != 32) {
			r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "path",
			    "each entry is 64 hex digits");
			goto out;
		}
	}
	if (audit_checkpoint_parse(line, linelen, &res->cp) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_BAD_REQUEST, "checkpoint",
		    "not a checkpoint line");
		goto out;
	}
	/* the record, the proof and the checkpoint must describe one thing */
	if (res->view.origin.len != strlen(res->cp.origin) ||
	    memcmp(res->view.origin.p, res->cp.origin, res->view.origin.len) != 0 ||
	    res->view.seq != (uint64_t)seq || res->cp.size != (uint64_t)size ||
	    (uint64_t)seq >= (uint64_t)size) {
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "the record's origin "
		    "and sequence number, the proof's and the checkpoint's do "
		    "not agree");
		goto out;
	}
	switch (audit_checkpoint_verify(&res->cp, keys, nkeys)) {
	case 0:
		break;
	case PII_ERR_KEY:
		r = pii_errinfo_set(ei, PII_ERR_KEY, "checkpoint", "signed by key "
		    "%s, which is not trusted", res->cp.key_id);
		goto out;
	default:
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, "checkpoint",
		    "the signature does not verify");
		goto out;
	}
	audit_merkle_leaf_hash(res->record, res->record_len, leaf);
	if (audit_merkle_verify_inclusion(leaf, (unsigned long long)seq,
	    (unsigned long long)size, (const unsigned char (*)[32])path, np,
	    res->cp.root) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_CRYPTO, "path", "the record is not "
		    "in the tree the checkpoint signs");
		goto out;
	}
	r = 0;
out:
	json_decref(root);
	return r;
}
