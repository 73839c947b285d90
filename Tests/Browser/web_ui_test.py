#!/usr/bin/env python3
"""The web client in a real browser: two federated nodes, two people, two `sealpost web`
daemons, two headless Chromium instances driven by Selenium.

    Tests/Browser/web_ui_test.py BIN_DIR [SCREENSHOT_DIR]

BIN_DIR holds the built `sealpost-node` and `sealpost`. Screenshots of the main screens
are written to SCREENSHOT_DIR (default: docs/screenshots). Everything else lives in a
temporary directory that is removed at the end. Ends with one line `N passed, M failed`
and exits 1 when anything failed.

Needs Debian's chromium and chromium-driver and Selenium (deploy/test.sh installs them).
"""
import json
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

BIN = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug")
SHOTS = os.path.abspath(sys.argv[2] if len(sys.argv) > 2 else "docs/screenshots")
WAIT = 30          # seconds for any one condition in the browser
CONVERGE = 90      # seconds for the federation to know everyone
PASSPHRASE = "Dienst-2026 schichtplan"

ROOT = tempfile.mkdtemp(prefix="sealpost-browser-")
PROCS = []
DRIVERS = []
RESULTS = []


def log(msg):
    print(f"[browser-test] {msg}", flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(*args, check=True, timeout=60, env=None):
    r = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout,
                       env=None if env is None else {**os.environ, **env}, stdin=subprocess.DEVNULL)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:3])}... exited {r.returncode}: {r.stderr.strip()}")
    return r


def node_cmd(*args, **kw):
    return run(f"{BIN}/sealpost-node", *args, **kw)


def client_cmd(*args, **kw):
    return run(f"{BIN}/sealpost", *args, **kw)


def until(what, check, timeout=WAIT, every=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            value = check()
            if value:
                return value
        except Exception as e:  # keep waiting; report the last error on timeout
            last = e
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}" + (f" (last error: {last})" if last else ""))


def check(name):
    """Decorator-free check runner: records pass/fail with the failure's reason."""
    def wrap(fn):
        try:
            fn()
            RESULTS.append((name, True, ""))
            log(f"PASS {name}")
        except Exception as e:
            RESULTS.append((name, False, str(e)))
            log(f"FAIL {name}: {e}")
            traceback.print_exc()
        return fn
    return wrap


# --- a federation of two units ------------------------------------------------------

def make_node(name):
    data = f"{ROOT}/{name}"
    router, pub = free_port(), free_port()
    node_cmd("init", "--data", data, "--name", name,
             "--listen", f"tcp://127.0.0.1:{router}", "--publish", f"tcp://127.0.0.1:{pub}", "--json")
    info = json.loads(node_cmd("info", "--data", data, "--json").stdout)
    return {"name": name, "data": data, "info": info}


def start_node(node):
    logf = open(f"{node['data']}.log", "w")
    p = subprocess.Popen([f"{BIN}/sealpost-node", "run", "--data", node["data"]], stdin=subprocess.DEVNULL,
                         stdout=logf, stderr=subprocess.STDOUT)
    PROCS.append(p)
    until(f"{node['name']} answers status", lambda: node_cmd("status", "--data", node["data"], "--json", check=False).returncode == 0)


def join(node, user, display):
    code = node_cmd("invite", "--data", node["data"], user).stdout.strip()
    profile = f"{ROOT}/people/{user}/profile"
    os.makedirs(os.path.dirname(profile), mode=0o700, exist_ok=True)
    client_cmd("join", code, "--name", display, "--profile", profile)
    return profile


def knows(profile, address):
    r = client_cmd("directory", "--json", "--timeout", "3", "--profile", profile, check=False)
    return r.returncode == 0 and f'"address":"{address}"' in r.stdout


def start_web(profile):
    p = subprocess.Popen([f"{BIN}/sealpost", "web", "--profile", profile, "--no-open"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=open(f"{profile}.web.log", "w"))
    PROCS.append(p)
    deadline = time.time() + 30
    seen = ""
    fd = p.stdout.fileno()
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            seen += chunk.decode()
            m = re.search(r"(http://127\.0\.0\.1:\d+/#token=[A-Za-z0-9_-]+)\n", seen)
            if m:
                return p, m.group(1)
    raise RuntimeError(f"sealpost web printed no login URL; it said: {seen!r}")


# --- browsers -------------------------------------------------------------------------

def browser(lang):
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,760", f"--lang={lang}", f"--user-data-dir={tempfile.mkdtemp(dir=ROOT, prefix='chrome-')}"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"intl.accept_languages": lang})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    DRIVERS.append(driver)
    return driver


def css(driver, selector):
    return driver.find_elements(By.CSS_SELECTOR, selector)


def wait_css(driver, selector, what=None, timeout=WAIT):
    return until(what or selector, lambda: [e for e in css(driver, selector) if e.is_displayed()], timeout)


def bubbles(driver, direction, text):
    return [e for e in css(driver, f"li.msg.{direction} .bubble") if e.text == text]


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(f"{SHOTS}/{name}.png")
    log(f"screenshot {SHOTS}/{name}.png")


def console_errors(driver):
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def send(driver, text):
    box = wait_css(driver, "#text")[0]
    box.click()
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


# An own message's mark once its node stored it (receipts move it on to delivered and seen).
STORED_OR_LATER = "li.msg.out .state:is([data-state=stored],[data-state=delivered],[data-state=seen])"
OWN_MARK = ("const li = [...document.querySelectorAll('li.msg.out')]"
            ".find(li => li.querySelector('.bubble').textContent === arguments[0]);"
            "return li ? li.querySelector('.state').textContent : null;")


def own_state(driver, text):
    """The state (sending, stored, delivered, seen) of the own message with `text`."""
    return driver.execute_script("const li = [...document.querySelectorAll('li.msg.out')]"
                                 ".find(li => li.querySelector('.bubble').textContent === arguments[0]);"
                                 "return li ? li.dataset.state : null;", text)


def open_conversation(driver, address):
    wait_css(driver, f'li.conv[data-address="{address}"]', f"{address} in the conversation list")[0].click()
    until(f"{address} open", lambda: driver.find_element(By.ID, "chat-sub").text.startswith(address))


def main():
    start = time.time()
    log(f"binaries in {BIN}; work in {ROOT}")
    hq, traffic = make_node("hq"), make_node("traffic")
    for a, b in ((hq, traffic), (traffic, hq)):
        i = b["info"]
        node_cmd("peer", "add", "--data", a["data"], "--", b["name"], i["router"], i["publish"], i["public_key"])
    start_node(hq)
    start_node(traffic)
    alice = join(hq, "alice", "Alice Chen")
    wu = join(traffic, "wu", "吴磊")
    until("both people in both directories", lambda: knows(alice, "wu@traffic") and knows(wu, "alice@hq"), CONVERGE, 1)
    # A group across the two units, made with the CLI before the daemons start.
    client_cmd("group", "create", "duty", "--members", "wu@traffic", "--profile", alice)
    log(f"federation ready after {time.time() - start:.1f} s")

    @check("wu seals his keys and history by a passphrase; the CLI then needs it")
    def _():
        client_cmd("passphrase", "set", "--profile", wu, env={"SEALPOST_NEW_PASSPHRASE": PASSPHRASE})
        r = client_cmd("whoami", "--profile", wu, check=False)
        assert r.returncode != 0 and "SEALPOST_PASSPHRASE" in r.stderr, r.stderr
        r = client_cmd("whoami", "--profile", wu, env={"SEALPOST_PASSPHRASE": PASSPHRASE})
        assert "wu@traffic" in r.stdout, r.stdout
        assert PASSPHRASE not in open(wu).read()

    alice_web, alice_url = start_web(alice)
    wu_web, wu_url = start_web(wu)
    alice_origin = alice_url.split("/#")[0]
    wu_origin = wu_url.split("/#")[0]

    @check("a second sealpost web on the same profile says where the first one is")
    def _():
        r = client_cmd("web", "--profile", alice, "--no-open", check=False, timeout=30)
        assert r.returncode != 0, "it started"
        assert f"pid {alice_web.pid}" in r.stderr and alice_origin in r.stderr, r.stderr

    a = browser("en-US")
    w = browser("zh-CN")

    @check("alice logs in with the printed link; the token leaves the address bar")
    def _():
        a.get(alice_url)
        wait_css(a, "#app", "the app")
        until("alice's address", lambda: a.find_element(By.ID, "me-address").text == "alice@hq")
        assert "token" not in a.current_url, a.current_url
        until("connected", lambda: a.find_element(By.ID, "status").get_attribute("data-state") == "online")

    @check("wu logs in, and unlocks his sealed profile with his passphrase (a wrong one is refused)")
    def _():
        w.get(wu_url)
        box = wait_css(w, "#passphrase", "the unlock screen")[0]
        until("the address on the unlock screen", lambda: w.find_element(By.ID, "unlock-address").text == "wu@traffic")
        box.send_keys("not my passphrase")
        box.send_keys(Keys.ENTER)
        wait_css(w, "#unlock-error", "the wrong-passphrase message")
        shot(w, "web-unlock-zh")
        box = wait_css(w, "#passphrase")[0]
        box.clear()
        box.send_keys(PASSPHRASE)
        box.send_keys(Keys.ENTER)
        wait_css(w, "#app", "the app after unlocking")

    @check("wu's browser asks for Chinese and gets it")
    def _():
        wait_css(w, "#app", "the app")
        until("wu's address", lambda: w.find_element(By.ID, "me-address").text == "wu@traffic")
        assert w.execute_script("return document.documentElement.lang") == "zh-CN"
        assert w.find_element(By.ID, "new-chat").text == "发起会话", w.find_element(By.ID, "new-chat").text

    @check("a used login link does not log anyone else in")
    def _():
        # wu's browser has no session for alice's daemon (cookies are named by port).
        w.get(alice_url)
        wait_css(w, "#login", "the login screen")
        wait_css(w, "#login-error", "the used-link message")
        shot(w, "web-login-used-link")
        w.get(wu_origin + "/")
        wait_css(w, "#app", "wu's app again (his own session)")

    msg1 = "Wu, the plate you asked about was seen at the east toll gate at 14:05."
    reply1 = "收到，我马上安排人去核实。"

    @check("alice finds wu in the directory and starts a chat")
    def _():
        wait_css(a, "#new-chat")[0].click()
        box = wait_css(a, "#search")[0]
        box.send_keys("wu")
        wait_css(a, '.result[data-address="wu@traffic"]', "wu in the directory")
        shot(a, "web-new-chat")
        css(a, '.result[data-address="wu@traffic"]')[0].click()
        until("the chat with wu", lambda: a.find_element(By.ID, "chat-title").text == "吴磊")

    @check("alice sends; her message goes from sending to stored on her node, then delivered to wu's")
    def _():
        send(a, msg1)
        until("alice's bubble", lambda: len(bubbles(a, "out", msg1)) == 1)
        wait_css(a, STORED_OR_LATER, "the stored mark")
        until("delivered to wu's node", lambda: own_state(a, msg1) in ("delivered", "seen"))

    @check("wu sees alice's message once, with an unread count, live")
    def _():
        badge = wait_css(w, 'li.conv[data-address="alice@hq"] .unread', "the unread badge")[0]
        assert badge.text == "1", badge.text
        last = css(w, 'li.conv[data-address="alice@hq"] .conv-last')[0].text
        assert "east toll gate" in last, last
        open_conversation(w, "alice@hq")
        until("alice's text at wu", lambda: len(bubbles(w, "in", msg1)) >= 1)
        assert len(bubbles(w, "in", msg1)) == 1
        assert not css(w, 'li.conv[data-address="alice@hq"] .unread'), "still unread after opening"

    @check("wu opened it: alice's message shows seen (her mark says so in English, wu's reply in Chinese)")
    def _():
        until("seen at alice", lambda: own_state(a, msg1) == "seen")
        mark = a.execute_script(OWN_MARK, msg1)
        assert mark.startswith("✓✓") and "Seen" in mark, mark
        shot(a, "web-receipt-seen-en")

    @check("wu replies in Chinese; alice sees it once, live, in the open chat")
    def _():
        send(w, reply1)
        until("wu's reply stored", lambda: css(w, STORED_OR_LATER))
        until("the reply at alice", lambda: len(bubbles(a, "in", reply1)) >= 1)
        assert len(bubbles(a, "in", reply1)) == 1
        assert len(bubbles(w, "in", msg1)) == 1, "alice's message shown twice at wu"
        assert len(bubbles(a, "out", msg1)) == 1
        shot(a, "web-chat-en")
        shot(w, "web-chat-zh")

    group_text = "Duty roster for tomorrow is in the shared folder; please confirm."
    group_reply = "已确认，明早八点到岗。"

    @check("alice posts to the cross-unit group; wu sees it once with the sender's name")
    def _():
        open_conversation(a, "duty@hq")
        send(a, group_text)
        wait_css(a, STORED_OR_LATER)
        badge = wait_css(w, 'li.conv[data-address="duty@hq"] .unread', "the group's unread badge")[0]
        assert badge.text == "1", badge.text
        open_conversation(w, "duty@hq")
        until("the group text at wu", lambda: len(bubbles(w, "in", group_text)) == 1)
        senders = [e.text for e in css(w, "li.msg.in .sender")]
        assert "Alice Chen" in senders, senders

    @check("wu answers in the group; alice sees it once")
    def _():
        send(w, group_reply)
        until("the group reply at alice", lambda: len(bubbles(a, "in", group_reply)) >= 1)
        assert len(bubbles(a, "in", group_reply)) == 1
        assert len(bubbles(w, "in", group_text)) == 1
        shot(w, "web-group-zh")

    @check("alice searches her history on the device and jumps to the message")
    def _():
        box = wait_css(a, "#history-search")[0]
        box.send_keys("toll gate")
        hit = wait_css(a, ".hit-item", "a search result")[0]
        assert "toll gate" in hit.text and "吴磊" in hit.text, hit.text
        shot(a, "web-search-en")
        hit.click()
        until("the chat with wu", lambda: a.find_element(By.ID, "chat-title").text == "吴磊")
        wait_css(a, "li.msg.hit", "the found message marked")
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)
        wait_css(a, "#conversations", "the conversation list back")

    @check("after a reload the history is still there, each message once (kept on the device)")
    def _():
        a.refresh()
        wait_css(a, "#app", "the app after reload")
        open_conversation(a, "wu@traffic")
        until("history loaded", lambda: len(bubbles(a, "out", msg1)) == 1 and len(bubbles(a, "in", reply1)) == 1)
        assert len(css(a, "li.msg")) == 2, [e.text for e in css(a, "li.msg")]
        shot(a, "web-conversations-en")

    @check("the switch changes the language")
    def _():
        sel = a.find_element(By.ID, "lang")
        sel.find_element(By.CSS_SELECTOR, 'option[value="zh"]').click()
        until("Chinese", lambda: a.find_element(By.ID, "send").text == "发送")
        sel.find_element(By.CSS_SELECTOR, 'option[value="en"]').click()
        until("English", lambda: a.find_element(By.ID, "send").text == "Send")

    @check("no errors in either browser's console (no CSP violation, no failed load)")
    def _():
        errors = console_errors(a) + console_errors(w)
        # Expected 401s: the used link (alice's daemon, from wu's browser) and the wrong passphrase.
        errors = [e for e in errors if not re.search(r"/api/(login|state|unlock) - .* status of 401", e)]
        assert not errors, errors

    log(f"browser checks took {time.time() - start:.1f} s in all")


def cleanup():
    for d in DRIVERS:
        try:
            d.quit()
        except Exception:
            pass
    for p in reversed(PROCS):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in reversed(PROCS):
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()
    shutil.rmtree(ROOT, ignore_errors=True)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:
        RESULTS.append(("setting up the federation and the daemons", False, str(e)))
        traceback.print_exc()
        for f in sorted(os.listdir(ROOT)) if os.path.isdir(ROOT) else []:
            if f.endswith(".log"):
                print(f"--- {f}:\n" + open(os.path.join(ROOT, f)).read()[-3000:])
    finally:
        cleanup()
    passed = sum(1 for _, ok, _ in RESULTS if ok)
    failed = len(RESULTS) - passed
    for name, ok, why in RESULTS:
        if not ok:
            print(f"failed: {name}: {why}")
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed or not RESULTS else 0)
