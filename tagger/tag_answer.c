/*
 * tag_answer.c - the fast reader of the vault's tokenize answer (see
 * tag_answer.h).  A cursor walks the text and accepts only the vault's own
 * compact output; jansson builds a tree of thousands of strings per batch,
 * which was over half of pii-tag's CPU time.
 */
#include <string.h>

#include "tag_answer.h"

struct cur {
	const char *p;
	size_t n, i;
};

static int
lit(struct cur *c, const char *s)
{
	size_t k = strlen(s);

	if (c->n - c->i < k || memcmp(c->p + c->i, s, k) != 0)
		return 0;
	c->i += k;
	return 1;
}

/* A string of [A-Za-z0-9_], 1..95 characters: its bytes. */
static int
word(struct cur *c, const char **s, size_t *len)
{
	size_t st;

	if (c->i >= c->n || c->p[c->i] != '"')
		return 0;
	st = ++c->i;
	while (c->i < c->n) {
		char ch = c->p[c->i];

		if (ch == '"')
			break;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '_'))
			return 0;
		c->i++;
	}
	if (c->i >= c->n || c->i == st || c->i - st > 95)
		return 0;
	*s = c->p + st;
	*len = c->i - st;
	c->i++;
	return 1;
}

/* A non-negative integer without leading zeros, at most 18 digits. */
static int
num(struct cur *c, unsigned long long *v)
{
	size_t st = c->i;

	*v = 0;
	while (c->i < c->n && c->p[c->i] >= '0' && c->p[c->i] <= '9') {
		*v = *v * 10 + (unsigned long long)(c->p[c->i] - '0');
		c->i++;
	}
	if (c->i == st || c->i - st > 18 || (c->p[st] == '0' && c->i - st > 1))
		return 0;
	return 1;
}

int
tag_answer_scan(const char *p, size_t n, const struct tag_answer_cb *cb,
    unsigned long long *stored, unsigned long long *existing, size_t *nrecords)
{
	struct cur c = { p, n, 0 };
	const char *s, *t;
	size_t sl, tl, i = 0;
	unsigned long long v;
	int r;

	if (!lit(&c, "{\"records\":["))
		return 0;
	if (!lit(&c, "]")) {
		for (;; i++) {
			if (!lit(&c, "{\"subject_token\":") || !word(&c, &s, &sl))
				return 0;
			if ((r = cb->record(cb->ctx, i, s, sl)) != 0)
				return r;
			if (!lit(&c, ",\"fields\":"))
				return 0;
			if (!lit(&c, "null")) {
				if (!lit(&c, "{"))
					return 0;
				if (!lit(&c, "}")) {
					for (;;) {
						if (!word(&c, &s, &sl) || !lit(&c, ":"))
							return 0;
						if (lit(&c, "null"))
							t = NULL, tl = 0;
						else if (!word(&c, &t, &tl))
							return 0;
						if ((r = cb->field(cb->ctx, i, s, sl, t, tl)) != 0)
							return r;
						if (lit(&c, "}"))
							break;
						if (!lit(&c, ","))
							return 0;
					}
				}
			}
			if (!lit(&c, "}"))
				return 0;
			if (lit(&c, "]"))
				break;
			if (!lit(&c, ","))
				return 0;
		}
		i++;
	}
	if (!lit(&c, ",\"stored\":") || !num(&c, stored) ||
	    !lit(&c, ",\"existing\":") || !num(&c, existing) ||
	    !lit(&c, ",\"dropped\":["))
		return 0;
	if (!lit(&c, "]")) {
		for (;;) {
			int obj;

			if (!lit(&c, "{\"index\":") || !num(&c, &v) || v >= i)
				return 0;
			if (lit(&c, ",\"reason\":\"objection\"}"))
				obj = 1;
			else if (lit(&c, ",\"reason\":\"subject_erased\"}"))
				obj = 0;
			else
				return 0;
			if ((r = cb->dropped(cb->ctx, (size_t)v, obj)) != 0)
				return r;
			if (lit(&c, "]"))
				break;
			if (!lit(&c, ","))
				return 0;
		}
	}
	(void)lit(&c, ",\"replayed\":true");
	if (!lit(&c, "}") || c.i != c.n)
		return 0;
	*nrecords = i;
	return 1;
}
