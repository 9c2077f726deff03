"""The JSON Schemas of docs/schemas, for tests: `valid(name, doc)` asserts that `doc` matches
docs/schemas/NAME; `$ref`s between the files resolve by file name, as for any tool that reads
them from disk."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMAS = Path(__file__).resolve().parent.parent / "docs" / "schemas"


def validator(name: str) -> Any:
    import jsonschema
    from referencing import Registry, Resource

    docs = {p.name: json.loads(p.read_text(encoding="utf-8")) for p in SCHEMAS.glob("*.schema.json")}
    registry: Any = Registry().with_resources((n, Resource.from_contents(d)) for n, d in docs.items())
    return jsonschema.Draft202012Validator(docs[name], registry=registry)


def problems(name: str, doc: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(doc)]


def valid(name: str, doc: Any) -> None:
    errors = problems(name, doc)
    assert errors == [], errors
