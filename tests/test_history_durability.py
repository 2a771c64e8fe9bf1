# -*- test-case-name: tests.test_history_durability -*-
"""
The history's durability end to end (issue 16), with a real C{twistd -n
chatd} on 127.0.0.1 and the SQLite store in its state directory:

  - SIGTERM: every message the server acknowledged is stored before it
    exits, once, in order;
  - SIGKILL: the store is intact (SQLite's and the FTS index's own checks),
    the server starts on it again, and every message acknowledged more than
    the bound (L{loss_bound}) before the kill is stored.

The server writes history behind (L{chatd.history.log}): a batch every
C{history.flush_interval} seconds.  The flood limits are the defaults (a
burst of 10, then 2 a second): many connections, each on a channel of its
own, say a little each, and the SIGKILL tests pace themselves below the
limits so that nothing is refused.
"""

from __future__ import annotations

import os
import selectors
import socket
import sqlite3
import time
from collections import defaultdict
from contextlib import closing
from dataclasses import dataclass
from typing import Union

from twisted.trial.unittest import TestCase

from chatd.history.log import FLUSH_INTERVAL
from chatd.store import SQLITE_FILE
from tests.e2e_daemon import LOOPBACK, WAIT, Daemon, IRCClient, JSONClient, Reply

#: The default flood burst (chatd.config's flood.burst); joining takes one.
BURST = 10
#: Messages a connection may send at once after joining, under the defaults.
AT_ONCE = BURST - 1
#: The pace a connection keeps after its burst: below flood.rate (2.0).
PACE = 1.6

#: What the SIGKILL bound allows beyond the flush interval, in seconds.
#: An item waits at most the interval for its batch; that batch may wait for
#: the one being written to commit (one write), and then is written itself
#: (a second write: one transaction, fsynced, of at most a few hundred
#: rows here, a few milliseconds on a quiet disk).  Add the reactor's lag
#: behind its timer under this load (the server is parsing and answering
#: hundreds of messages a second) and the signal's delivery.  0.3 s covers
#: two writes and that lag on a loaded CI machine with room to spare, and is
#: still small beside the interval itself.
MARGIN = 0.3

#: How long the SIGKILL tests send before the kill (seconds), beyond twice
#: the loss bound: most of what is acknowledged is then older than the
#: bound, however slowly a loaded machine (or a cold PyPy) answers at first.
SENDING = 1.5


def loss_bound(flush_interval: float) -> float:
    """The most a SIGKILL may lose: messages acknowledged this recently."""
    return flush_interval + MARGIN


def listening(state_dir: str) -> tuple[str, ...]:
    return ("--listen", LOOPBACK, "--irc-listen", LOOPBACK, "--state-dir", state_dir)


@dataclass(frozen=True)
class Ack:
    """A message the server acknowledged: when the client read the ack."""

    channel: str
    text: str
    msgid: str
    at: float


class Speaker:
    """
    One connection on a channel of its own (so nobody else's messages come
    its way), sending numbered messages and collecting their acks.
    """

    def __init__(self, channel: str) -> None:
        self.channel = channel
        self.sent: list[str] = []
        self.acks: list[Ack] = []
        #: when its allowance starts (see L{may_send})
        self.joined = 0.0

    @property
    def sock(self) -> socket.socket:
        raise NotImplementedError

    def say(self) -> None:
        """Send the next message."""
        text = f"{self.channel} says {len(self.sent)}"
        self.sent.append(text)
        self._send(text)

    def _send(self, text: str) -> None:
        raise NotImplementedError

    def may_send(self, now: float) -> bool:
        """
        Whether it may send now and stay below the flood limits: after the
        burst it had left once it joined, at L{PACE} a second.
        """
        allowance = AT_ONCE + PACE * (now - self.joined) - len(self.sent)
        return allowance >= 1

    def collect(self) -> None:
        """Read what came and note the acks in it."""
        raise NotImplementedError

    @property
    def unacknowledged(self) -> int:
        return len(self.sent) - len(self.acks)


class JSONSpeaker(Speaker):
    def __init__(self, client: JSONClient, channel: str) -> None:
        super().__init__(channel)
        self.client = client
        self._texts: dict[int, str] = {}

    @property
    def sock(self) -> socket.socket:
        return self.client.sock

    def _send(self, text: str) -> None:
        self._texts[self.client.send("msg", to=self.channel, text=text)] = text

    def collect(self) -> None:
        now = time.monotonic()
        for reply in self.client.unread:
            rid = reply.get("id")
            text = self._texts.pop(rid, None) if isinstance(rid, int) else None
            if text is None:
                continue
            assert reply["type"] == "ok", reply
            self.acks.append(Ack(self.channel, text, reply["msgid"], now))
        self.client.unread.clear()


class IRCSpeaker(Speaker):
    """Acked by echo-message: the echo carries the msgid."""

    def __init__(self, client: IRCClient, channel: str) -> None:
        super().__init__(channel)
        self.client = client

    @property
    def sock(self) -> socket.socket:
        return self.client.sock

    def _send(self, text: str) -> None:
        self.client.send(f"PRIVMSG {self.channel} :{text}")

    def collect(self) -> None:
        now = time.monotonic()
        for reply in self.client.unread:
            if self._echo(reply):
                msgid = reply.tag("msgid")
                assert msgid, reply
                self.acks.append(Ack(self.channel, reply.text, msgid, now))
            elif reply.command not in ("PING", "PONG"):
                raise AssertionError(f"{self.channel}: {reply}")
        self.client.unread.clear()

    def _echo(self, reply: Reply) -> bool:
        return (
            reply.command == "PRIVMSG"
            and reply.prefix.split("!")[0] == self.client.nick
            and reply.params[0].casefold() == self.channel
        )


AnySpeaker = Union[JSONSpeaker, IRCSpeaker]


@dataclass(frozen=True)
class Stored:
    """A message in the store's history table, in the order written."""

    target: str
    msgid: str
    text: str

    @property
    def channel(self) -> str:
        """The channel it was sent to, as the sender named it (the target
        is the server's key for it, folded for names that look alike)."""
        return self.text.split(" says ")[0]


def read_store(state_dir: str) -> list[Stored]:
    """
    The messages in the SQLite history, in the order they were written,
    once SQLite's integrity check and the FTS index's own have passed.
    """
    path = os.path.join(state_dir, SQLITE_FILE)
    assert os.path.exists(path), path
    with closing(sqlite3.connect(path)) as db:
        checked = db.execute("PRAGMA integrity_check").fetchall()
        assert checked == [("ok",)], checked
        fts = db.execute(
            "SELECT 1 FROM sqlite_master WHERE name = 'history_fts'"
        ).fetchone()
        if fts:
            # Raises (SQLITE_CORRUPT_VTAB) if the index and table disagree.
            db.execute("INSERT INTO history_fts(history_fts) VALUES('integrity-check')")
            db.rollback()
        rows = db.execute(
            "SELECT target, msgid, text FROM history WHERE kind = 'message' ORDER BY id"
        ).fetchall()
    return [Stored(*row) for row in rows]


class DurabilityCase(TestCase):
    """A daemon and its speakers, all closed when the test ends."""

    timeout = 4 * WAIT + 4 * (SENDING + 2 * loss_bound(1.0))

    def setUp(self) -> None:
        self.workdir = os.path.abspath(str(self.mktemp()))
        os.makedirs(self.workdir)
        self.state = os.path.join(self.workdir, "state")
        self.readers = 0

    def daemon(self, *args: str) -> Daemon:
        daemon = Daemon(self.workdir, *args, *listening(self.state))
        self.addCleanup(lambda: self.assertEqual(daemon.tracebacks(), []))
        self.addCleanup(daemon.close)
        return daemon

    def write_config(self, text: str) -> tuple[str, ...]:
        with open(os.path.join(self.workdir, "chatd.toml"), "w") as f:
            f.write(text)
        return ("--config", "chatd.toml")

    def speakers(self, server: Daemon, json: int, irc: int) -> list[AnySpeaker]:
        """C{json} JSON and C{irc} IRC speakers, each on its channel, joined."""
        speakers: list[AnySpeaker] = []
        joins = []
        for n in range(json):
            client = JSONClient(server.ports["JSON"])
            self.addCleanup(client.close)
            speaker = JSONSpeaker(client, f"#json{n}")
            client.send("nick", nick=f"json{n}")
            joins.append((client, client.send("join", channel=speaker.channel)))
            speakers.append(speaker)
        for client, rid in joins:
            reply = client.reply(rid)
            assert reply["type"] == "ok", reply
            client.unread.clear()
        for n in range(irc):
            irc_client = IRCClient(server.ports["IRC"])
            self.addCleanup(irc_client.close)
            irc_client.connect(f"irc{n}", caps="echo-message message-tags")
            irc_speaker = IRCSpeaker(irc_client, f"#irc{n}")
            irc_client.join(irc_speaker.channel)
            speakers.append(irc_speaker)
        # Spread their sends over each 1 / PACE: a speaker counts as
        # joining up to that much later than it did (so it stays below
        # the flood limits), and sends one less at once.
        now = time.monotonic()
        for n, each in enumerate(speakers):
            each.joined = now + n / len(speakers) / PACE
        return speakers

    def send_for(self, speakers: list[AnySpeaker], seconds: float) -> None:
        """
        Keep every speaker sending at its pace for C{seconds}, collecting
        acks as they come: the server is busy up to the end.
        """
        with selectors.DefaultSelector() as selector:
            for speaker in speakers:
                selector.register(speaker.sock, selectors.EVENT_READ, speaker)
            start = time.monotonic()
            ends = start + seconds
            while (now := time.monotonic()) < ends:
                for speaker in speakers:
                    if speaker.may_send(now):
                        speaker.say()
                for key, _ in selector.select(min(0.02, ends - now)):
                    ready: AnySpeaker = key.data
                    ready.client.receive()
                    ready.collect()
        self.assertTrue(all(not s.client.eof for s in speakers))

    def all_acknowledged(self, speakers: list[AnySpeaker]) -> None:
        """Wait (L{WAIT} at most) until every message sent is acknowledged."""
        with selectors.DefaultSelector() as selector:
            for speaker in speakers:
                selector.register(speaker.sock, selectors.EVENT_READ, speaker)
            deadline = time.monotonic() + WAIT
            while any(s.unacknowledged for s in speakers):
                left = deadline - time.monotonic()
                ready = selector.select(left) if left > 0 else []
                if not ready:
                    waiting = sum(s.unacknowledged for s in speakers)
                    self.fail(f"{waiting} messages not acknowledged in {WAIT} s")
                for key, _ in ready:
                    answering: AnySpeaker = key.data
                    answering.client.receive()
                    self.assertFalse(answering.client.eof, answering.channel)
                    answering.collect()

    def assert_written_in_order(
        self, speakers: list[AnySpeaker], stored: list[Stored]
    ) -> None:
        """
        What is stored was sent, once each, with the msgid it was acked
        with, and in each channel it is the first messages sent there, in
        the order sent (history is written in order; what a SIGKILL loses
        is the end).
        """
        self.assertEqual(len({s.msgid for s in stored}), len(stored))
        self.assertEqual(len({s.text for s in stored}), len(stored))
        by_channel: dict[str, list[str]] = defaultdict(list)
        targets: dict[str, set[str]] = defaultdict(set)
        for s in stored:
            by_channel[s.channel].append(s.text)
            targets[s.channel].add(s.target)
        # One key per channel, and a key of its own.
        self.assertTrue(all(len(t) == 1 for t in targets.values()))
        self.assertEqual(len(set.union(set(), *targets.values())), len(targets))
        msgids = {a.text: a.msgid for sp in speakers for a in sp.acks}
        for speaker in speakers:
            kept = by_channel.pop(speaker.channel, [])
            self.assertEqual(kept, speaker.sent[: len(kept)], speaker.channel)
        self.assertEqual(dict(by_channel), {})
        for s in stored:
            if s.text in msgids:
                self.assertEqual(s.msgid, msgids[s.text], s.text)
        # Written in the order made: a run's msgids sort in that order.
        written = [s.msgid for s in stored]
        self.assertEqual(written, sorted(written))

    def read_back(self, server: Daemon, speaker: AnySpeaker) -> list[str]:
        """A channel's messages, from the history, on a restarted server."""
        self.readers += 1
        reader = JSONClient(server.ports["JSON"], f"reader{self.readers}")
        self.addCleanup(reader.close)
        reader.ok("join", channel=speaker.channel)
        page = reader.ok("history", target=speaker.channel, latest=True, limit=1000)
        self.assertFalse(page["more"])
        reader.ok("leave", channel=speaker.channel)
        return [item["msgid"] for item in page["items"]]


class SIGTERMTests(DurabilityCase):
    """A clean stop writes every acknowledged message before it exits."""

    #: Connections: (JSON, IRC).  Each says L{AT_ONCE} messages at once:
    #: 2,007 messages in all, in under a second, all within the defaults.
    CONNECTIONS = (200, 23)

    def test_every_acknowledged_message_is_stored(self) -> None:
        server = self.daemon().start()
        json, irc = self.CONNECTIONS
        speakers = self.speakers(server, json, irc)
        for _ in range(AT_ONCE):
            for speaker in speakers:
                speaker.say()
        self.all_acknowledged(speakers)
        acks = [a for s in speakers for a in s.acks]
        self.assertEqual(len(acks), (json + irc) * AT_ONCE)
        # At once: most of them are still in memory, not yet written.
        server.stop()

        stored = read_store(self.state)
        self.assert_written_in_order(speakers, stored)
        self.assertEqual(sorted(s.msgid for s in stored), sorted(a.msgid for a in acks))
        for speaker in speakers:
            self.assertEqual(
                [s.text for s in stored if s.channel == speaker.channel],
                speaker.sent,
            )

        # The server starts on it again, and its history says the same.
        server.start()
        for speaker in (speakers[0], speakers[json - 1], speakers[-1]):
            self.assertEqual(
                self.read_back(server, speaker), [a.msgid for a in speaker.acks]
            )
        server.stop()


class SIGKILLTests(DurabilityCase):
    """
    A server killed outright while messages pour in leaves an intact store,
    starts again on it, and has lost only what was acknowledged within the
    bound before the kill.
    """

    #: Connections: (JSON, IRC), each sending at L{PACE} after its burst:
    #: some 250 messages a second once the bursts are through.
    CONNECTIONS = (120, 30)

    def killed_while_sending(
        self, server: Daemon, flush_interval: float
    ) -> tuple[list[AnySpeaker], float, list[Stored]]:
        """
        Send for L{SENDING} seconds and twice the loss bound, SIGKILL the
        server; the speakers, when the kill was sent, and what the store
        holds, checked intact.
        """
        speakers = self.speakers(server, *self.CONNECTIONS)
        self.send_for(speakers, SENDING + 2 * loss_bound(flush_interval))
        killed = time.monotonic()
        server.kill()
        return speakers, killed, read_store(self.state)

    def assert_bound_kept(
        self,
        speakers: list[AnySpeaker],
        killed: float,
        stored: list[Stored],
        flush_interval: float,
    ) -> None:
        """Every message acknowledged before the bound is stored."""
        bound = loss_bound(flush_interval)
        acks = [a for s in speakers for a in s.acks]
        old = [a for a in acks if a.at < killed - bound]
        # The test means something: many acks are older than the bound.
        self.assertGreater(len(old), len(acks) / 4, (len(old), len(acks)))
        kept = {s.msgid for s in stored}
        lost = [a for a in old if a.msgid not in kept]
        oldest = max((killed - a.at for a in lost), default=0.0)
        self.assertEqual(
            lost[:5],
            [],
            f"{len(lost)} of {len(old)} messages acknowledged more than "
            f"{bound:.2f} s before the SIGKILL are lost (the oldest "
            f"{oldest:.3f} s before it)",
        )
        self.assert_written_in_order(speakers, stored)

    def test_loses_only_the_last_flush_interval(self) -> None:
        server = self.daemon().start()
        speakers, killed, stored = self.killed_while_sending(server, FLUSH_INTERVAL)
        self.assert_bound_kept(speakers, killed, stored, FLUSH_INTERVAL)

        # It starts again on the same store, which reads back what is kept.
        server.start()
        speaker = speakers[0]
        kept = [s.msgid for s in stored if s.channel == speaker.channel]
        self.assertEqual(self.read_back(server, speaker), kept)
        server.stop()
        self.assertEqual(read_store(self.state)[: len(stored)], stored)

    def test_flush_interval_from_the_config_file(self) -> None:
        """
        history.flush_interval = 1.0 from a config file: the bound follows
        the interval.
        """
        flush_interval = 1.0
        config = self.write_config(f"[history]\nflush_interval = {flush_interval}\n")
        server = self.daemon(*config).start()
        speakers, killed, stored = self.killed_while_sending(server, flush_interval)
        self.assert_bound_kept(speakers, killed, stored, flush_interval)
        server.start()
        server.stop()

    def test_nothing_is_written_before_the_interval(self) -> None:
        """
        With history.flush_interval = 10 (the most), a message waits in
        memory: killed within the interval, the server has written none of
        those it acknowledged.  (That the bound above is about something.)
        """
        config = self.write_config("[history]\nflush_interval = 10\n")
        server = self.daemon(*config).start()
        speakers = self.speakers(server, 20, 5)
        first = time.monotonic()
        for _ in range(AT_ONCE):
            for speaker in speakers:
                speaker.say()
        self.all_acknowledged(speakers)
        killed = time.monotonic()
        server.kill()
        if killed - first >= 10:
            self.skipTest(f"sending took {killed - first:.1f} s: no test")
        self.assertEqual(read_store(self.state), [])
        server.start()
        server.stop()
