"""Kashflow sandbox: invoice payments, paid status, bank transactions and balances."""

from decimal import Decimal

from tests.connectors.kashflow.conftest import decimal_json, unique


def new_invoice(api, net: int = 100) -> dict:
    customer = api.create_customer(Code=unique("PAY"))
    response = api.post(
        "/invoices",
        {
            "CustomerCode": customer["Code"],
            "LineItems": [{"Description": "Work", "Quantity": 1, "Rate": net, "VATLevel": 20}],
        },
    )
    assert response.status_code == 201, response.text
    return decimal_json(response)


def bank_balance(api, account_id: int) -> Decimal:
    return decimal_json(api.get(f"/bankaccounts/{account_id}"))["BankBalance"]


def test_part_then_full_payment_marks_the_invoice_paid(api):
    invoice = new_invoice(api)  # gross 120.00
    path = f"/invoices/{invoice['Number']}"
    first = api.post(f"{path}/payments", {"Amount": 50, "Date": "2025-03-01", "Method": 3})
    assert first.status_code == 201
    payment = decimal_json(first)
    assert payment["Amount"] == 50
    assert {"Id", "Date", "Amount", "Method", "AccountId", "Note"} <= set(payment)
    part_paid = decimal_json(api.get(path))
    assert part_paid["TotalPaidAmount"] == 50
    assert part_paid["Status"] != "Paid"
    assert part_paid["PaidDate"] is None
    api.post(f"{path}/payments", {"Amount": "70.00", "Date": "2025-03-09 10:00:00"})
    paid = decimal_json(api.get(path))
    assert paid["Status"] == "Paid"
    assert paid["TotalPaidAmount"] == 120
    assert paid["PaidDate"].startswith("2025-03-09")
    assert paid["LastPaymentDate"].startswith("2025-03-09")
    assert [p["Amount"] for p in paid["PaymentLines"]] == [50, 70]
    assert [p["Amount"] for p in decimal_json(api.get(f"{path}/payments"))] == [50, 70]
    customer = decimal_json(api.get(f"/customers/{invoice['CustomerCode']}"))
    assert customer["TotalPaidAmount"] == 120
    assert customer["OutstandingBalance"] == 0


def test_payment_shows_up_as_an_invoice_payment_in_the_bank_account(api):
    invoice = new_invoice(api, net=10)
    accounts = api.get("/bankaccounts").json()["Data"]
    deposit = next(account for account in accounts if not account["IsDefaultAccount"])
    before = bank_balance(api, deposit["Id"])
    payment = decimal_json(
        api.post(
            f"/invoices/{invoice['Number']}/payments",
            {"Amount": 12, "AccountId": deposit["Id"], "Note": "BACS ref 42"},
        )
    )
    assert payment["AccountId"] == deposit["Id"]
    assert bank_balance(api, deposit["Id"]) == before + 12
    transactions = decimal_json(api.get(f"/bankaccounts/{deposit['Id']}/transactions"))["Data"]
    transaction = next(t for t in transactions if t["Id"] == payment["Id"])
    assert transaction["TransactionType"] == 1
    assert transaction["PaidIn"] == 12
    assert transaction["ResourceNumber"] == invoice["Number"]
    assert transaction["CustomerCode"] == invoice["CustomerCode"]


def test_overpayment_and_bad_amounts_are_refused(api):
    invoice = new_invoice(api)
    path = f"/invoices/{invoice['Number']}/payments"
    for body in ({"Amount": 500}, {"Amount": 0}, {}, {"Amount": 5, "Method": 99}):
        response = api.post(path, body)
        assert response.status_code == 400, body
        assert response.json()["Error"] == "ValidationError"
    assert api.post(path, {"Amount": 5, "AccountId": 9999}).status_code == 404
    assert decimal_json(api.get(f"/invoices/{invoice['Number']}"))["PaymentLines"] == []


def test_deleting_a_payment_reopens_the_invoice(api):
    invoice = new_invoice(api)
    path = f"/invoices/{invoice['Number']}"
    payment = decimal_json(api.post(f"{path}/payments", {"Amount": 120}))
    assert api.get(path).json()["Status"] == "Paid"
    assert api.delete(f"{path}/payments/{payment['Id']}").status_code == 204
    reopened = decimal_json(api.get(path))
    assert reopened["Status"] != "Paid"
    assert reopened["TotalPaidAmount"] == 0
    assert api.delete(f"{path}/payments/{payment['Id']}").status_code == 404


def test_an_invoice_with_payments_cannot_be_deleted(api):
    invoice = new_invoice(api)
    api.post(f"/invoices/{invoice['Number']}/payments", {"Amount": 1})
    response = api.delete(f"/invoices/{invoice['Number']}")
    assert response.status_code == 400
    assert api.get(f"/invoices/{invoice['Number']}").status_code == 200


def test_payment_on_an_unknown_invoice_is_404(api):
    response = api.post("/invoices/99999999/payments", {"Amount": 1})
    assert response.status_code == 404
    assert response.json()["Error"] == "NotFound"


def test_bulk_payment_pays_several_invoices_at_once(api):
    first, second = new_invoice(api), new_invoice(api, net=50)
    response = api.post(
        "/invoices/bulk/payments",
        {
            "Date": "2025-04-02",
            "Comment": "Remittance 7781",
            "PaymentItems": [
                {"ObjectNumber": first["Number"], "Amount": 120},
                {"ObjectNumber": second["Number"], "Amount": 20},
            ],
        },
    )
    assert response.status_code == 201, response.text
    bulk = decimal_json(response)
    assert [item["ObjectNumber"] for item in bulk["PaymentItems"]] == [
        first["Number"],
        second["Number"],
    ]
    assert api.get(f"/invoices/{first['Number']}").json()["Status"] == "Paid"
    second_payment = api.get(f"/invoices/{second['Number']}").json()["PaymentLines"][0]
    assert second_payment["BulkPaymentNumber"] == bulk["Number"]
    assert api.get(f"/invoices/bulk/payments/{bulk['Number']}").json()["Id"] == bulk["Id"]
    assert api.delete(f"/invoices/bulk/payments/{bulk['Number']}").status_code == 204
    assert api.get(f"/invoices/{first['Number']}").json()["PaymentLines"] == []


def test_bulk_payment_with_one_bad_item_records_nothing(api):
    invoice = new_invoice(api)
    response = api.post(
        "/invoices/bulk/payments",
        {
            "PaymentItems": [
                {"ObjectNumber": invoice["Number"], "Amount": 10},
                {"ObjectNumber": 99999999, "Amount": 10},
            ]
        },
    )
    assert response.status_code == 400
    assert api.get(f"/invoices/{invoice['Number']}").json()["PaymentLines"] == []
