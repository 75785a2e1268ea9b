"""Orders placed through the checkout control API, then invoiced, shipped and refunded."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.connectors.magento.conftest import criteria


@pytest.fixture
def product(api):
    return api.create_product(price=10.0, qty=50)


def test_checkout_builds_an_order_with_catalog_prices_and_tax(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 2}], pay=True)
    assert order["increment_id"].isdigit() and len(order["increment_id"]) == 9
    assert order["state"] == "processing" and order["status"] == "processing"
    item = order["items"][0]
    assert (item["sku"], item["qty_ordered"], item["price"]) == (product["sku"], 2, 10.0)
    assert item["row_total"] == 20.0 and item["tax_amount"] == 4.0 and item["tax_percent"] == 20
    assert order["subtotal"] == 20.0 and order["tax_amount"] == 4.0
    assert order["shipping_amount"] == 5.0 and order["grand_total"] == 29.0
    assert order["billing_address"]["street"] == ["1 High Street", "Unit 2"]
    assert order["billing_address"]["address_type"] == "billing"
    payment = order["payment"]
    assert payment["method"] == "braintree" and payment["amount_paid"] == 29.0
    assert payment["last_trans_id"]
    assert order["total_paid"] == 29.0 and order["total_due"] == 0
    shipping = order["extension_attributes"]["shipping_assignments"][0]["shipping"]
    assert shipping["address"]["address_type"] == "shipping"
    assert "shipping_address" not in order
    fetched = api.get(f"/V1/orders/{order['entity_id']}").json()
    assert fetched["increment_id"] == order["increment_id"]
    invoices = api.get(
        "/V1/invoices", params=criteria([("order_id", str(order["entity_id"]), "eq")])
    ).json()
    assert invoices["total_count"] == 1 and invoices["items"][0]["state"] == 2


def test_unpaid_checkout_is_pending_until_invoiced(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 1}], pay=False, method="checkmo")
    assert (order["state"], order["status"]) == ("new", "pending")
    assert "total_paid" not in order and "last_trans_id" not in order["payment"]
    response = api.post(f"/V1/order/{order['entity_id']}/invoice", {"capture": True})
    assert response.status_code == 200 and isinstance(response.json(), int)
    invoice = api.get(f"/V1/invoices/{response.json()}").json()
    assert invoice["order_id"] == order["entity_id"] and invoice["grand_total"] == 17.0
    assert invoice["items"][0]["sku"] == product["sku"]
    paid = api.get(f"/V1/orders/{order['entity_id']}").json()
    assert paid["state"] == "processing" and paid["total_paid"] == 17.0
    assert paid["updated_at"] >= order["updated_at"]
    again = api.post(f"/V1/order/{order['entity_id']}/invoice", {"capture": True})
    assert again.status_code == 400
    assert again.json()["message"] == "The order does not allow an invoice to be created."


def test_guest_checkout_needs_no_account(api, product):
    order = api.place_order(
        [{"sku": product["sku"], "qty": 1}],
        customer={"email": "guest@example.com", "firstname": "Gus", "lastname": "Guest"},
        billing_address={
            "street": "9 Side Road",
            "city": "Bristol",
            "postcode": "BS1 4ST",
            "country_id": "GB",
        },
    )
    assert order["customer_is_guest"] == 1 and "customer_id" not in order
    assert order["billing_address"]["street"] == ["9 Side Road"]


def test_negative_quantity_is_rejected_unless_allow_invalid(api, product, control):
    payload = {
        "customer": {"id": api.create_customer()["id"]},
        "items": [{"sku": product["sku"], "qty": -2}],
        "payment": {"method": "checkmo", "pay": False},
    }
    refused = control("orders", payload)
    assert refused.status_code == 400
    assert "qty must be a positive number" in refused.json()["message"]
    accepted = control("orders", {**payload, "allow_invalid": True})
    assert accepted.status_code == 201
    assert accepted.json()["items"][0]["qty_ordered"] == -2


def test_checkout_refuses_more_than_the_salable_quantity(api, control):
    scarce = api.create_product(qty=1)
    response = control(
        "orders",
        {
            "customer": {"id": api.create_customer()["id"]},
            "items": [{"sku": scarce["sku"], "qty": 2}],
        },
    )
    assert response.status_code == 400
    assert "requested qty is not available" in response.json()["message"]


def test_shipping_a_paid_order_completes_it(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 1}])
    shipment_id = api.post(
        f"/V1/order/{order['entity_id']}/ship",
        {"tracks": [{"track_number": "TRK1", "title": "Royal Mail", "carrier_code": "custom"}]},
    ).json()
    shipment = api.get(f"/V1/shipment/{shipment_id}").json()
    assert shipment["tracks"][0]["track_number"] == "TRK1"
    assert api.get(f"/V1/orders/{order['entity_id']}").json()["state"] == "complete"


def test_partial_refund_creates_a_credit_memo_and_full_refund_closes_the_order(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 2}])
    item_id = order["items"][0]["item_id"]
    memo_id = api.post(
        f"/V1/order/{order['entity_id']}/refund",
        {"items": [{"order_item_id": item_id, "qty": 1}], "arguments": {"shipping_amount": 0}},
    ).json()
    memo = api.get(f"/V1/creditmemo/{memo_id}").json()
    assert memo["order_id"] == order["entity_id"] and memo["state"] == 2
    assert memo["grand_total"] == 12.0
    assert memo["items"][0]["qty"] == 1 and memo["items"][0]["order_item_id"] == item_id
    partly = api.get(f"/V1/orders/{order['entity_id']}").json()
    assert partly["total_refunded"] == 12.0 and partly["state"] == "processing"
    assert partly["items"][0]["qty_refunded"] == 1
    api.post(f"/V1/order/{order['entity_id']}/refund", {})
    closed = api.get(f"/V1/orders/{order['entity_id']}").json()
    assert closed["state"] == "closed" and closed["total_refunded"] == 29.0
    memos = api.get(
        "/V1/creditmemos", params=criteria([("order_id", str(order["entity_id"]), "eq")])
    ).json()
    assert memos["total_count"] == 2


def test_refunding_more_than_was_paid_is_a_credit_memo_validation_error(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 1}], pay=False, method="braintree")
    response = api.post(f"/V1/order/{order['entity_id']}/refund", {})
    assert response.status_code == 400
    assert response.json() == {
        "message": "Creditmemo Document Validation Error(s):\n"
        "We can't create creditmemo for the order.\nThe most money available to refund is 0."
    }
    paid = api.place_order([{"sku": product["sku"], "qty": 1}])
    too_much = api.post(
        f"/V1/order/{paid['entity_id']}/refund",
        {"items": [{"order_item_id": paid["items"][0]["item_id"], "qty": 5}]},
    )
    assert too_much.status_code == 400
    assert too_much.json()["message"].startswith("Creditmemo Document Validation Error(s):")


def test_online_refund_by_invoice_and_return_to_stock(api):
    product = api.create_product(price=10, qty=10)
    order = api.place_order([{"sku": product["sku"], "qty": 2}])
    api.post(f"/V1/order/{order['entity_id']}/ship", {})
    invoice = api.get(
        "/V1/invoices", params=criteria([("order_id", str(order["entity_id"]), "eq")])
    ).json()["items"][0]
    memo_id = api.post(
        f"/V1/invoice/{invoice['entity_id']}/refund",
        {
            "isOnline": True,
            "arguments": {
                "extension_attributes": {"return_to_stock_items": [order["items"][0]["item_id"]]}
            },
        },
    ).json()
    refunded = api.get(f"/V1/orders/{order['entity_id']}").json()
    assert refunded["total_online_refunded"] == 29.0
    assert api.get(f"/V1/creditmemo/{memo_id}").json()["invoice_id"] == invoice["entity_id"]
    assert api.get(f"/V1/stockItems/{product['sku']}").json()["qty"] == 10
    transactions = api.get(
        "/V1/transactions", params=criteria([("order_id", str(order["entity_id"]), "eq")])
    ).json()
    assert [t["txn_type"] for t in transactions["items"]] == ["capture", "refund"]


def test_cancel_hold_and_comments(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 1}], pay=False, method="checkmo")
    order_path = f"/V1/orders/{order['entity_id']}"
    assert api.post(f"{order_path}/comments", {"statusHistory": {"comment": "Call first"}}).json()
    comments = api.get(f"{order_path}/comments").json()
    assert comments["items"][0]["comment"] == "Call first"
    assert api.post(f"{order_path}/hold").json() is True
    assert api.get(f"{order_path}/statuses").json() == "holded"
    assert api.post(f"{order_path}/unhold").json() is True
    assert api.post(f"{order_path}/cancel").json() is True
    assert api.get(order_path).json()["state"] == "canceled"
    paid = api.place_order([{"sku": product["sku"], "qty": 1}])
    assert api.post(f"/V1/orders/{paid['entity_id']}/cancel").json() is False


def test_unknown_order_is_a_404(api):
    response = api.get("/V1/orders/99999999")
    assert response.status_code == 404
    assert response.json() == {
        "message": "The entity that was requested doesn't exist. Verify the entity and try again."
    }


def test_orders_filter_by_updated_at_for_polling(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 1}])
    params = criteria(
        [("updated_at", order["updated_at"], "gteq")],
        [("increment_id", order["increment_id"], "eq")],
    )
    found = api.get("/V1/orders", params=params).json()
    assert [o["increment_id"] for o in found["items"]] == [order["increment_id"]]


def test_order_items_are_searchable_on_their_own(api, product):
    order = api.place_order([{"sku": product["sku"], "qty": 3}])
    items = api.get("/V1/orders/items", params=criteria([("sku", product["sku"], "eq")])).json()
    assert [item["order_id"] for item in items["items"]] == [order["entity_id"]]
    item_id = items["items"][0]["item_id"]
    assert api.get(f"/V1/orders/items/{item_id}").json()["qty_ordered"] == 3


def test_concurrent_checkouts_get_distinct_increment_ids(api, product):
    customer = {"id": api.create_customer()["id"]}
    with ThreadPoolExecutor(max_workers=6) as pool:
        orders = list(
            pool.map(
                lambda _: api.place_order([{"sku": product["sku"], "qty": 1}], customer=customer),
                range(6),
            )
        )
    assert len({order["increment_id"] for order in orders}) == 6
    assert api.get(f"/V1/inventory/get-product-salable-quantity/{product['sku']}/1").json() == 44
