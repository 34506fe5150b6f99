/*
 * bench_tagdata.c - deterministic synthetic CSV for the tagger's benchmarks
 * (bench/bench_scan.sh, bench/bench_tagger.sh).
 *
 *   bench_tagdata --rows N --out FILE [--seed S] [--columns scan|e2e]
 *
 * --columns scan (the default), ten columns, for pii-tag scan against grep:
 *   id, email, phone, name, card, iban, ip, signup_date, country, notes
 * --columns e2e, seven columns, for pii-tag run through the vault:
 *   id, email, phone, name, card, country, notes
 *
 *   id           1..N (the subject)
 *   email        first.last<id>@<domain>: unique per row
 *   phone        a Korean mobile number unique per row, either national
 *                010-nnnn-nnnn (about 60%) or E.164 +8210nnnnnnnn
 *   name         "First Last" (about 70%) or a Korean name (family name and
 *                a two-syllable given name, UTF-8)
 *   card         16 digits, Visa or Mastercard prefix, Luhn-valid; plain,
 *                or in groups of four split by spaces or by dashes
 *   iban         DE, GB, NL or FR, mod-97 valid; plain or in groups of four
 *   ip           IPv4 (about 80%) or IPv6 (2001:db8::/32)
 *   signup_date  YYYY-MM-DD in 2015..2025
 *   country      an ISO 3166 alpha-2 code
 *   notes        15..100 bytes of lowercase words and spaces: no digits, no
 *                '@', no ':', so no PII detector can accept it
 *
 * No field holds a comma, a quote or a line break, so no field is quoted
 * and a reader may split lines on ','.  The same --seed, --rows and
 * --columns give the same bytes on every machine (splitmix64, no libc
 * randomness).  Exit 0, 1 on an I/O error, 2 on a usage error.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 100000000ULL     /* phone numbers have 8 free digits */

static const char *prog = "bench_tagdata";

static const char *const first_names[] = {
	"james", "mary", "robert", "patricia", "john", "jennifer", "michael",
	"linda", "david", "elizabeth", "william", "barbara", "richard", "susan",
	"joseph", "jessica", "thomas", "sarah", "charles", "karen", "daniel",
	"lisa", "matthew", "nancy", "anthony", "betty", "mark", "sandra",
	"steven", "ashley", "paul", "emily", "andrew", "donna", "joshua",
	"michelle", "kevin", "carol", "brian", "amanda", "minjun", "seoyeon",
	"jiho", "haeun", "doyun", "jiwoo",
};
static const char *const last_names[] = {
	"smith", "johnson", "williams", "brown", "jones", "garcia", "miller",
	"davis", "rodriguez", "martinez", "hernandez", "lopez", "gonzalez",
	"wilson", "anderson", "thomas", "taylor", "moore", "jackson", "martin",
	"lee", "perez", "thompson", "white", "harris", "clark", "lewis",
	"robinson", "walker", "young", "kim", "park", "choi", "jung", "kang",
	"cho", "yoon", "jang",
};
static const char *const ko_family[] = {
	"김", "이", "박", "최", "정", "강", "조", "윤", "장", "임", "한", "오",
	"서", "신", "권", "황",
};
static const char *const ko_given[] = {
	"민준", "서연", "도윤", "서윤", "예준", "지우", "시우", "하은", "주원",
	"하윤", "지호", "지유", "준서", "수아", "현우", "지아", "건우", "서아",
	"우진", "다은",
};
static const char *const domains[] = {
	"example.com", "example.org", "example.net", "mail.example.com",
	"corp.example.org", "example.co.kr",
};
static const char *const countries[] = {
	"KR", "US", "DE", "GB", "FR", "NL", "JP", "CA", "AU", "SG", "IN", "BR",
	"ES", "IT", "SE", "NO",
};
static const char *const words[] = {
	"prefers", "contact", "by", "letter", "during", "business", "hours",
	"asked", "about", "the", "premium", "plan", "renewal", "upgrade",
	"discount", "shipping", "was", "delayed", "happy", "with", "service",
	"requested", "invoice", "copy", "newsletter", "opted", "out", "of",
	"marketing", "loyal", "customer", "since", "launch", "support",
	"ticket", "closed", "resolved", "quickly", "needs", "follow", "up",
	"on", "returns", "policy", "gift", "wrapping", "weekend", "delivery",
	"only", "large", "order", "expected", "next", "quarter", "and",
	"interested", "in", "beta", "features",
};

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state;

static uint64_t
rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in 0..n-1 (n small: the bias is negligible here). */
static unsigned
pick(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: %s --rows N --out FILE [--seed S] [--columns scan|e2e]\n"
	    "Write N rows of deterministic synthetic CSV (header first) to FILE\n"
	    "(\"-\": standard output) for the tagger's benchmarks.\n"
	    "  --columns scan  id,email,phone,name,card,iban,ip,signup_date,country,notes\n"
	    "                  (the default; for pii-tag scan against grep)\n"
	    "  --columns e2e   id,email,phone,name,card,country,notes\n"
	    "                  (subject, four PII columns, two others; for pii-tag run)\n"
	    "  --seed S        PRNG seed (default 1); same seed, same bytes\n"
	    "No field needs quoting: split lines on ','.  N is 1..%llu.\n",
	    prog, MAX_ROWS);
}

static int
parse_u64(const char *flag, const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (s[0] == '-' || s[0] == '\0') {
		fprintf(stderr, "%s: %s needs a number\n", prog, flag);
		return -1;
	}
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "%s: %s must be a number in %llu..%llu (got '%s')\n",
		    prog, flag, (unsigned long long)lo, (unsigned long long)hi, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* ---- fields ------------------------------------------------------------- */

/* A 16-digit Luhn-valid card number into d[16] (digit values). */
static void
card_digits(unsigned char d[16])
{
	unsigned sum = 0;
	int i;

	if (pick(2) == 0) {
		d[0] = 4;                       /* Visa */
		i = 1;
	} else {
		d[0] = 5;                       /* Mastercard 51..55 */
		d[1] = (unsigned char)(1 + pick(5));
		i = 2;
	}
	for (; i < 15; i++)
		d[i] = (unsigned char)pick(10);
	/* check digit: from the right, the check digit itself is not doubled */
	for (i = 14; i >= 0; i--) {
		unsigned v = d[i];

		if ((14 - i) % 2 == 0) {
			v *= 2;
			if (v > 9)
				v -= 9;
		}
		sum += v;
	}
	d[15] = (unsigned char)((10 - sum % 10) % 10);
}

static void
put_card(FILE *f)
{
	unsigned char d[16];
	unsigned style = pick(4);           /* plain twice as often */
	int i;

	card_digits(d);
	for (i = 0; i < 16; i++) {
		if (i > 0 && i % 4 == 0 && style == 2)
			fputc(' ', f);
		else if (i > 0 && i % 4 == 0 && style == 3)
			fputc('-', f);
		fputc('0' + d[i], f);
	}
}

/* mod 97 of the IBAN's rearranged digits (BBAN, country, "00"). */
static unsigned
iban_mod97(const char *bban, char c0, char c1)
{
	char tail[3] = { c0, c1, 0 };
	const char *parts[2] = { bban, tail };
	unsigned r = 0;
	int p;

	for (p = 0; p < 2; p++) {
		const char *s;

		for (s = parts[p]; *s != '\0'; s++) {
			if (*s >= '0' && *s <= '9')
				r = (r * 10 + (unsigned)(*s - '0')) % 97;
			else
				r = (r * 100 + (unsigned)(*s - 'A' + 10)) % 97;
		}
	}
	return (r * 100) % 97;              /* the two check digits as "00" */
}

static void
put_iban(FILE *f)
{
	/* shape: d a digit, a a letter, m either */
	static const struct { char cc[3]; const char *shape; } kinds[] = {
		{ "DE", "dddddddddddddddddd" },          /* 18: BLZ + account */
		{ "GB", "aaaadddddddddddddd" },          /* 18: bank, sort, account */
		{ "NL", "aaaadddddddddd" },              /* 14 */
		{ "FR", "ddddddddddmmmmmmmmmmmdd" },     /* 23 */
	};
	char bban[40], full[48];
	unsigned k = pick(N_OF(kinds)), check;
	size_t i, n;

	for (i = 0; kinds[k].shape[i] != '\0'; i++) {
		char s = kinds[k].shape[i];

		if (s == 'd' || (s == 'm' && pick(2) == 0))
			bban[i] = (char)('0' + pick(10));
		else
			bban[i] = (char)('A' + pick(26));
	}
	bban[i] = '\0';
	check = 98 - iban_mod97(bban, kinds[k].cc[0], kinds[k].cc[1]);
	n = (size_t)snprintf(full, sizeof(full), "%s%02u%s", kinds[k].cc, check, bban);
	if (pick(3) == 0) {                 /* printed in groups of four */
		for (i = 0; i < n; i++) {
			if (i > 0 && i % 4 == 0)
				fputc(' ', f);
			fputc(full[i], f);
		}
	} else {
		fputs(full, f);
	}
}

static void
put_ip(FILE *f)
{
	if (pick(5) != 0) {
		uint64_t r = rnd();

		fprintf(f, "%u.%u.%u.%u", (unsigned)(1 + (r & 0xff) % 223),
		    (unsigned)((r >> 8) & 0xff), (unsigned)((r >> 16) & 0xff),
		    (unsigned)(1 + ((r >> 24) & 0xff) % 254));
	} else {
		uint64_t a = rnd(), b = rnd();

		fprintf(f, "2001:db8:%x:%x:%x:%x:%x:%x", (unsigned)(a & 0xffff),
		    (unsigned)((a >> 16) & 0xffff), (unsigned)((a >> 32) & 0xffff),
		    (unsigned)(b & 0xffff), (unsigned)((b >> 16) & 0xffff),
		    (unsigned)((b >> 32) & 0xffff));
	}
}

static void
put_notes(FILE *f)
{
	unsigned target = 15 + pick(86), len = 0;

	while (len < target) {
		const char *w = words[pick(N_OF(words))];

		if (len > 0) {
			fputc(' ', f);
			len++;
		}
		fputs(w, f);
		len += (unsigned)strlen(w);
	}
}

/* Row i (1-based).  Each field draws from the one generator in order, so
 * the bytes depend only on the seed, the row and the column set. */
static void
put_row(FILE *f, uint64_t i, int e2e)
{
	static const unsigned mdays[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30,
		31, 30, 31 };
	const char *fn = first_names[pick(N_OF(first_names))];
	const char *ln = last_names[pick(N_OF(last_names))];
	/* the phone's 8 digits: i through an odd multiplier mod 10^8 */
	uint64_t ph = (i * 48271u + 12345u) % 100000000u;
	unsigned m, y;

	fprintf(f, "%llu,%s.%s%llu@%s,", (unsigned long long)i, fn, ln,
	    (unsigned long long)i, domains[pick(N_OF(domains))]);
	if (pick(5) < 3)
		fprintf(f, "010-%04u-%04u,", (unsigned)(ph / 10000), (unsigned)(ph % 10000));
	else
		fprintf(f, "+8210%08llu,", (unsigned long long)ph);
	if (pick(10) < 7) {
		const char *f2 = first_names[pick(N_OF(first_names))];

		/* capitalized: "Mary Smith" */
		fprintf(f, "%c%s %c%s,", f2[0] - 32, f2 + 1, ln[0] - 32, ln + 1);
	} else {
		fprintf(f, "%s%s,", ko_family[pick(N_OF(ko_family))],
		    ko_given[pick(N_OF(ko_given))]);
	}
	put_card(f);
	fputc(',', f);
	if (!e2e) {
		put_iban(f);
		fputc(',', f);
		put_ip(f);
		y = 2015 + pick(11);
		m = 1 + pick(12);
		fprintf(f, ",%u-%02u-%02u,", y, m, 1 + pick(mdays[m - 1]));
	}
	fprintf(f, "%s,", countries[pick(N_OF(countries))]);
	put_notes(f);
	fputc('\n', f);
}

int
main(int argc, char **argv)
{
	uint64_t rows = 0, seed = 1, i;
	const char *out = NULL;
	int e2e = 0, a;
	FILE *f;

	for (a = 1; a < argc; a++) {
		const char *s = argv[a];

		if (strcmp(s, "-h") == 0 || strcmp(s, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (a + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (strcmp(s, "--rows") == 0) {
			if (parse_u64(s, argv[++a], 1, MAX_ROWS, &rows) != 0)
				return 2;
		} else if (strcmp(s, "--seed") == 0) {
			if (parse_u64(s, argv[++a], 0, UINT64_MAX, &seed) != 0)
				return 2;
		} else if (strcmp(s, "--out") == 0) {
			out = argv[++a];
		} else if (strcmp(s, "--columns") == 0) {
			a++;
			if (strcmp(argv[a], "scan") == 0)
				e2e = 0;
			else if (strcmp(argv[a], "e2e") == 0)
				e2e = 1;
			else {
				fprintf(stderr, "%s: --columns must be scan or e2e\n", prog);
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (rows == 0 || out == NULL) {
		usage(stderr);
		return 2;
	}
	if (strcmp(out, "-") == 0) {
		f = stdout;
	} else if ((f = fopen(out, "w")) == NULL) {
		fprintf(stderr, "%s: cannot create %s: %s\n", prog, out, strerror(errno));
		return 1;
	}
	rng_state = seed;
	fputs(e2e ? "id,email,phone,name,card,country,notes\n" :
	    "id,email,phone,name,card,iban,ip,signup_date,country,notes\n", f);
	for (i = 1; i <= rows; i++)
		put_row(f, i, e2e);
	if (fflush(f) != 0 || ferror(f) || (f != stdout && fclose(f) != 0)) {
		fprintf(stderr, "%s: cannot write %s: %s\n", prog, out, strerror(errno));
		return 1;
	}
	return 0;
}
