"""Matching quality and speed on generated truth-labelled customers.

    .venv/bin/python bench/mdm_quality.py --kind people --entities 3000 [--database-url URL]

Generates records with `bench/mdm_generate.py`, loads them into a fresh database with the real
`import_records` command (weights estimated from the file, then matching, golden records and
survivorship), and compares the golden records with the truth: pairwise precision, recall and
F1 of "same golden record", the share of missed true pairs that landed in the review band, and
the throughput. Without --database-url a throw-away SQLite file is used.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
from collections import defaultdict
from itertools import combinations
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def pairs_of(groups: dict) -> set[tuple[str, str]]:
    result = set()
    for members in groups.values():
        result.update(combinations(sorted(members), 2))
    return result


def realtime_latencies(rows: list[dict]) -> list[float]:
    """Milliseconds to match one record against the loaded golden records (read-only path)."""
    from mdm.management.commands.import_records import customer_from_row
    from mdm.matching.matcher import find_matches, profile_and_keys
    from mdm.records import customer_attributes

    timings = []
    for row in rows:
        started = time.perf_counter()
        profile, keys = profile_and_keys("customer", customer_attributes(customer_from_row(row)))
        find_matches("customer", profile, keys)
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)


def show_missed(pairs, rows, label_golden, review_pairs) -> None:
    """Print pairs (missed or false) with their comparison levels and probability (diagnosis)."""
    from mdm.management.commands.import_records import customer_from_row
    from mdm.matching.matcher import profile_and_keys, weights_for
    from mdm.matching.scoring import CUSTOMER_COMPARISONS, customer_levels, score
    from mdm.models import MatchSettings
    from mdm.records import customer_attributes

    by_label = {f"{row['source_system']}:{row['source_id']}": row for row in rows}
    weights = weights_for(MatchSettings.for_entity("customer"))
    for left, right in pairs:
        profiles = []
        for label in (left, right):
            profile, keys = profile_and_keys(
                "customer", customer_attributes(customer_from_row(by_label[label]))
            )
            profiles.append((profile, set(keys)))
        levels = customer_levels(profiles[0][0], profiles[1][0])
        probability, _ = score(levels, weights, CUSTOMER_COMPARISONS)
        shared = sorted(k for k in profiles[0][1] & profiles[1][1] if not k.startswith("tf."))
        reviewed = frozenset((label_golden[left], label_golden[right])) in review_pairs
        print(f"p={probability:.4f} review={reviewed} levels={levels} shared={shared}")
        for label in (left, right):
            row = by_label[label]
            print("    ", {k: v for k, v in row.items() if v and k not in ("truth_id",)})


def figures(true_pairs: set, found_pairs: set) -> tuple[float, float, float]:
    correct = len(true_pairs & found_pairs)
    precision = correct / len(found_pairs) if found_pairs else 1.0
    recall = correct / len(true_pairs) if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def what_if(threshold: float, true_pairs: set, by_golden: dict) -> str:
    """Precision / recall / F1 if the open review tasks at or above `threshold` were approved:
    their golden records joined (union-find), as a lower auto-merge threshold would have."""
    from mdm.models import ReviewStatus, ReviewTask

    parent: dict = {}

    def find(golden):
        while parent.get(golden, golden) != golden:
            golden = parent[golden]
        return golden

    tasks = ReviewTask.objects.filter(status=ReviewStatus.OPEN, probability__gte=threshold)
    for left, right in tasks.values_list("left_id", "right_id"):
        left, right = find(str(left)), find(str(right))
        if left != right:
            parent[left] = right
    joined = defaultdict(list)
    for golden, labels in by_golden.items():
        joined[find(golden)].extend(labels)
    precision, recall, f1 = figures(true_pairs, pairs_of(joined))
    return f"P {precision:.4f} R {recall:.4f} F1 {f1:.4f} ({tasks.count()} tasks approved)"


def main(argv: list[str] | None = None) -> dict:
    from mdm_generate import add_arguments, generate_from, write_csv

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser, entities=3000)
    parser.add_argument("--show-missed", type=int, default=0, help="print this many missed pairs")
    parser.add_argument(
        "--show-false", type=int, default=0, help="print this many falsely merged pairs"
    )
    parser.add_argument("--database-url", default="")
    parser.add_argument(
        "--what-if",
        default="",
        help="comma-separated thresholds: the figures if the open review tasks at or above each "
        "were approved (an auto-merge threshold lowered to it, approximately)",
    )
    parser.add_argument(
        "--keep-households-apart", action="store_true", help="the match setting of that name"
    )
    parser.add_argument(
        "--csv", default="", help="a labelled canonical CSV (truth_id column) instead of --kind"
    )
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="mdm-bench-"))
    os.environ["DATABASE_URL"] = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hub.settings")
    import django

    django.setup()
    from django.core.management import call_command

    from mdm.models import Customer, ReviewStatus, ReviewTask, SourceRecord

    if args.database_url:
        call_command("flush", interactive=False, verbosity=0)
    call_command("migrate", verbosity=0)
    if args.keep_households_apart:
        from mdm.models import MatchSettings

        settings = MatchSettings.for_entity("customer")
        settings.keep_households_apart = True
        settings.save()
    if args.csv:
        csv_path = Path(args.csv)
        with open(csv_path, newline="") as handle:
            rows = list(csv.DictReader(handle))
        args.kind, args.entities = csv_path.name, len({row["truth_id"] for row in rows})
    else:
        rows = generate_from(args)
        csv_path = workdir / "records.csv"
        with open(csv_path, "w", newline="") as handle:
            write_csv(rows, handle)
    started = time.monotonic()
    call_command("import_records", "--entity", "customer", str(csv_path), stdout=io.StringIO(),
                 stderr=io.StringIO())  # fmt: skip
    elapsed = time.monotonic() - started

    truth = {(row["source_system"], row["source_id"]): row["truth_id"] for row in rows}
    golden_of = {
        (system, external_id): str(golden)
        for system, external_id, golden in SourceRecord.objects.values_list(
            "system", "external_id", "customer_id"
        )
    }
    by_truth, by_golden = defaultdict(list), defaultdict(list)
    for key, truth_id in truth.items():
        label = f"{key[0]}:{key[1]}"
        by_truth[truth_id].append(label)
        by_golden[golden_of[key]].append(label)
    true_pairs, found_pairs = pairs_of(by_truth), pairs_of(by_golden)
    precision, recall, f1 = figures(true_pairs, found_pairs)
    label_golden = {f"{k[0]}:{k[1]}": g for k, g in golden_of.items()}
    review_pairs = set()
    for left, right in ReviewTask.objects.filter(status=ReviewStatus.OPEN).values_list(
        "left_id", "right_id"
    ):
        review_pairs.add(frozenset((str(left), str(right))))
    missed = true_pairs - found_pairs
    in_review = sum(
        1 for a, b in missed if frozenset((label_golden[a], label_golden[b])) in review_pairs
    )
    if args.show_missed:
        show_missed(sorted(missed)[: args.show_missed], rows, label_golden, review_pairs)
    if args.show_false:
        false_pairs = sorted(found_pairs - true_pairs)[: args.show_false]
        show_missed(false_pairs, rows, label_golden, review_pairs)
    for threshold in filter(None, args.what_if.split(",")):
        print(f"what if {threshold}:", what_if(float(threshold), true_pairs, by_golden))
    latencies = realtime_latencies(rows[:300])
    result = {
        "kind": args.kind,
        "records": len(rows),
        "entities": args.entities,
        "golden": Customer.objects.filter(status="active").count(),
        "true_pairs": len(true_pairs),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "missed_pairs": len(missed),
        "missed_in_review": round(in_review / len(missed), 4) if missed else 1.0,
        "review_tasks": ReviewTask.objects.filter(status=ReviewStatus.OPEN).count(),
        "moved_share": args.moved,
        "seconds": round(elapsed, 1),
        "records_per_second": round(len(rows) / elapsed, 1),
        "match_p50_ms": round(latencies[len(latencies) // 2], 2),
        "match_p95_ms": round(latencies[int(len(latencies) * 0.95)], 2),
    }
    for key, value in result.items():
        print(f"{key:>18}: {value}")
    return result


if __name__ == "__main__":
    main()
