"""The local outbox: every message moto's SES accepted, for people (HTML) and programs (JSON)."""
from __future__ import annotations

import html
import json
import threading
from email import message_from_bytes, policy
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends


def _sent(region: str) -> list:
    return ses_backends[DEFAULT_ACCOUNT_ID][region].sent_messages


def _part(message, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    return body.get_content() if body is not None else ""


def parse(message_id: str, raw: bytes) -> dict:
    message = message_from_bytes(raw, policy=policy.default)
    return {
        "id": message_id,
        "to": [addr for _, addr in getaddresses(message.get_all("To", []))],
        "from": str(message.get("From", "")),
        "subject": str(message.get("Subject", "")),
        "date": str(message.get("Date", "")),
        "html": _part(message, "html"),
        "text": _part(message, "plain"),
        "headers": {name: str(value) for name, value in message.items()},
        "attachments": [
            {"filename": part.get_filename(), "content_type": part.get_content_type()}
            for part in message.iter_attachments()
        ],
        "raw": raw.decode("utf-8", errors="replace"),
    }


def messages(region: str) -> list[dict]:
    """Newest first."""
    items = []
    for sent in reversed(list(_sent(region))):
        raw = getattr(sent, "raw_data", None)
        if raw is None:
            continue
        items.append(parse(sent.id, raw.encode() if isinstance(raw, str) else raw))
    return items


def clear(region: str) -> None:
    _sent(region).clear()


PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem;color:#1d1d1b}}
table{{border-collapse:collapse;width:100%}}td,th{{text-align:left;padding:.4rem;border-bottom:1px solid #ccc;vertical-align:top}}
pre{{white-space:pre-wrap;background:#f4f4f4;padding:1rem;overflow:auto}}iframe{{width:100%;height:70vh;border:1px solid #ccc}}
a{{color:#084336}}</style></head><body><h1>{title}</h1>{body}</body></html>"""


class _Handler(BaseHTTPRequestHandler):
    region = "eu-west-2"

    def log_message(self, *args) -> None:  # quiet: the console is for PeerPost's own output
        pass

    def _send(self, status: int, body: str, kind: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        path = urlparse(self.path).path.rstrip("/")
        items = messages(self.region)
        if path == "/api/messages":
            return self._send(200, json.dumps(items), "application/json")
        if path.startswith("/api/messages/"):
            found = [m for m in items if m["id"] == path.rsplit("/", 1)[1]]
            return self._send(200 if found else 404, json.dumps(found[0] if found else {"error": "not found"}),
                              "application/json")
        if path in ("", "/"):
            rows = "".join(
                f"<tr><td><a href='/messages/{html.escape(m['id'])}'>{html.escape(m['subject'])}</a></td>"
                f"<td>{html.escape(', '.join(m['to']))}</td><td>{html.escape(m['date'])}</td></tr>"
                for m in items
            ) or "<tr><td colspan=3>No messages yet.</td></tr>"
            body = ("<p>Every email PeerPost sent through (local) SES. Newest first. "
                    "<a href='/api/messages'>JSON</a></p><table><thead><tr><th>Subject</th><th>To</th>"
                    f"<th>Date</th></tr></thead><tbody>{rows}</tbody></table>")
            return self._send(200, PAGE.format(title="PeerPost outbox", body=body), "text/html; charset=utf-8")
        if path.startswith("/messages/"):
            found = [m for m in items if m["id"] == path.rsplit("/", 1)[1]]
            if not found:
                return self._send(404, PAGE.format(title="Not found", body="<a href='/'>Back</a>"), "text/html")
            m = found[0]
            headers = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in m["headers"].items())
            body = (f"<p><a href='/'>Back to the outbox</a></p><h2>HTML</h2>"
                    f"<iframe sandbox title='HTML version' srcdoc=\"{html.escape(m['html'], quote=True)}\"></iframe>"
                    f"<h2>Plain text</h2><pre>{html.escape(m['text'])}</pre>"
                    f"<h2>Headers</h2><table>{headers}</table><h2>Raw source</h2><pre>{html.escape(m['raw'])}</pre>")
            return self._send(200, PAGE.format(title=html.escape(m["subject"]), body=body), "text/html; charset=utf-8")
        self._send(404, PAGE.format(title="Not found", body="<a href='/'>Back</a>"), "text/html")

    def do_DELETE(self) -> None:
        if urlparse(self.path).path.rstrip("/") == "/api/messages":
            clear(self.region)
            return self._send(200, json.dumps({"deleted": True}), "application/json")
        self._send(404, json.dumps({"error": "not found"}), "application/json")


def serve(host: str, port: int, region: str) -> ThreadingHTTPServer:
    handler = type("OutboxHandler", (_Handler,), {"region": region})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="outbox", daemon=True).start()
    return server
