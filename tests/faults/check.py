#!/usr/bin/env python3
"""check.py: the end check of a fault scenario (tests/faults/): did every submitted run reach its
correct terminal state exactly once, and did no effect happen twice?

Reads Redis (a tiny RESP client, no module needed), the step side-effect file written by
`acms-stepload --touch` ("<run> <step> <attempt>" per execution) and acms.exec.results (kcat).
Waits (up to --settle seconds) for the asynchronous consumers (monitor, feedback) to catch up,
then prints every problem found and one summary line:

    submitted=N terminal=N lost=L duplicated=D

lost: a run not in its expected terminal state, a step not in its expected state, a run without
its execution result, feedback record or closed monitoring session, a per-pipeline counter below
the number of runs.
duplicated: a (run, step, attempt) executed twice, a step executed again after an attempt of it
succeeded, two successful attempts recorded, more than one DISTINCT execution-result event id per
run (a redelivered result keeps its derived id and is de-duplicated downstream, so raw copies with
the same ce_id are reported as information only), a monitoring session counting more attempts than
were claimed, a per-pipeline counter above the number of runs, an adaptation record stored twice.
Exit status 0 when lost == duplicated == 0 and terminal == submitted >= --min-runs, else 1.
"""
import argparse
import collections
import json
import re
import socket
import subprocess
import sys
import time

TERMINAL = {"succeeded", "failed", "cancelled", "rejected"}


class Redis:
    """Just enough RESP2 for pipelined commands."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=30)
        self.rf = self.sock.makefile("rb")

    @staticmethod
    def _enc(args):
        out = [b"*%d\r\n" % len(args)]
        for a in args:
            b = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(b), b))
        return b"".join(out)

    def _read(self):
        line = self.rf.readline()
        if not line:
            raise IOError("redis closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RuntimeError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            if n < 0:
                return None
            data = self.rf.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise IOError("bad RESP reply %r" % line)

    def pipe(self, cmds, chunk=500):
        replies = []
        for i in range(0, len(cmds), chunk):
            part = cmds[i:i + chunk]
            self.sock.sendall(b"".join(self._enc(c) for c in part))
            replies.extend(self._read() for _ in part)
        return replies

    def one(self, *args):
        return self.pipe([list(args)])[0]


def as_hash(reply):
    if not isinstance(reply, list):
        return {}
    return {reply[i]: reply[i + 1] for i in range(0, len(reply) - 1, 2)}


def read_runs(path):
    runs = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                runs.append(line)
    return runs


def read_touch(path):
    lines = collections.Counter()
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 3:
                    lines[(parts[0], parts[1], int(parts[2]))] += 1
    except FileNotFoundError:
        pass
    return lines


def read_results(brokers, topic):
    """{run: Counter(ce_id -> copies)} from the whole topic."""
    out = collections.defaultdict(collections.Counter)
    try:
        text = subprocess.run(["kcat", "-b", brokers, "-C", "-t", topic, "-e", "-o", "beginning", "-q",
                               "-f", "%k\t%h\n"], capture_output=True, timeout=120, check=False).stdout
    except subprocess.TimeoutExpired:
        return None
    for line in text.decode(errors="replace").splitlines():
        key, _, hdrs = line.partition("\t")
        m = re.search(r"(?:^|,)ce_id=([^,]*)", hdrs)
        out[key][m.group(1) if m else "?"] += 1
    return out


def baseline_n(value):
    m = re.match(r"n=(\d+);", value or "")
    return int(m.group(1)) if m else 0


class Report:
    def __init__(self, verbose_max=15):
        self.lost = 0
        self.dup = 0
        self.shown = collections.Counter()
        self.max = verbose_max

    def _say(self, kind, what):
        self.shown[kind] += 1
        if self.shown[kind] <= self.max:
            print("%s: %s" % (kind, what))
        elif self.shown[kind] == self.max + 1:
            print("%s: ... (more not shown)" % kind)

    def lose(self, what, n=1):
        self.lost += n
        self._say("LOST", what)

    def double(self, what, n=1):
        self.dup += n
        self._say("DUPLICATED", what)


def statuses(r, runs):
    return r.pipe([["HGET", "acms:run:%s" % run, "status"] for run in runs])


def settle(r, runs, deadline):
    """Waits until every run is terminal, has its feedback record and a closed monitor session."""
    while True:
        st = statuses(r, runs)
        fb = r.pipe([["EXISTS", "acms:feedback:run:%s" % run] for run in runs])
        ms = r.pipe([["HGET", "acms:monitor:session:%s" % run, "status"] for run in runs])
        pending = sum(1 for s, f, m in zip(st, fb, ms) if s not in TERMINAL or f != 1 or m != "closed")
        if pending == 0 or time.time() >= deadline:
            return pending
        time.sleep(0.5)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--redis-port", type=int, required=True)
    ap.add_argument("--brokers", required=True)
    ap.add_argument("--runs", required=True, help="file: one acknowledged run id per line")
    ap.add_argument("--touch", required=True, help="the acms-stepload --touch file")
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--steps", required=True, help="step names, comma-separated")
    ap.add_argument("--expect", default="succeeded")
    ap.add_argument("--min-runs", type=int, default=200)
    ap.add_argument("--settle", type=float, default=60)
    ap.add_argument("--results-topic", default="acms.exec.results")
    ap.add_argument("--min-lost-attempts", type=int, default=0,
                    help="at least this many attempts recorded LOST (the fault hit running steps)")
    ap.add_argument("--fix-key", default="", help="acms:learn:fix:<code> field '<id>:offered' expected == runs")
    a = ap.parse_args()

    runs = read_runs(a.runs)
    steps = a.steps.split(",")
    r = Redis(a.redis_port)
    rep = Report()
    if len(set(runs)) != len(runs):
        print("note: a run id was acknowledged twice by the submitter")
    pending = settle(r, runs, time.time() + a.settle)
    if pending:
        print("note: %d run(s) still unsettled after %.0f s" % (pending, a.settle))

    st = statuses(r, runs)
    terminal = sum(1 for s in st if s in TERMINAL)
    touch = read_touch(a.touch)
    executed = collections.defaultdict(list)  # (run, step) -> attempts executed (with repeats)
    for (run, step, att), n in touch.items():
        if n > 1:
            rep.double("run %s step %s attempt %d executed %d times" % (run, step, att, n), n - 1)
        executed[(run, step)].extend([att] * n)

    # per run: state, steps, attempts
    step_cmds = []
    for run in runs:
        for s in steps:
            step_cmds.append(["HGETALL", "acms:run:%s:step:%s" % (run, s)])
    step_hashes = r.pipe(step_cmds)
    run_hashes = r.pipe([["HGETALL", "acms:run:%s" % run] for run in runs])
    sessions = r.pipe([["HGETALL", "acms:monitor:session:%s" % run] for run in runs])
    feedback = r.pipe([["EXISTS", "acms:feedback:run:%s" % run] for run in runs])
    adaptations = r.pipe([["LRANGE", "acms:run:%s:adaptations" % run, 0, -1] for run in runs])
    ok_runs = 0
    lost_attempts = 0
    for i, run in enumerate(runs):
        status = st[i]
        if status != a.expect:
            rh = as_hash(run_hashes[i])
            rep.lose("run %s status %r (expected %s)%s" % (run, status, a.expect,
                     (": " + rh.get("reason", "")[:160]) if rh.get("reason") else ""))
        else:
            ok_runs += 1
        claimed = 0
        for j, s in enumerate(steps):
            h = as_hash(step_hashes[i * len(steps) + j])
            attempt = int(h.get("attempt", "0") or 0)
            claimed += attempt
            if a.expect == "succeeded" and status == "succeeded" and h.get("status") != "succeeded":
                rep.lose("run %s step %s status %r in a succeeded run" % (run, s, h.get("status")))
            try:
                atts = json.loads(h.get("attempts") or "[]")
            except ValueError:
                atts = []
                rep.lose("run %s step %s: unreadable attempts list" % (run, s))
            ok = [t.get("attempt") for t in atts if t.get("reason") == "OK"]
            lost_attempts += sum(1 for t in atts if t.get("reason") == "LOST")
            if len(ok) > 1:
                rep.double("run %s step %s: %d successful attempts recorded %s" % (run, s, len(ok), ok), len(ok) - 1)
            nums = [t.get("attempt") for t in atts]
            if len(nums) != len(set(nums)):
                rep.double("run %s step %s: an attempt recorded twice %s" % (run, s, nums), len(nums) - len(set(nums)))
            done_at = ok[0] if ok else (attempt if h.get("status") == "succeeded" else None)
            for att in executed.get((run, s), []):
                if att > attempt:
                    rep.double("run %s step %s: attempt %d executed but never claimed (last claimed %d)"
                               % (run, s, att, attempt))
                elif done_at is not None and att > done_at:
                    rep.double("run %s step %s: executed again (attempt %d) after attempt %d succeeded"
                               % (run, s, att, done_at))
            if h.get("status") == "succeeded" and done_at is not None and done_at not in executed.get((run, s), []):
                rep.lose("run %s step %s succeeded at attempt %s but never executed it" % (run, s, done_at))
        sess = as_hash(sessions[i])
        if status in TERMINAL and status != "rejected":
            if sess.get("status") != "closed":
                rep.lose("run %s: monitoring session %r" % (run, sess.get("status")))
            if int(sess.get("attempts", "0") or 0) > claimed:
                rep.double("run %s: monitoring session counts %s attempts, %d claimed" % (run, sess.get("attempts"), claimed))
            if feedback[i] != 1:
                rep.lose("run %s: no feedback record" % run)
        ad = adaptations[i] if isinstance(adaptations[i], list) else []
        dups = [x for x, n in collections.Counter(ad).items() if n > 1]
        if dups:
            rep.double("run %s: adaptation record stored twice: %s" % (run, dups[0][:160]), len(ad) - len(set(ad)))

    # execution results: exactly one distinct event id per run
    results = read_results(a.brokers, a.results_topic)
    raw_copies = 0
    if results is None:
        rep.lose("could not read %s" % a.results_topic, len(runs))
    else:
        for i, run in enumerate(runs):
            ids = results.get(run, {})
            raw_copies += sum(ids.values()) - len(ids)
            if st[i] in TERMINAL and st[i] != "rejected" and not ids:
                rep.lose("run %s: no execution result on %s" % (run, a.results_topic))
            if len(ids) > 1:
                rep.double("run %s: %d distinct execution results %s" % (run, len(ids), dict(ids)), len(ids) - 1)
    if raw_copies:
        print("note: %d redelivered copies of execution results with the same ce_id (de-duplicated downstream)"
              % raw_copies)

    # per-pipeline counters: one count per run
    n_expected = ok_runs if a.expect == "succeeded" else 0
    if a.expect == "succeeded":
        for s in steps:
            fs = as_hash(r.one("HGETALL", "acms:feedback:stats:%s:%s" % (a.pipeline, s)))
            got = int(fs.get("runs", "0") or 0)
            if got > n_expected:
                rep.double("feedback stats %s/%s: runs=%d for %d runs" % (a.pipeline, s, got, n_expected), got - n_expected)
            elif got < n_expected:
                rep.lose("feedback stats %s/%s: runs=%d for %d runs" % (a.pipeline, s, got, n_expected), n_expected - got)
            bl = as_hash(r.one("HGETALL", "acms:monitor:baseline:%s:%s" % (a.pipeline, s)))
            got = baseline_n(bl.get("wall_ms"))
            if got > n_expected:
                rep.double("monitor baseline %s/%s: n=%d for %d successful attempts" % (a.pipeline, s, got, n_expected),
                           got - n_expected)
            elif got < n_expected:
                rep.lose("monitor baseline %s/%s: n=%d for %d successful attempts" % (a.pipeline, s, got, n_expected),
                         n_expected - got)
            print("counters %s: feedback runs=%s clean_runs=%s, monitor baseline n=%d"
                  % (s, fs.get("runs"), fs.get("clean_runs"), got))
    if a.fix_key:
        key, _, fld = a.fix_key.partition(" ")
        got = int(r.one("HGET", key, fld) or 0)
        print("counters %s %s=%d" % (key, fld, got))
        if got > len(runs):
            rep.double("%s %s=%d for %d runs" % (key, fld, got, len(runs)), got - len(runs))
        elif got < len(runs):
            rep.lose("%s %s=%d for %d runs" % (key, fld, got, len(runs)), len(runs) - got)

    n_exec = sum(touch.values())
    print("executions=%d (distinct run/step/attempt %d), attempts recorded LOST=%d"
          % (n_exec, len(touch), lost_attempts))
    print("submitted=%d terminal=%d lost=%d duplicated=%d" % (len(runs), terminal, rep.lost, rep.dup))
    if len(runs) < a.min_runs:
        print("FAIL: only %d runs submitted (at least %d required)" % (len(runs), a.min_runs))
        return 1
    if lost_attempts < a.min_lost_attempts:
        print("FAIL: %d attempts recorded LOST, at least %d expected: the fault did not hit running steps"
              % (lost_attempts, a.min_lost_attempts))
        return 1
    return 0 if rep.lost == 0 and rep.dup == 0 and terminal == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
