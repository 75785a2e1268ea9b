"""Kashflow customers: `/v2/customers` by Code, the bulk `/v2/customerlist` delete.

Records are stored by their numeric `Id`; `Code` is the natural key clients use in URLs and is
unique per account, compared case-insensitively. Computed fields (invoice counts and amounts,
balance) are kept up to date by the invoice and payment routes.
"""

from __future__ import annotations

import re

from connectors.kashflow.sandbox.wire import (
    ErrorCode,
    KashflowError,
    as_bool,
    canonical_keys,
    json_object,
    json_response,
    money,
    not_found,
    paged,
    pick,
    text_filter,
    timestamp,
    timestamp_after,
    to_decimal,
    validation,
)
from connectors.sandbox.server import Request, Response
from connectors.sandbox.state import StateStore

CUSTOMER = "customer"
CODE_MAX_LENGTH = 20

# Fields a client may write; everything else on the record is computed or read-only.
WRITABLE_FIELDS = (
    "Code",
    "Name",
    "DisplayName",
    "Note",
    "Source",
    "IsRegisteredInEC",
    "IsRegisteredOutsideEC",
    "DiscountRate",
    "ShowDiscount",
    "VATNumber",
    "AutoIncludeVATNumber",
    "UseCustomDeliveryAddress",
    "ReceivesWholesalePricing",
    "DefaultNominalCode",
    "DefaultCustomerReference",
    "IsArchived",
    "Currency",
    "PaymentTerms",
    "EmailTemplateNumber",
    "InvoiceFileFormat",
    "OverrideInvoiceFileFormat",
    "UniqueEntityNumber",
    "AutomaticCreditControlEnabled",
    "Email",
    "TelephoneNumber",
    "MobileNumber",
    "FaxNumber",
    "Website",
    "CustomTextBoxes",
    "CustomCheckBoxes",
    "Contacts",
    "Addresses",
    "DeliveryAddresses",
)
ADDRESS_FIELDS = ("Line1", "Line2", "Line3", "Line4", "PostCode", "CountryCode", "CountryName")
CONTACT_FIELDS = (
    "FirstName",
    "LastName",
    "Email",
    "Telephone",
    "Mobile",
    "Fax",
    "Website",
    "IsPrimaryContact",
)
GBP = {
    "Code": "GBP",
    "Name": "Pound Sterling",
    "Symbol": "£",
    "ExchangeRate": "1.0000",
    "DisplayOnRight": False,
}
SORT_KEYS = {
    "Code": lambda c: c["Code"].upper(),
    "Name": lambda c: c["Name"].upper(),
    "TotalPaidAmount": lambda c: float(c["TotalPaidAmount"]),
    "OutstandingBalance": lambda c: float(c["OutstandingBalance"]),
}


def new_customer(customer_id: int, code: str, fields: dict, now: str) -> dict:
    """A full customer record with Kashflow's defaults under the given fields."""
    record = {
        "Id": customer_id,
        "Code": code,
        "Name": "",
        "DisplayName": "",
        "Note": "",
        "Source": 0,
        "CreatedDate": now,
        "LastUpdatedDate": now,
        "FirstInvoiceDate": None,
        "LastInvoiceDate": None,
        "InvoiceCount": 0,
        "IsRegisteredInEC": False,
        "IsRegisteredOutsideEC": False,
        "DiscountRate": "0",
        "ShowDiscount": False,
        "VATNumber": "",
        "AutoIncludeVATNumber": False,
        "TotalPaidAmount": "0",
        "InvoicedNetAmount": "0",
        "InvoicedVATAmount": "0",
        "OutstandingBalance": "0",
        "AverageDaysToPay": 0,
        "UseCustomDeliveryAddress": False,
        "ReceivesWholesalePricing": False,
        "DefaultNominalCode": 4000,
        "DefaultCustomerReference": "",
        "IsArchived": False,
        "Currency": dict(GBP),
        "PaymentTerms": {"Days": 30, "Type": "DaysAfterInvoiceDate"},
        "EmailTemplateNumber": 0,
        "InvoiceFileFormat": 0,
        "OverrideInvoiceFileFormat": False,
        "UniqueEntityNumber": "",
        "AutomaticCreditControlEnabled": False,
        "IsGoCardlessMandateSet": False,
        "Email": "",
        "TelephoneNumber": "",
        "MobileNumber": "",
        "FaxNumber": "",
        "Website": "",
        "CustomTextBoxes": [],
        "CustomCheckBoxes": [],
        "Contacts": [],
        "Addresses": [],
        "DeliveryAddresses": [],
    }
    record.update(fields)
    if not record["DisplayName"]:
        record["DisplayName"] = record["Name"]
    return record


def code_stem(name: str) -> str:
    """The letters a generated code starts with: the first three of the name (`ACM` for Acme)."""
    letters = re.sub(r"[^A-Za-z0-9]", "", name).upper()
    return (letters or "CUS")[:3].ljust(3, "X")


def next_free_code(stem: str, taken: set[str]) -> str:
    """`ACM01`, `ACM02`, ...: the first numbered code not taken yet."""
    number = 1
    while f"{stem}{number:02d}" in taken:
        number += 1
    return f"{stem}{number:02d}"


def clean_customer_fields(body: dict) -> dict:
    """The writable fields of a request body, validated and in stored form."""
    fields = canonical_keys(body, (*WRITABLE_FIELDS, "VatNumber"))
    if "VatNumber" in fields:
        fields.setdefault("VATNumber", fields.pop("VatNumber"))
    for flag in (
        "IsRegisteredInEC",
        "IsRegisteredOutsideEC",
        "ShowDiscount",
        "AutoIncludeVATNumber",
        "UseCustomDeliveryAddress",
        "ReceivesWholesalePricing",
        "IsArchived",
        "AutomaticCreditControlEnabled",
    ):
        if flag in fields:
            fields[flag] = as_bool(fields[flag], flag)
    if "DiscountRate" in fields:
        rate = to_decimal(fields["DiscountRate"], "DiscountRate")
        if not 0 <= rate <= 100:
            raise validation("DiscountRate must be between 0 and 100.")
        fields["DiscountRate"] = money(rate)
    for text in ("Code", "Name", "Email", "TelephoneNumber", "VATNumber", "Website", "Note"):
        if text in fields and fields[text] is not None and not isinstance(fields[text], str):
            raise validation(f"{text} must be a string.")
    for key, sub_fields in (
        ("Addresses", ADDRESS_FIELDS),
        ("DeliveryAddresses", ADDRESS_FIELDS),
        ("Contacts", CONTACT_FIELDS),
    ):
        if key in fields:
            items = fields[key] or []
            if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
                raise validation(f"{key} must be a list of objects.")
            fields[key] = [
                {name: "" for name in sub_fields if name != "IsPrimaryContact"}
                | canonical_keys(item, sub_fields)
                for item in items
            ]
    if "PaymentTerms" in fields:
        terms = fields["PaymentTerms"]
        if not isinstance(terms, dict):
            raise validation("PaymentTerms must be an object with Days and Type.")
        fields["PaymentTerms"] = {
            "Days": int(pick(terms, "Days", default=30) or 0),
            "Type": pick(terms, "Type", default="DaysAfterInvoiceDate"),
        }
    return fields


class CustomersMixin:
    """Customer routes of the Kashflow emulator."""

    store: StateStore
    default_per_page: int
    max_per_page: int

    def customer_routes(self):
        code = r"/v2/customers/(?P<code>[^/]+)"
        return [
            ("GET", "/v2/customers", self.list_customers),
            ("POST", "/v2/customers", self.create_customer),
            ("GET", code, self.get_customer),
            ("PUT", code, self.update_customer),
            ("DELETE", code, self.delete_customer),
            ("DELETE", "/v2/customerlist", self.delete_customer_list),
        ]

    # Lookups ------------------------------------------------------------------------------
    def find_customer(self, code: str) -> dict | None:
        wanted = code.strip().upper()
        for customer in self.store.all(CUSTOMER):
            if customer["Code"].upper() == wanted:
                return customer
        return None

    def customer_or_404(self, code: str) -> dict:
        customer = self.find_customer(code)
        if customer is None:
            raise not_found(f"Customer with code {code} does not exist.")
        return customer

    def _taken_codes(self) -> set[str]:
        return {customer["Code"].upper() for customer in self.store.all(CUSTOMER)}

    # Routes -------------------------------------------------------------------------------
    def list_customers(self, request: Request) -> Response:
        records = text_filter(request, self.store.all(CUSTOMER), ("Code", "Name", "Email"))
        return paged(
            request,
            records,
            resource="customers",
            sort_keys=SORT_KEYS,
            default_sort="Code",
            default_per_page=self.default_per_page,
            max_per_page=self.max_per_page,
            render=lambda record: record,
        )

    def get_customer(self, request: Request) -> Response:
        return json_response(200, self.customer_or_404(request.match["code"]))

    def create_customer(self, request: Request) -> Response:
        body = json_object(request)
        fields = clean_customer_fields(body)
        make_name = as_bool(
            pick(body, "CreateCustomerNameIfEmptyOrNull", default=False),
            "CreateCustomerNameIfEmptyOrNull",
        )
        make_code = as_bool(
            pick(body, "CreateCustomerCodeIfDuplicate", default=False),
            "CreateCustomerCodeIfDuplicate",
        )
        if not (fields.get("Name") or "").strip():
            if not make_name:
                raise validation("Name is required.")
            fields["Name"] = (fields.get("Code") or "New Customer").strip()
        with self.store.batch():
            taken = self._taken_codes()
            code = (fields.pop("Code", None) or "").strip().upper()
            if code:
                self._check_code_format(code)
                if code in taken:
                    if not make_code:
                        raise KashflowError(
                            400,
                            ErrorCode.DUPLICATE_CUSTOMER_CODE,
                            "Customer code already exists.",
                        )
                    code = next_free_code(code[: CODE_MAX_LENGTH - 2], taken)
            else:
                code = next_free_code(code_stem(fields["Name"]), taken)
            customer_id = self.store.next_id("customer_id")
            customer = new_customer(customer_id, code, fields, timestamp())
            self.store.put(CUSTOMER, customer_id, customer)
        return json_response(201, customer)

    def update_customer(self, request: Request) -> Response:
        self.customer_or_404(request.match["code"])  # an unknown code is a 404 whatever the body
        fields = clean_customer_fields(json_object(request))
        with self.store.batch():
            customer = dict(self.customer_or_404(request.match["code"]))
            new_code = (fields.pop("Code", None) or customer["Code"]).strip().upper()
            if new_code != customer["Code"].upper():
                self._check_code_format(new_code)
                if new_code in self._taken_codes():
                    raise KashflowError(
                        400, ErrorCode.DUPLICATE_CUSTOMER_CODE, "Customer code already exists."
                    )
                self._rename_customer_code(customer, new_code)
            if "Name" in fields and not (fields["Name"] or "").strip():
                raise validation("Name is required.")
            updated = timestamp_after(customer["LastUpdatedDate"])
            customer.update(fields, Code=new_code, LastUpdatedDate=updated)
            self.store.put(CUSTOMER, customer["Id"], customer)
        return json_response(200, customer)

    def delete_customer(self, request: Request) -> Response:
        with self.store.batch():
            customer = self.customer_or_404(request.match["code"])
            self._delete_customer(customer)
        return Response(204)

    def delete_customer_list(self, request: Request) -> Response:
        codes = request.json()
        if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
            raise validation('The body must be a list of customer codes, e.g. ["CA101"].')
        failures = []
        with self.store.batch():
            for code in codes:
                customer = self.find_customer(code)
                if customer is None:
                    failures.append({"Code": code, "Reason": "Customer does not exist."})
                    continue
                try:
                    self._delete_customer(customer)
                except KashflowError as exc:
                    failures.append({"Code": code, "Reason": exc.message})
        return json_response(200, failures) if failures else Response(204)

    # Helpers ------------------------------------------------------------------------------
    def _check_code_format(self, code: str) -> None:
        if len(code) > CODE_MAX_LENGTH or not re.fullmatch(r"[A-Z0-9\-_.]+", code):
            raise validation(f"Code must be 1-{CODE_MAX_LENGTH} letters, digits, '-', '_' or '.'.")

    def _delete_customer(self, customer: dict) -> None:
        if customer["InvoiceCount"]:
            raise validation(
                f"Customer {customer['Code']} has invoices and cannot be deleted; archive it."
            )
        self.store.delete(CUSTOMER, customer["Id"])

    def _rename_customer_code(self, customer: dict, new_code: str) -> None:
        """Invoices show the customer's code; keep them in step when it changes."""
        for invoice in self.store.all("invoice"):
            if invoice["CustomerId"] == customer["Id"]:
                self.store.put("invoice", invoice["Id"], {**invoice, "CustomerCode": new_code})
