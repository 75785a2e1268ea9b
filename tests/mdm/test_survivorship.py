"""Survivorship rules, validation, pins and provenance."""

import pytest

from mdm.ingest import ingest_customer, ingest_product
from mdm.models import (
    Customer,
    Product,
    SourceRecord,
    SurvivorshipRule,
    SurvivorshipRuleKind,
)
from mdm.survivorship import apply_survivorship, provenance_of
from tests.mdm.factories import at, person, product

pytestmark = pytest.mark.django_db


def _two_systems(**second):
    first = ingest_customer(person(email="old@example.com", source_modified_at=at(1)))
    ingest_customer(
        person(system="shop", external_id="9", first="Bill", source_modified_at=at(5), **second)
    )
    return Customer.objects.get(pk=first.golden_id)


def test_most_recent_valid_email_survives_with_its_provenance():
    golden = _two_systems(email="new@example.com")
    assert golden.email == "new@example.com"
    provenance = provenance_of(golden)["email"]
    assert provenance["source_record_id"] == SourceRecord.objects.get(system="shop").id
    assert provenance["rule"] == SurvivorshipRuleKind.MOST_RECENT


def test_provenance_leaves_out_what_no_source_gave_and_keeps_pins():
    from mdm.survivorship import pin

    golden = Customer.objects.get(pk=ingest_customer(person(phone="")).golden_id)
    provenance = provenance_of(golden)
    assert golden.phone == "" and "phone" not in provenance
    assert "company_name" not in provenance and "shipping_city" not in provenance
    assert provenance["first_name"]["value"] == "William"
    assert provenance["billing_city"]["source_record_id"] == SourceRecord.objects.get().id
    pin(golden, "phone")  # a steward keeps it empty: the pin is kept, with its rule
    assert provenance_of(golden)["phone"] == {"value": "", "source_record_id": None,
                                              "rule": "pinned"}  # fmt: skip


def test_malformed_email_never_wins_even_when_newest():
    golden = _two_systems(email="not-an-email")
    assert golden.email == "old@example.com"


def test_impossible_phone_never_wins():
    ingest_customer(person(phone="020 7946 0000", source_modified_at=at(1)))
    ingest_customer(person(system="shop", external_id="9", phone="12", source_modified_at=at(5)))
    assert Customer.objects.get().phone == "+442079460000"


def test_aggregate_keeps_every_valid_email():
    golden = _two_systems(email="new@example.com")
    assert sorted(golden.emails) == ["new@example.com", "old@example.com"]


def test_source_priority_prefers_the_trusted_system_over_the_newer_one():
    SurvivorshipRule.objects.create(
        entity="customer",
        attribute="email",
        rule=SurvivorshipRuleKind.SOURCE_PRIORITY,
        source_trust={"crm": 0.9, "shop": 0.2},
        half_life_days=100_000,
    )
    golden = _two_systems(email="new@example.com")
    assert golden.email == "old@example.com"


def test_trust_decays_with_the_age_of_the_value():
    SurvivorshipRule.objects.create(
        entity="customer",
        attribute="email",
        rule=SurvivorshipRuleKind.SOURCE_PRIORITY,
        source_trust={"crm": 0.6, "shop": 0.5},
        half_life_days=1,  # the crm value is four days older: 0.6/16 < 0.5
    )
    golden = _two_systems(email="new@example.com")
    assert golden.email == "new@example.com"


def test_pinned_value_survives_source_updates_until_unpinned():
    golden = _two_systems(email="new@example.com")
    golden.pinned = {"email": "steward@example.com"}
    golden.save()
    apply_survivorship(golden)
    ingest_customer(person(system="shop", external_id="9", email="newer@example.com"))
    golden.refresh_from_db()
    assert golden.email == "steward@example.com"
    assert provenance_of(golden)["email"]["rule"] == "pinned"
    golden.pinned = {}
    golden.save()
    apply_survivorship(golden)
    assert golden.email == "newer@example.com"


def test_address_survives_as_a_whole_from_one_record():
    ingest_customer(person(source_modified_at=at(1)))
    golden = Customer.objects.get()
    record = SourceRecord.objects.create(
        entity="customer",
        system="shop",
        external_id="x",
        fingerprint="-",
        customer=golden,
        source_modified_at=at(9),
        attributes={"billing_line1": "1 New Road", "billing_postcode": "", "billing_city": "Bath"},
    )
    apply_survivorship(golden)
    assert (golden.billing_line1, golden.billing_postcode) == ("1 New Road", "")
    assert provenance_of(golden)["billing_city"]["source_record_id"] == record.id


def test_longest_description_survives_for_products():
    ingest_product(product(description="Blue", source_modified_at=at(5)))
    ingest_product(product(system="accounts", external_id="2", description="A blue widget, 10 cm"))
    assert Product.objects.get().description == "A blue widget, 10 cm"


def test_many_at_once_decides_writes_and_records_exactly_like_one_by_one():
    from mdm.models import HistoryEntry
    from mdm.survivorship import apply_survivorship_many

    goldens = []
    for index, last in enumerate(("Okafor", "Lindqvist")):
        record = ingest_customer(
            person(external_id=f"{index}", last=last, email=f"{last}@example.com",
                   source_modified_at=at(1))
        )  # fmt: skip
        goldens.append(Customer.objects.get(pk=record.golden_id))
    # Both gain a newer phone and email behind survivorship's back (as a bulk load does).
    for golden in goldens:
        source = golden.sourcerecord_set.get()
        source.attributes = {**source.attributes, "email": "new@example.org",
                             "phone": "020 7946 0000", "billing_country": "GB"}  # fmt: skip
        source.source_modified_at = at(9)
        source.save()
    one, many = goldens
    apply_survivorship(one, reason="batch import")
    assert apply_survivorship_many(Customer, [many.pk], reason="batch import") == 1

    def outcome(golden):
        golden = Customer.objects.get(pk=golden.pk)
        entry = HistoryEntry.objects.filter(golden_id=golden.pk, reason="batch import").get()
        provenance = {
            name: {**value, "source_record_id": value["source_record_id"] is not None}
            for name, value in provenance_of(golden).items()
            if name != "last_name"  # the one value that differs by design
        }
        after = {name: change[1] for name, change in entry.changes.items()}  # befores differ
        return golden.email, golden.phone, golden.emails, after, entry.reason, provenance

    assert outcome(one) == outcome(many)
    assert outcome(many)[:2] == ("new@example.org", "+442079460000")
    assert apply_survivorship_many(Customer, [many.pk]) == 0  # nothing left to change
