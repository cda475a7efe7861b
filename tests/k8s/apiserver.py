#!/usr/bin/python3
"""A strict stand-in for the Kubernetes API server and its kubelets, for the kubernetes executor's
tests (docs/kubernetes.md says what a real cluster adds). Loopback only, plain HTTP, bearer token.

API (the calls the executor makes, with the real server's status codes and shapes):
  POST   /api/v1/namespaces/NS/{pods,secrets}             201, 409 AlreadyExists, 400/422 invalid
  POST   /apis/networking.k8s.io/v1/namespaces/NS/networkpolicies
  GET    .../pods/NAME, .../pods/NAME/log, .../pods?labelSelector=...   list with resourceVersion
  GET    .../pods?watch=1&resourceVersion=RV               chunked JSON lines; ERROR 410 when RV was
                                                           compacted; BOOKMARK events
  DELETE .../pods/NAME (DeleteOptions gracePeriodSeconds), secrets, networkpolicies
  PATCH  .../pods/NAME/resize                              404 (no in-place resize here)
  GET    /apis/metrics.k8s.io/v1beta1[/namespaces/NS/pods/NAME]  404 (no metrics API) until
                                                           /_control/metrics-api: then PodMetrics
                                                           with the working set (resident memory) of
                                                           the Pod's process tree
Every object is checked against Debian's python3-kubernetes models: unknown fields, wrong types
and missing required fields are rejected (fieldValidation=Strict), as the real server does.

Kubelet: a scheduled Pod (nodeSelector and required node affinity must match a node of --nodes;
taints must be tolerated) runs its container's command as a local process (env from values and
secretKeyRefs; a missing Secret key is CreateContainerConfigError, retried), its combined output is
the log, its exit code the container's; activeDeadlineSeconds is enforced (DeadlineExceeded).
Images play the other outcomes: */oom -> OOMKilled (137), */evict -> Evicted (DisruptionTarget),
*/pull-error -> ErrImagePull then ImagePullBackOff, anything with ':hang' runs until deleted.
Test control: POST /_control/drop-watches (close every watch abruptly), /_control/compact (the next
watch from an older resourceVersion gets 410), /_control/metrics-api (serve metrics.k8s.io from now
on), GET /_control/state (counters)."""
import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import kubernetes.client as kc
from kubernetes.client import ApiClient

LOCK = threading.Condition()
STORE = {"pods": {}, "secrets": {}, "networkpolicies": {}}   # kind -> {(ns, name): obj}
EVENTS = []          # (rv, type, pod) for pods only
STATE = {"rv": 100, "compacted": 0, "watch_gen": 0, "watches": 0, "lists": 0, "rejected": 0,
         "created": {"pods": 0, "secrets": 0, "networkpolicies": 0}, "deleted": {"pods": 0},
         "last_delete_grace": None, "metrics_api": False}
PROCS = {}           # (ns, name) -> Popen
LOGS = {}            # (ns, name) -> bytes
MODELS = {"pods": "V1Pod", "secrets": "V1Secret", "networkpolicies": "V1NetworkPolicy"}
API = ApiClient()
NODES = []


def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- strict schema check --------------------------------------------------------------------------

def check(value, typ, path, errs):
    """Recursively checks value against a python3-kubernetes type string."""
    if typ.startswith("list["):
        if not isinstance(value, list):
            errs.append("%s: expected a list" % path)
            return
        for i, v in enumerate(value):
            check(v, typ[5:-1], "%s[%d]" % (path, i), errs)
    elif typ.startswith("dict("):
        if not isinstance(value, dict):
            errs.append("%s: expected a map" % path)
            return
        inner = typ[5:-1].split(", ", 1)[1]
        for k, v in value.items():
            check(v, inner, "%s.%s" % (path, k), errs)
    elif typ in ("str",):
        if not isinstance(value, str):
            errs.append("%s: expected a string" % path)
    elif typ in ("int",):
        if not isinstance(value, int) or isinstance(value, bool):
            errs.append("%s: expected an integer" % path)
    elif typ == "bool":
        if not isinstance(value, bool):
            errs.append("%s: expected a boolean" % path)
    elif typ in ("object", "datetime", "float"):
        pass
    else:
        klass = getattr(kc, typ)
        if not isinstance(value, dict):
            errs.append("%s: expected an object (%s)" % (path, typ))
            return
        by_json = {v: k for k, v in klass.attribute_map.items()}
        for k, v in value.items():
            if k not in by_json:
                errs.append('%s: unknown field "%s"' % (path, k))
            elif v is not None:
                check(v, klass.openapi_types[by_json[k]], "%s.%s" % (path, k), errs)


def validate(kind, obj):
    errs = []
    check(obj, MODELS[kind], "", errs)
    if not errs:
        try:  # required fields (client-side validation of the models)
            API._ApiClient__deserialize(obj, MODELS[kind])
        except (ValueError, TypeError) as e:
            errs.append(str(e))
    return errs


# --- objects and events ---------------------------------------------------------------------------

def bump(obj):
    STATE["rv"] += 1
    obj["metadata"]["resourceVersion"] = str(STATE["rv"])
    return STATE["rv"]


def emit(typ, pod):
    rv = bump(pod)
    EVENTS.append((rv, typ, json.loads(json.dumps(public(pod)))))
    del EVENTS[:-5000]
    LOCK.notify_all()


def set_status(pod, **kw):
    pod["status"].update(kw)
    emit("MODIFIED", pod)


def container_status(pod, state, ready=False, restart=0):
    c = pod["spec"]["containers"][0]
    return [{"name": c["name"], "image": c["image"], "imageID": "", "ready": ready, "restartCount": restart,
             "state": state}]


def terminate(pod, code, reason, phase=None, pod_reason=None, message=None):
    st = container_status(pod, {"terminated": {"exitCode": code, "reason": reason, "startedAt": now_iso(),
                                               "finishedAt": now_iso()}})
    extra = {}
    if pod_reason:
        extra["reason"] = pod_reason
    if message:
        extra["message"] = message
    set_status(pod, phase=phase or ("Succeeded" if code == 0 else "Failed"), containerStatuses=st, **extra)


# --- the scheduler and the kubelet -----------------------------------------------------------------

def schedulable(pod):
    spec = pod["spec"]
    tol = spec.get("tolerations") or []
    for node in NODES:
        labels, taints = node["labels"], node.get("taints", [])
        if any(labels.get(k) != v for k, v in (spec.get("nodeSelector") or {}).items()):
            continue
        aff = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
               .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
        terms = aff.get("nodeSelectorTerms") or []
        if terms and not any(all(labels.get(e["key"]) in e.get("values", []) for e in t.get("matchExpressions", []))
                             for t in terms):
            continue
        if any(not any(t.get("key") == x["key"] and (t.get("operator") == "Exists" or t.get("value") == x["value"])
                       for t in tol) for x in taints):
            continue
        return node["name"]
    return None


def container_env(pod):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp"}
    for e in pod["spec"]["containers"][0].get("env") or []:
        if "value" in e:
            env[e["name"]] = e["value"]
            continue
        ref = e["valueFrom"]["secretKeyRef"]
        sec = STORE["secrets"].get((pod["metadata"]["namespace"], ref["name"]))
        data = (sec or {}).get("stringData") or {}
        if ref["key"] not in data:
            return None, 'secret "%s" or its key "%s" not found' % (ref["name"], ref["key"])
        env[e["name"]] = data[ref["key"]]
    return env, None


def start_process(key, pod, workdir):
    c = pod["spec"]["containers"][0]
    argv = (c.get("command") or []) + (c.get("args") or [])
    env, err = container_env(pod)
    if env is None:
        return err
    env["ACMS_STEP_DIR"] = workdir
    logf = open(os.path.join(workdir, "log"), "wb")
    PROCS[key] = subprocess.Popen(argv, cwd=workdir, env=env, stdout=logf, stderr=subprocess.STDOUT,
                                  stdin=subprocess.DEVNULL, start_new_session=True)
    return None


def kubelet_step(key, pod, t0, workdir):
    """Advances one pod; returns False when it needs no more attention."""
    spec, status = pod["spec"], pod["status"]
    image = spec["containers"][0]["image"]
    phase = status.get("phase")
    if phase in ("Succeeded", "Failed"):
        return False
    if not spec.get("nodeName"):
        node = schedulable(pod)
        if not node:
            if not status.get("conditions"):
                set_status(pod, conditions=[{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}])
            return True
        spec["nodeName"] = node
        set_status(pod, conditions=[{"type": "PodScheduled", "status": "True"}])
        return True
    if image.endswith("/pull-error"):
        reason = "ErrImagePull" if time.time() - t0 < 1 else "ImagePullBackOff"
        if (status.get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {}).get("reason") != reason:
            set_status(pod, containerStatuses=container_status(pod, {"waiting": {
                "reason": reason, "message": 'pull access denied for "%s"' % image}}))
        return True
    if key not in PROCS and phase == "Pending":
        err = None if image.endswith(("/oom", "/evict")) or ":hang" in image else start_process(key, pod, workdir)
        if err:
            if (status.get("containerStatuses") or [{}])[0].get("state", {}).get("waiting", {}).get("message") != err:
                set_status(pod, containerStatuses=container_status(pod, {"waiting": {
                    "reason": "CreateContainerConfigError", "message": err}}))
            return True
        PROCS.setdefault(key, None)
        set_status(pod, phase="Running", startTime=now_iso(), podIP="127.0.0.1",
                   containerStatuses=container_status(pod, {"running": {"startedAt": now_iso()}}, ready=True))
        pod["_started"] = time.time()
        return True
    started = pod.get("_started", t0)
    deadline = spec.get("activeDeadlineSeconds")
    proc = PROCS.get(key)
    if deadline and time.time() - started >= deadline:
        kill(key)
        terminate(pod, 137, "Error", "Failed", "DeadlineExceeded",
                  "Pod was active on the node longer than the specified deadline")
        return False
    if image.endswith("/oom") and time.time() - started > 0.5:
        LOGS[key] = b"allocating...\n"
        terminate(pod, 137, "OOMKilled", "Failed")
        return False
    if image.endswith("/evict") and time.time() - started > 0.5:
        set_status(pod, phase="Failed", reason="Evicted", message="The node was low on resource: memory.",
                   conditions=[{"type": "DisruptionTarget", "status": "True", "reason": "TerminationByKubelet"}])
        return False
    if proc is not None and proc.poll() is not None:
        with open(os.path.join(workdir, "log"), "rb") as f:
            LOGS[key] = f.read()
        terminate(pod, proc.returncode if proc.returncode >= 0 else 128 - proc.returncode,
                  "Completed" if proc.returncode == 0 else "Error")
        return False
    return True


def rss_kib(pid):
    """Resident memory of pid and its descendants in KiB (what a cgroup's working set would hold)."""
    children, total = {}, 0
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(int(d))
            except OSError:
                pass
    todo = [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open("/proc/%d/status" % p) as f:
                total += next((int(l.split()[1]) for l in f if l.startswith("VmRSS:")), 0)
        except OSError:
            pass
    return total


def pod_metrics(ns, name):
    """A PodMetrics object for a running Pod's process, None when there is none."""
    p = PROCS.get((ns, name))
    if p is None or p.poll() is not None:
        return None
    return {"kind": "PodMetrics", "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {"name": name, "namespace": ns}, "timestamp": now_iso(), "window": "1s",
            "containers": [{"name": "step", "usage": {"cpu": "0", "memory": "%dKi" % rss_kib(p.pid)}}]}


def kill(key):
    p = PROCS.pop(key, None)
    if p is not None and p.poll() is None:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()


def kubelet_loop(root):
    t0s, dirs = {}, {}
    while True:
        with LOCK:
            for key, pod in list(STORE["pods"].items()):
                if key not in dirs:
                    dirs[key] = tempfile.mkdtemp(prefix="pod-", dir=root)
                    t0s[key] = time.time()
                if pod["metadata"].get("deletionTimestamp"):
                    if time.time() >= pod["_delete_at"]:
                        kill(key)
                        del STORE["pods"][key]
                        STATE["deleted"]["pods"] += 1
                        emit("DELETED", pod)
                    continue
                if key in PROCS and PROCS[key] is not None:
                    with open(os.path.join(dirs[key], "log"), "rb") as f:
                        LOGS[key] = f.read()
                kubelet_step(key, pod, t0s[key], dirs[key])
            LOCK.wait(0.1)


# --- HTTP ------------------------------------------------------------------------------------------

def parse_path(path):
    """-> (kind, ns, name, sub) for the API paths we serve, else None."""
    p = path.strip("/").split("/")
    if p[:2] == ["api", "v1"] and len(p) >= 5 and p[2] == "namespaces":
        base = p[3:]
    elif p[:3] == ["apis", "networking.k8s.io", "v1"] and len(p) >= 6 and p[3] == "namespaces":
        base = p[4:]
    else:
        return None
    ns, kind = base[0], base[1]
    if kind not in STORE:
        return None
    return kind, ns, base[2] if len(base) > 2 else None, base[3] if len(base) > 3 else None


def status_body(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message}


def selector_match(obj, sel):
    labels = obj["metadata"].get("labels") or {}
    for term in filter(None, (sel or "").split(",")):
        k, _, v = term.partition("=")
        if labels.get(k) != v:
            return False
    return True


def public(obj):
    return {k: v for k, v in obj.items() if not k.startswith("_")}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    token = ""

    def log_message(self, fmt, *args):
        sys.stderr.write("apiserver: %s %s\n" % (self.command, fmt % args))

    def send_json(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(n) or b"null") if n else None

    def authorized(self):
        if self.headers.get("Authorization") == "Bearer " + self.token:
            return True
        self.send_json(401, status_body(401, "Unauthorized", "Unauthorized"))
        return False

    def do_POST(self):
        u = urlparse(self.path)
        if u.path.startswith("/_control/"):
            return self.control(u.path)
        if not self.authorized():
            return
        r = parse_path(u.path)
        obj = self.body()
        if not r or r[2] or not isinstance(obj, dict):
            return self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))
        kind, ns = r[0], r[1]
        errs = validate(kind, obj)
        meta = obj.get("metadata") or {}
        if not errs and meta.get("namespace", ns) != ns:
            errs.append("metadata.namespace does not match the request")
        if errs:
            with LOCK:
                STATE["rejected"] += 1
            return self.send_json(422 if "unknown field" not in errs[0] else 400,
                                  status_body(422, "Invalid", "%s is invalid: %s" % (MODELS[kind], "; ".join(errs))))
        with LOCK:
            key = (ns, meta["name"])
            if key in STORE[kind]:
                return self.send_json(409, status_body(409, "AlreadyExists", '%s "%s" already exists' % (kind, key[1])))
            meta.update(namespace=ns, uid=str(uuid.uuid4()), creationTimestamp=now_iso())
            for o in meta.get("ownerReferences") or []:
                owner = STORE["pods"].get((ns, o["name"]))
                if not owner or owner["metadata"]["uid"] != o["uid"]:
                    return self.send_json(422, status_body(422, "Invalid", "ownerReference to no such Pod uid"))
            STORE[kind][key] = obj
            STATE["created"][kind] += 1
            if kind == "pods":
                obj["status"] = {"phase": "Pending", "qosClass": "Guaranteed"}
                emit("ADDED", obj)
            else:
                bump(obj)
            self.send_json(201, public(obj))

    def do_GET(self):
        u = urlparse(self.path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path == "/_control/state":
            with LOCK:
                return self.send_json(200, {**STATE, "pods": [public(p) for p in STORE["pods"].values()],
                                            "secrets": [k[1] for k in STORE["secrets"]],
                                            "networkpolicies": [public(p) for p in STORE["networkpolicies"].values()]})
        if not self.authorized():
            return
        if u.path.startswith("/apis/metrics.k8s.io/v1beta1"):
            return self.metrics(u.path)
        r = parse_path(u.path)
        if not r:
            return self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))
        kind, ns, name, sub = r
        with LOCK:
            if name is None:
                if q.get("watch") in ("1", "true"):
                    return self.watch(ns, q)
                STATE["lists"] += 1
                items = [public(o) for (n, _), o in STORE[kind].items()
                         if n == ns and selector_match(o, q.get("labelSelector"))]
                return self.send_json(200, {"kind": "PodList", "apiVersion": "v1",
                                            "metadata": {"resourceVersion": str(STATE["rv"])}, "items": items})
            obj = STORE[kind].get((ns, name))
            if obj is None:
                return self.send_json(404, status_body(404, "NotFound", '%s "%s" not found' % (kind, name)))
            if sub == "log":
                data = LOGS.get((ns, name), b"")
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            self.send_json(200, public(obj))

    def metrics(self, path):
        p = path.strip("/").split("/")
        with LOCK:
            m = STATE["metrics_api"] and (len(p) == 3 or (len(p) == 7 and p[3] == "namespaces" and p[5] == "pods"))
            body = (pod_metrics(p[4], p[6]) if len(p) == 7 else {"kind": "APIResourceList", "groupVersion":
                    "metrics.k8s.io/v1beta1", "resources": [{"name": "pods", "namespaced": True, "kind": "PodMetrics",
                                                             "verbs": ["get", "list"]}]}) if m else None
        if body is None:
            return self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))
        self.send_json(200, body)

    def watch(self, ns, q):
        """Called with LOCK held."""
        rv = int(q.get("resourceVersion") or 0)
        gen = STATE["watch_gen"]
        STATE["watches"] += 1
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

        def chunk(obj):
            data = (json.dumps(obj) + "\n").encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        try:
            if rv < STATE["compacted"]:
                chunk({"type": "ERROR", "object": status_body(410, "Expired", "too old resource version: %d (%d)"
                                                              % (rv, STATE["compacted"]))})
                self.wfile.write(b"0\r\n\r\n")
                return
            end = time.time() + int(q.get("timeoutSeconds") or 300)
            while time.time() < end:
                if STATE["watch_gen"] != gen:  # dropped: close without the chunked terminator
                    self.close_connection = True
                    return
                for erv, typ, pod in EVENTS:
                    if erv > rv and pod["metadata"]["namespace"] == ns and selector_match(pod, q.get("labelSelector")):
                        chunk({"type": typ, "object": public(pod)})
                    rv = max(rv, erv)
                LOCK.wait(0.2)
            chunk({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1",
                                                  "metadata": {"resourceVersion": str(STATE["rv"])}}})
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_DELETE(self):
        if not self.authorized():
            return
        r = parse_path(urlparse(self.path).path)
        opts = self.body() or {}
        if not r or not r[2]:
            return self.send_json(404, status_body(404, "NotFound", "not found"))
        kind, ns, name, _ = r
        with LOCK:
            obj = STORE[kind].get((ns, name))
            if obj is None:
                return self.send_json(404, status_body(404, "NotFound", '%s "%s" not found' % (kind, name)))
            if kind != "pods":
                del STORE[kind][(ns, name)]
                return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
            grace = opts.get("gracePeriodSeconds")
            grace = obj["spec"].get("terminationGracePeriodSeconds", 30) if grace is None else grace
            if not obj["metadata"].get("deletionTimestamp"):
                STATE["last_delete_grace"] = grace
                obj["metadata"]["deletionTimestamp"] = now_iso()
                obj["metadata"]["deletionGracePeriodSeconds"] = grace
                # a running container gets SIGTERM and the grace (scaled down: at most 1 s here)
                p = PROCS.get((ns, name))
                if p is not None and p.poll() is None:
                    os.killpg(p.pid, signal.SIGTERM)
                obj["_delete_at"] = time.time() + min(grace, 1)
                emit("MODIFIED", obj)
            self.send_json(200, public(obj))

    def do_PATCH(self):
        if not self.authorized():
            return
        self.body()
        self.send_json(404, status_body(404, "NotFound", "the server could not find the requested resource"))

    def control(self, path):
        with LOCK:
            if path == "/_control/drop-watches":
                STATE["watch_gen"] += 1
            elif path == "/_control/compact":
                STATE["compacted"] = STATE["rv"]
            elif path == "/_control/metrics-api":
                STATE["metrics_api"] = True
            LOCK.notify_all()
        self.send_json(200, {"ok": True})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--token-file", required=True)
    ap.add_argument("--nodes", required=True, help="JSON list of {name, labels, taints}")
    ap.add_argument("--workdir", required=True)
    a = ap.parse_args()
    Handler.token = open(a.token_file).read().strip()
    NODES.extend(json.loads(open(a.nodes).read()))
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    threading.Thread(target=kubelet_loop, args=(a.workdir,), daemon=True).start()
    with open(a.port_file + ".tmp", "w") as f:
        f.write(str(srv.server_address[1]))
    os.rename(a.port_file + ".tmp", a.port_file)
    srv.serve_forever()


if __name__ == "__main__":
    main()
