#!/usr/bin/env python3
"""doubler.py: delivers events twice, for scenario 5 (tests/faults/test_faults_duplicate.sh).

  doubler.py follow --brokers B --stats FILE      until SIGTERM: every new message on an input topic
                                                  is produced once more, right after the original
  doubler.py replay --brokers B --stats FILE      once: every original message so far, once more

A copy has the original's exact key, payload and headers plus the header acms-fault-copy=1 (so the
doubler never copies a copy; services ignore unknown headers). The stats file holds
{"copied": {topic: n}, "originals": {topic: n}} as JSON, rewritten every second and at the end.
Needs python3-confluent-kafka.
"""
import argparse
import json
import os
import signal
import sys
import time
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

INPUTS = ["acms.config.submitted", "acms.exec.adaptations", "acms.config.prepared", "acms.exec.steps",
          "acms.config.validated", "acms.exec.adapted", "acms.control", "acms.exec.results",
          "acms.validation.results", "acms.monitor.alerts"]
MARK = "acms-fault-copy"


def is_copy(msg):
    return any(k == MARK for k, _ in (msg.headers() or []))


class Stats:
    def __init__(self, path):
        self.path, self.copied, self.originals, self.last = path, {}, {}, 0

    def add(self, topic):
        self.copied[topic] = self.copied.get(topic, 0) + 1
        self.originals[topic] = self.originals.get(topic, 0) + 1

    def write(self, force=False):
        if not force and time.time() - self.last < 1:
            return
        self.last = time.time()
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump({"copied": self.copied, "originals": self.originals}, f)
        os.replace(tmp, self.path)


def producer(brokers):
    return Producer({"bootstrap.servers": brokers, "enable.idempotence": True, "linger.ms": 2,
                     "message.max.bytes": 3 * 1024 * 1024})


def copy(p, msg, stats):
    hdrs = list(msg.headers() or []) + [(MARK, b"1")]
    while True:
        try:
            p.produce(msg.topic(), msg.value(), key=msg.key(), headers=hdrs, partition=msg.partition())
            break
        except BufferError:
            p.poll(0.1)
    p.poll(0)
    stats.add(msg.topic())


def follow(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    stats = Stats(a.stats)
    p = producer(a.brokers)
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": "faults-doubler-%s" % uuid.uuid4(),
                  "auto.offset.reset": "earliest", "enable.auto.commit": False, "fetch.wait.max.ms": 10})
    c.subscribe(INPUTS)
    while not stop:
        msg = c.poll(0.05)
        if msg is not None and not msg.error() and not is_copy(msg):
            copy(p, msg, stats)
        stats.write()
    left = p.flush(30)
    stats.write(force=True)
    c.close()
    return 1 if left else 0


def replay(a):
    stats = Stats(a.stats)
    p = producer(a.brokers)
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": "faults-replay-%s" % uuid.uuid4(),
                  "enable.auto.commit": False, "enable.partition.eof": True})
    md = c.list_topics(timeout=10)
    for topic in INPUTS:
        if topic not in md.topics:
            continue
        parts = []
        for pid in sorted(md.topics[topic].partitions):
            lo, hi = c.get_watermark_offsets(TopicPartition(topic, pid), timeout=10)
            if hi > lo:
                parts.append((pid, lo, hi))
        if not parts:
            continue
        c.assign([TopicPartition(topic, pid, lo) for pid, lo, _ in parts])
        ends = {pid: hi for pid, _, hi in parts}
        done, deadline = set(), time.time() + 120
        while len(done) < len(parts) and time.time() < deadline:
            msg = c.poll(0.2)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == -191:
                    done.add(msg.partition())
                continue
            if msg.offset() >= ends[msg.partition()]:
                done.add(msg.partition())
                continue
            if not is_copy(msg):
                copy(p, msg, stats)
            if msg.offset() + 1 >= ends[msg.partition()]:
                done.add(msg.partition())
        c.unassign()
    left = p.flush(30)
    stats.write(force=True)
    c.close()
    print("replayed %d messages: %s" % (sum(stats.copied.values()), stats.copied))
    return 1 if left else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["follow", "replay"])
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--stats", required=True)
    a = ap.parse_args()
    return follow(a) if a.cmd == "follow" else replay(a)


if __name__ == "__main__":
    sys.exit(main())
