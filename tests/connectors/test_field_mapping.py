"""Field mappings: safe transform steps, validation on save, defaults and application."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from connectors.canonical import Customer
from connectors.field_mapping import apply_field_mappings, read_path, run_steps, validate_steps
from connectors.models import Connection, ConnectionKind, FieldMapping

RECORD = {
    "Industry": "  Retail ",
    "Founded": "03/04/2011",
    "FirstName": "Ada",
    "LastName": "Lovelace",
    "Tags": "gold, wholesale",
    "CustomTextBoxes": [{"Name": "Region", "Value": "North"}, {"Name": "Rep", "Value": "Sam"}],
    "addresses": [{"street": ["1 High St"]}],
    "tier": "B",
}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("Industry", "  Retail "),
        ("CustomTextBoxes[Name=Region].Value", "North"),
        ("addresses[0].street[0]", "1 High St"),
        ("addresses[3].street", None),
        ("Missing.deeper", None),
    ],
)
def test_read_path(path, expected):
    assert read_path(RECORD, path) == expected


@pytest.mark.parametrize(
    ("start", "steps", "expected"),
    [
        ("  Retail ", [{"op": "trim"}, {"op": "case", "mode": "upper"}], "RETAIL"),
        ("03/04/2011", [{"op": "date_format", "from": "%d/%m/%Y", "to": "%Y-%m-%d"}], "2011-04-03"),
        (
            None,
            [{"op": "concat", "paths": ["FirstName", "LastName"], "separator": " "}],
            "Ada Lovelace",
        ),
        ("gold, wholesale", [{"op": "split", "separator": ",", "index": 1}], "wholesale"),
        ("B", [{"op": "lookup", "table": {"A": "Gold", "B": "Silver"}}], "Silver"),
        ("Z", [{"op": "lookup", "table": {"A": "Gold"}, "default": "Other"}], "Other"),
        ("", [{"op": "default", "value": "n/a"}], "n/a"),
    ],
)
def test_each_step(start, steps, expected):
    validate_steps(steps)
    assert run_steps(start, steps, RECORD) == expected


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        ([{"op": "eval", "code": "1+1"}], "op must be one of"),
        ([{"op": "case"}], "missing mode"),
        ([{"op": "case", "mode": "sideways"}], "upper, lower or title"),
        ([{"op": "trim", "extra": 1}], "unknown extra"),
        ([{"op": "split", "separator": ",", "index": "1"}], "whole number"),
        ([{"op": "date_format", "from": "dd/mm", "to": "%Y"}], "strftime"),
        ({"op": "trim"}, "must be a list"),
    ],
)
def test_unsafe_or_incomplete_steps_are_refused(steps, message):
    with pytest.raises(ValidationError, match=message):
        validate_steps(steps)


@pytest.fixture
def connection(db) -> Connection:
    return Connection.objects.create(
        name="sf", kind=ConnectionKind.SALESFORCE, base_url="https://login.example.com"
    )


def test_model_validation_names_each_bad_field(connection):
    mapping = FieldMapping(
        connection=connection,
        entity="customer",
        source_path="Bad Path!",
        target_attribute="Not Valid",
        transforms=[{"op": "nope"}],
    )
    with pytest.raises(ValidationError) as caught:
        mapping.full_clean()
    assert set(caught.value.message_dict) == {"source_path", "target_attribute", "transforms"}


def test_mappings_fill_custom_attributes_and_report_failures(connection):
    FieldMapping.objects.create(
        connection=connection,
        entity="customer",
        source_path="Industry",
        target_attribute="industry",
        transforms=[{"op": "trim"}],
    )
    FieldMapping.objects.create(
        connection=connection,
        entity="customer",
        source_path="FirstName",
        target_attribute="founded",
        transforms=[{"op": "date_format", "from": "%d/%m/%Y", "to": "%Y"}],
    )
    FieldMapping.objects.create(
        connection=connection, entity="product", source_path="tier", target_attribute="tier"
    )
    record = Customer(source_system="salesforce", external_id="001")
    apply_field_mappings(connection, "customer", RECORD, record)
    assert record.custom_attributes["industry"] == "Retail"
    assert "tier" not in record.custom_attributes  # a product mapping
    assert record.custom_attributes["_mapping_errors"][0].startswith("founded:")


def test_admin_refuses_an_invalid_mapping_and_adds_defaults(client, operator, connection):
    client.force_login(operator)
    url = reverse("admin:connectors_connection_change", args=[connection.pk])
    data = {
        "name": "sf",
        "kind": "salesforce",
        "base_url": "https://login.example.com",
        "enabled": "on",
        "options": "{}",
        "field_mappings-TOTAL_FORMS": "1",
        "field_mappings-INITIAL_FORMS": "0",
        "field_mappings-0-entity": "customer",
        "field_mappings-0-source_path": "Industry",
        "field_mappings-0-target_attribute": "industry",
        "field_mappings-0-transforms": '[{"op": "shell", "cmd": "rm"}]',
        "field_mappings-0-enabled": "on",
        "field_mappings-0-position": "0",
    }
    response = client.post(url, data)
    assert response.status_code == 200
    assert "op must be one of" in response.content.decode()
    assert not FieldMapping.objects.exists()

    response = client.post(
        reverse("admin:connectors_connection_changelist"),
        {"action": "add_default_field_mappings", "_selected_action": [connection.pk]},
    )
    assert response.status_code == 302
    targets = set(connection.field_mappings.values_list("target_attribute", flat=True))
    assert {"industry", "website", "product_family"} <= targets
