"""`coop reindex` and the index built at `coop init`: an upgraded book has members and no
index rows (a migration cannot read the key); the commands fill them from the vault."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from sqlalchemy import delete, func, select
from typer.testing import CliRunner

from coop.cli import app
from coop.clock import FixedClock
from coop.db import Database
from coop.members import Identity, Reader, register_member
from coop.members.blind import SearchIndexRow
from coop.members.search import find_members
from coop.members.vault import Vault
from tests.integration.test_cli import fresh_url  # noqa: F401  (fixture)

runner = CliRunner()
CLOCK = FixedClock(date(2025, 6, 30))


def test_init_and_reindex_build_the_missing_index_rows(fresh_url: str) -> None:  # noqa: F811
    assert runner.invoke(app, ["init"]).exit_code == 0
    keys = Vault.from_file(Path(os.environ["COOP_DATA_KEY_FILE"]))
    db = Database(fresh_url, pool_size=2)
    try:
        code = db.write(lambda s: register_member(
            s, identity=Identity(known_as="ಲಕ್ಷ್ಮಿ ದೇವಿ", phone="98450 12345"),
            joined_on=None, vault=keys, clock=CLOCK)).code
        db.write(lambda s: register_member(s, identity=Identity(), joined_on=None,
                                           vault=keys, clock=CLOCK))

        def rows() -> int:
            return int(db.read(lambda s: s.scalar(
                select(func.count()).select_from(SearchIndexRow))))

        assert rows() == 3
        db.write(lambda s: s.execute(delete(SearchIndexRow)))  # as after the upgrade
        again = runner.invoke(app, ["init"])
        assert again.exit_code == 0 and "Indexed 1 members" in again.output, again.output
        assert rows() == 3
        db.write(lambda s: s.execute(delete(SearchIndexRow)))
        missing = runner.invoke(app, ["reindex", "--missing"])
        assert missing.exit_code == 0 and "Indexed 1 members" in missing.output
        assert runner.invoke(app, ["reindex", "--missing"]).output.startswith("Indexed 0")
        whole = runner.invoke(app, ["reindex"])
        assert whole.exit_code == 0 and "Indexed 1 members" in whole.output
        found = db.write(lambda s: find_members(
            s, "ದೇವಿ", vault=keys, reader=Reader("t", "clerk", "test"), clock=CLOCK))
        assert [m.code for m in found.matches] == [code]
    finally:
        db.dispose()
