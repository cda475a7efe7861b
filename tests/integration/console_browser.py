"""console_browser.py: the console in a real browser (Debian's chromium, headless, over the DevTools
protocol: tests/lib/cdp.py). Run by test_console_browser.sh with a stack whose console asks for a
token, one failed run and one run whose pipeline name is markup. It checks what a person would see:

  1. the page asks for the token, takes it, and lists the runs;
  2. the pipeline named <img src=x onerror=alert(1)> is shown as that text, in the list and in its
     run view: no <img> element exists anywhere and no dialog opened (the detector is first shown to
     catch such markup, so the check can fail);
  3. the failed run's DAG: succeeded steps green, the failed step red, the skipped one grey;
  4. an adaptation reason (the first record the API returns) is on the page, under its stage;
  5. the failed step's details: its attempt and cause;
  6. live status: a run whose step waits for a file is seen running, the file is made, and the same
     page (no reload) turns the step green and the run finished;
  7. the stored configuration's diff;
and keeps screenshots of the list and of the run under the artifacts directory.
Usage: console_browser.py URL TOKEN FAILED_RUN XSS_RUN XSS_NAME REASON CONFIG_ID ARTIFACTS_DIR LIVE_RUN GO_FILE
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from cdp import Browser  # noqa: E402

url, token, failed_run, xss_run, xss_name, reason, config_id, artifacts, live_run, go_file = sys.argv[1:11]
js = json.dumps  # every value goes into the page's JavaScript as a JSON literal


def ok(what):
    print("ok: " + what, flush=True)


def check(cond, what):
    if not cond:
        raise SystemExit("FAIL: " + what)
    ok(what)


def no_markup(b, what):
    """No element made of the name's markup, and no dialog."""
    check(b.eval("document.querySelectorAll('img').length") == 0, what + ": no <img> element in the page")
    check(b.dialogs == [], what + ": no dialog opened (%r)" % b.dialogs)


def rgb(b, selector):
    """The computed fill of the first element matching selector, as (r, g, b)."""
    v = b.eval("getComputedStyle(document.querySelector(%s)).fill" % js(selector))
    return tuple(int(x) for x in v[v.index("(") + 1:v.index(")")].split(",")[:3])


def run_list(b):
    b.navigate(url)
    b.wait("document.getElementById('token-form') !== null", "the token form")
    ok("the page asks for the token")
    b.eval("document.getElementById('token-input').value = %s;"
           "document.getElementById('token-form').requestSubmit(); true" % js(token))
    b.wait("document.querySelectorAll('#runs tbody tr[data-run]').length >= 2", "the run list")
    ok("the run list shows the runs")
    cell = "document.querySelector(%s)" % js('tr[data-run="%s"] a.pipeline' % xss_run)
    check(b.eval(cell + ".textContent") == xss_name, "the markup-named pipeline is shown as its text")
    no_markup(b, "run list")
    b.screenshot(os.path.join(artifacts, "console-list.png"))


def run_view(b):
    b.navigate(url + "#/runs/" + failed_run)
    b.wait("document.querySelectorAll('#dag g.node[data-status=failed]').length > 0", "the failed run's DAG")
    b.wait("document.getElementById('live').textContent.startsWith('finished')", "the run's final state")
    nodes = b.eval("[...document.querySelectorAll('#dag g.node')].map(g => [g.dataset.step, g.dataset.status])")
    ok("DAG nodes %s" % nodes)
    good, bad, grey = rgb(b, "#dag g.node.succeeded rect"), rgb(b, "#dag g.node.failed rect"), \
        rgb(b, "#dag g.node.skipped rect")
    check(good[1] > good[0] and good[1] > good[2], "succeeded steps are green %s" % (good,))
    check(bad[0] > bad[1] and bad[0] > bad[2], "the failed step is red %s" % (bad,))
    check(max(grey) - min(grey) < 40 and grey != good and grey != bad, "the skipped step is grey %s" % (grey,))
    check(b.eval("document.querySelectorAll('#dag path.edge').length") >= len(nodes) - 1, "edges are drawn")
    b.wait("[...document.querySelectorAll('#adaptations .adaptation-reason')].some(td => td.textContent === %s)"
           % js(reason), "the adaptation reason")
    ok("an adaptation reason is shown: %r" % reason)
    check(b.eval("document.querySelectorAll('#adaptations section[data-stage]').length") >= 1,
          "adaptations are grouped by stage")
    check(b.eval("document.getElementById('step-name').textContent") == "train", "the failed step is selected")
    check("exited with code 3" in b.eval("document.getElementById('attempts').textContent"),
          "its attempt and cause are shown")
    check(b.eval("document.getElementById('verdict') !== null"), "the validation verdict is shown")
    b.screenshot(os.path.join(artifacts, "console-run.png"))
    ok("screenshot %s" % os.path.join(artifacts, "console-run.png"))


def xss_view(b):
    b.navigate(url + "#/runs/" + xss_run)
    b.wait("(document.getElementById('run-pipeline') || {}).textContent === %s" % js(xss_name),
           "the markup-named pipeline's run view to show the name as text")
    ok("the markup-named pipeline's run view shows the name as text")
    check(xss_name in b.eval("document.getElementById('run-reason').textContent"), "its rejection reason too")
    no_markup(b, "run view")


def live_view(b):
    node = "document.querySelector('#dag g.node[data-step=hold]')"
    b.navigate(url + "#/runs/" + live_run)
    b.wait("(%s || {dataset: {}}).dataset.status === 'running'" % node, "the waiting step shown running", 60)
    check(b.eval("document.getElementById('live').textContent.startsWith('live')"), "the page follows the run live")
    with open(go_file, "w") as f:  # the step may finish now
        f.write("go\n")
    b.wait("(%s || {dataset: {}}).dataset.status === 'succeeded'" % node, "the same page to show it succeeded", 60)
    b.wait("document.getElementById('live').textContent.startsWith('finished')", "the run's end, without a reload", 60)
    ok("a running step turned green and the run finished, on the same page")


def config_view(b):
    b.navigate(url + "#/configs/" + config_id)
    b.wait("document.querySelector('#diff .add') !== null && document.getElementById('document') !== null",
           "the config diff")
    check(b.eval("document.querySelectorAll('#diff .del').length") >= 1, "the diff shows removed and added lines")


def main():
    os.makedirs(artifacts, exist_ok=True)
    started = time.monotonic()
    b = Browser(log_path=os.path.join(artifacts, "chromium.log"))
    try:
        # the detectors must be able to fail: markup set as HTML makes an <img> and (here, where no
        # page policy applies) its handler opens a dialog
        b.navigate("about:blank")
        b.eval("document.body.innerHTML = %s; true" % js(xss_name))
        b.wait("document.querySelectorAll('img').length === 1", "the detector's own check")
        deadline = time.monotonic() + 20
        while not b.dialogs and time.monotonic() < deadline:
            b.eval("1")
            time.sleep(0.1)
        check(b.dialogs == ["1"], "the detectors catch markup parsed as HTML (an <img>, a dialog)")
        b.dialogs.clear()
        run_list(b)
        run_view(b)
        xss_view(b)
        live_view(b)
        config_view(b)
        check(b.exceptions == [], "no uncaught exception in the page (%r)" % b.exceptions)
    except BaseException:
        try:  # what the page showed, for whoever reads the failure
            b.screenshot(os.path.join(artifacts, "console-failure.png"))
            print("page at failure: %s\n%s\nexceptions: %r" % (b.eval("location.href"),
                  b.eval("document.body.innerText.slice(0, 2000)"), b.exceptions))
        except Exception as e:
            print("(no page state: %s)" % e)
        raise
    finally:
        b.close()
    print("browser: %.1f s" % (time.monotonic() - started))


main()
