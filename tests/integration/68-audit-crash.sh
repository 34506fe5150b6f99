#!/usr/bin/env bash
# 68-audit-crash.sh - kill -9 the vault repeatedly under concurrent load:
# every request that was answered 2xx has its audit record, and the log
# still verifies (each restart is a new origin; a crash leaves at most
# records after the last checkpoint, never a gap or a fork).
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

R=${RANDOM}${RANDOM}
vault_post tagger v1/tokenize "{\"source\":\"crash.test\",\"records\":[{\"subject\":\"user:crash-$R\",\"fields\":{\"email\":\"crash-$R@example.com\"}}]}" >"$T/t.json"
[[ $(json_get records.0.fields.email "$T/t.json") == tok_email_* ]] && ok "setup: a value to reveal" || fail "setup tokenize"

vault_config crash "s/\"writer\": \"vault-dev\",/\"writer\": \"crash-$R\", \"audit_checkpoint_records\": 20,/"

# client LOOP URL: reveal in a loop with unique request ids; one line
# "REQUEST_ID STATUS" per request in $T/client-LOOP.log
client() {
	local n=0 st rid
	while :; do
		n=$((n + 1))
		rid=crash-$R-$1-$n
		st=$(curl -sS --max-time 10 --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" -o /dev/null -w '%{http_code}' \
			-X POST "$2/v1/reveal" \
			-d "{\"subject\":\"user:crash-$R\",\"categories\":[\"email\"],\"context\":{\"purpose\":\"support\",\"ticket\":\"CS-68\",\"request_id\":\"$rid\"}}" \
			2>/dev/null) || st=000
		echo "$rid $st" >>"$T/client-$1.log"
		[[ -e $T/stop ]] && return 0
	done
}

rounds=0
for round in 1 2 3; do
	vault_start crash || { fail "crash round $round: vault started"; break; }
	rm -f "$T/stop"
	pids=()
	for c in 1 2 3 4 5 6; do client "$round-$c" "$VURL" & pids+=($!); done
	sleep 1.5
	kill -9 "$VPID"
	wait "$VPID" 2>/dev/null
	VPID=
	touch "$T/stop"
	wait "${pids[@]}"
	rounds=$((rounds + 1))
done
expect_eq "crash: three rounds of load ended by kill -9" "$rounds" 3

cat "$T"/client-*.log >"$T/all.log" 2>/dev/null
answered=$(awk '$2 ~ /^2/' "$T/all.log" | wc -l)
failed=$(awk '$2 !~ /^2/' "$T/all.log" | wc -l)
[[ $answered -gt 50 ]] && ok "crash: $answered requests answered 2xx before the kills ($failed failed)" ||
	fail "crash: too few requests answered" "$answered answered 2xx"
awk '$2 ~ /^2/ {print $1}' "$T/all.log" | sort >"$T/ok-ids"
psql "$PIIV_AUDIT_PG" -Atc "select request_id from audit_records where request_id like 'crash-$R-%' and action = 'reveal' and decision = 'allow'" |
	sort -u >"$T/audited-ids"
missing=$(comm -23 "$T/ok-ids" "$T/audited-ids" | wc -l)
expect_eq "crash: every request answered 2xx has its audit record" "$missing" 0
n=$(psql "$PIIV_AUDIT_PG" -Atc "select count(distinct writer) from audit_records where writer like 'crash-$R/%'")
[[ $n -ge 3 ]] && ok "crash: each restart wrote under a new origin ($n)" || fail "crash: origins" "$n"

out=$("$PIIV_BIN/pii-audit" verify --db "$PIIV_AUDIT_PG" --witness "$PIIV_WITNESS" --pubkey "$PIIV_AUDIT_PUBKEY" 2>&1)
rc=$?
expect_eq "crash: pii-audit verify passes after the crashes" "$rc" 0
[[ $rc == 0 ]] || printf '#   %s\n' "$out"
