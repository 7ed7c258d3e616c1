#!/usr/bin/env python3
"""Checks the JSON Schemas in docs/schema and the documentation against them.

Usage: check_docs.py SCHEMA_DIR SCHEMA_MD
Every schema must be a valid draft 2020-12 schema whose every $ref resolves, and every field name a schema
defines must appear as `name` in a section of SCHEMA_MD (a `## ` heading and what follows it) that names
that schema's file. Prints what is wrong; exit status 1 when anything is.
"""
import json
import pathlib
import re
import sys
import warnings

import jsonschema

warnings.filterwarnings("ignore", category=DeprecationWarning)


def walk(node, visit):
    if isinstance(node, dict):
        visit(node)
        for value in node.values():
            walk(value, visit)
    elif isinstance(node, list):
        for value in node:
            walk(value, visit)


def documented_fields(markdown):
    """schema file name -> the `names` in the sections that mention it"""
    fields = {}
    for section in re.split(r"^## ", markdown, flags=re.M):
        names = set(re.findall(r"`([a-z0-9_]+)", section))
        for schema in set(re.findall(r"([a-z-]+\.schema\.json)", section)):
            fields.setdefault(schema, set()).update(names)
    return fields


def main():
    directory, markdown = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]).read_text()
    sections = documented_fields(markdown)
    store, problems = {}, []
    for path in sorted(directory.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        jsonschema.validators.validator_for(schema).check_schema(schema)
        store[schema["$id"]] = (path.name, schema)
    flat = {uri: schema for uri, (_, schema) in store.items()}
    for uri, (name, schema) in store.items():
        documented = sections.get(name, set())
        if not documented:
            problems.append(f"{name}: no section of docs/SCHEMA.md names it")
        resolver = jsonschema.RefResolver(uri, schema, store=flat)

        def visit(node):
            if "$ref" in node:
                try:
                    resolver.resolve(node["$ref"])
                except jsonschema.exceptions.RefResolutionError as error:
                    problems.append(f"{name}: $ref {node['$ref']} does not resolve: {error}")
            for field in node.get("properties", {}) if isinstance(node.get("properties"), dict) else {}:
                if field not in documented:
                    problems.append(f"{name}: field `{field}` is not in the docs/SCHEMA.md sections that name it")

        walk(schema, visit)
    for problem in sorted(set(problems)):
        print(problem)
    print(f"{len(store)} schemas, {len(set(problems))} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
