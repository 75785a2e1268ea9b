"""Benchmark: how well the hub matched the sandboxes' seeded customers and products.

Compares the golden records the hub built (its cross-references) with the sandbox's truth.csv
(which records are the same real customer or product) and reports pairwise precision, recall
and F1. Run it after `make demo` has pulled, or after `manage.py pull` against a sandbox:

    .venv/bin/python bench/sandbox_matching.py [--truth var/sandbox/truth.csv]
"""

import argparse
import csv
import itertools
import os
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")

import django

django.setup()

from mdm.models import SourceRecord


def pairs(groups: dict) -> set[frozenset]:
    result = set()
    for members in groups.values():
        for left, right in itertools.combinations(sorted(members), 2):
            result.add(frozenset((left, right)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--truth", default="var/sandbox/truth.csv")
    args = parser.parse_args()
    truth: dict[str, dict] = {"customer": defaultdict(set), "product": defaultdict(set)}
    with open(args.truth, newline="") as handle:
        for row in csv.DictReader(handle):
            truth[row["entity"]][row["entity_key"]].add((row["system"], row["external_id"]))
    for entity in ("customer", "product"):
        known = {record for members in truth[entity].values() for record in members}
        found = defaultdict(set)
        for system, external_id, golden_id in SourceRecord.objects.filter(
            entity=entity
        ).values_list(
            "system", "external_id", "customer_id" if entity == "customer" else "product_id"
        ):
            if (system, external_id) in known:
                found[golden_id].add((system, external_id))
        true_pairs, found_pairs = pairs(truth[entity]), pairs(found)
        hits = len(true_pairs & found_pairs)
        precision = hits / len(found_pairs) if found_pairs else 1.0
        recall = hits / len(true_pairs) if true_pairs else 1.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        print(
            f"{entity}: {len(known)} source records, {len(truth[entity])} real {entity}s, "
            f"{len(found)} golden; pairs true {len(true_pairs)}, found {len(found_pairs)}, "
            f"correct {hits}; precision {precision:.4f}, recall {recall:.4f}, F1 {f1:.4f}"
        )


if __name__ == "__main__":
    main()
