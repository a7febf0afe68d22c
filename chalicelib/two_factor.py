"""Second factors for coordinators: TOTP (RFC 6238, by pyotp) and one-time recovery codes.

A code is accepted once: the time step it belongs to is stored, and a code of that step or an earlier
one is refused after it (a code read over a shoulder cannot be replayed in its 30 seconds). Recovery
codes are shown once, kept only as keyed hashes, and each works once.
"""
from __future__ import annotations

import hmac
import secrets

from chalicelib import clock
from chalicelib.signing_secret import keyed_hash

STEP_SECONDS = 30
DRIFT_STEPS = 1  # a code from the step before or after is accepted too: phones' clocks drift
RECOVERY_CODES = 10
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def new_secret() -> str:
    import pyotp

    return pyotp.random_base32()


def setup_uri(secret: str, account: str, issuer: str) -> str:
    import pyotp

    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def qr_svg(uri: str) -> str:
    """The setup link as an inline SVG QR code (segno: pure Python, no image library)."""
    import io

    import segno

    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=2, xmldecl=False, svgns=True,
                                    title="QR code to scan with an authenticator app")
    return out.getvalue().decode()


def matching_step(secret: str, code: str, after_step: int = -1) -> int | None:
    """The time step whose code this is (within the allowed drift and later than `after_step`), or None."""
    import pyotp

    code = "".join(ch for ch in str(code) if ch.isdigit())
    if len(code) != 6 or not secret:
        return None
    totp = pyotp.TOTP(secret)
    current = int(clock.now().timestamp()) // STEP_SECONDS
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if step > after_step and hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def current_code(secret: str) -> str:
    """The code an authenticator app shows now (tests and the local demo's helper)."""
    import pyotp

    return pyotp.TOTP(secret).at(int(clock.now().timestamp()))


def new_recovery_codes() -> list[str]:
    return ["-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(2))
            for _ in range(RECOVERY_CODES)]


def recovery_hash(code: str) -> str:
    return keyed_hash("recovery-code", "".join(ch for ch in str(code).lower() if ch.isalnum()))


def looks_like_recovery_code(code: str) -> bool:
    return sum(ch.isalpha() for ch in str(code)) > 0
