"""False auto-merges: namesakes whose e-mail local part only spells their shared name, and
businesses that share a building and a switchboard."""

import pytest

from connectors.canonical import Address
from mdm.ingest import IngestAction, ingest_customer
from mdm.matching.profile import customer_profile
from mdm.matching.scoring import CUSTOMER_COMPARISONS, customer_levels, default_weights, score
from tests.mdm.factories import person

WEIGHTS = default_weights(CUSTOMER_COMPARISONS)


def _profile(email, first="Anthony", last="Morgan"):
    return customer_profile({"first_name": first, "last_name": last, "email": email})


def _email_level(left, right):
    level = customer_levels(_profile(left), _profile(right))["email"]
    return CUSTOMER_COMPARISONS[4].levels[level]


def _anthony(external_id, **extra):
    return person(
        system="crm",
        external_id=external_id,
        first="Anthony",
        last="Morgan",
        company_name="Brightwater Garden LLC",
        email="anthony.morgan@brightwatergarden.com",
        phone="617-555-0142",
        address=Address(["14 Elm Street"], "Boston", "MA", "02108", "US"),
        **extra,
    )


def _tony(system, external_id, **extra):
    values = {
        "first": "Tony",
        "last": "Morgan",
        "company_name": "Larkspur Pharmacy Corporation",
        "email": "anthony.morgan@larkspurpharmacy.com",
        "phone": "617-555-0199",
        "address": Address(["210 Beacon Road"], "Boston", "MA", "02116", "US"),
    }
    values.update(extra)
    return person(system=system, external_id=external_id, **values)


def test_a_local_part_that_only_spells_the_name_is_no_evidence_at_another_domain():
    assert _email_level("anthony.morgan@brightwatergarden.com", "anthony.morgan@larkspur.com") == (
        "different"
    )
    assert _email_level("amorgan@brightwatergarden.com", "amorgan@larkspur.com") == "different"


def test_other_digits_in_a_free_mail_local_part_are_another_account():
    assert _email_level("anthony.morgan92@outlook.com", "anthony.morgan55@outlook.com") == (
        "different"
    )


def test_real_email_variants_still_agree():
    assert _email_level("anthony.morgan+shop@example.com", "anthony.morgan@example.com") == "exact"
    assert _email_level("anthony.morgan@gmial.com", "anthony.morgan@gmail.com") == "close"
    assert _email_level("anthony.morgna@example.com", "anthony.morgan@example.com") == "close"
    assert _email_level("skywalker77@gmail.com", "skywalker77@yahoo.com") == "close"


def test_same_name_same_town_different_company_email_and_phone_scores_below_review():
    anthony = customer_profile(
        {
            "first_name": "Anthony",
            "last_name": "Morgan",
            "company_name": "Brightwater Garden LLC",
            "email": "anthony.morgan@brightwatergarden.com",
            "billing_city": "Boston",
            "billing_country": "US",
        }
    )
    tony = customer_profile(
        {
            "first_name": "Tony",
            "last_name": "Morgan",
            "company_name": "Larkspur Pharmacy Corporation",
            "email": "anthony.morgan@larkspurpharmacy.com",
            "billing_city": "Boston",
            "billing_country": "US",
        }
    )
    probability, explanation = score(customer_levels(anthony, tony), WEIGHTS, CUSTOMER_COMPARISONS)
    assert probability < 0.01
    assert {"field": "email", "level": "different", "weight": -3.84} in explanation


@pytest.mark.django_db
def test_same_name_same_town_different_company_email_and_phone_is_not_merged():
    first = ingest_customer(_anthony("1"))
    second = ingest_customer(_tony("shop", "7"))
    assert second.action == IngestAction.CREATED
    assert second.golden_id != first.golden_id


@pytest.mark.django_db
def test_a_sparse_record_joins_the_namesake_whose_mailbox_it_shares_not_the_other():
    anthony = ingest_customer(_anthony("1"))
    tony = ingest_customer(_tony("crm", "2"))
    # Only a name and a mailbox at Tony's employer: it is Tony, never a bridge to Anthony.
    sparse = ingest_customer(
        _tony("web", "3", company_name="", phone="", address=Address(), first="Anthony")
    )
    assert sparse.golden_id == tony.golden_id != anthony.golden_id


def _restaurant(system, external_id, name):
    # A hotel's restaurants: one street address and the hotel's switchboard, no contact names.
    return person(
        system=system,
        external_id=external_id,
        first="",
        last="",
        company_name=name,
        phone="404/237-2700",
        address=Address(["3434 Peachtree Rd."], "Atlanta", "", "", ""),
    )


@pytest.mark.django_db
def test_two_restaurants_of_one_hotel_are_sent_to_review_not_merged():
    from mdm.models import ReviewStatus, ReviewTask

    cafe = ingest_customer(_restaurant("guide", "623", "Cafe Ritz-Carlton Buckhead"))
    dining_room = ingest_customer(_restaurant("guide", "624", "Dining Room Ritz-Carlton Buckhead"))
    assert dining_room.golden_id != cafe.golden_id
    task = ReviewTask.objects.get(status=ReviewStatus.OPEN)
    assert {task.left_id, task.right_id} == {cafe.golden_id, dining_room.golden_id}
    # The cafe as the other guide writes it is the cafe.
    same_cafe = ingest_customer(_restaurant("zagat", "308", "Ritz-Carlton Cafe (Buckhead)"))
    assert same_cafe.golden_id == cafe.golden_id
