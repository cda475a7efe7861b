#!/usr/bin/python3
"""publish_config.py: a third-party publisher of ACMS config events, written against proto/ only.

It shows (and the interop test checks) that anyone can start a run from their own system, in
another language, with no ACMS code: it turns a Pipeline document (YAML or JSON) into the
acms.v1.Value tree, wraps it in an acms.v1.ConfigSubmitted with its EventMeta, and publishes it to
acms.config.submitted keyed by the run id with the CloudEvents Kafka-binding headers and a W3C
traceparent, using Debian's python3-confluent-kafka, python3-protobuf and python3-yaml and
classes generated from proto/ by protoc (protobuf-compiler):

  protoc --python_out=GEN -Iproto proto/acms/v1/*.proto
  publish_config.py --gen GEN --brokers HOST:PORT --env dev FILE.yaml

It never touches Redis: the adapter creates the run's record (acms:run:<run>) on its own.
Prints one JSON line: {"run_id", "event_id", "traceparent", "topic", "partition", "offset"}.
Exit status: 0 published, 1 not acknowledged by the broker, 2 usage or unusable input.
"""
import argparse
import json
import os
import re
import secrets
import sys
import time
import uuid

SCHEMA_VERSION = 1  # ACMS_SCHEMA_VERSION (common/acms.h); other versions are dead-lettered
NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\Z")
NULLS = {"", "~", "null", "Null", "NULL"}
BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False}


def fail(msg, code=2):
    sys.stderr.write("publish_config: %s\n" % msg)
    sys.exit(code)


def to_value(node, pb, yaml):
    """A PyYAML node -> acms.v1.Value, with the YAML 1.2 core schema for plain scalars (the same
    rules as common/doc.c) and 1-based line/column of the node."""
    v = pb.Value()
    v.line = node.start_mark.line + 1
    v.column = node.start_mark.column + 1
    if isinstance(node, yaml.ScalarNode):
        s = node.value
        if node.style is None and s in NULLS:
            v.null_value = True
        elif node.style is None and s in BOOLS:
            v.bool_value = BOOLS[s]
        elif node.style is None and NUMBER.match(s):
            v.number_value = float(s)
        else:
            v.string_value = s
    elif isinstance(node, yaml.SequenceNode):
        v.list_value.SetInParent()
        for item in node.value:
            v.list_value.values.append(to_value(item, pb, yaml))
    elif isinstance(node, yaml.MappingNode):
        v.map_value.SetInParent()
        for k, item in node.value:
            if not isinstance(k, yaml.ScalarNode):
                fail("line %d: map keys must be scalars" % (k.start_mark.line + 1))
            e = v.map_value.entries.add()
            e.key = k.value
            e.value.CopyFrom(to_value(item, pb, yaml))
    else:
        fail("line %d: unsupported YAML node" % v.line)
    return v


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", help="Pipeline document, YAML or JSON")
    ap.add_argument("--env", required=True, help="execution environment (dev, staging, prod, ...)")
    ap.add_argument("--gen", required=True, help="directory of the classes protoc generated from proto/")
    ap.add_argument("--brokers", default=os.environ.get("ACMS_KAFKA_BROKERS", "127.0.0.1:9092"))
    ap.add_argument("--topic", default=os.environ.get("ACMS_TOPIC_CONFIG_SUBMITTED", "acms.config.submitted"))
    ap.add_argument("--run-id", default=None, help="default: a new UUID")
    ap.add_argument("--event-id", default=None, help="default: a new UUID")
    ap.add_argument("--source", default="/interop/python", help="ce_source header")
    a = ap.parse_args()

    sys.path.insert(0, a.gen)
    try:
        import yaml
        from confluent_kafka import Producer
        from acms.v1 import events_pb2, meta_pb2, value_pb2  # noqa: F401 (meta, value: nested types)
    except ImportError as e:
        fail("%s (Debian: python3-yaml python3-confluent-kafka python3-protobuf; protoc --python_out)" % e)

    try:
        with open(a.file, encoding="utf-8") as f:
            docs = [d for d in yaml.compose_all(f) if d is not None]
    except (OSError, yaml.YAMLError) as e:
        fail("%s: %s" % (a.file, e))
    doc = None
    for d in docs:
        if isinstance(d, yaml.MappingNode) and any(
                k.value == "kind" and getattr(v, "value", None) == "Pipeline" for k, v in d.value):
            doc = d
            break
    if doc is None:
        fail("%s: no document of kind Pipeline" % a.file)
    meta = next((v for k, v in doc.value if k.value == "metadata"), None)
    pipeline = ""
    if isinstance(meta, yaml.MappingNode):
        pipeline = next((v.value for k, v in meta.value if k.value == "name" and isinstance(v, yaml.ScalarNode)), "")

    run_id = a.run_id or str(uuid.uuid4())
    event_id = a.event_id or str(uuid.uuid4())
    traceparent = "00-%s-%s-01" % (secrets.token_hex(16), secrets.token_hex(8))
    now_ms = int(time.time() * 1000)

    ev = events_pb2.ConfigSubmitted()
    ev.meta.event_id = event_id
    ev.meta.run_id = run_id
    ev.meta.schema_version = SCHEMA_VERSION
    ev.meta.timestamp_ms = now_ms
    ev.meta.source = "python-interop"
    ev.meta.traceparent = traceparent
    ev.environment = a.env
    ev.document.CopyFrom(to_value(doc, value_pb2, yaml))
    ev.source_name = a.file
    ev.submitted_by = os.environ.get("USER", "interop")
    payload = ev.SerializeToString()

    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", a.source.encode()),
        ("ce_type", ev.DESCRIPTOR.full_name.encode()),  # acms.v1.ConfigSubmitted
        ("ce_time", time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now_ms / 1000)).encode()
         + (".%03dZ" % (now_ms % 1000)).encode()),
        ("content-type", b"application/protobuf"),
        ("traceparent", traceparent.encode()),
    ]
    delivered = []

    def on_delivery(err, msg):
        delivered.append((err, msg))

    p = Producer({"bootstrap.servers": a.brokers, "enable.idempotence": True, "linger.ms": 0})
    p.produce(a.topic, key=run_id.encode(), value=payload, headers=headers, on_delivery=on_delivery)
    left = p.flush(15)
    if left or not delivered or delivered[0][0] is not None:
        fail("not acknowledged by %s: %s" % (a.brokers, delivered[0][0] if delivered else "timeout"), 1)
    msg = delivered[0][1]
    print(json.dumps({"run_id": run_id, "event_id": event_id, "traceparent": traceparent,
                      "pipeline": pipeline,
                      "topic": msg.topic(), "partition": msg.partition(), "offset": msg.offset()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
