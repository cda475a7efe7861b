#!/usr/bin/env python3
"""webhook_receiver.py: a stand-in Alertmanager webhook receiver for the integration tests.

Usage: webhook_receiver.py OUTFILE [--fail N]

Listens on 127.0.0.1 on a free port (port 0) and prints that port as the first line of stdout.
Each POST body is appended to OUTFILE as one JSON line (compact, re-serialised when it parses as
JSON, else kept as a JSON string), and answered 200 -- except the first N requests, answered 500
(to exercise the sender's retries). Anything other than POST gets 405. Stops on SIGTERM/SIGINT.
Standard library only.
"""
import json
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_BODY = 4 * 1024 * 1024


class Handler(BaseHTTPRequestHandler):
    server_version = "acms-webhook-receiver/1"

    def log_message(self, fmt, *args):  # keep stdout for the port line only
        sys.stderr.write("webhook_receiver: " + (fmt % args) + "\n")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0 or length > MAX_BODY:
            self.send_error(413)
            return
        body = self.rfile.read(length)
        srv = self.server
        with srv.lock:
            srv.count += 1
            failing = srv.count <= srv.fail_first
            if not failing:
                try:
                    line = json.dumps(json.loads(body), separators=(",", ":"), sort_keys=False)
                except ValueError:
                    line = json.dumps(body.decode("utf-8", "replace"))
                with open(srv.outfile, "a", encoding="utf-8") as f:
                    f.write(line + "\n")
                    f.flush()
        self.send_response(500 if failing else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self):
        self.send_error(405)

    do_PUT = do_DELETE = do_GET


def main(argv):
    if len(argv) < 2:
        sys.stderr.write("usage: webhook_receiver.py OUTFILE [--fail N]\n")
        return 2
    fail_first = 0
    if len(argv) >= 4 and argv[2] == "--fail":
        fail_first = int(argv[3])
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.outfile = argv[1]
    srv.fail_first = fail_first
    srv.count = 0
    srv.lock = threading.Lock()
    open(srv.outfile, "a", encoding="utf-8").close()
    print(srv.server_address[1], flush=True)

    def stop(_sig, _frm):
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    srv.serve_forever(poll_interval=0.2)
    srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
