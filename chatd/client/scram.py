# -*- test-case-name: tests.test_client_accounts -*-
"""
The client's side of SCRAM-SHA-256 (RFC 5802, RFC 7677), with the standard
library only: L{ScramLogin} proves the password without sending it, and
checks that the server knew the account's keys too (its final signature),
so that a server that only pretends to be the right one is found out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from chatd.accounts.saslprep import password_bytes

#: RFC 7677's minimum: a server that asks for fewer rounds makes the proof
#: cheaper to attack offline, so it is refused.
MIN_ITERATIONS = 4096
#: More rounds would freeze the client for seconds: the key is derived on
#: the reactor thread.  chatd's own accounts have 4096.
MAX_ITERATIONS = 1_000_000
GS2_HEADER = "n,,"


class ScramError(Exception):
    """The server's side of the exchange is not what SCRAM-SHA-256 allows."""


class ServerNotVerified(ScramError):
    """The server's final signature is wrong: it does not know the account's keys."""


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _attributes(message: bytes, what: str) -> list[tuple[str, str]]:
    try:
        text = message.decode("utf-8")
    except UnicodeDecodeError:
        raise ScramError(f"the server's {what} message is not UTF-8") from None
    attributes = []
    for item in text.split(","):
        if len(item) < 2 or item[1] != "=" or not item[0].isalpha():
            raise ScramError(
                f"the server's {what} message has an item that is not <letter>=<value>"
            )
        attributes.append((item[0], item[2:]))
    return attributes


def _escape(name: str) -> str:
    return name.replace("=", "=3D").replace(",", "=2C")


class ScramLogin:
    """
    One SCRAM-SHA-256 login: L{first} to send, L{final} for the server's
    challenge, and L{verify} for the server's final message.
    """

    def __init__(self, account: str, password: str, nonce: str | None = None) -> None:
        self._password = password
        self.nonce = nonce if nonce is not None else secrets.token_urlsafe(18)
        self._bare = f"n={_escape(account)},r={self.nonce}"
        self._server_signature: bytes | None = None

    def first(self) -> bytes:
        """The client-first-message: no channel binding, no authzid."""
        return f"{GS2_HEADER}{self._bare}".encode()

    def final(self, server_first: bytes) -> bytes:
        """
        The client-final-message, with the proof, for the server-first-message.

        @raise ScramError: when the server's message is malformed, does not
            extend our nonce, or asks for an iteration count out of bounds.
        """
        attributes = _attributes(server_first, "first")
        if attributes[0][0] == "m":
            raise ScramError("the server asks for a SCRAM extension (m=) we lack")
        if [a for a, _ in attributes[:3]] != ["r", "s", "i"]:
            raise ScramError("the server's first message is not r=...,s=...,i=...")
        (_, nonce), (_, salt_text), (_, count) = attributes[:3]
        if not nonce.startswith(self.nonce) or len(nonce) == len(self.nonce):
            raise ScramError("the server's nonce does not extend ours")
        if not nonce.isascii() or not nonce.isprintable():
            raise ScramError("the server's nonce is not printable ASCII")
        try:
            salt = base64.b64decode(salt_text, validate=True)
        except (binascii.Error, ValueError):
            raise ScramError("the server's salt is not base64") from None
        if not salt:
            raise ScramError("the server's salt is empty")
        if not (count.isascii() and count.isdigit()):
            raise ScramError("the server's iteration count is not a number")
        iterations = int(count)
        if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
            raise ScramError(
                f"the server asks for {iterations} iterations; this client takes"
                f" {MIN_ITERATIONS} to {MAX_ITERATIONS}"
            )
        salted = hashlib.pbkdf2_hmac(
            "sha256", password_bytes(self._password), salt, iterations
        )
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = f"c={_b64(GS2_HEADER.encode())},r={nonce}"
        auth = b",".join(
            (self._bare.encode(), server_first, without_proof.encode("ascii"))
        )
        proof = bytes(a ^ b for a, b in zip(client_key, _hmac(stored_key, auth)))
        self._server_signature = _hmac(_hmac(salted, b"Server Key"), auth)
        return f"{without_proof},p={_b64(proof)}".encode("ascii")

    def verify(self, server_final: bytes) -> None:
        """
        Check the server-final-message's signature.

        @raise ServerNotVerified: when it is wrong, missing, or comes before
            L{final}.
        """
        expected = self._server_signature
        if expected is None:
            raise ServerNotVerified("the server's final message came too early")
        wanted = b"v=" + _b64(expected).encode("ascii")
        if not hmac.compare_digest(server_final, wanted):
            raise ServerNotVerified(
                "the server's final signature is wrong: it does not know the"
                " account's keys"
            )
