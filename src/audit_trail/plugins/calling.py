"""Calling a hook's implementations one at a time, the way pluggy orders them.

pluggy's own ``hook(...)`` runs every implementation in one call, so it cannot say
which plugin failed, cannot await async implementations, and cannot chain outputs
(redaction hooks feed each implementation the previous one's entry). This module does
the same walk as pluggy's ``_multicall``, over the public ``get_hookimpls()`` list:
wrappers set up first (outermost first), then the other implementations in call
order, then the wrappers' teardowns in reverse, each getting the result, or the
exception thrown in, exactly as pluggy does.
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
    return await _Call(caller.name, dict(kwargs), mode).run(caller.get_hookimpls())


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
