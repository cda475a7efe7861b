#!/usr/bin/env python3
"""http_worker.py: a step worker for the coordinator's http executor (tests and demos).

Listens on 127.0.0.1 (port 0 = a free one) and prints the port as the first line of stdout.
  POST   /steps       {run_id, step, attempt, command, env, limits{memory_mb, max_runtime_s,
                       cpu_time_s}, output_path} -> 201 {"id": ...}; 422 when the command cannot start
  GET    /steps/<id>  {"status": "running|succeeded|failed", "exit_code", "reason", "peak_rss_kb",
                       "rss_kb", "cpu_ms", "wall_ms", "stderr_tail"}
  DELETE /steps/<id>  stops the step (SIGTERM to its process group, SIGKILL after 2 s)
Each step runs without a shell in its own session, in <work-dir>/<id>, stdout/stderr to files.
Limits are enforced like the local executor: group RSS above memory_mb -> SIGKILL ("memory"),
wall time above max_runtime_s -> SIGTERM then SIGKILL ("time"), CPU above cpu_time_s -> SIGKILL
("cpu_time"). Environment values are used for the child only and never printed.
With --token-file F every request must carry "Authorization: Bearer <the token in F>" (else 401).
With --tls-cert C --tls-key K it serves https; with --client-ca CA as well, every connection must
present a client certificate signed by CA (mTLS; the TLS handshake fails otherwise).
Usage: http_worker.py [--port N] [--work-dir DIR] [--token-file F] [--tls-cert C --tls-key K [--client-ca CA]]
"""
import hmac
import http.server
import json
import os
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

GRACE_S = 2.0
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
HZ = os.sysconf("SC_CLK_TCK")


def vm_hwm_kb(pid):
    try:
        with open("/proc/%s/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def group_usage(pgid):
    """(rss_kb, cpu_ticks, members, max VmHWM) over the live members of process group pgid.
    ru_maxrss is not used for peaks: the kernel copies the pre-exec image's (this worker's)
    high-water mark into the child's at exec."""
    rss = cpu = members = hwm = 0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(")") + 2:].split()
        if len(fields) < 22 or int(fields[2]) != pgid:
            continue
        cpu += sum(int(x) for x in fields[11:15])
        rss += int(fields[21]) * PAGE_KB
        members += 1
        hwm = max(hwm, vm_hwm_kb(d))
    return rss, cpu, members, hwm


def tail(path, max_bytes=2048, max_lines=5):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(0, size - max_bytes))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip("\n").split("\n")[-max_lines:])


class Step:
    def __init__(self, sid, req, workdir):
        self.id = sid
        self.lock = threading.Lock()
        self.status = "running"
        self.exit_code = None
        self.reason = ""
        self.peak_rss_kb = self.rss_kb = self.cpu_ms = self.wall_ms = 0
        self.sampled = False
        limits = req.get("limits") or {}
        self.memory_kb = int(limits.get("memory_mb") or 0) * 1024
        self.max_runtime_s = float(limits.get("max_runtime_s") or 0)
        self.cpu_time_s = float(limits.get("cpu_time_s") or 0)
        self.dir = workdir
        self.stderr_path = os.path.join(workdir, "stderr.log")
        env = {k: str(v) for k, v in (req.get("env") or {}).items()}
        with open(os.path.join(workdir, "stdout.log"), "wb") as out, open(self.stderr_path, "wb") as err:
            self.proc = subprocess.Popen(req["command"], env=env, cwd=workdir, stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=err, start_new_session=True, close_fds=True)
        self.pid = self.proc.pid
        self.start = time.monotonic()
        self.term_at = None
        self.killed = False
        threading.Thread(target=self.monitor, daemon=True).start()

    def signal_group(self, sig):
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, reason):
        with self.lock:
            if self.status != "running" or self.reason:
                return
            self.reason = reason
            self.term_at = time.monotonic()
        self.signal_group(signal.SIGTERM)

    def monitor(self):
        while True:
            try:
                pid, status, ru = os.wait4(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status, ru = self.pid, 0, None
            now = time.monotonic()
            if pid == self.pid:
                self.finish(status, ru, now)
                return
            rss, ticks, members, hwm = group_usage(self.pid)
            with self.lock:
                self.rss_kb = rss
                self.peak_rss_kb = max(self.peak_rss_kb, rss, hwm)
                self.sampled = self.sampled or members > 0
                self.cpu_ms = max(self.cpu_ms, ticks * 1000 // HZ)
                self.wall_ms = int((now - self.start) * 1000)
                kill = None
                if not self.reason and self.memory_kb and rss > self.memory_kb:
                    self.reason, kill = "memory", signal.SIGKILL
                elif not self.reason and self.cpu_time_s and self.cpu_ms > self.cpu_time_s * 1000:
                    self.reason, kill = "cpu_time", signal.SIGKILL
                elif not self.reason and self.max_runtime_s and now - self.start > self.max_runtime_s:
                    self.reason, kill, self.term_at = "time", signal.SIGTERM, now
                elif self.term_at and not self.killed and now - self.term_at > GRACE_S:
                    kill = signal.SIGKILL
                if kill == signal.SIGKILL:
                    self.killed = True
            if kill:
                self.signal_group(kill)
            time.sleep(0.05)

    def finish(self, status, ru, now):
        self.signal_group(signal.SIGKILL)  # stragglers of the group
        with self.lock:
            self.wall_ms = int((now - self.start) * 1000)
            self.rss_kb = 0
            if ru is not None:
                if not self.sampled:  # ended before the first sample: the (inflated) kernel figure
                    self.peak_rss_kb = ru.ru_maxrss
                self.cpu_ms = int((ru.ru_utime + ru.ru_stime) * 1000)
            if os.WIFEXITED(status):
                self.exit_code = os.WEXITSTATUS(status)
            else:
                self.exit_code = -1
            if not self.reason:
                if self.exit_code == 0:
                    self.status = "succeeded"
                    return
                self.reason = "signal" if os.WIFSIGNALED(status) else "nonzero"
            self.status = "failed"

    def view(self):
        with self.lock:
            v = {"id": self.id, "status": self.status, "exit_code": self.exit_code, "reason": self.reason,
                 "peak_rss_kb": self.peak_rss_kb, "rss_kb": self.rss_kb, "cpu_ms": self.cpu_ms,
                 "wall_ms": self.wall_ms}
        if v["status"] == "failed":
            v["stderr_tail"] = tail(self.stderr_path)
        return v


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # requests carry resolved secrets: log nothing but the line
        sys.stderr.write("http_worker: %s %s\n" % (self.command, self.path.split("?")[0]))

    def reply(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def authorized(self):
        token = self.server.token
        if not token or hmac.compare_digest(self.headers.get("Authorization") or "", "Bearer " + token):
            return True
        self.reply(401, {"error": "missing or wrong bearer token"})
        return False

    def step(self):
        parts = self.path.strip("/").split("/")
        if len(parts) == 2 and parts[0] == "steps":
            return self.server.steps.get(parts[1])
        return None

    def do_POST(self):
        if not self.authorized():
            return None
        if self.path.rstrip("/") != "/steps":
            return self.reply(404, {"error": "not found"})
        try:
            n = int(self.headers.get("Content-Length") or 0)
            req = json.loads(self.rfile.read(n) or b"{}")
            if not isinstance(req.get("command"), list) or not req["command"]:
                return self.reply(400, {"error": "command must be a non-empty list"})
        except (ValueError, TypeError):
            return self.reply(400, {"error": "invalid JSON"})
        sid = uuid.uuid4().hex
        workdir = os.path.join(self.server.work_dir, sid)
        os.makedirs(workdir, exist_ok=True)
        try:
            st = Step(sid, req, workdir)
        except OSError as e:
            return self.reply(422, {"error": "cannot start %s: %s" % (req["command"][0], e.strerror)})
        self.server.steps[sid] = st
        sys.stderr.write("http_worker: step %s/%s attempt %s -> %s (pid %d)\n" % (
            req.get("run_id"), req.get("step"), req.get("attempt"), sid, st.pid))
        self.reply(201, {"id": sid})

    def do_GET(self):
        if not self.authorized():
            return None
        st = self.step()
        if self.path.rstrip("/") == "/healthz":
            return self.reply(200, {"ok": True})
        if not st:
            return self.reply(404, {"error": "no such step"})
        self.reply(200, st.view())

    def do_DELETE(self):
        if not self.authorized():
            return None
        st = self.step()
        if not st:
            return self.reply(404, {"error": "no such step"})
        st.stop("cancelled")
        self.reply(200, st.view())


def main():
    port, work_dir, token = 0, None, None
    cert = key = client_ca = None
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "--port" and args:
            port = int(args.pop(0))
        elif a == "--work-dir" and args:
            work_dir = args.pop(0)
        elif a == "--token-file" and args:
            with open(args.pop(0)) as f:
                token = f.read().strip()
        elif a == "--tls-cert" and args:
            cert = args.pop(0)
        elif a == "--tls-key" and args:
            key = args.pop(0)
        elif a == "--client-ca" and args:
            client_ca = args.pop(0)
        else:
            sys.stderr.write(__doc__)
            return 2
    work_dir = work_dir or tempfile.mkdtemp(prefix="acms-http-worker-")
    os.makedirs(work_dir, exist_ok=True)
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.steps = {}
    srv.work_dir = work_dir
    srv.token = token
    if cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        if client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(client_ca)
        srv.socket = ctx.wrap_socket(srv.socket, server_side=True)

    def on_term(sig, frame):
        for st in list(srv.steps.values()):
            st.signal_group(signal.SIGKILL)
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    print(srv.server_address[1], flush=True)
    srv.serve_forever(poll_interval=0.2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
