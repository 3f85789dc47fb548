#!/usr/bin/env python3
"""A stand-in for the DIP, to rehearse DIP messaging before onboarding.

It is independent of dipgate: signatures are made and checked with Python's
`cryptography` package (dip_peer.py) and certificate chains with the
`openssl verify` command, so it also checks dipgate itself in the tests.

  dip_standin.py serve --port P [--cert C --key K [--client-ca CA]]
                       [--ca BUNDLE [--crl CRL]...] [--record F] [--log]
      An HTTPS ingress like the DIP's (CoCo 12.3.1): with --client-ca it
      requires mutual TLS (TLS 1.2 or later) with a client certificate from
      that CA; every request's DIP headers are verified (content hash,
      signature string, RSA or ECDSA signature and, with --ca, the signing
      certificate's chain and CRLs). It answers 200 and a JSON report when
      the message verifies, 401 and the reason when it does not.

  dip_standin.py send --url U --cert C --key K [--body F] [--method M]
                      [--client-cert C --client-key K] [--server-ca CA]
                      [--api-key K] [--tamper] [--variant postman|go|dotnet]
      Sends a signed message the way the DIP sends webhooks (CoCo 12.3.2):
      signs it, connects with the client certificate and prints the HTTP
      status and the answer; exits 0 on 2xx. --tamper changes one byte of
      the body after signing, to see a receiver refuse it.

  On the DIP API paths (/dip-channel/..., /statusmessage..., /validate/...)
  serve is the DIP sandbox (dip_sandbox.py): API keys, signatures, schema
  validation against the DIP's OpenAPI spec (dip_spec.py), StandardResponse
  answers, webhook configuration and signed callbacks with retries
  (dip_egress.py), replay, requeue, status messages and validation
  endpoints, each outcome a JSON line in --outcomes. Its options: --spec,
  --api-key, --environment, --max-body, --rate, --latency, --outcomes,
  --dip-cert/--dip-key, --callback-ca, --callback-client-cert/-key,
  --retry-schedule, --batch-linger, --callback-timeout, --dip-mpo,
  --duplicates (docs/dip-standin.md).

Test options of serve: --accept-all answers 200 whatever it finds (an echo
upstream); paths /status/<code> answer with that code; --behaviour-file
scripts the next answers (an HTTP code, "slow MS" or "reset", each for N
requests); --record appends every accepted request (2xx) as a JSON line.
Outside the DIP API paths each answer is JSON: {"verified", "why", "method",
"path", "api_key", "content_hash", "body_sha256", "connection_requests",
"signer", "headers"}.
"""
import argparse
import hashlib
import json
import os
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cryptography.hazmat.primitives import serialization  # noqa: E402
from dip_peer import certificate_from_header, signature_headers, verify_message  # noqa: E402


def is_dip_path(path):
    """The DIP API paths (the sandbox's); every other path is the stand-in's."""
    p = path.split("?", 1)[0].lower()
    return (p.startswith("/dip-channel/") or p == "/statusmessage"
            or p.startswith("/statusmessage/") or p.startswith("/validate/"))


def default_spec_dir():
    """third_party/dip_api of the tree this file is in (a checkout or Bazel
    runfiles: <root>/tools/dip_standin/dip_standin.py)."""
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(os.path.dirname(os.path.dirname(here)), "third_party", "dip_api")


class ChainChecker:
    """Checks signing certificates (PEM) against a CA bundle (and CRLs) with
    the openssl command, caching each certificate's answer."""

    def __init__(self, ca, crls):
        self.ca = ca
        self.crls = crls or []
        self.cache = {}
        self.lock = threading.Lock()

    def check(self, cert_pem):
        digest = hashlib.sha256(cert_pem).hexdigest()
        with self.lock:
            if digest in self.cache:
                return self.cache[digest]
        with tempfile.NamedTemporaryFile(suffix=".pem") as f:
            f.write(cert_pem)
            f.flush()
            cmd = ["openssl", "verify", "-purpose", "any", "-CAfile", self.ca]
            if self.crls:
                cmd.append("-crl_check_all")
                for crl in self.crls:
                    cmd += ["-CRLfile", crl]
            r = subprocess.run(cmd + [f.name], capture_output=True, text=True)
        ok = r.returncode == 0
        why = "ok" if ok else "certificate not trusted: " + " ".join(
            line for line in (r.stdout + r.stderr).splitlines() if "error" in line)[:300]
        with self.lock:
            self.cache[digest] = (ok, why)
        return ok, why


def verify(server, method, url, headers, body):
    if len(headers.get_all("X-DIP-Signature") or []) > 1:
        return False, "duplicate X-DIP-Signature", ""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        ok, why, signer = verify_message(method, url, lower, body)
    except Exception as e:  # malformed base64, certificate or signature
        return False, f"malformed DIP headers: {e}", ""
    if ok and server.chain:
        cert = certificate_from_header(lower["x-dip-signature-certificate"])
        ok, why = server.chain.check(cert.public_bytes(serialization.Encoding.PEM))
    return ok, why, signer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive

    def log_message(self, fmt, *args):
        pass

    def behaviour(self):
        """Takes one step of the --behaviour-file: lines "CODE N", "slow MS N"
        or "reset N" apply to the next N requests, in order."""
        path = self.server.behaviour_file
        if not path:
            return None
        with self.server.lock:
            try:
                lines = [l.split() for l in open(path).read().splitlines() if l.strip()]
            except FileNotFoundError:
                return None
            if not lines:
                return None
            step = lines[0]
            count = int(step[-1]) - 1
            if count <= 0:
                lines.pop(0)
            else:
                lines[0] = step[:-1] + [str(count)]
            with open(path + ".tmp", "w") as f:
                f.write("".join(" ".join(l) + "\n" for l in lines))
            os.replace(path + ".tmp", path)
            return step

    def record(self, ok, why, signer, body, **times):
        """--record: one JSON line per accepted (2xx) request; `times` (the
        sandbox's received/answered) are added as they are."""
        with self.server.lock:
            with open(self.server.record_file, "a") as f:
                cert = self.headers.get("X-DIP-Signature-Certificate") or ""
                f.write(json.dumps({"verified": ok, "why": why, "path": self.path,
                                    "signer": signer,
                                    "cert_sha256": hashlib.sha256(cert.encode()).hexdigest(),
                                    "api_key": self.headers.get("X-API-KEY"),
                                    "body": body.decode("utf-8", "replace"), **times}) + "\n")

    def handle_any(self):
        if is_dip_path(self.path):
            return self.handle_dip()
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        step = self.behaviour()
        if step and step[0] == "reset":
            self.connection.close()
            return
        if step and step[0] == "slow":
            time.sleep(int(step[1]) / 1000.0)
        self.connection_requests = getattr(self, "connection_requests", 0) + 1
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        url = f"{scheme}://{self.headers.get('Host')}{self.path}"
        ok, why, signer = verify(self.server, self.command, url, self.headers, body)
        status = 200 if ok or self.server.accept_all else 401
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        extra_headers = []
        if step and step[0].isdigit():
            status = int(step[0])
            if status == 429:
                extra_headers.append(("Retry-After", "1"))
        if self.server.log:
            print(f"{self.command} {self.path} -> {status} "
                  f"{'verified' if ok else 'REJECTED: ' + why} signer=\"{signer}\"", flush=True)
        if self.server.record_file and status < 300:
            self.record(ok, why, signer, body)
        reply = json.dumps({
            "verified": ok, "why": why, "method": self.command, "path": self.path,
            "api_key": self.headers.get("X-API-KEY"),
            "content_hash": self.headers.get("X-DIP-Content-Hash"),
            "body_sha256": hashlib.sha256(body).hexdigest(),
            "connection_requests": self.connection_requests, "signer": signer,
            "headers": {k: v for k, v in self.headers.items()},
        }).encode() + b"\n"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply)

    def handle_dip(self):
        """The DIP API paths: the sandbox (dip_sandbox.py)."""
        if self.server.sandbox:
            return self.server.sandbox.handle(self)
        reply = json.dumps({"statusCode": 503, "message": "DIP sandbox not available: "
                            + self.server.sandbox_why}).encode()
        self.send_response(503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        self.wfile.write(reply)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def make_sandbox(server, a):
    """The DIP sandbox for the DIP API paths, or (None, why) when its spec or
    Python packages are missing (the other paths work without it)."""
    spec_dir = a.spec or default_spec_dir()
    try:
        from dip_spec import Spec
        from dip_sandbox import Outcomes, Sandbox
        from dip_egress import Egress
        spec = Spec(spec_dir)
    except (ImportError, OSError) as e:
        if a.spec:
            raise SystemExit(f"dip_standin: cannot load the DIP spec from {spec_dir}: {e}")
        print(f"dip_standin: DIP sandbox off ({e}); DIP API paths answer 503",
              file=sys.stderr, flush=True)
        return None, str(e)
    if a.environment and a.environment not in spec.environments:
        raise SystemExit(f"dip_standin: --environment must be one of {spec.environments}")
    try:
        schedule = [float(x) for x in a.retry_schedule.split(",") if x.strip()]
        if any(x < 0 for x in schedule):
            raise ValueError
    except ValueError:
        raise SystemExit("dip_standin: --retry-schedule is a comma list of seconds")
    try:
        outcomes = Outcomes(a.outcomes)
        egress = Egress(outcomes, a.dip_cert, a.dip_key, a.callback_ca, a.callback_client_cert,
                        a.callback_client_key, schedule, a.batch_linger / 1000.0,
                        a.callback_timeout, a.dip_mpo)
    except (OSError, ssl.SSLError) as e:
        raise SystemExit(f"dip_standin: {e}")
    return Sandbox(spec, a, lambda m, u, h, b: verify(server, m, u, h, b), outcomes, egress), ""


def serve(a):
    server = ThreadingHTTPServer((a.listen, a.port), Handler)
    server.accept_all = a.accept_all
    server.behaviour_file = a.behaviour_file
    server.record_file = a.record
    server.log = a.log
    server.chain = ChainChecker(a.ca, a.crl) if a.ca else None
    server.lock = threading.Lock()
    server.sandbox, server.sandbox_why = make_sandbox(server, a)
    if a.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.load_cert_chain(a.cert, a.key)
        if a.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(a.client_ca)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    if a.ready_file:
        with open(a.ready_file, "w") as f:
            f.write("ready\n")
    server.serve_forever()


def send(a):
    body = open(a.body, "rb").read() if a.body else b""
    headers = signature_headers(a.method, a.url, body, open(a.key, "rb").read(),
                                open(a.cert, "rb").read(), a.variant)
    if a.api_key:
        headers["X-API-KEY"] = a.api_key
    headers["Content-Type"] = "application/json"
    if a.tamper and body:
        i = len(body) // 2
        body = body[:i] + bytes([body[i] ^ 0x01]) + body[i + 1:]
    ctx = None
    if a.url.startswith("https:"):
        ctx = ssl.create_default_context(cafile=a.server_ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        if a.client_cert:
            ctx.load_cert_chain(a.client_cert, a.client_key)
    request = urllib.request.Request(a.url, data=body if body or a.method != "GET" else None,
                                     method=a.method.upper(), headers=headers)
    try:
        with urllib.request.urlopen(request, context=ctx, timeout=30) as r:
            status, answer = r.status, r.read()
    except urllib.error.HTTPError as e:
        status, answer = e.code, e.read()
    except (urllib.error.URLError, OSError) as e:
        print(f"could not send to {a.url}: {e}", file=sys.stderr)
        return 3
    print(status)
    sys.stdout.write(answer.decode("utf-8", "replace"))
    return 0 if 200 <= status < 300 else 1


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run the DIP ingress stand-in")
    s.add_argument("--port", type=int, required=True)
    s.add_argument("--listen", default="127.0.0.1")
    s.add_argument("--cert", help="server certificate (PEM); without it, plain HTTP")
    s.add_argument("--key")
    s.add_argument("--client-ca", help="require client certificates from this CA (mTLS)")
    s.add_argument("--ca", help="check signing certificates against this CA bundle")
    s.add_argument("--crl", action="append", help="and against these CRLs (repeatable)")
    s.add_argument("--ready-file")
    s.add_argument("--log", action="store_true", help="print one line per request")
    s.add_argument("--behaviour-file", help="scripted answers, see Handler.behaviour")
    s.add_argument("--record", help="append a JSON line per accepted request")
    s.add_argument("--accept-all", action="store_true",
                   help="answer 200 even when the signature does not verify (an echo upstream)")
    d = s.add_argument_group("DIP sandbox (the DIP API paths, see docs/dip-standin.md)")
    d.add_argument("--spec", help="directory of the DIP OpenAPI YAML "
                   "(default: third_party/dip_api of this tree)")
    d.add_argument("--api-key", action="append",
                   help="accepted X-API-Key (repeatable: primary, secondary); "
                   "default: any non-empty key")
    d.add_argument("--environment", help="the only S1.environmentTag accepted "
                   "(PRD, SITB, SIT, UIT or DEV); default: any of them")
    d.add_argument("--max-body", type=int, default=1048576,
                   help="largest request body in bytes, 413 beyond (default 1048576)")
    d.add_argument("--rate", type=float, default=0,
                   help="requests per second per API key, 429 beyond (token bucket, "
                   "burst = rate; default 0 = no limit)")
    d.add_argument("--latency", type=int, default=0,
                   help="milliseconds added before each answer (default 0)")
    d.add_argument("--outcomes", help="append one JSON line per event (answers, callbacks)")
    d.add_argument("--dip-cert", help="the DIP's signing certificate for callbacks (PEM)")
    d.add_argument("--dip-key", help="its private key (PEM, unencrypted)")
    d.add_argument("--callback-ca", help="CA bundle to check callback servers "
                   "(default: the system's)")
    d.add_argument("--callback-client-cert", help="TLS client certificate for callbacks (mTLS)")
    d.add_argument("--callback-client-key")
    d.add_argument("--retry-schedule", default="0.2,0.5,1,2,5",
                   help="seconds between callback attempts (default 0.2,0.5,1,2,5)")
    d.add_argument("--batch-linger", type=int, default=200,
                   help="milliseconds a callback batch waits to fill (default 200)")
    d.add_argument("--callback-timeout", type=float, default=10.0,
                   help="seconds per callback attempt (default 10)")
    d.add_argument("--dip-mpo", default="recipient",
                   help="X-DIP-MPO header on callbacks: 'recipient' (the recipient-id), "
                   "'none' (omitted) or a fixed value (default recipient)")
    d.add_argument("--duplicates", choices=["accept", "strict"], default="accept",
                   help="an ingress array with a resent senderUniqueReference (MSG1006): "
                   "'accept' answers 201 and accepts the others, 'strict' refuses the "
                   "whole array with 400 (default accept)")
    w = sub.add_parser("send", help="send a signed message, as the DIP sends webhooks")
    w.add_argument("--url", required=True)
    w.add_argument("--cert", required=True, help="signing certificate (PEM)")
    w.add_argument("--key", required=True, help="signing key (PEM, unencrypted)")
    w.add_argument("--body")
    w.add_argument("--method", default="POST")
    w.add_argument("--variant", choices=["postman", "go", "dotnet"], default="postman")
    w.add_argument("--client-cert", help="TLS client certificate (mTLS)")
    w.add_argument("--client-key")
    w.add_argument("--server-ca", help="CA bundle to check the receiver's certificate")
    w.add_argument("--api-key")
    w.add_argument("--tamper", action="store_true",
                   help="change one byte of the body after signing")
    a = p.parse_args()
    return serve(a) if a.cmd == "serve" else send(a)


if __name__ == "__main__":
    sys.exit(main())
