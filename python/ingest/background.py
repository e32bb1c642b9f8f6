"""Move a producer or a consumer of batches to a background thread, through a bounded queue.

The worker's three stages (fetch rows, convert them to Arrow, encode Parquet) spend much of
their time outside the GIL: waiting for the database, in SQLite's C code, in Arrow's encoder.
Running the fetch and the encoding in their own threads lets them overlap with conversion. The
queues hold at most ``depth`` items, so memory stays bounded by a few batches; an error in a
background thread is re-raised in the calling thread.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Generator, Iterator
from types import TracebackType
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

_END = object()
_POLL_SECONDS = 0.1


def _put(items: queue.Queue[object], item: object, stop: threading.Event) -> bool:
    """Put ``item`` unless ``stop`` is set first; returns whether it was put."""
    while not stop.is_set():
        try:
            items.put(item, timeout=_POLL_SECONDS)
        except queue.Full:
            continue
        return True
    return False


def iterate_in_background(
    produce: Callable[[], Generator[T, None, None]], depth: int, name: str
) -> Generator[T, None, None]:
    """Run a generator in a background thread and yield its items in the calling thread.

    Args:
        produce: Creates the generator; it is created, run and closed in the background thread.
        depth: Items produced ahead of the consumer, at most.
        name: Thread name, for debugging.

    Yields:
        The items of ``produce()``, in order.

    Raises:
        BaseException: Whatever the background generator raised, after its earlier items.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    failures: list[BaseException] = []

    def run() -> None:
        generator: Generator[T, None, None] | None = None
        try:
            generator = produce()
            for item in generator:
                if not _put(items, item, stop):
                    return
        except BaseException as exc:  # noqa: BLE001 - re-raised in the consuming thread
            failures.append(exc)
        finally:
            if generator is not None:
                generator.close()
            _put(items, _END, stop)

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    try:
        while (item := items.get()) is not _END:
            yield item  # type: ignore[misc]
        if failures:
            raise failures[0]
    finally:
        stop.set()
        thread.join()


class BackgroundConsumer(Generic[T, R]):
    """Feed items to a function that consumes them in a background thread.

    Use as a context manager: :meth:`put` items, then :meth:`finish` to get the function's
    result. Leaving the block without :meth:`finish` (an exception) stops the consumer, which
    sees its item iterator end early.

    Args:
        consume: Called once in the background thread with an iterator over the items put.
        depth: Items waiting for the consumer, at most; :meth:`put` blocks beyond that.
        name: Thread name, for debugging.
    """

    def __init__(self, consume: Callable[[Iterator[T]], R], depth: int, name: str) -> None:
        self._consume = consume
        self._items: queue.Queue[object] = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._failure: BaseException | None = None
        self._result: R | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def __enter__(self) -> BackgroundConsumer[T, R]:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def put(self, item: T) -> None:
        """Hand an item to the consumer, waiting while ``depth`` items are queued.

        Raises:
            BaseException: What the consumer raised, if it failed.
        """
        if not _put(self._items, item, self._stop):
            self._raise_failure()
            raise RuntimeError("BackgroundConsumer.put after the consumer stopped")

    def finish(self) -> R:
        """Signal the end of the items and wait for the consumer's result.

        Returns:
            What ``consume`` returned.

        Raises:
            BaseException: What the consumer raised, if it failed.
        """
        _put(self._items, _END, self._stop)
        self._thread.join()
        self._raise_failure()
        return self._result  # type: ignore[return-value]

    def _items_until_end(self) -> Iterator[T]:
        while not self._stop.is_set():
            try:
                item = self._items.get(timeout=_POLL_SECONDS)
            except queue.Empty:
                continue
            if item is _END:
                return
            yield item  # type: ignore[misc]

    def _run(self) -> None:
        try:
            self._result = self._consume(self._items_until_end())
        except BaseException as exc:  # noqa: BLE001 - re-raised in the producing thread
            self._failure = exc
            self._stop.set()

    def _raise_failure(self) -> None:
        if self._failure is not None:
            raise self._failure
