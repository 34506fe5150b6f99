#!/usr/bin/python3
"""tagger_peer.py - the Python peer of `pii-tag run` (bench/bench_tagger.sh).

    /usr/bin/python3 bench/tagger_peer.py --prefix P --source NAME
        [--batch N] [--schema-name bench_py] IN OUT

What a data engineer would write in Python in place of the tagger and the
vault, in one process, with Debian's packages only (python3-cryptography,
python3-psycopg):

  * reads IN (CSV from bench_tagdata --columns e2e) with the csv module;
    column "id" is the subject, "email", "phone", "name" and "card" are PII,
    every other column passes through;
  * per value: normalizes it as the vault does (email lowercased, phone to
    E.164 with the dev setup's default country code 82, card without
    separators, name with runs of whitespace squeezed), computes its token
    tok_<category>_v1_<base32 of HMAC-SHA256(token key, category 0x00
    value)[0:16]> (hmac module), and seals it with AES-256-GCM (AESGCM from
    cryptography) under the subject's key: 0x01 || nonce(12) || ciphertext
    || tag, with the vault's associated data;
  * per subject (every row is a new subject): the subject token (HMAC of
    P<id>), a random 32-byte key, wrapped with AES-256-GCM under a key-
    encryption key: 0x01 || nonce(24) || ciphertext || tag, 73 bytes like the
    vault's wrapped DEK;
  * per --batch rows (default 1000, the tagger's batch): one transaction
    with three COPY ... FROM STDIN (text format, bytea as \\x hex) through
    psycopg 3 into <schema>.subjects, <schema>.subject_keys and
    <schema>.pii_values, tables made LIKE the vault's (INCLUDING ALL: same
    columns, defaults, CHECKs, primary keys, unique constraints, indexes);
    ids are assigned here, so no sequence;
  * writes OUT as the tagger does: the same rows with the subject and PII
    values replaced by their tokens (csv module).

It does not look subjects up, write a batch record or an audit record,
talk HTTPS or JSON, or check untagged columns; the tagger and the vault do.
Random bytes (keys, nonces) are drawn once per batch.  The schema
<schema-name> is created first (dropped if it exists) and dropped at the end,
in the database of PIIV_PG.

Prints one line:
    python: R rows, V values  X rows/s  Y values/s  (T s)
The time runs from opening IN to the last commit and OUT closed.
"""
import argparse
import csv
import hmac
import os
import sys
import time

try:
    import psycopg
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
except ImportError as e:  # pragma: no cover - reported by the caller
    sys.stderr.write("tagger_peer.py: %s (install python3-psycopg and "
                     "python3-cryptography)\n" % e)
    sys.exit(3)

PII = ("email", "phone", "name", "card")
COUNTRY_CODE = "82"          # scripts/dev-up's phone_default_country_code


def norm_email(v):
    return v.strip().lower()


def norm_phone(v):
    d = v.strip()
    for c in " -.()":
        d = d.replace(c, "")
    if d.startswith("+"):
        return d
    if d.startswith("00"):
        return "+" + d[2:]
    if d.startswith("0"):
        return "+" + COUNTRY_CODE + d[1:]
    return "+" + COUNTRY_CODE + d


def norm_name(v):
    return " ".join(v.split())


def norm_card(v):
    return v.strip().replace(" ", "").replace("-", "")


NORM = {"email": norm_email, "phone": norm_phone, "name": norm_name,
        "card": norm_card}

# RFC 4648 base32, lowercase, of 16 bytes: 26 characters, 10 bits (two
# characters) per table lookup.  base64.b32encode is pure Python and took
# a third of the peer's time.
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_B32_PAIRS = [_B32[i >> 5] + _B32[i & 31] for i in range(1024)]
_B32_SHIFTS = tuple(range(120, -1, -10))


def b32_16(d):
    n = int.from_bytes(d, "big") << 2          # 128 bits padded to 130
    return "".join([_B32_PAIRS[(n >> s) & 1023] for s in _B32_SHIFTS])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prefix", required=True, help="subject prefix")
    ap.add_argument("--source", required=True, help="dataset name stored per value")
    ap.add_argument("--batch", type=int, default=1000, help="rows per transaction")
    ap.add_argument("--schema-name", default="bench_py",
                    help="PostgreSQL schema for the tables (created, then dropped)")
    ap.add_argument("input")
    ap.add_argument("output")
    a = ap.parse_args()
    if not a.schema_name.isidentifier() or not a.schema_name.islower():
        ap.error("--schema-name must be a lowercase identifier")
    if a.batch < 1:
        ap.error("--batch must be >= 1")
    conninfo = os.environ.get("PIIV_PG")
    if not conninfo:
        sys.stderr.write("tagger_peer.py: PIIV_PG must be set (. DIR/env)\n")
        return 1

    sch = a.schema_name
    conn = psycopg.connect(conninfo)
    try:
        with conn.cursor() as cur:
            cur.execute("SET client_min_messages = warning")
            cur.execute("DROP SCHEMA IF EXISTS %s CASCADE" % sch)
            cur.execute("CREATE SCHEMA %s" % sch)
            cur.execute("CREATE TABLE %s.subjects (LIKE public.subjects INCLUDING ALL)" % sch)
            cur.execute("ALTER TABLE %s.subjects ALTER COLUMN id DROP DEFAULT" % sch)
            cur.execute("CREATE TABLE %s.subject_keys (LIKE public.subject_keys INCLUDING ALL)" % sch)
            cur.execute("CREATE TABLE %s.pii_values (LIKE public.pii_values INCLUDING ALL)" % sch)
        conn.commit()
        rows, values, secs = run(conn, a, sch)
    finally:
        try:
            conn.rollback()
            with conn.cursor() as cur:
                cur.execute("DROP SCHEMA IF EXISTS %s CASCADE" % sch)
            conn.commit()
        finally:
            conn.close()
    print("python: %d rows, %d values  %.0f rows/s  %.0f values/s  (%.2f s)"
          % (rows, values, rows / secs, values / secs, secs))
    return 0


def run(conn, a, sch):
    token_key = os.urandom(32)
    kek = AESGCM(os.urandom(32))
    digest = hmac.digest
    source = a.source
    prefix = a.prefix
    copy_subjects = "COPY %s.subjects (id, subject_token) FROM STDIN" % sch
    copy_keys = "COPY %s.subject_keys (subject_id, kek_epoch, wrapped_dek) FROM STDIN" % sch
    copy_values = ("COPY %s.pii_values (token, subject_id, category, ciphertext, source)"
                   " FROM STDIN" % sch)
    epoch = (1).to_bytes(4, "big")

    def token(cat, value):
        return "tok_%s_v1_%s" % (cat, b32_16(digest(token_key, cat.encode() + b"\0" + value,
                                                    "sha256")[:16]))

    t0 = time.monotonic()
    rows = values = 0
    next_id = 1
    with open(a.input, newline="", encoding="utf-8") as fin, \
            open(a.output, "w", newline="", encoding="utf-8") as fout:
        rd = csv.reader(fin)
        wr = csv.writer(fout, lineterminator="\n")
        header = next(rd)
        wr.writerow(header)
        sidx = header.index("id")
        pii = [(header.index(c), c, c.encode(), NORM[c]) for c in PII]
        batch = []
        for row in rd:
            batch.append(row)
            if len(batch) == a.batch:
                values += flush(conn, batch, wr, sidx, pii, next_id, token, kek, epoch,
                                prefix, source, copy_subjects, copy_keys, copy_values)
                next_id += len(batch)
                rows += len(batch)
                batch = []
        if batch:
            values += flush(conn, batch, wr, sidx, pii, next_id, token, kek, epoch,
                            prefix, source, copy_subjects, copy_keys, copy_values)
            rows += len(batch)
    return rows, values, time.monotonic() - t0


def flush(conn, batch, wr, sidx, pii, first_id, token, kek, epoch, prefix, source,
          copy_subjects, copy_keys, copy_values):
    n = len(batch)
    rnd = os.urandom(n * (32 + 24 + 12 * len(pii)))
    ro = 0
    subj_lines, key_lines, val_lines = [], [], []
    nvalues = 0
    for i, row in enumerate(batch):
        sid = first_id + i
        st = token("subject", (prefix + row[sidx].strip()).encode())
        stb = st.encode()
        dek = rnd[ro:ro + 32]
        ro += 32
        n24 = rnd[ro:ro + 24]
        ro += 24
        wrapped = b"\x01" + n24 + kek.encrypt(n24, dek, b"piiv-dek\0" + stb + b"\0" + epoch)
        aead = AESGCM(dek)
        subj_lines.append("%d\t%s\n" % (sid, st))
        key_lines.append("%d\t1\t\\\\x%s\n" % (sid, wrapped.hex()))
        row[sidx] = st
        for col, cat, catb, norm in pii:
            v = norm(row[col]).encode()
            t = token(cat, v)
            n12 = rnd[ro:ro + 12]
            ro += 12
            ad = b"piiv-val\0" + stb + b"\0" + catb + b"\0" + t.encode() + b"\0\x01"
            ct = b"\x01" + n12 + aead.encrypt(n12, v, ad)
            val_lines.append("%s\t%d\t%s\t\\\\x%s\t%s\n" % (t, sid, cat, ct.hex(), source))
            row[col] = t
            nvalues += 1
    with conn.cursor() as cur:
        with cur.copy(copy_subjects) as cp:
            cp.write("".join(subj_lines))
        with cur.copy(copy_keys) as cp:
            cp.write("".join(key_lines))
        with cur.copy(copy_values) as cp:
            cp.write("".join(val_lines))
    conn.commit()
    wr.writerows(batch)
    return nvalues


if __name__ == "__main__":
    sys.exit(main())
