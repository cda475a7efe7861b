#!/usr/bin/env python3
"""kafka_acls.py BROKERS PRINCIPAL_PREFIX [--deny-write SERVICE:TOPIC]...: the ACLs of each ACMS
service principal (User:<prefix><service>) on a broker with an authorizer, through the Admin API
(as the PLAINTEXT listener's super user): READ on its input topics and its consumer group, WRITE on
its output topics and the dead-letter topic; acmsctl's principal (User:<prefix>acmsctl) WRITE on
acms.config.submitted and acms.control, READ on everything else it follows. --deny-write leaves out
one WRITE (a principal that must fail on that topic)."""
import sys

from confluent_kafka.admin import (AclBinding, AclOperation, AclPermissionType, AdminClient,
                                   ResourcePatternType, ResourceType)

SERVICES = {  # inputs, outputs (DESIGN.md)
    "adapter": (["acms.config.submitted", "acms.exec.adaptations"],
                ["acms.config.prepared", "acms.validation.results", "acms.exec.adapted"]),
    "validator": (["acms.config.prepared", "acms.exec.steps"], ["acms.config.validated", "acms.validation.results"]),
    "coordinator": (["acms.config.validated", "acms.exec.adapted", "acms.control"],
                    ["acms.exec.steps", "acms.exec.results"]),
    "monitor": (["acms.exec.steps"], ["acms.monitor.alerts", "acms.exec.adaptations"]),
    "feedback": (["acms.exec.results", "acms.validation.results", "acms.monitor.alerts"], ["acms.feedback.insights"]),
    "acmsctl": ([], ["acms.config.submitted", "acms.control"]),
}


def binding(principal, rtype, name, op):
    return AclBinding(rtype, name, ResourcePatternType.LITERAL, principal, "*", op, AclPermissionType.ALLOW)


def main():
    brokers, prefix = sys.argv[1], sys.argv[2]
    deny = set()
    args = sys.argv[3:]
    while args:
        if args[0] == "--deny-write" and len(args) > 1:
            deny.add(tuple(args[1].split(":", 1)))
            args = args[2:]
        else:
            sys.exit("usage: kafka_acls.py BROKERS PREFIX [--deny-write SERVICE:TOPIC]...")
    acls = []
    for svc, (ins, outs) in SERVICES.items():
        principal = "User:%s%s" % (prefix, svc)
        for t in ins:
            acls.append(binding(principal, ResourceType.TOPIC, t, AclOperation.READ))
        if ins:
            acls.append(binding(principal, ResourceType.GROUP, "acms-" + svc, AclOperation.READ))
        for t in outs + ["acms.deadletter"]:
            if (svc, t) not in deny:
                acls.append(binding(principal, ResourceType.TOPIC, t, AclOperation.WRITE))
    fs = AdminClient({"bootstrap.servers": brokers}).create_acls(acls, request_timeout=30)
    for f in fs.values():
        f.result()
    print("%d ACLs for %d principals%s" % (len(acls), len(SERVICES), " (without WRITE: %s)" % sorted(deny) if deny else ""))


if __name__ == "__main__":
    main()
