"""confluent-kafka (current librdkafka) against a log-engine broker.

Usage: confluent_matrix.py BOOTSTRAP

Covers: every codec with and without idempotence (keys, headers), consuming from the
beginning, list offsets (earliest, latest, by time), a consumer group with commit metadata,
AdminClient topic, config, partition, record, cluster and group calls, and a transactional
producer (a committed and an aborted transaction, offsets sent to the transaction, read
back with both isolation levels). Exits non-zero on the first failed check, naming it.
"""

import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
    NewTopic,
    OffsetSpec,
)

BOOT = sys.argv[1]
TIMEOUT = 30
checks = 0


def check(cond, what):
    global checks
    if not cond:
        raise SystemExit(f"FAILED: {what}")
    checks += 1


def wait(futures):
    return {k: f.result(timeout=TIMEOUT) for k, f in futures.items()}


admin = AdminClient({"bootstrap.servers": BOOT})


def produce(topic, codec, idempotent, n):
    p = Producer({
        "bootstrap.servers": BOOT,
        "compression.codec": codec,
        "enable.idempotence": idempotent,
        "acks": "all",
        "linger.ms": 5,
    })
    failures = []
    for i in range(n):
        p.produce(topic, key=f"k{i}", value=f"v{i}" + "x" * (i % 40),
                  headers=[("i", str(i).encode()), ("dup", b"a"), ("dup", None)],
                  timestamp=1_700_000_000_000 + i,
                  on_delivery=lambda err, msg: failures.append(err) if err else None)
        p.poll(0)
    left = p.flush(TIMEOUT)
    check(left == 0 and not failures, f"{topic}: every record acknowledged ({failures[:1]})")


def consume_all(topic, n, group=None, commit=False):
    c = Consumer({
        "bootstrap.servers": BOOT,
        "group.id": group or f"reader-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
    })
    if group:
        c.subscribe([topic])
    else:
        c.assign([TopicPartition(topic, 0, 0)])
    got = []
    deadline = time.time() + TIMEOUT
    while len(got) < n and time.time() < deadline:
        m = c.poll(0.2)
        if m is None or m.error():
            continue
        got.append(m)
        if commit:
            c.commit(offsets=[TopicPartition(topic, m.partition(), m.offset() + 1, metadata="meta-ok")],
                     asynchronous=False)
    c.close()
    return got


# Codecs x idempotence.
for codec in ["none", "gzip", "snappy", "lz4", "zstd"]:
    for idem in [False, True]:
        topic = f"py-{codec}-{idem}".lower()
        produce(topic, codec, idem, 300)
        msgs = consume_all(topic, 300)
        check(len(msgs) == 300, f"{topic}: 300 records consumed, got {len(msgs)}")
        for i, m in enumerate(msgs):
            check(m.offset() == i and m.key() == f"k{i}".encode(), f"{topic}: record {i} in order")
            check(m.value() == (f"v{i}" + "x" * (i % 40)).encode(), f"{topic}: value {i}")
            check(m.headers() == [("i", str(i).encode()), ("dup", b"a"), ("dup", None)],
                  f"{topic}: headers {i} kept, duplicates and nulls included")

# List offsets.
tp = TopicPartition("py-gzip-false", 0)
res = wait(admin.list_offsets({tp: OffsetSpec.earliest()}))
check(res[tp].offset == 0, "earliest offset is 0")
res = wait(admin.list_offsets({tp: OffsetSpec.latest()}))
check(res[tp].offset == 300, "latest offset is 300")
res = wait(admin.list_offsets({tp: OffsetSpec.for_timestamp(1_700_000_000_000 + 123)}))
check(res[tp].offset == 123, f"offset for timestamp is 123, got {res[tp].offset}")

# Topics, configs, partitions, records, cluster.
wait(admin.create_topics([NewTopic("py-admin", 2, 1, config={"cleanup.policy": "compact"})]))
md = admin.list_topics(timeout=TIMEOUT)
check(len(md.topics["py-admin"].partitions) == 2, "created with 2 partitions")
res = wait(admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "py-admin")]))
cfg = list(res.values())[0]
check(cfg["cleanup.policy"].value == "compact", "describe_configs reports cleanup.policy")
alter = ConfigResource(ConfigResource.Type.TOPIC, "py-admin", incremental_configs=[
    ConfigEntry("retention.ms", "3600000", incremental_operation=AlterConfigOpType.SET)])
wait(admin.incremental_alter_configs([alter]))
cfg = list(wait(admin.describe_configs([ConfigResource(ConfigResource.Type.TOPIC, "py-admin")])).values())[0]
check(cfg["retention.ms"].value == "3600000", "incremental_alter_configs took effect")
check(cfg["cleanup.policy"].value == "compact", "incremental alter keeps other keys")
wait(admin.create_partitions([NewPartitions("py-admin", 4)]))
md = admin.list_topics(timeout=TIMEOUT)
check(len(md.topics["py-admin"].partitions) == 4, "create_partitions raised the count to 4")
try:
    wait(admin.create_topics([NewTopic("py-admin", 1, 1)]))
    check(False, "creating an existing topic fails")
except KafkaException as e:
    check(e.args[0].name() == "TOPIC_ALREADY_EXISTS", f"TOPIC_ALREADY_EXISTS, got {e}")
res = wait(admin.delete_records([TopicPartition("py-none-false", 0, 100)]))
check(list(res.values())[0].low_watermark == 100, "delete_records moved the low watermark to 100")
c = Consumer({"bootstrap.servers": BOOT, "group.id": "wm"})
low, high = c.get_watermark_offsets(TopicPartition("py-none-false", 0), timeout=TIMEOUT)
c.close()
check((low, high) == (100, 300), f"watermarks after delete_records are (100, 300), got {(low, high)}")
cluster = admin.describe_cluster().result(timeout=TIMEOUT)
check(cluster.controller is not None and len(cluster.nodes) == 1, "describe_cluster: one node, a controller")

# Consumer group with commit metadata, then admin group calls.
msgs = consume_all("py-lz4-true", 300, group="py-group", commit=True)
check(len(msgs) == 300, "group consumer read all 300")
groups = admin.list_consumer_groups().result(timeout=TIMEOUT)
check("py-group" in [g.group_id for g in groups.valid], "list_consumer_groups shows py-group")
desc = wait(admin.describe_consumer_groups(["py-group"]))["py-group"]
check(desc.group_id == "py-group" and str(desc.state).endswith("EMPTY"), f"describe: group is empty after close ({desc.state})")
from confluent_kafka import ConsumerGroupTopicPartitions  # noqa: E402
res = wait(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("py-group")]))
offs = res["py-group"].topic_partitions
check(any(t.topic == "py-lz4-true" and t.offset == 300 and t.metadata == "meta-ok" for t in offs),
      f"committed offset 300 with metadata round-trips: {offs}")
wait(admin.alter_consumer_group_offsets([ConsumerGroupTopicPartitions("py-group", [TopicPartition("py-lz4-true", 0, 42)])]))
res = wait(admin.list_consumer_group_offsets([ConsumerGroupTopicPartitions("py-group")]))
check(any(t.offset == 42 for t in res["py-group"].topic_partitions), "alter_consumer_group_offsets reset to 42")
wait(admin.delete_consumer_groups(["py-group"]))
groups = admin.list_consumer_groups().result(timeout=TIMEOUT)
check("py-group" not in [g.group_id for g in groups.valid], "delete_consumer_groups removed it")

wait(admin.delete_topics(["py-admin"]))
check("py-admin" not in admin.list_topics(timeout=TIMEOUT).topics, "delete_topics removed the topic")

# Transactions: commit one, abort one; offsets sent with the committed one count.
wait(admin.create_topics([NewTopic("py-tx-in", 1, 1)]))
tx = Producer({"bootstrap.servers": BOOT, "transactional.id": "py-tx"})
tx.init_transactions(TIMEOUT)
group_md = Consumer({"bootstrap.servers": BOOT, "group.id": "py-tx-group"})
for outcome, values in (("commit", ["t0", "t1"]), ("abort", ["a0"])):
    tx.begin_transaction()
    for v in values:
        tx.produce("py-tx", value=v, partition=0)
    tx.flush(TIMEOUT)  # written before the ending, so the abort has records to hide
    tx.send_offsets_to_transaction([TopicPartition("py-tx-in", 0, 3 if outcome == "commit" else 9)],
                                   group_md.consumer_group_metadata(), TIMEOUT)
    (tx.commit_transaction if outcome == "commit" else tx.abort_transaction)(TIMEOUT)


def read_values(isolation, want):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": f"py-tx-read-{uuid.uuid4()}",
                  "isolation.level": isolation, "enable.auto.commit": False})
    c.assign([TopicPartition("py-tx", 0, 0)])
    got, deadline = [], time.time() + TIMEOUT
    while len(got) < want and time.time() < deadline:
        m = c.poll(0.2)
        if m is not None and not m.error():
            got.append(m.value().decode())
    extra = c.poll(1.0)
    if extra is not None and not extra.error():
        got.append(extra.value().decode())
    c.close()
    return got


check(read_values("read_committed", 2) == ["t0", "t1"], "read_committed sees the committed transaction only")
got = read_values("read_uncommitted", 3)
check(got == ["t0", "t1", "a0"], f"read_uncommitted sees the aborted records too, got {got}")
committed = group_md.committed([TopicPartition("py-tx-in", 0)], timeout=TIMEOUT)
check(committed[0].offset == 3, f"offsets of the committed transaction only, got {committed[0].offset}")
group_md.close()
print(f"{checks} passed, 0 failed")
