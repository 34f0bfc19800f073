"""Webhooks: subscriptions per tenant, delivered change by change in log order
(docs/streaming.md, "Webhooks")."""

from __future__ import annotations
