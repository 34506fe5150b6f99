/*
 * fuzz_witness_line.c - libFuzzer target for audit_checkpoint_parse, the
 * parser of witness lines (audit_checkpoint.h), which pii-audit verify and
 * verify-proof read from files and proofs that anyone may have written.
 *
 * Each input is given whole, from an exact heap block (so a read past its
 * end shows under ASan).  If it parses, the line is canonical:
 *  - audit_checkpoint_format must succeed and give the input back byte for
 *    byte (with the newline added if the input had none): there is one
 *    line per checkpoint;
 *  - that line must parse again to the identical struct (memcmp).
 * A refusal must be PII_ERR_BAD_REQUEST and leave the output untouched.
 * Anything else aborts.
 *
 * (libsodium 1.0.18's sodium_base642bin decodes every byte 0x80-0xff as '/';
 * this target found the parser accepting such lines, which it now refuses:
 * the seed high-byte-in-signature keeps that case.)
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../audit/audit_checkpoint.h"
#include "../../common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_witness_line: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct audit_checkpoint cp, again, sentinel;
	char line[AUDIT_WITNESS_LINE_MAX];
	char *copy;
	size_t n, want;
	int r;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	memset(&sentinel, 0x5a, sizeof(sentinel));
	/* Zeroed first, so that struct padding compares equal below. */
	memset(&cp, 0, sizeof(cp));
	r = audit_checkpoint_parse(copy, size, &cp);
	if (r != 0) {
		if (r != PII_ERR_BAD_REQUEST)
			die("parse: unexpected error code");
		memcpy(&cp, &sentinel, sizeof(cp));
		if (audit_checkpoint_parse(copy, size, &cp) == 0 ||
		    memcmp(&cp, &sentinel, sizeof(cp)) != 0)
			die("parse: refused, but wrote its output");
		free(copy);
		return 0;
	}
	if (memchr(cp.origin, '\0', sizeof(cp.origin)) == NULL ||
	    memchr(cp.key_id, '\0', sizeof(cp.key_id)) == NULL ||
	    !audit_origin_ok(cp.origin))
		die("parse: accepted a line, gave a malformed struct");

	memset(line, 0x5a, sizeof(line));
	if (audit_checkpoint_format(&cp, line, sizeof(line)) != 0)
		die("format failed on a parsed checkpoint");
	if ((n = strnlen(line, sizeof(line))) == sizeof(line))
		die("format: line not NUL-terminated");
	want = size > 0 && copy[size - 1] == '\n' ? size : size + 1;
	if ((n != want || memcmp(line, copy, size < n ? size : n) != 0 ||
	    line[n - 1] != '\n'))
		die("format does not give the parsed line back: the parser "
		    "accepts a non-canonical line");

	memset(&again, 0, sizeof(again));
	if (audit_checkpoint_parse(line, n, &again) != 0)
		die("parse refuses a line that format made");
	if (memcmp(&again, &cp, sizeof(cp)) != 0)
		die("parse(format(cp)) differs from cp");
	free(copy);
	return 0;
}
