# tests/integration/lib-vault.bash - start extra vault processes for a suite,
# from the dev config with edits (a short timeout, a broken audit database).
# Sourced by suites after lib.sh; not a suite itself (no .sh suffix).
#
#   vault_config NAME SED_EXPR...   write $T/NAME.json: the dev config with the
#                                   API on a free port (0), no admin listener,
#                                   and each sed expression applied
#   vault_start NAME                serve $T/NAME.json; sets VPID and VURL
#                                   (https://localhost:PORT), log in $T/NAME.log
#   vault_stop                      TERM the last started vault and wait

vault_config() {
	local name=$1
	shift
	local args=(-e 's/"listen": {"address": "127.0.0.1", "port": [0-9]*}/"listen": {"address": "127.0.0.1", "port": 0}/' \
		-e '/"admin_listen"/d')
	local e
	for e in "$@"; do args+=(-e "$e"); done
	sed "${args[@]}" "$PIIV_VAULT_CONFIG" >"$T/$name.json"
}

vault_start() {
	local name=$1 port="" i
	"$PIIV_BIN/pii-vault" serve --config "$T/$name.json" >"$T/$name.log" 2>&1 &
	VPID=$!
	for i in $(seq 1 100); do
		port=$(sed -n 's/.*event=started listen=[0-9.]*:\([0-9]*\).*/\1/p' "$T/$name.log" | head -n 1)
		[[ -n $port ]] && break
		kill -0 "$VPID" 2>/dev/null || break
		sleep 0.1
	done
	if [[ -z $port ]]; then
		echo "# vault $name did not start:"; sed 's/^/#   /' "$T/$name.log" | tail -n 5
		return 1
	fi
	VURL=https://localhost:$port
}

vault_stop() {
	[[ -n ${VPID:-} ]] || return 0
	kill "$VPID" 2>/dev/null
	wait "$VPID" 2>/dev/null
	VPID=
}
