/*
 * test_receipt.c - unit tests of the statement signatures of
 * audit_checkpoint (audit_statement_sign / audit_statement_verify) and of
 * the erasure receipt checker audit_receipt_check, without a database.
 *
 * Statements: a signature verifies; every bit flip of the text or the
 * signature, another domain, another key fail; bad domains are refused; and
 * no checkpoint signature verifies as a statement (domain separation).
 *
 * Receipts (the proven record must be an allowed "erasure" by actor
 * "dsr-executor" of the statement's subject, request, origin, seq and
 * count): the test keeps tiny audit logs in memory (records encoded with
 * audit_record_encode, the RFC 6962 root and audit paths from audit_merkle,
 * a checkpoint signed with audit_checkpoint_sign), writes inclusion proofs
 * in the format audit_proof_check reads and statements the way
 * vault/vault_dsr.c's dsr_receipt writes them (compact JSON, sorted keys,
 * signed under AUDIT_RECEIPT_DOMAIN), and checks one good receipt against a
 * table of receipts that each differ from it in one thing, each of which
 * must fail with the expected code and the expected error field.  The
 * table has a row for every check audit_receipt_check makes.
 */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>
#include <sodium.h>

#include "../../audit/audit_checkpoint.h"
#include "../../audit/audit_merkle.h"
#include "../../audit/audit_proof.h"
#include "../../audit/audit_receipt.h"
#include "../../audit/audit_record.h"
#include "tap.h"
#include "testfiles.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define ORIGIN "vault-1/20261122T000000Z-0000abcd/1"
#define ORIGIN2 "vault-2/20261122T000000Z-0000abcd/1"
#define AT_US 1795325203327960LL
#define RID "dsr_x7f3a9c2e41b85d06"
#define RID2 "dsr_x00000000000000ff"
#define TOK "tok_subject_v1_4f1c9b2e7a"
#define TOK2 "tok_subject_v1_0000000000"
/* the longest request id and subject token a statement may name */
#define RID64 "dsr_x" "0123456789abcdef0123456789abcdef" \
    "0123456789abcdef0123456789a"
#define TOK96 "tok_subject_v1_" "0123456789abcdef0123456789abcdef" \
    "0123456789abcdef0123456789abcdef0123456789abcdef0"
#define PROOF_FORMAT "piivault-audit-inclusion-proof v1"

/* ---- keys --------------------------------------------------------------- */

static char sec_a[128], pub_a[128], sec_b[128], pub_b[128];
static struct audit_signer *sa, *sb;     /* A is trusted, B is not */
static struct audit_pubkey ka, kb;

static void
setup_keys(void)
{
	struct pii_errinfo ei;

	snprintf(sec_a, sizeof(sec_a), "%s/a.key", dir);
	snprintf(pub_a, sizeof(pub_a), "%s/a.pub", dir);
	snprintf(sec_b, sizeof(sec_b), "%s/b.key", dir);
	snprintf(pub_b, sizeof(pub_b), "%s/b.pub", dir);
	if (audit_signer_generate(sec_a, pub_a, &ei) != 0 ||
	    audit_signer_generate(sec_b, pub_b, &ei) != 0 ||
	    audit_signer_load(sec_a, &sa, &ei) != 0 ||
	    audit_signer_load(sec_b, &sb, &ei) != 0 ||
	    audit_pubkey_load(pub_a, &ka, &ei) != 0 ||
	    audit_pubkey_load(pub_b, &kb, &ei) != 0) {
		fprintf(stderr, "# key setup failed: %s\n", ei.message);
		exit(2);
	}
	CHECK(strcmp(AUDIT_RECEIPT_DOMAIN, "erasure-receipt v1") == 0 &&
	    strcmp(AUDIT_RECEIPT_FORMAT, "piivault-erasure-receipt v1") == 0,
	    "AUDIT_RECEIPT_DOMAIN and _FORMAT are what docs/dsr.md and the vault "
	    "use");
	CHECK(strlen(RID64) == 64 && strlen(TOK96) == 96, "fixtures: RID64 is 64 "
	    "characters, TOK96 96");
	CHECK(strcmp(ka.key_id, kb.key_id) != 0, "two key pairs, two key ids "
	    "(%s, %s)", ka.key_id, kb.key_id);
}

/* ---- statements ------------------------------------------------------- */

static void
test_statement_sign_verify(void)
{
	static const char text[] = "{\"a\":1,\"b\":\"two\"}";
	const size_t tl = sizeof(text) - 1;
	char kid[AUDIT_KEY_ID_HEX + 1], t[sizeof(text)];
	unsigned char sig[AUDIT_SIG_BYTES], s2[AUDIT_SIG_BYTES];
	struct audit_pubkey both[2], wrong;
	size_t bit, bad;
	int r;

	memset(kid, 0, sizeof(kid));
	r = audit_statement_sign(sa, "test v1", text, tl, kid, sig);
	CHECK(r == 0, "statement_sign (%d)", r);
	CHECK_STR(kid, ka.key_id, "statement_sign gives the signer's key id");
	r = audit_statement_verify("test v1", text, tl, kid, sig, &ka, 1);
	CHECK(r == 0, "statement_verify of what was signed -> 0 (got %d)", r);
	both[0] = kb;
	both[1] = ka;
	r = audit_statement_verify("test v1", text, tl, kid, sig, both, 2);
	CHECK(r == 0, "statement_verify with [other key, right key] -> 0 "
	    "(got %d)", r);

	/* the signed message is "piivault statement v1\n" domain "\n" text */
	{
		static const char m[] = "piivault statement v1\ntest v1\n"
		    "{\"a\":1,\"b\":\"two\"}";
		unsigned char pk[32], sk[64], seed[32], ref[64];
		char p[160], ktext[128], b64[64];
		struct audit_signer *s = NULL;
		struct pii_errinfo ei;
		size_t i;

		for (i = 0; i < sizeof(seed); i++)
			seed[i] = (unsigned char)(0x40 + i);
		crypto_sign_seed_keypair(pk, sk, seed);
		crypto_sign_detached(ref, NULL, (const unsigned char *)m,
		    sizeof(m) - 1, sk);
		sodium_bin2base64(b64, sizeof(b64), seed, 32,
		    sodium_base64_VARIANT_ORIGINAL);
		snprintf(ktext, sizeof(ktext), "piivault-audit-signing-key v1 "
		    "%s\n", b64);
		snprintf(p, sizeof(p), "%s/kat.key", dir);
		if (spit(p, ktext, strlen(ktext), 0600) != 0 ||
		    audit_signer_load(p, &s, &ei) != 0)
			exit(2);
		char kk[AUDIT_KEY_ID_HEX + 1];

		r = audit_statement_sign(s, "test v1", text, tl, kk, s2);
		CHECK(r == 0 && memcmp(s2, ref, sizeof(ref)) == 0,
		    "statement_sign signs exactly \"piivault statement v1\\n\" "
		    "domain \"\\n\" text (%d)", r);
		sodium_memzero(sk, sizeof(sk));
		audit_signer_free(s);
		unlink(p);
	}

	bad = 0;
	for (bit = 0; bit < 8 * tl; bit++) {
		memcpy(t, text, sizeof(text));
		t[bit / 8] ^= (char)(1u << (bit % 8));
		if (audit_statement_verify("test v1", t, tl, kid, sig, &ka, 1) !=
		    PII_ERR_CRYPTO)
			bad++;
	}
	CHECK(bad == 0, "every one of the %zu text bit flips -> PII_ERR_CRYPTO "
	    "(%zu not)", 8 * tl, bad);
	bad = 0;
	for (bit = 0; bit < 8 * sizeof(sig); bit++) {
		memcpy(s2, sig, sizeof(sig));
		s2[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (audit_statement_verify("test v1", text, tl, kid, s2, &ka, 1) !=
		    PII_ERR_CRYPTO)
			bad++;
	}
	CHECK(bad == 0, "every one of the 512 signature bit flips -> "
	    "PII_ERR_CRYPTO (%zu not)", bad);
	r = audit_statement_verify("test v1", text, tl - 1, kid, sig, &ka, 1);
	CHECK(r == PII_ERR_CRYPTO, "text one byte shorter -> PII_ERR_CRYPTO "
	    "(got %d)", r);
	r = audit_statement_verify("test v2", text, tl, kid, sig, &ka, 1);
	CHECK(r == PII_ERR_CRYPTO, "another domain -> PII_ERR_CRYPTO (got %d)", r);
	r = audit_statement_verify("test", text, tl, kid, sig, &ka, 1);
	CHECK(r == PII_ERR_CRYPTO, "a prefix of the domain -> PII_ERR_CRYPTO "
	    "(got %d)", r);
	r = audit_statement_verify(AUDIT_RECEIPT_DOMAIN, text, tl, kid, sig, &ka,
	    1);
	CHECK(r == PII_ERR_CRYPTO, "the receipt domain -> PII_ERR_CRYPTO "
	    "(got %d)", r);

	/* keys */
	r = audit_statement_verify("test v1", text, tl, kid, sig, &kb, 1);
	CHECK(r == PII_ERR_KEY, "only another key trusted -> PII_ERR_KEY "
	    "(got %d)", r);
	r = audit_statement_verify("test v1", text, tl, kid, sig, NULL, 0);
	CHECK(r == PII_ERR_KEY, "no key trusted -> PII_ERR_KEY (got %d)", r);
	r = audit_statement_verify("test v1", text, tl, "0123456789abcdef", sig,
	    both, 2);
	CHECK(r == PII_ERR_KEY, "an untrusted key id -> PII_ERR_KEY (got %d)", r);
	r = audit_statement_verify("test v1", text, tl, kb.key_id, sig, both, 2);
	CHECK(r == PII_ERR_CRYPTO, "the other trusted key's id -> PII_ERR_CRYPTO "
	    "(got %d)", r);
	wrong = kb;
	memcpy(wrong.key_id, ka.key_id, sizeof(wrong.key_id));
	r = audit_statement_verify("test v1", text, tl, kid, sig, &wrong, 1);
	CHECK(r == PII_ERR_CRYPTO, "another key's bytes under the right key id "
	    "-> PII_ERR_CRYPTO (got %d)", r);
	r = audit_statement_sign(sb, "test v1", text, tl, kid, s2);
	CHECK(r == 0 && strcmp(kid, kb.key_id) == 0, "statement_sign by B (%d)",
	    r);
	r = audit_statement_verify("test v1", text, tl, ka.key_id, s2, &ka, 1);
	CHECK(r == PII_ERR_CRYPTO, "B's signature under A's key id -> "
	    "PII_ERR_CRYPTO (got %d)", r);

	/* empty text */
	r = audit_statement_sign(sa, "test v1", NULL, 0, kid, s2);
	CHECK(r == 0, "statement_sign of an empty text (%d)", r);
	r = audit_statement_verify("test v1", "", 0, kid, s2, &ka, 1);
	CHECK(r == 0, "and it verifies (got %d)", r);
	r = audit_statement_verify("test v1", text, tl, kid, s2, &ka, 1);
	CHECK(r == PII_ERR_CRYPTO, "and not for another text (got %d)", r);
}

static void
test_statement_domains(void)
{
	char d64[65], d65[66], kid[AUDIT_KEY_ID_HEX + 1];
	unsigned char sig[AUDIT_SIG_BYTES];
	const struct {
		const char *name, *domain;
		int want;
	} rows[] = {
		{ "empty", "", PII_ERR_BAD_REQUEST },
		{ "a newline at the end", "erasure-receipt v1\n",
		    PII_ERR_BAD_REQUEST },
		{ "a newline inside", "erasure\nreceipt", PII_ERR_BAD_REQUEST },
		{ "a newline only", "\n", PII_ERR_BAD_REQUEST },
		{ "65 characters", d65, PII_ERR_BAD_REQUEST },
		{ "64 characters", d64, 0 },
		{ "1 character", "x", 0 },
		{ "the receipt domain", AUDIT_RECEIPT_DOMAIN, 0 },
	};
	size_t i;
	int r;

	memset(d64, 'd', 64);
	d64[64] = '\0';
	memset(d65, 'd', 65);
	d65[65] = '\0';
	for (i = 0; i < NELEM(rows); i++) {
		r = audit_statement_sign(sa, rows[i].domain, "t", 1, kid, sig);
		CHECK(r == rows[i].want, "statement_sign with a domain of %s -> %d "
		    "(got %d)", rows[i].name, rows[i].want, r);
		if (rows[i].want != 0) {
			/* a valid signature for the verifier to refuse anyway */
			if (audit_statement_sign(sa, "x", "t", 1, kid, sig) != 0)
				exit(2);
		}
		r = audit_statement_verify(rows[i].domain, "t", 1, ka.key_id, sig,
		    &ka, 1);
		CHECK(r == rows[i].want, "statement_verify with a domain of %s -> "
		    "%d (got %d)", rows[i].name, rows[i].want, r);
	}
	{
		size_t big = (size_t)1 << 24;
		char *t = calloc(1, big + 1);

		if (t == NULL)
			exit(2);
		r = audit_statement_sign(sa, "x", t, big, kid, sig);
		CHECK(r == 0, "statement_sign of a 2^24-byte text (%d)", r);
		r = audit_statement_verify("x", t, big, ka.key_id, sig, &ka, 1);
		CHECK(r == 0, "and it verifies (%d)", r);
		r = audit_statement_sign(sa, "x", t, big + 1, kid, sig);
		CHECK(r == PII_ERR_BAD_REQUEST, "statement_sign of a 2^24 + 1-byte "
		    "text -> PII_ERR_BAD_REQUEST (%d)", r);
		r = audit_statement_verify("x", t, big + 1, ka.key_id, sig, &ka, 1);
		CHECK(r == PII_ERR_BAD_REQUEST, "statement_verify of a 2^24 + "
		    "1-byte text -> PII_ERR_BAD_REQUEST (%d)", r);
		free(t);
	}
	r = audit_statement_sign(NULL, "x", "t", 1, kid, sig);
	CHECK(r == PII_ERR_BAD_REQUEST, "statement_sign without a signer -> "
	    "PII_ERR_BAD_REQUEST (%d)", r);
	r = audit_statement_sign(sa, NULL, "t", 1, kid, sig);
	CHECK(r == PII_ERR_BAD_REQUEST, "statement_sign without a domain -> "
	    "PII_ERR_BAD_REQUEST (%d)", r);
	r = audit_statement_sign(sa, "x", NULL, 1, kid, sig);
	CHECK(r == PII_ERR_BAD_REQUEST, "statement_sign of NULL text of length 1 "
	    "-> PII_ERR_BAD_REQUEST (%d)", r);
	r = audit_statement_verify(NULL, "t", 1, ka.key_id, sig, &ka, 1);
	CHECK(r == PII_ERR_BAD_REQUEST, "statement_verify without a domain -> "
	    "PII_ERR_BAD_REQUEST (%d)", r);
	r = audit_statement_verify("x", "t", 1, NULL, sig, &ka, 1);
	CHECK(r == PII_ERR_BAD_REQUEST, "statement_verify without a key id -> "
	    "PII_ERR_BAD_REQUEST (%d)", r);
	r = audit_statement_verify("x", "t", 1, ka.key_id, sig, NULL, 1);
	CHECK(r == PII_ERR_BAD_REQUEST, "statement_verify with NULL keys, nkeys 1 "
	    "-> PII_ERR_BAD_REQUEST (%d)", r);
}

/* No checkpoint signature is a statement signature, whatever domain and
 * text a forger picks: the checkpoint message starts "piivault audit
 * checkpoint v1\n", a statement message "piivault statement v1\n".  And the
 * other way round. */
static void
test_statement_not_checkpoint(void)
{
	struct audit_checkpoint cp, c2;
	char msg[512], line[AUDIT_WITNESS_LINE_MAX], root[64];
	const char *tails[8], *domains[8];
	size_t nt = 0, nd = 0, i, j, bad = 0, tried = 0;
	char *nl;
	int r;

	memset(&cp, 0, sizeof(cp));
	snprintf(cp.origin, sizeof(cp.origin), "%s", ORIGIN);
	cp.size = 13;
	for (i = 0; i < sizeof(cp.root); i++)
		cp.root[i] = (unsigned char)(0xa0 ^ i);
	cp.at_us = AT_US;
	if (audit_checkpoint_sign(sa, &cp) != 0)
		exit(2);
	sodium_bin2base64(root, sizeof(root), cp.root, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	snprintf(msg, sizeof(msg), "piivault audit checkpoint v1\n%s\n%" PRIu64
	    "\n%s\n%" PRId64 "\n", cp.origin, cp.size, root, cp.at_us);
	/* texts: the whole message, its tail after each newline, nothing */
	tails[nt++] = msg;
	for (nl = strchr(msg, '\n'); nl != NULL && nt < NELEM(tails) - 1;
	    nl = strchr(nl + 1, '\n'))
		tails[nt++] = nl + 1;
	tails[nt++] = "";
	domains[nd++] = "audit checkpoint v1";
	domains[nd++] = "piivault audit checkpoint v1";
	domains[nd++] = cp.origin;
	domains[nd++] = AUDIT_RECEIPT_DOMAIN;
	domains[nd++] = "checkpoint v1";
	domains[nd++] = "piivault";
	for (i = 0; i < nd; i++)
		for (j = 0; j < nt; j++) {
			tried++;
			r = audit_statement_verify(domains[i], tails[j],
			    strlen(tails[j]), cp.key_id, cp.sig, &ka, 1);
			if (r != PII_ERR_CRYPTO) {
				bad++;
				fprintf(stderr, "# domain \"%s\", text at %zu -> %d\n",
				    domains[i], (size_t)(tails[j] - msg), r);
			}
		}
	CHECK(bad == 0 && tried == nd * nt && nt >= 6, "a checkpoint signature "
	    "verifies as a statement under none of %zu domain/text pairs "
	    "(%zu did)", tried, bad);
	/* the witness line itself as the text */
	if (audit_checkpoint_format(&cp, line, sizeof(line)) != 0)
		exit(2);
	r = audit_statement_verify(AUDIT_RECEIPT_DOMAIN, line, strlen(line),
	    cp.key_id, cp.sig, &ka, 1);
	CHECK(r == PII_ERR_CRYPTO, "nor over its witness line (%d)", r);
	r = audit_checkpoint_verify(&cp, &ka, 1);
	CHECK(r == 0, "while it verifies as a checkpoint (%d)", r);

	/* a statement signature over the checkpoint's message tail is not a
	 * checkpoint signature of that checkpoint */
	c2 = cp;
	r = audit_statement_sign(sa, "audit checkpoint v1", tails[1],
	    strlen(tails[1]), c2.key_id, c2.sig);
	CHECK(r == 0, "sign the checkpoint message's tail as a statement (%d)",
	    r);
	r = audit_checkpoint_verify(&c2, &ka, 1);
	CHECK(r == PII_ERR_CRYPTO, "that statement signature does not verify as "
	    "the checkpoint (%d)", r);
}

/* ---- receipts: in-memory audit logs ------------------------------------ */

#define MAX_RECS 16

struct log {
	const char *origin;
	size_t n;
	unsigned char enc[MAX_RECS][AUDIT_RECORD_MAX];
	size_t enclen[MAX_RECS];
	unsigned char leaves[MAX_RECS][32];
	struct audit_checkpoint cp;
	char line[AUDIT_WITNESS_LINE_MAX];
};

struct rec_row {
	const char *action, *subject, *decision, *request_id, *batch_id;
	long long count;
	const char *actor;      /* NULL: "dsr-executor" for an erasure */
};

/* Log 0 of ORIGIN: record 3 is the erasure of RID; each other erasure
 * differs from it in exactly one field the checker compares. */
static const struct rec_row log0_rows[] = {
	/* 0 */ { "tokenize", NULL, "allow", "req-0001", NULL, 12, NULL },
	/* 1 */ { "reveal", TOK, "allow", "req-0002", NULL, 1, NULL },
	/* 2 */ { "dsr_start", TOK, "allow", RID, RID, 3, "dsr-executor" },
	/* 3 */ { "erasure", TOK, "allow", RID, RID, 3, NULL },
	/* 4 */ { "erasure", TOK, "deny", RID, RID, 3, NULL },
	/* 5 */ { "erasure", TOK2, "allow", RID, RID, 3, NULL },
	/* 6 */ { "erasure", TOK, "allow", "req-0003", RID, 3, NULL },
	/* 7 */ { "erasure", TOK, "allow", RID, RID2, 3, NULL },
	/* 8 */ { "erasure", NULL, "allow", RID, RID, 3, NULL },
	/* 9 */ { "erasure", TOK "0", "allow", RID, RID, 3, NULL },
	/* 10 */ { "erasure", TOK, "allow", RID "0", RID "0", 3, NULL },
	/* 11 */ { "erasures", TOK, "allow", RID, RID, 3, "dsr-executor" },
	/* 12 */ { "erasure", TOK, "allow", RID2, RID2, 5, NULL },
	/* 13 */ { "erasure", TOK96, "allow", RID64, RID64, 1, NULL },
	/* 14 */ { "erasure", TOK, "allow", RID, RID, 3, "svc-support" },
	/* 15 */ { "erasure", TOK, "allow", RID, RID, 3, "dsr-executor-2" },
};

/* Log 1 of ORIGIN2: the same erasure of RID, at the same seq 3. */
static const struct rec_row log1_rows[] = {
	{ "tokenize", NULL, "allow", "req-1001", NULL, 1, NULL },
	{ "reveal", TOK, "allow", "req-1002", NULL, 1, NULL },
	{ "dsr_start", TOK, "allow", RID, RID, 0, NULL },
	{ "erasure", TOK, "allow", RID, RID, 3, NULL },
};

static struct log log0, log1, log0b;    /* log0b: log0 signed by B */

static void
build_log(struct log *lg, const char *origin, const struct rec_row *rows,
    size_t n, const struct audit_signer *s)
{
	static const char *const cats[] = { "email", "phone" };
	unsigned char root[32];
	size_t i;

	memset(lg, 0, sizeof(*lg));
	lg->origin = origin;
	lg->n = n;
	for (i = 0; i < n; i++) {
		struct audit_position pos = { origin, i, AT_US + (int64_t)i };
		struct audit_record rec;

		memset(&rec, 0, sizeof(rec));
		rec.actor = rows[i].actor != NULL ? rows[i].actor :
		    strcmp(rows[i].action, "erasure") == 0 ? "dsr-executor" :
		    "svc-support";
		rec.purpose = "dsr";
		rec.action = rows[i].action;
		rec.subject_token = rows[i].subject;
		rec.categories = cats;
		rec.ncategories = i % 3 == 0 ? 0 : 2;
		rec.decision = rows[i].decision;
		rec.reason = strcmp(rows[i].decision, "allow") == 0 ? "ok" :
		    "forbidden";
		rec.request_id = rows[i].request_id;
		rec.batch_id = rows[i].batch_id;
		rec.count = rows[i].count;
		if (audit_record_encode(&pos, &rec, lg->enc[i], AUDIT_RECORD_MAX,
		    &lg->enclen[i]) != 0) {
			fprintf(stderr, "# record %zu does not encode\n", i);
			exit(2);
		}
		audit_merkle_leaf_hash(lg->enc[i], lg->enclen[i], lg->leaves[i]);
	}
	if (audit_merkle_root((const unsigned char (*)[32])lg->leaves, n,
	    root) != 0)
		exit(2);
	snprintf(lg->cp.origin, sizeof(lg->cp.origin), "%s", origin);
	lg->cp.size = n;
	memcpy(lg->cp.root, root, 32);
	lg->cp.at_us = AT_US + 1000000;
	if (audit_checkpoint_sign(s, &lg->cp) != 0 ||
	    audit_checkpoint_format(&lg->cp, lg->line, sizeof(lg->line)) != 0)
		exit(2);
	lg->line[strcspn(lg->line, "\n")] = '\0';
}

/* The inclusion proof of record m of lg, as audit_proof_build writes it. */
static json_t *
proof_json(const struct log *lg, size_t m)
{
	unsigned char path[AUDIT_MERKLE_MAX_PROOF][32];
	char b64[sodium_base64_ENCODED_LEN(AUDIT_RECORD_MAX,
	    sodium_base64_VARIANT_ORIGINAL)], hex[65];
	json_t *arr;
	size_t np = 0, i;

	if (audit_merkle_inclusion_proof(
	    (const unsigned char (*)[32])lg->leaves, lg->n, m, path,
	    AUDIT_MERKLE_MAX_PROOF, &np) != 0)
		exit(2);
	sodium_bin2base64(b64, sizeof(b64), lg->enc[m], lg->enclen[m],
	    sodium_base64_VARIANT_ORIGINAL);
	arr = json_array();
	for (i = 0; i < np; i++) {
		sodium_bin2hex(hex, sizeof(hex), path[i], 32);
		json_array_append_new(arr, json_string(hex));
	}
	return json_pack("{s:s, s:s, s:I, s:I, s:o, s:s}", "format",
	    PROOF_FORMAT, "record", b64, "seq", (json_int_t)m, "tree_size",
	    (json_int_t)lg->n, "path", arr, "checkpoint", lg->line);
}

/* ---- receipts: the builder --------------------------------------------- */

/* One receipt: the proof of record `prove` of `log`, and a statement about
 * origin/seq/rid/tok signed by `signer` under `domain`.  Hooks change the
 * statement before signing, its text after signing, the receipt object. */
struct spec {
	const struct log *log;
	size_t prove;
	const char *origin, *rid, *tok;
	long long seq, values;          /* audit_seq, values_erased */
	const struct audit_signer *signer;
	const char *domain;
	void (*stmt_mut)(json_t *st);
	char *(*text_mut)(char *text);          /* returns malloc'd text */
	void (*rcpt_mut)(json_t *rc);
	size_t dump_flags;
};

static void
default_spec(struct spec *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->log = &log0;
	sp->prove = 3;
	sp->origin = ORIGIN;
	sp->seq = 3;
	sp->values = 3;
	sp->rid = RID;
	sp->tok = TOK;
	sp->signer = sa;
	sp->domain = "erasure-receipt v1";     /* as vault_dsr.c signs */
	sp->dump_flags = JSON_INDENT(2) | JSON_PRESERVE_ORDER;
}

/* The receipt text (malloc'd), exactly as dsr_receipt would write it. */
static char *
build_receipt(const struct spec *sp, size_t *len)
{
	char key_id[AUDIT_KEY_ID_HEX + 1], sigb64[sodium_base64_ENCODED_LEN(
	    AUDIT_SIG_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	unsigned char sig[AUDIT_SIG_BYTES];
	json_t *st, *rc;
	char *stmt, *text, *t;

	st = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I,"
	    " s:I}",
	    "format", "piivault-erasure-receipt v1",
	    "request_id", sp->rid,
	    "kind", "erasure",
	    "subject_token", sp->tok,
	    "received_at", "2026-11-01T09:00:00Z",
	    "due_at", "2026-12-01T09:00:00Z",
	    "completed_at", "2026-11-22T10:11:12Z",
	    "kek_epoch", (json_int_t)2,
	    "values_erased", (json_int_t)sp->values,
	    "audit_origin", sp->origin,
	    "audit_seq", (json_int_t)sp->seq,
	    "erasure_event_id", (json_int_t)41);
	if (st == NULL)
		exit(2);
	if (sp->stmt_mut != NULL)
		sp->stmt_mut(st);
	stmt = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(st);
	if (stmt == NULL || audit_statement_sign(sp->signer, sp->domain, stmt,
	    strlen(stmt), key_id, sig) != 0)
		exit(2);
	if (sp->text_mut != NULL) {
		t = sp->text_mut(stmt);
		free(stmt);
		stmt = t;
	}
	sodium_bin2base64(sigb64, sizeof(sigb64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	rc = json_pack("{s:s, s:s, s:s, s:s, s:o}", "format",
	    "piivault-erasure-receipt v1", "statement", stmt, "key_id", key_id,
	    "signature", sigb64, "proof", proof_json(sp->log, sp->prove));
	free(stmt);
	if (rc == NULL)
		exit(2);
	if (sp->rcpt_mut != NULL)
		sp->rcpt_mut(rc);
	text = json_dumps(rc, sp->dump_flags);
	json_decref(rc);
	if (text == NULL)
		exit(2);
	*len = strlen(text);
	return text;
}

/* ---- receipts: the good one ------------------------------------------- */

static struct audit_receipt_result res;

static int
check_text(const char *text, size_t len, const struct audit_pubkey *keys,
    size_t nkeys, struct pii_errinfo *ei)
{
	pii_errinfo_clear(ei);
	return audit_receipt_check(text, len, keys, nkeys, &res, ei);
}

static void
test_receipt_good(void)
{
	struct spec sp;
	struct pii_errinfo ei;
	char *text;
	size_t len;
	int r;

	default_spec(&sp);
	text = build_receipt(&sp, &len);
	r = check_text(text, len, &ka, 1, &ei);
	CHECK(r == 0, "a good receipt passes (got %d: %s: %s)", r, ei.field,
	    ei.message);
	CHECK_STR(res.request_id, RID, "res.request_id");
	CHECK_STR(res.subject_token, TOK, "res.subject_token");
	CHECK_STR(res.completed_at, "2026-11-22T10:11:12Z", "res.completed_at");
	CHECK(res.kek_epoch == 2 && res.values_erased == 3,
	    "res.kek_epoch 2, res.values_erased 3 (%lld, %lld)", res.kek_epoch,
	    res.values_erased);
	CHECK(res.proof.view.seq == 3 && res.proof.cp.size == 16 &&
	    strcmp(res.proof.cp.origin, ORIGIN) == 0 &&
	    strcmp(res.proof.cp.key_id, ka.key_id) == 0 &&
	    res.proof.view.count == 3,
	    "res.proof: record 3 of " ORIGIN " in the checkpoint of size 16 by "
	    "key A");

	/* the statement alone is what the signature covers: the rest of the
	 * receipt may be laid out any way */
	free(text);
	sp.dump_flags = JSON_COMPACT;
	text = build_receipt(&sp, &len);
	r = check_text(text, len, &ka, 1, &ei);
	CHECK(r == 0, "the same receipt, compact, passes (got %d: %s)", r,
	    ei.message);
	free(text);
	sp.dump_flags = JSON_INDENT(7) | JSON_SORT_KEYS;
	text = build_receipt(&sp, &len);
	r = check_text(text, len, &ka, 1, &ei);
	CHECK(r == 0, "the same receipt, keys sorted, indented 7, passes (got %d:"
	    " %s)", r, ei.message);
	free(text);

	/* the same receipt from a text that is not NUL-terminated */
	default_spec(&sp);
	text = build_receipt(&sp, &len);
	{
		char *copy = malloc(len);

		if (copy == NULL)
			exit(2);
		memcpy(copy, text, len);
		r = check_text(copy, len, &ka, 1, &ei);
		CHECK(r == 0, "a receipt without a NUL after it passes (%d)", r);
		r = check_text(copy, len - 1, &ka, 1, &ei);
		CHECK(r == PII_ERR_INVALID_JSON, "and one byte shorter -> "
		    "PII_ERR_INVALID_JSON (got %d)", r);
		free(copy);
	}
	free(text);
}

/* Positive controls: the other logs and records are provable, so the rows
 * that fail against them fail for the one field they change. */
static void sp_log1(struct spec *s) { s->log = &log1; s->origin = ORIGIN2; }
static void
sp_rec12(struct spec *s)
{
	s->prove = s->seq = 12;
	s->rid = RID2;
	s->values = 5;
}
static void
sp_rec13(struct spec *s)
{
	s->prove = s->seq = 13;
	s->rid = RID64;
	s->tok = TOK96;
	s->values = 1;
}
static void sp_stmt_by_b(struct spec *s) { s->signer = sb; }
static void sp_cp_by_b(struct spec *s) { s->log = &log0b; }

static void
test_receipt_controls(void)
{
	static const struct {
		const char *name;
		void (*tweak)(struct spec *);
		int trust_a, trust_b;
		int want;
		const char *field;
	} rows[] = {
		{ "the erasure in another log, stated with that log's origin",
		    sp_log1, 1, 0, 0, "" },
		{ "another request's erasure, stated with its request id and seq",
		    sp_rec12, 1, 0, 0, "" },
		{ "a 64-character request id and a 96-character subject token",
		    sp_rec13, 1, 0, 0, "" },
		{ "statement by B, checkpoint by A, both trusted", sp_stmt_by_b, 1,
		    1, 0, "" },
		{ "statement by A, checkpoint by B, both trusted", sp_cp_by_b, 1, 1,
		    0, "" },
		{ "statement by B, only A trusted", sp_stmt_by_b, 1, 0,
		    PII_ERR_KEY, "signature" },
		{ "checkpoint by B, only A trusted", sp_cp_by_b, 1, 0, PII_ERR_KEY,
		    "proof.checkpoint" },
		{ "statement by B, checkpoint by A, only B trusted", sp_stmt_by_b,
		    0, 1, PII_ERR_KEY, "proof.checkpoint" },
		{ "no key trusted", NULL, 0, 0, PII_ERR_KEY, "signature" },
	};
	struct audit_pubkey keys[2];
	struct pii_errinfo ei;
	struct spec sp;
	size_t i, nk, len;
	char *text;
	int r;

	for (i = 0; i < NELEM(rows); i++) {
		default_spec(&sp);
		if (rows[i].tweak != NULL)
			rows[i].tweak(&sp);
		nk = 0;
		if (rows[i].trust_b)
			keys[nk++] = kb;
		if (rows[i].trust_a)
			keys[nk++] = ka;
		text = build_receipt(&sp, &len);
		r = check_text(text, len, keys, nk, &ei);
		CHECK(r == rows[i].want && strcmp(ei.field, rows[i].field) == 0,
		    "%s -> %d \"%s\" (got %d \"%s\": %s)", rows[i].name,
		    rows[i].want, rows[i].field, r, ei.field, ei.message);
		if (r == 0)
			CHECK(strcmp(res.request_id, sp.rid) == 0 &&
			    strcmp(res.subject_token, sp.tok) == 0 &&
			    res.proof.view.seq == (uint64_t)sp.seq &&
			    strcmp(res.proof.cp.origin, sp.origin) == 0,
			    "%s: res names its request, subject, seq and origin",
			    rows[i].name);
		free(text);
	}
}

/* ---- receipts: one change each ----------------------------------------- */

/* what the statement names against what is proven */
static void t_seq_other(struct spec *s) { s->seq = 2; }
static void t_seq_next(struct spec *s) { s->seq = 4; }
static void t_origin_other(struct spec *s) { s->origin = ORIGIN2; }
static void t_log1_origin0(struct spec *s) { s->log = &log1; }
static void t_rid_other(struct spec *s) { s->rid = RID2; }
static void t_rid_prefix(struct spec *s) { s->rid = "dsr_x7f3a9c2e41b85d0"; }
static void t_tok_other(struct spec *s) { s->tok = TOK2; }
static void
t_tok_prefix(struct spec *s)
{
	s->tok = "tok_subject_v1_4f1c9b2e7";
}
static void t_tok_longer(struct spec *s) { s->tok = TOK "0"; }
static void
t_tok_empty_nosubj(struct spec *s)
{
	s->tok = "";
	s->prove = s->seq = 8;
}
static void
t_rid65(struct spec *s)
{
	s->prove = s->seq = 13;
	s->rid = RID64 "0";
	s->tok = TOK96;
}
static void
t_tok97(struct spec *s)
{
	s->prove = s->seq = 13;
	s->rid = RID64;
	s->tok = TOK96 "0";
}
/* the proven record differs from the erasure in one field */
static void t_p_action(struct spec *s) { s->prove = s->seq = 2; }
static void t_p_deny(struct spec *s) { s->prove = s->seq = 4; }
static void t_p_subject(struct spec *s) { s->prove = s->seq = 5; }
static void t_p_reqid(struct spec *s) { s->prove = s->seq = 6; }
static void t_p_batch(struct spec *s) { s->prove = s->seq = 7; }
static void t_p_nosubj(struct spec *s) { s->prove = s->seq = 8; }
static void t_p_subj_longer(struct spec *s) { s->prove = s->seq = 9; }
static void t_p_rid_longer(struct spec *s) { s->prove = s->seq = 10; }
static void t_p_action_longer(struct spec *s) { s->prove = s->seq = 11; }
static void t_p_other_req(struct spec *s) { s->prove = s->seq = 12; }
static void t_p_reveal(struct spec *s) { s->prove = s->seq = 1; }
static void t_p_tokenize(struct spec *s) { s->prove = s->seq = 0; }
static void t_p_other_seq(struct spec *s) { s->prove = 12; }
static void t_p_actor(struct spec *s) { s->prove = s->seq = 14; }
static void t_p_actor_longer(struct spec *s) { s->prove = s->seq = 15; }
static void t_values_more(struct spec *s) { s->values = 4; }
static void t_values_zero(struct spec *s) { s->values = 0; }
static void
t_p_other_req_values(struct spec *s)
{
	s->prove = s->seq = 12;
	s->values = 5;
}

/* the signature */
static void t_domain(struct spec *s) { s->domain = "erasure-receipt v2"; }
static void t_domain_cp(struct spec *s) { s->domain = "audit checkpoint v1"; }

static char *
dup_text(const char *t)
{
	char *d = strdup(t);

	if (d == NULL)
		exit(2);
	return d;
}

static char *
x_values(char *t)
{
	char *d = dup_text(t), *p = strstr(d, "\"values_erased\":3");

	if (p == NULL)
		exit(2);
	p[strlen("\"values_erased\":")] = '4';
	return d;
}

static char *
x_seq(char *t)
{
	char *d = dup_text(t), *p = strstr(d, "\"audit_seq\":3");

	if (p == NULL)
		exit(2);
	p[strlen("\"audit_seq\":")] = '2';
	return d;
}

static char *
x_bit(char *t)
{
	char *d = dup_text(t);

	d[strlen(d) / 2] ^= 0x01;
	return d;
}

static char *
x_space(char *t)
{
	size_t n = strlen(t);
	char *d = malloc(n + 2);

	if (d == NULL)
		exit(2);
	memcpy(d, t, n);
	memcpy(d + n, " ", 2);
	return d;
}

static char *
x_resort(char *t)
{
	json_t *j = json_loads(t, 0, NULL);
	char *d, *o;

	if (j == NULL || (o = json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS)) ==
	    NULL)
		exit(2);
	d = dup_text(o);
	free(o);
	json_decref(j);
	return d;
}

static void
set_stmt_text(json_t *rc, const char *v)
{
	json_object_set_new(rc, "statement", json_string(v));
}

static char *
x_not_json(char *t)
{
	(void)t;
	return dup_text("{\"format\":");
}

/* Statements that are signed but not what a receipt states. */
static void s_del_origin(json_t *st) { json_object_del(st, "audit_origin"); }
static void s_del_seq(json_t *st) { json_object_del(st, "audit_seq"); }
static void s_del_completed(json_t *st) { json_object_del(st, "completed_at"); }
static void s_del_format(json_t *st) { json_object_del(st, "format"); }
static void s_del_epoch(json_t *st) { json_object_del(st, "kek_epoch"); }
static void s_del_kind(json_t *st) { json_object_del(st, "kind"); }
static void s_del_rid(json_t *st) { json_object_del(st, "request_id"); }
static void s_del_tok(json_t *st) { json_object_del(st, "subject_token"); }
static void s_del_values(json_t *st) { json_object_del(st, "values_erased"); }
static void s_del_event(json_t *st) { json_object_del(st, "erasure_event_id"); }
static void
s_extra(json_t *st)
{
	json_object_set_new(st, "subject", json_string("alice@example.com"));
}
static void
s_format(json_t *st)
{
	json_object_set_new(st, "format", json_string("piivault-erasure-receipt"
	    " v2"));
}
static void
s_format_proof(json_t *st)
{
	json_object_set_new(st, "format", json_string(PROOF_FORMAT));
}
static void
s_kind(json_t *st)
{
	json_object_set_new(st, "kind", json_string("export"));
}
static void
s_kind_long(json_t *st)
{
	json_object_set_new(st, "kind", json_string("erasure-erasure-x"));
}
static void
s_seq_str(json_t *st)
{
	json_object_set_new(st, "audit_seq", json_string("3"));
}
static void
s_seq_neg(json_t *st)
{
	json_object_set_new(st, "audit_seq", json_integer(-1));
}
static void
s_seq_real(json_t *st)
{
	json_object_set_new(st, "audit_seq", json_real(3.0));
}
static void
s_epoch_big(json_t *st)
{
	json_object_set_new(st, "kek_epoch", json_integer(4294967296LL));
}
static void
s_epoch_max(json_t *st)
{
	json_object_set_new(st, "kek_epoch", json_integer(4294967295LL));
}
static void
s_values_neg(json_t *st)
{
	json_object_set_new(st, "values_erased", json_integer(-1));
}
static void
s_rid_int(json_t *st)
{
	json_object_set_new(st, "request_id", json_integer(7));
}
static void
s_rid_empty(json_t *st)
{
	json_object_set_new(st, "request_id", json_string(""));
}
static void
s_tok_null(json_t *st)
{
	json_object_set_new(st, "subject_token", json_null());
}
static void
s_origin_empty(json_t *st)
{
	json_object_set_new(st, "audit_origin", json_string(""));
}
static void
s_origin_long(json_t *st)
{
	char o[AUDIT_ORIGIN_MAX + 1];

	memset(o, 'o', AUDIT_ORIGIN_MAX);
	o[AUDIT_ORIGIN_MAX] = '\0';
	json_object_set_new(st, "audit_origin", json_string(o));
}
static void
s_completed_long(json_t *st)
{
	json_object_set_new(st, "completed_at", json_string(
	    "2026-11-22T10:11:12.123456+01:00"));              /* 32 */
}
static void
s_completed_max(json_t *st)
{
	json_object_set_new(st, "completed_at", json_string(
	    "2026-11-22T10:11:12.12345+01:00"));               /* 31 */
}
static void
s_format_long(json_t *st)
{
	char f[66];

	memset(f, 'f', sizeof(f) - 1);
	f[sizeof(f) - 1] = '\0';
	json_object_set_new(st, "format", json_string(f));
}
static void
s_huge(json_t *st)
{
	char big[4200];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	json_object_set_new(st, "due_at", json_string(big));
}
/* due_at padded so that the statement text is exactly n bytes */
static size_t stmt_target;
static void
s_exact(json_t *st)
{
	char *t, *pad;
	size_t n;

	json_object_set_new(st, "due_at", json_string(""));
	if ((t = json_dumps(st, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		exit(2);
	n = strlen(t);
	free(t);
	if (n > stmt_target || (pad = calloc(1, stmt_target - n + 1)) == NULL)
		exit(2);
	memset(pad, 'x', stmt_target - n);
	json_object_set_new(st, "due_at", json_string(pad));
	free(pad);
}
static void
s_nested(json_t *st)
{
	json_object_set_new(st, "due_at", json_pack("{s:[i]}", "a", 1));
}

static void
stmt_signed_as(json_t *rc, const char *stmt)
{
	char kid[AUDIT_KEY_ID_HEX + 1], b64[sodium_base64_ENCODED_LEN(
	    AUDIT_SIG_BYTES, sodium_base64_VARIANT_ORIGINAL)];
	unsigned char sig[AUDIT_SIG_BYTES];

	if (audit_statement_sign(sa, AUDIT_RECEIPT_DOMAIN, stmt, strlen(stmt),
	    kid, sig) != 0)
		exit(2);
	sodium_bin2base64(b64, sizeof(b64), sig, sizeof(sig),
	    sodium_base64_VARIANT_ORIGINAL);
	set_stmt_text(rc, stmt);
	json_object_set_new(rc, "signature", json_string(b64));
}
static void r_stmt_array(json_t *rc) { stmt_signed_as(rc, "[1,2]"); }
static void r_stmt_string(json_t *rc) { stmt_signed_as(rc, "\"erasure\""); }
static void
r_stmt_deep(json_t *rc)
{
	stmt_signed_as(rc, "{\"a\":{\"b\":{}}}");
}
static void r_stmt_bad(json_t *rc) { stmt_signed_as(rc, "{\"kind\":"); }
static void r_stmt_empty(json_t *rc) { stmt_signed_as(rc, ""); }

/* the receipt object */
static void
r_extra(json_t *rc)
{
	json_object_set_new(rc, "note", json_string("x"));
}
static void
r_extra_odd(json_t *rc)
{
	json_object_set_new(rc, "n o t e", json_true());
}
static void r_del_format(json_t *rc) { json_object_del(rc, "format"); }
static void r_del_statement(json_t *rc) { json_object_del(rc, "statement"); }
static void r_del_key_id(json_t *rc) { json_object_del(rc, "key_id"); }
static void r_del_signature(json_t *rc) { json_object_del(rc, "signature"); }
static void r_del_proof(json_t *rc) { json_object_del(rc, "proof"); }
static void
r_format(json_t *rc)
{
	json_object_set_new(rc, "format", json_string("piivault-erasure-receipt"
	    " v2"));
}
static void
r_format_proof(json_t *rc)
{
	json_object_set_new(rc, "format", json_string(PROOF_FORMAT));
}
static void
r_format_empty(json_t *rc)
{
	json_object_set_new(rc, "format", json_string(""));
}
static void
r_format_int(json_t *rc)
{
	json_object_set_new(rc, "format", json_integer(1));
}
static void
r_format_long(json_t *rc)
{
	char f[66];

	memset(f, 'f', sizeof(f) - 1);
	f[sizeof(f) - 1] = '\0';
	json_object_set_new(rc, "format", json_string(f));
}
static void
r_stmt_obj(json_t *rc)
{
	json_object_set_new(rc, "statement", json_object());
}
static void
r_stmt_huge(json_t *rc)
{
	char big[4098];

	memset(big, ' ', sizeof(big) - 1);
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	big[sizeof(big) - 1] = '\0';
	set_stmt_text(rc, big);
}
static void
r_kid_untrusted(json_t *rc)
{
	json_object_set_new(rc, "key_id", json_string("0123456789abcdef"));
}
static void
r_kid_b(json_t *rc)
{
	json_object_set_new(rc, "key_id", json_string(kb.key_id));
}
static void
r_kid_long(json_t *rc)
{
	json_object_set_new(rc, "key_id", json_string("0123456789abcdef0"));
}
static void
r_kid_short(json_t *rc)
{
	char k[AUDIT_KEY_ID_HEX];

	memcpy(k, ka.key_id, AUDIT_KEY_ID_HEX - 1);
	k[AUDIT_KEY_ID_HEX - 1] = '\0';
	json_object_set_new(rc, "key_id", json_string(k));
}
static void
r_kid_upper(json_t *rc)
{
	char k[AUDIT_KEY_ID_HEX + 1];
	size_t i;

	for (i = 0; i <= AUDIT_KEY_ID_HEX; i++)
		k[i] = (ka.key_id[i] >= 'a' && ka.key_id[i] <= 'f') ?
		    (char)(ka.key_id[i] - 'a' + 'A') : ka.key_id[i];
	json_object_set_new(rc, "key_id", json_string(k));
}
static void
r_kid_empty(json_t *rc)
{
	json_object_set_new(rc, "key_id", json_string(""));
}
static void
r_kid_null(json_t *rc)
{
	json_object_set_new(rc, "key_id", json_null());
}

static const char *
sig_of(json_t *rc)
{
	return json_string_value(json_object_get(rc, "signature"));
}
static void
set_sig(json_t *rc, const char *s)
{
	json_object_set_new(rc, "signature", json_string(s));
}
static void
r_sig_edit(json_t *rc, size_t at, char c)
{
	char s[128];

	snprintf(s, sizeof(s), "%s", sig_of(rc));
	s[at] = c;
	set_sig(rc, s);
}
static void r_sig_bang(json_t *rc) { r_sig_edit(rc, 0, '!'); }
static void r_sig_dash(json_t *rc) { r_sig_edit(rc, 10, '-'); }
static void r_sig_under(json_t *rc) { r_sig_edit(rc, 10, '_'); }
static void r_sig_space(json_t *rc) { r_sig_edit(rc, 10, ' '); }
static void
r_sig_nopad(json_t *rc)
{
	char s[128];

	snprintf(s, sizeof(s), "%s", sig_of(rc));
	s[strcspn(s, "=")] = '\0';
	set_sig(rc, s);
}
static void
r_sig_trailing(json_t *rc)
{
	char s[130];

	snprintf(s, sizeof(s), "%s ", sig_of(rc));
	set_sig(rc, s);
}
static void
r_sig_newline(json_t *rc)
{
	char s[130];

	snprintf(s, sizeof(s), "%s\n", sig_of(rc));
	set_sig(rc, s);
}
static void
r_sig_extra(json_t *rc)
{
	char s[130];

	snprintf(s, sizeof(s), "%sAAAA", sig_of(rc));
	set_sig(rc, s);
}
/* base64 of n zero bytes */
static void
set_sig_zeros(json_t *rc, size_t n)
{
	unsigned char z[80];
	char s[sodium_base64_ENCODED_LEN(80, sodium_base64_VARIANT_ORIGINAL)];

	memset(z, 0, sizeof(z));
	sodium_bin2base64(s, sizeof(s), z, n, sodium_base64_VARIANT_ORIGINAL);
	set_sig(rc, s);
}
static void r_sig_63(json_t *rc) { set_sig_zeros(rc, 63); }
static void r_sig_65(json_t *rc) { set_sig_zeros(rc, 65); }
static void r_sig_zero(json_t *rc) { set_sig_zeros(rc, 64); }
static void
r_sig_96(json_t *rc)
{
	char s[129];

	memset(s, 'A', 128);
	s[128] = '\0';
	set_sig(rc, s);
}
static void
r_sig_129(json_t *rc)
{
	char s[130];

	memset(s, 'A', 129);
	s[129] = '\0';
	set_sig(rc, s);
}
static void
r_sig_nonzero_tail(json_t *rc)
{
	/* 64 bytes take 86 characters and "==": the last character carries
	 * 2 bits of the 64th byte and 4 bits that must be zero */
	char s[128];
	size_t n;

	snprintf(s, sizeof(s), "%s", sig_of(rc));
	n = strcspn(s, "=");
	s[n - 1] = s[n - 1] == 'A' ? 'B' : (s[n - 1] == 'Q' ? 'R' :
	    (s[n - 1] == 'g' ? 'h' : (s[n - 1] == 'w' ? 'x' : s[n - 1])));
	set_sig(rc, s);
}
static void r_sig_empty(json_t *rc) { set_sig(rc, ""); }
static void
r_sig_int(json_t *rc)
{
	json_object_set_new(rc, "signature", json_integer(0));
}

/* the proof inside */
static json_t *
proof_of(json_t *rc)
{
	return json_object_get(rc, "proof");
}
static void
r_proof_str(json_t *rc)
{
	json_object_set_new(rc, "proof", json_string("{}"));
}
static void
r_proof_arr(json_t *rc)
{
	json_object_set_new(rc, "proof", json_array());
}
static void
r_proof_empty(json_t *rc)
{
	json_object_set_new(rc, "proof", json_object());
}
static void
r_proof_format(json_t *rc)
{
	json_object_set_new(proof_of(rc), "format", json_string(
	    AUDIT_RECEIPT_FORMAT));
}
static void
r_proof_extra(json_t *rc)
{
	json_object_set_new(proof_of(rc), "statement", json_string("x"));
}
static void
r_proof_path(json_t *rc)
{
	json_t *path = json_object_get(proof_of(rc), "path");
	char h[65];

	snprintf(h, sizeof(h), "%s", json_string_value(json_array_get(path, 0)));
	h[63] = h[63] == '0' ? '1' : '0';
	json_array_set_new(path, 0, json_string(h));
}
static void
r_proof_path_short(json_t *rc)
{
	json_t *path = json_object_get(proof_of(rc), "path");

	json_array_remove(path, json_array_size(path) - 1);
}
static void
r_proof_seq(json_t *rc)
{
	json_object_set_new(proof_of(rc), "seq", json_integer(2));
}
static void
r_proof_record_b64(json_t *rc)
{
	char s[4096];

	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(
	    proof_of(rc), "record")));
	s[0] = '*';
	json_object_set_new(proof_of(rc), "record", json_string(s));
}
static void
r_proof_checkpoint(json_t *rc)
{
	json_object_set_new(proof_of(rc), "checkpoint", json_string(
	    "checkpoint v1"));
}
static void
r_proof_other_line(json_t *rc)
{
	/* log0's record 3 against log1's (validly signed) checkpoint */
	json_object_set_new(proof_of(rc), "checkpoint", json_string(log1.line));
}
static void
r_proof_deep(json_t *rc)
{
	json_object_set_new(proof_of(rc), "x", json_pack("{s:[[[]]]}", "y"));
}
static void
r_proof_nested(json_t *rc)
{
	json_t *inner = json_deep_copy(rc);

	json_object_set_new(rc, "proof", inner);
}
static void
r_proof_of_receipt(json_t *rc)
{
	/* a whole receipt where its proof should be */
	json_object_set_new(rc, "proof", json_deep_copy(rc));
}

static void
test_receipt_rows(void)
{
	static const struct {
		const char *name;
		void (*tweak)(struct spec *);
		void (*stmt_mut)(json_t *);
		char *(*text_mut)(char *);
		void (*rcpt_mut)(json_t *);
		int want;
		const char *field;
	} rows[] = {
		/* the statement names another record than the one proven */
		{ "statement seq 2, proof of seq 3", t_seq_other, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "statement seq 4, proof of seq 3", t_seq_next, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "statement seq 3, proof of seq 12 (another erasure)",
		    t_p_other_seq, NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement of another origin", t_origin_other, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "the same erasure proven in another origin's log", t_log1_origin0,
		    NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement of another request id", t_rid_other, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "statement request id a prefix of the record's", t_rid_prefix,
		    NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement of another subject", t_tok_other, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "statement subject a prefix of the record's", t_tok_prefix, NULL,
		    NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement subject one longer than the record's", t_tok_longer,
		    NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement subject empty, proven erasure without subject",
		    t_tok_empty_nosubj, NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement request id of 65 characters", t_rid65, NULL, NULL,
		    NULL, PII_ERR_TOO_LARGE, "statement.request_id" },
		{ "statement subject token of 97 characters", t_tok97, NULL, NULL,
		    NULL, PII_ERR_TOO_LARGE, "statement.subject_token" },
		/* the proven record is not this erasure */
		{ "proven record's action dsr_start", t_p_action, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "proven record's action erasures", t_p_action_longer, NULL, NULL,
		    NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven record a reveal", t_p_reveal, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "proven record a tokenize without subject or batch", t_p_tokenize,
		    NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven erasure denied", t_p_deny, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "proven erasure of another subject", t_p_subject, NULL, NULL,
		    NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven erasure without a subject", t_p_nosubj, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "proven erasure's subject one longer", t_p_subj_longer, NULL,
		    NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven erasure's request_id another", t_p_reqid, NULL, NULL,
		    NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven erasure's batch_id another", t_p_batch, NULL, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "proven erasure's request and batch id one longer",
		    t_p_rid_longer, NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven erasure of another request", t_p_other_req, NULL, NULL,
		    NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven erasure of another request (its count stated)",
		    t_p_other_req_values, NULL, NULL, NULL, PII_ERR_CRYPTO,
		    "proof" },
		{ "proven erasure by actor svc-support", t_p_actor, NULL, NULL,
		    NULL, PII_ERR_CRYPTO, "proof" },
		{ "proven erasure by actor dsr-executor-2", t_p_actor_longer, NULL,
		    NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement values_erased 4, the record's count 3 (signed)",
		    t_values_more, NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },
		{ "statement values_erased 0, the record's count 3 (signed)",
		    t_values_zero, NULL, NULL, NULL, PII_ERR_CRYPTO, "proof" },

		/* the statement's signature */
		{ "statement values_erased changed after signing", NULL, NULL,
		    x_values, NULL, PII_ERR_CRYPTO, "signature" },
		{ "statement audit_seq changed after signing", NULL, NULL, x_seq,
		    NULL, PII_ERR_CRYPTO, "signature" },
		{ "statement with a bit flipped after signing", NULL, NULL, x_bit,
		    NULL, PII_ERR_CRYPTO, "signature" },
		{ "statement with a space added after signing", NULL, NULL,
		    x_space, NULL, PII_ERR_CRYPTO, "signature" },
		{ "statement re-serialized (same JSON) after signing", NULL, NULL,
		    x_resort, NULL, PII_ERR_CRYPTO, "signature" },
		{ "statement signed under another domain", t_domain, NULL, NULL,
		    NULL, PII_ERR_CRYPTO, "signature" },
		{ "statement signed under the domain \"audit checkpoint v1\"",
		    t_domain_cp, NULL, NULL, NULL, PII_ERR_CRYPTO, "signature" },
		{ "signature of A under B's key id (B trusted)", NULL, NULL, NULL,
		    r_kid_b, PII_ERR_CRYPTO, "signature" },
		{ "key id untrusted", NULL, NULL, NULL, r_kid_untrusted,
		    PII_ERR_KEY, "signature" },
		{ "key id upper case", NULL, NULL, NULL, r_kid_upper,
		    PII_ERR_BAD_REQUEST, "key_id" },
		{ "key id 15 digits", NULL, NULL, NULL, r_kid_short,
		    PII_ERR_BAD_REQUEST, "key_id" },
		{ "key id 17 digits", NULL, NULL, NULL, r_kid_long,
		    PII_ERR_TOO_LARGE, "key_id" },
		{ "key id empty", NULL, NULL, NULL, r_kid_empty,
		    PII_ERR_BAD_REQUEST, "key_id" },
		{ "key id null", NULL, NULL, NULL, r_kid_null, PII_ERR_BAD_REQUEST,
		    "key_id" },
		{ "signature of 64 zero bytes", NULL, NULL, NULL, r_sig_zero,
		    PII_ERR_CRYPTO, "signature" },

		/* malformed base64 */
		{ "signature with '!'", NULL, NULL, NULL, r_sig_bang,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature with '-' (URL-safe alphabet)", NULL, NULL, NULL,
		    r_sig_dash, PII_ERR_BAD_REQUEST, "signature" },
		{ "signature with '_' (URL-safe alphabet)", NULL, NULL, NULL,
		    r_sig_under, PII_ERR_BAD_REQUEST, "signature" },
		{ "signature with a space inside", NULL, NULL, NULL, r_sig_space,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature without its padding", NULL, NULL, NULL, r_sig_nopad,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature and a space", NULL, NULL, NULL, r_sig_trailing,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature and a newline", NULL, NULL, NULL, r_sig_newline,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature and \"AAAA\"", NULL, NULL, NULL, r_sig_extra,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature with non-zero padding bits", NULL, NULL, NULL,
		    r_sig_nonzero_tail, PII_ERR_BAD_REQUEST, "signature" },
		{ "signature of 63 bytes", NULL, NULL, NULL, r_sig_63,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature of 65 bytes", NULL, NULL, NULL, r_sig_65,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature of 96 bytes (128 characters)", NULL, NULL, NULL,
		    r_sig_96, PII_ERR_BAD_REQUEST, "signature" },
		{ "signature of 129 characters", NULL, NULL, NULL, r_sig_129,
		    PII_ERR_TOO_LARGE, "signature" },
		{ "signature empty", NULL, NULL, NULL, r_sig_empty,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "signature a number", NULL, NULL, NULL, r_sig_int,
		    PII_ERR_BAD_REQUEST, "signature" },

		/* the receipt object */
		{ "receipt with an unknown key", NULL, NULL, NULL, r_extra,
		    PII_ERR_BAD_REQUEST, "note" },
		{ "receipt with an unknown odd key", NULL, NULL, NULL, r_extra_odd,
		    PII_ERR_BAD_REQUEST, "<key>" },
		{ "receipt without format", NULL, NULL, NULL, r_del_format,
		    PII_ERR_BAD_REQUEST, "format" },
		{ "receipt without statement", NULL, NULL, NULL, r_del_statement,
		    PII_ERR_BAD_REQUEST, "statement" },
		{ "receipt without key_id", NULL, NULL, NULL, r_del_key_id,
		    PII_ERR_BAD_REQUEST, "key_id" },
		{ "receipt without signature", NULL, NULL, NULL, r_del_signature,
		    PII_ERR_BAD_REQUEST, "signature" },
		{ "receipt without proof", NULL, NULL, NULL, r_del_proof,
		    PII_ERR_BAD_REQUEST, "proof" },
		{ "receipt format v2", NULL, NULL, NULL, r_format,
		    PII_ERR_BAD_REQUEST, "format" },
		{ "receipt format of a proof", NULL, NULL, NULL, r_format_proof,
		    PII_ERR_BAD_REQUEST, "format" },
		{ "receipt format empty", NULL, NULL, NULL, r_format_empty,
		    PII_ERR_BAD_REQUEST, "format" },
		{ "receipt format a number", NULL, NULL, NULL, r_format_int,
		    PII_ERR_BAD_REQUEST, "format" },
		{ "receipt format of 65 characters", NULL, NULL, NULL,
		    r_format_long, PII_ERR_TOO_LARGE, "format" },
		{ "statement an object, not its text", NULL, NULL, NULL,
		    r_stmt_obj, PII_ERR_BAD_REQUEST, "statement" },
		{ "statement text of 4097 bytes", NULL, NULL, NULL, r_stmt_huge,
		    PII_ERR_TOO_LARGE, "statement" },

		/* a signed statement that is not a receipt statement */
		{ "statement (signed) a JSON array", NULL, NULL, NULL,
		    r_stmt_array, PII_ERR_BAD_REQUEST, "statement" },
		{ "statement (signed) a JSON string", NULL, NULL, NULL,
		    r_stmt_string, PII_ERR_INVALID_JSON, "statement" },
		{ "statement (signed) nested 3 deep", NULL, NULL, NULL,
		    r_stmt_deep, PII_ERR_TOO_LARGE, "statement" },
		{ "statement (signed) not JSON", NULL, NULL, NULL, r_stmt_bad,
		    PII_ERR_INVALID_JSON, "statement" },
		{ "statement (signed) empty", NULL, NULL, NULL, r_stmt_empty,
		    PII_ERR_INVALID_JSON, "statement" },
		{ "statement (signed) of 4200 bytes", NULL, s_huge, NULL, NULL,
		    PII_ERR_TOO_LARGE, "statement" },
		{ "statement (signed) with due_at nested 3 deep", NULL, s_nested,
		    NULL, NULL, PII_ERR_TOO_LARGE, "statement" },
		{ "statement (unsigned) not JSON", NULL, NULL, x_not_json, NULL,
		    PII_ERR_CRYPTO, "signature" },
		{ "statement with an unknown key", NULL, s_extra, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.subject" },
		{ "statement format v2", NULL, s_format, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement" },
		{ "statement format of a proof", NULL, s_format_proof, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement" },
		{ "statement format of 65 characters", NULL, s_format_long, NULL,
		    NULL, PII_ERR_TOO_LARGE, "statement.format" },
		{ "statement kind export", NULL, s_kind, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement" },
		{ "statement kind of 17 characters", NULL, s_kind_long, NULL, NULL,
		    PII_ERR_TOO_LARGE, "statement.kind" },
		{ "statement without audit_origin", NULL, s_del_origin, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.audit_origin" },
		{ "statement without audit_seq", NULL, s_del_seq, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.audit_seq" },
		{ "statement without completed_at", NULL, s_del_completed, NULL,
		    NULL, PII_ERR_BAD_REQUEST, "statement.completed_at" },
		{ "statement without format", NULL, s_del_format, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.format" },
		{ "statement without kek_epoch", NULL, s_del_epoch, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.kek_epoch" },
		{ "statement without kind", NULL, s_del_kind, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.kind" },
		{ "statement without request_id", NULL, s_del_rid, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.request_id" },
		{ "statement without subject_token", NULL, s_del_tok, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.subject_token" },
		{ "statement without values_erased", NULL, s_del_values, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.values_erased" },
		{ "statement audit_seq a string", NULL, s_seq_str, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.audit_seq" },
		{ "statement audit_seq -1", NULL, s_seq_neg, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.audit_seq" },
		{ "statement audit_seq 3.0", NULL, s_seq_real, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.audit_seq" },
		{ "statement kek_epoch 2^32", NULL, s_epoch_big, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.kek_epoch" },
		{ "statement values_erased -1", NULL, s_values_neg, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.values_erased" },
		{ "statement request_id a number", NULL, s_rid_int, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.request_id" },
		{ "statement request_id empty", NULL, s_rid_empty, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "statement subject_token null", NULL, s_tok_null, NULL, NULL,
		    PII_ERR_BAD_REQUEST, "statement.subject_token" },
		{ "statement audit_origin empty", NULL, s_origin_empty, NULL, NULL,
		    PII_ERR_CRYPTO, "proof" },
		{ "statement audit_origin of 128 characters", NULL, s_origin_long,
		    NULL, NULL, PII_ERR_TOO_LARGE, "statement.audit_origin" },
		{ "statement completed_at of 32 characters", NULL,
		    s_completed_long, NULL, NULL, PII_ERR_TOO_LARGE,
		    "statement.completed_at" },

		/* the proof inside */
		{ "proof a string", NULL, NULL, NULL, r_proof_str,
		    PII_ERR_BAD_REQUEST, "proof" },
		{ "proof an array", NULL, NULL, NULL, r_proof_arr,
		    PII_ERR_BAD_REQUEST, "proof" },
		{ "proof an empty object", NULL, NULL, NULL, r_proof_empty,
		    PII_ERR_BAD_REQUEST, "proof.format" },
		{ "proof format of a receipt", NULL, NULL, NULL, r_proof_format,
		    PII_ERR_BAD_REQUEST, "proof.format" },
		{ "proof with an unknown key", NULL, NULL, NULL, r_proof_extra,
		    PII_ERR_BAD_REQUEST, "proof.statement" },
		{ "proof with a path hash changed", NULL, NULL, NULL, r_proof_path,
		    PII_ERR_CRYPTO, "proof.path" },
		{ "proof with a path hash missing", NULL, NULL, NULL,
		    r_proof_path_short, PII_ERR_CRYPTO, "proof.path" },
		{ "proof seq not the record's", NULL, NULL, NULL, r_proof_seq,
		    PII_ERR_CRYPTO, "proof" },
		{ "proof record not base64", NULL, NULL, NULL, r_proof_record_b64,
		    PII_ERR_BAD_REQUEST, "proof.record" },
		{ "proof checkpoint not a checkpoint line", NULL, NULL, NULL,
		    r_proof_checkpoint, PII_ERR_BAD_REQUEST, "proof.checkpoint" },
		{ "proof checkpoint of another origin", NULL, NULL, NULL,
		    r_proof_other_line, PII_ERR_CRYPTO, "proof" },
		{ "proof nested too deep", NULL, NULL, NULL, r_proof_deep,
		    PII_ERR_TOO_LARGE, "proof" },
		{ "a receipt where the proof should be", NULL, NULL, NULL,
		    r_proof_of_receipt, PII_ERR_BAD_REQUEST, "proof.statement" },
		{ "a receipt nested in itself as proof", NULL, NULL, NULL,
		    r_proof_nested, PII_ERR_BAD_REQUEST, "proof.statement" },
	};
	struct audit_pubkey both[2];
	struct pii_errinfo ei;
	struct spec sp;
	size_t i, len, null_ei_differs = 0;
	char *text;
	int r;

	both[0] = ka;
	both[1] = kb;
	for (i = 0; i < NELEM(rows); i++) {
		default_spec(&sp);
		if (rows[i].tweak != NULL)
			rows[i].tweak(&sp);
		sp.stmt_mut = rows[i].stmt_mut;
		sp.text_mut = rows[i].text_mut;
		sp.rcpt_mut = rows[i].rcpt_mut;
		text = build_receipt(&sp, &len);
		/* B is trusted too, so that "B's key id" is a bad signature
		 * and not an unknown key; nothing here is signed by B */
		r = check_text(text, len, both, 2, &ei);
		/* and without an errinfo (err.h: ei may be NULL): same code */
		if (audit_receipt_check(text, len, both, 2, &res, NULL) != r)
			null_ei_differs++;
		CHECK(r == rows[i].want && strcmp(ei.field, rows[i].field) == 0,
		    "%s -> %d \"%s\" (got %d \"%s\": %s)", rows[i].name,
		    rows[i].want, rows[i].field, r, ei.field, ei.message);
		free(text);
	}
	CHECK(null_ei_differs == 0, "every row gives the same code with a NULL "
	    "errinfo, and does not crash (%zu differ)", null_ei_differs);
}

/* Optional statement keys, and the limits of the accepted values. */
static void
test_receipt_optional(void)
{
	static const struct {
		const char *name;
		void (*stmt_mut)(json_t *);
	} rows[] = {
		{ "without erasure_event_id", s_del_event },
		{ "kek_epoch 2^32 - 1", s_epoch_max },
		{ "completed_at of 31 characters", s_completed_max },
	};
	struct pii_errinfo ei;
	struct spec sp;
	size_t i, len;
	char *text;
	int r;

	for (i = 0; i < NELEM(rows); i++) {
		default_spec(&sp);
		sp.stmt_mut = rows[i].stmt_mut;
		text = build_receipt(&sp, &len);
		r = check_text(text, len, &ka, 1, &ei);
		CHECK(r == 0, "a receipt whose statement is %s passes (got %d "
		    "\"%s\": %s)", rows[i].name, r, ei.field, ei.message);
		if (rows[i].stmt_mut == s_completed_max)
			CHECK_STR(res.completed_at, "2026-11-22T10:11:12.12345+01:00",
			    "res.completed_at holds all 31 characters");
		free(text);
	}
	/* the statement's size limit, 4096 bytes */
	for (i = 4095; i <= 4097; i++) {
		int want = i <= 4096 ? 0 : PII_ERR_TOO_LARGE;
		json_t *rc;

		default_spec(&sp);
		sp.stmt_mut = s_exact;
		stmt_target = i;
		text = build_receipt(&sp, &len);
		rc = json_loads(text, 0, NULL);
		r = check_text(text, len, &ka, 1, &ei);
		CHECK(rc != NULL && json_string_length(json_object_get(rc,
		    "statement")) == i && r == want, "a signed statement of %zu "
		    "bytes -> %d (got %d \"%s\")", i, want, r, ei.field);
		json_decref(rc);
		free(text);
	}
}

/* Whole-input refusals: size, JSON, NUL, duplicate keys, not an object. */
static void
test_receipt_input(void)
{
	struct pii_errinfo ei;
	struct spec sp;
	char *text, *big;
	size_t len, i;
	int r;

	default_spec(&sp);
	text = build_receipt(&sp, &len);
	if ((big = malloc(AUDIT_RECEIPT_MAX + 2)) == NULL)
		exit(2);
	memset(big, ' ', AUDIT_RECEIPT_MAX + 2);
	memcpy(big, text, len);
	r = check_text(big, AUDIT_RECEIPT_MAX, &ka, 1, &ei);
	CHECK(r == 0, "the good receipt padded to AUDIT_RECEIPT_MAX (%d) bytes "
	    "passes (got %d: %s)", AUDIT_RECEIPT_MAX, r, ei.message);
	r = check_text(big, AUDIT_RECEIPT_MAX + 1, &ka, 1, &ei);
	CHECK(r == PII_ERR_BAD_REQUEST, "padded to AUDIT_RECEIPT_MAX + 1 bytes -> "
	    "PII_ERR_BAD_REQUEST (got %d)", r);
	r = check_text(big, (size_t)-1, &ka, 1, &ei);
	CHECK(r == PII_ERR_BAD_REQUEST, "length SIZE_MAX -> PII_ERR_BAD_REQUEST "
	    "before reading (got %d)", r);
	free(big);

	/* a proof of more than AUDIT_PROOF_MAX bytes inside a receipt that
	 * fits: the proof check refuses it */
	{
		json_t *rc = json_loads(text, 0, NULL), *p;
		char *pad, *t2;

		p = json_object_get(rc, "proof");
		pad = malloc(AUDIT_PROOF_MAX + 1);
		if (rc == NULL || p == NULL || pad == NULL)
			exit(2);
		memset(pad, 'p', AUDIT_PROOF_MAX);
		pad[AUDIT_PROOF_MAX] = '\0';
		json_object_set_new(p, "padding", json_string(pad));
		t2 = json_dumps(rc, JSON_COMPACT);
		if (t2 == NULL)
			exit(2);
		r = check_text(t2, strlen(t2), &ka, 1, &ei);
		CHECK(r == PII_ERR_TOO_LARGE && strcmp(ei.field, "proof") == 0,
		    "a %zu-byte receipt whose proof is over AUDIT_PROOF_MAX -> "
		    "PII_ERR_TOO_LARGE \"proof\" (got %d \"%s\")", strlen(t2), r,
		    ei.field);
		free(t2);
		free(pad);
		json_decref(rc);
	}

	{
		static const struct {
			const char *name, *text;
			int want;
		} rows[] = {
			{ "an empty input", "", PII_ERR_INVALID_JSON },
			{ "an array", "[]", PII_ERR_BAD_REQUEST },
			{ "a string", "\"receipt\"", PII_ERR_INVALID_JSON },
			{ "null", "null", PII_ERR_INVALID_JSON },
			{ "an empty object", "{}", PII_ERR_BAD_REQUEST },
			{ "truncated JSON", "{\"format\":", PII_ERR_INVALID_JSON },
			{ "two objects", "{}{}", PII_ERR_INVALID_JSON },
			{ "a duplicate key", "{\"format\":\"a\",\"format\":\"b\"}",
			    PII_ERR_DUPLICATE_KEY },
			{ "nested 9 deep", "{\"proof\":[[[[[[[[1]]]]]]]]}",
			    PII_ERR_TOO_LARGE },
			{ "invalid UTF-8", "{\"format\":\"\xff\"}",
			    PII_ERR_INVALID_JSON },
			{ "an escaped NUL", "{\"format\":\"a\\u0000b\"}",
			    PII_ERR_INVALID_JSON },
		};

		for (i = 0; i < NELEM(rows); i++) {
			r = check_text(rows[i].text, strlen(rows[i].text), &ka, 1,
			    &ei);
			CHECK(r == rows[i].want, "%s -> %d (got %d)", rows[i].name,
			    rows[i].want, r);
			if (strcmp(rows[i].text, "[]") == 0)
				CHECK_STR(ei.field, "", "an array is refused as a whole "
				    "(%s)", ei.message);
		}
	}
	/* a raw NUL inside the good receipt */
	{
		char *t = malloc(len);

		if (t == NULL)
			exit(2);
		memcpy(t, text, len);
		t[len - 2] = '\0';
		r = check_text(t, len, &ka, 1, &ei);
		CHECK(r == PII_ERR_INVALID_JSON, "a NUL byte inside -> "
		    "PII_ERR_INVALID_JSON (got %d)", r);
		free(t);
	}
	/* every truncation of the good receipt fails, none crashes */
	{
		size_t bad = 0;

		for (i = 0; i < len; i++)
			if (check_text(text, i, &ka, 1, &ei) == 0)
				bad++;
		CHECK(bad == 0, "none of the %zu truncations of the good receipt "
		    "passes (%zu did)", len, bad);
	}
	free(text);
}

/* Every byte of the good receipt that is inside the statement, the key id,
 * the signature, or the proof's record, path or checkpoint is covered:
 * changing it fails the check. */
static void
test_receipt_every_byte(void)
{
	struct pii_errinfo ei;
	struct spec sp;
	char *text, *t;
	size_t len, i, passed = 0, tried = 0;
	int r;

	default_spec(&sp);
	sp.dump_flags = JSON_COMPACT;
	text = build_receipt(&sp, &len);
	if ((t = malloc(len)) == NULL)
		exit(2);
	for (i = 0; i < len; i++) {
		char c = text[i];

		/* letters and digits only: keeps the JSON well formed more
		 * often, so the change reaches the checks behind the parser */
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9')))
			continue;
		memcpy(t, text, len);
		t[i] = c == 'z' ? 'y' : c == 'Z' ? 'Y' : c == '9' ? '8' :
		    (char)(c + 1);
		tried++;
		r = check_text(t, len, &ka, 1, &ei);
		if (r == 0) {
			passed++;
			fprintf(stderr, "# byte %zu '%c' -> '%c' still passes: "
			    "...%.30s...\n", i, c, t[i], text + (i > 15 ? i - 15 :
			    0));
		}
	}
	CHECK(passed == 0 && tried > 500, "none of %zu one-character changes "
	    "of the good receipt passes (%zu did)", tried, passed);
	free(t);
	free(text);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 2;
	umask(022);
	test_dir_make("/tmp/piiv-test-receipt-");
	setup_keys();
	build_log(&log0, ORIGIN, log0_rows, NELEM(log0_rows), sa);
	build_log(&log1, ORIGIN2, log1_rows, NELEM(log1_rows), sa);
	build_log(&log0b, ORIGIN, log0_rows, NELEM(log0_rows), sb);
	test_statement_sign_verify();
	test_statement_domains();
	test_statement_not_checkpoint();
	test_receipt_good();
	test_receipt_controls();
	test_receipt_rows();
	test_receipt_optional();
	test_receipt_input();
	test_receipt_every_byte();
	audit_signer_free(sa);
	audit_signer_free(sb);
	remove_dir();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
