"""For users' tests: an in-memory audit-trail service behind httpx transports.

Needs the service's Litestar app (``pip install 'audit-trail[litestar]'``). This is
the one part of ``audit_trail.client`` that imports the service itself; the client
proper never does (an import-linter contract says so).
"""

from audit_trail.client.testing.fake import ALL_SCOPES, FakeAuditTrail
from audit_trail.client.testing.threaded import ThreadedApp

__all__ = ["ALL_SCOPES", "FakeAuditTrail", "ThreadedApp"]
