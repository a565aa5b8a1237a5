"""Rows by id as plain values, read the fast way: an export reads a million of them.

One query a chunk, the ids sent as one parameter (a PostgreSQL array, a JSON array on
SQLite) rather than a thousand placeholders the ORM would build and psycopg parse again,
JSON columns decoded by orjson, and no model instances. The values are those the ORM
would give (timestamps timezone-aware, JSON decoded), so records do not depend on how
they were read. Table and column names come from the models' own metadata, quoted;
nothing a user typed reaches the SQL text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
from django.core.exceptions import FieldDoesNotExist
from django.db import connection, models


def fetch(model: type[models.Model], names: tuple[str, ...], ids: list[int]) -> dict[int, dict[str, Any]]:
    """{pk: {name: value}} of `model`'s rows with these ids; `names` are field names
    (a foreign key by its `_id` attribute), "pk" for the primary key."""
    if not ids:
        return {}
    meta = model._meta
    fields = [meta.pk if n == "pk" else _field(meta, n) for n in names]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    decode = [_decoder(f) for f in fields]
    out: dict[int, dict[str, Any]] = {}
    pk = connection.ops.quote_name(meta.pk.column)
    for values in _where_in(f"SELECT {columns} FROM {_table(model)} WHERE", pk, ids):  # noqa: S608
        row = {n: d(v) if d and v is not None else v for n, d, v in zip(names, decode, values, strict=True)}
        out[row["pk"]] = row
    return out


def critic_scores(ids: list[int]) -> dict[int, dict[str, float | None]]:
    """{candidate: {critic: score}}; of several versions of one critic, the latest row."""
    from curation.scoring.models import CriticScore

    out: dict[int, dict[str, float | None]] = {pk: {} for pk in ids}
    if connection.vendor == "postgresql":
        # One JSON object a candidate, not a row a score: a tenth of the rows to fetch. Its
        # floats are PostgreSQL's shortest exact text, so they read back as the same floats;
        # a critic's later row comes later, and orjson keeps the last of a repeated key.
        select = (
            f"SELECT candidate_id, json_object_agg(critic, score ORDER BY id)::text "  # noqa: S608
            f"FROM {_table(CriticScore)} WHERE"
        )
        for cid, scores in _where_in(select, "candidate_id", ids, "GROUP BY candidate_id"):
            out[cid] = dict(orjson.loads(scores))
        return out
    select = f"SELECT candidate_id, critic, score FROM {_table(CriticScore)} WHERE"  # noqa: S608
    for cid, critic, score in _where_in(select, "candidate_id", ids, "ORDER BY candidate_id, critic, id"):
        out[cid][critic] = score
    return out


def reviewer_names(ids: list[int], *, skip: str) -> dict[int, list[str]]:
    """{candidate: the usernames of the experts who decided it (not who skipped), sorted}."""
    from curation.accounts.models import User
    from curation.review.models import Review

    out: dict[int, list[str]] = {pk: [] for pk in ids}
    select = (
        f"SELECT r.candidate_id, u.username FROM {_table(Review)} r "  # noqa: S608
        f"JOIN {_table(User)} u ON u.id = r.reviewer_id WHERE r.decision <> %s AND"
    )
    for cid, name in _where_in(select, "r.candidate_id", ids, "ORDER BY u.username", before=(skip,)):
        out[cid].append(name)
    return out


def adjudicators(ids: list[int]) -> dict[int, str]:
    """{candidate: the username of the admin who adjudicated it}, for those adjudicated."""
    from curation.accounts.models import User
    from curation.review.models import Adjudication

    select = (
        f"SELECT a.candidate_id, u.username FROM {_table(Adjudication)} a "  # noqa: S608
        f"JOIN {_table(User)} u ON u.id = a.by_id WHERE"
    )
    return dict(_where_in(select, "a.candidate_id", ids))


def _where_in(
    select: str, column: str, ids: Sequence[int], rest: str = "", before: tuple = ()
) -> list[tuple]:
    """`select` `column IN ids` `rest`; `before`: parameters of `select` itself."""
    if connection.vendor == "postgresql":
        where, param = f"{column} = ANY(%s)", list(ids)
    else:
        param = orjson.dumps(list(ids)).decode()
        where = f"{column} IN (SELECT value FROM json_each(%s))"  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"{select} {where} {rest}", [*before, param])
        return cursor.fetchall()


def _table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _field(meta, name: str) -> models.Field:
    try:
        return meta.get_field(name)
    except FieldDoesNotExist:
        return meta.get_field(name.removesuffix("_id"))  # a foreign key by its column


def _decoder(field: models.Field):
    if isinstance(field, models.JSONField):
        # PostgreSQL hands jsonb over as text here too (Django registers it so).
        return lambda v: orjson.loads(v) if isinstance(v, str | bytes) else v
    if isinstance(field, models.DateTimeField) and connection.vendor == "sqlite":
        return _sqlite_datetime
    return None


def _sqlite_datetime(value: str | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
