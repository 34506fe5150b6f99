#!/usr/bin/env bash
# 40-at-rest.sh - no plaintext at rest: after tokenizing known values, neither
# a dump of every vault table nor the files of the PostgreSQL data directory
# (heap, indexes, WAL) nor any log contain any of them.
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}
# distinctive values, so a hit cannot be a coincidence
email="atrest.$R@canary-example.com"
phone="010-4$((R % 1000 + 100))-7$((R % 900 + 100))"
phone_e164="+8210${phone:4:4}${phone:9:4}"
name="Canaryname$R"
kname="카나리아$R"
addr="$R Canary Street, Springfield"
values=("$email" "$phone_e164" "$name" "$kname" "$addr")

body=$(cat <<JSON
{"source":"atrest.test","records":[{"subject":"user:atrest-$R","fields":{"email":"$email","phone":"$phone","name":"$name","address":"$addr"}},
 {"subject":"user:atrest-$R-2","fields":{"name":"$kname"}}]}
JSON
)
expect_status "tokenize the canary values" 200 - -- "${AS_TAGGER[@]}" -X POST "$PIIV_VAULT_URL/v1/tokenize" --data-binary "$body"
expect_eq "all canary values stored" "$(json_get stored "$LAST_BODY")" 5
expect_status "the canary values can be revealed" 200 - -- "${AS_PROXY[@]}" -X POST "$PIIV_VAULT_URL/v1/reveal" \
	-d "{\"subject\":\"user:atrest-$R\",\"categories\":[\"email\",\"phone\",\"name\",\"address\"],\"context\":{\"purpose\":\"test\"}}"
expect_eq "reveal gives the email back" "$(json_get fields.email.0.value "$LAST_BODY")" "$email"

# dumps of every table of the vault and audit databases
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
"$pg_bin/pg_dump" "$PIIV_PG" >"$T/vault.sql" 2>"$T/dump.err" && ok "pg_dump of the vault database" || fail "pg_dump vault" "$(head -c 200 "$T/dump.err")"
"$pg_bin/pg_dump" "$PIIV_AUDIT_PG" >"$T/audit.sql" 2>>"$T/dump.err" && ok "pg_dump of the audit database" || fail "pg_dump audit"
rows=$(grep -c 'atrest.test' "$T/vault.sql")
(( rows >= 5 )) && ok "the dump holds the canary rows (source visible)" || fail "dump holds the rows" "$rows"
for v in "${values[@]}"; do
	if grep -qF -- "$v" "$T/vault.sql" "$T/audit.sql"; then fail "no plaintext in the table dumps (${#v}-byte value)"; else ok "no plaintext in the table dumps (${#v}-byte value)"; fi
done
# lowercase and hex forms too: a hex-encoded plaintext would also be a leak
hexemail=$(printf '%s' "$email" | od -An -tx1 | tr -d ' \n')
grep -qF "$hexemail" "$T/vault.sql" && fail "no hex-encoded plaintext in the dump" || ok "no hex-encoded plaintext in the dump"

# the files on disk: flush everything, then search heap, indexes and WAL
psql "$PIIV_PG_SUPER" -qc "CHECKPOINT" >/dev/null 2>&1
psql "$PIIV_PG_SUPER" -qc "SELECT pg_switch_wal()" >/dev/null 2>&1
data=$PIIV_DIR/pg/data
[[ -d $data/base ]] && ok "found the data directory" || fail "data directory" "$data"
for v in "${values[@]}"; do
	if grep -rqaF -- "$v" "$data" 2>/dev/null; then fail "no plaintext in the data directory files (${#v}-byte value)"; else ok "no plaintext in the data directory files (${#v}-byte value)"; fi
done
# ... and the search itself works: the source name, which is not PII, is there
grep -rqaF 'atrest.test' "$data/base" 2>/dev/null && ok "the on-disk search finds stored text (control)" || fail "on-disk search control"

# nor in any log: vault, PostgreSQL
for v in "${values[@]}"; do
	if grep -rqaF -- "$v" "$PIIV_DIR/log" "$PIIV_DIR/pg/log" 2>/dev/null; then fail "no plaintext in the logs (${#v}-byte value)"; else ok "no plaintext in the logs (${#v}-byte value)"; fi
done
