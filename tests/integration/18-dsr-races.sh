#!/usr/bin/env bash
# 18-dsr-races.sh - subject-rights requests against concurrent work:
#
#   - an ingest giving a subject a new value while that subject is erased:
#     whichever takes the subject's row first, nothing of the subject is
#     left (no value without a key), and every token the ingest handed out
#     is in the erasure's outbox event unless the ingest dropped the record;
#   - two erasures of one subject: one outbox event;
#   - the outbox never lets a consumer skip an event: an event whose
#     transaction commits late, after a higher id was read, is still served.
#
# A psql session holding a row lock (through a fifo) orders the racers.
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}
STAFF=(-H "X-Piiv-On-Behalf-Of: dpo-$R@corp" -H "X-Piiv-Role: compliance")
AS_WAREHOUSE=(-H "Authorization: Bearer ${PIIV_DOWNSTREAM_TOKEN:-}" "${JSON_CT[@]}")
dsr_post() {
	curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" \
		-X POST "$PIIV_VAULT_URL/${1#/}" --data-binary "$2"
}
status_of() {
	curl -sS --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/$1" | json_get status 2>/dev/null
}
wait_completed() { # ID...
	local id i
	for id in "$@"; do
		for i in $(seq 1 150); do
			[[ $(status_of "$id") == completed ]] && break
			sleep 0.2
		done
		[[ $(status_of "$id") == completed ]] || { echo "# $id not completed"; return 1; }
	done
}
# hold SQL: run SQL in a psql session kept open on fd 7 (end it with release)
hold() {
	rm -f "$T/psql.in"
	mkfifo "$T/psql.in"
	psql "$PIIV_PG" -X -q -v ON_ERROR_STOP=1 <"$T/psql.in" >"$T/psql.out" 2>&1 &
	psql_pid=$!
	exec 7>"$T/psql.in"
	echo "$1" >&7
	# until the session holds its lock: idle in its open transaction
	local i
	for i in $(seq 1 100); do
		[[ $(psql "$PIIV_PG" -Atc "select count(*) from pg_stat_activity where state = 'idle in transaction' and pid <> pg_backend_pid()") -ge 1 ]] && return 0
		sleep 0.05
	done
	echo "# the holding session did not start"
}
release() {
	echo "commit;" >&7
	exec 7>&-
	wait "$psql_pid"
}
# waiting_on_lock N: until N statements of the vault wait on a lock (10 s at most)
waiting_on_lock() {
	local i n
	for i in $(seq 1 200); do
		n=$(psql "$PIIV_PG" -Atc "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and pid <> pg_backend_pid()")
		[[ $n -ge $1 ]] && return 0
		sleep 0.05
	done
	return 1
}

retries0=$(grep -c 'event=tokenize_retry' "$PIIV_DIR/log/vault.log")
for order in ingest-first erasure-first; do
	S=user:$R-$order
	vault_post tagger v1/tokenize "{\"source\":\"race.a\",\"records\":[{\"subject\":\"$S\",\"fields\":{\"email\":\"$order-$R@example.com\"}}]}" >"$T/a.json"
	stok=$(json_get records.0.subject_token "$T/a.json")
	sid=$(psql "$PIIV_PG" -Atc "select id from subjects where subject_token = '$stok'")
	hold "begin; select id from subjects where id = $sid for update;"
	if [[ $order == ingest-first ]]; then
		vault_post tagger v1/tokenize "{\"source\":\"race.b\",\"records\":[{\"subject\":\"$S\",\"fields\":{\"phone\":\"010-4$((RANDOM % 900 + 100))-$((RANDOM % 9000 + 1000))\"}}]}" >"$T/b.json" &
		tok_pid=$!
		waiting_on_lock 1
		dsr_post v1/dsr "{\"kind\":\"erasure\",\"subject_token\":\"$stok\",\"verified\":true}" >"$T/e.json"
		waiting_on_lock 2 && ok "$order: both wait on the subject's row" || fail "$order: lock waits"
	else
		dsr_post v1/dsr "{\"kind\":\"erasure\",\"subject_token\":\"$stok\",\"verified\":true}" >"$T/e.json"
		waiting_on_lock 1
		vault_post tagger v1/tokenize "{\"source\":\"race.b\",\"records\":[{\"subject\":\"$S\",\"fields\":{\"phone\":\"010-4$((RANDOM % 900 + 100))-$((RANDOM % 9000 + 1000))\"}}]}" >"$T/b.json" &
		tok_pid=$!
		waiting_on_lock 2 && ok "$order: both wait on the subject's row" || fail "$order: lock waits"
	fi
	release
	wait "$tok_pid"
	eid=$(json_get id "$T/e.json")
	check "$order: the erasure completes" wait_completed "$eid"
	left=$(psql "$PIIV_PG" -Atc "select (select count(*) from pii_values where subject_id = $sid) || ' ' || (select count(*) from subject_keys where subject_id = $sid) || ' ' || status from subjects where id = $sid")
	expect_eq "$order: nothing of the subject is left" "$left" "0 0 erased"
	phone_tok=$(json_get records.0.fields.phone "$T/b.json" 2>/dev/null)
	dropped=$(json_get dropped.0.reason "$T/b.json" 2>/dev/null)
	in_event=$(psql "$PIIV_PG" -Atc "select count(*) from erasure_events where dsr_id = '$eid' and '$phone_tok' = any (tokens || shared_tokens)")
	if [[ $dropped == subject_erased || $in_event == 1 ]]; then
		ok "$order: the ingest's new token is dropped or in the outbox event ($dropped${in_event:+/$in_event})"
	else
		fail "$order: the ingest's token is neither dropped nor published" "dropped=$dropped in_event=$in_event"
	fi
done
[[ $(grep -c 'event=tokenize_retry' "$PIIV_DIR/log/vault.log") -gt $retries0 ]] && ok "erasure-first: the ingest ran again after the erasure" ||
	fail "erasure-first: no tokenize retry logged"

# --- two erasures of one subject -------------------------------------------------
vault_post tagger v1/tokenize "{\"source\":\"race.c\",\"records\":[{\"subject\":\"user:$R-twice\",\"fields\":{\"email\":\"twice-$R@example.com\"}}]}" >"$T/c.json"
stok=$(json_get records.0.subject_token "$T/c.json")
sid=$(psql "$PIIV_PG" -Atc "select id from subjects where subject_token = '$stok'")
hold "begin; select id from subjects where id = $sid for update;"
dsr_post v1/dsr "{\"kind\":\"erasure\",\"subject_token\":\"$stok\",\"verified\":true}" >"$T/e1.json"
dsr_post v1/dsr "{\"kind\":\"erasure\",\"subject_token\":\"$stok\",\"verified\":true}" >"$T/e2.json"
waiting_on_lock 2 && ok "twice: both erasures wait on the subject" || fail "twice: lock waits"
release
check "twice: both complete" wait_completed "$(json_get id "$T/e1.json")" "$(json_get id "$T/e2.json")"
expect_eq "twice: one outbox event" "$(psql "$PIIV_PG" -Atc "select count(*) from erasure_events where subject_token = '$stok'")" 1
expect_eq "twice: one value erased in all" "$(psql "$PIIV_PG" -Atc "select sum(values_erased) from dsr_requests where subject_token = '$stok'")" 1

# --- the outbox: ids in commit order, so a consumer never skips one ------------
# A session inserts an event the way the executor does (under the outbox
# lock, held to its commit) and waits: a real erasure meanwhile completes its
# work but cannot publish before it, and nothing past it is served.
curl -sS --cacert "$PIIV_CACERT" "${AS_WAREHOUSE[@]}" "$PIIV_VAULT_URL/v1/erasures?after=0&limit=1000" >"$T/ev0.json"
last=$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["events"]; print(e[-1]["id"] if e else 0)' "$T/ev0.json")
curl -sS --cacert "$PIIV_CACERT" "${AS_WAREHOUSE[@]}" -X POST "$PIIV_VAULT_URL/v1/erasures/ack" -d "{\"id\":$last}" >/dev/null
hold "begin; select pg_advisory_xact_lock(7046274403779229026); insert into erasure_events (dsr_id, subject_token, tokens, shared_tokens, erased_at) values ('dsr_late$R', 'tok_subject_v1_lateaaaaaaaaaaaaaaaaaaaaaa', '{}', '{}', now());"
vault_post tagger v1/tokenize "{\"source\":\"race.d\",\"records\":[{\"subject\":\"user:$R-after\",\"fields\":{\"email\":\"after-$R@example.com\"}}]}" >"$T/d.json"
dsr_post v1/dsr "{\"kind\":\"erasure\",\"subject_token\":\"$(json_get records.0.subject_token "$T/d.json")\",\"verified\":true}" >"$T/e3.json"
waiting_on_lock 1 && ok "late: the later erasure waits to publish" || fail "late: no wait on the outbox lock"
expect_status "late: the outbox while the earlier event is uncommitted" 200 - -- "${AS_WAREHOUSE[@]}" "$PIIV_VAULT_URL/v1/erasures"
expect_eq "late: serves nothing" "$(json_get events.# "$LAST_BODY")" 0
release
check "late: the later erasure completes" wait_completed "$(json_get id "$T/e3.json")"
expect_status "late: the outbox once both committed" 200 - -- "${AS_WAREHOUSE[@]}" "$PIIV_VAULT_URL/v1/erasures"
expect_eq "late: serves both, in commit order" "$(json_get events.# "$LAST_BODY") $(json_get events.0.request_id "$LAST_BODY") $(json_get events.1.request_id "$LAST_BODY")" \
	"2 dsr_late$R $(json_get id "$T/e3.json")"
psql "$PIIV_PG" -qc "delete from erasure_events where dsr_id = 'dsr_late$R'"
