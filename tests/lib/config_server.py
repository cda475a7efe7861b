#!/usr/bin/env python3
"""config_server.py: a storage service for the configuration store's HTTP backend (common/config_store.h),
serving pipeline documents from a directory. For integration tests and local use.

Usage: config_server.py DIR
  DIR/<id>/<n>.yaml (or .yml, .json)            version n of configuration <id>
  DIR/<id>/<n>@<context>.yaml                    optional variant of version n for one context
                                                 (environment), served when ?context=<context> asks
Listens on 127.0.0.1 on a free port and prints that port as the first line of stdout.
  GET  /configs                                  {"configs": [{"id", "version" (latest), "hash", "created_ms"}]}
  GET  /configs/<id>/versions                    {"id", "versions": [{"version", "hash", "created_ms"}]}
  GET  /configs/<id>/versions/<n>[?context=C]    {"id", "version", "hash", "document", "format", "context", "created_ms"}
  GET  /configs/<id>/latest[?context=C]          (same, for the highest n)
  POST /configs/<id>[?version=N]   body = document
                                                 201 {"id", "version", "hash", "created": true} as a new n+1,
                                                 200 {..., "created": false} when a version has the same bytes;
                                                 409 {"error", "latest"} when N is given and n+1 != N
  PUT  /configs/<id>/versions/<n>  body = document, If-Match: "<hash of the stored bytes>"
                                                 200 {"id", "version", "hash"}: version n replaced (rotate-key);
                                                 412 when the stored bytes changed, 428 without If-Match
  GET  /healthz                                  200
404 {"error": "..."} names a missing id or version. hash = hex SHA-256 of the document bytes.
Stops on SIGTERM/SIGINT. Python 3 standard library only.
"""
import hashlib
import json
import os
import re
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

ID_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
FILE_RE = re.compile(r"^([1-9][0-9]*)(?:@([A-Za-z0-9._-]+))?\.(yaml|yml|json)$")
MAX_BODY = 4 * 1024 * 1024


class Store:
    def __init__(self, root):
        self.root = root
        self.lock = threading.Lock()

    def ids(self):
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        return [n for n in names if ID_RE.match(n) and os.path.isdir(os.path.join(self.root, n))]

    def files(self, cid):
        """{version: {context or "": path}}"""
        out = {}
        d = os.path.join(self.root, cid)
        if not ID_RE.match(cid) or not os.path.isdir(d):
            return out
        for name in os.listdir(d):
            m = FILE_RE.match(name)
            if m:
                out.setdefault(int(m.group(1)), {})[m.group(2) or ""] = os.path.join(d, name)
        return out

    @staticmethod
    def entry(path):
        with open(path, "rb") as f:
            data = f.read()
        return {"hash": hashlib.sha256(data).hexdigest(), "created_ms": int(os.stat(path).st_mtime * 1000)}, data

    @staticmethod
    def write(path, body):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(body)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, path)

    def put(self, cid, body, fmt, expect):
        """(version, hash, created), or (None, latest, False) when expect is not the next version."""
        with self.lock:
            files = self.files(cid)
            for v in sorted(files):
                base = files[v].get("")
                if base:
                    e, _ = self.entry(base)
                    if e["hash"] == hashlib.sha256(body).hexdigest():
                        return v, e["hash"], False
            v = max(files) + 1 if files else 1
            if expect is not None and expect != v:
                return None, v - 1, False
            d = os.path.join(self.root, cid)
            os.makedirs(d, exist_ok=True)
            self.write(os.path.join(d, "%d.%s" % (v, fmt)), body)
            return v, hashlib.sha256(body).hexdigest(), True

    def replace(self, cid, v, body, if_match):
        """200, 404 or 412 with the new hash."""
        with self.lock:
            path = self.files(cid).get(v, {}).get("")
            if not path:
                return 404, None
            e, _ = self.entry(path)
            if e["hash"] != if_match:
                return 412, e["hash"]
            self.write(path, body)
            return 200, hashlib.sha256(body).hexdigest()


def make_handler(store):
    class Handler(BaseHTTPRequestHandler):
        server_version = "acms-config-server/1"

        def log_message(self, fmt, *args):
            sys.stderr.write("config_server: " + (fmt % args) + "\n")

        def _send(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _parts(self):
            u = urlsplit(self.path)
            parts = [unquote(p) for p in u.path.split("/") if p]
            return parts, parse_qs(u.query)

        def do_GET(self):
            parts, q = self._parts()
            if parts == ["healthz"]:
                return self._send(200, {"status": "ok"})
            if parts == ["configs"]:
                out = []
                for cid in store.ids():
                    files = store.files(cid)
                    if files and "" in files[max(files)]:
                        e, _ = store.entry(files[max(files)][""])
                        out.append(dict(id=cid, version=max(files), **e))
                return self._send(200, {"configs": out})
            if len(parts) < 3 or parts[0] != "configs" or not ID_RE.match(parts[1]):
                return self._send(404, {"error": "no such resource"})
            cid = parts[1]
            files = store.files(cid)
            if not files:
                return self._send(404, {"error": "no configuration '%s' is stored" % cid})
            if parts[2:] == ["versions"]:
                vs = []
                for v in sorted(files):
                    if "" in files[v]:
                        e, _ = store.entry(files[v][""])
                        vs.append(dict(version=v, **e))
                return self._send(200, {"id": cid, "versions": vs})
            if parts[2:] == ["latest"]:
                v = max(files)
            elif len(parts) == 4 and parts[2] == "versions" and parts[3].isdigit() and int(parts[3]) > 0:
                v = int(parts[3])
            else:
                return self._send(404, {"error": "no such resource"})
            if v not in files:
                return self._send(404, {"error": "configuration '%s' has no version %d (latest is %s@%d)"
                                        % (cid, v, cid, max(files))})
            ctx = (q.get("context") or [""])[0]
            path, used = (files[v][ctx], ctx) if ctx and ctx in files[v] else (files[v].get(""), "")
            if not path:
                return self._send(404, {"error": "configuration %s@%d has no document for context '%s'"
                                        % (cid, v, ctx)})
            e, data = store.entry(path)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                return self._send(500, {"error": "stored document is not UTF-8"})
            fmt = "json" if path.endswith(".json") else "yaml"
            return self._send(200, dict(id=cid, version=v, document=text, format=fmt, context=used, **e))

        def _body(self):
            n = int(self.headers.get("Content-Length") or 0)
            if n <= 0 or n > MAX_BODY:
                self._send(413 if n > MAX_BODY else 400, {"error": "body of 1..%d bytes expected" % MAX_BODY})
                return None
            return self.rfile.read(n)

        def do_POST(self):
            parts, q = self._parts()
            if len(parts) != 2 or parts[0] != "configs" or not ID_RE.match(parts[1]):
                return self._send(404, {"error": "POST /configs/<id>"})
            want = (q.get("version") or [""])[0]
            if want and not (want.isdigit() and int(want) > 0):
                return self._send(400, {"error": "version must be a number >= 1"})
            body = self._body()
            if body is None:
                return None
            fmt = "json" if "json" in (self.headers.get("Content-Type") or "") else "yaml"
            v, h, created = store.put(parts[1], body, fmt, int(want) if want else None)
            if v is None:
                return self._send(409, {"error": "version %s of %s is taken (latest is %d)" % (want, parts[1], h),
                                        "latest": h})
            return self._send(201 if created else 200, {"id": parts[1], "version": v, "hash": h, "created": created})

        def do_PUT(self):
            parts, _ = self._parts()
            if (len(parts) != 4 or parts[0] != "configs" or not ID_RE.match(parts[1]) or parts[2] != "versions"
                    or not parts[3].isdigit() or int(parts[3]) < 1):
                return self._send(404, {"error": "PUT /configs/<id>/versions/<n>"})
            if_match = (self.headers.get("If-Match") or "").strip().strip('"')
            if not if_match:
                return self._send(428, {"error": "If-Match: the stored document's hash is required"})
            body = self._body()
            if body is None:
                return None
            status, h = store.replace(parts[1], int(parts[3]), body, if_match)
            if status == 404:
                return self._send(404, {"error": "configuration '%s' has no version %s" % (parts[1], parts[3])})
            if status == 412:
                return self._send(412, {"error": "the stored document changed (hash %s)" % h})
            return self._send(200, {"id": parts[1], "version": int(parts[3]), "hash": h})

    return Handler


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    root = os.path.abspath(sys.argv[1])
    os.makedirs(root, exist_ok=True)
    srv = ThreadingHTTPServer(("127.0.0.1", 0), make_handler(Store(root)))
    srv.daemon_threads = True

    def stop(*_):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
