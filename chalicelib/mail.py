"""The one mail sender: real MIME (Python's email package) sent as SESv2 Raw, plus a recording fake."""
from __future__ import annotations

import functools
import random
import time
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from typing import Callable, Protocol

from chalicelib import clock
from chalicelib.errors import SendThrottled
from chalicelib.settings import get_settings

THROTTLE_CODES = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "LimitExceededException"}
)


class PermanentSendError(Exception):
    """SES refused this message for good (for example a rejected or malformed address)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    maintype: str
    subtype: str
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class OutgoingMessage:
    to: str
    subject: str
    text: str
    html: str
    sender: str
    reply_to: str = ""
    list_id: str = ""
    unsubscribe_url: str = ""
    unsubscribe_mailto: str = ""
    tags: dict = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


def _clean(value: str) -> str:
    """Header values never carry line breaks, whatever a person typed into a form."""
    return " ".join(value.replace("\r", " ").replace("\n", " ").split())


def _address(value: str) -> Address:
    (name, addr), = getaddresses([_clean(value)]) or [("", "")]
    if not addr or "@" not in addr:
        raise ValueError("not an email address")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=_clean(name), username=username, domain=domain)


def build_mime(message: OutgoingMessage) -> bytes:
    sender = _address(message.sender)
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = _address(message.to)
    if message.reply_to:
        mime["Reply-To"] = _address(message.reply_to)
    mime["Subject"] = _clean(message.subject)
    mime["Date"] = format_datetime(clock.now())
    mime["Message-ID"] = make_msgid(domain=sender.domain)
    if message.list_id:
        mime["List-Id"] = _clean(message.list_id)
    if message.unsubscribe_url:
        targets = [f"<{_clean(message.unsubscribe_url)}>"]
        if message.unsubscribe_mailto:
            targets.append(f"<mailto:{_clean(message.unsubscribe_mailto)}?subject=unsubscribe>")
        mime["List-Unsubscribe"] = ", ".join(targets)
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    mime.set_content(message.text, subtype="plain", charset="utf-8")
    mime.add_alternative(message.html, subtype="html", charset="utf-8")
    for attachment in message.attachments:
        mime.add_attachment(
            attachment.content,
            maintype=attachment.maintype,
            subtype=attachment.subtype,
            filename=attachment.filename,
            params=attachment.params,
        )
    return mime.as_bytes()


class Sender(Protocol):
    def send(self, message: OutgoingMessage) -> str: ...


class SesSender:
    """Sends through SESv2 with the configuration set and tags; retries throttling with backoff."""

    def __init__(self, client=None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._sleep = sleep

    @property
    def client(self):
        if self._client is None:
            from chalicelib import aws

            self._client = aws.sesv2()
        return self._client

    def send(self, message: OutgoingMessage) -> str:
        return self.send_raw(message.to, message.sender, build_mime(message), message.tags)

    def send_raw(self, to: str, sender: str, raw: bytes, tags: dict) -> str:
        from botocore.exceptions import ClientError

        settings = get_settings()
        request = {
            "FromEmailAddress": _address(sender).addr_spec,
            "Destination": {"ToAddresses": [_address(to).addr_spec]},
            "Content": {"Raw": {"Data": raw}},
            "EmailTags": [{"Name": k, "Value": v} for k, v in tags.items()],
        }
        if settings.ses_configuration_set:
            request["ConfigurationSetName"] = settings.ses_configuration_set
        for attempt in range(settings.ses_max_attempts):
            try:
                return self.client.send_email(**request)["MessageId"]
            except ClientError as exc:
                code = exc.response.get("Error", {}).get("Code", "")
                if code in THROTTLE_CODES:
                    # Jitter spreads retries; it needs no cryptographic randomness.
                    self._sleep(min(20.0, 0.2 * 2**attempt) * (0.5 + random.random() / 2))  # nosec B311
                    continue
                if code in {"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException",
                            "AccountSuspendedException", "SendingPausedException"}:
                    raise PermanentSendError(code) from exc
                raise
        raise SendThrottled("SES is throttling; the message will be retried")


class RecordingSender:
    """A fake sender for unit tests: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> str:
        build_mime(message)  # the fake still proves the message is buildable
        self.sent.append(message)
        return f"fake-{len(self.sent)}"

    def to(self, address: str) -> list[OutgoingMessage]:
        return [m for m in self.sent if m.to == address]


_override: Sender | None = None


@functools.cache
def _default_sender() -> Sender:
    return SesSender()


def get_sender() -> Sender:
    return _override or _default_sender()


def use_sender(sender: Sender | None) -> None:
    """Swap the sender (tests); None restores the SES sender."""
    global _override
    _override = sender
    _default_sender.cache_clear()
