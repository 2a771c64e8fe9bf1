# -*- test-case-name: tests.test_accounts_e2e -*-
"""
Accounts, registered channels and server operators end to end: a real
C{twistd -n chatd} on 127.0.0.1, restarted, signalled and SIGKILLed, with
IRC and JSON clients on real sockets.

The server is a subprocess (L{tests.e2e_daemon}) because what these tests
are about happens between processes: a restart on the same state, a SIGHUP,
a SIGKILL in the middle of writes, the hashing pool that PyPy runs in
processes of its own.
"""

from __future__ import annotations

import itertools
import os
import re
import selectors
import signal
import sys
import time
from base64 import b64decode, b64encode
from multiprocessing import resource_tracker
from typing import TYPE_CHECKING, Any

from scramp import ScramClient  # type: ignore[import-untyped]
from twisted.trial.unittest import SynchronousTestCase, TestCase

from chatd.accounts.passwords import hash_password
from chatd.accounts.service import start_resource_tracker
from tests.e2e_daemon import LOOPBACK, WAIT, Daemon, IRCClient, JSONClient
from tests.store.engines import scratch_database


class DaemonCase(TestCase):
    """Daemons and clients that are closed when the test ends."""

    def directory(self) -> str:
        path = os.path.abspath(str(self.mktemp()))
        os.makedirs(path)
        return path

    def daemon(self, *args: str, workdir: str | None = None) -> Daemon:
        """
        A daemon to start, killed at the end if it still runs; the test
        fails if it logged a traceback (an internal error a client may
        only have seen as "internal_error").
        """
        daemon = Daemon(workdir or self.directory(), *args)
        self.addCleanup(lambda: self.assertEqual(daemon.tracebacks(), []))
        self.addCleanup(daemon.close)
        return daemon

    def json(self, daemon: Daemon, nick: str | None = None) -> JSONClient:
        client = JSONClient(daemon.ports["JSON"], nick)
        self.addCleanup(client.close)
        return client

    def irc(self, daemon: Daemon) -> IRCClient:
        client = IRCClient(daemon.ports["IRC"])
        self.addCleanup(client.close)
        return client


def listening(state_dir: str) -> tuple[str, ...]:
    """Both listeners on loopback ports of their own, state in C{state_dir}."""
    return (
        "--listen",
        LOOPBACK,
        "--irc-listen",
        LOOPBACK,
        "--state-dir",
        state_dir,
    )


class AcrossProtocolsTests(DaemonCase):
    """One account, and the nick it owns, on IRC and JSON alike."""

    def setUp(self) -> None:
        self.server = self.daemon(*listening(self.directory())).start()

    def test_registered_on_irc_logs_in_from_json(self) -> None:
        alice = self.irc(self.server)
        alice.connect("alice")
        alice.send("REGISTER * * alice-password")
        done = alice.expect("REGISTER")
        self.assertEqual(done.params[:2], ("SUCCESS", "alice"))
        self.assertEqual(alice.expect("900").params[2], "alice")

        j = self.json(self.server)
        self.assertEqual(j.error("nick", nick="Alice")["code"], "nick_in_use")
        alice.send("QUIT :gone")
        alice.closed()
        refused = j.error("nick", nick="ALICE")
        self.assertEqual(refused["code"], "nick_reserved")
        self.assertEqual(
            j.error("login", account="alice", password="not-her-password")["code"],
            "bad_credentials",
        )
        self.assertEqual(
            j.ok("login", account="alice", password="alice-password")["account"],
            "alice",
        )
        j.ok("nick", nick="alice")

        # The IRC side sees who she is.
        watcher = self.irc(self.server)
        watcher.connect("watcher")
        watcher.send("WHOIS alice")
        self.assertEqual(watcher.expect("330").params[1:3], ("alice", "alice"))

        # SCRAM credentials made on IRC work from JSON, without the password.
        scram = self.json(self.server)
        client = ScramClient(["SCRAM-SHA-256"], "alice", "alice-password")
        first = scram.ok(
            "login",
            mechanism="SCRAM-SHA-256",
            data=b64encode(client.get_client_first().encode()).decode(),
        )
        client.set_server_first(b64decode(first["challenge"]).decode())
        final = scram.ok(
            "login", data=b64encode(client.get_client_final().encode()).decode()
        )
        self.assertEqual(final["account"], "alice")
        client.set_server_final(b64decode(final["final"]).decode())

    def test_registered_on_json_is_protected_on_irc(self) -> None:
        j = self.json(self.server, "bob")
        self.assertEqual(j.ok("register", password="bob-password")["account"], "bob")
        guest = self.irc(self.server)
        guest.connect("guest")
        j.ok("quit")
        j.closed()

        guest.send("NICK bob")
        taken = guest.expect("433")
        self.assertEqual(taken.params[1], "bob")
        self.assertIn("belongs to the account bob", taken.text)

        # Registering: the nick waits for SASL (as irssi sends NICK before
        # AUTHENTICATE), and is refused at CAP END to whoever did not log in.
        stranger = self.irc(self.server)
        stranger.send("CAP LS 302", "NICK bob", "USER x 0 * :X", "CAP END")
        self.assertIn("belongs to the account bob", stranger.expect("433").text)
        bob = self.irc(self.server)
        bob.send("CAP LS 302", "NICK Bob", "USER bob 0 * :Bob", "CAP REQ :sasl")
        bob.authenticate("bob", "bob-password")
        bob.send("CAP END")
        self.assertEqual(bob.expect("001").params[0], "Bob")

        guest.send("WHOIS bob")
        self.assertEqual(guest.expect("330").params[1:3], ("Bob", "bob"))


if TYPE_CHECKING:
    #: What the mixin below is mixed into, for the type checker.
    MixinBase = DaemonCase
else:
    MixinBase = object


class ChannelPersistence(MixinBase):
    """
    A registered channel outlives the server: its founder, modes, ban,
    topic and access list come back after a restart on the same store.
    Subclasses say which store (C{store_args}).
    """

    #: the store's kind, as the log names it
    kind = ""

    def store_args(self) -> tuple[str, ...]:
        raise NotImplementedError

    def test_registered_channel_survives_a_restart(self) -> None:
        args = (*listening(self.directory()), *self.store_args())
        server = self.daemon(*args).start()
        self.assertIn(f"created the {self.kind} database at ", server.text())
        friend = self.json(server, "friend")
        friend.ok("register", password="friend-password")
        founder = self.irc(server)
        founder.connect("founder")
        founder.send("REGISTER * * founder-password")
        founder.expect("900")
        founder.join("#keep")
        founder.send(
            "CS REGISTER #keep",
            "MODE #keep +m",
            "MODE #keep +b *!*@spam.example",
            "MODE #keep +b $a:troll",
            "TOPIC #keep :kept across restarts",
            "CS ACCESS #keep ADD friend voice",
            "CS SET #keep HISTORY since-join",
        )
        said = founder.sync()
        notices = [r.text for r in said if r.command == "NOTICE"]
        self.assertIn("Channel #keep registered to your account founder", notices)
        self.assertIn("friend gets voice on joining #keep", notices)
        server.stop()

        server.start()
        # Kept while empty: the first to join is not its operator.
        early = self.irc(server)
        early.connect("early")
        names = [r for r in early.join("#keep") if r.command == "353"]
        self.assertEqual(names[0].text.split(), ["early"])
        early.send("TOPIC #keep", "MODE #keep", "MODE #keep b", "CS INFO #keep")
        replies = early.sync()
        by = {r.command: r for r in replies}
        self.assertEqual(by["332"].text, "kept across restarts")
        self.assertEqual(by["324"].params[2], "+mnt")
        bans = [r.params[2] for r in replies if r.command == "367"]
        self.assertEqual(sorted(bans), ["$a:troll", "*!*@spam.example"])
        [info] = [r.text for r in replies if r.command == "NOTICE"]
        self.assertIn("#keep: founder founder, registered", info)
        self.assertIn("members read its history since they joined", info)
        self.assertNotIn("default", info)

        # The founder and the friend get what the channel gives them.
        founder = self.irc(server)
        founder.connect("founder", sasl=("founder", "founder-password"))
        names = [r for r in founder.join("#keep") if r.command == "353"]
        self.assertEqual(sorted(names[0].text.split()), ["@founder", "early"])
        friend = self.json(server)
        friend.ok("login", account="friend", password="friend-password")
        friend.ok("nick", nick="friend")
        joined = friend.ok("join", channel="#keep")
        self.assertEqual(joined["topic"], "kept across restarts")
        self.assertEqual(joined["privileges"], {"founder": ["op"], "friend": ["voice"]})
        voiced = founder.expect("MODE")
        self.assertEqual(voiced.params, ("#keep", "+v", "friend"))
        # The ban by account holds whatever the nick.
        troll = self.json(server, "troll")
        troll.ok("register", password="troll-password")
        troll.ok("nick", nick="innocent")
        self.assertEqual(troll.error("join", channel="#keep")["code"], "banned")
        server.stop()


class SQLiteChannelTests(ChannelPersistence, DaemonCase):
    """The default store: SQLite in the state directory."""

    kind = "sqlite"

    def store_args(self) -> tuple[str, ...]:
        return ()


class PostgreSQLChannelTests(ChannelPersistence, DaemonCase):
    """
    PostgreSQL on 127.0.0.1:5432, in a database of the test's own (created
    and dropped by it); skipped with the reason where there is none, but a
    failure under CI=true.
    """

    kind = "postgresql"

    def store_args(self) -> tuple[str, ...]:
        return ("--database", str(scratch_database(self)))


class OperatorTests(DaemonCase):
    """
    Server operators from the config file's [[oper]] tables (hashes made
    now, by the function chatd-admin hash-password uses): KILL, and
    reloads (REHASH, JSON rehash, SIGHUP) that keep everyone connected.
    """

    def setUp(self) -> None:
        self.workdir = self.directory()
        self.blocks: dict[str, str] = {}
        self.write_config(
            motd="first message of the day", rate="2.0", opers=("boss", "remote")
        )
        self.server = self.daemon("--config", "chatd.toml", workdir=self.workdir)
        self.server.start()

    def oper_block(self, name: str) -> str:
        """An [[oper]] table for C{name}, whose password is C{name}-password."""
        if name not in self.blocks:
            # remote may log in only from elsewhere than here.
            where = "192.0.2.*" if name == "remote" else "127.0.0.1"
            self.blocks[name] = (
                f'[[oper]]\nname = "{name}"\n'
                f'password = "{hash_password(f"{name}-password")}"\n'
                f'hostmask = "*!*@{where}"\n'
            )
        return self.blocks[name]

    def write_config(self, motd: str, rate: str, opers: tuple[str, ...]) -> None:
        """Write chatd.toml (and the MOTD file it names) in the workdir."""
        with open(os.path.join(self.workdir, "motd.txt"), "w") as f:
            f.write(motd + "\n")
        text = (
            f'[json]\nlisten = ["{LOOPBACK}"]\n'
            f'[irc]\nlisten = ["{LOOPBACK}"]\n'
            '[server]\nmotd = "motd.txt"\n'
            '[storage]\nstate_dir = "state"\n'
            f"[flood]\nrate = {rate}\n" + "".join(self.oper_block(n) for n in opers)
        )
        with open(os.path.join(self.workdir, "chatd.toml"), "w") as f:
            f.write(text)

    def motd(self, client: IRCClient) -> list[str]:
        client.send("MOTD")
        client.expect("376", "422")
        return [r.text for r in client.sync() if r.command == "372"]

    def oper(self, nick: str, block: str) -> IRCClient:
        client = self.irc(self.server)
        client.connect(nick)
        client.send(f"OPER {block} {block}-password")
        client.expect("381")
        return client

    def test_kill(self) -> None:
        spammer = self.irc(self.server)
        spammer.connect("spammer")
        spammer.join("#room")
        carol = self.json(self.server, "carol")
        carol.ok("join", channel="#room")
        spammer.send("OPER boss wrong-password")
        self.assertEqual(spammer.expect("464", "381", "491").command, "464")
        spammer.send("OPER remote remote-password")
        self.assertEqual(spammer.expect("464", "381", "491").command, "491")
        spammer.send("KILL carol :no")
        self.assertEqual(spammer.expect("481").params[0], "spammer")

        boss = self.oper("boss", "boss")
        self.assertIn("o", boss.expect("MODE").params[1])
        boss.send("KILL spammer :spamming")
        last = spammer.closed()
        errors = [r.text for r in last if r.command == "ERROR"]
        self.assertEqual(len(errors), 1, last)
        self.assertIn("Killed (boss (spamming))", errors[0])
        quit = carol.event(type="quit", nick="spammer")
        self.assertEqual(quit["reason"], "Killed (boss (spamming))")
        boss.send("KILL carol :and you")
        bye = carol.closed()[-1]
        self.assertEqual((bye["type"], bye["code"]), ("bye", "killed"))
        # Who did it is in the log.
        self.server.wait_for_line(
            re.escape("server operator boss (boss, boss!~boss@127.0.0.1) killed carol")
        )

    def test_rehash(self) -> None:
        boss = self.oper("boss", "boss")
        bystander = self.json(self.server, "bystander")
        self.assertEqual(self.motd(boss), ["- first message of the day"])

        self.write_config(
            motd="second message", rate="5.0", opers=("boss", "remote", "deputy")
        )
        boss.send("REHASH")
        self.assertEqual(boss.expect("382").params[1], "config")
        done = boss.expect("NOTICE").text
        self.assertTrue(done.startswith("*** REHASH done: "), done)
        for change in (
            "server.motd: read ",
            "flood.rate: 2.0 -> 5.0",
            "oper: deputy added",
        ):
            self.assertIn(change, done)
        self.assertEqual(self.motd(boss), ["- second message"])
        deputy = self.oper("deputy", "deputy")
        self.assertEqual(bystander.ok("ping")["cmd"], "ping")

        # Invalid: nothing of it is taken, and the operator is told why.
        self.write_config(
            motd="third message", rate="0", opers=("boss", "remote", "deputy", "ghost")
        )
        deputy.send("REHASH")
        deputy.expect("382")
        fail = deputy.expect("FAIL")
        self.assertEqual(fail.params[:2], ("REHASH", "INVALID_CONFIG"))
        self.assertEqual(
            fail.text, "chatd.toml: flood.rate: must be a number above 0 (got 0)"
        )
        bystander.ok("oper", name="deputy", password="deputy-password")
        refused = bystander.error("rehash")
        self.assertEqual(refused["code"], "invalid_config")
        self.assertIn("flood.rate: must be a number above 0", refused["message"])
        self.assertEqual(self.motd(boss), ["- second message"])
        ghost = self.irc(self.server)
        ghost.connect("ghost")
        ghost.send("OPER ghost ghost-password")
        self.assertEqual(ghost.expect("464", "381", "491").command, "491")
        self.server.wait_for_line("config not reloaded, nothing changed: ")

    def test_sighup(self) -> None:
        irc_user = self.irc(self.server)
        irc_user.connect("alice")
        json_user = self.json(self.server, "bob")
        self.write_config(motd="after SIGHUP", rate="2.0", opers=("boss", "deputy"))
        mark = len(self.server.log)
        self.server.signal(signal.SIGHUP)
        reloaded = self.server.wait_for_line("config reloaded from chatd.toml", mark)
        self.assertIn("oper: deputy added, remote removed", reloaded)
        self.oper("deputy", "deputy")
        self.assertEqual(self.motd(irc_user), ["- after SIGHUP"])
        json_user.ok("ping")

        self.write_config(motd="not shown", rate="-1", opers=("boss",))
        mark = len(self.server.log)
        self.server.signal(signal.SIGHUP)
        refused = self.server.wait_for_line("config not reloaded", mark)
        self.assertIn(
            "chatd.toml: flood.rate: must be a number above 0 (got -1)", refused
        )
        self.oper("deputy2", "deputy")
        self.assertEqual(self.motd(irc_user), ["- after SIGHUP"])
        json_user.ok("ping")
        self.server.stop()


#: Accounts to see acknowledged before the SIGKILL.
ACKNOWLEDGED = 50
#: JSON connections registering at once.
WRITERS = 4


def password_of(name: str) -> str:
    return f"{name}-sesame"


class SIGKILLTests(DaemonCase):
    """
    An account the server acknowledged is on disk: SIGKILL in the middle
    of registrations loses none of those it answered.
    """

    def test_every_acknowledged_account_survives(self) -> None:
        workdir = self.directory()
        with open(os.path.join(workdir, "chatd.toml"), "w") as f:
            # As many accounts from one address as the test asks for, at
            # its own pace.
            f.write("[accounts]\nregistrations_per_hour = 1000\n[flood]\nburst = 0\n")
        server = self.daemon(
            "--config", "chatd.toml", *listening("state"), workdir=workdir
        )
        server.start(kinds=("JSON",))
        acknowledged = self.register_until_killed(server)
        self.assertGreaterEqual(len(acknowledged), ACKNOWLEDGED)

        server.start(kinds=("JSON",))
        loaded = server.wait_for_line(r"\d+ accounts loaded")
        self.assertGreaterEqual(int(loaded.split()[-3]), len(acknowledged), loaded)
        clients = [self.json(server) for _ in range(WRITERS)]
        asked: list[tuple[JSONClient, int, str]] = []
        for i, name in enumerate(acknowledged):
            client = clients[i % WRITERS]
            rid = client.send("login", account=name, password=password_of(name))
            client.send("logout")
            asked.append((client, rid, name))
        for client, rid, name in asked:
            reply = client.reply(rid)
            self.assertEqual((reply["type"], reply.get("account")), ("ok", name))
        self.assertEqual(
            clients[0].error("nick", nick=acknowledged[-1])["code"], "nick_reserved"
        )
        server.stop()

    def register_until_killed(self, server: Daemon) -> list[str]:
        """
        Register accounts from L{WRITERS} connections, each sending the next
        as soon as the last is acknowledged; SIGKILL the server once
        L{ACKNOWLEDGED} are; the names of every account acknowledged, those
        that arrived after the kill included.
        """
        numbers = itertools.count()
        waiting: dict[JSONClient, tuple[int, str]] = {}
        acknowledged: list[str] = []

        def register(client: JSONClient) -> None:
            name = f"user{next(numbers)}"
            rid = client.send("register", account=name, password=password_of(name))
            client.send("logout")  # to register the next one
            waiting[client] = (rid, name)

        def acknowledgements(client: JSONClient) -> int:
            """Count what came; 1 if the request in flight was answered."""
            rid, name = waiting[client]
            for reply in client.unread:
                if reply.get("id") == rid:
                    self.assertEqual(reply["type"], "ok", reply)
                    acknowledged.append(name)
                    client.unread.clear()  # and the logout's reply
                    return 1
            return 0

        clients = [self.json(server) for _ in range(WRITERS)]
        with selectors.DefaultSelector() as selector:
            for client in clients:
                selector.register(client.sock, selectors.EVENT_READ, client)
                register(client)
            deadline = time.monotonic() + WAIT
            while len(acknowledged) < ACKNOWLEDGED:
                left = deadline - time.monotonic()
                ready = selector.select(left) if left > 0 else []
                if not ready:
                    self.fail(f"{len(acknowledged)} accounts acknowledged in {WAIT} s")
                for key, _ in ready:
                    client = key.data
                    client.receive()
                    if acknowledgements(client):
                        register(client)
        server.kill()
        for client in clients:
            client.unread.extend(client.closed())
            acknowledgements(client)
        return acknowledged


class LoggingStandardError:
    """What twistd makes C{sys.stderr}: Twisted 25's LoggingFile."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def fileno(self) -> int:
        return -1


class ResourceTrackerTests(SynchronousTestCase):
    """
    The hashing processes' resource tracker starts under twistd, whose
    C{sys.stderr} has no file descriptor: PyPy's twistd could hash no
    password without L{start_resource_tracker}.
    """

    def test_starts_with_the_real_standard_error(self) -> None:
        tracker: Any = resource_tracker.ResourceTracker()  # not the process's
        self.addCleanup(tracker._stop)
        self.patch(sys, "stderr", LoggingStandardError())
        e = self.assertRaises(ValueError, tracker.ensure_running)
        self.assertIn("fds_to_keep", str(e))
        start_resource_tracker(tracker)
        self.assertIsInstance(sys.stderr, LoggingStandardError)
        self.assertGreater(tracker.getfd(), 2)
