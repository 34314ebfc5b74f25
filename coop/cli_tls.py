"""`coop tls init`: the office's own certificate authority and the server's certificate
(coop.tls), and in plain words how each counter PC trusts the authority once and how to
serve with it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from coop import tls
from coop.errors import CoopError

tls_app = typer.Typer(help="HTTPS on the office network.", no_args_is_help=True)
err = Console(stderr=True)


@tls_app.callback()
def _tls() -> None:
    """HTTPS on the office network: a local certificate authority and the server's
    certificate."""


def trust_instructions(written: tls.Written, *, names: list[str], ips: list[str]) -> str:
    """What to do next, in plain words (English: the CLI's language)."""
    host = names[0] if names else ips[0]
    ca = written.ca
    first = ("This is a NEW authority: every counter PC must trust it (again)."
             if written.new_ca else
             "The authority was kept: counter PCs that trust it already need nothing new.")
    return f"""\
Certificates written to {written.directory}
  {tls.CA_FILE}          the office's authority: copy this file to each counter PC
  {tls.CA_KEY_FILE}      its private key: never copy it anywhere; back it up offline
  {tls.SERVER_FILE}      the server's certificate (with the authority's)
  {tls.SERVER_KEY_FILE}  the server's private key

{first}

Trust {tls.CA_FILE} once on each counter PC (copy it there on a USB stick):
  Windows:
    in a Command Prompt opened "as administrator":
      certutil -addstore -f ROOT ca.pem
    or rename it ca.crt, double-click it, "Install Certificate...",
    "Local Machine", "Place all certificates in the following store",
    "Trusted Root Certification Authorities", Finish.
    Chrome and Edge use that store; so does Firefox once
    security.enterprise_roots.enabled is true in about:config.
  Debian/Ubuntu:
      sudo cp ca.pem /usr/local/share/ca-certificates/coop-ca.crt
      sudo update-ca-certificates
  Firefox and Chromium on Linux keep their own list (NSS database):
      certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n coop -i ca.pem
    (certutil is in the package libnss3-tools; for Firefox give its
    profile folder instead, or import the file in Firefox's Settings,
    Privacy & Security, View Certificates, Authorities, Import.)
  Android:
    copy ca.pem to the phone, then Settings, Security, Encryption &
    credentials, Install a certificate, CA certificate.

Then serve with it (the counters open https://{host}:8443/counter/):
  coop serve --host 0.0.0.0 --port 8443 \\
    --tls-cert {written.cert} --tls-key {written.key}
(or set COOP_TLS_CERT and COOP_TLS_KEY). A PC that does not trust
{ca.name} shows a warning: do not click through it; trust the file as above.
"""


@tls_app.command("init")
def init_command(
    name: Annotated[list[str] | None, typer.Option(
        "--name", help="A DNS name of the server, e.g. coop.office.lan (repeat for more).")]
    = None,
    ip: Annotated[list[str] | None, typer.Option(
        "--ip", help="An IP address of the server, e.g. 192.168.1.10 (repeat for more).")]
    = None,
    out_dir: Annotated[Path, typer.Option(
        "--out", help="Where the files go (made with mode 0700).")] = tls.DEFAULT_DIR,
    days: Annotated[int, typer.Option(
        min=1, max=3650, help="How long the server certificate is valid.")] = tls.SERVER_DAYS,
    new_ca: Annotated[bool, typer.Option(
        "--new-ca", help="Replace the authority too (every counter must trust it again).")]
    = False,
) -> None:
    """Make the office's certificate authority (kept if it exists) and a new server
    certificate for these names and addresses."""
    names, ips = list(name or []), list(ip or [])
    try:
        written = tls.write_office_tls(out_dir, names=names, ips=ips, days=days,
                                       new_ca=new_ca)
    except CoopError as exc:
        err.print(f"[red]refused[/]: {exc.detail}")
        raise typer.Exit(2) from exc
    typer.echo(trust_instructions(written, names=names, ips=ips))
