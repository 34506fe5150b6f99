/*
 * vault_keys.c - the root key file and the keystore file: generation, strict
 * loading, KEK rotation and destruction.
 *
 * The root key is 32 raw random bytes in a file of mode 0600.  The keystore is
 * a small JSON file beside it (never in PostgreSQL) holding random KEK epochs
 * and token keys, each wrapped by the root key with XChaCha20-Poly1305 under
 * an associated data that names the keystore, the kind and the version of the
 * entry, so an entry copied to another slot or another keystore does not
 * authenticate.  Files are written atomically (temporary file of mode 0600,
 * fsync, rename or link, fsync of the directory).  Key bytes live only in
 * sodium_malloc memory: the root key no-access except while it wraps or
 * unwraps, the KEKs and the token keys' HMAC states read-only.  See
 * docs/keys.md for the formats.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <sodium.h>

#include "../common/buf.h"
#include "../common/keyfile.h"
#include "vault_keys.h"
#include "vault_keys_int.h"

#define KS_FORMAT 1
#define KS_FILE_MAX (1024 * 1024)          /* bytes of a keystore file */
#define KS_NONCE crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
#define KS_TAG crypto_aead_xchacha20poly1305_ietf_ABYTES
#define KS_WRAPPED (KS_NONCE + VAULT_KEY_BYTES + KS_TAG)       /* 72 */
#define KS_WRAPPED_B64 (((KS_WRAPPED + 2) / 3) * 4)            /* 96 */
#define KS_AD_PREFIX "piiv-keystore"
#define KS_AD_MAX (sizeof(KS_AD_PREFIX) + 6 + 4 + VAULT_KEYSTORE_ID_HEX)

/* What vault_keys_rotate_kek / vault_keys_destroy_epoch change when the
 * keystore is written: an added KEK, a new current epoch, an epoch dropped
 * and recorded as destroyed (0: none). */
struct ks_change {
	const struct vault_kek *add;
	uint32_t current_epoch;
	uint32_t destroy;
};

static const char *const ks_top_keys[] = {
	"format", "keystore_id", "created_at", "current_kek_epoch",
	"current_token_version", "keks", "token_keys", "destroyed_epochs", NULL
};
static const char *const ks_kek_keys[] = { "epoch", "created_at", "wrapped", NULL };
static const char *const ks_tok_keys[] = { "version", "created_at", "wrapped", NULL };

/* ---- small helpers ---------------------------------------------------- */

static void
time_text(char out[VAULT_TIME_TEXT])
{
	struct tm tm;
	time_t now = time(NULL);

	if (gmtime_r(&now, &tm) == NULL ||
	    strftime(out, VAULT_TIME_TEXT, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(out, VAULT_TIME_TEXT, "1970-01-01T00:00:00Z");
}

/* 1 if s is "YYYY-MM-DDTHH:MM:SSZ" with digits where digits belong. */
static int
time_text_valid(const char *s)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:ddZ";
	size_t i;

	if (strlen(s) != sizeof(pat) - 1)
		return 0;
	for (i = 0; pat[i] != '\0'; i++) {
		if (pat[i] == 'd' ? (s[i] < '0' || s[i] > '9') : s[i] != pat[i])
			return 0;
	}
	return 1;
}

static int
hex_id_valid(const char *s)
{
	size_t i;

	if (strlen(s) != VAULT_KEYSTORE_ID_HEX)
		return 0;
	for (i = 0; i < VAULT_KEYSTORE_ID_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

static char *
str_dup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);

	if (p != NULL)
		memcpy(p, s, n);
	return p;
}

/* AD of a keystore entry: "piiv-keystore" 0 kind 0 be32(version) keystore_id. */
static size_t
entry_ad(unsigned char ad[KS_AD_MAX], const char *kind, uint32_t version,
    const char *keystore_id)
{
	size_t n = 0, klen = strlen(kind);

	memcpy(ad, KS_AD_PREFIX, sizeof(KS_AD_PREFIX));   /* with its NUL */
	n += sizeof(KS_AD_PREFIX);
	memcpy(ad + n, kind, klen);
	n += klen;
	ad[n++] = 0x00;
	ad[n++] = (unsigned char)(version >> 24);
	ad[n++] = (unsigned char)(version >> 16);
	ad[n++] = (unsigned char)(version >> 8);
	ad[n++] = (unsigned char)version;
	memcpy(ad + n, keystore_id, VAULT_KEYSTORE_ID_HEX);
	n += VAULT_KEYSTORE_ID_HEX;
	return n;
}

/* Wrap key under root (which must be readable) into b64 (new, malloc). */
static int
entry_wrap(const unsigned char *root, const char *kind, uint32_t version,
    const char *keystore_id, const unsigned char key[VAULT_KEY_BYTES],
    char **b64)
{
	unsigned char ad[KS_AD_MAX], blob[KS_WRAPPED];
	unsigned long long clen;
	size_t adlen;
	char *s;

	adlen = entry_ad(ad, kind, version, keystore_id);
	randombytes_buf(blob, KS_NONCE);
	if (crypto_aead_xchacha20poly1305_ietf_encrypt(blob + KS_NONCE, &clen,
	    key, VAULT_KEY_BYTES, ad, adlen, NULL, blob, root) != 0 ||
	    clen != VAULT_KEY_BYTES + KS_TAG)
		return PII_ERR_CRYPTO;
	if ((s = malloc(KS_WRAPPED_B64 + 1)) == NULL)
		return PII_ERR_NOMEM;
	sodium_bin2base64(s, KS_WRAPPED_B64 + 1, blob, sizeof(blob),
	    sodium_base64_VARIANT_ORIGINAL);
	*b64 = s;
	return 0;
}

/* Unwrap b64 (already checked by ks_b64_valid) into key (VAULT_KEY_BYTES,
 * writable).  PII_ERR_CRYPTO if it does not authenticate. */
static int
entry_unwrap(const unsigned char *root, const char *kind, uint32_t version,
    const char *keystore_id, const char *b64, unsigned char *key)
{
	unsigned char ad[KS_AD_MAX], blob[KS_WRAPPED];
	unsigned long long mlen;
	size_t adlen, blen;

	if (!pii_base64_chars_ok(b64, strlen(b64)) ||
	    sodium_base642bin(blob, sizeof(blob), b64, strlen(b64), NULL, &blen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0 || blen != KS_WRAPPED)
		return PII_ERR_CONFIG;
	adlen = entry_ad(ad, kind, version, keystore_id);
	if (crypto_aead_xchacha20poly1305_ietf_decrypt(key, &mlen, NULL,
	    blob + KS_NONCE, KS_WRAPPED - KS_NONCE, ad, adlen, blob, root) != 0 ||
	    mlen != VAULT_KEY_BYTES) {
		sodium_memzero(key, VAULT_KEY_BYTES);
		return PII_ERR_CRYPTO;
	}
	return 0;
}

/* Unwrap one keystore entry into new sodium_malloc memory (*out), opening
 * the root key only for the moment it is used.  On failure *out is wiped
 * and released (or stays NULL). */
static int
entry_unwrap_new(struct vault_keys *keys, const char *kind, uint32_t num,
    const char *b64, unsigned char **out)
{
	unsigned char *k;
	int r;

	if ((k = sodium_malloc(VAULT_KEY_BYTES)) == NULL)
		return PII_ERR_NOMEM;
	sodium_mprotect_readonly(keys->root);
	r = entry_unwrap(keys->root, kind, num, keys->keystore_id, b64, k);
	sodium_mprotect_noaccess(keys->root);
	*out = k;
	return r;
}

/* 1 if s is the base64 (original alphabet, padded) of exactly KS_WRAPPED bytes. */
static int
ks_b64_valid(const char *s)
{
	unsigned char blob[KS_WRAPPED];
	size_t blen;

	if (strlen(s) != KS_WRAPPED_B64 || !pii_base64_chars_ok(s, KS_WRAPPED_B64))
		return 0;
	if (sodium_base642bin(blob, sizeof(blob), s, KS_WRAPPED_B64, NULL, &blen,
	    NULL, sodium_base64_VARIANT_ORIGINAL) != 0)
		return 0;
	return blen == KS_WRAPPED;
}

/* ---- files ------------------------------------------------------------ */

/* Read the root key file into new sodium_malloc memory, left no-access. */
static int
root_load(const char *path, unsigned char **out, struct pii_errinfo *ei)
{
	struct stat st;
	unsigned char *root = NULL;
	unsigned char extra;
	char eb[128];
	size_t got = 0, more = 0;
	int fd = -1, r = PII_ERR_INTERNAL;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "root key file %.160s: "
		    "open: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	if ((r = pii_keyfile_check(fd, "root key file", path, &st, ei)) != 0)
		goto out;
	if (st.st_size != VAULT_ROOT_KEY_BYTES) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "root key file "
		    "%.160s: must hold exactly %d bytes", path, VAULT_ROOT_KEY_BYTES);
		goto out;
	}
	if ((root = sodium_malloc(VAULT_ROOT_KEY_BYTES)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if (pii_read_all(fd, root, VAULT_ROOT_KEY_BYTES, &got) != 0 ||
	    pii_read_all(fd, &extra, 1, &more) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "root key file %.160s: "
		    "read: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	if (got != VAULT_ROOT_KEY_BYTES || more != 0) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "root key file "
		    "%.160s: must hold exactly %d bytes", path, VAULT_ROOT_KEY_BYTES);
		goto out;
	}
	sodium_mprotect_noaccess(root);
	*out = root;
	root = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	sodium_free(root);
	return r;
}

/* Read the keystore file (checked like a key file) into new malloc memory. */
static int
keystore_read(const char *path, char **out, size_t *outlen,
    struct pii_errinfo *ei)
{
	struct stat st;
	char eb[128];
	char *buf = NULL;
	size_t got = 0, more = 0;
	unsigned char extra;
	int fd = -1, r = PII_ERR_INTERNAL;

	fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "keystore file %.160s: "
		    "open: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	if ((r = pii_keyfile_check(fd, "keystore file", path, &st, ei)) != 0)
		goto out;
	if (st.st_size <= 0 || st.st_size > KS_FILE_MAX) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "keystore file "
		    "%.160s: size must be 1..%d bytes", path, KS_FILE_MAX);
		goto out;
	}
	if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if (pii_read_all(fd, (unsigned char *)buf, (size_t)st.st_size, &got) != 0 ||
	    pii_read_all(fd, &extra, 1, &more) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "keystore file %.160s: "
		    "read: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	if (got != (size_t)st.st_size || more != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "keystore file %.160s: "
		    "changed while being read", path);
		goto out;
	}
	buf[got] = '\0';
	*out = buf;
	*outlen = got;
	buf = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return r;
}

/* ---- the structure ---------------------------------------------------- */

static struct vault_keys *
keys_alloc(void)
{
	struct vault_keys *k;

	if ((k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->keks = calloc(VAULT_MAX_KEKS, sizeof(*k->keks));
	k->tokens = calloc(VAULT_MAX_TOKEN_KEYS, sizeof(*k->tokens));
	k->destroyed = calloc(VAULT_MAX_DESTROYED, sizeof(*k->destroyed));
	if (k->keks == NULL || k->tokens == NULL || k->destroyed == NULL) {
		vault_keys_free(k);
		return NULL;
	}
	return k;
}

void
vault_keys_free(struct vault_keys *keys)
{
	size_t i;

	if (keys == NULL)
		return;
	if (keys->keks != NULL) {
		for (i = 0; i < keys->nkeks; i++) {
			sodium_free(keys->keks[i].key);
			free(keys->keks[i].wrapped_b64);
		}
		free(keys->keks);
	}
	if (keys->tokens != NULL) {
		for (i = 0; i < keys->ntoken; i++) {
			vault_hmac_state_free(keys->tokens[i].hmac);
			free(keys->tokens[i].wrapped_b64);
		}
		free(keys->tokens);
	}
	free(keys->destroyed);
	sodium_free(keys->root);   /* wipes; no-access memory is fine */
	free(keys->keystore_path);
	free(keys);
}

const char *
vault_keys_keystore_id(const struct vault_keys *keys)
{
	return keys->keystore_id;
}

uint32_t
vault_keys_current_epoch(const struct vault_keys *keys)
{
	return keys->current_epoch;
}

uint32_t
vault_keys_token_version(const struct vault_keys *keys)
{
	return keys->token_version;
}

const unsigned char *
vault_keys_kek(const struct vault_keys *keys, uint32_t epoch)
{
	size_t i;

	for (i = 0; i < keys->nkeks; i++)
		if (keys->keks[i].epoch == epoch)
			return keys->keks[i].key;
	return NULL;
}

static int
epoch_destroyed(const struct vault_keys *keys, uint32_t epoch)
{
	size_t i;

	for (i = 0; i < keys->ndestroyed; i++)
		if (keys->destroyed[i] == epoch)
			return 1;
	return 0;
}

int
vault_keys_epoch_list(const struct vault_keys *keys, uint32_t *epochs,
    size_t cap, size_t *n)
{
	size_t i;

	if (cap < keys->nkeks)
		return PII_ERR_TOO_LARGE;
	for (i = 0; i < keys->nkeks; i++)   /* keks are kept in ascending order */
		epochs[i] = keys->keks[i].epoch;
	*n = keys->nkeks;
	return 0;
}

static int
kek_cmp(const void *a, const void *b)
{
	const struct vault_kek *x = a, *y = b;

	return x->epoch < y->epoch ? -1 : x->epoch > y->epoch;
}

/* A new random KEK (read-only sodium_malloc) wrapped under keys->root. */
static int
kek_make(struct vault_keys *keys, uint32_t epoch, struct vault_kek *kek)
{
	unsigned char *key = NULL;
	char *b64 = NULL;
	int r = PII_ERR_INTERNAL;

	if ((key = sodium_malloc(VAULT_KEY_BYTES)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	randombytes_buf(key, VAULT_KEY_BYTES);
	sodium_mprotect_readonly(keys->root);
	r = entry_wrap(keys->root, "kek", epoch, keys->keystore_id, key, &b64);
	sodium_mprotect_noaccess(keys->root);
	if (r != 0)
		goto out;
	sodium_mprotect_readonly(key);
	memset(kek, 0, sizeof(*kek));
	kek->epoch = epoch;
	time_text(kek->created_at);
	kek->key = key;
	kek->wrapped_b64 = b64;
	key = NULL;
	b64 = NULL;
	r = 0;
out:
	sodium_free(key);
	free(b64);
	return r;
}

/* ---- JSON ------------------------------------------------------------- */

static json_t *
entry_json(const char *numname, uint32_t num, const char *created_at,
    const char *b64)
{
	json_t *o = json_object();

	if (o == NULL)
		return NULL;
	if (json_object_set_new(o, numname, json_integer(num)) != 0 ||
	    json_object_set_new(o, "created_at", json_string(created_at)) != 0 ||
	    json_object_set_new(o, "wrapped", json_string(b64)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The keystore text of keys with ch applied (new, malloc, ends in "\n"). */
static int
keystore_dump(const struct vault_keys *keys, const struct ks_change *ch,
    char **out, size_t *outlen)
{
	json_t *root = NULL, *keks = NULL, *toks = NULL, *dest = NULL, *e;
	char *text = NULL, *buf = NULL;
	size_t i, n;
	int bad = 0, r = PII_ERR_NOMEM;

	if ((root = json_object()) == NULL || (keks = json_array()) == NULL ||
	    (toks = json_array()) == NULL || (dest = json_array()) == NULL)
		goto out;
	for (i = 0; i < keys->nkeks; i++) {
		const struct vault_kek *k = &keys->keks[i];

		if (ch != NULL && k->epoch == ch->destroy)
			continue;
		e = entry_json("epoch", k->epoch, k->created_at, k->wrapped_b64);
		bad |= json_array_append_new(keks, e);
	}
	if (ch != NULL && ch->add != NULL) {
		e = entry_json("epoch", ch->add->epoch, ch->add->created_at,
		    ch->add->wrapped_b64);
		bad |= json_array_append_new(keks, e);
	}
	for (i = 0; i < keys->ntoken; i++) {
		const struct vault_token_key *t = &keys->tokens[i];

		e = entry_json("version", t->version, t->created_at, t->wrapped_b64);
		bad |= json_array_append_new(toks, e);
	}
	for (i = 0; i < keys->ndestroyed; i++)
		bad |= json_array_append_new(dest, json_integer(keys->destroyed[i]));
	if (ch != NULL && ch->destroy != 0)
		bad |= json_array_append_new(dest, json_integer(ch->destroy));
	bad |= json_object_set_new(root, "format", json_integer(KS_FORMAT));
	bad |= json_object_set_new(root, "keystore_id", json_string(keys->keystore_id));
	bad |= json_object_set_new(root, "created_at", json_string(keys->created_at));
	bad |= json_object_set_new(root, "current_kek_epoch", json_integer(
	    ch != NULL ? ch->current_epoch : keys->current_epoch));
	bad |= json_object_set_new(root, "current_token_version",
	    json_integer(keys->token_version));
	bad |= json_object_set(root, "keks", keks);
	bad |= json_object_set(root, "token_keys", toks);
	bad |= json_object_set(root, "destroyed_epochs", dest);
	if (bad)
		goto out;
	if ((text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) == NULL)
		goto out;
	n = strlen(text);
	if ((buf = malloc(n + 2)) == NULL)
		goto out;
	memcpy(buf, text, n);
	buf[n] = '\n';
	buf[n + 1] = '\0';
	*out = buf;
	*outlen = n + 1;
	buf = NULL;
	r = 0;
out:
	free(text);
	free(buf);
	json_decref(keks);
	json_decref(toks);
	json_decref(dest);
	json_decref(root);
	return r;
}

/* PII_ERR_CONFIG unless obj is an object whose keys are all in allowed and
 * which has all of them. */
static int
json_keys_exact(const json_t *obj, const char *const *allowed, const char *what,
    struct pii_errinfo *ei)
{
	const char *key;
	json_t *val;
	size_t i;

	if (!json_is_object(obj))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, what, "must be an object");
	json_object_foreach((json_t *)obj, key, val) {
		for (i = 0; allowed[i] != NULL; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (allowed[i] == NULL)
			return pii_errinfo_set(ei, PII_ERR_CONFIG, what,
			    "keystore: unknown key in %s", what);
		(void)val;
	}
	for (i = 0; allowed[i] != NULL; i++) {
		if (json_object_get(obj, allowed[i]) == NULL)
			return pii_errinfo_set(ei, PII_ERR_CONFIG, what,
			    "keystore: %s lacks \"%s\"", what, allowed[i]);
	}
	return 0;
}

/* A JSON integer in 1..UINT32_MAX. */
static int
json_u32(const json_t *v, uint32_t *out)
{
	json_int_t x;

	if (!json_is_integer(v))
		return -1;
	x = json_integer_value(v);
	if (x < 1 || x > (json_int_t)UINT32_MAX)
		return -1;
	*out = (uint32_t)x;
	return 0;
}

/* Structural checks of one "keks" or "token_keys" entry. */
static int
json_entry(const json_t *e, const char *const *allowed, const char *numname,
    const char *what, uint32_t *num, const char **created, const char **b64,
    struct pii_errinfo *ei)
{
	const json_t *c, *w;
	int r;

	if ((r = json_keys_exact(e, allowed, what, ei)) != 0)
		return r;
	if (json_u32(json_object_get(e, numname), num) != 0)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, what,
		    "keystore: %s.%s must be an integer 1..4294967295", what, numname);
	c = json_object_get(e, "created_at");
	if (!json_is_string(c) || !time_text_valid(json_string_value(c)))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, what,
		    "keystore: %s.created_at must be YYYY-MM-DDTHH:MM:SSZ", what);
	w = json_object_get(e, "wrapped");
	if (!json_is_string(w) || !ks_b64_valid(json_string_value(w)))
		return pii_errinfo_set(ei, PII_ERR_CONFIG, what,
		    "keystore: %s.wrapped must be base64 of %d bytes", what, KS_WRAPPED);
	*created = json_string_value(c);
	*b64 = json_string_value(w);
	return 0;
}

/* Parse text into keys (fresh from keys_alloc), unwrapping every entry with
 * keys->root (no-access on entry and on return). */
static int
keystore_parse(const char *text, size_t len, struct vault_keys *keys,
    struct pii_errinfo *ei)
{
	json_error_t jerr;
	json_t *doc = NULL, *arr, *v;
	const char *created, *b64;
	unsigned char *tmp = NULL;
	uint32_t num;
	size_t i, j;
	int r = PII_ERR_INTERNAL, found;

	doc = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (doc == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "keystore: invalid "
		    "JSON at line %d column %d", jerr.line, jerr.column);
		goto out;
	}
	if ((r = json_keys_exact(doc, ks_top_keys, "keystore", ei)) != 0)
		goto out;
	v = json_object_get(doc, "format");
	if (!json_is_integer(v) || json_integer_value(v) != KS_FORMAT) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "format",
		    "keystore: format must be %d", KS_FORMAT);
		goto out;
	}
	v = json_object_get(doc, "keystore_id");
	if (!json_is_string(v) || !hex_id_valid(json_string_value(v))) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "keystore_id", "keystore: "
		    "keystore_id must be %d lowercase hex digits", VAULT_KEYSTORE_ID_HEX);
		goto out;
	}
	memcpy(keys->keystore_id, json_string_value(v), VAULT_KEYSTORE_ID_HEX + 1);
	v = json_object_get(doc, "created_at");
	if (!json_is_string(v) || !time_text_valid(json_string_value(v))) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "created_at",
		    "keystore: created_at must be YYYY-MM-DDTHH:MM:SSZ");
		goto out;
	}
	memcpy(keys->created_at, json_string_value(v), VAULT_TIME_TEXT);
	if (json_u32(json_object_get(doc, "current_kek_epoch"),
	    &keys->current_epoch) != 0 ||
	    json_u32(json_object_get(doc, "current_token_version"),
	    &keys->token_version) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "keystore: current_kek_"
		    "epoch and current_token_version must be integers 1..4294967295");
		goto out;
	}

	/* destroyed_epochs first: live entries must not be among them. */
	arr = json_object_get(doc, "destroyed_epochs");
	if (!json_is_array(arr) || json_array_size(arr) > VAULT_MAX_DESTROYED) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "destroyed_epochs", "keystore: "
		    "destroyed_epochs must be an array of at most %d", VAULT_MAX_DESTROYED);
		goto out;
	}
	json_array_foreach(arr, i, v) {
		if (json_u32(v, &num) != 0 || epoch_destroyed(keys, num)) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, "destroyed_epochs",
			    "keystore: destroyed_epochs must hold distinct integers "
			    "1..4294967295");
			goto out;
		}
		keys->destroyed[keys->ndestroyed++] = num;
	}

	arr = json_object_get(doc, "keks");
	if (!json_is_array(arr) || json_array_size(arr) < 1 ||
	    json_array_size(arr) > VAULT_MAX_KEKS) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "keks", "keystore: keks must "
		    "be an array of 1..%d entries", VAULT_MAX_KEKS);
		goto out;
	}
	json_array_foreach(arr, i, v) {
		if ((r = json_entry(v, ks_kek_keys, "epoch", "keks", &num, &created,
		    &b64, ei)) != 0)
			goto out;
		if (vault_keys_kek(keys, num) != NULL || epoch_destroyed(keys, num)) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, "keks", "keystore: KEK "
			    "epoch %u is listed twice or also as destroyed", num);
			goto out;
		}
		r = entry_unwrap_new(keys, "kek", num, b64, &tmp);
		if (r == PII_ERR_NOMEM)
			goto out;
		if (r != 0) {
			r = pii_errinfo_set(ei, r, "keks", "keystore: KEK epoch %u does "
			    "not authenticate under the root key", num);
			goto out;
		}
		sodium_mprotect_readonly(tmp);
		j = keys->nkeks++;
		keys->keks[j].epoch = num;
		keys->keks[j].key = tmp;
		tmp = NULL;
		memcpy(keys->keks[j].created_at, created, VAULT_TIME_TEXT);
		if ((keys->keks[j].wrapped_b64 = str_dup(b64)) == NULL) {
			r = PII_ERR_NOMEM;
			goto out;
		}
	}
	qsort(keys->keks, keys->nkeks, sizeof(keys->keks[0]), kek_cmp);
	if (vault_keys_kek(keys, keys->current_epoch) == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "current_kek_epoch",
		    "keystore: current_kek_epoch names no KEK in keks");
		goto out;
	}

	arr = json_object_get(doc, "token_keys");
	if (!json_is_array(arr) || json_array_size(arr) < 1 ||
	    json_array_size(arr) > VAULT_MAX_TOKEN_KEYS) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "token_keys", "keystore: "
		    "token_keys must be an array of 1..%d entries", VAULT_MAX_TOKEN_KEYS);
		goto out;
	}
	json_array_foreach(arr, i, v) {
		if ((r = json_entry(v, ks_tok_keys, "version", "token_keys", &num,
		    &created, &b64, ei)) != 0)
			goto out;
		for (j = 0; j < keys->ntoken; j++)
			if (keys->tokens[j].version == num)
				break;
		if (j < keys->ntoken) {
			r = pii_errinfo_set(ei, PII_ERR_CONFIG, "token_keys", "keystore: "
			    "token key version %u is listed twice", num);
			goto out;
		}
		r = entry_unwrap_new(keys, "token", num, b64, &tmp);
		if (r == PII_ERR_NOMEM)
			goto out;
		if (r != 0) {
			r = pii_errinfo_set(ei, r, "token_keys", "keystore: token key "
			    "version %u does not authenticate under the root key", num);
			goto out;
		}
		j = keys->ntoken;
		keys->tokens[j].version = num;
		memcpy(keys->tokens[j].created_at, created, VAULT_TIME_TEXT);
		if ((r = vault_hmac_state_new(tmp, &keys->tokens[j].hmac)) != 0)
			goto out;
		keys->ntoken++;
		sodium_free(tmp);
		tmp = NULL;
		if ((keys->tokens[j].wrapped_b64 = str_dup(b64)) == NULL) {
			r = PII_ERR_NOMEM;
			goto out;
		}
	}
	found = 0;
	for (j = 0; j < keys->ntoken; j++) {
		if (keys->tokens[j].version == keys->token_version) {
			keys->cur_token = &keys->tokens[j];
			found = 1;
		}
	}
	if (!found) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, "current_token_version",
		    "keystore: current_token_version names no key in token_keys");
		goto out;
	}
	r = 0;
out:
	sodium_free(tmp);
	json_decref(doc);
	return r;
}

/* ---- public operations ------------------------------------------------ */

int
vault_keys_generate_root(const char *path, struct pii_errinfo *ei)
{
	unsigned char *root = NULL;
	char eb[128];
	int fd = -1, r = PII_ERR_INTERNAL, created = 0, e;

	if (sodium_init() < 0) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	if ((root = sodium_malloc(VAULT_ROOT_KEY_BYTES)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	randombytes_buf(root, VAULT_ROOT_KEY_BYTES);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		e = errno;
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "root key file %.160s: %s",
		    path, e == EEXIST ? "already exists" : pii_errno_text(e, eb, sizeof(eb)));
		goto out;
	}
	created = 1;
	if (fchmod(fd, 0600) != 0 ||
	    pii_write_all(fd, root, VAULT_ROOT_KEY_BYTES) != 0 || fsync(fd) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "root key file %.160s: "
		    "write: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	e = close(fd);
	fd = -1;
	if (e != 0 || pii_fsync_dir_of(path) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "root key file %.160s: "
		    "close/fsync: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	created = 0;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	if (created)
		unlink(path);
	sodium_free(root);
	return r;
}

int
vault_keys_keystore_init(const char *root_path, const char *keystore_path,
    struct pii_errinfo *ei)
{
	struct vault_keys *keys = NULL;
	unsigned char id[VAULT_KEYSTORE_ID_HEX / 2];
	unsigned char *tok = NULL;
	char *text = NULL;
	size_t len = 0;
	int r = PII_ERR_INTERNAL;

	if (sodium_init() < 0) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	if ((keys = keys_alloc()) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = root_load(root_path, &keys->root, ei)) != 0)
		goto out;
	randombytes_buf(id, sizeof(id));
	sodium_bin2hex(keys->keystore_id, sizeof(keys->keystore_id), id, sizeof(id));
	time_text(keys->created_at);
	keys->current_epoch = 1;
	keys->token_version = 1;
	if ((r = kek_make(keys, 1, &keys->keks[0])) != 0)
		goto out;
	keys->nkeks = 1;

	/* Token key v1: only its wrapped form is needed here. */
	if ((tok = sodium_malloc(VAULT_KEY_BYTES)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	randombytes_buf(tok, VAULT_KEY_BYTES);
	keys->tokens[0].version = 1;
	time_text(keys->tokens[0].created_at);
	sodium_mprotect_readonly(keys->root);
	r = entry_wrap(keys->root, "token", 1, keys->keystore_id, tok,
	    &keys->tokens[0].wrapped_b64);
	sodium_mprotect_noaccess(keys->root);
	if (r != 0)
		goto out;
	keys->ntoken = 1;

	if ((r = keystore_dump(keys, NULL, &text, &len)) != 0)
		goto out;
	if ((r = pii_write_file_atomic(keystore_path, "keystore", text, len, 1, ei)) != 0)
		goto out;
	r = 0;
out:
	sodium_free(tok);
	free(text);
	vault_keys_free(keys);
	return r;
}

int
vault_keys_open(const char *root_path, const char *keystore_path,
    struct vault_keys **out, struct pii_errinfo *ei)
{
	struct vault_keys *keys = NULL;
	char *text = NULL;
	size_t len = 0;
	int r = PII_ERR_INTERNAL;

	if (sodium_init() < 0) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	if ((keys = keys_alloc()) == NULL ||
	    (keys->keystore_path = str_dup(keystore_path)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if ((r = root_load(root_path, &keys->root, ei)) != 0)
		goto out;
	if ((r = keystore_read(keystore_path, &text, &len, ei)) != 0)
		goto out;
	if ((r = keystore_parse(text, len, keys, ei)) != 0)
		goto out;
	*out = keys;
	keys = NULL;
	r = 0;
out:
	free(text);
	vault_keys_free(keys);
	return r;
}

int
vault_keys_rotate_kek(struct vault_keys *keys, uint32_t *epoch,
    struct pii_errinfo *ei)
{
	struct vault_kek kek;
	struct ks_change ch;
	char *text = NULL;
	uint32_t next = 0;
	size_t i, len = 0;
	int r = PII_ERR_INTERNAL;

	memset(&kek, 0, sizeof(kek));
	if (keys->root == NULL || keys->keystore_path == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "keys were not opened from a keystore file");
		goto out;
	}
	if (keys->nkeks >= VAULT_MAX_KEKS) {
		r = pii_errinfo_set(ei, PII_ERR_CONFLICT, NULL, "keystore already "
		    "holds %d live KEK epochs: destroy old ones first", VAULT_MAX_KEKS);
		goto out;
	}
	for (i = 0; i < keys->nkeks; i++)
		if (keys->keks[i].epoch > next)
			next = keys->keks[i].epoch;
	for (i = 0; i < keys->ndestroyed; i++)
		if (keys->destroyed[i] > next)
			next = keys->destroyed[i];
	if (next == UINT32_MAX) {
		r = pii_errinfo_set(ei, PII_ERR_RANGE, NULL, "KEK epochs exhausted");
		goto out;
	}
	next++;
	if ((r = kek_make(keys, next, &kek)) != 0)
		goto out;
	ch.add = &kek;
	ch.current_epoch = next;
	ch.destroy = 0;
	if ((r = keystore_dump(keys, &ch, &text, &len)) != 0)
		goto out;
	if ((r = pii_write_file_atomic(keys->keystore_path, "keystore", text, len, 0, ei)) != 0)
		goto out;
	/* next is above every epoch, so the array stays in ascending order. */
	keys->keks[keys->nkeks++] = kek;
	memset(&kek, 0, sizeof(kek));
	keys->current_epoch = next;
	*epoch = next;
	r = 0;
out:
	sodium_free(kek.key);
	free(kek.wrapped_b64);
	free(text);
	return r;
}

int
vault_keys_destroy_epoch(struct vault_keys *keys, uint32_t epoch,
    struct pii_errinfo *ei)
{
	struct ks_change ch;
	char *text = NULL;
	size_t i, len = 0;
	int r = PII_ERR_INTERNAL;

	if (keys->root == NULL || keys->keystore_path == NULL) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL,
		    "keys were not opened from a keystore file");
		goto out;
	}
	for (i = 0; i < keys->nkeks; i++)
		if (keys->keks[i].epoch == epoch)
			break;
	if (i == keys->nkeks) {
		r = pii_errinfo_set(ei, PII_ERR_KEY, NULL, "KEK epoch %u is %s",
		    epoch, epoch_destroyed(keys, epoch) ? "already destroyed" :
		    "unknown");
		goto out;
	}
	if (epoch == keys->current_epoch) {
		r = pii_errinfo_set(ei, PII_ERR_CONFLICT, NULL, "KEK epoch %u is "
		    "current: rotate first", epoch);
		goto out;
	}
	if (keys->ndestroyed >= VAULT_MAX_DESTROYED) {
		r = pii_errinfo_set(ei, PII_ERR_RANGE, NULL,
		    "too many destroyed epochs recorded");
		goto out;
	}
	ch.add = NULL;
	ch.current_epoch = keys->current_epoch;
	ch.destroy = epoch;
	if ((r = keystore_dump(keys, &ch, &text, &len)) != 0)
		goto out;
	if ((r = pii_write_file_atomic(keys->keystore_path, "keystore", text, len, 0, ei)) != 0)
		goto out;
	sodium_free(keys->keks[i].key);
	free(keys->keks[i].wrapped_b64);
	memmove(&keys->keks[i], &keys->keks[i + 1],
	    (keys->nkeks - i - 1) * sizeof(keys->keks[0]));
	keys->nkeks--;
	memset(&keys->keks[keys->nkeks], 0, sizeof(keys->keks[0]));
	keys->destroyed[keys->ndestroyed++] = epoch;
	r = 0;
out:
	free(text);
	return r;
}

int
vault_keys_from_raw_for_test(const unsigned char *kek, uint32_t epoch,
    const unsigned char token_key[VAULT_KEY_BYTES], uint32_t token_version,
    struct vault_keys **out)
{
	struct vault_keys *keys = NULL;
	unsigned char *k = NULL;
	int r = PII_ERR_INTERNAL;

	if (epoch == 0 || token_version == 0) {
		r = PII_ERR_RANGE;
		goto out;
	}
	if (sodium_init() < 0) {
		r = PII_ERR_CRYPTO;
		goto out;
	}
	if ((keys = keys_alloc()) == NULL ||
	    (k = sodium_malloc(VAULT_KEY_BYTES)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	memset(keys->keystore_id, '0', VAULT_KEYSTORE_ID_HEX);
	keys->keystore_id[VAULT_KEYSTORE_ID_HEX] = '\0';
	time_text(keys->created_at);
	if (kek != NULL)
		memcpy(k, kek, VAULT_KEY_BYTES);
	else
		randombytes_buf(k, VAULT_KEY_BYTES);
	sodium_mprotect_readonly(k);
	keys->keks[0].epoch = epoch;
	keys->keks[0].key = k;
	k = NULL;
	keys->nkeks = 1;
	keys->current_epoch = epoch;
	if ((r = vault_hmac_state_new(token_key, &keys->tokens[0].hmac)) != 0)
		goto out;
	keys->tokens[0].version = token_version;
	keys->ntoken = 1;
	keys->token_version = token_version;
	keys->cur_token = &keys->tokens[0];
	*out = keys;
	keys = NULL;
	r = 0;
out:
	sodium_free(k);
	vault_keys_free(keys);
	return r;
}
