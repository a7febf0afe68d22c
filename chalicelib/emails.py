"""Rendering and sending one templated email: the path every capability's transactional mail takes."""
from __future__ import annotations

from chalicelib.mail import Attachment, OutgoingMessage, get_sender
from chalicelib.rendering import render_email
from chalicelib.settings import get_settings


def send(
    to: str,
    template: str,
    subject: str,
    *,
    purpose: str,
    unsubscribe_url: str = "",
    newsletter: bool = False,
    attachments: tuple[Attachment, ...] = (),
    **context,
) -> str:
    """Render templates/email/<template>.{mjml,txt}.j2 and send it; returns the SES message id.

    `unsubscribe_url` makes it mail to a subscriber (List-Id and one-click List-Unsubscribe).
    """
    settings = get_settings()
    rendered = render_email(template, subject, unsubscribe_url=unsubscribe_url, **context)
    message = OutgoingMessage(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        sender=settings.newsletter_from if newsletter else settings.transactional_from,
        reply_to=settings.reply_to,
        list_id=settings.list_id if unsubscribe_url else "",
        unsubscribe_url=unsubscribe_url,
        unsubscribe_mailto=settings.unsubscribe_mailto if unsubscribe_url else "",
        tags={"purpose": purpose},
        attachments=attachments,
    )
    return get_sender().send(message)
