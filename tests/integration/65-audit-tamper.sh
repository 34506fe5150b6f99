#!/usr/bin/env bash
# 65-audit-tamper.sh - a tamper corpus for the audit log: an extra vault with
# its own writer writes ~40 records with a checkpoint every 5; the audit
# database is copied (witness first, then pg_dump), and every case below is
# applied to a fresh copy of that copy, as a superuser with the append-only
# triggers off, as a DBA or an intruder would.  `pii-audit verify` must
# refuse each one naming the writer and, for records, the first bad
# sequence number; the untouched copy must verify.
#
# Records: a changed byte, a changed time, a deleted record, two records
# swapped, a repeated record, a record inserted by shifting the rest, and
# (with leaf hashes recomputed, as anyone can: the hash holds no secret) a
# changed, a deleted-and-renumbered and an inserted record, which only the
# signed checkpoints catch.  The tail truncated, the table replaced by an
# older copy, and a whole origin deleted, which only the witness catches.
# Checkpoints: signed by an untrusted key (in the database, in the witness,
# or all of them for the verifier), a bad signature, two of one size with
# different roots and a shrinking log, both signed with the real key as a
# stolen key could (with tests/tools/audit_sign), and malformed witness
# lines.
#
# Then the live tables: the owner's UPDATE, DELETE and TRUNCATE are refused
# by the triggers, the vault's writer role may not read or change them, and
# the vault still appends.  The live database and witness are never changed:
# everything that could change them runs in a transaction rolled back.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

R=${RANDOM}${RANDOM}
SIGN=${O:-build}/tools/audit_sign
AUDIT=$PIIV_BIN/pii-audit
SIGNING_KEY=$PIIV_DIR/keys/audit-signing.key
PRISTINE=piiv_audit_t$R
W=$T/witness                  # the witness as it was when the copy was taken
DBS=()                        # every database this suite creates
CASE=

# super DB / owner DB: conninfo of the superuser / of the audit owner for DB
super() { printf '%s' "${PIIV_PG_SUPER/dbname=postgres/dbname=$1}"; }
owner() { printf '%s' "${PIIV_AUDIT_PG/dbname=piiv_audit/dbname=$1}"; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }

cleanup() {
	local db
	vault_stop
	for db in "${DBS[@]}"; do
		psql -X -q "$PIIV_PG_SUPER" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
			echo "# could not drop database $db"
	done
	rm -rf "$T"
}
trap cleanup EXIT

[[ -x $SIGN ]] || { fail "tests/tools/audit_sign is built" "$SIGN missing (make all)"; exit 1; }

# ---- an extra vault with its own writer and a checkpoint every 5 records ----
vault_config tamper "s/\"writer\": \"vault-dev\",/\"writer\": \"tamper-$R\", \"audit_checkpoint_records\": 5,/"
grep -q "\"writer\": \"tamper-$R\", \"audit_checkpoint_records\": 5," "$T/tamper.json" ||
	{ fail "tamper vault config" "the sed edit did not apply"; exit 1; }
vault_start tamper || { fail "tamper vault started"; exit 1; }

# tpost ROLE PATH BODY: POST to the tamper vault; the status on stdout, the
# body in $T/tp.json
tpost() {
	vault_curl "$1" -o "$T/tp.json" -w '%{http_code}' -X POST "$VURL/$2" --data-binary "$3" 2>/dev/null
}
sent=0 good=0
toks=()
for i in $(seq 1 14); do
	st=$(tpost tagger v1/tokenize "{\"source\":\"tamper.test\",\"batch_id\":\"tamper-$R-$i\",\"records\":[{\"subject\":\"user:tamper-$R-$i\",\"fields\":{\"email\":\"tamper-$R-$i@example.com\"}}]}")
	sent=$((sent + 1))
	[[ $st == 200 ]] && good=$((good + 1))
	toks[i]=$(json_get records.0.fields.email "$T/tp.json" 2>/dev/null)
done
for i in $(seq 1 13); do
	ctx="\"context\":{\"on_behalf_of\":\"kim@corp\",\"role\":\"cs_agent\",\"purpose\":\"support\",\"ticket\":\"CS-65\",\"request_id\":\"tamper-$R-rv-$i\"}"
	st=$(tpost proxy v1/reveal "{\"subject\":\"user:tamper-$R-$i\",\"categories\":[\"email\"],$ctx}")
	sent=$((sent + 1))
	[[ $st == 200 ]] && good=$((good + 1))
	ctx=${ctx/-rv-/-dt-}
	st=$(tpost proxy v1/detokenize "{\"tokens\":[\"${toks[i]:-}\"],$ctx}")
	sent=$((sent + 1))
	[[ $st == 200 ]] && good=$((good + 1))
done
expect_eq "tamper vault: $sent audited requests answered 200" "$good" "$sent"
vault_stop # a last checkpoint, published

origin=$(q "$PIIV_AUDIT_PG" -c "select distinct writer from audit_records where writer like 'tamper-$R/%'")
if [[ $origin =~ ^tamper-$R/[A-Za-z0-9._:-]+/[0-9]+$ ]]; then
	ok "tamper vault: one origin ($origin)"
else
	fail "tamper vault: one origin" "got '$origin'"
	exit 1
fi
WO="writer = '$origin'"

# ---- the pristine copy: the witness first, then the database ----------------
mkdir -p "$W"
cp "$PIIV_WITNESS/checkpoints" "$W/checkpoints"
DBS+=("$PRISTINE")
if pg_dump --no-password -d "$(super piiv_audit)" >"$T/audit.sql" 2>"$T/dump.err" &&
	q "$PIIV_PG_SUPER" -c "CREATE DATABASE $PRISTINE" >"$T/restore.err" 2>&1 &&
	q -d "$(super "$PRISTINE")" -f "$T/audit.sql" >>"$T/restore.err" 2>&1; then
	ok "pristine copy: pg_dump of piiv_audit loaded into $PRISTINE"
else
	fail "pristine copy" "$(head -c 400 "$T/dump.err" "$T/restore.err")"
	exit 1
fi

out=$("$AUDIT" verify --db "$(owner "$PRISTINE")" --witness "$W" --pubkey "$PIIV_AUDIT_PUBKEY" 2>&1)
rc=$?
echo "# pristine: $out"
if ((rc == 0)) && [[ $out == ok:* ]]; then
	ok "pristine copy verifies with the copied witness"
else
	fail "pristine copy verifies with the copied witness" "exit $rc: $out"
	exit 1
fi

# the origin's log: N records 0..N-1; its checkpoints in the copy and the witness
N=$(q "$(owner "$PRISTINE")" -c "select count(*) from audit_records where $WO")
maxseq=$(q "$(owner "$PRISTINE")" -c "select max(seq) from audit_records where $WO")
db_sizes=$(q "$(owner "$PRISTINE")" -c "select string_agg(size::text, ' ' order by size) from audit_checkpoints where $WO")
w_sizes=$(awk -v o="$origin" '$1 == "checkpoint" && $3 == o { print $4 }' "$W/checkpoints" | sort -n | tr '\n' ' ')
w_sizes=${w_sizes% }
echo "# origin $origin: $N records; checkpoint sizes in the database: $db_sizes; in the witness: $w_sizes"
[[ $N -ge 30 && $maxseq == $((N - 1)) ]] && ok "the origin holds records 0..$((N - 1))" ||
	fail "the origin holds records 0..N-1" "count $N, max seq $maxseq"
L=${w_sizes##* }                     # the last (largest) witnessed size
[[ $L =~ ^[0-9]+$ ]] || { fail "the witness holds checkpoints of the origin" "none"; exit 1; }
expect_eq "the last witnessed checkpoint covers every record (written at stop)" "$L" "$N"
expect_eq "the witness holds the database's checkpoints of the origin" "$w_sizes" "$db_sizes"
# every time stamp of the origin's checkpoints, for forging later ones
max_at=$(q "$(owner "$PRISTINE")" -c "select max(at_us) from audit_checkpoints where $WO")
w_max_at=$(awk -v o="$origin" '$1 == "checkpoint" && $3 == o { print $6 }' "$W/checkpoints" | sort -n | tail -n 1)
((w_max_at > max_at)) && max_at=$w_max_at
wlines=$(wc -l <"$W/checkpoints")

k=7
# lo: the checkpoint below k (0 if none), hi: the first one above k; records
# rehashed from k on fail at hi, named from lo
lo=0 hi=
for s in $db_sizes; do
	((s <= k)) && lo=$s
	if ((s > k + 1)) && [[ -z $hi ]]; then hi=$s; fi
done
if [[ -n $hi ]] && ((hi < N - 3)); then
	ok "k=$k lies inside a checkpointed range ($lo..$((hi - 1)))"
else
	fail "k=$k lies inside a checkpointed range" "checkpoint sizes: $db_sizes"
	exit 1
fi

# ---- helpers for the cases ------------------------------------------------------
# The canonical encoding of a record (audit/audit_record.h) and its RFC 6962
# leaf hash, in SQL, for the attacker who recomputes leaves.
LEAF_FN=$(cat <<'SQL'
CREATE FUNCTION pg_temp.enc_str(t text) RETURNS bytea LANGUAGE sql IMMUTABLE AS
 $$ SELECT CASE WHEN t IS NULL THEN '\x00'::bytea
    ELSE '\x01'::bytea || int4send(octet_length(t)) || convert_to(t, 'UTF8') END $$;
CREATE FUNCTION pg_temp.leaf(r audit_records) RETURNS bytea LANGUAGE sql AS
 $$ SELECT sha256('\x00'::bytea || '\x01'::bytea || pg_temp.enc_str(r.writer)
    || int8send(r.seq) || int8send((extract(epoch FROM r.at) * 1000000)::bigint)
    || pg_temp.enc_str(r.actor) || pg_temp.enc_str(r.role)
    || pg_temp.enc_str(r.on_behalf_of) || pg_temp.enc_str(r.purpose)
    || pg_temp.enc_str(r.ticket) || pg_temp.enc_str(r.action)
    || pg_temp.enc_str(r.subject_token)
    || int2send(cardinality(r.categories)::int2)
    || coalesce((SELECT string_agg(pg_temp.enc_str(c), ''::bytea ORDER BY i)
       FROM unnest(r.categories) WITH ORDINALITY AS u(c, i)), ''::bytea)
    || pg_temp.enc_str(r.decision) || pg_temp.enc_str(r.reason)
    || pg_temp.enc_str(r.request_id) || pg_temp.enc_str(r.source)
    || pg_temp.enc_str(r.batch_id) || int8send(r.count)) $$;
SQL
)

# new_case NAME: CASE = a new database copied from the pristine one
new_case() {
	CASE=piiv_tamper_${R}_$1
	DBS+=("$CASE")
	if ! q "$PIIV_PG_SUPER" -c "CREATE DATABASE $CASE TEMPLATE $PRISTINE" >"$T/create.out" 2>&1; then
		fail "case $1: copy the pristine database" "$(head -c 300 "$T/create.out")"
		return 1
	fi
}

# tamper SQL: run SQL in CASE as the superuser, with the triggers off, in
# one transaction; the leaf functions are at hand
tamper() {
	printf 'SET session_replication_role = replica;\n%s\n%s\n' "$LEAF_FN" "$1" |
		psql -X -q -v ON_ERROR_STOP=1 --single-transaction -f - "$(super "$CASE")" >"$T/tamper.out" 2>&1 && return 0
	fail "tampering with $CASE" "$(head -c 400 "$T/tamper.out")"
	return 1
}

drop_case() {
	[[ -n $CASE && $CASE != "$PRISTINE" ]] || return 0
	q "$PIIV_PG_SUPER" -c "DROP DATABASE IF EXISTS $CASE WITH (FORCE)" >/dev/null 2>&1 ||
		fail "drop $CASE"
	CASE=
}

# verify_case WITNESS_DIR [PUBKEY]: run pii-audit verify on CASE; output in
# $VOUT, exit status in $VRC
# verify_case WITNESS_DIR [PUBKEY]: WITNESS_DIR "-" verifies without a witness
verify_case() {
	VRC=0
	if [[ $1 == - ]]; then
		VOUT=$(PIIV_WITNESS= "$AUDIT" verify --db "$(owner "$CASE")" --pubkey "${2:-$PIIV_AUDIT_PUBKEY}" 2>&1) || VRC=$?
	else
		VOUT=$("$AUDIT" verify --db "$(owner "$CASE")" --witness "$1" --pubkey "${2:-$PIIV_AUDIT_PUBKEY}" 2>&1) || VRC=$?
	fi
}

# expect_fail NAME WITNESS_DIR WRITER SEQ TEXT [PUBKEY]: verify CASE exits 1
# with "FAIL writer=WRITER seq=SEQ: ..." (SEQ "-": "FAIL writer=WRITER: ...")
# and the output holds TEXT
expect_fail() {
	local name=$1 wdir=$2 writer=$3 seq=$4 text=$5 want
	verify_case "$wdir" "${6:-}"
	echo "# $name: $VOUT"
	if [[ $seq == - ]]; then want="FAIL writer=$writer: "; else want="FAIL writer=$writer seq=$seq: "; fi
	if ((VRC != 1)); then
		fail "$name: verify fails" "exit $VRC, want 1: $VOUT"
	elif [[ $VOUT != "$want"* ]]; then
		fail "$name: verify names the writer and sequence number" "got '$VOUT', want '$want...'"
	elif [[ $VOUT != *"$text"* ]]; then
		fail "$name: verify says why" "got '$VOUT', want it to say '$text'"
	else
		ok "$name"
	fi
}

# expect_verifies NAME WITNESS_DIR: verify CASE exits 0
expect_verifies() {
	verify_case "$2"
	echo "# $1: $VOUT"
	if ((VRC == 0)) && [[ $VOUT == ok:* ]]; then ok "$1"; else fail "$1" "exit $VRC: $VOUT"; fi
}

# a copy of the witness to tamper with
witness_copy() {
	rm -rf "$T/w-$1"
	mkdir -p "$T/w-$1"
	cp "$W/checkpoints" "$T/w-$1/checkpoints"
	WC=$T/w-$1
}

# the SQL encoder must agree with the writer's, or the rehashed cases prove nothing
CASE=$PRISTINE
n=$(printf '%s\nSELECT count(*) FROM audit_records r WHERE %s AND r.leaf = pg_temp.leaf(r);\n' "$LEAF_FN" "$WO" |
	q "$(super "$PRISTINE")" 2>&1)
expect_eq "the suite's SQL leaf hash matches every stored leaf of the origin" "$n" "$N"
CASE=

content_cols="at, actor, role, on_behalf_of, purpose, ticket, action, subject_token, categories, decision, reason, request_id, source, batch_id, count, leaf"
dif=$(q "$(owner "$PRISTINE")" -c "select count(distinct ($content_cols)) from audit_records where $WO and seq in ($k, $((k + 1)))")
expect_eq "records $k and $((k + 1)) differ (so swapping them changes something)" "$dif" 2

# ---- a. a record changed ------------------------------------------------------
if new_case a1; then
	# one bit of one byte: the first character of the actor, xor 1
	tamper "UPDATE audit_records SET actor = overlay(actor placing chr(ascii(actor) # 1) from 1 for 1) WHERE $WO AND seq = $k;" &&
		expect_fail "a. one byte of record $k's actor changed: seq=$k" "$W" "$origin" "$k" "record $k does not match its hash"
	drop_case
fi
if new_case a2; then
	tamper "UPDATE audit_records SET at = at + interval '1 microsecond' WHERE $WO AND seq = $k;" &&
		expect_fail "a. record $k's time moved by 1 us: seq=$k" "$W" "$origin" "$k" "record $k does not match its hash"
	drop_case
fi
if new_case a3; then
	tamper "UPDATE audit_records SET request_id = 'x' || substr(request_id, 2) WHERE $WO AND seq = $k;
		UPDATE audit_records r SET leaf = pg_temp.leaf(r) WHERE $WO AND seq = $k;" &&
		expect_fail "a. record $k changed and its leaf rehashed: the checkpoint at $hi catches it, from seq=$lo" \
			"$W" "$origin" "$lo" "records $lo to $((hi - 1)) do not match the signed checkpoint at size $hi"
	drop_case
fi

# ---- b. a record deleted ------------------------------------------------------
if new_case b1; then
	tamper "DELETE FROM audit_records WHERE $WO AND seq = $k;" &&
		expect_fail "b. record $k deleted: seq=$k" "$W" "$origin" "$k" "record $k is missing"
	drop_case
fi
if new_case b2; then
	tamper "ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey;
		DELETE FROM audit_records WHERE $WO AND seq = $k;
		UPDATE audit_records SET seq = seq - 1 WHERE $WO AND seq > $k;
		UPDATE audit_records r SET leaf = pg_temp.leaf(r) WHERE $WO AND seq >= $k;" &&
		expect_fail "b. record $k deleted, the rest renumbered and rehashed: from seq=$lo" \
			"$W" "$origin" "$lo" "records $lo to $((hi - 1)) do not match the signed checkpoint at size $hi"
	drop_case
fi

# ---- c. two records swapped ---------------------------------------------------
if new_case c; then
	set_list=$(sed 's/\([a-z_][a-z_]*\)/\1 = b.\1/g' <<<"$content_cols")
	tamper "UPDATE audit_records a SET $set_list FROM audit_records b
		WHERE a.$WO AND b.$WO AND ((a.seq = $k AND b.seq = $((k + 1))) OR (a.seq = $((k + 1)) AND b.seq = $k));" &&
		expect_fail "c. records $k and $((k + 1)) swapped: seq=$k" "$W" "$origin" "$k" "record $k does not match its hash"
	drop_case
fi

# ---- d. a record inserted -----------------------------------------------------
if new_case d1; then
	tamper "ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey;
		INSERT INTO audit_records SELECT * FROM audit_records WHERE $WO AND seq = $k;" &&
		expect_fail "d. a copy of record $k inserted: seq=$k" "$W" "$origin" "$k" "record $k appears twice"
	drop_case
fi
if new_case d2; then
	tamper "ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey;
		UPDATE audit_records SET seq = seq + 1 WHERE $WO AND seq >= $k;
		INSERT INTO audit_records SELECT writer, $k, at, actor, role, on_behalf_of, purpose, ticket, action,
			subject_token, categories, decision, reason, 'forged-$R', source, batch_id, count, leaf
			FROM audit_records WHERE $WO AND seq = $((k + 1));" &&
		expect_fail "d. a record inserted at $k, the rest shifted: seq=$k" "$W" "$origin" "$k" "record $k does not match its hash"
	drop_case
fi
if new_case d3; then
	tamper "ALTER TABLE audit_records DROP CONSTRAINT audit_records_pkey;
		UPDATE audit_records SET seq = seq + 1 WHERE $WO AND seq >= $k;
		INSERT INTO audit_records SELECT writer, $k, at, actor, role, on_behalf_of, purpose, ticket, action,
			subject_token, categories, decision, reason, 'forged-$R', source, batch_id, count, leaf
			FROM audit_records WHERE $WO AND seq = $((k + 1));
		UPDATE audit_records r SET leaf = pg_temp.leaf(r) WHERE $WO AND seq >= $k;" &&
		expect_fail "d. a record inserted at $k, the rest shifted and rehashed: from seq=$lo" \
			"$W" "$origin" "$lo" "records $lo to $((hi - 1)) do not match the signed checkpoint at size $hi"
	drop_case
fi

# ---- e. the tail truncated after the last checkpoint ---------------------------
cut=$((L - 3))
mkdir -p "$T/no-witness"
if new_case e; then
	tamper "DELETE FROM audit_records WHERE $WO AND seq >= $cut;
		DELETE FROM audit_checkpoints WHERE $WO AND size > $cut;" &&
		expect_fail "e. records $cut.. and their checkpoints deleted: the witness catches it, seq=$cut" \
			"$W" "$origin" "$cut" "records $cut and later are missing"
	# without the witness the truncated copy is consistent: the witness is
	# what catches it (and this shows the tampering left no other trace)
	expect_verifies "e. ... and without a witness the truncated copy is self-consistent" -
	expect_fail "e. ... and an empty witness directory is refused, not skipped" "$T/no-witness" - - "missing or empty"
	drop_case
fi

# ---- f. the table replaced by an older copy --------------------------------------
old=$((N - 15))
if new_case f; then
	tamper "DELETE FROM audit_records WHERE $WO AND seq >= $old;
		DELETE FROM audit_checkpoints WHERE $WO AND size > $old;" &&
		expect_fail "f. an older copy ($old of $N records): the witness catches it, seq=$old" \
			"$W" "$origin" "$old" "records $old and later are missing"
	expect_verifies "f. ... and without a witness the older copy is self-consistent" -
	drop_case
fi
# the whole origin gone, records and checkpoints: only the witness names it
if new_case f2; then
	tamper "DELETE FROM audit_records WHERE $WO; DELETE FROM audit_checkpoints WHERE $WO;" &&
		expect_fail "f. the origin's records and checkpoints all deleted: seq=0" \
			"$W" "$origin" 0 "the log ends after 0 records but a witness checkpoint covers $L"
	drop_case
fi

# ---- g. a checkpoint signed by an unknown key ----------------------------------
"$AUDIT" keygen --out "$T/other.key" >/dev/null
zero_root=$(printf '%064d' 0)
other_id=$("$SIGN" "$T/other.key" "$origin" 1 "$zero_root" 1 | awk '{ print $7 }')
real_id=$("$SIGN" "$SIGNING_KEY" "$origin" 1 "$zero_root" 1 | awk '{ print $7 }')
if [[ $other_id =~ ^[0-9a-f]{16}$ && $real_id =~ ^[0-9a-f]{16}$ && $other_id != "$real_id" ]]; then
	ok "g. another key ($other_id; the real one is $real_id)"
else
	fail "g. another key" "ids '$other_id' and '$real_id'"
fi
g_size=${db_sizes%% *}
if new_case g1; then
	tamper "INSERT INTO audit_checkpoints SELECT writer, size, root, at_us, '$other_id', signature
		FROM audit_checkpoints WHERE $WO AND size = $g_size LIMIT 1;" &&
		expect_fail "g. a database checkpoint under another key's id" "$W" "$origin" - \
			"database checkpoint at size $g_size is signed by key $other_id, which is not trusted"
	drop_case
fi
# a correct checkpoint, validly signed, but by a key the verifier does not trust
g_root=$(q "$(owner "$PRISTINE")" -c "select encode(root, 'hex') from audit_checkpoints where $WO and size = $g_size limit 1")
g_at=$(q "$(owner "$PRISTINE")" -c "select at_us from audit_checkpoints where $WO and size = $g_size limit 1")
witness_copy g2
"$SIGN" "$T/other.key" "$origin" "$g_size" "$g_root" "$((g_at + 1))" >>"$WC/checkpoints"
CASE=$PRISTINE
expect_fail "g. a witness checkpoint signed by another key" "$WC" "$origin" - \
	"witness checkpoint at size $g_size is signed by key $other_id, which is not trusted"
# only the other key trusted: the first writer (in byte order) with a
# checkpoint fails; in this run that is the tamper origin
first=$({
	q "$(owner "$PRISTINE")" -c "select distinct writer from audit_checkpoints"
	awk '$1 == "checkpoint" { print $3 }' "$W/checkpoints"
} | LC_ALL=C sort -u | head -n 1)
echo "# the first writer with a checkpoint: $first"
expect_fail "g. the pristine copy with only another key trusted" "$W" "$first" - \
	"is signed by key $real_id, which is not trusted" "$T/other.key.pub"
expect_eq "g. ... which names the tamper origin" "$first" "$origin"
CASE=

# ---- a bad signature -------------------------------------------------------------
if new_case sig; then
	tamper "UPDATE audit_checkpoints SET signature = set_byte(signature, 0, get_byte(signature, 0) # 1)
		WHERE $WO AND size = $g_size;" &&
		expect_fail "a database checkpoint with one bit of its signature flipped" "$W" "$origin" - \
			"database checkpoint at size $g_size has a bad signature"
	drop_case
fi
witness_copy sig
rand_b64=$(head -c 32 /dev/urandom | base64 -w 0)
awk -v o="$origin" -v s="$g_size" -v r="$rand_b64" \
	'$1 == "checkpoint" && $3 == o && $4 == s && !done { $5 = r; done = 1 } { print }' "$W/checkpoints" >"$WC/checkpoints"
CASE=$PRISTINE
expect_fail "a witness checkpoint with its root replaced" "$WC" "$origin" - \
	"witness checkpoint at size $g_size has a bad signature"
CASE=

# ---- h. two checkpoints of one size, both validly signed -------------------------
if new_case h1; then
	line=$("$SIGN" "$SIGNING_KEY" "$origin" "$L" "$(head -c 32 /dev/urandom | xxd -p -c 64)" "$((max_at + 1000))")
	read -r _ _ _ h_size h_root h_at h_kid h_sig <<<"$line"
	tamper "INSERT INTO audit_checkpoints VALUES ('$origin', $h_size, decode('$h_root', 'base64'), $h_at,
		'$h_kid', decode('$h_sig', 'base64'));" &&
		expect_fail "h. a second checkpoint of size $L with another root, later, in the database" "$W" "$origin" - \
			"two checkpoints of size $L have different roots"
	drop_case
fi
# the same in the witness, at a middle size, between its neighbours in time
h_mid=$(awk '{ print $2 }' <<<"$db_sizes")
h_mid_at=$(q "$(owner "$PRISTINE")" -c "select at_us from audit_checkpoints where $WO and size = $h_mid limit 1")
witness_copy h2
"$SIGN" "$SIGNING_KEY" "$origin" "$h_mid" "$(head -c 32 /dev/urandom | xxd -p -c 64)" "$((h_mid_at + 1))" >>"$WC/checkpoints"
CASE=$PRISTINE
expect_fail "h. a second checkpoint of size $h_mid with another root, in the witness" "$WC" "$origin" - \
	"two checkpoints of size $h_mid have different roots"
CASE=

# ---- i. the log shrinks ------------------------------------------------------------
witness_copy i
"$SIGN" "$SIGNING_KEY" "$origin" "$((L - 1))" "$(head -c 32 /dev/urandom | xxd -p -c 64)" "$((max_at + 1000))" >>"$WC/checkpoints"
CASE=$PRISTINE
expect_fail "i. a later checkpoint of size $((L - 1)) after one of $L" "$WC" "$origin" - \
	"checkpoint of size $((L - 1)) was signed after one of size $L: the log shrank"
CASE=

# ---- j. malformed witness lines ----------------------------------------------------
witness_copy j1
echo "checkpoint v1 not a checkpoint" >>"$WC/checkpoints"
CASE=$PRISTINE
expect_fail "j. a malformed witness line appended" "$WC" "-" - "witness line $((wlines + 1)) is malformed"
# a torn last line (half of it, no newline), as an interrupted append leaves
witness_copy j2
head -n $((wlines - 1)) "$W/checkpoints" >"$WC/checkpoints"
last=$(tail -n 1 "$W/checkpoints")
printf '%s' "${last:0:$((${#last} / 2))}" >>"$WC/checkpoints"
expect_fail "j. a torn last witness line" "$WC" "-" - "witness line $wlines is malformed"
CASE=

# ---- the pristine copy is still pristine ----------------------------------------------
CASE=$PRISTINE
expect_verifies "the pristine copy still verifies after the cases" "$W"
CASE=

# ---- the live tables: append-only even for the owner ----------------------------------
# refused NAME CONNINFO SQL ERROR: SQL fails on CONNINFO with ERROR; it runs
# in a transaction that is rolled back in any case
refused() {
	local out rc=0
	out=$(psql -X -q -v ON_ERROR_STOP=1 "$2" -c "BEGIN" -c "$3" -c "ROLLBACK" 2>&1) || rc=$?
	if ((rc != 0)) && [[ $out == *"$4"* ]]; then
		ok "$1"
	else
		fail "$1" "exit $rc: $(head -c 300 <<<"$out")"
	fi
}
live_before=$(q "$PIIV_AUDIT_PG" -c "select count(*) || '/' || encode(sha256(string_agg(leaf, ''::bytea order by seq)), 'hex') from audit_records where $WO")
for t in audit_records audit_checkpoints; do
	[[ $t == audit_records ]] && row="$WO AND seq = 0" || row="$WO AND size = $L"
	refused "owner: UPDATE of $t refused by the trigger" "$PIIV_AUDIT_PG" \
		"UPDATE $t SET writer = writer WHERE $row" "audit tables are append-only (UPDATE refused)"
	refused "owner: DELETE from $t refused by the trigger" "$PIIV_AUDIT_PG" \
		"DELETE FROM $t WHERE $row" "audit tables are append-only (DELETE refused)"
	refused "owner: TRUNCATE of $t refused by the trigger" "$PIIV_AUDIT_PG" \
		"TRUNCATE $t" "audit tables are append-only (TRUNCATE refused)"
	refused "writer role: SELECT from $t denied" "$PIIV_AUDIT_WRITER_PG" \
		"SELECT count(*) FROM $t" "permission denied for table $t"
	refused "writer role: UPDATE of $t denied" "$PIIV_AUDIT_WRITER_PG" \
		"UPDATE $t SET writer = writer WHERE $row" "permission denied for table $t"
	refused "writer role: DELETE from $t denied" "$PIIV_AUDIT_WRITER_PG" \
		"DELETE FROM $t WHERE $row" "permission denied for table $t"
	refused "writer role: TRUNCATE of $t denied" "$PIIV_AUDIT_WRITER_PG" \
		"TRUNCATE $t" "permission denied for table $t"
done
live_after=$(q "$PIIV_AUDIT_PG" -c "select count(*) || '/' || encode(sha256(string_agg(leaf, ''::bytea order by seq)), 'hex') from audit_records where $WO")
expect_eq "the live records of the origin are unchanged" "$live_after" "$live_before"

# ... and the vault (as the writer role) still appends
rid=tamper-$R-live
expect_status "the dev vault still serves an audited reveal" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject\":\"user:tamper-$R-1\",\"categories\":[\"email\"],\"context\":{\"purpose\":\"support\",\"request_id\":\"$rid\"}}"
n=$(q "$PIIV_AUDIT_PG" -c "select count(*) from audit_records where request_id = '$rid' and writer like 'vault-dev/%' and action = 'reveal'")
expect_eq "... and its record is in the live audit log" "$n" 1

# ---- clean up, and leave the live log as it was ----------------------------------------
for db in "${DBS[@]}"; do
	q "$PIIV_PG_SUPER" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
done
n=$(q "$PIIV_PG_SUPER" -c "select count(*) from pg_database where datname like '%$R%'")
expect_eq "every database of the suite dropped" "$n" 0
if cmp -s -n "$(stat -c %s "$W/checkpoints")" "$W/checkpoints" "$PIIV_WITNESS/checkpoints"; then
	ok "the live witness still begins with the lines copied"
else
	fail "the live witness still begins with the lines copied"
fi
out=$("$AUDIT" verify --db "$PIIV_AUDIT_PG" --witness "$PIIV_WITNESS" --pubkey "$PIIV_AUDIT_PUBKEY" 2>&1)
rc=$?
echo "# live: $out"
((rc == 0)) && ok "the live audit log still verifies" || fail "the live audit log still verifies" "exit $rc: $out"
