#!/usr/bin/env bash
# The main job, end to end on local defaults: set up the machine, build
# dipctl, make a test PKI like the DIP CA, sign the public sample DIP
# messages, verify them as a DIP relying party would, and show a tampered
# message and a revoked signer being refused with their reasons.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "setting up the machine (deploy/setup.sh)"
deploy/setup.sh

step "building dipctl"
bazel build -c opt //cli:dipctl 2>&1 | grep -E "^(ERROR|Target|  bazel-bin)" || true
DIPCTL="$(bazel info -c opt bazel-bin 2>/dev/null)/cli/dipctl"

WORK="$(mktemp -d /tmp/dipgate-demo.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
PKI="$WORK/pki"
TRUST=(--ca "$PKI/ca-bundle.pem" --crl "$PKI/crls.pem" --env nonprod)

step "creating a test PKI in $PKI (RSA-4096 root and issuing CA, RSA-2048 and P-256 signers)"
"$DIPCTL" pki --out "$PKI" --domain example.co.uk >/dev/null

for msg in tests/data/*.json; do
  name=$(basename "$msg" .json)
  interface=$(echo "$name" | cut -d- -f1,2 | tr a-z A-Z)
  url="https://ingress.dip.example.co.uk/api/v1/messages/$interface"
  step "$name: signing POST $url"
  "$DIPCTL" sign --cert "$PKI/signer-rsa.pem" --key "$PKI/signer-rsa.key" \
      --url "$url" --body "$msg" > "$WORK/$name.headers"
  cut -c1-90 "$WORK/$name.headers" | sed 's/$/.../'
  step "$name: verifying as the receiving party"
  "$DIPCTL" verify --url "$url" --headers "$WORK/$name.headers" --body "$msg" "${TRUST[@]}"
done

step "a tampered message (one byte of the body changed after signing) is refused"
first=$(ls tests/data/*.json | head -1)
name=$(basename "$first" .json)
sed 's/1/2/' "$first" > "$WORK/tampered.json"
interface=$(echo "$name" | cut -d- -f1,2 | tr a-z A-Z)
"$DIPCTL" verify --url "https://ingress.dip.example.co.uk/api/v1/messages/$interface" \
    --headers "$WORK/$name.headers" --body "$WORK/tampered.json" "${TRUST[@]}" && exit 1 || true

step "a message signed with a revoked certificate is refused"
"$DIPCTL" sign --cert "$PKI/signer-revoked.pem" --key "$PKI/signer-revoked.key" \
    --url https://ingress.dip.example.co.uk/api/v1/messages/IF-033 --body "$first" > "$WORK/revoked.headers"
"$DIPCTL" verify --url https://ingress.dip.example.co.uk/api/v1/messages/IF-033 \
    --headers "$WORK/revoked.headers" --body "$first" "${TRUST[@]}" && exit 1 || true

step "done: both samples verified; the tampered and revoked messages were refused"
