"""The office's certificate authority and the server certificate (`coop tls init`)."""

from __future__ import annotations

import ipaddress
import shutil
import stat
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store
from typer.testing import CliRunner

from coop import tls
from coop.api.server import is_loopback, server_options, tls_refusal
from coop.cli import app
from coop.config import Settings
from coop.errors import InvalidInput


def _chain(pem: bytes) -> list[x509.Certificate]:
    return x509.load_pem_x509_certificates(pem)


@pytest.fixture(scope="module")
def authority() -> tls.Authority:
    return tls.new_authority()


def test_the_authority_signs_server_certificates_only(authority: tls.Authority) -> None:
    ca = x509.load_pem_x509_certificate(authority.cert_pem)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)
    assert ca.public_key().curve.name == "secp256r1"  # type: ignore[union-attr]
    assert ca.subject == ca.issuer
    years = (ca.not_valid_after_utc - ca.not_valid_before_utc).days / 365
    assert 9.9 < years < 10.1


def test_the_server_certificate_names_its_hosts_and_verifies(authority: tls.Authority) -> None:
    server = tls.issue_server_cert(authority, names=["coop.office.lan", "coop"],
                                   ips=["192.168.1.10", "::1"])
    leaf, ca = _chain(server.chain_pem)
    assert ca.public_bytes(serialization.Encoding.PEM) == authority.cert_pem
    alt = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert alt.get_values_for_type(x509.DNSName) == ["coop.office.lan", "coop"]
    assert alt.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.168.1.10"),
                                                       ipaddress.ip_address("::1")]
    assert leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == \
        x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH])
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_cert_sign
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    days = (leaf.not_valid_after_utc - leaf.not_valid_before_utc).days
    assert days == tls.SERVER_DAYS
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)

    store = Store([ca])
    for subject in (x509.DNSName("coop.office.lan"),
                    x509.IPAddress(ipaddress.ip_address("192.168.1.10"))):
        verifier = PolicyBuilder().store(store).time(datetime.now(UTC)).build_server_verifier(
            subject)
        verifier.verify(leaf, [])
    other = x509.load_pem_x509_certificate(tls.new_authority().cert_pem)
    with pytest.raises(x509.verification.VerificationError):
        PolicyBuilder().store(Store([other])).build_server_verifier(
            x509.DNSName("coop.office.lan")).verify(leaf, [])
    with pytest.raises(x509.verification.VerificationError):  # a name it was not made for
        PolicyBuilder().store(store).build_server_verifier(
            x509.DNSName("elsewhere.lan")).verify(leaf, [])


def test_a_server_certificate_never_outlives_its_authority() -> None:
    short = tls.new_authority(days=30)
    leaf = _chain(tls.issue_server_cert(short, names=["a"], ips=[], days=825).chain_pem)[0]
    ca = x509.load_pem_x509_certificate(short.cert_pem)
    assert leaf.not_valid_after_utc <= ca.not_valid_after_utc
    start = datetime(2030, 1, 1, tzinfo=UTC)
    leaf = _chain(tls.issue_server_cert(tls.new_authority(now=start), names=["a"], ips=[],
                                        days=10, now=start).chain_pem)[0]
    assert leaf.not_valid_before_utc == start - timedelta(minutes=5)


@pytest.mark.parametrize(("names", "ips", "days"), [
    ([], [], 10), (["a b"], [], 10), (["http://x"], [], 10), (["a"], ["192.168.1.300"], 10),
    (["a"], [], 0)])
def test_refused_requests(authority: tls.Authority, names: list[str], ips: list[str],
                          days: int) -> None:
    with pytest.raises(InvalidInput):
        tls.issue_server_cert(authority, names=names, ips=ips, days=days)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_files_their_modes_and_a_rerun_keeps_the_authority(tmp_path: Path) -> None:
    out = tmp_path / "tls"
    first = tls.write_office_tls(out, names=["coop.office.lan"], ips=["10.0.0.5"])
    assert first.new_ca
    assert _mode(out) == 0o700
    assert _mode(out / "ca-key.pem") == 0o600 and _mode(out / "server-key.pem") == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["ca-key.pem", "ca.pem", "server-key.pem",
                                                     "server.pem"]
    ca_before = (out / "ca.pem").read_bytes()
    ca_key_before = (out / "ca-key.pem").read_bytes()
    server_before = (out / "server.pem").read_bytes()
    if shutil.which("openssl"):
        checked = subprocess.run(["openssl", "verify", "-CAfile", str(out / "ca.pem"),
                                  str(out / "server.pem")], capture_output=True, text=True)
        assert checked.returncode == 0 and ": OK" in checked.stdout, checked.stderr

    second = tls.write_office_tls(out, names=["coop.office.lan"], ips=[])
    assert not second.new_ca
    assert (out / "ca.pem").read_bytes() == ca_before
    assert (out / "ca-key.pem").read_bytes() == ca_key_before
    assert (out / "server.pem").read_bytes() != server_before
    leaf, ca = _chain((out / "server.pem").read_bytes())
    PolicyBuilder().store(Store([ca])).build_server_verifier(
        x509.DNSName("coop.office.lan")).verify(leaf, [])
    assert _mode(out / "server-key.pem") == 0o600

    third = tls.write_office_tls(out, names=["coop.office.lan"], ips=[], new_ca=True)
    assert third.new_ca and (out / "ca.pem").read_bytes() != ca_before
    assert _mode(out / "ca-key.pem") == 0o600


def test_a_refused_request_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        tls.write_office_tls(tmp_path / "tls", names=[], ips=[])
    assert not (tmp_path / "tls").exists()


def test_coop_tls_init_says_how_to_trust_and_serve(tmp_path: Path) -> None:
    out = tmp_path / "tls"
    result = CliRunner().invoke(app, ["tls", "init", "--name", "coop.office.lan", "--ip",
                                      "192.168.1.10", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = result.output
    assert "certutil -addstore -f ROOT ca.pem" in text
    assert "/usr/local/share/ca-certificates/coop-ca.crt" in text and "update-ca-certificates" \
        in text
    assert "certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n coop -i ca.pem" in text
    assert "Android" in text
    assert f"--tls-cert {out / 'server.pem'} --tls-key {out / 'server-key.pem'}" in text
    assert "NEW authority" in text
    again = CliRunner().invoke(app, ["tls", "init", "--name", "coop.office.lan", "--out",
                                     str(out)])
    assert again.exit_code == 0 and "authority was kept" in again.output
    refused = CliRunner().invoke(app, ["tls", "init", "--out", str(tmp_path / "none")])
    assert refused.exit_code == 2 and "--name or --ip" in refused.output


def test_tls_settings_reach_uvicorn(tmp_path: Path) -> None:
    cert, key = tmp_path / "server.pem", tmp_path / "server-key.pem"
    settings = Settings.from_env({"COOP_TLS_CERT": str(cert), "COOP_TLS_KEY": str(key),
                                  "COOP_HTTPS_ONLY": "1"})
    assert settings.tls and settings.https_only
    options = server_options(settings)
    assert options["ssl_certfile"] == str(cert) and options["ssl_keyfile"] == str(key)
    assert "ssl_certfile" not in server_options(Settings())
    assert not Settings.from_env({}).https_only
    assert "is not a file" in (tls_refusal(settings) or "")
    assert "both" in (tls_refusal(Settings(tls_cert=cert)) or "")
    cert.write_text("x")
    key.write_text("x")
    assert tls_refusal(settings) is None


@pytest.mark.parametrize(("host", "loopback"), [
    ("127.0.0.1", True), ("127.8.9.1", True), ("::1", True), ("[::1]", True),
    ("::ffff:127.0.0.1", True), ("localhost", True), ("192.168.1.5", False),
    ("0.0.0.0", False), ("::", False), ("testclient", False), (None, False)])
def test_loopback(host: str | None, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_coop_serve_with_tls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import os

    import uvicorn

    started: list[dict[str, object]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(
        {"app": app, **options}))
    monkeypatch.setenv("COOP_DATABASE_URL", f"sqlite:///{tmp_path / 'coop.db'}")
    monkeypatch.setenv("COOP_DATA_KEY_FILE", str(tmp_path / "no" / "data.key"))
    for name in ("COOP_HTTPS_ONLY", "COOP_TLS_CERT", "COOP_TLS_KEY"):
        monkeypatch.delenv(name, raising=False)
    written = tls.write_office_tls(tmp_path / "tls", names=["localhost"], ips=[])
    before = dict(os.environ)
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--tls-cert",
                                      str(written.cert), "--tls-key", str(written.key)])
    assert result.exit_code == 0, result.output
    assert "coop serving on https://0.0.0.0:8000" in result.output
    options = started[0]
    assert options["ssl_certfile"] == str(written.cert)
    assert options["ssl_keyfile"] == str(written.key)
    assert options["app"].state.coop.settings.https_only  # type: ignore[attr-defined]
    assert dict(os.environ) == before  # nothing leaks into later tests of this process

    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert "only this machine is answered" in result.output
    assert "ssl_certfile" not in started[1]
    monkeypatch.setenv("COOP_HTTPS_ONLY", "0")
    CliRunner().invoke(app, ["serve", "--host", "0.0.0.0"])
    assert not started[2]["app"].state.coop.settings.https_only  # type: ignore[attr-defined]

    refused = CliRunner().invoke(app, ["serve", "--tls-cert", str(written.cert)])
    assert refused.exit_code == 2 and "both" in refused.output
    assert len(started) == 3
