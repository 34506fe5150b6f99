/*
 * bench_verify.c - pii-audit verify speed over N audit records.
 *
 * Writes N (default 1,000,000) realistic records of one writer, with their
 * leaf hashes and a signed checkpoint every 1000 records (as the vault's
 * appender would), into the audit database by COPY; then times
 * audit_verify() over the whole database (every writer) against the peer: a
 * raw read of the same rows with the same query, read the way verify reads
 * them (one binary COPY of the table) and nothing else.  Prints records/s of both and the
 * ratio; the target is >= 500,000 records/s.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sodium.h>

#include "../audit/audit_checkpoint.h"
#include "../audit/audit_merkle.h"
#include "../audit/audit_record.h"
#include "../audit/audit_verify.h"
#include "../common/buf.h"
#include "../common/keyfile.h"
#include "bench_util.h"

static const char *prog = "bench_verify";

static int
exec_ok(PGconn *c, const char *sql)
{
	PGresult *r = PQexecParams(c, sql, 0, NULL, NULL, NULL, NULL, 0);
	int ok = PQresultStatus(r) == PGRES_COMMAND_OK;

	if (!ok)
		fprintf(stderr, "%s: %s", prog, PQerrorMessage(c));
	PQclear(r);
	return ok ? 0 : -1;
}

static int
copy_out(PGconn *c, struct pii_buf *b)
{
	if (b->len > 0 && PQputCopyData(c, b->data, (int)b->len) != 1)
		return -1;
	pii_buf_reset(b);
	return 0;
}

static int
store_checkpoint(PGconn *c, const struct audit_checkpoint *cp)
{
	char size[24], at[24], root[65], sig[129];
	const char *p[6];
	PGresult *r;
	int ok;

	snprintf(size, sizeof(size), "%" PRIu64, cp->size);
	snprintf(at, sizeof(at), "%" PRId64, cp->at_us);
	sodium_bin2hex(root, sizeof(root), cp->root, 32);
	sodium_bin2hex(sig, sizeof(sig), cp->sig, 64);
	p[0] = cp->origin;
	p[1] = size;
	p[2] = root;
	p[3] = at;
	p[4] = cp->key_id;
	p[5] = sig;
	r = PQexecParams(c, "INSERT INTO audit_checkpoints (writer, size, root,"
	    " at_us, key_id, signature) VALUES ($1, $2::bigint, decode($3, 'hex'),"
	    " $4::bigint, $5, decode($6, 'hex'))", 6, NULL, p, NULL, NULL, 0);
	ok = PQresultStatus(r) == PGRES_COMMAND_OK;
	PQclear(r);
	return ok ? 0 : -1;
}

int
main(int argc, char **argv)
{
	static const char *const cats[] = { "email", "phone" };
	struct audit_merkle_range rg;
	struct audit_signer *signer = NULL;
	struct audit_pubkey pub[2];
	struct audit_verify_opts vo;
	struct audit_verify_result res;
	struct pii_errinfo ei;
	struct pii_buf b;
	unsigned char enc[4096], leaf[32];
	char origin[AUDIT_ORIGIN_MAX], keydir[64];
	char keyf[256], pubf[300], line[320];
	const char *conninfo = getenv("PIIV_AUDIT_PG");
	long long n = 1000000, i, raw_rows = 0;
	int keep_key = 0;
	double t0, tv, tr;
	PGconn *c;
	PGresult *q;
	int64_t base_us = 1795000000000000LL;

	if (argc == 3 && strcmp(argv[1], "--records") == 0)
		n = strtoll(argv[2], NULL, 10);
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [--records N]   (needs PIIV_AUDIT_PG, "
		    "the audit database as its owner)\n", prog);
		return 2;
	}
	if (n < 1000 || n > 100000000 || conninfo == NULL) {
		fprintf(stderr, "%s: --records 1000..100000000 and PIIV_AUDIT_PG "
		    "needed\n", prog);
		return 2;
	}
	if (sodium_init() < 0)
		return 1;
	/* one key per setup (PIIV_DIR), so that earlier runs' records, which
	 * stay (the tables are append-only), still verify */
	if (getenv("PIIV_DIR") != NULL) {
		snprintf(keyf, sizeof(keyf), "%s/keys/bench-verify.key",
		    getenv("PIIV_DIR"));
		keep_key = 1;
	} else {
		(void)pii_temp_template(keydir, sizeof(keydir), "/tmp/bench_verify.");
		if (mkdtemp(keydir) == NULL)
			return 1;
		snprintf(keyf, sizeof(keyf), "%s/k", keydir);
	}
	snprintf(pubf, sizeof(pubf), "%s.pub", keyf);
	pii_errinfo_clear(&ei);
	if ((access(keyf, F_OK) != 0 &&
	    audit_signer_generate(keyf, pubf, &ei) != 0) ||
	    audit_signer_load(keyf, &signer, &ei) != 0 ||
	    audit_pubkey_load(pubf, &pub[0], &ei) != 0) {
		fprintf(stderr, "%s: %s\n", prog, ei.message);
		return 1;
	}
	c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "%s: %s", prog, PQerrorMessage(c));
		return 1;
	}
	snprintf(origin, sizeof(origin), "bench-verify/%ld/1", (long)getpid());

	/* ---- write the log --------------------------------------------- */
	printf("bench_verify: writing %lld records of %s (a signed checkpoint "
	    "every 1000)\n", n, origin);
	fflush(stdout);
	audit_merkle_range_init(&rg);
	pii_buf_init(&b, (size_t)1 << 30);
	if (exec_ok(c, "BEGIN") != 0)
		return 1;
	q = PQexec(c, "COPY audit_records (writer, seq, at, actor, role,"
	    " on_behalf_of, purpose, ticket, action, subject_token, categories,"
	    " decision, reason, request_id, source, batch_id, count, leaf)"
	    " FROM STDIN");
	if (PQresultStatus(q) != PGRES_COPY_IN) {
		fprintf(stderr, "%s: %s", prog, PQerrorMessage(c));
		return 1;
	}
	PQclear(q);
	for (i = 0; i < n; i++) {
		char subj[64], rid[32], ticket[32], who[32], at[64];
		struct audit_record rec;
		struct audit_position pos;
		struct tm tm;
		time_t s;
		size_t len;
		int64_t us = base_us + i * 1000;

		snprintf(subj, sizeof(subj), "tok_subject_v1_%026lld", i % 200000);
		snprintf(rid, sizeof(rid), "req-%016llx", i * 2654435761LL);
		snprintf(ticket, sizeof(ticket), "CS-%lld", i % 50000);
		snprintf(who, sizeof(who), "agent%lld@corp", i % 300);
		memset(&rec, 0, sizeof(rec));
		rec.actor = "proxy";
		rec.role = "cs_agent";
		rec.on_behalf_of = who;
		rec.purpose = "support";
		rec.ticket = ticket;
		rec.action = "reveal";
		rec.subject_token = subj;
		rec.categories = cats;
		rec.ncategories = 2;
		rec.decision = "allow";
		rec.reason = "ok";
		rec.request_id = rid;
		rec.count = 2;
		pos.origin = origin;
		pos.seq = (uint64_t)i;
		pos.at_us = us;
		if (audit_record_encode(&pos, &rec, enc, sizeof(enc), &len) != 0)
			return 1;
		audit_merkle_leaf_hash(enc, len, leaf);
		if (audit_merkle_range_append(&rg, leaf) != 0)
			return 1;
		s = (time_t)(us / 1000000);
		gmtime_r(&s, &tm);
		snprintf(at, sizeof(at), "%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)(us % 1000000));
		snprintf(line, sizeof(line), "%s\t%lld\t%s\t", origin, i, at);
		pii_buf_puts(&b, line);
		pii_buf_puts(&b, "proxy\tcs_agent\t");
		pii_buf_puts(&b, who);
		pii_buf_puts(&b, "\tsupport\t");
		pii_buf_puts(&b, ticket);
		pii_buf_puts(&b, "\treveal\t");
		pii_buf_puts(&b, subj);
		pii_buf_puts(&b, "\t{email,phone}\tallow\tok\t");
		pii_buf_puts(&b, rid);
		pii_buf_puts(&b, "\t\\N\t\\N\t2\t\\\\x");
		pii_buf_hex(&b, leaf, 32);
		pii_buf_putc(&b, '\n');
		if (b.len > (1 << 20) && copy_out(c, &b) != 0)
			return 1;
	}
	if (copy_out(c, &b) != 0 || PQputCopyEnd(c, NULL) != 1)
		return 1;
	q = PQgetResult(c);
	if (PQresultStatus(q) != PGRES_COMMAND_OK) {
		fprintf(stderr, "%s: COPY: %s", prog, PQerrorMessage(c));
		return 1;
	}
	PQclear(q);
	while ((q = PQgetResult(c)) != NULL)
		PQclear(q);
	/* checkpoints every 1000 records: recompute their roots from a fresh
	 * range over the same leaves is what the writer does; here the range
	 * is replayed from the stored leaves to sign each size */
	{
		struct audit_merkle_range r2;
		const char *p[1] = { origin };
		long long k;

		audit_merkle_range_init(&r2);
		q = PQexecParams(c, "SELECT leaf FROM audit_records WHERE writer = $1"
		    " ORDER BY seq", 1, NULL, p, NULL, NULL, 1);
		if (PQresultStatus(q) != PGRES_TUPLES_OK || PQntuples(q) != n) {
			fprintf(stderr, "%s: reading leaves back failed\n", prog);
			return 1;
		}
		for (k = 0; k < n; k++) {
			if (audit_merkle_range_append(&r2,
			    (const unsigned char *)PQgetvalue(q, (int)k, 0)) != 0)
				return 1;
			if ((k + 1) % 1000 == 0 || k + 1 == n) {
				struct audit_checkpoint cp;

				memset(&cp, 0, sizeof(cp));
				snprintf(cp.origin, sizeof(cp.origin), "%s", origin);
				cp.size = (uint64_t)(k + 1);
				audit_merkle_range_root(&r2, cp.root);
				cp.at_us = base_us + k * 1000 + 1;
				if (audit_checkpoint_sign(signer, &cp) != 0 ||
				    store_checkpoint(c, &cp) != 0)
					return 1;
			}
		}
		PQclear(q);
	}
	if (exec_ok(c, "COMMIT") != 0)
		return 1;
	exec_ok(c, "ANALYZE audit_records");

	/* ---- peer: the same rows, read the way verify reads them (one binary
	 * COPY of the table), and dropped ---------------------------------------- */
	{
		long long rows = 0;
		char *buf;
		int k;

		t0 = now_s();
		q = PQexec(c, "COPY (SELECT seq, at, actor, role, on_behalf_of,"
		    " purpose, ticket, action, subject_token,"
		    " array_to_string(categories, ','), cardinality(categories)::int8,"
		    " decision, reason, request_id, source, batch_id, count, leaf,"
		    " writer FROM audit_records) TO STDOUT WITH (FORMAT binary)");
		if (PQresultStatus(q) != PGRES_COPY_OUT)
			return 1;
		PQclear(q);
		while ((k = PQgetCopyData(c, &buf, 0)) > 0) {
			/* the header (19 bytes) may come alone or with the first
			 * row; the trailer is 2 bytes */
			if (k > 19 || (k > 2 && memcmp(buf, "PGCOPY", 6) != 0))
				rows++;
			PQfreemem(buf);
		}
		while ((q = PQgetResult(c)) != NULL)
			PQclear(q);
		tr = now_s() - t0;
		if (rows < n) {
			fprintf(stderr, "%s: raw read saw %lld rows\n", prog, rows);
			return 1;
		}
		raw_rows = rows;
	}

	/* ---- verify ------------------------------------------------------------ */
	memset(&vo, 0, sizeof(vo));
	vo.keys = pub;
	vo.nkeys = 1;
	/* the dev vault's own records are signed with its key */
	if (getenv("PIIV_AUDIT_PUBKEY") != NULL &&
	    audit_pubkey_load(getenv("PIIV_AUDIT_PUBKEY"), &pub[1], &ei) == 0)
		vo.nkeys = 2;
	t0 = now_s();
	if (audit_verify(c, &vo, &res, &ei) != 0) {
		fprintf(stderr, "%s: verify could not run: %s\n", prog, ei.message);
		return 1;
	}
	tv = now_s() - t0;
	if (!res.ok) {
		fprintf(stderr, "%s: verify failed: writer %s: %s\n", prog,
		    res.writer, res.what);
		return 1;
	}
	printf("verify:   %llu records in %.2f s  %8.0f records/s  (target >= "
	    "500000)\n", res.records, tv, (double)res.records / tv);
	printf("raw read: %lld records in %.2f s  %8.0f records/s  (the same "
	    "COPY, no checks)\n", raw_rows, tr, (double)raw_rows / tr);
	printf("verify/raw-read ratio: %.2f\n", ((double)res.records / tv) /
	    ((double)raw_rows / tr));

	/* the bench writer's rows stay: the audit tables are append-only */
	audit_signer_free(signer);
	if (!keep_key) {
		unlink(keyf);
		unlink(pubf);
		rmdir(keydir);
	}
	pii_buf_free(&b);
	PQfinish(c);
	return 0;
}
