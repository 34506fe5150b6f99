/*
 * test_audit.c - unit tests of audit_record and audit_checkpoint: the
 * canonical record encoding against bytes written out by hand from the
 * layout in audit_record.h, encode/decode round trips, the refusals of both,
 * the leaf hash, Ed25519 checkpoints and their key files (against an
 * independent libsodium reference), the witness line parser against a table
 * of malformed lines, and the witness file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../../audit/audit_checkpoint.h"
#include "../../audit/audit_merkle.h"
#include "../../audit/audit_record.h"
#include "tap.h"
#include "testfiles.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))


/* ---- helpers ---------------------------------------------------------- */

static void
make_dir(void)
{
	test_dir_make("/tmp/piiv-test-audit-");
}

static void
path_in_dir(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

static int
same_file(const char *path, const char *want, size_t wantlen)
{
	size_t n = 0;
	char *got = slurp(path, &n);
	int eq = got != NULL && n == wantlen && memcmp(got, want, n) == 0;

	free(got);
	return eq;
}

/* Print where two byte strings first differ (for a failing known answer). */
static void
show_diff(const unsigned char *got, size_t glen, const unsigned char *want,
    size_t wlen)
{
	size_t i;

	for (i = 0; i < glen && i < wlen && got[i] == want[i]; i++)
		;
	fprintf(stderr, "#   %zu bytes, want %zu; first difference at %zu",
	    glen, wlen, i);
	if (i < glen && i < wlen)
		fprintf(stderr, ": got 0x%02x, want 0x%02x", got[i], want[i]);
	fprintf(stderr, "\n");
}

/* ---- records: fixtures ------------------------------------------------ */

#define ORIGIN "vault-1/20261122T000000Z-00000000/1"
#define AT_US 1795325203327960LL

static const char *const two_cats[] = { "email", "phone" };

static const struct audit_position kat_pos = { ORIGIN, 7, AT_US };

static const struct audit_record kat_full_rec = {
	.actor = "svc-billing", .role = "analyst", .on_behalf_of = "alice",
	.purpose = "support", .ticket = "T-1", .action = "reveal",
	.subject_token = "tok_subject_v1_abc", .categories = two_cats,
	.ncategories = 2, .decision = "allow", .reason = "ok",
	.request_id = "req-1", .source = "crm", .batch_id = "b-9", .count = 2,
};

static const struct audit_record kat_min_rec = {
	.actor = "anonymous", .action = "tokenize", .decision = "deny",
	.reason = "forbidden", .request_id = "r", .count = -1,
};

/* audit_record.h: u8 format; str = 0x01 || be32 length || bytes; an absent
 * ostr is 0x00; integers big-endian.  Each line is one field. */
static const char kat_full[] =
    "\x01"                                      /* format 1 */
    "\x01\x00\x00\x00\x23" ORIGIN               /* origin, 35 bytes */
    "\x00\x00\x00\x00\x00\x00\x00\x07"          /* seq 7 */
    "\x00\x06\x60\xd6\xb9\x00\x2b\xd8"          /* at_us 1795325203327960 */
    "\x01\x00\x00\x00\x0b" "svc-billing"        /* actor */
    "\x01\x00\x00\x00\x07" "analyst"            /* role */
    "\x01\x00\x00\x00\x05" "alice"              /* on_behalf_of */
    "\x01\x00\x00\x00\x07" "support"            /* purpose */
    "\x01\x00\x00\x00\x03" "T-1"                /* ticket */
    "\x01\x00\x00\x00\x06" "reveal"             /* action */
    "\x01\x00\x00\x00\x12" "tok_subject_v1_abc" /* subject_token */
    "\x00\x02"                                  /* ncategories 2 */
    "\x01\x00\x00\x00\x05" "email"              /* categories[0] */
    "\x01\x00\x00\x00\x05" "phone"              /* categories[1] */
    "\x01\x00\x00\x00\x05" "allow"              /* decision */
    "\x01\x00\x00\x00\x02" "ok"                 /* reason */
    "\x01\x00\x00\x00\x05" "req-1"              /* request_id */
    "\x01\x00\x00\x00\x03" "crm"                /* source */
    "\x01\x00\x00\x00\x03" "b-9"                /* batch_id */
    "\x00\x00\x00\x00\x00\x00\x00\x02";         /* count 2 */

static const char kat_min[] =
    "\x01"                                      /* format 1 */
    "\x01\x00\x00\x00\x23" ORIGIN               /* origin */
    "\x00\x00\x00\x00\x00\x00\x00\x07"          /* seq 7 */
    "\x00\x06\x60\xd6\xb9\x00\x2b\xd8"          /* at_us */
    "\x01\x00\x00\x00\x09" "anonymous"          /* actor */
    "\x00"                                      /* role absent */
    "\x00"                                      /* on_behalf_of absent */
    "\x00"                                      /* purpose absent */
    "\x00"                                      /* ticket absent */
    "\x01\x00\x00\x00\x08" "tokenize"           /* action */
    "\x00"                                      /* subject_token absent */
    "\x00\x00"                                  /* ncategories 0 */
    "\x01\x00\x00\x00\x04" "deny"               /* decision */
    "\x01\x00\x00\x00\x09" "forbidden"          /* reason */
    "\x01\x00\x00\x00\x01" "r"                  /* request_id */
    "\x00"                                      /* source absent */
    "\x00"                                      /* batch_id absent */
    "\xff\xff\xff\xff\xff\xff\xff\xff";         /* count -1 */

/* Filled by setup_fixtures(). */
static char max_a[AUDIT_FIELD_MAX + 1];         /* AUDIT_FIELD_MAX 'a' */
static char max_b[AUDIT_FIELD_MAX + 1];         /* AUDIT_FIELD_MAX 'b' */
static char over[AUDIT_FIELD_MAX + 2];          /* AUDIT_FIELD_MAX + 1 'c' */
static char cat_names[AUDIT_MAX_CATEGORIES + 1][8];
static const char *cats33[AUDIT_MAX_CATEGORIES + 1];
static const char *max_cats[AUDIT_MAX_CATEGORIES];

static void
setup_fixtures(void)
{
	size_t i;

	memset(max_a, 'a', AUDIT_FIELD_MAX);
	memset(max_b, 'b', AUDIT_FIELD_MAX);
	memset(over, 'c', AUDIT_FIELD_MAX + 1);
	for (i = 0; i < NELEM(cat_names); i++) {
		snprintf(cat_names[i], sizeof(cat_names[i]), "c_%zu", i);
		cats33[i] = cat_names[i];
	}
	for (i = 0; i < AUDIT_MAX_CATEGORIES; i++)
		max_cats[i] = max_a;
}

/* ---- records: view comparison ------------------------------------------ */

static int
field_is(const struct audit_field *f, const char *s)
{
	if (s == NULL)
		return f->p == NULL && f->len == 0;
	return f->p != NULL && f->len == strlen(s) && memcmp(f->p, s, f->len) == 0;
}

/* NULL if v holds exactly pos and rec, else the name of the first field
 * that differs. */
static const char *
view_differs(const struct audit_record_view *v,
    const struct audit_position *pos, const struct audit_record *rec)
{
	size_t i;

	if (!field_is(&v->origin, pos->origin))
		return "origin";
	if (v->seq != pos->seq)
		return "seq";
	if (v->at_us != pos->at_us)
		return "at_us";
	if (!field_is(&v->actor, rec->actor))
		return "actor";
	if (!field_is(&v->role, rec->role))
		return "role";
	if (!field_is(&v->on_behalf_of, rec->on_behalf_of))
		return "on_behalf_of";
	if (!field_is(&v->purpose, rec->purpose))
		return "purpose";
	if (!field_is(&v->ticket, rec->ticket))
		return "ticket";
	if (!field_is(&v->action, rec->action))
		return "action";
	if (!field_is(&v->subject_token, rec->subject_token))
		return "subject_token";
	if (v->ncategories != rec->ncategories)
		return "ncategories";
	for (i = 0; i < rec->ncategories; i++)
		if (!field_is(&v->categories[i], rec->categories[i]))
			return "a category";
	if (!field_is(&v->decision, rec->decision))
		return "decision";
	if (!field_is(&v->reason, rec->reason))
		return "reason";
	if (!field_is(&v->request_id, rec->request_id))
		return "request_id";
	if (!field_is(&v->source, rec->source))
		return "source";
	if (!field_is(&v->batch_id, rec->batch_id))
		return "batch_id";
	if (v->count != rec->count)
		return "count";
	return NULL;
}

/* ---- records: encoding ------------------------------------------------- */

static void
test_encode_kat(void)
{
	static const struct {
		const char *name;
		const struct audit_record *rec;
		const char *want;
		size_t wantlen;
	} rows[] = {
		{ "all fields, 2 categories", &kat_full_rec, kat_full,
		    sizeof(kat_full) - 1 },
		{ "optional fields absent, count -1", &kat_min_rec, kat_min,
		    sizeof(kat_min) - 1 },
	};
	unsigned char out[AUDIT_RECORD_MAX];
	size_t i, len;
	int r, eq;

	for (i = 0; i < NELEM(rows); i++) {
		memset(out, 0xee, sizeof(out));
		len = 0;
		r = audit_record_encode(&kat_pos, rows[i].rec, out, sizeof(out),
		    &len);
		eq = r == 0 && len == rows[i].wantlen &&
		    memcmp(out, rows[i].want, len) == 0;
		if (!eq)
			show_diff(out, len, (const unsigned char *)rows[i].want,
			    rows[i].wantlen);
		CHECK(eq, "encode %s: the %zu bytes of the documented layout "
		    "(r %d)", rows[i].name, rows[i].wantlen, r);
		len = 0;
		r = audit_record_encode(&kat_pos, rows[i].rec, out,
		    rows[i].wantlen, &len);
		CHECK(r == 0 && len == rows[i].wantlen &&
		    memcmp(out, rows[i].want, len) == 0,
		    "encode %s into exactly %zu bytes of room (r %d)",
		    rows[i].name, rows[i].wantlen, r);
	}
}

static void
test_round_trip(void)
{
	static const char *const one_cat[] = { "national_id" };
	static const struct audit_position pos_max = {
		max_b, UINT64_MAX, INT64_MIN,
	};
	static const struct audit_position pos_empty = { "", 0, 0 };
	static const struct {
		const char *name;
		const struct audit_position *pos;
		struct audit_record rec;
	} rows[] = {
		{ "all fields, 2 categories", &kat_pos, {
		    "svc-billing", "analyst", "alice", "support", "T-1", "reveal",
		    "tok_subject_v1_abc", two_cats, 2, "allow", "ok", "req-1",
		    "crm", "b-9", 2 } },
		{ "optional fields NULL, 0 categories", &kat_pos, {
		    "anonymous", NULL, NULL, NULL, NULL, "tokenize", NULL, NULL,
		    0, "deny", "forbidden", "r", NULL, NULL, -1 } },
		{ "empty strings everywhere allowed", &pos_empty, {
		    "", "", "", "", "", "", "", one_cat, 1, "allow", "", "", "",
		    "", 0 } },
		{ "32 categories", &kat_pos, {
		    "a", NULL, NULL, NULL, NULL, "tokenize", NULL, cats33,
		    AUDIT_MAX_CATEGORIES, "allow", "ok", "r", "hr", NULL,
		    INT64_MAX } },
		{ "UTF-8 text", &kat_pos, {
		    "\xea\xb9\x80\xeb\xaf\xbc\xec\x88\x98",   /* 김민수 */
		    "Zo\xc3\xab", "\xe6\x9d\x8e\xe9\x9b\xb7", /* Zoë, 李雷 */
		    "caf\xc3\xa9 \xe2\x82\xac",               /* café € */
		    "\xf0\x9f\x8e\xab-1",                      /* 🎫-1 */
		    "reveal", "tok_subject_v1_x", one_cat, 1, "deny",
		    "policy_denied", "\xe2\x80\x94", NULL, "b", INT64_MIN } },
		{ "every text field AUDIT_FIELD_MAX long, 32 such categories",
		    &pos_max, {
		    max_a, max_b, max_a, max_b, max_a, max_b, max_a, max_cats,
		    AUDIT_MAX_CATEGORIES, "deny", max_a, max_b, max_a, max_b,
		    0 } },
	};
	static unsigned char out[AUDIT_RECORD_MAX];
	struct audit_record_view v;
	const char *diff;
	size_t i, len;
	int r;

	for (i = 0; i < NELEM(rows); i++) {
		len = 0;
		r = audit_record_encode(rows[i].pos, &rows[i].rec, out,
		    sizeof(out), &len);
		CHECK(r == 0 && len > 0 && len <= AUDIT_RECORD_MAX,
		    "round trip %s: encodes (r %d, %zu bytes)", rows[i].name, r,
		    len);
		if (r != 0)
			continue;
		memset(&v, 0x5a, sizeof(v));
		r = audit_record_decode(out, len, &v);
		diff = r == 0 ? view_differs(&v, rows[i].pos, &rows[i].rec) :
		    "(not decoded)";
		CHECK(r == 0 && diff == NULL, "round trip %s: decodes to the "
		    "same record (r %d, differs in %s)", rows[i].name, r,
		    diff != NULL ? diff : "nothing");
	}
}

enum fld {
	F_ORIGIN, F_ACTOR, F_ROLE, F_OBO, F_PURPOSE, F_TICKET, F_ACTION,
	F_SUBJECT, F_CAT1, F_DECISION, F_REASON, F_REQID, F_SOURCE, F_BATCH,
};

static void
set_field(struct audit_position *pos, struct audit_record *rec,
    const char **cats, enum fld f, const char *v)
{
	switch (f) {
	case F_ORIGIN: pos->origin = v; break;
	case F_ACTOR: rec->actor = v; break;
	case F_ROLE: rec->role = v; break;
	case F_OBO: rec->on_behalf_of = v; break;
	case F_PURPOSE: rec->purpose = v; break;
	case F_TICKET: rec->ticket = v; break;
	case F_ACTION: rec->action = v; break;
	case F_SUBJECT: rec->subject_token = v; break;
	case F_CAT1: cats[1] = v; break;
	case F_DECISION: rec->decision = v; break;
	case F_REASON: rec->reason = v; break;
	case F_REQID: rec->request_id = v; break;
	case F_SOURCE: rec->source = v; break;
	case F_BATCH: rec->batch_id = v; break;
	}
}

static void
test_encode_refusals(void)
{
	static const struct {
		const char *name;
		enum fld f;
		const char *value;
		int want;
	} rows[] = {
		{ "origin NULL", F_ORIGIN, NULL, PII_ERR_BAD_REQUEST },
		{ "actor NULL", F_ACTOR, NULL, PII_ERR_BAD_REQUEST },
		{ "action NULL", F_ACTION, NULL, PII_ERR_BAD_REQUEST },
		{ "decision NULL", F_DECISION, NULL, PII_ERR_BAD_REQUEST },
		{ "reason NULL", F_REASON, NULL, PII_ERR_BAD_REQUEST },
		{ "request_id NULL", F_REQID, NULL, PII_ERR_BAD_REQUEST },
		{ "decision \"maybe\"", F_DECISION, "maybe", PII_ERR_BAD_REQUEST },
		{ "decision \"Allow\"", F_DECISION, "Allow", PII_ERR_BAD_REQUEST },
		{ "decision \"allow \"", F_DECISION, "allow ", PII_ERR_BAD_REQUEST },
		{ "decision \"\"", F_DECISION, "", PII_ERR_BAD_REQUEST },
		{ "category \"Email\"", F_CAT1, "Email", PII_ERR_BAD_REQUEST },
		{ "category \"e-mail\"", F_CAT1, "e-mail", PII_ERR_BAD_REQUEST },
		{ "category \"\"", F_CAT1, "", PII_ERR_BAD_REQUEST },
		{ "category \"e mail\"", F_CAT1, "e mail", PII_ERR_BAD_REQUEST },
		{ "category \"caf\\xc3\\xa9\"", F_CAT1, "caf\xc3\xa9",
		    PII_ERR_BAD_REQUEST },
		{ "category NULL", F_CAT1, NULL, PII_ERR_BAD_REQUEST },
		{ "origin too long", F_ORIGIN, over, PII_ERR_TOO_LARGE },
		{ "actor too long", F_ACTOR, over, PII_ERR_TOO_LARGE },
		{ "role too long", F_ROLE, over, PII_ERR_TOO_LARGE },
		{ "on_behalf_of too long", F_OBO, over, PII_ERR_TOO_LARGE },
		{ "purpose too long", F_PURPOSE, over, PII_ERR_TOO_LARGE },
		{ "ticket too long", F_TICKET, over, PII_ERR_TOO_LARGE },
		{ "action too long", F_ACTION, over, PII_ERR_TOO_LARGE },
		{ "subject_token too long", F_SUBJECT, over, PII_ERR_TOO_LARGE },
		{ "category too long", F_CAT1, over, PII_ERR_TOO_LARGE },
		{ "reason too long", F_REASON, over, PII_ERR_TOO_LARGE },
		{ "request_id too long", F_REQID, over, PII_ERR_TOO_LARGE },
		{ "source too long", F_SOURCE, over, PII_ERR_TOO_LARGE },
		{ "batch_id too long", F_BATCH, over, PII_ERR_TOO_LARGE },
	};
	static unsigned char out[AUDIT_RECORD_MAX];
	struct audit_position pos;
	struct audit_record rec;
	const char *cats[2];
	size_t i, len, cap, bad;
	int r;

	for (i = 0; i < NELEM(rows); i++) {
		pos = kat_pos;
		rec = kat_full_rec;
		memcpy(cats, two_cats, sizeof(cats));
		rec.categories = cats;
		set_field(&pos, &rec, cats, rows[i].f, rows[i].value);
		len = 12345;
		r = audit_record_encode(&pos, &rec, out, sizeof(out), &len);
		CHECK(r == rows[i].want && len == 12345,
		    "encode refuses %s -> %d (got %d), length untouched",
		    rows[i].name, rows[i].want, r);
	}

	rec = kat_full_rec;
	rec.categories = cats33;
	rec.ncategories = AUDIT_MAX_CATEGORIES + 1;
	r = audit_record_encode(&kat_pos, &rec, out, sizeof(out), &len);
	CHECK(r == PII_ERR_TOO_LARGE, "encode refuses 33 categories -> "
	    "PII_ERR_TOO_LARGE (got %d)", r);
	rec.categories = NULL;
	rec.ncategories = 1;
	r = audit_record_encode(&kat_pos, &rec, out, sizeof(out), &len);
	CHECK(r == PII_ERR_BAD_REQUEST, "encode refuses 1 category and a NULL "
	    "array -> PII_ERR_BAD_REQUEST (got %d)", r);
	r = audit_record_encode(NULL, &kat_full_rec, out, sizeof(out), &len);
	CHECK(r == PII_ERR_BAD_REQUEST, "encode refuses a NULL position (%d)", r);
	r = audit_record_encode(&kat_pos, NULL, out, sizeof(out), &len);
	CHECK(r == PII_ERR_BAD_REQUEST, "encode refuses a NULL record (%d)", r);

	/* Every cap short of the encoding's length. */
	for (i = 0; i < 2; i++) {
		const struct audit_record *rp = i == 0 ? &kat_full_rec :
		    &kat_min_rec;
		size_t need = i == 0 ? sizeof(kat_full) - 1 : sizeof(kat_min) - 1;

		bad = 0;
		for (cap = 0; cap < need; cap++) {
			len = 12345;
			r = audit_record_encode(&kat_pos, rp, out, cap, &len);
			if (r != PII_ERR_TOO_LARGE || len != 12345)
				bad++;
		}
		CHECK(bad == 0, "encode %s with every cap 0..%zu -> "
		    "PII_ERR_TOO_LARGE (%zu wrong)", i == 0 ? "full record" :
		    "minimal record", need - 1, bad);
	}
}

/* ---- records: decoding ------------------------------------------------- */

/* Pieces of hand-made encodings. */
#define U64_0   "\x00\x00\x00\x00\x00\x00\x00\x00"
#define U64_7   "\x00\x00\x00\x00\x00\x00\x00\x07"
#define ABSENT  "\x00"
#define D_HEAD  "\x01" "\x01\x00\x00\x00\x01" "o" U64_7 U64_0
#define D_ACTOR "\x01\x00\x00\x00\x01" "a"
#define D_OPT4  ABSENT ABSENT ABSENT ABSENT
#define D_ACT   "\x01\x00\x00\x00\x01" "x"
#define D_NCAT0 "\x00\x00"
#define D_DEC   "\x01\x00\x00\x00\x05" "allow"
#define D_RSN   "\x01\x00\x00\x00\x02" "ok"
#define D_RID   "\x01\x00\x00\x00\x01" "r"
#define D_TAIL  D_RSN D_RID ABSENT ABSENT U64_0
#define D_C1    "\x01\x00\x00\x00\x01" "c"
#define D_C8    D_C1 D_C1 D_C1 D_C1 D_C1 D_C1 D_C1 D_C1
#define D_C32   D_C8 D_C8 D_C8 D_C8
#define D_VALID D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL

#define DROW(name, bytes, want) { name, bytes, sizeof(bytes) - 1, want }

static void
test_decode_refusals(void)
{
	static const struct {
		const char *name;
		const char *in;
		size_t len;
		int want;
	} rows[] = {
		DROW("valid minimal record (control)", D_VALID, 0),
		DROW("32 categories (control)", D_HEAD D_ACTOR D_OPT4 D_ACT
		    ABSENT "\x00\x20" D_C32 D_DEC D_TAIL, 0),
		DROW("empty input", "", PII_ERR_BAD_REQUEST),
		DROW("format byte 0x00", "\x00" "\x01\x00\x00\x00\x01" "o" U64_7
		    U64_0 D_ACTOR D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL,
		    PII_ERR_BAD_REQUEST),
		DROW("format byte 0x02", "\x02" "\x01\x00\x00\x00\x01" "o" U64_7
		    U64_0 D_ACTOR D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL,
		    PII_ERR_BAD_REQUEST),
		DROW("one trailing byte", D_VALID "\x00", PII_ERR_BAD_REQUEST),
		DROW("origin absent (0x00)", "\x01" ABSENT U64_7 U64_0 D_ACTOR
		    D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("actor absent (0x00)", D_HEAD ABSENT D_OPT4 D_ACT ABSENT
		    D_NCAT0 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("action absent (0x00)", D_HEAD D_ACTOR D_OPT4 ABSENT ABSENT
		    D_NCAT0 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("decision absent (0x00)", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    D_NCAT0 ABSENT D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("reason absent (0x00)", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    D_NCAT0 D_DEC ABSENT D_RID ABSENT ABSENT U64_0,
		    PII_ERR_BAD_REQUEST),
		DROW("request_id absent (0x00)", D_HEAD D_ACTOR D_OPT4 D_ACT
		    ABSENT D_NCAT0 D_DEC D_RSN ABSENT ABSENT ABSENT U64_0,
		    PII_ERR_BAD_REQUEST),
		DROW("category absent (0x00)", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    "\x00\x01" ABSENT D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("role presence byte 0x02", D_HEAD D_ACTOR
		    "\x02\x00\x00\x00\x01" "r" ABSENT ABSENT ABSENT D_ACT ABSENT
		    D_NCAT0 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("role presence byte 0x02, no length", D_HEAD D_ACTOR "\x02"
		    ABSENT ABSENT ABSENT D_ACT ABSENT D_NCAT0 D_DEC D_TAIL,
		    PII_ERR_BAD_REQUEST),
		DROW("actor presence byte 0xff", D_HEAD "\xff\x00\x00\x00\x01" "a"
		    D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("actor length 256, past the end", D_HEAD
		    "\x01\x00\x00\x01\x00" "a" D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC
		    D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("actor length 2^32-1", D_HEAD "\x01\xff\xff\xff\xff" "a"
		    D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("count length past the end (7 bytes)", D_HEAD D_ACTOR D_OPT4
		    D_ACT ABSENT D_NCAT0 D_DEC D_RSN D_RID ABSENT ABSENT
		    "\x00\x00\x00\x00\x00\x00\x00", PII_ERR_BAD_REQUEST),
		DROW("ncategories 33", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    "\x00\x21" D_C32 D_C1 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("ncategories 0xffff", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    "\xff\xff" D_C32 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("ncategories 2, one given", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    "\x00\x02" D_C1 D_DEC D_TAIL, PII_ERR_BAD_REQUEST),
		/* What audit_record_encode refuses is no record's encoding. */
		DROW("decision \"maybe\"", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    D_NCAT0 "\x01\x00\x00\x00\x05" "maybe" D_TAIL,
		    PII_ERR_BAD_REQUEST),
		DROW("decision \"\"", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT D_NCAT0
		    "\x01\x00\x00\x00\x00" D_TAIL, PII_ERR_BAD_REQUEST),
		DROW("category \"\"", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    "\x00\x01" "\x01\x00\x00\x00\x00" D_DEC D_TAIL,
		    PII_ERR_BAD_REQUEST),
		DROW("category \"Email\"", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    "\x00\x01" "\x01\x00\x00\x00\x05" "Email" D_DEC D_TAIL,
		    PII_ERR_BAD_REQUEST),
		DROW("category \"e-mail\"", D_HEAD D_ACTOR D_OPT4 D_ACT ABSENT
		    "\x00\x01" "\x01\x00\x00\x00\x06" "e-mail" D_DEC D_TAIL,
		    PII_ERR_BAD_REQUEST),
	};
	static const unsigned char *const kats[] = {
		(const unsigned char *)kat_full, (const unsigned char *)kat_min,
	};
	static const size_t katlen[] = { sizeof(kat_full) - 1,
	    sizeof(kat_min) - 1 };
	static unsigned char big[64 + 2 * AUDIT_FIELD_MAX];
	struct audit_record_view v, sentinel;
	unsigned char *copy;
	size_t i, n, bad, off;
	int r;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (i = 0; i < NELEM(rows); i++) {
		/* An exact heap block, so that a read past the end shows
		 * under ASan. */
		copy = malloc(rows[i].len ? rows[i].len : 1);
		if (copy == NULL)
			exit(2);
		memcpy(copy, rows[i].in, rows[i].len);
		memcpy(&v, &sentinel, sizeof(v));
		r = audit_record_decode(copy, rows[i].len, &v);
		CHECK(r == rows[i].want && (r == 0 ||
		    memcmp(&v, &sentinel, sizeof(v)) == 0),
		    "decode %s -> %d (got %d)%s", rows[i].name, rows[i].want, r,
		    r != 0 ? ", output untouched" : "");
		free(copy);
	}

	/* A field one byte over AUDIT_FIELD_MAX, with all its bytes there. */
	off = 0;
	memcpy(big, D_HEAD, sizeof(D_HEAD) - 1);
	off += sizeof(D_HEAD) - 1;
	memcpy(big + off, "\x01\x00\x00\x02\x01", 5);     /* 513 */
	off += 5;
	memset(big + off, 'a', AUDIT_FIELD_MAX + 1);
	off += AUDIT_FIELD_MAX + 1;
	memcpy(big + off, D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL,
	    sizeof(D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL) - 1);
	off += sizeof(D_OPT4 D_ACT ABSENT D_NCAT0 D_DEC D_TAIL) - 1;
	r = audit_record_decode(big, off, &v);
	CHECK(r == PII_ERR_BAD_REQUEST, "decode refuses an actor of "
	    "AUDIT_FIELD_MAX + 1 bytes (got %d)", r);
	big[sizeof(D_HEAD) - 1 + 3] = 0x02;                 /* 512 */
	big[sizeof(D_HEAD) - 1 + 4] = 0x00;
	memmove(big + sizeof(D_HEAD) - 1 + 5 + AUDIT_FIELD_MAX,
	    big + sizeof(D_HEAD) - 1 + 5 + AUDIT_FIELD_MAX + 1,
	    off - (sizeof(D_HEAD) - 1 + 5 + AUDIT_FIELD_MAX + 1));
	r = audit_record_decode(big, off - 1, &v);
	CHECK(r == 0 && v.actor.len == AUDIT_FIELD_MAX, "decode takes an actor "
	    "of AUDIT_FIELD_MAX bytes (control, got %d)", r);

	/* Every truncation of a valid encoding. */
	for (i = 0; i < NELEM(kats); i++) {
		bad = 0;
		for (n = 0; n < katlen[i]; n++) {
			copy = malloc(n ? n : 1);
			if (copy == NULL)
				exit(2);
			memcpy(copy, kats[i], n);
			memcpy(&v, &sentinel, sizeof(v));
			if (audit_record_decode(copy, n, &v) != PII_ERR_BAD_REQUEST ||
			    memcmp(&v, &sentinel, sizeof(v)) != 0)
				bad++;
			free(copy);
		}
		CHECK(bad == 0, "decode refuses every truncation (0..%zu bytes) "
		    "of the %s known answer (%zu accepted)", katlen[i] - 1,
		    i == 0 ? "full" : "minimal", bad);
	}
	r = audit_record_decode(NULL, 0, &v);
	CHECK(r == PII_ERR_BAD_REQUEST, "decode refuses NULL input (%d)", r);
}

static void
test_leaf_hash(void)
{
	static const unsigned char flips[] = { 0x01, 0x80, 0xff };
	unsigned char enc[sizeof(kat_full)], h0[AUDIT_HASH_BYTES],
	    h[AUDIT_HASH_BYTES], ref[AUDIT_HASH_BYTES];
	crypto_hash_sha256_state st;
	const unsigned char zero = 0x00;
	size_t len = sizeof(kat_full) - 1, i, k, same = 0;

	memcpy(enc, kat_full, len);
	audit_merkle_leaf_hash(enc, len, h0);
	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, &zero, 1);
	crypto_hash_sha256_update(&st, enc, len);
	crypto_hash_sha256_final(&st, ref);
	CHECK(memcmp(h0, ref, sizeof(ref)) == 0,
	    "leaf hash of the known answer is SHA-256(0x00 || encoding)");
	for (i = 0; i < len; i++) {
		for (k = 0; k < NELEM(flips); k++) {
			enc[i] ^= flips[k];
			audit_merkle_leaf_hash(enc, len, h);
			enc[i] ^= flips[k];
			if (memcmp(h, h0, sizeof(h)) == 0)
				same++;
		}
	}
	CHECK(same == 0, "changing any one of the %zu bytes (xor 01, 80, ff) "
	    "changes the leaf hash (%zu unchanged)", len, same);
	audit_merkle_leaf_hash(enc, len - 1, h);
	CHECK(memcmp(h, h0, sizeof(h)) != 0, "dropping the last byte changes "
	    "the leaf hash");
	enc[len] = 0x00;
	audit_merkle_leaf_hash(enc, len + 1, h);
	CHECK(memcmp(h, h0, sizeof(h)) != 0, "appending a byte changes the "
	    "leaf hash");
}

/* ---- checkpoints: keys -------------------------------------------------- */

#define SECRET_TAG "piivault-audit-signing-key v1 "
#define PUBLIC_TAG "piivault-audit-public-key v1 "
#define SEED_B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="   /* 00..1f */

static char sec_path[128], pub_path[128], sec2_path[128], pub2_path[128];

/* Key id per audit_checkpoint.h: hex of SHA-256("piivault-audit-key" 0x00
 * || pk)[0..8). */
static void
ref_key_id(const unsigned char pk[AUDIT_PK_BYTES],
    char out[AUDIT_KEY_ID_HEX + 1])
{
	crypto_hash_sha256_state st;
	unsigned char h[32];

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)
	    "piivault-audit-key", sizeof("piivault-audit-key"));
	crypto_hash_sha256_update(&st, pk, AUDIT_PK_BYTES);
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(out, AUDIT_KEY_ID_HEX + 1, h, AUDIT_KEY_ID_HEX / 2);
}

/* The signed text of a checkpoint, per audit_checkpoint.h. */
static size_t
ref_message(const struct audit_checkpoint *cp, char *out, size_t cap)
{
	char root[64];

	sodium_bin2base64(root, sizeof(root), cp->root, sizeof(cp->root),
	    sodium_base64_VARIANT_ORIGINAL);
	return (size_t)snprintf(out, cap, "piivault audit checkpoint v1\n"
	    "%s\n%" PRIu64 "\n%s\n%" PRId64 "\n", cp->origin, cp->size, root,
	    cp->at_us);
}

static void
fill_cp(struct audit_checkpoint *cp)
{
	size_t i;

	memset(cp, 0, sizeof(*cp));
	snprintf(cp->origin, sizeof(cp->origin), "%s", ORIGIN);
	cp->size = 7;
	for (i = 0; i < sizeof(cp->root); i++)
		cp->root[i] = (unsigned char)i;
	cp->at_us = AT_US;
}

static void
test_keygen(void)
{
	static const struct {
		mode_t mode;
		int want;
	} modes[] = {
		{ 0600, 0 },
		{ 0400, 0 },
		{ 0640, PII_ERR_PERM },
		{ 0604, PII_ERR_PERM },
		{ 0644, PII_ERR_PERM },
		{ 0620, PII_ERR_PERM },
	};
	struct pii_errinfo ei;
	struct audit_signer *s;
	char *sec = NULL, *pub = NULL, other[128];
	size_t seclen = 0, publen = 0, i;
	int r;

	path_in_dir(sec_path, sizeof(sec_path), "audit.key");
	path_in_dir(pub_path, sizeof(pub_path), "audit.pub");
	path_in_dir(sec2_path, sizeof(sec2_path), "audit2.key");
	path_in_dir(pub2_path, sizeof(pub2_path), "audit2.pub");
	path_in_dir(other, sizeof(other), "other.key");

	r = audit_signer_generate(sec_path, pub_path, &ei);
	CHECK(r == 0, "signer_generate makes a key pair (%d)", r);
	CHECK(file_mode(sec_path) == 0600, "secret key file has mode 0600 "
	    "(%04o)", (unsigned)file_mode(sec_path));
	CHECK(file_mode(pub_path) == 0644, "public key file has mode 0644 "
	    "(%04o)", (unsigned)file_mode(pub_path));
	sec = slurp(sec_path, &seclen);
	pub = slurp(pub_path, &publen);
	CHECK(sec != NULL && seclen == sizeof(SECRET_TAG) - 1 + 44 + 1 &&
	    memcmp(sec, SECRET_TAG, sizeof(SECRET_TAG) - 1) == 0 &&
	    sec[seclen - 1] == '\n', "secret key file is the tag, 44 base64 "
	    "characters and a newline");
	CHECK(pub != NULL && publen == sizeof(PUBLIC_TAG) - 1 + 44 + 1 &&
	    memcmp(pub, PUBLIC_TAG, sizeof(PUBLIC_TAG) - 1) == 0 &&
	    pub[publen - 1] == '\n', "public key file is the tag, 44 base64 "
	    "characters and a newline");

	r = audit_signer_generate(sec_path, pub_path, &ei);
	CHECK(r == PII_ERR_IO, "second generate to the same paths fails (%d)", r);
	CHECK(sec != NULL && same_file(sec_path, sec, seclen) &&
	    file_mode(sec_path) == 0600, "the secret key file is unchanged");
	CHECK(pub != NULL && same_file(pub_path, pub, publen) &&
	    file_mode(pub_path) == 0644, "the public key file is unchanged");
	r = audit_signer_generate(other, pub_path, &ei);
	CHECK(r == PII_ERR_IO, "generate onto an existing public key file "
	    "fails (%d)", r);
	CHECK(pub != NULL && same_file(pub_path, pub, publen),
	    "the public key file is unchanged");
	unlink(other);

	r = audit_signer_generate(sec2_path, pub2_path, &ei);
	CHECK(r == 0, "signer_generate makes a second key pair (%d)", r);

	for (i = 0; i < NELEM(modes); i++) {
		chmod(sec_path, modes[i].mode);
		s = NULL;
		r = audit_signer_load(sec_path, &s, &ei);
		CHECK(r == modes[i].want && (r == 0) == (s != NULL),
		    "signer_load of a key file of mode %04o -> %d (got %d)",
		    (unsigned)modes[i].mode, modes[i].want, r);
		audit_signer_free(s);
	}
	chmod(sec_path, 0600);
	free(sec);
	free(pub);
}

static void
test_key_files(void)
{
	static const struct {
		const char *name;
		const char *text;
		int secret_want, public_want;
	} rows[] = {
		{ "a secret key", SECRET_TAG SEED_B64 "\n", 0, PII_ERR_CONFIG },
		{ "a public key", PUBLIC_TAG SEED_B64 "\n", PII_ERR_CONFIG, 0 },
		{ "an empty file", "", PII_ERR_CONFIG, PII_ERR_CONFIG },
		{ "garbage", "garbage\n", PII_ERR_CONFIG, PII_ERR_CONFIG },
		{ "no newline", SECRET_TAG SEED_B64, PII_ERR_CONFIG,
		    PII_ERR_CONFIG },
		{ "CRLF", SECRET_TAG SEED_B64 "\r\n", PII_ERR_CONFIG,
		    PII_ERR_CONFIG },
		{ "two newlines", SECRET_TAG SEED_B64 "\n\n", PII_ERR_CONFIG,
		    PII_ERR_CONFIG },
		{ "31-byte seed", SECRET_TAG
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",
		    PII_ERR_CONFIG, PII_ERR_CONFIG },
		{ "33-byte seed", SECRET_TAG
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g\n",
		    PII_ERR_CONFIG, PII_ERR_CONFIG },
		{ "unpadded base64", SECRET_TAG
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8\n",
		    PII_ERR_CONFIG, PII_ERR_CONFIG },
		{ "tag v2", "piivault-audit-signing-key v2 " SEED_B64 "\n",
		    PII_ERR_CONFIG, PII_ERR_CONFIG },
		{ "two spaces after the tag", SECRET_TAG " " SEED_B64 "\n",
		    PII_ERR_CONFIG, PII_ERR_CONFIG },
		{ "a byte 0xff in the base64", SECRET_TAG "AAECAwQF" "\xff"
		    "gcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", PII_ERR_CONFIG,
		    PII_ERR_CONFIG },
		{ "a public key with a byte 0x80 for a '/'", PUBLIC_TAG "\x80"
		    "/////////////////////////////////////////8=\n",
		    PII_ERR_CONFIG, PII_ERR_CONFIG },
	};
	struct pii_errinfo ei;
	struct audit_signer *s;
	struct audit_pubkey pk;
	char p[128], missing[128];
	size_t i;
	int r;

	path_in_dir(p, sizeof(p), "file.key");
	path_in_dir(missing, sizeof(missing), "missing.key");
	for (i = 0; i < NELEM(rows); i++) {
		if (spit(p, rows[i].text, strlen(rows[i].text), 0600) != 0)
			exit(2);
		s = NULL;
		r = audit_signer_load(p, &s, &ei);
		CHECK(r == rows[i].secret_want && (r == 0) == (s != NULL),
		    "signer_load of %s -> %d (got %d)", rows[i].name,
		    rows[i].secret_want, r);
		audit_signer_free(s);
		r = audit_pubkey_load(p, &pk, &ei);
		CHECK(r == rows[i].public_want, "pubkey_load of %s -> %d (got %d)",
		    rows[i].name, rows[i].public_want, r);
	}
	unlink(p);
	r = audit_signer_load(missing, &s, &ei);
	CHECK(r == PII_ERR_IO, "signer_load of a missing file -> PII_ERR_IO "
	    "(%d)", r);
	r = audit_pubkey_load(missing, &pk, &ei);
	CHECK(r == PII_ERR_IO, "pubkey_load of a missing file -> PII_ERR_IO "
	    "(%d)", r);
	audit_signer_free(NULL);
	CHECK(1, "audit_signer_free accepts NULL");
}

/* A signer for seed 00..1f signs exactly what libsodium signs over the
 * documented message, under the documented key id. */
static void
test_sign_known_answer(void)
{
	unsigned char seed[32], pk[32], sk[64], sig[64];
	char p[128], kid[AUDIT_KEY_ID_HEX + 1], msg[512];
	struct audit_checkpoint cp;
	struct audit_signer *s = NULL;
	struct pii_errinfo ei;
	const struct audit_pubkey *spk;
	size_t i, mlen;
	int r;

	for (i = 0; i < sizeof(seed); i++)
		seed[i] = (unsigned char)i;
	crypto_sign_seed_keypair(pk, sk, seed);
	ref_key_id(pk, kid);
	path_in_dir(p, sizeof(p), "fixed.key");
	if (spit(p, SECRET_TAG SEED_B64 "\n", sizeof(SECRET_TAG SEED_B64 "\n") -
	    1, 0600) != 0)
		exit(2);
	r = audit_signer_load(p, &s, &ei);
	CHECK(r == 0 && s != NULL, "signer_load of the seed 00..1f key (%d)", r);
	if (s == NULL)
		return;
	spk = audit_signer_pubkey(s);
	CHECK(memcmp(spk->pk, pk, sizeof(pk)) == 0, "signer public key is "
	    "Ed25519 of the seed");
	CHECK_STR(spk->key_id, kid, "key id is hex of SHA-256(\"piivault-audit-"
	    "key\" 0x00 || pk)[0..8)");

	fill_cp(&cp);
	r = audit_checkpoint_sign(s, &cp);
	mlen = ref_message(&cp, msg, sizeof(msg));
	crypto_sign_detached(sig, NULL, (const unsigned char *)msg, mlen, sk);
	CHECK(r == 0 && memcmp(cp.sig, sig, sizeof(sig)) == 0,
	    "signature is Ed25519 over the documented message (%d)", r);
	CHECK_STR(cp.key_id, kid, "signed checkpoint carries the key id");
	sodium_memzero(sk, sizeof(sk));
	audit_signer_free(s);
	unlink(p);
}

/* ---- checkpoints: sign and verify --------------------------------------- */

static void m_root(struct audit_checkpoint *c) { c->root[31] ^= 0x01; }
static void m_root0(struct audit_checkpoint *c) { c->root[0] ^= 0x80; }
static void m_size(struct audit_checkpoint *c) { c->size ^= 1; }
static void m_size_hi(struct audit_checkpoint *c) { c->size ^= 1ULL << 63; }
static void m_at(struct audit_checkpoint *c) { c->at_us ^= 1; }
static void m_at_sign(struct audit_checkpoint *c) { c->at_us = -c->at_us; }
static void m_origin(struct audit_checkpoint *c) { c->origin[0] ^= 0x01; }
static void m_origin_last(struct audit_checkpoint *c)
{
	c->origin[strlen(c->origin) - 1] ^= 0x01;     /* '1' -> '0' */
}
static void m_origin_longer(struct audit_checkpoint *c)
{
	c->origin[strlen(c->origin)] = '0';
}
static void m_origin_bad(struct audit_checkpoint *c) { c->origin[5] = ' '; }
static void m_sig0(struct audit_checkpoint *c) { c->sig[0] ^= 0x01; }
static void m_sig63(struct audit_checkpoint *c) { c->sig[63] ^= 0x80; }
static void m_kid(struct audit_checkpoint *c)
{
	c->key_id[0] = c->key_id[0] == '0' ? '1' : '0';
}

static void
test_sign_verify(void)
{
	static const struct {
		const char *name;
		void (*mutate)(struct audit_checkpoint *);
		int want;
	} rows[] = {
		{ "root, last bit", m_root, PII_ERR_CRYPTO },
		{ "root, first bit", m_root0, PII_ERR_CRYPTO },
		{ "size, low bit", m_size, PII_ERR_CRYPTO },
		{ "size, high bit", m_size_hi, PII_ERR_CRYPTO },
		{ "at_us, low bit", m_at, PII_ERR_CRYPTO },
		{ "at_us, negated", m_at_sign, PII_ERR_CRYPTO },
		{ "origin, first char v -> w", m_origin, PII_ERR_CRYPTO },
		{ "origin, last char 1 -> 0", m_origin_last, PII_ERR_CRYPTO },
		{ "origin, one char longer", m_origin_longer, PII_ERR_CRYPTO },
		{ "origin, a space (not an origin)", m_origin_bad,
		    PII_ERR_BAD_REQUEST },
		{ "signature, first bit", m_sig0, PII_ERR_CRYPTO },
		{ "signature, last bit", m_sig63, PII_ERR_CRYPTO },
		{ "key id", m_kid, PII_ERR_KEY },
	};
	struct audit_pubkey pk, pk2, both[2];
	struct audit_checkpoint cp, c;
	struct audit_signer *s = NULL;
	struct pii_errinfo ei;
	size_t i, bit, bad;
	int r;

	r = audit_signer_load(sec_path, &s, &ei);
	CHECK(r == 0, "signer_load of the generated key (%d)", r);
	r = audit_pubkey_load(pub_path, &pk, &ei);
	CHECK(r == 0, "pubkey_load of the generated public key (%d)", r);
	if (s == NULL || r != 0) {
		audit_signer_free(s);
		return;
	}
	CHECK(memcmp(audit_signer_pubkey(s)->pk, pk.pk, sizeof(pk.pk)) == 0 &&
	    strcmp(audit_signer_pubkey(s)->key_id, pk.key_id) == 0,
	    "the public key file holds the signer's public key and key id");
	r = audit_pubkey_load(pub2_path, &pk2, &ei);
	CHECK(r == 0 && strcmp(pk.key_id, pk2.key_id) != 0,
	    "the second key pair has another key id (%d)", r);

	fill_cp(&cp);
	r = audit_checkpoint_sign(s, &cp);
	CHECK(r == 0, "checkpoint_sign (%d)", r);
	r = audit_checkpoint_verify(&cp, &pk, 1);
	CHECK(r == 0, "verify with the loaded public key -> 0 (got %d)", r);
	for (i = 0; i < NELEM(rows); i++) {
		c = cp;
		rows[i].mutate(&c);
		r = audit_checkpoint_verify(&c, &pk, 1);
		CHECK(r == rows[i].want, "verify with a changed %s -> %d (got %d)",
		    rows[i].name, rows[i].want, r);
	}
	bad = 0;
	for (bit = 0; bit < 8 * sizeof(cp.sig); bit++) {
		c = cp;
		c.sig[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (audit_checkpoint_verify(&c, &pk, 1) != PII_ERR_CRYPTO)
			bad++;
	}
	CHECK(bad == 0, "every one of the 512 signature bit flips -> "
	    "PII_ERR_CRYPTO (%zu not)", bad);
	bad = 0;
	for (bit = 0; bit < 8 * sizeof(cp.root); bit++) {
		c = cp;
		c.root[bit / 8] ^= (unsigned char)(1u << (bit % 8));
		if (audit_checkpoint_verify(&c, &pk, 1) != PII_ERR_CRYPTO)
			bad++;
	}
	CHECK(bad == 0, "every one of the 256 root bit flips -> PII_ERR_CRYPTO "
	    "(%zu not)", bad);

	r = audit_checkpoint_verify(&cp, &pk2, 1);
	CHECK(r == PII_ERR_KEY, "verify with another key pair's public key "
	    "only -> PII_ERR_KEY (got %d)", r);
	r = audit_checkpoint_verify(&cp, NULL, 0);
	CHECK(r == PII_ERR_KEY, "verify with no keys -> PII_ERR_KEY (got %d)", r);
	both[0] = pk2;
	both[1] = pk;
	r = audit_checkpoint_verify(&cp, both, 2);
	CHECK(r == 0, "verify with [other key, right key] -> 0 (got %d)", r);
	/* The right key id but another key's bytes: a bad signature. */
	both[0] = pk2;
	memcpy(both[0].key_id, pk.key_id, sizeof(pk.key_id));
	r = audit_checkpoint_verify(&cp, both, 1);
	CHECK(r == PII_ERR_CRYPTO, "verify with another key under the right "
	    "key id -> PII_ERR_CRYPTO (got %d)", r);
	audit_signer_free(s);
}

/* ---- checkpoints: witness lines ----------------------------------------- */

/* Base64 of bytes 00..1f (32), 00..1e (31), 00..20 (33), 00..3f (64),
 * 00..3e (63). */
#define B32 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define B31 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg=="
#define B33 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"
#define B64 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss" \
    "LS4vMDEyMzQ1Njc4OTo7PD0+Pw=="
#define B63 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKiss" \
    "LS4vMDEyMzQ1Njc4OTo7PD0+"
#define KID "0123456789abcdef"
#define HEAD "checkpoint v1 "
#define AT " 1795325203327960 "
#define O127 "ooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo" \
    "oooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooooo"
#define WLINE HEAD "vault-1 7 " B32 AT KID " " B64

#define WROW(name, lit, want) { name, lit, sizeof(lit) - 1, want }

static void
test_parse(void)
{
	static const struct {
		const char *name;
		const char *line;
		size_t len;
		int want;
	} rows[] = {
		WROW("valid, with newline", WLINE "\n", 0),
		WROW("valid, without newline", WLINE, 0),
		WROW("size 0, at_us 0", HEAD "vault-1 0 " B32 " 0 " KID " " B64, 0),
		WROW("size and at_us INT64_MAX", HEAD "vault-1 9223372036854775807 "
		    B32 " 9223372036854775807 " KID " " B64, 0),
		WROW("origin of 127 characters", HEAD O127 " 7 " B32 AT KID " "
		    B64, 0),
		WROW("origin of every allowed character", HEAD "azAZ09._:/- 7 "
		    B32 AT KID " " B64, 0),
		WROW("empty", "", PII_ERR_BAD_REQUEST),
		WROW("just a newline", "\n", PII_ERR_BAD_REQUEST),
		WROW("head only", HEAD, PII_ERR_BAD_REQUEST),
		WROW("head v2", "checkpoint v2 vault-1 7 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("head capitalized", "Checkpoint v1 vault-1 7 " B32 AT KID
		    " " B64, PII_ERR_BAD_REQUEST),
		WROW("leading space", " " WLINE, PII_ERR_BAD_REQUEST),
		WROW("trailing space", WLINE " ", PII_ERR_BAD_REQUEST),
		WROW("trailing space and newline", WLINE " \n",
		    PII_ERR_BAD_REQUEST),
		WROW("CRLF", WLINE "\r\n", PII_ERR_BAD_REQUEST),
		WROW("two newlines", WLINE "\n\n", PII_ERR_BAD_REQUEST),
		WROW("two lines", WLINE "\n" WLINE "\n", PII_ERR_BAD_REQUEST),
		WROW("two spaces between fields", HEAD "vault-1  7 " B32 AT KID " "
		    B64, PII_ERR_BAD_REQUEST),
		WROW("tab between fields", HEAD "vault-1\t7 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("missing origin", HEAD "7 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("missing size", HEAD "vault-1 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("missing root", HEAD "vault-1 7" AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("missing at_us", HEAD "vault-1 7 " B32 " " KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("missing key id", HEAD "vault-1 7 " B32 AT B64,
		    PII_ERR_BAD_REQUEST),
		WROW("missing signature", HEAD "vault-1 7 " B32 AT KID,
		    PII_ERR_BAD_REQUEST),
		WROW("missing signature, trailing space", HEAD "vault-1 7 " B32 AT
		    KID " ", PII_ERR_BAD_REQUEST),
		WROW("extra field", WLINE " x", PII_ERR_BAD_REQUEST),
		WROW("extra field, newline", WLINE " x\n", PII_ERR_BAD_REQUEST),
		WROW("size \"07\"", HEAD "vault-1 07 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("size \"00\"", HEAD "vault-1 00 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("size \"+7\"", HEAD "vault-1 +7 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("size \"-1\"", HEAD "vault-1 -1 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("size \"7x\"", HEAD "vault-1 7x " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("size of 20 digits", HEAD "vault-1 10000000000000000000 " B32
		    AT KID " " B64, PII_ERR_BAD_REQUEST),
		WROW("size 2^63", HEAD "vault-1 9223372036854775808 " B32 AT KID
		    " " B64, PII_ERR_BAD_REQUEST),
		WROW("size of 19 nines", HEAD "vault-1 9999999999999999999 " B32
		    AT KID " " B64, PII_ERR_BAD_REQUEST),
		WROW("at_us \"07\"", HEAD "vault-1 7 " B32 " 07 " KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("at_us \"+7\"", HEAD "vault-1 7 " B32 " +7 " KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("at_us \"-1\"", HEAD "vault-1 7 " B32 " -1 " KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("at_us of 20 digits", HEAD "vault-1 7 " B32
		    " 17953252033279600000 " KID " " B64, PII_ERR_BAD_REQUEST),
		WROW("key id with uppercase", HEAD "vault-1 7 " B32 AT
		    "0123456789ABCDEF " B64, PII_ERR_BAD_REQUEST),
		WROW("key id of 15 characters", HEAD "vault-1 7 " B32 AT
		    "0123456789abcde " B64, PII_ERR_BAD_REQUEST),
		WROW("key id of 17 characters", HEAD "vault-1 7 " B32 AT
		    "0123456789abcdef0 " B64, PII_ERR_BAD_REQUEST),
		WROW("key id with 'g'", HEAD "vault-1 7 " B32 AT
		    "0123456789abcdeg " B64, PII_ERR_BAD_REQUEST),
		WROW("root of 31 bytes", HEAD "vault-1 7 " B31 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("root of 33 bytes", HEAD "vault-1 7 " B33 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("root without its padding", HEAD "vault-1 7 "
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("root with extra padding", HEAD "vault-1 7 " B32 "=" AT KID
		    " " B64, PII_ERR_BAD_REQUEST),
		WROW("root with non-zero padding bits", HEAD "vault-1 7 "
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh9=" AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("root with a '*'", HEAD "vault-1 7 "
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=" AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("root in base64url", HEAD "vault-1 7 "
		    "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd_h8=" AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		/* libsodium 1.0.18 decodes any byte >= 0x80 as '/' (63): a
		 * second line for the same checkpoint, and bytes no base64
		 * alphabet has. */
		WROW("root with a byte 0x80 for a '/'", HEAD "vault-1 7 " "\x80"
		    "/////////////////////////////////////////8=" AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("signature with a byte 0xff", HEAD "vault-1 7 " B32 AT KID " "
		    "AAECAwQF" "\xff" "gcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUm"
		    "JygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Pw==", PII_ERR_BAD_REQUEST),
		WROW("signature of 63 bytes", HEAD "vault-1 7 " B32 AT KID " " B63,
		    PII_ERR_BAD_REQUEST),
		WROW("signature with non-zero padding bits", HEAD "vault-1 7 " B32
		    AT KID " AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUm"
		    "JygpKissLS4vMDEyMzQ1Njc4OTo7PD0+Px==", PII_ERR_BAD_REQUEST),
		WROW("origin with a space", HEAD "vault 1 7 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("origin with '#'", HEAD "vault#1 7 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("origin with '\\'", HEAD "vault\\1 7 " B32 AT KID " " B64,
		    PII_ERR_BAD_REQUEST),
		WROW("origin with UTF-8", HEAD "vault-\xc3\xa9 7 " B32 AT KID " "
		    B64, PII_ERR_BAD_REQUEST),
		WROW("origin of 128 characters", HEAD O127 "o 7 " B32 AT KID " "
		    B64, PII_ERR_BAD_REQUEST),
		WROW("embedded NUL in the origin", HEAD "vault\0001 7 " B32 AT KID
		    " " B64, PII_ERR_BAD_REQUEST),
		WROW("embedded NUL after the line", WLINE "\0", PII_ERR_BAD_REQUEST),
		WROW("embedded NUL in the signature", HEAD "vault-1 7 " B32 AT KID
		    " AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygp"
		    "KissLS4vMDEyMzQ1Njc4OTo7PD0+P\000==", PII_ERR_BAD_REQUEST),
	};
	static char longline[AUDIT_WITNESS_LINE_MAX + 1];
	struct audit_checkpoint cp, sentinel;
	char *copy;
	size_t i, n;
	int r;

	memset(&sentinel, 0x5a, sizeof(sentinel));
	for (i = 0; i < NELEM(rows); i++) {
		copy = malloc(rows[i].len ? rows[i].len : 1);
		if (copy == NULL)
			exit(2);
		memcpy(copy, rows[i].line, rows[i].len);
		memcpy(&cp, &sentinel, sizeof(cp));
		r = audit_checkpoint_parse(copy, rows[i].len, &cp);
		CHECK(r == rows[i].want && (r == 0 ||
		    memcmp(&cp, &sentinel, sizeof(cp)) == 0),
		    "parse %s -> %d (got %d)", rows[i].name, rows[i].want, r);
		free(copy);
	}

	/* The fields of the valid row. */
	memset(&cp, 0, sizeof(cp));
	r = audit_checkpoint_parse(WLINE "\n", sizeof(WLINE "\n") - 1, &cp);
	for (i = 0, n = 0; i < sizeof(cp.root); i++)
		n += cp.root[i] != i;
	for (i = 0; i < sizeof(cp.sig); i++)
		n += cp.sig[i] != i;
	CHECK(r == 0 && strcmp(cp.origin, "vault-1") == 0 && cp.size == 7 &&
	    cp.at_us == AT_US && strcmp(cp.key_id, KID) == 0 && n == 0,
	    "parse gives each field of the valid line (%d)", r);

	/* Lines as long as AUDIT_WITNESS_LINE_MAX and one byte longer. */
	for (n = AUDIT_WITNESS_LINE_MAX; n <= AUDIT_WITNESS_LINE_MAX + 1; n++) {
		memset(longline, 'A', sizeof(longline));
		memcpy(longline, WLINE, sizeof(WLINE) - 1);
		longline[n - 1] = '\n';
		memcpy(&cp, &sentinel, sizeof(cp));
		r = audit_checkpoint_parse(longline, n, &cp);
		CHECK(r == PII_ERR_BAD_REQUEST, "parse refuses a line of %zu bytes "
		    "(got %d)", n, r);
	}
	r = audit_checkpoint_parse(NULL, 0, &cp);
	CHECK(r == PII_ERR_BAD_REQUEST, "parse refuses NULL (%d)", r);
}

static void
test_format_round_trip(void)
{
	struct audit_checkpoint rows[3], back;
	char line[AUDIT_WITNESS_LINE_MAX], line2[AUDIT_WITNESS_LINE_MAX];
	struct audit_signer *s = NULL;
	struct pii_errinfo ei;
	size_t i, len;
	int r;

	if (audit_signer_load(sec_path, &s, &ei) != 0) {
		CHECK(0, "signer_load for the round trip");
		return;
	}
	fill_cp(&rows[0]);
	fill_cp(&rows[1]);
	snprintf(rows[1].origin, sizeof(rows[1].origin), "%s", O127);
	rows[1].size = INT64_MAX;
	rows[1].at_us = INT64_MAX;
	fill_cp(&rows[2]);
	memset(rows[2].origin, 0, sizeof(rows[2].origin));
	snprintf(rows[2].origin, sizeof(rows[2].origin), "o");
	rows[2].size = 0;
	rows[2].at_us = 0;
	memset(rows[2].root, 0xff, sizeof(rows[2].root));
	for (i = 0; i < NELEM(rows); i++) {
		r = audit_checkpoint_sign(s, &rows[i]);
		CHECK(r == 0, "sign round-trip row %zu (%d)", i, r);
		r = audit_checkpoint_format(&rows[i], line, sizeof(line));
		len = strlen(line);
		CHECK(r == 0 && len > 0 && line[len - 1] == '\n' &&
		    strncmp(line, "checkpoint v1 ", 14) == 0,
		    "format row %zu: one line with the head (%d)", i, r);
		memset(&back, 0, sizeof(back));
		r = audit_checkpoint_parse(line, len, &back);
		CHECK(r == 0 && memcmp(&back, &rows[i], sizeof(back)) == 0,
		    "format row %zu, parse: the same checkpoint (%d)", i, r);
		memset(&back, 0, sizeof(back));
		r = audit_checkpoint_parse(line, len - 1, &back);
		CHECK(r == 0 && memcmp(&back, &rows[i], sizeof(back)) == 0,
		    "format row %zu, parse without the newline: the same (%d)",
		    i, r);
		r = audit_checkpoint_format(&back, line2, sizeof(line2));
		CHECK_STR(line2, line, "format row %zu, parse, format: the same "
		    "line", i);
		r = audit_checkpoint_format(&rows[i], line2, len);
		CHECK(r == PII_ERR_TOO_LARGE, "format row %zu with one byte too "
		    "little room -> PII_ERR_TOO_LARGE (got %d)", i, r);
	}
	rows[0].origin[0] = ' ';
	r = audit_checkpoint_format(&rows[0], line, sizeof(line));
	CHECK(r == PII_ERR_BAD_REQUEST, "format refuses a bad origin (%d)", r);
	audit_signer_free(s);
}

static void
test_witness_append(void)
{
	struct audit_checkpoint cp[2], back;
	struct audit_signer *s = NULL;
	struct pii_errinfo ei;
	char p[128], nodir[160], *text, *nl;
	size_t len = 0;
	int r;

	if (audit_signer_load(sec_path, &s, &ei) != 0) {
		CHECK(0, "signer_load for the witness");
		return;
	}
	fill_cp(&cp[0]);
	fill_cp(&cp[1]);
	cp[1].size = 8;
	cp[1].root[0] = 0xaa;
	cp[1].at_us = AT_US + 1000000;
	if (audit_checkpoint_sign(s, &cp[0]) != 0 ||
	    audit_checkpoint_sign(s, &cp[1]) != 0) {
		CHECK(0, "sign for the witness");
		audit_signer_free(s);
		return;
	}
	path_in_dir(p, sizeof(p), "witness");
	r = audit_witness_append(p, &cp[0], &ei);
	CHECK(r == 0, "witness_append creates the file (%d)", r);
	CHECK(file_mode(p) == 0644, "witness file has mode 0644 (%04o)",
	    (unsigned)file_mode(p));
	r = audit_witness_append(p, &cp[1], &ei);
	CHECK(r == 0, "witness_append appends a second line (%d)", r);
	text = slurp(p, &len);
	CHECK(text != NULL && len > 0 && text[len - 1] == '\n' &&
	    (nl = strchr(text, '\n')) != NULL && strchr(nl + 1, '\n') ==
	    text + len - 1, "witness file holds exactly two lines");
	if (text != NULL && (nl = strchr(text, '\n')) != NULL) {
		memset(&back, 0, sizeof(back));
		r = audit_checkpoint_parse(text, (size_t)(nl - text) + 1, &back);
		CHECK(r == 0 && memcmp(&back, &cp[0], sizeof(back)) == 0,
		    "first line is the first checkpoint (%d)", r);
		memset(&back, 0, sizeof(back));
		r = audit_checkpoint_parse(nl + 1, len - (size_t)(nl + 1 - text),
		    &back);
		CHECK(r == 0 && memcmp(&back, &cp[1], sizeof(back)) == 0,
		    "second line is the second checkpoint (%d)", r);
	}
	free(text);

	snprintf(nodir, sizeof(nodir), "%s/no-such-dir/witness", dir);
	r = audit_witness_append(nodir, &cp[0], &ei);
	CHECK(r == PII_ERR_IO, "witness_append into a missing directory -> "
	    "PII_ERR_IO (got %d)", r);
	cp[0].origin[0] = '\0';
	r = audit_witness_append(p, &cp[0], &ei);
	CHECK(r == PII_ERR_BAD_REQUEST, "witness_append refuses a checkpoint "
	    "with no origin (%d)", r);
	text = slurp(p, &len);
	CHECK(text != NULL && strchr(text, '\n') != NULL &&
	    strchr(strchr(text, '\n') + 1, '\n') == text + len - 1,
	    "and leaves the file at two lines");
	free(text);
	audit_signer_free(s);
}

int
main(void)
{
	if (sodium_init() < 0)
		return 2;
	umask(022);
	make_dir();
	setup_fixtures();
	test_encode_kat();
	test_round_trip();
	test_encode_refusals();
	test_decode_refusals();
	test_leaf_hash();
	test_keygen();
	test_key_files();
	test_sign_known_answer();
	test_sign_verify();
	test_parse();
	test_format_round_trip();
	test_witness_append();
	remove_dir();
	printf("# %d checks, %d failed\n", tap_count, tap_failed);
	return TAP_DONE();
}
