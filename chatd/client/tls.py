# -*- test-case-name: tests.test_client,tests.test_tls -*-
"""
The client's TLS (C{--tls}).  L{TLS} makes each connection's settings: the
server's certificate is checked by default, and must chain to an authority
the system trusts or to one of the certificates of C{--ca FILE}
(L{load_certificates}), and be for the host name or IP address connected to
(L{check_identity}).  L{describe_tls_failure} says in one line why a
handshake or check failed.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from twisted.internet import error as neterror
from twisted.python.failure import Failure

from chatd.client.connection import ChatConnection, describe_failure

if TYPE_CHECKING:
    from twisted.internet.ssl import Certificate

_PEM_CERTIFICATE = re.compile(
    rb"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL
)


def load_certificates(path: str) -> tuple[Certificate, ...]:
    """
    The certificates in a PEM file (C{--ca}): a server's own self-signed
    certificate, or the authorities to trust.

    @raise OSError: the file cannot be read.
    @raise ValueError: it holds no certificate, or a broken one.
    """
    from OpenSSL import crypto
    from twisted.internet.ssl import Certificate

    with open(path, "rb") as f:
        data = f.read()
    blocks = _PEM_CERTIFICATE.findall(data)
    if not blocks:
        raise ValueError("no PEM certificate (-----BEGIN CERTIFICATE-----) in it")
    certificates = []
    for block in blocks:
        try:
            certificates.append(Certificate.loadPEM(block))
        except crypto.Error as e:
            raise ValueError(f"a broken certificate in it: {e}") from None
    return tuple(certificates)


class TLS(NamedTuple):
    """
    How the client speaks TLS (C{--tls}), on every connection it makes.

    @ivar ca: the certificates to trust (C{--ca}); None trusts the
        authorities the system trusts.
    @ivar insecure: check nothing about the server's certificate
        (C{--insecure}).
    """

    ca: tuple[Certificate, ...] | None = None
    insecure: bool = False

    def creator(self, host: str) -> Any:
        """
        The TLS settings for a connection to C{host}: unless insecure, the
        server's certificate must chain to a trusted certificate and be for
        C{host} (a name or an IP address).

        @raise ValueError: C{host} is no name a certificate can be for.
        """
        from twisted.internet import ssl

        if self.insecure:
            return ssl.CertificateOptions()  # it verifies nothing by default
        if self.ca is None:
            trust = ssl.platformTrust()
        else:
            trust = ssl.trustRootFromCertificates(list(self.ca))
        return ssl.optionsForClientTLS(host, trustRoot=trust)


def check_identity(handle: Any, host: str) -> None:
    """
    Check that the certificate of a TLS connection (its pyOpenSSL
    C{Connection}) is for C{host}.  L{TLS.creator}'s settings check this
    already; but some Twisted releases let a certificate without any
    subjectAltName through, so the client checks again after the handshake.

    @raise service_identity.VerificationError: it is for another host.
    @raise service_identity.CertificateError: it names no host at all.
    """
    from service_identity.pyopenssl import verify_hostname, verify_ip_address
    from twisted.internet.abstract import isIPAddress, isIPv6Address

    if isIPAddress(host) or isIPv6Address(host):
        verify_ip_address(handle, host)
    else:
        verify_hostname(handle, host)


# What the server sends when it does not speak TLS, as OpenSSL sees it.
_NOT_TLS = (
    "wrong version number",
    "packet length too long",
    "record layer failure",
    "unknown protocol",
    "http request",
)


def _openssl_reasons(error: BaseException) -> list[str]:
    """The reasons in a pyOpenSSL C{SSL.Error}: [(library, function, reason)]."""
    reasons = []
    for entry in error.args[0] if error.args else ():
        if isinstance(entry, tuple) and entry:
            reasons.append(str(entry[-1]))
    return reasons or [str(error) or type(error).__name__]


def _peer_chain(connection: ChatConnection) -> list[Any]:
    """
    The certificates the server sent, leaf first, as C{cryptography}
    certificates; also after a failed handshake.
    """
    get_handle = getattr(connection.transport, "getHandle", None)
    try:
        handle = get_handle() if get_handle is not None else None
        chain = handle.get_peer_cert_chain() if handle is not None else None
        if not chain and handle is not None:
            leaf = handle.get_peer_certificate()
            chain = [leaf] if leaf is not None else []
        return [cert.to_cryptography() for cert in chain or ()]
    except Exception:  # nothing to show: the description says less
        return []


def _valid(cert: Any, end: str) -> datetime:
    """C{not_valid_before} or C{not_valid_after}, in UTC, for any release."""
    utc = getattr(cert, f"{end}_utc", None)
    if utc is not None:
        return cast(datetime, utc)
    return cast(datetime, getattr(cert, end)).replace(tzinfo=timezone.utc)


def _names(cert: Any) -> list[str]:
    """The host names and addresses a certificate is for."""
    from cryptography import x509

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return []
    names = sans.value.get_values_for_type(x509.DNSName)
    names += [str(ip) for ip in sans.value.get_values_for_type(x509.IPAddress)]
    return [str(name) for name in names]


def _why_untrusted(chain: list[Any], tls: TLS) -> str:
    """Why the server's certificate did not verify, as far as can be told."""
    if not chain:
        return "the server's certificate is not trusted"
    leaf = chain[0]
    now = datetime.now(timezone.utc)
    not_after = _valid(leaf, "not_valid_after")
    if not_after < now:
        return f"the certificate expired on {not_after:%Y-%m-%d %H:%M} UTC"
    not_before = _valid(leaf, "not_valid_before")
    if not_before > now:
        return f"the certificate is not valid before {not_before:%Y-%m-%d %H:%M} UTC"
    if len(chain) == 1 and leaf.issuer == leaf.subject:
        if tls.ca is None:
            return (
                "self-signed certificate, which the system does not trust;"
                " --ca FILE can trust it"
            )
        return "self-signed certificate, which is not in --ca"
    issuer = chain[-1].issuer.rfc4514_string() or "?"
    if tls.ca is None:
        return f"issued by {issuer}, which the system does not trust"
    return f"issued by {issuer}, which is not in --ca"


def describe_tls_failure(
    reason: Failure, connection: ChatConnection, host: str, tls: TLS
) -> str:
    """
    Why a TLS connection to C{host} ended before its handshake (and the
    certificate check) was done: one line, such as C{certificate verify
    failed: self-signed certificate; ...}.
    """
    from OpenSSL import SSL
    from service_identity import CertificateError, VerificationError

    if reason.check(VerificationError, CertificateError):
        chain = _peer_chain(connection)
        names = _names(chain[0]) if chain else []
        if not chain:
            why = f"the certificate is not for {host}"
        elif not names:
            why = f"the certificate names no host (no subjectAltName), not {host}"
        else:
            shown = ", ".join(names[:4]) + (", ..." if len(names) > 4 else "")
            why = f"the certificate is for {shown}, not {host}"
        return f"certificate verify failed: {why}"
    if reason.check(SSL.Error):
        reasons = _openssl_reasons(cast(BaseException, reason.value))
        if "certificate verify failed" in reasons:
            why = _why_untrusted(_peer_chain(connection), tls)
            return f"certificate verify failed: {why}"
        text = ", ".join(dict.fromkeys(reasons))
        if any(r in _NOT_TLS for r in reasons):
            text += "; does the server speak TLS on this port?"
        return f"TLS handshake failed: {text}"
    if reason.check(neterror.ConnectionDone, neterror.ConnectionLost):
        return "TLS handshake failed: the server closed the connection"
    return f"TLS handshake failed: {describe_failure(reason)}"
