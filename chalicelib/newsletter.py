"""Rendering a newsletter issue: Markdown made safe, stories through consent, the diary from events.

An issue is rendered ONCE (Jinja -> MJML -> HTML, plus plain text from the same content); each
recipient's copy is then made by substituting placeholders (mail.PreparedMessage), never by
rendering again. The web archive renders at view time, so a withdrawn story disappears at once.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date as Date, datetime

from chalicelib import mail
from chalicelib.rendering import RenderedEmail, environment, mjml_to_html

ALLOWED_TAGS = {"p", "br", "strong", "em", "b", "i", "a", "ul", "ol", "li", "blockquote", "h3", "h4", "hr",
                "code", "pre", "sup", "sub", "table", "thead", "tbody", "tr", "th", "td"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"scope"}}
URL_SCHEMES = {"http", "https", "mailto"}
WRITTEN = ("text", "image", "cta")  # sections a coordinator writes; each is shown as text with its image or button

# The personal parts of a newsletter: links and the name in the greeting.
PERSONAL = ("preferences_url", "unsubscribe_url", "name")


@dataclass(frozen=True)
class Section:
    anchor: str
    kind: str
    heading: str
    html: str = ""
    text: str = ""
    image_url: str = ""
    image_alt: str = ""
    cta_label: str = ""
    cta_url: str = ""
    story: object = None
    entries: tuple = ()

    @property
    def image_srcset(self) -> str:
        """An uploaded image's email-width and sharp-screen files; "" for an image from elsewhere."""
        from chalicelib import images

        sharp = images.sharp_url(self.image_url) if self.image_url else ""
        return f"{self.image_url} 1x, {sharp} 2x" if sharp else ""


@functools.cache
def _markdown():
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": True}).enable("table")


def markdown_html(source: str) -> str:
    """Markdown -> HTML a coordinator cannot use to inject anything (nh3 allow-list after rendering)."""
    import nh3

    rendered = _markdown().render(source or "")
    # Section headings are <h2>: headings inside a section's text start one level down.
    rendered = re.sub(r"<(/?)h[12]>", r"<\1h3>", rendered)
    return nh3.clean(rendered, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer")


_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def markdown_text(source: str) -> str:
    """Markdown is already plain text; only links and emphasis marks read badly in a mail client."""
    def link(match):
        label, url = match.group(1), match.group(2)
        if url in ("#", "") or url.startswith("#"):
            return label
        return f"{label} ({url.removeprefix('mailto:')})" if label != url.removeprefix("mailto:") else label

    text = _LINK.sub(link, source or "")
    text = re.sub(r"(\*\*|__)(.+?)\1", r"\2", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def compile_section(section: dict) -> dict:
    return {**section, "html": markdown_html(section.get("body", "")), "text": markdown_text(section.get("body", ""))}


def compile_issue(issue: dict) -> dict:
    """Markdown -> safe HTML and plain text once, when a coordinator saves, not at every render
    (markdown-it takes ~12 ms over the seed issue; the rest of a render takes ~1 ms)."""
    return {**issue, "introduction_html": markdown_html(issue.get("introduction", "")),
            "introduction_text": markdown_text(issue.get("introduction", "")),
            "sections": [compile_section(s) if s["kind"] in WRITTEN else s for s in issue.get("sections", [])]}


def shareable_story(story_id: str, channel: str):
    from chalicelib import stories  # imported on use: the API handler's cold start stays small

    return stories.shareable(story_id, channel)


def _diary():
    from chalicelib import events

    return events.diary()


def resolve_sections(issue: dict, channel: str, stash=lambda html: html) -> list[Section]:
    """The sections as they will be shown now: stories only with consent for this channel."""
    resolved = []
    for number, raw in enumerate(issue.get("sections", []), start=1):
        anchor = f"section-{number}"
        if raw["kind"] in WRITTEN:  # text, an image with a caption, a call to action
            compiled = raw if "html" in raw else compile_section(raw)
            resolved.append(Section(
                anchor=anchor, kind="text", heading=raw["heading"], html=stash(compiled["html"]),
                text=compiled["text"], image_url=raw.get("image_url", ""),
                image_alt=raw.get("image_alt", ""), cta_label=raw.get("cta_label", ""), cta_url=raw.get("cta_url", "")))
        elif raw["kind"] == "story":
            story = shareable_story(raw["story_id"], channel)
            if story is not None:  # withdrawn, not consented for this channel, or unknown: left out entirely
                resolved.append(Section(anchor=anchor, kind="story", heading=raw.get("heading") or story.title,
                                        story=story))
        elif raw["kind"] == "diary":
            entries = tuple(_diary())
            if entries:
                resolved.append(Section(anchor=anchor, kind="diary", heading=raw.get("heading") or "Dates for the diary",
                                        entries=entries))
    return resolved


def _when(value) -> str:
    from chalicelib.rendering import _london

    if isinstance(value, datetime):
        return _london(value)
    return str(value or "To be confirmed")


def _context(issue: dict, channel: str, markers: mail.Markers | None, stash=lambda html: html) -> dict:
    from chalicelib import issues, links

    sections = resolve_sections(issue, channel, stash)
    issue_date = Date.fromisoformat(issue["date"])
    return {
        "issue": issue,
        "issue_date": f"{issue_date:%B %Y}",
        "introduction_html": stash(issue.get("introduction_html") or markdown_html(issue.get("introduction", ""))),
        "introduction_text": issue.get("introduction_text") or markdown_text(issue.get("introduction", "")),
        "sections": sections,
        "when": _when,
        "paragraphs": lambda text: [p.strip() for p in re.split(r"\n\s*\n", text or "") if p.strip()],
        "archive_url": links.archive(issues.archive_path(issue)),
        "personal": markers is not None,
        **{name: markers.placeholder(name) if markers else "" for name in PERSONAL},
    }


def web_context(issue: dict) -> dict:
    """The issue for its page in the public archive: the archive channel's consent, no personal parts."""
    from markupsafe import Markup

    context = _context(issue, "archive", None, stash=Markup)  # the HTML was sanitised (nh3) on save
    return {k: v for k, v in context.items() if k not in PERSONAL}


def summary(issue: dict, limit: int = 200) -> str:
    """The introduction's first words as plain text: for link previews and the feed."""
    text = " ".join((issue.get("introduction_text") or markdown_text(issue.get("introduction", ""))).split())
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"


def subject(issue: dict) -> str:
    """An issue's subject names the newsletter; an announcement's is its own title."""
    return issue["title"] if issue.get("kind") == "announcement" else f"#PeerTalk: {issue['title']}"


def _unstash(html: str, prefix: str, blocks: dict[str, str]) -> str:
    """Each of this rendering's block markers (prefix, four digits, X) replaced by its HTML, in one pass:
    HTML put back is never searched again, and any other text, another key's marker too, stays as it is.
    (One str.split, not a regular expression over the whole ~50 kB of HTML.)"""
    head, *rest = html.split(prefix)
    out = [head]
    for part in rest:
        block = blocks.get(prefix + part[:5])
        out.append(prefix + part if block is None else block + part[5:])
    return "".join(out)


def render(issue: dict, channel: str = "newsletter", personal: bool = True) -> RenderedEmail:
    """The issue as one email (placeholders where each recipient's own links and name go), or,
    with personal=False, the same issue for the public archive with no personal links at all.

    The placeholders and block markers carry a key new to this rendering, so no typed text can
    turn into a reader's details or pull other HTML in."""
    from markupsafe import Markup

    env = environment()
    markers = mail.Markers.new()
    # MJML passes <mj-text> content through untouched, so the (already safe) section HTML waits
    # outside as a marker: MRML then parses a few kilobytes instead of the whole issue.
    blocks: dict[str, str] = {}

    prefix = f"PPBLOCK{markers.key}N"

    def stash(html: str) -> Markup:
        marker = f"{prefix}{len(blocks):04d}X"
        blocks[marker] = html
        return Markup(marker)  # nosec B704 - our own marker; the HTML behind it was sanitised (nh3) on save

    context = {"subject": subject(issue), **_context(issue, channel, markers if personal else None, stash)}
    html = mjml_to_html(env.get_template("email/issue.mjml.j2").render(**context))
    html = _unstash(html, prefix, blocks)
    text = env.get_template("email/issue.txt.j2").render(**context)  # uses the text fields only
    stories = tuple(section.story for section in context["sections"] if section.kind == "story")
    return RenderedEmail(subject=context["subject"], html=html, text=text.strip() + "\n",
                         markers=markers if personal else None, stories=stories)


def personal_values(first_name: str, preferences_url: str, unsubscribe_url: str) -> dict[str, str]:
    """Values for a recipient's placeholders; HTML-escaped, since the same value goes into the HTML."""
    from html import escape

    name = " ".join((first_name or "").split())
    return {"name": escape(f" {name}" if name else "", quote=True),
            "preferences_url": preferences_url, "unsubscribe_url": unsubscribe_url}


def fill(rendered: RenderedEmail, values: dict[str, str]) -> RenderedEmail:
    """Substitute placeholders in a rendered issue (preview, test send): the same cheap step as a real send."""
    markers = rendered.markers
    return RenderedEmail(subject=rendered.subject, html=markers.fill(rendered.html, values),
                         text=markers.fill(rendered.text, values, escaped=False), stories=rendered.stories)
