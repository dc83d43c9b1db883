"""The database: one engine and one session factory per URL.

The embedded default is a SQLite file shared by the API and worker processes. WAL lets readers
run beside the one writer, and a busy timeout makes a writer wait for the lock instead of failing
at once. Production uses PostgreSQL (`postgresql://` URLs are served by psycopg 3).

Every write transaction in `core.jobs` starts with its write (UPDATE/INSERT), never with a read:
SQLite then takes the write lock at the first statement, so the busy timeout covers it and no
reader-turned-writer deadlock (SQLITE_BUSY without waiting) can happen.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
REPO_ROOT = Path(__file__).resolve().parent.parent


def normalise_url(url: str) -> str:
    """Pick psycopg 3 for plain PostgreSQL URLs (SQLAlchemy would otherwise look for psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url.removeprefix(prefix)
    return url


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


_engines: dict[str, Engine] = {}


def engine_for(url: str) -> Engine:
    """The process's engine for a URL (created once; pooled connections are reused)."""
    url = normalise_url(url)
    engine = _engines.get(url)
    if engine is None:
        engine = _engines[url] = _create_engine(url)
    return engine


def _create_engine(url: str) -> Engine:
    # No overflow cap: connections are already bounded by the threads that use them (the API's
    # thread pool, the worker's slots), and a cap would only make a thread wait for a connection.
    if not is_sqlite(url):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=-1)
    engine = create_engine(
        url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, pool_size=10, max_overflow=-1
    )
    _tune_sqlite(engine)
    return engine


def _tune_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin (SQLAlchemy's
        # documented recipe); otherwise sqlite3 opens them lazily at the first DML statement.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # NORMAL in WAL mode: a commit survives a crash of any process, not a power cut.
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(engine_for(url), expire_on_commit=False)


def dispose_all() -> None:
    """Close every pooled connection of this process (at shutdown, and in tests)."""
    for engine in _engines.values():
        engine.dispose()
    _engines.clear()


def migrate(url: str) -> None:
    """Upgrade the database to the current schema (Alembic `upgrade head`); idempotent."""
    from alembic import command
    from alembic.config import Config

    config = Config(str(REPO_ROOT / "alembic.ini"))
    config.set_main_option("sqlalchemy.url", normalise_url(url).replace("%", "%%"))
    # The caller (jaula up, a test) owns logging; Alembic's file config would replace it.
    config.attributes["configure_logging"] = False
    command.upgrade(config, "head")
