"""One daemon thread that owns one asyncio event loop, and safe ways to call into it.

Why: a notebook cell may block (``time.sleep``) or run on a thread of its own, and a server
on the kernel's loop would freeze with it. Work that must keep running lives on this loop;
callers hand it coroutines and wait with a timeout, because an awaiting cell cannot always
be interrupted.

    loop = LoopThread("wsplay-demo").start()
    loop.run(asyncio.sleep(0.1, "done"), timeout=1)   # -> "done"
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

T = TypeVar("T")


class LoopWatcher(Protocol):
    """What an owner may set to watch the loop (wsplay's watchdog). The loop thread knows
    only this much of it: which exception means "a stuck handler was stopped", and why a
    call it ran came late."""

    interruption: type[Exception]

    @property
    def thread(self) -> threading.Thread: ...

    def why_late(self) -> str | None:
        """Why the loop is late right now, in the learner's words; None if it is not."""
        ...


class LoopThread:
    """A daemon thread running an event loop until ``stop()``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._main, name=name, daemon=True)
        self.watchdog: LoopWatcher | None = None  # set by an owner that watches the loop

    def _main(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            while True:
                try:
                    self.loop.run_forever()
                    break
                except Exception as error:
                    if not self._interrupted(error):
                        raise
                    # The interruption meant for a stuck handler landed in the loop's own
                    # code (the handler moved on at that instant): carry on serving.
                    continue
        finally:
            self._cancel_leftovers()
            self.loop.close()

    def _interrupted(self, error: Exception) -> bool:
        """Whether ``error`` is the watcher's interruption of a stuck handler."""
        return self.watchdog is not None and isinstance(error, self.watchdog.interruption)

    def _cancel_leftovers(self) -> None:
        tasks = [task for task in asyncio.all_tasks(self.loop) if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())

    def start(self) -> LoopThread:
        self._thread.start()
        return self

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def ident(self) -> int | None:
        return self._thread.ident

    @property
    def in_loop_thread(self) -> bool:
        return threading.current_thread() is self._thread

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        """Schedule ``coroutine`` on the loop from any thread.

        The task starts in a fresh context, not the caller's: ipykernel keeps "which cell
        is running" in a context variable, and a task that inherited it would send all its
        output to the cell that happened to start it.
        """
        if not self.alive:
            coroutine.close()
            raise RuntimeError(f"The {self.name} thread is not running.")
        result: concurrent.futures.Future[T] = concurrent.futures.Future()

        def start() -> None:
            if result.cancelled():
                coroutine.close()
                return
            task = self.loop.create_task(coroutine)
            task.add_done_callback(lambda done: _copy_outcome(done, result))
            result.add_done_callback(
                lambda future: future.cancelled() and self.loop.call_soon_threadsafe(task.cancel)
            )

        self.loop.call_soon_threadsafe(start, context=contextvars.Context())
        return result

    def run(self, coroutine: Coroutine[Any, Any, T], timeout: float, what: str = "") -> T:
        """Run ``coroutine`` on the loop and wait for its result, at most ``timeout`` s."""
        if self.in_loop_thread:
            coroutine.close()
            raise RuntimeError(
                f"{what or 'This call'} blocks until the {self.name} loop answers, but it was "
                "made from that loop itself and would wait forever: use the async form "
                "(await ...) there."
            )
        __tracebackhide__ = True  # IPython shows the caller's line, not this one
        future = self.submit(coroutine)
        try:
            return future.result(timeout)
        except TimeoutError:
            if future.done():
                raise  # the coroutine's own TimeoutError, with its own message
            future.cancel()
            raise TimeoutError(self._timeout_message(what, timeout)) from None

    async def run_async(self, coroutine: Coroutine[Any, Any, T], timeout: float, what: str = ""):
        """Await ``coroutine`` from another loop (a notebook cell's), at most ``timeout`` s."""
        __tracebackhide__ = True
        if self.in_loop_thread:
            async with asyncio.timeout(timeout):
                return await coroutine
        future = self.submit(coroutine)
        try:
            async with asyncio.timeout(timeout):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            if future.done():
                raise  # the coroutine's own TimeoutError, with its own message
            future.cancel()
            raise TimeoutError(self._timeout_message(what, timeout)) from None

    def _timeout_message(self, what: str, timeout: float) -> str:
        why = self.watchdog.why_late() if self.watchdog is not None else None
        if why is not None:
            return f"{what or 'The call'} did not finish within {timeout:g} s: {why}"
        return (
            f"{what or 'The call'} did not finish within {timeout:g} s. The other side may be "
            "waiting for you (e.g. a receive with nothing sent): pass a larger timeout= if it "
            "is just slow."
        )

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the loop, cancel what still runs on it, and join the thread (unless called
        on that thread: then it ends once the current callback returns)."""
        if self.alive:
            self.loop.call_soon_threadsafe(self.loop.stop)
            if not self.in_loop_thread:
                self._thread.join(timeout)
        elif not self._thread.ident and not self.loop.is_closed():
            self.loop.close()  # never started


def _copy_outcome(task: asyncio.Task[Any], future: concurrent.futures.Future[Any]) -> None:
    """The task's outcome into the waiting caller's future (which stays cancellable till now)."""
    if task.cancelled():
        future.cancel()
    elif not future.set_running_or_notify_cancel():
        return  # the caller gave up (cancelled) meanwhile
    elif task.exception() is not None:
        future.set_exception(task.exception())
    else:
        future.set_result(task.result())


class _OnLoop:
    """The face of an object whose coroutines must run on a LoopThread, seen from outside.

    Attributes pass through; each coroutine method becomes a call that runs it on the loop
    and waits at most its own ``timeout`` (or the face's default) plus a second. Why one
    generic face: the kernel's client and wsplay.testing each need an awaitable and a
    blocking twin of the same methods, and they must not drift apart.
    """

    def __init__(
        self,
        target: Any,
        loop: LoopThread,
        timeout: float,
        after_stop: Callable[[], None] | None = None,
    ) -> None:
        self._target = target
        self._loop = loop
        self._timeout = timeout
        self._after_stop = after_stop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if name.startswith("_") or not inspect.iscoroutinefunction(attribute):
            return attribute
        return self._face(name, attribute)

    def __dir__(self) -> list[str]:
        return sorted({*dir(type(self)), *(n for n in dir(self._target) if n[0] != "_")})

    def __repr__(self) -> str:
        inner = repr(self._target).removeprefix("<").split(" ", 1)
        return f"<{type(self).__name__} {inner[-1]}" if len(inner) == 2 else repr(self._target)

    def _prepare(self, method: Any, args: Any, kwargs: Any) -> tuple[Coroutine, float]:
        """The coroutine to run and how long to wait for it."""
        takes = _timeout_parameter(getattr(method, "__func__", method))
        if takes is not None:
            bound = takes.bind(*args, **kwargs)
            if bound.arguments.get("timeout") is None:
                bound.arguments["timeout"] = self._timeout
            args, kwargs = bound.args, bound.kwargs
            wait = bound.arguments["timeout"]
        else:
            wait = self._timeout
        return method(*args, **kwargs), wait + 1

    def _without_loop(self, name: str, coroutine: Coroutine) -> Any:
        """Once the loop is gone: finish a call that needs no I/O at once, or say why not.

        ``after_stop`` raises when the target cannot answer without its loop; otherwise the
        coroutine must complete without suspending (it returns or raises at once).
        """
        __tracebackhide__ = True
        try:
            if self._after_stop is None:
                raise RuntimeError(
                    f"The {self._loop.name} thread has stopped: {name}() cannot run."
                )
            self._after_stop()
            coroutine.send(None)
        except StopIteration as finished:
            return finished.value
        finally:
            coroutine.close()
        raise RuntimeError(f"{name}() needs the {self._loop.name} thread, which has stopped.")

    def _face(self, name: str, method: Any) -> Any:
        raise NotImplementedError


class Blocking(_OnLoop):
    """Coroutine methods as plain blocking calls: ``face.receive_text()``."""

    def _face(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        def call(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            coroutine, wait = self._prepare(method, args, kwargs)
            if not self._loop.alive:
                return self._without_loop(name, coroutine)
            return self._loop.run(coroutine, wait, f"{name}()")

        return call


class Awaiting(_OnLoop):
    """Coroutine methods awaitable from another loop: ``await face.receive_text()``."""

    def _face(self, name: str, method: Any) -> Any:
        @functools.wraps(method)
        async def call(*args: Any, **kwargs: Any) -> Any:
            __tracebackhide__ = True
            coroutine, wait = self._prepare(method, args, kwargs)
            if not self._loop.alive:
                return self._without_loop(name, coroutine)
            return await self._loop.run_async(coroutine, wait, f"{name}()")

        return call


@functools.cache
def _timeout_parameter(function: Any) -> inspect.Signature | None:
    """A method's signature without ``self``, when it takes a ``timeout``; else None."""
    signature = inspect.signature(function)
    if "timeout" not in signature.parameters:
        return None
    return signature.replace(parameters=list(signature.parameters.values())[1:])
