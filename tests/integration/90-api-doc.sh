#!/usr/bin/env bash
# 90-api-doc.sh - keeps docs/ true to the code and to the running vault:
#
#   - every endpoint row of docs/api.md, "| METHOD | /path | operation |",
#     exists in the running vault: called with the proxy's credentials it
#     answers neither 404 "no such endpoint" nor 405 (rows whose operation is
#     "admin" are called on the admin listener; a row whose path ends in
#     "/*", a prefix route, needs a row of its method for a path below it);
#   - every route of vault/vault_api.c (and every admin path) has its row,
#     with the operation of its allow-list;
#   - every error code of common/err.c's table appears in docs/api.md's error
#     table with each of its HTTP statuses, and that table lists no other code;
#   - every metric the vault exports is named in docs/api.md;
#   - every configuration key of vault/vault_config.c's field tables, and every
#     operation name, appears in docs/operations.md, whose key table lists no
#     key the code does not know.
#
# {subject_token} in a path is replaced by a well-formed subject token that
# names nobody: 404 "no such subject" shows that the route exists.
set -u
# shellcheck source-path=SCRIPTDIR
. "$(dirname "$0")/lib.sh"

root=$(cd "$(dirname "$0")/../.." && pwd)
api_doc=$root/docs/api.md
ops_doc=$root/docs/operations.md
err_c=$root/common/err.c
api_c=$root/vault/vault_api.c
cfg_c=$root/vault/vault_config.c
metrics_c=$root/common/metrics.c
placeholder_subject=tok_subject_v1_aaaaaaaaaaaaaaaaaaaaaaaaaa

for f in "$api_doc" "$ops_doc" "$err_c" "$api_c" "$cfg_c" "$metrics_c"; do
	if [[ ! -f $f ]]; then
		fail "${f#"$root"/} exists"
		exit 1
	fi
done

trim() { local s=$1; s=${s#"${s%%[![:space:]]*}"}; s=${s%"${s##*[![:space:]]}"}; printf '%s' "$s"; }

# ---- the endpoint rows of docs/api.md --------------------------------------------
methods='GET|POST|PUT|PATCH|DELETE|HEAD'
mapfile -t rows < <(grep -E "^\| ($methods) \| /[^ |]* \| [a-z0-9_]+ \|" "$api_doc")
if ((${#rows[@]} == 0)); then
	fail "docs/api.md has endpoint rows '| METHOD | /path | operation |'"
	exit 1
fi
ok "docs/api.md has ${#rows[@]} endpoint rows"

doc_method=() doc_path=() doc_op=()
for row in "${rows[@]}"; do
	IFS='|' read -r _ m p o _ <<<"$row"
	doc_method+=("$(trim "$m")")
	doc_path+=("$(trim "$p")")
	doc_op+=("$(trim "$o")")
done

# call METHOD URL: status into $status, body in $T/body, headers in $T/headers.
call() {
	local data=()
	case $1 in POST | PUT | PATCH) data=(--data-binary '{}') ;; esac
	: >"$T/body"
	: >"$T/headers"
	status=$(curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" "${AS_PROXY[@]}" \
		-X "$1" -D "$T/headers" -o "$T/body" -w '%{http_code}' "${data[@]}" "$2" 2>"$T/curl.err") || true
}

# The check can tell a missing route from a missing subject.
call GET "$PIIV_VAULT_URL/v1/piiv-doc-check/no-such-route"
msg=$(json_get error.message "$T/body" 2>/dev/null) || msg=''
if [[ $status == 404 && $msg == *"no such endpoint"* ]]; then
	ok "an undocumented path answers 404 'no such endpoint'"
else
	fail "an undocumented path answers 404 'no such endpoint'" "HTTP $status, message '$msg'"
fi

for i in "${!doc_method[@]}"; do
	m=${doc_method[$i]} p=${doc_path[$i]} op=${doc_op[$i]}
	name="docs/api.md: $m $p ($op) exists"
	# a route ending in "*" is a prefix whose handler routes further: the
	# paths it serves are rows of their own, called like any other
	if [[ $p == */\* ]]; then
		under=''
		for j in "${!doc_method[@]}"; do
			[[ ${doc_method[$j]} == "$m" && ${doc_path[$j]} == "${p%\*}"?* &&
				${doc_path[$j]} != *\* ]] && under=1
		done
		if [[ -n $under ]]; then
			ok "$name (a prefix: the paths below it are rows of their own)"
		else
			fail "$name" "no '$m ${p%\*}…' row documents a path below this prefix"
		fi
		continue
	fi
	if [[ $op == admin ]]; then
		if [[ -z ${PIIV_VAULT_ADMIN_URL:-} ]]; then
			fail "$name" "no PIIV_VAULT_ADMIN_URL in the environment"
			continue
		fi
		base=$PIIV_VAULT_ADMIN_URL
	else
		base=$PIIV_VAULT_URL
	fi
	url_path=${p//\{subject_token\}/$placeholder_subject}
	url_path=$(sed -E 's/\{[a-z_]+\}/doc-placeholder/g' <<<"$url_path")
	call "$m" "$base$url_path"
	code=$(json_get error.code "$T/body" 2>/dev/null) || code=''
	msg=$(json_get error.message "$T/body" 2>/dev/null) || msg=''
	if [[ ! $status =~ ^[1-5][0-9][0-9]$ ]]; then
		fail "$name" "no HTTP answer: $(head -c 200 "$T/curl.err")"
	elif [[ $status == 405 ]]; then
		fail "$name" "HTTP 405: the path exists but not with method $m"
	elif [[ $status == 404 && ($code != not_found || $msg == *"no such endpoint"* || -z $msg) ]]; then
		fail "$name" "HTTP 404 code '$code' message '$msg'"
	elif ! grep -qi '^x-request-id: [A-Za-z0-9._-]' "$T/headers"; then
		fail "$name" "HTTP $status without an X-Request-Id header"
	else
		ok "$name (HTTP $status${code:+ $code})"
	fi
done

# ---- every route of the code is documented ---------------------------------------
# op_name VAULT_OP_X: the operation's name from vault_config.c's op_names.
declare -A op_name=()
while read -r n e; do
	op_name[$e]=$n
done < <(sed -nE 's/^[[:space:]]*\{ "([a-z0-9_]+)", (VAULT_OP_[A-Z0-9_]+) \},.*/\1 \2/p' "$cfg_c")
if ((${#op_name[@]} == 0)); then
	fail "vault/vault_config.c: operation names found (op_names)"
fi

# documented METHOD PATH OP: a row with that method and operation whose path
# is PATH, or for a prefix route (PATH ends in /) PATH followed by {param}.
documented() {
	local i
	for i in "${!doc_method[@]}"; do
		[[ ${doc_method[$i]} == "$1" && ${doc_op[$i]} == "$3" ]] || continue
		if [[ $2 == */ ]]; then
			[[ ${doc_path[$i]} =~ ^"$2"\{[a-z_]+\}$ ]] && return 0
		else
			[[ ${doc_path[$i]} == "$2" ]] && return 0
		fi
	done
	return 1
}

nroutes=0
while read -r m p e; do
	nroutes=$((nroutes + 1))
	op=${op_name[$e]:-?$e}
	shown=$p
	[[ $p == */ ]] && shown="$p{param}"
	if documented "$m" "$p" "$op"; then
		ok "vault_api.c route $m $shown is documented with operation $op"
	else
		fail "vault_api.c route $m $shown is documented with operation $op" \
			"add '| $m | $shown | $op |' to docs/api.md"
	fi
done < <(sed -nE 's/^[[:space:]]*\{ "([A-Z]+)", "(\/[^"]*)", (VAULT_OP_[A-Z0-9_]+), "[a-z0-9_]+" \},.*/\1 \2 \3/p' "$api_c")
((nroutes > 0)) || fail "vault/vault_api.c: routes found (the routes[] table)"

# The admin listener's paths: the strcmp(req->path, "/...") of admin_handler.
nadmin=0
while read -r p; do
	nadmin=$((nadmin + 1))
	if documented GET "$p" admin; then
		ok "admin path GET $p is documented"
	else
		fail "admin path GET $p is documented" "add '| GET | $p | admin |' to docs/api.md"
	fi
done < <(awk '/^admin_handler\(/ { f = 1 } f && /^}/ { f = 0 } f' "$api_c" |
	grep -oE 'strcmp\(req->path, "/[^"]*"\)' | sed -E 's/.*"(\/[^"]*)".*/\1/')
((nadmin > 0)) || fail "vault/vault_api.c: admin paths found (admin_handler)"

# ---- error codes: common/err.c against docs/api.md --------------------------------
declare -A err_status=()
while read -r st api; do
	((st >= 400)) || continue   # PII_OK is not an error
	case " ${err_status[$api]:-} " in *" $st "*) ;; *) err_status[$api]="${err_status[$api]:-} $st" ;; esac
done < <(sed -nE 's/^[[:space:]]*\{ PII_[A-Z0-9_]+, ([0-9]{3}), "([a-z0-9_]+)", ".*/\1 \2/p' "$err_c")
if ((${#err_status[@]} == 0)); then
	fail "common/err.c: error table rows found"
fi
for api in $(printf '%s\n' "${!err_status[@]}" | sort); do
	line=$(grep -E "^\| \`$api\` \|" "$api_doc" | head -n 1)
	if [[ -z $line ]]; then
		fail "error code $api is in docs/api.md's error table" "add a row '| \`$api\` |${err_status[$api]} | ... |'"
		continue
	fi
	IFS='|' read -r _ _ col _ <<<"$line"
	missing=''
	for st in ${err_status[$api]}; do
		[[ $col =~ (^|[^0-9])$st([^0-9]|$) ]] || missing+=" $st"
	done
	if [[ -z $missing ]]; then
		ok "error code $api is documented with HTTP${err_status[$api]}"
	else
		fail "error code $api is documented with HTTP${err_status[$api]}" "docs/api.md lacks:$missing"
	fi
done
unknown=''
# shellcheck disable=SC2016 # the backquotes are markdown
while read -r api; do
	[[ -n ${err_status[$api]:-} ]] || unknown+=" $api"
done < <(sed -nE 's/^\| `([a-z0-9_]+)` \| [0-9]{3}.*/\1/p' "$api_doc")
if [[ -z $unknown ]]; then
	ok "docs/api.md's error table lists only codes of common/err.c"
else
	fail "docs/api.md's error table lists only codes of common/err.c" "not in common/err.c:$unknown"
fi

# ---- metrics -------------------------------------------------------------------
prefix=$(sed -nE 's/.*pii_metrics_new\("([a-z_]+)".*/\1/p' "$api_c" | head -n 1)
{
	grep -oE 'piiv_vault_[a-z0-9_]+' "$api_c"
	[[ -n $prefix ]] && grep -oE '%s_[a-z0-9_]+' "$metrics_c" | sed -E "s/^%s/$prefix/; s/_(bucket|sum|count)$//"
} | sort -u >"$T/metrics"
if [[ ! -s $T/metrics ]]; then
	fail "metric names found in vault/vault_api.c and common/metrics.c"
fi
while read -r metric; do
	if grep -qF "\`$metric\`" "$api_doc"; then
		ok "metric $metric is documented"
	else
		fail "metric $metric is documented" "name it in docs/api.md"
	fi
done <"$T/metrics"

# ---- configuration keys: vault/vault_config.c (and the listener and TLS
# sections it shares from common/config.c) against docs/operations.md ---------
mapfile -t keys < <(sed -nE 's/^[[:space:]]*\{ "([a-z0-9_]+)", PII_CFG_[A-Z]+,.*/\1/p' "$cfg_c" "$root/common/config.c" | sort -u)
if ((${#keys[@]} == 0)); then
	fail "vault/vault_config.c: configuration keys found"
fi
for key in "${keys[@]}"; do
	# `key`, or the last part of a dotted path: `tls.cert_file`, `identities[].name`
	if grep -qE "(\`|\.)$key\`" "$ops_doc"; then
		ok "config key $key is in docs/operations.md"
	else
		fail "config key $key is in docs/operations.md"
	fi
done
unknown='' nrows=0
# shellcheck disable=SC2016 # the backquotes are markdown
while read -r key; do
	nrows=$((nrows + 1))
	printf '%s\n' "${keys[@]}" | grep -qx "${key##*.}" || unknown+=" $key"
done < <(sed -nE 's/^\| `([a-z0-9_.]+(\[\])?[a-z0-9_.]*)` \| (object|string|integer|array|boolean).*/\1/p' "$ops_doc")
if ((nrows == 0)); then
	fail "docs/operations.md has a key table ('| \`key\` | type | ...')"
elif [[ -z $unknown ]]; then
	ok "docs/operations.md's key table ($nrows rows) lists only keys of vault/vault_config.c"
else
	fail "docs/operations.md's key table lists only keys of vault/vault_config.c" "unknown:$unknown"
fi
for op in $(printf '%s\n' "${op_name[@]}" | sort); do
	if grep -qF "\`$op\`" "$ops_doc"; then
		ok "operation $op is in docs/operations.md"
	else
		fail "operation $op is in docs/operations.md"
	fi
done
