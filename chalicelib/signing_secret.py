"""The link-signing secret: from SSM Parameter Store in AWS (powertools parameters), the environment locally."""
from __future__ import annotations

import hashlib
import hmac

from chalicelib.settings import get_settings


def signing_secret() -> str:
    settings = get_settings()
    if settings.signing_secret:
        return settings.signing_secret
    if settings.signing_secret_parameter:
        from aws_lambda_powertools.utilities import parameters

        return parameters.get_parameter(settings.signing_secret_parameter, decrypt=True, max_age=300)
    raise RuntimeError("No signing secret: set PEERPOST_SIGNING_SECRET or PEERPOST_SIGNING_SECRET_PARAMETER")


def keyed_hash(purpose: str, value: str, length: int = 26) -> str:
    """A stable, unguessable id for a value such as an email address (HMAC, base32)."""
    import base64

    key = hmac.new(signing_secret().encode(), purpose.encode(), hashlib.sha256).digest()
    digest = hmac.new(key, value.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().rstrip("=").lower()[:length]
