#!/usr/bin/env python3
"""A stand-in for the DIP ingress: an HTTPS (or HTTP) server that verifies
the DIP signature headers of every request independently of dipgate (Python
`cryptography`, see dip_peer.py) and answers with JSON describing what it
saw. Point a system that signs DIP requests at it to rehearse before
onboarding.

  dip_ingress.py --port P [--cert C --key K [--client-ca CA]] [--ready-file F]

With --accept-all it answers 200 whatever it finds (an echo upstream).
With --client-ca the server requires a client certificate from that CA
(mutual TLS, TLS 1.2 or later). Each response carries:
  {"verified": bool, "why": str, "method", "path", "api_key", "content_hash",
   "body_sha256", "connection_requests": n, "signer": subject}
Paths /status/<code> answer with that HTTP status. --behaviour-file scripts
the next answers (an HTTP code, "slow MS" or "reset", each for N requests),
and --record appends every accepted request (2xx) as a JSON line.
"""
import argparse
import hashlib
import json
import os
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dip_peer import verify_message  # noqa: E402


def verify(method, url, headers, body):
    if len(headers.get_all("X-DIP-Signature") or []) > 1:
        return False, "duplicate X-DIP-Signature", ""
    return verify_message(method, url, {k.lower(): v for k, v in headers.items()}, body)


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
                step_left = step[:-1] + [str(count)]
                lines[0] = step_left
            with open(path + ".tmp", "w") as f:
                f.write("".join(" ".join(l) + "\n" for l in lines))
            os.replace(path + ".tmp", path)
            return step

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        step = self.behaviour()
        if step and step[0] == "reset":
            self.connection.close()
            return
        if step and step[0] == "slow":
            import time
            time.sleep(int(step[1]) / 1000.0)
        self.connection_requests = getattr(self, "connection_requests", 0) + 1
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        url = f"{scheme}://{self.headers.get('Host')}{self.path}"
        ok, why, signer = verify(self.command, url, self.headers, body)
        status = 200 if ok or self.server.accept_all else 401
        if self.path.startswith("/status/"):
            status = int(self.path.split("/")[2])
        extra_headers = []
        if step and step[0].isdigit():
            status = int(step[0])
            if status == 429:
                extra_headers.append(("Retry-After", "1"))
        if self.server.record_file and status < 300:
            with self.server.lock:
                with open(self.server.record_file, "a") as f:
                    cert = self.headers.get("X-DIP-Signature-Certificate") or ""
                    f.write(json.dumps({"verified": ok, "why": why, "path": self.path,
                                        "cert_sha256": hashlib.sha256(cert.encode()).hexdigest(),
                                        "api_key": self.headers.get("X-API-KEY"),
                                        "body": body.decode("utf-8", "replace")}) + "\n")
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

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = handle_any


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--client-ca")
    p.add_argument("--ready-file")
    p.add_argument("--behaviour-file", help="scripted answers, see Handler.behaviour")
    p.add_argument("--record", help="append a JSON line per accepted request")
    p.add_argument("--accept-all", action="store_true",
                   help="answer 200 even when the signature does not verify (an echo upstream)")
    a = p.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.accept_all = a.accept_all
    server.behaviour_file = a.behaviour_file
    server.record_file = a.record
    import threading
    server.lock = threading.Lock()
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


if __name__ == "__main__":
    main()
