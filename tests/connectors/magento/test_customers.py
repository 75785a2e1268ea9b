"""Customers: create, read, update, the per-website unique email and the error bodies."""

import csv
from pathlib import Path

from tests.connectors.magento.conftest import unique


def test_created_customer_has_magentos_shape(api):
    customer = api.create_customer()
    assert isinstance(customer["id"], int)
    assert customer["website_id"] == 1 and customer["group_id"] == 1
    address = customer["addresses"][0]
    assert address["street"] == ["1 High Street", "Unit 2"]
    assert address["region"] == {
        "region_code": "West Yorkshire",
        "region": "West Yorkshire",
        "region_id": 0,
    }
    assert customer["default_billing"] == str(address["id"])
    assert address["default_billing"] is True
    assert api.get(f"/V1/customers/{customer['id']}").json() == customer


def test_duplicate_email_in_the_same_website_is_refused(api):
    first = api.create_customer()
    response = api.post(
        "/V1/customers",
        {"customer": {"email": first["email"].upper(), "firstname": "Second", "lastname": "Try"}},
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": "A customer with the same email address already exists in an associated website."
    }


def test_changing_an_email_to_one_in_use_is_refused(api):
    first, second = api.create_customer(), api.create_customer()
    response = api.put(
        f"/V1/customers/{second['id']}", {"customer": {**second, "email": first["email"]}}
    )
    assert response.status_code == 400
    assert "same email address" in response.json()["message"]


def test_update_changes_fields_and_bumps_updated_at(api):
    customer = api.create_customer(
        created_at="2020-01-01 00:00:00", updated_at="2020-01-01 00:00:00"
    )
    response = api.put(f"/V1/customers/{customer['id']}", {"customer": {"lastname": "Renamed"}})
    assert response.status_code == 200
    updated = api.get(f"/V1/customers/{customer['id']}").json()
    assert updated["lastname"] == "Renamed"
    assert updated["updated_at"] > customer["updated_at"]
    assert updated["email"] == customer["email"]


def test_unknown_customer_is_a_404_with_parameters(api):
    response = api.get("/V1/customers/99999999")
    assert response.status_code == 404
    assert response.json() == {
        "message": "No such entity with %fieldName = %fieldValue",
        "parameters": {"fieldName": "customerId", "fieldValue": 99999999},
    }


def test_missing_required_field_is_a_400_naming_it(api):
    response = api.post(
        "/V1/customers", {"customer": {"email": f"{unique('x')}@example.com", "lastname": "X"}}
    )
    assert response.status_code == 400
    assert response.json() == {
        "message": '"%fieldName" is required. Enter and try again.',
        "parameters": {"fieldName": "firstname"},
    }


def test_delete_answers_true_and_the_customer_is_gone(api):
    customer = api.create_customer()
    response = api.request("DELETE", f"/V1/customers/{customer['id']}")
    assert response.status_code == 200 and response.json() is True
    assert api.get(f"/V1/customers/{customer['id']}").status_code == 404


def test_seeded_customers_are_in_the_truth_file_with_unique_emails(magento_sandbox, api):
    state_dir = Path(magento_sandbox.ca_bundle).parent.parent  # STATE_DIR/tls/ca.pem
    rows = list(csv.DictReader((state_dir / "truth.csv").open()))
    customer_rows = [row for row in rows if row["entity"] == "customer"]
    assert customer_rows and all(row["system"] == "magento" for row in rows)
    sample = customer_rows[0]
    customer = api.get(f"/V1/customers/{sample['external_id']}").json()
    assert customer["addresses"] == [] or isinstance(customer["addresses"][0]["street"], list)
    emails = [
        c["email"].casefold()
        for c in api.get("/V1/customers/search", params={"searchCriteria[pageSize]": "300"}).json()[
            "items"
        ]
    ]
    assert len(emails) == len(set(emails))
    product_rows = [row for row in rows if row["entity"] == "product"]
    assert api.get(f"/V1/products/{product_rows[0]['external_id']}").status_code == 200
