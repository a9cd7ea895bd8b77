"""Run Alembic from code: `diesel migrate`, `diesel demo` and the tests all go through here."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from core.db import prepare_sqlite_file
from core.settings import sync_database_url

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_database_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    prepare_sqlite_file(database_url)
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)
