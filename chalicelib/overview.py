"""The coordinator's overview: what needs them now, and two charts (list growth, each recent send's
outcomes) drawn server-side as SVG with pygal, each with a table of the same numbers beside it.

pygal because it is maintained, pure Python (small in the Lambda package), and writes SVG with a
<title> and <desc> per value. The charts are separate SVG responses shown with <img>, so the page
keeps its Content-Security-Policy (no inline style or script); an <img> runs no script at all, and
the table beside each chart carries the same numbers for screen readers and for copying.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date as Date

from chalicelib import aws, clock, dynamo, keys

MONTHS = 12
RECENT_SENDS = 6
WAITING_STATUSES = ("new", "in_review")  # stories a moderator has not decided on yet
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'"  # the SVG's own styles; nothing else


@dataclass(frozen=True)
class Month:
    month: str  # YYYY-MM
    label: str  # "Dec 2026"
    joined: int
    left: int


def last_months(n: int = MONTHS, today: Date | None = None) -> list[str]:
    """The n months up to and including this one (London time), oldest first, as YYYY-MM."""
    today = today or clock.in_london(clock.now()).date()
    year, month = today.year, today.month
    found = []
    for _ in range(n):
        found.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found[::-1]


def growth(n: int = MONTHS) -> list[Month]:
    """Joined (confirmed) and left (unsubscribed, bounced, complained or erased) by month: one
    BatchGetItem over the monthly counters."""
    from chalicelib.settings import get_settings

    months = last_months(n)
    wanted = [dynamo.serialise(keys.month_stats(m)) for m in months]
    found = {}
    for raw in dynamo.batch_get(aws.dynamodb_client(), get_settings().table_name, wanted):
        item = dynamo.deserialise(raw)
        found[keys.stats_month(item)] = item
    return [Month(m, f"{Date.fromisoformat(m + '-01'):%b %Y}", int(found.get(m, {}).get("joined", 0)),
                  int(found.get(m, {}).get("left", 0))) for m in months]


@dataclass(frozen=True)
class SendOutcome:
    issue_id: str
    title: str
    kind: str
    sent: int
    failed: int
    bounced: int
    complaints: int
    unsubscribes: int
    paused: int


def recent_sends(n: int = RECENT_SENDS) -> list[SendOutcome]:
    """The last n sends, oldest first, with what became of them."""
    from chalicelib import issues

    sent = sorted((i for i in issues.list_issues(limit=50) if i["status"] in issues.PUBLISHED and i.get("send_started_at")),
                  key=lambda i: i["send_started_at"])[-n:]
    return [SendOutcome(i["issue_id"], i["title"], i.get("kind", "issue"),
                        *(int(i.get(k, 0)) for k in ("sent", "failed", "bounced", "complaints", "unsubscribes", "paused")))
            for i in sent]


def attention() -> dict:
    """What needs a coordinator: stories to moderate, safeguarding flags not handled, scheduled
    sends, and upcoming events with places taken and the waiting list."""
    from chalicelib import events, issues, stories

    waiting = [s for status in WAITING_STATUSES for s in stories.iter_by_status(status)]
    flagged = [s for status in stories.STATUSES if status not in ("withdrawn", "rejected")
               for s in stories.iter_by_status(status)
               if s.get("safeguarding") and not s.get("safeguarding_handled_at")]
    from boto3.dynamodb.conditions import Key

    scheduled = aws.table().query(IndexName="GSI2", KeyConditionExpression=Key("GSI2PK").eq(keys.issues_scheduled()))["Items"]
    upcoming = [events.summary(e) for e in events.upcoming()[:8]]
    return {"stories_waiting": len(waiting), "safeguarding": flagged, "scheduled": scheduled, "events": upcoming}


def _chart(kind: str, title: str, labels: list[str], series: list[tuple[str, list[int]]]) -> str:
    import pygal
    from pygal.style import Style

    style = Style(background="white", plot_background="white", foreground="#1d1d1b", foreground_strong="#1d1d1b",
                  foreground_subtle="#c9d8d1", colors=("#0b5d4b", "#b5462a", "#4a4a48", "#8a6d00", "#5b3f8c"),
                  font_family="system-ui, sans-serif", title_font_size=18, label_font_size=13,
                  major_label_font_size=13, legend_font_size=14, value_font_size=12)
    chart_type = pygal.Bar if kind == "bar" else pygal.HorizontalBar
    chart = chart_type(style=style, js=[], disable_xml_declaration=True, width=760, height=360, explicit_size=False,
                       legend_at_bottom=True, print_values=False, show_y_guides=True,
                       x_label_rotation=35 if kind == "bar" else 0,
                       truncate_label=-1, min_scale=1, max_scale=6, order_min=0)
    chart.title = title
    chart.x_labels = labels
    for name, values in series:
        chart.add(name, values)
    svg = chart.render(is_unicode=True)
    return svg.replace("<svg ", '<svg role="img" aria-label="' + title + '" ', 1)


def growth_svg(months: list[Month]) -> str:
    return _chart("bar", "People who joined and left, by month", [m.label for m in months],
                  [("Joined", [m.joined for m in months]), ("Left", [m.left for m in months])])


def sends_svg(sends: list[SendOutcome]) -> str:
    labels = [s.title if len(s.title) <= 28 else s.title[:27] + "…" for s in sends]
    return _chart("horizontal", "What became of each recent send", labels,
                  [("Sent", [s.sent for s in sends]), ("Failed", [s.failed for s in sends]),
                   ("Bounced", [s.bounced for s in sends]), ("Complaints", [s.complaints for s in sends]),
                   ("Unsubscribed after it", [s.unsubscribes for s in sends])])
