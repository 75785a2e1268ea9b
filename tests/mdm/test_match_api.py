"""POST /api/match/customer/: candidates with probabilities, nothing changed."""

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

from hub.urls import urlpatterns as hub_urlpatterns
from mdm.ingest import ingest_customer
from mdm.models import Customer, ReviewTask, SourceRecord
from tests.mdm.factories import person

# Mounted here until the lead adds the same line to hub/urls.py.
urlpatterns = [*hub_urlpatterns, path("api/", include("mdm.urls"))]
URL = "/api/match/customer/"
QUERY = {"first_name": "Bill", "last_name": "Smith", "address_line1": "12 High Street",
         "city": "London", "postcode": "SW1A1AA", "country": "GB"}  # fmt: skip


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = __name__


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_match_returns_candidates_with_probability_and_explanation(steward):
    golden_id = ingest_customer(person()).golden_id
    response = _client(steward).post(URL, QUERY, format="json")
    assert response.status_code == 200
    best = response.json()["candidates"][0]
    assert best["golden_id"] == str(golden_id)
    assert best["probability"] > 0.9
    assert best["band"] == "auto_merge"
    assert {item["field"] for item in best["explanation"]} >= {"first_name", "address"}


def test_match_changes_nothing(steward):
    ingest_customer(person())
    before = (Customer.objects.count(), SourceRecord.objects.count(), ReviewTask.objects.count())
    _client(steward).post(URL, {**QUERY, "first_name": "Mary"}, format="json")
    after = (Customer.objects.count(), SourceRecord.objects.count(), ReviewTask.objects.count())
    assert after == before


def test_match_without_any_attribute_is_a_400(steward):
    assert _client(steward).post(URL, {}, format="json").status_code == 400


def test_match_needs_a_user_who_may_view_customers(db):
    from django.contrib.auth.models import User

    nobody = User.objects.create_user("nobody", password="pw-for-tests-only")
    assert _client(nobody).post(URL, QUERY, format="json").status_code == 403
    assert APIClient().post(URL, QUERY, format="json").status_code in (401, 403)


def test_match_with_an_unknown_attribute_is_a_400_naming_it(steward):
    response = _client(steward).post(
        URL, {"last_name": "Lee", "billing_line1": "1 High St"}, format="json"
    )
    assert response.status_code == 400
    assert "billing_line1" in str(response.json())
    assert "address_line1" in str(response.json())


def test_match_from_a_system_takes_that_systems_prior(steward):
    from mdm.matching.scoring import CUSTOMER_COMPARISONS, default_weights
    from mdm.models import MatchSettings

    settings = MatchSettings.for_entity("customer")
    settings.weights = {
        **default_weights(CUSTOMER_COMPARISONS),
        "prior_same_system": 1e-7,
        "prior_other_system": 2e-4,
    }
    settings.save()
    record = person()
    ingest_customer(record)

    def best(**extra):
        response = _client(steward).post(URL, {**QUERY, **extra}, format="json")
        assert response.status_code == 200
        return response.json()["candidates"][0]

    plain, within = best(), best(source_system=record.source_system)
    across = best(source_system="elsewhere")
    assert within["probability"] < plain["probability"] < across["probability"]
    assert within["explanation"][-1]["field"] == "source systems"
    assert all(item["field"] != "source systems" for item in plain["explanation"])
    # The system alone is nothing to match on.
    assert _client(steward).post(URL, {"source_system": "crm"}, format="json").status_code == 400
