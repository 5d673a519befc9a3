#!/usr/bin/python3
"""
Checks ecogate's message schemas against their golden examples, so producers and
consumers tested against schemas/examples/ are tested against what the schemas say.

    /usr/bin/python3 tests/schemas/validate.py schemas

Uses Debian's python3-jsonschema (run it with /usr/bin/python3) and Draft 2020-12.

- Every schemas/*.schema.json must pass the metaschema (check_schema), declare draft
  2020-12, have an $id named after the file, a "schema" const marker
  ecogate.<name>, a closed top level (additionalProperties false) and a description on
  every property; $defs shared between schemas must be identical.
- Every examples/<name>/valid-*.json must validate; every invalid-*.json must fail, for
  the reason schemas/examples/<name>/expect.json names: all errors at one instance path
  ("path", a JSON pointer) and each error's keyword one of "keyword" (a string or a
  list, for a value that breaks two rules of one field, e.g. pattern and format), which
  also covers jsonschema's best_match.
- Every file is read with a strict JSON reader (no duplicate keys, no NaN or Infinity,
  no number outside double or int64 range, no NUL or lone surrogate in a string,
  strict UTF-8), like our C parser; every examples/_malformed/*.json must be rejected by
  it and is never schema-validated.

Formats: date-time is checked by a checker defined here (RFC 3339 section 5.6, with
calendar checks), because Debian's jsonschema checks it only with rfc3339-validator,
which Debian does not package; uuid and date are checked by jsonschema's own checkers.
The formats in use and who checks them are printed at the start. A format that no
checker covers is a failure, since the schemas rely on it.

Prints one line per failure, then "N passed, N failed"; exits 1 on any failure.
"""

import json
import math
import os
import re
import sys

try:
    import jsonschema
    from jsonschema import Draft202012Validator, FormatChecker
    from jsonschema.exceptions import best_match
except ImportError as e:
    print("validate.py: needs Debian's python3-jsonschema, run with /usr/bin/python3: %s"
          % e, file=sys.stderr)
    sys.exit(2)

DRAFT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "https://ecogate.example/schemas/"

passed = 0
failed = 0


def ok():
    global passed
    passed += 1


def fail(where, msg):
    global failed
    failed += 1
    print("FAIL %s: %s" % (where, msg))


# ---- strict JSON, the same rules our C parser (gatekit/json.h) keeps

class StrictJSONError(ValueError):
    pass


def _pairs(pairs):
    obj = {}
    for k, v in pairs:
        if k in obj:
            raise StrictJSONError("duplicate key %r" % k)
        obj[k] = v
    return obj


def _constant(name):
    raise StrictJSONError("non-JSON constant %s" % name)


def _float(text):
    v = float(text)
    if not math.isfinite(v):
        raise StrictJSONError("number %s out of range" % text)
    return v


def _int(text):
    v = int(text)
    if not -(2 ** 63) <= v < 2 ** 63:
        raise StrictJSONError("integer %s out of int64 range" % text)
    return v


def _check_string(s):
    for c in s:
        o = ord(c)
        if o == 0:
            raise StrictJSONError("NUL in string %r" % s)
        if 0xD800 <= o <= 0xDFFF:
            raise StrictJSONError("lone surrogate in string %r" % s)


def _walk(v):
    if isinstance(v, str):
        _check_string(v)
    elif isinstance(v, list):
        for x in v:
            _walk(x)
    elif isinstance(v, dict):
        for k, x in v.items():
            _check_string(k)
            _walk(x)


def strict_load(path):
    """Returns the parsed file, or raises StrictJSONError / ValueError."""
    with open(path, "rb") as f:
        data = f.read()
    text = data.decode("utf-8")     # strict: rejects overlong and truncated sequences
    v = json.loads(text, object_pairs_hook=_pairs, parse_constant=_constant,
                   parse_float=_float, parse_int=_int)
    _walk(v)
    return v


# ---- formats

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?"
    r"([Zz]|[+-](\d{2}):(\d{2}))$")
_MDAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]


def is_rfc3339(s):
    if not isinstance(s, str):
        return True
    m = _RFC3339.match(s)
    if m is None:
        return False
    y, mo, d, h, mi, sec = (int(m.group(i)) for i in range(1, 7))
    if not 1 <= mo <= 12 or not 1 <= d <= _MDAYS[mo - 1]:
        return False
    if mo == 2 and d == 29 and not (y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)):
        return False
    if h > 23 or mi > 59 or sec > 60:    # 60: leap second
        return False
    if m.group(9) is not None and (int(m.group(9)) > 23 or int(m.group(10)) > 59):
        return False
    return True


def format_checker():
    """Returns (checker, {format: who checks it})."""
    fc = FormatChecker()
    who = {f: "jsonschema" for f in fc.checkers}
    if "date-time" not in fc.checkers:
        fc.checks("date-time")(is_rfc3339)
        who["date-time"] = "validate.py (RFC 3339)"
    return fc, who


def formats_used(node, acc):
    if isinstance(node, dict):
        f = node.get("format")
        if isinstance(f, str):
            acc.add(f)
        for v in node.values():
            formats_used(v, acc)
    elif isinstance(node, list):
        for v in node:
            formats_used(v, acc)
    return acc


# ---- schema lint

def undescribed(node, where, acc):
    """Collects the JSON pointers of properties that carry no description."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict):
            for k, v in props.items():
                if isinstance(v, dict) and "description" not in v:
                    acc.append("%s/properties/%s" % (where, k))
        for k, v in node.items():
            # "if" and "then" restate properties to test them, not to define them.
            if k in ("if", "then", "else", "not"):
                continue
            undescribed(v, "%s/%s" % (where, k), acc)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            undescribed(v, "%s/%d" % (where, i), acc)
    return acc


def lint_schema(name, schema, defs_seen):
    where = name + ".schema.json"
    if schema.get("$schema") != DRAFT:
        fail(where, "$schema is not %s" % DRAFT)
    else:
        ok()
    want_id = ID_PREFIX + name + ".json"
    if schema.get("$id") != want_id:
        fail(where, "$id %r, want %r" % (schema.get("$id"), want_id))
    else:
        ok()
    marker = schema.get("properties", {}).get("schema", {}).get("const")
    if marker != "ecogate." + name or "schema" not in schema.get("required", []):
        fail(where, "needs a required \"schema\" property with const %r (has %r)"
             % ("ecogate." + name, marker))
    else:
        ok()
    if schema.get("additionalProperties") is not False:
        fail(where, "top level must have additionalProperties false")
    else:
        ok()
    missing = undescribed(schema, "", [])
    if missing:
        fail(where, "properties without description: %s" % ", ".join(missing))
    else:
        ok()
    for dname, d in schema.get("$defs", {}).items():
        if dname in defs_seen and defs_seen[dname][1] != d:
            fail(where, "$defs/%s differs from the one in %s"
                 % (dname, defs_seen[dname][0]))
        else:
            defs_seen.setdefault(dname, (where, d))
            ok()


# ---- examples

def pointer(path):
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def check_valid(v, where, inst):
    errs = list(v.iter_errors(inst))
    if errs:
        e = best_match(errs)
        fail(where, "should be valid: %s at %s (%s)"
             % (e.validator, pointer(e.absolute_path) or "/", e.message))
    else:
        ok()


def check_invalid(v, where, inst, want):
    errs = list(v.iter_errors(inst))
    if not errs:
        fail(where, "should be invalid but validates")
        return
    if want is None:
        fail(where, "no entry in expect.json")
        return
    if (not isinstance(want, dict) or not isinstance(want.get("path"), str)
            or not isinstance(want.get("keyword"), (str, list))):
        fail(where, "expect.json entry needs \"keyword\" and \"path\": %r" % (want,))
        return
    kws = want["keyword"] if isinstance(want["keyword"], list) else [want["keyword"]]
    bm = best_match(errs)
    got = sorted({(pointer(e.absolute_path), e.validator) for e in errs})
    bad = [g for g in got if g[0] != want["path"] or g[1] not in kws]
    if bad or bm.validator not in kws:
        fail(where, "want %s at %r only, got %s (best match: %s: %s)"
             % ("|".join(kws), want["path"],
                ", ".join("%s at %r" % (k, p) for p, k in got),
                bm.validator, bm.message))
    else:
        ok()


def check_examples(name, v, exdir):
    if not os.path.isdir(exdir):
        fail(name, "no examples folder %s" % exdir)
        return
    files = sorted(os.listdir(exdir))
    valid = [f for f in files if f.startswith("valid-") and f.endswith(".json")]
    invalid = [f for f in files if f.startswith("invalid-") and f.endswith(".json")]
    other = [f for f in files if f not in valid and f not in invalid and f != "expect.json"]
    for f in other:
        fail("%s/%s" % (name, f), "unexpected file (valid-*.json, invalid-*.json, expect.json)")
    if len(valid) < 2 or len(invalid) < 4:
        fail(name, "needs at least 2 valid and 4 invalid examples (has %d, %d)"
             % (len(valid), len(invalid)))
    else:
        ok()
    expect = {}
    if invalid:
        try:
            expect = strict_load(os.path.join(exdir, "expect.json"))
            ok()
        except (OSError, ValueError) as e:
            fail("%s/expect.json" % name, str(e))
    for k in sorted(set(expect) - set(invalid)):
        fail("%s/expect.json" % name, "names %s, which does not exist" % k)
    for f in valid + invalid:
        where = "%s/%s" % (name, f)
        try:
            inst = strict_load(os.path.join(exdir, f))
        except (OSError, ValueError) as e:
            fail(where, "not strict JSON: %s" % e)
            continue
        if f.startswith("valid-"):
            check_valid(v, where, inst)
        else:
            check_invalid(v, where, inst, expect.get(f))


def check_malformed(mdir):
    if not os.path.isdir(mdir):
        fail("_malformed", "missing folder %s" % mdir)
        return
    names = sorted(f for f in os.listdir(mdir) if f.endswith(".json"))
    if not names:
        fail("_malformed", "no examples")
    for f in names:
        try:
            strict_load(os.path.join(mdir, f))
            fail("_malformed/" + f, "accepted by the strict reader")
        except (ValueError, RecursionError) as e:
            ok()
            print("ok   _malformed/%s: %s" % (f, str(e).splitlines()[0][:100]))


def main(argv):
    if len(argv) != 2:
        print("usage: validate.py SCHEMAS_DIR", file=sys.stderr)
        return 2
    root = argv[1]
    schema_files = sorted(f for f in os.listdir(root) if f.endswith(".schema.json"))
    if not schema_files:
        print("validate.py: no *.schema.json in %s" % root, file=sys.stderr)
        return 1
    fc, who = format_checker()
    defs_seen = {}
    used = set()
    loaded = []
    for sf in schema_files:
        name = sf[: -len(".schema.json")]
        try:
            schema = strict_load(os.path.join(root, sf))
            Draft202012Validator.check_schema(schema)
            ok()
        except (ValueError, jsonschema.exceptions.SchemaError) as e:
            fail(sf, str(e).splitlines()[0])
            continue
        lint_schema(name, schema, defs_seen)
        formats_used(schema, used)
        loaded.append((name, schema))
    for f in sorted(used):
        if f in who:
            print("format %-10s checked by %s" % (f, who[f]))
            ok()
        else:
            fail("format " + f, "used by a schema but not checked")
    for name, schema in loaded:
        v = Draft202012Validator(schema, format_checker=fc)
        check_examples(name, v, os.path.join(root, "examples", name))
    check_malformed(os.path.join(root, "examples", "_malformed"))
    print("%d passed, %d failed" % (passed, failed))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
