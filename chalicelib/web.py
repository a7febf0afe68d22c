"""HTTP plumbing shared by every route: body parsing, HTML/JSON responses, security headers,
and the one place where domain errors become HTTP statuses."""
from __future__ import annotations

import functools
import json
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any, Callable
from urllib.parse import parse_qs, urlencode

from chalice import Response

from chalicelib.errors import PayloadTooLarge, PeerPostError, Unauthorised, UnsupportedMediaType

FORM_TYPES = ["application/x-www-form-urlencoded", "multipart/form-data"]
ALL_TYPES = ["application/json", *FORM_TYPES]
MAX_BODY_BYTES = 256 * 1024

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


def content_type(request) -> str:
    return (request.headers.get("content-type") or "").split(";")[0].strip().lower()


def is_json(request) -> bool:
    return content_type(request) == "application/json"


def wants_json(request) -> bool:
    if request.path.startswith("/api/"):
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


def _parse_body(request) -> dict[str, Any]:
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY_BYTES:
        raise PayloadTooLarge("The form is too large. Please shorten what you wrote and try again.")
    kind = content_type(request)
    if not raw:
        return {}
    if kind == "application/json":
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise PeerPostError("The request body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise PeerPostError("The request body must be a JSON object.")
        return data
    if kind == "application/x-www-form-urlencoded":
        text = raw.decode("utf-8", errors="replace")
        try:
            return _flatten(parse_qs(text, keep_blank_values=True, max_num_fields=200))
        except ValueError as exc:  # more fields than any PeerPost form has
            raise PeerPostError("The form has too many fields.") from exc
    if kind == "multipart/form-data":
        try:
            return _multipart(request.headers.get("content-type", ""), raw)
        except (ValueError, UnicodeError) as exc:
            raise PeerPostError("The form could not be read. Please try again.") from exc
    raise UnsupportedMediaType("Send a form or JSON.")


def _flatten(fields: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}


def _multipart(header: str, raw: bytes) -> dict[str, Any]:
    message = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + header.encode("latin-1") + b"\r\n\r\n" + raw
    )
    fields: dict[str, list[str]] = {}
    if not message.is_multipart():
        return {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            payload = part.get_payload(decode=True) or b""
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
    return Response(body="", status_code=303, headers={"Location": location, **(headers or {})})


def error_response(request, error: PeerPostError) -> Response:
    """The one place a domain error becomes an HTTP response."""
    if wants_json(request):
        data: dict[str, Any] = {"error": error.title, "message": error.message}
        errors = getattr(error, "errors", None)
        if errors:
            data["fields"] = errors
        return json_response(data, status=error.status)
    from chalicelib.rendering import render_page

    page = render_page("message.html", title=error.title, message=error.message)
    return html(page, status=error.status)


def _guarded(view: Callable, current_request: Callable, coordinator: bool, model) -> Callable:
    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        request = current_request()
        try:
            if coordinator:
                kwargs["coordinator"] = _require_coordinator(request)
            if model is not None and is_json(request):
                model.check(body(request))
            return view(*args, **kwargs)
        except PeerPostError as error:
            if isinstance(error, Unauthorised) and not wants_json(request) and request.method == "GET":
                return redirect("/coordinator/sign-in?" + urlencode({"next": request.path}))
            return error_response(request, error)

    return wrapper


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
          model=None, responses: tuple[int, ...] = ()):
    """Register a view on a blueprint with domain errors mapped to HTTP; forms and JSON accepted.

    coordinator=True: only a signed-in coordinator gets through (the view receives `coordinator`),
    and state-changing cookie requests must carry the CSRF token.
    model: a models.Model that JSON bodies are checked against; paths under /api/ (and routes with a
    model) are listed in the OpenAPI document with `responses`.
    """

    def register(view: Callable) -> Callable:
        from chalicelib.models import REGISTRY, Operation

        wrapped = _guarded(view, lambda: blueprint.current_request, coordinator, model)
        blueprint.route(path, methods=methods or ["GET"], content_types=content_types or ALL_TYPES)(wrapped)
        if path.startswith("/api/") or model is not None:
            for method in methods or ["GET"]:
                summary = (view.__doc__ or view.__name__.replace("_", " ")).strip().splitlines()[0]
                codes = responses or ((200, 400, 401, 403) if coordinator else (200, 400))
                REGISTRY.append(Operation(path, method, summary, model, codes, coordinator))
        return view

    return register


def add_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
