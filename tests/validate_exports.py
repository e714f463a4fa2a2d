"""Checks a `poolscope feed export` output with the format owners' own code, offline.

    validate_exports.py suricata FILE   every rule through suricata-update's rule parser
    validate_exports.py stix FILE       stix2-validator, STIX 2.1, strict (warnings are errors)
    validate_exports.py misp FILE       pymisp loads the event; types and categories checked
                                        against the describeTypes.json pymisp ships

Prints one JSON document on stdout (what was read, for the caller to compare) and exits 1
when anything is refused.
"""
import json
import sys


def suricata(path):
    from suricata.update import rule

    out, bad = [], []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            r = rule.parse(line)
            if r is None:
                bad.append(n)
                continue
            out.append({"sid": r["sid"], "rev": r["rev"], "msg": r["msg"],
                        "classtype": r["classtype"], "metadata": r["metadata"],
                        "action": r["action"], "proto": r["proto"]})
    print(json.dumps({"rules": out, "unparsed_lines": bad}))
    return not bad


def stix(path):
    from stix2validator import ValidationOptions, validate_file

    opts = ValidationOptions(version="2.1", strict=True)
    results = validate_file(path, opts)
    errors, warnings = [], []
    for obj in results.object_results:
        errors += [str(e) for e in obj.errors]
        warnings += [str(w) for w in obj.warnings]
    print(json.dumps({"valid": results.is_valid, "objects": len(results.object_results),
                      "errors": errors, "warnings": warnings}))
    return results.is_valid and not errors


def misp(path):
    import os
    import pymisp
    from pymisp import MISPEvent

    with open(os.path.join(os.path.dirname(pymisp.__file__), "data", "describeTypes.json")) as f:
        types = json.load(f)["result"]
    event = MISPEvent()
    event.load_file(path)
    out, bad = [], []
    for a in event.attributes:
        ok = a.type in types["types"] and a.type in types["category_type_mappings"].get(a.category, [])
        if not ok:
            bad.append(f"{a.type}/{a.category}")
        out.append({"type": a.type, "category": a.category, "value": a.value, "uuid": a.uuid,
                    "to_ids": a.to_ids, "first_seen": a.first_seen.isoformat(),
                    "last_seen": a.last_seen.isoformat(), "tags": [t.name for t in a.tags]})
    print(json.dumps({"uuid": event.uuid, "info": event.info, "date": event.date.isoformat(),
                      "attributes": out, "refused": bad}))
    return not bad


if __name__ == "__main__":
    check = {"suricata": suricata, "stix": stix, "misp": misp}[sys.argv[1]]
    sys.exit(0 if check(sys.argv[2]) else 1)
