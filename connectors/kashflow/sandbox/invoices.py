"""Kashflow sales invoices and their payments: `/v2/invoices` by Number.

Lines are priced here (net = Quantity x Rate, VAT = net x VATLevel / 100 unless exempt, both
rounded to pennies) and the invoice totals are their sums. Lines naming a stock-managed product
take its quantity out of stock; editing or deleting the invoice puts it back. Payments live in
the invoice's `PaymentLines`, move its paid total and status, show up as a bank transaction
(`TransactionType` 1) and keep the customer's balance in step.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum

from connectors.kashflow.sandbox.catalog import (
    BANK_ACCOUNT,
    BANK_TRANSACTION,
    PAYMENT_METHODS,
    PRODUCT,
)
from connectors.kashflow.sandbox.customers import CUSTOMER, GBP
from connectors.kashflow.sandbox.wire import (
    ErrorCode,
    KashflowError,
    as_bool,
    day_string,
    json_object,
    json_response,
    money,
    not_found,
    paged,
    parse_day,
    pick,
    round_pennies,
    stored_day,
    text_filter,
    to_decimal,
    validation,
)
from connectors.sandbox.server import Request, Response

INVOICE = "invoice"
STANDARD_VAT = Decimal("20")
ZERO = Decimal("0")


class InvoiceStatus(StrEnum):
    UNPAID = "Unpaid"
    OVERDUE = "Overdue"
    PAID = "Paid"


SORT_KEYS = {
    "Number": lambda i: i["Number"],
    "CustomerRef": lambda i: (i["CustomerReference"] or "").upper(),
    "CustomerName": lambda i: i["CustomerName"].upper(),
    "InvoiceDate": lambda i: i["IssuedDate"],
    "PaymentDueDate": lambda i: i["DueDate"],
    "GrossAmount": lambda i: float(i["GrossAmount"]),
    "NetAmount": lambda i: float(i["NetAmount"]),
    "Status": lambda i: str(invoice_status(i)),
}


def invoice_status(invoice: dict, today: date | None = None) -> InvoiceStatus:
    gross, paid = Decimal(invoice["GrossAmount"]), Decimal(invoice["TotalPaidAmount"])
    if gross > 0 and paid >= gross:
        return InvoiceStatus.PAID
    if stored_day(invoice["DueDate"]) < (today or datetime.now(UTC).date()):
        return InvoiceStatus.OVERDUE
    return InvoiceStatus.UNPAID


def render_invoice(invoice: dict, summary: bool) -> dict:
    today = datetime.now(UTC).date()
    status = invoice_status(invoice, today)
    overdue = (
        (today - stored_day(invoice["DueDate"])).days if status is InvoiceStatus.OVERDUE else 0
    )
    rendered = {**invoice, "Status": str(status), "OverdueDays": overdue}
    if summary:
        rendered.update(LineItems=None, PaymentLines=None, Currency=None)
    return rendered


class InvoicesMixin:
    """Invoice and invoice-payment routes of the Kashflow emulator."""

    def invoice_routes(self):
        number = r"/v2/invoices/(?P<number>\d+)"
        return [
            ("GET", "/v2/invoices", self.list_invoices),
            ("POST", "/v2/invoices", self.create_invoice),
            ("GET", number, self.get_invoice),
            ("PUT", number, self.update_invoice),
            ("DELETE", number, self.delete_invoice),
            ("GET", number + "/payments", self.list_invoice_payments),
            ("POST", number + "/payments", self.create_invoice_payment),
            ("DELETE", number + r"/payments/(?P<id>\d+)", self.delete_invoice_payment),
        ]

    # Lookups ------------------------------------------------------------------------------
    def find_invoice(self, number: int) -> dict | None:
        for invoice in self.store.all(INVOICE):
            if invoice["Number"] == number:
                return invoice
        return None

    def invoice_or_404(self, number: str) -> dict:
        invoice = self.find_invoice(int(number))
        if invoice is None:
            raise not_found(f"Invoice number {number} does not exist.")
        return invoice

    # Routes -------------------------------------------------------------------------------
    def list_invoices(self, request: Request) -> Response:
        records = text_filter(
            request,
            self.store.all(INVOICE),
            ("Number", "CustomerCode", "CustomerName", "CustomerReference"),
        )
        return paged(
            request,
            records,
            resource="invoices",
            sort_keys=SORT_KEYS,
            default_sort="Number",
            default_per_page=self.default_per_page,
            max_per_page=self.max_per_page,
            render=lambda invoice: render_invoice(invoice, summary=True),
        )

    def get_invoice(self, request: Request) -> Response:
        invoice = self.invoice_or_404(request.match["number"])
        numbers = sorted(other["Number"] for other in self.store.all(INVOICE))
        position = numbers.index(invoice["Number"])
        rendered = render_invoice(invoice, summary=False)
        rendered["NextNumber"] = numbers[position + 1] if position + 1 < len(numbers) else None
        rendered["PreviousNumber"] = numbers[position - 1] if position else None
        return json_response(200, rendered)

    def create_invoice(self, request: Request) -> Response:
        body = json_object(request)
        with self.store.batch():
            invoice = self.build_invoice(body)
            self.save_new_invoice(invoice)
        return json_response(201, render_invoice(invoice, summary=False))

    def update_invoice(self, request: Request) -> Response:
        self.invoice_or_404(request.match["number"])
        body = json_object(request)
        with self.store.batch():
            old = self.invoice_or_404(request.match["number"])
            supplied = pick(body, "Number")
            if supplied is not None and str(supplied) != str(old["Number"]):
                raise validation("An invoice's Number cannot be changed.")
            merged = {
                "CustomerCode": old["CustomerCode"],
                "CustomerReference": old["CustomerReference"],
                "IssuedDate": old["IssuedDate"],
                "DueDate": old["DueDate"],
                "LineItems": old["LineItems"],
                "Address": old["Address"],
                "DeliveryAddress": old["DeliveryAddress"],
                **body,
            }
            merged = {k: v for k, v in merged.items() if k.lower() not in ("customerid", "number")}
            invoice = self.build_invoice(merged, number=old["Number"], invoice_id=old["Id"])
            paid = Decimal(old["TotalPaidAmount"])
            if paid > Decimal(invoice["GrossAmount"]):
                raise validation("The invoice total cannot go below the amount already paid.")
            invoice.update(
                PaymentLines=old["PaymentLines"],
                TotalPaidAmount=old["TotalPaidAmount"],
                LastPaymentDate=old["LastPaymentDate"],
                Permalink=old["Permalink"],
            )
            self._set_paid_date(invoice)
            self._move_stock(old["LineItems"], sign=1)
            self._move_stock(invoice["LineItems"], sign=-1)
            self.store.put(INVOICE, invoice["Id"], invoice)
            self.refresh_customer_totals({old["CustomerId"], invoice["CustomerId"]})
        return json_response(200, render_invoice(invoice, summary=False))

    def delete_invoice(self, request: Request) -> Response:
        with self.store.batch():
            invoice = self.invoice_or_404(request.match["number"])
            if invoice["PaymentLines"]:
                raise validation("The invoice has payments; delete them first.")
            self._move_stock(invoice["LineItems"], sign=1)
            self.store.delete(INVOICE, invoice["Id"])
            self.refresh_customer_totals({invoice["CustomerId"]})
        return Response(204)

    # Payments -----------------------------------------------------------------------------
    def list_invoice_payments(self, request: Request) -> Response:
        return json_response(200, self.invoice_or_404(request.match["number"])["PaymentLines"])

    def create_invoice_payment(self, request: Request) -> Response:
        self.invoice_or_404(request.match["number"])
        body = json_object(request)
        with self.store.batch():
            invoice = self.invoice_or_404(request.match["number"])
            payment = self.add_payment(invoice, body)
        return json_response(201, payment)

    def delete_invoice_payment(self, request: Request) -> Response:
        with self.store.batch():
            invoice = self.invoice_or_404(request.match["number"])
            self.remove_payment(invoice, int(request.match["id"]))
        return Response(204)

    def remove_payment(self, invoice: dict, payment_id: int) -> None:
        """Take a payment off an invoice and out of the bank (inside a store batch)."""
        invoice = dict(invoice)
        payment = next((p for p in invoice["PaymentLines"] if p["Id"] == payment_id), None)
        if payment is None:
            raise not_found(f"Payment {payment_id} does not exist on this invoice.")
        invoice["PaymentLines"] = [p for p in invoice["PaymentLines"] if p is not payment]
        self._apply_payments(invoice)
        self.store.put(INVOICE, invoice["Id"], invoice)
        self.store.delete(BANK_TRANSACTION, payment_id)
        self._move_bank_balance(payment["AccountId"], -Decimal(payment["Amount"]))
        self.refresh_customer_totals({invoice["CustomerId"]})

    def add_payment(
        self,
        invoice: dict,
        body: dict,
        refresh_customer: bool = True,
        bulk: dict | None = None,
    ) -> dict:
        """Record a payment against an invoice (inside a store batch); returns the PaymentItem.

        bulk: the BulkId / BulkPaymentNumber of the bulk payment it belongs to, if any."""
        amount = round_pennies(to_decimal(pick(body, "Amount"), "Amount"))
        if amount <= 0:
            raise validation("Amount must be greater than zero.")
        outstanding = Decimal(invoice["GrossAmount"]) - Decimal(invoice["TotalPaidAmount"])
        if amount > outstanding:
            raise validation(f"Amount {amount} is more than the {outstanding} due.")
        paid_on = pick(body, "Date")
        paid_day = parse_day(paid_on, "Date") if paid_on else datetime.now(UTC).date()
        account_id = pick(body, "AccountId")
        account = (
            self.bank_account_or_404(account_id)
            if account_id not in (None, 0)
            else self.default_bank_account()
        )
        method = pick(body, "Method")
        if method in (None, 0):
            method = account["DefaultInvoicePaymentType"]["Id"]
        if not isinstance(method, int) or method not in PAYMENT_METHODS:
            raise validation(f"Method must be one of {sorted(PAYMENT_METHODS)}.")
        payment_id = self.store.next_id("payment_id")
        payment = {
            "Id": payment_id,
            "Date": day_string(paid_day),
            "Amount": money(amount),
            "Method": method,
            "AccountId": account["Id"],
            "Note": str(pick(body, "Note", default="") or ""),
            "PaymentProcessor": None,
            "BulkId": None,
            "BulkPaymentNumber": None,
            "BFSTransactionId": None,
            "VATReturnId": 0,
            "IsPaymentCreditNote": False,
            "Permalink": invoice["Permalink"],
            **(bulk or {}),
        }
        updated = {**invoice, "PaymentLines": [*invoice["PaymentLines"], payment]}
        self._apply_payments(updated)
        self.store.put(INVOICE, updated["Id"], updated)
        self.store.put(
            BANK_TRANSACTION,
            payment_id,
            _bank_transaction(payment, updated, account),
        )
        self._move_bank_balance(account["Id"], amount)
        if refresh_customer:
            self.refresh_customer_totals({invoice["CustomerId"]})
        return payment

    # Building -----------------------------------------------------------------------------
    def build_invoice(
        self, body: dict, number: int | None = None, invoice_id: int | None = None
    ) -> dict:
        """A validated, priced invoice from a request body (not yet stored)."""
        customer = self._invoice_customer(body)
        if number is None:
            number = self._new_invoice_number(pick(body, "Number"))
        issued_raw = pick(body, "IssuedDate", "InvoiceDate")
        issued = parse_day(issued_raw, "IssuedDate") if issued_raw else datetime.now(UTC).date()
        due_raw = pick(body, "DueDate")
        terms = int((customer.get("PaymentTerms") or {}).get("Days") or 30)
        due = parse_day(due_raw, "DueDate") if due_raw else issued + timedelta(days=terms)
        raw_lines = pick(body, "LineItems", default=[]) or []
        if not isinstance(raw_lines, list) or not all(isinstance(x, dict) for x in raw_lines):
            raise validation("LineItems must be a list of objects.")
        lines = [self._build_line(raw, index, customer) for index, raw in enumerate(raw_lines, 1)]
        net = sum((round_pennies(Decimal(x["Rate"]) * Decimal(x["Quantity"])) for x in lines), ZERO)
        vat = sum((Decimal(line["VATAmount"]) for line in lines), ZERO)
        address = pick(body, "Address")
        if address is None:
            address = (customer["Addresses"] or [None])[0]
        return {
            "Id": invoice_id or self.store.next_id("invoice_id"),
            "Number": number,
            "CustomerId": customer["Id"],
            "CustomerCode": customer["Code"],
            "CustomerName": customer["Name"],
            "CustomerReference": str(pick(body, "CustomerReference", default="") or ""),
            "IssuedDate": day_string(issued),
            "DueDate": day_string(due),
            "PaidDate": None,
            "LastPaymentDate": None,
            "NetAmount": money(net),
            "VATAmount": money(vat),
            "GrossAmount": money(net + vat),
            "HomeCurrencyGrossAmount": money(net + vat),
            "TotalPaidAmount": "0",
            "Currency": dict(GBP),
            "CustomerDiscount": customer["DiscountRate"],
            "VATNumber": customer["VATNumber"],
            "Address": address,
            "DeliveryAddress": pick(body, "DeliveryAddress"),
            "UpdateCustomerAddress": False,
            "UpdateCustomerDeliveryAddress": False,
            "InvoiceInECMemberState": False,
            "InvoiceOutsideECMemberState": False,
            "AutomaticCreditControlEnabled": False,
            "EmailCount": 0,
            "SuppressNumber": False,
            "Permalink": f"https://app.kashflow.sandbox/invoice/{uuid.uuid4().hex}",
            "ReminderLetters": [],
            "LineItems": lines,
            "PaymentLines": [],
        }

    def save_new_invoice(self, invoice: dict) -> None:
        """Store a built invoice, take its lines out of stock, update the customer's totals."""
        self.store.put(INVOICE, invoice["Id"], invoice)
        high = int(self.store.get_meta("invoice_number_high", "0"))
        self.store.set_meta("invoice_number_high", str(max(high, invoice["Number"])))
        self._move_stock(invoice["LineItems"], sign=-1)
        self.refresh_customer_totals({invoice["CustomerId"]})

    def _invoice_customer(self, body: dict) -> dict:
        code = pick(body, "CustomerCode")
        customer_id = pick(body, "CustomerId")
        if code:
            customer = self.find_customer(str(code))
        elif customer_id:
            customer = self.store.get(CUSTOMER, str(customer_id))
        else:
            raise validation("CustomerCode is required.")
        if customer is None:
            raise validation(f"Customer {code or customer_id} does not exist.")
        return customer

    def _new_invoice_number(self, supplied: object) -> int:
        if supplied in (None, "", 0):
            return int(self.store.get_meta("invoice_number_high", "0")) + 1
        try:
            number = int(str(supplied))
        except ValueError:
            raise validation("Number must be a positive whole number.") from None
        if number < 1:
            raise validation("Number must be a positive whole number.")
        if self.find_invoice(number) is not None:
            raise KashflowError(
                400,
                ErrorCode.DUPLICATE_INVOICE_NUMBER,
                f"Invoice number {number} already exists.",
            )
        return number

    def _build_line(self, raw: dict, index: int, customer: dict) -> dict:
        label = f"LineItems[{index}]"
        product_code = pick(raw, "ProductCode")
        product = None
        if product_code:
            product = self.find_product(str(product_code))
            if product is None:
                raise validation(f"{label}: product {product_code} does not exist.")
        quantity = to_decimal(pick(raw, "Quantity", default=1), f"{label}.Quantity")
        rate_raw = pick(raw, "Rate")
        if rate_raw is None and product is None:
            raise validation(f"{label}: Rate is required.")
        rate = to_decimal(rate_raw if rate_raw is not None else product["Price"], f"{label}.Rate")
        exempt_raw = pick(raw, "VATExempt")
        exempt = as_bool(exempt_raw, f"{label}.VATExempt") if exempt_raw is not None else False
        level_raw = pick(raw, "VATLevel", "VATRate")
        default_level = product["VATRate"] if product else STANDARD_VAT
        level = to_decimal(level_raw if level_raw is not None else default_level, f"{label}.VAT")
        net = round_pennies(quantity * rate)
        vat = ZERO if exempt else round_pennies(net * level / 100)
        default_nominal = int(product["NominalCode"]) if product else customer["DefaultNominalCode"]
        description = pick(raw, "Description") or (product["Name"] if product else "")
        return {
            "Number": int(pick(raw, "Number", default=index) or index),
            "Description": str(description),
            "Quantity": money(quantity),
            "Rate": money(rate),
            "NominalCode": int(pick(raw, "NominalCode", default=default_nominal) or 4000),
            "ProductCode": product["Code"] if product else None,
            "ProductName": product["Name"] if product else None,
            "VATAmount": money(vat),
            "VATLevel": money(level),
            "VATExempt": exempt,
            "ProjectNumber": pick(raw, "ProjectNumber"),
        }

    # Side effects -------------------------------------------------------------------------
    def _move_stock(self, lines: list[dict], sign: int) -> None:
        for line in lines:
            if not line.get("ProductCode"):
                continue
            product = self.find_product(line["ProductCode"])
            if product is None or not product["ManageStockLevel"]:
                continue
            level = Decimal(product["QuantityInStock"]) + sign * Decimal(line["Quantity"])
            self.store.put(PRODUCT, product["Id"], {**product, "QuantityInStock": money(level)})

    def _apply_payments(self, invoice: dict) -> None:
        payments = invoice["PaymentLines"]
        invoice["TotalPaidAmount"] = money(sum((Decimal(p["Amount"]) for p in payments), ZERO))
        invoice["LastPaymentDate"] = max((p["Date"] for p in payments), default=None)
        self._set_paid_date(invoice)

    def _set_paid_date(self, invoice: dict) -> None:
        gross, paid = Decimal(invoice["GrossAmount"]), Decimal(invoice["TotalPaidAmount"])
        invoice["PaidDate"] = invoice["LastPaymentDate"] if gross > 0 and paid >= gross else None

    def _move_bank_balance(self, account_id: int, amount: Decimal) -> None:
        account = self.store.get(BANK_ACCOUNT, str(account_id))
        if account is not None:
            balance = Decimal(account["BankBalance"]) + amount
            self.store.put(BANK_ACCOUNT, account_id, {**account, "BankBalance": money(balance)})

    def refresh_customer_totals(self, customer_ids: set[int]) -> None:
        """Recompute invoice counts and amounts of some customers (LastUpdatedDate unchanged)."""
        totals = {customer_id: [] for customer_id in customer_ids}
        for invoice in self.store.all(INVOICE):
            if invoice["CustomerId"] in totals:
                totals[invoice["CustomerId"]].append(invoice)
        for customer_id, invoices in totals.items():
            customer = self.store.get(CUSTOMER, str(customer_id))
            if customer is None:
                continue
            self.store.put(CUSTOMER, customer_id, {**customer, **customer_totals(invoices)})


def customer_totals(invoices: list[dict]) -> dict:
    """The customer fields Kashflow derives from the customer's invoices."""
    net = sum((Decimal(i["NetAmount"]) for i in invoices), ZERO)
    vat = sum((Decimal(i["VATAmount"]) for i in invoices), ZERO)
    paid = sum((Decimal(i["TotalPaidAmount"]) for i in invoices), ZERO)
    dates = sorted(i["IssuedDate"] for i in invoices)
    return {
        "InvoiceCount": len(invoices),
        "InvoicedNetAmount": money(net),
        "InvoicedVATAmount": money(vat),
        "TotalPaidAmount": money(paid),
        "OutstandingBalance": money(net + vat - paid),
        "FirstInvoiceDate": dates[0] if dates else None,
        "LastInvoiceDate": dates[-1] if dates else None,
    }


def _bank_transaction(payment: dict, invoice: dict, account: dict) -> dict:
    return {
        "AccountId": account["Id"],
        "Id": payment["Id"],
        "TransactionNumber": payment["Id"],
        "Date": payment["Date"],
        "PaidIn": payment["Amount"],
        "MoneyOut": "0",
        "Comment": payment["Note"] or f"Payment for invoice {invoice['Number']}",
        "CustomerCode": invoice["CustomerCode"],
        "CustomerId": invoice["CustomerId"],
        "SupplierCode": None,
        "ResourceNumber": invoice["Number"],
        "ProjectId": None,
        "Reconciled": False,
        "ReconciledId": None,
        "VATAble": False,
        "VATAmount": "0",
        "VATPaid": False,
        "VATRate": "0",
        "VATReturnId": None,
        "BFSTransactionId": None,
        "TransactionType": 1,
    }
