"""Signed, purpose-bound, optionally expiring tokens for every link PeerPost puts in an email.

itsdangerous does the signing (HMAC-SHA256, constant-time comparison, timestamps): a well-kept
library rather than hand-rolled crypto. Payloads are opaque ids only, never an address.
"""
from __future__ import annotations

import functools
import hashlib
from typing import Any

from chalicelib import clock
from chalicelib.errors import ExpiredToken, InvalidToken
from chalicelib.signing_secret import signing_secret

MAX_TOKEN_LENGTH = 2048

_CHANGED = "This link is incomplete or has been changed. Please use the link from your email."


@functools.cache
def _serializer(secret: str, purpose: str):
    from itsdangerous import TimestampSigner, URLSafeTimedSerializer

    class ClockedSigner(TimestampSigner):
        def get_timestamp(self) -> int:
            return clock.epoch()

    return URLSafeTimedSerializer(
        secret,
        salt=f"peerpost:{purpose}",
        signer=ClockedSigner,
        signer_kwargs={"digest_method": hashlib.sha256},
    )


def sign(purpose: str, payload: Any) -> str:
    return _serializer(signing_secret(), purpose).dumps(payload)


def verify(purpose: str, token: str, max_age_seconds: int | None = None) -> Any:
    from itsdangerous import BadSignature, SignatureExpired

    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken(_CHANGED)
    try:
        return _serializer(signing_secret(), purpose).loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        raise ExpiredToken("This link has expired. Links in our emails only work for a limited time.") from exc
    except BadSignature as exc:
        raise InvalidToken(_CHANGED) from exc
