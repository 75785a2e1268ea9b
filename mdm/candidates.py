"""The candidates of a whole chunk of a batch import at once, in numpy.

Each record of a chunk meets the records that share its retrieval keys: those stored before
the import, those of the import's earlier chunks, and the chunk's own earlier records, in that
order for each key, keys in the record's retrieval order. `blocking.choose_candidates` picks
from a `Counter` of them (most shared keys first, ties in the order first met) what the
real-time path compares. Counted record by record in Python, forked over two cores, the two
50,000-row chunks of a 100,000-record load took 2.7 s and 3.4 s of wall time; here, on one
core, 1.8 s and 2.2 s on their captured inputs (1.4 s each within a load). The lists are the
same as the `Counter`'s (checked on those chunks, and in the tests on random ones with ties).
The last chunk of a 200,000-record load then took 2.8 s; stable sorts (which run faster on
the sorted-by-record codes), ids shifted instead of ranked, and the slices on both cores
brought it to 1.1 s with the same lists (the 1M PostgreSQL load's candidates: 67.5 -> 29.8 s).

Keys are compared by their 64-bit hash (`keyindex.key_hashes`), as `RunKeys` does: a collision
only adds a candidate, it decides nothing.
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np

from mdm.keyindex import sorted_search
from mdm.matching.blocking import (
    CANDIDATE_BUDGET,
    MAX_CANDIDATE_RECORDS,
    MAX_POSTINGS,
    MAX_SINGLE_KEY_CANDIDATES,
)
from mdm.parallel import fork_map, shared

ID_BITS = 30  # candidate ids spanning more are made dense first (see `chunk_candidates`)
SLICE_RECORDS = 2000  # records whose postings are counted together: 214 MB at the peak of a
# 50,000-row chunk of 100,000 records against 295 MB with 5,000, and no slower
# Fewer slices are chosen in this process. Measured: 6 slices (10,000 records) took 0.19 s here
# and 0.22-0.26 s forked; 25 (a 50,000-row chunk) gain from the fork. 8 lies between, untried.
FORK_SLICES = 8


def ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenated `arange(start, start + length)` of each pair."""
    total = int(lengths.sum()) if len(lengths) else 0
    if not total:
        return np.empty(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    return (
        np.arange(total, dtype=np.int64)
        - np.repeat(ends - lengths, lengths)
        + np.repeat(starts.astype(np.int64), lengths)
    )


def retrieval_positions(
    retrievable: np.ndarray, totals: np.ndarray, owner: np.ndarray
) -> np.ndarray:
    """The keys each record looks candidates up by, as `blocking.retrieval_keys` chooses
    them: positions into the chunk's keys (the records' keys one after the other, `owner`
    naming each key's record, each record's in string order, as `profile_and_keys` gives
    them), record by record, each record's smallest key first (ties in string order), within
    CANDIDATE_BUDGET postings. `retrievable` marks retrieval keys, `totals` holds every key's
    count."""
    usable = np.flatnonzero(retrievable & (totals > 0) & (totals <= MAX_POSTINGS))
    if not len(usable):
        return usable
    usable = usable[np.lexsort((usable, totals[usable], owner[usable]))]
    sizes, records = totals[usable], owner[usable]
    starts = np.flatnonzero(np.r_[True, records[1:] != records[:-1]])
    counts = np.diff(np.r_[starts, len(records)])
    spent = np.cumsum(sizes)
    spent -= np.repeat(spent[starts] - sizes[starts], counts)  # within each record
    # The smallest key always; then keys while the postings fit the budget (sizes ascend, so
    # the first that does not fit ends the record's keys).
    first = np.zeros(len(usable), dtype=bool)
    first[starts] = True
    return usable[first | (spent <= CANDIDATE_BUDGET)]


def chunk_candidates(
    retrieval: tuple[np.ndarray, np.ndarray],
    held: tuple[np.ndarray, np.ndarray],
    stored: tuple[np.ndarray, np.ndarray],
    run: tuple[np.ndarray, np.ndarray],
) -> list[list[int]]:
    """Each record's candidates, as `blocking.choose_candidates` picks them: stored records
    by their (positive) id, the chunk's earlier records as -1 - position.

    `retrieval` is (record, key hash) of the keys records look candidates up by, record by
    record (ascending), each record's in the order it looks them up. `held` is (hashes of all
    the records' keys, one after the other; how many each record has): the chunk's records
    are found through these. `stored` is the postings stored before the run, (key hashes,
    record ids), each key's in the order they are to be counted; `run` the run's postings
    (key hashes ascending, then ids ascending).
    """
    size = len(held[1])
    chosen: list[list[int]] = [[] for _ in range(size)]
    owner, looked_up = retrieval
    if not len(looked_up):
        return chosen
    wanted, key_of = np.unique(looked_up, return_inverse=True)

    # Every posting of a wanted key, grouped by key: stored, then the run's, then the chunk's.
    key_parts, id_parts = [], []
    stored_hashes, stored_ids = stored
    if len(stored_hashes):
        at = _positions(wanted, stored_hashes)
        found = at >= 0
        key_parts.append(at[found])
        id_parts.append(stored_ids[found])
    run_hashes, run_ids = run
    if len(run_hashes):
        low = np.searchsorted(run_hashes, wanted, side="left")
        lengths = np.searchsorted(run_hashes, wanted, side="right") - low
        key_parts.append(np.repeat(np.arange(len(wanted), dtype=np.int64), lengths))
        id_parts.append(run_ids[ranges(low, lengths)])
    hashes, counts = held
    at = _positions(wanted, hashes)
    found = at >= 0
    key_parts.append(at[found])
    id_parts.append(-1 - np.repeat(np.arange(size, dtype=np.int64), counts)[found])
    key_column = np.concatenate(key_parts)
    order = np.argsort(key_column, kind="stable")  # keeps each part's order within a key
    posting_ids = np.concatenate(id_parts)[order]
    # Record ids made small and non-negative, so that a record, a candidate and a position in
    # the stream fit in one integer, sorted with one call: shifted by the smallest (the ids of
    # a hub of many million records still fit), else made dense (0, 1, ...), which takes a
    # sort of all the postings (0.4 s of a 50,000-row chunk).
    lowest = int(posting_ids.min()) if len(posting_ids) else 0
    span = int(posting_ids.max()) - lowest if len(posting_ids) else 0
    if span.bit_length() <= ID_BITS:
        dense = posting_ids - lowest
    else:
        distinct, dense = np.unique(posting_ids, return_inverse=True)
        span = len(distinct) - 1
    offsets = np.zeros(len(wanted) + 1, dtype=np.int64)
    np.cumsum(np.bincount(key_column, minlength=len(wanted)), out=offsets[1:])

    id_bits = max(span, 1).bit_length()
    bounds = np.searchsorted(owner, np.arange(0, size + SLICE_RECORDS, SLICE_RECORDS))
    # The slices are independent: on both cores (the arrays reach the workers by the fork)
    # from FORK_SLICES on; below, the fork cost more than it saved (and 0.22 s of the workers'
    # CPU at 10,000 records: copied pages, lists pickled back).
    found = fork_map(
        _choose_slice,
        [(start, end) for start, end in pairwise(bounds.tolist()) if start < end],
        data={"owner": owner, "key_of": key_of, "postings": (posting_ids, dense, offsets, id_bits)},
        minimum=FORK_SLICES,
    )
    for first, lists in found:
        chosen[first : first + len(lists)] = lists
    return chosen


def _positions(sorted_values: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's position in `sorted_values`, or -1 where it is not there."""
    at = sorted_search(sorted_values, values).clip(max=len(sorted_values) - 1)
    return np.where(sorted_values[at] == values, at, -1)


def _choose_slice(bounds: tuple[int, int]) -> tuple[int, list[list[int]]]:
    """(first record, the candidates of each record from it on) of one slice of the lookups
    (see `chunk_candidates`; runs in a worker for a chunk of several slices)."""
    data = shared()
    start, end = bounds
    return _choose(data["owner"][start:end], data["key_of"][start:end], data["postings"])


def _choose(owner: np.ndarray, key_of: np.ndarray, postings: tuple) -> tuple[int, list]:
    """(first record, candidates of each record from it to the last) for the records `owner`
    names (ascending), which look up `key_of`."""
    posting_ids, dense, offsets, id_bits = postings
    lengths = offsets[key_of + 1] - offsets[key_of]
    at = ranges(offsets[key_of], lengths)
    ids, dense = posting_ids[at], dense[at]
    first = int(owner[0])
    owner = np.repeat(owner - first, lengths)
    # A chunk's record meets only the chunk's records before it (not itself, nor later ones).
    keep = (ids > 0) | (-1 - ids < owner + first)
    ids, dense, owner = ids[keep], dense[keep], owner[keep]
    if not len(ids):
        return first, []
    position_bits = (len(ids) - 1).bit_length() or 1
    record_bits = int(owner[-1]).bit_length() or 1
    if record_bits + id_bits + position_bits > 62:  # not with SLICE_RECORDS records
        raise ValueError("too many postings in one slice of records")
    # Sorted by record, candidate and position: each (record, candidate) is a run of entries,
    # its length the keys they share, its first entry the position first met.
    code = np.sort(
        (((owner << id_bits) | dense) << position_bits) | np.arange(len(ids), dtype=np.int64),
        kind="stable",
    )
    pair = code >> position_bits
    starts = np.flatnonzero(np.r_[True, pair[1:] != pair[:-1]])
    shared = np.diff(np.r_[starts, len(code)])
    first_met = code[starts] & ((1 << position_bits) - 1)
    record = pair[starts] >> id_bits
    # Per record: most shared keys first, then in the order first met (as `most_common`).
    shared_bits = int(shared.max()).bit_length()
    fewer = (1 << shared_bits) - 1 - shared
    ranked = np.sort(
        (((record << shared_bits) | fewer) << position_bits) | first_met, kind="stable"
    )
    record = ranked >> (shared_bits + position_bits)
    shared = (1 << shared_bits) - 1 - ((ranked >> position_bits) & ((1 << shared_bits) - 1))
    candidate = ids[ranked & ((1 << position_bits) - 1)]
    starts = np.flatnonzero(np.r_[True, record[1:] != record[:-1]])
    sizes = np.diff(np.r_[starts, len(record)])
    rank = np.arange(len(record)) - np.repeat(starts, sizes)
    top = rank < MAX_CANDIDATE_RECORDS
    several = np.add.reduceat(((shared > 1) & top).astype(np.int64), starts)
    keep = top & (rank < np.repeat(several + MAX_SINGLE_KEY_CANDIDATES, sizes))
    record, candidate = record[keep], candidate[keep]
    edges = np.r_[0, np.flatnonzero(record[1:] != record[:-1]) + 1, len(record)].tolist()
    records, candidates = record.tolist(), candidate.tolist()
    lists: list[list[int]] = [[] for _ in range(records[-1] + 1)]
    for start, end in pairwise(edges):
        lists[records[start]] = candidates[start:end]
    return first, lists
