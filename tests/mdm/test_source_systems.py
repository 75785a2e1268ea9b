"""Two records of one source system vs two of different systems: the prior is estimated apart.

The file below is the shape of a link between two clean systems (FEBRL 4's, or an accounts
package and a web shop that each hold a customer once): every person is once in the ledger,
and a copy with typos is in the shop. Two namesakes in the ledger share a name and a postcode.
"""

import csv
import sys
from collections import Counter, defaultdict
from io import StringIO

import pytest
from django.core.management import call_command

from mdm.ingest import ingest_record
from mdm.management.commands.import_records import customer_from_row
from mdm.matching.matcher import find_matches, profile_and_keys
from mdm.matching.scoring import CUSTOMER_COMPARISONS, default_weights
from mdm.models import Customer, MatchSettings, SourceRecord
from mdm.records import customer_attributes
from tests.conftest import ROOT
from tests.mdm.test_batch import _clusters

sys.path.insert(0, str(ROOT / "bench"))
from mdm_generate import generate

pytestmark = pytest.mark.django_db

# Both ledger records come first: each shop copy then meets two golden records of other
# systems, and joining its own must not join the other one too.
NAMESAKES = [
    ("ledger", "ns-1", "23 Templestowe Avenue"),
    ("ledger", "ns-2", "70 Bushby Close"),
    ("shop", "ns-1", "23 Templestowe Ave"),
    ("shop", "ns-2", "70 Bushby Cl"),
]


def _two_clean_systems(path, *, one_system: bool = False):
    by_truth = defaultdict(list)
    for row in generate("people", 800, seed=7):
        by_truth[row["truth_id"]].append(row)
    rows = []
    for truth, members in by_truth.items():
        for system, row in zip(("ledger", "shop"), members, strict=False):
            rows.append({**row, "source_system": system, "source_id": f"{truth}"})
    # The commonest given name and surname: a namesake is no rarity.
    first = Counter(row["first_name"] for row in rows).most_common(1)[0][0]
    last = Counter(row["last_name"] for row in rows).most_common(1)[0][0]
    for system, source_id, street in NAMESAKES:
        rows.append({
            **rows[0], "source_system": system, "source_id": source_id, "truth_id": source_id,
            "first_name": first, "last_name": last, "address_line1": street,
            "city": "Bristol", "postcode": "BS1 4DJ",
        })  # fmt: skip
    if one_system:
        rows = [
            {
                **row,
                "source_system": "crm",
                "source_id": f"{row['source_system']}-{row['source_id']}",
            }
            for row in rows
        ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _load(path, *extra):
    call_command("import_records", "--entity", "customer", str(path), *extra,
                 stdout=StringIO(), stderr=StringIO())  # fmt: skip


def _golden(system: str, source_id: str):
    return SourceRecord.objects.get(system=system, external_id=source_id).customer_id


def test_the_prior_is_estimated_apart_within_a_system_and_across_systems(tmp_path):
    _load(_two_clean_systems(tmp_path / "two.csv"))
    weights = MatchSettings.for_entity("customer").weights
    # The ledger and the shop each hold a person once: a pair within one is far less likely
    # the same person than a pair across them.
    assert weights["prior_same_system"] * 20 < weights["prior"] < weights["prior_other_system"]


def test_one_system_keeps_one_prior(tmp_path):
    _load(_two_clean_systems(tmp_path / "one.csv", one_system=True))
    weights = MatchSettings.for_entity("customer").weights
    assert "prior_same_system" not in weights and "prior_other_system" not in weights


@pytest.mark.parametrize("per_record", [False, True])
def test_namesakes_within_a_clean_system_stay_apart_and_their_copies_do_not_bridge_them(
    tmp_path, per_record
):
    _load(_two_clean_systems(tmp_path / "two.csv"), *(["--per-record"] if per_record else []))
    assert _golden("ledger", "ns-1") != _golden("ledger", "ns-2")
    assert _golden("shop", "ns-1") == _golden("ledger", "ns-1")
    assert _golden("shop", "ns-2") == _golden("ledger", "ns-2")


def test_bulk_and_record_by_record_decide_alike_with_system_priors(tmp_path):
    path = _two_clean_systems(tmp_path / "two.csv")
    _load(path, "--per-record")
    one_by_one = _clusters()
    SourceRecord.objects.all().delete()
    Customer.objects.all().delete()
    _load(path)
    assert _clusters() == one_by_one


def test_a_match_explains_the_source_systems_line(tmp_path):
    _load(_two_clean_systems(tmp_path / "two.csv"))
    ledger = SourceRecord.objects.get(system="ledger", external_id="ns-1").attributes
    attributes = {**ledger, "billing_line1": "23 Templestowe Av"}
    profile, keys = profile_and_keys("customer", attributes)
    within = find_matches("customer", profile, keys, system="ledger")
    across = find_matches("customer", profile, keys, system="web")
    assert within and across
    line = {m.golden_id: m.explanation[-1] for m in within}[within[0].golden_id]
    assert line["field"] == "source systems" and line["weight"] < -3
    by_golden = {m.golden_id: m.probability for m in across}
    assert all(by_golden[m.golden_id] > m.probability for m in within)
    # Without a system (the read-only API) the overall prior is used, as before.
    plain = find_matches("customer", profile, keys)
    assert all(line["field"] != "source systems" for m in plain for line in m.explanation)


def test_a_record_joining_one_golden_record_does_not_bridge_it_to_a_namesake_of_its_system():
    """Record by record: the shop's John Smith joins the ledger's John Smith at his address; the
    ledger's other John Smith in that postcode matches him too, but joining both would make the
    ledger hold one person twice, which it never does (the same-system prior)."""
    settings = MatchSettings.for_entity("customer")
    settings.weights = {
        **default_weights(CUSTOMER_COMPARISONS),
        "prior_same_system": 1e-8,
        "prior_other_system": 1e-4,
    }
    settings.save()

    def person(system, source_id, street):
        row = {"source_system": system, "source_id": source_id, "first_name": "John",
               "last_name": "Smith", "address_line1": street, "city": "Bristol",
               "postcode": "BS1 4DJ", "country": "GB"}  # fmt: skip
        return ingest_record("customer", system, source_id, row_attributes(row), None)

    first = person("ledger", "1", "1 High Street")
    second = person("ledger", "2", "9 Mill Lane")
    assert second.golden_id != first.golden_id
    copy = person("shop", "1", "1 High St")
    assert copy.golden_id == first.golden_id
    assert SourceRecord.objects.get(system="ledger", external_id="2").customer_id == (
        second.golden_id
    )
    assert not Customer.objects.get(pk=second.golden_id).is_tombstone


def row_attributes(row: dict) -> dict:
    return customer_attributes(customer_from_row(row))


def _estimate(rows, **options):
    from mdm.matching.estimate import estimate_weights

    prepared = [
        profile_and_keys("customer", customer_attributes(customer_from_row(row))) for row in rows
    ]
    return estimate_weights(
        "customer",
        [profile for profile, _ in prepared],
        keys=[keys for _, keys in prepared],
        systems=[row["source_system"] for row in rows],
        **options,
    )


def test_systems_that_hold_duplicates_alike_keep_one_prior():
    """The generator puts a person's records in any of three systems: within one system or
    across, a pair is as likely the same person, and a difference within the sample's noise
    must not become a system prior (one sample of a million gave +0.99 / -0.84 bits)."""
    rows = generate("people", 3000, seed=11)
    assert len({row["source_system"] for row in rows}) == 3
    weights = _estimate(rows)
    assert "prior_same_system" not in weights and "prior_other_system" not in weights
    assert weights["prior"] > 0


def test_a_sample_with_few_matches_draws_more_blocked_pairs():
    from mdm.matching.estimate import MAX_EXTRA_PAIRS, MIN_SAMPLE_MATCHES

    rows = generate("people", 3000, seed=11)
    few = _estimate(rows, max_pairs=300)
    assert 300 < few["sampled_pairs"] <= 300 + MAX_EXTRA_PAIRS
    matches = few["prior"] * few["population"] * (few["population"] - 1) / 2
    assert matches * few["sampled_pairs"] / few["blocked_pairs"] >= MIN_SAMPLE_MATCHES * 0.7
    enough = _estimate(rows)  # 40,000 pairs already hold hundreds of matches here
    assert enough["sampled_pairs"] == min(40_000, enough["blocked_pairs"])


def test_a_system_that_duplicates_lifts_a_hopeless_pair_into_review_in_bulk_too():
    """A web shop's guest checkouts: two records of the shop are far more often one customer
    than two random records. A pair that the overall prior puts under the review threshold
    whatever its address must still be compared, and reach review, when the shop's own prior
    lifts it there (the bulk path cut pairs by the across-systems shift only)."""
    import math

    from mdm.batch import BatchItem, bulk_ingest
    from mdm.matching.scoring import Scorer, customer_levels
    from mdm.models import ReviewTask

    def record(source_id, first, last):
        return row_attributes({
            "source_system": "shop", "source_id": source_id, "first_name": first,
            "last_name": last, "city": "Bristol", "postcode": "BS1 4DJ", "country": "GB",
        })  # fmt: skip

    left, right = record("1", "Alice", "Brown"), record("2", "Zebedee", "Browne")
    weights = default_weights(CUSTOMER_COMPARISONS)
    scorer = Scorer(weights, CUSTOMER_COMPARISONS)
    profiles = [profile_and_keys("customer", attributes)[0] for attributes in (left, right)]
    levels = customer_levels(profiles[1], profiles[0])
    log_odds = scorer.log_odds(levels, profiles[1])
    review = math.log2(0.6 / 0.4)
    without_address = log_odds - scorer.table["address"][levels["address"]]
    assert without_address + scorer.best["address"] < review  # hopeless under the overall prior

    def prior_shifted(bits):
        odds = weights["prior"] / (1 - weights["prior"]) * 2**bits
        return odds / (1 + odds)

    shift = review + 1 - log_odds  # the pair lands 1 bit above the review threshold
    settings = MatchSettings.for_entity("customer")
    settings.review_threshold, settings.auto_merge_threshold = 0.6, 0.95
    settings.calibrate_review_threshold = False
    settings.weights = {
        **weights,
        "prior_same_system": prior_shifted(shift),
        "prior_other_system": prior_shifted(-1),
    }
    settings.save()
    bulk_ingest("customer", [BatchItem("shop", "1", left), BatchItem("shop", "2", right)])
    task = ReviewTask.objects.get()
    assert math.isclose(task.probability, 0.75, rel_tol=0.01)  # odds 2 ** (review + 1) = 3
    assert Customer.objects.count() == 2
