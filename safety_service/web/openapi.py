"""The OpenAPI 3 description served at /api/v1/openapi.json.

Each API module adds its paths with ``add_paths`` at import, next to the routes they describe, so the spec and
the routes change together; schemathesis checks that they agree.
"""
from __future__ import annotations

import copy

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
        "code": {"type": "string"}, "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}},
}

SCHEDULED_VISIT = {"type": "object", "properties": {
    "visit": {"type": "string"}, "label": {"type": "string"}, "due_on": {"type": "string", "format": "date"},
    "window_start": {"type": "string", "format": "date"}, "window_end": {"type": "string", "format": "date"},
    "status": {"type": "string", "enum": ["upcoming", "open", "done", "overdue", "missed", "not_expected"]},
    "visit_date": {"type": ["string", "null"], "format": "date"}}}

PARTICIPANT = {"type": "object", "required": ["subject_id", "site", "schedule"], "properties": {
    "subject_id": {"type": "string"}, "site": {"type": "string"}, "sex": {"type": "string", "enum": ["F", "M"]},
    "birth_date": {"type": "string", "format": "date"}, "weight_kg": {"type": "number"},
    "consent_on": {"type": "string", "format": "date"}, "enrolled_on": {"type": "string", "format": "date"},
    "injection_at": {"type": ["string", "null"]}, "dose_cells": {"type": ["number", "null"]},
    "status": {"type": "string"}, "status_on": {"type": ["string", "null"], "format": "date"},
    "status_reason": {"type": ["string", "null"]}, "death_ae_id": {"type": ["integer", "null"]},
    "death_no_ae_reason": {"type": ["string", "null"]}, "schedule": {"type": "array", "items": {"$ref": "#/components/schemas/ScheduledVisit"}}}}

PARTICIPANT_IN = {"type": "object", "required": ["subject_id", "site", "sex", "birth_date", "weight_kg", "enrolled_on"],
                  "properties": {
    "subject_id": {"type": "string", "example": "S01-031"}, "site": {"type": "string", "example": "S01"},
    "sex": {"type": "string", "enum": ["F", "M"]}, "birth_date": {"type": "string", "format": "date"},
    "weight_kg": {"type": "number"}, "consent_on": {"type": "string", "format": "date"},
    "enrolled_on": {"type": "string", "format": "date"}, "injection_at": {"type": "string", "format": "date-time"}}}


def err(*codes: int) -> dict:
    texts = {400: "Bad request", 401: "Not signed in", 403: "Not allowed", 404: "Not found", 409: "Conflict",
             422: "Invalid input", 413: "Too large", 405: "Method not allowed"}
    return {str(c): {"description": texts.get(c, "Error"), "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/Error"}}}} for c in codes}


def ok(schema: dict, status: int = 200, description: str = "OK") -> dict:
    return {str(status): {"description": description, "content": {"application/json": {"schema": schema}}}}


def body(schema: dict) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}


def query(name: str, schema: dict | None = None) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema or {"type": "string"}}


_BASE = {
    "openapi": "3.1.0",
    "info": {"title": "Trial safety service API", "version": "1"},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "schemas": {"Error": ERROR, "ScheduledVisit": SCHEDULED_VISIT, "Participant": PARTICIPANT},
    },
    "paths": {
        "/participants": {
            "post": {"summary": "Enrol a participant", "requestBody": body(PARTICIPANT_IN),
                     "responses": {**ok({"$ref": "#/components/schemas/Participant"}, 201, "Created"),
                                   **err(400, 401, 403, 422)}},
            "get": {"summary": "Participants visible to the caller", "parameters": [query("site")],
                    "responses": {**ok({"type": "array", "items": {"$ref": "#/components/schemas/Participant"}}),
                                  **err(401, 403)}},
        },
        "/participants/{subject_id}": {"get": {
            "summary": "A participant with the visit schedule", "parameters": [path_param("subject_id")],
            "responses": {**ok({"$ref": "#/components/schemas/Participant"}), **err(401, 403, 404)}}},
        "/participants/{subject_id}/visits/{visit}": {"post": {
            "summary": "Record a visit as done", "parameters": [path_param("subject_id"), path_param("visit")],
            "requestBody": body({"type": "object", "required": ["visit_date"],
                                 "properties": {"visit_date": {"type": "string", "format": "date"}}}),
            "responses": {**ok({"$ref": "#/components/schemas/Participant"}), **err(400, 401, 403, 404, 422)}}},
    },
}
_EXTRA_PATHS: dict = {}
_EXTRA_SCHEMAS: dict = {}


def add_paths(paths: dict, schemas: dict | None = None) -> None:
    """Describe more routes (merged by path and method)."""
    for path, methods in paths.items():
        _EXTRA_PATHS.setdefault(path, {}).update(methods)
    _EXTRA_SCHEMAS.update(schemas or {})


def spec() -> dict:
    out = copy.deepcopy(_BASE)
    for path, methods in _EXTRA_PATHS.items():
        out["paths"].setdefault(path, {}).update(methods)
    out["components"]["schemas"].update(_EXTRA_SCHEMAS)
    return out
