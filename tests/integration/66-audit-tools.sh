#!/usr/bin/env bash
# 66-audit-tools.sh - pii-audit report (per subject, per actor, anomalies),
# proof and verify-proof against the live audit log, and the tool's
# command-line contract (--help, usage errors).
set -u
. "$(dirname "$0")/lib.sh"

R=${RANDOM}${RANDOM}
PA=$PIIV_BIN/pii-audit

# ---- command line ---------------------------------------------------------------
"$PA" --help >"$T/help" 2>&1
expect_eq "pii-audit --help exits 0" "$?" 0
grep -q "verify-proof" "$T/help" && ok "--help lists every command" || fail "--help lists every command"
"$PA" frobnicate >/dev/null 2>&1
expect_eq "unknown command exits 2" "$?" 2
"$PA" report --subject x --actor y >/dev/null 2>&1
expect_eq "report with both --subject and --actor exits 2" "$?" 2
"$PA" proof --writer w >/dev/null 2>&1
expect_eq "proof without --seq exits 2" "$?" 2
"$PA" report --actor x --since yesterday-ish >"$T/o" 2>&1
expect_eq "report with a malformed --since exits 1" "$?" 1
grep -q "since" "$T/o" && ok "... naming --since/--until" || fail "malformed --since message" "$(cat "$T/o")"

# ---- data: three agents of one role; one reads many more subjects ------------------
tok() {   # tokenize N subjects named user:an-R-i
	local i recs= sep=
	for ((i = 1; i <= $1; i++)); do
		recs+="$sep{\"subject\":\"user:an-$R-$i\",\"fields\":{\"email\":\"an$i-$R@example.com\"}}"
		sep=,
	done
	vault_post tagger v1/tokenize "{\"source\":\"an.test\",\"records\":[$recs]}" >"$T/tok.json"
}
reveal_as() {   # AGENT SUBJECT_INDEX
	vault_post proxy v1/reveal "{\"subject\":\"user:an-$R-$2\",\"categories\":[\"email\"],\"context\":{\"on_behalf_of\":\"$1\",\"role\":\"an_role_$R\",\"purpose\":\"support\",\"ticket\":\"T-$R\"}}" >/dev/null
}
tok 14
reveal_as "a1-$R@corp" 1
reveal_as "a1-$R@corp" 2
reveal_as "a2-$R@corp" 3
reveal_as "a2-$R@corp" 4
reveal_as "a3-$R@corp" 1
for i in 2 3 4 5 6 7 8 9 10 11 12 13 14; do reveal_as "a4-$R@corp" "$i"; done
s1=$(json_get records.0.subject_token "$T/tok.json")

# ---- report ----------------------------------------------------------------------
"$PA" report --subject "$s1" >"$T/subj.txt"
expect_eq "report --subject exits 0" "$?" 0
grep -q "a1-$R@corp" "$T/subj.txt" && grep -q "a3-$R@corp" "$T/subj.txt" && ok "report --subject names everyone who saw the subject" || fail "report --subject" "$(head -5 "$T/subj.txt")"
grep -q "a2-$R@corp" "$T/subj.txt" && fail "report --subject lists only that subject" || ok "report --subject lists only that subject"
grep -q "an1-$R@example.com" "$T/subj.txt" && fail "report carries no value" || ok "report carries no value"
"$PA" report --actor "a4-$R@corp" --format json >"$T/actor.json"
expect_eq "report --actor --format json exits 0" "$?" 0
n=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))))' "$T/actor.json" 2>/dev/null || echo invalid)
expect_eq "report --actor: one JSON record per reveal of a4" "$n" 13
# the person's records are found through indexes, not by reading the whole
# log (seq scans off: the plan uses an index for each side of the OR, or fails)
plan=$(psql "$PIIV_AUDIT_PG" -Atc "SET enable_seqscan = off; EXPLAIN SELECT seq FROM audit_records WHERE (actor = 'a4-$R@corp' OR on_behalf_of = 'a4-$R@corp') ORDER BY at, writer, seq" | tr '\n' ' ')
[[ $plan == *"audit_records_on_behalf_of"* && $plan == *"audit_records_actor"* && $plan != *"Seq Scan"* ]] &&
	ok "report --actor: actor and on_behalf_of each searched by an index" ||
	fail "report --actor: actor and on_behalf_of each searched by an index" "$plan"
"$PA" report --actor "a4-$R@corp" --since "2000-01-01" --until "2000-01-02" >"$T/none.txt"
grep -q "^0 records" "$T/none.txt" && ok "report --since/--until bound the window" || fail "report window" "$(tail -1 "$T/none.txt")"

"$PA" report --anomalies --min 5 >"$T/an.txt"
expect_eq "report --anomalies exits 0" "$?" 0
grep -q "a4-$R@corp" "$T/an.txt" && ok "anomalies: the agent with 13 subjects against peers' 1-2 is listed" || fail "anomalies: a4 listed" "$(cat "$T/an.txt")"
grep -q "a1-$R@corp" "$T/an.txt" && fail "anomalies: ordinary agents are not listed" || ok "anomalies: ordinary agents are not listed"

# ---- proof and verify-proof --------------------------------------------------------
# a record under a checkpoint: wait for the next checkpoint (every 10 s by default)
row=$(psql "$PIIV_AUDIT_PG" -Atc "select writer || ' ' || seq from audit_records where on_behalf_of = 'a4-$R@corp' order by at limit 1")
read -r W SEQ <<<"$row"
for ((i = 0; i < 60; i++)); do
	n=$(psql "$PIIV_AUDIT_PG" -Atc "select count(*) from audit_checkpoints where writer = '$W' and size > $SEQ")
	[[ $n -ge 1 ]] && break
	vault_curl none "$PIIV_VAULT_URL/healthz" >/dev/null
	sleep 0.5
done
"$PA" proof --writer "$W" --seq "$SEQ" --out "$T/proof.json" 2>"$T/proof.err"
expect_eq "proof exits 0" "$?" 0
"$PA" verify-proof "$T/proof.json" >"$T/vp.txt" 2>&1
expect_eq "verify-proof accepts it with the public key" "$?" 0
grep -q "on_behalf_of   a4-$R@corp" "$T/vp.txt" && ok "verify-proof prints the proven record" || fail "verify-proof output" "$(head -3 "$T/vp.txt")"
"$PA" proof --writer "$W" --seq "$SEQ" --out "$T/proof.json" >/dev/null 2>&1
expect_eq "proof refuses to overwrite a file" "$?" 1

# tampered proofs
python3 - "$T/proof.json" "$T" <<'PY'
import json, sys, base64
p = json.load(open(sys.argv[1])); t = sys.argv[2]
def w(name, q): json.dump(q, open(f"{t}/{name}.json", "w"))
q = dict(p); rec = bytearray(base64.b64decode(q["record"])); rec[-12] ^= 1; q["record"] = base64.b64encode(bytes(rec)).decode(); w("bad-record", q)
q = dict(p); q["path"] = list(p["path"]); h = q["path"][0]; q["path"][0] = ("0" if h[0] != "0" else "1") + h[1:]; w("bad-path", q)
q = dict(p); q["path"] = p["path"][:-1]; w("short-path", q)
q = dict(p); parts = p["checkpoint"].split(" "); parts[3] = str(int(parts[3]) + 1); q["checkpoint"] = " ".join(parts); w("bad-size", q)
q = dict(p); q["extra"] = 1; w("extra-key", q)
PY
for c in bad-record bad-path short-path bad-size extra-key; do
	"$PA" verify-proof "$T/$c.json" >"$T/vp-$c.txt" 2>&1
	rc=$?
	[[ $rc == 1 ]] && grep -q "^FAIL" "$T/vp-$c.txt" && ok "verify-proof rejects a proof with $c" || fail "verify-proof rejects $c" "rc=$rc $(head -2 "$T/vp-$c.txt")"
done
"$PA" keygen --out "$T/other.key" >/dev/null
"$PA" verify-proof --pubkey "$T/other.key.pub" "$T/proof.json" >"$T/vp-key.txt" 2>&1
expect_eq "verify-proof with another key exits 1" "$?" 1
grep -q "not trusted" "$T/vp-key.txt" && ok "... saying the key is not trusted" || fail "untrusted key message" "$(cat "$T/vp-key.txt")"
