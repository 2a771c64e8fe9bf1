"""Accounts: service names, dropped founders, busy operators, SCRAM resets."""

from __future__ import annotations

from base64 import b64decode, b64encode

from scramp import ScramClient

from tests.test_protocol_accounts import PASSWORD, AccountCase, error


class AccountEdgeTests(AccountCase):
    def test_service_nicks_are_no_account_names(self) -> None:
        reply = self.anonymous().request(
            "register", account="nickserv", password=PASSWORD
        )
        self.assertEqual(
            error(reply),
            ("bad_account_name", "NickServ is one of the server's services"),
        )

    def test_a_dropped_accounts_channels_are_unregistered(self) -> None:
        alice = self.registered("alice", "#c")
        alice.request("register_channel", channel="#c")
        alice.request("drop_account", password=PASSWORD)
        self.assertIsNone(self.server.chat.find_channel("#c").founder)  # type: ignore[union-attr]
        alice.send({"cmd": "quit"})
        self.assertIsNone(self.server.chat.find_channel("#c"))
        mallory = self.anonymous()
        mallory.request("register", account="alice", password="mallory-pw")
        mallory.register("alice")
        self.assertEqual(
            error(mallory.request("drop_channel", channel="#c"))[0], "no_such_channel"
        )

    def test_a_scram_login_forgets_the_accounts_failures(self) -> None:
        self.account("alice")
        guesser = self.anonymous()
        for _ in range(4):
            guesser.request("login", account="alice", password="guess-guess")
        scram = ScramClient(["SCRAM-SHA-256"], "alice", PASSWORD)
        client = self.anonymous()
        first = client.request(
            "login",
            mechanism="SCRAM-SHA-256",
            data=b64encode(scram.get_client_first().encode()).decode(),
        )
        scram.set_server_first(b64decode(first["challenge"]).decode())
        client.request(
            "login", data=b64encode(scram.get_client_final().encode()).decode()
        )
        self.assertEqual(len(self.accounts.throttle._accounts.entries), 0)
