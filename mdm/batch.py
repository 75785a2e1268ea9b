"""Batch ingest for initial loads and migrations: the same decisions as `mdm.ingest`, in bulk.

New records of a chunk are matched in memory against each other (in file order, exactly as
record-by-record ingest would see them) and, through the stored blocking keys, against the
records already in the database. Rows are then written with a handful of bulk inserts per chunk
instead of ~30 queries per record. Records that already exist (an update) go through the
real-time path, one by one, so their merge and suppression rules stay in one place.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

import numpy as np
from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from mdm.bulkwrite import (
    JsonText,
    id_filter,
    insert_rows,
    json_dumps,
    json_loads,
    reserve_ids,
    table_rows,
    write_rows,
)
from mdm.candidates import chunk_candidates, retrieval_positions
from mdm.ingest import IngestAction, ingest_record
from mdm.keyindex import (
    RunKeys,
    build_postings_index,
    insert_keys,
    key_hashes,
    postings_index_deferred,
)
from mdm.matching import blocking
from mdm.matching.matcher import comparisons_for, golden_systems, profile_and_keys, weights_for
from mdm.matching.profile import retrieval_mask
from mdm.matching.scoring import (
    Scorer,
    _term_weight,
    in_comparison_order,
    probability_of,
    product_levels,
    system_line,
    system_shift,
    system_shifts,
    with_systems,
)
from mdm.matching.vectorised import Columns, customer_pairs_above, patterns_of
from mdm.merge import merge
from mdm.models import (
    BlockingKey,
    BlockingLock,
    Entity,
    HistoryAction,
    HistoryEntry,
    MatchSettings,
    PendingSurvivorship,
    Provenance,
    ReviewStatus,
    ReviewTask,
    SourceRecord,
    golden_model,
)
from mdm.parallel import (
    StatementsBeside,
    ahead,
    beside_connection,
    collector_paused,
    fork_map,
    shared,
    statements_beside,
    worker_count,
)
from mdm.records import aware_utc, fingerprint
from mdm.survivorship import (
    apply_survivorship_many,
    provenance_map,
    survive,
    survivorship_inputs,
    survivorship_outcome,
    survivorship_overrides,
    write_survivorship,
)


@dataclass
class BatchItem:
    system: str
    external_id: str
    attributes: dict
    modified: object = None
    prepared: tuple[dict, list[str]] | None = None  # (profile, keys) if already computed
    digest: str | None = None  # the attributes' fingerprint if already computed


@dataclass(slots=True)
class _NewRecord:
    """A source record written by this batch, as survivorship reads it (a model instance
    costs more to build than everything survivorship then does with it)."""

    id: int
    system: str
    external_id: str
    attributes: dict
    profile: dict
    fingerprint: str
    source_modified_at: object
    updated_at: object
    golden_id: object


@dataclass
class BulkPlan:
    """What `bulk_ingest` works out for a batch before it needs the weights or a transaction:
    which items are new, updated or unchanged, and the new ones' candidates (`plan_bulk`)."""

    items: list[BatchItem]
    fresh: list[tuple[BatchItem, str]]  # (item, fingerprint)
    updates: list[BatchItem]
    unchanged: int
    matching: _Matching | None  # the new items' keys and candidates
    marks: tuple[int, int] | None  # the newest source record and key row ids it saw
    columns: Columns | None = None  # of the items' profiles (or more), made already


@dataclass
class _Matching:
    """The new items' profiles, keys and candidates (`_match_fresh`)."""

    prepared: list[tuple]  # (item, fingerprint, profile, keys)
    population: int
    counts_of: list[dict[str, int]]  # each item's term-frequency counts
    candidates: list[list[int]]
    key_hashes: np.ndarray  # every key of every item, in order
    key_counts: np.ndarray  # how many keys each item has
    retrievable: np.ndarray

    def found(self) -> tuple:
        """All but `prepared` (what a process that found them sends back)."""
        return (
            self.population,
            self.counts_of,
            self.candidates,
            self.key_hashes,
            self.key_counts,
            self.retrievable,
        )


def _marks() -> tuple[int, int]:
    """The newest source record id and key row id: unchanged, nothing was written since."""
    top = SourceRecord.objects.aggregate(top=Max("id"))["top"] or 0
    return top, RunKeys.current_mark()


def plan_bulk(
    entity: str,
    items: list[BatchItem],
    run: RunKeys,
    *,
    match: bool = True,
    columns: Columns | None = None,
) -> BulkPlan:
    """`bulk_ingest`'s work that needs neither weights nor a transaction, done ahead: while
    the weights are estimated from the same file, for one. `bulk_ingest` takes the plan if
    no source record or key was written since; the candidates (`match`) only if that still
    holds once its transaction has locked out other writers (else it finds them again there).
    `columns`: the `vectorised.Columns` of the items' profiles (of more of them too), if made
    already: the comparisons use them.
    """
    return start_plan(entity, items, run, match=match, columns=columns, beside=False)()


def start_plan(
    entity: str,
    items: list[BatchItem],
    run: RunKeys,
    *,
    match: bool = True,
    columns: Columns | None = None,
    beside: bool = True,
) -> Callable[[], BulkPlan]:
    """`plan_bulk` begun now; the function returned finishes it. Its database reads are made
    here. The candidates of a first load (for which they need no database) are found in a
    forked process, `beside` this one, which goes on meanwhile (the weights' estimate, for a
    file of one chunk: 0.3-0.5 s of its own work at 10,000 records), and are taken when the
    plan is finished; else when it is finished, in this process."""
    marks = _marks() if match else None  # only candidates need checking later
    known = _known_fingerprints(entity, items)
    fresh, updates, unchanged = [], [], 0
    seen = set()
    for item in items:
        identity = (item.system, str(item.external_id))
        digest = item.digest or fingerprint(item.attributes)
        if identity in seen:
            updates.append(item)  # a second row for the same record in one file: in order
            continue
        seen.add(identity)
        if identity in known:
            if known[identity] == digest:
                unchanged += 1
            else:
                updates.append(item)
        else:
            fresh.append((item, digest))

    def finish(matching: _Matching | None) -> BulkPlan:
        return BulkPlan(items, fresh, updates, unchanged, matching, marks, columns)

    remote = (
        beside
        and fresh
        and match
        and not run.stored_before
        and worker_count() >= 2
        and all(item.prepared for item, _ in fresh)
    )
    if not remote:
        return lambda: finish(_match_fresh(entity, fresh, run) if fresh and match else None)
    found = ahead(lambda: [_match_fresh(entity, fresh, run).found()], depth=1, nice=0)

    def take() -> BulkPlan:
        try:
            parts = next(found)
        finally:
            found.close()
        prepared = [(item, digest, *item.prepared) for item, digest in fresh]
        return finish(_Matching(prepared, *parts))

    return take


def bulk_ingest(
    entity: str,
    items: list[BatchItem],
    settings: MatchSettings | None = None,
    run: RunKeys | None = None,
    pending: set | None = None,
    plan: BulkPlan | None = None,
    *,
    last: bool = False,
):
    """Ingest many records; returns a Counter of IngestAction values.

    An import of many chunks passes the same `run` to every call: it remembers the keys of
    the records written so far, so later chunks find them without asking the database.
    With a `pending` set (the same for every chunk), the survivorship of golden records of
    earlier chunks that gain records is left for `finish_survivorship`: they are added to the
    set and recorded in `PendingSurvivorship`. Without it, it runs in the chunk. A caller that
    passes its own `run` calls `run.statistics_refreshed()` once its last chunk is in (on
    PostgreSQL a refresh of the planner statistics may still be running beside it).
    `plan`: `plan_bulk`'s for these very items and this `run`, made earlier. `last`: the
    load's last chunk, with no read-ahead process beside it: it writes its keys while its
    pairs are compared, and builds the postings index the load deferred (`keyindex`) in its
    transaction on SQLite, while survivorship runs (after it, one core was idle for 0.2 s of
    a 10,000-record load); on PostgreSQL the caller builds it after the commit.
    """
    settings = settings or MatchSettings.for_entity(entity)
    ongoing = run is not None  # an import of several chunks, which waits for what it starts
    run = run or RunKeys(entity)
    if plan is not None and plan.items is not items:
        raise ValueError("the plan was made for other items")
    if plan is None or plan.marks != _marks():
        plan = plan_bulk(entity, items, run, match=False)  # or records were written since
    outcomes: Counter = Counter()
    if plan.unchanged:
        outcomes[IngestAction.UNCHANGED] += plan.unchanged
    fresh, updates = plan.fresh, plan.updates
    if fresh:
        with collector_paused(), transaction.atomic():
            counted, written, mark, due = _ingest_fresh(entity, plan, settings, run, pending, last)
        run.add_hashed(*written)  # committed: later chunks may find these records
        if pending is not None:
            pending.update(due)  # committed too: their rows are in `PendingSurvivorship`
        run.mark(mark)
        outcomes.update(counted)
        if run.population >= 2 * run.analyzed:
            # Each time the entity's records have doubled: the planner scales what it knows
            # by the tables' sizes, so growth alone does not mislead it, and on PostgreSQL at
            # a million records the ANALYZE of the four tables took 5-6 s of every chunk.
            # On PostgreSQL it runs on a connection of its own while the next chunk is matched
            # (the planner keeps the figures of half the records meanwhile); the import waits
            # for it before the next one and at its end (`RunKeys.statistics_refreshed`).
            run.statistics_refreshed()
            beside = (
                ongoing and connection.vendor == "postgresql" and not connection.in_atomic_block
            )
            refresh = beside_connection(partial(refresh_statistics, entity), beside)
            if beside:
                run.analysing = refresh
            else:
                refresh()
            run.analyzed = run.population
    if updates:
        build_postings_index()  # the real-time path looks keys up in the table
    for item in updates:
        result = ingest_record(
            entity, item.system, item.external_id, item.attributes, item.modified, settings=settings
        )
        outcomes[result.action] += 1
    if updates:
        run.catch_up()  # their new keys went to the table only
    return outcomes


def refresh_statistics(entity: str, *, vacuum: bool = False) -> None:
    """Let the database's planner see the rows a bulk load just added.

    Without fresh statistics (autovacuum may be off, and lags a bulk load anyway) the planner
    takes the blocking-key table for a small one and answers every key lookup by scanning all
    of it: the second 50,000 rows of an import then took minutes instead of seconds. `vacuum`
    also marks the pages all-visible, so lookups read the index alone; it cannot run inside a
    transaction and is skipped there.
    """
    if connection.vendor == "sqlite":
        # Sampled statistics (a fraction of a second even at 1,000,000 records): without any,
        # SQLite picks indexes by the number of equality terms alone.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA analysis_limit=1000")
            cursor.execute("ANALYZE")
        return
    if connection.vendor != "postgresql":
        return
    model = golden_model(entity)
    tables = [m._meta.db_table for m in (BlockingKey, SourceRecord, model)]
    quote = connection.ops.quote_name
    command = "VACUUM (ANALYZE)" if vacuum and not connection.in_atomic_block else "ANALYZE"
    with connection.cursor() as cursor:
        for table in tables:  # table names come from the models, not from input
            cursor.execute(f"{command} {quote(table)}")
        # Provenance's key columns too (not its JSON, which is dear to sample): without them the
        # survivorship of the golden records a later chunk adds to read provenance through the
        # entity alone, every row, instead of by golden id: 158 ms instead of 6 ms a query.
        table = quote(Provenance._meta.db_table)
        cursor.execute(f"ANALYZE {table} ({quote('entity')}, {quote('golden_id')})")


def finish_survivorship(entity: str, progress=None, *, slice_size: int = 5_000) -> int:
    """Recompute the golden records `PendingSurvivorship` names for `entity` (left there by a
    batch import, or by one cut off), with `progress(done, total)` as they are written; then
    remove the rows it read. Returns how many it recomputed.

    A pipeline of slices of `slice_size`: a forked worker works out one slice's values while
    this process writes the slice before it (a transaction each) and reads the one after.
    Cut off half-way, it leaves every row for the next call, which recomputes them all again
    (the same values). Rows named while it runs (another import) stay for that import."""
    model = golden_model(entity)
    rows = PendingSurvivorship.objects.filter(entity=entity)
    last = rows.order_by("-pk").values_list("pk", flat=True).first()
    if last is None:
        return 0
    due = sorted(set(rows.filter(pk__lte=last).values_list("golden_id", flat=True)), key=str)
    overrides = survivorship_overrides(entity)
    slices = [due[start : start + slice_size] for start in range(0, len(due), slice_size)]
    state = {"read": survivorship_inputs(model, slices[0]), "done": 0}

    def write(inputs, outcomes, asked: int) -> None:
        with transaction.atomic():
            write_survivorship(model, inputs, outcomes, reason="batch import")
        state["done"] += asked  # tombstones among them have nothing to write
        if progress:
            progress(state["done"], len(due))

    # The next slice is read beside the writes of the one before (they took turns on one
    # connection, the machine 70% busy), where another connection sees the same rows.
    beside = connection.vendor == "postgresql" and not connection.in_atomic_block
    written = None
    for current, following in zip(slices, [*slices[1:], None], strict=True):
        inputs = state["read"]

        def meanwhile(previous=written, following=following) -> None:
            reading = following and beside_connection(
                partial(survivorship_inputs, model, following), beside
            )
            if previous is not None:
                write(*previous)
            state["read"] = reading and reading()

        outcomes = fork_map(
            _survivorship_outcome,
            range(len(inputs.goldens)),
            data={"inputs": inputs, "overrides": overrides},
            meanwhile=meanwhile,
        )
        written = (inputs, outcomes, len(current))
    write(*written)
    rows.filter(pk__lte=last).delete()
    return len(due)


def _survivorship_outcome(index: int) -> tuple:
    data = shared()
    inputs = data["inputs"]
    return survivorship_outcome(inputs.goldens[index], inputs, data["overrides"])


def _known_fingerprints(entity: str, items: list[BatchItem]) -> dict:
    by_system = defaultdict(list)
    for item in items:
        by_system[item.system].append(str(item.external_id))
    known = {}
    for system, ids in by_system.items():
        for start in range(0, len(ids), 500):
            rows = SourceRecord.objects.filter(
                entity=entity, system=system, external_id__in=ids[start : start + 500]
            ).values_list("external_id", "fingerprint")
            known.update({(system, external_id): digest for external_id, digest in rows})
    return known


def _chunks(values: list, size: int = 500):
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _frequency(counts: dict[str, int], population: int):
    """The term-frequency lookup of one record: its keys' counts over the population."""

    def frequency(field_name: str, value: str) -> tuple[int, int] | None:
        return (counts.get(f"tf.{field_name}:{value}"[:120], 0), population) if value else None

    return frequency


def _product_candidates(index: int) -> list[tuple]:
    """(other id, probability, levels, identical SKU) for each candidate of product `index`.

    Runs in a worker process for large batches: reads only what `fork_map` shared.
    """
    data = shared()
    profiles, stored = data["profiles"], data["stored"]
    profile = profiles[index]
    in_order = data["in_order"]  # levels dict -> the pattern tuple, in comparison order
    frequency = _frequency(data["counts_of"][index], data["population"])
    results = []
    scorer = data["scorer"]
    parsed = data["parsed"]  # this process's stored profiles, parsed when first compared
    for other_id in data["candidates"][index]:
        if other_id > 0:
            other = parsed.get(other_id)
            if other is None:
                other = parsed[other_id] = json_loads(stored[other_id][0])
        else:
            other = profiles[-other_id - 1]
        levels = product_levels(profile, other)
        identical = bool(profile.get("sku")) and profile["sku"] == other.get("sku")
        probability = 1.0 if identical else scorer.probability(levels, profile, frequency)
        results.append((other_id, probability, in_order(levels), identical))
    return results


def _score_slice(indexes: range) -> list[list[tuple]]:
    """(other id, probability, level pattern, identical SKU) for each candidate of each of the
    consecutive records `indexes` (in a worker process for large batches: reads only what
    `fork_map` shared).

    Customers are compared as arrays (`vectorised.customer_pairs_above`: the pairs that cannot
    reach the review threshold are left out, as no decision looks at them; 9,553 of the
    101,323 pairs of a 10,000-record file reach it). The worker's `Columns` hold the batch's
    profiles, made when first needed, and the stored candidates it has met, appended as they
    are met (each parsed once).
    """
    data = shared()
    if data["entity"] != Entity.CUSTOMER:
        return [_product_candidates(index) for index in indexes]
    profiles, candidates, stored = data["profiles"], data["candidates"], data["stored"]
    columns, placed = data.get("columns"), data["placed"]  # stored id: position in columns
    if columns is None:
        columns = data["columns"] = Columns(profiles)
    meeting = [candidates[index] for index in indexes]
    unseen = sorted({other for chosen in meeting for other in chosen if other > 0} - placed.keys())
    if unseen:
        placed.update((other_id, len(columns.profiles) + at) for at, other_id in enumerate(unseen))
        columns.add([json_loads(stored[other_id][0]) for other_id in unseen])
    counts = np.fromiter(map(len, meeting), np.int64, len(meeting))
    left = np.repeat(np.asarray(indexes, dtype=np.int64), counts)
    others = [other for chosen in meeting for other in chosen]
    right = np.fromiter(
        (-other - 1 if other < 0 else placed[other] for other in others), np.int64, len(others)
    )
    scorer, population = data["scorer"], data["population"]
    term_weights = {}  # each pair's left record's weight of full agreement (`Scorer.log_odds`)
    for name, _table, m_exact, u_exact, field in scorer.fields:
        if field:
            own = []
            for index in indexes:
                value = profiles[index][field]  # `_frequency` gives None for no value
                counted = _frequency(data["counts_of"][index], population)(field, value)
                weight = _term_weight(m_exact, u_exact, counted)
                own.append(math.nan if weight is None else weight)
            term_weights[name] = np.repeat(np.asarray(own, dtype=np.float64), counts)
    at, totals, codes = customer_pairs_above(
        columns, left, right, scorer, data["floor"], term_weights
    )
    results: list[list[tuple]] = [[] for _ in indexes]
    owners = (left[at] - (indexes[0] if len(indexes) else 0)).tolist()
    patterns = patterns_of(codes, len(scorer.fields))
    found = zip(owners, at.tolist(), totals.tolist(), patterns, strict=True)
    for owner, pair, total, pattern in found:
        results[owner].append((others[pair], probability_of(total), pattern, False))
    return results


def _stored_counts(entity: str, keys: Iterable[str], run: RunKeys) -> dict[str, int]:
    """How many records stored before the run hold each key (the run counts its own). `keys`
    are only read (and made distinct) when something was stored before."""
    if not run.stored_before:
        return {}
    counts: dict[str, int] = {}
    for chunk in _chunks(sorted(set(keys))):
        counts.update(blocking.key_counts(entity, chunk, upto_record=run.base_id))
    return counts


def _existing_postings(entity: str, wanted: Iterable[str], run: RunKeys) -> tuple:
    """Postings stored before the run of the keys the batch will search: (key hashes, record
    ids), each key's in the order the database gives them (see `chunk_candidates`). `wanted`
    is only read (and made distinct) when something was stored before."""
    keys: list[str] = []
    ids: list[int] = []
    if run.stored_before:
        for chunk in _chunks(sorted(set(wanted))):
            rows = BlockingKey.objects.filter(
                entity=entity, key__in=chunk, source_record_id__lte=run.base_id
            ).values_list("key", "source_record_id")
            for key, record_id in rows:
                keys.append(key)
                ids.append(record_id)
    return key_hashes(keys), np.asarray(ids, dtype=np.int64)


def _stored_records(candidates: list[list[int]], golden_field: str) -> tuple[dict, set]:
    """The stored records among the candidates that belong to a golden record: id -> (profile
    as JSON text, golden id), and the chosen ids that are not among them. Only those chosen are
    read (a posting list reaches many more), as profiles are the dearest thing to load.

    The profiles stay text until a comparison needs one (`_score_candidates`): parsed here,
    they were this process's work alone, and the forked workers that compare them copied the
    pages of every dict and string they read (objects this process made; reading one writes
    its reference count). A text is one object to each worker.

    A plain cursor, a thousand ids a query: through the ORM (a queryset, a row iterator and
    field converters per row) this was a sixth of a 1M SQLite import at 550,000 records.
    """
    wanted = {other_id for chosen in candidates for other_id in chosen if other_id > 0}
    ordered = sorted(wanted)
    half = len(ordered) // 2
    # On PostgreSQL the second half is read on a connection of its own, beside the first: the
    # server serves each on a core of its own (one connection left one core idle for 40 s of
    # a 1M import). Only where the chunk's transaction is the only one open: it has written
    # nothing yet, so the other connection sees every row this one does.
    beside = connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1
    reading = beside_connection(partial(_read_profiles, ordered[half:], golden_field), beside)
    stored = _read_profiles(ordered[:half], golden_field)
    stored.update(reading())
    return stored, wanted.difference(stored)


def _read_profiles(ids: list[int], golden_field: str) -> dict:
    """id -> (profile as JSON text, golden id) of the records among `ids` that have a golden
    record (see `_stored_records`)."""
    stored = {}
    column = SourceRecord._meta.get_field(golden_field).column
    quote = connection.ops.quote_name
    native = connection.features.has_native_uuid_field
    with connection.cursor() as cursor:
        for chunk in _chunks(ids, 1000):
            condition, params = id_filter("id", chunk)
            cursor.execute(
                f"SELECT {quote('id')}, CAST({quote('profile')} AS text), {quote(column)} "  # noqa: S608
                f"FROM {quote(SourceRecord._meta.db_table)} "
                f"WHERE {condition} AND {quote(column)} IS NOT NULL",
                params,
            )  # the names come from the model, the ids are parameters
            for record_id, profile, golden_id in cursor.fetchall():
                if not native:
                    golden_id = uuid.UUID(golden_id)
                stored[record_id] = (profile, golden_id)
    return stored


def _key_totals(entity: str, flat: list[str], hashes: np.ndarray, run: RunKeys) -> np.ndarray:
    """How many records hold each of the chunk's keys (`flat`, and their `hashes`): the stored
    records, the run's earlier chunks (in memory) and this whole chunk."""
    unique, inverse, in_chunk = np.unique(hashes, return_inverse=True, return_counts=True)
    totals = (in_chunk + run.counts(unique))[inverse]  # looked up once each, in order
    stored = _stored_counts(entity, flat, run)
    if stored:
        totals = totals + np.fromiter((stored.get(key, 0) for key in flat), np.int64, len(flat))
    return totals


def _match_fresh(entity: str, fresh: list, run: RunKeys) -> _Matching:
    """The profiles, keys, term frequencies and candidates of new records (see `_Matching`)."""
    prepared = []
    for item, digest in fresh:
        profile, keys = item.prepared or profile_and_keys(entity, item.attributes)
        prepared.append((item, digest, profile, keys))
    population = max(run.population + len(prepared), 1)
    # Every key of the chunk, record after record, with how many records hold it.
    flat = [key for _, _, _, keys in prepared for key in keys]
    held = (key_hashes(flat), np.fromiter((len(keys) for *_, keys in prepared), dtype=np.int64))
    totals = _key_totals(entity, flat, held[0], run)
    retrievable = retrieval_mask(flat)
    # The term frequencies scoring reads: each record's {"tf." key: count}.
    counts_of: list[dict[str, int]] = [{} for _ in prepared]
    owner = np.repeat(np.arange(len(prepared)), held[1])
    term = np.flatnonzero(~retrievable)
    terms = zip(term.tolist(), owner[term].tolist(), totals[term].tolist(), strict=True)
    for at, record, total in terms:
        counts_of[record][flat[at]] = total
    # Each record meets the stored records, the run's earlier chunks' and the batch's earlier
    # records (negative ids) through its keys, exactly as record-by-record ingest would.
    looked_up = retrieval_positions(retrievable, totals, owner)
    wanted = (flat[at] for at in looked_up.tolist())
    candidates = chunk_candidates(
        (owner[looked_up], held[0][looked_up]),
        held,
        _existing_postings(entity, wanted, run),
        run.postings(),
    )
    return _Matching(prepared, population, counts_of, candidates, *held, retrievable)


def _ingest_fresh(
    entity: str,
    plan: BulkPlan,
    settings: MatchSettings,
    run: RunKeys,
    pending: set | None,
    last: bool = False,
) -> tuple:
    """`_write_fresh`, with the chunk's key rows written beside its other work: the last
    chunk's, and on PostgreSQL every chunk's, whose server takes them on a core of its own
    while the workers compare (200,000 records: 93.9 and 94.0 s against 95.6 and 99.5 s, two
    runs each). Earlier chunks on SQLite write theirs after the records, beside survivorship
    (see `_write_fresh`)."""
    keys_first = last or connection.vendor == "postgresql"
    with statements_beside(enabled=keys_first) as beside:
        return _write_fresh(beside, entity, plan, settings, run, pending, last, keys_first)


def _write_fresh(
    beside: StatementsBeside,
    entity: str,
    plan: BulkPlan,
    settings: MatchSettings,
    run: RunKeys,
    pending: set | None,
    last: bool,
    keys_first: bool,
) -> tuple:
    """Match and write the plan's new records; returns (outcomes, the written keys as
    `RunKeys.add_hashed` takes them, newest key row id, golden ids newly due for
    survivorship). With `pending`, golden records of earlier chunks that gained records are
    recorded as due (see `bulk_ingest`) instead of recomputed; the caller adds them to the
    set once the chunk has committed, so that it never names a record whose row was rolled
    back. `last`: see `bulk_ingest`."""
    model = golden_model(entity)
    golden_field = "customer" if entity == Entity.CUSTOMER else "product"
    comparisons, weights = comparisons_for(entity), weights_for(settings)
    scorer = Scorer(weights, comparisons)
    shifts = system_shifts(weights)
    households = bool(weights.get("households"))
    if connection.vendor == "postgresql":
        # Real-time ingests lock the rows of their keys (creating missing rows first, outside
        # their transaction); a chunk touches most keys there are, so it takes the whole table:
        # ingests wait for the chunk to commit, as every writer does on SQLite. Locking half a
        # million key rows one by one cost more than matching the chunk.
        with connection.cursor() as cursor:
            table = connection.ops.quote_name(BlockingLock._meta.db_table)
            cursor.execute(f"LOCK TABLE {table} IN EXCLUSIVE MODE")  # a model's table name
    run.catch_up()  # a real-time ingest may have come in between two chunks

    # 1. Candidates: worked out ahead if nothing was written since (now that nobody else can).
    matching = plan.matching
    if matching is None or plan.marks != _marks():
        matching = _match_fresh(entity, plan.fresh, run)
    prepared, population, counts_of = matching.prepared, matching.population, matching.counts_of
    candidates, retrievable = matching.candidates, matching.retrievable
    stored, unusable = _stored_records(candidates, golden_field)
    if unusable:  # rare; checking every candidate of every record cost 5% of a 1M import
        candidates = [  # a stored record without a golden record (being re-matched) is no
            # match, nor a key left behind by a record deleted in SQL (no constraint on keys)
            [other_id for other_id in chosen if other_id not in unusable]
            for chosen in candidates
        ]

    # 2. Comparisons, spread over the cores for a large batch (they need no database). With
    # `keys_first` the keys are written meanwhile (they need the records' ids, not their
    # golden records), where the parent waited; else beside survivorship, below, as a
    # read-ahead process takes the core the parent leaves (at 1,000,000 records on SQLite,
    # written here, the process tree peaked at 3,200 MB against 2,933 MB: the parent wrote to
    # pages its workers shared; the load took 583.9 s against 534.0 s, one run each on a
    # machine that slowed meanwhile).
    ids = reserve_ids(SourceRecord, len(prepared))

    def write_keys() -> None:
        insert_keys(
            (
                (entity, key, record_id)
                for record_id, (_, _, _, keys) in zip(ids, prepared, strict=True)
                for key in keys
            ),
            in_key_order=not postings_index_deferred(),
        )

    overrides = survivorship_overrides(entity)  # read before the connection is shared
    if keys_first:
        # The keys go in (after the last chunk's on SQLite, their index, see `bulk_ingest`) on
        # a thread sharing this connection, while the workers compare and this thread decides.
        beside.submit(write_keys)
        if last and connection.vendor == "sqlite":
            beside.submit(build_postings_index)
    profiles = [profile for _, _, profile, _ in prepared]
    scored = fork_map(
        _score_slice,
        range(len(prepared)),
        data={
            "entity": entity,
            "profiles": profiles,
            "candidates": candidates,
            "stored": stored,
            "parsed": {},  # products: stored id -> parsed profile
            "placed": {},  # customers: stored id -> position in the worker's Columns
            "columns": plan.columns.of(profiles) if plan.columns is not None else None,
            "counts_of": counts_of,
            "population": population,
            "scorer": scorer,
            "in_order": in_comparison_order(comparisons),
            # Pairs that cannot reach the review threshold need no full comparison (a pair
            # may gain the larger system shift at the decision).
            "floor": math.log2(settings.review_threshold / (1 - settings.review_threshold))
            - (max(*shifts, 0.0) if shifts else 0.0)
            if 0 < settings.review_threshold < 1
            else -math.inf,
        },
        per_slice=True,
    )
    scored = [found for part in scored for found in part]
    # The source systems of the golden records a decision may join (see `system_shifts`).
    systems_of: dict = {}
    joined = {stored[other][1] for found in scored for other, *_ in found if other > 0}
    if shifts and joined:
        # On PostgreSQL on a connection of its own, while the keys still go in on this one:
        # the chunk has written nothing else, so the other sees every record this one does.
        apart = connection.vendor == "postgresql" and len(connection.atomic_blocks) == 1
        if not apart:
            beside.wait()  # the connection is this thread's again
        systems_of = beside_connection(partial(golden_systems, entity, joined), apart)()

    # 3. Decisions in file order: attach, create, merge or propose for review.
    names = [comparison.name for comparison in comparisons]

    def for_systems(golden_id, entry, joining: set) -> tuple:
        """`entry` (probability, levels, identical) with its probability for joining records
        of the `joining` systems, then (same system?, shift), as `find_matches` and
        `ingest._decide` weigh it."""
        same, shift = system_shift(joining, systems_of.get(golden_id, set()), shifts)
        levels = lambda: dict(zip(names, entry[1], strict=True))  # noqa: E731 (seldom needed)
        return (with_systems(entry[0], levels, shift, households), *entry[1:3], same, shift)

    cluster_of: dict[int, uuid.UUID] = {}
    outcomes: Counter = Counter()
    existing_touched: set = set()
    merges: list[tuple] = []
    reviews: dict[tuple, tuple] = {}
    new_goldens: set = set()
    for index, (item, _digest, profile, _keys) in enumerate(prepared):
        best: dict = {}
        for other_id, probability, levels, identical in scored[index]:
            golden_id = stored[other_id][1] if other_id > 0 else cluster_of[other_id]
            if golden_id not in best or probability > best[golden_id][0]:
                best[golden_id] = (probability, levels, identical)
        raw = best
        if shifts:
            best = {
                golden_id: for_systems(golden_id, entry, {item.system})
                for golden_id, entry in best.items()
            }
        ranked = sorted(best.items(), key=lambda pair: -pair[1][0])

        def automatic(entry) -> bool:
            if entity == Entity.PRODUCT:
                return entry[2]
            return entry[0] >= settings.auto_merge_threshold

        if ranked and automatic(ranked[0][1]):
            target = ranked[0][0]
            outcomes[IngestAction.ATTACHED] += 1
            if target not in new_goldens:
                existing_touched.add(target)
        else:
            target = uuid.uuid4()
            new_goldens.add(target)
            outcomes[IngestAction.CREATED] += 1
        cluster_of[-(index + 1)] = target
        if shifts:
            # Joining another golden record now joins the one this record went to as well.
            joined = systems_of.setdefault(target, set())
            joining = joined | {item.system}
            if ranked and target == ranked[0][0]:
                ranked = [ranked[0]] + [
                    (golden_id, for_systems(golden_id, raw[golden_id], joining))
                    for golden_id, _ in ranked[1:]
                ]
            joined.add(item.system)
        for golden_id, entry in ranked:
            if golden_id == target or entry[0] < settings.review_threshold:
                continue
            if automatic(entry):
                merges.append((target, golden_id, entry[0]))
                if shifts:  # one record's systems are now the other's too
                    systems_of[target] |= systems_of.get(golden_id, set())
                    systems_of[golden_id] = systems_of[target]
            elif (target, golden_id) not in reviews:
                # The explanation is only worked out for the pairs a steward will see.
                frequency = _frequency(counts_of[index], population)
                levels = dict(zip(names, entry[1], strict=True))
                explanation = scorer.explain(levels, profile, frequency)[1]
                if shifts:
                    explanation.append(system_line(entry[3], entry[4]))
                reviews[(target, golden_id)] = (entry[0], explanation)

    # Merges between clusters created in this batch are resolved in memory (union-find).
    parent: dict = {}

    def find(golden_id):
        while parent.get(golden_id, golden_id) != golden_id:
            golden_id = parent[golden_id]
        return golden_id

    deferred = []
    for survivor, merged, probability in merges:
        survivor, merged = find(survivor), find(merged)
        if survivor == merged:
            continue
        if merged in new_goldens:
            parent[merged] = survivor
        elif survivor in new_goldens:
            parent[survivor] = merged
            existing_touched.add(merged)
        else:
            deferred.append((survivor, merged, probability))
    for batch_id in cluster_of:
        cluster_of[batch_id] = find(cluster_of[batch_id])
    live_new = {find(golden_id) for golden_id in new_goldens} & new_goldens

    # The golden rows follow in this transaction; foreign keys are checked at commit.
    stamp = timezone.now()
    records = [
        _NewRecord(
            ids[index],
            item.system,
            str(item.external_id),
            item.attributes,
            profile,
            digest,
            aware_utc(item.modified),
            stamp,
            cluster_of[-(index + 1)],
        )
        for index, (item, digest, profile, _keys) in enumerate(prepared)
    ]

    def record_rows() -> list[dict]:
        return [
            {
                "id": record.id,
                "entity": entity,
                "system": record.system,
                "external_id": record.external_id,
                "attributes": record.attributes,
                "profile": record.profile,
                "fingerprint": record.fingerprint,
                "source_modified_at": record.source_modified_at,
                f"{golden_field}_id": record.golden_id,
            }
            for record in records
        ]

    def write_records() -> None:  # needs no survivorship: written while it runs
        beside.submit(partial(write_rows, *table_rows(SourceRecord, record_rows())))
        if not keys_first:
            beside.submit(write_keys)

    _write_new_goldens(
        model,
        entity,
        live_new,
        records,
        overrides,
        meanwhile=write_records,
        ready=beside.wait,
        meanwhile_is_short=keys_first,  # it hands the records to the thread; else writes both
    )
    mark = RunKeys.current_mark()  # the keys are in: any later ones are someone else's
    _write_reviews(entity, reviews, find)
    due: set = set()
    if pending is None:
        apply_survivorship_many(model, existing_touched - live_new, reason="batch import")
    for survivor, merged, probability in deferred:
        survivor_row, merged_row = (
            model.objects.get(pk=survivor).survivor(),
            model.objects.get(pk=merged).survivor(),
        )
        if survivor_row.pk != merged_row.pk:
            # With an end pass to come, the survivor's values are worked out there, once
            # (it has almost always gained this chunk's records too).
            merge(
                survivor_row,
                merged_row,
                reason="automatic match (batch)",
                probability=probability,
                survivorship=pending is None,
            )
            existing_touched.add(survivor_row.pk)
    if pending is not None:
        due = existing_touched - live_new - pending
        insert_rows(PendingSurvivorship, [{"entity": entity, "golden_id": g} for g in due])
    written = (
        np.repeat(np.asarray(ids, dtype=np.int64), matching.key_counts),
        matching.key_hashes,
        retrievable,
    )
    return outcomes, written, mark, due


def _survive_group(index: int) -> tuple[dict, str]:
    """The surviving values (None left out) and provenance of one new golden record."""
    data = shared()
    survivors = survive(data["entity"], data["groups"][index], overrides=data["overrides"])
    values = {name: item.value for name, item in survivors.items() if item.value is not None}
    return values, json_dumps(provenance_map(survivors))  # text travels back cheaper


def _write_new_goldens(
    model,
    entity,
    live_new,
    records: list[_NewRecord],
    overrides: dict,
    meanwhile,
    ready=None,
    meanwhile_is_short: bool = False,
) -> None:
    """Survivorship of the batch's new golden records (in workers while `meanwhile` writes;
    see `fork_map`), then their rows, provenance and history. `ready`, if given, is called
    once the rows are made and before they are written (it waits for the connection)."""
    members = defaultdict(list)
    for record in records:
        members[record.golden_id].append(record)
    goldens, provenance, history = [], [], []
    ordered = list(live_new)
    survived = fork_map(
        _survive_group,
        range(len(ordered)),
        data={
            "entity": entity,
            "groups": [members[golden_id] for golden_id in ordered],
            "overrides": overrides,
        },
        meanwhile=meanwhile,
        meanwhile_is_short=meanwhile_is_short,
    )
    for golden_id, (values, sources) in zip(ordered, survived, strict=True):
        goldens.append({"id": golden_id, **values})
        provenance.append(
            {"entity": entity, "golden_id": golden_id, "attributes": JsonText(sources)}
        )
        history.append(
            {
                "entity": entity,
                "golden_id": golden_id,
                "action": HistoryAction.CREATED,
                "reason": f"batch import of {len(members[golden_id])} record(s)",
            }
        )
    # Rows name different attributes; group them by the set they name.
    by_shape = defaultdict(list)
    for golden in goldens:
        by_shape[tuple(sorted(golden))].append(golden)
    tables = [table_rows(model, rows) for rows in by_shape.values()]
    tables += [table_rows(Provenance, provenance), table_rows(HistoryEntry, history)]
    if ready is not None:
        ready()
    for table in tables:
        write_rows(*table)


def _write_reviews(entity: str, reviews: dict, find) -> None:
    tasks, seen = [], set()
    for (left, right), (probability, explanation) in reviews.items():
        left, right = find(left), find(right)
        pair = frozenset((left, right))
        if left == right or pair in seen:
            continue
        seen.add(pair)
        tasks.append(
            {
                "entity": entity,
                "left_id": left,
                "right_id": right,
                "probability": probability,
                "explanation": {"fields": explanation},
                "status": ReviewStatus.OPEN,
            }
        )
    insert_rows(ReviewTask, tasks)
