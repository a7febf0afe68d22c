"""Templates: one Jinja environment for pages and email; MJML (mjml-python) turns email into HTML.

Jinja and mjml are imported on first use, so the API handler's cold start stays small.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

# In the repository and in the Lambda package alike, templates/ sits beside chalicelib/.
TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    html: str
    text: str
    markers: object = None  # mail.Markers, where the rendering left each recipient's values
    stories: tuple = ()  # consent.SharedStory, exactly as this rendering shows them


@functools.cache
def environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        # Everything is escaped except plain-text email parts, which are never read as HTML.
        # bandit cannot read a callable: autoescape is on for every template but plain-text email.
        autoescape=lambda name: not (name or "").endswith(".txt.j2"),  # nosec B701
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        # Deployed, templates never change under a running function: no file checks on every render.
        auto_reload=_settings().is_local,
    )
    env.filters["london"] = _london
    env.filters["london_date"] = _london_date
    env.filters["month_year"] = _month_year
    env.globals["settings"] = _settings
    return env


def _settings():
    from chalicelib.settings import get_settings

    return get_settings()


def _london(value, fmt: str = "%A %-d %B %Y, %-I:%M%p") -> str:
    from datetime import datetime

    from chalicelib.clock import LONDON

    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    text = moment.astimezone(LONDON).strftime(fmt)
    return text.replace("AM", "am").replace("PM", "pm")


def _london_date(value) -> str:
    return _london(value, "%A %-d %B %Y")


def _month_year(value) -> str:
    """An issue's date as its readers know it: "December 2026"."""
    from datetime import date

    return f"{date.fromisoformat(str(value)):%B %Y}"


def render_page(name: str, **context) -> str:
    return environment().get_template(f"pages/{name}").render(**context)


def render_text(name: str, **context) -> str:
    """Plain text from a template (no HTML escaping: the result is never shown as HTML)."""
    template = environment().get_template(name)
    return template.render(**context)


def mjml_to_html(source: str) -> str:
    from mjml import mjml2html

    from chalicelib.forms import strip_controls

    # People's text can carry control characters, which break MJML's parser: they go first.
    return mjml2html(strip_controls(source), disable_comments=True)


def render_email(name: str, subject: str, **context) -> RenderedEmail:
    """templates/email/<name>.mjml.j2 and .txt.j2, filled from the same context."""
    env = environment()
    context = {"subject": subject, **context}
    mjml_source = env.get_template(f"email/{name}.mjml.j2").render(**context)
    text = env.get_template(f"email/{name}.txt.j2").render(**context)
    return RenderedEmail(subject=subject, html=mjml_to_html(mjml_source), text=text.strip() + "\n")
