/*
 * fuzz_copy_row.c - libFuzzer target for audit_copy_row_parse, the parser
 * of the binary COPY rows pii-audit verify reads from the audit database
 * (whose administrator is one of the parties verify checks).
 *
 * Each input is one row message, given from an exact heap block.  A parsed
 * row must describe exactly the input: every field inside it, NUL-terminated
 * copies of the right length; a refusal must be PII_ERR_BAD_REQUEST.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../audit/audit_verify.h"
#include "../../common/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
die(const char *what)
{
	fprintf(stderr, "fuzz_copy_row: %s\n", what);
	abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char scratch[AUDIT_COPY_SCRATCH];
	struct audit_copy_row rw;
	size_t total = 2, i;
	char *copy;
	int r;

	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	if (size > 0)
		memcpy(copy, data, size);
	r = audit_copy_row_parse(copy, size, &rw, scratch, sizeof(scratch));
	if (r != 0 && r != PII_ERR_BAD_REQUEST)
		die("unexpected error code");
	if (r == 0) {
		for (i = 0; i < AUDIT_COPY_FIELDS; i++) {
			total += 4;
			if (rw.v[i] == NULL)
				continue;
			if (rw.v[i] < scratch || rw.v[i] + rw.len[i] >=
			    scratch + sizeof(scratch) || rw.v[i][rw.len[i]] != '\0')
				die("a field is not a terminated copy in scratch");
			if (memcmp(rw.v[i], copy + total, rw.len[i]) != 0)
				die("a field differs from the input");
			total += rw.len[i];
		}
		if (total != size)
			die("accepted a row with bytes left over");
	}
	free(copy);
	return 0;
}
