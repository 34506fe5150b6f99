#!/usr/bin/env bash
# 60-audit-failure.sh - fail closed: when the audit record cannot be
# committed, the request fails with 503 audit_unavailable and nothing is
# revealed or stored.
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}
email="auditfail-$R@example.com"
vault_post tagger v1/tokenize "{\"source\":\"audit.test\",\"records\":[{\"subject\":\"user:af-$R\",\"fields\":{\"email\":\"$email\"}}]}" >"$T/t.json"
etok=$(json_get records.0.fields.email "$T/t.json")
[[ $etok == tok_email_* ]] && ok "setup: a value to reveal" || fail "setup tokenize"

# take the audit table away (as the superuser), as a failed disk or a DBA would
psql "$PIIV_PG_SUPER" -d piiv_audit -qc "ALTER TABLE audit_records RENAME TO audit_records_away" >/dev/null 2>&1 \
	|| psql "${PIIV_AUDIT_PG/user=piiv_audit/user=postgres}" -qc "ALTER TABLE audit_records RENAME TO audit_records_away"
expect_status "reveal without an audit log: 503 audit_unavailable" 503 audit_unavailable -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject\":\"user:af-$R\",\"categories\":[\"email\"],\"context\":{\"purpose\":\"test\"}}"
grep -qF "$email" "$LAST_BODY" && fail "reveal: no value in the 503" || ok "reveal: no value in the 503"
expect_status "detokenize without an audit log: 503" 503 audit_unavailable -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/detokenize" \
	-d "{\"tokens\":[\"$etok\"],\"context\":{\"purpose\":\"test\"}}"
grep -qF "$email" "$LAST_BODY" && fail "detokenize: no value in the 503" || ok "detokenize: no value in the 503"
m0=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values where source = 'audit.test'")
expect_status "tokenize without an audit log: 503" 503 audit_unavailable -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" \
	-d "{\"source\":\"audit.test\",\"records\":[{\"subject\":\"user:af-$R-new\",\"fields\":{\"email\":\"new-$email\"}}]}"
n=$(psql "$PIIV_PG" -Atc "select count(*) from subjects where subject_token = '$(json_get records.0.subject_token "$T/t.json")'")
m=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values where source = 'audit.test'")
expect_eq "tokenize without an audit log stored nothing" "$m" "$m0"
expect_status "refusals without an audit log are refused too (503, not 401)" 503 audit_unavailable -- "${AS_NONE[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d '{}'
expect_status "readyz reports the audit log unavailable" 503 - -- "$PIIV_VAULT_ADMIN_URL/readyz"
expect_eq "readyz names the audit log" "$(json_get audit "$LAST_BODY")" unavailable
curl -sS --cacert "$PIIV_CACERT" "$PIIV_VAULT_ADMIN_URL/metrics" | grep -q '^piiv_vault_audit_failures_total [1-9]' && ok "metrics count audit failures" || fail "audit failure metric"

psql "$PIIV_PG_SUPER" -d piiv_audit -qc "ALTER TABLE audit_records_away RENAME TO audit_records" >/dev/null 2>&1 \
	|| psql "${PIIV_AUDIT_PG/user=piiv_audit/user=postgres}" -qc "ALTER TABLE audit_records_away RENAME TO audit_records"
expect_status "with the audit log back, reveal works" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject\":\"user:af-$R\",\"categories\":[\"email\"],\"context\":{\"purpose\":\"test\"}}"
expect_eq "... and gives the value" "$(json_get fields.email.0.value "$LAST_BODY")" "$email"
if grep -qF "$email" "$PIIV_DIR/log/vault.log"; then fail "no value in the vault log"; else ok "no value in the vault log"; fi
