/*
 * audit_checkpoint.c - Ed25519-signed checkpoints, their key files and the
 * witness file (formats in audit_checkpoint.h and docs/audit.md).
 *
 * The signed message is a small fixed text rather than a structure so that
 * anyone can re-create and check it with any Ed25519 implementation and the
 * public key alone; its first line names the protocol and version so that a
 * signature can never be taken for one over something else.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/buf.h"
#include "../common/keyfile.h"
#include "audit_checkpoint.h"

#define SECRET_TAG "piivault-audit-signing-key v1 "
#define PUBLIC_TAG "piivault-audit-public-key v1 "
#define MSG_HEAD "piivault audit checkpoint v1\n"
#define LINE_HEAD "checkpoint v1 "
#define KEY_FILE_MAX 256
#define B64_32 45       /* sodium_base64_ENCODED_LEN(32, ORIGINAL), with NUL */
#define B64_64 89

struct audit_signer {
	unsigned char *sk;            /* 64 bytes, sodium_malloc, no-access */
	struct audit_pubkey pub;
};

int
audit_origin_ok(const char *o)
{
	size_t n = 0;

	if (o == NULL)
		return 0;
	for (; *o != '\0'; o++, n++) {
		char c = *o;

		if (n >= AUDIT_ORIGIN_MAX - 1)
			return 0;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
		    c == ':' || c == '/'))
			return 0;
	}
	return n > 0;
}

static void
key_id(const unsigned char pk[AUDIT_PK_BYTES], char out[AUDIT_KEY_ID_HEX + 1])
{
	static const char tag[] = "piivault-audit-key";   /* with its NUL */
	crypto_hash_sha256_state st;
	unsigned char h[32];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)tag, sizeof(tag));
	crypto_hash_sha256_update(&st, pk, AUDIT_PK_BYTES);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, AUDIT_KEY_ID_HEX + 1, h, AUDIT_KEY_ID_HEX / 2);
}

/* "TAG base64\n" -> exactly n bytes into out. */
static int
parse_key_text(const char *text, size_t len, const char *tag,
    unsigned char *out, size_t n)
{
	size_t tl = strlen(tag), bl = 0;
	const char *end = NULL;

	if (len < tl + 2 || memcmp(text, tag, tl) != 0 || text[len - 1] != '\n' ||
	    !pii_base64_chars_ok(text + tl, len - tl - 1))
		return PII_ERR_BAD_REQUEST;
	if (sodium_base642bin(out, n, text + tl, len - tl - 1, NULL, &bl, &end,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || bl != n ||
	    end != text + len - 1) {
		sodium_memzero(out, n);
		return PII_ERR_BAD_REQUEST;
	}
	return 0;
}

int
audit_signer_generate(const char *secret_path, const char *public_path,
    struct pii_errinfo *ei)
{
	char eb[128];
	unsigned char *seed = NULL, pk[AUDIT_PK_BYTES], sk[64];
	char *text = NULL, pubtext[sizeof(PUBLIC_TAG) + B64_32 + 2];
	size_t tl = sizeof(SECRET_TAG) - 1 + B64_32 + 2;
	int r;

	if (sodium_init() < 0)
		return pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "libsodium init");
	seed = sodium_malloc(32);
	text = sodium_malloc(tl);
	if (seed == NULL || text == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	randombytes_buf(seed, 32);
	crypto_sign_seed_keypair(pk, sk, seed);
	sodium_memzero(sk, sizeof(sk));
	memcpy(text, SECRET_TAG, sizeof(SECRET_TAG) - 1);
	sodium_bin2base64(text + sizeof(SECRET_TAG) - 1, B64_32, seed, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	strncat(text, "\n", tl - strlen(text) - 1);
	if ((r = pii_write_file_atomic(secret_path, "audit signing key", text,
	    strlen(text), 1, ei)) != 0)
		goto out;
	memcpy(pubtext, PUBLIC_TAG, sizeof(PUBLIC_TAG) - 1);
	sodium_bin2base64(pubtext + sizeof(PUBLIC_TAG) - 1, B64_32, pk, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	strncat(pubtext, "\n", sizeof(pubtext) - strlen(pubtext) - 1);
	if ((r = pii_write_file_atomic(public_path, "audit public key", pubtext,
	    strlen(pubtext), 1, ei)) != 0)
		goto out;
	if (chmod(public_path, 0644) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "audit public key "
		    "%.160s: chmod: %s", public_path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	r = 0;
out:
	sodium_free(seed);
	sodium_free(text);
	return r;
}

int
audit_signer_load(const char *path, struct audit_signer **out,
    struct pii_errinfo *ei)
{
	char eb[128];
	struct audit_signer *s = NULL;
	struct stat st;
	unsigned char *seed = NULL;
	char *text = NULL;
	size_t got = 0;
	int fd = -1, r;

	if (sodium_init() < 0)
		return pii_errinfo_set(ei, PII_ERR_CRYPTO, NULL, "libsodium init");
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "audit signing key "
		    "%.160s: open: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
		goto out;
	}
	if ((r = pii_keyfile_check(fd, "audit signing key", path, &st, ei)) != 0)
		goto out;
	seed = sodium_malloc(32);
	text = sodium_malloc(KEY_FILE_MAX);
	s = calloc(1, sizeof(*s));
	if (seed == NULL || text == NULL || s == NULL ||
	    (s->sk = sodium_malloc(64)) == NULL) {
		r = PII_ERR_NOMEM;
		goto out;
	}
	if (pii_read_all(fd, (unsigned char *)text, KEY_FILE_MAX, &got) != 0 ||
	    got >= KEY_FILE_MAX ||
	    parse_key_text(text, got, SECRET_TAG, seed, 32) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "audit signing key "
		    "%.160s: not a piivault audit signing key (make one with "
		    "pii-audit keygen)", path);
		goto out;
	}
	crypto_sign_seed_keypair(s->pub.pk, s->sk, seed);
	key_id(s->pub.pk, s->pub.key_id);
	sodium_mprotect_noaccess(s->sk);
	*out = s;
	s = NULL;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	sodium_free(seed);
	sodium_free(text);
	audit_signer_free(s);
	return r;
}

void
audit_signer_free(struct audit_signer *s)
{
	if (s == NULL)
		return;
	sodium_free(s->sk);
	free(s);
}

const struct audit_pubkey *
audit_signer_pubkey(const struct audit_signer *s)
{
	return &s->pub;
}

int
audit_pubkey_load(const char *path, struct audit_pubkey *out,
    struct pii_errinfo *ei)
{
	char eb[128];
	char text[KEY_FILE_MAX];
	size_t got = 0;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return pii_errinfo_set(ei, PII_ERR_IO, NULL, "audit public key "
		    "%.160s: open: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
	if (pii_read_all(fd, (unsigned char *)text, sizeof(text), &got) != 0)
		got = sizeof(text);
	close(fd);
	if (got >= sizeof(text) ||
	    parse_key_text(text, got, PUBLIC_TAG, out->pk, AUDIT_PK_BYTES) != 0)
		return pii_errinfo_set(ei, PII_ERR_CONFIG, NULL, "audit public key "
		    "%.160s: not a piivault audit public key", path);
	key_id(out->pk, out->key_id);
	return 0;
}

/* The signed text of cp into out. */
static int
message(const struct audit_checkpoint *cp, char *out, size_t cap, size_t *len)
{
	char root[B64_32];
	int n;

	if (!audit_origin_ok(cp->origin))
		return PII_ERR_BAD_REQUEST;
	sodium_bin2base64(root, sizeof(root), cp->root, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(out, cap, MSG_HEAD "%s\n%" PRIu64 "\n%s\n%" PRId64 "\n",
	    cp->origin, cp->size, root, cp->at_us);
	if (n < 0 || (size_t)n >= cap)
		return PII_ERR_TOO_LARGE;
	*len = (size_t)n;
	return 0;
}

int
audit_checkpoint_sign(const struct audit_signer *s, struct audit_checkpoint *cp)
{
	char msg[AUDIT_WITNESS_LINE_MAX];
	size_t len;
	int r;

	if (s == NULL || cp == NULL)
		return PII_ERR_BAD_REQUEST;
	if ((r = message(cp, msg, sizeof(msg), &len)) != 0)
		return r;
	sodium_mprotect_readonly(s->sk);
	r = crypto_sign_detached(cp->sig, NULL, (const unsigned char *)msg, len,
	    s->sk);
	sodium_mprotect_noaccess(s->sk);
	if (r != 0)
		return PII_ERR_CRYPTO;
	memcpy(cp->key_id, s->pub.key_id, sizeof(cp->key_id));
	return 0;
}

int
audit_checkpoint_verify(const struct audit_checkpoint *cp,
    const struct audit_pubkey *keys, size_t nkeys)
{
	char msg[AUDIT_WITNESS_LINE_MAX];
	size_t i, len;
	int r;

	if (cp == NULL || (keys == NULL && nkeys > 0))
		return PII_ERR_BAD_REQUEST;
	if ((r = message(cp, msg, sizeof(msg), &len)) != 0)
		return r;
	for (i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].key_id, cp->key_id) != 0)
			continue;
		return crypto_sign_verify_detached(cp->sig,
		    (const unsigned char *)msg, len, keys[i].pk) == 0 ? 0 :
		    PII_ERR_CRYPTO;
	}
	return PII_ERR_KEY;
}

int
audit_checkpoint_format(const struct audit_checkpoint *cp, char *out,
    size_t cap)
{
	char root[B64_32], sig[B64_64];
	int n;

	if (cp == NULL || !audit_origin_ok(cp->origin))
		return PII_ERR_BAD_REQUEST;
	sodium_bin2base64(root, sizeof(root), cp->root, 32,
	    sodium_base64_VARIANT_ORIGINAL);
	sodium_bin2base64(sig, sizeof(sig), cp->sig, AUDIT_SIG_BYTES,
	    sodium_base64_VARIANT_ORIGINAL);
	n = snprintf(out, cap, LINE_HEAD "%s %" PRIu64 " %s %" PRId64 " %s %s\n",
	    cp->origin, cp->size, root, cp->at_us, cp->key_id, sig);
	if (n < 0 || (size_t)n >= cap)
		return PII_ERR_TOO_LARGE;
	return 0;
}

/* The next space-separated field of [*p, end): its start and length. */
static int
next_field(const char **p, const char *end, const char **f, size_t *n)
{
	const char *s = *p, *e;

	if (s >= end)
		return -1;
	for (e = s; e < end && *e != ' '; e++)
		;
	if (e == s)
		return -1;
	*f = s;
	*n = (size_t)(e - s);
	*p = e < end ? e + 1 : e;
	return 0;
}

/* A decimal of 1-19 digits without sign or leading zeros (but "0"). */
static int
parse_u63(const char *f, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 19 || (n > 1 && f[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		if (f[i] < '0' || f[i] > '9')
			return -1;
		v = v * 10 + (uint64_t)(f[i] - '0');
	}
	if (v > (uint64_t)INT64_MAX)
		return -1;
	*out = v;
	return 0;
}

int
audit_checkpoint_parse(const char *line, size_t len,
    struct audit_checkpoint *out)
{
	struct audit_checkpoint cp;
	const char *p, *end, *f;
	size_t n, bl;
	uint64_t v;

	if (line == NULL || out == NULL || len >= AUDIT_WITNESS_LINE_MAX)
		return PII_ERR_BAD_REQUEST;
	if (len > 0 && line[len - 1] == '\n')
		len--;
	if (len < sizeof(LINE_HEAD) - 1 ||
	    memcmp(line, LINE_HEAD, sizeof(LINE_HEAD) - 1) != 0 ||
	    memchr(line, '\0', len) != NULL || memchr(line, '\n', len) != NULL)
		return PII_ERR_BAD_REQUEST;
	memset(&cp, 0, sizeof(cp));
	p = line + sizeof(LINE_HEAD) - 1;
	end = line + len;
	/* origin */
	if (next_field(&p, end, &f, &n) != 0 || n >= AUDIT_ORIGIN_MAX)
		return PII_ERR_BAD_REQUEST;
	memcpy(cp.origin, f, n);
	if (!audit_origin_ok(cp.origin))
		return PII_ERR_BAD_REQUEST;
	/* size */
	if (next_field(&p, end, &f, &n) != 0 || parse_u63(f, n, &cp.size) != 0)
		return PII_ERR_BAD_REQUEST;
	/* root */
	if (next_field(&p, end, &f, &n) != 0 || !pii_base64_chars_ok(f, n) ||
	    sodium_base642bin(cp.root, sizeof(cp.root), f, n, NULL, &bl, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || bl != sizeof(cp.root))
		return PII_ERR_BAD_REQUEST;
	/* at_us */
	if (next_field(&p, end, &f, &n) != 0 || parse_u63(f, n, &v) != 0)
		return PII_ERR_BAD_REQUEST;
	cp.at_us = (int64_t)v;
	/* key id: 16 lowercase hex digits */
	if (next_field(&p, end, &f, &n) != 0 || n != AUDIT_KEY_ID_HEX)
		return PII_ERR_BAD_REQUEST;
	for (bl = 0; bl < n; bl++)
		if (!((f[bl] >= '0' && f[bl] <= '9') || (f[bl] >= 'a' &&
		    f[bl] <= 'f')))
			return PII_ERR_BAD_REQUEST;
	memcpy(cp.key_id, f, n);
	/* signature, and nothing after it */
	if (next_field(&p, end, &f, &n) != 0 || !pii_base64_chars_ok(f, n) ||
	    sodium_base642bin(cp.sig, sizeof(cp.sig), f, n, NULL, &bl, NULL,
	    sodium_base64_VARIANT_ORIGINAL) != 0 || bl != sizeof(cp.sig) ||
	    f + n != end)
		return PII_ERR_BAD_REQUEST;
	*out = cp;
	return 0;
}

int
audit_witness_append(const char *path, const struct audit_checkpoint *cp,
    struct pii_errinfo *ei)
{
	char eb[128];
	char line[AUDIT_WITNESS_LINE_MAX];
	ssize_t w;
	int fd, r;

	if ((r = audit_checkpoint_format(cp, line, sizeof(line))) != 0)
		return pii_errinfo_set(ei, r, NULL, "checkpoint cannot be formatted");
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return pii_errinfo_set(ei, PII_ERR_IO, NULL, "witness %.160s: "
		    "open: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
	do {
		w = write(fd, line, strlen(line));
	} while (w < 0 && errno == EINTR);
	if (w != (ssize_t)strlen(line) || fsync(fd) != 0) {
		r = pii_errinfo_set(ei, PII_ERR_IO, NULL, "witness %.160s: "
		    "write: %s", path, w < 0 ? pii_errno_text(errno, eb, sizeof(eb)) : "short write");
		close(fd);
		return r;
	}
	if (close(fd) != 0)
		return pii_errinfo_set(ei, PII_ERR_IO, NULL, "witness %.160s: "
		    "close: %s", path, pii_errno_text(errno, eb, sizeof(eb)));
	return 0;
}

/* "piivault statement v1\n" domain "\n" text: never a checkpoint message,
 * which starts "piivault audit checkpoint v1\n". */
static unsigned char *
statement_message(const char *domain, const char *text, size_t len,
    size_t *mlen)
{
	static const char head[] = "piivault statement v1\n";
	size_t dl = strlen(domain), hl = sizeof(head) - 1;
	unsigned char *m;

	if (dl == 0 || dl > 64 || strchr(domain, '\n') != NULL ||
	    len > ((size_t)1 << 24))
		return NULL;
	if ((m = malloc(hl + dl + 1 + len + 1)) == NULL)
		return NULL;
	memcpy(m, head, hl);
	memcpy(m + hl, domain, dl);
	m[hl + dl] = '\n';
	if (len > 0)
		memcpy(m + hl + dl + 1, text, len);
	*mlen = hl + dl + 1 + len;
	return m;
}

int
audit_statement_sign(const struct audit_signer *s, const char *domain,
    const char *text, size_t len, char key_id[AUDIT_KEY_ID_HEX + 1],
    unsigned char sig[AUDIT_SIG_BYTES])
{
	unsigned char *m;
	size_t ml = 0;
	int r;

	if (s == NULL || domain == NULL || (text == NULL && len > 0))
		return PII_ERR_BAD_REQUEST;
	if ((m = statement_message(domain, text, len, &ml)) == NULL)
		return PII_ERR_BAD_REQUEST;
	sodium_mprotect_readonly(s->sk);
	r = crypto_sign_detached(sig, NULL, m, ml, s->sk);
	sodium_mprotect_noaccess(s->sk);
	free(m);
	if (r != 0)
		return PII_ERR_CRYPTO;
	memcpy(key_id, s->pub.key_id, AUDIT_KEY_ID_HEX + 1);
	return 0;
}

int
audit_statement_verify(const char *domain, const char *text, size_t len,
    const char *key_id, const unsigned char sig[AUDIT_SIG_BYTES],
    const struct audit_pubkey *keys, size_t nkeys)
{
	unsigned char *m;
	size_t i, ml = 0;
	int r = PII_ERR_KEY;

	if (domain == NULL || key_id == NULL || (text == NULL && len > 0) ||
	    (keys == NULL && nkeys > 0))
		return PII_ERR_BAD_REQUEST;
	if ((m = statement_message(domain, text, len, &ml)) == NULL)
		return PII_ERR_BAD_REQUEST;
	for (i = 0; i < nkeys; i++) {
		if (strcmp(keys[i].key_id, key_id) != 0)
			continue;
		r = crypto_sign_verify_detached(sig, m, ml, keys[i].pk) == 0 ? 0 :
		    PII_ERR_CRYPTO;
		break;
	}
	free(m);
	return r;
}
