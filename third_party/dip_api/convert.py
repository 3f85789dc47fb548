#!/usr/bin/env python3
"""Turns the DIP's OpenAPI 3.0 spec into JSON Schema documents for
RapidJSON's SchemaValidator (draft 4).

  convert.py --spec DIR --out DIR
  convert.py --spec DIR --codes-inc FILE

Reads the `*-unresolved.yaml` files of elexon-data/dip-api-documentation in
--spec and writes into --out:

  index.json             the spec's version, every channel (DT-000) and, per
                         interface, each event code with the schema(s) that
                         validate it and the schema versions they accept
  payload/NAME.json      one self-contained schema per payload branch
                         (IF-033-MSAppSPRequest ...): every $ref it uses,
                         in any file, is copied under "definitions"
  api/NAME.json          the API's own bodies: StandardResponse,
                         StandardResponseArray, WebhookConfig, MessageRequest,
                         StatusMessageRequest
  response_codes.json    every MSG/RCP/REG/... code with its meaning, taken
                         from the comments of ResponseCodes-unresolved.yaml

OpenAPI to JSON Schema:
  - cross-file $refs (https://raw.githubusercontent.com/.../FILE#/components/
    schemas/NAME) and local ones (#/components/schemas/NAME) become
    "#/definitions/FILE.NAME" in the one document (not
    FILE:NAME: RapidJSON 1.1.0 silently drops a $ref with a colon);
  - `nullable: true` adds "null" to `type` and, where there is an `enum`
    without null, null to the enum (DI-031 lists values but is nullable;
    OpenAPI 3.0.3 would then reject null, the spec's intent is to allow it);
  - annotations (description, example, ...) are dropped; `pattern`, `enum`,
    `format` and the numeric and length keywords are kept unchanged.

--codes-inc writes the response codes as C++ initialisers instead
({"MSG0000", "Success"},), for the table compiled into common/dip/codes.cc.

Deterministic: the same spec gives byte-identical output.
"""
import argparse
import json
import os
import re
import sys

import yaml

REMOTE = re.compile(r"^https://raw\.githubusercontent\.com/elexon-data/dip-api-documentation/"
                    r"[^/]+/([A-Za-z0-9-]+)-unresolved\.yaml#/components/schemas/(.+)$")
LOCAL = re.compile(r"^#/components/schemas/(.+)$")

# Keywords that carry no validation meaning (OpenAPI annotations).
ANNOTATIONS = {"description", "example", "examples", "externalDocs", "xml", "deprecated",
               "readOnly", "writeOnly", "discriminator", "title", "default"}
# Keywords whose value is one schema / a list of schemas / a map of schemas.
ONE = {"items", "not"}
MANY = {"allOf", "anyOf", "oneOf"}
MAP = {"properties", "patternProperties"}
# Kept as they are.
PLAIN = {"type", "enum", "pattern", "format", "minLength", "maxLength", "minimum", "maximum",
         "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minItems", "maxItems",
         "uniqueItems", "required", "minProperties", "maxProperties"}

API_SCHEMAS = ["StandardResponse", "StandardResponseArray", "WebhookConfig", "MessageRequest",
               "StatusMessageRequest"]


class Spec:
    def __init__(self, directory):
        self.directory = directory
        self.files = {}

    def schemas(self, file):
        if file not in self.files:
            path = os.path.join(self.directory, file + "-unresolved.yaml")
            with open(path, encoding="utf-8") as f:
                self.files[file] = yaml.safe_load(f)
        return self.files[file]["components"]["schemas"]

    def get(self, file, name):
        try:
            return self.schemas(file)[name]
        except KeyError:
            sys.exit(f"convert: {file}-unresolved.yaml has no schema {name}")


class Converter:
    """Converts one document: the root schema plus every definition it reaches."""

    def __init__(self, spec):
        self.spec = spec
        self.definitions = {}
        self.pending = []

    def ref(self, ref, file):
        m = REMOTE.match(ref)
        if m:
            target = (m.group(1), m.group(2))
        else:
            m = LOCAL.match(ref)
            if not m:
                sys.exit(f"convert: cannot resolve $ref {ref} in {file}")
            target = (file, m.group(1))
        key = f"{target[0]}.{target[1]}"
        if key not in self.definitions:
            self.definitions[key] = None  # reserved: converted once
            self.pending.append(target)
        return {"$ref": "#/definitions/" + key}

    def schema(self, node, file):
        if not isinstance(node, dict):
            sys.exit(f"convert: a schema in {file} is not an object: {node!r}")
        if "$ref" in node:
            return self.ref(node["$ref"], file)
        out = {}
        for key, value in node.items():
            if key in ANNOTATIONS or key == "nullable":
                continue
            if key in PLAIN:
                out[key] = value
            elif key in ONE:
                out[key] = self.schema(value, file)
            elif key in MANY:
                out[key] = [self.schema(v, file) for v in value]
            elif key in MAP:
                out[key] = {name: self.schema(v, file) for name, v in value.items()}
            elif key == "additionalProperties":
                out[key] = value if isinstance(value, bool) else self.schema(value, file)
            else:
                sys.exit(f"convert: unknown schema keyword '{key}' in {file}")
        if node.get("nullable") is True:
            t = out.get("type")
            if isinstance(t, str):
                out["type"] = [t, "null"]
            elif isinstance(t, list) and "null" not in t:
                out["type"] = t + ["null"]
            if "enum" in out and None not in out["enum"]:
                out["enum"] = out["enum"] + [None]
        return out

    def document(self, file, name):
        root = self.schema(self.spec.get(file, name), file)
        while self.pending:
            f, n = self.pending.pop()
            self.definitions[f"{f}.{n}"] = self.schema(self.spec.get(f, n), f)
        doc = {"$schema": "http://json-schema.org/draft-04/schema#", "id": name}
        doc.update(root)
        if self.definitions:
            doc["definitions"] = dict(sorted(self.definitions.items()))
        return doc


def s0_enum(schema, field):
    try:
        return schema["properties"]["CommonBlock"]["properties"]["S0"]["properties"][field]["enum"]
    except KeyError:
        return None


def payload_branches(spec):
    """(payload name, [branch names]) for every *-Payload schema."""
    schemas = spec.schemas("Interfaces-EventCodes")
    for name, node in schemas.items():
        if not name.endswith("-Payload"):
            continue
        choices = node.get("oneOf") or node.get("anyOf")
        if choices:
            branches = []
            for c in choices:
                m = LOCAL.match(c.get("$ref", ""))
                if not m:
                    sys.exit(f"convert: {name} has a branch that is not a local $ref")
                branches.append(m.group(1))
            yield name, branches
        else:
            yield name, [name]


def response_codes(spec_dir):
    codes = {}
    path = os.path.join(spec_dir, "ResponseCodes-unresolved.yaml")
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^\s*-\s*([A-Z]{2,4}\d{3,4})\s*#\s*(.*?)\s*$", line)
            if m:
                codes[m.group(1)] = m.group(2)
    return codes


def write(path, doc):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, sort_keys=False, ensure_ascii=False)
        f.write("\n")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--spec", required=True, help="directory of the *-unresolved.yaml files")
    p.add_argument("--out", help="output directory (created)")
    p.add_argument("--codes-inc", help="write the response codes as C++ initialisers")
    a = p.parse_args()
    if a.codes_inc:
        with open(a.codes_inc, "w", encoding="utf-8") as f:
            f.write("// Generated by third_party/dip_api/convert.py from "
                    "ResponseCodes-unresolved.yaml.\n")
            for code, meaning in response_codes(a.spec).items():
                f.write(f"{{{json.dumps(code)}, {json.dumps(meaning)}}},\n")
        return 0
    if not a.out:
        p.error("give --out DIR or --codes-inc FILE")
    spec = Spec(a.spec)

    with open(os.path.join(a.spec, "SubmitEvents-unresolved.yaml"), encoding="utf-8") as f:
        info = yaml.safe_load(f)["info"]
    channels = spec.get("DataTypes", "DT-000-InterfaceID")["enum"]

    interfaces = {}
    for payload, branches in payload_branches(spec):
        for branch in branches:
            node = spec.get("Interfaces-EventCodes", branch)
            ids, events, versions = (s0_enum(node, "interfaceID"), s0_enum(node, "eventCode"),
                                     s0_enum(node, "schemaVersion"))
            if not ids or len(ids) != 1 or not events:
                sys.exit(f"convert: {branch} does not pin S0.interfaceID and S0.eventCode")
            write(os.path.join(a.out, "payload", branch + ".json"),
                  Converter(spec).document("Interfaces-EventCodes", branch))
            entry = interfaces.setdefault(ids[0], {"payload": payload, "eventCodes": {}})
            for event in events:
                info_e = entry["eventCodes"].setdefault(event, {"schemas": [], "schemaVersions": []})
                # The branch named after the event code first (IF-020 lists
                # [RelatedAdd] in two branches; either may validate it).
                if branch.endswith("-" + event.strip("[]")):
                    info_e["schemas"].insert(0, branch)
                else:
                    info_e["schemas"].append(branch)
                for v in versions or []:
                    if v not in info_e["schemaVersions"]:
                        info_e["schemaVersions"].append(v)

    for name in API_SCHEMAS:
        write(os.path.join(a.out, "api", name + ".json"),
              Converter(spec).document("SubmitEvents", name))

    write(os.path.join(a.out, "response_codes.json"), response_codes(a.spec))
    write(os.path.join(a.out, "index.json"), {
        "spec": {"title": info.get("title"), "version": str(info.get("version")),
                 "source": "elexon-data/dip-api-documentation"},
        "channels": channels,
        "interfaces": dict(sorted(interfaces.items())),
        "api": API_SCHEMAS,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
