"""Kashflow products (sub-products of a sales nominal, with stock), nominals and bank accounts.

`QuantityInStock` of a product with `ManageStockLevel` goes down when a sales invoice line
names its `ProductCode` (see invoices.py). Bank accounts carry their balance and list their
transactions; an invoice payment appears there with `TransactionType` 1.
"""

from __future__ import annotations

from datetime import UTC, datetime

from connectors.kashflow.sandbox.wire import (
    ErrorCode,
    KashflowError,
    as_bool,
    canonical_keys,
    day_string,
    json_object,
    json_response,
    money,
    not_found,
    paged,
    text_filter,
    to_decimal,
    validation,
)
from connectors.sandbox.server import Request, Response
from connectors.sandbox.state import StateStore

PRODUCT = "product"
NOMINAL = "nominal"
BANK_ACCOUNT = "bankaccount"
BANK_TRANSACTION = "banktransaction"
SALES_NOMINAL_CODE = 4000

PAYMENT_METHODS = {
    1: "Cash",
    2: "Cheque",
    3: "BACS",
    4: "Credit/Debit Card",
    5: "PayPal",
    6: "Direct Debit",
}

# (Code, Name, Type, IsProduct): a small UK chart of accounts.
STANDARD_NOMINALS = (
    (1200, "Bank Current Account", "Bank", False),
    (1210, "Bank Deposit Account", "Bank", False),
    (1100, "Debtors Control Account", "Asset", False),
    (2200, "VAT Liability", "Liability", False),
    (4000, "Sales Type A", "Sales", True),
    (4001, "Sales Type B", "Sales", True),
    (4900, "Other Sales", "Sales", True),
    (5000, "Cost of Sales", "Purchases", False),
    (7500, "Office Costs", "Expense", False),
)

PRODUCT_WRITABLE = (
    "Code",
    "Name",
    "Description",
    "NominalCode",
    "AutoFillLineItem",
    "Price",
    "WholeSalePrice",
    "VATRate",
    "VATExempt",
    "ManageStockLevel",
    "QuantityInStock",
    "StockWarningQuantity",
    "IsDefault",
    "InUse",
)
PRODUCT_SORT_KEYS = {
    "Code": lambda p: p["Code"].upper(),
    "Name": lambda p: p["Name"].upper(),
    "Price": lambda p: float(p["Price"]),
    "QuantityInStock": lambda p: float(p["QuantityInStock"]),
}
BANK_WRITABLE = ("AccountName", "Code", "IsDefaultAccount", "IsArchived", "Note", "StartingAmount")


def payment_method(method_id: int) -> dict:
    return {"Id": method_id, "Name": PAYMENT_METHODS[method_id]}


def new_nominal(nominal_id: int, code: int, name: str, kind: str, is_product: bool) -> dict:
    return {
        "Id": nominal_id,
        "Code": code,
        "Name": name,
        "Type": kind,
        "NomType": kind,
        "Sa103Code": "",
        "DefaultProduct": None,
        "Disallowed": False,
        "ComplianceCode": "",
        "Archived": False,
        "DigitalService": False,
        "IsProduct": is_product,
        "AutoFillLineItem": False,
        "Price": "0",
        "WholeSalePrice": "0",
        "VATRate": "20" if kind == "Sales" else "0",
        "VATExempt": False,
        "Description": name,
        "Special": False,
        "Classification": kind,
        "ControlAccountClassification": "",
        "AllowDelete": False,
        "PlOption": 0,
        "BsOption": 0,
        "IRISCoAName": name,
        "IsIRISCoA": True,
        "ManageStockLevel": False,
        "QuantityInStock": "0",
        "StockWarningQuantity": "0",
    }


def new_product(product_id: int, nominal: dict, fields: dict) -> dict:
    record = {
        "Id": product_id,
        "Code": "",
        "NominalCode": str(nominal["Code"]),
        "NominalId": nominal["Id"],
        "Name": "",
        "Description": "",
        "AutoFillLineItem": True,
        "Price": "0",
        "WholeSalePrice": "0",
        "VATRate": "20",
        "VATExempt": False,
        "ManageStockLevel": False,
        "QuantityInStock": "0",
        "StockWarningQuantity": "0",
        "IsDefault": False,
        "InUse": True,
        "PurchaseNominalId": None,
        "PurchaseSubNominalId": None,
    }
    record.update(fields)
    record["NominalCode"], record["NominalId"] = str(nominal["Code"]), nominal["Id"]
    return record


def new_bank_account(account_id: int, code: int, name: str, default: bool) -> dict:
    today = day_string(datetime.now(UTC).date())
    return {
        "Id": account_id,
        "Code": code,
        "AccountName": name,
        "IsDefaultAccount": default,
        "IsArchived": False,
        "StartingDate": today,
        "ReconcileDate": None,
        "DefaultReceiptPaymentType": payment_method(3),
        "DefaultInvoicePaymentType": payment_method(3),
        "TransactionLockEnabled": False,
        "TransactionLockDate": None,
        "StartingAmount": "0",
        "BankBalance": "0",
        "BankFeedsAccountId": None,
        "FeedAccountHolder": "",
        "FeedAccountName": "",
        "FeedAccountNumber": "",
        "IconId": 0,
        "IncludeOnDashBoard": True,
        "LastTransactionImportDate": None,
        "Note": "",
        "ShowPaidInFirst": True,
    }


class CatalogMixin:
    """Product, nominal and bank-account routes of the Kashflow emulator."""

    store: StateStore
    default_per_page: int
    max_per_page: int

    def catalog_routes(self):
        product = r"/v2/products/(?P<code>[^/]+)"
        account = r"/v2/bankaccounts/(?P<id>\d+)"
        return [
            ("GET", "/v2/products", self.list_products),
            ("POST", "/v2/products", self.create_product),
            ("GET", product, self.get_product),
            ("PUT", product, self.update_product),
            ("DELETE", product, self.delete_product),
            ("GET", "/v2/nominals", self.list_nominals),
            ("GET", r"/v2/nominals/(?P<id>\d+)", self.get_nominal),
            ("GET", "/v2/bankaccounts", self.list_bank_accounts),
            ("POST", "/v2/bankaccounts", self.create_bank_account),
            ("GET", account, self.get_bank_account),
            ("PUT", account, self.update_bank_account),
            ("DELETE", account, self.delete_bank_account),
            ("GET", account + "/transactions", self.list_bank_transactions),
        ]

    def _page(self, request: Request, records: list[dict], resource: str, sort_keys: dict):
        return paged(
            request,
            records,
            resource=resource,
            sort_keys=sort_keys,
            default_sort=next(iter(sort_keys)),
            default_per_page=self.default_per_page,
            max_per_page=self.max_per_page,
            render=lambda record: record,
        )

    # Products -----------------------------------------------------------------------------
    def find_product(self, code: str) -> dict | None:
        wanted = str(code).strip().upper()
        for product in self.store.all(PRODUCT):
            if product["Code"].upper() == wanted:
                return product
        return None

    def product_or_404(self, code: str) -> dict:
        product = self.find_product(code)
        if product is None:
            raise not_found(f"Product with code {code} does not exist.")
        return product

    def nominal_by_code(self, code: object) -> dict | None:
        for nominal in self.store.all(NOMINAL):
            if str(nominal["Code"]) == str(code).strip():
                return nominal
        return None

    def list_products(self, request: Request) -> Response:
        records = text_filter(request, self.store.all(PRODUCT), ("Code", "Name", "NominalCode"))
        return self._page(request, records, "products", PRODUCT_SORT_KEYS)

    def get_product(self, request: Request) -> Response:
        return json_response(200, self.product_or_404(request.match["code"]))

    def create_product(self, request: Request) -> Response:
        fields = _clean_product_fields(json_object(request))
        code = (fields.get("Code") or "").strip()
        if not code or not (fields.get("Name") or "").strip():
            raise validation("Code and Name are required.")
        with self.store.batch():
            if self.find_product(code) is not None:
                raise KashflowError(
                    400, ErrorCode.DUPLICATE_PRODUCT_CODE, "Product code already exists."
                )
            nominal = self._sales_nominal(fields.pop("NominalCode", SALES_NOMINAL_CODE))
            product_id = self.store.next_id("product_id")
            product = new_product(product_id, nominal, fields)
            self.store.put(PRODUCT, product_id, product)
        return json_response(201, product)

    def update_product(self, request: Request) -> Response:
        self.product_or_404(request.match["code"])
        fields = _clean_product_fields(json_object(request))
        with self.store.batch():
            product = dict(self.product_or_404(request.match["code"]))
            new_code = (fields.get("Code") or product["Code"]).strip()
            if new_code.upper() != product["Code"].upper() and self.find_product(new_code):
                raise KashflowError(
                    400, ErrorCode.DUPLICATE_PRODUCT_CODE, "Product code already exists."
                )
            if "NominalCode" in fields:
                nominal = self._sales_nominal(fields.pop("NominalCode"))
                fields.update(NominalCode=str(nominal["Code"]), NominalId=nominal["Id"])
            product.update(fields, Code=new_code)
            self.store.put(PRODUCT, product["Id"], product)
        return json_response(200, product)

    def delete_product(self, request: Request) -> Response:
        with self.store.batch():
            product = self.product_or_404(request.match["code"])
            self.store.delete(PRODUCT, product["Id"])
        return Response(204)

    def _sales_nominal(self, code: object) -> dict:
        nominal = self.nominal_by_code(code)
        if nominal is None or not nominal["IsProduct"]:
            raise validation(f"NominalCode {code} is not a sales nominal code.")
        return nominal

    # Nominals -----------------------------------------------------------------------------
    def list_nominals(self, request: Request) -> Response:
        sort_keys = {"Code": lambda n: n["Code"], "Name": lambda n: n["Name"].upper()}
        return self._page(request, self.store.all(NOMINAL), "nominals", sort_keys)

    def get_nominal(self, request: Request) -> Response:
        nominal = self.store.get(NOMINAL, request.match["id"])
        if nominal is None:
            raise not_found(f"Nominal {request.match['id']} does not exist.")
        return json_response(200, nominal)

    # Bank accounts ------------------------------------------------------------------------
    def bank_account_or_404(self, account_id: object) -> dict:
        account = self.store.get(BANK_ACCOUNT, str(account_id))
        if account is None:
            raise not_found(f"Bank account {account_id} does not exist.")
        return account

    def default_bank_account(self) -> dict:
        accounts = self.store.all(BANK_ACCOUNT)
        return next((a for a in accounts if a["IsDefaultAccount"]), accounts[0])

    def list_bank_accounts(self, request: Request) -> Response:
        sort_keys = {"Code": lambda a: a["Code"], "AccountName": lambda a: a["AccountName"]}
        return self._page(request, self.store.all(BANK_ACCOUNT), "bankaccounts", sort_keys)

    def get_bank_account(self, request: Request) -> Response:
        return json_response(200, self.bank_account_or_404(request.match["id"]))

    def create_bank_account(self, request: Request) -> Response:
        fields = canonical_keys(json_object(request), BANK_WRITABLE)
        if not (fields.get("AccountName") or "").strip():
            raise validation("AccountName is required.")
        with self.store.batch():
            account_id = self.store.next_id("bankaccount_id")
            code = fields.pop("Code", None) or 1200 + account_id * 10
            account = new_bank_account(account_id, int(code), fields.pop("AccountName"), False)
            self._apply_bank_fields(account, fields)
            self.store.put(BANK_ACCOUNT, account_id, account)
        return json_response(201, account)

    def update_bank_account(self, request: Request) -> Response:
        fields = canonical_keys(json_object(request), BANK_WRITABLE)
        with self.store.batch():
            account = dict(self.bank_account_or_404(request.match["id"]))
            if "AccountName" in fields:
                account["AccountName"] = fields.pop("AccountName")
            if "Code" in fields:
                account["Code"] = int(fields.pop("Code"))
            self._apply_bank_fields(account, fields)
            self.store.put(BANK_ACCOUNT, account["Id"], account)
        return json_response(200, account)

    def _apply_bank_fields(self, account: dict, fields: dict) -> None:
        if "StartingAmount" in fields:
            starting = to_decimal(fields.pop("StartingAmount"), "StartingAmount")
            moved = to_decimal(account["BankBalance"], "BankBalance") - to_decimal(
                account["StartingAmount"], "StartingAmount"
            )
            account["StartingAmount"] = money(starting)
            account["BankBalance"] = money(starting + moved)
        for flag in ("IsDefaultAccount", "IsArchived"):
            if flag in fields:
                account[flag] = as_bool(fields.pop(flag), flag)
        account.update(fields)
        if account["IsDefaultAccount"]:
            for other in self.store.all(BANK_ACCOUNT):
                if other["Id"] != account["Id"] and other["IsDefaultAccount"]:
                    self.store.put(BANK_ACCOUNT, other["Id"], {**other, "IsDefaultAccount": False})

    def delete_bank_account(self, request: Request) -> Response:
        with self.store.batch():
            account = self.bank_account_or_404(request.match["id"])
            if any(t["AccountId"] == account["Id"] for t in self.store.all(BANK_TRANSACTION)):
                raise validation("The bank account has transactions and cannot be deleted.")
            self.store.delete(BANK_ACCOUNT, account["Id"])
        return Response(204)

    def list_bank_transactions(self, request: Request) -> Response:
        account = self.bank_account_or_404(request.match["id"])
        records = [t for t in self.store.all(BANK_TRANSACTION) if t["AccountId"] == account["Id"]]
        sort_keys = {"Date": lambda t: t["Date"], "TransactionNumber": lambda t: t["Id"]}
        return self._page(request, records, f"bankaccounts/{account['Id']}/transactions", sort_keys)


def _clean_product_fields(body: dict) -> dict:
    fields = canonical_keys(body, PRODUCT_WRITABLE)
    for amount in ("Price", "WholeSalePrice", "VATRate", "QuantityInStock", "StockWarningQuantity"):
        if amount in fields:
            fields[amount] = money(to_decimal(fields[amount], amount))
    for flag in ("AutoFillLineItem", "VATExempt", "ManageStockLevel", "IsDefault", "InUse"):
        if flag in fields:
            fields[flag] = as_bool(fields[flag], flag)
    for text in ("Code", "Name", "Description"):
        if text in fields and not isinstance(fields[text], str):
            raise validation(f"{text} must be a string.")
    return fields
