"""The Kashflow REST v2 emulator: session tokens, customers, invoices, payments, stock, banks.

Base URL `https://localhost:PORT/v2`. Follows ../shared/reference/external-apis.md section 1;
CONFIRMED behaviour is copied exactly (two-step `/sessiontoken`, `Authorization: KfToken ...`,
the 401 `InvalidSessionToken` body, PascalCase, the `Data` + `MetaData` envelope, natural keys
`Code` / `Number`, invoice summaries with null `LineItems` / `PaymentLines` / `Currency`,
stock decremented by invoice lines, bank transactions of type 1 for invoice payments).

Choices made where the reference says LIKELY or UNCONFIRMED (a client must tolerate them):

- Login: request keys are read case-insensitively. Wrong user name or password (step 1) and
  wrong memorable-word characters or an unknown / expired temporary token (step 2) answer 401
  `{"Error": "InvalidCredentials", ...}`. A temporary token is single use, right or wrong, and
  lives 5 minutes. Five consecutive failures lock the account: 401 `AccountLocked` on every
  login until `POST /__sandbox__/account/unlock`. Session tokens expire after 60 idle minutes;
  both timings and the lockout threshold can be changed with `POST /__sandbox__/settings`, and
  `POST /__sandbox__/sessions/expire` ends every session (a token dying mid-sync).
  `DELETE /sessiontoken` answers 204. Tokens live in memory: a restart means logging in again.
- Errors: every error body is `{"Error": <code>, "Message": <text>}`: 400 `ValidationError`
  (missing or malformed fields, unknown customer or product named in a body),
  `DuplicateCustomerCode` ("Customer code already exists."), `DuplicateInvoiceNumber`,
  `DuplicateProductCode`; 404 `NotFound` for an unknown code / number / id in the URL.
- Creates answer 201 with the created object; updates 200 with it; deletes 204. Updates merge
  the fields given into the record (a partial PUT works).
- Paging: `page` (1-based), `perpage` (default 100, clamped to 250; both settable), `sortby`
  (customers Code / Name / TotalPaidAmount / OutstandingBalance; invoices Number / CustomerRef /
  CustomerName / InvoiceDate / PaymentDueDate / GrossAmount / NetAmount / Status; products
  Code / Name / Price / QuantityInStock; default the natural key), `order` Asc | Desc. An unknown
  `sortby` or a bad `page` is a 400. Ties sort by `Id`. Page URLs in `MetaData` are relative to
  the API base (`/customers?page=2&perpage=100&sortby=Code&order=Asc`), keep any other query
  parameters, and `NextPageUrl` is null on the last page. `filterby=<text>` keeps records whose
  code, name (or number, reference) contains the text, case-insensitively.
- Customer list items are full records (only invoices have summaries). `Code` is unique
  case-insensitively and stored upper-case; omitted, it is generated from the name (`ACM01`);
  `CreateCustomerCodeIfDuplicate` numbers a duplicate (`ACME` -> `ACME01`). `Name` is required
  unless `CreateCustomerNameIfEmptyOrNull`. Address lines: Line1-2 street, Line3 town, Line4
  county / state. A customer with invoices cannot be deleted (400). `LastUpdatedDate` moves on
  every customer PUT, not when invoices change its computed totals; invoices and products have
  no modified timestamp in the reference, so clients compare them in a full scan.
- Timestamps are ISO-8601 UTC without offset (`2024-05-01T12:00:00.123`), dates
  `2024-05-01T00:00:00`; input dates may also be `YYYY-MM-DD` or `YYYY-MM-DD HH:mm:ss`.
  Money, rates and quantities are bare JSON numbers with 4 decimal places (`46.0000`).
- Invoices: `CustomerCode` (or `CustomerId`) is required. A supplied `Number` is used when free
  (400 `DuplicateInvoiceNumber` otherwise); else the next number above the highest ever used
  (seeded invoices start at 1001). `Number` cannot be changed. A line naming `ProductCode`
  defaults its Rate, VATLevel, Description and NominalCode from the product; other lines need a
  Rate and default to VATLevel 20. `Status` is `Unpaid`, `Overdue` (past `DueDate`) or `Paid`,
  computed when read; `DueDate` defaults to the customer's payment terms (30 days). Stock may go
  negative; editing an invoice's lines or deleting it puts the old quantities back. An invoice
  with payments cannot be deleted (400).
- Payments: `GET|POST /invoices/{number}/payments` (bare array of PaymentItems) and
  `DELETE /invoices/{number}/payments/{id}`. `Amount` is required and may not exceed what is
  due (400); `AccountId` defaults to the default bank account, `Method` to its default invoice
  payment type (ids 1-6, see catalog.PAYMENT_METHODS), `Date` to today. Bulk payments
  (`/invoices/bulk/payments`, CONFIRMED path) are all or nothing; see bulk_payments.py.
- Bank accounts list in the envelope; their transactions at `/bankaccounts/{id}/transactions`.
  Nominals: a small UK chart, products are children of 4000 "Sales Type A".
- `GET /metadata` gives the account counts. Only JSON is spoken (no XML).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from connectors.kashflow.sandbox.auth import AuthMixin, AuthSettings, Credentials, SessionState
from connectors.kashflow.sandbox.bulk_payments import BulkPaymentsMixin
from connectors.kashflow.sandbox.catalog import (
    BANK_ACCOUNT,
    BANK_TRANSACTION,
    NOMINAL,
    PRODUCT,
    STANDARD_NOMINALS,
    CatalogMixin,
    new_bank_account,
    new_nominal,
)
from connectors.kashflow.sandbox.customers import CUSTOMER, CustomersMixin
from connectors.kashflow.sandbox.invoices import INVOICE, InvoicesMixin
from connectors.kashflow.sandbox.seeding import seed_world
from connectors.kashflow.sandbox.wire import (
    KashflowError,
    error_for_status,
    json_response,
    money,
)
from connectors.sandbox.server import BadRequest, Emulator, Handler, Request, Response
from connectors.sandbox.state import StateStore

if TYPE_CHECKING:
    from connectors.sandbox.seed import World

FIRST_SEEDED_INVOICE_NUMBER = 1001
SETTINGS = ("session_idle_timeout_s", "temporary_token_ttl_s", "lockout_after")
PAGING_SETTINGS = ("default_per_page", "max_per_page")


def _answering(handler: Handler) -> Handler:
    """Turns a KashflowError raised anywhere in a handler into its error body."""

    def answer(request: Request) -> Response:
        try:
            return handler(request)
        except KashflowError as exc:
            return exc.response()

    return answer


class KashflowEmulator(
    AuthMixin, CustomersMixin, InvoicesMixin, BulkPaymentsMixin, CatalogMixin, Emulator
):
    system = "kashflow"

    def __init__(self, store: StateStore, state_dir: Path):
        super().__init__(store, state_dir)
        self.credentials = Credentials.load_or_create(self.state_dir)
        self.auth = SessionState(settings=AuthSettings())
        self.default_per_page = 100
        self.max_per_page = 250

    # The contract -------------------------------------------------------------------------
    def routes(self) -> list[tuple[str, str, Handler]]:
        guarded = [
            *self.customer_routes(),
            *self.invoice_routes(),
            *self.bulk_payment_routes(),
            *self.catalog_routes(),
            ("GET", "/v2/metadata", self.account_metadata),
        ]
        routes = self.auth_routes() + [
            (method, pattern, self.authenticated(handler)) for method, pattern, handler in guarded
        ]
        return [(method, pattern, _answering(handler)) for method, pattern, handler in routes]

    def control_routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", "settings", self.show_settings),
            ("POST", "settings", self.change_settings),
            ("POST", "sessions/expire", self.expire_all_sessions),
            ("POST", "account/unlock", self.unlock),
        ]

    def error_response(self, status: int, message: str) -> Response:
        return error_for_status(status, message)

    def endpoints(self) -> dict:
        return {
            "base_url": f"{self.base_origin}/v2",
            "username": self.credentials.username,
            "password": self.credentials.password,
            "memorable_word": self.credentials.memorable_word,
            "control_url": self.control_url,
        }

    def bootstrap(self) -> None:
        for code, name, kind, is_product in STANDARD_NOMINALS:
            nominal_id = self.store.next_id("nominal_id")
            self.store.put(
                NOMINAL, nominal_id, new_nominal(nominal_id, code, name, kind, is_product)
            )
        for code, name, default in (
            (1200, "Current Account", True),
            (1210, "Deposit Account", False),
        ):
            account_id = self.store.next_id("bankaccount_id")
            self.store.put(
                BANK_ACCOUNT, account_id, new_bank_account(account_id, code, name, default)
            )
        self.store.set_meta("invoice_number_high", str(FIRST_SEEDED_INVOICE_NUMBER - 1))

    def seed(self, world: World) -> list[tuple[str, str, str]]:
        return seed_world(self, world)

    # Extra real route ---------------------------------------------------------------------
    def account_metadata(self, request: Request) -> Response:
        balance = sum(float(a["BankBalance"]) for a in self.store.all(BANK_ACCOUNT))
        return json_response(
            200,
            {
                "TotalBankBalance": money(balance),
                "TotalCustomerCount": self.store.count(CUSTOMER),
                "TotalInvoiceCount": self.store.count(INVOICE),
                "TotalLoginCount": 0,
                "TotalNominalCount": self.store.count(NOMINAL),
                "TotalProductCount": self.store.count(PRODUCT),
                "UserHasAmazonFiles": False,
                "AmazonFilesMarkedforMigration": False,
                "TotalSupplierCount": 0,
                "PayrollProvisioningStatus": "NotInitiated",
                "TotalBankTransactionCount": self.store.count(BANK_TRANSACTION),
            },
        )

    # Control API --------------------------------------------------------------------------
    def _settings(self) -> dict:
        values = {name: getattr(self.auth.settings, name) for name in SETTINGS}
        values.update({name: getattr(self, name) for name in PAGING_SETTINGS})
        return values

    def show_settings(self, request: Request) -> Response:
        return Response(200, self._settings())

    def change_settings(self, request: Request) -> Response:
        """Body: any of session_idle_timeout_s, temporary_token_ttl_s, lockout_after,
        default_per_page, max_per_page. Answers with every current setting."""
        changes = request.json() or {}
        if not isinstance(changes, dict):
            raise BadRequest("settings must be a JSON object")
        unknown = set(changes) - set(SETTINGS) - set(PAGING_SETTINGS)
        if unknown:
            raise BadRequest(f"unknown settings {sorted(unknown)}; known: {self._settings()}")
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise BadRequest(f"{name} must be a number >= 0")
        for name, value in changes.items():
            if name in PAGING_SETTINGS:
                setattr(self, name, max(1, int(value)))
            elif name == "lockout_after":
                self.auth.settings.lockout_after = int(value)
            else:
                setattr(self.auth.settings, name, float(value))
        return Response(200, self._settings())

    def expire_all_sessions(self, request: Request) -> Response:
        return Response(200, {"expired": self.expire_sessions()})

    def unlock(self, request: Request) -> Response:
        self.unlock_account()
        return Response(200, {"locked": False})
