"""Turn the public Fodor's / Zagat restaurant files into canonical customer CSV with truth.

    .venv/bin/python bench/restaurants_to_csv.py fodors.csv zagats.csv > restaurants.csv
    .venv/bin/python bench/mdm_quality.py --csv restaurants.csv

The restaurant guides of Fodor's (533 records) and Zagat (331), a classic public benchmark for
business records (Tejada, Knoblock, Minton; the RIDDLE repository): a name, a street address, a
town, a phone and a cuisine, with 112 restaurants in both guides. The copies read here are the
Magellan-style files with a header `id,name,address,city,phone,type`, values quoted with `'` and
escaped with a backslash (as in the LSBlock repository, `data/fodors.csv` and `data/zagats.csv`),
or the plain CSV copies with a column `addr` and apostrophes left out that ship in the PyPI
source archive of py_entitymatching 0.4.2 (`pip download py_entitymatching --no-deps`, then
`py_entitymatching/datasets/end-to-end/restaurants/`; its `matches_fodors_zagats.csv` lists the
same 112 pairs).
The 112 duplicates are the first 112 Fodor's records (ids 534-645) paired in order with Zagat
ids 219-330; nothing else is labelled. The guides write phones their own way ("310/246-1501",
"310-246-1501"), town names differently ("los angeles" / "la", "new york" / "new york city")
and add a branch in brackets ("spago (los angeles)"); hotels share a phone number and an
address across their restaurants. The cuisine is dropped (a hub has no such column), as is the
country: the files do not say it.
"""

from __future__ import annotations

import csv
import sys

from mdm_generate import COLUMNS

FIRST_DUPLICATE, DUPLICATES, ZAGAT_OFFSET = 534, 112, 315


def rows_of(path: str, system: str):
    with open(path, newline="") as handle:
        plain = "addr" in handle.readline().strip().split(",")
        handle.seek(0)
        quoting = {} if plain else {"quotechar": "'", "escapechar": "\\"}
        for row in csv.DictReader(handle, **quoting):
            number = int(row["id"])
            if system == "fodors" and FIRST_DUPLICATE <= number < FIRST_DUPLICATE + DUPLICATES:
                truth = f"restaurant-{number}"
            elif system == "zagat" and 0 <= number + ZAGAT_OFFSET - FIRST_DUPLICATE < DUPLICATES:
                truth = f"restaurant-{number + ZAGAT_OFFSET}"
            else:
                truth = f"{system}-{number}"
            yield {
                "source_system": system,
                "source_id": row["id"],
                "company_name": row["name"],
                "address_line1": row["addr" if plain else "address"],
                "city": row["city"],
                "phone": row["phone"],
                "truth_id": truth,
            }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, extrasaction="ignore")
    writer.writeheader()
    fodors, zagat = argv
    for path, system in ((fodors, "fodors"), (zagat, "zagat")):
        writer.writerows(rows_of(path, system))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
