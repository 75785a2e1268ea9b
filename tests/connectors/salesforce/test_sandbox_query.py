"""Salesforce sandbox SOQL: filters, ordering, relationships, COUNT() and nextRecordsUrl paging."""

from datetime import UTC, datetime, timedelta

import pytest
from simple_salesforce import SalesforceMalformedRequest, format_soql

from tests.connectors.salesforce.test_sandbox_support import connect, unique


@pytest.fixture(scope="module")
def sf(salesforce_sandbox):
    return connect(salesforce_sandbox)


@pytest.fixture(scope="module")
def tagged(sf):
    """Five accounts of this module, sharing a unique Description tag."""
    tag = unique("query")
    names = ["Delta", "alpha", "Charlie", "bravo", "Echo"]
    ids = {}
    for number, name in enumerate(names):
        ids[name] = sf.Account.create(
            {
                "Name": f"{name} {tag}",
                "Description": tag,
                "AccountNumber": str(number),
                "Industry": "Retail" if number % 2 else None,
                "BillingCity": "Leeds",
            }
        )["id"]
    return tag, ids


@pytest.fixture
def small_pages(salesforce_sandbox):
    salesforce_sandbox.control("settings", {"query_batch_size": 7})
    yield 7
    salesforce_sandbox.control("settings", {"query_batch_size": 2000})


def test_query_all_pages_through_every_account_without_repeats(sf, small_pages):
    first = sf.query("SELECT Id, Name FROM Account")
    total = first["totalSize"]
    assert total > 3 * small_pages
    assert first["done"] is False and len(first["records"]) == small_pages
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    records = sf.query_all("SELECT Id, Name FROM Account")["records"]
    ids = [record["Id"] for record in records]
    assert len(ids) == total == len(set(ids))


def test_batch_size_header_is_honoured_within_the_documented_range(salesforce_sandbox, sf):
    response = sf.query("SELECT Id FROM Contact", headers={"Sforce-Query-Options": "batchSize=5"})
    # below the documented minimum of 200, the server uses 200
    assert len(response["records"]) == min(200, response["totalSize"])


def test_where_with_and_or_in_like_and_parentheses(sf, tagged):
    tag, ids = tagged
    query = format_soql(
        "SELECT Id, Name FROM Account WHERE Description = {} AND"
        " (Name LIKE 'a%' OR AccountNumber IN ('2', '4')) AND Industry = null",
        tag,
    )
    names = {record["Name"].split()[0] for record in sf.query(query)["records"]}
    assert names == {"Charlie", "Echo"}  # alpha has Industry Retail
    assert {
        record["Id"]
        for record in sf.query(
            format_soql("SELECT Id FROM Account WHERE Description = {} AND Industry != null", tag)
        )["records"]
    } == {ids["alpha"], ids["bravo"]}


def test_order_by_limit_and_case_insensitive_equality(sf, tagged):
    tag, _ids = tagged
    records = sf.query(
        format_soql(
            "SELECT Name FROM Account WHERE Description = {} ORDER BY Name DESC LIMIT 3",
            tag.upper(),
        )
    )["records"]
    assert [record["Name"].split()[0] for record in records] == ["Echo", "Delta", "Charlie"]


def test_count_and_relationship_fields(sf, tagged):
    tag, ids = tagged
    count = sf.query(format_soql("SELECT COUNT() FROM Account WHERE Description = {}", tag))
    assert count["totalSize"] == 5
    sf.Contact.create({"LastName": "Parent", "AccountId": ids["Delta"]})
    record = sf.query(
        format_soql(
            "SELECT Id, Account.Name, Account.BillingCity FROM Contact WHERE AccountId = {}",
            ids["Delta"],
        )
    )["records"][0]
    assert record["Account"]["Name"] == f"Delta {tag}"
    assert record["Account"]["BillingCity"] == "Leeds"
    assert record["Account"]["attributes"]["type"] == "Account"
    nested = sf.query(
        format_soql(
            "SELECT Name, (SELECT LastName FROM Contacts) FROM Account WHERE Id = {}", ids["Delta"]
        )
    )["records"][0]
    assert nested["Contacts"]["records"][0]["LastName"] == "Parent"


def test_system_modstamp_comparison_finds_only_recent_changes(sf):
    before = datetime.now(UTC) - timedelta(seconds=1)
    account_id = sf.Account.create({"Name": unique("Recent")})["id"]
    recent = sf.query_all(
        format_soql(
            "SELECT Id, SystemModstamp FROM Account WHERE SystemModstamp > {}"
            " ORDER BY SystemModstamp",
            before,
        )
    )["records"]
    assert account_id in [record["Id"] for record in recent]
    seeded = sf.query("SELECT COUNT() FROM Account")["totalSize"]
    assert len(recent) < seeded
    later = sf.query("SELECT Id FROM Account WHERE LastModifiedDate >= 2999-01-01T00:00:00Z")
    assert later["totalSize"] == 0


def test_query_all_includes_deleted_records(sf):
    account_id = sf.Account.create({"Name": unique("Gone")})["id"]
    sf.Account.delete(account_id)
    query = format_soql("SELECT Id, IsDeleted FROM Account WHERE Id = {}", account_id)
    assert sf.query(query)["totalSize"] == 0
    assert sf.query_all(query, include_deleted=True)["records"][0]["IsDeleted"] is True


@pytest.mark.parametrize(
    ("soql", "code"),
    [
        ("SELECT FROM Account", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account WHERE", "MALFORMED_QUERY"),
        ("SELECT Id FROM Account LIMIT many", "MALFORMED_QUERY"),
        ("SELECT Nope__c FROM Account", "INVALID_FIELD"),
        ("SELECT Id FROM Nothing__c", "INVALID_TYPE"),
        ("SELECT Id FROM Account WHERE CreatedDate > '2024-01-01'", "INVALID_FIELD"),
    ],
)
def test_bad_queries_are_400_with_the_documented_codes(sf, soql, code):
    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.query(soql)
    assert raised.value.content[0]["errorCode"] == code
