#!/usr/bin/env bash
# 10-vault-api.sh - tokenize, reveal, detokenize, resolve and subject metadata
# against the real vault over HTTPS, with the contract's fields.
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}   # run-unique subjects and ids, so the suite can run twice

batch=$(cat <<JSON
{"source":"shop.users","batch_id":"api-$R-1","records":[
 {"subject":"user:$R-1001","fields":{"email":" Alice@Example.COM","phone":"010-1234-5678","name":"김민준"}},
 {"subject":"user:$R-1002","fields":{"email":"bob@example.com","phone":"+82 10-9999-0000","name":null}},
 {"subject":"user:$R-1003","fields":{"phone":"010-9999-0000"}}]}
JSON
)

expect_status "tokenize a batch" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$batch"
cp "$LAST_BODY" "$T/first.json"
expect_eq "tokenize: stored counts new values" "$(json_get stored "$T/first.json")" 6
expect_eq "tokenize: nothing existing on first run" "$(json_get existing "$T/first.json")" 0
expect_eq "tokenize: one record per input" "$(json_get records.# "$T/first.json")" 3
email_tok=$(json_get records.0.fields.email "$T/first.json")
phone_tok=$(json_get records.0.fields.phone "$T/first.json")
subj_tok=$(json_get records.0.subject_token "$T/first.json")
[[ $email_tok =~ ^tok_email_v1_[a-z2-7]{26}$ ]] && ok "tokenize: email token has the contract's shape" || fail "tokenize: email token shape" "$email_tok"
[[ $subj_tok =~ ^tok_subject_v1_[a-z2-7]{26}$ ]] && ok "tokenize: subject token has the contract's shape" || fail "tokenize: subject token shape" "$subj_tok"
expect_eq "tokenize: a null field stays null" "$(json_get records.1.fields.name "$T/first.json")" "null"
# the same normalized phone for two subjects: one token, two rows
expect_eq "tokenize: same phone, same token across subjects" \
	"$(json_get records.1.fields.phone "$T/first.json")" "$(json_get records.2.fields.phone "$T/first.json")"

# retry with the same batch id: nothing new stored, the first run's counts
expect_status "tokenize: retry of the same batch id" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$batch"
expect_eq "tokenize retry: replayed" "$(json_get replayed "$LAST_BODY")" true
expect_eq "tokenize retry: same tokens" "$(json_get records.0.fields.email "$LAST_BODY")" "$email_tok"
subjects="'$(json_get records.0.subject_token "$T/first.json")','$(json_get records.1.subject_token "$T/first.json")','$(json_get records.2.subject_token "$T/first.json")'"
n=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values v join subjects s on s.id = v.subject_id where s.subject_token in ($subjects)")
expect_eq "tokenize retry: the vault holds each value once" "$n" 6

# same content, new batch id: all existing
b2=${batch/api-$R-1/api-$R-2}
expect_status "tokenize: re-ingest under a new batch id" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b2"
expect_eq "re-ingest: stored 0" "$(json_get stored "$LAST_BODY")" 0
expect_eq "re-ingest: existing 6" "$(json_get existing "$LAST_BODY")" 6

# a batch id reused for other content is a conflict
b3=${batch/bob@example.com/carol@example.com}
expect_status "tokenize: batch id reused for other content" 409 conflict -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$b3"

# normalization and category separation through the API
vault_post tagger v1/tokenize '{"source":"t","records":[{"subject":"user:'$R'-1001","fields":{"email":"alice@example.com"}}]}' >"$T/norm.json"
expect_eq "normalization: ' Alice@Example.COM' and 'alice@example.com' share a token" "$(json_get records.0.fields.email "$T/norm.json")" "$email_tok"
vault_post tagger v1/tokenize '{"source":"t","records":[{"subject":"user:1","fields":{"email":"12345678@x.io","name":"12345678@x.io"}}]}' >"$T/sep.json"
e=$(json_get records.0.fields.email "$T/sep.json"); nm=$(json_get records.0.fields.name "$T/sep.json")
[[ ${e#tok_email_v1_} != "${nm#tok_name_v1_}" ]] && ok "category separation: same string as email and name, different tokens" || fail "category separation"

# reveal as the proxy (bearer) and by client certificate
ctx='"context":{"on_behalf_of":"kim@corp","role":"cs_agent","purpose":"support","ticket":"CS-1","request_id":"req-api-reveal-'$R'"}'
expect_status "reveal as proxy" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "{\"subject\":\"user:$R-1001\",\"categories\":[\"email\",\"phone\",\"name\"],$ctx}"
expect_eq "reveal: email normalized value" "$(json_get fields.email.0.value "$LAST_BODY")" "alice@example.com"
expect_eq "reveal: phone in E.164" "$(json_get fields.phone.0.value "$LAST_BODY")" "+821012345678"
expect_eq "reveal: Korean name round-trips" "$(json_get fields.name.0.value "$LAST_BODY")" "김민준"
expect_eq "reveal: token beside the value" "$(json_get fields.email.0.token "$LAST_BODY")" "$email_tok"
expect_eq "reveal: source" "$(json_get fields.email.0.source "$LAST_BODY")" "shop.users"
[[ $(json_get fields.email.0.last_seen "$LAST_BODY") =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$ ]] && ok "reveal: last_seen is RFC 3339 UTC" || fail "reveal: last_seen format"
expect_status "reveal by subject_token with a client certificate" 200 - -- "${AS_PROXY_CERT[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "{\"subject_token\":\"$subj_tok\",\"categories\":[\"email\"],$ctx}"
expect_eq "reveal by token: same subject" "$(json_get subject_token "$LAST_BODY")" "$subj_tok"
expect_status "reveal: unknown subject is 404" 404 not_found -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "{\"subject\":\"user:nobody\",\"categories\":[\"email\"],$ctx}"
expect_status "reveal: purpose is required" 400 bad_request -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d '{"subject":"user:$R-1001","categories":["email"],"context":{"role":"x"}}'
expect_eq "reveal: missing purpose names the field" "$(json_get error.field "$LAST_BODY")" "context.purpose"

# objection to a purpose: 403 objection_in_force, other purposes still allowed
psql "$PIIV_PG" -qc "insert into objections (subject_id, purpose) select id, 'marketing' from subjects where subject_token = '$subj_tok'"
expect_status "reveal: objection to the purpose is refused" 403 objection_in_force -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "{\"subject\":\"user:$R-1001\",\"categories\":[\"email\"],\"context\":{\"purpose\":\"marketing\"}}"
expect_status "reveal: other purposes still allowed" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "{\"subject\":\"user:$R-1001\",\"categories\":[\"email\"],\"context\":{\"purpose\":\"support\"}}"
vault_post tagger v1/tokenize '{"source":"mkt","purpose":"marketing","records":[{"subject":"user:'$R'-1001","fields":{"email":"alice@example.com"}},{"subject":"user:'$R'-1002","fields":{"email":"bob@example.com"}}]}' >"$T/obj.json"
expect_eq "tokenize with a purpose: objecting subject dropped" "$(json_get dropped.0.reason "$T/obj.json")" objection
expect_eq "tokenize with a purpose: dropped index" "$(json_get dropped.0.index "$T/obj.json")" 0
expect_eq "tokenize with a purpose: others kept" "$(json_get records.1.fields.email "$T/obj.json")" "$(json_get records.1.fields.email "$T/first.json")"

# detokenize
expect_status "detokenize as proxy" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/detokenize" -d "{\"tokens\":[\"$email_tok\",\"$phone_tok\",\"tok_email_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa\"],\"context\":{\"purpose\":\"support\",\"on_behalf_of\":\"kim@corp\"}}"
expect_eq "detokenize: email" "$(json_get "values.$email_tok" "$LAST_BODY")" "alice@example.com"
expect_eq "detokenize: phone" "$(json_get "values.$phone_tok" "$LAST_BODY")" "+821012345678"
expect_eq "detokenize: unknown token reported" "$(json_get not_found.0 "$LAST_BODY")" "tok_email_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa"
expect_status "detokenize: malformed token names its index" 400 bad_request -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/detokenize" -d "{\"tokens\":[\"$email_tok\",\"nope\"],\"context\":{\"purpose\":\"support\"}}"
expect_eq "detokenize: field path" "$(json_get error.field "$LAST_BODY")" "tokens[1]"

# resolve: an identifier to subject tokens (a shared phone gives two)
expect_status "resolve an email" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/subjects/resolve" -d '{"category":"email","value":"ALICE@example.com"}'
grep -q "\"$subj_tok\"" "$LAST_BODY" && ok "resolve: the subject's token" || fail "resolve: the subject's token"
expect_status "resolve a shared phone" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/subjects/resolve" -d '{"category":"phone","value":"010-9999-0000"}'
grep -q "$(json_get records.1.subject_token "$T/first.json")" "$LAST_BODY" && grep -q "$(json_get records.2.subject_token "$T/first.json")" "$LAST_BODY" && ok "resolve: a shared phone names both subjects" || fail "resolve: shared phone"

# subject metadata: no values
expect_status "subject metadata" 200 - -- "${AS_PROXY[@]}" "$PIIV_VAULT_URL/v1/subjects/$subj_tok"
expect_eq "subject: status" "$(json_get status "$LAST_BODY")" active
expect_eq "subject: objection listed" "$(json_get objections.0.purpose "$LAST_BODY")" marketing
if grep -q 'alice@example.com' "$LAST_BODY"; then fail "subject metadata carries no value"; else ok "subject metadata carries no value"; fi
expect_status "subject: malformed token" 400 bad_request -- "${AS_PROXY[@]}" "$PIIV_VAULT_URL/v1/subjects/tok_email_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa"

# erased subjects: reveal 410, later ingests dropped
psql "$PIIV_PG" -qc "update subjects set status = 'erased', erased_at = now() where subject_token = '$(json_get records.2.subject_token "$T/first.json")'"
expect_status "reveal: erased subject is 410 subject_erased" 410 subject_erased -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "{\"subject\":\"user:$R-1003\",\"categories\":[\"phone\"],\"context\":{\"purpose\":\"support\"}}"
vault_post tagger v1/tokenize '{"source":"t","records":[{"subject":"user:'$R'-1003","fields":{"phone":"010-9999-0000"}}]}' >"$T/er.json"
expect_eq "tokenize: erased subject dropped" "$(json_get dropped.0.reason "$T/er.json")" subject_erased

# reveal/batch: several reveals in one call, each answered and audited as
# POST /v1/reveal would be, in order, under its own request id
bctx() { echo "\"context\":{\"on_behalf_of\":\"$1\",\"role\":\"cs_agent\",\"purpose\":\"$2\",\"request_id\":\"$3\"}"; }
bq='{"requests":[{"subject":"user:'$R'-1001","categories":["email"],'$(bctx kim@corp support bq1-$R)'},'
bq+='{"subject":"user:nobody-'$R'","categories":["email"],'$(bctx lee@corp support bq2-$R)'},'
bq+='{"subject_token":"'$subj_tok'","categories":["email"],'$(bctx kim@corp marketing bq3-$R)'},'
bq+='{"subject":"user:'$R'-1002","categories":["email","name"],'$(bctx ann@corp support bq4-$R)'},'
bq+='{"subject":"user:'$R'-1001","categories":["bogus"],'$(bctx kim@corp support bq5-$R)'},'
bq+='7,'
bq+='{"subject":"user:'$R'-1003","categories":["phone"],'$(bctx kim@corp support bq7-$R)'},'
bq+='{"subject":"user:'$R'-1001","categories":["email"],"extra":1,'$(bctx kim@corp support bq8-$R)'}]}'
expect_status "reveal/batch: 200 with a result per reveal" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal/batch" -d "$bq"
cp "$LAST_BODY" "$T/bq.json"
expect_eq "reveal/batch: 0 revealed" "$(json_get results.0.status "$T/bq.json")/$(json_get results.0.body.fields.email.0.value "$T/bq.json")" "200/alice@example.com"
expect_eq "reveal/batch: each result carries its reveal's request id" "$(json_get results.0.request_id "$T/bq.json") $(json_get results.3.request_id "$T/bq.json")" "bq1-$R bq4-$R"
expect_eq "reveal/batch: 1 unknown subject is its own 404" "$(json_get results.1.status "$T/bq.json")/$(json_get results.1.body.error.code "$T/bq.json")/$(json_get results.1.body.error.request_id "$T/bq.json")" "404/not_found/bq2-$R"
expect_eq "reveal/batch: 2 objection to its own purpose" "$(json_get results.2.status "$T/bq.json")/$(json_get results.2.body.error.code "$T/bq.json")" "403/objection_in_force"
expect_eq "reveal/batch: 3 another subject's values, not the first's" "$(json_get results.3.body.fields.email.0.value "$T/bq.json")" "bob@example.com"
expect_eq "reveal/batch: 4 bad input names the reveal's index" "$(json_get results.4.status "$T/bq.json")/$(json_get results.4.body.error.code "$T/bq.json")/$(json_get results.4.body.error.field "$T/bq.json")" "400/unknown_category/requests[4].categories[0]"
expect_eq "reveal/batch: 5 a reveal that is not an object" "$(json_get results.5.status "$T/bq.json")/$(json_get results.5.body.error.field "$T/bq.json")" "400/requests[5]"
expect_eq "reveal/batch: 7 refused before its context is read, still under its own request id" "$(json_get results.7.status "$T/bq.json")/$(json_get results.7.request_id "$T/bq.json")/$(json_get results.7.body.error.field "$T/bq.json")" "400/bq8-$R/requests[7].extra"
expect_eq "reveal/batch: 6 erased subject" "$(json_get results.6.status "$T/bq.json")/$(json_get results.6.body.error.code "$T/bq.json")" "410/subject_erased"
expect_eq "reveal/batch: no value crosses into another result (alice's email once, bob's once)" "$(grep -o 'alice@example.com' "$T/bq.json" | wc -l)/$(grep -o 'bob@example.com' "$T/bq.json" | wc -l)" "1/1"
n=$(psql "$PIIV_AUDIT_PG" -Atc "select string_agg(request_id || ':' || decision || ':' || reason || ':' || coalesce(on_behalf_of, '') || ':' || purpose, ' ' order by request_id) from audit_records where request_id like 'bq%-$R'")
expect_eq "reveal/batch: one record per reveal that reached the data, each its own" "$n" \
	"bq1-$R:allow:ok:kim@corp:support bq2-$R:deny:not_found:lee@corp:support bq3-$R:deny:objection_in_force:kim@corp:marketing bq4-$R:allow:ok:ann@corp:support bq7-$R:deny:subject_erased:kim@corp:support"
expect_status "reveal/batch: empty is 400" 400 bad_request -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal/batch" -d '{"requests":[]}'
expect_eq "reveal/batch: empty names requests" "$(json_get error.field "$LAST_BODY")" requests
big='{"requests":['; for i in $(seq 65); do big+='{"subject":"user:x","categories":["email"],"context":{"purpose":"support"}},'; done; big="${big%,}]}"
expect_status "reveal/batch: 65 reveals is 413" 413 too_large -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal/batch" -d "$big"
expect_status "reveal/batch: unknown top-level key" 400 bad_request -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal/batch" -d '{"requests":[{"subject":"user:x","categories":["email"],"context":{"purpose":"support"}}],"extra":1}'
expect_status "reveal/batch: an identity without reveal is refused" 403 forbidden -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal/batch" -d "$bq"

# request ids: the caller's is echoed, and the proxy's context id is audited
hdr=$(curl -sS -D - -o /dev/null --cacert "$PIIV_CACERT" -H 'X-Request-Id: my-req.42' "$PIIV_VAULT_URL/healthz" | tr -d '\r' | grep -i '^x-request-id:' | cut -d' ' -f2)
expect_eq "X-Request-Id from the caller is echoed" "$hdr" "my-req.42"
n=$(psql "$PIIV_AUDIT_PG" -Atc "select count(*) from audit_records where request_id = 'req-api-reveal-$R' and action = 'reveal' and decision = 'allow'")
expect_eq "audit: each of the two reveals is recorded once under the proxy's request id" "$n" 2

# admin listener
expect_status "admin: healthz" 200 - -- "$PIIV_VAULT_ADMIN_URL/healthz"
expect_status "admin: readyz with database and audit up" 200 - -- "$PIIV_VAULT_ADMIN_URL/readyz"
curl -sS --cacert "$PIIV_CACERT" "$PIIV_VAULT_ADMIN_URL/metrics" >"$T/metrics"
grep -q '^piiv_vault_http_requests_total{route="tokenize",status="200"} [1-9]' "$T/metrics" && ok "metrics: tokenize requests counted" || fail "metrics: tokenize count"
grep -q '^piiv_vault_http_request_duration_seconds_bucket{route="reveal",le="+Inf"}' "$T/metrics" && ok "metrics: latency histogram per route" || fail "metrics: histogram"
if grep -q 'tok_' "$T/metrics"; then fail "metrics: no token in a label"; else ok "metrics: no token in a label"; fi
expect_status "unknown path is 404" 404 not_found -- "${AS_PROXY[@]}" "$PIIV_VAULT_URL/v1/nope"
expect_status "wrong method is 405" 405 bad_request -- "${AS_PROXY[@]}" "$PIIV_VAULT_URL/v1/reveal"

# the batch reveal read settles on one generic plan, on the vault's database
# (build/tools/vault_sql_test prints its own ok / not ok lines)
"${O:-build}/tools/vault_sql_test" "$PIIV_PG" || fail "vault_sql_test: every check passed"
