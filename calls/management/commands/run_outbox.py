"""Run the outbox (lead webhooks, and any other registered queue) in a process of its own.

Every server process already runs it (OUTBOX_WORKER, on by default), so nothing needs
this for `make run`, `make serve` or the Kubernetes manifests. It is for a deployment
that sets OUTBOX_WORKER=0 on its web processes and runs senders apart, and for tests.

    python manage.py run_outbox            # until SIGTERM / Ctrl-C
    python manage.py run_outbox --once     # what is due now, then exit
"""
from __future__ import annotations

import signal
import threading

from django.core.management.base import BaseCommand

from calls.outbox.runner import Runner


class Command(BaseCommand):
    help = __doc__.split("\n\n")[0]

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="attempt what is due now, then exit")
        parser.add_argument("--owner", default="", help="lease owner name (default WORKER_ID)")

    def handle(self, *args, once: bool = False, owner: str = "", **options) -> None:
        runner = Runner(owner=owner)
        if once:
            while runner.run_once():
                pass
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: (stop.set(), runner.wakeup.set()))
        self.stdout.write(f"outbox runner {runner.owner}: serving {', '.join(q.name for q in runner.queues)}", ending="\n")
        self.stdout.flush()
        runner.serve(stop)  # returns once the attempts in flight are recorded
