"""What the PostgreSQL source and sink share: connection keys, connecting, table names, JSON-friendly values.

Identifiers (tables, columns) are always composed with :mod:`psycopg.sql`, never
formatted into SQL text: a table name comes from an operator's config file and
must not be able to change the statement.
"""

from __future__ import annotations

import base64
import contextlib
import re
import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict
from pydantic import BaseModel, ConfigDict, Field, field_validator

from connectors.config import Secret

DEFAULT_URL: Final = "postgresql://127.0.0.1:5432/test"
CONNECT_TIMEOUT_S: Final = 10
# a qualified name ``schema.table`` or a bare ``table``; each part is quoted as written (case kept)
TABLE_NAME: Final = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}(\.[A-Za-z_][A-Za-z0-9_$]{0,62})?$"
COLUMN_NAME: Final = r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$"


class PostgresConnectionKeys(BaseModel):
    """The Kafka Connect JDBC connection keys (``connection.url``, ``connection.user``, ``connection.password``).

    A mixin for the source and sink config models (which forbid extra keys).
    """

    model_config = ConfigDict(populate_by_name=True, hide_input_in_errors=True, frozen=True)

    connection_url: str = Field(
        alias="connection.url",
        description="postgresql://host:port/database (libpq URI; a jdbc: prefix is accepted and dropped)",
    )
    connection_user: str = Field(default="postgres", alias="connection.user", description="database role")
    connection_password: Secret | None = Field(
        default=None,
        alias="connection.password",
        description="password of connection.user (inline, ${env:NAME} or ${file:/path}); none for trust/peer auth",
    )

    @field_validator("connection_url")
    @classmethod
    def _libpq_uri(cls, url: str) -> str:
        url = url.strip().removeprefix("jdbc:")
        if not re.match(r"^postgres(ql)?://", url):
            raise ValueError("must be a postgresql://host:port/database URI")
        try:
            params = conninfo_to_dict(url)
        except psycopg.ProgrammingError as exc:
            raise ValueError(f"not a valid libpq URI: {exc}") from None
        if "password" in params:
            # the URI is shown by the REST API and the CLI; only connection.password is masked
            raise ValueError("put the password in connection.password (a secret), not in the URL")
        return url


def table_identifier(name: str) -> sql.Identifier:
    """``schema.table`` or ``table`` as a quoted identifier (each part quoted on its own)."""
    return sql.Identifier(*name.split("."))


def valid_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Asia/Shanghai, UTC)") from None
    return name


async def connect(
    keys: PostgresConnectionKeys, *, application_name: str, timezone: str | None = None
) -> psycopg.AsyncConnection[Any]:
    """An autocommit connection; raises :class:`psycopg.OperationalError` when the server cannot be reached.

    Autocommit keeps a reader from sitting idle in an open transaction (holding
    back vacuum); writers open explicit transactions. ``timezone`` fixes the
    session time zone, so ``timestamptz`` values come back with the same offset
    whatever the server's default is (their text, hence event hashes, stay stable).
    """
    params = conninfo_to_dict(keys.connection_url)
    extra: dict[str, Any] = {"user": keys.connection_user, "application_name": application_name[:63]}
    if "connect_timeout" not in params:
        extra["connect_timeout"] = CONNECT_TIMEOUT_S
    if keys.connection_password is not None:
        extra["password"] = keys.connection_password.get_secret_value()
    connection = await psycopg.AsyncConnection.connect(keys.connection_url, autocommit=True, **extra)
    try:
        if timezone is not None:
            await connection.execute("SELECT set_config('TimeZone', %s, false)", [timezone])
    except BaseException:
        await connection.close()
        raise
    return connection


async def close_quietly(connection: psycopg.AsyncConnection[Any] | None) -> None:
    if connection is None:
        return
    with contextlib.suppress(Exception):  # closing a broken connection must not mask why it broke
        await connection.close()


def jsonable(value: Any) -> Any:
    """A column value as a JSON-friendly value: numbers stay numbers, times become ISO 8601 text.

    ``numeric`` becomes its exact decimal text (a float would round), a
    ``timestamptz`` its ISO text with the session's offset, a ``timestamp``
    its ISO text without one (the flat mapper reads that as China time),
    ``bytea`` base64 text. ``json``/``jsonb`` and arrays keep their structure.
    """
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def row_dict(columns: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """One result row as column → JSON-friendly value, in the result's column order."""
    return {column: jsonable(value) for column, value in zip(columns, values, strict=True)}


def row_bytes(row: Mapping[str, Any]) -> bytes:
    """The bytes a dead letter carries for a row: the row as JSON, columns in result order."""
    return orjson.dumps(row, default=str)
