#!/usr/bin/env bash
# 17-dsr-crash.sh - kill -9 the vault at every step of an erasure and of an
# export (PIIV_CRASH_AT names the step: the vault SIGKILLs itself there);
# after a restart the request completes, and its work is done exactly once:
# one outbox event, one completion, values gone (erasure) or one sealed
# bundle that opens (export), and a receipt that verifies.
#
# The dev vault is paused (SIGSTOP) meanwhile, so that only the vault under
# test runs the executor over the shared database.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

R=${RANDOM}${RANDOM}
STAFF=(-H "X-Piiv-On-Behalf-Of: dpo-$R@corp" -H "X-Piiv-Role: compliance")
main_pid=$(cat "$PIIV_DIR/run/vault.pid")
kill -STOP "$main_pid"
trap 'kill -CONT "$main_pid" 2>/dev/null; vault_stop; rm -rf "$T"' EXIT

vault_config crash "s/\"writer\": \"vault-dev\",/\"writer\": \"vault-dsrcrash-$R\",/"
points=(dsr_start_before_audit dsr_start_after_audit dsr_started dsr_work_done
	dsr_complete_after_audit dsr_completed)

# seed one subject per (kind, point), through a vault that does not crash
vault_start crash || { fail "setup: vault started"; exit 1; }
recs=
for kind in erasure export; do
	for p in "${points[@]}"; do
		recs+="{\"subject\":\"user:$R-$kind-$p\",\"fields\":{\"email\":\"$kind-$p-$R@example.com\",\"phone\":\"010-7$((RANDOM % 900 + 100))-$((RANDOM % 9000 + 1000))\"}},"
	done
done
curl -sS --cacert "$PIIV_CACERT" "${AS_TAGGER[@]}" -X POST "$VURL/v1/tokenize" \
	--data-binary "{\"source\":\"crash.dsr\",\"records\":[${recs%,}]}" >"$T/seed.json"
expect_eq "setup: 24 values stored" "$(json_get stored "$T/seed.json")" 24
vault_stop

# wait_status URL ID STATUS: poll until the request has STATUS (20 s at most)
wait_status() {
	local i st
	for i in $(seq 1 100); do
		st=$(curl -sS --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" "$1/v1/dsr/$2" | json_get status 2>/dev/null)
		[[ $st == "$3" ]] && return 0
		sleep 0.2
	done
	echo "# request $2 is '$st', not '$3'"
	return 1
}

i=0
for kind in erasure export; do
	for p in "${points[@]}"; do
		name="$kind, killed at $p"
		stok=$(json_get "records.$i.subject_token" "$T/seed.json")
		i=$((i + 1))
		export PIIV_CRASH_AT=$p
		vault_start crash 2>/dev/null || { fail "$name: vault started"; unset PIIV_CRASH_AT; continue; }
		unset PIIV_CRASH_AT
		crashed_pid=$VPID
		curl -sS --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$VURL/v1/dsr" \
			-d "{\"kind\":\"$kind\",\"subject_token\":\"$stok\",\"verified\":true}" >"$T/req.json"
		# the answer may not come back: the executor can die first
		id=$(psql "$PIIV_PG" -Atc "select id from dsr_requests where subject_token = '$stok'")
		for _ in $(seq 1 100); do kill -0 "$crashed_pid" 2>/dev/null || break; sleep 0.1; done
		{ wait "$crashed_pid"; } 2>/dev/null
		rc=$?
		VPID=
		expect_eq "$name: the vault died by SIGKILL at the step" "$rc" 137
		grep -q "event=crash_point name=$p" "$T/crash.log" && ok "$name: it was the named step" || fail "$name: step not reached"
		cp "$T/crash.log" "$T/crash-$kind-$p.log"
		vault_start crash || { fail "$name: vault restarted"; continue; }
		check "$name: the request completes after the restart" wait_status "$VURL" "$id" completed
		q="select count(*) from erasure_events where dsr_id = '$id'"
		if [[ $kind == erasure ]]; then
			expect_eq "$name: one outbox event" "$(psql "$PIIV_PG" -Atc "$q")" 1
			expect_eq "$name: values and key gone, tombstone kept" \
				"$(psql "$PIIV_PG" -Atc "select s.status, (select count(*) from pii_values where subject_id = s.id), (select count(*) from subject_keys where subject_id = s.id), d.values_erased from subjects s join dsr_requests d on d.subject_id = s.id where d.id = '$id'")" \
				"erased|0|0|2"
		else
			expect_eq "$name: no outbox event" "$(psql "$PIIV_PG" -Atc "$q")" 0
			expect_status "$name: the bundle opens" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" "$VURL/v1/dsr/$id/export"
			expect_eq "$name: with the subject's two values" "$(json_get values.# "$LAST_BODY")" 2
		fi
		n=$(grep -c "event=dsr_completed dsr=$id" "$T/crash.log" "$T/crash-$kind-$p.log" | awk -F: '{s += $2} END {print s}')
		expect_eq "$name: completed exactly once" "$n" 1
		# the completion record the row points to is the one that committed
		row=$(psql "$PIIV_PG" -Atc "select audit_origin || ' ' || audit_seq from dsr_requests where id = '$id'")
		read -r origin seq <<<"$row"
		act=$(psql "$PIIV_AUDIT_PG" -Atc "select action || ' ' || batch_id from audit_records where writer = '$origin' and seq = $seq")
		expect_eq "$name: the row names its completion's audit record" "$act" "$kind $id"
		if [[ $kind == erasure && $p == dsr_complete_after_audit ]]; then
			vault_stop   # a last checkpoint covers the erasure
			vault_start crash
			for _ in $(seq 1 40); do
				st=$(curl -sS --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" -o "$T/receipt.json" -w '%{http_code}' "$VURL/v1/dsr/$id/receipt")
				[[ $st == 200 ]] && break
				sleep 0.25
			done
			check "$name: the receipt verifies" "$PIIV_BIN/pii-audit" verify-receipt --pubkey "${PIIV_AUDIT_PUBKEY%%:*}" "$T/receipt.json"
		fi
		vault_stop
	done
done
check "the audit log verifies after every crash" "$PIIV_BIN/pii-audit" verify
