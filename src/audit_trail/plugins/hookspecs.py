"""The hooks a plugin may implement, grouped by when they run.

Every hook is prefixed ``audit_`` and is called with keyword arguments only; an
implementation may declare any subset of a hook's arguments. Hooks are synchronous
and should be pure; one that needs I/O may return an awaitable, which the host
awaits (``async def`` implementations work). ``tryfirst``/``trylast`` and
``wrapper=True`` (or the old-style ``hookwrapper=True``) implementations behave as
pluggy defines them: call order is wrappers first (outermost), then ``tryfirst``
implementations, then the rest (the most recently registered first), then ``trylast``
ones. No hook is ``firstresult``. docs/plugins.md is the guide for plugin authors.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping, Sequence
from typing import Any, TypeAlias, TypeVar

import pluggy

from audit_trail.core.model import Entry
from audit_trail.core.ports.processor import RequestContext
from audit_trail.core.principal import Principal
from audit_trail.core.usecases.change_reader import Change

PROJECT_NAME = "audit_trail"
ENTRY_POINT_GROUP = "audit_trail.plugins"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)

T = TypeVar("T")
MaybeAwaitable: TypeAlias = T | Awaitable[T]
"""A hook's value, or an awaitable of it (the host awaits it)."""

ForwardedChange: TypeAlias = Change
"""One change of a tenant's log as ``audit_forward_changes`` gets it: ``index`` (its
leaf's position in the log), ``kind`` (``record``, ``amend``, ``delete``, ``erase``,
``purge``) and ``data`` (what a plain ``audit:read`` reader of the tenant sees: the
revision as JSON, redaction applied, or an erasure's or purge's leaf)."""

Enrichment: TypeAlias = Mapping[str, Any]
"""Fields for ``audit_enrich_entry`` to merge into an entry (see its contract)."""


# --- start-up -------------------------------------------------------------------


@hookspec
def audit_configure(config: Mapping[str, Any]) -> object | None:
    """Configure the plugin for one running service.

    Called once per plugin manager (each app builds its own), after every plugin is
    registered and before any entry is processed. ``config`` is a read-only mapping
    of the service's settings by field name (``pii_fields``, ``trusted_proxies``, ...;
    secrets left out). Plugins that read their own settings (environment variables of
    their own, files) read them here, not at import time.

    Returns an object whose hook implementations serve this service (an instance
    holding the configuration); the manager registers it as ``<plugin name>:configured``.
    Return None when there is nothing to register. Raising (``PluginSetupError`` or
    ``ValueError`` with a message that names the bad setting) stops start-up.

    All implementations run; the awaitable form is not accepted here.
    """


# --- the write path: enrich -> validate -> redact -> store -> recorded ---------------


@hookspec
def audit_enrich_entry(entry: Entry, request: RequestContext) -> MaybeAwaitable[Enrichment | None]:
    """Add what the server knows to an entry on its way in.

    ``request`` is what the HTTP edge knows of the request (peer address, lower-cased
    headers). Returns a mapping of fields to merge, or None. All implementations run,
    each seeing the entry as the client sent it; their results are merged in call
    order:

    - ``tags``: a list of strings, appended; duplicates dropped, first one kept;
    - ``metadata``: a mapping, deep-merged (mappings merge key by key, any other value
      replaces the one before);
    - ``source``: ``{"ip": ..., "user_agent": ...}``, each set when not None;
    - ``actor``: ``{"type": ..., "name": ...}``, each set when not None.

    For a single-valued field a later result wins, so a ``trylast`` implementation has
    the last word. Any other key (notably ``id``, ``tenant``, ``revision``,
    ``recorded_at``, ``actor.id``), or a value that breaks the entry rules, makes the
    implementation count as failed. A failure (an exception or a bad result) refuses
    the entry with ``PluginFailed``; raising ``ValidationFailed`` refuses it with 422.
    """


@hookspec
def audit_validate_entry(entry: Entry) -> MaybeAwaitable[None]:
    """Accept or refuse an entry after enrichment, before redaction.

    Raise ``audit_trail.core.ValidationFailed`` (e.g.
    ``ValidationFailed.single("metadata.ticket", "is required")``) to refuse the entry:
    the client gets a 422 listing each field and message. The return value is ignored.
    All implementations run, and the 422 lists the errors of every one that refused.
    Any other exception refuses the entry with ``PluginFailed``.
    """


@hookspec
def audit_redact_entry(entry: Entry) -> MaybeAwaitable[Entry | None]:
    """Remove what must not be stored, after validation and before storage.

    Returns the redacted entry, or None to leave it unchanged. Chained: each
    implementation receives the previous one's output, and the last output is stored
    (a wrapper's ``yield`` gives it the chain's final entry). Changes to ``id``,
    ``tenant``, ``revision`` and ``recorded_at`` are undone by the core. A failure
    refuses the entry with ``PluginFailed``: an entry is never stored unredacted.
    """


@hookspec
def audit_entry_recorded(entry: Entry) -> MaybeAwaitable[None]:
    """Learn that an entry (as stored, redacted) is durable.

    For notifications, metrics and forwarding. All implementations run; the return
    value is ignored. A failure is logged with the plugin's name and never rejects or
    loses the entry; the other implementations still run.
    """


# --- after the fact: forwarding ---------------------------------------------------


@hookspec
def audit_forward_changes(tenant: str, changes: Sequence[ForwardedChange]) -> MaybeAwaitable[None]:
    """Ship a batch of one tenant's changes somewhere else (syslog, OTLP, a SIEM).

    Every implementation is a sink of its own, known by its plugin's name (a configured
    object's by the plugin's), with a stored cursor per tenant: a background forwarder
    follows every tenant's log and calls each sink with the changes after its cursor,
    in log order, at most 100 at a time; the cursor moves when the call returns. Raise
    when the batch was not shipped: the same batch comes again after a backoff
    (exponential, capped, jittered), for ever, and later changes wait behind it.
    At-least-once: after a crash a batch may come again (dedupe on ``tenant`` and
    ``index``). Writes never wait for a sink. The return value is ignored; it cannot
    be a wrapper. A sink first enabled gets each tenant's log from its first leaf.
    """


# --- the read path ---------------------------------------------------------------------


@hookspec
def audit_redact_for_reader(entry: Entry, principal: Principal) -> MaybeAwaitable[Entry | None]:
    """The entry as ``principal`` may see it: field-level visibility on the way out.

    Returns the entry to show, or None to show it unchanged. Chained like
    ``audit_redact_entry``. Runs for every entry returned by a write, a read, a query
    or a history. A failure fails the request (a 500) rather than show the entry.
    """
