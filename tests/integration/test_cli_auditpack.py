"""`coop audit-pack FY --out pack.zip`: the pack of a closed year, its digests checked as
`sha256sum -c` would; refused with a reason for a file there already (unless --force), a
folder that is not there, a year not begun and a year before the book."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

from typer.testing import CliRunner

from coop.cli import app
from tests.integration.test_cli import fresh_url  # noqa: F401 - the fixture
from tests.integration.test_cli_year_end import _year_of_business

runner = CliRunner()


def test_the_pack_of_a_closed_year_from_the_command_line(
        fresh_url: str, tmp_path: Path) -> None:  # noqa: F811
    assert runner.invoke(app, ["init"]).exit_code == 0
    _year_of_business(fresh_url, tmp_path / "keys" / "data.key")
    assert runner.invoke(app, ["year", "close", "2024"]).exit_code == 0
    out = tmp_path / "pack.zip"
    made = runner.invoke(app, ["audit-pack", "2024", "--out", str(out)])
    assert made.exit_code == 0, made.output
    assert "Auditor's pack of fiscal year 2024 (closed)" in made.output
    pack = zipfile.ZipFile(out)
    for line in pack.read("MANIFEST.txt").decode().splitlines():
        digest, name = line.split("  ", 1)
        assert hashlib.sha256(pack.read(name)).hexdigest() == digest
    first = out.read_bytes()

    again = runner.invoke(app, ["audit-pack", "2024", "--out", str(out)])
    assert again.exit_code == 2 and "exists already: give --force" in again.output
    forced = runner.invoke(app, ["audit-pack", "2024", "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert out.read_bytes() == first  # the same book, the same bytes

    nowhere = runner.invoke(app, ["audit-pack", "2024", "--out",
                                  str(tmp_path / "missing" / "p.zip")])
    assert nowhere.exit_code == 2 and "there is no folder" in nowhere.output
    folder = runner.invoke(app, ["audit-pack", "2024", "--out", str(tmp_path)])
    assert folder.exit_code == 2 and "is a folder" in folder.output

    early = runner.invoke(app, ["audit-pack", "2026", "--out", str(tmp_path / "p.zip")])
    assert early.exit_code != 0 and "fiscal year 2026 has not begun" in str(early.exception)
    before = runner.invoke(app, ["audit-pack", "2019", "--out", str(tmp_path / "p.zip")])
    assert before.exit_code != 0 and "no entries in or before" in str(before.exception)
    assert not (tmp_path / "p.zip").exists()
