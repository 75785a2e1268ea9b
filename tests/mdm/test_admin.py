"""The steward's admin: golden pages, the review queue and its one-click decisions, unmerge."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from connectors.canonical import Address
from mdm.ingest import ingest_customer
from mdm.merge import merge
from mdm.models import Customer, Merge, ReviewStatus, ReviewTask
from tests.mdm.factories import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def review_task():
    ingest_customer(person())
    ingest_customer(person(system="shop", external_id="7", first="Mary"))
    return ReviewTask.objects.get()


def test_golden_page_shows_cross_references_provenance_and_history(client, steward):
    golden = Customer.objects.get(pk=ingest_customer(person(email="a@example.com")).golden_id)
    client.force_login(steward)
    page = client.get(reverse("admin:mdm_customer_change", args=[golden.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "Cross-references" in content and "crm" in content
    assert "Most recent" in content  # provenance rule, as the rule settings name it
    assert "Created" in content  # history
    assert "<td>None</td>" not in content  # an unknown value reads "-", not Python's None


def test_golden_list_searches_by_name(client, steward):
    ingest_customer(person())
    client.force_login(steward)
    page = client.get(reverse("admin:mdm_customer_changelist"), {"q": "Smith"})
    assert page.status_code == 200
    assert "Smith" in page.content.decode()


def test_review_page_shows_both_records_side_by_side(client, steward, review_task):
    client.force_login(steward)
    page = client.get(reverse("admin:mdm_reviewtask_change", args=[review_task.pk]))
    content = page.content.decode()
    assert "Mary" in content and "William" in content
    assert "first_name" in content  # explanation rows


def test_one_click_merge_from_the_review_queue(client, steward, review_task):
    client.force_login(steward)
    client.post(reverse("admin:mdm_reviewtask_decide", args=[review_task.pk]), {"same": "1"})
    review_task.refresh_from_db()
    assert review_task.status == ReviewStatus.MERGED
    assert Customer.objects.filter(status="active").count() == 1
    assert LogEntry.objects.filter(object_id=str(review_task.pk)).exists()


def test_bulk_not_the_same_from_the_review_queue(client, steward, review_task):
    client.force_login(steward)
    client.post(
        reverse("admin:mdm_reviewtask_changelist"),
        {"action": "not_the_same", "_selected_action": [review_task.pk]},
    )
    review_task.refresh_from_db()
    assert review_task.status == ReviewStatus.NOT_SAME


def _four_merges() -> Customer:
    """Ada <other name> merged into Ines <surname> in four towns; returns the last survivor."""
    towns = (("Leeds", "LS1 4AB"), ("York", "YO1 7HH"), ("Bath", "BA1 1LT"), ("Hull", "HU1 2AA"))
    for number, (surname, other_name) in enumerate(
        (("Okafor", "Byron"), ("Lindqvist", "Quarshie"), ("Moreau", "Tanaka"), ("Novak", "Reyes"))
    ):
        town, postcode = towns[number]
        survivor = Customer.objects.get(
            pk=ingest_customer(
                person(external_id=f"s{number}", first="Ines", last=surname,
                       address=Address([f"{number + 2} High St"], town, "", postcode, "GB"))
            ).golden_id
        )  # fmt: skip
        other = person(system="shop", external_id=f"m{number}", first="Ada", last=other_name,
                       address=Address(["1 Mill Lane"], town, "", postcode, "GB"))  # fmt: skip
        merge(survivor, Customer.objects.get(pk=ingest_customer(other).golden_id))
    return survivor


def test_the_merges_list_names_both_records_and_links_them(
    client, steward, django_assert_max_num_queries
):
    survivor = _four_merges()
    client.force_login(steward)
    with django_assert_max_num_queries(12):
        page = client.get(reverse("admin:mdm_merge_changelist"))
    content = page.content.decode()
    merge_row = Merge.objects.get(survivor_id=survivor.pk)
    assert "Ada Reyes · 1 Mill Lane, Hull, HU1 2AA" in content
    survivor.refresh_from_db()  # its surviving values now come from both records
    assert f">{survivor.label} · {survivor.billing_line1}, Hull, HU1 2AA</a>" in content
    assert reverse("admin:mdm_customer_change", args=[merge_row.merged_id]) in content
    assert reverse("admin:mdm_customer_change", args=[survivor.pk]) in content
    assert str(merge_row) not in content  # not the ids any more


def _listed(client, name: str, query: str) -> str:
    page = client.get(reverse(f"admin:mdm_{name}_changelist"), {"q": query})
    assert page.status_code == 200
    return page.content.decode()


def test_the_merges_list_is_searched_by_either_records_name_place_or_id(client, steward):
    survivor = _four_merges()
    merged_id = Merge.objects.get(survivor_id=survivor.pk).merged_id
    client.force_login(steward)
    reyes = _listed(client, "merge", "ada reyes")  # the merged-away record, by both names
    assert "Ada Reyes" in reyes and "Ada Tanaka" not in reyes
    assert "Ada Tanaka" in _listed(client, "merge", "bath")  # by town
    # Either record's id (the survivor took Ada's values: the later record wins the tie).
    assert "Ada Reyes" in _listed(client, "merge", str(merged_id))
    by_survivor = _listed(client, "merge", str(survivor.pk))
    assert "Ada Reyes" in by_survivor and "Ada Byron" not in by_survivor
    assert all(f"Ada {name}" in _listed(client, "merge", "ada") for name in ("Byron", "Reyes"))
    nothing = _listed(client, "merge", "zebedee")
    assert "Ada " not in nothing and "0 merges" in nothing


def test_a_term_matching_many_records_is_searched_through_a_subquery(
    client, steward, review_task, monkeypatch
):
    from mdm.admin import ReviewTaskAdmin

    monkeypatch.setattr(ReviewTaskAdmin, "listed_ids", 0)  # every term is "too many to list"
    client.force_login(steward)
    assert "William Smith" in _listed(client, "reviewtask", "mary")
    assert "William Smith" not in _listed(client, "reviewtask", "petrov")


def test_the_review_queue_is_searched_by_either_records_name(client, steward, review_task):
    petrovs = Address(["9 Elm Row"], "Leeds", "", "LS2 9JT", "GB")
    ingest_customer(person("crm", "p1", first="Ivan", last="Petrov", address=petrovs))
    ingest_customer(person("shop", "p2", first="Olga", last="Petrov", address=petrovs))
    assert ReviewTask.objects.count() == 2
    client.force_login(steward)
    petrov = _listed(client, "reviewtask", "petrov")
    assert "Olga Petrov" in petrov and "Mary Smith" not in petrov
    mary = _listed(client, "reviewtask", "mary")  # one side of the pair is enough
    assert "William Smith" in mary and "Petrov" not in mary
    assert "Ivan Petrov" in _listed(client, "reviewtask", "ls2 9jt")
    assert "Petrov" not in _listed(client, "reviewtask", str(review_task.left_id))


def test_unmerge_action_restores_the_merged_record(client, steward):
    first = Customer.objects.get(pk=ingest_customer(person()).golden_id)
    other = ingest_customer(person(system="shop", external_id="7", first="Mary")).golden_id
    merge(first, Customer.objects.get(pk=other))
    client.force_login(steward)
    selected = {"action": "undo", "_selected_action": [Merge.objects.get().pk]}
    page = client.post(reverse("admin:mdm_merge_changelist"), selected, follow=True)
    assert Customer.objects.get(pk=other).status == "active"
    assert "Unmerged 1 merge(s)." in page.content.decode()
    again = client.post(reverse("admin:mdm_merge_changelist"), selected, follow=True)
    assert "Unmerged 0 merge(s); 1 already undone, left as they were." in again.content.decode()


def test_auditor_cannot_decide_review_tasks(client, auditor, review_task):
    client.force_login(auditor)
    client.post(reverse("admin:mdm_reviewtask_decide", args=[review_task.pk]), {"same": "1"})
    review_task.refresh_from_db()
    assert review_task.status == ReviewStatus.OPEN


def test_review_queue_names_both_records_and_the_strongest_evidence(
    client, steward, review_task, django_assert_max_num_queries
):
    client.force_login(steward)
    url = reverse("admin:mdm_reviewtask_changelist")
    client.get(url)  # sessions, permissions and content types warmed up
    with django_assert_max_num_queries(12):
        page = client.get(url)
    content = page.content.decode()
    assert "Mary Smith" in content and "William Smith" in content  # both sides, by name
    assert "first_name: different (" in content


def test_review_queue_loads_the_golden_records_once_per_page_not_once_per_row(
    client, steward, django_assert_max_num_queries
):
    for number, first in enumerate(("Mary", "Anne", "Jane", "Rose", "Ruth", "Ella")):
        ingest_customer(person(system="shop", external_id=str(number), first=first))
    assert ReviewTask.objects.count() >= 5
    client.force_login(steward)
    url = reverse("admin:mdm_reviewtask_changelist")
    client.get(url)
    with django_assert_max_num_queries(12):
        client.get(url)


def test_golden_list_search_matches_given_name_and_surname_together(client, steward):
    ingest_customer(person(first="Oliver"))
    client.force_login(steward)
    page = client.get(reverse("admin:mdm_customer_changelist"), {"q": "oliver smith"})
    assert "1 result" in page.content.decode()


def test_nothing_that_keeps_the_record_can_be_deleted_in_the_admin(client, django_user_model):
    """A deleted merge could never be undone; history, decisions and tombstones are the trail."""
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "x")
    survivor = Customer.objects.get(pk=ingest_customer(person()).golden_id)
    other = person(system="shop", external_id="9", first="Ada", last="Byron",
                   address=Address(["1 Mill Lane"], "Leeds", "", "LS1 4AB", "GB"))  # fmt: skip
    merged = Customer.objects.get(pk=ingest_customer(other).golden_id)
    assert survivor.pk != merged.pk
    merge_row = merge(survivor, merged, reason="test")
    client.force_login(admin_user)
    for model, pk in (("merge", merge_row.pk), ("customer", survivor.pk),
                      ("historyentry", None), ("sourcerecord", None)):  # fmt: skip
        listing = client.get(reverse(f"admin:mdm_{model}_changelist")).content.decode()
        assert 'value="delete_selected"' not in listing, model
        if pk is not None:
            url = reverse(f"admin:mdm_{model}_delete", args=[pk])
            assert client.post(url, {"post": "yes"}).status_code == 403, model
    assert Merge.objects.filter(pk=merge_row.pk).exists()


def test_recompute_action_applies_a_changed_rule_to_the_selected_records(client, steward):
    from mdm.models import HistoryEntry, SurvivorshipRule

    ingest_customer(person(email="bill@crm.example"))
    golden = Customer.objects.get(pk=ingest_customer(
        person(system="shop", external_id="7", email="bill@shop.example")
    ).golden_id)  # fmt: skip
    other = Customer.objects.get(
        pk=ingest_customer(person(external_id="9", last="Okafor")).golden_id
    )
    assert golden.email == "bill@shop.example"  # the most recent
    SurvivorshipRule.objects.create(entity="customer", attribute="email", rule="source_priority",
                                    source_trust={"crm": 0.9, "shop": 0.1})  # fmt: skip
    client.force_login(steward)
    selected = {"action": "recompute", "_selected_action": [golden.pk, other.pk]}
    page = client.post(reverse("admin:mdm_customer_changelist"), selected, follow=True)
    assert "Recomputed 2 record(s): 1 changed, 1 already had their surviving values." in (
        page.content.decode()
    )
    golden.refresh_from_db()
    assert golden.email == "bill@crm.example"
    entry = HistoryEntry.objects.get(golden_id=golden.pk, reason="recomputed in the admin")
    assert entry.actor == steward and entry.changes["email"][1] == "bill@crm.example"


def test_match_settings_page_shows_what_the_weights_mean(client, superuser):
    from mdm.matching.scoring import CUSTOMER_COMPARISONS, default_weights
    from mdm.models import MatchSettings

    settings = MatchSettings.for_entity("customer")
    settings.weights = {
        **default_weights(CUSTOMER_COMPARISONS),
        "prior_same_system": 3.1e-7,
        "prior_other_system": 2.0e-4,
    }
    settings.save()
    client.force_login(superuser)
    page = client.get(reverse("admin:mdm_matchsettings_change", args=[settings.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "two records of one source system" in content and "3.1e-07" in content
    assert "two records of different systems" in content and "0.0002" in content
    # Every level of every field with its weight in bits: log2(0.70 / 0.00005) = +13.8.
    assert "same street and place" in content and "+13.8" in content
    assert "Raw weights (JSON)" in content  # still editable, out of the way
