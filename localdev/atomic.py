"""Give moto's threaded server DynamoDB's guarantee that each operation is atomic.

Real DynamoDB evaluates a condition and applies the write as one step; moto's server runs
requests on threads with no such lock, so concurrent conditional writes could both pass, and a
query iterating a table while another thread writes fails ("dictionary changed size during
iteration"). Serialising moto's DynamoDB operations restores the semantics PeerPost relies on.

The lock is held for the whole request, answer included (moto's response handlers, not only its
backend): an update changes the stored item in place, so an answer built after the lock was let go
could show another request's change. Two concurrent `ADD seq :one` then both answered the same
number (an event's arrival counter, seen in the 50-at-once browser test).
"""
from __future__ import annotations

import functools
import threading

_lock = threading.RLock()
_OPERATIONS = ("put_item", "update_item", "delete_item", "transact_write_items", "batch_write_item",
               "get_item", "query", "scan", "batch_get_item", "transact_get_items", "update_time_to_live")


def install() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    for owner in (DynamoHandler, DynamoDBBackend):
        for name in _OPERATIONS:
            if not hasattr(owner, name):
                continue
            original = getattr(owner, name)
            if getattr(original, "_peerpost_atomic", False):
                continue

            @functools.wraps(original)
            def atomic(self, *args, __original=original, **kwargs):
                with _lock:
                    return __original(self, *args, **kwargs)

            atomic._peerpost_atomic = True
            setattr(owner, name, atomic)
