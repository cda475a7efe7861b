#!/usr/bin/env python3
"""poison.py: poison messages for scenario 4 (tests/faults/test_faults_poison.sh).

  poison.py inject --py DIR --brokers B --manifest FILE [--kinds random,truncated,...]
      For every input topic, five kinds of poison: random bytes, a truncated protobuf (a real
      message of the topic, or a well-formed one, cut in the middle), an unknown schema version,
      a 2 MB payload (a well-formed message padded past the size cap), and valid protobuf with
      impossible content (decodes, meta and schema are right, but what the message must carry is
      missing or absurd). Each is produced with a printable key "poison-<kind>" and its origin
      (topic, partition, offset) is written to the manifest.
  poison.py verify --py DIR --brokers B --manifest FILE [--timeout S]
      Every poison message must appear on acms.deadletter once per consuming service, with a
      reason, the service name and its origin (topic, partition, offset). Prints what is missing.

DIR holds the Python classes generated from proto/ (protoc --python_out=DIR). Needs
python3-confluent-kafka and python3-protobuf (Debian packages, installed by `make deps`).
"""
import argparse
import json
import os
import sys
import time
import uuid

# topic -> message class name, services consuming it (docs/architecture.md)
INPUTS = {
    "acms.config.submitted": ("events_pb2.ConfigSubmitted", ["acms-adapter"]),
    "acms.exec.adaptations": ("monitor_pb2.AdaptationOpportunity", ["acms-adapter"]),
    "acms.config.prepared": ("runtime_pb2.ConfigPrepared", ["acms-validator"]),
    "acms.exec.steps": ("exec_pb2.StepEvent", ["acms-validator", "acms-monitor"]),
    "acms.config.validated": ("validation_pb2.ConfigValidated", ["acms-coordinator"]),
    "acms.exec.adapted": ("runtime_pb2.AdaptedEvent", ["acms-coordinator"]),
    "acms.control": ("events_pb2.ControlEvent", ["acms-coordinator"]),
    "acms.exec.results": ("exec_pb2.ExecutionResult", ["acms-feedback"]),
    "acms.validation.results": ("validation_pb2.ValidationResultEvent", ["acms-feedback"]),
    "acms.monitor.alerts": ("monitor_pb2.Alert", ["acms-feedback"]),
}
KINDS = ["random", "truncated", "schema", "oversize", "impossible"]
SCHEMA_VERSION = 1


def load_classes(py_dir):
    sys.path.insert(0, py_dir)
    import importlib
    mods = {}
    for name in ("events_pb2", "exec_pb2", "monitor_pb2", "runtime_pb2", "validation_pb2", "config_pb2"):
        mods[name] = importlib.import_module("acms.v1." + name)
    return mods


def cls(mods, dotted):
    mod, name = dotted.split(".")
    return getattr(mods[mod], name)


def meta(msg, run_id):
    msg.meta.event_id = str(uuid.uuid4())
    msg.meta.run_id = run_id
    msg.meta.schema_version = SCHEMA_VERSION
    msg.meta.timestamp_ms = int(time.time() * 1000)
    msg.meta.source = "poison.py"


def well_formed(mods, topic, run_id):
    """A plausible message of the topic (the base of truncated/schema/oversize)."""
    m = cls(mods, INPUTS[topic][0])()
    meta(m, run_id)
    name = type(m).__name__
    if name == "ConfigSubmitted":
        m.environment = "dev"
        m.source_name = "poison.yaml"
        m.submitted_by = "poison"
    elif name == "AdaptationOpportunity":
        m.pipeline, m.environment, m.step, m.attempt = "poison", "dev", "train", 1
        m.kind, m.field, m.current_value, m.proposed_value = "memory_up", "memory_mb", "256", "512"
        m.reason, m.safety_score, m.step_running = "poison", 0.9, True
    elif name in ("ConfigPrepared", "ConfigValidated"):
        m.runtime.pipeline.name = "poison"
        s = m.runtime.pipeline.steps.add()
        s.name = "a"
        s.command.extend(["true"])
        if name == "ConfigValidated":
            m.result.valid = True
    elif name == "StepEvent":
        m.pipeline, m.environment, m.step, m.attempt = "poison", "dev", "a", 1
        m.kind = 3
        m.metrics.wall_ms = 1000
    elif name == "AdaptedEvent":
        m.step, m.memory_mb = "a", 512
    elif name == "ControlEvent":
        m.action, m.reason = 1, "poison"
    elif name == "ExecutionResult":
        m.pipeline, m.environment, m.success = "poison", "dev", True
        s = m.steps.add()
        s.name = "a"
    elif name == "ValidationResultEvent":
        m.pipeline, m.environment = "poison", "dev"
        m.result.valid = True
    elif name == "Alert":
        m.pipeline, m.environment, m.step = "poison", "dev", "a"
        m.severity, m.name, m.dedup_key, m.summary = "warning", "PoisonAlert", "poison", "poison"
    return m


def impossible(mods, topic, run_id):
    """Decodes, meta and schema version are right, but the content cannot be: what the message
    type exists to carry is missing or nonsensical."""
    m = cls(mods, INPUTS[topic][0])()
    meta(m, run_id)
    name = type(m).__name__
    if name == "ConfigSubmitted":
        m.environment = "dev"            # neither a document nor a config reference
    elif name == "AdaptationOpportunity":
        m.kind = "memory_up"             # for no step, with no values
    elif name in ("ConfigPrepared", "ConfigValidated"):
        if name == "ConfigValidated":
            m.result.valid = True        # "valid", but no runtime configuration at all
    elif name == "StepEvent":
        m.kind = 99                      # an unknown kind, for no step
    elif name == "AdaptedEvent":
        m.memory_mb = 1 << 62            # an absurd memory for no step
    elif name == "ControlEvent":
        m.action = 0                     # no action
    elif name == "ExecutionResult":
        m.success = True                 # a result of no pipeline with no steps
    elif name == "ValidationResultEvent":
        pass                             # no result
    elif name == "Alert":
        m.severity = "catastrophic"      # unknown severity, no name, no key
    return m


def sample(brokers, topic, timeout=10.0):
    """The first real message of a topic, or None."""
    from confluent_kafka import Consumer, TopicPartition
    c = Consumer({"bootstrap.servers": brokers, "group.id": "poison-sample-%s" % uuid.uuid4(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        md = c.list_topics(topic, timeout=timeout)
        parts = sorted(md.topics[topic].partitions) if topic in md.topics else []
        c.assign([TopicPartition(topic, p, 0) for p in parts])
        deadline = time.time() + timeout
        while time.time() < deadline:
            msg = c.poll(0.5)
            if msg is not None and not msg.error() and msg.value() and not (msg.key() or b"").startswith(b"poison-"):
                return msg.value()
        return None
    finally:
        c.close()


def inject(a):
    from confluent_kafka import Producer
    mods = load_classes(a.py)
    p = Producer({"bootstrap.servers": a.brokers, "message.max.bytes": 1048576, "batch.size": 1048576, "linger.ms": 5,
                  "enable.idempotence": True})
    sent = []

    def dr(err, msg, rec):
        if err:
            print("delivery failed: %s" % err, file=sys.stderr)
            return
        rec.update(partition=msg.partition(), offset=msg.offset())
        sent.append(rec)

    for topic in INPUTS:
        run_id = str(uuid.uuid4())
        base = sample(a.brokers, topic, 5.0) if topic in ("acms.config.submitted", "acms.config.prepared",
                                                        "acms.config.validated", "acms.exec.results") else None
        base = base or well_formed(mods, topic, run_id).SerializeToString()
        wf = well_formed(mods, topic, run_id)
        payloads = {
            "random": os.urandom(400),
            "truncated": base[: max(1, len(base) // 2)] + b"\x0a\xff",
            "schema": None,
            "oversize": None,
            "impossible": impossible(mods, topic, run_id).SerializeToString(),
        }
        wf.meta.schema_version = 99
        payloads["schema"] = wf.SerializeToString()
        wf.meta.schema_version = SCHEMA_VERSION
        # a well-formed message past the consumers' guard (ACMS_MAX_MESSAGE_BYTES, 1 MiB - 16 KiB) yet
        # within the bus limit (1 MiB, a real broker's max.message.bytes): 1,040,000 bytes in all
        wf.meta.source = ""
        wf.meta.source = "x" * (1040000 - wf.ByteSize() - 4)
        payloads["oversize"] = wf.SerializeToString()
        for kind in a.kinds.split(","):
            rec = {"topic": topic, "kind": kind, "size": len(payloads[kind]), "services": INPUTS[topic][1]}
            p.produce(topic, payloads[kind], key=("poison-%s" % kind).encode(),
                      on_delivery=lambda err, msg, rec=rec: dr(err, msg, rec))
            p.poll(0)
    left = p.flush(30)
    want = len(INPUTS) * len(a.kinds.split(","))
    if left or len(sent) != want:
        print("only %d of %d poison messages acknowledged" % (len(sent), want), file=sys.stderr)
        return 1
    with open(a.manifest, "w") as f:
        json.dump(sent, f, indent=1)
    print("injected %d poison messages on %d topics" % (len(sent), len(INPUTS)))
    return 0


def read_deadletters(mods, brokers):
    from confluent_kafka import Consumer, TopicPartition
    DL = cls(mods, "events_pb2.DeadLetter")
    c = Consumer({"bootstrap.servers": brokers, "group.id": "poison-verify-%s" % uuid.uuid4(),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest", "enable.partition.eof": True})
    out = []
    try:
        md = c.list_topics("acms.deadletter", timeout=10)
        parts = sorted(md.topics["acms.deadletter"].partitions)
        c.assign([TopicPartition("acms.deadletter", p, 0) for p in parts])
        eof = set()
        deadline = time.time() + 30
        while len(eof) < len(parts) and time.time() < deadline:
            msg = c.poll(0.5)
            if msg is None:
                continue
            if msg.error():
                if msg.error().code() == -191:  # _PARTITION_EOF
                    eof.add(msg.partition())
                continue
            d = DL()
            d.ParseFromString(msg.value())
            out.append(d)
    finally:
        c.close()
    return out


def verify(a):
    mods = load_classes(a.py)
    with open(a.manifest) as f:
        sent = json.load(f)
    deadline = time.time() + a.timeout
    while True:
        dls = read_deadletters(mods, a.brokers)
        by_origin = {}
        for d in dls:
            by_origin.setdefault((d.origin_topic, d.origin_partition, d.origin_offset), []).append(d)
        missing, bad = [], []
        for s in sent:
            got = by_origin.get((s["topic"], s["partition"], s["offset"]), [])
            services = {d.service for d in got}
            for svc in s["services"]:
                if svc not in services:
                    missing.append("%s %s[%d]@%d by %s" % (s["kind"], s["topic"], s["partition"], s["offset"], svc))
            for d in got:
                if not d.reason or not d.service or d.payload_size != s["size"]:
                    bad.append("%s %s: reason %r service %r payload_size %d (sent %d)"
                               % (s["kind"], s["topic"], d.reason, d.service, d.payload_size, s["size"]))
        if (not missing and not bad) or time.time() >= deadline:
            break
        time.sleep(1)
    expected = sum(len(s["services"]) for s in sent)
    for s in sent:
        for d in by_origin.get((s["topic"], s["partition"], s["offset"]), []):
            print("  %-24s %-10s -> %-16s %s" % (s["topic"], s["kind"], d.service, d.reason))
    for m in missing:
        print("MISSING dead letter: %s" % m)
    for b in bad:
        print("BAD dead letter: %s" % b)
    print("deadletters: %d poison messages, %d dead letters expected, %d missing, %d malformed"
          % (len(sent), expected, len(missing), len(bad)))
    return 0 if not missing and not bad else 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["inject", "verify"])
    ap.add_argument("--py", required=True)
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated subset of " + ",".join(KINDS))
    a = ap.parse_args()
    return inject(a) if a.cmd == "inject" else verify(a)


if __name__ == "__main__":
    sys.exit(main())
