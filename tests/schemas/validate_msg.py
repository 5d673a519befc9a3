#!/usr/bin/python3
"""Validates message files against one ecogate JSON Schema with Debian's
python3-jsonschema: the independent check C tests use on payloads our code produced.

    validate_msg.py SCHEMA.json MESSAGE.json [MESSAGE.json ...]

Prints one line per message and exits 1 when any message is invalid.
"""
import json
import sys

import jsonschema


def main(argv):
    if len(argv) < 3:
        print("usage: validate_msg.py SCHEMA MESSAGE...", file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as f:
        schema = json.load(f)
    cls = jsonschema.Draft202012Validator
    cls.check_schema(schema)
    v = cls(schema, format_checker=cls.FORMAT_CHECKER)
    bad = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            try:
                msg = json.load(f)
            except ValueError as e:
                print("FAIL %s: not JSON: %s" % (path, e))
                bad += 1
                continue
        errs = sorted(v.iter_errors(msg), key=lambda e: list(e.path))
        if errs:
            bad += 1
            for e in errs:
                print("FAIL %s: /%s: %s" % (path, "/".join(map(str, e.path)), e.message))
        else:
            print("ok   %s" % path)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
