"""Mutual TLS between the nodes of a real cluster: a certificate authority made at cluster start,
and a certificate per node (and one for the harness's clients), all with Ed25519 keys, made by the
`cryptography` package the cores already sign with.

Every connection is TLS 1.3 with a certificate on both ends, each checked against the cluster's
authority; a node takes a connection's first frame, `("peer", id)`, only from the holder of id's
certificate (host.py), so a process cannot speak as another node. Clients and the harness's control
channel hold the certificate named `client`.
"""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterable
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.x509.oid import NameOID

CLIENT = "client"  # the certificate of the harness's clients and its control channel
AUTHORITY = "ca"


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _pem(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def make_certificates(folder: Path, names: Iterable[str]) -> None:
    """folder/ca.pem and, for each of `names` and `client`, NAME.pem and NAME.key."""
    folder.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    start, end = now - datetime.timedelta(minutes=5), now + datetime.timedelta(days=7)
    ca_key = ed25519.Ed25519PrivateKey.generate()
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("meshcheck cluster"))
        .issuer_name(_name("meshcheck cluster"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(ca_key, None)
    )
    (folder / f"{AUTHORITY}.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    for name in (*names, CLIENT):
        key = ed25519.Ed25519PrivateKey.generate()
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name(name))
            .issuer_name(ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(name), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
                ),
                critical=False,
            )
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .sign(ca_key, None)
        )
        (folder / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        (folder / f"{name}.key").write_bytes(_pem(key))
        (folder / f"{name}.key").chmod(0o600)


def _context(purpose: ssl.Purpose, folder: Path, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(purpose, cafile=str(folder / f"{AUTHORITY}.pem"))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.load_cert_chain(str(folder / f"{name}.pem"), str(folder / f"{name}.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def server_context(folder: Path, name: str) -> ssl.SSLContext:
    """What node `name` listens with: its certificate, and a certificate required of the other end."""
    return _context(ssl.Purpose.CLIENT_AUTH, folder, name)


def client_context(folder: Path, name: str) -> ssl.SSLContext:
    """What `name` (a node, or `client`) connects with; the server's name is checked by the caller
    (`server_hostname=` the node it means to reach)."""
    return _context(ssl.Purpose.SERVER_AUTH, folder, name)


def peer_name(peercert: object) -> str | None:
    """The common name of a connection's verified peer certificate (`get_extra_info("peercert")`)."""
    if not isinstance(peercert, dict):
        return None
    for rdn in peercert.get("subject", ()):
        for key, value in rdn:
            if key == "commonName":
                return str(value)
    return None
