"""A small authoritative DNS server on 127.0.0.1 (UDP and TCP, free port) written with
dnspython, and SMTP servers (aiosmtpd) with and without STARTTLS, for the domain checks.

Zones: ``test.`` (the parent: holds the DS of strong.test), ``strong.test.`` (DNSSEC-signed,
SPF -all, DMARC reject, CAA, an MX in scope and one out of scope) and ``weak.test.`` (no
DNSSEC, SPF +all, DMARC p=none, no CAA).
"""

from __future__ import annotations

import base64
import socket
import ssl
import struct
import threading
import time
from contextlib import closing

import dns.dnssec
import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset
import dns.zone
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

_SOA = "@ 300 IN SOA ns.{o} hostmaster.{o} 1 3600 600 86400 300\n@ 300 IN NS ns.{o}\n"
STRONG = _SOA.format(o="strong.test.") + """\
@ 300 IN TXT "v=spf1 mx -all"
@ 300 IN TXT "google-site-verification=abc"
@ 300 IN CAA 0 issue "letsencrypt.org"
@ 300 IN MX 10 mail.strong.test.
@ 300 IN MX 20 mx.elsewhere.example.
@ 300 IN A 127.0.0.1
_dmarc 300 IN TXT "v=DMARC1; p=reject; rua=mailto:dmarc@strong.test"
mail 300 IN A 127.0.0.1
ns 300 IN A 127.0.0.1
"""
WEAK = _SOA.format(o="weak.test.") + """\
@ 300 IN TXT "v=spf1 +all"
@ 300 IN MX 10 mail.weak.test.
@ 300 IN A 127.0.0.1
_dmarc 300 IN TXT "v=DMARC1; p=none"
mail 300 IN A 127.0.0.1
nothing 300 IN A 127.0.0.1
ns 300 IN A 127.0.0.1
"""


def build_zones() -> dict[dns.name.Name, dns.zone.Zone]:
    """The three zones; strong.test has a DNSKEY (ECDSA P-256) with a signed RRset and its
    DS in test.

    dnspython 2.9's signing needs cryptography >= 50 (the project pins 46), so the DNSKEY
    RRset is signed here with cryptography over dnspython's canonical signed data; the
    check only validates that RRset."""
    strong = dns.zone.from_text(STRONG, origin="strong.test.")
    weak = dns.zone.from_text(WEAK, origin="weak.test.")
    key = ec.generate_private_key(ec.SECP256R1())
    point = key.public_key().public_bytes(serialization.Encoding.X962,
                                          serialization.PublicFormat.UncompressedPoint)
    dnskey = dns.rdata.from_text("IN", "DNSKEY",
                                 f"257 3 13 {base64.b64encode(point[1:]).decode()}")
    with strong.writer() as txn:
        txn.add("@", 300, dnskey)
    origin = dns.name.from_text("strong.test.")
    rrset = dns.rrset.from_rdata(origin, 300, dnskey)
    now = int(time.time())
    template = dns.rdata.from_text("IN", "RRSIG", (
        f"DNSKEY 13 2 300 {now + 86400} {now - 3600} {dns.dnssec.key_id(dnskey)} "
        f"strong.test. AAAA"))
    data = dns.dnssec._make_rrsig_signature_data(rrset, template)
    r, s_value = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
    signature = r.to_bytes(32, "big") + s_value.to_bytes(32, "big")
    rrsig = template.replace(signature=signature)
    with strong.writer() as txn:
        txn.add("@", 300, rrsig)
    ds = dns.dnssec.make_ds("strong.test.", dnskey, "SHA256")
    parent = dns.zone.from_text(_SOA.format(o="test.") + f"strong 300 IN DS {ds.to_text()}\n",
                                origin="test.")
    return {z.origin: z for z in (parent, strong, weak) if z.origin is not None}


class DnsServer:
    """Answers from the zones, authoritatively, over UDP and TCP on one port."""

    def __init__(self) -> None:
        self.zones = build_zones()
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", 0))
        self.port: int = self.tcp.getsockname()[1]
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", self.port))
        self.tcp.listen(16)

    def start(self) -> DnsServer:
        """Serve in daemon threads."""
        threading.Thread(target=self._udp_loop, daemon=True).start()
        threading.Thread(target=self._tcp_loop, daemon=True).start()
        return self

    def stop(self) -> None:
        """Close both sockets."""
        self.udp.close()
        self.tcp.close()

    def answer(self, wire: bytes) -> bytes:
        """The response to one query in wire format."""
        query = dns.message.from_wire(wire)
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        question = query.question[0]
        qname, qtype = question.name, question.rdtype
        zone = self._zone(qname.parent() if qtype == dns.rdatatype.DS and qname in self.zones
                          else qname)
        if zone is None or zone.origin is None:
            response.set_rcode(dns.rcode.REFUSED)
            return response.to_wire()
        node = zone.get_node(qname.relativize(zone.origin))
        if node is None:
            response.set_rcode(dns.rcode.NXDOMAIN)
            return response.to_wire()
        for rdtype, covers in ((qtype, dns.rdatatype.NONE), (dns.rdatatype.RRSIG, qtype)):
            if covers != dns.rdatatype.NONE and not query.ednsflags & dns.flags.DO:
                continue
            rdataset = node.get_rdataset(dns.rdataclass.IN, rdtype, covers)
            if rdataset is not None:
                rrset = response.find_rrset(response.answer, qname, dns.rdataclass.IN, rdtype,
                                            covers, create=True)
                rrset.update(rdataset)
        return response.to_wire(origin=zone.origin, max_size=65535)

    def _zone(self, name: dns.name.Name) -> dns.zone.Zone | None:
        while True:
            if name in self.zones:
                return self.zones[name]
            if name == dns.name.root:
                return None
            name = name.parent()

    def _udp_loop(self) -> None:
        while True:
            try:
                wire, peer = self.udp.recvfrom(4096)
                self.udp.sendto(self.answer(wire), peer)
            except OSError:
                return
            except Exception:  # noqa: BLE001 - a bad query must not stop the server
                continue

    def _tcp_loop(self) -> None:
        while True:
            try:
                conn, _ = self.tcp.accept()
            except OSError:
                return
            with closing(conn):
                try:
                    conn.settimeout(5)
                    (length,) = struct.unpack("!H", conn.recv(2, socket.MSG_WAITALL))
                    reply = self.answer(conn.recv(length, socket.MSG_WAITALL))
                    conn.sendall(struct.pack("!H", len(reply)) + reply)
                except Exception:  # noqa: BLE001, S112
                    continue


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:  # noqa: N802
        return "250 OK"


def smtp_server(tls_context: ssl.SSLContext | None) -> Controller:
    """A started SMTP server on 127.0.0.1; STARTTLS offered when ``tls_context`` is given."""
    controller = Controller(_Sink(), hostname="127.0.0.1", port=free_port(),
                            tls_context=tls_context, require_starttls=False)
    controller.start()
    return controller
