"""Calling a hook's implementations: through pluggy's own hook call where that is
exactly the contract, one at a time where it is not.

pluggy's ``hook(**kwargs)`` (``_multicall``) is the contract when a hook has at most one
implementation and no wrapper: there is only one plugin to blame, nothing to chain,
and an awaitable result can be awaited after the call, as no wrapper is waiting for it.
That is the case with only the built-in plugins, so ``call_hook`` then calls pluggy.

Otherwise this module walks ``get_hookimpls()`` itself, the way ``_multicall`` does
(wrappers set up outermost first, the other implementations in call order, the
wrappers' teardowns in reverse, each getting the result or the exception, new and
old-style), because ``_multicall`` cannot express the rest of the contract:

- naming the plugin that failed: ``_multicall`` stops at the first exception and
  keeps neither which implementation raised nor which returned which result (it drops
  the Nones), so a bad result cannot be traced to its plugin either. A wrapper hookimpl
  sees only the combined outcome; ``add_hookcall_monitoring`` (and the tracing built
  on it) wraps the whole call, receiving the list of implementations and the outcome,
  never one implementation's;
- chaining: every implementation gets the same keyword arguments, so the redaction
  hooks cannot hand one implementation's entry to the next;
- async implementations: ``_multicall`` is synchronous, so a wrapper would receive an
  awaitable instead of the awaited result the hookspecs promise;
- running every implementation when one fails or refuses (``audit_entry_recorded``
  logs and goes on; validators' refusals are collected into one 422).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import pluggy

from audit_trail.core.errors import FieldError, ValidationFailed

Check = Callable[[Any], Any]
"""Inspects one implementation's value; returns it (possibly normalised) or raises
``ValueError`` saying what is wrong with it."""


class HookFailure(Exception):
    """An implementation of ``hook`` from plugin ``plugin`` failed; ``__cause__`` says how."""

    def __init__(self, plugin: str, hook: str) -> None:
        self.plugin = plugin
        self.hook = hook
        super().__init__(f"plugin {plugin!r} failed in {hook}")


@dataclass(frozen=True, slots=True)
class CallMode:
    """How a hook's implementations combine.

    ``chain``: the argument replaced by each implementation's non-None value (the
    result is the last value); otherwise the result is the list of non-None values.
    ``check``: applied to each value. ``refusals``: ``ValidationFailed`` from any
    implementation is collected and raised once, after every implementation ran.
    ``on_failure``: when set, a failure is handed to it and the walk goes on (the
    call then never raises an ``Exception``)."""

    chain: str | None = None
    check: Check | None = None
    refusals: bool = False
    on_failure: Callable[[HookFailure], None] | None = None


async def call_hook(caller: pluggy.HookCaller, kwargs: Mapping[str, Any], mode: CallMode) -> Any:
    """Run every implementation of ``caller`` with ``kwargs``; raise ``HookFailure``
    (or the collected ``ValidationFailed``) when one fails."""
    impls = caller.get_hookimpls()
    if not impls:
        return kwargs[mode.chain] if mode.chain is not None else []
    if len(impls) == 1 and not (impls[0].wrapper or impls[0].hookwrapper):
        return await _call_one(caller, impls[0].plugin_name, kwargs, mode)
    return await _Call(caller.name, dict(kwargs), mode).run(impls)


async def _call_one(
    caller: pluggy.HookCaller, plugin: str, kwargs: Mapping[str, Any], mode: CallMode
) -> Any:
    """The hook's only implementation, a plain one (from ``plugin``), through pluggy."""
    try:
        results = caller(**kwargs)
        value = results[0] if results else None
        if inspect.isawaitable(value):
            value = await value
        if value is not None and mode.check is not None:
            value = mode.check(value)
    except Exception as exc:
        if mode.refusals and isinstance(exc, ValidationFailed):
            raise
        failure = HookFailure(plugin, caller.name)
        if mode.on_failure is None:
            raise failure from exc
        failure.__cause__ = exc
        mode.on_failure(failure)
        value = None
    if mode.chain is not None:
        return kwargs[mode.chain] if value is None else value
    return [] if value is None else [value]


class _Call:
    def __init__(self, hook: str, kwargs: dict[str, Any], mode: CallMode) -> None:
        self.hook = hook
        self.kwargs = kwargs
        self.mode = mode
        self.owners: dict[int, str] = {}  # id(exception) -> the plugin that raised it

    async def run(self, impls: list[pluggy.HookImpl]) -> Any:
        ordered = list(reversed(impls))  # pluggy calls the end of the list first
        wrappers = [i for i in ordered if i.wrapper or i.hookwrapper]
        plain = [i for i in ordered if not (i.wrapper or i.hookwrapper)]
        teardowns: list[tuple[pluggy.HookImpl, Generator[None, Any, Any]]] = []
        result: Any = None
        error: BaseException | None = None
        try:
            for impl in wrappers:
                teardowns.append((impl, self._set_up(impl)))
            result = await self._run_plain(plain)
        except BaseException as exc:
            error = exc
        for impl, teardown in reversed(teardowns):
            result, error = await self._tear_down(impl, teardown, result, error)
        if error is None:
            return result
        if not isinstance(error, Exception) or self._is_refusal(error):
            raise error
        if self.mode.on_failure is not None:
            self.mode.on_failure(self._failure(error))
            return result
        raise self._failure(error)

    def _is_refusal(self, exc: BaseException) -> bool:
        return self.mode.refusals and isinstance(exc, ValidationFailed)

    def _failure(self, exc: Exception) -> HookFailure:
        failure = HookFailure(self.owners.get(id(exc), "unknown"), self.hook)
        failure.__cause__ = exc
        return failure

    def _args(self, impl: pluggy.HookImpl) -> tuple[list[Any], dict[str, Any]]:
        args = [self.kwargs[name] for name in impl.argnames]
        kwargs = {name: self.kwargs[name] for name in impl.kwargnames if name in self.kwargs}
        return args, kwargs

    def _blame(self, exc: BaseException, impl: pluggy.HookImpl) -> BaseException:
        self.owners.setdefault(id(exc), impl.plugin_name)
        return exc

    def _set_up(self, impl: pluggy.HookImpl) -> Generator[None, Any, Any]:
        args, kwargs = self._args(impl)
        try:
            teardown = cast(Generator[None, Any, Any], impl.function(*args, **kwargs))
            next(teardown)
        except StopIteration:
            raise self._blame(RuntimeError("the wrapper did not yield"), impl) from None
        except BaseException as exc:
            self._blame(exc, impl)
            raise
        return teardown

    async def _run_plain(self, impls: list[pluggy.HookImpl]) -> Any:
        results: list[Any] = []
        refusals: list[FieldError] = []
        for impl in impls:
            try:
                value = await self._call(impl)
            except Exception as exc:
                if self.mode.refusals and isinstance(exc, ValidationFailed):
                    refusals.extend(exc.errors)
                    continue
                self._blame(exc, impl)
                if self.mode.on_failure is None:
                    raise
                self.mode.on_failure(self._failure(exc))
                continue
            if value is None:
                continue
            if self.mode.chain is not None:
                self.kwargs[self.mode.chain] = value
            else:
                results.append(value)
        if refusals:
            raise ValidationFailed(refusals)
        return self.kwargs[self.mode.chain] if self.mode.chain is not None else results

    async def _call(self, impl: pluggy.HookImpl) -> Any:
        args, kwargs = self._args(impl)
        value = impl.function(*args, **kwargs)
        if inspect.isawaitable(value):
            value = await value
        return self._checked(value)

    def _checked(self, value: Any) -> Any:
        if value is None or self.mode.check is None:
            return value
        return self.mode.check(value)

    def _checked_result(self, result: Any) -> Any:
        """A wrapper's result: the chain's value, or the list of values."""
        if self.mode.chain is not None:
            return self._checked(result)
        if self.mode.check is None:
            return result
        if not isinstance(result, list):
            raise ValueError(f"a wrapper must return the list of results, not {result!r:.80}")
        return [self._checked(value) for value in result]

    async def _tear_down(
        self,
        impl: pluggy.HookImpl,
        teardown: Generator[None, Any, Any],
        result: Any,
        error: BaseException | None,
    ) -> tuple[Any, BaseException | None]:
        if impl.hookwrapper:
            return self._old_style_tear_down(impl, teardown, result, error)
        try:
            if error is not None:
                teardown.throw(error)
            else:
                teardown.send(result)
        except StopIteration as stop:
            try:
                value = stop.value
                if inspect.isawaitable(value):
                    value = await value
                return self._checked_result(value), None
            except Exception as exc:
                return self._failed(exc, impl, result)
        except BaseException as exc:
            return self._failed(exc, impl, result)
        teardown.close()
        return self._failed(RuntimeError("the wrapper yielded twice"), impl, result)

    def _old_style_tear_down(
        self,
        impl: pluggy.HookImpl,
        teardown: Generator[None, Any, Any],
        result: Any,
        error: BaseException | None,
    ) -> tuple[Any, BaseException | None]:
        outcome: pluggy.Result[Any] = pluggy.Result(result, error)
        try:
            teardown.send(outcome)
        except StopIteration:
            pass
        except BaseException as exc:
            return self._failed(exc, impl, result)
        else:
            teardown.close()
            return self._failed(RuntimeError("the wrapper yielded twice"), impl, result)
        try:
            return self._checked_result(outcome.get_result()), None
        except BaseException as exc:
            return self._failed(exc, impl, result)

    def _failed(
        self, exc: BaseException, impl: pluggy.HookImpl, result: Any
    ) -> tuple[Any, BaseException | None]:
        """An exception out of a wrapper's teardown: the wrapper's own, or one it let
        through from inside (then it stays blamed on the plugin that raised it)."""
        self._blame(exc, impl)
        if self.mode.on_failure is not None and isinstance(exc, Exception):
            self.mode.on_failure(self._failure(exc))
            return result, None
        return result, exc
