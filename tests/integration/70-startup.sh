#!/usr/bin/env bash
# 70-startup.sh - pii-vault refuses unsafe starts with one clear line and
# exit 1: a root key readable by group or others, plain HTTP off loopback,
# a keystore that does not belong to the database; and usage errors exit 2.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

V=$PIIV_BIN/pii-vault
# run CMD...: its exit status; a command that should refuse to start but
# serves instead is stopped after 60 s (status 124) rather than hanging
run() { timeout 60 "$@" >"$T/out" 2>"$T/err"; echo $?; }

expect_eq "--help exits 0" "$(run "$V" --help)" 0
grep -q 'keygen' "$T/out" && ok "--help lists the commands" || fail "--help text"
expect_eq "no command: usage error, exit 2" "$(run "$V")" 2
expect_eq "unknown command: exit 2" "$(run "$V" frobnicate)" 2
expect_eq "serve without --config: exit 2" "$(run "$V" serve)" 2

# keygen: 0600, refuses to overwrite
expect_eq "keygen writes a root key" "$(run "$V" keygen --out "$T/k1.key" --keystore "$T/k1.json")" 0
expect_eq "root key mode 0600" "$(stat -c %a "$T/k1.key")" 600
expect_eq "keystore mode 0600" "$(stat -c %a "$T/k1.json")" 600
expect_eq "root key is 32 bytes" "$(stat -c %s "$T/k1.key")" 32
expect_eq "keygen refuses to overwrite a key" "$(run "$V" keygen --out "$T/k1.key")" 1

# a root key readable by others
cp "$(sed -n 's/.*"root_key_file": "\(.*\)",/\1/p' "$PIIV_VAULT_CONFIG")" "$T/loose.key"
chmod 0644 "$T/loose.key"
vault_config loose "s|\"root_key_file\": \"[^\"]*\"|\"root_key_file\": \"$T/loose.key\"|"
expect_eq "root key readable by others: refused (exit 1)" "$(run "$V" serve --config "$T/loose.json")" 1
expect_eq "... with one line on stderr" "$(wc -l <"$T/err")" 1
grep -q '0600' "$T/err" && ok "... naming the required mode" || fail "loose key message" "$(cat "$T/err")"
chmod 0640 "$T/loose.key"
expect_eq "root key readable by group: refused" "$(run "$V" serve --config "$T/loose.json")" 1

# plain HTTP on a non-loopback address
vault_config plain '/"tls": {/,/},/d' 's/"listen": {"address": "127.0.0.1", "port": 0}/"listen": {"address": "0.0.0.0", "port": 0}/'
expect_eq "plain HTTP on 0.0.0.0: refused (exit 1)" "$(run "$V" serve --config "$T/plain.json")" 1
expect_eq "... with one line on stderr" "$(wc -l <"$T/err")" 1
grep -qi 'plain HTTP' "$T/err" && ok "... saying why" || fail "plain HTTP message" "$(cat "$T/err")"
# plain HTTP on loopback is allowed (development)
vault_config plainlo '/"tls": {/,/},/d'
if vault_start plainlo; then
	s=$(curl -sS -o /dev/null -w '%{http_code}' "${VURL/https/http}/healthz")
	expect_eq "plain HTTP on loopback serves (development)" "$s" 200
	vault_stop
else
	fail "plain HTTP on loopback starts"
fi

# a keystore that does not belong to this database
vault_config otherks "s|\"keystore_file\": \"[^\"]*\"|\"keystore_file\": \"$T/k1.json\"|" "s|\"root_key_file\": \"[^\"]*\"|\"root_key_file\": \"$T/k1.key\"|"
expect_eq "another keystore than the database's: refused" "$(run "$V" serve --config "$T/otherks.json")" 1
grep -q 'another keystore' "$T/err" && ok "... saying so" || fail "keystore mismatch message" "$(cat "$T/err")"

# audit_read_database must be a role that reads the log and cannot change it
vault_config reader_owner "s|\"audit_read_database\": \"[^\"]*\"|\"audit_read_database\": \"$PIIV_AUDIT_PG\"|"
grep -q "\"audit_read_database\": \"$PIIV_AUDIT_PG\"" "$T/reader_owner.json" || fail "reader_owner config edited"
expect_eq "audit_read_database as the audit owner: refused" "$(run "$V" serve --config "$T/reader_owner.json")" 1
grep -q 'audit_read_database: this role can change the audit log' "$T/err" && ok "... saying it can change the log" ||
	fail "reader that can write message" "$(cat "$T/err")"
vault_config reader_writer "s|\"audit_read_database\": \"[^\"]*\"|\"audit_read_database\": \"$PIIV_AUDIT_WRITER_PG\"|"
expect_eq "audit_read_database as the INSERT-only writer: refused" "$(run "$V" serve --config "$T/reader_writer.json")" 1
grep -q 'audit_read_database' "$T/err" && ok "... naming the key" || fail "writer as reader message" "$(cat "$T/err")"
[[ $(psql "$PIIV_AUDIT_READER_PG" -Atc "select has_table_privilege('audit_records', 'SELECT'), has_table_privilege('audit_records', 'INSERT')") == "t|f" ]] &&
	ok "migrate gave the dev reader role SELECT and nothing else" || fail "reader role privileges"

# config errors name the key
vault_config typo 's/"threads": [0-9]*,/"threads": 4, "thread": 2,/'
expect_eq "unknown config key: refused" "$(run "$V" serve --config "$T/typo.json")" 1
grep -q 'thread' "$T/err" && ok "... naming the key" || fail "unknown key message" "$(cat "$T/err")"
vault_config dupkey 's/"threads": [0-9]*,/"threads": 4, "threads": 2,/'
expect_eq "duplicate config key: refused" "$(run "$V" serve --config "$T/dupkey.json")" 1
expect_eq "missing config file: exit 1" "$(run "$V" serve --config "$T/nope.json")" 1
