#!/usr/bin/env bash
# 45-rotate-kek.sh - `pii-vault rotate-kek` on a vault database of its own
# (fresh keys, its own database and writer; the shared dev vault is never
# touched): subjects ingested through the API, a pg_dump taken, the vault
# stopped, the KEK rotated (new epoch current, the old one destroyed, every
# subject key re-wrapped), the vault restarted and every value revealed
# again.  Then: rotate-kek while a vault serves the database is refused and
# changes nothing; the old dump restored into a new database no longer
# reveals anything; a second rotation right after the first works; a key
# under an already destroyed epoch is counted and skipped; a tampered key
# stops the rotation before anything is destroyed, naming its subject_id,
# and the rerun finishes the job (resume after a failed run).  The serving
# vault's lock: it is taken again after its connection is killed, and a
# rotation slipped into that gap is reported (keystore_changed); a vault
# started while a rotation holds the lock waits for it (and SIGTERM still
# stops it).  Refusals that leave the keystore alone (a database never
# migrated, another keystore's database) and usage errors.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

R=${RANDOM}${RANDOM}
V=$PIIV_BIN/pii-vault
DB=piiv_rot_$R          # the rotated vault database
OLDDB=piiv_rotold_$R    # the pre-rotation dump, restored
EMPTYDB=piiv_rotnone_$R # never migrated
DBS=()
N=2103                  # subjects: three batches of re-wrapping (1000 a batch)
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)

q() { psql -X -A -t -q -v ON_ERROR_STOP=1 "$@"; }
vaultpg() { printf '%s' "${PIIV_PG/dbname=piiv_vault/dbname=$1}"; }
mkdb() {
	if q "$PIIV_PG_SUPER" -c "CREATE DATABASE $1 OWNER piiv_vault" >"$T/createdb.err" 2>&1; then
		DBS+=("$1")
		return 0
	fi
	head -c 300 "$T/createdb.err"
	return 1
}
cleanup() {
	local db
	vault_stop
	for db in "${DBS[@]}"; do
		psql -X -q "$PIIV_PG_SUPER" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 ||
			echo "# could not drop database $db"
	done
	rm -rf "$T"
}
trap cleanup EXIT

# rotate CONFIG: run rotate-kek; exit status in $RC, output in $T/rot.out, $T/rot.err
rotate() {
	RC=0
	timeout 300 "$V" rotate-kek --config "$1" >"$T/rot.out" 2>"$T/rot.err" || RC=$?
}
ks() { json_get "$1" "$KS"; }
# rev URL SUBJECT: reveal the email of SUBJECT; status on stdout, body in $T/rev.json
rev() {
	vault_curl proxy -o "$T/rev.json" -w '%{http_code}' -X POST "$1/v1/reveal" \
		--data-binary "{\"subject\":\"$2\",\"categories\":[\"email\",\"name\"],\"context\":{\"purpose\":\"test\"}}" 2>/dev/null
}
email_of() { printf 'rot-%s-%s@example.com' "$R" "$1"; }
# revealed_ok URL I...: how many of subjects I reveal their own email
revealed_ok() {
	local url=$1 i good=0
	shift
	for i in "$@"; do
		[[ $(rev "$url" "user:rot-$R-$i") == 200 && $(json_get fields.email.0.value "$T/rev.json" 2>/dev/null) == "$(email_of "$i")" ]] &&
			good=$((good + 1))
	done
	echo "$good"
}
sum() { sha256sum "$1" | cut -d' ' -f1; }

# ---- usage ---------------------------------------------------------------------
RC=0; "$V" rotate-kek >"$T/u.out" 2>"$T/u.err" || RC=$?
expect_eq "rotate-kek without --config: usage error, exit 2" "$RC" 2
RC=0; "$V" rotate-kek --help >"$T/u.out" 2>"$T/u.err" || RC=$?
expect_eq "rotate-kek --help: exit 0" "$RC" 0
grep -q 'rotate-kek --config FILE' "$T/u.out" && ok "--help describes rotate-kek" || fail "--help describes rotate-kek" "$(head -c 300 "$T/u.out")"
RC=0; "$V" rotate-kek --config "$T/x.json" extra >/dev/null 2>&1 || RC=$?
expect_eq "rotate-kek with an extra argument: exit 2" "$RC" 2
RC=0; "$V" rotate-kek --config "$T/nope.json" >/dev/null 2>"$T/u.err" || RC=$?
expect_eq "rotate-kek with a missing config file: exit 1" "$RC" 1
expect_eq "... with one line on stderr" "$(wc -l <"$T/u.err")" 1

# ---- a vault of its own ----------------------------------------------------------
mkdir -p "$T/keys" && chmod 0700 "$T/keys"
"$V" keygen --out "$T/keys/root.key" --keystore "$T/keys/keystore.json" >/dev/null 2>"$T/keygen.err" &&
	ok "fresh root key and keystore" || { fail "keygen" "$(head -c 300 "$T/keygen.err")"; exit 1; }
KS=$T/keys/keystore.json
mkdb "$DB" && ok "created database $DB" || { fail "create database $DB"; exit 1; }
# cfg NAME DBNAME KEYDIR: a vault config on DBNAME with the keys of KEYDIR and
# its own audit writer, vault-NAME-$R (65-audit-tamper expects its own writer
# to sort first among those with checkpoints: keep these after "tamper-")
cfg() {
	vault_config "$1" \
		"s|\"database\": \"[^\"]*\"|\"database\": \"$(vaultpg "$2")\"|" \
		"s|\"root_key_file\": \"[^\"]*\"|\"root_key_file\": \"$3/root.key\"|" \
		"s|\"keystore_file\": \"[^\"]*\"|\"keystore_file\": \"$3/keystore.json\"|" \
		"s/\"writer\": \"[^\"]*\",/\"writer\": \"vault-$1-$R\",/"
	grep -q "dbname=$2 " "$T/$1.json" && grep -q "\"$3/keystore.json\"" "$T/$1.json" &&
		grep -q "\"writer\": \"vault-$1-$R\"" "$T/$1.json"
}
cfg rot "$DB" "$T/keys" && ok "config for $DB" || { fail "config for $DB" "the sed edits did not apply"; exit 1; }
vault_start rot || { fail "vault on $DB started"; exit 1; }
ok "vault on $DB started"

{
	printf '{"source":"rotate.test","records":['
	for i in $(seq 1 "$N"); do
		((i > 1)) && printf ','
		if ((i <= 3)); then
			printf '{"subject":"user:rot-%s-%s","fields":{"email":"%s","name":"회전%s %s"}}' "$R" "$i" "$(email_of "$i")" "$R" "$i"
		else
			printf '{"subject":"user:rot-%s-%s","fields":{"email":"%s"}}' "$R" "$i" "$(email_of "$i")"
		fi
	done
	printf ']}'
} >"$T/ingest.json"
st=$(vault_curl tagger -o "$T/ingest.out" -w '%{http_code}' -X POST "$VURL/v1/tokenize" --data-binary @"$T/ingest.json")
expect_eq "ingest $N subjects through the API" "$st" 200
expect_eq "... every value stored" "$(json_get stored "$T/ingest.out" 2>/dev/null)" $((N + 3))
expect_eq "$N subject keys stored" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys")" "$N"
SAMPLE=(1 2 3 999 1000 1001 2000 2001 "$N")
expect_eq "the sample reveals before the rotation" "$(revealed_ok "$VURL" "${SAMPLE[@]}")" "${#SAMPLE[@]}"
E0=$(ks current_kek_epoch)
expect_eq "a new keystore starts at epoch 1" "$E0" 1
expect_eq "every subject key is under epoch 1" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys where kek_epoch = 1")" "$N"

# the serving vault holds the rotation lock, shared
n=$(q "$(vaultpg "$DB")" -c "select count(*) from pg_locks where locktype = 'advisory' and classid = 4240223832 and objid = 1637028381 and objsubid = 1 and mode = 'ShareLock' and granted and database = (select oid from pg_database where datname = current_database())")
expect_eq "the serving vault holds the KEK lock shared" "$n" 1

# a backup taken before the rotation
"$pg_bin/pg_dump" "$(vaultpg "$DB")" >"$T/old.sql" 2>"$T/dump.err" && ok "pg_dump before the rotation" || fail "pg_dump" "$(head -c 200 "$T/dump.err")"

# ---- refused while the vault serves -----------------------------------------------
before=$(sum "$KS")
rotate "$T/rot.json"
expect_eq "rotate-kek while a vault serves: exit 1" "$RC" 1
expect_eq "... one line on stderr" "$(wc -l <"$T/rot.err")" 1
grep -qF 'a vault is serving this database; stop every pii-vault serve first (rotation re-wraps keys the running vaults hold in memory)' "$T/rot.err" &&
	ok "... saying a vault is serving and what to do" || fail "serving message" "$(head -c 300 "$T/rot.err")"
expect_eq "... the keystore is unchanged" "$(sum "$KS")" "$before"
expect_eq "... every key still under epoch 1" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys where kek_epoch = 1")" "$N"
vault_stop

# ---- the rotation ------------------------------------------------------------------
q "$(vaultpg "$DB")" -c "create table rot_before as select subject_id, wrapped_dek from subject_keys" >/dev/null 2>&1
rotate "$T/rot.json"
expect_eq "rotate-kek with the vault stopped: exit 0" "$RC" 0 || sed 's/^/#   /' "$T/rot.err" | tail -n 5
expect_eq "... one summary line on stdout" "$(wc -l <"$T/rot.out")" 1
expect_eq "... the summary" "$(cat "$T/rot.out")" "rotate-kek: epoch 2 current; $N subject keys re-wrapped; destroyed epochs 1"
expect_eq "... progress logged once per batch" "$(grep -c 'info: event=rotate_kek_batch ' "$T/rot.err")" 3
expect_eq "... no key reported unreadable" "$(grep -c 'already unreadable' "$T/rot.out" "$T/rot.err" | awk -F: '{n += $2} END {print n}')" 0
expect_eq "keystore: current_kek_epoch is 2" "$(ks current_kek_epoch)" 2
expect_eq "keystore: destroyed_epochs is [1]" "$(ks destroyed_epochs)" "[1]"
expect_eq "keystore: only epoch 2 left" "$(ks keks.#) $(ks keks.0.epoch)" "1 2"
expect_eq "keystore: still mode 0600" "$(stat -c %a "$KS")" 600
expect_eq "every subject key is under epoch 2" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys where kek_epoch = 2")" "$N"
expect_eq "every wrapped key changed" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys k join rot_before b using (subject_id) where k.wrapped_dek = b.wrapped_dek")" 0
if grep -qE "rot-$R|@example.com|회전" "$T/rot.out" "$T/rot.err"; then fail "rotate-kek output names no subject or value"; else ok "rotate-kek output names no subject or value"; fi

vault_start rot || fail "vault restarted after the rotation"
expect_eq "after the rotation the sample reveals its values" "$(revealed_ok "$VURL" "${SAMPLE[@]}")" "${#SAMPLE[@]}"
[[ $(rev "$VURL" "user:rot-$R-1") == 200 && $(json_get fields.name.0.value "$T/rev.json" 2>/dev/null) == "회전$R 1" ]] &&
	ok "... a Korean name too" || fail "Korean name after the rotation" "$(head -c 200 "$T/rev.json")"
st=$(vault_curl tagger -o /dev/null -w '%{http_code}' -X POST "$VURL/v1/tokenize" \
	--data-binary "{\"source\":\"rotate.test\",\"records\":[{\"subject\":\"user:rot-$R-new\",\"fields\":{\"email\":\"rot-$R-new@example.com\"}}]}")
expect_eq "a new subject after the restart" "$st" 200
expect_eq "... its key is wrapped under epoch 2" "$(q "$(vaultpg "$DB")" -c "select k.kek_epoch from subject_keys k join subjects s on s.id = k.subject_id order by s.id desc limit 1")" 2
N=$((N + 1))

# the restarted vault holds the lock again: rotation refused
before=$(sum "$KS")
rotate "$T/rot.json"
expect_eq "rotate-kek while the restarted vault serves: exit 1" "$RC" 1
grep -qF 'a vault is serving this database; stop every pii-vault serve first' "$T/rot.err" &&
	ok "... with the message" || fail "serving message after restart" "$(head -c 300 "$T/rot.err")"
expect_eq "... the keystore is unchanged" "$(sum "$KS")" "$before"
vault_stop

# ---- the old backup no longer reveals anything ------------------------------------------
mkdb "$OLDDB" && ok "created database $OLDDB" || fail "create database $OLDDB"
q "$(vaultpg "$OLDDB")" -f "$T/old.sql" >"$T/restore.out" 2>&1 && ok "old dump restored into $OLDDB" ||
	fail "restore the old dump" "$(head -c 300 "$T/restore.out")"
expect_eq "the restored keys are all under epoch 1" "$(q "$(vaultpg "$OLDDB")" -c "select count(*) from subject_keys where kek_epoch = 1")" $((N - 1))
if cfg rotold "$OLDDB" "$T/keys" && vault_start rotold; then
	ok "a vault on the restored backup starts (same keystore)"
	st=$(rev "$VURL" "user:rot-$R-2")
	[[ $st != 200 ]] && ok "reveal from the old backup fails (HTTP $st)" || fail "reveal from the old backup fails" "HTTP $st"
	if grep -qF "$(email_of 2)" "$T/rev.json"; then fail "... and returns no value"; else ok "... and returns no value"; fi
	expect_eq "... as an internal error" "$(json_get error.code "$T/rev.json" 2>/dev/null)" internal
	grep -q 'event=decrypt_failed.*destroyed key' "$T/rotold.log" && ok "... logged as a destroyed key" ||
		fail "decrypt_failed logged" "$(tail -n 3 "$T/rotold.log")"
	vault_stop
else
	fail "a vault on the restored backup starts"
fi

# ---- a second rotation right after the first ---------------------------------------------
rotate "$T/rot.json"
expect_eq "a second rotation: exit 0" "$RC" 0 || sed 's/^/#   /' "$T/rot.err" | tail -n 5
expect_eq "... the summary" "$(cat "$T/rot.out")" "rotate-kek: epoch 3 current; $N subject keys re-wrapped; destroyed epochs 2"
expect_eq "... keystore: current 3, destroyed [1,2]" "$(ks current_kek_epoch) $(ks destroyed_epochs)" "3 [1,2]"
expect_eq "... every key under epoch 3" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys where kek_epoch = 3")" "$N"

# ---- a key under an already destroyed epoch: counted, skipped -----------------------------
# the old backup's copy of user:rot-$R-$LAST's key, put back under epoch 1 (destroyed)
LAST=$((N - 1))
XTOK=$(json_get records.$((LAST - 1)).subject_token "$T/ingest.out" 2>/dev/null)
XID=$(q "$(vaultpg "$OLDDB")" -c "select id from subjects where subject_token = '$XTOK'")
XOLD=$(q "$(vaultpg "$OLDDB")" -c "select encode(wrapped_dek, 'hex') from subject_keys where subject_id = '$XID'")
[[ $XID =~ ^[0-9]+$ && ${#XOLD} == 146 ]] && ok "the old backup holds user:rot-$R-$LAST's key" || fail "old key of user:rot-$R-$LAST" "id '$XID', ${#XOLD} hex digits"
q "$(vaultpg "$DB")" -c "update subject_keys set kek_epoch = 1, wrapped_dek = decode('$XOLD', 'hex') where subject_id = $XID" >/dev/null 2>&1 &&
	ok "an old copy of a key put back (epoch 1, destroyed)" || fail "put an old key back"
rotate "$T/rot.json"
expect_eq "rotation with a key under a destroyed epoch: exit 0" "$RC" 0 || sed 's/^/#   /' "$T/rot.err" | tail -n 5
grep -qF 'pii-vault: rotate-kek: 1 subject keys were already unreadable (destroyed epoch); left as they are' "$T/rot.err" &&
	ok "... reports the unreadable key" || fail "unreadable report" "$(grep -v 'info:' "$T/rot.err" | head -c 300)"
expect_eq "... the summary" "$(cat "$T/rot.out")" "rotate-kek: epoch 4 current; $((N - 1)) subject keys re-wrapped; destroyed epochs 3"
expect_eq "... the unreadable key is left under epoch 1" "$(q "$(vaultpg "$DB")" -c "select kek_epoch from subject_keys where subject_id = $XID")" 1
expect_eq "... every other key under epoch 4" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys where kek_epoch = 4")" $((N - 1))

# ---- a tampered key stops the rotation; the rerun resumes -----------------------------------
Y=$(q "$(vaultpg "$DB")" -c "select subject_id from subject_keys where subject_id <> $XID order by subject_id offset 1499 limit 1")
YHEX=$(q "$(vaultpg "$DB")" -c "select encode(wrapped_dek, 'hex') from subject_keys where subject_id = $Y")
q "$(vaultpg "$DB")" -c "update subject_keys set wrapped_dek = set_byte(wrapped_dek, 40, get_byte(wrapped_dek, 40) # 1) where subject_id = $Y" >/dev/null 2>&1 &&
	ok "one byte of a wrapped key flipped" || fail "flip a byte"
before_destroyed=$(ks destroyed_epochs)
# the first batch: the 1000 lowest subject_ids, less the unreadable one if it is among them
FIRST=$(q "$(vaultpg "$DB")" -c "select count(*) from (select subject_id from subject_keys order by subject_id limit 1000) f where subject_id <> $XID")
rotate "$T/rot.json"
expect_eq "rotation over a tampered key: exit 1" "$RC" 1
expect_eq "... nothing on stdout" "$(wc -c <"$T/rot.out")" 0
grep -v ' info: ' "$T/rot.err" >"$T/rot.err1"
expect_eq "... one error line" "$(wc -l <"$T/rot.err1")" 1
grep -q "subject_id $Y .*does not authenticate" "$T/rot.err1" && ok "... naming the subject_id" || fail "tamper message" "$(head -c 300 "$T/rot.err1")"
if grep -qE "rot-$R|@example.com" "$T/rot.err"; then fail "... and no subject reference or value"; else ok "... and no subject reference or value"; fi
expect_eq "... a new epoch 5 is current" "$(ks current_kek_epoch)" 5
expect_eq "... nothing destroyed: epoch 4 still live" "$(ks keks.#) $(ks keks.0.epoch) $(ks destroyed_epochs)" "2 4 $before_destroyed"
expect_eq "... the first batch was committed under epoch 5" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys where kek_epoch = 5")" "$FIRST"
q "$(vaultpg "$DB")" -c "update subject_keys set wrapped_dek = decode('$YHEX', 'hex') where subject_id = $Y" >/dev/null 2>&1 &&
	ok "the tampered key repaired" || fail "repair the key"
rotate "$T/rot.json"
expect_eq "the rerun: exit 0" "$RC" 0 || sed 's/^/#   /' "$T/rot.err" | tail -n 5
expect_eq "... the summary" "$(cat "$T/rot.out")" "rotate-kek: epoch 6 current; $((N - 1)) subject keys re-wrapped; destroyed epochs 4,5"
expect_eq "... keystore: only epoch 6 left" "$(ks keks.#) $(ks keks.0.epoch)" "1 6"
expect_eq "... every readable key under epoch 6" "$(q "$(vaultpg "$DB")" -c "select count(*) from subject_keys where kek_epoch = 6")" $((N - 1))

vault_start rot || fail "vault restarted after the resumed rotation"
expect_eq "after all rotations the sample still reveals" "$(revealed_ok "$VURL" 1 2 3 999 1000 1001 1500 1501 2000)" 9
st=$(rev "$VURL" "user:rot-$R-$LAST")
[[ $st != 200 ]] && ! grep -qF "$(email_of "$LAST")" "$T/rev.json" && ok "... but not the subject whose key was lost (HTTP $st)" ||
	fail "the subject under a destroyed epoch stays unreadable" "HTTP $st"
st=$(rev "$VURL" "user:rot-$R-new")
expect_eq "... and the subject added between rotations" "$st $(json_get fields.email.0.value "$T/rev.json" 2>/dev/null)" "200 rot-$R-new@example.com"

# ---- the serving vault's lock connection drops -------------------------------------------
LOCKQ="select count(*) from pg_locks where locktype = 'advisory' and classid = 4240223832 and objid = 1637028381 and objsubid = 1 and granted and database = (select oid from pg_database where datname = '$DB')"
kill_lock_conn() {
	q "$PIIV_PG_SUPER" -c "select count(pg_terminate_backend(pid)) from pg_stat_activity where datname = '$DB' and application_name = 'pii-vault-kek-lock'"
}
# wait_log FILE PATTERN: up to 10 s for PATTERN in FILE
wait_log() {
	local i
	for i in $(seq 1 100); do
		grep -q "$2" "$1" && return 0
		sleep 0.1
	done
	return 1
}
expect_eq "the lock is held on a connection of its own" "$(kill_lock_conn)" 1
wait_log "$T/rot.log" 'warn: event=kek_lock_lost' && ok "... its loss is logged" || fail "kek_lock_lost logged" "$(tail -n 3 "$T/rot.log")"
wait_log "$T/rot.log" 'info: event=kek_lock_regained' && ok "... and the lock taken again" || fail "kek_lock_regained logged" "$(tail -n 3 "$T/rot.log")"
expect_eq "... pg_locks shows it again" "$(q "$PIIV_PG_SUPER" -c "$LOCKQ and mode = 'ShareLock'")" 1
rotate "$T/rot.json"
expect_eq "... and rotation is refused again" "$RC" 1
if grep -q 'keystore_changed' "$T/rot.log"; then fail "no keystore_changed without a rotation"; else ok "no keystore_changed without a rotation"; fi
# a rotation that slips in while the lock is lost is caught when it is taken again
kill_lock_conn >/dev/null
rotate "$T/rot.json"
expect_eq "a rotation run in the gap before the lock is taken again: exit 0" "$RC" 0
wait_log "$T/rot.log" 'error: event=keystore_changed epoch=7 serving_epoch=6' && ok "... the vault logs that its keys are stale" ||
	fail "keystore_changed logged" "$(tail -n 3 "$T/rot.log")"
vault_stop

# ---- a vault starting while a rotation holds the lock waits for it ------------------------
# hold_lock SECONDS: hold the lock exclusively, as rotate-kek does, in the background
hold_lock() {
	local i
	PGAPPNAME=rot-hold-$R psql -X -q "$(vaultpg "$DB")" -c "select pg_advisory_lock(-235121385912724963)" \
		-c "select pg_sleep($1)" >/dev/null 2>&1 &
	HOLDPID=$!
	for i in $(seq 1 100); do
		[[ $(q "$PIIV_PG_SUPER" -c "$LOCKQ and mode = 'ExclusiveLock'") == 1 ]] && return 0
		sleep 0.1
	done
	return 1
}
hold_lock 4 && ok "the lock held exclusively (as by a rotation)" || fail "hold the lock"
rotate "$T/rot.json"
expect_eq "rotate-kek while another rotation runs: exit 1" "$RC" 1
grep -q 'another pii-vault rotate-kek is running' "$T/rot.err" && ok "... saying so" || fail "concurrent rotation message" "$(head -c 300 "$T/rot.err")"
if vault_start rot; then
	ok "a vault started meanwhile serves once the rotation is over"
	grep -q 'info: event=kek_lock_wait' "$T/rot.log" && ok "... after logging that it waits" || fail "kek_lock_wait logged" "$(head -n 3 "$T/rot.log")"
	if kill -0 "$HOLDPID" 2>/dev/null; then fail "... only after the lock was released"; else ok "... only after the lock was released"; fi
	expect_eq "... and reveals with the keys of the rotation it waited for" "$(revealed_ok "$VURL" 1 2 3)" 3
	vault_stop
else
	fail "a vault started meanwhile serves once the rotation is over"
fi
wait "$HOLDPID" 2>/dev/null
hold_lock 30 || fail "hold the lock again"
"$V" serve --config "$T/rot.json" >"$T/wait.log" 2>&1 &
WPID=$!
wait_log "$T/wait.log" 'event=kek_lock_wait' && ok "a waiting vault..." || fail "waiting vault logs kek_lock_wait"
kill -TERM "$WPID"
RC=0; wait "$WPID" || RC=$?
expect_eq "... stops on SIGTERM, exit 0" "$RC" 0
if grep -q 'event=started' "$T/wait.log"; then fail "... without ever serving"; else ok "... without ever serving"; fi
# release: end the holding session (a killed psql would leave its backend asleep)
q "$PIIV_PG_SUPER" -c "select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'rot-hold-$R'" >/dev/null 2>&1
wait "$HOLDPID" 2>/dev/null
expect_eq "the lock is free again" "$(q "$PIIV_PG_SUPER" -c "$LOCKQ")" 0

# ---- refusals that must not touch the keystore ----------------------------------------------
mkdb "$EMPTYDB" && ok "created database $EMPTYDB" || fail "create database $EMPTYDB"
cfg rotnone "$EMPTYDB" "$T/keys" || fail "config for $EMPTYDB"
before=$(sum "$KS")
rotate "$T/rotnone.json"
expect_eq "rotate-kek on a database never migrated: exit 1" "$RC" 1
grep -q 'migrate' "$T/rot.err" && ok "... saying to migrate first" || fail "unmigrated message" "$(head -c 300 "$T/rot.err")"
expect_eq "... the keystore is unchanged" "$(sum "$KS")" "$before"
mkdir -p "$T/keys2" && chmod 0700 "$T/keys2"
"$V" keygen --out "$T/keys2/root.key" --keystore "$T/keys2/keystore.json" >/dev/null 2>&1
cfg rotother "$DB" "$T/keys2" || fail "config with another keystore"
before=$(sum "$T/keys2/keystore.json")
rotate "$T/rotother.json"
expect_eq "rotate-kek with another keystore than the database's: exit 1" "$RC" 1
grep -q 'another keystore' "$T/rot.err" && ok "... saying so" || fail "keystore mismatch message" "$(head -c 300 "$T/rot.err")"
expect_eq "... that keystore is unchanged" "$(sum "$T/keys2/keystore.json")" "$before"

# ---- erasure reaches backups: a dump taken before an erasure, restored after a rotation ----
ERADB=piiv_rotera_$R
ERAOLD=piiv_roteraold_$R
mkdir -p "$T/keys3" && chmod 0700 "$T/keys3"
"$V" keygen --out "$T/keys3/root.key" --keystore "$T/keys3/keystore.json" >/dev/null 2>&1
mkdb "$ERADB" && cfg rotera "$ERADB" "$T/keys3" && "$V" migrate --config "$T/rotera.json" >/dev/null 2>&1 &&
	ok "erasure: a vault of its own" || fail "erasure: setup"
vault_start rotera || fail "erasure: vault started"
st=$(vault_curl tagger -o "$T/era.json" -w '%{http_code}' -X POST "$VURL/v1/tokenize" \
	--data-binary "{\"source\":\"rotate.erase\",\"records\":[{\"subject\":\"user:era-$R-1\",\"fields\":{\"email\":\"era-$R-1@example.com\",\"name\":\"Era One\"}},{\"subject\":\"user:era-$R-2\",\"fields\":{\"email\":\"era-$R-2@example.com\"}}]}")
expect_eq "erasure: two subjects ingested" "$st" 200
"$pg_bin/pg_dump" "$(vaultpg "$ERADB")" >"$T/era-old.sql" 2>/dev/null && ok "erasure: pg_dump before the erasure" || fail "erasure: pg_dump"
vault_curl proxy -o "$T/era-dsr.json" -H "X-Piiv-On-Behalf-Of: dpo@corp" -X POST "$VURL/v1/dsr" \
	--data-binary "{\"kind\":\"erasure\",\"subject\":\"user:era-$R-1\",\"verified\":true}" >/dev/null
eid=$(json_get id "$T/era-dsr.json")
for _ in $(seq 1 100); do
	[[ $(vault_curl proxy "$VURL/v1/dsr/$eid" | json_get status 2>/dev/null) == completed ]] && break
	sleep 0.2
done
expect_eq "erasure: completed" "$(vault_curl proxy "$VURL/v1/dsr/$eid" | json_get status)" completed
expect_eq "erasure: reveal answers 410" "$(rev "$VURL" "user:era-$R-1")" 410
vault_stop
rotate "$T/rotera.json"
expect_eq "erasure: rotate-kek after the erasure" "$RC" 0
mkdb "$ERAOLD" && q "$(vaultpg "$ERAOLD")" -f "$T/era-old.sql" >/dev/null 2>&1 && ok "erasure: the old dump restored" ||
	fail "erasure: restore"
expect_eq "erasure: the restored dump still holds the erased subject's wrapped key and ciphertext" \
	"$(q "$(vaultpg "$ERAOLD")" -c "select count(*) from subjects s join subject_keys k on k.subject_id = s.id join pii_values v on v.subject_id = s.id where s.status = 'active'")" 3
if cfg roteraold "$ERAOLD" "$T/keys3" && vault_start roteraold; then
	st=$(rev "$VURL" "user:era-$R-1")
	[[ $st != 200 ]] && ok "erasure: the erased subject cannot be decrypted from the restored dump (HTTP $st)" ||
		fail "erasure: restored dump reveals the erased subject"
	grep -qF "era-$R-1@example.com" "$T/rev.json" && fail "erasure: a value came back" || ok "erasure: no value comes back"
	vault_stop
else
	fail "erasure: a vault on the restored dump starts"
fi

# under make check: this suite's own vaults and rotations left no sanitizer report
vault_stop
if grep -lE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|: runtime error: ' "$T"/*.log "$T"/rot.err 2>/dev/null; then
	fail "no sanitizer report in this suite's vault logs"
else
	ok "no sanitizer report in this suite's vault logs"
fi
