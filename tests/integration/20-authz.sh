#!/usr/bin/env bash
# 20-authz.sh - service identities and their allow-lists; every refusal audited.
set -u
. "$(dirname "$0")/lib.sh"

ctx='"context":{"purpose":"support"}'
rev='{"subject":"user:1001","categories":["email"],'$ctx'}'
audit_count() { psql "$PIIV_AUDIT_PG" -Atc "select count(*) from audit_records where $1"; }

before=$(audit_count "decision = 'deny' and reason = 'forbidden' and actor = 'tagger'")
expect_status "tagger cannot reveal" 403 forbidden -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$rev"
expect_status "tagger cannot detokenize" 403 forbidden -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/detokenize" -d '{"tokens":["tok_email_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa"],'"$ctx"'}'
expect_status "tagger (certificate) cannot reveal" 403 forbidden -- "${AS_TAGGER_CERT[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$rev"
after=$(audit_count "decision = 'deny' and reason = 'forbidden' and actor = 'tagger'")
expect_eq "forbidden requests are audited" "$((after - before))" 3
expect_status "proxy cannot tokenize" 403 forbidden -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" -d '{"source":"s","records":[{"subject":"u","fields":{}}]}'

before=$(audit_count "decision = 'deny' and reason = 'unauthenticated'")
expect_status "no credentials: 401" 401 unauthenticated -- "${AS_NONE[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$rev"
expect_status "unknown token: 401" 401 unauthenticated -- -H 'Authorization: Bearer piiv_svc_this-is-not-a-valid-token' -H 'Content-Type: application/json' -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$rev"
expect_status "wrong scheme: 401" 401 unauthenticated -- -H "Authorization: Basic $PIIV_PROXY_TOKEN" -H 'Content-Type: application/json' -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$rev"
after=$(audit_count "decision = 'deny' and reason = 'unauthenticated'")
expect_eq "unauthenticated requests are audited" "$((after - before))" 3

# a certificate from another CA names nobody
mkdir -p "$T/rogue"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$T/rogue/k.pem" -out "$T/rogue/c.pem" -days 1 -subj /CN=proxy >/dev/null 2>&1
expect_status "self-signed certificate named 'proxy' is not the proxy" 401 unauthenticated -- --cert "$T/rogue/c.pem" --key "$T/rogue/k.pem" -H 'Content-Type: application/json' -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$rev"
# certificate and token that disagree
expect_status "tagger certificate with the proxy's token is refused" 401 unauthenticated -- --cert "$PIIV_TAGGER_CERT" --key "$PIIV_TAGGER_KEY" -H "Authorization: Bearer $PIIV_PROXY_TOKEN" -H 'Content-Type: application/json' -X POST "$PIIV_VAULT_URL/v1/reveal" -d "$rev"
# the audit log holds no secret: no token, no value
if psql "$PIIV_AUDIT_PG" -Atc "select row_to_json(a) from audit_records a" | grep -qF -e "$PIIV_PROXY_TOKEN" -e "$PIIV_TAGGER_TOKEN" -e 'alice@example.com'; then
	fail "audit records hold no secret and no value"
else
	ok "audit records hold no secret and no value"
fi
# the trigger keeps the audit log append-only even for its owner
for stmt in "update audit_records set decision = 'allow'" "delete from audit_records" "truncate audit_records"; do
	if psql "$PIIV_AUDIT_PG" -qc "$stmt" >/dev/null 2>&1; then fail "audit refuses: $stmt"; else ok "audit refuses: $stmt"; fi
done
