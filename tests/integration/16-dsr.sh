#!/usr/bin/env bash
# 16-dsr.sh - subject-rights requests at the vault, end to end: intake and
# deadlines, verification, the executor, export (JSON and HTML, exactly the
# subject's data although two subjects share a phone), objection and
# restriction (reveal and ingest refuse those purposes), erasure (nothing
# left to decrypt, tombstone drops later ingests, outbox and acks, a signed
# receipt whose audit proof verifies), extensions, rejection, listings,
# overdue metrics and the notification hook, and bad input.
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}
STAFF=(-H "X-Piiv-On-Behalf-Of: dpo-$R@corp" -H "X-Piiv-Role: compliance")
AS_WAREHOUSE=(-H "Authorization: Bearer ${PIIV_DOWNSTREAM_TOKEN:-}" "${JSON_CT[@]}")
ctx() { echo "\"context\":{\"on_behalf_of\":\"kim-$R@corp\",\"role\":\"cs_agent\",\"purpose\":\"$1\",\"ticket\":\"CS-16\"}"; }

# dsr_post PATH JSON: POST as the proxy acting for compliance staff
dsr_post() {
	curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" \
		-X POST "$PIIV_VAULT_URL/${1#/}" --data-binary "$2"
}
dsr_get() {
	curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" \
		"$PIIV_VAULT_URL/${1#/}"
}
# wait_status ID STATUS: poll until the request has STATUS (20 s at most)
wait_status() {
	local i st
	for i in $(seq 1 100); do
		st=$(dsr_get "v1/dsr/$1" | json_get status 2>/dev/null)
		[[ $st == "$2" ]] && return 0
		sleep 0.2
	done
	echo "# request $1 is '$st', not '$2'"
	return 1
}

# --- seed: A and B share a phone; C for a restriction ------------------------
b='{"source":"crm.users","records":[
 {"subject":"user:'$R'-a","fields":{"email":"a-'$R'@example.com","phone":"010-5555-'${R:0:4}'","name":"Ann <b>&amp; \"Q\"</b>"}},
 {"subject":"user:'$R'-b","fields":{"email":"b-'$R'@example.com","phone":"010-5555-'${R:0:4}'"}},
 {"subject":"user:'$R'-c","fields":{"email":"c-'$R'@example.com"}}]}'
vault_post tagger v1/tokenize "$b" >"$T/seed.json"
A=$(json_get records.0.subject_token "$T/seed.json")
B=$(json_get records.1.subject_token "$T/seed.json")
C=$(json_get records.2.subject_token "$T/seed.json")
vault_post tagger v1/tokenize '{"source":"shop.orders","records":[{"subject":"user:'$R'-a","fields":{"address":"1 Main St, Seoul"}}]}' >/dev/null
[[ $A == tok_subject_* && $B == tok_subject_* && $A != "$B" ]] && ok "seed: subjects A and B" || fail "seed" "$(head -c 300 "$T/seed.json")"
expect_status "seed: A is revealed once (access history)" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject_token\":\"$A\",\"categories\":[\"email\"],$(ctx support)}"
expect_status "resolve: the shared phone finds both subjects" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/subjects/resolve" \
	-d "{\"category\":\"phone\",\"value\":\"010-5555-${R:0:4}\"}"
expect_eq "resolve: two matches need a choice" "$(json_get subject_tokens.# "$LAST_BODY")" 2

# --- intake and the deadline ------------------------------------------------
expect_status "intake: an export request for A" 201 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"export\",\"subject_token\":\"$A\",\"requested_by\":\"email to privacy@\"}"
cp "$LAST_BODY" "$T/exp.json"
EXP=$(json_get id "$T/exp.json")
expect_eq "intake: status received" "$(json_get status "$T/exp.json")" received
expect_eq "intake: taken by the person the proxy acts for" "$(json_get taken_by "$T/exp.json")" "dpo-$R@corp"
[[ $EXP =~ ^dsr_[a-z2-7]{26}$ ]] && ok "intake: a random request id" || fail "intake: id" "$EXP"
recv=$(json_get received_at "$T/exp.json")
due=$(json_get due_at "$T/exp.json")
want=$(date -u -d "${recv} + 1 month" +%Y-%m-%dT%H:%M:%SZ 2>/dev/null)
day=$(date -u -d "$recv" +%d)
if ((10#$day <= 28)); then
	expect_eq "intake: due one calendar month after receipt" "$due" "$want"
else
	[[ $due > $recv ]] && ok "intake: due after receipt (month end)" || fail "intake: due" "$recv $due"
fi
expect_status "intake: a stricter deadline of 5 days" 201 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"export\",\"subject_token\":\"$C\",\"received_at\":\"2026-03-01T08:00:00Z\",\"deadline_days\":5}"
expect_eq "deadline: 1 Mar + 5 days" "$(json_get due_at "$LAST_BODY")" "2026-03-06T08:00:00Z"
dsr_post "v1/dsr/$(json_get id "$LAST_BODY")/reject" '{"reason":"test"}' >/dev/null
expect_status "intake: deadline_days past 31 is refused" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"export\",\"subject_token\":\"$C\",\"deadline_days\":40}"
expect_status "intake: a request received 31 Jan 2024 (leap year)" 201 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"erasure\",\"subject\":\"user:$R-b\",\"received_at\":\"2024-01-31T09:00:00Z\"}"
cp "$LAST_BODY" "$T/late.json"
LATE=$(json_get id "$T/late.json")
expect_eq "deadline: 31 Jan 2024 -> 29 Feb 2024" "$(json_get due_at "$T/late.json")" "2024-02-29T09:00:00Z"
expect_eq "deadline: the late request shows overdue" "$(json_get overdue "$T/late.json")" true
expect_status "extend: refused after the deadline" 409 conflict -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$LATE/extend" \
	-d '{"months":1,"reason":"complex request"}'
expect_status "reject: the late request (a duplicate)" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$LATE/reject" \
	-d '{"reason":"duplicate of another request"}'
expect_eq "reject: status rejected" "$(json_get status "$LAST_BODY")" rejected
expect_status "reject: a rejected request cannot be verified" 409 conflict -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$LATE/verify" -d '{}'

# extensions on a fresh request: at most two months in all, with a reason
dsr_post v1/dsr "{\"kind\":\"export\",\"subject_token\":\"$C\"}" >"$T/ext.json"
EXT=$(json_get id "$T/ext.json")
d0=$(json_get due_at "$T/ext.json")
expect_status "extend: a reason is required" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$EXT/extend" -d '{"months":1}'
expect_status "extend: by one month before the deadline" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$EXT/extend" \
	-d '{"months":1,"reason":"many systems to search"}'
d1=$(json_get due_at "$LAST_BODY")
[[ $d1 > $d0 ]] && ok "extend: the deadline moved later" || fail "extend: deadline" "$d0 -> $d1"
expect_eq "extend: one month recorded" "$(json_get extended_months "$LAST_BODY")" 1
expect_status "extend: beyond two months in all is refused" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$EXT/extend" \
	-d '{"months":2,"reason":"more"}'
expect_status "extend: the second month is allowed" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$EXT/extend" \
	-d '{"months":1,"reason":"still searching"}'
expect_eq "extend: two months recorded" "$(json_get extended_months "$LAST_BODY")" 2
dsr_post "v1/dsr/$EXT/reject" '{"reason":"withdrawn by the subject"}' >/dev/null

# --- the export ----------------------------------------------------------------
expect_status "export: not ready before it is verified" 409 conflict -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/$EXP/export"
expect_status "verify: the export request" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$EXP/verify" -d '{}'
expect_eq "verify: verified by the staff member" "$(json_get verified_by "$LAST_BODY")" "dpo-$R@corp"
check "executor: the export completes by itself" wait_status "$EXP" completed
expect_status "export: the JSON bundle" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/$EXP/export"
cp "$LAST_BODY" "$T/bundle.json"
expect_eq "export: format" "$(json_get format "$T/bundle.json")" "piivault-export v1"
expect_eq "export: the subject" "$(json_get subject_token "$T/bundle.json")" "$A"
expect_eq "export: four values (email, phone, name, address)" "$(json_get values.# "$T/bundle.json")" 4
grep -q "a-$R@example.com" "$T/bundle.json" && ok "export: A's email is in it" || fail "export: A's email"
grep -q "b-$R@example.com" "$T/bundle.json" && fail "export: B's email leaked into A's export" || ok "export: nothing of B (who shares A's phone)"
grep -q '"source":"shop.orders"' "$T/bundle.json" && grep -q '"source":"crm.users"' "$T/bundle.json" &&
	ok "export: values by source" || fail "export: sources"
grep -q '"first_seen"' "$T/bundle.json" && grep -q '"last_seen"' "$T/bundle.json" && ok "export: first and last seen" || fail "export: seen times"
grep -q "\"on_behalf_of\":\"kim-$R@corp\"" "$T/bundle.json" && grep -q '"action":"reveal"' "$T/bundle.json" &&
	ok "export: the access history shows who saw the data" || fail "export: access history"
curl -sS --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" -D "$T/h.txt" -o "$T/page.html" "$PIIV_VAULT_URL/v1/dsr/$EXP/export?format=html"
grep -qi '^content-type: text/html; charset=utf-8' "$T/h.txt" && ok "export html: content type" || fail "export html: content type" "$(grep -i content-type "$T/h.txt")"
grep -q "a-$R@example.com" "$T/page.html" && ok "export html: holds the values" || fail "export html: values"
grep -q '<b>&amp;' "$T/page.html" && fail "export html: a value's markup is not escaped" || ok "export html: values are escaped"
expect_status "export: ?format=xml is refused" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/$EXP/export?format=xml"
"$PIIV_BIN/pii-audit" report --subject "$A" --format json >"$T/auditA.json" 2>/dev/null
for a in dsr_create dsr_verify dsr_start export export_fetch; do
	grep -q "\"action\":\"$a\"" "$T/auditA.json" && ok "audit: $a recorded" || fail "audit: $a missing"
done

# --- objection and restriction -------------------------------------------------
expect_status "objection: purposes are required" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"objection\",\"subject_token\":\"$B\"}"
expect_status "objection: B objects to marketing (verified at intake)" 201 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"objection\",\"subject_token\":\"$B\",\"purposes\":[\"marketing\"],\"verified\":true}"
OBJ=$(json_get id "$LAST_BODY")
check "objection: completed by the executor" wait_status "$OBJ" completed
expect_status "objection: reveal for marketing refused" 403 objection_in_force -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject_token\":\"$B\",\"categories\":[\"email\"],$(ctx marketing)}"
expect_status "objection: reveal for support still allowed" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject_token\":\"$B\",\"categories\":[\"email\"],$(ctx support)}"
vault_post tagger v1/tokenize '{"source":"mkt.list","purpose":"marketing","records":[{"subject":"user:'$R'-b","fields":{"email":"b2-'$R'@example.com"}},{"subject":"user:'$R'-c","fields":{"email":"c2-'$R'@example.com"}}]}' >"$T/mkt.json"
expect_eq "objection: a marketing ingest drops B's record" "$(json_get dropped.0.reason "$T/mkt.json")" objection
expect_eq "objection: ... and only B's" "$(json_get dropped.# "$T/mkt.json")" 1
# the ETL hook: a marketing run of pii-tag drops B's row, an analytics run keeps it
printf '{"dataset": "mkt.export", "subject_prefix": "user:", "columns": [{"name": "id", "category": "subject"}, {"name": "email", "category": "email"}]}\n' >"$T/schema.json"
printf 'id,email\n%s-b,b3-%s@example.com\n%s-c2,c3-%s@example.com\n' "$R" "$R" "$R" "$R" >"$T/mkt.csv"
if "$PIIV_BIN/pii-tag" run --vault "$PIIV_VAULT_URL" --cacert "$PIIV_CACERT" --schema "$T/schema.json" \
	--purpose marketing --manifest "$T/mkt-m.json" "$T/mkt.csv" "$T/mkt-out.csv" 2>"$T/tag.err"; then
	ok "objection: pii-tag run --purpose marketing"
else
	fail "objection: pii-tag run" "$(head -c 300 "$T/tag.err")"
fi
expect_eq "objection: the tagger drops B's row and counts it" "$(json_get counts.dropped.objection "$T/mkt-m.json")" 1
expect_eq "objection: the other row goes through" "$(($(wc -l <"$T/mkt-out.csv") - 1))" 1
grep -q "^$B," "$T/mkt-out.csv" && fail "objection: B's row in the marketing output" || ok "objection: B's row is not in the output"
"$PIIV_BIN/pii-tag" run --vault "$PIIV_VAULT_URL" --cacert "$PIIV_CACERT" --schema "$T/schema.json" \
	--purpose analytics --manifest "$T/an-m.json" "$T/mkt.csv" "$T/an-out.csv" 2>/dev/null
expect_eq "objection: an analytics run keeps B's row" "$(($(wc -l <"$T/an-out.csv") - 1))" 2
expect_status "objections: listed for the tagger" 200 - -- "${AS_TAGGER[@]}" "$PIIV_VAULT_URL/v1/objections?purpose=marketing"
grep -q "$B" "$LAST_BODY" && ok "objections: B is listed for marketing" || fail "objections: B missing"
expect_status "objections: not for analytics" 200 - -- "${AS_TAGGER[@]}" "$PIIV_VAULT_URL/v1/objections?purpose=analytics"
grep -q "$B" "$LAST_BODY" && fail "objections: B listed for analytics" || ok "objections: other purposes unaffected"
expect_status "objections: a purpose is required" 400 bad_request -- "${AS_TAGGER[@]}" "$PIIV_VAULT_URL/v1/objections"
dsr_post v1/dsr "{\"kind\":\"restriction\",\"subject_token\":\"$C\",\"verified\":true}" >"$T/res.json"
check "restriction: completed" wait_status "$(json_get id "$T/res.json")" completed
expect_status "restriction: reveal refused for any purpose" 403 objection_in_force -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject_token\":\"$C\",\"categories\":[\"email\"],$(ctx support)}"
expect_status "restriction: listed for every purpose" 200 - -- "${AS_TAGGER[@]}" "$PIIV_VAULT_URL/v1/objections?purpose=analytics"
grep -q "$C" "$LAST_BODY" && ok "restriction: C listed for analytics" || fail "restriction: C not listed"

# --- erasure ------------------------------------------------------------------------
m0=$(curl -sS --cacert "$PIIV_CACERT" "$PIIV_VAULT_ADMIN_URL/metrics" | awk '$1 == "piiv_vault_ingest_dropped_erased_total" {print $2}')
phone_tok=$(json_get records.0.fields.phone "$T/seed.json")
email_tok=$(json_get records.0.fields.email "$T/seed.json")
expect_status "erasure: A's request taken in, verified" 201 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"erasure\",\"subject\":\"user:$R-a\",\"verified\":true}"
ERA=$(json_get id "$LAST_BODY")
check "erasure: completed by the executor" wait_status "$ERA" completed
expect_eq "erasure: four values erased" "$(dsr_get "v1/dsr/$ERA" | json_get values_erased)" 4
expect_status "erasure: reveal answers subject_erased" 410 subject_erased -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject_token\":\"$A\",\"categories\":[\"email\"],$(ctx support)}"
row=$(psql "$PIIV_PG" -Atc "select s.status, s.value_tokens is null, (select count(*) from pii_values where subject_id = s.id), (select count(*) from subject_keys where subject_id = s.id) from subjects s where s.subject_token = '$A'")
expect_eq "erasure: tombstone, no values, no key (nothing left to decrypt)" "$row" "erased|t|0|0"
expect_eq "erasure: the earlier export is shredded with the key" \
	"$(psql "$PIIV_PG" -Atc "select count(*) from dsr_requests where subject_token = '$A' and export_sealed is not null")" 0
expect_status "erasure: fetching the old export answers subject_erased" 410 subject_erased -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/$EXP/export"
expect_status "erasure: B keeps the shared phone" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject_token\":\"$B\",\"categories\":[\"phone\"],$(ctx support)}"
expect_eq "erasure: B's phone is intact" "$(json_get fields.phone.# "$LAST_BODY")" 1
expect_status "erasure: a second erasure of A is refused at intake" 410 subject_erased -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" \
	-d "{\"kind\":\"erasure\",\"subject_token\":\"$A\"}"

# tombstone: a later ingest of A is dropped and counted
vault_post tagger v1/tokenize '{"source":"crm.users","records":[{"subject":"user:'$R'-a","fields":{"email":"a-'$R'@example.com"}}]}' >"$T/again.json"
expect_eq "tombstone: a later ingest of A is dropped" "$(json_get dropped.0.reason "$T/again.json")" subject_erased
expect_eq "tombstone: nothing stored" "$(json_get stored "$T/again.json")" 0
m1=$(curl -sS --cacert "$PIIV_CACERT" "$PIIV_VAULT_ADMIN_URL/metrics" | awk '$1 == "piiv_vault_ingest_dropped_erased_total" {print $2}')
expect_eq "tombstone: the drop is counted" "$((m1 - m0))" 1

# outbox: the event, tokens and shared tokens; acknowledgement
expect_status "outbox: the warehouse reads erasure events" 200 - -- "${AS_WAREHOUSE[@]}" "$PIIV_VAULT_URL/v1/erasures?after=0&limit=1000"
cp "$LAST_BODY" "$T/events.json"
ev=$("$JGET" events <"$T/events.json" | tr ',' '\n' | grep -c "$A")
[[ $ev -ge 1 ]] && ok "outbox: an event for A" || fail "outbox: no event for A"
python3 - "$T/events.json" "$A" "$email_tok" "$phone_tok" >"$T/ev.txt" <<'EOF'
import json, sys
evs = [e for e in json.load(open(sys.argv[1]))["events"] if e["subject_token"] == sys.argv[2]]
e = evs[0]
print(len(evs), sys.argv[3] in e["tokens"], sys.argv[4] in e["shared_tokens"], sys.argv[4] in e["tokens"], e["id"])
EOF
read -r n_ev has_email shared_phone phone_in_tokens EVID <"$T/ev.txt"
expect_eq "outbox: exactly one event for A" "$n_ev" 1
expect_eq "outbox: A's email token is to be purged" "$has_email" True
expect_eq "outbox: the phone A shares with B is listed apart" "$shared_phone/$phone_in_tokens" "True/False"
expect_status "outbox: the proxy may not read it" 403 forbidden -- "${AS_PROXY[@]}" "$PIIV_VAULT_URL/v1/erasures"
expect_status "outbox: ack" 200 - -- "${AS_WAREHOUSE[@]}" -X POST "$PIIV_VAULT_URL/v1/erasures/ack" -d "{\"id\":$EVID}"
expect_eq "outbox: acked position" "$(json_get acked_id "$LAST_BODY")" "$EVID"
expect_status "outbox: after the ack, reading resumes past it" 200 - -- "${AS_WAREHOUSE[@]}" "$PIIV_VAULT_URL/v1/erasures"
grep -q "\"id\":$EVID," "$LAST_BODY" && fail "outbox: acked event served again" || ok "outbox: acked events are not served again"
expect_status "outbox: acking an unknown event" 404 not_found -- "${AS_WAREHOUSE[@]}" -X POST "$PIIV_VAULT_URL/v1/erasures/ack" -d '{"id":999999999}'

# receipt: signed, with an inclusion proof of the erasure's audit record
for i in $(seq 1 60); do
	st=$(curl -sS --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" "${STAFF[@]}" -o "$T/receipt.json" -w '%{http_code}' "$PIIV_VAULT_URL/v1/dsr/$ERA/receipt")
	[[ $st == 200 ]] && break
	sleep 0.5
done
expect_eq "receipt: served once a checkpoint covers the erasure" "$st" 200
"$JGET" statement <"$T/receipt.json" >"$T/statement.json"
expect_eq "receipt: names the request" "$(json_get request_id "$T/statement.json")" "$ERA"
expect_eq "receipt: names the subject token" "$(json_get subject_token "$T/statement.json")" "$A"
[[ $(json_get kek_epoch "$T/statement.json") =~ ^[1-9][0-9]*$ ]] && ok "receipt: the KEK epoch" || fail "receipt: kek_epoch"
grep -q "a-$R@example.com\|Main St" "$T/receipt.json" && fail "receipt: holds PII" || ok "receipt: no PII"
"$JGET" proof <"$T/receipt.json" >"$T/proof.json"
if "$PIIV_BIN/pii-audit" verify-proof --pubkey "${PIIV_AUDIT_PUBKEY%%:*}" "$T/proof.json" >"$T/vp.out" 2>&1; then
	ok "receipt: the audit proof verifies against a signed checkpoint"
else
	fail "receipt: proof" "$(head -c 300 "$T/vp.out")"
fi
grep -Eq '^ *action +erasure$' "$T/vp.out" && grep -q "$ERA" "$T/vp.out" && ok "receipt: the proven record is the erasure" ||
	fail "receipt: proven record" "$(head -c 300 "$T/vp.out")"
if "$PIIV_BIN/pii-audit" verify-receipt --pubkey "${PIIV_AUDIT_PUBKEY%%:*}" "$T/receipt.json" >"$T/vr.out" 2>&1; then
	ok "receipt: signature and proof verify (pii-audit verify-receipt)"
else
	fail "receipt: verify-receipt" "$(head -c 300 "$T/vr.out")"
fi
sed 's/"values_erased\\":4/"values_erased\\":3/' "$T/receipt.json" >"$T/forged.json"
if "$PIIV_BIN/pii-audit" verify-receipt --pubkey "${PIIV_AUDIT_PUBKEY%%:*}" "$T/forged.json" >/dev/null 2>&1; then
	fail "receipt: a changed statement still verifies"
else
	ok "receipt: a changed statement does not verify"
fi
expect_status "receipt: an export has none" 409 conflict -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/$EXP/receipt"
"$PIIV_BIN/pii-audit" report --subject "$A" --format json >"$T/auditA2.json" 2>/dev/null
n=$(grep -o "\"action\":\"erasure\"" "$T/auditA2.json" | wc -l)
expect_eq "audit: one erasure record" "$n" 1
grep -q "a-$R@example.com" "$T/auditA2.json" && fail "audit: holds PII" || ok "audit: no PII in the subject's records"

# --- listings, metrics, overdue hook ---------------------------------------------------
dsr_post v1/dsr "{\"kind\":\"export\",\"subject_token\":\"$B\",\"received_at\":\"2024-03-01T00:00:00Z\"}" >"$T/od.json"
OD=$(json_get id "$T/od.json")
expect_status "list: open requests due before 2025" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr?status=open&due_before=2025-01-01T00:00:00Z"
grep -q "$OD" "$LAST_BODY" && ok "list: the overdue request is listed" || fail "list: overdue missing"
grep -q "$EXT" "$LAST_BODY" && fail "list: a rejected request listed as open" || ok "list: only open requests"
expect_status "list: completed requests of A" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr?status=completed&subject_token=$A"
expect_eq "list: A's export and erasure" "$(json_get requests.# "$LAST_BODY")" 2
expect_status "list: a bad status" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr?status=done"
expect_status "list: a bad due_before" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr?due_before=tomorrow"
curl -sS --cacert "$PIIV_CACERT" "$PIIV_VAULT_ADMIN_URL/metrics" >"$T/metrics.txt"
for m in piiv_vault_dsr_open piiv_vault_dsr_due_7d piiv_vault_dsr_overdue; do
	grep -q "^$m [0-9]" "$T/metrics.txt" && ok "metrics: $m" || fail "metrics: $m missing"
done
od=$(awk '$1 == "piiv_vault_dsr_overdue" {print $2}' "$T/metrics.txt")
[[ ${od:-0} -ge 1 ]] && ok "metrics: the overdue request is counted" || fail "metrics: overdue" "$od"
for i in $(seq 1 40); do grep -q "$OD" "${PIIV_DSR_NOTIFY_FILE:-/nonexistent}" 2>/dev/null && break; sleep 0.25; done
grep -q "\"id\": \"$OD\"" "${PIIV_DSR_NOTIFY_FILE:-/nonexistent}" 2>/dev/null && ok "overdue: reported to the notification hook" ||
	fail "overdue: not in ${PIIV_DSR_NOTIFY_FILE:-}"
grep -q "event=dsr_overdue dsr=$OD" "$PIIV_DIR/log/vault.log" && ok "overdue: logged" || fail "overdue: not logged"
n=$(grep -c "\"id\": \"$OD\"" "$PIIV_DSR_NOTIFY_FILE")
sleep 2.5
expect_eq "overdue: reported once" "$(grep -c "\"id\": \"$OD\"" "$PIIV_DSR_NOTIFY_FILE")" "$n"
"$PIIV_BIN/pii-vault" dsr-due --config "$PIIV_VAULT_CONFIG" >"$T/due.txt" 2>&1
grep -q "^$OD .*OVERDUE" "$T/due.txt" && ok "pii-vault dsr-due lists the overdue request" || fail "dsr-due" "$(head -c 300 "$T/due.txt")"
grep -Eq '^[0-9]+ open requests? due within 7 days, [1-9][0-9]* overdue$' "$T/due.txt" && ok "dsr-due: a summary line" ||
	fail "dsr-due summary" "$(tail -n 1 "$T/due.txt")"
grep -q "$EXT" "$T/due.txt" && fail "dsr-due lists a rejected request" || ok "dsr-due: only open requests"
"$PIIV_BIN/pii-vault" dsr-due --config "$PIIV_VAULT_CONFIG" --days x >/dev/null 2>&1
expect_eq "dsr-due --days x: usage error" "$?" 2
dsr_post "v1/dsr/$OD/reject" '{"reason":"test cleanup"}' >/dev/null

# --- bad input and access ------------------------------------------------------
expect_status "bad: unknown kind" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"delete\",\"subject_token\":\"$B\"}"
[[ $(json_get error.field "$LAST_BODY") == kind ]] && ok "bad: the field is named" || fail "bad: field" "$(head -c 200 "$LAST_BODY")"
expect_status "bad: unknown key" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"export\",\"subject_token\":\"$B\",\"x\":1}"
expect_status "bad: a time that is not RFC 3339" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"export\",\"subject_token\":\"$B\",\"received_at\":\"31/01/2024\"}"
expect_status "bad: received in the future" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"export\",\"subject_token\":\"$B\",\"received_at\":\"2099-01-01T00:00:00Z\"}"
expect_status "bad: an unknown subject" 404 not_found -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"export\",\"subject\":\"user:nobody-$R\"}"
expect_status "bad: both subject and subject_token" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"export\",\"subject\":\"user:$R-b\",\"subject_token\":\"$B\"}"
expect_status "bad: a purpose that is not a name" 400 bad_request -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"objection\",\"subject_token\":\"$B\",\"purposes\":[\"*\"]}"
expect_status "bad: an unknown request" 404 not_found -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/dsr_nosuchrequest"
expect_status "bad: an id with odd characters" 404 not_found -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/a.b"
expect_status "bad: an unknown action" 404 not_found -- "${AS_PROXY[@]}" "${STAFF[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr/$EXP/erase" -d '{}'
expect_status "bad: GET on verify" 405 - -- "${AS_PROXY[@]}" "${STAFF[@]}" "$PIIV_VAULT_URL/v1/dsr/$EXP/verify"
expect_status "bad: a header with a quote" 400 bad_request -- "${AS_PROXY[@]}" -H 'X-Piiv-On-Behalf-Of: a"b' "$PIIV_VAULT_URL/v1/dsr"
expect_status "access: the tagger may not manage requests" 403 forbidden -- "${AS_TAGGER[@]}" "$PIIV_VAULT_URL/v1/dsr"
expect_status "access: the warehouse may not either" 403 forbidden -- "${AS_WAREHOUSE[@]}" -X POST "$PIIV_VAULT_URL/v1/dsr" -d "{\"kind\":\"erasure\",\"subject_token\":\"$B\"}"
grep -q "b-$R@example.com\|a-$R@example.com" "$PIIV_DIR/log/vault.log" && fail "log: a PII value in the vault log" || ok "log: no PII in the vault log"
expect_status "subject metadata read for a person" 200 - -- "${AS_PROXY[@]}" "${STAFF[@]}" -H "X-Request-Id: subj16-$R" "$PIIV_VAULT_URL/v1/subjects/$B"
expect_eq "... recorded with the person and role the proxy acts for" \
	"$(psql "$PIIV_AUDIT_PG" -Atc "select on_behalf_of || ' ' || role from audit_records where request_id = 'subj16-$R'")" "dpo-$R@corp compliance"

# --- four eyes: dsr_verify_by_another ---------------------------------------------
. "$(dirname "$0")/lib-vault.bash"
trap 'vault_stop; rm -rf "$T"' EXIT
vault_config foureyes 's/"threads": \([0-9]*\),/"threads": \1, "dsr_verify_by_another": true,/'
if grep -q '"dsr_verify_by_another": true' "$T/foureyes.json" && vault_start foureyes; then
	P1=(-H "X-Piiv-On-Behalf-Of: first-$R@corp" -H "X-Piiv-Role: compliance")
	P2=(-H "X-Piiv-On-Behalf-Of: second-$R@corp" -H "X-Piiv-Role: compliance")
	expect_status "four eyes: verified at intake is refused" 403 forbidden -- "${AS_PROXY[@]}" "${P1[@]}" -X POST "$VURL/v1/dsr" \
		-d "{\"kind\":\"export\",\"subject_token\":\"$B\",\"verified\":true}"
	expect_status "four eyes: taken in unverified" 201 - -- "${AS_PROXY[@]}" "${P1[@]}" -X POST "$VURL/v1/dsr" \
		-d "{\"kind\":\"export\",\"subject_token\":\"$B\"}"
	fe=$(json_get id "$LAST_BODY")
	expect_status "four eyes: the taker may not verify it" 403 forbidden -- "${AS_PROXY[@]}" "${P1[@]}" -X POST "$VURL/v1/dsr/$fe/verify" -d '{}'
	expect_eq "four eyes: ... and the refusal is audited" \
		"$(psql "$PIIV_AUDIT_PG" -Atc "select count(*) from audit_records where action = 'dsr_verify' and batch_id = '$fe' and decision = 'deny' and on_behalf_of = 'first-$R@corp'")" 1
	expect_status "four eyes: another person verifies it" 200 - -- "${AS_PROXY[@]}" "${P2[@]}" -X POST "$VURL/v1/dsr/$fe/verify" -d '{}'
	expect_eq "four eyes: verified by the second person" "$(json_get verified_by "$LAST_BODY")" "second-$R@corp"
	vault_stop
else
	fail "four eyes: a vault with dsr_verify_by_another started"
fi
