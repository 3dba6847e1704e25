"""Fixtures of the lead delivery tests: real HTTP receivers on loopback and a runner
driven by an injected clock (helpers: tests/delivery/support.py)."""
from __future__ import annotations

import pytest

from calls.delivery.queue import DeliveryQueue
from calls.outbox.runner import Runner
from devtools.webhook_receiver import Receiver
from tests.delivery.support import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def receivers():
    """receivers(script, default) -> a started Receiver; all stopped after the test."""
    made: list[Receiver] = []

    def make(script=None, default=200) -> Receiver:
        receiver = Receiver(script, default).__enter__()
        made.append(receiver)
        return receiver

    yield make
    for receiver in made:
        receiver.stop()


@pytest.fixture
def runner(clock, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receivers are on loopback
    made = Runner([DeliveryQueue()], owner="test-runner", concurrency=4, clock=clock)
    yield made
    if made._pool is not None:
        made._pool.shutdown(wait=True)
