"""Kashflow sandbox: customers by Code (create, read, update, delete, duplicates, 404s)."""

import re
from datetime import datetime

from tests.connectors.kashflow.conftest import decimal_json, unique

NOT_FOUND_FIELDS = {"Error", "Message"}


def test_created_customer_is_returned_and_readable_by_its_code(api):
    code = unique("NEW")
    created = api.create_customer(
        Code=code,
        Name="Harbour Joinery Ltd",
        Email="accounts@harbourjoinery.co.uk",
        TelephoneNumber="020 7946 0000",
        Addresses=[{"Line1": "1 Quay St", "Line3": "Bristol", "PostCode": "BS1 4DJ"}],
        Contacts=[{"FirstName": "Ada", "LastName": "Quay", "Email": "ada@harbourjoinery.co.uk"}],
    )
    assert created["Code"] == code
    assert isinstance(created["Id"], int)
    assert created["Addresses"][0]["PostCode"] == "BS1 4DJ"
    assert created["Contacts"][0]["FirstName"] == "Ada"
    datetime.fromisoformat(created["CreatedDate"])
    datetime.fromisoformat(created["LastUpdatedDate"])
    fetched = api.get(f"/customers/{code}")
    assert fetched.status_code == 200
    assert decimal_json(fetched) == created
    assert api.get(f"/customers/{code.lower()}").json()["Code"] == code


def test_omitted_code_is_generated_from_the_name(api):
    first = api.create_customer(Name="Zephyr Kites Ltd")
    second = api.create_customer(Name="Zephyr Kites Ltd")
    assert re.fullmatch(r"ZEP\d{2,}", first["Code"])
    assert re.fullmatch(r"ZEP\d{2,}", second["Code"])
    assert first["Code"] != second["Code"]


def test_duplicate_code_is_a_400_with_the_documented_body(api):
    code = unique("DUP")
    api.create_customer(Code=code)
    response = api.post("/customers", {"Code": code, "Name": "Someone Else Ltd"})
    assert response.status_code == 400
    assert response.json() == {
        "Error": "DuplicateCustomerCode",
        "Message": "Customer code already exists.",
    }


def test_duplicate_code_with_create_flag_gets_a_new_code(api):
    code = unique("FLG")
    api.create_customer(Code=code)
    response = api.post(
        "/customers",
        {"Code": code, "Name": "Flagged Ltd", "CreateCustomerCodeIfDuplicate": True},
    )
    assert response.status_code == 201
    assert response.json()["Code"].startswith(code)
    assert response.json()["Code"] != code


def test_missing_name_is_a_validation_error(api):
    response = api.post("/customers", {"Code": unique("NON"), "Email": "x@example.com"})
    assert response.status_code == 400
    assert response.json()["Error"] == "ValidationError"
    assert "Name" in response.json()["Message"]


def test_update_changes_fields_and_moves_last_updated_date(api):
    customer = api.create_customer(Code=unique("UPD"), Name="Before Ltd")
    response = api.put(
        f"/customers/{customer['Code']}",
        {"Name": "After Ltd", "email": "new@after.example", "DiscountRate": 5},
    )
    assert response.status_code == 200
    fetched = decimal_json(api.get(f"/customers/{customer['Code']}"))
    assert fetched["Name"] == "After Ltd"
    assert fetched["Email"] == "new@after.example"
    assert str(fetched["DiscountRate"]) == "5.0000"
    assert fetched["CreatedDate"] == customer["CreatedDate"]
    assert fetched["LastUpdatedDate"] > customer["LastUpdatedDate"]


def test_update_to_a_taken_code_is_refused(api):
    taken = api.create_customer(Code=unique("TKN"))
    other = api.create_customer(Code=unique("OTH"))
    response = api.put(f"/customers/{other['Code']}", {"Code": taken["Code"]})
    assert response.status_code == 400
    assert response.json()["Error"] == "DuplicateCustomerCode"


def test_unknown_codes_are_404(api):
    for method in ("get", "put", "delete"):
        response = getattr(api, method)("/customers/NOSUCH999")
        assert response.status_code == 404, method
        assert set(response.json()) == NOT_FOUND_FIELDS
        assert response.json()["Error"] == "NotFound"


def test_deleted_customer_is_gone(api):
    customer = api.create_customer(Code=unique("DEL"))
    assert api.delete(f"/customers/{customer['Code']}").status_code == 204
    assert api.get(f"/customers/{customer['Code']}").status_code == 404


def test_bulk_delete_reports_the_codes_it_could_not_delete(api):
    first = api.create_customer(Code=unique("BLK"))
    second = api.create_customer(Code=unique("BLK"))
    assert api.delete("/customerlist", [first["Code"], second["Code"]]).status_code == 204
    third = api.create_customer(Code=unique("BLK"))
    response = api.delete("/customerlist", [third["Code"], "NOSUCH999"])
    assert response.status_code == 200
    assert [failure["Code"] for failure in response.json()] == ["NOSUCH999"]
    assert api.get(f"/customers/{third['Code']}").status_code == 404


def test_money_fields_are_numbers_with_four_decimal_places(api):
    customer = api.create_customer(Code=unique("MNY"))
    raw = api.get(f"/customers/{customer['Code']}").text
    assert '"OutstandingBalance":0.0000' in raw
    assert '"TotalPaidAmount":0.0000' in raw


def test_a_change_within_the_same_millisecond_still_moves_last_updated_date():
    from connectors.kashflow.sandbox.wire import timestamp, timestamp_after

    future = "2999-01-01T00:00:00.999"  # "now" is before it, as within one millisecond
    assert timestamp_after(future) == "2999-01-01T00:00:01.000"
    assert timestamp_after("2000-01-01T00:00:00.000") >= timestamp()[:19]
    assert timestamp_after("not a date") >= timestamp()[:19]
