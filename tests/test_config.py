"""
chatd.config: the TOML file, its checks and messages, the command line
over the file, and the example file that documents every key.
"""

from __future__ import annotations

import base64
import dataclasses
import ipaddress
import os
import re
from pathlib import Path

from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase

from chatd.config import (
    BY_KEY,
    DEFAULTS,
    OPTIONS,
    TABLES,
    ConfigError,
    ConfigSource,
    Motd,
    OperSpec,
    Settings,
    WebircSpec,
    changes,
    redact,
    settings_fields,
    show,
)
from chatd.tap import Options

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "chatd.example.toml"


def fake_hash() -> str:
    """Something shaped like chatd-admin hash-password's output, made now."""
    salt = base64.b64encode(os.urandom(16)).decode()
    key = base64.b64encode(os.urandom(32)).decode()
    return f"$scrypt$ln=15,r=8,p=1${salt}${key}"


class FileTests(SynchronousTestCase):
    def write(self, text: str, name: str = "chatd.toml") -> str:
        """C{text} in a file C{name} of a new directory: its path."""
        directory = Path(self.mktemp()).resolve()
        directory.mkdir()
        path = directory / name
        path.write_text(text, "utf-8")
        return str(path)

    def load(self, text: str) -> Settings:
        return ConfigSource.of(self.write(text), {}).load()

    def error(self, text: str) -> str:
        """The message loading C{text} fails with, the file called chatd.toml."""
        path = self.write(text)
        e = self.assertRaises(ConfigError, ConfigSource.of(path, {}).load)
        return str(e).replace(path, "chatd.toml")


class ParseTests(FileTests):
    def test_empty_file_is_the_defaults(self) -> None:
        self.assertEqual(self.load(""), DEFAULTS)
        self.assertEqual(ConfigSource().load(), DEFAULTS)

    def test_every_kind_of_value(self) -> None:
        motd = self.write("hello\n", "motd.txt")
        hash_ = fake_hash()
        settings = self.load(
            f"""
            [server]
            name = "irc.example.org"
            network = "Example"
            motd = "{motd}"
            log_level = "WARN"
            [json]
            port = 9000
            listen = ["tcp6:9001", "unix:/tmp/chatd.sock"]
            [irc]
            port = 6667
            [limits]
            max_clients = 5
            idle_timeout = 2.5
            max_line = 512
            register_timeout = 0
            max_sendq = "512K"
            max_per_ip = 0
            connects_per_minute = 4
            exempt_ip = ["10.0.0.0/8", "2001:db8::1"]
            exempt_loopback = false
            [flood]
            burst = 0
            rate = 1
            excess = 3
            [storage]
            url = "postgresql://chatd@db.example:5432/chatd"
            state_dir = "/var/lib/chatd"
            [accounts]
            registration = false
            nick_protection = "timeout"
            nick_timeout = 10
            registrations_per_hour = 0
            login_failures = 2
            [[oper]]
            name = "alice"
            password = "{hash_}"
            [[oper]]
            name = "bob"
            password = "{hash_}"
            hostmask = "bob!*@192.0.2.*"
            """
        )
        self.assertEqual(
            dataclasses.asdict(settings.server),
            {
                "name": "irc.example.org",
                "network": "Example",
                "motd": {"path": motd, "lines": ("hello",)},
                "log_level": "warn",
            },
        )
        self.assertEqual(
            settings.endpoints,
            {
                "json": ("tcp:9000:backlog=1024", "tcp6:9001", "unix:/tmp/chatd.sock"),
                "irc": ("tcp:6667:backlog=1024",),
                "web": (),
            },
        )
        limits = settings.limits
        self.assertEqual(
            (limits.max_clients, limits.idle_timeout, limits.max_line),
            (5, 2.5, 512),
        )
        self.assertEqual((limits.register_timeout, limits.max_sendq), (0, 512 << 10))
        self.assertEqual((limits.max_per_ip, limits.connects_per_minute), (0, 4))
        self.assertEqual(
            limits.exempt_ip,
            (
                ipaddress.ip_network("10.0.0.0/8"),
                ipaddress.ip_network("2001:db8::1/128"),
            ),
        )
        self.assertFalse(limits.exempt_loopback)
        self.assertEqual(limits.address_limit.exempt, limits.exempt_ip)
        self.assertEqual(settings.flood.limit, (0, 1.0, 3))
        self.assertIsInstance(settings.flood.rate, float)
        self.assertIsInstance(limits.register_timeout, float)
        self.assertEqual(
            settings.storage.url, "postgresql://chatd@db.example:5432/chatd"
        )
        self.assertEqual(settings.storage.state_dir, "/var/lib/chatd")
        self.assertEqual(
            dataclasses.astuple(settings.accounts),
            (False, 1, True, False, "timeout", 10.0, 0, 2),
        )
        self.assertEqual(
            settings.opers,
            (
                OperSpec("alice", hash_, "*!*@*"),
                OperSpec("bob", hash_, "bob!*@192.0.2.*"),
            ),
        )

    def test_defaults(self) -> None:
        self.assertEqual(DEFAULTS.endpoints["json"], ("tcp:8123:backlog=1024",))
        self.assertEqual(DEFAULTS.endpoints["irc"], ())
        self.assertEqual(
            (DEFAULTS.storage.url, DEFAULTS.storage.state_dir), ("sqlite", ".")
        )
        self.assertEqual(
            dataclasses.astuple(DEFAULTS.accounts),
            (True, 1, True, False, "refuse", 30.0, 3, 5),
        )
        self.assertEqual(DEFAULTS.opers, ())
        self.assertEqual(DEFAULTS.limits.max_sendq, 1 << 20)

    def test_storage_urls(self) -> None:
        for url in (
            "sqlite",
            "memory:",
            "sqlite:///chatd.db",
            "sqlite:////var/lib/chatd/chatd.db",
            "postgresql://chatd@localhost:5432/chatd",
            "postgres://localhost/chatd",
        ):
            self.assertEqual(self.load(f'[storage]\nurl = "{url}"').storage.url, url)
        rule = (
            "must be a database URL: sqlite, sqlite:///PATH, memory: or "
            "postgresql://USER@HOST:PORT/DATABASE"
        )
        self.assertEqual(
            self.error('[storage]\nurl = "mysql://chatd:hunter2@db/chatd"'),
            f'chatd.toml: storage.url: {rule} (got "mysql://chatd:***@db/chatd")',
        )
        self.assertEqual(
            self.error('[storage]\nurl = "sqlite://chatd.db"'),
            f'chatd.toml: storage.url: {rule} (got "sqlite://chatd.db": '
            "a SQLite URL is sqlite:///PATH)",
        )
        self.assertIn("(got 5)", self.error("[storage]\nurl = 5"))

    def test_settings_hide_secrets(self) -> None:
        hash_ = fake_hash()
        settings = self.load(
            '[storage]\nurl = "postgresql://u:hunter2@db/chatd"\n'
            f'[[oper]]\nname = "alice"\npassword = "{hash_}"\n'
        )
        self.assertNotIn("hunter2", repr(settings))
        self.assertNotIn(hash_, repr(settings))
        self.assertIn("alice", repr(settings))
        self.assertEqual(
            redact("postgresql://u:hunter2@db/chatd"), "postgresql://u:***@db/chatd"
        )
        self.assertEqual(
            redact("postgresql://db/chatd?password=hunter2&sslmode=require"),
            "postgresql://db/chatd?password=***&sslmode=require",
        )
        for url in ("postgresql://[::1", "postgresql://u:p@ss@db/x", "sqlite"):
            self.assertNotIn("p@ss", redact(url))
        self.assertEqual(redact("postgresql://u@db:5432/x"), "postgresql://u@db:5432/x")
        self.assertEqual(redact("postgresql://u:p@ss@db/x"), "postgresql://u:***@db/x")


class ErrorTests(FileTests):
    def test_each_kind_of_bad_value(self) -> None:
        for text, message in [
            (
                "[flood]\nrate = -1",
                "chatd.toml: flood.rate: must be a number above 0 (got -1)",
            ),
            (
                "[flood]\nrate = inf",
                "chatd.toml: flood.rate: must be a number above 0 (got inf)",
            ),
            (
                '[flood]\nburst = "ten"',
                'chatd.toml: flood.burst: must be a whole number, 0 or more (got "ten")',
            ),
            (
                "[limits]\nmax_clients = 5.0",
                "chatd.toml: limits.max_clients: must be a whole number, 1 or more (got 5.0)",
            ),
            (
                "[limits]\nmax_clients = true",
                "chatd.toml: limits.max_clients: must be a whole number, 1 or more (got true)",
            ),
            (
                "[limits]\nidle_timeout = nan",
                "chatd.toml: limits.idle_timeout: must be a number of seconds, 0 or more (got nan)",
            ),
            (
                '[limits]\nmax_sendq = "1G"',
                'chatd.toml: limits.max_sendq: must be a number of bytes such as 1048576, 512K or 1M (got "1G")',
            ),
            (
                "[limits]\nmax_sendq = -1",
                "chatd.toml: limits.max_sendq: must be a number of bytes such as 1048576, 512K or 1M (got -1)",
            ),
            (
                '[limits]\nexempt_ip = "10.0.0.0/8"',
                'chatd.toml: limits.exempt_ip: must be an array (got "10.0.0.0/8")',
            ),
            (
                '[limits]\nexempt_ip = ["10.0.0.0/8", "localhost"]',
                'chatd.toml: limits.exempt_ip[1]: must be an address or network such as 10.0.0.0/8 (got "localhost")',
            ),
            (
                '[limits]\nexempt_loopback = "no"',
                'chatd.toml: limits.exempt_loopback: must be true or false (got "no")',
            ),
            (
                "[json]\nport = 70000",
                "chatd.toml: json.port: must be a TCP port number, 0 to 65535 (got 70000)",
            ),
            (
                '[irc]\nport = "6667"',
                'chatd.toml: irc.port: must be a TCP port number, 0 to 65535 (got "6667")',
            ),
            (
                '[irc]\nlisten = ["tcp:6667", "carrier-pigeon:5"]',
                "chatd.toml: irc.listen[1]: must be a usable endpoint string such as "
                "tcp:8123 (got \"carrier-pigeon:5\": Unknown endpoint type: 'carrier-pigeon')",
            ),
            (
                '[server]\nname = "has space"',
                'chatd.toml: server.name: must be a host name such as irc.example.org (got "has space")',
            ),
            (
                '[server]\nnetwork = ""',
                'chatd.toml: server.network: must be a name without spaces (got "")',
            ),
            (
                '[server]\nlog_level = "loud"',
                'chatd.toml: server.log_level: must be debug, info, warn or error (got "loud")',
            ),
            (
                '[server]\nmotd = "/nonexistent/motd.txt"',
                'chatd.toml: server.motd: must be a readable UTF-8 file (got "/nonexistent/motd.txt": No such file or directory)',
            ),
            (
                '[storage]\nstate_dir = ""',
                'chatd.toml: storage.state_dir: must be a directory (got "")',
            ),
            (
                '[accounts]\nnick_protection = "kill"',
                'chatd.toml: accounts.nick_protection: must be refuse, timeout or off (got "kill")',
            ),
            (
                "[accounts]\nlogin_failures = 0",
                "chatd.toml: accounts.login_failures: must be a whole number, 1 or more (got 0)",
            ),
            (
                "flood = 5",
                "chatd.toml: flood: must be a table ([flood]) (got 5)",
            ),
        ]:
            self.assertEqual(self.error(text), message, text)

    def test_errors_name_file_and_key(self) -> None:
        path = self.write("[flood]\nrate = -1\n")
        e = self.assertRaises(ConfigError, ConfigSource.of(path, {}).load)
        self.assertEqual((e.file, e.key), (path, "flood.rate"))
        self.assertEqual(e.reason, "must be a number above 0 (got -1)")

    def test_first_error_in_the_file_is_reported(self) -> None:
        self.assertIn(
            "limits.max_line",
            self.error("[limits]\nmax_line = 0\n[flood]\nrate = 0\n"),
        )

    def test_long_values_are_cut_short(self) -> None:
        message = self.error(f'[server]\nname = "{"x " * 100}"')
        self.assertLess(len(message), 200)
        self.assertIn('..."', show("x" * 100) + '"')

    def test_unknown_keys_and_tables(self) -> None:
        for text, message in [
            (
                "[flood]\nrat = 1",
                "chatd.toml: flood.rat: unknown key (did you mean flood.rate?)",
            ),
            (
                "[limits]\nmax-clients = 5",
                "chatd.toml: limits.max-clients: unknown key (did you mean limits.max_clients?)",
            ),
            (
                "[limits]\nrate = 1",
                "chatd.toml: limits.rate: unknown key (did you mean flood.rate?)",
            ),
            (
                "[limit]\nmax_clients = 5",
                "chatd.toml: limit: unknown table (did you mean limits?)",
            ),
            (
                "port = 8123",
                "chatd.toml: port: unknown key (did you mean json.port or irc.port or web.port?)",
            ),
            ("[flood]\ncolour = 1", "chatd.toml: flood.colour: unknown key"),
            ("[weather]\nsunny = true", "chatd.toml: weather: unknown table"),
            (
                f'[[oper]]\nname = "a"\npassword = "{fake_hash()}"\nhost_mask = "*!*@*"',
                "chatd.toml: oper[0].host_mask: unknown key (did you mean hostmask?)",
            ),
        ]:
            self.assertEqual(self.error(text), message, text)

    def test_toml_syntax_error_has_line_and_column(self) -> None:
        path = self.write("[flood]\nburst = 5\nrate = \n")
        e = self.assertRaises(ConfigError, ConfigSource.of(path, {}).load)
        self.assertEqual((e.line, e.column), (3, 8))
        self.assertEqual(str(e), f"{path}:3:8: not valid TOML: Invalid value")
        self.assertEqual(
            self.error("[flood]\nburst = [1,\n"),
            "chatd.toml:3:1: not valid TOML: Invalid value at the end of the file",
        )
        self.assertEqual(
            self.error("[flood]\n[flood]\n"),
            "chatd.toml:2:7: not valid TOML: Cannot declare ('flood',) twice",
        )

    def test_unreadable_file(self) -> None:
        path = os.path.join(self.mktemp(), "chatd.toml")
        e = self.assertRaises(ConfigError, ConfigSource.of(path, {}).load)
        self.assertEqual(str(e), f"{path}: cannot be read (No such file or directory)")
        path = self.write("")
        Path(path).write_bytes(b"[server]\nname = 'caf\xe9'\n")
        e = self.assertRaises(ConfigError, ConfigSource.of(path, {}).load)
        self.assertEqual(str(e), f"{path}:2: not UTF-8 text")


class OperTests(FileTests):
    def oper(self, body: str) -> str:
        return self.error(f"[[oper]]\n{body}\n")

    def test_password_must_be_a_hash_and_is_never_shown(self) -> None:
        message = "chatd.toml: oper[0].password: must be a hash from chatd-admin hash-password, not a password"
        for password in ('"hunter2"', '"$scrypt$ln=15,r=8,p=1$abc$"', "12345"):
            got = self.oper(f'name = "alice"\npassword = {password}')
            self.assertEqual(got, message)
            self.assertNotIn(password.strip('"'), got)
        # the second of two
        hash_ = fake_hash()
        got = self.error(
            f'[[oper]]\nname = "a"\npassword = "{hash_}"\n'
            f'[[oper]]\nname = "b"\npassword = "{hash_}x!"\n'
        )
        self.assertEqual(got, message.replace("oper[0]", "oper[1]"))

    def test_names_and_hostmasks(self) -> None:
        hash_ = fake_hash()
        for body, message in [
            (f'password = "{hash_}"', "chatd.toml: oper[0].name: missing"),
            ('name = "alice"', "chatd.toml: oper[0].password: missing"),
            (
                f'name = "al ice"\npassword = "{hash_}"',
                'chatd.toml: oper[0].name: must be a name without spaces (got "al ice")',
            ),
            (
                f'name = ""\npassword = "{hash_}"',
                'chatd.toml: oper[0].name: must be a name without spaces (got "")',
            ),
            (
                f'name = "alice"\npassword = "{hash_}"\nhostmask = "192.0.2.1"',
                "chatd.toml: oper[0].hostmask: must be a nick!user@host mask such as "
                '*!*@192.0.2.* (got "192.0.2.1")',
            ),
        ]:
            self.assertEqual(self.oper(body), message, body)

    def test_duplicate_names(self) -> None:
        hash_ = fake_hash()
        self.assertEqual(
            self.error(
                f'[[oper]]\nname = "alice"\npassword = "{hash_}"\n'
                f'[[oper]]\nname = "Alice"\npassword = "{hash_}"\n'
            ),
            'chatd.toml: oper[1].name: is oper[0]\'s name already (got "Alice")',
        )

    def test_oper_must_be_an_array_of_tables(self) -> None:
        self.assertEqual(
            self.error(f'[oper]\nname = "alice"\npassword = "{fake_hash()}"\n'),
            "chatd.toml: oper: must be tables written [[oper]] (got a table)",
        )


class PrecedenceTests(FileTests):
    """An option given on the command line wins over the file, which wins over the default."""

    def parse(self, *args: str) -> Options:
        options = Options()
        options.parseOptions(list(args))
        return options

    def test_command_line_over_file_over_default(self) -> None:
        path = self.write(
            "[limits]\nmax_clients = 7\nexempt_ip = ['10.0.0.0/8']\n"
            "[flood]\nrate = 3\nburst = 4\n[server]\nlog_level = 'error'\n"
        )
        options = self.parse(
            "--config", path, "--max-clients", "5", "--exempt-ip", "192.0.2.0/24"
        )
        settings = options.settings
        self.assertEqual(settings.limits.max_clients, 5)  # command line
        self.assertEqual(settings.flood.rate, 3)  # file
        self.assertEqual(settings.limits.idle_timeout, 180)  # default
        self.assertEqual(  # a list on the command line replaces the file's
            [str(n) for n in settings.limits.exempt_ip], ["192.0.2.0/24"]
        )
        # what the options say is what the settings say
        self.assertEqual(
            (options["max-clients"], options["flood-rate"], options["log-level"]),
            (5, 3, "error"),
        )
        self.assertEqual(options.source.overrides["limits.max_clients"], "5")

    def test_a_default_given_on_the_command_line_still_wins(self) -> None:
        path = self.write("[limits]\nmax_clients = 7\nexempt_loopback = true\n")
        options = self.parse(
            "--config", path, "--max-clients", "1000", "--no-exempt-loopback"
        )
        self.assertEqual(options.settings.limits.max_clients, 1000)
        self.assertFalse(options.settings.limits.exempt_loopback)
        self.assertTrue(options["no-exempt-loopback"])

    def test_ports_and_listeners(self) -> None:
        path = self.write("[json]\nlisten = ['tcp6:9001']\n[irc]\nport = 6667\n")
        options = self.parse("--config", path, "--port", "9000")
        self.assertEqual(options["listen"], ["tcp:9000:backlog=1024", "tcp6:9001"])
        self.assertEqual(options["irc-listen"], ["tcp:6667:backlog=1024"])

    def test_file_errors_are_usage_errors(self) -> None:
        path = self.write("[flood]\nrate = 0\n")
        e = self.assertRaises(UsageError, self.parse, "--config", path)
        self.assertEqual(
            str(e), f"{path}: flood.rate: must be a number above 0 (got 0)"
        )
        # a bad command-line value is reported as it always was
        e = self.assertRaises(
            UsageError, self.parse, "--config", path, "--flood-rate", "x"
        )
        self.assertEqual(str(e), "--flood-rate x: must be a number above 0")
        e = self.assertRaises(
            UsageError, self.parse, "--database", "mysql://u:hunter2@h/d"
        )
        self.assertNotIn("hunter2", str(e))

    def test_new_command_line_options(self) -> None:
        options = self.parse("--database", "memory:", "--state-dir", "/srv/chatd")
        self.assertEqual(options.settings.storage.url, "memory:")
        self.assertEqual(options.settings.storage.state_dir, "/srv/chatd")


class PathTests(FileTests):
    """Relative paths: from the file's directory in the file, from the working directory on the command line."""

    def setUp(self) -> None:
        self.addCleanup(os.chdir, os.getcwd())
        self.elsewhere = os.path.abspath(self.mktemp())
        os.makedirs(self.elsewhere)
        os.chdir(self.elsewhere)

    def test_in_the_file(self) -> None:
        path = self.write(
            "[server]\nmotd = 'motd.txt'\n[storage]\nstate_dir = 'state'\n"
        )
        directory = os.path.dirname(path)
        Path(directory, "motd.txt").write_text("from beside the file\n", "utf-8")
        settings = ConfigSource.of(os.path.relpath(path), {}).load()
        assert settings.server.motd is not None
        self.assertEqual(settings.server.motd.path, os.path.join(directory, "motd.txt"))
        self.assertEqual(settings.server.motd.lines, ("from beside the file",))
        self.assertEqual(settings.storage.state_dir, os.path.join(directory, "state"))

    def test_on_the_command_line(self) -> None:
        Path("motd.txt").write_text("from here\n", "utf-8")
        source = ConfigSource.of(
            None, {"server.motd": "motd.txt", "storage.state_dir": "state"}
        )
        os.chdir("/")  # twistd may change directory before a reload
        settings = source.load()
        assert settings.server.motd is not None
        self.assertEqual(settings.server.motd.lines, ("from here",))
        self.assertEqual(
            settings.storage.state_dir, os.path.join(self.elsewhere, "state")
        )

    def test_default_state_dir_is_where_twistd_runs(self) -> None:
        path = self.write("")
        self.assertEqual(ConfigSource.of(path, {}).load().storage.state_dir, ".")


class TableTests(SynchronousTestCase):
    """One definition of each option: the table, the settings and the command line agree."""

    def test_every_option_is_a_settings_field_and_back(self) -> None:
        keys = [k for k in settings_fields() if not k.startswith(("oper.", "webirc."))]
        self.assertEqual(sorted(keys), sorted(BY_KEY))
        for option in OPTIONS:
            self.assertEqual(DEFAULTS.value(option.key), option.default, option.key)

    def test_every_flag_is_a_command_line_option(self) -> None:
        help_text = str(Options())
        flags = [o.flag for o in OPTIONS if o.flag]
        self.assertEqual(len(flags), 28)
        for flag in [*flags, "config"]:
            self.assertIn(f"--{flag}", help_text)
        self.assertIn("-l, --listen", help_text)
        self.assertIn("-p, --port=", help_text)

    def test_changes(self) -> None:
        new = dataclasses.replace(
            DEFAULTS,
            flood=dataclasses.replace(DEFAULTS.flood, rate=5.0),
            opers=(OperSpec("alice", fake_hash()),),
        )
        self.assertEqual(
            changes(DEFAULTS, new), [("flood.rate", 2.0, 5.0), ("oper", (), new.opers)]
        )
        self.assertEqual(changes(new, new), [])


class ExampleFileTests(SynchronousTestCase):
    """chatd.example.toml documents every key, with its default."""

    def test_loads_to_the_defaults(self) -> None:
        self.assertEqual(ConfigSource.of(str(EXAMPLE), {}).load(), DEFAULTS)

    def test_every_key_is_documented_with_its_value(self) -> None:
        """Uncommented, the example sets every key to the default or the value its comment gives."""
        text = EXAMPLE.read_text("utf-8")
        hash_ = fake_hash()
        setting = re.compile(r"^# (\w+ = .*|\[\[(?:oper|webirc)\]\])$", re.M)
        uncommented = setting.sub(r"\1", text).replace(
            "PASTE THE LINE chatd-admin hash-password PRINTS", hash_
        )
        directory = Path(self.mktemp()).resolve()
        directory.mkdir()
        (directory / "motd.txt").write_text("hello\n", "utf-8")
        path = directory / "chatd.toml"
        path.write_text(uncommented, "utf-8")
        settings = ConfigSource.of(str(path), {}).load()
        replace = dataclasses.replace
        documented = replace(
            DEFAULTS,
            server=replace(
                DEFAULTS.server, motd=Motd(str(directory / "motd.txt"), ("hello",))
            ),
            json=replace(DEFAULTS.json, port=8123),
            irc=replace(DEFAULTS.irc, port=6667),
            web=replace(DEFAULTS.web, port=8080),
            storage=replace(DEFAULTS.storage, state_dir="/var/lib/chatd"),
            opers=(OperSpec("alice", hash_),),
            webirc=(WebircSpec("kiwi", hash_, (ipaddress.ip_network("127.0.0.1"),)),),
        )
        self.assertEqual(settings, documented)
        # every field, in its own table
        tables: dict[str, list[str]] = {}
        table = ""
        for line in uncommented.splitlines():
            header = re.match(r"^\[\[?(\w+)\]\]?$", line)
            if header:
                table = header.group(1)
            elif re.match(r"^\w+ = ", line):
                tables.setdefault(table, []).append(line.split(" = ")[0])
        found = [f"{t}.{k}" for t, keys in tables.items() for k in keys]
        self.assertEqual(sorted(found), sorted(settings_fields()))
        self.assertEqual(list(tables)[: len(TABLES)], list(TABLES))

    def test_the_placeholder_password_is_refused(self) -> None:
        text = EXAMPLE.read_text("utf-8")
        for array in ("oper", "webirc"):
            table = text[text.index(f"# [[{array}]]") :].split("\n\n")[0]
            path = Path(self.mktemp())
            path.write_text(re.sub(r"^# ", "", table, flags=re.M), "utf-8")
            e = self.assertRaises(ConfigError, ConfigSource.of(str(path), {}).load)
            self.assertEqual(e.key, f"{array}[0].password")


class DocsTests(SynchronousTestCase):
    def test_every_key_and_flag_is_in_the_docs(self) -> None:
        docs = (ROOT / "docs" / "config.md").read_text("utf-8")
        readme = (ROOT / "README.md").read_text("utf-8")
        for option in OPTIONS:
            self.assertIn(f"`{option.key}`", docs)
            if option.flag is not None:
                self.assertIn(f"`--{option.flag}", docs)
                self.assertIn(f"`--{option.flag}", readme)
            restart = "restart" in docs.split(f"`{option.key}`")[1].split("\n")[0]
            self.assertEqual(restart, option.restart, option.key)
