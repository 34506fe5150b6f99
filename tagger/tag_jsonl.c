/*
 * tag_jsonl.c - the tagger's streaming JSON Lines reader and line writer.
 *
 * Lines are cut with memchr from a 64 KiB input buffer filled by fread.  A
 * line that lies wholly in the buffer is scanned where it is (no copy); one
 * that spans a refill is gathered in a line buffer of at most max_record + 1
 * bytes (the line and its CR).  A line over the limit is read to its end
 * without being kept and reported, and the next read goes on with the next
 * line: every error but a read error leaves the reader at a line boundary.
 *
 * Each line goes through a strict RFC 8259 scanner of our own rather than
 * jansson: the tagger needs the byte span of every top-level value (to
 * splice tokens in while keeping every other byte), numbers of any size
 * kept as text, and speed.  The scanner is recursive descent, at most 32
 * containers deep.  Strings are checked as they are scanned: escapes
 * (\u escapes of surrogate pairs joined, lone surrogates and \u0000 refused),
 * control characters, UTF-8 (overlongs, surrogates, > U+10FFFF refused).
 * Top-level keys, top-level string values and top-level numbers' text are
 * decoded into one per-line buffer of line length + 2 bytes: every decoded
 * item is shorter than its raw text or, for a number, paid for by the ':'
 * before it.  Keys of nested objects are decoded into the same buffer as a
 * stack and dropped when their object closes.  Duplicate keys are found per
 * object when it closes: pairwise for up to 16 keys, else through a hash
 * table of at least twice as many slots, so an object of k keys costs O(k).
 * String runs are scanned 16 bytes at a time with SSE2 where there is SSE2.
 * Buffers are wiped on free, as they hold PII.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "../common/err.h"
#include "tag_io.h"
#include "tag_util.h"

#define JL_IBUF (64u * 1024)
#define JL_MAX_DEPTH 32
#define JL_PAIRWISE 16         /* objects up to this many keys: pairwise check */
#define JL_MEMBERS0 32u
#define JL_KEYS0 64u
#define JL_MAX_LIMIT (SIZE_MAX / 4)

/* The messages spell these out. */
_Static_assert(JL_MAX_DEPTH == 32, "\"nesting deeper than 32\"");
_Static_assert(TAG_IO_MAX_FIELDS == 4096, "\"more than 4096 members\"");

struct jkey {
	const char *k;     /* decoded, in the reader's dec buffer */
	size_t len;
	size_t idx;        /* 0-based position in its object */
};

struct tag_jsonl_reader {
	FILE *in;                    /* borrowed */
	size_t max_record;
	unsigned char *ib;           /* JL_IBUF bytes of input */
	size_t ipos, iend;
	int eof;
	char *lb;                    /* a line that spans refills */
	size_t lcap;
	char *dec;                   /* decoded keys and values of the line */
	size_t dcap;
	struct jkey *keys;           /* keys of the open objects, a stack */
	size_t kcap;
	struct tag_json_member *mem;
	size_t mcap;
	size_t *htab;                /* the duplicate check of big objects */
	size_t hcap;
	unsigned long long line;     /* number of the next line */
	int fatal;                   /* sticky read error, 0 if none */
	struct tag_ioerr fatal_err;
};

/* The scan of one line. */
struct jscan {
	struct tag_jsonl_reader *r;
	const unsigned char *p;
	size_t n, i;
	size_t dlen;          /* bytes used in r->dec */
	size_t nkeys;         /* entries used in r->keys */
	int depth;
	size_t member;        /* 1-based top-level member being scanned, 0: none */
	size_t nmem;
	int code;             /* on error: the code, */
	const char *what;     /* what is wrong, */
	size_t at;            /* and the byte offset */
};

/* String bytes that need no attention: printable ASCII but '"' and '\'. */
static const unsigned char jplain[256] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};

static const unsigned char jws[256] = {
	[' '] = 1, ['\t'] = 1, ['\r'] = 1, ['\n'] = 1,
};

static int jvalue(struct jscan *s);

#if defined(__SSE2__)
/* The number of bytes at p[0..16) before the first one that is not plain
 * (a quote, a backslash, below 0x20 or above 0x7f), 16 if all are. */
static inline size_t
plain_run16(const unsigned char *p)
{
	__m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
	__m128i m = _mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')),
	    _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))),
	    _mm_cmplt_epi8(v, _mm_set1_epi8(0x20)));   /* signed: >= 0x80 too */
	unsigned mask = (unsigned)_mm_movemask_epi8(m);

	return mask != 0 ? (size_t)__builtin_ctz(mask) : 16;
}
#endif

static int
jfail(struct jscan *s, const char *what)
{
	s->code = PII_ERR_BAD_REQUEST;
	s->what = what;
	s->at = s->i;
	return s->code;
}

static int
jnomem(struct jscan *s)
{
	jfail(s, "out of memory");
	return s->code = PII_ERR_NOMEM;
}

static inline void
jskip_ws(struct jscan *s)
{
	while (s->i < s->n && jws[s->p[s->i]])
		s->i++;
}

/* The value of 4 hex digits at p (n bytes available), -1 if not. */
static long
hex4(const unsigned char *p, size_t n)
{
	long v = 0;
	size_t i;

	if (n < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		unsigned char c = p[i];

		if (c >= '0' && c <= '9')
			v = v * 16 + (c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v = v * 16 + (c - 'A' + 10);
		else
			return -1;
	}
	return v;
}

static size_t
utf8_put(char *d, unsigned long cp)
{
	if (cp < 0x80) {
		d[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		d[0] = (char)(0xc0 | (cp >> 6));
		d[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		d[0] = (char)(0xe0 | (cp >> 12));
		d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		d[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	d[0] = (char)(0xf0 | (cp >> 18));
	d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	d[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* The string at p[i] == '"'.  When store, decode it into dec (NUL-
 * terminated) and return it in *out, *outlen; else only check it. */
static int
jstring(struct jscan *s, int store, const char **out, size_t *outlen)
{
	const unsigned char *p = s->p;
	size_t i = s->i + 1, n = s->n, st, k, dl = 0;
	char *d = store ? s->r->dec + s->dlen : NULL;
	unsigned char c;
	long cp, lo;

	for (;;) {
		st = i;
#if defined(__SSE2__)
		while (n - i >= 16) {
			size_t k16 = plain_run16(p + i);

			i += k16;
			if (k16 < 16)
				break;
		}
#endif
		while (i < n && jplain[p[i]])
			i++;
		if (d != NULL && i > st) {
			memcpy(d + dl, p + st, i - st);
			dl += i - st;
		}
		s->i = i;
		if (i >= n)
			return jfail(s, "unterminated string");
		c = p[i];
		if (c == '"')
			break;
		if (c >= 0x80) {
			if ((k = tag_utf8_seq(p + i, n - i)) == 0)
				return jfail(s, "invalid UTF-8");
			if (d != NULL) {
				memcpy(d + dl, p + i, k);
				dl += k;
			}
			i += k;
			continue;
		}
		if (c != '\\')
			return jfail(s, "control character in a string");
		if (i + 1 >= n)
			return jfail(s, "unterminated string");
		switch (p[i + 1]) {
		case '"': c = '"'; break;
		case '\\': c = '\\'; break;
		case '/': c = '/'; break;
		case 'b': c = '\b'; break;
		case 'f': c = '\f'; break;
		case 'n': c = '\n'; break;
		case 'r': c = '\r'; break;
		case 't': c = '\t'; break;
		case 'u':
			if ((cp = hex4(p + i + 2, n - i - 2)) < 0)
				return jfail(s, "invalid \\u escape");
			if (cp >= 0xdc00 && cp <= 0xdfff)
				return jfail(s, "unpaired UTF-16 surrogate escape");
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (n - i < 12 || p[i + 6] != '\\' || p[i + 7] != 'u' ||
				    (lo = hex4(p + i + 8, 4)) < 0xdc00 || lo > 0xdfff)
					return jfail(s, "unpaired UTF-16 surrogate escape");
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				i += 6;
			}
			if (cp == 0)
				return jfail(s, "\\u0000 (NUL) in a string");
			if (d != NULL)
				dl += utf8_put(d + dl, (unsigned long)cp);
			i += 6;
			continue;
		default:
			return jfail(s, "invalid escape");
		}
		if (d != NULL)
			d[dl++] = (char)c;
		i += 2;
	}
	s->i = i + 1;
	if (d != NULL) {
		d[dl] = '\0';
		*out = d;
		*outlen = dl;
		s->dlen += dl + 1;
	}
	return 0;
}

static int
jnumber(struct jscan *s)
{
	const unsigned char *p = s->p;
	size_t i = s->i, n = s->n;

#define DIGIT(j) ((j) < n && p[j] >= '0' && p[j] <= '9')
	if (i < n && p[i] == '-')
		i++;
	if (!DIGIT(i)) {
		s->i = i;
		return jfail(s, "invalid number");
	}
	if (p[i] == '0')
		i++;
	else
		while (DIGIT(i))
			i++;
	if (i < n && p[i] == '.') {
		i++;
		if (!DIGIT(i)) {
			s->i = i;
			return jfail(s, "invalid number");
		}
		while (DIGIT(i))
			i++;
	}
	if (i < n && (p[i] == 'e' || p[i] == 'E')) {
		i++;
		if (i < n && (p[i] == '+' || p[i] == '-'))
			i++;
		if (!DIGIT(i)) {
			s->i = i;
			return jfail(s, "invalid number");
		}
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	s->i = i;
	return 0;
}

static int
jliteral(struct jscan *s, const char *lit, size_t n)
{
	if (s->n - s->i < n || memcmp(s->p + s->i, lit, n) != 0)
		return jfail(s, "invalid literal");
	s->i += n;
	return 0;
}

static int
key_push(struct jscan *s, const char *k, size_t len, size_t idx)
{
	struct tag_jsonl_reader *r = s->r;

	if (s->nkeys == r->kcap) {
		size_t ncap = r->kcap ? r->kcap * 2 : JL_KEYS0;
		struct jkey *nk = realloc(r->keys, ncap * sizeof(*nk));

		if (nk == NULL)
			return jnomem(s);
		r->keys = nk;
		r->kcap = ncap;
	}
	r->keys[s->nkeys].k = k;
	r->keys[s->nkeys].len = len;
	r->keys[s->nkeys].idx = idx;
	s->nkeys++;
	return 0;
}

static size_t
key_hash(const char *k, size_t len)
{
	uint64_t h = tag_hash(k, len);

	return (size_t)(h ^ (h >> 32));
}

/* 0 if the keys k[0..n) of one object (in order) are distinct, else 1 +
 * the position of the first key that repeats an earlier one; (size_t)-1
 * out of memory.  Small objects compare pairwise; bigger ones go through
 * an open-addressing table of at least 2n slots, so the cost stays O(n). */
static size_t
dup_find(struct tag_jsonl_reader *r, const struct jkey *k, size_t n)
{
	size_t i, j, h, size, mask;

	if (n <= JL_PAIRWISE) {
		for (j = 1; j < n; j++)
			for (i = 0; i < j; i++)
				if (k[i].len == k[j].len &&
				    (k[j].len == 0 || (k[i].k[0] == k[j].k[0] &&
				    memcmp(k[i].k, k[j].k, k[j].len) == 0)))
					return k[j].idx + 1;
		return 0;
	}
	for (size = 64; size < 2 * n; size *= 2)
		;
	if (size > r->hcap) {
		size_t *nh = realloc(r->htab, size * sizeof(*nh));

		if (nh == NULL)
			return (size_t)-1;
		r->htab = nh;
		r->hcap = size;
	}
	memset(r->htab, 0, size * sizeof(*r->htab));
	mask = size - 1;
	for (j = 0; j < n; j++) {
		for (h = key_hash(k[j].k, k[j].len) & mask; r->htab[h] != 0;
		    h = (h + 1) & mask) {
			const struct jkey *e = &k[r->htab[h] - 1];

			if (e->len == k[j].len && memcmp(e->k, k[j].k, e->len) == 0)
				return k[j].idx + 1;
		}
		r->htab[h] = j + 1;
	}
	return 0;
}

/* ':' between a key and its value, with whitespace around it. */
static int
jcolon(struct jscan *s)
{
	jskip_ws(s);
	if (s->i >= s->n || s->p[s->i] != ':')
		return jfail(s, "expected ':'");
	s->i++;
	jskip_ws(s);
	return 0;
}

/* After a member or element: 1 at the closing byte, 0 after a ','. */
static int
jnext(struct jscan *s, unsigned char close, const char *what)
{
	jskip_ws(s);
	if (s->i < s->n && s->p[s->i] == ',') {
		s->i++;
		jskip_ws(s);
		return 0;
	}
	if (s->i < s->n && s->p[s->i] == close) {
		s->i++;
		return 1;
	}
	return jfail(s, what);
}

static int
jobject(struct jscan *s)
{
	size_t dmark = s->dlen, kmark = s->nkeys, nk = 0, kl, dup;
	const char *k;
	int rc;

	if (++s->depth > JL_MAX_DEPTH)
		return jfail(s, "nesting deeper than 32");
	s->i++;
	jskip_ws(s);
	if (s->i < s->n && s->p[s->i] == '}') {
		s->i++;
	} else {
		for (;;) {
			if (s->i >= s->n || s->p[s->i] != '"')
				return jfail(s, "expected a key");
			if ((rc = jstring(s, 1, &k, &kl)) != 0 ||
			    (rc = key_push(s, k, kl, nk++)) != 0 ||
			    (rc = jcolon(s)) != 0 || (rc = jvalue(s)) != 0)
				return rc;
			if ((rc = jnext(s, '}', "expected ',' or '}'")) < 0)
				return rc;
			if (rc == 1)
				break;
		}
	}
	if ((dup = dup_find(s->r, s->r->keys + kmark, s->nkeys - kmark)) != 0)
		return dup == (size_t)-1 ? jnomem(s) :
		    jfail(s, "duplicate key in a nested object");
	s->dlen = dmark;
	s->nkeys = kmark;
	s->depth--;
	return 0;
}

static int
jarray(struct jscan *s)
{
	int rc;

	if (++s->depth > JL_MAX_DEPTH)
		return jfail(s, "nesting deeper than 32");
	s->i++;
	jskip_ws(s);
	if (s->i < s->n && s->p[s->i] == ']') {
		s->i++;
	} else {
		for (;;) {
			if ((rc = jvalue(s)) != 0)
				return rc;
			if ((rc = jnext(s, ']', "expected ',' or ']'")) < 0)
				return rc;
			if (rc == 1)
				break;
		}
	}
	s->depth--;
	return 0;
}

/* Any value at p[i], checked but not kept. */
static int
jvalue(struct jscan *s)
{
	if (s->i >= s->n)
		return jfail(s, "expected a value");
	switch (s->p[s->i]) {
	case '{':
		return jobject(s);
	case '[':
		return jarray(s);
	case '"':
		return jstring(s, 0, NULL, NULL);
	case 't':
		return jliteral(s, "true", 4);
	case 'f':
		return jliteral(s, "false", 5);
	case 'n':
		return jliteral(s, "null", 4);
	case '-': case '0': case '1': case '2': case '3': case '4':
	case '5': case '6': case '7': case '8': case '9':
		return jnumber(s);
	default:
		return jfail(s, s->p[s->i] >= 0x80 ?
		    "non-ASCII byte outside a string" : "expected a value");
	}
}

/* One top-level member's value, kept in m. */
static int
jmember_value(struct jscan *s, struct tag_json_member *m)
{
	unsigned char c;
	char *d;
	int rc;

	m->off = s->i;
	m->str = NULL;
	m->str_len = 0;
	c = s->i < s->n ? s->p[s->i] : 0;
	if (c == '"') {
		m->kind = TAG_JSON_STRING;
		rc = jstring(s, 1, &m->str, &m->str_len);
	} else if (c == '-' || (c >= '0' && c <= '9')) {
		m->kind = TAG_JSON_NUMBER;
		if ((rc = jnumber(s)) == 0) {
			d = s->r->dec + s->dlen;
			memcpy(d, s->p + m->off, s->i - m->off);
			d[s->i - m->off] = '\0';
			m->str = d;
			m->str_len = s->i - m->off;
			s->dlen += m->str_len + 1;
		}
	} else {
		m->kind = c == '{' ? TAG_JSON_OBJECT : c == '[' ? TAG_JSON_ARRAY :
		    c == 't' ? TAG_JSON_TRUE : c == 'f' ? TAG_JSON_FALSE :
		    TAG_JSON_NULL;
		rc = jvalue(s);
	}
	m->len = s->i - m->off;
	return rc;
}

/* Scan a line: 0 with s->nmem members in r->mem, 1 if it is blank, or a
 * negative code with s->what. */
static int
jline(struct jscan *s)
{
	struct tag_jsonl_reader *r = s->r;
	struct tag_json_member *m;
	const unsigned char *z;
	size_t nm = 0, dup;
	int rc;

	if ((z = memchr(s->p, '\0', s->n)) != NULL) {
		s->i = (size_t)(z - s->p);
		return jfail(s, "NUL byte");
	}
	jskip_ws(s);
	if (s->i == s->n)
		return 1;
	if (s->p[s->i] != '{')
		return jfail(s, "line is not a JSON object");
	s->depth = 1;
	s->i++;
	jskip_ws(s);
	if (s->i < s->n && s->p[s->i] == '}') {
		s->i++;
	} else {
		for (;;) {
			if (nm == TAG_IO_MAX_FIELDS) {
				s->member = 0;
				return jfail(s, "more than 4096 members");
			}
			if (nm == r->mcap) {
				size_t ncap = r->mcap ? r->mcap * 2 : JL_MEMBERS0;
				struct tag_json_member *nmv;

				if (ncap > TAG_IO_MAX_FIELDS)
					ncap = TAG_IO_MAX_FIELDS;
				if ((nmv = realloc(r->mem, ncap * sizeof(*nmv))) == NULL)
					return jnomem(s);
				r->mem = nmv;
				r->mcap = ncap;
			}
			m = &r->mem[nm];
			s->member = nm + 1;
			if (s->i >= s->n || s->p[s->i] != '"')
				return jfail(s, "expected a key");
			if ((rc = jstring(s, 1, &m->key, &m->key_len)) != 0 ||
			    (rc = key_push(s, m->key, m->key_len, nm)) != 0 ||
			    (rc = jcolon(s)) != 0 || (rc = jmember_value(s, m)) != 0)
				return rc;
			nm++;
			if ((rc = jnext(s, '}', "expected ',' or '}'")) < 0)
				return rc;
			if (rc == 1)
				break;
		}
	}
	if ((dup = dup_find(r, r->keys, s->nkeys)) != 0) {
		if (dup == (size_t)-1)
			return jnomem(s);
		s->member = dup;
		return jfail(s, "duplicate key");
	}
	s->member = 0;
	jskip_ws(s);
	if (s->i < s->n)
		return jfail(s, "data after the object");
	s->nmem = nm;
	return 0;
}

struct tag_jsonl_reader *
tag_jsonl_reader_new(FILE *in, size_t max_record)
{
	struct tag_jsonl_reader *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return NULL;
	r->in = in;
	if (max_record == 0)
		max_record = TAG_IO_DEFAULT_MAX_RECORD;
	if (max_record > JL_MAX_LIMIT)
		max_record = JL_MAX_LIMIT;
	r->max_record = max_record;
	r->line = 1;
	if ((r->ib = malloc(JL_IBUF)) == NULL) {
		free(r);
		return NULL;
	}
	return r;
}

void
tag_jsonl_reader_free(struct tag_jsonl_reader *r)
{
	if (r == NULL)
		return;
	if (r->ib != NULL)
		sodium_memzero(r->ib, JL_IBUF);
	if (r->lb != NULL)
		sodium_memzero(r->lb, r->lcap);
	if (r->dec != NULL)
		sodium_memzero(r->dec, r->dcap);
	free(r->ib);
	free(r->lb);
	free(r->dec);
	free(r->keys);
	free(r->mem);
	free(r->htab);
	sodium_memzero(r, sizeof(*r));
	free(r);
}

/* Refill the input buffer once it is all consumed: 0, with iend == 0 at
 * end of input, or PII_ERR_IO. */
static int
fill(struct tag_jsonl_reader *r)
{
	size_t n;

	r->ipos = r->iend = 0;
	if (r->eof)
		return 0;
	n = fread(r->ib, 1, JL_IBUF, r->in);
	r->iend = n;
	if (n == 0) {
		if (ferror(r->in))
			return PII_ERR_IO;
		r->eof = 1;
	}
	return 0;
}

/* Grow a wiped buffer to at least need bytes (at most max). */
static int
grow(char **buf, size_t *cap, size_t need, size_t max)
{
	size_t ncap = *cap ? *cap : 4096;
	char *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > max)
		ncap = max;
	if (ncap < need)
		return PII_ERR_INTERNAL;
	if ((n = malloc(ncap)) == NULL)
		return PII_ERR_NOMEM;
	if (*buf != NULL) {
		memcpy(n, *buf, *cap);
		sodium_memzero(*buf, *cap);
		free(*buf);
	}
	*buf = n;
	*cap = ncap;
	return 0;
}

/* The next line, without its LF or CRLF: 1 with *lp, *ln, *crlf (and *over
 * set when it is longer than max_record: then its bytes are not kept), 0 at
 * end of input, or a negative code. */
static int
read_line(struct tag_jsonl_reader *r, const char **lp, size_t *ln, int *crlf,
    int *over)
{
	const unsigned char *start, *nl;
	size_t len = 0, seg;
	int gathering = 0, rc;

	*over = 0;
	for (;;) {
		if (r->ipos == r->iend) {
			if ((rc = fill(r)) != 0)
				return rc;
			if (r->iend == 0) {
				if (!gathering)
					return 0;
				break;
			}
		}
		start = r->ib + r->ipos;
		nl = memchr(start, '\n', r->iend - r->ipos);
		seg = nl != NULL ? (size_t)(nl - start) : r->iend - r->ipos;
		if (!gathering && nl != NULL) {   /* the whole line is here */
			*lp = (const char *)start;
			*ln = seg;
			r->ipos += seg + 1;
			goto got;
		}
		gathering = 1;
		if (!*over) {
			if (seg > r->max_record + 1 - len) {
				*over = 1;
			} else {
				if ((rc = grow(&r->lb, &r->lcap, len + seg + 1,
				    r->max_record + 2)) != 0)
					return rc;
				memcpy(r->lb + len, start, seg);
				len += seg;
			}
		}
		r->ipos += seg;
		if (nl != NULL) {
			r->ipos++;
			break;
		}
	}
	*lp = r->lb;
	*ln = len;
got:
	*crlf = 0;
	if (!*over && *ln > 0 && (*lp)[*ln - 1] == '\r') {
		(*ln)--;
		*crlf = 1;
	}
	if (*ln > r->max_record)
		*over = 1;
	return 1;
}

int
tag_jsonl_read(struct tag_jsonl_reader *r, struct tag_jsonl_row *row,
    struct tag_ioerr *err)
{
	struct jscan s;
	const char *lp = NULL;
	size_t ln = 0;
	unsigned long long line_no;
	int crlf = 0, over = 0, rc;

	if (r->fatal) {
		*err = r->fatal_err;
		return r->fatal;
	}
	for (;;) {
		if ((rc = read_line(r, &lp, &ln, &crlf, &over)) <= 0) {
			if (rc == 0)
				return 0;
			/* Part of a line may be gone: no safe place to go on. */
			err->line = r->line;
			snprintf(err->msg, sizeof(err->msg), "%s",
			    rc == PII_ERR_IO ? "read error" : "out of memory");
			r->fatal = rc;
			r->fatal_err = *err;
			return rc;
		}
		line_no = r->line++;
		if (over) {
			err->line = line_no;
			snprintf(err->msg, sizeof(err->msg),
			    "line longer than %zu bytes", r->max_record);
			return PII_ERR_TOO_LARGE;
		}
		if (grow(&r->dec, &r->dcap, ln + 2, r->max_record + 2) != 0) {
			err->line = line_no;
			snprintf(err->msg, sizeof(err->msg), "out of memory");
			return PII_ERR_NOMEM;
		}
		memset(&s, 0, sizeof(s));
		s.r = r;
		s.p = (const unsigned char *)lp;
		s.n = ln;
		if ((rc = jline(&s)) == 1)
			continue;   /* blank */
		if (rc != 0) {
			err->line = line_no;
			if (s.member > 0)
				snprintf(err->msg, sizeof(err->msg),
				    "%s in member %zu (column %zu)", s.what,
				    s.member, s.at + 1);
			else
				snprintf(err->msg, sizeof(err->msg),
				    "%s (column %zu)", s.what, s.at + 1);
			return rc;
		}
		row->line = lp;
		row->line_len = ln;
		row->nmembers = s.nmem;
		row->member = r->mem;
		row->line_no = line_no;
		row->crlf = crlf;
		return 1;
	}
}

void
tag_jsonl_put_line(struct pii_buf *out, const struct tag_jsonl_row *row,
    const char *const *repl)
{
	size_t pos = 0, i;

	for (i = 0; i < row->nmembers; i++) {
		const struct tag_json_member *m = &row->member[i];

		if (repl == NULL || repl[i] == NULL)
			continue;
		pii_buf_append(out, row->line + pos, m->off - pos);
		pii_buf_puts(out, repl[i]);
		pos = m->off + m->len;
	}
	pii_buf_append(out, row->line + pos, row->line_len - pos);
}
