"""The one mail sender: real MIME (Python's email package) sent as SESv2 Raw, plus a recording fake."""
from __future__ import annotations

import functools
import random
import re
import time
from dataclasses import dataclass, field
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, getaddresses, make_msgid
from html import unescape as html_unescape
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


# A bare dot-atom address (what forms.email_address stores): parsing it with getaddresses gives
# back the same text, so the send path, which meets thousands of them, can skip the parser.
_PLAIN_ADDRESS = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                            r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")


@functools.lru_cache(maxsize=256)  # the sender, and each recipient, are parsed once per copy, not three times
def _address(value: str) -> Address:
    if _PLAIN_ADDRESS.fullmatch(value):
        username, domain = value.rsplit("@", 1)
        return Address(username=username, domain=domain)
    (name, addr), = getaddresses([_clean(value)]) or [("", "")]
    if not addr or "@" not in addr:
        raise ValueError("not an email address")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=_clean(name), username=username, domain=domain)


def _list_headers(mime: EmailMessage, message: OutgoingMessage) -> None:
    """List-Id, and for mail to a subscriber the RFC 8058 one-click List-Unsubscribe pair."""
    if message.list_id:
        mime["List-Id"] = _clean(message.list_id)
    if message.unsubscribe_url:
        targets = [f"<{_clean(message.unsubscribe_url)}>"]
        if message.unsubscribe_mailto:
            targets.append(f"<mailto:{_clean(message.unsubscribe_mailto)}?subject=unsubscribe>")
        mime["List-Unsubscribe"] = ", ".join(targets)
        mime["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


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
    _list_headers(mime, message)
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

    def send_raw(self, to: str, sender: str, raw: bytes, tags: dict) -> str: ...


class SesSender:
    """Sends through SESv2 with the configuration set and tags; retries throttling and SES's own failures with backoff."""

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
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
                # Throttled, or SES failed and said so (5xx): it sent nothing, so sending again is safe.
                if code in THROTTLE_CODES or status >= 500:
                    # Jitter spreads retries; it needs no cryptographic randomness.
                    self._sleep(min(20.0, 0.2 * 2**attempt) * (0.5 + random.random() / 2))  # nosec B311
                    continue
                if code in {"MessageRejected", "MailFromDomainNotVerifiedException", "BadRequestException",
                            "AccountSuspendedException", "SendingPausedException"}:
                    raise PermanentSendError(code) from exc
                raise
        raise SendThrottled("SES kept throttling or failing; the message will be retried")


class RecordingSender:
    """A fake sender for unit tests: keeps what it was asked to send."""

    def __init__(self) -> None:
        self.sent: list[OutgoingMessage] = []
        self.raw: list[tuple[str, bytes]] = []

    def send(self, message: OutgoingMessage) -> str:
        build_mime(message)  # the fake still proves the message is buildable
        self.sent.append(message)
        return f"fake-{len(self.sent)}"

    def send_raw(self, to: str, sender: str, raw: bytes, tags: dict) -> str:
        self.raw.append((to, raw))
        return f"fake-raw-{len(self.raw)}"

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


# Prepared messages: one MIME build per newsletter issue, cheap byte substitution per recipient.
#
# Quoted-printable or base64 would scramble placeholders, so the HTML part is 7bit: pure ASCII
# (other characters become numeric character references) in lines well under RFC 5322's 998.
# The plain-text part must stay readable UTF-8, so it is base64-encoded per recipient: a few
# kilobytes through binascii, microseconds. Header placeholders sit where folding cannot split them.
_MAX_LINE = 900


@dataclass(frozen=True)
class Markers:
    """Where each recipient's own values go in a message built once.

    The key is random for each rendering, so nothing a person typed (a story, a section, a title)
    can ever match a marker: typed text stays exactly that text, whatever it contains."""

    key: str

    @classmethod
    def new(cls) -> "Markers":
        import secrets

        return cls(secrets.token_hex(8))

    def placeholder(self, name: str) -> str:
        """The marker for a recipient's value (only atext and dots: valid in a Message-ID, a URL and HTML)."""
        return f"%%PP{self.key}.{name}%%"

    @property
    def address(self) -> str:
        return f"pp-{self.key}@placeholder.invalid"

    def fill(self, text: str, values: dict[str, str], escaped: bool = True) -> str:
        """values are HTML-escaped; escaped=False unescapes them for plain text."""
        for name, value in values.items():
            text = text.replace(self.placeholder(name), value if escaped else html_unescape(value))
        return text


def ascii_html(html: str) -> str:
    """HTML as 7-bit ASCII with lines short enough for a 7bit MIME part."""
    html = html.encode("ascii", "xmlcharrefreplace").decode("ascii")
    lines = []
    for line in html.splitlines():
        while len(line) > _MAX_LINE:
            # Break between tags, or else at a space: both are insignificant in HTML outside <pre>.
            cut = line.rfind("><", 0, _MAX_LINE) + 1 or line.rfind(" ", 0, _MAX_LINE)
            if cut <= 0:
                break  # one unbreakable run of 900 characters: leave it whole (still under 998)
            lines.append(line[:cut])
            line = line[cut:].lstrip(" ") if line[cut:cut + 1] == " " else line[cut:]
        lines.append(line)
    return "\n".join(lines)


def base64_lines(data: bytes) -> bytes:
    """base64.encodebytes without its last newline, in one pass: 76-character lines (RFC 2045)."""
    import binascii

    encoded = binascii.b2a_base64(data, newline=False)
    return b"\n".join([encoded[i:i + 76] for i in range(0, len(encoded), 76)])


class PreparedMessage:
    """A whole MIME message built once, with placeholders; `personalise` is a join of byte slices."""

    def __init__(self, message: OutgoingMessage, markers: Markers, message_id_domain: str = "") -> None:
        import re

        self.sender = message.sender
        self.tags = dict(message.tags)
        self.markers = markers
        self._message = message
        skeleton = build_skeleton(message, markers, message_id_domain)
        marker = re.escape(markers.placeholder("NAME").encode()).replace(b"NAME", rb"([A-Za-z0-9_]+)")
        pieces = re.split(marker + rb"|(" + re.escape(markers.address.encode()) + rb")", skeleton)
        # re.split yields literal, name, address, literal, ...: keep (literal, name) pairs.
        self._literals: list[bytes] = []
        self._names: list[str] = []
        for index in range(0, len(pieces) - 1, 3):
            self._literals.append(pieces[index])
            name = pieces[index + 1]
            self._names.append("@to" if name is None else "@text" if name == b"__text__" else name.decode())
        self._tail = pieces[-1]
        self._text = message.text

    @property
    def names(self) -> frozenset[str]:
        return frozenset(n for n in self._names if not n.startswith("@"))

    def personalise(self, to: str, values: dict[str, str], message_id: str) -> bytes:
        """The message for one recipient. values: placeholder name -> HTML-escaped text (unescaped for
        the plain-text part); message_id: dot-atom text, unique per (issue, recipient)."""
        address = _address(to).addr_spec
        if not address.isascii():
            return self._slow(to, values, message_id)  # SMTPUTF8 addresses need real header encoding
        text = self.markers.fill(self._text, values, escaped=False)
        encoded = {
            "@to": address.encode("ascii"),
            "@text": base64_lines(text.encode("utf-8")),
            "message_id": message_id.encode("ascii"),
        }
        for name, value in values.items():
            encoded[name] = value.encode("ascii", "xmlcharrefreplace")
        out = []
        for literal, name in zip(self._literals, self._names):
            out.append(literal)
            out.append(encoded[name] if name in encoded else self.markers.placeholder(name).encode())
        out.append(self._tail)
        return b"".join(out)

    def _slow(self, to: str, values: dict[str, str], message_id: str) -> bytes:
        m, fill = self._message, self.markers.fill
        return build_mime(OutgoingMessage(
            to=to, subject=m.subject, text=fill(m.text, values, escaped=False), html=fill(m.html, values),
            sender=m.sender, reply_to=m.reply_to, list_id=m.list_id, unsubscribe_url=fill(m.unsubscribe_url, values),
            unsubscribe_mailto=m.unsubscribe_mailto, tags=m.tags))


def build_skeleton(message: OutgoingMessage, markers: Markers, message_id_domain: str = "") -> bytes:
    """The MIME message with the recipient, Message-ID and text body left as placeholders."""
    sender = _address(message.sender)
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = markers.address
    if message.reply_to:
        mime["Reply-To"] = _address(message.reply_to)
    mime["Subject"] = _clean(message.subject)
    mime["Date"] = format_datetime(clock.now())
    mime["Message-ID"] = f"<{markers.placeholder('message_id')}@{message_id_domain or sender.domain}>"
    _list_headers(mime, message)
    mime.set_content(markers.placeholder("__text__"), subtype="plain", charset="utf-8", cte="7bit")
    mime.add_alternative(ascii_html(message.html), subtype="html", charset="us-ascii", cte="7bit")
    text_part = mime.get_payload()[0]
    text_part.replace_header("Content-Transfer-Encoding", "base64")
    return mime.as_bytes()


def send_prepared(prepared: PreparedMessage, to: str, values: dict[str, str], message_id: str) -> str:
    """Send one recipient's copy of a prepared message through the one sender; returns the SES id."""
    return get_sender().send_raw(to, prepared.sender, prepared.personalise(to, values, message_id), prepared.tags)
