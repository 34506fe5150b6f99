#!/usr/bin/env bash
# 85-proxy.sh - pii-proxy end to end: the default policy's decisions, masks,
# SSO tokens (good ones and attacks), API keys, grants, the rate limit,
# objections, break-glass, GET /v1/me and /v1/audit, policy reload, and one
# audit record per decision.
set -u
. "$(dirname "$0")/lib.sh"

[[ -n ${PIIV_PROXY_URL:-} ]] || { fail "dev-up started the proxy" "no PIIV_PROXY_URL in the env"; exit 1; }
SIGN=${O:-build}/tools/jwt_sign
P=$PIIV_PROXY_URL
as_key() { AS=(-H "Authorization: Bearer $1" "${JSON_CT[@]}"); }
proxy_post() { # KEY PATH BODY -> body on stdout
	curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" -H "Authorization: Bearer $1" \
		"${JSON_CT[@]}" -X POST "$P$2" --data-binary "$3"
}
audit_count() { psql "$PIIV_AUDIT_PG" -Atc "select count(*) from audit_records where $1"; }
rid_count() { audit_count "request_id = '$1'"; }
last_rid() { json_get error.request_id "$LAST_BODY" 2>/dev/null || json_get request_id "$LAST_BODY"; }

# ---- data: two subjects in the vault ----------------------------------------------
vault_post tagger /v1/tokenize '{"source":"crm.customers","records":[
 {"subject":"user:8501","fields":{"email":"alice.kim@example.com","phone":"+82 10-1234-5678","name":"Kim Minsu","national_id":"900101-1234567"}},
 {"subject":"user:8502","fields":{"email":"bob.lee@example.org","phone":"+82 10-9876-5432","name":"Lee Bora","national_id":"920202-2345678"}}]}' >"$T/tok.json"
stok=$(json_get records.0.subject_token "$T/tok.json")
check "two subjects tokenized" test -n "$stok"
req='{"subject":"user:8501","categories":["email","phone","name"],"purpose":"support","ticket":"CS-1234"}'

# ---- the default policy through the proxy -----------------------------------------
as_key "$PIIV_KEY_CS_AGENT"
expect_status "agent with a ticket: allowed" 200 - -- "${AS[@]}" -X POST "$P/v1/access" -d "$req"
expect_eq "agent sees email masked" "$(json_get fields.email.0 "$LAST_BODY")" "a***@example.com"
expect_eq "agent sees phone's last four" "$(json_get fields.phone.0 "$LAST_BODY")" "+********5678"
expect_eq "agent sees the name's initial" "$(json_get fields.name.0 "$LAST_BODY")" "K***"
expect_eq "views say masked" "$(json_get views.email "$LAST_BODY")" masked
if grep -qF -e alice.kim -e 12345678 -e Minsu "$LAST_BODY"; then
	fail "a masked view never carries the full value"
else
	ok "a masked view never carries the full value"
fi
rid=$(last_rid)
expect_eq "an allowed access is recorded once (by the vault, same request id)" "$(rid_count "$rid")" 1
expect_eq "... as the vault's reveal on behalf of the agent" \
	"$(psql "$PIIV_AUDIT_PG" -Atc "select actor||' '||on_behalf_of||' '||role||' '||action||' '||decision from audit_records where request_id = '$rid'")" \
	"proxy cs_agent@dev.piivault.test cs_agent reveal allow"

expect_status "agent without a ticket: ticket_required" 403 ticket_required -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["email"],"purpose":"support"}'
rid=$(last_rid)
expect_eq "the refusal is recorded once (by the proxy)" "$(audit_count "request_id = '$rid' and decision = 'deny' and reason = 'ticket_required' and actor = 'cs_agent@dev.piivault.test'")" 1
expect_status "agent for marketing: policy_denied" 403 policy_denied -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["email"],"purpose":"marketing","ticket":"CS-1"}'
expect_status "agent, national ID: approval_required" 403 approval_required -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["national_id"],"purpose":"support","ticket":"CS-1"}'

as_key "$PIIV_KEY_CS_LEAD"
expect_status "lead: allowed" 200 - -- "${AS[@]}" -X POST "$P/v1/access" -d "$req"
expect_eq "lead sees email in full" "$(json_get fields.email.0 "$LAST_BODY")" "alice.kim@example.com"
expect_eq "views say full" "$(json_get views.email "$LAST_BODY")" full

for who in CEO COMPLIANCE; do
	k=PIIV_KEY_$who
	as_key "${!k}"
	expect_status "${who,,}: no PII by default" 403 policy_denied -- "${AS[@]}" -X POST "$P/v1/access" -d "$req"
	rid=$(last_rid)
	expect_eq "${who,,}'s refusal is recorded once" "$(rid_count "$rid")" 1
done

# ---- bad input ------------------------------------------------------------------------
as_key "$PIIV_KEY_CS_AGENT"
expect_status "invalid JSON: 400" 400 invalid_json -- "${AS[@]}" -X POST "$P/v1/access" -d '{"subject":'
expect_status "unknown key: 400" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/access" -d '{"subject":"user:1","categories":["email"],"purpose":"support","x":1}'
expect_status "subject and subject_token: 400" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:1","subject_token":"'"$stok"'","categories":["email"],"purpose":"support"}'
expect_status "unknown category: 400" 400 unknown_category -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:1","categories":["shoe_size"],"purpose":"support","ticket":"CS-1"}'
expect_status "duplicate key: 400" 400 duplicate_key -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:1","subject":"user:2","categories":["email"],"purpose":"support"}'
expect_status "wrong content type: 400" 400 bad_request -- -H "Authorization: Bearer $PIIV_KEY_CS_AGENT" -X POST "$P/v1/access" -d "$req"
expect_status "GET /v1/access: 405" 405 - -- "${AS[@]}" "$P/v1/access"
expect_status "unknown path: 404" 404 not_found -- "${AS[@]}" "$P/v1/nothing"
expect_status "by subject token: allowed" 200 - -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject_token":"'"$stok"'","categories":["email"],"purpose":"support","ticket":"CS-1"}'
expect_status "unknown subject: 404" 404 not_found -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:no-such-person","categories":["email"],"purpose":"support","ticket":"CS-1"}'

# ---- API keys ---------------------------------------------------------------------------
newkey=$("$PIIV_BIN/pii-proxy" apikey create --config "$PIIV_PROXY_CONFIG" --user temp@corp.test --role cs_agent 2>"$T/ak.err")
check "apikey create prints a key" grep -qE '^piiv_key_[a-z2-7]{16}_[A-Za-z0-9_-]{43}$' <<<"$newkey"
as_key "$newkey"
expect_status "a new key works" 200 - -- "${AS[@]}" "$P/v1/me"
expect_eq "/v1/me names the person" "$(json_get user "$LAST_BODY")" temp@corp.test
kid=$(cut -d_ -f3 <<<"$newkey")
check "apikey list shows it, never the secret" bash -c '"$1" apikey list --config "$2" | grep -q "$3" && ! "$1" apikey list --config "$2" | grep -qF "$4"' _ \
	"$PIIV_BIN/pii-proxy" "$PIIV_PROXY_CONFIG" "$kid" "${newkey#piiv_key_*_}"
check "apikey revoke" "$PIIV_BIN/pii-proxy" apikey revoke "$kid" --config "$PIIV_PROXY_CONFIG"
# a proxy trusts a key it verified for apikey_cache_seconds (2 in dev-up)
sleep 2.5
expect_status "a revoked key: 401 (after apikey_cache_seconds)" 401 unauthenticated -- "${AS[@]}" "$P/v1/me"
expect_status "a key with a wrong secret: 401" 401 unauthenticated -- -H "Authorization: Bearer ${PIIV_KEY_CS_AGENT%?????}AAAAA" "$P/v1/me"
check "apikey create refuses a role the policy lacks" bash -c '! "$1" apikey create --config "$2" --user x@corp.test --role superuser 2>/dev/null' _ "$PIIV_BIN/pii-proxy" "$PIIV_PROXY_CONFIG"
expect_eq "apikey create without --role: exit 2" "$("$PIIV_BIN/pii-proxy" apikey create --config "$PIIV_PROXY_CONFIG" --user x >/dev/null 2>&1; echo $?)" 2
check "the proxy database holds no key secret" bash -c '! psql "$1" -Atc "select row_to_json(k) from api_keys k" | grep -qF "$2"' _ "$PIIV_PG_SUPER dbname=piiv_proxy" "${PIIV_KEY_CS_AGENT#piiv_key_*_}"

# ---- SSO: JWTs from the dev identity provider ----------------------------------------------
now=$(date +%s)
claims() { # EXTRA_JSON_MEMBERS
	printf '{"iss":"%s","aud":"%s","exp":%d,"iat":%d,"email":"lee@corp.test","roles":["cs_lead"]%s}' \
		"$PIIV_IDP_ISSUER" "$PIIV_IDP_AUDIENCE" $((now + 600)) "$now" "${1:-}"
}
rs() { "$SIGN" sign --key "$PIIV_IDP_KEY" --kid "$PIIV_IDP_KID" --alg RS256 "$@"; }
good=$(rs "$(claims)")
expect_status "RS256 token: allowed" 200 - -- -H "Authorization: Bearer $good" "${JSON_CT[@]}" -X POST "$P/v1/access" -d "$req"
expect_eq "the token's user acts" "$(psql "$PIIV_AUDIT_PG" -Atc "select on_behalf_of from audit_records where request_id = '$(last_rid)'")" lee@corp.test
es=$("$SIGN" sign --key "$PIIV_IDP_EC_KEY" --kid "$PIIV_IDP_EC_KID" --alg ES256 "$(claims)")
expect_status "ES256 token: allowed" 200 - -- -H "Authorization: Bearer $es" "$P/v1/me"
expect_eq "roles come from the roles claim" "$(json_get roles.0 "$LAST_BODY")" cs_lead

pub=$T/rsa.pub.pem
openssl pkey -in "$PIIV_IDP_KEY" -pubout -out "$pub" 2>/dev/null
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
hdr=$(printf '{"alg":"RS256","typ":"JWT","kid":"%s"}' "$PIIV_IDP_KID" | b64url)
body=$(claims | b64url)
before=$(audit_count "decision = 'deny' and reason = 'unauthenticated'")
declare -A bad=(
	[expired]=$(rs "$(printf '{"iss":"%s","aud":"%s","exp":%d,"email":"lee@corp.test","roles":["cs_lead"]}' "$PIIV_IDP_ISSUER" "$PIIV_IDP_AUDIENCE" $((now - 3600)))")
	[not-yet-valid]=$(rs "$(claims ",\"nbf\":$((now + 3600))")")
	[wrong-audience]=$(rs "$(printf '{"iss":"%s","aud":"other-app","exp":%d,"email":"lee@corp.test","roles":["cs_lead"]}' "$PIIV_IDP_ISSUER" $((now + 600)))")
	[wrong-issuer]=$(rs "$(printf '{"iss":"https://evil.example","aud":"%s","exp":%d,"email":"lee@corp.test","roles":["cs_lead"]}' "$PIIV_IDP_AUDIENCE" $((now + 600)))")
	[bad-signature]=$(rs --bad-sig "$(claims)")
	[alg-none]=$("$SIGN" sign --kid "$PIIV_IDP_KID" --alg none "$(claims)")
	[hs256-with-rsa-public-key]=$("$SIGN" sign --kid "$PIIV_IDP_KID" --alg HS256 --hmac-secret-file "$pub" "$(claims)")
	[unknown-kid]=$("$SIGN" sign --key "$PIIV_IDP_KEY" --kid no-such-key --alg RS256 "$(claims)")
	[malformed-base64]="$hdr.$body=.c2ln"
	[rs256-header-ec-kid]=$("$SIGN" sign --key "$PIIV_IDP_KEY" --kid "$PIIV_IDP_EC_KID" --alg RS256 "$(claims)")
)
for name in "${!bad[@]}"; do
	expect_status "JWT $name: 401" 401 unauthenticated -- -H "Authorization: Bearer ${bad[$name]}" "${JSON_CT[@]}" -X POST "$P/v1/access" -d "$req"
done
after=$(audit_count "decision = 'deny' and reason = 'unauthenticated'")
expect_eq "every refused token is audited" "$((after - before))" "${#bad[@]}"
check "no token is written to the audit log" bash -c '! psql "$1" -Atc "select row_to_json(a) from audit_records a" | grep -qF "$2"' _ "$PIIV_AUDIT_PG" "${good:0:60}"

# ---- grants: national ID with a second person's approval ------------------------------------
as_key "$PIIV_KEY_CS_AGENT"
nid='{"subject":"user:8501","categories":["national_id"],"purpose":"support","ticket":"CS-77"}'
expect_status "grant request" 201 - -- "${AS[@]}" -X POST "$P/v1/grants" \
	-d '{"subject":"user:8501","categories":["national_id"],"purpose":"support","ticket":"CS-77","reason":"identity check on call","minutes":15}'
gid=$(json_get id "$LAST_BODY")
expect_status "a grant needs a reason" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/grants" \
	-d '{"subject":"user:8501","categories":["national_id"],"purpose":"support","ticket":"CS-77","minutes":15}'
expect_status "a grant cannot outlast the policy's bound" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/grants" \
	-d '{"subject":"user:8501","categories":["national_id"],"purpose":"support","ticket":"CS-77","reason":"r","minutes":100000}'
expect_status "no grant where no approval could help (email for marketing)" 403 policy_denied -- "${AS[@]}" -X POST "$P/v1/grants" \
	-d '{"subject":"user:8501","categories":["email"],"purpose":"marketing","ticket":"CS-77","reason":"r","minutes":5}'
expect_status "self-approval refused" 403 forbidden -- "${AS[@]}" -X POST "$P/v1/grants/$gid/approve" -d '{}'
expect_eq "self-approval is audited" "$(audit_count "request_id = '$(last_rid)' and action = 'grant_approve' and decision = 'deny'")" 1
as_key "$PIIV_KEY_CEO"
expect_status "approval by a role that may not approve refused" 403 forbidden -- "${AS[@]}" -X POST "$P/v1/grants/$gid/approve" -d '{}'
as_key "$PIIV_KEY_CS_AGENT"
expect_status "before approval: approval_required" 403 approval_required -- "${AS[@]}" -X POST "$P/v1/access" -d "$nid"
as_key "$PIIV_KEY_CS_LEAD"
expect_status "the lead lists the pending grant" 200 - -- "${AS[@]}" "$P/v1/grants?status=requested"
check "... and it is there, without the subject" bash -c 'grep -qF "$1" "$2" && ! grep -qF "user:8501" "$2"' _ "$gid" "$LAST_BODY"
expect_status "the lead approves" 200 - -- "${AS[@]}" -X POST "$P/v1/grants/$gid/approve" -d '{}'
expect_eq "approved" "$(json_get status "$LAST_BODY")" approved
expect_status "approving twice: 409" 409 conflict -- "${AS[@]}" -X POST "$P/v1/grants/$gid/approve" -d '{}'
as_key "$PIIV_KEY_CS_AGENT"
expect_status "after approval: the national ID in full" 200 - -- "${AS[@]}" -X POST "$P/v1/access" -d "$nid"
expect_eq "the value is the vault's" "$(json_get fields.national_id.0 "$LAST_BODY")" 9001011234567
expect_status "the grant does not open another ticket" 403 approval_required -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["national_id"],"purpose":"support","ticket":"CS-999"}'
expect_status "the grant for subject A does not open subject B" 403 approval_required -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8502","categories":["national_id"],"purpose":"support","ticket":"CS-77"}'
psql "$PIIV_PG_SUPER dbname=piiv_proxy" -qc "update grants set expires_at = now() - interval '1 second' where id = '$gid'" >/dev/null
expect_status "expiry ends access" 403 approval_required -- "${AS[@]}" -X POST "$P/v1/access" -d "$nid"
expect_eq "the approval's record names the grant" "$(audit_count "action = 'grant_approve' and decision = 'allow' and batch_id = '$gid'")" 1
# fail closed: an approval the audit log cannot take does not happen
as_key "$PIIV_KEY_CS_AGENT"
expect_status "another grant request" 201 - -- "${AS[@]}" -X POST "$P/v1/grants" \
	-d '{"subject":"user:8502","categories":["national_id"],"purpose":"support","ticket":"CS-78","reason":"identity check","minutes":5}'
gid2=$(json_get id "$LAST_BODY")
psql "${PIIV_PG_SUPER/dbname=postgres/dbname=piiv_audit}" -qc "REVOKE INSERT ON audit_records FROM piiv_audit_proxy" >/dev/null
expect_status "approval while the audit log refuses writes: 503" 503 audit_unavailable -- -H "Authorization: Bearer $PIIV_KEY_CS_LEAD" -X POST "$P/v1/grants/$gid2/approve"
psql "${PIIV_PG_SUPER/dbname=postgres/dbname=piiv_audit}" -qc "GRANT INSERT ON audit_records TO piiv_audit_proxy" >/dev/null
expect_eq "... and the grant is still only requested" "$(psql "$PIIV_PG_SUPER dbname=piiv_proxy" -Atc "select status from grants where id = '$gid2'")" requested
expect_status "the agent still cannot see that national ID" 403 approval_required -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8502","categories":["national_id"],"purpose":"support","ticket":"CS-78"}'
expect_status "an approval with no body at all" 200 - -- -H "Authorization: Bearer $PIIV_KEY_CS_LEAD" -X POST "$P/v1/grants/$gid2/deny"
expect_status "a malformed subject token: 400 from the proxy" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject_token":"tok_subject_v1_zz","categories":["email"],"purpose":"support","ticket":"CS-1"}'
expect_status "an unknown grant: 404" 404 not_found -- -H "Authorization: Bearer $PIIV_KEY_CS_LEAD" "${JSON_CT[@]}" -X POST "$P/v1/grants/gr_aaaaaaaaaaaaaaaaaaaaaaaa/deny" -d '{}'

# ---- objection -------------------------------------------------------------------------------
psql "$PIIV_PG" -qc "insert into objections (subject_id, purpose) select id, 'support' from subjects where subject_token = '$(json_get records.1.subject_token "$T/tok.json")' on conflict do nothing" >/dev/null
as_key "$PIIV_KEY_CS_LEAD"
expect_status "the subject objects to support: objection_in_force" 403 objection_in_force -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8502","categories":["email"],"purpose":"support","ticket":"CS-5"}'
expect_eq "the objection refusal is recorded once (by the vault)" "$(audit_count "request_id = '$(last_rid)' and reason = 'objection_in_force'")" 1

# ---- break-glass ---------------------------------------------------------------------------------
as_key "$PIIV_KEY_ONCALL"
bg='{"subject":"user:8501","categories":["email","phone"],"purpose":"incident","reason":"INC-4242 payments outage"}'
lines=0
[[ -f $PIIV_BREAKGLASS_LOG ]] && lines=$(wc -l <"$PIIV_BREAKGLASS_LOG")
expect_status "oncall break-glass: allowed" 200 - -- "${AS[@]}" -X POST "$P/v1/breakglass" -d "$bg"
rid=$(last_rid)
expect_eq "flagged in the answer" "$(json_get breakglass "$LAST_BODY")" true
expect_eq "flagged in the audit log" "$(audit_count "request_id = '$rid' and action = 'breakglass_reveal' and decision = 'allow'")" 1
expect_eq "one notification" "$(wc -l <"$PIIV_BREAKGLASS_LOG")" $((lines + 1))
check "the notification names the request, not the subject" bash -c 'tail -n 1 "$1" | grep -qF "$2" && ! tail -n 1 "$1" | grep -qF "user:8501"' _ "$PIIV_BREAKGLASS_LOG" "$rid"
expect_status "break-glass without a reason: 400" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/breakglass" \
	-d '{"subject":"user:8501","categories":["email"],"purpose":"incident"}'
as_key "$PIIV_KEY_CS_AGENT"
expect_status "an agent has no break-glass" 403 policy_denied -- "${AS[@]}" -X POST "$P/v1/breakglass" -d "$bg"

# ---- /v1/me and /v1/audit ----------------------------------------------------------------------------
expect_status "/v1/me" 200 - -- "${AS[@]}" "$P/v1/me"
expect_eq "/v1/me lists the grants of the role" "$(json_get policy.roles.0.grants.0.view "$LAST_BODY")" masked
expect_status "audit needs audit_read" 403 forbidden -- "${AS[@]}" "$P/v1/audit?actor=cs_agent@dev.piivault.test"
as_key "$PIIV_KEY_COMPLIANCE"
expect_status "compliance reads the audit log" 200 - -- "${AS[@]}" "$P/v1/audit?subject_token=$stok"
check "... the subject's history: who saw it, why" bash -c 'grep -qF cs_lead@dev.piivault.test "$1" && grep -qF CS-1234 "$1"' _ "$LAST_BODY"
check "reading the audit log is itself recorded" test "$(audit_count "action = 'audit_read' and actor = 'compliance@dev.piivault.test' and decision = 'allow'")" -ge 1
expect_status "audit needs subject_token or actor" 400 bad_request -- "${AS[@]}" "$P/v1/audit"

# ---- rate limit: distinct subjects per hour ------------------------------------------------------------
# A policy with a limit of 3 for cs_agent, reloaded with SIGHUP.
cp "$PIIV_POLICY" "$T/policy.orig"
python3 - "$PIIV_POLICY" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["roles"]["cs_agent"]["grants"][0]["max_subjects_per_hour"] = 3
p["roles"]["ceo"]["grants"] = [{"categories": ["name"], "purposes": ["support"], "view": "masked", "require_ticket": True}]
json.dump(p, open(sys.argv[1], "w"), indent=1)
PY
kill -HUP "$(<"$PIIV_DIR/run/proxy.pid")"
reloaded=0
for _ in $(seq 1 50); do
	grep -q 'event=policy_reloaded' "$PIIV_DIR/log/proxy.log" && { reloaded=1; break; }
	sleep 0.1
done
expect_eq "SIGHUP reloads the policy" "$reloaded" 1
as_key "$PIIV_KEY_CEO"
expect_status "the reloaded policy applies (ceo now sees names masked)" 200 - -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["name"],"purpose":"support","ticket":"T-1"}'
ratekey=$("$PIIV_BIN/pii-proxy" apikey create --config "$PIIV_PROXY_CONFIG" --user ratetest@corp.test --role cs_agent 2>/dev/null)
as_key "$ratekey"
for s in 8501 8502 8503; do
	curl -sS -o /dev/null --cacert "$PIIV_CACERT" "${AS[@]}" -X POST "$P/v1/access" \
		-d '{"subject":"user:'$s'","categories":["email"],"purpose":"support","ticket":"CS-9"}'
done
expect_status "a subject seen this hour is still allowed" 200 - -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["email"],"purpose":"support","ticket":"CS-9"}'
expect_status "a fourth distinct subject: 429" 429 rate_limited -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8504","categories":["email"],"purpose":"support","ticket":"CS-9"}'
expect_eq "the rate limit refusal is audited" "$(audit_count "request_id = '$(last_rid)' and reason = 'rate_limited'")" 1
as_key "$PIIV_KEY_CS_AGENT"
expect_status "another agent is not limited by it" 200 - -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["email"],"purpose":"support","ticket":"CS-9"}'
# a broken policy keeps the old one
printf '{"version": 1, "categories": {"email": {"mask": "nonsense"}}}' >"$PIIV_POLICY"
n=$(grep -c 'event=policy_reload_failed' "$PIIV_DIR/log/proxy.log")
kill -HUP "$(<"$PIIV_DIR/run/proxy.pid")"
failed=0
for _ in $(seq 1 50); do
	(($(grep -c 'event=policy_reload_failed' "$PIIV_DIR/log/proxy.log") > n)) && { failed=1; break; }
	sleep 0.1
done
expect_eq "a bad policy file is refused and the log says why" "$failed" 1
check "... naming the JSON path" bash -c 'grep "event=policy_reload_failed" "$1" | tail -n 1 | grep -q "categories.email"' _ "$PIIV_DIR/log/proxy.log"
as_key "$PIIV_KEY_CEO"
expect_status "... and the previous policy stays in force" 200 - -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["name"],"purpose":"support","ticket":"T-1"}'
cp "$T/policy.orig" "$PIIV_POLICY"
kill -HUP "$(<"$PIIV_DIR/run/proxy.pid")"
sleep 0.5
expect_status "restored: the ceo sees nothing again" 403 policy_denied -- "${AS[@]}" -X POST "$P/v1/access" \
	-d '{"subject":"user:8501","categories":["name"],"purpose":"support","ticket":"T-1"}'

# ---- exactly one record per decision: N allowed + M denied -> N + M records --------------
run=seq$$-$RANDOM
n_ok=0 n_deny=0
for i in 1 2 3 4 5 6 7; do
	case $i in
	1 | 3 | 5) key=$PIIV_KEY_CS_AGENT body=$req want=200 ;;
	2) key=$PIIV_KEY_CS_LEAD body=$req want=200 ;;
	4) key=$PIIV_KEY_CEO body=$req want=403 ;;
	6) key=$PIIV_KEY_CS_AGENT body='{"subject":"user:8501","categories":["email"],"purpose":"support"}' want=403 ;;
	7) key=not-a-credential body=$req want=401 ;;
	esac
	got=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$PIIV_CACERT" -H "X-Request-Id: $run-$i" \
		-H "Authorization: Bearer $key" "${JSON_CT[@]}" -X POST "$P/v1/access" -d "$body")
	[[ $got == "$want" ]] || fail "scripted request $i" "HTTP $got, want $want"
	if [[ $got == 200 ]]; then n_ok=$((n_ok + 1)); else n_deny=$((n_deny + 1)); fi
done
expect_eq "N allowed + M denied requests leave exactly N + M records" \
	"$(audit_count "request_id like '$run-%'")" $((n_ok + n_deny))
expect_eq "... N of them allow, M deny" \
	"$(audit_count "request_id like '$run-%' and decision = 'allow'") $(audit_count "request_id like '$run-%' and decision = 'deny'")" "$n_ok $n_deny"

# ---- gathered reveals: concurrent accesses by different people, each its own answer ----
# A second proxy that lets one vault call carrying reveals be in flight and
# holds each call 400 ms (PIIV_TEST_REVEAL_HOLD_MS): the first access goes
# alone, the others arrive meanwhile and go together in one /v1/reveal/batch.
gport=$(python3 - "$PIIV_PROXY_CONFIG" "$T/gather.json" <<'PY'
import json, socket, sys
c = json.load(open(sys.argv[1]))
ports = []
for _ in range(2):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); ports.append(s.getsockname()[1]); s.close()
c["listen"]["port"] = ports[0]
c["admin_listen"]["port"] = ports[1]
c["vault"]["reveal_batches"] = 1
json.dump(c, open(sys.argv[2], "w"))
print(ports[0], ports[1])
PY
)
read -r gp gap <<<"$gport"
R=${RANDOM}${RANDOM}
PIIV_TEST_REVEAL_HOLD_MS=400 "$PIIV_BIN/pii-proxy" serve --config "$T/gather.json" >"$T/gather.log" 2>&1 &
gpid=$!
for _ in $(seq 50); do curl -fsS --cacert "$PIIV_CACERT" "https://localhost:$gap/healthz" >/dev/null 2>&1 && break; sleep 0.2; done
recs=""
for i in 1 2 3 4 5 6 7 8; do
	recs+="${recs:+,}{\"subject\":\"user:g$R-$i\",\"fields\":{\"email\":\"g$i-$R@example.com\"}}"
	gkey[i]=$("$PIIV_BIN/pii-proxy" apikey create --config "$PIIV_PROXY_CONFIG" --user "gather$i-$R@corp.test" --role cs_lead 2>/dev/null)
done
vault_post tagger /v1/tokenize "{\"source\":\"gather.test\",\"records\":[$recs]}" >/dev/null
nb0=$(curl -sS --cacert "$PIIV_CACERT" "$PIIV_VAULT_ADMIN_URL/metrics" | awk '/^piiv_vault_http_requests_total\{route="reveal_batch",status="200"\}/ {print $2}')
cpids=()
for i in 1 2 3 4 5 6 7 8; do
	curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" -H "Authorization: Bearer ${gkey[i]}" "${JSON_CT[@]}" \
		-X POST "https://localhost:$gp/v1/access" -o "$T/g$i.json" \
		-d "{\"subject\":\"user:g$R-$i\",\"categories\":[\"email\"],\"purpose\":\"support\",\"ticket\":\"CS-$i\"}" &
	cpids+=($!)
	sleep 0.05
done
wait "${cpids[@]}"
got=""; want=""; recd=""; wrec=""
for i in 1 2 3 4 5 6 7 8; do
	got+="$(json_get fields.email.0 "$T/g$i.json" 2>/dev/null) "
	want+="g$i-$R@example.com "
	grid=$(json_get request_id "$T/g$i.json" 2>/dev/null)
	recd+="$(psql "$PIIV_AUDIT_PG" -Atc "select count(*) || ':' || string_agg(on_behalf_of || ':' || decision, ',') from audit_records where request_id = '$grid'") "
	wrec+="1:gather$i-$R@corp.test:allow "
done
expect_eq "gathered: eight people at once, each sees only their own subject's email" "$got" "$want"
expect_eq "gathered: each access recorded once, on behalf of its own person" "$recd" "$wrec"
nb1=$(curl -sS --cacert "$PIIV_CACERT" "$PIIV_VAULT_ADMIN_URL/metrics" | awk '/^piiv_vault_http_requests_total\{route="reveal_batch",status="200"\}/ {print $2}')
check "gathered: the vault got them in /v1/reveal/batch calls" test "${nb1:-0}" -gt "${nb0:-0}"
kill "$gpid" 2>/dev/null; wait "$gpid" 2>/dev/null

# ---- the log: no PII, and it verifies with both writers' keys ---------------------------------------
check "no PII value in the audit log" bash -c '! psql "$1" -Atc "select row_to_json(a) from audit_records a" | grep -qF -e alice.kim -e 9001011234567 -e "Kim Minsu" -e user:8501' _ "$PIIV_AUDIT_PG"
check "no PII value in the proxy's log" bash -c '! grep -qF -e alice.kim -e 9001011234567 -e "Kim Minsu" -e user:8501 "$1"' _ "$PIIV_DIR/log/proxy.log"
check "the proxy's writer has records" test "$(audit_count "writer like 'proxy-dev/%'")" -gt 0
check "pii-audit verify passes over the vault's and the proxy's logs" "$PIIV_BIN/pii-audit" verify
expect_status "metrics: decisions counted" 200 - -- "$PIIV_PROXY_ADMIN_URL/metrics"
check "... break-glass counted" grep -q '^piiv_proxy_breakglass_total [1-9]' "$LAST_BODY"

# ---- docs/proxy.md stays true: every configuration key is documented ----------------------
root=$(cd "$(dirname "$0")/../.." && pwd)
missing=$(grep -oE '\{ "[a-z_]+", PII_CFG' "$root/proxy/proxy_config.c" | sed -E 's/\{ "([a-z_]+)".*/\1/' | sort -u |
	while read -r k; do grep -qE "(\`|[ {,])$k(\`|[ },])" "$root/docs/proxy.md" || echo "$k"; done)
expect_eq "docs/proxy.md names every configuration key of proxy_config.c" "${missing//$'\n'/ }" ""
curl -sS --cacert "$PIIV_CACERT" "$PIIV_PROXY_ADMIN_URL/metrics" >"$T/metrics.txt"
unexported=$(grep -oE 'piiv_proxy_[a-z_]+' "$root/docs/proxy.md" | sort -u | grep -v '^piiv_proxy_http_' |
	while read -r m; do grep -q "^$m" "$T/metrics.txt" || echo "$m"; done)
expect_eq "every metric docs/proxy.md names is exported" "${unexported//$'\n'/ }" ""

# ---- plain HTTP only on loopback, as the vault ------------------------------------------
python3 - "$PIIV_PROXY_CONFIG" "$T/plain.json" <<'PY'
import json, sys
c = json.load(open(sys.argv[1]))
del c["tls"]
c["listen"]["address"] = "0.0.0.0"
json.dump(c, open(sys.argv[2], "w"))
PY
rc=0
"$PIIV_BIN/pii-proxy" migrate --config "$T/plain.json" >/dev/null 2>"$T/plain.err" || rc=$?
expect_eq "proxy: plain HTTP on 0.0.0.0 refused (exit 1)" "$rc" 1
check "... saying why" grep -q 'tls: refusing plain HTTP' "$T/plain.err"
