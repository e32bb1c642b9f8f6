"""Background producer and consumer threads: order, error forwarding, early stop."""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator

import pytest
from ingest.background import BackgroundConsumer, iterate_in_background


def test_items_arrive_in_order() -> None:
    def produce() -> Generator[int, None, None]:
        yield from range(100)

    assert list(iterate_in_background(produce, depth=1, name="t")) == list(range(100))


def test_producer_error_is_raised_after_its_earlier_items() -> None:
    def produce() -> Generator[int, None, None]:
        yield 1
        yield 2
        raise OSError("disk gone")

    received: list[int] = []

    def consume_all() -> None:
        received.extend(iterate_in_background(produce, depth=1, name="t"))

    with pytest.raises(OSError, match="disk gone"):
        consume_all()
    assert received == [1, 2]  # extend() saw both items before the error


def test_closing_early_stops_and_closes_the_producer() -> None:
    closed = threading.Event()
    produced = []

    def produce() -> Generator[int, None, None]:
        try:
            for i in range(1_000_000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    items = iterate_in_background(produce, depth=2, name="t")
    assert next(items) == 0
    items.close()

    assert closed.is_set()
    assert len(produced) < 10  # it stopped a few items ahead, not at the end


def test_consumer_returns_its_result() -> None:
    def consume(items: Iterator[int]) -> int:
        return sum(items)

    with BackgroundConsumer(consume, depth=2, name="t") as consumer:
        for i in range(1, 101):
            consumer.put(i)
        assert consumer.finish() == 5050


def test_consumer_error_reaches_the_producer() -> None:
    def consume(items: Iterator[int]) -> None:
        for item in items:
            if item == 3:
                raise ValueError("bad item 3")

    def put_many(consumer: BackgroundConsumer[int, None]) -> None:
        for i in range(1_000):
            consumer.put(i)

    with BackgroundConsumer(consume, depth=1, name="t") as consumer:
        with pytest.raises(ValueError, match="bad item 3"):
            put_many(consumer)
        with pytest.raises(ValueError, match="bad item 3"):
            consumer.finish()


def test_leaving_without_finish_ends_the_consumer_early() -> None:
    seen = []
    finished = threading.Event()

    def consume(items: Iterator[int]) -> None:
        seen.extend(items)
        finished.set()

    def produce_then_fail() -> None:
        with BackgroundConsumer(consume, depth=1, name="t") as consumer:
            consumer.put(1)
            raise KeyError("producer failed")

    with pytest.raises(KeyError):
        produce_then_fail()

    assert finished.is_set()
    assert seen in ([], [1])
