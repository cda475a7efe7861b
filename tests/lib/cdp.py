"""cdp.py: a small Chrome DevTools Protocol client for the browser tests.

Starts Debian's chromium headless on a new empty profile (as root: --no-sandbox; no network beyond
loopback: background networking, component updates, sync and QUIC off), drives its one page over a
WebSocket (python3-websocket) and offers what a test needs: navigate, evaluate an expression, wait
for a condition with a deadline, screenshots. Every JavaScript dialog (alert, confirm, prompt) is
recorded in `dialogs` and dismissed at once, so a test can assert that none opened; uncaught page
exceptions are kept in `exceptions`. Nothing is downloaded: the browser is the system's.
"""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request

import websocket

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars"]


class CDPError(Exception):
    pass


class Browser:
    def __init__(self, chromium=None, width=1280, height=900, log_path=None, start_timeout=60):
        self.profile = tempfile.mkdtemp(prefix="acms-chromium-")
        self.width, self.height = width, height
        self.dialogs, self.exceptions = [], []
        self._id = 0
        self.ws = None
        exe = chromium or shutil.which("chromium") or "chromium"
        args = [exe] + FLAGS + ["--user-data-dir=" + self.profile, "--remote-debugging-address=127.0.0.1",
                                "--remote-debugging-port=0", "--window-size=%d,%d" % (width, height), "about:blank"]
        self._log = open(log_path or os.devnull, "ab")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log)
        try:
            self._connect(start_timeout)
        except Exception:
            self.close()
            raise

    def _connect(self, timeout):
        """Reads the port chromium chose (DevToolsActivePort in the profile) and attaches to its page."""
        deadline = time.monotonic() + timeout
        port_file = os.path.join(self.profile, "DevToolsActivePort")
        port = None
        while port is None:
            if self.proc.poll() is not None:
                raise CDPError("chromium exited with status %s at start" % self.proc.returncode)
            if time.monotonic() > deadline:
                raise CDPError("chromium did not open its DevTools port within %d s" % timeout)
            try:
                with open(port_file) as f:
                    first = f.readline().strip()
                port = int(first) if first else None
            except (OSError, ValueError):
                pass
            if port is None:
                time.sleep(0.1)
        pages = []
        while not pages:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port, timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if not pages:
                if time.monotonic() > deadline:
                    raise CDPError("chromium has no page to drive")
                time.sleep(0.1)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], suppress_origin=True, timeout=60)
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                  deviceScaleFactor=1, mobile=False)

    def _event(self, msg):
        method, params = msg.get("method"), msg.get("params", {})
        if method == "Page.javascriptDialogOpening":
            self.dialogs.append(params.get("message", ""))
            self._id += 1  # its answer is read (and dropped) by the next call
            self.ws.send(json.dumps({"id": self._id, "method": "Page.handleJavaScriptDialog",
                                     "params": {"accept": False}}))
        elif method == "Runtime.exceptionThrown":
            d = params.get("exceptionDetails", {})
            self.exceptions.append(d.get("exception", {}).get("description") or d.get("text", ""))

    def call(self, method, **params):
        """Sends one command and returns its result; events met meanwhile are handled."""
        self._id += 1
        mine = self._id
        self.ws.send(json.dumps({"id": mine, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self._event(msg)
            elif msg.get("id") == mine:
                if "error" in msg:
                    raise CDPError("%s: %s" % (method, msg["error"].get("message")))
                return msg.get("result", {})

    def eval(self, expr):
        """The value of a JavaScript expression in the page (awaited when it is a promise)."""
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in r:
            raise CDPError("evaluating %r: %s" % (expr[:80], r["exceptionDetails"].get("text")))
        return r.get("result", {}).get("value")

    def wait(self, expr, what, timeout=30):
        """Polls expr until it is truthy; returns its value or raises after timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() > deadline:
                raise CDPError("timed out after %d s waiting for %s" % (timeout, what))
            time.sleep(0.1)

    def navigate(self, url):
        self.call("Page.navigate", url=url)

    def screenshot(self, path):
        """A PNG of the viewport at path."""
        data = self.call("Page.captureScreenshot", format="png")["data"]
        with open(path, "wb") as f:
            f.write(base64.b64decode(data))

    def close(self):
        try:
            if self.ws:
                self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        shutil.rmtree(self.profile, ignore_errors=True)
