# -*- test-case-name: tests.accounts.test_scram -*-
"""
SCRAM-SHA-256 (RFC 5802, RFC 7677), the server's side: the credentials it
stores instead of the password (a salt, an iteration count, StoredKey and
ServerKey), and one exchange, from the client's first message to the
server's final one.  No wire and no account lookups here: L{chatd.accounts.sasl}
drives an exchange, and the adapters carry its bytes.

Written here rather than on scramp: scramp 1.5 needs Python 3.11, so PyPy 3.9
would get the older 1.4 line, whose server checks less of the client's final
message; and scramp asks for the credentials synchronously inside its parser,
where chatd looks them up with a Deferred.  scramp's client tests this server.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass, field

from chatd.accounts.saslprep import password_bytes
from chatd.core.names import fold

#: RFC 7677's minimum, and the count new credentials get.
DEFAULT_ITERATIONS = 4096
MIN_ITERATIONS = 4096
#: Clients derive their key with this many rounds; more is a denial of service.
MAX_ITERATIONS = 10_000_000
SALT_BYTES = 16
KEY_BYTES = 32
TEXT_PREFIX = "scram-sha-256"

# printable ASCII but ','
_NONCE = re.compile(r"[\x21-\x2b\x2d-\x7e]+\Z")
_B64_TEXT = re.compile(r"[A-Za-z0-9+/]+\Z")


class ScramError(Exception):
    """A SCRAM exchange that cannot succeed."""


class MalformedScramMessage(ScramError):
    """A client message that is not what RFC 5802 allows, or asks for what we lack."""


class ChannelBindingNotSupported(MalformedScramMessage):
    """The client asked for channel binding (C{p=}); chatd offers none."""


class InvalidProof(ScramError):
    """The client's proof does not match the stored credentials."""


class ScramCredentialsError(ValueError):
    """Stored SCRAM credentials that are malformed or out of range."""


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    """
    Base64 in its one canonical form: decoders differ in what else they
    take (CPython refuses C{==} after a full group, PyPy accepts it).

    @raise binascii.Error: for anything else.
    """
    data = base64.b64decode(text, validate=True)
    if _b64(data) != text:
        raise binascii.Error("not canonical base64")
    return data


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


@dataclass(frozen=True)
class ScramCredentials:
    """
    What the server keeps instead of the password.  The keys stay out of
    C{repr} so that a logged record shows none of them.
    """

    salt: bytes
    stored_key: bytes = field(repr=False)
    server_key: bytes = field(repr=False)
    iterations: int = DEFAULT_ITERATIONS

    def __post_init__(self) -> None:
        if not self.salt:
            raise ScramCredentialsError("the SCRAM salt is empty")
        if len(self.stored_key) != KEY_BYTES or len(self.server_key) != KEY_BYTES:
            raise ScramCredentialsError(
                f"SCRAM-SHA-256 keys are {KEY_BYTES} bytes long"
            )
        if not MIN_ITERATIONS <= self.iterations <= MAX_ITERATIONS:
            raise ScramCredentialsError(
                f"the SCRAM iteration count must be {MIN_ITERATIONS} to "
                f"{MAX_ITERATIONS}, not {self.iterations}"
            )

    def to_text(self) -> str:
        """C{scram-sha-256$<iterations>$<salt>$<stored key>$<server key>}, base64."""
        parts = (self.salt, self.stored_key, self.server_key)
        encoded = "$".join(_b64(p).rstrip("=") for p in parts)
        return f"{TEXT_PREFIX}${self.iterations}${encoded}"

    @classmethod
    def from_text(cls, text: str) -> ScramCredentials:
        """
        The credentials L{to_text} wrote.

        @raise ScramCredentialsError: for any other text.
        """
        parts = text.split("$")
        if len(parts) != 5 or parts[0] != TEXT_PREFIX:
            raise ScramCredentialsError(
                f"stored SCRAM credentials are not of the form "
                f"{TEXT_PREFIX}$<iterations>$<salt>$<stored key>$<server key>"
            )
        count = parts[1]
        if not (count.isascii() and count.isdigit()) or count.startswith("0"):
            raise ScramCredentialsError("the SCRAM iteration count is not a number")
        decoded = []
        for part in parts[2:]:
            if _B64_TEXT.match(part) is None:
                raise ScramCredentialsError("stored SCRAM credentials are not base64")
            try:
                decoded.append(_unb64(part + "=" * (-len(part) % 4)))
            except binascii.Error as e:
                raise ScramCredentialsError(
                    "stored SCRAM credentials are not base64"
                ) from e
        salt, stored_key, server_key = decoded
        return cls(salt, stored_key, server_key, int(count))


def _salted_password(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password_bytes(password), salt, iterations)


def _keys(salted_password: bytes) -> tuple[bytes, bytes, bytes]:
    client_key = _hmac(salted_password, b"Client Key")
    stored_key = hashlib.sha256(client_key).digest()
    server_key = _hmac(salted_password, b"Server Key")
    return client_key, stored_key, server_key


def make_credentials(
    password: str, iterations: int = DEFAULT_ITERATIONS, *, salt: bytes | None = None
) -> ScramCredentials:
    """
    New credentials for C{password} (SASLprep'd as SCRAM clients do), with
    a random 16-byte salt unless one is given (for test vectors).  PBKDF2
    with 4096 rounds takes a millisecond or two: call it off the reactor.

    @raise ScramCredentialsError: for an iteration count out of range.
    """
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise ScramCredentialsError(
            f"the SCRAM iteration count must be {MIN_ITERATIONS} to "
            f"{MAX_ITERATIONS}, not {iterations}"
        )
    if salt is None:
        salt = secrets.token_bytes(SALT_BYTES)
    _, stored_key, server_key = _keys(_salted_password(password, salt, iterations))
    return ScramCredentials(salt, stored_key, server_key, iterations)


def fake_credentials(
    secret: bytes, username: str, iterations: int = DEFAULT_ITERATIONS
) -> ScramCredentials:
    """
    Credentials for an account that does not exist, to answer as if it did:
    the salt is derived from C{secret} and the folded name, so it is the same
    at every attempt (as a real account's is) yet unknowable without the
    secret; the keys match no password anyone can find.
    """
    name = fold(username).encode("utf-8", "surrogatepass")
    salt = _hmac(secret, b"chatd scram salt\0" + name)[:SALT_BYTES]
    stored_key = _hmac(secret, b"chatd scram stored key\0" + name)
    server_key = _hmac(secret, b"chatd scram server key\0" + name)
    return ScramCredentials(salt, stored_key, server_key, iterations)


def make_nonce() -> str:
    """A server nonce: 24 random characters of base64url."""
    return secrets.token_urlsafe(18)


def _unescape_saslname(value: str) -> str:
    if not value:
        raise MalformedScramMessage("a SCRAM name is empty")
    if "\0" in value:
        raise MalformedScramMessage("a SCRAM name contains NUL")
    pieces = value.split("=")
    out = [pieces[0]]
    for piece in pieces[1:]:
        if piece.startswith("2C"):
            out.append("," + piece[2:])
        elif piece.startswith("3D"):
            out.append("=" + piece[2:])
        else:
            raise MalformedScramMessage(
                "a SCRAM name has '=' that is not '=2C' or '=3D'"
            )
    return "".join(out)


def _attributes(text: str, what: str) -> list[tuple[str, str]]:
    attributes = []
    for item in text.split(","):
        if (
            len(item) < 2
            or item[1] != "="
            or not (item[0].isascii() and item[0].isalpha())
        ):
            raise MalformedScramMessage(
                f"the SCRAM {what} message has an item that is not <letter>=<value>"
            )
        attributes.append((item[0], item[2:]))
    return attributes


@dataclass(frozen=True)
class ClientFirst:
    """The client's first message, parsed."""

    #: C{n,,}, C{y,,} or with an authzid (C{n,a=name,}), as sent: the
    #: client-final's C{c=} must repeat it.
    gs2_header: str
    #: The authorization identity, or None when the client gave none.
    authzid: str | None
    #: The user name, unescaped (not SASLprep'd: chatd's names are ASCII).
    username: str
    nonce: str
    #: The message without its GS2 header, part of what the proofs sign.
    bare: str


def parse_client_first(data: bytes) -> ClientFirst:
    """
    The client-first-message of RFC 5802 section 7.

    @raise ChannelBindingNotSupported: when the client requires channel
        binding (C{p=}).
    @raise MalformedScramMessage: for anything else RFC 5802 does not allow,
        and for the mandatory extension C{m=}, which nobody defines.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise MalformedScramMessage("the SCRAM client-first is not UTF-8") from e
    parts = text.split(",", 2)
    if len(parts) != 3:
        raise MalformedScramMessage("the SCRAM client-first has no GS2 header")
    flag, authzid_part, bare = parts
    if flag.startswith("p="):
        raise ChannelBindingNotSupported(
            "SCRAM channel binding is not offered: use SCRAM-SHA-256 with 'n' or 'y'"
        )
    if flag not in ("n", "y"):
        raise MalformedScramMessage("the SCRAM GS2 flag is not 'n', 'y' or 'p='")
    authzid: str | None = None
    if authzid_part:
        if not authzid_part.startswith("a="):
            raise MalformedScramMessage("the SCRAM authzid does not start with 'a='")
        authzid = _unescape_saslname(authzid_part[2:])
    attributes = _attributes(bare, "client-first")
    if attributes[0][0] == "m":
        raise MalformedScramMessage("SCRAM extensions (m=) are not supported")
    if len(attributes) < 2 or attributes[0][0] != "n" or attributes[1][0] != "r":
        raise MalformedScramMessage("the SCRAM client-first is not n=<name>,r=<nonce>")
    username = _unescape_saslname(attributes[0][1])
    nonce = attributes[1][1]
    if _NONCE.match(nonce) is None:
        raise MalformedScramMessage("the SCRAM client nonce is empty or not printable")
    return ClientFirst(f"{flag},{authzid_part},", authzid, username, nonce, bare)


class ScramExchange:
    """
    The server's side of one exchange, after the client's first message:
    C{server_first} to send, then L{verify} for the client's final message.
    """

    def __init__(
        self, first: ClientFirst, credentials: ScramCredentials, server_nonce: str
    ) -> None:
        if _NONCE.match(server_nonce) is None:
            raise ValueError("a SCRAM nonce is printable ASCII without ','")
        self._first = first
        self._credentials = credentials
        self.nonce = first.nonce + server_nonce
        self.server_first = (
            f"r={self.nonce},s={_b64(credentials.salt)},i={credentials.iterations}"
        ).encode("ascii")

    def verify(self, data: bytes) -> bytes:
        """
        Check the client-final-message; return the server-final-message
        (C{v=<server signature>}) that proves the server knew the keys too.

        @raise InvalidProof: when the proof does not match the credentials.
        @raise MalformedScramMessage: for a message RFC 5802 does not allow,
            or whose channel binding or nonce is not this exchange's.
        """
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as e:
            raise MalformedScramMessage("the SCRAM client-final is not ASCII") from e
        without_proof, sep, proof_text = text.rpartition(",p=")
        if not sep:
            raise MalformedScramMessage("the SCRAM client-final has no proof (p=)")
        attributes = _attributes(without_proof, "client-final")
        if len(attributes) < 2 or attributes[0][0] != "c" or attributes[1][0] != "r":
            raise MalformedScramMessage(
                "the SCRAM client-final is not c=<binding>,r=<nonce>,...,p=<proof>"
            )
        try:
            binding = _unb64(attributes[0][1])
            proof = _unb64(proof_text)
        except binascii.Error as e:
            raise MalformedScramMessage(
                "the SCRAM client-final's c= or p= is not base64"
            ) from e
        if not hmac.compare_digest(binding, self._first.gs2_header.encode("utf-8")):
            raise MalformedScramMessage(
                "the SCRAM channel binding (c=) does not repeat the GS2 header"
            )
        if not hmac.compare_digest(
            attributes[1][1].encode("ascii"), self.nonce.encode("ascii")
        ):
            raise MalformedScramMessage("the SCRAM nonce is not this exchange's")
        if len(proof) != KEY_BYTES:
            raise MalformedScramMessage(
                f"the SCRAM proof is not {KEY_BYTES} bytes long"
            )
        auth_message = b",".join(
            (
                self._first.bare.encode("utf-8"),
                self.server_first,
                without_proof.encode("ascii"),
            )
        )
        credentials = self._credentials
        signature = _hmac(credentials.stored_key, auth_message)
        client_key = bytes(a ^ b for a, b in zip(proof, signature))
        if not hmac.compare_digest(
            hashlib.sha256(client_key).digest(), credentials.stored_key
        ):
            raise InvalidProof("the SCRAM proof does not match")
        server_signature = _hmac(credentials.server_key, auth_message)
        return b"v=" + _b64(server_signature).encode("ascii")
