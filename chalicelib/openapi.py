"""The OpenAPI 3 document for the JSON API, generated from the request models the routes validate with."""
from __future__ import annotations

import re

from chalicelib.models import REGISTRY

_REASONS = {200: "OK", 201: "Created", 202: "Accepted", 400: "Invalid input", 401: "Not signed in",
            403: "Not allowed", 404: "Not found", 409: "Conflict", 410: "Gone (expired link)",
            413: "Too large", 415: "Unsupported content type", 429: "Too many requests"}


def document(base_url: str = "") -> dict:
    paths: dict[str, dict] = {}
    for op in REGISTRY:
        operation: dict = {
            "summary": op.summary,
            "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.path.lower()).strip('_')}",
            "responses": {str(code): {"description": _REASONS.get(code, "Response")} for code in op.responses},
        }
        parameters = [{"name": name, "in": "path", "required": True, "schema": {"type": "string", "maxLength": 2048}}
                      for name in re.findall(r"{(\w+)}", op.path)]
        if parameters:
            operation["parameters"] = parameters
        if op.model is not None:
            operation["requestBody"] = {"required": True, "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{op.model.name}"}}}}
        if op.coordinator:
            operation["security"] = [{"bearer": []}]
        paths.setdefault(op.path, {})[op.method.lower()] = operation
    schemas = {op.model.name: op.model.schema() for op in REGISTRY if op.model is not None}
    return {
        "openapi": "3.0.3",
        "info": {"title": "PeerPost JSON API", "version": "1.0.0"},
        "servers": [{"url": base_url}] if base_url else [],
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
    }
