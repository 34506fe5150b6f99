/*
 * test_crypto.c - unit tests of vault_keys and vault_crypto: key files and
 * their permissions, strict keystore parsing, KEK rotation and destruction,
 * DEK wrapping, value sealing, and tokens against known answers.
 */
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <sodium.h>

#include "../../vault/vault_crypto.h"
#include "../../vault/vault_keys.h"
#include "../../vault/vault_keys_int.h"
#include "tap.h"
#include "testfiles.h"

static char root_path[128], ks_path[128], bad_path[128], root2_path[128],
    ks2_path[128];

/* ---- helpers ---------------------------------------------------------- */

static void
make_dir(void)
{
	test_dir_make("/tmp/piiv-test-crypto-");
	snprintf(root_path, sizeof(root_path), "%s/root.key", dir);
	snprintf(ks_path, sizeof(ks_path), "%s/keystore.json", dir);
	snprintf(bad_path, sizeof(bad_path), "%s/tampered.json", dir);
	snprintf(root2_path, sizeof(root2_path), "%s/root2.key", dir);
	snprintf(ks2_path, sizeof(ks2_path), "%s/keystore2.json", dir);
}

static long
file_size(const char *path)
{
	struct stat st;

	if (stat(path, &st) != 0)
		return -1;
	return (long)st.st_size;
}

static int
all_zero(const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

/* Independent base32 (RFC 4648, lowercase, no padding), bit by bit. */
static void
ref_b32(const unsigned char *in, size_t inlen, char *out)
{
	static const char a[] = "abcdefghijklmnopqrstuvwxyz234567";
	size_t nbits = inlen * 8, o = 0, bit, k;

	for (bit = 0; bit < nbits; bit += 5) {
		unsigned v = 0;

		for (k = 0; k < 5; k++) {
			size_t b = bit + k;
			unsigned x = 0;

			if (b < nbits)
				x = (in[b / 8] >> (7 - b % 8)) & 1;
			v = (v << 1) | x;
		}
		out[o++] = a[v];
	}
	out[o] = '\0';
}

/* tok_<category>_v<N>_<b32 of first 16 bytes of HMAC>, with one-shot HMAC(). */
static void
ref_token(const unsigned char key[32], unsigned version, const char *category,
    const char *value, char *out, size_t cap)
{
	unsigned char msg[512], mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;
	size_t clen = strlen(category), vlen = strlen(value);
	char b32[64];

	memcpy(msg, category, clen);
	msg[clen] = 0x00;
	memcpy(msg + clen + 1, value, vlen);
	HMAC(EVP_sha256(), key, 32, msg, clen + 1 + vlen, mac, &maclen);
	ref_b32(mac, 16, b32);
	snprintf(out, cap, "tok_%s_v%u_%s", category, version, b32);
}

static int
token_shape_ok(const char *tok, const char *prefix)
{
	size_t plen = strlen(prefix), i;

	if (strncmp(tok, prefix, plen) != 0 || strlen(tok) != plen + 26)
		return 0;
	for (i = plen; tok[i] != '\0'; i++)
		if (!((tok[i] >= 'a' && tok[i] <= 'z') || (tok[i] >= '2' && tok[i] <= '7')))
			return 0;
	return 1;
}

/* ---- key files -------------------------------------------------------- */

static void
test_keyfiles(void)
{
	struct pii_errinfo ei;
	struct vault_keys *k = NULL, *k2 = NULL;
	char t1[VAULT_TOKEN_MAX], t2[VAULT_TOKEN_MAX];
	const char *id;
	json_t *doc;
	json_error_t jerr;
	size_t i;
	int r;

	r = vault_keys_generate_root(root_path, &ei);
	CHECK(r == 0, "generate_root creates the root key");
	CHECK(file_mode(root_path) == 0600, "root key file has mode 0600");
	CHECK(file_size(root_path) == 32, "root key file holds 32 bytes");
	r = vault_keys_generate_root(root_path, &ei);
	CHECK(r == PII_ERR_IO, "generate_root refuses an existing file (%d)", r);
	r = vault_keys_keystore_init(root_path, ks_path, &ei);
	CHECK(r == 0, "keystore_init creates the keystore (%d %s)", r, ei.message);
	CHECK(file_mode(ks_path) == 0600, "keystore file has mode 0600");
	r = vault_keys_keystore_init(root_path, ks_path, &ei);
	CHECK(r == PII_ERR_IO, "keystore_init refuses an existing keystore (%d)", r);

	doc = json_load_file(ks_path, JSON_REJECT_DUPLICATES, &jerr);
	CHECK(doc != NULL, "keystore is JSON");
	CHECK(json_integer_value(json_object_get(doc, "format")) == 1,
	    "keystore format is 1");
	CHECK(json_array_size(json_object_get(doc, "keks")) == 1 &&
	    json_array_size(json_object_get(doc, "token_keys")) == 1 &&
	    json_array_size(json_object_get(doc, "destroyed_epochs")) == 0,
	    "new keystore holds one KEK, one token key, no destroyed epoch");
	json_decref(doc);

	r = vault_keys_open(root_path, ks_path, &k, &ei);
	CHECK(r == 0 && k != NULL, "open loads root key and keystore (%d %s)", r,
	    ei.message);
	if (k == NULL)
		return;
	id = vault_keys_keystore_id(k);
	CHECK(strlen(id) == VAULT_KEYSTORE_ID_HEX &&
	    strspn(id, "0123456789abcdef") == VAULT_KEYSTORE_ID_HEX,
	    "keystore id is 32 lowercase hex digits");
	CHECK(vault_keys_current_epoch(k) == 1, "current epoch is 1");
	CHECK(vault_keys_token_version(k) == 1, "token version is 1");

	r = vault_keys_open(root_path, ks_path, &k2, &ei);
	CHECK(r == 0, "keystore opens twice");
	for (i = 0; r == 0 && i < 2; i++) {
		const char *v = i == 0 ? "alice@example.com" : "+821012345678";
		const char *c = i == 0 ? "email" : "phone";

		vault_token(k, c, (const unsigned char *)v, strlen(v), t1);
		vault_token(k2, c, (const unsigned char *)v, strlen(v), t2);
		CHECK_STR(t1, t2, "token of %s is the same after reopening", c);
	}
	vault_keys_free(k2);
	vault_keys_free(k);
	vault_keys_free(NULL);
	CHECK(1, "vault_keys_free accepts NULL");
}

static void
test_permissions(void)
{
	static const struct {
		int which;    /* 0 root key, 1 keystore */
		mode_t mode;
		int want;
	} rows[] = {
		{ 0, 0600, 0 },
		{ 0, 0400, 0 },
		{ 0, 0644, PII_ERR_PERM },
		{ 0, 0640, PII_ERR_PERM },
		{ 0, 0604, PII_ERR_PERM },
		{ 0, 0620, PII_ERR_PERM },
		{ 1, 0600, 0 },
		{ 1, 0640, PII_ERR_PERM },
		{ 1, 0644, PII_ERR_PERM },
		{ 1, 0602, PII_ERR_PERM },
	};
	struct pii_errinfo ei;
	struct vault_keys *k;
	size_t i;
	int r;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *p = rows[i].which == 0 ? root_path : ks_path;

		chmod(p, rows[i].mode);
		k = NULL;
		pii_errinfo_clear(&ei);
		r = vault_keys_open(root_path, ks_path, &k, &ei);
		CHECK(r == rows[i].want, "%s mode %04o -> %d (got %d)",
		    rows[i].which == 0 ? "root key" : "keystore",
		    (unsigned)rows[i].mode, rows[i].want, r);
		if (rows[i].want == PII_ERR_PERM) {
			CHECK(strstr(ei.message, "mode must be 0600 (readable by "
			    "group or others)") != NULL && strstr(ei.message, p) != NULL,
			    "message names the file and the rule: %s", ei.message);
			CHECK(k == NULL, "no keys on refusal");
		}
		vault_keys_free(k);
		chmod(p, 0600);
	}
}

static void
test_root_size(void)
{
	static const size_t sizes[] = { 0, 16, 31, 33, 64 };
	unsigned char junk[64];
	struct pii_errinfo ei;
	struct vault_keys *k = NULL;
	char p[160];
	size_t i;
	int r;

	memset(junk, 0x42, sizeof(junk));
	snprintf(p, sizeof(p), "%s/short.key", dir);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		spit(p, junk, sizes[i], 0600);
		r = vault_keys_open(p, ks_path, &k, &ei);
		CHECK(r == PII_ERR_CONFIG && k == NULL,
		    "root key of %zu bytes refused (%d)", sizes[i], r);
	}
	unlink(p);
	r = vault_keys_open(p, ks_path, &k, &ei);
	CHECK(r == PII_ERR_IO, "missing root key file -> PII_ERR_IO (%d)", r);
	r = vault_keys_open(root_path, p, &k, &ei);
	CHECK(r == PII_ERR_IO, "missing keystore file -> PII_ERR_IO (%d)", r);
}

/* ---- keystore tampering and strictness -------------------------------- */

static json_t *
entry(json_t *doc, const char *arr, size_t i)
{
	return json_array_get(json_object_get(doc, arr), i);
}

/* Replace a base64 character by another valid one. */
static void
flip_b64(json_t *e)
{
	char s[200];
	size_t n;

	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(e, "wrapped")));
	n = strlen(s) / 2;
	s[n] = s[n] == 'A' ? 'B' : 'A';
	json_object_set_new(e, "wrapped", json_string(s));
}

static void t_flip_kek(json_t *d) { flip_b64(entry(d, "keks", 0)); }
static void t_flip_tok(json_t *d) { flip_b64(entry(d, "token_keys", 0)); }

static void
t_flip_first_char(json_t *d)
{
	json_t *e = entry(d, "keks", 0);
	char s[200];

	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(e, "wrapped")));
	s[0] = s[0] == 'z' ? 'y' : 'z';
	json_object_set_new(e, "wrapped", json_string(s));
}

static void
t_id(json_t *d)
{
	char s[64];

	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(d, "keystore_id")));
	s[5] = s[5] == 'a' ? 'b' : 'a';
	json_object_set_new(d, "keystore_id", json_string(s));
}

static void
t_swap(json_t *d)
{
	json_t *k = entry(d, "keks", 0), *t = entry(d, "token_keys", 0);
	json_t *kw = json_incref(json_object_get(k, "wrapped"));
	json_t *tw = json_incref(json_object_get(t, "wrapped"));

	json_object_set_new(k, "wrapped", tw);
	json_object_set_new(t, "wrapped", kw);
}

static void
t_slot(json_t *d)
{
	json_object_set_new(entry(d, "keks", 0), "epoch", json_integer(2));
	json_object_set_new(d, "current_kek_epoch", json_integer(2));
}

static void
t_tokver(json_t *d)
{
	json_object_set_new(entry(d, "token_keys", 0), "version", json_integer(2));
	json_object_set_new(d, "current_token_version", json_integer(2));
}

static void
t_transplant(json_t *d)
{
	json_error_t jerr;
	json_t *o = json_load_file(ks2_path, 0, &jerr);

	json_object_set(entry(d, "keks", 0), "wrapped",
	    json_object_get(entry(o, "keks", 0), "wrapped"));
	json_decref(o);
}

static void t_unknown(json_t *d) { json_object_set_new(d, "extra", json_true()); }
static void
t_unknown_entry(json_t *d)
{
	json_object_set_new(entry(d, "keks", 0), "note", json_string("x"));
}
static void t_format(json_t *d) { json_object_set_new(d, "format", json_integer(2)); }
static void
t_epoch_str(json_t *d)
{
	json_object_set_new(entry(d, "keks", 0), "epoch", json_string("1"));
}
static void
t_epoch_zero(json_t *d)
{
	json_object_set_new(entry(d, "keks", 0), "epoch", json_integer(0));
}
static void
t_epoch_big(json_t *d)
{
	json_object_set_new(entry(d, "keks", 0), "epoch", json_integer(4294967296LL));
}
static void
t_short(json_t *d)
{
	json_object_set_new(entry(d, "keks", 0), "wrapped", json_string("AAAA"));
}
static void
t_not_b64(json_t *d)
{
	json_t *e = entry(d, "keks", 0);
	char s[200];

	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(e, "wrapped")));
	s[10] = '*';
	json_object_set_new(e, "wrapped", json_string(s));
}
static void t_no_destroyed(json_t *d) { json_object_del(d, "destroyed_epochs"); }
static void
t_cur_missing(json_t *d)
{
	json_object_set_new(d, "current_kek_epoch", json_integer(7));
}
static void
t_destroyed_live(json_t *d)
{
	json_array_append_new(json_object_get(d, "destroyed_epochs"), json_integer(1));
}
static void
t_dup_epoch(json_t *d)
{
	json_array_append(json_object_get(d, "keks"), entry(d, "keks", 0));
}
static void
t_created(json_t *d)
{
	json_object_set_new(d, "created_at", json_string("yesterday"));
}
static void
t_id_upper(json_t *d)
{
	char s[64];
	size_t i;

	snprintf(s, sizeof(s), "%s", json_string_value(json_object_get(d, "keystore_id")));
	for (i = 0; s[i] != '\0'; i++)
		if (s[i] >= 'a' && s[i] <= 'f')
			s[i] = (char)(s[i] - 'a' + 'A');
	json_object_set_new(d, "keystore_id", json_string(s));
}
static void t_keks_empty(json_t *d) { json_array_clear(json_object_get(d, "keks")); }
static void t_top_array(json_t *d) { (void)d; }

static void
test_tamper(void)
{
	static const struct {
		const char *name;
		void (*edit)(json_t *);
		const char *raw;    /* used instead of edit when not NULL */
		int want;
	} rows[] = {
		{ "unchanged", t_top_array, NULL, 0 },
		{ "flipped base64 char in a KEK", t_flip_kek, NULL, PII_ERR_CRYPTO },
		{ "flipped base64 char in a token key", t_flip_tok, NULL, PII_ERR_CRYPTO },
		{ "flipped first base64 char (nonce)", t_flip_first_char, NULL, PII_ERR_CRYPTO },
		{ "other keystore_id", t_id, NULL, PII_ERR_CRYPTO },
		{ "KEK and token key swapped", t_swap, NULL, PII_ERR_CRYPTO },
		{ "KEK moved to epoch 2", t_slot, NULL, PII_ERR_CRYPTO },
		{ "token key moved to version 2", t_tokver, NULL, PII_ERR_CRYPTO },
		{ "KEK from another keystore", t_transplant, NULL, PII_ERR_CRYPTO },
		{ "unknown top-level key", t_unknown, NULL, PII_ERR_CONFIG },
		{ "unknown entry key", t_unknown_entry, NULL, PII_ERR_CONFIG },
		{ "format 2", t_format, NULL, PII_ERR_CONFIG },
		{ "epoch as a string", t_epoch_str, NULL, PII_ERR_CONFIG },
		{ "epoch 0", t_epoch_zero, NULL, PII_ERR_CONFIG },
		{ "epoch above 2^32-1", t_epoch_big, NULL, PII_ERR_CONFIG },
		{ "wrapped too short", t_short, NULL, PII_ERR_CONFIG },
		{ "wrapped not base64", t_not_b64, NULL, PII_ERR_CONFIG },
		{ "destroyed_epochs missing", t_no_destroyed, NULL, PII_ERR_CONFIG },
		{ "current epoch not in keks", t_cur_missing, NULL, PII_ERR_CONFIG },
		{ "live epoch listed as destroyed", t_destroyed_live, NULL, PII_ERR_CONFIG },
		{ "epoch listed twice", t_dup_epoch, NULL, PII_ERR_CONFIG },
		{ "created_at not RFC 3339", t_created, NULL, PII_ERR_CONFIG },
		{ "keystore_id uppercase", t_id_upper, NULL, PII_ERR_CONFIG },
		{ "no KEK", t_keks_empty, NULL, PII_ERR_CONFIG },
		{ "not JSON", NULL, "keystore", PII_ERR_CONFIG },
		{ "top level array", NULL, "[]", PII_ERR_CONFIG },
		{ "empty file", NULL, "", PII_ERR_CONFIG },
		{ "duplicate key", NULL, "DUP", PII_ERR_CONFIG },
	};
	struct pii_errinfo ei;
	struct vault_keys *k;
	json_error_t jerr;
	json_t *doc;
	char *text, *orig;
	size_t i;
	int r;

	r = vault_keys_generate_root(root2_path, &ei);
	r |= vault_keys_keystore_init(root_path, ks2_path, &ei);
	CHECK(r == 0, "second keystore under the same root key");
	orig = slurp(ks_path, NULL);
	for (i = 0; orig != NULL && i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (rows[i].raw != NULL && strcmp(rows[i].raw, "DUP") == 0) {
			size_t n = strlen(orig);

			text = malloc(n + 32);
			text[0] = '{';
			memcpy(text + 1, "\"format\": 1,", 12);
			memcpy(text + 13, orig + 1, n);
		} else if (rows[i].raw != NULL) {
			text = strdup(rows[i].raw);
		} else {
			doc = json_loads(orig, 0, &jerr);
			rows[i].edit(doc);
			text = json_dumps(doc, JSON_INDENT(1));
			json_decref(doc);
		}
		spit(bad_path, text, strlen(text), 0600);
		free(text);
		k = NULL;
		pii_errinfo_clear(&ei);
		r = vault_keys_open(root_path, bad_path, &k, &ei);
		CHECK(r == rows[i].want && (r == 0) == (k != NULL),
		    "keystore %s -> %d (got %d: %s)", rows[i].name, rows[i].want,
		    r, ei.message);
		vault_keys_free(k);
	}
	free(orig);

	k = NULL;
	r = vault_keys_open(root2_path, ks_path, &k, &ei);
	CHECK(r == PII_ERR_CRYPTO && k == NULL,
	    "keystore under another root key -> PII_ERR_CRYPTO (%d)", r);
	unlink(bad_path);
}

/* ---- DEKs ------------------------------------------------------------- */

static const char subj_a[] = "tok_subject_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char subj_b[] = "tok_subject_v1_bbbbbbbbbbbbbbbbbbbbbbbbbb";

static void
test_dek_and_rotation(void)
{
	unsigned char w1[VAULT_WRAPPED_DEK_BYTES], w2[VAULT_WRAPPED_DEK_BYTES],
	    bad[VAULT_WRAPPED_DEK_BYTES];
	unsigned char sealed[64], plain[64];
	struct pii_errinfo ei;
	struct vault_keys *k = NULL, *k2 = NULL;
	struct vault_dek *d = NULL, *u = NULL;
	uint32_t e1 = 0, e2 = 0, e3 = 0, list[8];
	size_t i, n = 0, slen = 0, plen = 0, fails = 0;
	char *text;
	int r;

	if (vault_keys_open(root_path, ks_path, &k, &ei) != 0) {
		CHECK(0, "open for DEK tests");
		return;
	}
	r = vault_dek_new(&d);
	CHECK(r == 0 && d != NULL, "vault_dek_new");
	r = vault_dek_wrap(k, d, subj_a, &e1, w1);
	CHECK(r == 0 && e1 == 1, "wrap under epoch 1");
	CHECK(w1[0] == 0x01, "wrapped DEK starts with format byte 0x01");
	r = vault_dek_unwrap(k, w1, sizeof(w1), subj_a, e1, &u);
	CHECK(r == 0 && u != NULL, "unwrap round trip");
	r = vault_value_seal(d, subj_a, "email", "tok_email_v1_x",
	    (const unsigned char *)"a@b.c", 5, sealed, sizeof(sealed), &slen);
	r |= vault_value_open(u, subj_a, "email", "tok_email_v1_x", sealed, slen,
	    plain, sizeof(plain), &plen);
	CHECK(r == 0 && plen == 5 && memcmp(plain, "a@b.c", 5) == 0,
	    "unwrapped DEK opens what the original sealed");
	vault_dek_free(u);
	u = NULL;

	for (i = 0; i < sizeof(w1); i++) {
		memcpy(bad, w1, sizeof(bad));
		bad[i] ^= 0x01;
		r = vault_dek_unwrap(k, bad, sizeof(bad), subj_a, e1, &u);
		if (r != PII_ERR_CRYPTO || u != NULL)
			fails++;
	}
	CHECK(fails == 0, "wrapped DEK with any byte flipped -> PII_ERR_CRYPTO "
	    "(%zu of %zu positions wrong)", fails, sizeof(w1));
	r = vault_dek_unwrap(k, w1, sizeof(w1), subj_b, e1, &u);
	CHECK(r == PII_ERR_CRYPTO && u == NULL,
	    "wrapped DEK moved to another subject -> PII_ERR_CRYPTO");
	r = vault_dek_unwrap(k, w1, sizeof(w1) - 1, subj_a, e1, &u);
	CHECK(r == PII_ERR_CRYPTO && u == NULL, "truncated wrapped DEK -> PII_ERR_CRYPTO");
	r = vault_dek_unwrap(k, w1, sizeof(w1), subj_a, 99, &u);
	CHECK(r == PII_ERR_KEY && u == NULL, "unknown epoch -> PII_ERR_KEY");
	r = vault_dek_unwrap(k, w1, sizeof(w1), "", e1, &u);
	CHECK(r == PII_ERR_BAD_REQUEST, "empty subject token -> PII_ERR_BAD_REQUEST");

	/* rotation */
	r = vault_keys_rotate_kek(k, &e2, &ei);
	CHECK(r == 0 && e2 == 2 && vault_keys_current_epoch(k) == 2,
	    "rotate_kek adds epoch 2 and makes it current (%d %s)", r, ei.message);
	CHECK(file_mode(ks_path) == 0600, "rewritten keystore keeps mode 0600");
	r = vault_dek_wrap(k, d, subj_a, &e2, w2);
	CHECK(r == 0 && e2 == 2, "wrap under epoch 2");
	r = vault_dek_unwrap(k, w1, sizeof(w1), subj_a, 2, &u);
	CHECK(r == PII_ERR_CRYPTO && u == NULL,
	    "epoch-1 DEK claimed under epoch 2 -> PII_ERR_CRYPTO");
	r = vault_dek_unwrap(k, w2, sizeof(w2), subj_a, 1, &u);
	CHECK(r == PII_ERR_CRYPTO && u == NULL,
	    "epoch-2 DEK claimed under epoch 1 -> PII_ERR_CRYPTO");
	r = vault_dek_unwrap(k, w1, sizeof(w1), subj_a, 1, &u);
	CHECK(r == 0, "epoch-1 DEK still opens before destruction");
	vault_dek_free(u);
	u = NULL;

	r = vault_keys_destroy_epoch(k, 2, &ei);
	CHECK(r == PII_ERR_CONFLICT, "current epoch cannot be destroyed (%d)", r);
	r = vault_keys_destroy_epoch(k, 1, &ei);
	CHECK(r == 0, "destroy epoch 1 (%d %s)", r, ei.message);
	r = vault_dek_unwrap(k, w1, sizeof(w1), subj_a, 1, &u);
	CHECK(r == PII_ERR_KEY && u == NULL, "destroyed epoch -> PII_ERR_KEY");
	r = vault_keys_destroy_epoch(k, 1, &ei);
	CHECK(r == PII_ERR_KEY, "destroying twice -> PII_ERR_KEY (%d)", r);
	r = vault_keys_epoch_list(k, list, 8, &n);
	CHECK(r == 0 && n == 1 && list[0] == 2, "live epochs: [2]");

	r = vault_keys_open(root_path, ks_path, &k2, &ei);
	CHECK(r == 0, "rewritten keystore reopens (%d %s)", r, ei.message);
	if (k2 != NULL) {
		CHECK(vault_keys_current_epoch(k2) == 2, "reopened: current epoch 2");
		r = vault_dek_unwrap(k2, w1, sizeof(w1), subj_a, 1, &u);
		CHECK(r == PII_ERR_KEY, "reopened: epoch-1 DEK -> PII_ERR_KEY");
		r = vault_dek_unwrap(k2, w2, sizeof(w2), subj_a, 2, &u);
		CHECK(r == 0, "reopened: epoch-2 DEK opens");
		vault_dek_free(u);
		u = NULL;
		r = vault_keys_rotate_kek(k2, &e3, &ei);
		CHECK(r == 0 && e3 == 3, "next rotation gives epoch 3 (%u)", e3);
		r = vault_keys_destroy_epoch(k2, 3, &ei);
		CHECK(r == PII_ERR_CONFLICT, "epoch 3 is current");
		r = vault_keys_destroy_epoch(k2, 2, &ei);
		r |= vault_keys_rotate_kek(k2, &e3, &ei);
		CHECK(r == 0 && e3 == 4, "destroyed epochs are never reused (%u)", e3);
		vault_keys_free(k2);
	}
	text = slurp(ks_path, NULL);
	CHECK(text != NULL && strstr(text, "\"destroyed_epochs\": [\n    1,\n    2\n  ]")
	    != NULL, "keystore file records destroyed epochs 1 and 2");
	free(text);

	vault_dek_free(d);
	vault_dek_free(NULL);
	vault_keys_free(k);
}

/* A batch's DEK set: slots start as distinct random keys, an unwrapped key
 * lands in its slot and opens what the original sealed, a failed unwrap
 * leaves the slot wiped, out-of-range slots are refused. */
static void
test_dek_set(void)
{
	static const unsigned char zero[VAULT_DEK_BYTES];
	unsigned char w[VAULT_WRAPPED_DEK_BYTES], sealed[64], plain[64];
	struct pii_errinfo ei;
	struct vault_keys *k = NULL;
	struct vault_dek_set *set = NULL;
	struct vault_dek *d = NULL, *s0, *s1, *s2;
	uint32_t e = 0;
	size_t slen = 0, plen = 0;
	int r;

	CHECK(vault_dek_set_new(0, &set) == PII_ERR_BAD_REQUEST && set == NULL,
	    "dek set: zero slots refused");
	if (vault_keys_open(root_path, ks_path, &k, &ei) != 0) {
		CHECK(0, "open for DEK set tests");
		return;
	}
	r = vault_dek_set_new(3, &set);
	CHECK(r == 0 && set != NULL, "dek set: three slots");
	if (r != 0) {
		vault_keys_free(k);
		return;
	}
	s0 = vault_dek_set_at(set, 0);
	s1 = vault_dek_set_at(set, 1);
	s2 = vault_dek_set_at(set, 2);
	CHECK(s0 != NULL && s1 != NULL && s2 != NULL &&
	    vault_dek_set_at(set, 3) == NULL && vault_dek_set_at(NULL, 0) == NULL,
	    "dek set: slots 0-2 exist, slot 3 does not");
	CHECK(memcmp(s0, s1, VAULT_DEK_BYTES) != 0 &&
	    memcmp(s1, s2, VAULT_DEK_BYTES) != 0 &&
	    memcmp(s0, zero, VAULT_DEK_BYTES) != 0,
	    "dek set: each slot starts as its own random key");

	/* a slot's key wraps and seals like any DEK */
	r = vault_dek_wrap(k, s0, subj_a, &e, w);
	r |= vault_value_seal(s0, subj_a, "email", "tok_email_v1_x",
	    (const unsigned char *)"a@b.c", 5, sealed, sizeof(sealed), &slen);
	CHECK(r == 0, "dek set: a slot wraps and seals");
	r = vault_dek_unwrap(k, w, sizeof(w), subj_a, e, &d);
	r |= vault_value_open(d, subj_a, "email", "tok_email_v1_x", sealed, slen,
	    plain, sizeof(plain), &plen);
	CHECK(r == 0 && plen == 5 && memcmp(plain, "a@b.c", 5) == 0,
	    "dek set: a single DEK unwrapped from a slot's wrap opens its value");

	/* unwrap into another slot: it now holds slot 0's key */
	r = vault_dek_unwrap_into(k, w, sizeof(w), subj_a, e, s1);
	CHECK(r == 0 && memcmp(s0, s1, VAULT_DEK_BYTES) == 0,
	    "dek set: unwrap_into fills the slot");
	r = vault_value_open(s1, subj_a, "email", "tok_email_v1_x", sealed, slen,
	    plain, sizeof(plain), &plen);
	CHECK(r == 0 && plen == 5, "dek set: the unwrapped slot opens the value");

	/* failures: another subject, a flipped byte; the slot is wiped */
	r = vault_dek_unwrap_into(k, w, sizeof(w), subj_b, e, s2);
	CHECK(r == PII_ERR_CRYPTO && memcmp(s2, zero, VAULT_DEK_BYTES) == 0,
	    "dek set: unwrap for another subject fails and wipes the slot");
	w[30] ^= 1;
	r = vault_dek_unwrap_into(k, w, sizeof(w), subj_a, e, s1);
	CHECK(r == PII_ERR_CRYPTO && memcmp(s1, zero, VAULT_DEK_BYTES) == 0,
	    "dek set: a flipped byte fails and wipes the slot");
	CHECK(vault_dek_unwrap_into(k, w, sizeof(w), subj_a, e, NULL) ==
	    PII_ERR_BAD_REQUEST, "dek set: NULL slot refused");

	vault_dek_free(d);
	vault_dek_set_free(set);
	vault_dek_set_free(NULL);
	vault_keys_free(k);
}

/* ---- values ----------------------------------------------------------- */

static void
test_values(void)
{
	static const struct {
		const char *category, *token, *value;
	} rows[] = {
		{ "email", "tok_email_v1_zco6mxn34idqef5e6tu773c7qu", "alice@example.com" },
		{ "name", "tok_name_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa", "김 민준" },
		{ "address", "tok_address_v1_bbbbbbbbbbbbbbbbbbbbbbbbbb",
		  "서울특별시 강남구 테헤란로 123" },
		{ "phone", "tok_phone_v1_cccccccccccccccccccccccccc", "+821012345678" },
		{ "custom_x", "tok_custom_x_v1_dddddddddddddddddddddddddd", "" },
	};
	unsigned char sealed[256], sealed2[256], out[256], bad[256];
	struct vault_dek *d = NULL, *d2 = NULL;
	size_t i, j, slen, slen2, olen, vlen, fails, unwiped;
	int r;

	if (vault_dek_new(&d) != 0 || vault_dek_new(&d2) != 0) {
		CHECK(0, "DEKs for value tests");
		return;
	}
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		const char *c = rows[i].category, *t = rows[i].token;

		vlen = strlen(rows[i].value);
		r = vault_value_seal(d, subj_a, c, t, (const unsigned char *)rows[i].value,
		    vlen, sealed, sizeof(sealed), &slen);
		CHECK(r == 0 && slen == vlen + VAULT_SEAL_OVERHEAD && sealed[0] == 0x01,
		    "%s: seal (%zu bytes)", c, vlen);
		r = vault_value_open(d, subj_a, c, t, sealed, slen, out, sizeof(out), &olen);
		CHECK(r == 0 && olen == vlen && memcmp(out, rows[i].value, vlen) == 0,
		    "%s: open round trip", c);
		r = vault_value_seal(d, subj_a, c, t, (const unsigned char *)rows[i].value,
		    vlen, sealed2, sizeof(sealed2), &slen2);
		CHECK(r == 0 && memcmp(sealed, sealed2, slen) != 0,
		    "%s: sealing twice gives different ciphertexts", c);

		fails = unwiped = 0;
		for (j = 0; j < slen; j++) {
			memcpy(bad, sealed, slen);
			bad[j] ^= 0x80;
			memset(out, 0xa5, sizeof(out));
			olen = 12345;
			r = vault_value_open(d, subj_a, c, t, bad, slen, out,
			    sizeof(out), &olen);
			if (r != PII_ERR_CRYPTO || olen != 12345)
				fails++;
			if (!all_zero(out, sizeof(out)))
				unwiped++;
		}
		CHECK(fails == 0 && unwiped == 0, "%s: any flipped byte -> "
		    "PII_ERR_CRYPTO and output wiped (%zu/%zu wrong, %zu unwiped)",
		    c, fails, slen, unwiped);

		memset(out, 0xa5, sizeof(out));
		r = vault_value_open(d, subj_b, c, t, sealed, slen, out, sizeof(out), &olen);
		CHECK(r == PII_ERR_CRYPTO && all_zero(out, sizeof(out)),
		    "%s: other subject -> PII_ERR_CRYPTO, output wiped", c);
		memset(out, 0xa5, sizeof(out));
		r = vault_value_open(d, subj_a, "ssn", t, sealed, slen, out, sizeof(out), &olen);
		CHECK(r == PII_ERR_CRYPTO && all_zero(out, sizeof(out)),
		    "%s: other category -> PII_ERR_CRYPTO, output wiped", c);
		memset(out, 0xa5, sizeof(out));
		r = vault_value_open(d, subj_a, c, "tok_email_v1_zzzzzzzzzzzzzzzzzzzzzzzzzz",
		    sealed, slen, out, sizeof(out), &olen);
		CHECK(r == PII_ERR_CRYPTO && all_zero(out, sizeof(out)),
		    "%s: other token -> PII_ERR_CRYPTO, output wiped", c);
		memset(out, 0xa5, sizeof(out));
		r = vault_value_open(d2, subj_a, c, t, sealed, slen, out, sizeof(out), &olen);
		CHECK(r == PII_ERR_CRYPTO && all_zero(out, sizeof(out)),
		    "%s: other DEK -> PII_ERR_CRYPTO, output wiped", c);
		memset(out, 0xa5, sizeof(out));
		r = vault_value_open(d, subj_a, c, t, sealed, slen - 1, out, sizeof(out), &olen);
		CHECK(r == PII_ERR_CRYPTO && all_zero(out, sizeof(out)),
		    "%s: truncated -> PII_ERR_CRYPTO, output wiped", c);
	}

	r = vault_value_open(d, subj_a, "email", "t", sealed, 10, out, sizeof(out), &olen);
	CHECK(r == PII_ERR_CRYPTO, "sealed value shorter than the overhead -> PII_ERR_CRYPTO");
	r = vault_value_seal(d, subj_a, "email", "t", (const unsigned char *)"abc", 3,
	    sealed, 3 + VAULT_SEAL_OVERHEAD - 1, &slen);
	CHECK(r == PII_ERR_TOO_LARGE, "seal into a too small buffer -> PII_ERR_TOO_LARGE");
	r = vault_value_seal(d, subj_a, "email", "t", (const unsigned char *)"abc", 3,
	    sealed, sizeof(sealed), &slen);
	r |= vault_value_open(d, subj_a, "email", "t", sealed, slen, out, 2, &olen);
	CHECK(r == PII_ERR_TOO_LARGE, "open into a too small buffer -> PII_ERR_TOO_LARGE");
	r = vault_value_seal(d, subj_a, "email", "t", NULL, 0, sealed,
	    sizeof(sealed), &slen);
	CHECK(r == 0 && slen == VAULT_SEAL_OVERHEAD, "seal of an empty value (NULL)");
	r = vault_value_open(d, subj_a, "email", "t", sealed, slen, NULL, 0, &olen);
	CHECK(r == 0 && olen == 0, "open of an empty value into no buffer");
	sealed[slen - 1] ^= 1;
	r = vault_value_open(d, subj_a, "email", "t", sealed, slen, NULL, 0, &olen);
	CHECK(r == PII_ERR_CRYPTO, "empty value with a flipped tag -> PII_ERR_CRYPTO");
	r = vault_value_seal(d, subj_a, "", "t", (const unsigned char *)"abc", 3,
	    sealed, sizeof(sealed), &slen);
	CHECK(r == PII_ERR_BAD_REQUEST, "empty category -> PII_ERR_BAD_REQUEST");
	r = vault_value_seal(d, subj_a, "a_category_name_that_is_too_long_", "t",
	    (const unsigned char *)"abc", 3, sealed, sizeof(sealed), &slen);
	CHECK(r == PII_ERR_TOO_LARGE, "over-long category -> PII_ERR_TOO_LARGE");
	vault_dek_free(d);
	vault_dek_free(d2);
}

/* ---- tokens ----------------------------------------------------------- */

static void
test_tokens(void)
{
	static const unsigned char kat_key[32] = {
		0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
		0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17,
		0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
	};
	/* Computed independently:
	 * python3 -c 'import hmac,hashlib,base64; m=hmac.new(bytes(range(32)),
	 *   b"email\0alice@example.com",hashlib.sha256).digest()[:16];
	 *   print(base64.b32encode(m).decode().rstrip("=").lower())' */
	static const struct {
		const unsigned char *key;
		unsigned version;
		const char *category, *value, *want;
	} kat[] = {
		{ kat_key, 1, "email", "alice@example.com",
		  "tok_email_v1_zco6mxn34idqef5e6tu773c7qu" },
		{ kat_key, 1, "phone", "+821012345678",
		  "tok_phone_v1_bwxcl3mupx2f252giwcrvfl3uq" },
	};
	static const struct {
		const char *category, *value;
	} ref_rows[] = {
		{ "email", "alice@example.com" },
		{ "email", "bob@example.org" },
		{ "phone", "+821012345678" },
		{ "name", "김 민준" },
		{ "national_id", "9001011234567" },
		{ "subject", "user:12345" },
		{ "custom_field_with_31_chars_abcd", "x" },
		{ "ip", "2001:db8::1" },
	};
	static const struct {
		const char *category;
		const char *value;
		size_t len;
		int want;
	} bad_rows[] = {
		{ "", "a", 1, PII_ERR_BAD_REQUEST },
		{ "Email", "a", 1, PII_ERR_BAD_REQUEST },
		{ "e-mail", "a", 1, PII_ERR_BAD_REQUEST },
		{ "1email", "a", 1, PII_ERR_BAD_REQUEST },
		{ "email", "a\0b", 3, PII_ERR_BAD_REQUEST },
		{ "email", "", 0, PII_ERR_BAD_REQUEST },
		{ "custom_field_with_32_chars_abcde", "x", 1, PII_ERR_TOO_LARGE },
		{ NULL, "x", 1, PII_ERR_BAD_REQUEST },
	};
	unsigned char key7[32];
	unsigned char h[SHA256_DIGEST_LENGTH], buf[128];
	char tok[VAULT_TOKEN_MAX], tok2[VAULT_TOKEN_MAX], want[VAULT_TOKEN_MAX],
	    hex[2 * SHA256_DIGEST_LENGTH + 1], b32[64];
	struct vault_keys *k = NULL, *k7 = NULL, *kf = NULL;
	struct pii_errinfo ei;
	size_t i, n;
	int r;

	/* Known answers: fixed key, independent one-shot HMAC(), and pasted. */
	r = vault_keys_from_raw_for_test(NULL, 1, kat_key, 1, &k);
	CHECK(r == 0, "keys from fixed bytes");
	if (r != 0)
		return;
	for (i = 0; i < sizeof(kat) / sizeof(kat[0]); i++) {
		r = vault_token(k, kat[i].category, (const unsigned char *)kat[i].value,
		    strlen(kat[i].value), tok);
		CHECK(r == 0, "KAT %zu: vault_token", i);
		CHECK_STR(tok, kat[i].want, "KAT %zu: %s equals the pasted answer",
		    i, kat[i].category);
		ref_token(kat[i].key, kat[i].version, kat[i].category, kat[i].value,
		    want, sizeof(want));
		CHECK_STR(tok, want, "KAT %zu: equals one-shot HMAC() + base32", i);
	}
	for (i = 0; i < sizeof(ref_rows) / sizeof(ref_rows[0]); i++) {
		r = vault_token(k, ref_rows[i].category,
		    (const unsigned char *)ref_rows[i].value,
		    strlen(ref_rows[i].value), tok);
		ref_token(kat_key, 1, ref_rows[i].category, ref_rows[i].value,
		    want, sizeof(want));
		CHECK(r == 0, "token of a %s value", ref_rows[i].category);
		CHECK_STR(tok, want, "%s token equals the one-shot HMAC() reference",
		    ref_rows[i].category);
	}
	memset(key7, 0xa5, sizeof(key7));
	r = vault_keys_from_raw_for_test(NULL, 1, key7, 7, &k7);
	r |= vault_token(k7, "email", (const unsigned char *)"alice@example.com", 17, tok);
	CHECK(r == 0, "token under key version 7");
	CHECK_STR(tok, "tok_email_v7_bcy5k2fp3y6fmfmxofpl4vp7iu",
	    "token carries version 7 and matches the pasted answer");
	vault_keys_free(k7);

	/* Determinism, separation by category, shape. */
	r = vault_token(k, "email", (const unsigned char *)"x@y.z", 5, tok);
	r |= vault_token(k, "email", (const unsigned char *)"x@y.z", 5, tok2);
	CHECK(r == 0 && strcmp(tok, tok2) == 0, "tokens are deterministic");
	CHECK(token_shape_ok(tok, "tok_email_v1_"),
	    "token is tok_email_v1_ + 26 chars of [a-z2-7]: %s", tok);
	r = vault_token(k, "email", (const unsigned char *)"+821012345678", 13, tok);
	r |= vault_token(k, "phone", (const unsigned char *)"+821012345678", 13, tok2);
	CHECK(r == 0 && strcmp(tok + strlen("tok_email_v1_"),
	    tok2 + strlen("tok_phone_v1_")) != 0,
	    "same string as email and as phone gives different hashes");

	/* Not an unkeyed hash. */
	r = vault_token(k, "email", (const unsigned char *)"alice@example.com", 17, tok);
	SHA256((const unsigned char *)"alice@example.com", 17, h);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	CHECK(r == 0 && strstr(tok, hex) == NULL &&
	    strncmp(tok + 13, hex, 26) != 0, "token is not hex of SHA-256(value)");
	ref_b32(h, 16, b32);
	CHECK(strcmp(tok + 13, b32) != 0, "token is not base32 of SHA-256(value)");
	memcpy(buf, "email", 5);
	buf[5] = 0;
	memcpy(buf + 6, "alice@example.com", 17);
	SHA256(buf, 23, h);
	ref_b32(h, 16, b32);
	sodium_bin2hex(hex, sizeof(hex), h, 16);
	CHECK(strcmp(tok + 13, b32) != 0 && strncmp(tok + 13, hex, 26) != 0,
	    "token is not SHA-256(category || 0 || value) truncated");

	/* Another keystore gives other tokens. */
	if (vault_keys_open(root_path, ks_path, &kf, &ei) == 0) {
		r = vault_token(kf, "email", (const unsigned char *)"alice@example.com",
		    17, tok2);
		CHECK(r == 0 && strcmp(tok, tok2) != 0,
		    "another token key gives another token");
		vault_keys_free(kf);
	}

	/* Input validation. */
	for (i = 0; i < sizeof(bad_rows) / sizeof(bad_rows[0]); i++) {
		memset(tok, 'Z', sizeof(tok));
		r = vault_token(k, bad_rows[i].category,
		    (const unsigned char *)bad_rows[i].value, bad_rows[i].len, tok);
		CHECK(r == bad_rows[i].want && tok[0] == 'Z',
		    "token input row %zu -> %d (got %d), output untouched", i,
		    bad_rows[i].want, r);
	}
	n = strlen("tok_custom_field_with_31_chars_abcd_v1_") + 26;
	r = vault_token(k, "custom_field_with_31_chars_abcd", (const unsigned char *)"x",
	    1, tok);
	CHECK(r == 0 && strlen(tok) == n && n < VAULT_TOKEN_MAX,
	    "longest category fits VAULT_TOKEN_MAX (%zu)", n);
	vault_keys_free(k);
}

/* ---- concurrency ------------------------------------------------------ */

struct thr {
	const struct vault_keys *keys;
	const struct vault_dek *dek;
	int bad;
};

static void *
thr_main(void *arg)
{
	struct thr *t = arg;
	unsigned char sealed[128], out[128];
	char tok[VAULT_TOKEN_MAX], want[VAULT_TOKEN_MAX], v[32];
	size_t slen, olen, vlen;
	int i;

	for (i = 0; i < 2000; i++) {
		vlen = (size_t)snprintf(v, sizeof(v), "user%d@example.com", i % 50);
		if (vault_token(t->keys, "email", (unsigned char *)v, vlen, tok) != 0)
			t->bad++;
		ref_token((const unsigned char *)"0123456789abcdef0123456789abcdef", 1,
		    "email", v, want, sizeof(want));
		if (strcmp(tok, want) != 0)
			t->bad++;
		if (vault_value_seal(t->dek, subj_a, "email", tok, (unsigned char *)v,
		    vlen, sealed, sizeof(sealed), &slen) != 0 ||
		    vault_value_open(t->dek, subj_a, "email", tok, sealed, slen, out,
		    sizeof(out), &olen) != 0 || olen != vlen ||
		    memcmp(out, v, vlen) != 0)
			t->bad++;
	}
	return NULL;
}

static void
test_threads(void)
{
	struct vault_keys *k = NULL;
	struct vault_dek *d = NULL;
	struct thr t[4];
	pthread_t th[4];
	int i, bad = 0;

	if (vault_keys_from_raw_for_test(NULL, 1,
	    (const unsigned char *)"0123456789abcdef0123456789abcdef", 1, &k) != 0 ||
	    vault_dek_new(&d) != 0) {
		CHECK(0, "setup for threads");
		return;
	}
	for (i = 0; i < 4; i++) {
		t[i].keys = k;
		t[i].dek = d;
		t[i].bad = 0;
		pthread_create(&th[i], NULL, thr_main, &t[i]);
	}
	for (i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		bad += t[i].bad;
	}
	CHECK(bad == 0, "4 threads tokenize, seal and open concurrently (%d bad)", bad);
	vault_dek_free(d);
	vault_keys_free(k);
}

/* A forked child must not take the nonces the parent will take next. */
static void
test_fork_nonces(void)
{
	unsigned char s1[64], s2[64], sc[64];
	struct vault_dek *d = NULL;
	size_t l1, l2, lc;
	int fds[2], status = 0;
	pid_t pid;

	if (vault_dek_new(&d) != 0 || pipe(fds) != 0) {
		CHECK(0, "setup for fork test");
		vault_dek_free(d);
		return;
	}
	vault_value_seal(d, subj_a, "email", "t", (const unsigned char *)"v", 1,
	    s1, sizeof(s1), &l1);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		close(fds[0]);
		if (vault_value_seal(d, subj_a, "email", "t",
		    (const unsigned char *)"v", 1, sc, sizeof(sc), &lc) != 0 ||
		    write(fds[1], sc + 1, 12) != 12)
			_exit(1);
		_exit(0);
	}
	close(fds[1]);
	memset(sc, 0, sizeof(sc));
	CHECK(pid > 0 && read(fds[0], sc + 1, 12) == 12, "child sealed a value");
	close(fds[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	vault_value_seal(d, subj_a, "email", "t", (const unsigned char *)"v", 1,
	    s2, sizeof(s2), &l2);
	CHECK(memcmp(sc + 1, s2 + 1, 12) != 0 && memcmp(sc + 1, s1 + 1, 12) != 0,
	    "forked child draws other nonces than its parent");
	vault_dek_free(d);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 2;
	umask(022);
	make_dir();
	test_keyfiles();
	test_permissions();
	test_root_size();
	test_tamper();
	test_dek_and_rotation();
	test_dek_set();
	test_values();
	test_tokens();
	test_threads();
	test_fork_nonces();
	remove_dir();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
