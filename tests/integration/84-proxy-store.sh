#!/usr/bin/env bash
# 84-proxy-store.sh - the proxy database layer (API keys, grants, the rate
# limit's distinct-subject counts) against the real PostgreSQL, in a scratch
# database: build/tools/proxy_store_test prints its own ok / not ok lines.
set -u
. "$(dirname "$0")/lib.sh"

db=piiv_proxy_store_test_$$
psql "$PIIV_PG_SUPER" -qc "CREATE DATABASE $db" >/dev/null ||
	{ fail "create a scratch database"; exit 1; }
trap 'psql "$PIIV_PG_SUPER" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1; rm -rf "$T"' EXIT
"${O:-build}/tools/proxy_store_test" "host=$PGHOST port=$PGPORT dbname=$db user=postgres"
