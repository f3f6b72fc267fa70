"""The OpenAPI document's additions: request bodies FastAPI cannot see, and error answers.

The webhook reads its body itself (auth and size limits come before parsing), so FastAPI
cannot infer its schema; `model_ref` names a pydantic model in the document and
`install_openapi` adds that model's own JSON Schema — the one that validates — under
`components.schemas`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

_REF_TEMPLATE = "#/components/schemas/{model}"
_MODELS: dict[str, type[BaseModel]] = {}

_ERROR = {
    "content": {
        "application/json": {
            "schema": {"type": "object", "properties": {"detail": {}}, "required": ["detail"]}
        }
    }
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed body: not UTF-8, not JSON, or nested too deep", **_ERROR},
    401: {"description": "Missing or wrong token", **_ERROR},
    413: {"description": "Body over the size limit", **_ERROR},
    415: {"description": "Not application/json", **_ERROR},
    422: {"description": "Invalid fields, each named", **_ERROR},
    503: {"description": "Database unavailable; retry", **_ERROR},
}


def model_ref(model: type[BaseModel]) -> dict[str, str]:
    """A `$ref` to `model` in components.schemas (added there by install_openapi)."""
    name = model.model_config.get("title") or model.__name__
    _MODELS[name] = model
    return {"$ref": _REF_TEMPLATE.format(model=name)}


def install_openapi(app: FastAPI) -> None:
    """Generate the document once with every `model_ref` model and the token schemes."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = document.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name, model in _MODELS.items():
            schema = model.model_json_schema(by_alias=True, ref_template=_REF_TEMPLATE)
            schemas.update(schema.pop("$defs", {}))
            schemas[name] = schema
        components["securitySchemes"] = {
            "bearerAuth": {"type": "http", "scheme": "bearer"},
            "basicAuth": {"type": "http", "scheme": "basic"},
        }
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
