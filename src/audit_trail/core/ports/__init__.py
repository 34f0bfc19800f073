"""The ports: what the core needs from the outside world, as ``typing.Protocol``s."""

from audit_trail.core.ports.auth import TokenVerifier, ViewerGrant, ViewerTokenIssuer
from audit_trail.core.ports.cache import QueryCache
from audit_trail.core.ports.clock import Clock
from audit_trail.core.ports.encoding import JsonEncoder
from audit_trail.core.ports.ids import IdFactory
from audit_trail.core.ports.processor import EntryProcessor, RequestContext
from audit_trail.core.ports.repository import EntryPage, EntryRepository

__all__ = [
    "Clock",
    "EntryPage",
    "EntryProcessor",
    "EntryRepository",
    "IdFactory",
    "JsonEncoder",
    "QueryCache",
    "RequestContext",
    "TokenVerifier",
    "ViewerGrant",
    "ViewerTokenIssuer",
]
