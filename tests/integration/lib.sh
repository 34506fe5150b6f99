# tests/integration/lib.sh - helpers for the integration suites; source it:
#
#   . "$(dirname "$0")/lib.sh"
#
# tests/run starts the private setup (scripts/dev-up), exports DIR/env
# (PIIV_VAULT_URL, PIIV_CACERT, PIIV_TAGGER_TOKEN, ...) and O, then runs each
# suite with bash.  Suites print "ok - NAME" / "not ok - NAME" lines through
# these helpers.  Use `set -u`, not `set -e`: a failed check returns 1 and the
# suite should go on to the next one.
#
#   ok NAME                      pass
#   fail NAME [DETAIL...]        fail; DETAIL goes on "#" lines (never PII)
#   check NAME CMD...            pass if CMD succeeds
#   expect_eq NAME GOT WANT      pass if the strings are equal
#   expect_status NAME STATUS CODE -- CURL_ARGS...
#                                run curl; pass if the HTTP status is STATUS
#                                and (unless CODE is -) .error.code is CODE.
#                                The body stays in $LAST_BODY, the status in
#                                $LAST_STATUS.
#   json_get PATH [FILE]         value at a dotted path (tests/tools/jget):
#                                error.code, records.0.fields.email, records.#
#   vault_curl ROLE CURL_ARGS... curl the vault as ROLE, body to stdout
#   vault_post ROLE PATH JSON    POST JSON to $PIIV_VAULT_URL/PATH as ROLE
#
# ROLE is tagger or proxy (bearer service token), tagger-cert or proxy-cert
# (mTLS client certificate), or none.  The same credentials, with the JSON
# content type, are in the arrays AS_TAGGER, AS_PROXY, AS_TAGGER_CERT,
# AS_PROXY_CERT and AS_NONE, for expect_status:
#
#   expect_status "tagger cannot reveal" 403 forbidden -- "${AS_TAGGER[@]}" \
#       -X POST "$PIIV_VAULT_URL/v1/reveal" -d '{"subject":"user:1","categories":["email"]}'
#
# $T is a scratch directory removed when the suite exits (a suite that sets
# its own EXIT trap must remove it too).

: "${PIIV_VAULT_URL:?lib.sh: no PIIV_VAULT_URL; run the suites through tests/run}"
: "${PIIV_CACERT:?lib.sh: no PIIV_CACERT; run the suites through tests/run}"

T=$(mktemp -d -p "${PIIV_TEST_TMP:-${TMPDIR:-/tmp}}")
trap 'rm -rf "$T"' EXIT
JGET=${JGET:-${O:-build}/tools/jget}
CURL_MAX_TIME=${CURL_MAX_TIME:-60}
LAST_BODY=$T/last-body
LAST_STATUS=

JSON_CT=(-H 'Content-Type: application/json')
AS_NONE=("${JSON_CT[@]}")
AS_TAGGER=(-H "Authorization: Bearer ${PIIV_TAGGER_TOKEN:-}" "${JSON_CT[@]}")
AS_PROXY=(-H "Authorization: Bearer ${PIIV_PROXY_TOKEN:-}" "${JSON_CT[@]}")
AS_TAGGER_CERT=(--cert "${PIIV_TAGGER_CERT:-}" --key "${PIIV_TAGGER_KEY:-}" "${JSON_CT[@]}")
AS_PROXY_CERT=(--cert "${PIIV_PROXY_CERT:-}" --key "${PIIV_PROXY_KEY:-}" "${JSON_CT[@]}")

ok() {
	echo "ok - $1"
}

fail() {
	local name=$1
	shift
	echo "not ok - $name"
	if (($# > 0)); then printf '#   %s\n' "$*"; fi
	return 1
}

check() {
	local name=$1
	shift
	if "$@" >"$T/check.out" 2>&1; then
		ok "$name"
	else
		fail "$name" "failed: $*"
		head -n 20 "$T/check.out" | sed 's/^/#   /'
		return 1
	fi
}

expect_eq() {
	if [[ $2 == "$3" ]]; then
		ok "$1"
	else
		fail "$1" "got '$2', want '$3'"
	fi
}

json_get() {
	if [[ ! -x $JGET ]]; then
		echo "lib.sh: $JGET not built (make all)" >&2
		return 2
	fi
	"$JGET" "$1" <"${2:-/dev/stdin}"
}

expect_status() {
	local name=$1 want=$2 code=$3 got
	shift 3
	if [[ ${1:-} != -- ]]; then
		fail "$name" "expect_status: usage: NAME STATUS CODE -- CURL_ARGS..."
		return 1
	fi
	shift
	: >"$LAST_BODY"
	LAST_STATUS=$(curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" \
		-o "$LAST_BODY" -w '%{http_code}' "$@" 2>"$T/curl.err") || true
	if [[ $LAST_STATUS != "$want" ]]; then
		fail "$name" "HTTP ${LAST_STATUS:-none}, want $want; curl: $(head -c 200 "$T/curl.err"); body: $(head -c 300 "$LAST_BODY")"
		return 1
	fi
	if [[ $code != - ]]; then
		got=$(json_get error.code "$LAST_BODY" 2>/dev/null) || got="(no error.code)"
		if [[ $got != "$code" ]]; then
			fail "$name" "error.code '$got', want '$code'; body: $(head -c 300 "$LAST_BODY")"
			return 1
		fi
	fi
	ok "$name"
}

# _as ROLE: set _AS to the curl arguments for ROLE.
_as() {
	case $1 in
	tagger) _AS=("${AS_TAGGER[@]}") ;;
	proxy) _AS=("${AS_PROXY[@]}") ;;
	tagger-cert) _AS=("${AS_TAGGER_CERT[@]}") ;;
	proxy-cert) _AS=("${AS_PROXY_CERT[@]}") ;;
	none) _AS=("${AS_NONE[@]}") ;;
	*) echo "lib.sh: unknown role '$1' (tagger, proxy, tagger-cert, proxy-cert, none)" >&2; return 2 ;;
	esac
}

vault_curl() {
	_as "$1" || return
	shift
	curl -sS --max-time "$CURL_MAX_TIME" --cacert "$PIIV_CACERT" "${_AS[@]}" "$@"
}

vault_post() {
	vault_curl "$1" -X POST "$PIIV_VAULT_URL/${2#/}" --data-binary "$3"
}
