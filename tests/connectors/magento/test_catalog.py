"""Products by SKU, legacy stock items, MSI source items and their input limit."""

from tests.connectors.magento.conftest import criteria, unique


def test_product_by_sku_has_magentos_shape(api):
    product = api.create_product(price=12.5, qty=7)
    fetched = api.get(f"/V1/products/{product['sku']}").json()
    assert fetched["sku"] == product["sku"] and fetched["price"] == 12.5
    assert fetched["type_id"] == "simple" and fetched["attribute_set_id"] == 4
    assert fetched["status"] == 1 and fetched["visibility"] == 4
    stock_item = fetched["extension_attributes"]["stock_item"]
    assert stock_item["qty"] == 7 and stock_item["is_in_stock"] is True
    codes = {attribute["attribute_code"] for attribute in fetched["custom_attributes"]}
    assert {"url_key", "tax_class_id"} <= codes


def test_put_by_sku_updates_and_post_with_a_known_sku_upserts(api):
    product = api.create_product(price=5)
    put = api.put(f"/V1/products/{product['sku']}", {"product": {"price": 6.25}})
    assert put.status_code == 200 and put.json()["price"] == 6.25
    post = api.post(
        "/V1/products", {"product": {"sku": product["sku"], "name": "Renamed", "price": 7}}
    )
    assert post.status_code == 200
    assert post.json()["id"] == product["id"]
    assert api.get(f"/V1/products/{product['sku']}").json()["name"] == "Renamed"


def test_skus_are_url_encoded_in_paths(api):
    product = api.create_product(sku=unique("A B+C"))
    encoded = product["sku"].replace(" ", "%20").replace("+", "%2B")
    assert api.get(f"/V1/products/{encoded}").json()["id"] == product["id"]


def test_unknown_sku_is_a_404_with_the_product_message(api):
    response = api.get("/V1/products/NO-SUCH-SKU-123")
    assert response.status_code == 404
    assert response.json() == {
        "message": "The product that was requested doesn't exist. Verify the product and try again."
    }


def test_duplicate_url_key_is_refused(api):
    first = api.create_product()
    key = next(a["value"] for a in first["custom_attributes"] if a["attribute_code"] == "url_key")
    response = api.post(
        "/V1/products",
        {
            "product": {
                "sku": unique("DUP"),
                "name": "Other",
                "price": 1,
                "custom_attributes": [{"attribute_code": "url_key", "value": key}],
            }
        },
    )
    assert response.status_code == 400
    assert response.json() == {"message": "URL key for specified store already exists."}


def test_stock_item_put_changes_quantity_seen_everywhere(api):
    product = api.create_product(qty=3)
    item = api.get(f"/V1/stockItems/{product['sku']}").json()
    response = api.put(
        f"/V1/products/{product['sku']}/stockItems/{item['item_id']}",
        {"stockItem": {"qty": 42, "is_in_stock": True}},
    )
    assert response.status_code == 200 and response.json() == item["item_id"]
    assert api.get(f"/V1/stockItems/{product['sku']}").json()["qty"] == 42
    sources = api.get(
        "/V1/inventory/source-items", params=criteria([("sku", product["sku"], "eq")])
    ).json()
    assert sources["items"] == [
        {"sku": product["sku"], "source_code": "default", "quantity": 42, "status": 1}
    ]


def test_source_items_post_sets_quantities_and_answers_an_empty_list(api):
    product = api.create_product(qty=1)
    response = api.post(
        "/V1/inventory/source-items",
        {
            "sourceItems": [
                {"sku": product["sku"], "source_code": "default", "quantity": 9, "status": 1}
            ]
        },
    )
    assert response.status_code == 200 and response.json() == []
    assert api.get(f"/V1/stockItems/{product['sku']}").json()["qty"] == 9


def test_source_items_above_the_input_list_limit_are_refused(api, control):
    product = api.create_product()
    items = [
        {"sku": product["sku"], "source_code": "default", "quantity": n, "status": 1}
        for n in range(21)
    ]
    response = api.post("/V1/inventory/source-items", {"sourceItems": items})
    assert response.status_code == 400
    assert response.json() == {
        "message": 'Maximum items of type "%type" is %max',
        "parameters": {
            "type": "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface",
            "max": 20,
        },
    }
    assert api.post("/V1/inventory/source-items", {"sourceItems": items[:20]}).status_code == 200
    control("config", {"input_limits": False})
    try:
        assert api.post("/V1/inventory/source-items", {"sourceItems": items}).status_code == 200
    finally:
        control("config", {"input_limits": True})


def test_source_item_for_an_unknown_source_fails_validation(api):
    product = api.create_product()
    response = api.post(
        "/V1/inventory/source-items",
        {"sourceItems": [{"sku": product["sku"], "source_code": "mars", "quantity": 1}]},
    )
    assert response.status_code == 400
    assert response.json()["message"] == "Validation Failed"
    assert response.json()["errors"][0]["parameters"] == ["mars"]


def test_open_orders_reserve_salable_quantity_and_shipping_deducts_stock(api):
    product = api.create_product(qty=10)
    sku = product["sku"]
    order = api.place_order([{"sku": sku, "qty": 3}])
    assert api.get(f"/V1/inventory/get-product-salable-quantity/{sku}/1").json() == 7
    assert api.get(f"/V1/stockItems/{sku}").json()["qty"] == 10
    assert api.post(f"/V1/order/{order['entity_id']}/ship", {}).status_code == 200
    assert api.get(f"/V1/stockItems/{sku}").json()["qty"] == 7
    assert api.get(f"/V1/inventory/get-product-salable-quantity/{sku}/1").json() == 7
