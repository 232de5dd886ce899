"""Certificates and TLS servers on 127.0.0.1 for the exposure tests.

``Pki`` makes a throw-away CA and leaf certificates (valid, self-signed, expired, wrong name,
RSA 1024); ``TlsServer`` serves one of them with Python's ``ssl`` in a thread, in a strong
or a deliberately weak configuration. OpenSSL 3 still lets a server enable TLS 1.0/1.1 and
legacy suites at ``@SECLEVEL=0``, so no external server is needed for the weak cases.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
INTERMEDIATE_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                        "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                        "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem_key(key: PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


@dataclass(frozen=True)
class CertFiles:
    """A certificate chain file and its key file."""

    cert: Path
    key: Path


class Pki:
    """A test certificate authority writing PEM files under ``directory``."""

    def __init__(self, directory: Path, name: str = "Lakana Test CA") -> None:
        self.directory = directory
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(_name(name)).issuer_name(_name(name))
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - dt.timedelta(days=30))
                     .not_valid_after(now + dt.timedelta(days=3650))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .add_extension(x509.KeyUsage(
                         digital_signature=True, content_commitment=False, key_encipherment=False,
                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                         crl_sign=True, encipher_only=False, decipher_only=False), True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                         self.key.public_key()), False)
                     .sign(self.key, hashes.SHA256()))
        self.ca_file = directory / f"{name.replace(' ', '_')}.pem"
        self.ca_file.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, label: str, *, names: tuple[str, ...] = ("localhost", "127.0.0.1"),
              days: int = 90, not_before_days: int = -1, rsa_bits: int | None = None,
              self_signed: bool = False) -> CertFiles:
        """A leaf certificate for ``names`` valid from ``now + not_before_days`` for
        ``days`` days (negative: already expired), EC P-256 unless ``rsa_bits``."""
        key: PrivateKey = (rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
                           if rsa_bits else ec.generate_private_key(ec.SECP256R1()))
        now = dt.datetime.now(dt.UTC)
        start = now + dt.timedelta(days=not_before_days)
        end = now + dt.timedelta(days=days)
        if end <= start:
            start = end - dt.timedelta(days=90)
        sans: list[x509.GeneralName] = []
        for name in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(name)))
            except ValueError:
                sans.append(x509.DNSName(name))
        subject = _name(names[0])
        builder = (x509.CertificateBuilder().subject_name(subject)
                   .issuer_name(subject if self_signed else self.cert.subject)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(start).not_valid_after(end)
                   .add_extension(x509.SubjectAlternativeName(sans), False)
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), True))
        if not self_signed:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), False)
        cert = builder.sign(key if self_signed else self.key, hashes.SHA256())
        files = CertFiles(self.directory / f"{label}.crt", self.directory / f"{label}.key")
        files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files.key.write_bytes(_pem_key(key))
        return files


def server_context(files: CertFiles, *, weak: bool = False,
                   ciphers: str | None = None) -> ssl.SSLContext:
    """A server context: TLS 1.2+ with Mozilla's intermediate suites by default; ``weak``
    enables TLS 1.0 and 1.1 at ``@SECLEVEL=0`` (capped at TLS 1.2 so the cipher list
    applies)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    if weak:
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers((ciphers or "DEFAULT") + ":@SECLEVEL=0")
    else:
        # Mozilla's intermediate profile: AEAD ECDHE suites, and curves it lists.
        ctx.set_ciphers(ciphers or INTERMEDIATE_CIPHERS)
        ctx.set_ecdh_curve("prime256v1")
    ctx.load_cert_chain(files.cert, files.key)
    return ctx


class TcpServer:
    """A threaded TCP server on 127.0.0.1 (free port) calling ``handle`` per connection."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def handle(self, conn: socket.socket) -> None:
        """Serve one connection (override)."""

    def start(self) -> TcpServer:
        """Start accepting in a daemon thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and close the socket."""
        self._stop.set()
        self.sock.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.settimeout(5)
            threading.Thread(target=self._guarded, args=(conn,), daemon=True).start()

    def _guarded(self, conn: socket.socket) -> None:
        try:
            self.handle(conn)
        except (OSError, ssl.SSLError):
            pass
        finally:
            conn.close()


class TlsServer(TcpServer):
    """An HTTPS-ish server: TLS handshake, then a fixed HTTP response."""

    def __init__(self, context: ssl.SSLContext) -> None:
        super().__init__()
        self.context = context

    def handle(self, conn: socket.socket) -> None:
        """Handshake, read the request head, answer 200."""
        with self.context.wrap_socket(conn, server_side=True) as tls:
            tls.recv(4096)
            tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")


class GarbageServer(TcpServer):
    """Answers anything with bytes that are not TLS."""

    def handle(self, conn: socket.socket) -> None:
        """Send garbage and close."""
        conn.sendall(b"\x00garbage, not TLS\r\n" * 64)
