"""Keeping to the SES maximum send rate: every sender spaces its sends on one schedule."""
from __future__ import annotations

import threading
import time
from typing import Callable

from chalicelib.settings import Settings, get_settings


class Pacer:
    """Spaces sends so that all concurrent senders together stay within settings.send_rate_per_second.

    Each sender keeps to a schedule of one send per `senders` / rate seconds: the newsletter's senders
    share the rate (send_concurrency of them, as deployed); an import sends alone. Time it lost (a slow
    call, the reads and writes between queue messages) it may make up, but never more than
    CATCH_UP_SECONDS of it: together the senders then never exceed the rate by more than that much
    in any window, within the second of burst SES allows."""

    CATCH_UP_SECONDS = 0.5

    def __init__(self, sleep: Callable[[float], None] = time.sleep,
                 senders: Callable[[Settings], int] = lambda settings: settings.send_concurrency) -> None:
        self._sleep = sleep
        self._senders = senders
        self._next: float | None = None
        self._lock = threading.Lock()

    def wait(self, senders: int | None = None) -> None:
        """Wait for this sender's next turn; `senders`, if given, is how many share the rate now."""
        settings = get_settings()
        interval = max(1, self._senders(settings) if senders is None else senders) / settings.send_rate_per_second
        with self._lock:
            now = time.monotonic()
            scheduled = now if self._next is None else max(self._next, now - self.CATCH_UP_SECONDS)
            wait_for = scheduled - now
            self._next = scheduled + interval
        if wait_for > 0:
            self._sleep(wait_for)
