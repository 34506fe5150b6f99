#!/usr/bin/env bash
# 86-proxy-dsr.sh - subject-rights requests through pii-proxy: only roles
# with the policy capability dsr_manage reach the vault's /v1/dsr...,
# POST /v1/subjects/resolve and GET /v1/subjects/{token}; refusals are the
# proxy's records, forwarded calls the vault's (on behalf of the person,
# under the same request id); routes, ids, methods, content type, query and
# body are checked by the proxy; answers are relayed with their status and
# content type; a metric counts forwarded calls by route.
set -u
. "$(dirname "$0")/lib.sh"

[[ -n ${PIIV_PROXY_URL:-} ]] || { fail "dev-up started the proxy" "no PIIV_PROXY_URL in the env"; exit 1; }
P=$PIIV_PROXY_URL
SIGN=${O:-build}/tools/jwt_sign
R=$$-$RANDOM
n=0
# rid: a fresh request id for the next call, in $RID
rid() { n=$((n + 1)); RID=dsr86-$R-$n; }
as_key() { AS=(-H "Authorization: Bearer $1" "${JSON_CT[@]}"); }
audit_count() { psql "$PIIV_AUDIT_PG" -Atc "select count(*) from audit_records where $1"; }
audit_row() { psql "$PIIV_AUDIT_PG" -Atc "select $1 from audit_records where $2"; }
COMPLIANCE=compliance@dev.piivault.test
root=$(cd "$(dirname "$0")/../.." && pwd)
# forwarded ROUTE: the proxy's count of subject-rights calls forwarded on ROUTE
forwarded() {
	curl -sS --cacert "$PIIV_CACERT" "$PIIV_PROXY_ADMIN_URL/metrics" |
		awk -v s="piiv_proxy_dsr_forwarded_total{route=\"$1\"}" '$1 == s { print $2 }'
}

# ---- the policy: compliance holds dsr_manage, an agent and the CEO do not ---------
check "default policy: compliance holds dsr_manage, cs_agent and ceo do not" python3 - "$PIIV_POLICY" <<'PY'
import json, sys
roles = json.load(open(sys.argv[1]))["roles"]
caps = lambda r: roles[r].get("capabilities", [])
assert "dsr_manage" in caps("compliance"), "compliance"
assert "dsr_manage" not in caps("cs_agent") and "dsr_manage" not in caps("ceo"), "agent/ceo"
PY
as_key "$PIIV_KEY_COMPLIANCE"
expect_status "the compliance key" 200 - -- "${AS[@]}" "$P/v1/me"
expect_eq "... is $COMPLIANCE" "$(json_get user "$LAST_BODY")" "$COMPLIANCE"

# ---- data: one subject in the vault --------------------------------------------------
email="dsr86.$RANDOM@example.com"
vault_post tagger /v1/tokenize '{"source":"crm.customers","records":[
 {"subject":"user:86'$RANDOM'","fields":{"email":"'"$email"'","name":"Park Jiwoo"}}]}' >"$T/tok.json"
stok=$(json_get records.0.subject_token "$T/tok.json")
check "a subject tokenized" test -n "$stok"

resolve0=$(forwarded subject_resolve) get0=$(forwarded subject_get) create0=$(forwarded dsr_create)
check "the metric has a series per route from the start" test -n "$resolve0" -a -n "$get0" -a -n "$create0"

# ---- refusals: every route, for an agent and for the CEO -------------------------------
ID=dsr_0123456789abcdef
routes=(
	"dsr_create POST /v1/dsr {\"kind\":\"export\",\"subject_token\":\"$stok\"}"
	"dsr_list GET /v1/dsr?status=received"
	"dsr_read GET /v1/dsr/$ID"
	"dsr_verify POST /v1/dsr/$ID/verify {}"
	"dsr_extend POST /v1/dsr/$ID/extend {}"
	"dsr_reject POST /v1/dsr/$ID/reject {}"
	"dsr_export GET /v1/dsr/$ID/export?format=json"
	"dsr_receipt GET /v1/dsr/$ID/receipt"
	"subject_resolve POST /v1/subjects/resolve {\"category\":\"email\",\"value\":\"$email\"}"
	"subject_get GET /v1/subjects/$stok"
)
for who in CS_AGENT CEO; do
	k=PIIV_KEY_$who
	as_key "${!k}"
	refused=0 recorded=0
	for r in "${routes[@]}"; do
		read -r action method path body <<<"$r"
		rid
		args=("${AS[@]}" -H "X-Request-Id: $RID" -X "$method" "$P$path")
		[[ $method == POST ]] && args+=(--data-binary "$body")
		expect_status "${who,,}: $method ${path%%\?*}: 403 forbidden" 403 forbidden -- "${args[@]}" && refused=$((refused + 1))
		# the proxy's record, and nothing from the vault: it was never asked
		if [[ $(audit_count "request_id = '$RID'") == 1 &&
			$(audit_count "request_id = '$RID' and writer like 'proxy%' and action = '$action' and decision = 'deny' and reason = 'forbidden'") == 1 ]]; then
			recorded=$((recorded + 1))
		else
			fail "${who,,}: $action refusal recorded once by the proxy" \
				"$(audit_row "writer||' '||action||' '||decision||' '||reason" "request_id = '$RID'")"
		fi
	done
	expect_eq "${who,,}: every refusal is recorded exactly once, by the proxy" "$refused $recorded" "${#routes[@]} ${#routes[@]}"
done
expect_eq "the refused message names the capability" \
	"$(json_get error.message "$LAST_BODY" | grep -c dsr_manage)" 1
expect_eq "a refused GET /v1/subjects/{token} is recorded with the token" \
	"$(audit_count "request_id = '$RID' and subject_token = '$stok'")" 1
rid
curl -sS -o /dev/null --cacert "$PIIV_CACERT" -H "Authorization: Bearer $PIIV_KEY_CS_AGENT" \
	-H "X-Request-Id: $RID" "$P/v1/dsr/$ID/receipt"
expect_eq "a refusal about one request names it in batch_id" \
	"$(audit_count "request_id = '$RID' and batch_id = '$ID'")" 1
expect_status "no credentials: 401" 401 unauthenticated -- "${JSON_CT[@]}" "$P/v1/dsr"

# ---- compliance: resolve and subject metadata through the proxy --------------------------
as_key "$PIIV_KEY_COMPLIANCE"
rid
expect_status "compliance resolves an email to its subject" 200 - -- "${AS[@]}" -H "X-Request-Id: $RID" \
	-X POST "$P/v1/subjects/resolve" -d '{"category":"email","value":"'"$email"'","context":{"purpose":"dsr","ticket":"DSR-86"}}'
expect_eq "... the subject's token" "$(json_get subject_tokens.0 "$LAST_BODY")" "$stok"
expect_eq "... recorded once, by the vault, on behalf of compliance" \
	"$(audit_row "count(*)||' '||min(actor)||' '||min(on_behalf_of)||' '||min(role)||' '||min(action)||' '||min(purpose)||' '||min(ticket)" "request_id = '$RID'")" \
	"1 proxy $COMPLIANCE compliance resolve dsr DSR-86"
rid
expect_status "compliance reads the subject's metadata" 200 - -- "${AS[@]}" -H "X-Request-Id: $RID" "$P/v1/subjects/$stok"
expect_eq "... of that subject" "$(json_get subject_token "$LAST_BODY") $(json_get status "$LAST_BODY")" "$stok active"
expect_eq "... recorded once, by the vault" "$(audit_row "count(*)||' '||min(actor)||' '||min(action)" "request_id = '$RID'")" "1 proxy subject"
check "... relayed as JSON" grep -qi '^content-type: application/json' <(curl -sS -D - -o /dev/null --cacert "$PIIV_CACERT" "${AS[@]}" "$P/v1/subjects/$stok")
rid
expect_status "an unknown (well-formed) subject: the vault's 404, relayed" 404 not_found -- "${AS[@]}" -H "X-Request-Id: $RID" \
	"$P/v1/subjects/tok_subject_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa"
expect_eq "... recorded once, by the vault" "$(audit_count "request_id = '$RID' and writer like 'vault%'") $(audit_count "request_id = '$RID'")" "1 1"

# the role sent is the first of the person's roles that holds dsr_manage
now=$(date +%s)
jwt=$("$SIGN" sign --key "$PIIV_IDP_KEY" --kid "$PIIV_IDP_KID" --alg RS256 \
	"$(printf '{"iss":"%s","aud":"%s","exp":%d,"iat":%d,"email":"dpo@corp.test","roles":["cs_lead","compliance"]}' \
	"$PIIV_IDP_ISSUER" "$PIIV_IDP_AUDIENCE" $((now + 600)) "$now")")
rid
expect_status "SSO: a person with cs_lead and compliance resolves" 200 - -- -H "Authorization: Bearer $jwt" "${JSON_CT[@]}" \
	-H "X-Request-Id: $RID" -X POST "$P/v1/subjects/resolve" -d '{"category":"email","value":"'"$email"'"}'
expect_eq "... recorded with the role that holds dsr_manage" \
	"$(audit_row "on_behalf_of||' '||role" "request_id = '$RID'")" "dpo@corp.test compliance"

# ---- what the proxy refuses to forward ------------------------------------------------------
expect_status "a caller may not set the context the vault records" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/subjects/resolve" \
	-d '{"category":"email","value":"'"$email"'","context":{"on_behalf_of":"someone.else@corp.test"}}'
expect_eq "... naming the field" "$(json_get error.field "$LAST_BODY")" "context.on_behalf_of"
expect_status "nor a context in a DSR body" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/dsr" \
	-d '{"kind":"export","subject_token":"'"$stok"'","context":{"on_behalf_of":"x"}}'
expect_status "POST without the JSON content type: 400" 400 bad_request -- -H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" \
	-X POST "$P/v1/dsr" -d '{"kind":"export","subject_token":"'"$stok"'"}'
expect_eq "... naming Content-Type" "$(json_get error.field "$LAST_BODY")" "Content-Type"
expect_status "resolve without the JSON content type: 400" 400 bad_request -- -H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" \
	-H 'Content-Type: text/plain' -X POST "$P/v1/subjects/resolve" -d '{"category":"email","value":"'"$email"'"}'
expect_status "invalid JSON: 400" 400 invalid_json -- "${AS[@]}" -X POST "$P/v1/dsr" -d '{"kind":'
expect_status "a body that is not an object: 400" 400 bad_request -- "${AS[@]}" -X POST "$P/v1/dsr/$ID/verify" -d '[]'
expect_status "duplicate keys: 400" 400 duplicate_key -- "${AS[@]}" -X POST "$P/v1/dsr" -d '{"kind":"export","kind":"erasure"}'
expect_status "a control character in the query: 400" 400 bad_request -- "${AS[@]}" "$P/v1/dsr?status=a%0Ab"
expect_eq "... naming the query" "$(json_get error.field "$LAST_BODY")" "query"
expect_status "an odd query parameter name: 400" 400 bad_request -- "${AS[@]}" "$P/v1/dsr?st%22atus=x"
expect_status "a NUL in the query: 400" 400 bad_request -- "${AS[@]}" "$P/v1/dsr?status=a%00b"
expect_status "a query of 600 bytes: 400" 400 bad_request -- "${AS[@]}" "$P/v1/dsr?after=$(printf 'a%.0s' $(seq 1 600))"
q=$(for i in $(seq 1 17); do printf 'p%d=1&' "$i"; done)
expect_status "17 query parameters: 400" 400 bad_request -- "${AS[@]}" "$P/v1/dsr?${q%&}"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
expect_status "a body over the proxy's limit: 413" 413 - -- "${AS[@]}" -X POST "$P/v1/dsr" -d '{"kind":"'"$big"'"}'

# ---- routes: bad ids and paths are 404, wrong methods 405 ------------------------------------
long=$(printf 'a%.0s' $(seq 1 65))
for path in /v1/dsr/ /v1/dsr/bad.id /v1/dsr/bad%20id "/v1/dsr/$long" /v1/dsr/abc/ /v1/dsr/abc/nothing \
	/v1/dsr/abc/verify/x /v1/dsr/abc/export/ /v1/dsrs /v1/dsr//verify /v1/dsr/a%2Fb /v1/subjects/ \
	/v1/subjects/not-a-token "/v1/subjects/$stok/x" /v1/subjects; do
	expect_status "GET $path: 404" 404 not_found -- "${AS[@]}" "$P$path"
done
expect_status "POST /v1/dsr/abc/verify/x: 404" 404 not_found -- "${AS[@]}" -X POST "$P/v1/dsr/abc/verify/x" -d '{}'
expect_status "an id of 64 characters is a route (not a 404 from the proxy)" 403 forbidden -- \
	-H "Authorization: Bearer $PIIV_KEY_CEO" "$P/v1/dsr/${long:1}"
for mp in "DELETE /v1/dsr" "PUT /v1/dsr/abc" "POST /v1/dsr/abc" "GET /v1/dsr/abc/verify" "GET /v1/dsr/abc/extend" \
	"GET /v1/dsr/abc/reject" "POST /v1/dsr/abc/export" "POST /v1/dsr/abc/receipt" "GET /v1/subjects/resolve" \
	"POST /v1/subjects/$stok"; do
	read -r method path <<<"$mp"
	expect_status "$method $path: 405" 405 - -- "${AS[@]}" -X "$method" "$P$path"
done

# ---- the metric: forwarded calls by route, no ids -------------------------------------------
expect_status "metrics" 200 - -- "$PIIV_PROXY_ADMIN_URL/metrics"
expect_eq "piiv_proxy_dsr_forwarded_total counts the resolves forwarded (not those refused)" \
	"$(($(forwarded subject_resolve) - resolve0))" 2
expect_eq "... and the subject reads (3)" "$(($(forwarded subject_get) - get0))" 3
expect_eq "... one series per route" "$(grep -c '^piiv_proxy_dsr_forwarded_total{route="[a-z_]*"} [0-9]*$' "$LAST_BODY")" 10
check "... no token or id in any metric" bash -c '! grep -qF -e "$2" -e dsr_0123 "$1"' _ "$LAST_BODY" "$stok"

# ---- the vault's /v1/dsr endpoints --------------------------------------------------------------
rid
create_rid=$RID
expect_status "compliance creates an export request" 201 - -- "${AS[@]}" -H "X-Request-Id: $RID" -X POST "$P/v1/dsr" \
	-d '{"kind":"export","subject_token":"'"$stok"'"}' >"$T/create.out"
{
	cat "$T/create.out"
	dsr=$(json_get id "$LAST_BODY")
	expect_eq "... received, with an id and a deadline" "$(json_get kind "$LAST_BODY") $(json_get status "$LAST_BODY") ${dsr:0:4} $(json_get due_at "$LAST_BODY" | grep -c '^20')" \
		"export received dsr_ 1"
	expect_status "compliance lists received requests" 200 - -- "${AS[@]}" "$P/v1/dsr?status=received&limit=100"
	check "... and the new one is there" grep -qF "\"$dsr\"" "$LAST_BODY"
	expect_status "compliance reads it" 200 - -- "${AS[@]}" "$P/v1/dsr/$dsr"
	expect_eq "... by its id" "$(json_get id "$LAST_BODY") $(json_get status "$LAST_BODY")" "$dsr received"
	rid
	expect_status "compliance verifies the person's identity" 200 - -- "${AS[@]}" -H "X-Request-Id: $RID" \
		-X POST "$P/v1/dsr/$dsr/verify" -d '{}'
	expect_eq "... verified" "$(json_get status "$LAST_BODY")" verified
	status=
	for _ in $(seq 1 150); do
		curl -sS --cacert "$PIIV_CACERT" "${AS[@]}" "$P/v1/dsr/$dsr" >"$T/dsr.json"
		status=$(json_get status "$T/dsr.json" 2>/dev/null)
		[[ $status == completed || $status == rejected ]] && break
		sleep 0.2
	done
	expect_eq "the vault's executor completes it" "$status" completed
	expect_status "the export as JSON" 200 - -- "${AS[@]}" -D "$T/json.h" "$P/v1/dsr/$dsr/export?format=json"
	check "... Content-Type application/json" grep -qi '^content-type: application/json' "$T/json.h"
	check "... holding the subject's data" grep -qF "$email" "$LAST_BODY"
	expect_status "the export as HTML" 200 - -- "${AS[@]}" -D "$T/html.h" "$P/v1/dsr/$dsr/export?format=html"
	check "... Content-Type text/html; charset=utf-8" grep -qi '^content-type: text/html; charset=utf-8' "$T/html.h"
	check "... with Content-Security-Policy: default-src 'none'; style-src 'unsafe-inline'" \
		grep -qi "^content-security-policy: default-src 'none'; style-src 'unsafe-inline'" "$T/html.h"
	check "... and X-Content-Type-Options: nosniff" grep -qi '^x-content-type-options: nosniff' "$T/html.h"
	rid
	expect_status "an export has no receipt: the vault's 409, relayed" 409 conflict -- "${AS[@]}" -H "X-Request-Id: $RID" \
		"$P/v1/dsr/$dsr/receipt"
	expect_eq "... a refusal recorded once, by the vault" \
		"$(audit_count "request_id = '$RID' and writer like 'vault%' and decision = 'deny'") $(audit_count "request_id = '$RID'")" "1 1"
	expect_status "an unknown request: the vault's 404" 404 not_found -- "${AS[@]}" "$P/v1/dsr/dsr_nosuchrequest"
	"$PIIV_BIN/pii-audit" report --subject "$stok" --format json >"$T/report.json" 2>"$T/report.err"
	expect_eq "pii-audit report --subject exits 0" "$?" 0
	check "the vault's audit names compliance as on_behalf_of for the request" python3 - "$T/report.json" "$create_rid" "$COMPLIANCE" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
recs = doc["records"] if isinstance(doc, dict) else doc
mine = [r for r in recs if r.get("request_id") == sys.argv[2]]
assert mine, "no record under the creation's request id"
assert all(r.get("on_behalf_of") == sys.argv[3] for r in mine), mine
assert all(r.get("actor") == "proxy" for r in mine), mine
PY
	expect_eq "the creation is recorded by the vault alone" "$(audit_count "request_id = '$create_rid' and writer like 'proxy%'")" 0
	expect_eq "piiv_proxy_dsr_forwarded_total counts the creation" "$(($(forwarded dsr_create) - create0))" 1
	check "no PII value in the proxy's log" bash -c '! grep -qF -e "$2" -e "Park Jiwoo" "$1"' _ "$PIIV_DIR/log/proxy.log" "$email"
}

# ---- an objection filed through the proxy is enforced by it ---------------------------------
# dsr_objection PURPOSE: compliance files a verified objection; its id
dsr_objection() {
	curl -sS --cacert "$PIIV_CACERT" -H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" "${JSON_CT[@]}" \
		-X POST "$P/v1/dsr" -d '{"kind":"objection","subject_token":"'"$stok"'","purposes":["'"$1"'"],"verified":true}' |
		json_get id
}
# wait_done ID: until the vault's executor completes the request
wait_done() {
	local st=
	for _ in $(seq 1 100); do
		st=$(curl -sS --cacert "$PIIV_CACERT" -H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" "$P/v1/dsr/$1" | json_get status 2>/dev/null)
		[[ $st == completed ]] && return 0
		sleep 0.2
	done
	return 1
}
agent_access() {
	expect_status "$1" "$2" "$3" -- -H "Authorization: Bearer $PIIV_KEY_CS_AGENT" "${JSON_CT[@]}" -X POST "$P/v1/access" \
		-d '{"subject_token":"'"$stok"'","categories":["email"],"purpose":"support","ticket":"CS-86"}'
}
agent_access "before any objection the agent sees the subject" 200 -
check "objection to marketing, filed by compliance through the proxy, completes" wait_done "$(dsr_objection marketing)"
agent_access "an objection to marketing leaves support allowed" 200 -
check "objection to support completes" wait_done "$(dsr_objection support)"
agent_access "the proxy refuses support once the subject objects to it" 403 objection_in_force

# ---- a policy's stricter DSR deadline reaches the vault through the proxy ----------------
cp "$PIIV_POLICY" "$T/policy.orig"
python3 - "$PIIV_POLICY" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["dsr_deadline_days"] = 10
json.dump(p, open(sys.argv[1], "w"), indent=1)
PY
reloads() { grep -c 'event=policy_reloaded' "$PIIV_DIR/log/proxy.log"; }
n0=$(reloads)
kill -HUP "$(<"$PIIV_DIR/run/proxy.pid")"
for _ in $(seq 1 50); do [[ $(reloads) -gt $n0 ]] && break; sleep 0.1; done
expect_status "policy dsr_deadline_days 10: a request filed through the proxy" 201 - -- \
	-H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" "${JSON_CT[@]}" -X POST "$P/v1/dsr" \
	-d '{"kind":"export","subject_token":"'"$stok"'","received_at":"2026-01-05T10:00:00Z"}'
expect_eq "... is due ten days after receipt, not a month" "$(json_get due_at "$LAST_BODY")" "2026-01-15T10:00:00Z"
dl=$(json_get id "$LAST_BODY")
curl -sS -o /dev/null --cacert "$PIIV_CACERT" -H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" "${JSON_CT[@]}" \
	-X POST "$P/v1/dsr/$dl/reject" -d '{"reason":"test of the policy deadline"}'
cp "$T/policy.orig" "$PIIV_POLICY"
n0=$(reloads)
kill -HUP "$(<"$PIIV_DIR/run/proxy.pid")"
for _ in $(seq 1 50); do [[ $(reloads) -gt $n0 ]] && break; sleep 0.1; done
expect_status "without it, the legal month again" 201 - -- \
	-H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" "${JSON_CT[@]}" -X POST "$P/v1/dsr" \
	-d '{"kind":"export","subject_token":"'"$stok"'","received_at":"2026-01-05T10:00:00Z"}'
expect_eq "... due 5 Feb" "$(json_get due_at "$LAST_BODY")" "2026-02-05T10:00:00Z"
curl -sS -o /dev/null --cacert "$PIIV_CACERT" -H "Authorization: Bearer $PIIV_KEY_COMPLIANCE" "${JSON_CT[@]}" \
	-X POST "$P/v1/dsr/$(json_get id "$LAST_BODY")/reject" -d '{"reason":"test of the policy deadline"}'

# ---- the log and the audit log hold no PII -------------------------------------------------
check "no PII value in the proxy's log" bash -c '! grep -qF -e "$2" -e "Park Jiwoo" "$1"' _ "$PIIV_DIR/log/proxy.log" "$email"
check "no PII value in the audit log" bash -c '! psql "$1" -Atc "select row_to_json(a) from audit_records a" | grep -qF -e "$2" -e "Park Jiwoo"' _ "$PIIV_AUDIT_PG" "$email"
check "pii-audit verify passes" "$PIIV_BIN/pii-audit" verify
