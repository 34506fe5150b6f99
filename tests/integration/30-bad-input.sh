#!/usr/bin/env bash
# 30-bad-input.sh - malformed, oversized and smuggling requests get a 4xx
# with a JSON error naming the field; never a crash, never a value echoed.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

TOK=(-X POST "$PIIV_VAULT_URL/v1/tokenize")
REV=(-X POST "$PIIV_VAULT_URL/v1/reveal")
port=${PIIV_VAULT_URL##*:}
secret='zz-secret-value-7731@example.com'

expect_field() { expect_eq "$1" "$(json_get error.field "$LAST_BODY")" "$2"; }
no_echo() {
	if grep -qF "$secret" "$LAST_BODY"; then fail "$1: the error does not echo the value"; else ok "$1: the error does not echo the value"; fi
}

expect_status "malformed JSON" 400 invalid_json -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":'
expect_status "malformed JSON quoting a value: not echoed" 400 invalid_json -- "${AS_TAGGER[@]}" "${TOK[@]}" -d "{\"source\":\"s\",\"records\":[{\"subject\":\"u\",\"fields\":{\"email\": $secret}}]}"
no_echo "malformed JSON"
expect_status "duplicate key" 400 duplicate_key -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[],"records":[]}'
expect_status "duplicate key inside fields" 400 duplicate_key -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":"u","fields":{"email":"a@b.c","email":"d@e.f"}}]}'
expect_status "body is not an object" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '[1,2]'
expect_status "records is not an array" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":{}}'
expect_field "records is not an array: field" records
expect_status "subject is a number" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":"u","fields":{}},{"subject":5,"fields":{}}]}'
expect_field "subject is a number: field" "records[1].subject"
expect_status "value is a number" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":"u","fields":{"phone":821012345678}}]}'
expect_field "value is a number: field" "records[0].fields.phone"
expect_status "unknown top-level field" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":"u","fields":{}}],"sauce":1}'
expect_field "unknown top-level field: field" sauce
expect_status "unknown record field" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":"u","fields":{},"extra":1}]}'
expect_field "unknown record field: field" "records[0].extra"
expect_status "unknown category" 400 unknown_category -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":"u","fields":{"shoe_size":"44"}}]}'
expect_field "unknown category: field" "records[0].fields.shoe_size"
expect_status "a key that is a value is not echoed" 400 unknown_category -- "${AS_TAGGER[@]}" "${TOK[@]}" -d "{\"source\":\"s\",\"records\":[{\"subject\":\"u\",\"fields\":{\"$secret\":\"x\"}}]}"
no_echo "key that is a value"
expect_status "invalid email" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d "{\"source\":\"s\",\"records\":[{\"subject\":\"u\",\"fields\":{\"email\":\"${secret/@/ at }\"}}]}"
expect_field "invalid email: field" "records[0].fields.email"
grep -qF "${secret/@/ at }" "$LAST_BODY" && fail "invalid email: not echoed" || ok "invalid email: not echoed"
expect_status "missing source" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"records":[{"subject":"u","fields":{}}]}'
expect_field "missing source: field" source
expect_status "empty records" 400 bad_request -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[]}'
printf '{"source":"s","records":[{"subject":"u","fields":{"name":"\xff\xfe"}}]}' >"$T/badutf8.json"
expect_status "invalid UTF-8" 400 invalid_json -- "${AS_TAGGER[@]}" "${TOK[@]}" --data-binary @"$T/badutf8.json"
expect_status "NUL escaped in a string" 400 invalid_json -- "${AS_TAGGER[@]}" "${TOK[@]}" -d '{"source":"s","records":[{"subject":"u\u0000v","fields":{}}]}'
expect_status "missing Content-Type" 400 bad_request -- -H "Authorization: Bearer $PIIV_TAGGER_TOKEN" -H 'Content-Type:' "${TOK[@]}" -d '{}'
deep=$(printf '%.0s[' $(seq 1 200))
expect_status "nesting 200 deep" 413 too_large -- "${AS_TAGGER[@]}" "${TOK[@]}" -d "{\"source\":$deep"

# sizes: value, batch, body
long=$(head -c 1100 /dev/zero | tr '\0' 'a')
expect_status "value over max_value_bytes" 413 too_large -- "${AS_TAGGER[@]}" "${TOK[@]}" -d "{\"source\":\"s\",\"records\":[{\"subject\":\"u\",\"fields\":{\"name\":\"$long\"}}]}"
expect_field "value too long: field" "records[0].fields.name"
{ printf '{"source":"s","records":['; for i in $(seq 1 10001); do printf '{"subject":"u%d","fields":{}},' "$i"; done; printf '{"subject":"x","fields":{}}]}'; } >"$T/big-batch.json"
expect_status "batch over max_batch_records" 413 too_large -- "${AS_TAGGER[@]}" "${TOK[@]}" --data-binary @"$T/big-batch.json"
expect_field "batch too big: field" records
head -c 70000 /dev/zero | tr '\0' ' ' >"$T/70k.json"
expect_status "body over the 64 KiB limit of reveal" 413 too_large -- "${AS_PROXY[@]}" "${REV[@]}" --data-binary @"$T/70k.json"
expect_status "body over the limit, client waits for 100-continue" 413 too_large -- "${AS_PROXY[@]}" -H 'Expect: 100-continue' "${REV[@]}" --data-binary @"$T/70k.json"
expect_status "chunked body over the limit" 413 too_large -- "${AS_PROXY[@]}" -H 'Transfer-Encoding: chunked' "${REV[@]}" --data-binary @"$T/70k.json"

# request smuggling shapes, sent raw over TLS
raw() {
	printf "$1" | timeout 10 openssl s_client -quiet -ign_eof -connect "127.0.0.1:$port" \
		-servername localhost -CAfile "$PIIV_CACERT" 2>/dev/null | head -c 2000
}
auth="Authorization: Bearer $PIIV_TAGGER_TOKEN"
body='{"source":"s","records":[{"subject":"u","fields":{}}]}'
out=$(raw "POST /v1/tokenize HTTP/1.1\r\nHost: localhost\r\n$auth\r\nContent-Type: application/json\r\nContent-Length: ${#body}\r\nContent-Length: ${#body}\r\nConnection: close\r\n\r\n$body")
[[ $out == "HTTP/1.1 400"* && $out == *'"field":"Content-Length"'* ]] && ok "duplicate Content-Length: 400 before the handler" || fail "duplicate Content-Length" "${out:0:200}"
out=$(raw "POST /v1/tokenize HTTP/1.1\r\nHost: localhost\r\n$auth\r\nContent-Type: application/json\r\nContent-Length: ${#body}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n0\r\n\r\n")
[[ $out == "HTTP/1.1 400"* && $out == *bad_request* ]] && ok "Content-Length with Transfer-Encoding: 400" || fail "CL+TE" "${out:0:200}"
out=$(raw "POST /v1/tokenize HTTP/1.1\r\nHost: localhost\r\n$auth\r\nContent-Type: application/json\r\nContent-Length: 99999999999\r\nConnection: close\r\n\r\n")
[[ $out == "HTTP/1.1 413"* ]] && ok "announced body over the limit: 413 at once" || fail "announced oversize" "${out:0:200}"
out=$(raw "POST /v1/tokenize HTTP/1.1\r\nHost: localhost\r\n$auth\r\nContent-Type: application/json\r\nContent-Length: 12abc\r\nConnection: close\r\n\r\n")
[[ $out == "HTTP/1.1 4"* ]] && ok "malformed Content-Length: 4xx" || fail "malformed Content-Length" "${out:0:200}"

# keep-alive survives: curl reuses one connection for two requests
n=$(curl -sv --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/subjects/resolve" -d '{"category":"email","value":"x@y.zz"}' \
	"$PIIV_VAULT_URL/v1/subjects/resolve" -d '{"category":"email","value":"x@y.zz"}' 2>&1 | grep -c -i 're-using existing connection')
expect_eq "keep-alive: a second request reuses the connection" "$n" 1

# the daemon is still up and well after all of that
expect_status "vault still healthy after bad input" 200 - -- "$PIIV_VAULT_URL/healthz"

# idle and half-sent connections time out
vault_config short 's/"threads": [0-9]*,/"threads": 2, "connection_timeout_seconds": 2,/'
if vault_start short; then
	sport=${VURL##*:}
	start=$(date +%s)
	printf "POST /v1/tokenize HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n{\"half\":" | timeout 20 openssl s_client -quiet -ign_eof -connect "127.0.0.1:$sport" -servername localhost -CAfile "$PIIV_CACERT" >/dev/null 2>&1
	took=$(( $(date +%s) - start ))
	(( took < 15 )) && ok "a half-sent request is closed by the server's timeout" || fail "half-sent request timeout" "held ${took}s"
	start=$(date +%s)
	timeout 20 openssl s_client -quiet -connect "127.0.0.1:$sport" -servername localhost -CAfile "$PIIV_CACERT" < <(sleep 30) >/dev/null 2>&1
	took=$(( $(date +%s) - start ))
	(( took < 15 )) && ok "an idle connection is closed by the server's timeout" || fail "idle timeout" "held ${took}s"
	vault_stop
else
	fail "vault with a short timeout starts"
fi
# the connection count is bounded
vault_config few 's/"threads": [0-9]*,/"threads": 1, "max_connections": 3,/'
if vault_start few; then
	sport=${VURL##*:}
	pids=()
	for i in 1 2 3; do
		(sleep 6 | openssl s_client -quiet -connect "127.0.0.1:$sport" -servername localhost -CAfile "$PIIV_CACERT" >/dev/null 2>&1) &
		pids+=($!)
	done
	sleep 1
	code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$PIIV_CACERT" "$VURL/healthz" 2>/dev/null)
	[[ $code != 200 ]] && ok "a connection beyond max_connections is not served" || fail "connection limit" "got $code"
	kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null
	pkill -f "s_client -quiet -connect 127.0.0.1:$sport" 2>/dev/null
	sleep 1
	expect_status "once connections close, the server answers again" 200 - -- "$VURL/healthz"
	vault_stop
else
	fail "vault with max_connections 3 starts"
fi

# nothing above leaked a value into the vault's log
if grep -qF -e "$secret" -e "${secret/@/ at }" -e 'zz-secret' "$PIIV_DIR/log/vault.log" "$T"/short.log 2>/dev/null; then
	fail "no value in the vault logs"
else
	ok "no value in the vault logs"
fi
