"""Adobe Commerce webhooks: `{"eventName", "data"}` bodies, RSA-signed, POSTed to the subscriber.

The key pair is generated once into STATE_DIR/magento/ (Admin > Stores > Configuration > Adobe
Services > Webhooks > Regenerate key pair, in the real product) and the PEM public key is
published in endpoints.json. The signature header `x-adobe-commerce-webhook-signature` is the
base64 of an RSA PKCS#1 v1.5 SHA-256 signature over the exact body bytes (what PHP's
`openssl_sign(..., OPENSSL_ALGO_SHA256)` makes).

Deliveries go out from one background thread in the order the changes happened, with a short
timeout; a failure is logged and recorded in the delivery log, never fatal to the change. The
last body sent for each order is kept (in the state store) so the control API can replay it.
"""

from __future__ import annotations

import base64
import contextlib
import ipaddress
import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from connectors.sandbox.state import StateStore

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "x-adobe-commerce-webhook-signature"
DELIVERY_TIMEOUT = (2.0, 5.0)  # connect, read: Adobe's hook `timeout` is in this range


class WebhookEvent:
    """Event names: Adobe Commerce observer events (`observer.<magento event>`)."""

    ORDER_PLACED = "observer.sales_order_place_after"
    ORDER_UPDATED = "observer.sales_order_save_after"
    CREDIT_MEMO_CREATED = "observer.sales_order_creditmemo_save_after"
    CUSTOMER_SAVED = "observer.customer_save_after_data_object"
    PRODUCT_SAVED = "observer.catalog_product_save_after"
    STOCK_CHANGED = "observer.cataloginventory_stock_item_save_after"


class WebhookSigner:
    """The RSA key pair of the webhook module, generated on first use and kept on disk."""

    def __init__(self, key_dir: Path):
        key_dir.mkdir(parents=True, exist_ok=True)
        key_path = key_dir / "webhook-private-key.pem"
        if key_path.exists():
            self._key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        else:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_path.write_bytes(
                self._key.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
        self.public_key_pem = (
            self._key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode()
        )

    def sign(self, body: bytes) -> str:
        signature = self._key.sign(body, padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()


def check_subscriber_url(url: str) -> str | None:
    """Why a subscriber URL is refused, or None: https anywhere, plain http on loopback only."""
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "url must be an absolute http(s) URL"
    if parts.scheme == "http":
        host = parts.hostname
        loopback = host == "localhost"
        with contextlib.suppress(ValueError):
            loopback = loopback or ipaddress.ip_address(host).is_loopback
        if not loopback:
            return "plain http is accepted on loopback only; use https elsewhere"
    return None


class WebhookEmitter:
    """Signs and delivers webhook bodies; remembers the last one per order for redelivery."""

    def __init__(self, store: StateStore, signer: WebhookSigner, ca_bundle: Path):
        self.store = store
        self.signer = signer
        self.ca_bundle = ca_bundle
        self.deliveries: deque[dict] = deque(maxlen=500)
        self._queue: queue.Queue[tuple[str, bytes, str]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._muted = 0
        self._lock = threading.Lock()

    # Subscriber ---------------------------------------------------------------------------
    @property
    def subscriber_url(self) -> str | None:
        return self.store.get_meta("webhook_subscriber_url") or None

    @subscriber_url.setter
    def subscriber_url(self, url: str | None) -> None:
        self.store.set_meta("webhook_subscriber_url", url or "")

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """No webhooks while seeding: nothing in the shop happened, it was already there."""
        self._muted += 1
        try:
            yield
        finally:
            self._muted -= 1

    # Emitting -----------------------------------------------------------------------------
    def emit(self, event_name: str, data: dict, order_increment_id: str | None = None) -> None:
        if self._muted:
            return
        body = json.dumps({"eventName": event_name, "data": data}, separators=(",", ":"))
        signature = self.signer.sign(body.encode())
        if order_increment_id:
            self.store.put(
                "webhook_last",
                order_increment_id,
                {"event_name": event_name, "body": body, "signature": signature},
            )
        url = self.subscriber_url
        if not url:
            logger.debug("webhook %s not sent: no subscriber", event_name)
            return
        self._queue.put((url, body.encode(), signature))
        self._ensure_worker()

    def _ensure_worker(self) -> None:
        with self._lock:
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(
                    target=self._drain, name="magento-webhooks", daemon=True
                )
                self._worker.start()

    def _drain(self) -> None:
        while True:
            url, body, signature = self._queue.get()
            try:
                self.deliver(url, body, signature)
            finally:
                self._queue.task_done()

    def deliver(self, url: str, body: bytes, signature: str) -> dict:
        """POST one body; returns (and logs) what happened. Never raises."""
        started = time.monotonic()
        event_name = json.loads(body).get("eventName")
        record = {"url": url, "event_name": event_name, "status": None, "error": None}
        try:
            with requests.Session() as session:
                session.trust_env = False  # no proxies, no REQUESTS_CA_BUNDLE override
                response = session.post(
                    url,
                    data=body,
                    headers={"Content-Type": "application/json", SIGNATURE_HEADER: signature},
                    timeout=DELIVERY_TIMEOUT,
                    verify=str(self.ca_bundle),
                )
            record["status"] = response.status_code
            if response.status_code != 200:
                logger.warning("webhook %s to %s got %s", event_name, url, response.status_code)
            elif '"exception"' in response.text:
                # A synchronous hook would abort the action here; ours are sent after commit.
                logger.warning("webhook %s: subscriber answered op=exception", event_name)
        except (requests.RequestException, OSError) as exc:
            record["error"] = type(exc).__name__
            logger.warning("webhook %s to %s failed: %s", event_name, url, type(exc).__name__)
        record["elapsed_ms"] = round((time.monotonic() - started) * 1000, 1)
        self.deliveries.append(record)
        return record

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Block until queued deliveries are done (used before a redelivery burst)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)

    # Redelivery ---------------------------------------------------------------------------
    def last_for_order(self, increment_id: str) -> dict | None:
        return self.store.get("webhook_last", increment_id)

    def redeliver(self, increment_id: str, times: int, concurrent: bool) -> list[dict]:
        """Send the order's last webhook again `times` times, byte for byte the same."""
        last = self.last_for_order(increment_id)
        url = self.subscriber_url
        if last is None or not url:
            return []
        self.wait_idle()
        body, signature = last["body"].encode(), last["signature"]
        if not concurrent:
            return [self.deliver(url, body, signature) for _ in range(times)]
        barrier = threading.Barrier(times)

        def send(_: int) -> dict:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=5)
            return self.deliver(url, body, signature)

        with ThreadPoolExecutor(max_workers=times) as pool:
            return list(pool.map(send, range(times)))
