"""Fixtures for the Magento sandbox contract tests: an admin-token client and a webhook receiver."""

from __future__ import annotations

import json
import ssl
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def criteria(
    *groups: list[tuple[str, str, str]],
    sort: list[tuple[str, str]] = (),
    page_size: int | None = None,
    page: int | None = None,
) -> list[tuple[str, str]]:
    """searchCriteria query parameters; each group is a list of (field, value, condition)."""
    params = []
    for g, group in enumerate(groups):
        for f, (field, value, condition) in enumerate(group):
            prefix = f"searchCriteria[filter_groups][{g}][filters][{f}]"
            params += [
                (f"{prefix}[field]", field),
                (f"{prefix}[value]", value),
                (f"{prefix}[condition_type]", condition),
            ]
    for s, (field, direction) in enumerate(sort):
        params += [
            (f"searchCriteria[sortOrders][{s}][field]", field),
            (f"searchCriteria[sortOrders][{s}][direction]", direction),
        ]
    if page_size is not None:
        params.append(("searchCriteria[pageSize]", str(page_size)))
    if page is not None:
        params.append(("searchCriteria[currentPage]", str(page)))
    return params or [("searchCriteria", "")]


class MagentoApi:
    """What a REST client holds: the base URL, a TLS-verifying session and an admin token."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.base_url = sandbox.endpoints["base_url"]
        self.session = sandbox.session()
        self.token = self.fetch_token()
        self.session.headers["Authorization"] = f"Bearer {self.token}"

    def fetch_token(self) -> str:
        response = self.sandbox.session().post(
            f"{self.base_url}/V1/integration/admin/token",
            json={
                "username": self.sandbox.endpoints["username"],
                "password": self.sandbox.endpoints["password"],
            },
            timeout=10,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return self.session.request(method, f"{self.base_url}{path}", **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body=None, **kwargs) -> requests.Response:
        return self.request("POST", path, json=body, **kwargs)

    def put(self, path: str, body=None, **kwargs) -> requests.Response:
        return self.request("PUT", path, json=body, **kwargs)

    # Building blocks tests share ----------------------------------------------------------
    def create_product(self, price: float = 10.0, qty: int = 100, **fields) -> dict:
        sku = fields.pop("sku", None) or unique("TST")
        product = {
            "sku": sku,
            "name": fields.pop("name", None) or f"Test product {sku}",
            "price": price,
            "extension_attributes": {"stock_item": {"qty": qty, "is_in_stock": qty > 0}},
            **fields,
        }
        response = self.post("/V1/products", {"product": product})
        assert response.status_code == 200, response.text
        return response.json()

    def create_customer(self, **fields) -> dict:
        customer = {
            "email": f"{unique('buyer')}@example.com",
            "firstname": "Test",
            "lastname": "Buyer",
            "website_id": 1,
            "addresses": [
                {
                    "firstname": "Test",
                    "lastname": "Buyer",
                    "street": ["1 High Street", "Unit 2"],
                    "city": "Leeds",
                    "region": "West Yorkshire",
                    "postcode": "LS1 4DY",
                    "country_id": "GB",
                    "telephone": "0113 496 0000",
                    "default_billing": True,
                    "default_shipping": True,
                }
            ],
            **fields,
        }
        response = self.post("/V1/customers", {"customer": customer})
        assert response.status_code == 200, response.text
        return response.json()

    def place_order(self, items: list[dict], pay: bool = True, **extra) -> dict:
        customer = extra.pop("customer", None) or {"id": self.create_customer()["id"]}
        payload = {
            "customer": customer,
            "items": items,
            "payment": {"method": extra.pop("method", "braintree"), "pay": pay},
            **extra,
        }
        response = self.sandbox.session().post(
            f"{self.sandbox.endpoints['control_url']}/orders", json=payload, timeout=10
        )
        assert response.status_code == 201, response.text
        return response.json()


@pytest.fixture
def api(magento_sandbox) -> MagentoApi:
    return MagentoApi(magento_sandbox)


@pytest.fixture
def control(magento_sandbox):
    """POST to the control API and return the raw response (status not asserted)."""
    session = magento_sandbox.session()

    def post(path: str, payload: dict | None = None) -> requests.Response:
        return session.post(
            f"{magento_sandbox.endpoints['control_url']}/{path}", json=payload or {}, timeout=30
        )

    return post


class WebhookReceiver:
    """A tiny HTTP subscriber on loopback that keeps every request it gets."""

    def __init__(self, tls_context: ssl.SSLContext | None = None):
        self.received: list[dict] = []
        self.condition = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.condition:
                    receiver.received.append(
                        {"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
                    )
                    receiver.condition.notify_all()
                answer = b'{"op":"success"}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        port = self.server.server_address[1]
        if tls_context is None:
            self.url = f"http://127.0.0.1:{port}/api/webhooks/magento/"
        else:
            self.server.socket = tls_context.wrap_socket(self.server.socket, server_side=True)
            self.url = f"https://localhost:{port}/api/webhooks/magento/"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def events(self, predicate=lambda event: True) -> list[dict]:
        with self.condition:
            found = []
            for request in self.received:
                event = json.loads(request["body"])
                if predicate(event):
                    found.append({**event, "_request": request})
            return found

    def wait_for(self, predicate, count: int = 1, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        with self.condition:
            while len(self.events(predicate)) < count:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.condition.wait(remaining)
        return self.events(predicate)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def webhooks(magento_sandbox, control):
    receiver = WebhookReceiver()
    assert control("subscribers", {"url": receiver.url}).status_code == 200
    yield receiver
    control("subscribers", {"url": None})
    receiver.stop()
