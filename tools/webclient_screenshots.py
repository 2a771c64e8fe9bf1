"""
Take docs/webclient-desktop.png (1280x800) and docs/webclient-phone.png
(390x844): a real chatd (twistd, in a temporary directory, on free loopback
ports), two people in headless Chromium and one on IRC, a few messages.

    .venv/bin/python tools/webclient_screenshots.py [OUTPUT_DIR]

It needs Playwright for Python (the test extra) and Debian's chromium
(CHATD_CHROMIUM names another executable); it never downloads a browser.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Locator, Page, expect, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
LISTENING = re.compile(r"chatd listening for (\w+) on 127\.0\.0\.1:(\d+)")
LOOPBACK = "tcp:0:interface=127.0.0.1"
TIMEOUT = 20.0


def start(workdir: str) -> tuple[subprocess.Popen[bytes], dict[str, int]]:
    """twistd -n chatd with JSON, IRC and web listeners; its ports."""
    twistd = Path(sys.executable).parent / "twistd"
    proc = subprocess.Popen(
        [
            *(str(twistd), "-n", "--pidfile=", "chatd"),
            *("--listen", LOOPBACK, "--irc-listen", LOOPBACK, "--web-listen", LOOPBACK),
        ],
        cwd=workdir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    assert proc.stdout is not None
    ports: dict[str, int] = {}
    deadline = time.monotonic() + TIMEOUT
    for raw in proc.stdout:
        line = raw.decode("utf-8", "replace")
        found = LISTENING.search(line)
        if found:
            ports[found.group(1)] = int(found.group(2))
        if "chatd is ready" in line and {"IRC", "web"} <= set(ports):
            return proc, ports
        if time.monotonic() > deadline:
            break
    proc.kill()
    raise SystemExit("chatd did not start")


class IRC:
    """A raw IRC client on a socket with a timeout."""

    def __init__(self, port: int, nick: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self.buffer = b""
        self.send(f"NICK {nick}", f"USER {nick} 0 * :{nick}")
        self.wait(" 001 ")

    def send(self, *lines: str) -> None:
        self.sock.sendall(b"".join(line.encode() + b"\r\n" for line in lines))

    def wait(self, text: str) -> None:
        while text.encode() not in self.buffer:
            data = self.sock.recv(65536)
            if not data:
                raise SystemExit(f"IRC: closed before {text!r}")
            self.buffer += data
        self.buffer = self.buffer.split(text.encode(), 1)[1]


def login(page: Page, url: str, nick: str, channels: str) -> None:
    page.goto(url)
    page.fill("#login-nick", nick)
    page.fill("#login-channels", channels)
    page.click("#login-submit")
    expect(page.locator("#conn")).to_have_attribute("data-state", "connected")


def say(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")
    expect(page.locator("#input")).to_have_value("")


def log_of(page: Page) -> Locator:
    return page.locator(".log:not([hidden])")


def scene(desk: Page, phone: Page, url: str, irc_port: int, out: Path) -> None:
    """A few minutes of a channel: what the screenshots show."""
    login(desk, url, "alice", "#chatd #help")
    desk.click("#buffer-list button:has-text('#chatd')")
    topic = "Release day: 0.2 ships at \x0216:00 UTC\x02 · notes on https://chatd.example/notes"
    say(desk, f"/topic {topic}")
    login(phone, url, "bob", "#chatd")
    carol = IRC(irc_port, "carol")
    carol.send("JOIN #chatd")
    carol.wait(" 366 ")
    dave = IRC(irc_port, "dave")
    dave.send("JOIN #help")
    dave.wait(" 366 ")
    say(desk, "morning all")
    carol.send("PRIVMSG #chatd :morning! the \x02web client\x02 talks to IRC too")
    expect(log_of(phone)).to_contain_text("talks to IRC")
    say(phone, "/me waves from a phone")
    ci = "CI: \x0303all green\x03 on \x1dlinux\x1d and \x1dpypy\x1d"
    carol.send(f"PRIVMSG #chatd :{ci}")
    say(desk, "/voice carol")
    say(desk, "carol: release notes draft at https://chatd.example/notes/0.2 ?")
    carol.send("PRIVMSG #chatd :alice: reading it now")
    say(phone, "<b>markup</b> shows as text, as it should")
    dave.send("PRIVMSG #help :how do I register a channel?")
    expect(desk.locator("#buffer-list .badge")).to_have_text("1")
    expect(log_of(desk)).to_contain_text("as it should")
    phone.locator("#input").press_sequentially("typing a reply")
    expect(desk.locator("#typing")).to_contain_text("bob")
    desk.locator("#input").focus()
    desk.screenshot(path=str(out / "webclient-desktop.png"))
    expect(log_of(phone)).to_contain_text("reading it now")
    phone.fill("#input", "")
    phone.screenshot(path=str(out / "webclient-phone.png"))
    carol.sock.close()
    dave.sock.close()


def main(out: Path) -> None:
    chromium = os.environ.get("CHATD_CHROMIUM", "/usr/bin/chromium")
    with tempfile.TemporaryDirectory() as workdir:
        proc, ports = start(workdir)
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, headless=True
                )
                desk = browser.new_context(
                    viewport={"width": 1280, "height": 800}, color_scheme="light"
                ).new_page()
                phone = browser.new_context(
                    viewport={"width": 390, "height": 844},
                    color_scheme="light",
                    has_touch=True,
                    is_mobile=True,
                ).new_page()
                for page in (desk, phone):
                    page.set_default_timeout(TIMEOUT * 1000)
                url = f"http://127.0.0.1:{ports['web']}/"
                scene(desk, phone, url, ports["IRC"], out)
                browser.close()
        finally:
            proc.terminate()
            proc.wait(TIMEOUT)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs")
