#!/usr/bin/env python3
"""vault_mock.py: a stand-in for HashiCorp Vault's KV v2 read API, for integration tests.

Usage: vault_mock.py SECRETS.json TOKEN
  SECRETS.json maps the path after /v1/ to the secret's key/value data, e.g.
    {"kv/data/dev/churn-db": {"password": "s3cr3t", "user": "churn"}}
  which a config references as secret://vault/kv/data/dev/churn-db#password.

Listens on 127.0.0.1 on a free port and prints that port as the first line of stdout.
  GET /v1/<path>     200 {"data": {"data": {...}, "metadata": {...}}}   with the right X-Vault-Token
                     403 {"errors": ["permission denied"]}               wrong or missing token
                     404 {"errors": []}                                  no such secret
  GET /v1/sys/health 200 (no token needed), for readiness checks
Anything else is 405. Stops on SIGTERM/SIGINT. Python 3 standard library only.
"""
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def make_handler(secrets, token):
    class Handler(BaseHTTPRequestHandler):
        server_version = "vault-mock/1"

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
            if not path.startswith("/v1/"):
                self._send(404, {"errors": []})
                return
            if self.headers.get("X-Vault-Token") != token:
                self._send(403, {"errors": ["permission denied"]})
                return
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

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

        def log_message(self, fmt, *args):  # quiet: tests read stdout for the port only
            pass

    return Handler


def main():
    if len(sys.argv) != 3:
        sys.stderr.write("usage: vault_mock.py SECRETS.json TOKEN\n")
        return 2
    with open(sys.argv[1], encoding="utf-8") as f:
        secrets = json.load(f)
    if not isinstance(secrets, dict) or not all(isinstance(v, dict) for v in secrets.values()):
        sys.stderr.write("vault_mock.py: SECRETS.json must map paths to objects\n")
        return 2
    secrets = {k.strip("/"): v for k, v in secrets.items()}
    server = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(secrets, sys.argv[2]))
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
