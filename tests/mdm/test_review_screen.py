"""The steward's review screen and the pins on the golden page, through the admin."""

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from mdm.ingest import ingest_customer
from mdm.models import Customer, HistoryEntry, ReviewStatus, ReviewTask
from tests.mdm.factories import person

pytestmark = pytest.mark.django_db


@pytest.fixture
def review_task():
    ingest_customer(person())
    ingest_customer(person(system="shop", external_id="7", first="Mary"))
    return ReviewTask.objects.get()


def test_review_screen_shows_both_records_their_sources_and_the_explanation(
    client, steward, review_task
):
    client.force_login(steward)
    page = client.get(reverse("admin:mdm_reviewtask_compare", args=[review_task.pk]))
    assert page.status_code == 200
    content = page.content.decode()
    assert "William" in content and "Mary" in content  # side by side
    assert "crm / 1" in content and "shop / 7" in content  # source records
    assert "<td>First name</td>" in content and "<td>Last name</td>" in content  # explanation
    assert "<th>First name</th>" in content  # side by side, labelled like the golden page
    assert 'name="csrfmiddlewaretoken"' in content
    assert ">Merge</button>" in content and ">Not the same</button>" in content
    # The page is named after the two records, not their ids.
    title = content.split("<title>")[1].split("</title>")[0]
    assert "William Smith" in title and "Mary Smith" in title
    assert str(review_task.left_id)[:8] not in title


def test_merge_button_on_the_review_screen_merges_the_pair(client, steward, review_task):
    client.force_login(steward)
    response = client.post(
        reverse("admin:mdm_reviewtask_decide", args=[review_task.pk]),
        {"same": "1", "next": "compare"},
    )
    assert response.status_code == 302
    review_task.refresh_from_db()
    assert review_task.status == ReviewStatus.MERGED
    assert Customer.objects.filter(status="active").count() == 1


def test_decide_needs_the_csrf_token(steward, review_task):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(steward)
    response = client.post(
        reverse("admin:mdm_reviewtask_decide", args=[review_task.pk]), {"same": "1"}
    )
    assert response.status_code == 403
    review_task.refresh_from_db()
    assert review_task.status == ReviewStatus.OPEN


def test_queue_list_links_to_the_review_screen_and_offers_bulk_actions(
    client, steward, review_task
):
    client.force_login(steward)
    page = client.get(reverse("admin:mdm_reviewtask_changelist"))
    content = page.content.decode()
    assert reverse("admin:mdm_reviewtask_compare", args=[review_task.pk]) in content
    assert 'value="approve_merge"' in content and 'value="not_the_same"' in content


def test_bulk_approve_merge_merges_every_selected_pair(client, steward, review_task):
    client.force_login(steward)
    client.post(
        reverse("admin:mdm_reviewtask_changelist"),
        {"action": "approve_merge", "_selected_action": [review_task.pk]},
    )
    review_task.refresh_from_db()
    assert review_task.status == ReviewStatus.MERGED
    assert LogEntry.objects.filter(object_id=str(review_task.pk)).exists()


def test_auditor_sees_the_review_screen_without_buttons_and_cannot_act(
    client, auditor, review_task
):
    client.force_login(auditor)
    page = client.get(reverse("admin:mdm_reviewtask_compare", args=[review_task.pk]))
    assert page.status_code == 200
    assert ">Merge</button>" not in page.content.decode()
    client.post(reverse("admin:mdm_reviewtask_decide", args=[review_task.pk]), {"same": "1"})
    review_task.refresh_from_db()
    assert review_task.status == ReviewStatus.OPEN


def test_steward_pins_a_value_that_survives_a_source_update_then_unpins_it(client, steward):
    golden = Customer.objects.get(pk=ingest_customer(person(email="old@example.com")).golden_id)
    client.force_login(steward)
    pin_url = reverse("admin:mdm_customer_pin", args=[golden.pk])
    page = client.get(reverse("admin:mdm_customer_change", args=[golden.pk]))
    content = page.content.decode()
    # Each value once, in the values table, with its button; the form it submits is outside
    # the change form (forms cannot nest).
    assert "field-email" not in content and "Steward pins" not in content  # no repeats
    assert "<td>Email</td><td>old@example.com</td><td>Most recent</td>" in content
    assert 'form="mdm-pin-form" name="pin" value="email">Pin</button>' in content
    assert f'<form id="mdm-pin-form" method="post" action="{pin_url}">' in content
    client.post(pin_url, {"pin": "email"})  # what the button sends
    page = client.get(reverse("admin:mdm_customer_change", args=[golden.pk]))
    assert 'name="unpin" value="email">Unpin</button>' in page.content.decode()
    ingest_customer(person(email="new@example.com"))  # the source changes its email
    golden.refresh_from_db()
    assert golden.pinned == {"email": "old@example.com"}
    assert golden.email == "old@example.com"
    client.post(pin_url, {"unpin": "email"})
    golden.refresh_from_db()
    assert golden.pinned == {} and golden.email == "new@example.com"
    actions = set(HistoryEntry.objects.filter(golden_id=golden.pk).values_list("action", flat=True))
    assert {"pinned", "unpinned"} <= actions


def test_auditor_cannot_pin(client, auditor):
    golden = Customer.objects.get(pk=ingest_customer(person(email="a@example.com")).golden_id)
    client.force_login(auditor)
    response = client.post(reverse("admin:mdm_customer_pin", args=[golden.pk]), {"pin": "email"})
    assert response.status_code == 403
    golden.refresh_from_db()
    assert golden.pinned == {}
