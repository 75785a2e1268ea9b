"""Splink (DuckDB backend) on the same customer file, for a speed and quality comparison.

    .venv/bin/pip install splink   # into the venv for this benchmark only, not a dependency
    .venv/bin/python bench/mdm_splink.py /tmp/mdm-bench/people10k.csv

A typical Splink set-up for names and addresses: u by random sampling, m by EM over two
blocking rules, prediction over surname- and postcode-blocked pairs, clustering at 0.95. The
time covers loading the CSV, training, prediction and clustering (not Python start-up). Splink
writes no golden records, provenance or history; Concord's import does, so the comparison
favours Splink. Pairwise precision/recall against the file's `truth_id` are printed too.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import defaultdict
from itertools import combinations


def pairs_of(groups: dict) -> set:
    found = set()
    for members in groups.values():
        found.update(combinations(sorted(members), 2))
    return found


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv")
    parser.add_argument("--threshold", type=float, default=0.95)
    args = parser.parse_args(argv)
    import duckdb
    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    started = time.monotonic()
    connection = duckdb.connect()
    table = connection.sql(
        f"""
        select source_system || ':' || source_id as unique_id, truth_id,
               nullif(lower(first_name), '') as first_name,
               nullif(lower(last_name), '') as surname,
               nullif(lower(address_line1), '') as street,
               nullif(lower(city), '') as city,
               nullif(upper(replace(postcode, ' ', '')), '') as postcode
        from read_csv_auto('{args.csv}', all_varchar=true)
        """  # noqa: S608 (a local benchmark file)
    )
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.JaroWinklerAtThresholds("street", [0.95, 0.85]),
            cl.ExactMatch("city").configure(term_frequency_adjustments=True),
            cl.ExactMatch("postcode"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("surname"),
            block_on("first_name", "city"),
            block_on("postcode"),
            block_on("street"),
        ],
    )
    database = DuckDBAPI(connection)
    linker = Linker(database.register(table), settings)  # Splink 5: tables are registered
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("postcode"))
    predictions = linker.inference.predict(threshold_match_probability=0.01)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, args.threshold
    )
    frame = clusters.as_record_list()  # no pandas needed
    elapsed = time.monotonic() - started

    truth = {}
    with open(args.csv, newline="") as handle:
        for row in csv.DictReader(handle):
            truth[f"{row['source_system']}:{row['source_id']}"] = row["truth_id"]
    by_truth, by_cluster = defaultdict(list), defaultdict(list)
    for row in frame:
        unique_id, cluster_id = row["unique_id"], row["cluster_id"]
        by_truth[truth[unique_id]].append(unique_id)
        by_cluster[cluster_id].append(unique_id)
    true_pairs, found_pairs = pairs_of(by_truth), pairs_of(by_cluster)
    correct = len(true_pairs & found_pairs)
    precision = correct / len(found_pairs) if found_pairs else 1.0
    recall = correct / len(true_pairs) if true_pairs else 1.0
    result = {
        "records": len(frame),
        "seconds": round(elapsed, 1),
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / (precision + recall), 4),
    }
    for key, value in result.items():
        print(f"{key:>10}: {value}")
    return result


if __name__ == "__main__":
    main()
