"""The home page, static assets, and the pages for addresses and requests no route serves."""
from __future__ import annotations

from chalice import Blueprint, Response

from chalicelib import web
from chalicelib.errors import NotFound
from chalicelib.rendering import TEMPLATES_DIR, render_page

bp = Blueprint(__name__)

STATIC_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".js": "text/javascript; charset=utf-8"}


@web.route(bp, "/")
def home():
    return web.html(render_page("home.html"))


@web.route(bp, "/openapi.json")
def openapi():
    from chalicelib import openapi as spec
    from chalicelib.settings import get_settings

    return web.json_response(spec.document(get_settings().public_base_url))


@web.route(bp, "/static/{name}")
def static(name):
    path = (TEMPLATES_DIR / "static" / name).resolve()
    kind = STATIC_TYPES.get(path.suffix)
    if kind is None or path.parent != (TEMPLATES_DIR / "static").resolve() or not path.is_file():
        raise NotFound("There is no such file.")
    return Response(body=path.read_text(), status_code=200,
                    headers={"Content-Type": kind, "Cache-Control": "public, max-age=3600"})


# API Gateway prefers every other resource to a greedy one, so this only answers what no route serves
# (it would say 403 "Missing Authentication Token"). chalice local matches it for one segment only
# (/favicon.ico, /a-typo); deeper unknown paths there still get chalice's own 403.
@web.route(bp, "/{proxy+}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def not_found():
    raise NotFound("There is no page at this address. It may have moved, or the link may be mistyped.")


@bp.middleware("http")
def framework_answers_as_pages(event, get_response):
    return web.as_page(event, get_response(event))
