"""
A SCRAM-SHA-256 client written from RFC 5802 for the tests, apart from the
server's code, so that tests can send what scramp's client never would: an
authzid, a wrong channel binding, a bad nonce or proof.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class Client:
    def __init__(
        self, username: str, password: str, nonce: str = "fyko+d2lbbFgONRv9qkxdawL"
    ) -> None:
        self.username = username
        self.password = password
        self.nonce = nonce
        self.gs2_header = "n,,"
        self.server_signature = b""

    def first(self, gs2_header: str = "n,,") -> bytes:
        self.gs2_header = gs2_header
        name = self.username.replace("=", "=3D").replace(",", "=2C")
        self.bare = f"n={name},r={self.nonce}"
        return f"{gs2_header}{self.bare}".encode()

    def final(
        self,
        server_first: bytes,
        *,
        binding: str | None = None,
        nonce: str | None = None,
    ) -> bytes:
        fields = dict(item.split("=", 1) for item in server_first.decode().split(","))
        salt = base64.b64decode(fields["s"])
        salted = hashlib.pbkdf2_hmac(
            "sha256", self.password.encode(), salt, int(fields["i"])
        )
        client_key = _hmac(salted, b"Client Key")
        stored_key = hashlib.sha256(client_key).digest()
        server_key = _hmac(salted, b"Server Key")
        cbind = b64((binding or self.gs2_header).encode())
        without_proof = f"c={cbind},r={nonce or fields['r']}"
        auth = f"{self.bare},{server_first.decode()},{without_proof}".encode()
        proof = bytes(a ^ b for a, b in zip(client_key, _hmac(stored_key, auth)))
        self.server_signature = _hmac(server_key, auth)
        return f"{without_proof},p={b64(proof)}".encode()

    def server_final_ok(self, server_final: bytes) -> bool:
        return server_final == b"v=" + b64(self.server_signature).encode()
