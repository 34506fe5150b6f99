#!/usr/bin/env bash
# 82-policy-cli.sh - pii-policy as its users run it: check accepts the
# default policy and the examples and refuses broken files with exit 1 and
# one line "pii-policy: FILE: PATH: message"; explain answers a table of
# role x category x purpose x ticket x approval questions over the default
# policy (text and JSON), exits 0 for a denial as for an allow and 1 for a
# bad policy; describe prints what GET /v1/me shows; usage errors exit 2.
# Needs no server: it only runs the binary (lib.sh for the ok/fail helpers).
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

POL=$O/bin/pii-policy
DEF=policies/default.json

# run_pol OUT ERR ARGS...: run pii-policy, stdout to OUT, stderr to ERR; the
# exit status in $RC.
run_pol() {
	local out=$1 err=$2
	shift 2
	RC=0
	"$POL" "$@" >"$out" 2>"$err" || RC=$?
}

# field NAME FILE: the value of a "NAME: value" line of explain's text output.
field() {
	sed -n "s/^$1: //p" "$2" | head -n 1
}

if [[ ! -x $POL ]]; then
	fail "pii-policy is built" "no $POL (make all)"
	exit 1
fi

# --- help and usage -------------------------------------------------------------
for cmd in "" check explain describe; do
	run_pol "$T/out" "$T/err" $cmd --help
	expect_eq "pii-policy $cmd --help exits 0" "$RC" 0
	check "pii-policy $cmd --help prints usage on stdout" grep -q '^usage: pii-policy' "$T/out"
done

usage_case() {
	local name=$1
	shift
	run_pol "$T/out" "$T/err" "$@"
	expect_eq "usage: $name exits 2" "$RC" 2
	check "usage: $name says so on stderr" grep -q '^pii-policy: ' "$T/err"
}
run_pol "$T/out" "$T/err"
expect_eq "usage: no command exits 2" "$RC" 2
usage_case "unknown command" frobnicate
usage_case "check without a file" check
usage_case "check with two files" check "$DEF" "$DEF"
usage_case "check with an unknown option" check --strict "$DEF"
usage_case "explain without --policy" explain --role cs_agent --category email --purpose support
usage_case "explain without --role" explain --policy "$DEF" --category email --purpose support
usage_case "explain without --category" explain --policy "$DEF" --role cs_agent --purpose support
usage_case "explain without --purpose" explain --policy "$DEF" --role cs_agent --category email
usage_case "explain with an unknown option" explain --policy "$DEF" --role cs_agent --category email --purpose support --tiket
usage_case "explain with a missing value" explain --role cs_agent --category email --purpose support --policy
usage_case "explain with a bad --format" explain --policy "$DEF" --role cs_agent --category email --purpose support --format yaml
usage_case "explain --breakglass with --ticket" explain --policy "$DEF" --role oncall --category email --purpose incident --breakglass --ticket
usage_case "describe without --role" describe --policy "$DEF"

# --- check ----------------------------------------------------------------------
run_pol "$T/out" "$T/err" check "$DEF"
expect_eq "check $DEF exits 0" "$RC" 0
expect_eq "check $DEF says ok with its counts" "$(cat "$T/out")" \
	"$DEF: ok (10 categories, 6 purposes, 5 roles)"
for f in policies/examples/*.json; do
	[[ -f $f ]] || continue
	run_pol "$T/out" "$T/err" check "$f"
	expect_eq "check $f exits 0" "$RC" 0 || sed 's/^/#   /' "$T/err"
done

# broken policies: NAME|JSON|PATH: MESSAGE-START (the whole stderr line after the file)
mini_head='"version":1,"categories":{"email":{"sensitivity":"medium","mask":"email"}},"purposes":{"support":{}}'
bad_cases=(
	"unknown key|{$mini_head,\"roles\":{\"a\":{\"grants\":[],\"grant\":[]}}}|roles.a.grant: unknown key"
	"duplicate key|{$mini_head,\"roles\":{\"a\":{\"grants\":[]},\"a\":{\"grants\":[]}}}|roles.a: duplicate key"
	"unknown category|{$mini_head,\"roles\":{\"a\":{\"grants\":[{\"categories\":[\"phone\"],\"purposes\":[\"support\"],\"view\":\"full\",\"require_ticket\":true}]}}}|roles.a.grants[0].categories[0]: unknown category \"phone\""
	"no approver|{$mini_head,\"roles\":{\"a\":{\"grants\":[{\"categories\":[\"email\"],\"purposes\":[\"support\"],\"view\":\"full\",\"require_ticket\":true,\"require_approval\":true}]}}}|roles.a.grants[0].require_approval: nobody could approve it"
	"bad view|{$mini_head,\"roles\":{\"a\":{\"grants\":[{\"categories\":[\"email\"],\"purposes\":[\"support\"],\"view\":\"all\",\"require_ticket\":true}]}}}|roles.a.grants[0].view: must be \"masked\" or \"full\""
	"version 2|{\"version\":2}|version: must be 1"
	"not JSON|{\"version\":|JSON ends before it is complete"
)
i=0
for c in "${bad_cases[@]}"; do
	IFS='|' read -r name json want <<<"$c"
	i=$((i + 1))
	printf '%s' "$json" >"$T/bad$i.json"
	run_pol "$T/out" "$T/err" check "$T/bad$i.json"
	expect_eq "check refuses $name: exit 1" "$RC" 1
	expect_eq "check refuses $name: one line on stderr" "$(wc -l <"$T/err")" 1
	line=$(head -n 1 "$T/err")
	if [[ $line == "pii-policy: $T/bad$i.json: $want"* ]]; then
		ok "check refuses $name: names $want"
	else
		fail "check refuses $name: names $want" "stderr: $line"
	fi
	check "check refuses $name: nothing on stdout" test ! -s "$T/out"
done
run_pol "$T/out" "$T/err" check "$T/no-such-file.json"
expect_eq "check of a missing file exits 1" "$RC" 1
check "check of a missing file says it cannot read it" \
	grep -qx "pii-policy: $T/no-such-file.json: cannot read: No such file or directory" "$T/err"

# --- explain over the default policy ----------------------------------------------
# ROLE CATEGORY PURPOSE FLAGS DECISION CODE VIEW RULE
explain_rows=(
	"cs_agent email support --ticket allow ok masked roles.cs_agent.grants[0]"
	"cs_agent email support - deny ticket_required none roles.cs_agent.grants[0]"
	"cs_agent phone support --ticket allow ok masked roles.cs_agent.grants[0]"
	"cs_agent address support --ticket deny policy_denied none -"
	"cs_agent national_id support --ticket deny approval_required none roles.cs_agent.grants[1]"
	"cs_agent national_id support --ticket,--approved allow ok full roles.cs_agent.grants[1]"
	"cs_agent national_id support --approved deny ticket_required none roles.cs_agent.grants[1]"
	"cs_lead email support --ticket allow ok full roles.cs_lead.grants[0]"
	"cs_lead national_id support --ticket deny approval_required none roles.cs_lead.grants[1]"
	"compliance email support --ticket,--approved deny policy_denied none -"
	"ceo email support --ticket,--approved deny policy_denied none -"
	"ceo national_id legal --ticket,--approved deny policy_denied none -"
	"oncall email incident --ticket deny policy_denied none -"
	"cs_agent email marketing --ticket deny policy_denied none -"
	"cs_agent passport support --ticket deny unknown_category none -"
	"intern email support --ticket deny policy_denied none -"
)
for row in "${explain_rows[@]}"; do
	read -r role cat pur flags decision code view rule <<<"$row"
	args=()
	[[ $flags != - ]] && IFS=',' read -r -a args <<<"$flags"
	name="explain $role $cat $pur ${flags//,/ }"
	run_pol "$T/out" "$T/err" explain --policy "$DEF" --role "$role" --category "$cat" --purpose "$pur" "${args[@]}"
	expect_eq "$name: exit 0" "$RC" 0
	got="$(field decision "$T/out") $(field code "$T/out") $(field view "$T/out") $(field rule "$T/out")"
	expect_eq "$name: $decision $code $view $rule" "$got" "$decision $code $view $rule"
	check "$name: a reason" grep -q '^reason: .' "$T/out"
	run_pol "$T/out" "$T/err" explain --policy "$DEF" --role "$role" --category "$cat" --purpose "$pur" "${args[@]}" --format json
	want_rule=$rule
	[[ $rule == - ]] && want_rule=null
	got="$(json_get decision "$T/out") $(json_get code "$T/out") $(json_get view "$T/out") $(json_get rule "$T/out")"
	expect_eq "$name (json): $decision $code $view $want_rule" "$got" "$decision $code $view $want_rule"
done

run_pol "$T/out" "$T/err" explain --policy "$DEF" --role cs_agent --category email --purpose support --ticket
expect_eq "explain shows the mask of a masked view" "$(field mask "$T/out")" email
expect_eq "explain shows the grant's limit" "$(field max_subjects_per_hour "$T/out")" 60
run_pol "$T/out" "$T/err" explain --policy "$DEF" --role cs_agent --role cs_lead --category email --purpose support --ticket
expect_eq "explain with two roles: the most permissive grant" \
	"$(field view "$T/out") $(field rule "$T/out")" "full roles.cs_lead.grants[0]"
run_pol "$T/out" "$T/err" explain --policy "$DEF" --role ceo --category email --purpose support
check "explain's reason names role, category and purpose" \
	grep -qx 'reason: no grant of role ceo covers category email for purpose support' "$T/out"
run_pol "$T/out" "$T/err" explain --policy "$DEF" --role ceo --category email --purpose alice@example.com
check "explain's reason does not repeat an unknown purpose" bash -c "! grep '^reason:' '$T/out' | grep -q alice"
run_pol "$T/out" "$T/err" explain --policy "$DEF" --role intern --category email --purpose support
check "explain notes a role the policy does not define" grep -qx 'note: role intern is not defined in the policy' "$T/out"
run_pol "$T/out" "$T/err" explain --policy "$DEF" --role oncall --category email --purpose incident --breakglass
expect_eq "explain --breakglass for oncall: allow full for 60 minutes" \
	"$(field decision "$T/out") $(field view "$T/out") $(field minutes "$T/out") $(field rule "$T/out")" \
	"allow full 60 roles.oncall.breakglass"
run_pol "$T/out" "$T/err" explain --policy "$DEF" --role oncall --category national_id --purpose incident --breakglass
expect_eq "explain --breakglass for a category outside the block: deny" \
	"$(field decision "$T/out") $(field code "$T/out")" "deny policy_denied"
run_pol "$T/out" "$T/err" explain --policy "$T/bad1.json" --role a --category email --purpose support
expect_eq "explain with a bad policy exits 1" "$RC" 1
check "explain with a bad policy names the fault" grep -q "^pii-policy: $T/bad1.json: roles.a.grant: " "$T/err"

# --- describe -------------------------------------------------------------------
run_pol "$T/out" "$T/err" describe --policy "$DEF" --role cs_agent --role compliance
expect_eq "describe exits 0" "$RC" 0
expect_eq "describe: cs_agent has two grants" "$(json_get roles.0.grants.# "$T/out")" 2
expect_eq "describe: cs_agent's first grant is masked" "$(json_get roles.0.grants.0.view "$T/out")" masked
expect_eq "describe: compliance has no grants" "$(json_get roles.1.grants.# "$T/out")" 0
expect_eq "describe: compliance reads the audit log" "$(json_get roles.1.capabilities.0 "$T/out")" audit_read
expect_eq "describe: grant_max_minutes" "$(json_get grant_max_minutes "$T/out")" 240
