#!/usr/bin/env bash
# bench/bench_tagger.sh O WORK ENV - `pii-tag run` end to end through a
# running vault, against its peers, in one run.
#
# Data: BENCH_TAG_ROWS rows (default 1000000) from O/bench/bench_tagdata
# --columns e2e (deterministic, seed 1): id (the subject), email, phone,
# name, card (four PII columns) and country, notes (two others, left out of
# the schema, so the tagger checks every one of their values for PII).
# Schema: the four PII columns tagged, subject_prefix new for this run, so
# every subject is new to the vault.  ENV is scripts/dev-up's DIR/env.
#
#   direct   O/bench/bench_tagdirect: the same rows POSTed to /v1/tokenize in
#            batches of the same size from the same number of keep-alive
#            connections, with no tagger logic, under another new subject
#            prefix: the vault's own first-run ingest rate for these values.
#   first    pii-tag run IN OUT: every value new.
#   second   pii-tag run over the same file: every value already held.
#            The output must equal the first run's byte for byte.
#   python   bench/tagger_peer.py under Debian's /usr/bin/python3: csv,
#            hmac, AESGCM and psycopg COPY into tables shaped like the
#            vault's in a schema of its own (skipped, with a message, when
#            BENCH_PY_PEER=0 or its modules are missing).
#
# The vault's tables are emptied (TRUNCATE) before direct and before first,
# so both first-run ingests start from the same empty tables: insert cost
# grows with the size of the random-key indexes, and whichever side ran
# second would pay for the other's rows (at 1,000,000 rows the order alone
# moved the ratio from 0.73 to 1.9).  Only use this on a private setup.
# A CHECKPOINT (PIIV_PG_SUPER) before each timed side starts each from clean
# buffers.  Prints rates and ratios against the issue's targets; asserts
# nothing about timing.  Exit 1 when a side fails outright, 2 on a usage
# error.
#
# Environment: BENCH_TAG_ROWS=N; BENCH_TAG_ARGS="--batch N --parallel N" the
# flags of pii-tag run and of its direct peer (default "--batch 1000
# --parallel 3", see bench/README.md); BENCH_PY_PEER=0 skips the Python peer.
set -euo pipefail

prog=bench/bench_tagger.sh
usage() {
	cat <<EOF
usage: $prog O WORK ENV
Time pii-tag run (first run and re-run) of BENCH_TAG_ROWS generated rows
(1000000) through the vault of scripts/dev-up's ENV file, against the
vault's direct batch ingest of the same rows (O/bench/bench_tagdirect) and
a Python peer (bench/tagger_peer.py).  WORK is a scratch directory.
  BENCH_TAG_ARGS="--batch N --parallel N"  (default: --batch 1000 --parallel 3)
  BENCH_PY_PEER=0                           skip the Python peer
EOF
}
case ${1:-} in -h | --help) usage; exit 0 ;; esac
[[ $# -eq 3 ]] || { usage >&2; exit 2; }
O=$1 work=$2 envfile=$3
here=$(cd "$(dirname "$0")" && pwd)
rows=${BENCH_TAG_ROWS:-1000000}
[[ $rows =~ ^[1-9][0-9]*$ ]] || { echo "$prog: BENCH_TAG_ROWS must be a positive number" >&2; exit 2; }
read -r -a targs <<<"${BENCH_TAG_ARGS:---batch 1000 --parallel 3}"
batch=1000 parallel=2           # pii-tag run's own defaults
for ((i = 0; i < ${#targs[@]}; i++)); do
	case ${targs[i]} in
	--batch) batch=${targs[i + 1]:-}; i=$((i + 1)) ;;
	--parallel) parallel=${targs[i + 1]:-}; i=$((i + 1)) ;;
	*) echo "$prog: BENCH_TAG_ARGS takes --batch N and --parallel N only" >&2; exit 2 ;;
	esac
done
[[ $batch =~ ^[1-9][0-9]*$ && $parallel =~ ^[1-9][0-9]*$ ]] ||
	{ echo "$prog: --batch and --parallel need positive numbers" >&2; exit 2; }
tag=$O/bin/pii-tag gen=$O/bench/bench_tagdata direct=$O/bench/bench_tagdirect
for x in "$tag" "$gen" "$direct"; do
	[[ -x $x ]] || { echo "$prog: $x not built (run make first)" >&2; exit 2; }
done
[[ -r $envfile ]] || { echo "$prog: no env file $envfile (scripts/dev-up DIR)" >&2; exit 2; }
set -a
# shellcheck source=/dev/null
. "$envfile"
set +a
mkdir -p "$work"

run_tag=$(date +%H%M%S)-$$
in=$work/tagger-in.csv
values=$((rows * 4))

checkpoint() {
	[[ -n ${PIIV_PG_SUPER:-} ]] || return 0
	psql -X -q "$PIIV_PG_SUPER" -c CHECKPOINT >/dev/null 2>&1 ||
		echo "$prog: note: no CHECKPOINT (psql failed)" >&2
}

# empty_vault: TRUNCATE the vault's data tables (as the vault's role, their
# owner), so that a first-run ingest starts from empty tables
empty_vault() {
	if ! psql -X -q -v ON_ERROR_STOP=1 "$PIIV_PG" -c "SET client_min_messages = warning" \
		-c "TRUNCATE objections, subjects, subject_keys, pii_values, tokenize_batches" \
		>"$work/truncate.err" 2>&1; then
		echo "$prog: cannot empty the vault's tables:" >&2
		cat "$work/truncate.err" >&2
		exit 1
	fi
}

# secs T0 T1: T1 - T0 with 3 decimals
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# manifest_count FILE KEY: counts.KEY of a pii-tag manifest
manifest_count() {
	grep -oE "\"$2\": *[0-9]+" "$1" | head -n 1 | grep -oE '[0-9]+$'
}

# ---- data and schema -----------------------------------------------------------
"$gen" --rows "$rows" --columns e2e --out "$in"
bytes=$(stat -c %s "$in")
cat >"$work/schema.json" <<EOF
{"dataset": "bench.tagger-$run_tag", "format": "csv",
 "subject_prefix": "t$run_tag:",
 "description": "bench/bench_tagger.sh: country and notes are left out on purpose, so every value of theirs is checked",
 "columns": [
  {"name": "id", "category": "subject"},
  {"name": "email", "category": "email"},
  {"name": "phone", "category": "phone"},
  {"name": "name", "category": "name"},
  {"name": "card", "category": "card"}]}
EOF
awk -v r="$rows" -v v="$values" -v b="$bytes" 'BEGIN {
	printf "data: %d rows, %.1f MB: id + email, phone, name, card (%d values) + country, notes\n", r, b / 1e6, v }'
echo "flags: pii-tag run --batch $batch --parallel $parallel (direct peer: the same)"

# ---- direct: the vault's own ingest of the same rows --------------------------
empty_vault
checkpoint
cat "$in" >/dev/null
if ! "$direct" --prefix "d$run_tag:" --source "bench.direct-$run_tag" \
	--batch "$batch" --parallel "$parallel" "$in" >"$work/direct.out" 2>"$work/direct.err"; then
	echo "$prog: bench_tagdirect failed:" >&2
	cat "$work/direct.err" >&2
	exit 1
fi
t_direct=$(sed -nE 's/.*\(([0-9.]+) s\)$/\1/p' "$work/direct.out")
[[ -n $t_direct ]] || { echo "$prog: bench_tagdirect printed no time" >&2; cat "$work/direct.out" >&2; exit 1; }

# ---- pii-tag run, first and second -------------------------------------------
# tag_run N: pii-tag run into $work/out-N.csv; prints the wall time
tag_run() {
	local n=$1 t0 t1
	checkpoint
	cat "$in" >/dev/null
	t0=$EPOCHREALTIME
	if ! "$tag" run --schema "$work/schema.json" --vault "$PIIV_VAULT_URL" \
		--cacert "$PIIV_CACERT" "${targs[@]}" --manifest "$work/manifest-$n.json" \
		"$in" "$work/out-$n.csv" 2>"$work/run-$n.err"; then
		echo "$prog: pii-tag run ($n) failed:" >&2
		cat "$work/run-$n.err" >&2
		return 1
	fi
	t1=$EPOCHREALTIME
	secs "$t0" "$t1"
}

empty_vault
t_first=$(tag_run 1)
t_second=$(tag_run 2)
for n in 1 2; do
	got=$(manifest_count "$work/manifest-$n.json" rows_out)
	[[ $got == "$rows" ]] || { echo "$prog: run $n wrote $got rows, not $rows" >&2; exit 1; }
done
s1=$(manifest_count "$work/manifest-1.json" stored) e1=$(manifest_count "$work/manifest-1.json" existing)
s2=$(manifest_count "$work/manifest-2.json" stored) e2=$(manifest_count "$work/manifest-2.json" existing)
if ! cmp -s "$work/out-1.csv" "$work/out-2.csv"; then
	echo "$prog: the second run's output differs from the first's" >&2
	exit 1
fi
rm -f "$work/out-2.csv"

awk -v r="$rows" -v v="$values" -v t="$t_direct" 'BEGIN {
	printf "direct: bench_tagdirect (peer)   %8.0f rows/s  %8.0f values/s  (%.2f s; empty tables)\n", r / t, v / t, t }'
awk -v r="$rows" -v v="$values" -v t="$t_first" -v s="$s1" -v e="$e1" 'BEGIN {
	printf "first:  pii-tag run              %8.0f rows/s  %8.0f values/s  (%.2f s; empty tables; %d stored, %d existing)\n", r / t, v / t, t, s, e }'
awk -v r="$rows" -v v="$values" -v t="$t_second" -v s="$s2" -v e="$e2" 'BEGIN {
	printf "second: pii-tag run, same file   %8.0f rows/s  %8.0f values/s  (%.2f s; %d stored, %d existing)\n", r / t, v / t, t, s, e }'
awk -v a="$t_first" -v b="$t_second" 'BEGIN {
	printf "first/second time ratio: %.2f  (target >= 3)\n", a / b }'
awk -v a="$t_first" -v b="$t_direct" 'BEGIN {
	printf "tagger/vault ratio: %.2f  (target >= 0.7; first run against direct ingest)\n", b / a }'

# ---- python -------------------------------------------------------------------------
py=/usr/bin/python3
if [[ ${BENCH_PY_PEER:-1} == 0 ]]; then
	echo "python: skipped (BENCH_PY_PEER=0: python3-cryptography or python3-psycopg not installed)"
elif [[ ! -x $py ]] || ! "$py" -c 'import psycopg, cryptography.hazmat.primitives.ciphers.aead' 2>/dev/null; then
	echo "python: skipped ($py cannot import psycopg and cryptography: apt-get install python3-psycopg python3-cryptography)"
else
	checkpoint
	cat "$in" >/dev/null
	if ! "$py" "$here/tagger_peer.py" --prefix "p$run_tag:" --source "bench.python-$run_tag" \
		--batch "$batch" --schema-name bench_py "$in" "$work/out-py.csv" \
		>"$work/py.out" 2>"$work/py.err"; then
		echo "$prog: tagger_peer.py failed:" >&2
		cat "$work/py.err" >&2
		exit 1
	fi
	t_py=$(sed -nE 's/.*\(([0-9.]+) s\)$/\1/p' "$work/py.out")
	[[ -n $t_py ]] || { echo "$prog: tagger_peer.py printed no time" >&2; cat "$work/py.out" >&2; exit 1; }
	got=$(($(wc -l <"$work/out-py.csv") - 1))
	[[ $got == "$rows" ]] || { echo "$prog: the Python peer wrote $got rows, not $rows" >&2; exit 1; }
	awk -v r="$rows" -v v="$values" -v t="$t_py" 'BEGIN {
		printf "python: tagger_peer.py (peer)    %8.0f rows/s  %8.0f values/s  (%.2f s)\n", r / t, v / t, t }'
	awk -v a="$t_first" -v b="$t_py" 'BEGIN {
		printf "tagger/python ratio: %.2f  (target >= 2; first run against the Python peer)\n", b / a }'
fi
rm -f "$in" "$work/out-1.csv" "$work/out-py.csv"
