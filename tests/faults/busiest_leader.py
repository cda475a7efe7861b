#!/usr/bin/env python3
"""busiest_leader.py BROKERS: the node id leading the partition with the most messages (high
watermark) over the ACMS topics, and that partition, as "NODE TOPIC PARTITION COUNT" on stdout.
Used by the Kafka fault scenario to kill the broker that matters most."""
import sys

from confluent_kafka import Consumer, TopicPartition

brokers = sys.argv[1]
c = Consumer({"bootstrap.servers": brokers, "group.id": "acms-faults-probe", "enable.auto.commit": False})
md = c.list_topics(timeout=10)
best = None
for name, t in md.topics.items():
    if not name.startswith("acms."):
        continue
    for pid, p in t.partitions.items():
        lo, hi = c.get_watermark_offsets(TopicPartition(name, pid), timeout=10)
        if best is None or hi > best[3]:
            best = (p.leader, name, pid, hi)
c.close()
if best is None:
    sys.exit("no ACMS topic found")
print("%d %s %d %d" % best)
