"""Domain errors. They become HTTP statuses in one place: chalicelib.web.error_response."""
from __future__ import annotations


class PeerPostError(Exception):
    status = 400
    title = "Something went wrong"
    headers: dict[str, str] = {}
    action_url = ""  # a page shown for the error links here, as action_label
    action_label = ""

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.title)
        self.message = message or self.title


class ValidationError(PeerPostError):
    """Bad input: carries a message per field so a form can be re-shown beside what was typed."""

    status = 400
    title = "Please check the form"

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class InvalidToken(PeerPostError):
    status = 400
    title = "This link is not valid"


class ExpiredToken(InvalidToken):
    status = 410
    title = "This link has expired"


class NotFound(PeerPostError):
    status = 404
    title = "Not found"


class Unauthorised(PeerPostError):
    status = 401
    title = "Please sign in"


class Forbidden(PeerPostError):
    status = 403
    title = "Not allowed"

    def __init__(self, message: str = "", title: str = "") -> None:
        super().__init__(message)
        if title:
            self.title = title


class Conflict(PeerPostError):
    status = 409
    title = "That cannot be done now"


class MethodNotAllowed(PeerPostError):
    status = 405
    title = "This address is for a form"

    def __init__(self, message: str, action_url: str, action_label: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.action_url, self.action_label, self.headers = action_url, action_label, headers


class RateLimited(PeerPostError):
    status = 429
    title = "Too many requests"

    def __init__(self, message: str = "", retry_after_seconds: int | None = None) -> None:
        super().__init__(message)
        if retry_after_seconds is not None:
            self.headers = {"Retry-After": str(max(1, int(retry_after_seconds)))}


class PayloadTooLarge(PeerPostError):
    status = 413
    title = "That is too large"


class UnsupportedMediaType(PeerPostError):
    status = 415
    title = "Unsupported content type"


class ServiceUnavailable(PeerPostError):
    """Something PeerPost depends on (DynamoDB, SSM) failed: not the person's fault, worth retrying."""

    status = 503
    title = "PeerPost is not available just now"


class SendThrottled(PeerPostError):
    """SES kept throttling after every retry; the message should be retried later."""

    status = 503
    title = "Sending is throttled"


class ReadsUnprocessed(ServiceUnavailable):
    """DynamoDB still left keys of a BatchGetItem unread after every retry: not read is not missing."""

    title = "PeerPost is busy just now"
