#!/usr/bin/env python3
"""vault_mock.py: a stand-in for HashiCorp Vault's KV v2 read API, for integration tests.

Usage: vault_mock.py SECRETS.json TOKEN [--approle ROLE_ID:SECRET_ID] [--k8s ROLE:JWT]
                     [--token-ttl S] [--max-ttl S] [--namespace NS] [--delay-ms N]
  SECRETS.json maps the path after /v1/ to the secret's key/value data, e.g.
    {"kv/data/dev/churn-db": {"password": "s3cr3t", "user": "churn"}}
  which a config references as secret://vault/kv/data/dev/churn-db#password.
  TOKEN is a static root token ("-" for none). Logins issue tokens that live --token-ttl seconds
  (default 3600), renewable up to --max-ttl seconds after the login (default 10 x the TTL).
  POST /v1/auth/approle/login     {role_id, secret_id} -> {"auth": {client_token, lease_duration, renewable}}
  POST /v1/auth/kubernetes/login  {role, jwt}          -> the same
  POST /v1/auth/token/renew-self  (X-Vault-Token)      -> the same, lease extended up to the max TTL
  POST /v1/transit/encrypt/<k> {plaintext} / decrypt/<k> {ciphertext}: a reversible stand-in
  POST /v1/sys/mock/expire-tokens  every issued token expires now (a token expiring mid-run)
  GET  /v1/sys/mock/stats          {"logins", "renewals", "reads"}
  With --namespace every /v1 request but sys/ ones needs X-Vault-Namespace: NS (else 403);
  --delay-ms delays every KV read (a slow Vault).

Listens on 127.0.0.1 on a free port and prints that port as the first line of stdout.
  GET /v1/<path>     200 {"data": {"data": {...}, "metadata": {...}}}   with the right X-Vault-Token
                     403 {"errors": ["permission denied"]}               wrong or missing token
                     404 {"errors": []}                                  no such secret
  GET /v1/sys/health 200 (no token needed), for readiness checks
Anything else is 405. Stops on SIGTERM/SIGINT. Python 3 standard library only.
"""
import base64
import json
import secrets as rnd
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class State:
    def __init__(self, opts):
        self.opts = opts
        self.tokens = {}  # token -> [expires_at, max_at]
        self.lock = threading.Lock()
        self.stats = {"logins": 0, "renewals": 0, "reads": 0}

    def issue(self):
        t = "hvs.mock-" + rnd.token_hex(12)
        now = time.time()
        with self.lock:
            self.tokens[t] = [now + self.opts["ttl"], now + self.opts["max_ttl"]]
            self.stats["logins"] += 1
        return t

    def valid(self, t, static):
        if static and t == static:
            return True
        with self.lock:
            e = self.tokens.get(t)
            return bool(e) and time.time() < e[0]

    def renew(self, t):
        now = time.time()
        with self.lock:
            e = self.tokens.get(t)
            if not e or now >= e[0]:
                return None
            e[0] = min(now + self.opts["ttl"], e[1])
            self.stats["renewals"] += 1
            return max(0, int(round(e[0] - now)))


def auth_answer(token, ttl):
    return {"auth": {"client_token": token, "lease_duration": ttl, "renewable": True, "policies": ["default"]}}


def make_handler(secrets, token, st):
    class Handler(BaseHTTPRequestHandler):
        server_version = "vault-mock/1"

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            try:
                return json.loads(self.rfile.read(n) or b"{}")
            except ValueError:
                return {}

        def _ns_ok(self, path):
            ns = st.opts["namespace"]
            return not ns or path.startswith("/v1/sys/") or self.headers.get("X-Vault-Namespace") == ns

        def do_POST(self):
            path = self.path.split("?", 1)[0]
            body = self._body()
            o = st.opts
            if path == "/v1/sys/mock/expire-tokens":
                with st.lock:
                    for e in st.tokens.values():
                        e[0] = 0
                return self._send(200, {})
            if not self._ns_ok(path):
                return self._send(403, {"errors": ["namespace not found"]})
            if path == "/v1/auth/approle/login" and o["approle"]:
                if [body.get("role_id"), body.get("secret_id")] == o["approle"].split(":", 1):
                    return self._send(200, auth_answer(st.issue(), o["ttl"]))
                return self._send(400, {"errors": ["invalid role or secret ID"]})
            if path == "/v1/auth/kubernetes/login" and o["k8s"]:
                if [body.get("role"), body.get("jwt")] == o["k8s"].split(":", 1):
                    return self._send(200, auth_answer(st.issue(), o["ttl"]))
                return self._send(403, {"errors": ["permission denied"]})
            tok = self.headers.get("X-Vault-Token") or ""
            if path == "/v1/auth/token/renew-self":
                ttl = st.renew(tok)
                if ttl is None:
                    return self._send(403, {"errors": ["permission denied"]})
                return self._send(200, auth_answer(tok, ttl))
            if path.startswith("/v1/transit/") and st.valid(tok, token):
                op = path.split("/")[3]
                if op == "encrypt":
                    raw = base64.b64decode(body.get("plaintext", ""))
                    ct = "vault:v1:" + base64.b64encode(bytes(b ^ 0x5A for b in raw)).decode()
                    return self._send(200, {"data": {"ciphertext": ct}})
                if op == "decrypt" and str(body.get("ciphertext", "")).startswith("vault:v1:"):
                    raw = base64.b64decode(body["ciphertext"][9:])
                    return self._send(200, {"data": {"plaintext": base64.b64encode(bytes(b ^ 0x5A for b in raw)).decode()}})
                return self._send(400, {"errors": ["invalid ciphertext"]})
            return self._send(403 if path.startswith("/v1/transit/") else 405, {"errors": ["permission denied"]})

        def _send(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/v1/sys/health":
                self._send(200, {"initialized": True, "sealed": False, "standby": False})
                return
            if path == "/v1/sys/mock/stats":
                with st.lock:
                    return self._send(200, dict(st.stats))
            if not self._ns_ok(path):
                return self._send(403, {"errors": ["namespace not found"]})
            if not path.startswith("/v1/"):
                self._send(404, {"errors": []})
                return
            if not st.valid(self.headers.get("X-Vault-Token") or "", token):
                self._send(403, {"errors": ["permission denied"]})
                return
            with st.lock:
                st.stats["reads"] += 1
            if st.opts["delay_ms"]:
                time.sleep(st.opts["delay_ms"] / 1000.0)
            key = path[len("/v1/"):].strip("/")
            if key not in secrets:
                self._send(404, {"errors": []})
                return
            self._send(200, {
                "request_id": "00000000-0000-0000-0000-000000000000",
                "lease_id": "",
                "renewable": False,
                "lease_duration": 0,
                "data": {
                    "data": secrets[key],
                    "metadata": {
                        "created_time": "2024-01-01T00:00:00.000000Z",
                        "custom_metadata": None,
                        "deletion_time": "",
                        "destroyed": False,
                        "version": 1,
                    },
                },
                "wrap_info": None,
                "warnings": None,
                "auth": None,
            })

        def _refuse(self):
            self._send(405, {"errors": ["method not allowed"]})

        do_PUT = do_DELETE = do_PATCH = _refuse

        def log_message(self, fmt, *args):  # quiet: tests read stdout for the port only
            pass

    return Handler


def parse_opts(args):
    o = {"approle": None, "k8s": None, "ttl": 3600, "max_ttl": None, "namespace": None, "delay_ms": 0}
    names = {"--approle": "approle", "--k8s": "k8s", "--token-ttl": "ttl", "--max-ttl": "max_ttl",
             "--namespace": "namespace", "--delay-ms": "delay_ms"}
    while args:
        a = args.pop(0)
        if a not in names or not args:
            raise ValueError(a)
        v = args.pop(0)
        o[names[a]] = int(v) if names[a] in ("ttl", "max_ttl", "delay_ms") else v
    if o["max_ttl"] is None:
        o["max_ttl"] = 10 * o["ttl"]
    return o


def main():
    try:
        opts = parse_opts(sys.argv[3:]) if len(sys.argv) >= 3 else None
    except ValueError as e:
        opts = None
        sys.stderr.write("vault_mock.py: bad option %s\n" % e)
    if opts is None:
        sys.stderr.write("usage: vault_mock.py SECRETS.json TOKEN [options] (see the top of the file)\n")
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        secrets = json.load(f)
    if not isinstance(secrets, dict) or not all(isinstance(v, dict) for v in secrets.values()):
        sys.stderr.write("vault_mock.py: SECRETS.json must map paths to objects\n")
        return 2
    secrets = {k.strip("/"): v for k, v in secrets.items()}
    static = None if sys.argv[2] == "-" else sys.argv[2]
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(secrets, static, State(opts)))
    server.daemon_threads = True
    print(server.server_address[1], flush=True)

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
