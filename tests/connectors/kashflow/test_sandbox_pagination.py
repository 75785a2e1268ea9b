"""Kashflow sandbox: the Data + MetaData envelope, page URLs, sorting and filtering."""

import re

from tests.connectors.kashflow.conftest import decimal_json, unique


def walk(api, first_path: str) -> tuple[list[dict], list[dict]]:
    """Follows NextPageUrl from the first page; returns (records, metadata of each page)."""
    records, metadata, path = [], [], first_path
    while path:
        response = api.get(path)
        assert response.status_code == 200, response.text
        page = decimal_json(response)
        records += page["Data"]
        metadata.append(page["MetaData"])
        path = page["MetaData"]["NextPageUrl"]
        assert len(metadata) < 100, "NextPageUrl never ran out"
    return records, metadata


def test_paging_visits_every_customer_once_in_code_order(api, truth_rows):
    records, metadata = walk(api, "/customers?page=1&perpage=7&sortby=Code&order=Asc")
    codes = [record["Code"] for record in records]
    assert len(codes) == len(set(codes))
    assert len(codes) == metadata[0]["TotalRecords"]
    assert codes == sorted(codes)
    seeded = {row["external_id"] for row in truth_rows if row["entity"] == "customer"}
    assert seeded <= set(codes)
    assert len(metadata) == -(-len(codes) // 7)


def test_metadata_links_first_last_previous_and_next_pages(api):
    first = api.get("/customers?perpage=5").json()["MetaData"]
    assert first["PreviousPageUrl"] is None
    assert first["FirstPageUrl"] == "/customers?page=1&perpage=5&sortby=Code&order=Asc"
    assert first["NextPageUrl"] == "/customers?page=2&perpage=5&sortby=Code&order=Asc"
    last = api.get(first["LastPageUrl"]).json()
    assert last["MetaData"]["NextPageUrl"] is None
    assert last["MetaData"]["PreviousPageUrl"] is not None
    assert 1 <= len(last["Data"]) <= 5


def test_descending_order_reverses_the_listing(api):
    ascending, _ = walk(api, "/customers?perpage=50&sortby=Name&order=Asc")
    descending, _ = walk(api, "/customers?perpage=50&sortby=Name&order=Desc")
    assert [c["Code"] for c in descending] == [c["Code"] for c in reversed(ascending)]
    names = [c["Name"].upper() for c in ascending]
    assert names == sorted(names)


def test_a_customer_added_between_pages_is_not_lost_by_a_stable_sort(api):
    first = api.get("/customers?perpage=10&sortby=Code").json()
    # A code sorting after everything on page 1 must show up on a later page, once.
    late = api.create_customer(Code="ZZZ" + unique(""))
    records, _ = walk(api, first["MetaData"]["NextPageUrl"])
    codes = [c["Code"] for c in first["Data"]] + [c["Code"] for c in records]
    assert codes.count(late["Code"]) == 1
    assert len(codes) == len(set(codes))


def test_perpage_above_the_maximum_is_clamped(api, sandbox_settings):
    sandbox_settings(max_per_page=4)
    page = api.get("/customers?perpage=500").json()
    assert len(page["Data"]) == 4
    assert "perpage=4" in page["MetaData"]["NextPageUrl"]


def test_page_past_the_end_is_empty(api):
    page = api.get("/customers?page=999&perpage=50").json()
    assert page["Data"] == []
    assert page["MetaData"]["NextPageUrl"] is None


def test_bad_paging_parameters_are_validation_errors(api):
    for query in ("sortby=Colour", "page=0", "perpage=lots", "order=Sideways"):
        response = api.get(f"/customers?{query}")
        assert response.status_code == 400, query
        assert response.json()["Error"] == "ValidationError"


def test_filterby_keeps_matching_customers_and_stays_in_the_page_urls(api):
    marker = unique("Quokka")
    api.create_customer(Name=f"{marker} Supplies Ltd")
    api.create_customer(Name=f"{marker} Traders Ltd")
    page = api.get(f"/customers?filterby={marker}&perpage=1").json()
    assert page["MetaData"]["TotalRecords"] == 2
    assert all(marker in c["Name"] for c in page["Data"])
    assert f"filterby={marker}" in page["MetaData"]["NextPageUrl"]


def test_invoice_lists_are_summaries_sorted_by_number(api):
    records, metadata = walk(api, "/invoices?perpage=25")
    numbers = [invoice["Number"] for invoice in records]
    assert numbers == sorted(numbers)
    assert len(numbers) == metadata[0]["TotalRecords"] > 0
    assert all(invoice["LineItems"] is None for invoice in records)
    assert all(invoice["PaymentLines"] is None for invoice in records)
    assert all(invoice["Currency"] is None for invoice in records)
    assert all(re.fullmatch(r"Unpaid|Overdue|Paid", invoice["Status"]) for invoice in records)
