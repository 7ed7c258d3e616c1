#!/usr/bin/env python3
"""Validates mitmscope outputs against the JSON Schemas in docs/schema.

Usage: validate.py SCHEMA_DIR SCHEMA_NAME FILE...   (a JSON document, or JSON Lines: every line is checked)
Exit status 0 when every document is valid; each failure is printed with the file, the line and the path
inside the document.
"""
import json
import pathlib
import sys
import warnings

import jsonschema

warnings.filterwarnings("ignore", category=DeprecationWarning)


def load_store(directory):
    store = {}
    for path in sorted(pathlib.Path(directory).glob("*.schema.json")):
        schema = json.loads(path.read_text())
        store[schema["$id"]] = schema
    return store


def documents(path):
    text = pathlib.Path(path).read_text()
    try:
        yield 0, json.loads(text)
        return
    except json.JSONDecodeError:
        pass
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            yield number, json.loads(line)


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    store = load_store(sys.argv[1])
    name = sys.argv[2]
    schema = next((s for uri, s in store.items() if uri.endswith("/" + name + ".schema.json")), None)
    if schema is None:
        print(f"validate.py: no schema {name} in {sys.argv[1]}", file=sys.stderr)
        return 2
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    resolver = jsonschema.RefResolver(schema["$id"], schema, store=store)
    validator = cls(schema, resolver=resolver)
    failures = checked = 0
    for path in sys.argv[3:]:
        for line, document in documents(path):
            checked += 1
            for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path)):
                failures += 1
                where = "/".join(str(part) for part in error.absolute_path)
                print(f"{path}{':' + str(line) if line else ''}: /{where}: {error.message[:300]}")
    if checked == 0:
        print(f"validate.py: {name}: nothing to check in {' '.join(sys.argv[3:])}", file=sys.stderr)
        return 1
    print(f"{name}: {checked} document(s), {failures} failure(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
