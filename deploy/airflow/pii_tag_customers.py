"""Airflow DAG: land the shop's customers table through the piivault tagger.

Each run exports the day's partition, pipes it through `pii-tag run` (which
fails the task when a column looks like personal data but is not tagged in
the committed schema, when the vault stays unavailable, or when a value is
refused) and loads only the tokenized file into the lake.  The manifest of
every run is kept beside the output and pushed to the catalog.

Configure the Airflow connection or environment with:
  PIIV_VAULT_URL      https://vault.internal:8443
  PIIV_CACERT         /etc/piivault/ca.pem
  PIIV_TAGGER_TOKEN_FILE  /etc/piivault/tagger.token   (mode 0600, owned by the worker user)
The schema lives in the repository of the job, reviewed like code:
  schemas/shop.customers.json
"""
from __future__ import annotations

import pendulum
from airflow import DAG
from airflow.operators.bash import BashOperator

DS = "{{ ds_nodash }}"
WORK = "/data/staging/shop.customers/" + DS

with DAG(
    dag_id="shop_customers_to_lake",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 11, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 2, "retry_delay": pendulum.duration(minutes=10)},
    tags=["pii", "piivault"],
) as dag:
    export = BashOperator(
        task_id="export",
        bash_command=(
            f"mkdir -p {WORK} && psql \"$SHOP_DB\" -c "
            "\"\\copy (SELECT * FROM customers WHERE updated_at::date = '{{ ds }}') "
            f"TO '{WORK}/customers.csv' CSV HEADER\""
        ),
    )

    # Tagging is mandatory: pii-tag exits 1 (failing the task) on untagged
    # PII, malformed input or an unavailable vault, and then leaves nothing
    # at the output path.  Retries of the task reuse nothing partial.
    tag = BashOperator(
        task_id="pii_tag",
        bash_command=(
            "pii-tag run --schema {{ dag.folder }}/schemas/shop.customers.json "
            "--vault \"$PIIV_VAULT_URL\" --cacert \"$PIIV_CACERT\" "
            "--token-file \"$PIIV_TAGGER_TOKEN_FILE\" --purpose analytics "
            "--run-id shop-customers-" + DS + "-{{ ti.try_number }} "
            f"--manifest {WORK}/manifest.json "
            f"{WORK}/customers.csv {WORK}/customers.tok.csv"
        ),
    )

    load = BashOperator(
        task_id="load_to_lake",
        bash_command=(
            f"aws s3 cp {WORK}/customers.tok.csv s3://lake/shop/customers/dt={DS}/ && "
            f"aws s3 cp {WORK}/manifest.json s3://lake/_manifests/shop.customers/{DS}.json"
        ),
    )

    catalog = BashOperator(
        task_id="push_tags_to_catalog",
        # the manifest carries DataHub-style schema field tags and an
        # OpenLineage-style run event; send the one your catalog ingests
        bash_command=(
            f"jq .openlineage {WORK}/manifest.json | "
            "curl -sf -X POST -H 'Content-Type: application/json' "
            "--data-binary @- \"$OPENLINEAGE_URL/api/v1/lineage\""
        ),
    )

    # plaintext never reaches the lake: remove the export once tagged
    cleanup = BashOperator(
        task_id="remove_plaintext_export",
        bash_command=f"shred -u {WORK}/customers.csv",
        trigger_rule="all_done",
    )

    export >> tag >> [load, catalog]
    tag >> cleanup
