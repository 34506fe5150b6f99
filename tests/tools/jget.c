/*
 * jget.c - print the value at a dotted path of the JSON document on stdin.
 *
 * The integration suites are shell scripts and jansson has no command line,
 * so this is their JSON reader:
 *
 *   jget error.code < body.json            unauthenticated
 *   jget records.0.fields.email < body     tok_email_v1_...
 *   jget records.# < body                  the number of records
 *   jget . < body                          the whole document, compact
 *
 * A segment that is a decimal number indexes an array; "#" as the last
 * segment gives the size of an array or object.  Strings print raw (no
 * quotes, no escapes), numbers, true, false and null as JSON literals,
 * objects and arrays as compact JSON; a newline follows.  Exit 1 when stdin
 * is not JSON (duplicate keys rejected) or the path does not exist, 2 on a
 * usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

static int
usage(void)
{
	fprintf(stderr, "usage: jget PATH < JSON   (PATH like error.code, records.0.fields.email, records.#, .)\n");
	return 2;
}

/* index_of: SEG as an array index, or -1 if it is not a plain decimal number. */
static long long
index_of(const char *seg)
{
	char *end;
	long long n;

	if (seg[0] < '0' || seg[0] > '9')
		return -1;
	errno = 0;
	n = strtoll(seg, &end, 10);
	if (errno != 0 || *end != '\0' || n < 0)
		return -1;
	return n;
}

static int
print_value(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		if (fwrite(json_string_value(v), 1, json_string_length(v), stdout) != json_string_length(v))
			return -1;
		break;
	case JSON_INTEGER:
		printf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		printf("%.17g", json_real_value(v));
		break;
	default:
		if (json_dumpf(v, stdout, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
			return -1;
		break;
	}
	putchar('\n');
	return fflush(stdout) == 0 ? 0 : -1;
}

int
main(int argc, char **argv)
{
	json_error_t jerr;
	json_t *root = NULL;
	const json_t *v;
	char *path = NULL, *seg, *save = NULL;
	long long i;
	int r = 1;

	if (argc != 2)
		return usage();
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		usage();
		return 0;
	}
	root = json_loadf(stdin, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		fprintf(stderr, "jget: invalid JSON on stdin: %s (line %d)\n", jerr.text, jerr.line);
		goto out;
	}
	if ((path = strdup(argv[1])) == NULL) {
		fprintf(stderr, "jget: out of memory\n");
		goto out;
	}
	v = root;
	for (seg = strtok_r(path, ".", &save); seg != NULL; seg = strtok_r(NULL, ".", &save)) {
		if (strcmp(seg, "#") == 0) {
			if (strtok_r(NULL, ".", &save) != NULL) {
				fprintf(stderr, "jget: '#' must be the last segment of %s\n", argv[1]);
				goto out;
			}
			if (json_is_array(v))
				printf("%zu\n", json_array_size(v));
			else if (json_is_object(v))
				printf("%zu\n", json_object_size(v));
			else {
				fprintf(stderr, "jget: %s: not an array or object\n", argv[1]);
				goto out;
			}
			r = fflush(stdout) == 0 ? 0 : 1;
			goto out;
		}
		if (json_is_object(v))
			v = json_object_get(v, seg);
		else if (json_is_array(v) && (i = index_of(seg)) >= 0)
			v = json_array_get(v, (size_t)i);
		else
			v = NULL;
		if (v == NULL) {
			fprintf(stderr, "jget: %s: no such path (at '%s')\n", argv[1], seg);
			goto out;
		}
	}
	if (print_value(v) != 0) {
		fprintf(stderr, "jget: write error\n");
		goto out;
	}
	r = 0;
out:
	free(path);
	json_decref(root);
	return r;
}
