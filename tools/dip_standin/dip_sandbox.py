"""The DIP sandbox: the DIP API paths of `dip_standin.py serve`.

/dip-channel/{id}                          POST   ingress (DIPMessageArray)
/dip-channel/{id}/pubconfig/{recipient-id} POST, DELETE  webhook for a channel
/dip-channel/{id}/replay/{recipient-id}    POST   MessageRequest -> messages
/dip-channel/{id}/requeue/{recipient-id}   POST   MessageRequest -> re-sent
/statusmessage                             POST   StandardResponseArray
/statusmessage/config/{recipient-id}       POST, DELETE  status webhook
/validate/{IF}/{event}                     POST   schema check only

Behaviour follows the published OpenAPI spec (third_party/dip_api, loaded by
dip_spec.py); where the spec is silent the sandbox's choice is written in
docs/dip-standin.md ("Where the spec is silent"). Every answer is also one
JSON line in the --outcomes file.
"""
import copy
import datetime
import hmac
import json
import math
import secrets
import ssl
import threading
import time
import traceback
import urllib.parse

from dip_spec import ENVELOPE, describe_all, pointer

MSG_OK = "MSG0000 - Success"
# --duplicates strict: the valid messages of an array refused for a duplicate.
MSG_PROCESSING = "MSG1000 - Message Processing Failed"
# The environment is part of the message (S1): a sender fault, not retried.
MSG_ENVIRONMENT = "MSG1001 - Schema Failure"
MSG_SCHEMA = "MSG1001 - Schema Failure"
MSG_INTERFACE = "MSG1002 - Interface ID Invalid"
MSG_DUPLICATE = "MSG1006 - Sender Unique Reference Duplicated"
MSG_ROUTING = "MSG1030 - Msg Addressing / Routing Error"
UNKNOWN_SENDER = "0000000000"  # senderID of an answer when the message gives none
DRAIN_LIMIT = 64 * 1024 * 1024  # an oversized body up to this is read and dropped
BODY_TIMEOUT = 30.0


def dip_time(when=None):
    """DT-003: '2026-12-01T10:00:00+00:00' (25 characters, UTC)."""
    when = when or datetime.datetime.now(datetime.timezone.utc)
    return when.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _dict(value, *keys):
    for k in keys:
        value = value.get(k) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


class Outcomes:
    """--outcomes: one JSON line per event, flushed as written."""

    def __init__(self, path):
        self.file = open(path, "a", encoding="utf-8") if path else None
        self.lock = threading.Lock()

    def write(self, event, /, **fields):
        if not self.file:
            return
        now = datetime.datetime.now(datetime.timezone.utc)
        line = {"time": now.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", "event": event}
        line.update((k, v) for k, v in fields.items() if k not in line)
        with self.lock:
            self.file.write(json.dumps(line, default=str) + "\n")
            self.file.flush()


class TokenBucket:
    def __init__(self, rate):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = time.monotonic()

    def take(self):
        """0 when a request may pass, else seconds until it could."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0
        return (1 - self.tokens) / self.rate


class Answer(Exception):
    """An HTTP answer; raised to stop processing a request early."""

    def __init__(self, status, body=None, why="", headers=(), close=False, **fields):
        super().__init__(why)
        self.status, self.body, self.why = status, body, why
        self.headers, self.close, self.fields = list(headers), close, fields


def gateway_error(status, message, **kw):
    """Errors the spec gives no body for, shaped like the API gateway's."""
    return Answer(status, {"statusCode": status, "message": message}, why=message, **kw)


class Sandbox:
    def __init__(self, spec, a, verify, outcomes, egress):
        self.spec = spec
        self.verify = verify  # (method, url, headers, body) -> (ok, why, signer)
        self.outcomes = outcomes
        self.egress = egress
        self.api_keys = list(a.api_key or [])
        self.environment = a.environment
        self.max_body = a.max_body
        self.rate = a.rate
        self.latency = a.latency / 1000.0
        self.log = a.log
        # A resent message (MSG1006): "accept" answers 201 and accepts the
        # others of its array; "strict" refuses the whole array (400).
        self.duplicates = getattr(a, "duplicates", "accept")
        self.lock = threading.Lock()
        self.buckets = {}
        self.accepted = {}   # (senderDIPID, senderUniqueReference) -> (transactionID, time)
        self.published = {}  # (channel, recipient) -> [record]
        self.transaction_ids = set()

    # -- the request ---------------------------------------------------------

    def handle(self, h):
        """Answers one request on a DIP API path (h: the BaseHTTPRequestHandler)."""
        state = {"body": b"", "read": False, "verified": False, "why": "", "signer": "",
                 "api_key": None, "endpoint": "request", "params": {}}
        # When the request arrived and when its answer left (epoch seconds):
        # a client's concurrency and pauses can be checked from these.
        received = time.time()
        try:
            step = h.behaviour()
            if step and step[0] == "reset":
                h.close_connection = True
                self.outcomes.write("scripted_reset", method=h.command, path=h.path)
                return
            if step and step[0] == "slow":
                time.sleep(int(step[1]) / 1000.0)
            answer = self.dispatch(h, state, step)
        except Answer as a:
            answer = a
        except Exception as e:  # never let one request take the sandbox down
            traceback.print_exc()
            answer = gateway_error(500, f"sandbox error: {type(e).__name__}: {e}")
        if not state["read"] and (h.headers.get("Content-Length") not in (None, "0")
                                  or h.headers.get("Transfer-Encoding")):
            answer.close = True  # the body was not read: the connection can't be reused
        if self.latency:
            time.sleep(self.latency)
        answered = time.time()
        # Written before the answer leaves: a client that sends its next
        # message when this answer arrives finds this one already recorded, so
        # the record's order is the order the sandbox accepted messages in.
        try:
            fields = {"method": h.command, "path": h.path, "status": answer.status,
                      "why": answer.why, "api_key": state["api_key"],
                      "received": received, "answered": answered}
            fields.update(state["params"])
            fields.update(answer.fields)
            self.outcomes.write(state["endpoint"], **fields)
            if self.log:
                print(f"{h.command} {h.path} -> {answer.status} {answer.why}", flush=True)
            if answer.status < 300 and h.server.record_file:
                h.record(state["verified"], state["why"], state["signer"], state["body"],
                         received=received, answered=answered)
        except Exception:
            traceback.print_exc()
        self.send(h, answer)

    def send(self, h, answer):
        data = b"" if answer.body is None else json.dumps(answer.body).encode()
        try:
            h.send_response(answer.status)
            if answer.status != 204:
                h.send_header("Content-Type", "application/json")
                h.send_header("Content-Length", str(len(data)))
            for name, value in answer.headers:
                h.send_header(name, value)
            if answer.close:
                h.send_header("Connection", "close")
                h.close_connection = True
            h.end_headers()
            if answer.status != 204:
                h.wfile.write(data)
        except OSError:
            h.close_connection = True

    def route(self, path):
        """(endpoint, params, allowed methods) for a DIP API path."""
        parts = [p for p in urllib.parse.urlsplit(path).path.split("/") if p]
        low = [p.lower() for p in parts]
        if low[0] == "dip-channel" and len(parts) == 2:
            return "ingress", {"channel": parts[1].upper()}, ("POST",)
        if low[0] == "dip-channel" and len(parts) == 4 and low[2] in ("pubconfig", "replay",
                                                                       "requeue"):
            allowed = ("POST", "DELETE") if low[2] == "pubconfig" else ("POST",)
            return low[2], {"channel": parts[1].upper(), "recipient": parts[3]}, allowed
        if low == ["statusmessage"]:
            return "statusmessage", {}, ("POST",)
        if low[0] == "statusmessage" and len(parts) == 3 and low[1] == "config":
            return "statusmessage_config", {"recipient": parts[2]}, ("POST", "DELETE")
        if low[0] == "validate" and len(parts) == 3:
            return "validate", {"interface": parts[1], "eventCode": parts[2]}, ("POST",)
        raise gateway_error(404, f"no DIP API operation at {urllib.parse.urlsplit(path).path}")

    def dispatch(self, h, state, step):
        endpoint, params, allowed = self.route(h.path)
        state["endpoint"], state["params"] = endpoint, params
        if h.command not in allowed:
            raise gateway_error(405, f"{h.command} is not allowed here",
                                headers=[("Allow", ", ".join(allowed))])
        if "channel" in params and params["channel"] not in self.spec.interface_ids:
            raise gateway_error(404, f"unknown DIP channel {params['channel']!r}")
        if "recipient" in params and len(params["recipient"]) != 10:
            raise gateway_error(400, "recipient-id must be a DIP participant ID (10 characters)")
        state["body"] = body = self.read_body(h)
        state["read"] = True
        if step and step[0].isdigit():
            code = int(step[0])
            raise gateway_error(code, f"scripted answer {code}",
                                headers=[("Retry-After", "1")] if code == 429 else [])
        self.authenticate(h, state, signed=endpoint != "validate")
        return getattr(self, "do_" + endpoint)(h.command, body, **params)

    def read_body(self, h):
        """The request body, at most --max-body bytes (413 beyond; 408 when
        the client stops sending for BODY_TIMEOUT seconds)."""
        h.connection.settimeout(BODY_TIMEOUT)
        try:
            return self._read_body(h)
        except (TimeoutError, ConnectionError) as e:
            raise gateway_error(408, f"request body not received: {type(e).__name__}",
                                close=True)
        finally:
            h.connection.settimeout(None)

    def _read_body(self, h):
        if "chunked" in (h.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                line = h.rfile.readline(1024)
                try:
                    size = int(line.split(b";")[0].strip() or b"x", 16)
                    if size < 0:
                        raise ValueError
                except ValueError:
                    raise gateway_error(400, "malformed chunked body", close=True)
                if size == 0:
                    while h.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                total += size
                if total > self.max_body:
                    raise gateway_error(413, f"body larger than {self.max_body} bytes", close=True)
                chunks.append(h.rfile.read(size))
                h.rfile.readline(16)
        try:
            length = int(h.headers.get("Content-Length") or 0)
            if length < 0:
                raise ValueError
        except ValueError:
            raise gateway_error(400, "malformed Content-Length", close=True)
        if length > self.max_body:
            close = length > DRAIN_LIMIT
            left = 0 if close else length
            while left > 0:
                got = h.rfile.read(min(left, 65536))
                if not got:
                    break
                left -= len(got)
            raise gateway_error(413, f"body of {length} bytes is larger than {self.max_body}",
                                close=close)
        return h.rfile.read(length) if length else b""

    def authenticate(self, h, state, signed):
        keys = h.headers.get_all("X-API-Key") or []
        if len(keys) != 1 or not keys[0]:
            raise gateway_error(401, "missing API key (X-API-Key header)" if not keys else
                                "exactly one X-API-Key header is required")
        key = keys[0]
        if self.api_keys:
            match = [i for i, k in enumerate(self.api_keys)
                     if hmac.compare_digest(k.encode(), key.encode())]
            if not match:
                raise gateway_error(401, "invalid API key")
            state["api_key"] = match[0]
        if self.rate > 0:
            with self.lock:
                bucket = self.buckets.setdefault(key, TokenBucket(self.rate))
                wait = bucket.take()
            if wait:
                raise gateway_error(429, "rate limit exceeded",
                                    headers=[("Retry-After", str(max(1, math.ceil(wait))))])
        if not signed:
            return
        scheme = "https" if isinstance(h.connection, ssl.SSLSocket) else "http"
        url = f"{scheme}://{h.headers.get('Host')}{h.path}"
        ok, why, signer = self.verify(h.command, url, h.headers, state["body"])
        state.update(verified=ok, why=why, signer=signer)
        if not ok:
            raise gateway_error(401, f"DIP signature not accepted: {why}", signer=signer)

    # -- StandardResponse ----------------------------------------------------

    def answer_entry(self, fields, text, help_text):
        """A StandardResponseBodyType (all 10 fields) echoing `fields`: a value
        the spec's type for its field refuses is not echoed (null; for the
        non-nullable sentTimestamp now, for senderID 0000000000)."""
        out = {}
        for k in STATUS_FIELDS:
            v = fields.get(k)
            if v is not None and not self.spec.field_valid("StandardResponseBodyType", k, v):
                v = None
            out[k] = v
        out["sentTimestamp"] = out["sentTimestamp"] or dip_time()
        out["senderID"] = out["senderID"] or UNKNOWN_SENDER
        out["message"], out["help"] = text, help_text[:500] if help_text else None
        return out

    def entry(self, message, text, help_text=None, transaction_id=None):
        """The StandardResponseBodyType answering one DIPMessage."""
        common = _dict(message, "payload", "CommonBlock")
        s1 = _dict(common, "S1")
        primary = _dict(common, "A0").get("primaryRecipients")
        return self.answer_entry({
            "transactionID": transaction_id,
            "senderUniqueReference": s1.get("senderUniqueReference"),
            "correlationID": s1.get("senderCorrelationID"),
            "sentTimestamp": s1.get("senderTimestamp"),
            "senderID": s1.get("senderDIPID"),
            "recipientID": primary[0] if isinstance(primary, list) and primary else None,
            "DIPConnectionProviderID": s1.get("DIPConnectionProviderID"),
        }, text, help_text)

    def reject_batch(self, messages, text, failures, **fields):
        """400: the whole array is refused; every entry carries the reason,
        its own errors for a failing message, the first failure otherwise."""
        first = min(failures)
        first_text = f"message {first}: {failures[first][0]}"
        entries = []
        for i, m in enumerate(messages):
            if i in failures:
                help_text = f"message {i}: " + "; ".join(failures[i][:3])
            else:
                help_text = (f"message {i} is valid; batch rejected ({len(failures)} failing): "
                             f"{first_text}")
            entries.append(self.entry(m, text, help_text))
        return Answer(400, {"messageArray": entries, "timestamp": dip_time()},
                      why=f"{text}: {first_text}"[:500], codes=[text[:7]] * len(entries),
                      senderUniqueReferences=[e["senderUniqueReference"] for e in entries],
                      transactionIDs=[None] * len(entries), **fields)

    def parse_array(self, body, what):
        """The JSON array of a request body, or a 400 Answer."""
        def refuse(why):
            return Answer(400, {"messageArray": [self.entry(None, MSG_SCHEMA, why)],
                                "timestamp": dip_time()}, why=f"{MSG_SCHEMA}: {why}",
                          codes=[MSG_SCHEMA[:7]])
        try:
            data = load_json(body)
        except ValueError as e:
            raise refuse(f"/: body is not JSON: {e}")
        if not isinstance(data, list) or not data:
            got = "an empty array" if data == [] else JSON_TYPES.get(type(data), "null")
            raise refuse(f"/: the body must be a {what} (a JSON array of at least one item), "
                         f"got {got}")
        return data

    # -- ingress -------------------------------------------------------------

    def new_transaction_id(self, interface, s1):
        """Shaped like DT-014's example: T-IF-006-0123456789-SUP-20220401-1234CC0123456789."""
        day = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%d")
        while True:
            tid = (f"T-{interface}-{s1['senderDIPID']}-{s1['senderRoleID']}-{day}-"
                   f"{secrets.token_hex(8).upper()}")[:65]
            if tid not in self.transaction_ids:
                self.transaction_ids.add(tid)
                return tid

    def do_ingress(self, method, body, channel):
        messages = self.parse_array(body, "DIPMessageArray")
        failures = {}
        for i, m in enumerate(messages):
            errs = self.spec.errors(ENVELOPE, m, key="envelope")
            if errs:
                failures[i] = describe_all(errs, (i,))
        if failures:
            raise self.reject_batch(messages, MSG_SCHEMA, failures, channel=channel)
        for i, m in enumerate(messages):
            interface = m["payload"]["CommonBlock"]["S0"]["interfaceID"]
            if interface != channel:
                failures[i] = [f"{pointer((i, 'payload', 'CommonBlock', 'S0', 'interfaceID'))}: "
                               f"{interface!r} sent on channel {channel}"]
        if failures:
            raise self.reject_batch(messages, MSG_INTERFACE, failures, channel=channel)
        for i, m in enumerate(messages):
            errs = self.spec.payload_errors(m["payload"], (i, "payload"))
            if errs:
                failures[i] = errs
        if failures:
            raise self.reject_batch(messages, MSG_SCHEMA, failures, channel=channel)
        if self.environment:
            for i, m in enumerate(messages):
                tag = m["payload"]["CommonBlock"]["S1"]["environmentTag"]
                if tag != self.environment:
                    where = pointer((i, "payload", "CommonBlock", "S1", "environmentTag"))
                    failures[i] = [f"{where}: {tag!r} is not this DIP's environment "
                                   f"({self.environment})"]
            if failures:
                raise self.reject_batch(messages, MSG_ENVIRONMENT, failures, channel=channel)
        return self.accept(channel, messages)

    def accepted_before(self, key, then):
        """The help of a MSG1006 entry: when and as what `key` was accepted."""
        tid, when = self.accepted[key]
        return (f"senderUniqueReference {key[1]} from {key[0]} was accepted at "
                f"{dip_time(when)} as {tid}; {then}")

    def find_duplicates(self, messages):
        """{index: help} of the messages that repeat a senderUniqueReference
        accepted before from their senderDIPID, or one earlier in the same
        array. Call with the lock held."""
        found, seen = {}, {}
        for i, m in enumerate(messages):
            s1 = m["payload"]["CommonBlock"]["S1"]
            key = (s1["senderDIPID"], s1["senderUniqueReference"])
            if key in self.accepted:
                found[i] = self.accepted_before(key, "array refused, nothing in it accepted")
            elif key in seen:
                found[i] = (f"senderUniqueReference {key[1]} from {key[0]} is also message "
                            f"{seen[key]} of this array; array refused, nothing in it accepted")
            else:
                seen[key] = i
        return found

    def refuse_duplicates(self, messages, duplicates, channel):
        """--duplicates strict: 400, the whole array refused; MSG1006 for each
        resent message, MSG1000 for every other (valid, not accepted)."""
        which = ", ".join(str(i) for i in sorted(duplicates))
        which = f"message{'s' if len(duplicates) > 1 else ''} {which}"
        entries = []
        for i, m in enumerate(messages):
            if i in duplicates:
                entries.append(self.entry(m, MSG_DUPLICATE, f"message {i}: " + duplicates[i]))
            else:
                entries.append(self.entry(
                    m, MSG_PROCESSING,
                    f"message {i} is valid; not accepted because the array holds a duplicate "
                    f"({which}, MSG1006): send it again without the duplicate"))
        first = min(duplicates)
        return Answer(400, {"messageArray": entries, "timestamp": dip_time()},
                      why=f"{MSG_DUPLICATE}: message {first}: {duplicates[first]}"[:500],
                      channel=channel, codes=[e["message"][:7] for e in entries],
                      senderUniqueReferences=[e["senderUniqueReference"] for e in entries],
                      transactionIDs=[None] * len(entries))

    def accept(self, channel, messages):
        # Whole seconds, as D0.transactionTimestamp shows it (replay windows).
        now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
        entries, accepted = [], []
        with self.lock:
            # Checked and accepted under one hold of the lock: two arrays
            # racing with the same reference cannot both be accepted.
            if self.duplicates == "strict":
                duplicates = self.find_duplicates(messages)
                if duplicates:
                    raise self.refuse_duplicates(messages, duplicates, channel)
            for m in messages:
                s1 = m["payload"]["CommonBlock"]["S1"]
                key = (s1["senderDIPID"], s1["senderUniqueReference"])
                if key in self.accepted:
                    entries.append(self.entry(m, MSG_DUPLICATE,
                                              self.accepted_before(key, "not routed again")))
                    continue
                tid = self.new_transaction_id(channel, s1)
                self.accepted[key] = (tid, now)
                entries.append(self.entry(m, MSG_OK, None, tid))
                accepted.append((tid, m))
        routed = [r for tid, m in accepted for r in self.route_message(channel, tid, m, now)]
        return Answer(201, {"messageArray": entries, "timestamp": dip_time(now)},
                      why=f"{len(accepted)} of {len(messages)} accepted", channel=channel,
                      codes=[e["message"][:7] for e in entries],
                      senderUniqueReferences=[e["senderUniqueReference"] for e in entries],
                      transactionIDs=[e["transactionID"] for e in entries], routed=routed)

    def route_message(self, channel, tid, message, now):
        """Publishes an accepted message to each of its A0 recipients: kept for
        replay, and queued for the recipient's callback when it has one."""
        common = message["payload"]["CommonBlock"]
        a0 = common.get("A0") or {}
        recipients = []
        for field in ("primaryRecipients", "secondaryRecipients", "always"):
            for r in a0.get(field) or []:
                if isinstance(r, str) and len(r) == 10 and r not in recipients:
                    recipients.append(r)
        payload = copy.deepcopy(message["payload"])
        payload["CommonBlock"]["D0"] = {
            "transactionID": tid,
            "transactionTimestamp": dip_time(now),
            "publicationID": channel.replace("IF-", "PUB-"),
            "initialCorrelationID": common["S1"]["senderCorrelationID"],
            "replayIndicator": False,
            "serviceTicketURL": None,
        }
        record = {"transactionID": tid, "time": now, "payload": payload,
                  "eventCode": common["S0"]["eventCode"],
                  "version": common["S0"].get("schemaVersion"),
                  "MPAN": (_dict(common, "M0").get("MPANCore")
                           or _dict(common, "M1").get("principalMPAN"))}
        out = []
        for r in recipients:
            with self.lock:
                self.published.setdefault((channel, r), []).append(record)
            queued = self.egress.publish("channel", channel, r, {"payload": payload}, tid)
            out.append({"recipient": r, "transactionID": tid, "queued": queued})
        return out

    # -- webhook configuration -------------------------------------------------

    def configure(self, method, body, kind, channel, recipient):
        where = {"kind": kind, "channel": channel, "recipient": recipient}
        if method == "DELETE":
            if self.egress.unsubscribe(kind, channel, recipient):
                return Answer(204, why="deleted", action="delete", **where)
            raise gateway_error(404, f"no callback configured for {recipient}"
                                + (f" on {channel}" if channel else ""), action="delete", **where)
        try:
            config = load_json(body)
        except ValueError as e:
            raise gateway_error(400, f"body is not JSON: {e}", action="create", **where)
        errs = self.spec.errors(self.spec.ref("WebhookConfig"), config, key="WebhookConfig")
        problems = describe_all(errs)
        if not problems:
            url = config.get("callbackURL")
            parts = urllib.parse.urlsplit(url) if isinstance(url, str) else None
            if not parts:
                problems.append("/callbackURL: required")
            elif parts.scheme not in ("https", "http") or not parts.hostname:
                problems.append(f"/callbackURL: {url!r} is not an http(s) URL")
            count = config.get("maxMessageCount")
            if count is not None and not (1 <= count <= 1000 and count == int(count)):
                problems.append("/maxMessageCount: must be a whole number from 1 to 1000")
            size = config.get("maxPayloadSize")
            if size is not None and not 0 < size <= 10 ** 9:
                problems.append("/maxPayloadSize: must be more than 0 (KB)")
        if problems:
            raise gateway_error(400, "; ".join(problems)[:500], action="create", **where)
        self.egress.subscribe(kind, channel, recipient, config)
        sub = self.egress.subscription(kind, channel, recipient)
        shown = {"channel": channel, "recipientID": recipient, "callbackURL": sub.url,
                 "maxMessageCount": sub.max_messages,
                 "maxPayloadSize": config.get("maxPayloadSize")}
        return Answer(201, shown, why="configured", action="create", callbackURL=sub.url, **where)

    def do_pubconfig(self, method, body, channel, recipient):
        return self.configure(method, body, "channel", channel, recipient)

    def do_statusmessage_config(self, method, body, recipient):
        return self.configure(method, body, "statusmessage", None, recipient)

    # -- replay and requeue ----------------------------------------------------

    def message_request(self, body):
        """A MessageRequest's filters, or a 400 StandardResponse."""
        def refuse(why):
            return Answer(400, {"messageArray": [self.entry(None, MSG_SCHEMA, why)],
                                "timestamp": dip_time()}, why=f"{MSG_SCHEMA}: {why}")
        try:
            req = load_json(body)
        except ValueError as e:
            raise refuse(f"/: body is not JSON: {e}")
        errs = self.spec.errors(self.spec.ref("MessageRequest"), req, key="MessageRequest")
        if errs:
            raise refuse("; ".join(describe_all(errs)[:3]))
        for field in ("datetimeFrom", "datetimeTo"):
            if req[field] is not None:
                try:
                    req[field] = datetime.datetime.fromisoformat(req[field])
                    if req[field].tzinfo is None:
                        raise ValueError("no UTC offset")
                except ValueError as e:
                    raise refuse(f"/{field}: not an ISO 8601 date-time with offset ({e})")
        return req

    def matching(self, channel, recipient, req):
        event = req["eventCode"].strip("[]") if req["eventCode"] else None
        ids = set(req.get("transactionIDs") or [])
        with self.lock:
            records = list(self.published.get((channel, recipient), []))
        return [r for r in records
                if (req["datetimeFrom"] is None or r["time"] >= req["datetimeFrom"])
                and (req["datetimeTo"] is None or r["time"] <= req["datetimeTo"])
                and (event is None or r["eventCode"].strip("[]") == event)
                and (req["MPAN"] is None or r["MPAN"] == req["MPAN"])
                and (req["version"] is None or r["version"] == req["version"])
                and (not ids or r["transactionID"] in ids)]

    @staticmethod
    def replayed(record):
        payload = copy.deepcopy(record["payload"])
        payload["CommonBlock"]["D0"]["replayIndicator"] = True
        return {"payload": payload}

    def do_replay(self, method, body, channel, recipient):
        records = self.matching(channel, recipient, self.message_request(body))
        return Answer(200, [self.replayed(r) for r in records], why=f"{len(records)} replayed",
                      channel=channel, recipient=recipient,
                      transactionIDs=[r["transactionID"] for r in records])

    def do_requeue(self, method, body, channel, recipient):
        req = self.message_request(body)
        if not self.egress.subscription("channel", channel, recipient):
            why = f"no pubconfig for {recipient} on {channel}: nothing to requeue to"
            raise Answer(400, {"messageArray": [self.entry(None, MSG_ROUTING, why)],
                               "timestamp": dip_time()}, why=why, channel=channel,
                         recipient=recipient)
        records = self.matching(channel, recipient, req)
        for r in records:
            self.egress.publish("channel", channel, recipient, self.replayed(r),
                                r["transactionID"], replay=True)
        status = {"percentComplete": 0 if records else 100, "totalTransactions": len(records),
                  "processedTransactions": 0, "status": "Processing" if records else "Completed"}
        return Answer(200, status, why=f"{len(records)} requeued", channel=channel,
                      recipient=recipient, transactionIDs=[r["transactionID"] for r in records])

    # -- status messages -------------------------------------------------------

    def do_statusmessage(self, method, body):
        entries = self.parse_array(body, "StandardResponseArray")
        errs = self.spec.errors(self.spec.ref("StandardResponseArray"), entries,
                                key="StandardResponseArray")
        if errs:
            failures = {}
            for e in errs:
                index = e.absolute_path[0] if e.absolute_path else 0
                failures.setdefault(index, []).extend(describe_all([e]))
            first = min(failures)
            out = []
            for i, item in enumerate(entries):
                help_text = (f"status message {i}: " + "; ".join(failures[i][:3]) if i in failures
                             else f"batch rejected: status message {first}: {failures[first][0]}")
                out.append(self.answer_entry(item if isinstance(item, dict) else {}, MSG_SCHEMA,
                                             help_text))
            raise Answer(400, {"messageArray": out, "timestamp": dip_time()},
                         why=f"{MSG_SCHEMA}: {failures[first][0]}"[:500])
        now = datetime.datetime.now(datetime.timezone.utc)
        routed = []
        for item in entries:
            # To the physical recipient: the connection provider when named.
            recipient = item["DIPConnectionProviderID"] or item["recipientID"]
            queued = bool(recipient) and self.egress.publish(
                "statusmessage", None, recipient, item, item["transactionID"])
            routed.append({"recipient": recipient, "transactionID": item["transactionID"],
                           "queued": queued})
        out = [self.answer_entry(item, MSG_OK, None) for item in entries]
        return Answer(201, {"messageArray": out, "timestamp": dip_time(now)},
                      why=f"{len(entries)} status messages accepted", routed=routed,
                      transactionIDs=[e["transactionID"] for e in entries])

    # -- validation endpoint -----------------------------------------------------

    def do_validate(self, method, body, interface, eventCode):
        event = eventCode
        found = self.spec.validate_paths.get((interface.upper(), event.lower()))
        fields = {"interface": interface, "eventCode": event}
        if not found:
            raise gateway_error(404, f"no validation endpoint /validate/{interface}/{event}",
                                **fields)
        interface, event, schema = found
        fields = {"interface": interface, "eventCode": event}
        try:
            data = load_json(body)
        except ValueError as e:
            why = f"{MSG_SCHEMA}: /: body is not JSON: {e}"
            raise Answer(400, why, why=why, **fields)
        full = {"allOf": [schema, {"type": "array", "items": {"type": "object",
                                                               "required": ["payload"]}}]}
        errs = self.spec.errors(full, data, key=f"validate {interface}/{event}")
        if errs:
            why = f"{MSG_SCHEMA}: " + "; ".join(describe_all(errs)[:3])
            raise Answer(400, why[:1000], why=why[:500], **fields)
        return Answer(201, "Message OK", why="Message OK", **fields)


JSON_TYPES = {dict: "an object", str: "a string", int: "a number", float: "a number",
              bool: "a boolean"}
STATUS_FIELDS = ("transactionID", "senderUniqueReference", "correlationID", "sentTimestamp",
                 "senderID", "recipientID", "DIPConnectionProviderID", "message", "help",
                 "serviceTicketURL")


def _no_constant(name):
    raise ValueError(f"{name} is not JSON")


def load_json(body):
    """Strict JSON (no NaN/Infinity); every failure is a ValueError."""
    try:
        return json.loads(body, parse_constant=_no_constant)
    except RecursionError:
        raise ValueError("nested too deeply")
