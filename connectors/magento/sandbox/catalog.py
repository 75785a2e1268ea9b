"""Products by SKU, legacy stockItems and MSI source items, salable quantity.

One quantity per SKU and source is the truth (`source_item`); the legacy stock item of a product
is the view of its `default` source, as with MSI installed. Salable quantity is the source
quantity minus what open orders have reserved (placed, not yet shipped, canceled or refunded).
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from connectors.magento.sandbox.common import (
    PRODUCT_MISSING,
    TOO_MANY_ITEMS,
    MagentoError,
    body_object,
    decimal,
    editable,
    magento_time,
    number_or_error,
)
from connectors.magento.sandbox.search import parse_search_criteria, require_search_criteria, search
from connectors.magento.sandbox.webhooks import WebhookEvent
from connectors.sandbox.server import Request

if TYPE_CHECKING:
    from connectors.magento.sandbox.emulator import MagentoEmulator

PRODUCTS_ACL = "Magento_Catalog::products"
STOCK_ACL = "Magento_CatalogInventory::cataloginventory"
SOURCE_ACL = "Magento_InventoryApi::source_item"
DEFAULT_SOURCE = "default"
SOURCES = {
    DEFAULT_SOURCE: {
        "source_code": DEFAULT_SOURCE,
        "name": "Default Source",
        "enabled": True,
        "description": "Default Source",
        "country_id": "GB",
        "postcode": "00000",
    }
}
SOURCE_ITEM_TYPE = "\\Magento\\InventoryApi\\Api\\Data\\SourceItemInterface"
URL_KEY_TAKEN = "URL key for specified store already exists."
EMPTY_ATTRIBUTE = 'The "%1" attribute value is empty. Set the attribute and try again.'
PRODUCT_FIELDS = (
    "name",
    "attribute_set_id",
    "price",
    "status",
    "visibility",
    "type_id",
    "weight",
    "product_links",
    "options",
    "media_gallery_entries",
    "tier_prices",
)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def attribute(product: dict, code: str) -> Any:
    for item in product.get("custom_attributes") or []:
        if item.get("attribute_code") == code:
            return item.get("value")
    return None


class CatalogApi:
    def __init__(self, emulator: MagentoEmulator):
        self.emulator = emulator
        self.store = emulator.store

    def routes(self) -> list[tuple]:
        sku = r"(?P<sku>[^/]+)"
        return [
            ("GET", "/products", self.list_products, PRODUCTS_ACL),
            ("GET", f"/products/{sku}", self.get_product, PRODUCTS_ACL),
            ("POST", "/products", self.post_product, PRODUCTS_ACL),
            ("PUT", f"/products/{sku}", self.put_product, PRODUCTS_ACL),
            ("DELETE", f"/products/{sku}", self.delete_product, PRODUCTS_ACL),
            ("GET", f"/stockItems/{sku}", self.get_stock_item, STOCK_ACL),
            ("PUT", rf"/products/{sku}/stockItems/(?P<item>\d+)", self.put_stock_item, STOCK_ACL),
            ("GET", f"/stockStatuses/{sku}", self.get_stock_status, STOCK_ACL),
            ("GET", "/inventory/sources", self.list_sources, "Magento_InventoryApi::source"),
            ("GET", "/inventory/source-items", self.list_source_items, SOURCE_ACL),
            ("POST", "/inventory/source-items", self.save_source_items, SOURCE_ACL),
            ("POST", "/inventory/source-items-delete", self.delete_source_items, SOURCE_ACL),
            (
                "GET",
                rf"/inventory/get-product-salable-quantity/{sku}/(?P<stock>\d+)",
                self.get_salable_quantity,
                "Magento_InventoryApi::stock",
            ),
            (
                "GET",
                rf"/inventory/is-product-salable/{sku}/(?P<stock>\d+)",
                self.get_is_salable,
                "Magento_InventoryApi::stock",
            ),
        ]

    # Products -----------------------------------------------------------------------------
    def product(self, sku: str) -> dict:
        found = self.store.get("product", sku)
        if found is None:
            raise MagentoError(404, PRODUCT_MISSING)
        return found

    def render(self, product: dict) -> dict:
        """The product as the API shows it, with its live stock item."""
        shown = dict(product)
        shown["extension_attributes"] = {
            **product.get("extension_attributes", {}),
            "stock_item": self.stock_item(product),
        }
        return shown

    def list_products(self, request: Request) -> dict:
        criteria = parse_search_criteria(request.raw_query)
        require_search_criteria(criteria)
        return search(self.store.all("product"), criteria, self.emulator.limits, self.render)

    def get_product(self, request: Request) -> dict:
        return self.render(self.product(unquote(request.match["sku"])))

    def post_product(self, request: Request) -> dict:
        data = body_object(request.json(), "product")
        if not data.get("sku"):
            raise MagentoError(400, EMPTY_ATTRIBUTE, ["sku"])
        return self.render(self.save(data["sku"], data))

    def put_product(self, request: Request) -> dict:
        data = body_object(request.json(), "product")
        return self.render(self.save(unquote(request.match["sku"]), data))

    def delete_product(self, request: Request) -> bool:
        sku = unquote(request.match["sku"])
        self.product(sku)
        self.store.delete("product", sku)
        return True

    def save(self, sku: str, data: dict, *, emit: bool = True) -> dict:
        """ProductRepository::save: an unknown SKU is created, a known one updated."""
        existing = self.store.get("product", sku)
        product = editable(existing) if existing else {}
        for name in PRODUCT_FIELDS:
            if name in data:
                product[name] = data[name]
        attributes = {
            item["attribute_code"]: item.get("value")
            for item in (product.get("custom_attributes") or [])
            + (data.get("custom_attributes") or [])
            if isinstance(item, dict) and item.get("attribute_code")
        }
        if not str(product.get("name") or "").strip():
            raise MagentoError(400, EMPTY_ATTRIBUTE, ["name"])
        if existing is None and product.get("price") is None:
            raise MagentoError(400, EMPTY_ATTRIBUTE, ["price"])
        attributes.setdefault("url_key", slug(product["name"]))
        attributes.setdefault("tax_class_id", "2")
        for other in self.store.all("product"):
            if other["sku"] != sku and attribute(other, "url_key") == attributes["url_key"]:
                raise MagentoError(400, URL_KEY_TAKEN)
        now = magento_time()
        if existing is None:
            product.update(
                id=self.store.next_id("product"),
                sku=sku,
                created_at=data.get("created_at") or now,
            )
            product.setdefault("attribute_set_id", 4)
            product.setdefault("status", 1)
            product.setdefault("visibility", 4)
            product.setdefault("type_id", "simple")
            for name in ("product_links", "options", "media_gallery_entries", "tier_prices"):
                product.setdefault(name, [])
        product["updated_at"] = data.get("updated_at") or now
        product["price"] = float(decimal(product.get("price")))
        extension = dict(product.get("extension_attributes") or {})
        extension.setdefault("website_ids", [1])
        extension.setdefault("category_links", [])
        extension.pop("stock_item", None)
        product["extension_attributes"] = extension
        product["custom_attributes"] = [
            {"attribute_code": code, "value": value} for code, value in attributes.items()
        ]
        self.store.put("product", sku, product)
        stock = (data.get("extension_attributes") or {}).get("stock_item")
        if existing is None and not isinstance(stock, dict):
            stock = {"qty": 0, "is_in_stock": False}
        if isinstance(stock, dict) and "qty" in stock:
            self.set_quantity(sku, decimal(stock["qty"]), stock.get("is_in_stock"), emit=emit)
        if emit:
            self.emulator.webhooks.emit(
                WebhookEvent.PRODUCT_SAVED, {"product": self.render(product)}
            )
        return product

    # Stock --------------------------------------------------------------------------------
    def source_item(self, sku: str, source_code: str = DEFAULT_SOURCE) -> dict | None:
        return self.store.get("source_item", f"{sku}|{source_code}")

    def quantity(self, sku: str) -> Decimal:
        item = self.source_item(sku)
        return decimal(item["quantity"]) if item else Decimal(0)

    def set_quantity(
        self,
        sku: str,
        quantity: Decimal,
        in_stock: bool | None = None,
        source_code: str = DEFAULT_SOURCE,
        *,
        emit: bool = True,
    ) -> None:
        status = (1 if in_stock else 0) if in_stock is not None else int(quantity > 0)
        item = {"sku": sku, "source_code": source_code, "quantity": float(quantity)}
        item["status"] = status
        self.store.put("source_item", f"{sku}|{source_code}", item)
        product = self.store.get("product", sku)
        if emit and product is not None:
            self.emulator.webhooks.emit(
                WebhookEvent.STOCK_CHANGED,
                {"item": {**self.stock_item(product), "sku": sku, "source_code": source_code}},
            )

    def adjust_quantity(self, sku: str, delta: Decimal) -> None:
        """Shipments take stock out of the default source; returns put it back."""
        if self.store.get("product", sku) is not None and delta:
            self.set_quantity(sku, self.quantity(sku) + delta)

    def stock_item(self, product: dict) -> dict:
        source = self.source_item(product["sku"])
        quantity = float(source["quantity"]) if source else 0.0
        return {
            "item_id": product["id"],
            "product_id": product["id"],
            "stock_id": 1,
            "qty": quantity,
            "is_in_stock": bool(source and source["status"] == 1),
            "is_qty_decimal": False,
            "show_default_notification_message": False,
            "use_config_min_qty": True,
            "min_qty": 0,
            "use_config_min_sale_qty": 1,
            "min_sale_qty": 1,
            "use_config_max_sale_qty": True,
            "max_sale_qty": 10000,
            "use_config_backorders": True,
            "backorders": 0,
            "use_config_notify_stock_qty": True,
            "notify_stock_qty": 1,
            "use_config_qty_increments": True,
            "qty_increments": 0,
            "use_config_enable_qty_inc": True,
            "enable_qty_increments": False,
            "use_config_manage_stock": True,
            "manage_stock": True,
            "low_stock_date": None,
            "is_decimal_divided": False,
            "stock_status_changed_auto": 0,
        }

    def get_stock_item(self, request: Request) -> dict:
        return self.stock_item(self.product(unquote(request.match["sku"])))

    def get_stock_status(self, request: Request) -> dict:
        item = self.stock_item(self.product(unquote(request.match["sku"])))
        return {
            "product_id": item["product_id"],
            "stock_id": 1,
            "qty": item["qty"],
            "stock_status": int(item["is_in_stock"]),
            "stock_item": item,
        }

    def put_stock_item(self, request: Request) -> int:
        product = self.product(unquote(request.match["sku"]))
        data = body_object(request.json(), "stockItem")
        quantity = decimal(data["qty"]) if "qty" in data else self.quantity(product["sku"])
        in_stock = data.get("is_in_stock")
        self.set_quantity(product["sku"], quantity, None if in_stock is None else bool(in_stock))
        return product["id"]

    # MSI ----------------------------------------------------------------------------------
    def list_sources(self, request: Request) -> dict:
        criteria = parse_search_criteria(request.raw_query)
        return search(list(SOURCES.values()), criteria, self.emulator.limits)

    def list_source_items(self, request: Request) -> dict:
        criteria = parse_search_criteria(request.raw_query)
        require_search_criteria(criteria)
        return search(self.store.all("source_item"), criteria, self.emulator.limits)

    def _source_items_input(self, request: Request) -> list[dict]:
        payload = request.json()
        items = payload.get("sourceItems") if isinstance(payload, dict) else None
        if not isinstance(items, list):
            raise MagentoError(400, "%fieldName is a required field.", {"fieldName": "sourceItems"})
        limits = self.emulator.limits
        if limits.enabled and len(items) > limits.list_limit:
            raise MagentoError(
                400, TOO_MANY_ITEMS, {"type": SOURCE_ITEM_TYPE, "max": limits.list_limit}
            )
        return items

    def save_source_items(self, request: Request) -> list:
        items = self._source_items_input(request)
        errors = []
        for item in items:
            if not isinstance(item, dict) or not str(item.get("sku") or "").strip():
                errors.append({"message": '"%field" can not be empty.', "parameters": ["sku"]})
                continue
            if item.get("source_code") not in SOURCES:
                errors.append(
                    {
                        "message": 'Source item with source code "%1" does not exist.',
                        "parameters": [str(item.get("source_code"))],
                    }
                )
            number_or_error(item.get("quantity"), "float")
            if item.get("status", 1) not in (0, 1, "0", "1"):
                errors.append({"message": '"%field" should be numeric.', "parameters": ["status"]})
        if errors:
            raise MagentoError(400, "Validation Failed", errors=errors)
        for item in items:
            status = item.get("status")
            self.set_quantity(
                item["sku"],
                decimal(item["quantity"]),
                None if status is None else bool(int(status)),
                item["source_code"],
            )
        return []

    def delete_source_items(self, request: Request) -> list:
        for item in self._source_items_input(request):
            if isinstance(item, dict):
                key = f"{item.get('sku')}|{item.get('source_code')}"
                self.store.delete("source_item", key)
        return []

    def salable_quantity(self, sku: str) -> Decimal:
        return self.quantity(sku) - self.emulator.orders.reserved_quantity(sku)

    def get_salable_quantity(self, request: Request) -> float:
        sku = unquote(request.match["sku"])
        self.product(sku)
        return float(self.salable_quantity(sku))

    def get_is_salable(self, request: Request) -> bool:
        sku = unquote(request.match["sku"])
        product = self.store.get("product", sku)
        return bool(product and product["status"] == 1 and self.salable_quantity(sku) > 0)
