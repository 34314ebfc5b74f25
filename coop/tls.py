"""A small certificate authority for one office: `coop tls init`.

The counters are PCs on the office network; the server speaks HTTPS with a certificate that
this office's own authority signed, and each counter PC trusts that authority once
(its ca.pem). No public CA is involved and nothing leaves the office.

- The authority: an EC P-256 key and a self-signed certificate, basicConstraints CA:true with
  pathlen 0 (it signs server certificates only, never another authority), keyUsage
  keyCertSign and cRLSign, valid ~10 years.
- The server certificate: its own EC P-256 key, signed by the authority, for the DNS names and
  IP addresses given (subjectAltName; browsers ignore the common name), keyUsage
  digitalSignature, extendedKeyUsage serverAuth, valid `days` (default ~2 years: browsers cap
  the lifetime of public certificates lower, but not of ones from a locally trusted authority).
- Files, in a directory of mode 0700: ca.pem, ca-key.pem (0600), server.pem (the server's
  certificate then the authority's: the chain), server-key.pem (0600). Running it again keeps
  the authority (so the counters need not trust a new one) and issues a new server certificate;
  `new_ca=True` replaces the authority too.

The functions that make certificates are pure (keys and PEM bytes in, PEM bytes out);
`write_office_tls` is the one that touches files.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from coop.errors import InvalidInput

CA_DAYS = 3650
SERVER_DAYS = 825
DEFAULT_DIR = Path("~/.config/coop/tls")
CA_FILE, CA_KEY_FILE = "ca.pem", "ca-key.pem"
SERVER_FILE, SERVER_KEY_FILE = "server.pem", "server-key.pem"


@dataclass(frozen=True)
class Authority:
    cert_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class ServerCert:
    chain_pem: bytes
    """The server's certificate, then the authority's."""
    key_pem: bytes


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def new_authority(name: str = "coop office CA", *, days: int = CA_DAYS,
                  now: datetime | None = None) -> Authority:
    """A fresh authority: key and self-signed certificate (CA:true, pathlen 0)."""
    start = (now or _now()) - timedelta(minutes=5)  # a counter's clock a little behind
    key = _new_key()
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, "coop")])
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(start + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=False, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Authority(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def parse_addresses(ips: list[str]) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(ip) for ip in ips]
    except ValueError as exc:
        raise InvalidInput(str(exc), field="ip") from exc


def check_request(names: list[str], ips: list[str],
                  days: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """The IP addresses, once the request is known to be sound (refused: InvalidInput)."""
    if not names and not ips:
        raise InvalidInput("give at least one --name or --ip", field="name")
    if days < 1:
        raise InvalidInput("--days must be at least 1", field="days")
    for name in names:
        if not name or any(ch.isspace() or ch in "/:@" for ch in name):
            raise InvalidInput(f"{name!r} is not a host name", field="name")
    return parse_addresses(ips)


def issue_server_cert(authority: Authority, *, names: list[str], ips: list[str],
                      days: int = SERVER_DAYS, now: datetime | None = None) -> ServerCert:
    """A server certificate for these DNS names and IP addresses, signed by `authority`."""
    addresses = check_request(names, ips, days)
    ca_cert = x509.load_pem_x509_certificate(authority.cert_pem)
    ca_key = serialization.load_pem_private_key(authority.key_pem, password=None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise InvalidInput("the authority's key is not an EC key", field="ca-key.pem")
    start = (now or _now()) - timedelta(minutes=5)
    end = min(start + timedelta(days=days), ca_cert.not_valid_after_utc)
    key = _new_key()
    alt_names: list[x509.GeneralName] = [x509.DNSName(name) for name in names]
    alt_names += [x509.IPAddress(address) for address in addresses]
    common = names[0] if names else str(addresses[0])
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)]))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=False,
            crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]),
                       critical=False)
        .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return ServerCert(cert.public_bytes(serialization.Encoding.PEM) + authority.cert_pem,
                      _key_pem(key))


@dataclass(frozen=True)
class Written:
    directory: Path
    new_ca: bool
    """True when the authority was made now (the counters must trust it again)."""

    @property
    def ca(self) -> Path:
        return self.directory / CA_FILE

    @property
    def cert(self) -> Path:
        return self.directory / SERVER_FILE

    @property
    def key(self) -> Path:
        return self.directory / SERVER_KEY_FILE


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write through a temporary file created with `mode` (a key is never readable by others,
    not even for a moment), then rename it into place."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.unlink(missing_ok=True)
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.chmod(temporary, mode)
    temporary.replace(path)


def write_office_tls(directory: Path, *, names: list[str], ips: list[str],
                     days: int = SERVER_DAYS, new_ca: bool = False) -> Written:
    """Keep (or make) the authority in `directory` and issue a new server certificate."""
    check_request(names, ips, days)
    directory = directory.expanduser()
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    ca_path, ca_key_path = directory / CA_FILE, directory / CA_KEY_FILE
    made = new_ca or not (ca_path.exists() and ca_key_path.exists())
    if made:
        authority = new_authority()
        _write(ca_key_path, authority.key_pem, 0o600)
        _write(ca_path, authority.cert_pem, 0o644)
    else:
        authority = Authority(ca_path.read_bytes(), ca_key_path.read_bytes())
    server = issue_server_cert(authority, names=names, ips=ips, days=days)
    _write(directory / SERVER_KEY_FILE, server.key_pem, 0o600)
    _write(directory / SERVER_FILE, server.chain_pem, 0o644)
    return Written(directory, made)


def spki_sha256(cert_pem: bytes) -> str:
    """base64 sha256 of a certificate's public key (SubjectPublicKeyInfo): what
    Chromium's --ignore-certificate-errors-spki-list and HPKP-style pins name."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    spki = cert.public_key().public_bytes(serialization.Encoding.DER,
                                          serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()
