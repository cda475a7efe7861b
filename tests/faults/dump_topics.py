#!/usr/bin/env python3
"""dump_topics.py BROKERS OUTDIR: every ACMS topic's messages to OUTDIR/<topic>.jsonl (partition,
offset, key, headers, base64 payload), so a failed fault scenario can be examined after its
in-memory devbroker is gone. Needs python3-confluent-kafka."""
import base64
import json
import os
import sys
import time
import uuid

from confluent_kafka import Consumer, TopicPartition


def main(brokers, out):
    os.makedirs(out, exist_ok=True)
    c = Consumer({"bootstrap.servers": brokers, "group.id": "dump-%s" % uuid.uuid4(), "enable.auto.commit": False,
                  "auto.offset.reset": "earliest", "enable.partition.eof": True})
    md = c.list_topics(timeout=10)
    for topic in sorted(t for t in md.topics if t.startswith("acms.")):
        parts = sorted(md.topics[topic].partitions)
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        eof, n, deadline = set(), 0, time.time() + 60
        with open(os.path.join(out, topic + ".jsonl"), "w") as f:
            while len(eof) < len(parts) and time.time() < deadline:
                m = c.poll(0.5)
                if m is None:
                    continue
                if m.error():
                    if m.error().code() == -191:
                        eof.add(m.partition())
                    continue
                hdrs = {k: (v or b"").decode(errors="replace") for k, v in (m.headers() or [])}
                f.write(json.dumps({"p": m.partition(), "o": m.offset(), "k": (m.key() or b"").decode(errors="replace"),
                                    "h": hdrs, "v": base64.b64encode(m.value() or b"").decode()}) + "\n")
                n += 1
        c.unassign()
        print("%s: %d" % (topic, n))
    c.close()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
