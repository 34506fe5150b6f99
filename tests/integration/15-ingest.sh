#!/usr/bin/env bash
# 15-ingest.sh - how tokenize stores a batch: values of new subjects (COPY,
# duplicates within the batch squeezed out), values of known subjects (INSERT
# ... ON CONFLICT DO NOTHING), concurrent batches that create the same
# subjects, and referential integrity of what they leave behind.
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}

# --- one new subject named twice in a batch, repeating one value ----------
b='{"source":"ingest.dup","records":[
 {"subject":"user:'$R'-d1","fields":{"email":"dup-'$R'@example.com","phone":"010-1111-2222"}},
 {"subject":"user:'$R'-d1","fields":{"email":"dup-'$R'@example.com","phone":"010-3333-4444"}},
 {"subject":"user:'$R'-d2","fields":{"email":"dup-'$R'@example.com"}}]}'
expect_status "ingest: a new subject twice in one batch" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b"
cp "$LAST_BODY" "$T/dup.json"
expect_eq "ingest: the repeated value is stored once" "$(json_get stored "$T/dup.json")" 4
expect_eq "ingest: the repeat counts as existing" "$(json_get existing "$T/dup.json")" 1
expect_eq "ingest: both records name the same subject token" \
	"$(json_get records.0.subject_token "$T/dup.json")" "$(json_get records.1.subject_token "$T/dup.json")"
s1=$(json_get records.0.subject_token "$T/dup.json")
n=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values v join subjects s on s.id = v.subject_id where s.subject_token = '$s1'")
expect_eq "ingest: three rows for the subject (one email, two phones)" "$n" 3
n=$(psql "$PIIV_PG" -Atc "select count(*) from subject_keys k join subjects s on s.id = k.subject_id where s.subject_token = '$s1'")
expect_eq "ingest: one wrapped key for the subject" "$n" 1

# --- known and new subjects in one batch ---------------------------------
b='{"source":"ingest.mix","records":[
 {"subject":"user:'$R'-d1","fields":{"email":"dup-'$R'@example.com","name":"Kim Mix"}},
 {"subject":"user:'$R'-m1","fields":{"email":"mix-'$R'@example.com","name":null}}]}'
expect_status "ingest: known and new subjects together" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b"
cp "$LAST_BODY" "$T/mix.json"
expect_eq "ingest mix: new values stored (known subject's name, new subject's email)" "$(json_get stored "$T/mix.json")" 2
expect_eq "ingest mix: the known value is existing" "$(json_get existing "$T/mix.json")" 1
expect_eq "ingest mix: the known subject keeps its token" "$(json_get records.0.subject_token "$T/mix.json")" "$s1"
expect_eq "ingest mix: a null field stays null" "$(json_get records.1.fields.name "$T/mix.json")" null
ctx='"context":{"on_behalf_of":"kim@corp","role":"cs_agent","purpose":"support","ticket":"CS-15","request_id":"req-ingest-'$R'"}'
expect_status "ingest mix: reveal reads values stored by both paths" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject\":\"user:$R-d1\",\"categories\":[\"email\",\"name\",\"phone\"],$ctx}"
expect_eq "ingest mix: reveal email (COPY path)" "$(json_get fields.email.0.value "$LAST_BODY")" "dup-$R@example.com"
expect_eq "ingest mix: reveal name (INSERT path)" "$(json_get fields.name.0.value "$LAST_BODY")" "Kim Mix"
expect_eq "ingest mix: reveal both phones" "$(json_get fields.phone.# "$LAST_BODY")" 2

# --- a batch that loses the race for a new subject runs again ------------
# Deterministically: a psql session holds an uncommitted insert of the
# subject's row (and key) while the vault tokenizes it as new; the vault's
# INSERT waits on the unique index, fails with 23505 once the session
# commits, rolls back and runs again, and then finds the subject.
vault_post tagger v1/tokenize '{"source":"ingest.race","records":[{"subject":"user:'$R'-x","fields":{"email":"x1-'$R'@example.com"}}]}' >"$T/x1.json"
xt=$(json_get records.0.subject_token "$T/x1.json")
row=$(psql "$PIIV_PG" -Atc "select s.id || ',' || k.kek_epoch || ',' || encode(k.wrapped_dek, 'hex') from subjects s join subject_keys k on k.subject_id = s.id where s.subject_token = '$xt'")
IFS=, read -r xid xepoch xkey <<<"$row"
psql "$PIIV_PG" -qc "begin; delete from pii_values where subject_id = $xid; delete from subject_keys where subject_id = $xid; delete from subjects where id = $xid; commit"
mkfifo "$T/psql.in"
psql "$PIIV_PG" -X -q -v ON_ERROR_STOP=1 <"$T/psql.in" >"$T/psql.out" 2>&1 &
psql_pid=$!
exec 7>"$T/psql.in"
echo "begin; insert into subjects (id, subject_token) values ($xid, '$xt'); insert into subject_keys values ($xid, $xepoch, decode('$xkey', 'hex'));" >&7
# wait until the session holds the row, then send the batch
for ((i = 0; i < 100; i++)); do
	n=$(psql "$PIIV_PG" -Atc "select count(*) from pg_stat_activity where state = 'idle in transaction' and pid <> pg_backend_pid() and query like '%insert into subject_keys%'")
	[[ $n == 1 ]] && break
	sleep 0.1
done
curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" "${AS_TAGGER[@]}" -o "$T/x2.json" -w '%{http_code}' \
	-X POST "$PIIV_VAULT_URL/v1/tokenize" \
	--data-binary '{"source":"ingest.race","records":[{"subject":"user:'$R'-x","fields":{"email":"x1-'$R'@example.com","phone":"010-5555-'$((R % 10000 + 10000))'"}}]}' \
	>"$T/x2.status" 2>/dev/null &
curl_pid=$!
# commit only once the vault's insert is waiting on the session's row
waited=0
for ((i = 0; i < 200; i++)); do
	n=$(psql "$PIIV_PG" -Atc "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like 'INSERT INTO subjects%'")
	if [[ $n -ge 1 ]]; then waited=1; break; fi
	sleep 0.05
done
echo "commit;" >&7
exec 7>&-
wait "$psql_pid"
wait "$curl_pid"
expect_eq "race: the vault's insert waited on the concurrent one" "$waited" 1
expect_eq "race: the losing batch still answers 200" "$(cat "$T/x2.status")" 200
expect_eq "race: ... with the subject found on its second run" "$(json_get records.0.subject_token "$T/x2.json")" "$xt"
expect_eq "race: ... storing both values (the session restored the subject and key, not its values)" "$(json_get stored "$T/x2.json"),$(json_get existing "$T/x2.json")" "2,0"
n=$(grep -c "event=tokenize_retry attempt=1 .*SQLSTATE 23505" "${PIIV_DIR:?}/log/vault.log")
[[ $n -ge 1 ]] && ok "race: the retry is logged with its SQLSTATE only" || fail "race: retry log line" "no tokenize_retry line"
n=$(psql "$PIIV_PG" -Atc "select count(*) from subjects where subject_token = '$xt'")
expect_eq "race: the subject exists once" "$n" 1

# --- many concurrent batches creating overlapping subjects ----------------
# Six batches at once over overlapping ranges of 1000 new subjects: each
# must answer 200 and every subject and value must exist exactly once.
src=ingest.race.$R
mkbatch() {   # FROM TO
	local i sep=
	printf '{"source":"%s","records":[' "$src"
	for ((i = $1; i <= $2; i++)); do
		printf '%s{"subject":"user:%s-r%d","fields":{"email":"r%d-%s@example.com","phone":"+8210%08d"}}' \
			"$sep" "$R" "$i" "$i" "$R" "$i"
		sep=,
	done
	printf ']}'
}
for k in 0 1 2 3 4 5; do
	mkbatch $((k * 500 + 1)) $((k * 500 + 1000)) >"$T/race-$k.json"
done
pids=()
for k in 0 1 2 3 4 5; do
	curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" "${AS_TAGGER[@]}" \
		-o "$T/race-$k.out" -w '%{http_code}' -X POST "$PIIV_VAULT_URL/v1/tokenize" \
		--data-binary "@$T/race-$k.json" >"$T/race-$k.status" 2>/dev/null &
	pids+=($!)
done
wait "${pids[@]}"
okn=0 sum=0
for k in 0 1 2 3 4 5; do
	if [[ $(cat "$T/race-$k.status") == 200 ]]; then
		okn=$((okn + 1))
		sum=$((sum + $(json_get stored "$T/race-$k.out")))
	fi
done
expect_eq "race: all six concurrent batches answer 200" "$okn" 6
# subjects r1..r3500, two values each
expect_eq "race: the stored counts add up to each value once" "$sum" 7000
n=$(psql "$PIIV_PG" -Atc "select count(*) || ',' || count(distinct subject_id) from pii_values where source = '$src'")
expect_eq "race: 7000 values of 3500 subjects" "$n" "7000,3500"
n=$(psql "$PIIV_PG" -Atc "select count(*) from subject_keys where subject_id in (select subject_id from pii_values where source = '$src')")
expect_eq "race: each subject has one wrapped key" "$n" 3500
expect_status "race: a raced subject reveals" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject\":\"user:$R-r1600\",\"categories\":[\"email\"],$ctx}"
expect_eq "race: the raced subject's email" "$(json_get fields.email.0.value "$LAST_BODY")" "r1600-$R@example.com"

# --- referential integrity (the schema has no foreign keys to check it) ---
n=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values v where not exists (select 1 from subjects s where s.id = v.subject_id)")
expect_eq "integrity: no value without its subject" "$n" 0
n=$(psql "$PIIV_PG" -Atc "select count(*) from subject_keys k where not exists (select 1 from subjects s where s.id = k.subject_id)")
expect_eq "integrity: no key without its subject" "$n" 0
n=$(psql "$PIIV_PG" -Atc "select count(*) from subjects s where s.status = 'active' and not exists (select 1 from subject_keys k where k.subject_id = s.id)")
expect_eq "integrity: every active subject has its key" "$n" 0

# --- subjects.value_tokens: what a re-ingest reads instead of pii_values ---
vt() { psql "$PIIV_PG" -Atc "select coalesce(value_tokens, 'NULL') from subjects where subject_token = '$1'"; }
b='{"source":"ingest.vt","records":[{"subject":"user:'$R'-vt","fields":{"email":"vt-'$R'@example.com","phone":"010-5555-'${R:0:4}'"}}]}'
expect_status "value_tokens: a new subject" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b"
cp "$LAST_BODY" "$T/vt.json"
sv=$(json_get records.0.subject_token "$T/vt.json")
e=$(json_get records.0.fields.email "$T/vt.json") ph=$(json_get records.0.fields.phone "$T/vt.json")
expect_eq "value_tokens: a new subject lists the tokens of its values" "$(vt "$sv")" "$e $ph"
b2='{"source":"ingest.vt","records":[{"subject":"user:'$R'-vt","fields":{"email":"vt-'$R'@example.com","name":"VT Person"}}]}'
expect_status "value_tokens: a known subject, one value held, one new" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b2"
expect_eq "value_tokens: ... stores only the new one" "$(json_get stored "$LAST_BODY") $(json_get existing "$LAST_BODY")" "1 1"
nm=$(json_get records.0.fields.name "$LAST_BODY")
expect_eq "value_tokens: ... and lists it" "$(vt "$sv")" "$e $ph $nm"
# a subject whose list is not kept (older than the column, or past its bound)
psql "$PIIV_PG" -qc "update subjects set value_tokens = null where subject_token = '$sv'"
expect_status "value_tokens NULL: re-ingest" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b2"
expect_eq "value_tokens NULL: nothing stored twice (pii_values asked)" "$(json_get stored "$LAST_BODY") $(json_get existing "$LAST_BODY")" "0 2"
b3='{"source":"ingest.vt","records":[{"subject":"user:'$R'-vt","fields":{"address":"1 VT Street"}}]}'
expect_status "value_tokens NULL: a new value" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b3"
expect_eq "value_tokens NULL: stored" "$(json_get stored "$LAST_BODY")" 1
expect_eq "value_tokens NULL: stays NULL" "$(vt "$sv")" NULL
n=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values v join subjects s on s.id = v.subject_id where s.subject_token = '$sv'")
expect_eq "value_tokens NULL: the subject holds its four values" "$n" 4
# a subject with more values than a list keeps
many=$(for i in $(seq 1 120); do printf '{"subject":"user:%s-many","fields":{"email":"m%d-%s@example.com"}},' "$R" "$i" "$R"; done)
expect_status "value_tokens: 120 values for one new subject" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" \
	--data-binary '{"source":"ingest.vt","records":['"${many%,}"']}'
smany=$(json_get records.0.subject_token "$LAST_BODY")
expect_eq "value_tokens: a list past its bound is not kept" "$(vt "$smany")" NULL
expect_status "value_tokens: ... and re-ingest stores nothing twice" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" \
	--data-binary '{"source":"ingest.vt","records":['"${many%,}"']}'
expect_eq "value_tokens: ... (120 existing)" "$(json_get stored "$LAST_BODY") $(json_get existing "$LAST_BODY")" "0 120"
# every kept list names exactly the subject's stored values
n=$(psql "$PIIV_PG" -Atc "select count(*) from subjects s where s.value_tokens is not null and
	(select coalesce(string_agg(token, ' ' order by token), '') from pii_values where subject_id = s.id) <>
	(select coalesce(string_agg(t, ' ' order by t), '') from (select distinct unnest(string_to_array(nullif(s.value_tokens, ''), ' ')) as t) x)")
expect_eq "integrity: every kept value_tokens list equals the subject's stored tokens" "$n" 0
