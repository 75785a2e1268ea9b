"""Customers: `/V1/customers`, search, get, create, update, delete; email unique per website."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.magento.sandbox.common import (
    MagentoError,
    body_object,
    editable,
    magento_time,
    no_such_entity,
    required,
)
from connectors.magento.sandbox.search import parse_search_criteria, require_search_criteria, search
from connectors.magento.sandbox.webhooks import WebhookEvent
from connectors.sandbox.server import Request

if TYPE_CHECKING:
    from connectors.magento.sandbox.emulator import MagentoEmulator

ACL = "Magento_Customer::manage"
DUPLICATE_EMAIL = "A customer with the same email address already exists in an associated website."
CUSTOMER_FIELDS = (
    "group_id",
    "email",
    "firstname",
    "lastname",
    "middlename",
    "prefix",
    "suffix",
    "dob",
    "gender",
    "taxvat",
    "store_id",
    "website_id",
    "disable_auto_group_change",
    "custom_attributes",
    "extension_attributes",
)
ADDRESS_FIELDS = (
    "region",
    "region_id",
    "country_id",
    "street",
    "company",
    "telephone",
    "postcode",
    "city",
    "firstname",
    "lastname",
    "middlename",
    "vat_id",
)


def region_object(region: Any) -> dict:
    """Magento's address region: `{region_code, region, region_id}` from a name or code."""
    if isinstance(region, dict):
        return {
            "region_code": region.get("region_code"),
            "region": region.get("region"),
            "region_id": region.get("region_id") or 0,
        }
    text = str(region or "")
    # Free-text regions (no directory entry) carry the text as the code, as Magento does.
    return {"region_code": text or None, "region": text or None, "region_id": 0}


class CustomersApi:
    def __init__(self, emulator: MagentoEmulator):
        self.emulator = emulator
        self.store = emulator.store

    def routes(self) -> list[tuple]:
        return [
            ("GET", "/customers/search", self.list_customers, ACL),
            ("GET", r"/customers/(?P<id>\d+)", self.get_customer, ACL),
            ("POST", "/customers", self.create_customer, ACL),
            ("PUT", r"/customers/(?P<id>\d+)", self.update_customer, ACL),
            ("DELETE", r"/customers/(?P<id>\d+)", self.delete_customer, ACL),
        ]

    # Reads --------------------------------------------------------------------------------
    def list_customers(self, request: Request) -> dict:
        criteria = parse_search_criteria(request.raw_query)
        require_search_criteria(criteria)
        return search(self.store.all("customer"), criteria, self.emulator.limits)

    def get(self, customer_id: Any) -> dict:
        customer = self.store.get("customer", str(customer_id))
        if customer is None:
            raise no_such_entity("customerId", int(customer_id))
        return customer

    def get_customer(self, request: Request) -> dict:
        return self.get(request.match["id"])

    def find_by_email(self, email: str, website_id: int = 1) -> dict | None:
        wanted = email.strip().casefold()
        for customer in self.store.all("customer"):
            if customer["email"].casefold() == wanted and customer["website_id"] == website_id:
                return customer
        return None

    # Writes -------------------------------------------------------------------------------
    def create_customer(self, request: Request) -> dict:
        data = body_object(request.json(), "customer")
        return self.save(None, data)

    def update_customer(self, request: Request) -> dict:
        existing = self.get(request.match["id"])
        data = body_object(request.json(), "customer")
        return self.save(existing, data)

    def delete_customer(self, request: Request) -> bool:
        self.get(request.match["id"])
        self.store.delete("customer", request.match["id"])
        return True

    def save(
        self, existing: dict | None, data: dict, *, emit: bool = True, check_email: bool = True
    ) -> dict:
        """Create (existing None) or update a customer, as CustomerRepository::save does."""
        customer = editable(existing) if existing else {}
        for name in CUSTOMER_FIELDS:
            if name in data:
                customer[name] = data[name]
        for name in ("firstname", "lastname", "email"):
            if not str(customer.get(name) or "").strip():
                raise required(name)
        customer["email"] = customer["email"].strip()
        customer.setdefault("website_id", 1)
        customer.setdefault("store_id", 1)
        customer.setdefault("group_id", 1)
        # The seed makes its emails unique itself: skipping the scan keeps startup fast.
        clash = (
            self.find_by_email(customer["email"], customer["website_id"]) if check_email else None
        )
        if clash is not None and (existing is None or clash["id"] != existing["id"]):
            raise MagentoError(400, DUPLICATE_EMAIL)
        now = magento_time()
        if existing is None:
            customer["id"] = self.store.next_id("customer")
            customer["created_at"] = data.get("created_at") or now
            customer["created_in"] = "Default Store View"
            customer.setdefault("disable_auto_group_change", 0)
            customer.setdefault("extension_attributes", {"is_subscribed": False})
            customer.setdefault("addresses", [])
            customer["updated_at"] = data.get("updated_at") or customer["created_at"]
        else:
            customer["updated_at"] = now
        if "addresses" in data:
            self._set_addresses(customer, data["addresses"] or [])
        before = existing
        self.store.put("customer", customer["id"], customer)
        if emit:
            self.emulator.webhooks.emit(
                WebhookEvent.CUSTOMER_SAVED,
                {"customer_data_object": customer, "orig_customer_data_object": before},
            )
        return customer

    def _set_addresses(self, customer: dict, addresses: list[dict]) -> None:
        kept = []
        customer.pop("default_billing", None)
        customer.pop("default_shipping", None)
        for given in addresses:
            if not isinstance(given, dict):
                continue
            address = {name: given[name] for name in ADDRESS_FIELDS if name in given}
            street = address.get("street") or []
            address["street"] = [street] if isinstance(street, str) else list(street)
            address["region"] = region_object(address.get("region"))
            address["region_id"] = address["region"]["region_id"]
            address["id"] = given.get("id") or self.store.next_id("customer_address")
            address["customer_id"] = customer["id"]
            address.setdefault("firstname", customer["firstname"])
            address.setdefault("lastname", customer["lastname"])
            for flag in ("default_billing", "default_shipping"):
                if given.get(flag):
                    address[flag] = True
                    customer[flag] = str(address["id"])
            kept.append(address)
        if kept and "default_billing" not in customer:
            kept[0]["default_billing"] = True
            customer["default_billing"] = str(kept[0]["id"])
        if kept and "default_shipping" not in customer:
            kept[0]["default_shipping"] = True
            customer["default_shipping"] = str(kept[0]["id"])
        customer["addresses"] = kept

    def default_billing_address(self, customer: dict) -> dict | None:
        for address in customer.get("addresses") or []:
            if str(address["id"]) == customer.get("default_billing"):
                return address
        return (customer.get("addresses") or [None])[0]
