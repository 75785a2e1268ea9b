"""A chunk's candidates worked out at once are those each record would choose on its own."""

import random
from collections import Counter

import numpy as np
import pytest

from mdm.candidates import (
    ID_BITS,
    SLICE_RECORDS,
    chunk_candidates,
    ranges,
    retrieval_positions,
)
from mdm.keyindex import key_hashes
from mdm.matching.blocking import MAX_POSTINGS, choose_candidates, retrieval_keys
from mdm.matching.profile import is_retrieval_key


def _one_by_one(retrieval, keys, stored, run):
    """The record-by-record reference: a Counter over each retrieval key's postings (stored,
    then the run's, then the chunk's earlier records), then `choose_candidates`."""
    chosen, earlier = [], {}
    for index, own in enumerate(retrieval):
        shared = Counter()
        for key in own:
            shared.update(stored.get(key, ()))
            shared.update(run.get(key, ()))
            shared.update(earlier.get(key, ()))
        chosen.append(choose_candidates(shared))
        for key in keys[index]:
            earlier.setdefault(key, []).append(-1 - index)
    return chosen


def _looked_up(retrieval: list[list[str]]):
    """(record, key hash) of each record's retrieval keys, in order."""
    owner = np.repeat(np.arange(len(retrieval)), [len(own) for own in retrieval])
    return owner, key_hashes([key for own in retrieval for key in own])


def _arrays(postings: dict, *, sort: bool):
    pairs = [(key, record_id) for key, ids in postings.items() for record_id in ids]
    hashes = key_hashes([key for key, _ in pairs])
    ids = np.asarray([record_id for _, record_id in pairs], dtype=np.int64)
    if sort:  # the run's postings: hash ascending, then id
        order = np.lexsort((ids, hashes))
        hashes, ids = hashes[order], ids[order]
    return hashes, ids


@pytest.mark.parametrize("seed", range(6))
def test_a_chunks_candidates_are_those_each_record_would_choose(seed):
    rng = random.Random(seed)
    vocabulary = [f"k{number}" for number in range(rng.choice((5, 40, 200)))]
    size = rng.choice((1, 30, 300))
    keys = [
        set(rng.sample(vocabulary, rng.randint(0, min(8, len(vocabulary))))) for _ in range(size)
    ]
    # A retrieval key is one of the record's own keys, in the record's lookup order; "tf."
    # style keys (held, never looked up) are the rest.
    retrieval = [rng.sample(sorted(own), rng.randint(0, len(own))) for own in keys]
    # Stored postings in any order (as the database gives them), some long enough to pass the
    # cap; the run's in id order. Ids repeat across keys, so counts tie and differ.
    stored = {
        key: rng.sample(range(1, 60), rng.randint(0, 25))
        for key in vocabulary
        if rng.random() < 0.7
    }
    run = {key: sorted(rng.sample(range(100, 130), rng.randint(0, 12))) for key in vocabulary}
    held = [sorted(own) for own in keys]
    found = chunk_candidates(
        _looked_up(retrieval),
        (key_hashes([key for own in held for key in own]), np.asarray([len(own) for own in held])),
        _arrays(stored, sort=False),
        _arrays(run, sort=True),
    )
    assert found == _one_by_one(retrieval, keys, stored, run)
    assert any(found) or not any(retrieval)


@pytest.mark.parametrize("forked", [False, True])
def test_candidates_of_more_records_than_a_slice_count_across_slices(forked, settings, monkeypatch):
    """Two slices, chosen here or (with fewer slices needed to fork) by two workers."""
    import mdm.candidates

    settings.MDM_WORKERS = 2
    monkeypatch.setattr(mdm.candidates, "FORK_SLICES", 2 if forked else 3)
    calls = []
    original = mdm.candidates.fork_map
    monkeypatch.setattr(
        mdm.candidates,
        "fork_map",
        lambda *args, minimum, **options: (
            calls.append(len(args[1]) >= minimum) or original(*args, minimum=minimum, **options)
        ),
    )
    size = SLICE_RECORDS + 7
    # Groups of 10 and of 7 records, some of them across the slices' border.
    keys = [[f"pc:{index // 10}", f"st:{index // 7}", "tf.last:x"] for index in range(size)]
    retrieval = [own[:2] for own in keys]
    held = (key_hashes([key for own in keys for key in own]), np.asarray([len(o) for o in keys]))
    empty = (np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64))
    found = chunk_candidates(_looked_up(retrieval), held, empty, empty)
    assert calls == [forked]
    assert found == _one_by_one(retrieval, keys, {}, {})
    # The second slice's first records meet the first slice's last ones.
    assert any(-1 - other < SLICE_RECORDS for other in found[SLICE_RECORDS + 1])


def test_candidates_with_ids_too_far_apart_to_pack_are_chosen_alike():
    # Stored ids across more than ID_BITS: made dense first, else they would not pack into 62
    # bits with a record and a position.
    size = 50
    keys = [[f"pc:{index // 5}", f"st:{index % 7}"] for index in range(size)]
    held = (key_hashes([key for own in keys for key in own]), np.asarray([2] * size))
    stored = {f"pc:{group}": [1 + group, (1 << (ID_BITS + 23)) + group] for group in range(10)}
    stored["st:3"] = [1 << (ID_BITS + 25), 2, 3]
    run = {"st:1": [1 << (ID_BITS + 24)]}
    found = chunk_candidates(
        _looked_up(keys), held, _arrays(stored, sort=False), _arrays(run, sort=True)
    )
    assert found == _one_by_one(keys, keys, stored, run)
    assert any(other >= 1 << ID_BITS for chosen in found for other in chosen)


def test_ranges_concatenate_the_spans():
    assert ranges(np.asarray([5, 0, 9]), np.asarray([2, 0, 3])).tolist() == [5, 6, 9, 10, 11]
    assert ranges(np.asarray([], dtype=np.int64), np.asarray([], dtype=np.int64)).tolist() == []


@pytest.mark.parametrize("seed", range(4))
def test_the_keys_a_chunk_looks_up_are_those_each_record_would(seed):
    rng = random.Random(seed)
    records, flat, totals = [], [], []
    for _ in range(300):
        # Sorted, as `profile_and_keys` gives them; counts tie, pass the cap, or are zero.
        keys = sorted({rng.choice(("pc", "fa", "tf.last", "nn")) + f":{rng.randrange(30)}"
                       for _ in range(rng.randint(0, 9))})  # fmt: skip
        counts = {key: rng.choice((0, 1, 2, 5, 40, 150, 399, 401, MAX_POSTINGS, 1001))
                  for key in keys}  # fmt: skip
        records.append((keys, counts))
        flat += keys
        totals += [counts[key] for key in keys]
    retrievable = np.asarray([is_retrieval_key(key) for key in flat], dtype=bool)
    held = np.asarray([len(keys) for keys, _ in records])
    owner = np.repeat(np.arange(len(records)), held)
    chosen = retrieval_positions(retrievable, np.asarray(totals, dtype=np.int64), owner)
    found = [[] for _ in records]
    for at in chosen.tolist():
        found[owner[at]].append(flat[at])
    assert found == [retrieval_keys(keys, counts) for keys, counts in records]
    assert sum(map(len, found)) > len(records) / 2
