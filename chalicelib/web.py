"""HTTP plumbing shared by every route: body parsing, HTML/JSON responses, security headers,
and the one place where domain errors become HTTP statuses."""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Callable
from urllib.parse import parse_qs, quote, urlencode, urlparse

from chalice import Response

from chalicelib.errors import (Forbidden, MethodNotAllowed, PayloadTooLarge, PeerPostError, Unauthorised,
                               UnsupportedMediaType)

FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"]
ALL_TYPES = ["application/json", *FORM_TYPES]
MAX_BODY_BYTES = 256 * 1024
# A form may carry one uploaded image (chalicelib.images.MAX_UPLOAD_BYTES) beside its text, which stays
# within MAX_BODY_BYTES. API Gateway passes multipart bodies to Lambda as binary (app.api.binary_types).
MAX_UPLOAD_BODY_BYTES = 4 * 1024 * 1024 + MAX_BODY_BYTES
# No PeerPost request nests deeper than a list in an object; json.loads itself fails (RecursionError)
# somewhere near a thousand levels, so anything deeper than this is refused before it can.
MAX_JSON_DEPTH = 20

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' https: data:; style-src 'self'; script-src 'self'; "
        "form-action 'self'; frame-ancestors 'self'; base-uri 'none'; object-src 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "SAMEORIGIN",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart form: its bytes as sent, and what the browser said of it."""

    filename: str
    content_type: str
    data: bytes

    def __bool__(self) -> bool:
        return bool(self.data)


def content_type(request) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def is_json(request) -> bool:
    return content_type(request) == "application/json"


def app_path(request) -> str:
    """The address the browser asked for, with its query, relative to the app.

    request.path is the route pattern ("/coordinator/stories/{story_id}"). The gateway's own path is the
    real one but may carry a stage or base-path prefix ("/api/coordinator/stories/ab12"), so the pattern's
    segments are taken from the end of it; without it, the pattern is filled from the path parameters.
    """
    pattern = request.path or "/"
    path = pattern
    if "{" in pattern:
        path = _filled(pattern, request.uri_params or {})
        actual = str((request.context or {}).get("path") or "").rstrip("/").split("/")
        wanted = pattern.count("/")
        if "+}" not in pattern and len(actual) > wanted:
            candidate = "/" + "/".join(actual[-wanted:])
            if re.fullmatch(re.sub(r"\\{\w+\\}", "[^/]+", re.escape(pattern)), candidate):
                path = candidate
    query = request.query_params
    if query:
        path += "?" + urlencode([(key, value) for key in query for value in query.getlist(key)])
    return path


def _filled(pattern: str, params: dict) -> str:
    def value(match: re.Match) -> str:
        greedy = match.group(0).endswith("+}")
        return quote(str(params.get(match.group(1), "")), safe="/" if greedy else "")

    return re.sub(r"{(\w+)\+?}", value, pattern)


def base_path() -> str:
    """The prefix every app path has in the public address: the stage ("/api") behind a bare API Gateway
    URL, a custom domain's base path, or nothing. Emails build their links from the same setting."""
    from chalicelib.settings import get_settings

    return urlparse(get_settings().public_base_url).path.rstrip("/")


def wants_json(request) -> bool:
    if app_path(request).startswith("/api/"):
        return True
    if is_json(request):
        return True
    accept = request.headers.get("accept") or ""
    return "application/json" in accept and "text/html" not in accept


def body(request) -> dict[str, Any]:
    """The request body as a flat dict, from JSON, urlencoded or multipart; lists for repeated keys."""
    cached = getattr(request, "_peerpost_body", None)
    if cached is None:
        cached = _parse_body(request)
        request._peerpost_body = cached
    return cached


def files(request) -> dict[str, Upload]:
    """The files a multipart form sent, by field name (read with the body)."""
    body(request)
    return _files(request)


def _files(request) -> dict[str, Upload]:
    found = getattr(request, "_peerpost_files", None)
    if found is None:
        found = {}
        request._peerpost_files = found
    return found


def _parse_body(request) -> dict[str, Any]:
    raw = request.raw_body or b""
    kind = content_type(request)
    if len(raw) > (MAX_UPLOAD_BODY_BYTES if kind == "multipart/form-data" else MAX_BODY_BYTES):
        raise PayloadTooLarge("The form is too large. Please shorten what you wrote, or choose a smaller "
                              "file (an image or a CSV list: at most 4 MB), and try again. Nothing was saved.")
    if not raw:
        return {}
    if kind == "application/json":
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise PeerPostError("The request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise PeerPostError("The request body must be a JSON object.")
        _check_json(data)
        return data
    if kind == "application/x-www-form-urlencoded":
        text = raw.decode("utf-8", errors="replace")
        try:
            return _flatten(parse_qs(text, keep_blank_values=True, max_num_fields=200))
        except ValueError as exc:  # more fields than any PeerPost form has
            raise PeerPostError("The form has too many fields.") from exc
    if kind == "multipart/form-data":
        try:
            return _multipart(request.headers.get("content-type", ""), raw, _files(request))
        except (ValueError, UnicodeError) as exc:
            raise PeerPostError("The form could not be read. Please try again.") from exc
    raise UnsupportedMediaType("Send a form or JSON.")


def _check_json(data: dict) -> None:
    """Refuse what JSON allows but no text can hold: lone surrogates ("\\ud800") cannot be encoded, so
    they would fail later, half-way through (a hash, a DynamoDB write, an email). Iterative, so depth
    itself cannot overflow the stack."""
    pending: list[tuple[Any, int]] = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:
                raise PeerPostError("The request contains text that is not valid Unicode.") from exc
        elif isinstance(value, (dict, list)):
            if depth > MAX_JSON_DEPTH:
                raise PeerPostError("The request body is nested too deeply.")
            items = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((item, depth + 1) for item in items)


def _flatten(fields: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


def _multipart(header: str, raw: bytes, files: dict[str, Upload] | None = None) -> dict[str, Any]:
    """The text fields of a multipart body; file parts go into `files` (by field name) when it is given,
    so a file sent to a form that takes none is never mistaken for text."""
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + header.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, list[str]] = {}
    if not message.is_multipart():
        return {}
    text_bytes = 0
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        filename = part.get_param("filename", header="content-disposition")
        if filename is not None:  # a file input: kept apart, as bytes; an empty one (nothing chosen) is falsy
            if files is not None and (payload or name not in files):
                files[name] = Upload(str(filename), part.get_content_type(), payload)
            continue
        text_bytes += len(payload)
        if text_bytes > MAX_BODY_BYTES:
            raise PayloadTooLarge("The form is too large. Please shorten what you wrote and try again.")
        fields.setdefault(name, []).append(payload.decode("utf-8", errors="replace"))
    return _flatten(fields)


def client_id(request) -> str:
    """The caller's address, for per-client rate limits."""
    context = request.context or {}
    return ((context.get("identity") or {}).get("sourceIp")) or "unknown"


def html(page: str, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=page, status_code=status, headers={"Content-Type": "text/html; charset=utf-8", **(headers or {})})


def json_response(data: Any, status: int = 200, headers: dict | None = None) -> Response:
    return Response(body=json.dumps(data, default=str), status_code=status,
                    headers={"Content-Type": "application/json", **(headers or {})})


def redirect(location: str, headers: dict | None = None) -> Response:
    """303 See Other (a POST's answer becomes a GET, so reload and Back repeat nothing). An app path
    gains the public base path; anything outside ASCII is percent-encoded, as a header must be."""
    if location.startswith("/") and not location.startswith("//"):
        location = base_path() + location
    location = quote(location, safe="/:?#[]@!$&'()*+,;=%~", errors="replace")
    return Response(body="", status_code=303, headers={"Location": location, **(headers or {})})


def error_response(request, error: PeerPostError) -> Response:
    """The one place a domain error becomes an HTTP response."""
    if wants_json(request):
        data: dict[str, Any] = {"error": error.title, "message": error.message}
        errors = getattr(error, "errors", None)
        if errors:
            data["fields"] = errors
        return json_response(data, status=error.status, headers=error.headers)
    from chalicelib.rendering import render_page

    page = render_page("message.html", title=error.title, message=error.message,
                       action_url=error.action_url, action_label=error.action_label)
    return html(page, status=error.status, headers=error.headers)


def _guarded(view: Callable, current_request: Callable, coordinator: bool, model, role: str = "",
             audited: bool = False) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        from chalicelib import audit

        request = current_request()
        audit.begin()
        try:
            signed_in = None
            if coordinator:
                signed_in = kwargs["coordinator"] = _require_coordinator(request)
                _require_role(signed_in, role, view.__name__, kwargs)
            if model is not None and is_json(request):
                model.check(body(request))
            response = view(*args, **kwargs)
            if audited and signed_in is not None and _succeeded(response):
                audit.by(signed_in, view.__name__, _ids(kwargs))
            return response
        except PeerPostError as error:
            if isinstance(error, Unauthorised) and not wants_json(request) and request.method == "GET":
                return redirect("/coordinator/sign-in?" + urlencode({"next": app_path(request)}))
            return error_response(request, error)

    return wrapper


def _succeeded(response) -> bool:
    return not isinstance(response, Response) or response.status_code < 400


def _ids(kwargs: dict) -> dict:
    """The record ids in a route's path (issue_id, story_id, sid...): what an audit entry is about."""
    return {name: str(value) for name, value in kwargs.items() if name != "coordinator"}


def _require_role(coordinator, role: str, action: str, kwargs: dict) -> None:
    from chalicelib import audit, roles

    if coordinator.has(role):
        return
    audit.by(coordinator, action, _ids(kwargs), outcome=audit.REFUSED, detail=f"needs the {roles.label(role)} role")
    raise Forbidden(f"This needs the {roles.label(role)} role, which your account does not have. "
                    "An admin of your network can add it on the Team page.", title="You need another role")


def _require_coordinator(request):
    from chalicelib import auth

    token = auth.token_from_request(request)
    if not token:
        raise Unauthorised("Please sign in as a coordinator.")
    coordinator = auth.authenticate(token)
    bearer = (request.headers.get("authorization") or "").lower().startswith("bearer ")
    if request.method not in ("GET", "HEAD") and not bearer:
        # A cookie rides along on cross-site requests; the form must prove it came from our page.
        submitted = request.headers.get("x-csrf-token") or str(body(request).get("csrf_token", ""))
        auth.check_csrf(coordinator, submitted)
    return coordinator


def route(blueprint, path: str, methods: list[str] | None = None,
          content_types: list[str] | None = None, coordinator: bool = False,
          model=None, responses: tuple[int, ...] = (), audited: bool | None = None):
    """Register a view on a blueprint with domain errors mapped to HTTP; forms and JSON accepted.

    coordinator=True: only a signed-in coordinator holding the role chalicelib.roles gives the path gets
    through (the view receives `coordinator`), and state-changing cookie requests must carry the CSRF token.
    audited: whether a successful request writes an audit entry; by default every coordinator request but
    a GET does. Say True for a GET that hands data out (an export), False for one that changes nothing kept.
    model: a models.Model that JSON bodies are checked against; paths under /api/ (and routes with a
    model) are listed in the OpenAPI document with `responses`.
    """

    def register(view: Callable) -> Callable:
        from chalicelib.models import REGISTRY, Operation

        from chalicelib import roles

        wanted = list(methods or ["GET"])
        role = roles.required(path) if coordinator else roles.SIGNED_IN
        audit_it = coordinator and (audited if audited is not None else wanted != ["GET"])
        wrapped = _guarded(view, lambda: blueprint.current_request, coordinator, model, role, audit_it)
        view.role, view.audited = role, audit_it  # type: ignore[attr-defined]  (read by the route tests)
        if "GET" in wanted:
            _GET_PATHS.add(path)
            if path in _EXPLAINED:  # its POST came first and already holds the GET: answer through it
                _LATE_GETS[path] = wrapped
                wanted.remove("GET")
        if wanted:
            blueprint.route(path, methods=wanted, content_types=content_types or ALL_TYPES)(wrapped)
        if path not in _GET_PATHS and path not in _EXPLAINED:
            _EXPLAINED.add(path)
            blueprint.route(path, methods=["GET"], content_types=ALL_TYPES)(
                _explain_or_show(blueprint, path, coordinator, wanted))
        if path.startswith("/api/") or model is not None:
            for method in methods or ["GET"]:
                summary = (view.__doc__ or view.__name__.replace("_", " ")).strip().splitlines()[0]
                codes = responses or ((200, 400, 401, 403) if coordinator else (200, 400))
                REGISTRY.append(Operation(path, method, summary, model, codes, coordinator))
        return view

    return register


# Opening a form's address in a new tab, or from history, is a GET of a POST-only path. API Gateway and
# Chalice would answer that with JSON ("Missing Authentication Token", "MethodNotAllowedError"), so every
# path registered without a GET gets one that explains, with a link to the page the form lives on.
_GET_PATHS: set[str] = set()
_EXPLAINED: set[str] = set()
_LATE_GETS: dict[str, Callable] = {}


def _explain_or_show(blueprint, path: str, coordinator: bool, methods: list[str]) -> Callable:
    def explain(coordinator=None, **params):
        form = _form_page(path, params)
        raise MethodNotAllowed(
            "This address is where a form is sent; it is not a page of its own. Nothing has been sent or "
            "changed. Please use the form.", action_url=base_path() + form, action_label="Go to the form",
            headers={"Allow": ", ".join(methods)})

    explained = _guarded(explain, lambda: blueprint.current_request, coordinator, None)

    def get(**params):
        return _LATE_GETS.get(path, explained)(**params)

    get.__name__ = f"get_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_') or 'root'}"
    get.explains_post_only = True  # type: ignore[attr-defined]
    return get


def _form_page(path: str, params: dict) -> str:
    """The nearest page above a POST-only path: where its form is."""
    parent = path
    while parent not in ("", "/"):
        parent = parent.rsplit("/", 1)[0]
        if parent in _GET_PATHS:
            return _filled(parent, params)
    return "/"


def as_page(request, response: Response) -> Response:
    """Chalice answers some requests itself, before any view, with JSON: a method a path lacks (405), a
    content type no route takes (415), an unhandled fault (500). A person gets the site's page instead."""
    if not (isinstance(response.body, dict) and "Code" in response.body) or request is None or wants_json(request):
        return response
    from chalicelib.rendering import render_page

    titles = {405: "This address does not take that request", 415: "Send a form",
              500: "Something went wrong on our side"}
    messages = {405: "Please go back and use the form or link on the page.",
                415: "This address only takes a web form.",
                500: "This was our fault, not yours. Please try again in a few minutes."}
    status = response.status_code
    page = render_page("message.html", title=titles.get(status, "Something went wrong"),
                       message=messages.get(status, "Please go back and try again."))
    headers = {k: v for k, v in response.headers.items() if k.lower() == "allow"}
    return add_security_headers(html(page, status=status, headers=headers))


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
