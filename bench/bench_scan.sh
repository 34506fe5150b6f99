#!/usr/bin/env bash
# bench/bench_scan.sh O WORK - detection speed of `pii-tag scan` against grep.
#
# Generates a CSV of about BENCH_SCAN_MB megabytes (10^6 bytes; default 60)
# with O/bench/bench_tagdata (ten columns: id, email, phone, name, card,
# iban, ip, signup_date, country, notes; deterministic, seed 1) in WORK, then
# times, best of 3 runs each with the file in the page cache:
#
#   pii-tag scan --sample 0 FILE >/dev/null      every value of every column
#                                                through the detectors
#   LC_ALL=C grep -E -o 'PATTERNS' FILE >OUT     the peer doing the same work:
#                                                every match of one extended
#                                                regex with an alternative per
#                                                detector (one run: it is slow)
#   LC_ALL=C grep -E -c 'PATTERNS' FILE >OUT     the same alternatives anchored
#                                                to field boundaries, counting
#                                                lines: grep stops at a line's
#                                                first match (every line here
#                                                has an email in field 2), so it
#                                                classifies one value per line
#                                                where scan classifies ten
#
# and prints the rates in MB/s and the ratios.  Nothing asserts on timing;
# exit 1 only when a command fails outright, 2 on a usage error.
set -euo pipefail

prog=bench/bench_scan.sh
usage() {
	cat <<EOF
usage: $prog O WORK
Time pii-tag scan --sample 0 over a generated CSV of BENCH_SCAN_MB MB (60)
against LC_ALL=C grep -E -o and -c with equivalent patterns.  O is the build
directory (O/bin/pii-tag, O/bench/bench_tagdata), WORK a scratch directory.
EOF
}
case ${1:-} in -h | --help) usage; exit 0 ;; esac
[[ $# -eq 2 ]] || { usage >&2; exit 2; }
O=$1 work=$2
mb=${BENCH_SCAN_MB:-60}
[[ $mb =~ ^[1-9][0-9]*$ ]] || { echo "$prog: BENCH_SCAN_MB must be a positive number" >&2; exit 2; }
tag=$O/bin/pii-tag gen=$O/bench/bench_tagdata
for x in "$tag" "$gen"; do
	[[ -x $x ]] || { echo "$prog: $x not built (run make first)" >&2; exit 2; }
done
mkdir -p "$work"

# ---- the peer's patterns: one alternative per detector of tagger/tag_detect.h
oct='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
hx='[0-9A-Fa-f]{1,4}'
pats=(
	# email: local part, '@', two or more domain labels, a letters-only TLD
	'[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}'
	# phone: E.164; national with a trunk 0 (KR mobile 010-1234-5678,
	# landlines); North American (555) 123-4567
	'\+[1-9][0-9]{7,14}'
	'\(?0[0-9]{1,2}\)?[ .-]?[0-9]{3,4}[ .-]?[0-9]{4}'
	'\(?[2-9][0-9]{2}\)?[ .-]?[0-9]{3}[ .-][0-9]{4}'
	# card-like: 12..19 digits, optionally in groups split by ' ' or '-'
	'[0-9]{4}([ -]?[0-9]{4}){2}[ -]?[0-9]{1,7}'
	# IBAN: country, check digits, 11..30 alphanumerics, optionally in fours
	'[A-Z]{2}[0-9]{2}( ?[A-Z0-9]{4}){2,7}( ?[A-Z0-9]{1,4})?'
	# KR RRN: YYMMDD, optional '-', gender digit and six more
	'[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|[12][0-9]|3[01])-?[0-9]{7}'
	# US SSN: AAA-GG-SSSS or with spaces
	'[0-8][0-9]{2}[- ][0-9]{2}[- ][0-9]{4}'
	# IPv4, IPv6
	"($oct\\.){3}$oct"
	"($hx)?(:($hx)?){2,7}"
	# ISO date: YYYY-MM-DD, YYYY/MM/DD, YYYY.MM.DD, YYYYMMDD
	'(19|20)[0-9]{2}[-/.]?(0[1-9]|1[0-2])[-/.]?(0[1-9]|[12][0-9]|3[01])'
)
alt=$(IFS='|'; echo "${pats[*]}")
pattern="(^|,)($alt)(,|\$)"

# ---- the data: rows estimated from a small sample of the same generator
file=$work/scan.csv
"$gen" --rows 20000 --out "$work/scan-sample.csv"
sample_bytes=$(stat -c %s "$work/scan-sample.csv")
rm -f "$work/scan-sample.csv"
rows=$(( (mb * 1000000 * 20000 + sample_bytes - 1) / sample_bytes ))
rows=$(( rows + rows / 100 + 1 ))       # a margin over the estimate
"$gen" --rows "$rows" --out "$file"
bytes=$(stat -c %s "$file")
cat "$file" >/dev/null                  # into the page cache for both sides
mbytes=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')

# best_of3 OUT NAME CMD...: run CMD three times with stdout to OUT, print
# the best wall time in seconds; a failing run stops the benchmark.
best_of3() {
	local out=$1 name=$2 t0 t1 best=
	shift 2
	for _ in 1 2 3; do
		t0=$EPOCHREALTIME
		if ! "$@" >"$out" 2>"$work/scan.err"; then
			echo "$prog: $name failed:" >&2
			cat "$work/scan.err" >&2
			return 1
		fi
		t1=$EPOCHREALTIME
		best=$(awk -v a="$t0" -v b="$t1" -v best="$best" \
			'BEGIN { d = b - a; if (best == "" || d < best) best = d; printf "%.4f", best }')
	done
	echo "$best"
}

# Sanity, untimed: what each side finds.
"$tag" scan --sample 0 "$file" >"$work/scan.json"
found=$(grep -oE '"category": "[a-z_]+"' "$work/scan.json" | sed -E 's/.*: "([a-z_]+)"/\1/' | paste -sd' ' -)
lines=$(LC_ALL=C grep -E -c "$pattern" "$file" || true)

echo "data: $rows rows, $mbytes MB (bench_tagdata --rows $rows, 10 columns)"
echo "  pii-tag scan proposes: $found"
echo "  grep matches $lines of $rows data lines (+ the header)"

# grep's count goes to a file: GNU grep stops at the first match when its
# standard output is /dev/null, which would time nothing.
t_scan=$(best_of3 /dev/null "pii-tag scan" "$tag" scan --sample 0 "$file")
t_grep=$(best_of3 "$work/grep.out" "grep" env LC_ALL=C grep -E -c "$pattern" "$file")
t0=$EPOCHREALTIME
LC_ALL=C grep -E -o "$alt" "$file" >"$work/grep-o.out" || true
t1=$EPOCHREALTIME
t_grepo=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
matches=$(wc -l <"$work/grep-o.out")
rm -f "$file" "$work/scan.json" "$work/scan.err" "$work/grep.out" "$work/grep-o.out"

echo "  grep -o finds $matches matches"
awk -v b="$bytes" -v ts="$t_scan" -v tg="$t_grep" -v to="$t_grepo" 'BEGIN {
	rs = b / 1e6 / ts; rg = b / 1e6 / tg; ro = b / 1e6 / to
	printf "scan: pii-tag scan --sample 0       %8.1f MB/s  (best of 3: %.3f s)\n", rs, ts
	printf "grep: LC_ALL=C grep -E -o (peer)    %8.1f MB/s  (one run: %.3f s; every match)\n", ro, to
	printf "grep: LC_ALL=C grep -E -c           %8.1f MB/s  (best of 3: %.3f s; first match per line)\n", rg, tg
	printf "pii-tag/grep -o ratio: %.2f  (target >= 3; the same work: every value classified)\n", rs / ro
	printf "pii-tag/grep -c ratio: %.2f  (grep -c classifies one value per line, scan ten)\n", rs / rg
}'
