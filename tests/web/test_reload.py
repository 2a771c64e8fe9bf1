"""The web listener under the service: made from the config, reloaded, stopped."""

from __future__ import annotations

from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from chatd.log import get_level, set_level
from chatd.net.limits import FloodLimit
from chatd.service import DRAIN_TIMEOUT, ChatService, ReloadResult
from chatd.tap import Options, makeService
from chatd.web.site import WebListener
from tests.test_service import ListeningReactor


class WebReloadTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.addCleanup(set_level, get_level())
        self.reactor = ListeningReactor()
        self.directory = Path(self.mktemp()).resolve()
        self.directory.mkdir()
        self.path = self.directory / "chatd.toml"

    def start(self, text: str, *args: str) -> ChatService:
        self.path.write_text(text, "utf-8")
        options = Options()
        options.parseOptions(["--config", str(self.path), *args])
        service = makeService(options, self.reactor)
        service.startService()
        self.addCleanup(self.stop, service)
        return service

    def stop(self, service: ChatService) -> None:
        if service.running:
            service.stopService()
            self.reactor.advance(DRAIN_TIMEOUT)

    def reload(self, service: ChatService, text: str) -> ReloadResult:
        self.path.write_text(text, "utf-8")
        return self.successResultOf(service.reload())

    def test_command_line(self) -> None:
        """--web-port and --web-listen open a web listener; none without."""
        service = self.start("", "--port", "7001")
        self.assertEqual(list(self.reactor.open), [7001])
        service.stopService()
        service = self.start(
            "", "--port", "7002", "--web-port", "8080", "--web-listen", "tcp:8081"
        )
        self.assertEqual(sorted(self.reactor.open), [7002, 8080, 8081])
        web = self.reactor.open[8080].factory
        self.assertIsInstance(web, WebListener)
        self.assertIs(self.reactor.open[8081].factory, web)

    def test_added_changed_closed(self) -> None:
        """
        A reload opens the web listener, changes its origins and limits,
        and closes it, as it does the other listeners.
        """
        service = self.start("[json]\nport = 7001\n")
        result = self.reload(
            service,
            "[json]\nport = 7001\n[web]\nport = 8080\norigins = ['https://a.example']\n",
        )
        self.assertIn("listening for web on tcp:8080:backlog=1024", result.changed)
        json_factory, web = service.factories
        assert isinstance(web, WebListener)
        self.assertIs(web.chat, json_factory.chat)
        self.assertIs(web.irc.gate, json_factory.gate)
        self.assertIsNotNone(web.irc.accounts)
        self.assertIsNone(web.origins.refusal("https://a.example", "x"))
        result = self.reload(
            service,
            "[json]\nport = 7001\n[web]\nport = 8080\norigins = ['https://b.example']\n"
            "[flood]\nburst = 4\n",
        )
        self.assertIn(
            'web.origins: ["https://a.example"] -> ["https://b.example"]',
            result.changed,
        )
        self.assertIsNotNone(web.origins.refusal("https://a.example", "x"))
        self.assertEqual(web.irc.flood, FloodLimit(4, 2.0, 20))
        self.assertEqual(web.json.flood, FloodLimit(4, 2.0, 20))
        result = self.reload(service, "[json]\nport = 7001\n")
        self.assertIn(
            "stopped listening for web on tcp:8080:backlog=1024", result.changed
        )
        self.assertEqual(list(self.reactor.open), [7001])
