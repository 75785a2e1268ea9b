"""Ingesting canonical records: cross-references, matching outcomes, products, concurrency."""

import threading

import pytest
from django.db import connection, connections

from connectors.canonical import Address
from mdm.ingest import IngestAction, ingest_customer, ingest_product
from mdm.merge import decide_review
from mdm.models import Customer, HistoryEntry, Product, ReviewStatus, ReviewTask, SourceRecord
from tests.mdm.factories import at, person, product

pytestmark = pytest.mark.django_db


def test_first_record_creates_a_golden_customer_with_its_cross_reference():
    result = ingest_customer(person(email="Bill@Example.com"))
    assert result.action == IngestAction.CREATED
    golden = Customer.objects.get(pk=result.golden_id)
    assert golden.email == "bill@example.com"
    assert SourceRecord.objects.get(system="crm", external_id="1").customer == golden
    assert HistoryEntry.objects.filter(golden_id=golden.id, action="created").exists()


def test_redelivering_the_same_record_changes_nothing():
    first = ingest_customer(person())
    again = ingest_customer(person())
    assert again.action == IngestAction.UNCHANGED
    assert again.golden_id == first.golden_id
    assert Customer.objects.count() == 1
    assert SourceRecord.objects.count() == 1


def test_near_duplicate_from_another_system_joins_the_same_golden_record():
    first = ingest_customer(person(email="bill@example.com"))
    second = ingest_customer(
        person(
            system="shop",
            external_id="9",
            first="Bill",
            last="Smith",
            email="bill@example.com",
            address=Address(["12 High Street"], "LONDON", "", "sw1a1aa", "GB"),
        )
    )
    assert second.action == IngestAction.ATTACHED
    assert second.golden_id == first.golden_id
    assert Customer.objects.count() == 1
    assert second.candidates[0].explanation  # field-by-field evidence kept


def test_a_different_person_gets_a_new_golden_record():
    ingest_customer(person())
    other = ingest_customer(
        person(
            system="shop",
            external_id="2",
            first="Aurelio",
            last="Quarshie",
            address=Address(["3 Mill Lane"], "Leeds", "", "LS1 4AB", "GB"),
        )
    )
    assert other.action == IngestAction.CREATED
    assert Customer.objects.count() == 2
    assert not ReviewTask.objects.exists()


def test_uncertain_pair_creates_a_review_task_instead_of_merging():
    ingest_customer(person())
    relative = ingest_customer(person(system="shop", external_id="7", first="Mary"))
    assert relative.action == IngestAction.CREATED
    task = ReviewTask.objects.get()
    assert task.status == ReviewStatus.OPEN
    assert {field["field"] for field in task.explanation["fields"]} >= {"first_name", "address"}


def test_not_the_same_decision_is_not_proposed_again_on_update(steward):
    ingest_customer(person())
    ingest_customer(person(system="shop", external_id="7", first="Mary"))
    decide_review(ReviewTask.objects.get(), same=False, actor=steward)
    ingest_customer(person(system="shop", external_id="7", first="Mary", phone="+447700900123"))
    assert ReviewTask.objects.filter(status=ReviewStatus.OPEN).count() == 0
    assert Customer.objects.count() == 2


def test_older_update_than_the_stored_version_is_ignored():
    ingest_customer(person(email="new@example.com", source_modified_at=at(10)))
    stale = ingest_customer(person(email="old@example.com", source_modified_at=at(2)))
    assert stale.action == IngestAction.STALE
    assert Customer.objects.get().email == "new@example.com"


def test_update_of_a_source_record_updates_the_golden_values_and_history():
    result = ingest_customer(person(email="one@example.com", source_modified_at=at(1)))
    ingest_customer(person(email="two@example.com", source_modified_at=at(2)))
    golden = Customer.objects.get(pk=result.golden_id)
    assert golden.email == "two@example.com"
    entry = HistoryEntry.objects.filter(golden_id=golden.id, action="updated").first()
    assert entry.changes["email"] == ["one@example.com", "two@example.com"]


def test_identical_sku_is_the_same_product():
    first = ingest_product(product())
    second = ingest_product(product(system="accounts", external_id="77", sku="abc 123", name="X"))
    assert second.action == IngestAction.ATTACHED
    assert second.golden_id == first.golden_id
    assert Product.objects.count() == 1


def test_similar_product_name_without_the_sku_only_proposes_a_review():
    ingest_product(product())
    other = ingest_product(product(external_id="p2", sku="XYZ-999", name="Blue Widget"))
    assert other.action == IngestAction.CREATED
    assert Product.objects.count() == 2
    assert ReviewTask.objects.filter(entity="product").count() == 1


@pytest.mark.django_db(transaction=True)
def test_near_duplicates_ingested_at_the_same_moment_give_one_golden_record():
    if connection.vendor != "postgresql":
        pytest.skip("real concurrent writers need PostgreSQL; SQLite serialises them")
    barrier = threading.Barrier(2)
    errors = []

    def worker(system, external_id, first):
        try:
            barrier.wait()
            ingest_customer(person(system=system, external_id=external_id, first=first))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=worker, args=("crm", "1", "William")),
        threading.Thread(target=worker, args=("shop", "2", "Bill")),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert Customer.objects.filter(status="active").count() == 1
    assert SourceRecord.objects.values("customer").distinct().count() == 1


def test_record_matching_two_golden_records_with_certainty_merges_them():
    first = ingest_customer(person(address=Address(["204 High Road"], "", "", "EX17 9JG", "GB")))
    second = ingest_customer(
        person(
            system="shop",
            external_id="2",
            address=Address(["204 High Road"], "Exeter", "", "", "GB"),
        )
    )
    bridge = ingest_customer(
        person(
            system="erp",
            external_id="3",
            address=Address(["204 High Rd"], "Exeter", "", "EX17 9JG", "GB"),
        )
    )
    assert Customer.objects.filter(status="active").count() == 1
    assert bridge.golden_id in (first.golden_id, second.golden_id)
