"""The serving part of the chart's values schema, generated from `RouterConfig`.

`serving.rollout` in helm/mkd/values.yaml is the Router's live config (its Serve user_config)
with RouterConfig's own snake_case names; the chart passes it through unchanged. Its part of
helm/mkd/values.schema.json is generated here so that names, types, bounds and descriptions have
one source. After changing RouterConfig (or a field it holds), regenerate:

    python -m mkd.serve.schema            # rewrites helm/mkd/values.schema.json in place
    python -m mkd.serve.schema --check    # exit 1 when the committed schema has drifted

tests/helm/test_values_schema.py fails while the committed schema and the model differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from mkd.serve.config import RouterConfig

# `helm --set x=0.25` passes a decimal as the string "0.25" (a whole number as an integer), so a
# number field also accepts a decimal string; the chart turns it back into a number.
SHARE_STRING = r"^(0(\.[0-9]+)?|1(\.0+)?|\.[0-9]+)$"
DECIMAL_STRING = r"^([0-9]+(\.[0-9]+)?|\.[0-9]+)$"
ROLLOUT_PATH = ("properties", "serving", "properties", "rollout")
DROPPED = ("title", "default")


def _number(node: dict[str, Any]) -> dict[str, Any]:
    """A number that Helm may also hand over as a decimal string."""
    description = node.pop("description", None)
    share = node.get("minimum") == 0 and node.get("maximum") == 1
    string = {"type": "string", "pattern": SHARE_STRING if share else DECIMAL_STRING}
    out: dict[str, Any] = {"description": description} if description else {}
    return {**out, "anyOf": [node, string]}


def _helm_node(node: Any, defs: dict[str, Any]) -> Any:
    """A pydantic JSON-schema node as the chart's schema states it: references inlined, titles
    and defaults dropped (the chart's defaults live in values.yaml), objects closed."""
    if isinstance(node, list):
        return [_helm_node(n, defs) for n in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        return _helm_node(defs[node["$ref"].rsplit("/", 1)[-1]], defs)
    out = {k: _helm_node(v, defs) for k, v in node.items() if k not in DROPPED}
    if "anyOf" in out:  # Optional[number]: one flat list of alternatives (clearer errors)
        out["anyOf"] = [alt for a in out["anyOf"] for alt in a.get("anyOf", [a])]
    if out.get("type") == "number":
        return _number(out)
    if out.get("type") == "object" and "properties" in out:
        out["additionalProperties"] = False
        out.pop("required", None)  # every field has a default
    if out.get("type") == "object" and isinstance(out.get("additionalProperties"), dict):
        out["propertyNames"] = {"pattern": "^[a-z][a-z0-9_]*$"}  # task names
    return out


def values_schema(model: type[BaseModel] = RouterConfig) -> dict[str, Any]:
    """The values-schema node of a config model (`serving.rollout` for RouterConfig)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    return _helm_node(schema, defs)


def with_rollout(chart_schema: dict[str, Any]) -> dict[str, Any]:
    """`chart_schema` with its serving.rollout node generated from RouterConfig."""
    node = chart_schema
    for key in ROLLOUT_PATH[:-1]:
        node = node[key]
    node[ROLLOUT_PATH[-1]] = values_schema(RouterConfig)
    return chart_schema


def render(path: Path) -> str:
    """The text `path` (a values.schema.json) should hold."""
    generated = with_rollout(json.loads(path.read_text(encoding="utf-8")))
    return json.dumps(generated, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    from mkd.assets import chart_dir

    parser = argparse.ArgumentParser(prog="python -m mkd.serve.schema", description=__doc__)
    parser.add_argument("--schema", type=Path, default=None, help="values.schema.json to update")
    parser.add_argument("--check", action="store_true", help="only report drift (exit 1)")
    opts = parser.parse_args(argv)
    path = opts.schema or chart_dir() / "values.schema.json"
    text = render(path)
    if path.read_text(encoding="utf-8") == text:
        print(f"{path}: serving.rollout matches mkd.serve.config.RouterConfig")
        return 0
    if opts.check:
        print(f"{path}: serving.rollout differs from RouterConfig; run python -m mkd.serve.schema")
        return 1
    path.write_text(text, encoding="utf-8")
    print(f"{path}: serving.rollout regenerated from mkd.serve.config.RouterConfig")
    return 0


if __name__ == "__main__":
    sys.exit(main())
