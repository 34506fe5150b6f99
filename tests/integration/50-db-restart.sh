#!/usr/bin/env bash
# 50-db-restart.sh - the database restarts while the vault runs: requests fail
# cleanly (503 db_unavailable) during the outage and succeed after it without
# restarting the vault; nothing acknowledged is lost.
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}
pgctl=${PIIV_SCRIPTS:-scripts}/pg-ctl
tok() { printf '{"source":"restart.test","records":[{"subject":"user:restart-%s-%s","fields":{"email":"restart-%s-%s@example.com"}}]}' "$R" "$1" "$R" "$1"; }
rev() { printf '{"subject":"user:restart-%s-%s","categories":["email"],"context":{"purpose":"test"}}' "$R" "$1"; }

# acknowledged before the outage, on several connections of the pool
acked=0
for i in 1 2 3 4 5 6; do
	s=$(curl -sS -o /dev/null -w '%{http_code}' --cacert "$PIIV_CACERT" "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" -d "$(tok $i)")
	[[ $s == 200 ]] && acked=$((acked + 1))
done
expect_eq "six batches acknowledged before the outage" "$acked" 6

vault_pid=$(cat "$PIIV_DIR/run/vault.pid")
"$pgctl" "$PIIV_DIR" stop >/dev/null 2>&1 && ok "database stopped" || fail "database stopped"
expect_status "tokenize during the outage: 503 db_unavailable" 503 db_unavailable -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" -d "$(tok 7)"
grep -q "restart-$R-7@" "$LAST_BODY" && fail "outage error carries no value" || ok "outage error carries no value"
expect_status "reveal during the outage: 503" 503 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$(rev 1)"
code=$(json_get error.code "$LAST_BODY")
[[ $code == db_unavailable || $code == audit_unavailable ]] && ok "reveal during the outage names what is unavailable ($code)" || fail "reveal outage code" "$code"
expect_status "readyz reports the outage" 503 - -- "$PIIV_VAULT_ADMIN_URL/readyz"
expect_status "healthz still answers (the process is alive)" 200 - -- "$PIIV_VAULT_ADMIN_URL/healthz"
"$pgctl" "$PIIV_DIR" start >/dev/null 2>&1 && ok "database started again" || fail "database started"
kill -0 "$vault_pid" 2>/dev/null && ok "the vault process was not restarted" || fail "vault process survived"

# every pool connection reconnects: several requests in a row all succeed
good=0
for i in 1 2 3 4 5 6; do
	s=$(curl -sS -o "$T/rev$i" -w '%{http_code}' --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$(rev $i)")
	[[ $s == 200 && $(json_get fields.email.0.value "$T/rev$i") == "restart-$R-$i@example.com" ]] && good=$((good + 1))
done
expect_eq "after the restart: every acknowledged value is there and revealed" "$good" 6
expect_status "tokenize works again" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" -d "$(tok 8)"
expect_status "readyz is ready again" 200 - -- "$PIIV_VAULT_ADMIN_URL/readyz"
n=$(psql "$PIIV_AUDIT_PG" -Atc "select count(*) from audit_records where action = 'tokenize' and source = 'restart.test'")
(( n >= 7 )) && ok "acknowledged batches are audited ($n)" || fail "audited batches" "$n"
