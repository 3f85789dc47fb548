#!/usr/bin/python3
"""Tests of the DIP sandbox (dip_standin.py serve, the DIP API paths).

Standalone: /usr/bin/python3 tools/dip_standin/sandbox_test.py
It makes its own test PKI with `cryptography`, starts the sandbox (real
mutual TLS, real signatures) and a callback receiver on free ports, and
checks answers and the --outcomes file; waits poll with a deadline.
"""
import base64
import copy
import datetime
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.dont_write_bytecode = True


def _here():
    """This directory with its siblings: next to this file as invoked (a
    checkout, or Bazel runfiles, where the layout is the same), else where
    the file really is, else the Bazel runfiles tree."""
    candidates = [os.path.dirname(os.path.abspath(__file__)),
                  os.path.dirname(os.path.realpath(__file__))]
    if os.environ.get("TEST_SRCDIR"):
        candidates.append(os.path.join(os.environ["TEST_SRCDIR"],
                                       os.environ.get("TEST_WORKSPACE", "dipgate"),
                                       "tools", "dip_standin"))
    for d in candidates:
        if os.path.exists(os.path.join(d, "dip_standin.py")):
            return d
    raise SystemExit(f"sandbox_test: dip_standin.py not found in {candidates}")


HERE = _here()
sys.path.insert(0, HERE)

from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: E402
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: E402

import dip_peer  # noqa: E402
from dip_spec import Spec  # noqa: E402
from dip_standin import default_spec_dir  # noqa: E402

STANDIN = os.path.join(HERE, "dip_standin.py")
SAMPLE = os.path.join(HERE, "testdata", "if-033-appointment-request.json")
PRIMARY, SECONDARY = "sandbox-primary-key", "sandbox-secondary-key"
DEADLINE = 15.0


# -- a test PKI ------------------------------------------------------------------

def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dipgate sandbox test"),
                      x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _cert(subject_key, cn, issuer_key=None, issuer_name=None, ca=False, usage="sign",
          sans=()):
    now = datetime.datetime.now(datetime.timezone.utc)
    b = (x509.CertificateBuilder()
         .subject_name(_name(cn))
         .issuer_name(issuer_name or _name(cn))
         .public_key(subject_key.public_key())
         .serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=30))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    b = b.add_extension(x509.KeyUsage(
        digital_signature=not ca, content_commitment=False,
        key_encipherment=usage in ("server", "client"), data_encipherment=False,
        key_agreement=False, key_cert_sign=ca, crl_sign=ca, encipher_only=False,
        decipher_only=False), critical=True)
    if usage == "server":
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
    if usage == "client":
        b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return b.sign(issuer_key or subject_key, hashes.SHA256())


def make_pki(d):
    """CA, two nonprod signing identities (a participant's and the DIP's), a
    TLS server and a TLS client certificate, and a signer from another CA."""
    def key():
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def write(name, cert, k):
        with open(os.path.join(d, name + ".pem"), "wb") as f:
            f.write(cert.public_bytes(serialization.Encoding.PEM))
        with open(os.path.join(d, name + ".key"), "wb") as f:
            f.write(k.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))

    ca_key = key()
    ca = _cert(ca_key, "Sandbox Test CA", ca=True)
    write("ca", ca, ca_key)
    issue = {"issuer_key": ca_key, "issuer_name": ca.subject}
    k = key()
    write("signer", _cert(k, "energydip-nonprod.example.co.uk", **issue), k)
    k = ec.generate_private_key(ec.SECP256R1())
    write("dip-signer", _cert(k, "energydip-nonprod.dip.example.co.uk", **issue), k)
    k = key()
    write("server", _cert(k, "localhost", usage="server", sans=[
        x509.DNSName("localhost"), x509.IPAddress(__import__("ipaddress").ip_address(
            "127.0.0.1"))], **issue), k)
    k = key()
    write("client", _cert(k, "energydip-nonprod.client.example.co.uk", usage="client",
                          **issue), k)
    other_key = key()
    other = _cert(other_key, "Another CA", ca=True)
    k = key()
    write("untrusted-signer", _cert(k, "energydip-nonprod.example.co.uk",
                                    issuer_key=other_key, issuer_name=other.subject), k)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- the callback receiver (a participant's webhook endpoint) ------------------------

class Receiver:
    """An mTLS HTTPS server recording every callback; answers per path from a
    script (a list of statuses, consumed in order; 201 when empty)."""

    def __init__(self, pki):
        self.requests, self.scripts = [], {}
        self.cond = threading.Condition()
        receiver = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.cond:
                    script = receiver.scripts.get(self.path) or []
                    status = script.pop(0) if script else 201
                    receiver.requests.append({"path": self.path, "body": body, "status": status,
                                              "headers": {k.lower(): v for k, v in
                                                          self.headers.items()}})
                    receiver.cond.notify_all()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", "0")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(pki("server.pem"), pki("server.key"))
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(pki("ca.pem"))
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path):
        return f"https://localhost:{self.port}{path}"

    def received(self, path):
        with self.cond:
            return [r for r in self.requests if r["path"] == path]


# -- the tests ---------------------------------------------------------------------

class SandboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        started = time.monotonic()
        cls.dir = tempfile.mkdtemp(prefix="dip-sandbox-test-")
        make_pki(cls.dir)
        cls.receiver = Receiver(cls.pki)
        cls.outcomes = os.path.join(cls.dir, "outcomes.jsonl")
        cls.strict_outcomes = os.path.join(cls.dir, "strict-outcomes.jsonl")
        cls.port, cls.rate_port, cls.strict_port = free_port(), free_port(), free_port()
        common = ["--cert", cls.pki("server.pem"), "--key", cls.pki("server.key"),
                  "--client-ca", cls.pki("ca.pem")]
        cls.procs = [
            cls.start(cls.port, common + [
                "--ca", cls.pki("ca.pem"), "--api-key", PRIMARY, "--api-key", SECONDARY,
                "--environment", "DEV", "--max-body", "100000", "--outcomes", cls.outcomes,
                "--dip-cert", cls.pki("dip-signer.pem"), "--dip-key", cls.pki("dip-signer.key"),
                "--callback-ca", cls.pki("ca.pem"),
                "--callback-client-cert", cls.pki("client.pem"),
                "--callback-client-key", cls.pki("client.key"),
                "--retry-schedule", "0.05,0.05,0.05", "--batch-linger", "50"]),
            cls.start(cls.rate_port, common + ["--api-key", PRIMARY, "--rate", "1"]),
            cls.start(cls.strict_port, common + ["--api-key", PRIMARY, "--duplicates", "strict",
                                                 "--outcomes", cls.strict_outcomes]),
        ]
        for proc, ready, log in cls.procs:
            deadline = time.monotonic() + DEADLINE
            while not os.path.exists(ready):
                if proc.poll() is not None or time.monotonic() > deadline:
                    with open(log) as f:
                        raise RuntimeError("the sandbox did not start: " + f.read())
                time.sleep(0.02)
        cls.spec = Spec(default_spec_dir())
        cls.tls = ssl.create_default_context(cafile=cls.pki("ca.pem"))
        cls.tls.load_cert_chain(cls.pki("client.pem"), cls.pki("client.key"))
        with open(SAMPLE) as f:
            cls.sample = json.load(f)[0]
        print(f"setup {time.monotonic() - started:.1f}s", file=sys.stderr)

    @classmethod
    def tearDownClass(cls):
        logs = ""
        for proc, _, log in cls.procs:
            proc.terminate()
            proc.wait(10)
            with open(log) as f:
                logs += f.read()
        cls.receiver.server.shutdown()
        shutil.rmtree(cls.dir, ignore_errors=True)
        # A request the sandbox failed on shows as a traceback in its log.
        if "Traceback" in logs:
            raise AssertionError("the sandbox logged errors:\n" + logs)

    @classmethod
    def pki(cls, name):
        return os.path.join(cls.dir, name)

    @classmethod
    def start(cls, port, args):
        ready = os.path.join(cls.dir, f"ready-{port}")
        log = os.path.join(cls.dir, f"sandbox-{port}.log")
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        with open(log, "w") as f:
            proc = subprocess.Popen(["/usr/bin/python3", STANDIN, "serve", "--port", str(port),
                                     "--ready-file", ready] + args,
                                    stdout=f, stderr=subprocess.STDOUT, env=env)
        return proc, ready, log

    # -- helpers ---------------------------------------------------------------

    def message(self, recipients=("0140321855",), ref=None):
        m = copy.deepcopy(self.sample)
        m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] = (
            ref or f"S-033-1234567abc-SUP-20261201-{uuid.uuid4().hex}")
        m["payload"]["CommonBlock"]["A0"]["primaryRecipients"] = list(recipients)
        return m

    def call(self, path, body=None, method="POST", key=PRIMARY, sign=True, signer="signer",
             tamper=False, port=None):
        """Sends a request as a participant would; returns (status, headers, JSON or None)."""
        port = port or self.port
        if body is not None and not isinstance(body, bytes):
            body = json.dumps(body).encode()
        body = body or b""
        headers = {"Content-Type": "application/json"}
        if sign:
            with open(self.pki(signer + ".key"), "rb") as k, \
                    open(self.pki(signer + ".pem"), "rb") as c:
                headers.update(dip_peer.signature_headers(
                    method, f"https://localhost:{port}{path}", body, k.read(), c.read()))
        if key:
            headers["X-API-Key"] = key
        if tamper:
            body = body[:-2] + b" " + body[-2:]
        conn = http.client.HTTPSConnection("localhost", port, context=self.tls, timeout=20)
        try:
            conn.request(method, path, body=body if body or method != "DELETE" else None,
                         headers=headers)
            r = conn.getresponse()
            data = r.read()
        finally:
            conn.close()
        return r.status, r, json.loads(data) if data else None

    def outcome(self, match, count=1, path=None):
        """Waits (with a deadline) for `count` outcome lines matching a dict
        (in `path`, by default the first sandbox's --outcomes)."""
        path = path or self.outcomes
        deadline = time.monotonic() + DEADLINE
        while True:
            found = []
            if os.path.exists(path):
                with open(path) as f:
                    for line in f:
                        o = json.loads(line)
                        if all(o.get(k) == v for k, v in match.items()):
                            found.append(o)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                self.fail(f"no {count} outcome(s) matching {match} within {DEADLINE}s; "
                          f"found {found}")
            time.sleep(0.02)

    def subscribe(self, recipient, path, channel="IF-033", count=None):
        config = {"callbackURL": self.receiver.url(path)}
        if count:
            config["maxMessageCount"] = count
        status, _, body = self.call(f"/dip-channel/{channel}/pubconfig/{recipient}", config)
        self.assertEqual(status, 201, body)

    def deliver(self, recipient, path, messages):
        """Sends messages that must be accepted; returns their transactionIDs."""
        status, _, body = self.call("/dip-channel/IF-033", messages)
        self.assertEqual(status, 201, body)
        return [e["transactionID"] for e in body["messageArray"]]

    def assert_standard_response(self, body, count, message):
        errs = self.spec.errors(self.spec.ref("StandardResponse"), body)
        self.assertEqual(errs, [], body)
        self.assertEqual(len(body["timestamp"]), 25)
        self.assertEqual(len(body["messageArray"]), count)
        for e in body["messageArray"]:
            self.assertEqual(len(e), 10)
            self.assertEqual(e["message"], message, e)

    def assert_schema_failure(self, messages, pointer_text, failing=0):
        status, _, body = self.call("/dip-channel/IF-033", messages)
        self.assertEqual(status, 400, body)
        self.assert_standard_response(body, len(messages), "MSG1001 - Schema Failure")
        for e in body["messageArray"]:
            self.assertIsNone(e["transactionID"])
            self.assertIn(f"message {failing}", e["help"])
            self.assertIn(pointer_text, e["help"])
        return body

    # -- ingress ---------------------------------------------------------------

    def test_sample_accepted(self):
        m = self.message()
        status, _, body = self.call("/dip-channel/IF-033", [m])
        self.assertEqual(status, 201, body)
        self.assert_standard_response(body, 1, "MSG0000 - Success")
        e = body["messageArray"][0]
        s1 = m["payload"]["CommonBlock"]["S1"]
        self.assertRegex(e["transactionID"], r"^T-IF-033-8795183096-REGS-\d{8}-[0-9A-F]{16}$")
        self.assertLessEqual(len(e["transactionID"]), 65)
        self.assertEqual(e["senderUniqueReference"], s1["senderUniqueReference"])
        self.assertEqual(e["correlationID"], "123456")
        self.assertEqual(e["sentTimestamp"], s1["senderTimestamp"])
        self.assertEqual(e["senderID"], "8795183096")
        self.assertEqual(e["recipientID"], "0140321855")
        self.assertIsNone(e["DIPConnectionProviderID"])
        self.assertIsNone(e["help"])
        self.assertIsNone(e["serviceTicketURL"])
        self.assertRegex(body["timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")
        o = self.outcome({"event": "ingress", "transactionIDs": [e["transactionID"]]})[0]
        self.assertEqual((o["status"], o["channel"], o["codes"], o["api_key"]),
                         (201, "IF-033", ["MSG0000"], 0))
        self.assertEqual(o["senderUniqueReferences"], [s1["senderUniqueReference"]])
        # The same message on the lower-case path (the DIP ignores URL case).
        status, _, body = self.call("/DIP-Channel/if-033", [self.message()])
        self.assertEqual(status, 201, body)

    def test_api_keys(self):
        status, _, body = self.call("/dip-channel/IF-033", [self.message()], key=SECONDARY)
        self.assertEqual(status, 201, body)
        tid = body["messageArray"][0]["transactionID"]
        self.assertEqual(self.outcome({"transactionIDs": [tid]})[0]["api_key"], 1)
        for key, why in (("not-a-key", "invalid API key"), (None, "missing API key")):
            status, _, body = self.call("/dip-channel/IF-033", [self.message()], key=key)
            self.assertEqual(status, 401, body)
            self.assertIn(why, body["message"])

    def test_bad_signatures(self):
        status, _, body = self.call("/dip-channel/IF-033", [self.message()], tamper=True)
        self.assertEqual(status, 401, body)
        self.assertIn("content hash mismatch", body["message"])
        status, _, body = self.call("/dip-channel/IF-033", [self.message()],
                                    signer="untrusted-signer")
        self.assertEqual(status, 401, body)
        self.assertIn("not trusted", body["message"])
        status, _, body = self.call("/dip-channel/IF-033", [self.message()], sign=False)
        self.assertEqual(status, 401, body)
        self.assertIn("missing x-dip-signature", body["message"])

    def test_channel_mismatch_and_unknown_channel(self):
        status, _, body = self.call("/dip-channel/IF-034", [self.message()])
        self.assertEqual(status, 400, body)
        self.assert_standard_response(body, 1, "MSG1002 - Interface ID Invalid")
        self.assertIn("/0/payload/CommonBlock/S0/interfaceID", body["messageArray"][0]["help"])
        status, _, body = self.call("/dip-channel/IF-999", [self.message()])
        self.assertEqual(status, 404, body)
        self.outcome({"event": "ingress", "channel": "IF-999", "status": 404})

    def test_schema_failures(self):
        def bad(change):
            m = self.message()
            change(m["payload"])
            return m
        cases = [
            (lambda p: p["CommonBlock"]["M0"].update(MPANCore="123456789012"),
             "/payload/CommonBlock/M0/MPANCore", "too short"),
            (lambda p: p["CommonBlock"]["S1"].update(senderRoleID="ABCDEF"),
             "/payload/CommonBlock/S1/senderRoleID", "too long"),
            (lambda p: p["CustomBlock"]["B025"].update(energisationStatus="X"),
             "/payload/CustomBlock/B025/energisationStatus", "is not one of"),
            (lambda p: p["CommonBlock"]["S1"].update(colour="blue"),
             "/payload/CommonBlock/S1", "'colour' was unexpected"),
            (lambda p: p["CommonBlock"]["S1"].update(senderUniqueReference="REF-1"),
             "/payload/CommonBlock/S1/senderUniqueReference", "does not match"),
            (lambda p: p["CommonBlock"]["S0"].update(eventCode="[MSAppSPRequestX]"),
             "/payload/CommonBlock/S0/eventCode", "not an event code of IF-033"),
            (lambda p: p["CommonBlock"].pop("S1"), "/payload/CommonBlock", "'S1' is a required"),
        ]
        for change, where, why in cases:
            with self.subTest(where=where, why=why):
                # The bad message second in a batch of two: both entries refused.
                body = self.assert_schema_failure([self.message(), bad(change)], "/1" + where,
                                                  failing=1)
                self.assertIn(why, body["messageArray"][1]["help"])
                self.assertIn("message 0 is valid", body["messageArray"][0]["help"])

    def test_not_a_message_array(self):
        for raw, why in ((b"{not json", "body is not JSON"),
                         (json.dumps(self.message()).encode(), "got an object"),
                         (b"[]", "an empty array"),
                         (b"[1]", "/0: 1 is not of type 'object'"),
                         (b'[{"payload": NaN}]', "body is not JSON")):
            with self.subTest(raw=raw[:20]):
                status, _, body = self.call("/dip-channel/IF-033", raw)
                self.assertEqual(status, 400, body)
                self.assert_standard_response(body, 1, "MSG1001 - Schema Failure")
                self.assertIn(why, body["messageArray"][0]["help"])

    def test_environment_mismatch(self):
        m = self.message()
        m["payload"]["CommonBlock"]["S1"]["environmentTag"] = "SIT"
        status, _, body = self.call("/dip-channel/IF-033", [self.message(), m])
        self.assertEqual(status, 400, body)
        self.assert_standard_response(body, 2, "MSG1001 - Schema Failure")
        self.assertIn("/1/payload/CommonBlock/S1/environmentTag: 'SIT' is not this DIP's "
                      "environment (DEV)", body["messageArray"][1]["help"])

    def test_body_too_large(self):
        big = [self.message() for _ in range(60)]  # about 125 KB > --max-body 100000
        status, _, body = self.call("/dip-channel/IF-033", big)
        self.assertEqual(status, 413, body)
        # The connection and the sandbox are fine afterwards.
        self.assertEqual(self.call("/dip-channel/IF-033", [self.message()])[0], 201)

    def test_rate_limit(self):
        path = "/validate/IF-033/MSAppSPRequest"
        answers = [self.call(path, [self.message()], sign=False, port=self.rate_port)
                   for _ in range(3)]
        statuses = [a[0] for a in answers]
        self.assertEqual(statuses[0], 201)
        self.assertIn(429, statuses)
        limited = answers[statuses.index(429)]
        self.assertGreaterEqual(int(limited[1].getheader("Retry-After")), 1)

    def test_duplicate_sender_reference(self):
        recipient = "0000000006"
        self.subscribe(recipient, "/cb/dup")
        a, b = self.message([recipient]), self.message([recipient])
        first = self.deliver(recipient, "/cb/dup", [a, b])
        c = self.message([recipient])
        status, _, body = self.call("/dip-channel/IF-033", [a, c])
        self.assertEqual(status, 201, body)
        dup, new = body["messageArray"]
        self.assertEqual(dup["message"], "MSG1006 - Sender Unique Reference Duplicated")
        self.assertIsNone(dup["transactionID"])
        self.assertIn(first[0], dup["help"])
        self.assertEqual(new["message"], "MSG0000 - Success")
        o = self.outcome({"event": "ingress", "transactionIDs": [None, new["transactionID"]]})[0]
        self.assertEqual(o["codes"], ["MSG1006", "MSG0000"])
        self.assertEqual([r["transactionID"] for r in o["routed"]], [new["transactionID"]])
        self.outcome({"event": "delivered", "transactionIDs": [new["transactionID"]]})
        delivered = [d["payload"]["CommonBlock"]["D0"]["transactionID"]
                     for r in self.receiver.received("/cb/dup") for d in json.loads(r["body"])]
        self.assertEqual(sorted(delivered), sorted(first + [new["transactionID"]]))

    def test_duplicates_strict(self):
        """--duplicates strict: an array holding a resent message is refused
        whole (400), and nothing of it is accepted."""
        recipient = "0000000011"
        ingress = "/dip-channel/IF-033"
        dup_text = "MSG1006 - Sender Unique Reference Duplicated"
        a, b = self.message([recipient]), self.message([recipient])
        status, _, body = self.call(ingress, [a, b], port=self.strict_port)
        self.assertEqual(status, 201, body)
        self.assert_standard_response(body, 2, "MSG0000 - Success")
        first = [e["transactionID"] for e in body["messageArray"]]
        # The same array again: every entry MSG1006, naming its transactionID.
        status, _, body = self.call(ingress, [a, b], port=self.strict_port)
        self.assertEqual(status, 400, body)
        self.assert_standard_response(body, 2, dup_text)
        for i, (e, tid) in enumerate(zip(body["messageArray"], first)):
            self.assertIsNone(e["transactionID"])
            self.assertIn(f"message {i}: ", e["help"])
            self.assertIn(f"as {tid}", e["help"])
        # [new, resent, new]: refused whole; the new ones MSG1000.
        c, d = self.message([recipient]), self.message([recipient])
        status, _, body = self.call(ingress, [c, a, d], port=self.strict_port)
        self.assertEqual(status, 400, body)
        self.assertEqual(self.spec.errors(self.spec.ref("StandardResponse"), body), [], body)
        entries = body["messageArray"]
        self.assertEqual([e["message"] for e in entries],
                         ["MSG1000 - Message Processing Failed", dup_text,
                          "MSG1000 - Message Processing Failed"])
        self.assertEqual([e["transactionID"] for e in entries], [None] * 3)
        self.assertEqual([e["senderUniqueReference"] for e in entries],
                         [m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"]
                          for m in (c, a, d)])
        self.assertIn(first[0], entries[1]["help"])
        for i in (0, 2):
            self.assertIn(f"message {i} is valid", entries[i]["help"])
            self.assertIn("(message 1, MSG1006)", entries[i]["help"])
            self.assertIn("without the duplicate", entries[i]["help"])
        refs = [m["payload"]["CommonBlock"]["S1"]["senderUniqueReference"] for m in (c, a, d)]
        o = self.outcome({"event": "ingress", "status": 400, "senderUniqueReferences": refs},
                         path=self.strict_outcomes)[0]
        self.assertEqual((o["codes"], o["transactionIDs"], o["channel"]),
                         (["MSG1000", "MSG1006", "MSG1000"], [None] * 3, "IF-033"))
        self.assertNotIn("routed", o)
        # The same reference twice in one array: the second is the duplicate.
        e = self.message([recipient])
        status, _, body = self.call(ingress, [e, copy.deepcopy(e)], port=self.strict_port)
        self.assertEqual(status, 400, body)
        self.assertEqual([x["message"][:7] for x in body["messageArray"]],
                         ["MSG1000", "MSG1006"])
        self.assertIn("also message 0 of this array", body["messageArray"][1]["help"])
        # Nothing of the refused arrays was accepted: [new, new] alone is.
        status, _, body = self.call(ingress, [c, d], port=self.strict_port)
        self.assertEqual(status, 201, body)
        self.assert_standard_response(body, 2, "MSG0000 - Success")
        later = [x["transactionID"] for x in body["messageArray"]]
        status, _, body = self.call(ingress, [e], port=self.strict_port)
        self.assertEqual(status, 201, body)
        later += [body["messageArray"][0]["transactionID"]]
        # ... nor published: replay holds only the accepted ones.
        status, _, body = self.call(f"/dip-channel/IF-033/replay/{recipient}", self.request(),
                                    port=self.strict_port)
        self.assertEqual(status, 200, body)
        self.assertEqual([i["payload"]["CommonBlock"]["D0"]["transactionID"] for i in body],
                         first + later)
        # The default sandbox (--duplicates accept) still answers 201.
        status, _, body = self.call(ingress, [a])
        self.assertEqual(status, 201, body)
        status, _, body = self.call(ingress, [a, c])
        self.assertEqual(status, 201, body)
        self.assertEqual([x["message"][:7] for x in body["messageArray"]],
                         ["MSG1006", "MSG0000"])

    def test_method_not_allowed_and_unknown_path(self):
        status, r, body = self.call("/dip-channel/IF-033", method="GET")
        self.assertEqual(status, 405, body)
        self.assertEqual(r.getheader("Allow"), "POST")
        status, _, body = self.call("/dip-channel/IF-033/nothing/0000000001", {})
        self.assertEqual(status, 404, body)

    # -- webhooks ----------------------------------------------------------------

    def test_pubconfig_create_and_delete(self):
        path = "/dip-channel/IF-033/pubconfig/0000000002"
        status, _, body = self.call(path, {"callbackURL": self.receiver.url("/cb/x"),
                                           "maxMessageCount": 5, "maxPayloadSize": 100})
        self.assertEqual(status, 201, body)
        self.assertEqual(body["maxMessageCount"], 5)
        self.outcome({"event": "pubconfig", "action": "create", "recipient": "0000000002",
                      "status": 201})
        status, _, body = self.call(path, method="DELETE")
        self.assertEqual(status, 204, body)
        self.outcome({"event": "pubconfig", "action": "delete", "status": 204})
        status, _, body = self.call(path, method="DELETE")
        self.assertEqual(status, 404, body)
        for config, why in (({"maxMessageCount": 5}, "/callbackURL"),
                            ({"callbackURL": "https://x/y", "maxMessageCount": "ten"},
                             "/maxMessageCount: 'ten' is not of type 'number'"),
                            ({"callbackURL": "ftp://x/y"}, "not an http(s) URL")):
            status, _, body = self.call(path, config)
            self.assertEqual(status, 400, body)
            self.assertIn(why, body["message"])
        status, _, body = self.call("/dip-channel/IF-033/pubconfig/12345", {"callbackURL":
                                                                            "https://x/y"})
        self.assertEqual(status, 400, body)

    def test_egress_delivered_signed_with_d0(self):
        recipient = "0000000003"
        self.subscribe(recipient, "/cb/ok")
        tids = self.deliver(recipient, "/cb/ok", [self.message([recipient]) for _ in range(3)])
        o = self.outcome({"event": "delivered", "recipient": recipient})[0]
        self.assertEqual(o["transactionIDs"], tids)  # one batch, in order
        self.assertEqual((o["attempts"], o["status"], o["replay"]), (1, 201, False))
        [got] = self.receiver.received("/cb/ok")
        url = self.receiver.url("/cb/ok")
        ok, why, signer = dip_peer.verify_message("POST", url, got["headers"], got["body"])
        self.assertTrue(ok, why)
        self.assertIn("CN=energydip-nonprod.dip.example.co.uk", signer)
        self.assertEqual(got["headers"]["x-dip-mpo"], recipient)
        batch = json.loads(got["body"])
        self.assertEqual(len(batch), 3)
        for tid, item in zip(tids, batch):
            self.assertEqual(list(item), ["payload"])
            d0 = item["payload"]["CommonBlock"]["D0"]
            self.assertEqual(d0["transactionID"], tid)
            self.assertEqual(len(d0["transactionTimestamp"]), 25)
            self.assertEqual(d0["publicationID"], "PUB-033")
            self.assertEqual(d0["initialCorrelationID"], "123456")
            self.assertIs(d0["replayIndicator"], False)
            self.assertIsNone(d0["serviceTicketURL"])
            self.assertEqual(self.spec.payload_errors(item["payload"]), [])

    def test_egress_retries_503_then_delivers(self):
        recipient = "0000000004"
        self.receiver.scripts["/cb/retry"] = [503, 429, 503]
        self.subscribe(recipient, "/cb/retry")
        [tid] = self.deliver(recipient, "/cb/retry", [self.message([recipient])])
        o = self.outcome({"event": "delivered", "transactionIDs": [tid]})[0]
        self.assertEqual(o["attempts"], 4)
        attempts = self.outcome({"event": "callback_attempt", "transactionIDs": [tid]}, 4)
        self.assertEqual([(a["attempt"], a["status"]) for a in attempts],
                         [(1, 503), (2, 429), (3, 503), (4, 201)])

    def test_egress_no_retry_on_400(self):
        recipient = "0000000005"
        self.receiver.scripts["/cb/bad"] = [400, 400]
        self.subscribe(recipient, "/cb/bad")
        [tid] = self.deliver(recipient, "/cb/bad", [self.message([recipient])])
        o = self.outcome({"event": "gave_up", "transactionIDs": [tid]})[0]
        self.assertEqual((o["attempts"], o["status"]), (1, 400))
        self.assertIn("no retry on HTTP 400", o["why"])
        self.assertEqual(len(self.outcome({"event": "callback_attempt",
                                           "transactionIDs": [tid]})), 1)
        self.assertEqual(len(self.receiver.received("/cb/bad")), 1)

    def test_egress_gives_up_when_schedule_exhausted(self):
        recipient = "0000000010"
        self.receiver.scripts["/cb/down"] = [503] * 10
        self.subscribe(recipient, "/cb/down")
        [tid] = self.deliver(recipient, "/cb/down", [self.message([recipient])])
        o = self.outcome({"event": "gave_up", "transactionIDs": [tid]})[0]
        self.assertEqual(o["attempts"], 4)  # 1 + three retries of --retry-schedule
        self.assertIn("retry schedule exhausted", o["why"])

    # -- replay and requeue -------------------------------------------------------

    def request(self, **changes):
        now = datetime.datetime.now(datetime.timezone.utc)
        req = {"datetimeFrom": (now - datetime.timedelta(hours=1)).strftime(
                   "%Y-%m-%dT%H:%M:%S+00:00"),
               "datetimeTo": (now + datetime.timedelta(hours=1)).strftime(
                   "%Y-%m-%dT%H:%M:%S+00:00"),
               "eventCode": "[MSAppSPRequest]", "MPAN": "1234567890123", "version": "011"}
        req.update(changes)
        return req

    def test_replay(self):
        recipient = "0000000007"
        self.subscribe(recipient, "/cb/replay")
        tids = self.deliver(recipient, "/cb/replay", [self.message([recipient])
                                                       for _ in range(2)])
        self.outcome({"event": "delivered", "recipient": recipient})
        path = f"/dip-channel/IF-033/replay/{recipient}"
        status, _, body = self.call(path, self.request())
        self.assertEqual(status, 200, body)
        self.assertEqual([i["payload"]["CommonBlock"]["D0"]["transactionID"] for i in body], tids)
        for item in body:
            self.assertIs(item["payload"]["CommonBlock"]["D0"]["replayIndicator"], True)
            self.assertEqual(self.spec.payload_errors(item["payload"]), [])
        status, _, body = self.call(path, self.request(transactionIDs=[tids[1]]))
        self.assertEqual([i["payload"]["CommonBlock"]["D0"]["transactionID"] for i in body],
                         [tids[1]])
        for change in ({"MPAN": "9999999999999"}, {"eventCode": "[DSAppSPRequest]"},
                       {"datetimeTo": "2020-01-01T00:00:00+00:00"}):
            status, _, body = self.call(path, self.request(**change))
            self.assertEqual((status, body), (200, []), change)
        status, _, body = self.call(path, self.request(MPAN=None, eventCode=None, version=None))
        self.assertEqual(len(body), 2)
        req = self.request()
        del req["MPAN"]
        status, _, body = self.call(path, req)
        self.assertEqual(status, 400, body)
        self.assert_standard_response(body, 1, "MSG1001 - Schema Failure")
        self.assertIn("'MPAN' is a required property", body["messageArray"][0]["help"])

    def test_requeue(self):
        recipient = "0000000008"
        self.subscribe(recipient, "/cb/requeue")
        [tid] = self.deliver(recipient, "/cb/requeue", [self.message([recipient])])
        self.outcome({"event": "delivered", "transactionIDs": [tid], "replay": False})
        status, _, body = self.call(f"/dip-channel/IF-033/requeue/{recipient}",
                                    self.request(transactionIDs=[tid]))
        self.assertEqual(status, 200, body)
        self.assertEqual((body["totalTransactions"], body["status"]), (1, "Processing"))
        o = self.outcome({"event": "delivered", "transactionIDs": [tid], "replay": True})[0]
        self.assertEqual(o["recipient"], recipient)
        again = self.receiver.received("/cb/requeue")
        self.assertEqual(len(again), 2)
        d0 = json.loads(again[1]["body"])[0]["payload"]["CommonBlock"]["D0"]
        self.assertEqual((d0["transactionID"], d0["replayIndicator"]), (tid, True))
        status, _, body = self.call("/dip-channel/IF-033/requeue/0000000099", self.request())
        self.assertEqual(status, 400, body)
        self.assertEqual(body["messageArray"][0]["message"],
                         "MSG1030 - Msg Addressing / Routing Error")

    # -- status messages ----------------------------------------------------------

    def test_statusmessage(self):
        recipient = "8795183096"
        status, _, body = self.call(f"/statusmessage/config/{recipient}",
                                    {"callbackURL": self.receiver.url("/cb/status")})
        self.assertEqual(status, 201, body)
        entry = {"transactionID": "T-IF-033-8795183096-REGS-20261201-00000000000000AA",
                 "senderUniqueReference": "S-033-1234567abc-SUP-20261201-1",
                 "correlationID": "123456", "sentTimestamp": "2026-12-01T10:00:00+00:00",
                 "senderID": "0140321855", "recipientID": recipient,
                 "DIPConnectionProviderID": None, "message": "RCP0000 - Message Success",
                 "help": None, "serviceTicketURL": None}
        status, _, body = self.call("/statusmessage", [entry])
        self.assertEqual(status, 201, body)
        self.assert_standard_response(body, 1, "MSG0000 - Success")
        self.assertEqual(body["messageArray"][0]["transactionID"], entry["transactionID"])
        self.outcome({"event": "delivered", "kind": "statusmessage", "recipient": recipient})
        [got] = self.receiver.received("/cb/status")
        ok, why, _ = dip_peer.verify_message("POST", self.receiver.url("/cb/status"),
                                             got["headers"], got["body"])
        self.assertTrue(ok, why)
        self.assertEqual(json.loads(got["body"]), [entry])
        bad = dict(entry, senderID="00000000000")  # 11 characters, as in the spec's examples
        status, _, body = self.call("/statusmessage", [bad])
        self.assertEqual(status, 400, body)
        self.assertIn("/0/senderID", body["messageArray"][0]["help"])
        status, _, body = self.call(f"/statusmessage/config/{recipient}", method="DELETE")
        self.assertEqual(status, 204, body)

    # -- validation endpoint ------------------------------------------------------

    def test_validate(self):
        path = "/validate/IF-033/MSAppSPRequest"
        status, _, body = self.call(path, [self.message()], sign=False)
        self.assertEqual((status, body), (201, "Message OK"))
        m = self.message()
        m["payload"]["CommonBlock"]["M0"]["MPANCore"] = "12345678901X"
        status, _, body = self.call(path, [m], sign=False)
        self.assertEqual(status, 400, body)
        self.assertTrue(body.startswith("MSG1001 - Schema Failure: /0/payload/CommonBlock/M0/"
                                        "MPANCore"), body)
        status, _, body = self.call("/validate/IF-033/DSAppSPRequest", [self.message()],
                                    sign=False)
        self.assertEqual(status, 400, body)
        self.assertIn("eventCode", body)
        status, _, body = self.call("/validate/IF-033/NoSuchEvent", [self.message()], sign=False)
        self.assertEqual(status, 404, body)
        status, _, body = self.call(path, [self.message()], sign=False, key=None)
        self.assertEqual(status, 401, body)
        self.outcome({"event": "validate", "status": 201, "interface": "IF-033"})

    # -- the stand-in's own paths are unchanged -------------------------------------

    def test_other_paths_keep_standin_behaviour(self):
        status, _, body = self.call("/api/v1/IF-033", [self.message()])
        self.assertEqual(status, 200, body)
        self.assertTrue(body["verified"])
        self.assertEqual(body["api_key"], PRIMARY)
        status, _, body = self.call("/status/503", {})
        self.assertEqual(status, 503, body)

    def test_survives_garbage(self):
        conn = http.client.HTTPSConnection("localhost", self.port, context=self.tls, timeout=10)
        conn.request("POST", "/dip-channel/IF-033", body=b"[]", headers={
            "X-API-Key": PRIMARY, "X-DIP-Signature": "!!", "X-DIP-Signature-Date": "x",
            "X-DIP-Signature-Certificate": base64.b64encode(b"not a cert").decode(),
            "X-DIP-Content-Hash": dip_peer.content_hash(b"[]")})
        r = conn.getresponse()
        self.assertEqual(r.status, 401)
        self.assertIn(b"malformed DIP headers", r.read())
        conn.close()
        self.assertEqual(self.call("/dip-channel/IF-033", [self.message()])[0], 201)


if __name__ == "__main__":
    started = time.monotonic()
    result = unittest.main(exit=False, verbosity=2).result
    print(f"sandbox_test: {time.monotonic() - started:.1f}s", file=sys.stderr)
    sys.exit(0 if result.wasSuccessful() else 1)
