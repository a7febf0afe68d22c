"""Give moto's threaded server DynamoDB's guarantee that each write is atomic.

Real DynamoDB evaluates a condition and applies the write as one step; moto's server runs
requests on threads with no such lock, so concurrent conditional writes could both pass.
Serialising moto's write operations restores the semantics PeerPost's capacity checks rely on.
"""
from __future__ import annotations

import functools
import threading

_lock = threading.RLock()
_WRITES = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item")


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend

    for name in _WRITES:
        original = getattr(DynamoDBBackend, name)
        if getattr(original, "_peerpost_atomic", False):
            continue

        @functools.wraps(original)
        def atomic(self, *args, __original=original, **kwargs):
            with _lock:
                return __original(self, *args, **kwargs)

        atomic._peerpost_atomic = True
        setattr(DynamoDBBackend, name, atomic)
