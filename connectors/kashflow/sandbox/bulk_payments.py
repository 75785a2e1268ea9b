"""Kashflow bulk invoice payments: `/v2/invoices/bulk/payments`, one receipt over many invoices.

The route and its body fields are CONFIRMED (Number, Date, Comment, AccountId, Method,
Reconciled, PaymentItems[] with Amount and ObjectNumber = the invoice number). Each item
becomes an ordinary payment on its invoice carrying `BulkId` / `BulkPaymentNumber`. A bulk
payment is all or nothing: one bad item (unknown invoice, more than is due) refuses the lot.
"""

from __future__ import annotations

from connectors.kashflow.sandbox.invoices import INVOICE
from connectors.kashflow.sandbox.wire import (
    KashflowError,
    as_bool,
    json_object,
    json_response,
    not_found,
    paged,
    pick,
    validation,
)
from connectors.sandbox.server import Request, Response

BULK_PAYMENT = "bulkpayment"


class BulkPaymentsMixin:
    """Bulk payment routes of the Kashflow emulator (invoices only; purchases are not emulated)."""

    def bulk_payment_routes(self):
        single = r"/v2/invoices/bulk/payments/(?P<number>\d+)"
        return [
            ("GET", "/v2/invoices/bulk/payments", self.list_bulk_payments),
            ("POST", "/v2/invoices/bulk/payments", self.create_bulk_payment),
            ("GET", single, self.get_bulk_payment),
            ("DELETE", single, self.delete_bulk_payment),
        ]

    def bulk_payment_or_404(self, number: str) -> dict:
        for bulk in self.store.all(BULK_PAYMENT):
            if bulk["Number"] == int(number):
                return bulk
        raise not_found(f"Bulk payment number {number} does not exist.")

    def list_bulk_payments(self, request: Request) -> Response:
        return paged(
            request,
            self.store.all(BULK_PAYMENT),
            resource="invoices/bulk/payments",
            sort_keys={"Number": lambda b: b["Number"], "Date": lambda b: b["Date"]},
            default_sort="Number",
            default_per_page=self.default_per_page,
            max_per_page=self.max_per_page,
            render=lambda record: record,
        )

    def get_bulk_payment(self, request: Request) -> Response:
        return json_response(200, self.bulk_payment_or_404(request.match["number"]))

    def create_bulk_payment(self, request: Request) -> Response:
        body = json_object(request)
        items = pick(body, "PaymentItems")
        if not isinstance(items, list) or not items or not all(isinstance(i, dict) for i in items):
            raise validation("PaymentItems must be a non-empty list of objects.")
        reconciled = pick(body, "Reconciled")
        with self.store.batch():  # an error below rolls back every payment already added
            number = self._bulk_number(pick(body, "Number"))
            bulk_id = self.store.next_id("bulkpayment_id")
            common = {
                "Date": pick(body, "Date"),
                "AccountId": pick(body, "AccountId"),
                "Method": pick(body, "Method"),
                "Note": pick(body, "Comment", default="") or "",
            }
            recorded = []
            for index, item in enumerate(items, 1):
                object_number = pick(item, "ObjectNumber")
                invoice = self.find_invoice(_whole(object_number, f"PaymentItems[{index}]"))
                if invoice is None:
                    raise validation(f"PaymentItems[{index}]: invoice {object_number} not found.")
                payment = self.add_payment(
                    invoice,
                    {**common, "Amount": pick(item, "Amount")},
                    bulk={"BulkId": bulk_id, "BulkPaymentNumber": number},
                )
                invoice = self.store.get(INVOICE, invoice["Id"])
                recorded.append(
                    {
                        "Id": payment["Id"],
                        "Amount": payment["Amount"],
                        "ContactName": invoice["CustomerName"],
                        "ContactReference": invoice["CustomerCode"],
                        "ObjectIssuedDate": invoice["IssuedDate"],
                        "ObjectNumber": invoice["Number"],
                        "PaidDate": invoice["PaidDate"],
                    }
                )
            bulk = {
                "Id": bulk_id,
                "Number": number,
                "Date": payment["Date"],
                "Comment": common["Note"],
                "AccountId": payment["AccountId"],
                "Method": payment["Method"],
                "Reconciled": as_bool(reconciled, "Reconciled")
                if reconciled is not None
                else False,
                "PaymentItems": recorded,
            }
            self.store.put(BULK_PAYMENT, bulk_id, bulk)
        return json_response(201, bulk)

    def delete_bulk_payment(self, request: Request) -> Response:
        with self.store.batch():
            bulk = self.bulk_payment_or_404(request.match["number"])
            for item in bulk["PaymentItems"]:
                invoice = self.find_invoice(item["ObjectNumber"])
                if invoice is not None:
                    self.remove_payment(invoice, item["Id"])
            self.store.delete(BULK_PAYMENT, bulk["Id"])
        return Response(204)

    def _bulk_number(self, supplied: object) -> int:
        numbers = {bulk["Number"] for bulk in self.store.all(BULK_PAYMENT)}
        if supplied in (None, "", 0):
            return max(numbers, default=0) + 1
        number = _whole(supplied, "Number")
        if number in numbers:
            raise KashflowError(400, "DuplicateBulkPaymentNumber", f"{number} already exists.")
        return number


def _whole(value: object, label: str) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise validation(f"{label}: a positive whole number is required.") from None
    if number < 1:
        raise validation(f"{label}: a positive whole number is required.")
    return number
