"""searchCriteria over real HTTPS: filters, groups, sorting, paging, the envelope, the quirks."""

import math

import pytest

from tests.connectors.magento.conftest import criteria, unique


@pytest.fixture
def three_products(api):
    """Three products sharing a fresh name prefix, priced 10, 20 and 30."""
    prefix = unique("Lamp")
    products = [api.create_product(price=price, name=f"{prefix} {price}") for price in (10, 20, 30)]
    return prefix, products


def names(response):
    return [item["name"] for item in response.json()["items"]]


def test_like_filter_sorting_and_the_envelope(api, three_products):
    prefix, _ = three_products
    params = criteria(
        [("name", f"{prefix}%", "like")], sort=[("price", "DESC")], page_size=10, page=1
    )
    response = api.get("/V1/products", params=params)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "search_criteria", "total_count"}
    assert body["total_count"] == 3
    assert names(response) == [f"{prefix} 30", f"{prefix} 20", f"{prefix} 10"]
    assert body["search_criteria"] == {
        "filter_groups": [
            {"filters": [{"field": "name", "value": f"{prefix}%", "condition_type": "like"}]}
        ],
        "sort_orders": [{"field": "price", "direction": "DESC"}],
        "page_size": 10,
        "current_page": 1,
    }


def test_filters_in_a_group_are_ored_and_groups_are_anded(api, three_products):
    prefix, _ = three_products
    params = criteria(
        [("price", "10", "eq"), ("price", "30", "eq")],
        [("name", f"{prefix}%", "like")],
        sort=[("price", "ASC")],
    )
    assert names(api.get("/V1/products", params=params)) == [f"{prefix} 10", f"{prefix} 30"]


@pytest.mark.parametrize(
    ("condition", "value", "expected_prices"),
    [
        ("neq", "20", [10, 30]),
        ("gt", "10", [20, 30]),
        ("gteq", "20", [20, 30]),
        ("lt", "20", [10]),
        ("lteq", "20", [10, 20]),
        ("in", "10,30", [10, 30]),
        ("nin", "10,30", [20]),
        ("from", "20", [20, 30]),
        ("to", "20", [10, 20]),
    ],
)
def test_condition_types_compare_numbers_numerically(
    api, three_products, condition, value, expected_prices
):
    prefix, _ = three_products
    params = criteria(
        [("price", value, condition)], [("name", f"{prefix}%", "like")], sort=[("price", "ASC")]
    )
    response = api.get("/V1/products", params=params)
    assert [item["price"] for item in response.json()["items"]] == expected_prices


def test_from_and_to_in_separate_groups_make_a_range(api, three_products):
    prefix, _ = three_products
    params = criteria(
        [("price", "15", "from")], [("price", "25", "to")], [("name", f"{prefix}%", "like")]
    )
    assert names(api.get("/V1/products", params=params)) == [f"{prefix} 20"]


def test_null_and_notnull_look_at_whether_a_field_is_set(api):
    domain = f"{unique('null')}.example.com"
    with_vat = api.create_customer(email=f"a@{domain}", taxvat="GB123456789")
    without_vat = api.create_customer(email=f"b@{domain}")
    mine = ("email", f"%@{domain}", "like")
    notnull = api.get("/V1/customers/search", params=criteria([mine], [("taxvat", "", "notnull")]))
    null = api.get("/V1/customers/search", params=criteria([mine], [("taxvat", "", "null")]))
    assert [c["id"] for c in notnull.json()["items"]] == [with_vat["id"]]
    assert [c["id"] for c in null.json()["items"]] == [without_vat["id"]]


def test_text_equality_ignores_case_like_mysql(api):
    customer = api.create_customer(email=f"{unique('Case')}@Example.com")
    params = criteria([("email", customer["email"].upper(), "eq")])
    found = api.get("/V1/customers/search", params=params).json()
    assert [c["id"] for c in found["items"]] == [customer["id"]]


def test_paging_and_a_page_past_the_end_repeats_the_last_page(api, three_products):
    prefix, _ = three_products
    mine = [("name", f"{prefix}%", "like")]

    def page(number):
        return api.get(
            "/V1/products",
            params=criteria(mine, sort=[("price", "ASC")], page_size=2, page=number),
        )

    assert names(page(1)) == [f"{prefix} 10", f"{prefix} 20"]
    assert names(page(2)) == [f"{prefix} 30"]
    past_the_end = page(7)
    assert names(past_the_end) == [f"{prefix} 30"], "Magento repeats the last page"
    assert past_the_end.json()["total_count"] == 3
    assert past_the_end.json()["search_criteria"]["current_page"] == 7
    assert names(page(0)) == names(page(1))


def test_customer_and_order_lists_repeat_the_last_page_too(api):
    for path in ("/V1/customers/search", "/V1/orders"):
        first = api.get(path, params=criteria(page_size=2, page=1)).json()
        last_page = math.ceil(first["total_count"] / 2)
        last = api.get(path, params=criteria(page_size=2, page=last_page)).json()
        beyond = api.get(path, params=criteria(page_size=2, page=last_page + 3)).json()
        assert first["total_count"] > 2
        assert beyond["items"] == last["items"] != []


def test_a_client_stopping_at_total_count_reads_every_record_once(api):
    seen, page = [], 1
    while True:
        body = api.get("/V1/customers/search", params=criteria(page_size=7, page=page)).json()
        seen += [customer["id"] for customer in body["items"]]
        if page * 7 >= body["total_count"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == body["total_count"]


def test_products_list_without_search_criteria_is_a_400(api):
    response = api.get("/V1/products")
    assert response.status_code == 400
    assert response.json() == {
        "message": "%fieldName is a required field.",
        "parameters": {"fieldName": "searchCriteria"},
    }


def test_page_size_above_the_input_limit_is_refused(api):
    response = api.get("/V1/customers/search", params=criteria(page_size=301))
    assert response.status_code == 400
    assert response.json() == {
        "message": "Maximum SearchCriteria pageSize is %max",
        "parameters": {"max": 300},
    }


def test_missing_page_size_means_the_default_page_of_twenty(api, control):
    body = api.get("/V1/customers/search", params=criteria()).json()
    assert body["total_count"] > 20 and len(body["items"]) == 20
    control("config", {"input_limits": False})
    try:
        body = api.get("/V1/customers/search", params=criteria()).json()
        assert len(body["items"]) == body["total_count"]
    finally:
        control("config", {"input_limits": True})


def test_a_non_numeric_page_size_is_a_type_error(api):
    response = api.get("/V1/orders", params=[("searchCriteria[pageSize]", "ten")])
    assert response.status_code == 400
    assert response.json()["parameters"] == ["ten", "int"]
