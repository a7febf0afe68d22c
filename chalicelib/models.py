"""Request models for the JSON API: one declaration validates a body and describes it in OpenAPI."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chalicelib.errors import ValidationError

_TYPES = {"string": str, "boolean": bool, "integer": int, "array": list}


@dataclass(frozen=True)
class Field:
    name: str
    type: str = "string"
    required: bool = False
    max_length: int | None = None
    format: str | None = None
    enum: tuple[str, ...] = ()
    description: str = ""

    def schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": self.type}
        if self.type == "array":
            schema["items"] = {"type": "string", **({"enum": list(self.enum)} if self.enum else {})}
            if self.max_length:
                schema["maxItems"] = self.max_length
        else:
            if self.max_length is not None:
                schema["maxLength"] = self.max_length
            if self.format:
                schema["format"] = self.format
            if self.enum:
                schema["enum"] = list(self.enum)
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class Model:
    name: str
    fields: tuple[Field, ...] = field(default_factory=tuple)

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "properties": {f.name: f.schema() for f in self.fields},
            "required": [f.name for f in self.fields if f.required],
        }

    def check(self, data: dict) -> dict:
        """Type-check a JSON body; the service still validates meaning (e.g. an address's syntax)."""
        errors = {}
        for spec in self.fields:
            value = data.get(spec.name)
            if value is None:
                if spec.required:
                    errors[spec.name] = "This field is required."
                continue
            expected = _TYPES[spec.type]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                errors[spec.name] = f"Must be a JSON {spec.type}."
            elif spec.type == "array" and not all(isinstance(v, str) for v in value):
                errors[spec.name] = "Must be a list of strings."
            elif spec.max_length is not None and len(value) > spec.max_length:
                errors[spec.name] = f"Must be at most {spec.max_length} long."
        if errors:
            raise ValidationError(errors)
        return data


@dataclass(frozen=True)
class Operation:
    path: str
    method: str
    summary: str
    model: Model | None
    responses: tuple[int, ...]
    coordinator: bool


# Filled by web.route for every JSON API route; openapi.document() reads it.
REGISTRY: list[Operation] = []
