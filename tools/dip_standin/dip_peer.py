#!/usr/bin/env python3
"""An independent DIP signer/verifier on Python's `cryptography` package.

It implements the scheme from the CoCo and the interop notes on its own (no
dipgate code), so the tests can check that what dipgate verifies was made by
someone else, and that what dipgate signs verifies elsewhere.

  dip_peer.py sign --variant postman|go|dotnet --key K --cert C --method M
                   --url U --body F --date D [--ecdsa der|p1363]
      prints the DIP headers, one "Name: value" per line
  dip_peer.py verify --method M --url U --body F --headers F
      prints "ok" and exits 0, or prints why not and exits 1
"""
import argparse
import base64
import datetime
import hashlib
import sys

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature, encode_dss_signature)


def content_hash(body: bytes) -> str:
    return base64.b64encode(hashlib.sha256(body if body else b"{}").digest()).decode()


def signature_headers(method, url, body, key_pem, cert_pem, variant="postman", date=None,
                      ecdsa_encoding="der"):
    """The four DIP headers over one request, as a dict, signed the way the
    named sender variant does it (see ../shared/interop/README.md)."""
    key = serialization.load_pem_private_key(key_pem, None)
    cert = x509.load_pem_x509_certificate(cert_pem)
    if date is None:
        date = datetime.datetime.now(datetime.timezone.utc).strftime(
            "%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    if variant == "dotnet":
        # The C# reference signs System.Uri's string form: scheme and host
        # canonicalised to lower case, path and query as given.
        scheme, rest = url.split("://", 1)
        host, sep, path = rest.partition("/")
        destination = f"{scheme.lower()}://{host.lower()}{sep}{path}"
        cert_header = base64.b64encode(cert.public_bytes(serialization.Encoding.DER))
    elif variant == "go":
        destination = url.lower()
        cert_header = base64.b64encode(cert_pem.replace(b"\r\n", b"\n"))
    else:  # postman
        destination = url.lower()
        cert_header = base64.b64encode(cert_pem)
    h = content_hash(body)
    message = f"{method.upper()};{destination};{date};{h}".encode()
    if isinstance(key, rsa.RSAPrivateKey):
        sig = key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    else:
        sig = key.sign(message, ec.ECDSA(hashes.SHA256()))
        if ecdsa_encoding == "p1363":
            r, s = decode_dss_signature(sig)
            sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return {
        "X-DIP-Signature": base64.b64encode(sig).decode(),
        "X-DIP-Signature-Date": date,
        "X-DIP-Signature-Certificate": cert_header.decode(),
        "X-DIP-Content-Hash": h,
    }


def sign(args):
    body = open(args.body, "rb").read() if args.body else b""
    headers = signature_headers(args.method, args.url, body, open(args.key, "rb").read(),
                                open(args.cert, "rb").read(), args.variant, args.date,
                                args.ecdsa)
    for name, value in headers.items():
        print(f"{name}: {value}")


def certificate_from_header(value):
    """The certificate in an X-DIP-Signature-Certificate value: base64 of DER,
    or base64 of PEM (as Postman and Go send it)."""
    raw = base64.b64decode(value)
    return (x509.load_pem_x509_certificate(raw) if raw.startswith(b"-----BEGIN")
            else x509.load_der_x509_certificate(raw))


def verify_message(method, url, headers, body):
    """Checks DIP headers (a dict with lower-case names) over a request.
    Returns (ok, why, signer subject)."""
    for name in ("x-dip-signature", "x-dip-signature-date", "x-dip-signature-certificate",
                 "x-dip-content-hash"):
        if not headers.get(name):
            return False, f"missing {name}", ""
    h = content_hash(body)
    if headers["x-dip-content-hash"] != h:
        return False, "content hash mismatch", ""
    cert = certificate_from_header(headers["x-dip-signature-certificate"])
    message = f"{method.upper()};{url.lower()};{headers['x-dip-signature-date']};{h}".encode()
    sig = base64.b64decode(headers["x-dip-signature"])
    key = cert.public_key()
    subject = cert.subject.rfc4514_string()
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            if len(sig) == 64:
                sig = encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                           int.from_bytes(sig[32:], "big"))
            key.verify(sig, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False, f"signature mismatch over {message[:120]!r}", subject
    return True, "ok", subject


def verify(args):
    headers = {}
    for line in open(args.headers, encoding="utf-8"):
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    body = open(args.body, "rb").read() if args.body else b""
    ok, why, _ = verify_message(args.method, args.url, headers, body)
    print("ok" if ok else why)
    return 0 if ok else 1


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("sign")
    s.add_argument("--variant", choices=["postman", "go", "dotnet"], default="postman")
    s.add_argument("--key", required=True)
    s.add_argument("--cert", required=True)
    s.add_argument("--method", default="POST")
    s.add_argument("--url", required=True)
    s.add_argument("--body")
    s.add_argument("--date", required=True)
    s.add_argument("--ecdsa", choices=["der", "p1363"], default="der")
    v = sub.add_parser("verify")
    v.add_argument("--method", default="POST")
    v.add_argument("--url", required=True)
    v.add_argument("--body")
    v.add_argument("--headers", required=True)
    args = p.parse_args()
    if args.cmd == "sign":
        sign(args)
        return 0
    return verify(args)


if __name__ == "__main__":
    sys.exit(main())
