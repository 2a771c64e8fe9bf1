"""
The web client end to end, in a real browser: headless Chromium (Debian's
C{chromium}, driven by Playwright for Python) against a real C{twistd -n
chatd} with JSON, IRC and web listeners on free loopback ports and its
state in a temporary directory.

Every wait is for something on the page or on a socket, with a deadline
(L{TIMEOUT_MS}, L{WAIT}); nothing sleeps.  Without Chromium or Playwright
the tests are skipped with the reason, except under CI (C{CI=true}), where
they fail: CI installs both (see C{.ci/run}).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from itertools import count
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

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
#: Where Debian puts Chromium; CHATD_CHROMIUM names another.
CHROMIUM = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")

_names = count(1)


def unique(prefix: str) -> str:
    """A nick or channel name no other test uses."""
    return f"{prefix}{next(_names)}"


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
        return "Chromium is not installed (Debian: apt-get install chromium)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    reason = missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    assert sync_playwright is not None
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium(), headless=True, timeout=TIMEOUT_MS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """A chatd with JSON, IRC and web listeners; its state in a temp dir."""
    workdir: Path = tmp_path_factory.mktemp("chatd-web")
    daemon = Daemon(
        str(workdir),
        "--listen",
        LOOPBACK,
        "--irc-listen",
        LOOPBACK,
        "--web-listen",
        LOOPBACK,
    )
    try:
        daemon.start(("JSON", "IRC", "web"))
        yield daemon
        daemon.stop()
        assert daemon.tracebacks() == []
    finally:
        daemon.close()


@pytest.fixture
def unlimited(tmp_path: Path) -> Iterator[Daemon]:
    """A server of its own without flood control, for a long scrollback."""
    daemon = Daemon(
        str(tmp_path),
        "--listen",
        LOOPBACK,
        "--web-listen",
        LOOPBACK,
        "--flood-burst",
        "0",
    )
    try:
        daemon.start(("JSON", "web"))
        yield daemon
        daemon.stop()
        assert daemon.tracebacks() == []
    finally:
        daemon.close()


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

    def login(self, nick: str, *channels: str) -> Client:
        page = self.page
        page.fill("#login-nick", nick)
        page.fill("#login-channels", " ".join(channels))
        page.click("#login-submit")
        self.wait_connected()
        for channel in channels:
            expect(self.buffer_button(channel)).to_be_visible()
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

    def close(self) -> None:
        assert self.errors == [], self.errors
        self.context.close()


_MSGID = re.compile(r"^[0-9A-Z]{28}$")


@pytest.fixture
def people(browser: Browser, server: Daemon) -> Iterator[list[Client]]:
    """Clients made by a test, closed (and checked for errors) after it."""
    made: list[Client] = []
    yield made
    for client in made:
        client.close()


def irc_user(server: Daemon, nick: str, *channels: str) -> IRCClient:
    irc = IRCClient(server.ports["IRC"])
    irc.send(f"NICK {nick}", f"USER {nick} 0 * :{nick} on IRC")
    irc.expect("001")
    for channel in channels:
        irc.send(f"JOIN {channel}")
        irc.expect("366")
    irc.nick = nick
    return irc


def test_two_browsers_and_an_irc_user_talk(
    browser: Browser, server: Daemon, people: list[Client]
) -> None:
    """
    Two people in browsers and one on IRC share a channel: each sees what
    the others say, and the browsers list the members, the creator as
    operator.
    """
    channel = unique("#talk")
    alice = Client(browser, server)
    people.append(alice)
    alice.login(unique("alice"), channel)
    bob = Client(browser, server)
    people.append(bob)
    bob_nick = unique("bob")
    bob.login(bob_nick, channel)
    carol_nick = unique("carol")
    carol = irc_user(server, carol_nick, channel)
    try:
        for page in (alice, bob):
            expect(page.member(carol_nick)).to_be_visible()
        expect(bob.member("alice")).to_contain_text("@")
        expect(alice.member(bob_nick)).not_to_contain_text("@")

        alice.say("hello from the browser")
        expect(bob.messages("hello from the browser")).to_have_count(1)
        said = carol.expect("PRIVMSG", where=lambda r: r.params[0] == channel)
        assert said.text == "hello from the browser"

        carol.send(f"PRIVMSG {channel} :hello from IRC")
        carol.send(f"PRIVMSG {channel} :\x01ACTION waves\x01")
        for page in (alice, bob):
            expect(page.messages("hello from IRC")).to_contain_text(carol_nick)
            expect(page.log.locator(".msg.action", has_text="waves")).to_contain_text(
                f"* {carol_nick} waves"
            )

        bob.type_line("/me answers")
        expect(alice.log.locator(".msg.action", has_text="answers")).to_have_count(1)
        said = carol.expect("PRIVMSG", where=lambda r: "answers" in r.text)
        assert said.text == "\x01ACTION answers\x01"
    finally:
        carol.close()


def test_reload_shows_the_scrollback_once(
    browser: Browser, server: Daemon, people: list[Client]
) -> None:
    """
    A browser user who reloads the page is logged in again, rejoins, and
    sees what was said before, each message once; so does one whose
    connection drops and comes back, with what was said meanwhile.
    """
    channel = unique("#reload")
    alice = Client(browser, server)
    people.append(alice)
    alice.login(unique("alice"), channel)
    bob = Client(browser, server)
    people.append(bob)
    bob.login(unique("bob"), channel)
    dave_nick = unique("dave")
    dave = irc_user(server, dave_nick, channel)
    try:
        said = [f"before the reload {n}" for n in range(3)]
        for text in said:
            alice.say(text)
        dave.send(f"PRIVMSG {channel} :from IRC before the reload")
        said.append("from IRC before the reload")
        expect(bob.messages(said[-1])).to_have_count(1)
        bob.say("bob before the reload")
        said.append("bob before the reload")

        bob.page.reload()
        bob.wait_connected()
        expect(bob.page.locator("#buffer-name")).to_have_text(channel)
        # A message after the reload comes after the scrollback.
        alice.say("after the reload")
        expect(bob.messages("after the reload")).to_have_count(1)
        for text in said:
            expect(bob.messages(text)).to_have_count(1)
        assert bob.log.locator(".msg").count() == len(said) + 1

        # The connection drops: the client comes back by itself and
        # catches up from history, without showing anything twice.
        bob.page.evaluate("window.chatd.connection.socket.close()")
        expect(bob.page.locator("#conn")).not_to_have_attribute(
            "data-state", "connected"
        )
        alice.say("while bob was away")
        bob.wait_connected()
        expect(bob.messages("while bob was away")).to_have_count(1)
        alice.say("after bob came back")
        expect(bob.messages("after bob came back")).to_have_count(1)
        for text in [*said, "after the reload"]:
            expect(bob.messages(text)).to_have_count(1)
        assert bob.log.locator(".msg").count() == len(said) + 3
    finally:
        dave.close()


def test_operator_kicks_the_irc_user(
    browser: Browser, server: Daemon, people: list[Client]
) -> None:
    """
    The channel's operator, in the browser, kicks an IRC user from the
    member list; the IRC user gets the KICK with the reason, and the member
    list no longer has them.
    """
    channel = unique("#kick")
    alice = Client(browser, server)
    people.append(alice)
    alice_nick = unique("alice")
    alice.login(alice_nick, channel)
    eve_nick = unique("eve")
    eve = irc_user(server, eve_nick, channel)
    try:
        alice.member(eve_nick).click()
        dialog = alice.page.locator("#member-dialog")
        expect(dialog).to_be_visible()
        alice.page.fill("#member-reason", "not today")
        dialog.get_by_role("button", name="Kick", exact=True).click()

        kick = eve.expect("KICK")
        assert kick.params == (channel, eve_nick, "not today")
        assert kick.prefix.startswith(f"{alice_nick}!")
        expect(alice.member(eve_nick)).to_have_count(0)
        expect(alice.log.locator(".event", has_text="kicked")).to_contain_text(
            f"{alice_nick} kicked {eve_nick} (not today)"
        )

        # Slash commands do the same: op and kick again after a rejoin.
        eve.send(f"JOIN {channel}")
        expect(alice.member(eve_nick)).to_be_visible()
        alice.type_line(f"/op {eve_nick}")
        expect(alice.member(eve_nick)).to_contain_text("@")
        eve.expect("MODE", where=lambda r: r.params[1:] == ("+o", eve_nick))
        alice.type_line(f"/kick {eve_nick} bye")
        assert eve.expect("KICK").params == (channel, eve_nick, "bye")
        expect(alice.member(eve_nick)).to_have_count(0)
    finally:
        eve.close()


def test_html_in_messages_topics_and_names_is_text(
    browser: Browser, server: Daemon, people: list[Client]
) -> None:
    """
    Markup in a message, a topic or a channel's name shows as the text it
    is: no element is made from it and no script runs.
    """
    attack = "<img src=x onerror=alert(1)>"
    channel = "#<img/src=x/onerror=alert(2)>"
    alice = Client(browser, server)
    people.append(alice)
    alice.login(unique("alice"), channel)
    mallory_nick = unique("mallory")
    mallory = irc_user(server, mallory_nick, channel)
    try:
        expect(alice.member(mallory_nick)).to_be_visible()
        mallory.send(f"PRIVMSG {channel} :look {attack} \x02bold\x02")
        line = alice.messages("look")
        expect(line).to_contain_text(f"look {attack} bold")
        expect(line.locator(".fmt-b")).to_have_text("bold")

        alice.type_line(f"/topic {attack}")
        expect(alice.page.locator("#topic")).to_have_text(attack)
        expect(alice.page.locator("#buffer-name")).to_have_text(channel)
        expect(alice.buffer_button(channel)).to_be_visible()

        assert alice.page.locator("img").count() == 0
        assert alice.dialogs == []
        # And a link is one only for http(s), opened without an opener.
        mallory.send(
            f"PRIVMSG {channel} :see javascript:alert(3) and https://example.org/a?b=1."
        )
        link = alice.messages("see javascript").locator("a")
        expect(link).to_have_count(1)
        expect(link).to_have_attribute("href", "https://example.org/a?b=1")
        expect(link).to_have_attribute("rel", "noopener noreferrer")
        assert alice.page.locator("img").count() == 0
        assert alice.dialogs == []
    finally:
        mallory.close()


def test_unread_counts_keyboard_and_phone_layout(
    browser: Browser, server: Daemon, people: list[Client]
) -> None:
    """
    On a phone-sized screen the channel list is a panel behind a button;
    a message to a channel not on screen counts as unread there; Alt+Down
    switches channels from the keyboard and clears the count.
    """
    first, second = unique("#one"), unique("#two")
    alice = Client(
        browser, server, viewport={"width": 390, "height": 844}, has_touch=True
    )
    people.append(alice)
    alice.page.fill("#login-nick", unique("alice"))
    alice.page.fill("#login-channels", f"{first} {second}")
    alice.page.click("#login-submit")
    alice.wait_connected()
    expect(alice.page.locator("#buffers")).not_to_be_visible()
    alice.page.click("#toggle-buffers")
    expect(alice.page.locator("#buffers")).to_be_visible()
    alice.buffer_button(first).click()
    expect(alice.page.locator("#buffers")).not_to_be_visible()
    expect(alice.page.locator("#buffer-name")).to_have_text(first)

    bob = irc_user(server, unique("bob"), second)
    try:
        bob.send(f"PRIVMSG {second} :are you there?")
        expect(alice.page.locator("#unread-all")).to_have_text("1")
        expect(alice.buffer_button(second).locator(".badge")).to_have_text("1")

        alice.page.focus("#input")
        alice.page.keyboard.press("Alt+ArrowDown")
        expect(alice.page.locator("#buffer-name")).to_have_text(second)
        expect(alice.messages("are you there?")).to_have_count(1)
        expect(alice.page.locator("#unread-all")).to_be_hidden()
        expect(alice.page.locator("#input")).to_be_focused()
        alice.page.keyboard.press("Alt+ArrowUp")
        expect(alice.page.locator("#buffer-name")).to_have_text(first)
    finally:
        bob.close()


def test_typing_is_shown_and_ends_with_the_message(
    browser: Browser, server: Daemon, people: list[Client]
) -> None:
    """
    What one browser user types shows the other "... is typing" until the
    message comes; an IRC client's +typing shows the same.
    """
    probe = JSONClient(server.ports["JSON"], unique("probe"))
    answer = probe.request("typing", to="#nowhere", state="active")
    probe.close()
    if answer.get("code") == "unknown_command":
        pytest.skip("this server has no typing command")
    channel = unique("#typing")
    alice = Client(browser, server)
    people.append(alice)
    alice_nick = unique("alice")
    alice.login(alice_nick, channel)
    bob = Client(browser, server)
    people.append(bob)
    bob.login(unique("bob"), channel)
    expect(alice.member("bob")).to_be_visible()

    alice.page.locator("#input").press_sequentially("hel")
    expect(bob.page.locator("#typing")).to_have_text(f"{alice_nick} is typing…")
    alice.page.locator("#input").press_sequentially("lo")
    alice.page.press("#input", "Enter")
    expect(bob.messages("hello")).to_have_count(1)
    expect(bob.page.locator("#typing")).to_have_text("")

    carol_nick = unique("carol")
    carol = IRCClient(server.ports["IRC"])
    try:
        carol.send("CAP REQ :message-tags", f"NICK {carol_nick}", "USER c 0 * :c")
        carol.expect("CAP")
        carol.send("CAP END")
        carol.expect("001")
        carol.send(f"JOIN {channel}")
        carol.expect("366")
        carol.send(f"@+typing=active TAGMSG {channel}")
        expect(alice.page.locator("#typing")).to_have_text(f"{carol_nick} is typing…")
        carol.send(f"@+typing=done TAGMSG {channel}")
        expect(alice.page.locator("#typing")).to_have_text("")
    finally:
        carol.close()


def test_scrolling_up_reads_older_history(
    browser: Browser, unlimited: Daemon, people: list[Client]
) -> None:
    """
    Joining shows the newest page of a long history; scrolling up brings
    the older pages, in order, each message once, until the first.
    """
    channel = "#scroll"
    writer = JSONClient(unlimited.ports["JSON"], "writer")
    try:
        writer.ok("join", channel=channel)
        for n in range(130):
            writer.ok("msg", to=channel, text=f"line {n:03}")
        alice = Client(browser, unlimited)
        people.append(alice)
        alice.login("alice", channel)
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
        texts = lines.locator(".text").all_inner_texts()
        assert texts == [f"line {n:03}" for n in range(130)]
    finally:
        writer.close()
