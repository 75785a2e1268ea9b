"""Signed Adobe Commerce webhooks reach a subscriber, and redelivery replays them."""

import base64
import time
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

from connectors.sandbox.tls import ensure_tls
from tests.connectors.magento.conftest import WebhookReceiver

SIGNATURE = "x-adobe-commerce-webhook-signature"


def verify(public_key_pem: str, request: dict) -> None:
    """Raises InvalidSignature unless the body was signed by the sandbox's private key."""
    key = serialization.load_pem_public_key(public_key_pem.encode())
    signature = base64.b64decode(request["headers"][SIGNATURE])
    key.verify(signature, request["body"], padding.PKCS1v15(), hashes.SHA256())


def for_order(increment_id: str, event_name: str):
    return lambda event: (
        event["eventName"] == event_name
        and event["data"].get("order", {}).get("increment_id") == increment_id
    )


def test_order_placed_webhook_is_signed_with_the_published_key(api, webhooks, magento_sandbox):
    product = api.create_product()
    order = api.place_order([{"sku": product["sku"], "qty": 1}])
    events = webhooks.wait_for(for_order(order["increment_id"], "observer.sales_order_place_after"))
    assert len(events) == 1
    event = events[0]
    assert set(event) - {"_request"} == {"eventName", "data"}
    assert event["data"]["order"]["items"][0]["sku"] == product["sku"]
    request = event["_request"]
    assert request["headers"]["content-type"] == "application/json"
    verify(magento_sandbox.endpoints["webhook_public_key"], request)
    tampered = {**request, "body": request["body"].replace(b"sku", b"SKU")}
    with pytest.raises(InvalidSignature):
        verify(magento_sandbox.endpoints["webhook_public_key"], tampered)


def test_invoicing_sends_order_updated(api, webhooks):
    product = api.create_product()
    order = api.place_order([{"sku": product["sku"], "qty": 1}], pay=False, method="checkmo")
    api.post(f"/V1/order/{order['entity_id']}/invoice", {"capture": True})
    events = webhooks.wait_for(for_order(order["increment_id"], "observer.sales_order_save_after"))
    assert events[-1]["data"]["order"]["state"] == "processing"


def test_refund_sends_credit_memo_created(api, webhooks):
    product = api.create_product()
    order = api.place_order([{"sku": product["sku"], "qty": 1}])
    memo_id = api.post(f"/V1/order/{order['entity_id']}/refund", {}).json()
    events = webhooks.wait_for(
        lambda event: (
            event["eventName"] == "observer.sales_order_creditmemo_save_after"
            and event["data"]["creditmemo"]["entity_id"] == memo_id
        )
    )
    assert events[0]["data"]["creditmemo"]["order_id"] == order["entity_id"]


def test_customer_product_and_stock_saves_send_webhooks(api, webhooks):
    customer = api.create_customer()
    product = api.create_product(qty=4)
    api.post(
        "/V1/inventory/source-items",
        {"sourceItems": [{"sku": product["sku"], "source_code": "default", "quantity": 11}]},
    )
    saved = webhooks.wait_for(
        lambda e: (
            e["eventName"] == "observer.customer_save_after_data_object"
            and e["data"]["customer_data_object"]["id"] == customer["id"]
        )
    )
    assert saved[0]["data"]["customer_data_object"]["email"] == customer["email"]
    assert webhooks.wait_for(
        lambda e: (
            e["eventName"] == "observer.catalog_product_save_after"
            and e["data"]["product"]["sku"] == product["sku"]
        )
    )
    stock = webhooks.wait_for(
        lambda e: (
            e["eventName"] == "observer.cataloginventory_stock_item_save_after"
            and e["data"]["item"]["sku"] == product["sku"]
            and e["data"]["item"]["qty"] == 11
        )
    )
    assert stock[0]["data"]["item"]["is_in_stock"] is True


@pytest.mark.parametrize("concurrent", [False, True], ids=["sequential", "concurrent"])
def test_redelivery_replays_the_last_webhook_of_an_order_n_times(
    api, webhooks, control, magento_sandbox, concurrent
):
    product = api.create_product()
    order = api.place_order([{"sku": product["sku"], "qty": 1}])
    placed = for_order(order["increment_id"], "observer.sales_order_place_after")
    original = webhooks.wait_for(placed)[0]
    response = control(
        "webhooks/redeliver",
        {"increment_id": order["increment_id"], "times": 3, "concurrent": concurrent},
    )
    assert response.status_code == 200
    assert [d["status"] for d in response.json()["deliveries"]] == [200, 200, 200]
    events = webhooks.wait_for(placed, count=4)
    assert len(events) == 4
    assert {e["_request"]["body"] for e in events} == {original["_request"]["body"]}
    for event in events:
        verify(magento_sandbox.endpoints["webhook_public_key"], event["_request"])


def test_redelivery_of_an_order_without_webhooks_is_a_clear_400(webhooks, control):
    response = control("webhooks/redeliver", {"increment_id": "999999999", "times": 2})
    assert response.status_code == 400
    assert "no webhook has been sent" in response.json()["message"]


def test_an_unreachable_subscriber_is_logged_not_fatal(api, control, magento_sandbox):
    assert control("subscribers", {"url": "http://127.0.0.1:9/closed"}).status_code == 200
    try:
        product = api.create_product()
        order = api.place_order([{"sku": product["sku"], "qty": 1}])
        assert order["increment_id"]
        session = magento_sandbox.session()
        log_url = f"{magento_sandbox.endpoints['control_url']}/webhooks"
        deliveries = []
        for _ in range(50):
            deliveries = [
                d for d in session.get(log_url, timeout=10).json()["deliveries"] if d["error"]
            ]
            if deliveries:
                break
            time.sleep(0.05)
        assert deliveries and deliveries[-1]["url"] == "http://127.0.0.1:9/closed"
    finally:
        control("subscribers", {"url": None})


def test_plain_http_subscribers_must_be_on_loopback(control):
    response = control("subscribers", {"url": "http://hub.example.com/api/webhooks/magento/"})
    assert response.status_code == 400
    assert "loopback" in response.json()["message"]


def test_https_subscriber_with_a_certificate_from_the_sandbox_ca(api, control, magento_sandbox):
    tls = ensure_tls(Path(magento_sandbox.ca_bundle).parent.parent)
    receiver = WebhookReceiver(tls.server_context())
    assert receiver.url.startswith("https://localhost:")
    try:
        assert control("subscribers", {"url": receiver.url}).status_code == 200
        product = api.create_product()
        assert receiver.wait_for(
            lambda e: (
                e["eventName"] == "observer.catalog_product_save_after"
                and e["data"]["product"]["sku"] == product["sku"]
            )
        )
    finally:
        control("subscribers", {"url": None})
        receiver.stop()
