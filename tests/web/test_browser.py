"""
The web client end to end, in a real browser: headless Chromium (Debian's
C{chromium}, driven by Playwright for Python) against a real C{twistd -n
chatd} with JSON, IRC and web listeners on free loopback ports and its
state in a temporary directory.

Each test has a server and a browser of its own.  Every wait is for
something on the page or on a socket, with a deadline (L{TIMEOUT_MS},
L{WAIT}); nothing sleeps.  Without Chromium or Playwright
the tests are skipped with the reason, except under CI (C{CI=true}), where
they fail: CI installs both (see C{.ci/run}).  On PyPy they are always
skipped: Playwright is a CPython-only test dependency, and CI runs them in
its CPython stage (the server under test is the same either way).
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import socket
from typing import TYPE_CHECKING, Any
from unittest import SkipTest

from twisted.trial.unittest import SynchronousTestCase

from tests.e2e_daemon import LOOPBACK, WAIT, Daemon, IRCClient, JSONClient

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # PyPy, or not installed
    sync_playwright = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

#: How long the page may take for anything it should do, in milliseconds:
#: only a bound for a broken client, never waited for by a passing test.
TIMEOUT_MS = int(WAIT * 1000)
if sync_playwright is not None:
    expect.set_options(timeout=TIMEOUT_MS)
#: Where Debian puts Chromium; CHATD_CHROMIUM names another.
CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")


def chromium() -> str | None:
    """The Chromium executable to drive, or None."""
    named = os.environ.get("CHATD_CHROMIUM")
    if named:
        return named if os.access(named, os.X_OK) else None
    for path in CHROMIUM:
        if os.access(path, os.X_OK):
            return path
    return shutil.which("chromium")


def missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if sync_playwright is None:
        return "Playwright for Python is not installed (pip install -e '.[test]' on CPython)"
    if chromium() is None:
        named = os.environ.get("CHATD_CHROMIUM")
        if named:
            return f"CHATD_CHROMIUM names {named!r}, which is not an executable"
        return "Chromium is not installed (Debian: apt-get install chromium)"
    return None


def listening(*extra: str) -> tuple[str, ...]:
    """JSON, IRC and web listeners on free loopback ports."""
    return (
        "--listen",
        LOOPBACK,
        "--irc-listen",
        LOOPBACK,
        "--web-listen",
        LOOPBACK,
        *extra,
    )


class Client:
    """One person in the web client: a page of its own (own storage)."""

    def __init__(self, browser: Browser, server: Daemon, **context: Any) -> None:
        self.url = f"http://127.0.0.1:{server.ports['web']}/"
        self.context = browser.new_context(**context)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page: Page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", self._dialog)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(self.url)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def login(
        self, nick: str, *channels: str, password: str = "", register: bool = False
    ) -> Client:
        """Log in from the form: as a guest, or to an account."""
        page = self.page
        page.fill("#login-nick", nick)
        page.fill("#login-password", password)
        page.set_checked("#login-register", register)
        page.fill("#login-channels", " ".join(channels))
        page.click("#login-submit")
        self.wait_connected()
        for channel in channels:
            expect(self.buffer_button(channel)).to_be_attached()
        return self

    def wait_connected(self) -> None:
        expect(self.page.locator("#conn")).to_have_attribute("data-state", "connected")
        expect(self.page.locator("#conn")).to_contain_text("Connected")

    def buffer_button(self, name: str) -> Locator:
        return self.page.locator("#buffer-list button.buffer", has_text=name)

    def open(self, name: str) -> None:
        self.buffer_button(name).click()
        expect(self.page.locator("#buffer-name")).to_have_text(name)

    @property
    def log(self) -> Locator:
        """The messages of the buffer on screen."""
        return self.page.locator(".log:not([hidden])")

    def messages(self, text: str) -> Locator:
        return self.log.locator(".msg", has_text=text)

    def member(self, nick: str) -> Locator:
        return self.page.locator("#member-list button.member", has_text=nick)

    def type_line(self, text: str) -> None:
        """Type a line in the message box and send it with Enter."""
        self.page.fill("#input", text)
        self.page.press("#input", "Enter")
        expect(self.page.locator("#input")).to_have_value("")

    def say(self, text: str) -> None:
        """Say something, and wait until the server has taken it."""
        self.type_line(text)
        # Confirmed by the server: the line has its msgid.
        expect(
            self.log.locator(".msg.mine:not(.pending)", has_text=text).last
        ).to_have_attribute("data-msgid", _MSGID)

    def texts(self) -> list[str]:
        """The text of every message on screen, in order."""
        return self.log.locator(".msg .text").all_inner_texts()

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors


_MSGID = re.compile(r"^[0-9A-Z]{28}$")


class BrowserCase(SynchronousTestCase):
    """
    A server and a browser for each test (so that no test sees another's
    channels, nicks or flood-control tokens), closed when it ends; the test
    fails if the server logged a traceback or a page threw an error.
    """

    def setUp(self) -> None:
        if platform.python_implementation() != "CPython":
            raise SkipTest(
                "the browser tests run on CPython (Playwright is installed there only)"
            )
        reason = missing()
        if reason is not None:
            if os.environ.get("CI") == "true":
                self.fail(f"CI must run the browser tests: {reason}")
            raise SkipTest(reason)
        assert sync_playwright is not None
        playwright = sync_playwright().start()
        self.addCleanup(playwright.stop)
        self.browser = playwright.chromium.launch(
            executable_path=chromium(), headless=True, timeout=TIMEOUT_MS
        )
        self.addCleanup(self.browser.close)

    def start_server(self, *extra: str) -> Daemon:
        """A chatd of this test's own: its state in a temporary directory."""
        workdir = os.path.abspath(str(self.mktemp()))
        os.makedirs(workdir)
        daemon = Daemon(workdir, *listening(*extra))
        self.addCleanup(lambda: self.assertEqual(daemon.tracebacks(), []))
        self.addCleanup(daemon.close)
        return daemon.start(("JSON", "IRC", "web"))

    def client(self, server: Daemon, **context: Any) -> Client:
        """A person in a browser of their own, on the server's web client."""
        made = Client(self.browser, server, **context)
        self.addCleanup(made.close)
        return made

    def irc_user(self, server: Daemon, nick: str, *channels: str) -> IRCClient:
        """A person on IRC, in C{channels}."""
        irc = IRCClient(server.ports["IRC"])
        self.addCleanup(irc.close)
        irc.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} on IRC")
        irc.expect("001")
        for channel in channels:
            irc.send(f"JOIN {channel}")
            irc.expect("366")
        irc.nick = nick
        return irc


class BrowserTests(BrowserCase):
    """The web client with other browser users and IRC users."""

    def setUp(self) -> None:
        super().setUp()
        self.server = self.start_server()

    def test_two_browsers_and_an_irc_user_talk(self) -> None:
        """
        Two people in browsers and one on IRC share a channel: each sees
        what the others say, and the browsers list the members, the
        creator as operator.
        """
        alice = self.client(self.server).login("alice", "#talk")
        bob = self.client(self.server).login("bob", "#talk")
        carol = self.irc_user(self.server, "carol", "#talk")
        for page in (alice, bob):
            expect(page.member("carol")).to_be_visible()
        expect(bob.member("alice")).to_have_text("@alice")
        expect(alice.member("bob")).to_have_text("bob")

        alice.say("hello from the browser")
        expect(bob.messages("hello from the browser")).to_have_count(1)
        said = carol.expect("PRIVMSG", where=lambda r: r.params[0] == "#talk")
        self.assertEqual(said.text, "hello from the browser")
        self.assertTrue(said.prefix.startswith("alice!"))

        carol.send("PRIVMSG #talk :hello from IRC")
        carol.send("PRIVMSG #talk :\x01ACTION waves\x01")
        for page in (alice, bob):
            expect(page.messages("hello from IRC")).to_contain_text("<carol>")
            expect(page.log.locator(".msg.action")).to_contain_text("* carol waves")

        bob.type_line("/me answers")
        expect(alice.log.locator(".msg.action", has_text="answers")).to_have_count(1)
        said = carol.expect("PRIVMSG", where=lambda r: "answers" in r.text)
        self.assertEqual(said.text, "\x01ACTION answers\x01")
        carol.send("NOTICE #talk :the build is green")
        expect(alice.log.locator(".msg.notice")).to_have_text(
            re.compile(r"-carol- the build is green$")
        )

        # A private conversation: it opens by itself, counted as unread.
        carol.send("PRIVMSG alice :psst, alice")
        expect(alice.buffer_button("carol").locator(".badge")).to_have_text("1")
        expect(bob.page.locator("#buffer-list")).not_to_contain_text("carol")
        alice.open("carol")
        expect(alice.messages("psst, alice")).to_have_count(1)
        alice.say("hi carol, just us")
        said = carol.expect("PRIVMSG", where=lambda r: r.params[0] == "carol")
        self.assertEqual(said.text, "hi carol, just us")

    def test_reload_shows_the_scrollback_once(self) -> None:
        """
        A browser user who reloads the page is logged in again, rejoins,
        and sees what was said before, each message once; so does one
        whose connection drops and comes back, with what was said
        meanwhile.
        """
        alice = self.client(self.server).login("alice", "#reload")
        bob = self.client(self.server).login("bob", "#reload")
        dave = self.irc_user(self.server, "dave", "#reload")
        said = [f"before the reload {n}" for n in range(3)]
        for text in said:
            alice.say(text)
        dave.send("PRIVMSG #reload :from IRC before the reload")
        said.append("from IRC before the reload")
        expect(bob.messages(said[-1])).to_have_count(1)
        bob.say("bob before the reload")
        said.append("bob before the reload")

        bob.page.reload()
        bob.wait_connected()
        expect(bob.page.locator("#buffer-name")).to_have_text("#reload")
        # A message after the reload comes after the scrollback.
        alice.say("after the reload")
        expect(bob.messages("after the reload")).to_have_count(1)
        said.append("after the reload")
        self.assertEqual(bob.texts(), said)

        # The connection drops: the client comes back by itself and
        # catches up from history, without showing anything twice.
        bob.page.evaluate("window.chatd.connection.socket.close()")
        conn = bob.page.locator("#conn")
        expect(conn).not_to_have_attribute("data-state", "connected")
        alice.say("while bob was away")
        bob.wait_connected()
        expect(bob.messages("while bob was away")).to_have_count(1)
        alice.say("after bob came back")
        expect(bob.messages("after bob came back")).to_have_count(1)
        said += ["while bob was away", "after bob came back"]
        self.assertEqual(bob.texts(), said)

    def test_operator_kicks_the_irc_user(self) -> None:
        """
        The channel's operator, in the browser, kicks an IRC user from the
        member list; the IRC user gets the KICK with the reason, and the
        member list no longer has them.  Slash commands do it too.
        """
        alice = self.client(self.server).login("alice", "#kick")
        eve = self.irc_user(self.server, "eve", "#kick")
        alice.member("eve").click()
        dialog = alice.page.locator("#member-dialog")
        expect(dialog).to_be_visible()
        alice.page.fill("#member-reason", "not today")
        dialog.get_by_role("button", name="Kick", exact=True).click()

        kick = eve.expect("KICK")
        self.assertEqual(kick.params, ("#kick", "eve", "not today"))
        self.assertTrue(kick.prefix.startswith("alice!"))
        expect(alice.member("eve")).to_have_count(0)
        expect(alice.log.locator(".event", has_text="kicked")).to_have_text(
            re.compile(r"alice kicked eve \(not today\)$")
        )

        eve.send("JOIN #kick")
        expect(alice.member("eve")).to_be_visible()
        alice.type_line("/op eve")
        expect(alice.member("eve")).to_have_text("@eve")
        eve.expect("MODE", where=lambda r: r.params[1:] == ("+o", "eve"))
        alice.type_line("/kick eve bye")
        self.assertEqual(eve.expect("KICK").params, ("#kick", "eve", "bye"))
        expect(alice.member("eve")).to_have_count(0)

    def test_html_in_messages_topics_and_names_is_text(self) -> None:
        """
        Markup in a message, a topic or a channel's name shows as the text
        it is: no element is made from it and no script runs.
        """
        attack = "<img src=x onerror=alert(1)>"
        channel = "#<img/src=x/onerror=alert(2)>"
        alice = self.client(self.server).login("alice", channel)
        mallory = self.irc_user(self.server, "mallory", channel)
        expect(alice.member("mallory")).to_be_visible()
        mallory.send(f"PRIVMSG {channel} :look {attack} \x02bold\x02")
        line = alice.messages("look")
        expect(line.locator(".text")).to_have_text(f"look {attack} bold")
        expect(line.locator(".fmt-b")).to_have_text("bold")

        alice.type_line(f"/topic {attack}")
        expect(alice.page.locator("#topic")).to_have_text(attack)
        expect(alice.page.locator("#buffer-name")).to_have_text(channel)
        expect(alice.buffer_button(channel)).to_be_visible()
        # A link is one only for http(s), opened without an opener.
        mallory.send(
            f"PRIVMSG {channel} :see javascript:alert(3) and https://x.org/a?b."
        )
        link = alice.messages("see javascript").locator("a")
        expect(link).to_have_count(1)
        expect(link).to_have_attribute("href", "https://x.org/a?b")
        expect(link).to_have_attribute("rel", "noopener noreferrer")

        self.assertEqual(alice.page.locator("img").count(), 0)
        self.assertEqual(alice.dialogs, [])

    def test_irc_formatting_becomes_classes(self) -> None:
        """
        Every IRC formatting code becomes a span with a class (colours by
        number); reset ends them; codes the client does not show (hex
        colours, colours above 15) are left out, never shown as garbage.
        """
        page = self.client(self.server).page
        text = (
            "\x02b\x02 \x1di\x1d \x1fu\x1f \x1es\x1e \x11m\x11 \x16r\x16 "
            "\x0304,12red on blue\x03 plain \x0399x\x0f \x04ff0000hex\x04 "
            "\x02\x1dboth\x0f \x02https://a.example/b\x02"
        )
        html = page.evaluate(
            """async (text) => {
                const format = await import("./js/format.js");
                const box = document.createElement("div");
                box.append(format.render(text));
                return box.innerHTML;
            }""",
            text,
        )
        self.assertEqual(
            html,
            '<span class="fmt-b">b</span> <span class="fmt-i">i</span> '
            '<span class="fmt-u">u</span> <span class="fmt-s">s</span> '
            '<span class="fmt-m">m</span> <span class="fmt-rev">r</span> '
            '<span class="fg-4 bg-12">red on blue</span> plain x hex '
            '<span class="fmt-b fmt-i">both</span> <span class="fmt-b">'
            '<a href="https://a.example/b" target="_blank" rel="noopener noreferrer">'
            "https://a.example/b</a></span>",
        )

    def test_irc_mode_strings_become_requests(self) -> None:
        """
        /mode takes IRC's letters: flags, key and limit become one mode
        request; privileges and list entries their own commands.
        """
        page = self.client(self.server).page
        requests = page.evaluate(
            """async () => {
                const commands = await import("./js/commands.js");
                return commands.modeRequests(
                    "#c", "+mk-t+l+o-v+b", ["sesame", "10", "bob", "eve", "spam!*@*"]
                );
            }"""
        )
        self.assertEqual(
            requests,
            [
                {
                    "cmd": "mode",
                    "channel": "#c",
                    "set": {"moderated": True, "key": "sesame", "limit": 10},
                    "unset": ["topic_ops"],
                },
                {"cmd": "op", "channel": "#c", "nick": "bob"},
                {"cmd": "devoice", "channel": "#c", "nick": "eve"},
                {"cmd": "ban", "channel": "#c", "mask": "spam!*@*", "list": "ban"},
            ],
        )

    def test_unread_counts_keyboard_and_phone_layout(self) -> None:
        """
        On a phone-sized screen the channel list is a panel behind a
        button; a message to a channel not on screen counts as unread
        there; Alt+Down switches channels from the keyboard and clears the
        count.
        """
        phone = {"width": 390, "height": 844}
        alice = self.client(self.server, viewport=phone, has_touch=True)
        alice.login("alice", "#one", "#two")
        expect(alice.page.locator("#buffers")).not_to_be_visible()
        alice.page.click("#toggle-buffers")
        expect(alice.page.locator("#buffers")).to_be_visible()
        alice.buffer_button("#one").click()
        expect(alice.page.locator("#buffers")).not_to_be_visible()
        expect(alice.page.locator("#buffer-name")).to_have_text("#one")

        bob = self.irc_user(self.server, "bob", "#two")
        bob.send("PRIVMSG #two :are you there?")
        expect(alice.page.locator("#unread-all")).to_have_text("1")
        expect(alice.buffer_button("#two").locator(".badge")).to_have_text("1")

        alice.page.focus("#input")
        alice.page.keyboard.press("Alt+ArrowDown")
        expect(alice.page.locator("#buffer-name")).to_have_text("#two")
        expect(alice.messages("are you there?")).to_have_count(1)
        expect(alice.page.locator("#unread-all")).to_be_hidden()
        expect(alice.page.locator("#input")).to_be_focused()
        alice.page.keyboard.press("Alt+ArrowUp")
        expect(alice.page.locator("#buffer-name")).to_have_text("#one")

    def test_typing_is_shown_and_ends_with_the_message(self) -> None:
        """
        What one browser user types shows the other "... is typing" until
        the message comes; an IRC client's +typing shows the same.
        """
        probe = JSONClient(self.server.ports["JSON"], "probe")
        answer = probe.request("typing", to="#nowhere", state="active")
        probe.close()
        if answer.get("code") == "unknown_command":
            raise SkipTest("this server has no typing command")
        alice = self.client(self.server).login("alice", "#typing")
        bob = self.client(self.server).login("bob", "#typing")
        expect(alice.member("bob")).to_be_visible()

        alice.page.locator("#input").press_sequentially("hel")
        expect(bob.page.locator("#typing")).to_have_text("alice is typing…")
        alice.page.locator("#input").press_sequentially("lo")
        alice.page.press("#input", "Enter")
        expect(bob.messages("hello")).to_have_count(1)
        expect(bob.page.locator("#typing")).to_have_text("")

        carol = IRCClient(self.server.ports["IRC"])
        self.addCleanup(carol.close)
        carol.send("CAP REQ :message-tags", "NICK carol", "USER c 0 * :c")
        carol.expect("CAP")
        carol.send("CAP END", "JOIN #typing")
        carol.expect("366")
        carol.send("@+typing=active TAGMSG #typing")
        expect(alice.page.locator("#typing")).to_have_text("carol is typing…")
        carol.send("@+typing=done TAGMSG #typing")
        expect(alice.page.locator("#typing")).to_have_text("")


class AccountTests(BrowserCase):
    """An account, on two devices."""

    def test_read_markers_are_shared_by_the_accounts_devices(self) -> None:
        """
        Registered in one tab and logged in to the same account in another
        (which takes nick_), both count a message as unread; reading it in
        one clears the count in the other (mark_read, read_marker).
        """
        server = self.start_server()
        laptop = self.client(server)
        laptop.login("alice", "#one", "#two", password="correct horse", register=True)
        phone = self.client(server, viewport={"width": 390, "height": 844})
        phone.login("alice", "#one", "#two", password="correct horse")
        expect(phone.page.locator("#me-nick")).to_have_text("alice_")
        for device in (laptop, phone):
            expect(device.page.locator("#buffer-name")).to_have_text("#one")

        bob = self.irc_user(server, "bob", "#two")
        bob.send("PRIVMSG #two :news for alice")
        for device in (laptop, phone):
            badge = device.buffer_button("#two").locator(".badge")
            expect(badge).to_have_text("1")
        laptop.open("#two")
        expect(laptop.messages("news for alice")).to_have_count(1)
        expect(phone.buffer_button("#two").locator(".badge")).to_have_count(0)
        expect(phone.page.locator("#unread-all")).to_be_hidden()


class RestartTests(BrowserCase):
    """The server goes away and comes back."""

    def test_restart_reconnects_and_catches_up(self) -> None:
        """
        When the server restarts, the page says it is disconnected, comes
        back by itself, rejoins, and shows what was said while it was away
        after what it had, each message once.
        """
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        web = f"tcp:{port}:interface=127.0.0.1"
        workdir = os.path.abspath(str(self.mktemp()))
        os.makedirs(workdir)
        args = ("--listen", LOOPBACK, "--web-listen", web)
        server = Daemon(workdir, *args)
        self.addCleanup(lambda: self.assertEqual(server.tracebacks(), []))
        self.addCleanup(server.close)
        server.start(("JSON", "web"))
        alice = self.client(server).login("alice", "#restart")
        writer = JSONClient(server.ports["JSON"], "writer")
        writer.ok("join", channel="#restart")
        writer.ok("msg", to="#restart", text="before the restart")
        expect(alice.messages("before the restart")).to_have_count(1)
        writer.close()

        server.stop()
        expect(alice.page.locator("#conn")).to_have_attribute("data-state", "waiting")
        expect(alice.page.locator("#conn")).to_contain_text("reconnecting in")
        server.start(("JSON", "web"))
        writer = JSONClient(server.ports["JSON"], "writer")
        self.addCleanup(writer.close)
        writer.ok("join", channel="#restart")
        writer.ok("msg", to="#restart", text="after the restart")
        alice.wait_connected()
        expect(alice.messages("after the restart")).to_have_count(1)
        self.assertEqual(alice.texts(), ["before the restart", "after the restart"])
        expect(alice.log.locator(".info", has_text="Reconnected")).to_have_count(1)


class ScrollbackTests(BrowserCase):
    """A long history, read a page at a time."""

    def test_scrolling_up_reads_older_history(self) -> None:
        """
        Joining shows the newest page of a long history; scrolling up
        brings the older pages, in order, each message once, until the
        first.
        """
        # Without flood control, to write 130 messages at once.
        server = self.start_server("--flood-burst", "0")
        writer = JSONClient(server.ports["JSON"], "writer")
        self.addCleanup(writer.close)
        writer.ok("join", channel="#scroll")
        for n in range(130):
            writer.ok("msg", to="#scroll", text=f"line {n:03}")
        alice = self.client(server).login("alice", "#scroll")
        expect(alice.messages("line 129")).to_have_count(1)
        lines = alice.log.locator(".msg")
        expect(lines).to_have_count(50)
        expect(lines.first).to_contain_text("line 080")

        alice.log.evaluate("log => { log.scrollTop = 0; }")
        expect(lines).to_have_count(100)
        expect(lines.first).to_contain_text("line 030")
        alice.log.evaluate("log => { log.scrollTop = 0; }")
        expect(lines).to_have_count(130)
        expect(lines.first).to_contain_text("line 000")
        expect(alice.log.locator(".older")).to_be_hidden()
        self.assertEqual(alice.texts(), [f"line {n:03}" for n in range(130)])
