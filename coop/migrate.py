"""Run the Alembic migrations from code (for `coop init` and the tests).

The migrations live inside the package (coop/migrations: env.py, script.py.mako and
versions/), found with importlib.resources, so an installed wheel migrates its database as a
checkout does; alembic.ini at the checkout's root (for the `alembic` command while
developing) points at the same folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine


def alembic_config() -> Config:
    config = Config()
    folder = Path(str(files("coop") / "migrations"))  # installed from a wheel: a real folder
    config.set_main_option("script_location", str(folder))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database behind `engine` to `revision` (head by default)."""
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)
