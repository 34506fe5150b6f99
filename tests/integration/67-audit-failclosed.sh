#!/usr/bin/env bash
# 67-audit-failclosed.sh - the audit log fails closed: a locked audit table
# makes PII requests fail with 503 within the configured wait (not hang),
# and records that reach no witness for longer than the publish window stop
# every PII request until a checkpoint is published.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

R=${RANDOM}${RANDOM}
email="fc-$R@example.com"
vault_post tagger v1/tokenize "{\"source\":\"fc.test\",\"records\":[{\"subject\":\"user:fc-$R\",\"fields\":{\"email\":\"$email\"}}]}" >"$T/t.json"
[[ $(json_get records.0.fields.email "$T/t.json") == tok_email_* ]] && ok "setup: a value to reveal" || fail "setup tokenize"
reveal_body="{\"subject\":\"user:fc-$R\",\"categories\":[\"email\"],\"context\":{\"purpose\":\"support\",\"ticket\":\"CS-67\"}}"

# ---- a locked audit table: 503 after audit_wait_ms, no value -----------------
vault_config lock "s/\"writer\": \"vault-dev\",/\"writer\": \"lock-$R\", \"audit_wait_ms\": 1000,/"
if vault_start lock; then
	mkfifo "$T/lock.in"
	psql "${PIIV_PG_SUPER/dbname=postgres/dbname=piiv_audit}" -X -q -v ON_ERROR_STOP=1 <"$T/lock.in" >"$T/lock.out" 2>&1 &
	lock_pid=$!
	exec 8>"$T/lock.in"
	echo "begin; lock table audit_records in access exclusive mode; select 'locked';" >&8
	for ((i = 0; i < 100; i++)); do grep -q locked "$T/lock.out" && break; sleep 0.1; done
	grep -q locked "$T/lock.out" && ok "lock: a session holds audit_records locked" || fail "lock: could not lock"
	# the bound is audit_wait_ms (1 s); --max-time 15 only keeps a hang from
	# stalling the suite, it is not a measurement
	CURL_MAX_TIME=15 expect_status "lock: reveal answers 503 audit_unavailable instead of waiting" 503 audit_unavailable -- \
		"${AS_PROXY[@]}" -X POST "$VURL/v1/reveal" -d "$reveal_body"
	grep -qF "$email" "$LAST_BODY" && fail "lock: no value in the 503" || ok "lock: no value in the 503"
	echo "commit;" >&8
	exec 8>&-
	wait "$lock_pid"
	ok=0
	for ((i = 0; i < 50; i++)); do
		st=$(vault_curl proxy -o "$T/after.json" -w '%{http_code}' -X POST "$VURL/v1/reveal" \
			-H 'Content-Type: application/json' -d "$reveal_body")
		if [[ $st == 200 ]]; then ok=1; break; fi
		sleep 0.2
	done
	expect_eq "lock: once the lock is gone reveal works again" "$ok" 1
	expect_eq "lock: ... and gives the value" "$(json_get fields.email.0.value "$T/after.json")" "$email"
	vault_stop
else
	fail "lock: extra vault started"
fi

# ---- no witness for longer than the window: refused until published ---------
W=$T/witness
mkdir -p "$W"
# a directory where the witness file should be: every append fails (root
# ignores file modes, so a read-only file would not do)
mkdir "$W/checkpoints"
vault_config window "s/\"writer\": \"vault-dev\",/\"writer\": \"window-$R\", \"audit_checkpoint_seconds\": 1, \"audit_publish_window_seconds\": 2,/" \
	"s/\"audit_checkpoint_seconds\": 2,//" "s|\"audit_witness_dir\": \"[^\"]*\"|\"audit_witness_dir\": \"$W\"|"
if vault_start window; then
	expect_status "window: a request inside the window is served" 200 - -- "${AS_PROXY[@]}" -X POST "$VURL/v1/reveal" -d "$reveal_body"
	refused=0
	for ((i = 0; i < 40; i++)); do
		sleep 0.25
		st=$(vault_curl proxy -o "$T/win.json" -w '%{http_code}' -X POST "$VURL/v1/reveal" \
			-H 'Content-Type: application/json' -d "$reveal_body")
		if [[ $st == 503 ]]; then refused=1; break; fi
	done
	expect_eq "window: with no checkpoint published for over 2 s, reveal is refused" "$refused" 1
	expect_eq "window: ... as audit_unavailable" "$(json_get error.code "$T/win.json")" audit_unavailable
	grep -qF "$email" "$T/win.json" && fail "window: no value in the 503" || ok "window: no value in the 503"
	rmdir "$W/checkpoints"
	served=0
	for ((i = 0; i < 40; i++)); do
		sleep 0.25
		st=$(vault_curl proxy -o "$T/win2.json" -w '%{http_code}' -X POST "$VURL/v1/reveal" \
			-H 'Content-Type: application/json' -d "$reveal_body")
		if [[ $st == 200 ]]; then served=1; break; fi
	done
	expect_eq "window: once a checkpoint reaches the witness, reveal works again" "$served" 1
	origin=$(psql "$PIIV_AUDIT_PG" -Atc "select writer from audit_records where writer like 'window-$R/%' order by writer limit 1")
	grep -q "^checkpoint v1 $origin " "$W/checkpoints" && ok "window: the witness holds the writer's checkpoint" || fail "window: no checkpoint line in the witness"
	vault_stop
else
	fail "window: extra vault started"
fi
