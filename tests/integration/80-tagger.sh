#!/usr/bin/env bash
# 80-tagger.sh - pii-tag against the real vault: the golden cases under
# tests/tagger/cases, then end to end: tokens equal the vault's own, values
# land in the vault, a second run stores nothing new, erasure and objection
# drops are counted, retries reuse batch ids, an unavailable vault leaves no
# output, and scan proposes a schema with evidence.
set -u
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib-vault.bash"

TAG=$O/bin/pii-tag
CASES=tests/tagger/cases
R=${RANDOM}${RANDOM}

# tokens in output become <tok:CATEGORY>, so a golden file states the shape
shape() {
	sed -E 's/tok_([a-z_]+)_v[0-9]+_[A-Za-z0-9]+/<tok:\1>/g' "$1"
}

# no_leftovers DIR: nothing but the listed files (no temporary outputs)
no_temp_files() {
	! ls -A "$1" | grep -q '\.tmp\.'
}

tag_run() {
	"$TAG" run --vault "$PIIV_VAULT_URL" --cacert "$PIIV_CACERT" "$@"
}

# --- golden cases ------------------------------------------------------------
for dir in "$CASES"/*/; do
	name=$(basename "$dir")
	in=$(ls "$dir" | grep '^input\.' | head -n 1)
	ext=${in#input.}
	args=()
	[[ -f $dir/args ]] && read -r -a args <"$dir/args"
	mkdir -p "$T/g/$name"
	out=$T/g/$name/out.$ext
	# each run gets its own dataset-free run id; the schema names the dataset
	tag_run --schema "$dir/schema.json" --manifest "$T/g/$name/manifest.json" \
		"${args[@]}" "$dir/$in" "$out" 2>"$T/g/$name/stderr"
	rc=$?
	want_rc=0
	[[ -f $dir/expected-exit ]] && want_rc=$(cat "$dir/expected-exit")
	expect_eq "golden $name: exit status" "$rc" "$want_rc" || sed 's/^/#   /' "$T/g/$name/stderr" | head -n 5
	if [[ -f $dir/expected-error ]]; then
		while IFS= read -r line; do
			if grep -qF -- "$line" "$T/g/$name/stderr"; then
				ok "golden $name: stderr says: $line"
			else
				fail "golden $name: stderr says: $line" "stderr: $(head -c 400 "$T/g/$name/stderr")"
			fi
		done <"$dir/expected-error"
		check "golden $name: nothing at the output path" test ! -e "$out"
		check "golden $name: no temporary file left" no_temp_files "$T/g/$name"
		check "golden $name: no manifest for a failed run" test ! -e "$T/g/$name/manifest.json"
	fi
	if [[ -f $dir/expected.$ext ]]; then
		if diff <(shape "$out") "$dir/expected.$ext" >"$T/g/$name/diff"; then
			ok "golden $name: output has the expected shape"
		else
			fail "golden $name: output has the expected shape"
			head -n 10 "$T/g/$name/diff" | sed 's/^/#   /'
		fi
	fi
	if [[ -f $dir/expected-counts ]]; then
		while IFS='=' read -r key want; do
			expect_eq "golden $name: manifest counts.$key" \
				"$(json_get "counts.$key" "$T/g/$name/manifest.json")" "$want"
		done <"$dir/expected-counts"
	fi
done

# --- end to end ----------------------------------------------------------------
ds=e2e.customers-$R
cat >"$T/schema.json" <<EOF
{"dataset": "$ds", "subject_prefix": "customer:", "columns": [
 {"name": "id", "category": "subject"}, {"name": "email", "category": "email"},
 {"name": "phone", "category": "phone"}, {"name": "name", "category": "name"},
 {"name": "card", "category": "card"}]}
EOF
{
	echo "id,email,phone,name,card,tier,n"
	for i in $(seq 1 250); do
		echo "$R$i,c$i-$R@example.com,010-$((1000 + i % 9000))-$((2000 + i)),Customer $i,4111111111111111,gold,$i"
	done
} >"$T/in.csv"

check "e2e: run (batches of 64, 3 in flight)" \
	tag_run --schema "$T/schema.json" --batch 64 --parallel 3 --manifest "$T/m1.json" "$T/in.csv" "$T/out1.csv"
expect_eq "e2e: rows out" "$(json_get counts.rows_out "$T/m1.json")" 250
expect_eq "e2e: values tokenized (4 per row)" "$(json_get counts.values_tokenized "$T/m1.json")" 1000
expect_eq "e2e: batches" "$(json_get counts.batches "$T/m1.json")" 4
# values are stored per subject: 250 each of email, phone, name and card
expect_eq "e2e: the vault stored every value" "$(json_get counts.stored "$T/m1.json")" 1000
n=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values where source = '$ds'")
expect_eq "e2e: the vault holds the values" "$n" 1000
expect_eq "e2e: output keeps input order" "$(tail -n +2 "$T/out1.csv" | cut -d, -f7 | tr '\n' ' ')" "$(seq 1 250 | tr '\n' ' ')"
if grep -q '@example.com\|Customer \|4111111111111111' "$T/out1.csv"; then
	fail "e2e: no tagged value left in the output"
else
	ok "e2e: no tagged value left in the output"
fi

# the tokens are the vault's own for the same values
line=$(sed -n 43p "$T/out1.csv")
IFS=, read -r t_id t_email t_phone t_name t_card t_tier t_n <<<"$line"
vault_post tagger v1/tokenize '{"source":"e2e.check","records":[{"subject":"customer:'$R'42","fields":{"email":"c42-'$R'@example.com","phone":"010-1042-2042","name":"Customer 42","card":"4111111111111111"}}]}' >"$T/direct.json"
expect_eq "e2e: subject token equals the vault's" "$t_id" "$(json_get records.0.subject_token "$T/direct.json")"
expect_eq "e2e: email token equals the vault's" "$t_email" "$(json_get records.0.fields.email "$T/direct.json")"
expect_eq "e2e: phone token equals the vault's" "$t_phone" "$(json_get records.0.fields.phone "$T/direct.json")"
expect_eq "e2e: card token equals the vault's" "$t_card" "$(json_get records.0.fields.card "$T/direct.json")"
vault_post proxy v1/detokenize "{\"tokens\":[\"$t_email\",\"$t_name\"],\"context\":{\"on_behalf_of\":\"kim@corp\",\"role\":\"cs_agent\",\"purpose\":\"support\",\"ticket\":\"CS-80\"}}" >"$T/detok.json"
expect_eq "e2e: the email token detokenizes to the input value" "$(json_get "values.$t_email" "$T/detok.json")" "c42-$R@example.com"
expect_eq "e2e: the name token detokenizes to the input value" "$(json_get "values.$t_name" "$T/detok.json")" "Customer 42"

# a second run of the same file stores nothing new
check "e2e: second run" tag_run --schema "$T/schema.json" --manifest "$T/m2.json" "$T/in.csv" "$T/out2.csv"
expect_eq "e2e: second run stores nothing" "$(json_get counts.stored "$T/m2.json")" 0
expect_eq "e2e: second run finds every value held" "$(json_get counts.existing "$T/m2.json")" 1000
check "e2e: second run gives the same output" cmp "$T/out1.csv" "$T/out2.csv"
n=$(psql "$PIIV_PG" -Atc "select count(*) from pii_values where source = '$ds'")
expect_eq "e2e: the vault still holds 1000 values" "$n" 1000

# stdin to stdout, with a client certificate instead of the token
if env -u PIIV_TAGGER_TOKEN "$TAG" run --vault "$PIIV_VAULT_URL" --cacert "$PIIV_CACERT" \
	--cert "$PIIV_TAGGER_CERT" --key "$PIIV_TAGGER_KEY" --schema "$T/schema.json" \
	<"$T/in.csv" >"$T/out3.csv" 2>"$T/err3"; then
	ok "e2e: stdin to stdout with a client certificate"
else
	fail "e2e: stdin to stdout with a client certificate" "$(head -c 300 "$T/err3")"
fi
check "e2e: the certificate run gives the same output" cmp "$T/out1.csv" "$T/out3.csv"

# erasure and objection drops
tok3=$(sed -n 4p "$T/out1.csv" | cut -d, -f1)    # the subject of row 3
tok5=$(sed -n 6p "$T/out1.csv" | cut -d, -f1)    # the subject of row 5
psql "$PIIV_PG" -qc "update subjects set status = 'erased', erased_at = now() where subject_token = '$tok3'"
psql "$PIIV_PG" -qc "insert into objections (subject_id, purpose) select id, 'marketing' from subjects where subject_token = '$tok5'"
check "e2e: run with --purpose marketing" tag_run --schema "$T/schema.json" --purpose marketing \
	--manifest "$T/m4.json" "$T/in.csv" "$T/out4.csv"
expect_eq "e2e: the erased subject's row is dropped and counted" "$(json_get counts.dropped.subject_erased "$T/m4.json")" 1
expect_eq "e2e: the objecting subject's row is dropped and counted" "$(json_get counts.dropped.objection "$T/m4.json")" 1
expect_eq "e2e: rows out after drops" "$(json_get counts.rows_out "$T/m4.json")" 248
expect_eq "e2e: output has 248 rows" "$(($(wc -l <"$T/out4.csv") - 1))" 248
if grep -q "^$tok3,\|^$tok5," "$T/out4.csv"; then
	fail "e2e: dropped subjects are not in the output"
else
	ok "e2e: dropped subjects are not in the output"
fi
check "e2e: run without a purpose" tag_run --schema "$T/schema.json" --manifest "$T/m5.json" "$T/in.csv" "$T/out5.csv"
expect_eq "e2e: without a purpose only the erasure drops" \
	"$(json_get counts.dropped.subject_erased "$T/m5.json"),$(json_get counts.dropped.objection "$T/m5.json")" "1,0"

# the manifest: catalog forms
expect_eq "manifest: DataHub tag of the email column (after the subject)" \
	"$(json_get datahub.schemaMetadata.fields.1.globalTags.tags.0.tag "$T/m1.json")" "urn:li:tag:pii.email"
expect_eq "manifest: OpenLineage event type" "$(json_get openlineage.eventType "$T/m1.json")" COMPLETE
expect_eq "manifest: OpenLineage output tags" "$(json_get openlineage.outputs.0.facets.piivault_tags.fields.phone "$T/m1.json")" "pii.phone"
expect_eq "manifest: the dataset" "$(json_get dataset "$T/m1.json")" "$ds"
if grep -q '@example.com\|Customer ' "$T/m1.json"; then
	fail "manifest: holds no value"
else
	ok "manifest: holds no value"
fi

# --- retries reuse the batch id ----------------------------------------------------
# The same run id twice: the vault sees the same batch ids with the same
# content and replays its first answers, storing nothing.
head -n 21 "$T/in.csv" | sed "s/@example.com/@retry.example.com/" >"$T/retry.csv"
check "retry: first run with a fixed run id" tag_run --schema "$T/schema.json" --run-id "fixed-$R" \
	--batch 10 --manifest "$T/r1.json" "$T/retry.csv" "$T/r1.csv"
b1=$(psql "$PIIV_PG" -Atc "select count(*) from tokenize_batches where batch_id like 'fixed-$R-%'")
expect_eq "retry: the vault recorded the batch ids" "$b1" 2
check "retry: the same batches again" tag_run --schema "$T/schema.json" --run-id "fixed-$R" \
	--batch 10 --manifest "$T/r2.json" "$T/retry.csv" "$T/r2.csv"
check "retry: same output" cmp "$T/r1.csv" "$T/r2.csv"
b2=$(psql "$PIIV_PG" -Atc "select count(*) from tokenize_batches where batch_id like 'fixed-$R-%'")
expect_eq "retry: no new batch recorded" "$b2" 2

# A vault that comes up late: the tagger retries (same body, same batch id)
# and succeeds.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
vault_config late "s/\"port\": 0}/\"port\": $port}/"
"$TAG" run --vault "https://localhost:$port" --cacert "$PIIV_CACERT" --schema "$T/schema.json" \
	--retries 10 --manifest "$T/late.json" "$T/retry.csv" "$T/late.csv" 2>"$T/late.err" &
tag_pid=$!
sleep 1.5
vault_start late
wait "$tag_pid"
expect_eq "retry: the run succeeds once the vault is up" "$?" 0 || sed 's/^/#   /' "$T/late.err" | head -n 3
r=$(json_get counts.retries "$T/late.json")
if [[ ${r:-0} -ge 1 ]]; then ok "retry: retries counted ($r)"; else fail "retry: retries counted" "retries=$r"; fi
check "retry: the late run's output equals the first" cmp "$T/r1.csv" "$T/late.csv"
vault_stop

# --- an unavailable vault: exit 1, no output -----------------------------------------
"$TAG" run --vault "https://localhost:$port" --cacert "$PIIV_CACERT" --schema "$T/schema.json" \
	--retries 2 "$T/retry.csv" "$T/down.csv" 2>"$T/down.err"
expect_eq "down: exit 1" "$?" 1
if grep -q "did not take batch" "$T/down.err" && [[ $(wc -l <"$T/down.err") -eq 1 ]]; then
	ok "down: one clear line"
else
	fail "down: one clear line" "$(head -c 300 "$T/down.err")"
fi
check "down: nothing at the output path" test ! -e "$T/down.csv"
check "down: no temporary file left" no_temp_files "$T"

# --- the vault refuses a value: the line and column are named, no value -----------
printf 'id,email,phone,name,card,tier,n\n1,ok@example.com,010-1000-2000,A,4111111111111111,x,1\n2,not-an-email,010-1000-2001,B,4111111111111111,x,2\n' >"$T/badval.csv"
tag_run --schema "$T/schema.json" "$T/badval.csv" "$T/badval.out" 2>"$T/badval.err"
expect_eq "refused value: exit 1" "$?" 1
if grep -q 'line 3, column "email": the vault refused the value' "$T/badval.err"; then
	ok "refused value: line and column named"
else
	fail "refused value: line and column named" "$(head -c 300 "$T/badval.err")"
fi
if grep -q 'not-an-email' "$T/badval.err"; then fail "refused value: the value is not printed"; else ok "refused value: the value is not printed"; fi
check "refused value: nothing at the output path" test ! -e "$T/badval.out"

# --- credentials ----------------------------------------------------------------
env -u PIIV_TAGGER_TOKEN "$TAG" run --vault "$PIIV_VAULT_URL" --schema "$T/schema.json" "$T/in.csv" "$T/x.csv" 2>"$T/cred.err"
expect_eq "no credentials: usage error" "$?" 2
PIIV_TAGGER_TOKEN=wrong-token tag_run --schema "$T/schema.json" "$T/in.csv" "$T/x.csv" 2>"$T/cred.err"
expect_eq "a wrong token: exit 1" "$?" 1
check "a wrong token: said so" grep -q unauthenticated "$T/cred.err"
printf '%s\n' "$PIIV_TAGGER_TOKEN" >"$T/token"
chmod 0644 "$T/token"
env -u PIIV_TAGGER_TOKEN "$TAG" run --vault "$PIIV_VAULT_URL" --cacert "$PIIV_CACERT" --token-file "$T/token" \
	--schema "$T/schema.json" "$T/retry.csv" "$T/x.csv" 2>"$T/cred.err"
expect_eq "a token file others can read is refused" "$?" 1
chmod 0600 "$T/token"
check "a token file of mode 0600 works" env -u PIIV_TAGGER_TOKEN "$TAG" run --vault "$PIIV_VAULT_URL" \
	--cacert "$PIIV_CACERT" --token-file "$T/token" --schema "$T/schema.json" "$T/retry.csv" "$T/x.csv"

# --- scan and check -----------------------------------------------------------------
check "scan: proposes a schema" "$TAG" scan --out "$T/proposed.json" "$T/in.csv"
expect_eq "scan: the proposal is marked proposed" "$(json_get proposed "$T/proposed.json")" true
expect_eq "scan: the subject column proposed" "$(json_get columns.0.name "$T/proposed.json"),$(json_get columns.0.category "$T/proposed.json")" "id,subject"
expect_eq "scan: email proposed with its detector" "$(json_get columns.1.category "$T/proposed.json"),$(json_get columns.1.evidence.detector "$T/proposed.json")" "email,email"
expect_eq "scan: evidence share" "$(json_get columns.1.evidence.share "$T/proposed.json")" 1
expect_eq "scan: evidence sample size" "$(json_get columns.1.evidence.sample "$T/proposed.json")" 250
expect_eq "scan: card proposed" "$(json_get columns.4.category "$T/proposed.json")" card
expect_eq "scan: tier left unflagged" "$(json_get unflagged.0 "$T/proposed.json")" tier
if grep -q '@example.com' "$T/proposed.json"; then fail "scan: holds no value"; else ok "scan: holds no value"; fi
tag_run --schema "$T/proposed.json" "$T/in.csv" "$T/x2.csv" 2>"$T/prop.err"
expect_eq "scan: run refuses the unreviewed proposal" "$?" 1
grep -v '"proposed"' "$T/proposed.json" >"$T/reviewed.json"
check "check: the reviewed proposal passes" "$TAG" check --schema "$T/reviewed.json" "$T/in.csv"
check "run: the reviewed proposal runs" tag_run --schema "$T/reviewed.json" "$T/in.csv" "$T/x3.csv"
"$TAG" check --schema "$CASES/untagged-pii/schema.json" "$CASES/untagged-pii/input.csv" 2>"$T/chk.err"
expect_eq "check: untagged PII fails" "$?" 1
check "check: names the column" grep -q 'column "contact"' "$T/chk.err"

# PII further in than the sample: found at the end, and the output discarded
{
	echo "id,email,notes"
	for i in $(seq 1 30); do echo "$i,n$i-$R@example.com,"; done
	for i in $(seq 31 60); do echo "$i,n$i-$R@example.com,late$i-$R@example.com"; done
} >"$T/late-pii.csv"
tag_run --schema "$CASES/empty-subject/schema.json" --sample 10 "$T/late-pii.csv" "$T/late-pii.out" 2>"$T/late-pii.err"
expect_eq "late PII: exit 1" "$?" 1
check "late PII: the column is named" grep -q 'column "notes": looks like email' "$T/late-pii.err"
check "late PII: nothing at the output path" test ! -e "$T/late-pii.out"

# --- usage ------------------------------------------------------------------------------
"$TAG" --help >/dev/null
expect_eq "usage: --help exits 0" "$?" 0
"$TAG" run --schema 2>/dev/null
expect_eq "usage: a missing argument exits 2" "$?" 2
"$TAG" frobnicate 2>/dev/null
expect_eq "usage: an unknown command exits 2" "$?" 2
"$TAG" run --schema "$T/schema.json" --vault http://localhost:1 "$T/in.csv" 2>/dev/null
expect_eq "usage: a plain-http vault URL is refused" "$?" 2

# --- regressions from review -------------------------------------------------------
# a schema with a subject and nothing tagged: every row still gets its subject token
printf '{"dataset": "rev.subject-only", "columns": [{"name": "id", "category": "subject"}, {"name": "amount", "category": "none", "reason": "an order amount"}]}' >"$T/subj-only.json"
{ echo "id,amount"; for i in $(seq 1 200); do echo "so$R-$i,$i.50"; done; } >"$T/subj-only.csv"
check "review: subject-only schema runs" tag_run --schema "$T/subj-only.json" "$T/subj-only.csv" "$T/subj-only.out"
expect_eq "review: subject-only rows carry subject tokens" "$(tail -n +2 "$T/subj-only.out" | grep -c '^tok_subject_v1_')" 200
# JSON Lines whose rows keep adding new keys while batches are in flight
{
	for i in $(seq 1 3000); do
		printf '{"id": "jk%s-%d", "email": "jk%d-%s@example.com", "k%d": %d}\n' "$R" "$i" "$i" "$R" "$((i / 15))" "$i"
	done
} >"$T/many-keys.jsonl"
printf '{"dataset": "rev.many-keys", "format": "jsonl", "columns": [{"name": "id", "category": "subject"}, {"name": "email", "category": "email"}]}' >"$T/many-keys.json"
check "review: new keys while batches are in flight" tag_run --schema "$T/many-keys.json" --sample 10 \
	--batch 100 --parallel 8 "$T/many-keys.jsonl" "$T/many-keys.out"
expect_eq "review: every email tokenized" "$(grep -c '"email": "tok_email_v1_' "$T/many-keys.out")" 3000
# more than 64 columns of one category: refused by the schema
{
	printf '{"dataset": "rev.wide", "columns": [{"name": "id", "category": "subject"}'
	for i in $(seq 0 64); do printf ', {"name": "e%d", "category": "email"}' "$i"; done
	printf ']}'
} >"$T/wide.json"
"$TAG" check --schema "$T/wide.json" "$T/subj-only.csv" 2>"$T/wide.err"
expect_eq "review: 65 columns of one category refused" "$?" 1
check "review: the refusal says why" grep -q 'more than 64 columns of category email' "$T/wide.err"
# a sample that would not fit in memory: a usage error, nothing sent
tag_run --schema "$T/subj-only.json" --sample 100000 --batch 1 "$T/subj-only.csv" "$T/x4.csv" 2>/dev/null
expect_eq "review: an oversized sample is a usage error" "$?" 2
check "review: nothing written for it" test ! -e "$T/x4.csv"
tag_run --schema "$T/subj-only.json" --run-id 'bad id!' "$T/subj-only.csv" "$T/x5.csv" 2>/dev/null
expect_eq "review: a bad --run-id is a usage error" "$?" 2
# a manifest that cannot be written takes the output back
tag_run --schema "$T/subj-only.json" --manifest /nonexistent/dir/m.json "$T/subj-only.csv" "$T/x6.csv" 2>"$T/x6.err"
expect_eq "review: an unwritable manifest fails the run" "$?" 1
check "review: and leaves no output" test ! -e "$T/x6.csv"
