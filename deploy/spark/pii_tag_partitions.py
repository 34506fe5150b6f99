"""Spark: run the piivault tagger on every partition with rdd.pipe.

pii-tag reads CSV or JSON Lines on stdin and writes the same format on
stdout, so each partition is piped through one pii-tag process (one
keep-alive connection pool to the vault per executor task).  pii-tag exits
non-zero on untagged PII, malformed input or an unavailable vault, and
Spark then fails the task: no partial partition is written by the job's
output committer.

The schema file and credentials must exist on every executor: ship the
schema with --files, and mount the token file (mode 0600) or use client
certificates.

  spark-submit --files events.schema.json pii_tag_partitions.py \
      s3://raw/events/dt=2026-11-30/ s3://lake/events/dt=2026-11-30/
"""
import json
import sys

from pyspark import SparkFiles
from pyspark.sql import SparkSession

src, dst = sys.argv[1], sys.argv[2]
spark = SparkSession.builder.appName("pii-tag-events").getOrCreate()
sc = spark.sparkContext

# Every input line is one JSON object (JSON Lines): the partition is a valid
# pii-tag input as it is.
lines = sc.textFile(src)

cmd = [
    "pii-tag", "run",
    "--schema", SparkFiles.get("events.schema.json"),
    "--format", "jsonl",
    "--vault", "https://vault.internal:8443",
    "--cacert", "/etc/piivault/ca.pem",
    "--token-file", "/etc/piivault/tagger.token",
    "--purpose", "analytics",
    "--batch", "2000",
]

tagged = lines.pipe(" ".join(cmd), checkCode=True)

# Rows continue with tokens only; drops (erased or objecting subjects) were
# counted by pii-tag, which writes its summary line to the task's stderr.
tagged.map(json.loads).toDF().write.mode("overwrite").parquet(dst)
