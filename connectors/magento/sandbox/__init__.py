"""The Magento 2 / Adobe Commerce sandbox: a REST emulator with signed webhooks."""

from connectors.magento.sandbox.emulator import MagentoEmulator
from connectors.magento.sandbox.webhooks import SIGNATURE_HEADER, WebhookEvent

__all__ = ["SIGNATURE_HEADER", "MagentoEmulator", "WebhookEvent"]
