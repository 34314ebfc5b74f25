"""The face value of a share is the society's to choose, before the first share is issued."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from coop.cli import app
from coop.clock import FixedClock
from coop.db import Database
from coop.errors import InvalidInput
from coop.members import Identity, register_member
from coop.members.vault import Vault
from coop.savings.shares import buy_shares
from coop.society import SharesIssued, require_society, set_share_face_value
from tests.integration.test_cli import fresh_url  # noqa: F401 - the fixture


def test_set_until_the_first_share_then_refused(db: Database, clock: FixedClock) -> None:
    db.write(lambda s: set_share_face_value(s, 100_00))
    assert db.read(require_society).share_face_value_minor == 100_00
    with pytest.raises(InvalidInput):
        db.write(lambda s: set_share_face_value(s, 0))

    def buy(session: Session) -> None:
        asha = register_member(session, identity=Identity(), joined_on=None,
                               vault=Vault(bytes(range(32))), clock=clock).code
        buy_shares(session, asha, count=2, source="cash", face_value_minor=100_00,
                   value_date=clock.today(), actor="test", clock=clock)

    db.write(buy)
    with pytest.raises(SharesIssued):
        db.write(lambda s: set_share_face_value(s, 10_00))
    assert db.read(require_society).share_face_value_minor == 100_00


def test_init_takes_the_face_value(fresh_url: str) -> None:  # noqa: F811
    runner = CliRunner()
    made = runner.invoke(app, ["init", "--share-face-value", "100"])
    assert made.exit_code == 0, made.output
    db = Database(fresh_url, pool_size=1)
    try:
        assert db.read(require_society).share_face_value_minor == 100_00
    finally:
        db.dispose()
    refused = runner.invoke(app, ["init", "--share-face-value", "0"])
    assert refused.exit_code != 0
