"""The DIP's published OpenAPI spec (third_party/dip_api), loaded for
validation with Python's `jsonschema` (Draft 4 semantics, as OpenAPI 3.0).

The vendored YAML is read as it is published; this module makes it usable:
- cross-file `$ref`s are absolute raw.githubusercontent.com URLs: each is
  mapped to the local file of the same name (a RefResolver store);
- OpenAPI's `nullable: true` becomes "null allowed" (a type list, and null
  added to an `enum`, which also covers DI-031's enum that lacks null);
- payload schemas are selected by S0.interfaceID and S0.eventCode, not by the
  `oneOf` of the spec (IF-020's [RelatedAdd]/[RelatedRemove] are in two
  branches each): a payload is valid when any branch naming its event code
  accepts it. An event code no branch names is a schema failure.
`format` is not checked (the spec's formats are uri and email only).
"""
import glob
import os
import threading

import jsonschema
import yaml

SPEC_URL = "https://raw.githubusercontent.com/elexon-data/dip-api-documentation/main/"
SUBMIT = "SubmitEvents-unresolved.yaml"
INTERFACES = "Interfaces-EventCodes-unresolved.yaml"
DATATYPES = "DataTypes-unresolved.yaml"

# The envelope a message needs before its payload schema can be chosen.
ENVELOPE = {
    "type": "object",
    "required": ["payload"],
    "properties": {"payload": {
        "type": "object",
        "required": ["CommonBlock"],
        "properties": {"CommonBlock": {
            "type": "object",
            "required": ["S0"],
            "properties": {"S0": {
                "type": "object",
                "required": ["interfaceID", "eventCode"],
                "properties": {"interfaceID": {"type": "string"},
                               "eventCode": {"type": "string"}},
            }},
        }},
    }},
}


def _openapi_to_jsonschema(node):
    """Converts OpenAPI 3.0 `nullable` in place, everywhere in a document."""
    if isinstance(node, dict):
        if node.get("nullable") is True:
            t = node.get("type")
            if isinstance(t, str):
                node["type"] = [t, "null"]
            if isinstance(node.get("enum"), list) and None not in node["enum"]:
                node["enum"] = node["enum"] + [None]
        node.pop("nullable", None)
        for key, value in node.items():
            if key not in ("example", "examples"):
                _openapi_to_jsonschema(value)
    elif isinstance(node, list):
        for value in node:
            _openapi_to_jsonschema(value)


def pointer(path):
    """A JSON pointer (RFC 6901) for a jsonschema error path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def describe(error, prefix=()):
    """'<pointer>: <validator message>' for one jsonschema error, short."""
    message = error.message
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{pointer(tuple(prefix) + tuple(error.absolute_path)) or '/'}: {message}"


def describe_all(errors, prefix=()):
    """describe() of each error, without repeats, in order."""
    return list(dict.fromkeys(describe(e, prefix) for e in errors))


class Spec:
    def __init__(self, directory):
        self.directory = directory
        self.docs = {}
        for path in sorted(glob.glob(os.path.join(self.directory, "*.yaml"))):
            with open(path, encoding="utf-8") as f:
                doc = yaml.load(f, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
            _openapi_to_jsonschema(doc)
            self.docs[os.path.basename(path)] = doc
        for name in (SUBMIT, INTERFACES, DATATYPES):
            if name not in self.docs:
                raise FileNotFoundError(f"{name} not found in the spec directory {self.directory}")
        self.store = {SPEC_URL + name: doc for name, doc in self.docs.items()}
        types = self.docs[DATATYPES]["components"]["schemas"]
        self.interface_ids = list(types["DT-000-InterfaceID"]["enum"])
        self.environments = [e for e in types["DT-013-EnvironmentTag"]["enum"] if e]
        self.branches = self._payload_branches()
        self.validate_paths = self._validate_paths()
        self._validators = {}
        self.lock = threading.RLock()

    # -- schemas and validators --------------------------------------------

    def ref(self, name, doc=SUBMIT):
        return {"$ref": f"{SPEC_URL}{doc}#/components/schemas/{name}"}

    def validator(self, schema, key=None):
        key = key or repr(schema)
        v = self._validators.get(key)
        if v is None:
            resolver = jsonschema.RefResolver(SPEC_URL + SUBMIT, self.docs[SUBMIT],
                                              store=self.store)
            v = jsonschema.Draft4Validator(schema, resolver=resolver)
            self._validators[key] = v
        return v

    def errors(self, schema, instance, key=None):
        """All errors of an instance against a schema, most relevant first."""
        with self.lock:  # a RefResolver keeps a scope stack: one validation at a time
            errs = list(self.validator(schema, key).iter_errors(instance))
        if errs:
            best = jsonschema.exceptions.best_match(errs)
            errs = [best] + [e for e in errs if e is not best]
        return errs

    def field_valid(self, schema, field, value):
        """Whether a value is valid for one property of a SubmitEvents schema."""
        prop = self.docs[SUBMIT]["components"]["schemas"][schema]["properties"][field]
        return not self.errors(prop, value, key=f"{schema}.{field}")

    def _resolve(self, node, doc):
        """Follows one $ref (local or cross-file); returns (schema, doc name)."""
        while isinstance(node, dict) and "$ref" in node:
            url, _, fragment = node["$ref"].partition("#")
            if url:
                doc = url.rsplit("/", 1)[-1]
            node = self.docs[doc]
            for part in fragment.strip("/").split("/"):
                node = node[part]
        return node, doc

    def _payload_branches(self):
        """{interfaceID: [(schema name, [event codes], schemaVersions)]}, from
        each <interface>-Payload (a oneOf of branches or a single schema)."""
        schemas = self.docs[INTERFACES]["components"]["schemas"]
        out = {}
        for interface in self.interface_ids:
            payload = schemas.get(interface + "-Payload")
            if payload is None:
                continue
            refs = [b["$ref"] for b in payload.get("oneOf", [])] or [
                f"#/components/schemas/{interface}-Payload"]
            for r in refs:
                branch, doc = self._resolve({"$ref": r}, INTERFACES)
                s0, _ = self._resolve(branch["properties"]["CommonBlock"], doc)
                s0, _ = self._resolve(s0["properties"]["S0"], doc)
                props = s0["properties"]
                out.setdefault(interface, []).append((
                    r.rsplit("/", 1)[-1], props["eventCode"].get("enum", []),
                    props.get("schemaVersion", {}).get("enum", [])))
        return out

    def _validate_paths(self):
        """{(interface, event): request schema} of the spec's /validate/ paths."""
        out = {}
        for path, item in self.docs[SUBMIT]["paths"].items():
            parts = path.split("/")
            if len(parts) == 4 and parts[1] == "validate":
                schema = item["post"]["requestBody"]["content"]["application/json"]["schema"]
                out[(parts[2].upper(), parts[3].lower())] = (parts[2], parts[3], schema)
        return out

    def event_codes(self, interface):
        return [c for _, codes, _ in self.branches.get(interface, []) for c in codes]

    # -- validation of payloads --------------------------------------------

    def payload_errors(self, payload, prefix=()):
        """Errors (strings '<pointer>: <message>') of one payload, [] when valid.
        The payload's envelope must already have passed ENVELOPE."""
        s0 = payload["CommonBlock"]["S0"]
        interface, event = s0["interfaceID"], s0["eventCode"]
        if interface not in self.branches:
            return [f"{pointer(tuple(prefix) + ('CommonBlock', 'S0', 'interfaceID'))}: "
                    f"{interface!r} is not a DIP interface ID"]
        candidates = [name for name, codes, _ in self.branches[interface] if event in codes]
        if not candidates:
            known = ", ".join(self.event_codes(interface))
            return [f"{pointer(tuple(prefix) + ('CommonBlock', 'S0', 'eventCode'))}: "
                    f"{event!r} is not an event code of {interface} (known: {known})"[:400]]
        first = None
        for name in candidates:
            errs = self.errors(self.ref(name, INTERFACES), payload, key=name)
            if not errs:
                return []
            if first is None:
                first = describe_all(errs, prefix)
        return first

    def message_errors(self, message, index):
        """Errors of one DIPMessage (envelope, then payload) at array index."""
        errs = self.errors(ENVELOPE, message, key="envelope")
        if errs:
            return describe_all(errs, (index,))
        return self.payload_errors(message["payload"], (index, "payload"))
