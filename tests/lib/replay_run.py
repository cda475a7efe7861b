#!/usr/bin/env python3
"""replay_run.py: produces once more every message of one run (key = the run id) on the given topics,
with its exact key, payload, headers and partition, as a consumer group reset or a mirror would
deliver it again. Prints {"topic": count, ...} as JSON on stdout.

  replay_run.py --brokers B --run RUN_ID TOPIC [TOPIC...]

Needs python3-confluent-kafka (make deps).
"""
import argparse
import json
import sys
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition


def messages(brokers, topic, run):
    c = Consumer({"bootstrap.servers": brokers, "group.id": "replay-" + uuid.uuid4().hex,
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    md = c.list_topics(topic, timeout=10)
    parts = [TopicPartition(topic, p, 0) for p in md.topics[topic].partitions]
    ends = {}
    for tp in parts:
        _, hi = c.get_watermark_offsets(tp, timeout=10)
        ends[tp.partition] = hi
    c.assign(parts)
    out, pending = [], {p for p, hi in ends.items() if hi > 0}
    while pending:
        m = c.poll(5.0)
        if m is None:
            break
        if m.error():
            continue
        if m.key() == run.encode():
            out.append(m)
        if m.offset() + 1 >= ends[m.partition()]:
            pending.discard(m.partition())
    c.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--run", required=True)
    ap.add_argument("topics", nargs="+")
    a = ap.parse_args()
    p = Producer({"bootstrap.servers": a.brokers, "enable.idempotence": True, "linger.ms": 2})
    counts = {}
    for t in a.topics:
        ms = messages(a.brokers, t, a.run)
        for m in ms:
            p.produce(t, m.value(), key=m.key(), headers=list(m.headers() or []), partition=m.partition())
        counts[t] = len(ms)
    if p.flush(30) != 0:
        sys.exit("replay_run.py: the broker did not acknowledge every copy")
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
