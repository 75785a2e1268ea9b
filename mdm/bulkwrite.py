"""Plain `INSERT ... VALUES` with executemany for the batch import's many new rows.

`bulk_create` spends most of its time building model instances and preparing every value
through the field machinery, row by row. Here each column's conversion is chosen once per
field, rows are tuples, and PostgreSQL's COPY (elsewhere executemany) does the rest.
Field defaults, `auto_now` and `auto_now_add` are applied as the ORM would; ids can be
reserved up front, so callers know every new row's primary key without RETURNING.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import itemgetter

import orjson
from django.conf import settings
from django.db import connection, models, transaction
from django.db.models.functions import Cast
from django.utils import timezone

from mdm.parallel import beside_connection

BATCH_ROWS = 5000
COPY_UPDATE_ROWS = 100  # from this many rows PostgreSQL updates through COPY


def json_dumps(value) -> str:
    """JSON text of a value, as `json.dumps` writes it for the same data, several times faster.

    The batch import writes and reads a few hundred thousand JSON documents per chunk (profiles,
    attributes, provenance); the standard library's encoder and decoder were 14% of the samples
    of a 1M PostgreSQL import at 400,000 records.
    """
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


json_loads = orjson.loads


class JsonText(str):
    """A JSON value already written as text by `json_dumps`, for a JSON column without an
    encoder: `insert_rows` and `update_rows` store it as it is. A forked worker that hands
    back its result as this text spares the process it reports to unpickling every dict of
    it: the provenance of a 200,000-record import's new golden records took 2.2 s to pickle
    and 2.2 s to unpickle as dicts, 1.0 s and 0.5 s as text."""

    __slots__ = ()


def _json_text(value) -> str | None:
    if value is None:
        return None
    return value if type(value) is JsonText else json_dumps(value)


@contextmanager
def queries_unlogged() -> Iterator[None]:
    """Run a bulk load without Django's DEBUG query log.

    With DEBUG on (the laptop default) every statement went through the debug cursor, which
    also rebuilds the SQL with its parameters quoted (on SQLite one more query per statement
    for an IN list of a thousand ids) and keeps the last 9,000 in memory.
    """
    previous = settings.DEBUG
    settings.DEBUG = False
    try:
        yield
    finally:
        settings.DEBUG = previous


@contextmanager
def checkpoints_beside() -> Iterator[Callable[[], None]]:
    """SQLite in WAL mode: a bulk load's checkpoints run in a thread, beside its work.

    A commit that leaves more than 1,000 pages in the write-ahead log copies them into the
    database file there and then, and waits for the disk twice (the log's sync, the file's):
    0.25 s of the commit of a 10,000-record import's one chunk (0.34 s, 0.08 s without), while
    the other core was idle. Inside the block this connection leaves its log alone; calling
    the yielded function (after a commit) starts a PASSIVE checkpoint, which never waits for
    this connection's writes, on a connection of its own in a thread, unless one is still
    running. On the way out the block waits for it and the connection checkpoints as before.
    Elsewhere (PostgreSQL, an in-memory database, inside a transaction) it does nothing.
    """
    active = connection.vendor == "sqlite" and not connection.in_atomic_block
    if active:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            active = cursor.fetchone()[0] == "wal"
    if not active:
        yield lambda: None
        return
    running: list = []

    def checkpoint() -> None:
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")

    def start() -> None:
        if running and not running[0].done():
            return  # this commit's pages wait for the next one, or for the block's end
        running[:] = [beside_connection(checkpoint, True)]

    with connection.cursor() as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        automatic = cursor.fetchone()[0]
        cursor.execute("PRAGMA wal_autocheckpoint=0")
    try:
        yield start
    finally:
        try:
            if running:
                running[0]()
        finally:
            with connection.cursor() as cursor:
                cursor.execute(f"PRAGMA wal_autocheckpoint={int(automatic)}")


def json_text(field_name: str) -> Cast:
    """A JSON column read as its text, for `json_loads` (the ORM would decode it slowly)."""
    return Cast(field_name, output_field=models.TextField())


def id_filter(column: str, ids: list[int]) -> tuple[str, list]:
    """`(sql, params)` of a WHERE condition "`column` is one of `ids`" for a plain cursor.

    PostgreSQL takes the ids as one array parameter (`= ANY(%s)`): with an IN list of 1,000
    placeholders, building and adapting every parameter on the client cost more than the
    query (100,000 stored profiles: 1.77 s, 1.32 s as an array). `column` must come from a
    model, never from input.
    """
    quote = connection.ops.quote_name
    if connection.vendor == "postgresql":
        return f"{quote(column)} = ANY(%s)", [list(ids)]
    return f"{quote(column)} IN ({', '.join(['%s'] * len(ids))})", list(ids)


def _converter(field: models.Field, *, copy: bool = False):
    """A function turning a Python value into what the driver takes for this column, or None
    where the value goes as it is. With `copy`, for PostgreSQL's COPY, which takes every
    value as text: JSON goes as its text, as the `Jsonb` wrapper would have written it, without
    one wrapper object and one call through it per value (a fifth of the client's time on a
    batch import's source records)."""
    ops = connection.ops
    if isinstance(field, models.JSONField):
        encoder = field.encoder
        postgresql = connection.vendor == "postgresql"
        if encoder is None and postgresql and not copy:
            from psycopg.types.json import Jsonb

            def jsonb(value):
                if value is None:
                    return None
                return Jsonb(value, dumps=str if type(value) is JsonText else json_dumps)

            return jsonb
        if encoder is None:
            return _json_text
        if postgresql and copy:
            from django.db.backends.postgresql.operations import get_json_dumps

            dumps = get_json_dumps(encoder)  # what `adapt_json_value` wraps in `Jsonb`
            return lambda value: None if value is None else dumps(value)

        def json_value(value):
            return None if value is None else ops.adapt_json_value(value, encoder)

        return json_value
    if isinstance(field, models.DateTimeField):
        if connection.vendor == "postgresql":
            return None  # taken as it is (`adapt_datetimefield_value` returns it)
        return ops.adapt_datetimefield_value
    if isinstance(field, models.UUIDField) or (
        field.is_relation and isinstance(field.target_field, models.UUIDField)
    ):
        if connection.features.has_native_uuid_field:
            return None
        return lambda value: None if value is None else value.hex
    if isinstance(field, models.DecimalField):
        return lambda value: ops.adapt_decimalfield_value(
            value, field.max_digits, field.decimal_places
        )
    return None


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys for an integer-keyed model, unused by anyone else.

    PostgreSQL draws them from the table's sequence; SQLite serialises writers (the caller is
    inside a write transaction), so the next ids after the current maximum are free.
    """
    if count <= 0:
        return []
    table = model._meta.db_table
    column = model._meta.pk.column
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The sequence named once: inside `nextval` its name was looked up again for
            # every id (0.19 s for 50,000, against 0.02 s). The ids come back as a range
            # unless another session drew some in between, when they come back one by one.
            cursor.execute("SELECT pg_get_serial_sequence(%s, %s)", [table, column])
            sequence = cursor.fetchone()[0]
            cursor.execute(
                "SELECT min(id), max(id), CASE WHEN max(id) - min(id) + 1 = count(*) THEN NULL "
                "ELSE array_agg(id) END FROM (SELECT nextval(%s::regclass) AS id "
                "FROM generate_series(1, %s)) AS drawn",
                [sequence, count],
            )
            low, high, scattered = cursor.fetchone()
            return sorted(scattered) if scattered is not None else list(range(low, high + 1))
        quote = connection.ops.quote_name
        cursor.execute(f"SELECT COALESCE(MAX({quote(column)}), 0) FROM {quote(table)}")  # noqa: S608
        start = cursor.fetchone()[0] + 1
    return list(range(start, start + count))


def insert_rows(model: type[models.Model], rows: list[dict]) -> int:
    """Insert rows given as {field name: value}; omitted fields get their default.

    Every row must name the same fields, the primary key included unless the database is to
    number the rows. Returns the number of rows inserted.
    """
    if not rows:
        return 0
    write_rows(*table_rows(model, rows))
    return len(rows)


def table_rows(model: type[models.Model], rows: list[dict]) -> tuple[str, list[str], list]:
    """`insert_rows`' work short of the database: (table, columns, rows as driver values) for
    `write_rows`, so the Python work can be done while the connection is busy elsewhere."""
    if not rows:
        return model._meta.db_table, [], []
    named = set(rows[0])
    now = timezone.now()
    copy = connection.vendor == "postgresql"  # `write_rows` goes through COPY there
    taken, converted = [], []  # (column, name) read from each row; (position, conversion)
    made = []  # (column, default, conversion): a default worked out for each row
    fixed = []  # (column, value): the same value in every row, converted once
    for field in model._meta.concrete_fields:
        convert = _converter(field, copy=copy) or _same
        if field.name in named or field.attname in named:
            if convert is not _same:
                converted.append((len(taken), convert))
            taken.append((field.column, field.name if field.name in named else field.attname))
        elif getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            fixed.append((field.column, convert(now)))
        elif field.primary_key:
            continue  # the database numbers it
        elif field.has_default() and field.default in (dict, list):
            fixed.append((field.column, convert(field.get_default())))  # empty, never changed
        elif field.has_default() and callable(field.default):
            made.append((field.column, field.get_default, convert))
        else:  # a constant default, "" for text, None for nullable fields
            fixed.append((field.column, convert(field.get_default())))
    read = itemgetter(*[name for _, name in taken]) if taken else (lambda row: ())
    single = len(taken) == 1
    constants = tuple(value for _, value in fixed)

    def values(row: dict) -> tuple:
        found = read(row)
        found = [found] if single else list(found)
        for position, convert in converted:
            found[position] = convert(found[position])
        for _, default, convert in made:
            found.append(convert(default()))
        return (*found, *constants)

    columns = [column for column, _ in taken] + [column for column, *_ in made]
    columns += [column for column, _ in fixed]
    return model._meta.db_table, columns, list(map(values, rows))


def _same(value):
    return value


def write_rows(table: str, columns: list[str], rows, *, exact_json: bool = False) -> None:
    """Append rows (tuples of driver values, in `columns` order) to a table.

    PostgreSQL takes them through COPY, several times faster than one INSERT per row even
    pipelined; elsewhere `executemany` in batches. Table and column names must come from
    models, never from input; every value travels as data.

    `exact_json`: the caller vouches that every value is text, an integer, a boolean or None.
    SQLite then takes each batch as one JSON array, unpacked by `json_each` in C: for narrow
    rows the Python driver's binding of every value was most of the time (the 235,955 key rows
    of a 10,000-record import: 0.58 s through `executemany`, 0.33 s as JSON; a first load
    now sends its keys per record, `keyindex._insert_by_record`). Not for wide
    rows: each column is its own `json_extract`, which parses the row again (a source record's
    ten columns: 0.19 s -> 0.25 s). A batch that will not go as JSON (text with a NUL
    character, which SQLite's JSON functions would cut short) goes through `executemany`.
    """
    if isinstance(rows, list) and not rows:
        return  # (`table_rows` of no rows names no columns either)
    quote = connection.ops.quote_name
    names = ", ".join(quote(column) for column in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {quote(table)} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        marks = ", ".join(["%s"] * len(columns))
        sql = f"INSERT INTO {quote(table)} ({names}) VALUES ({marks})"  # noqa: S608
        unpack = None
        if exact_json and connection.vendor == "sqlite":
            values = ", ".join(f"json_extract(value, '$[{at}]')" for at in range(len(columns)))
            unpack = f"INSERT INTO {quote(table)} ({names}) SELECT {values} FROM json_each(%s)"  # noqa: S608

        def flush(batch: list) -> None:
            if unpack is not None:
                try:
                    document = orjson.dumps(batch)
                except TypeError:  # a value JSON does not carry as the driver would
                    document = None
                if document is not None and b"\\u0000" not in document:
                    cursor.execute(unpack, [document.decode()])
                    return
            cursor.executemany(sql, batch)

        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) >= BATCH_ROWS:
                flush(batch)
                batch = []
        if batch:
            flush(batch)


def update_rows(model: type[models.Model], objects: list, fields: list[str]) -> int:
    """`UPDATE ... SET <fields> WHERE pk = ...` for many model instances with executemany.

    What `bulk_update` does, without the CASE expression per field and row that makes it slow
    for thousands of rows. `auto_now` fields among `fields` are stamped with the current time.
    """
    if not objects:
        return 0
    now = timezone.now()
    meta = model._meta
    chosen = [meta.get_field(name) for name in fields]
    converters = [_converter(field) or _same for field in chosen]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in chosen)
    # Table and column names come from the model; every value is a parameter.
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608
    pk_convert = _converter(meta.pk) or _same
    rows = []
    for obj in objects:
        values = []
        for field, convert in zip(chosen, converters, strict=True):
            if getattr(field, "auto_now", False):
                setattr(obj, field.attname, now)
            values.append(convert(getattr(obj, field.attname)))
        rows.append((*values, pk_convert(obj.pk)))
    if connection.vendor == "postgresql" and len(rows) >= COPY_UPDATE_ROWS:
        _update_through_copy(meta, [field.column for field in chosen], rows)
        return len(rows)
    with connection.cursor() as cursor:
        for start in range(0, len(rows), BATCH_ROWS):
            cursor.executemany(sql, rows[start : start + BATCH_ROWS])
    return len(rows)


def _update_through_copy(meta, columns: list[str], rows: list[tuple]) -> None:
    """PostgreSQL: COPY the new values into a temporary table, then one `UPDATE ... FROM`.

    Through executemany each row was its own statement, its parameters quoted into the SQL on
    the client: 0.1 ms a row, most of an end-of-import survivorship's writes on PostgreSQL.
    The temporary table is made, used and dropped inside one savepoint, so an error leaves
    nothing behind.
    """
    quote = connection.ops.quote_name
    table, key = quote(meta.db_table), quote(meta.pk.column)
    temporary = quote(f"concord_update_{meta.db_table}")
    names = ", ".join(quote(column) for column in [*columns, meta.pk.column])
    assignments = ", ".join(f"{quote(column)} = new.{quote(column)}" for column in columns)
    # Table and column names come from the model; every value travels through COPY.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMPORARY TABLE {temporary} AS SELECT {names} FROM {table} WITH NO DATA"  # noqa: S608
        )
        with (
            connection.wrap_database_errors,
            cursor.cursor.copy(f"COPY {temporary} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        cursor.execute(f"ANALYZE {temporary}")  # else the planner may scan all of `table`
        cursor.execute(
            f"UPDATE {table} SET {assignments} FROM {temporary} AS new "  # noqa: S608
            f"WHERE {table}.{key} = new.{key}"
        )
        cursor.execute(f"DROP TABLE {temporary}")
