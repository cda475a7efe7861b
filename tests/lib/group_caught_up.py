#!/usr/bin/env python3
"""group_caught_up.py: waits until a consumer group has handled every message that was on the given
topics when it started: the end offsets (high watermarks) are read once, then the group's committed
offsets are polled until each partition's reaches its end. The services store an offset only after
its message was handled and that handling's output acknowledged (common/kafka_loop.c), so once this
returns, everything the group produces for those messages is on the bus and its side effects (a
webhook call) are done: a marker for "nothing more will come from what was sent so far", in place of
a sleep. Exit 0 when caught up; 1 with the remaining lag per partition after --timeout seconds.

  group_caught_up.py --brokers B --group G [--timeout S] TOPIC [TOPIC...]

Needs python3-confluent-kafka (make deps).
"""
import argparse
import sys
import time

from confluent_kafka import Consumer, TopicPartition


def ends(c, topics):
    """{(topic, partition): high watermark} for every partition of the topics, read now."""
    out = {}
    for t in topics:
        md = c.list_topics(t, timeout=10)
        if md.topics[t].error is not None:
            raise SystemExit("group_caught_up: topic %s: %s" % (t, md.topics[t].error))
        for p in md.topics[t].partitions:
            _, hi = c.get_watermark_offsets(TopicPartition(t, p), timeout=10)
            out[(t, p)] = hi
    return out


def lagging(c, want):
    """The partitions whose committed offset (c's group) is still below the end read at start."""
    got = c.committed([TopicPartition(t, p) for (t, p), hi in want.items() if hi > 0], timeout=10)
    return {(tp.topic, tp.partition): want[(tp.topic, tp.partition)] - max(tp.offset, 0)
            for tp in got if tp.offset < want[(tp.topic, tp.partition)]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("topics", nargs="+")
    a = ap.parse_args()
    # never subscribes: it only reads the group's committed offsets, it does not join the group
    c = Consumer({"bootstrap.servers": a.brokers, "group.id": a.group, "enable.auto.commit": False})
    try:
        want = ends(c, a.topics)
        deadline = time.monotonic() + a.timeout
        while True:
            left = lagging(c, want)
            if not left:
                return 0
            if time.monotonic() >= deadline:
                print("group_caught_up: %s still behind after %.0f s: %s" % (a.group, a.timeout, left),
                      file=sys.stderr)
                return 1
            time.sleep(0.2)
    finally:
        c.close()


if __name__ == "__main__":
    sys.exit(main())
