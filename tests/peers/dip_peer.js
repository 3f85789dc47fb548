#!/usr/bin/env node
// An independent DIP signer/verifier on Node.js's crypto module, written the
// way the Postman pre-request script and .NET senders behave. Same command
// line as dip_peer.py:
//   dip_peer.js sign --variant postman|go|dotnet --key K --cert C --method M
//                    --url U --body F --date D [--ecdsa der|p1363]
//   dip_peer.js verify --method M --url U --body F --headers F
'use strict';
const crypto = require('crypto');
const fs = require('fs');

function parse(argv) {
  const out = {cmd: argv[0]};
  for (let i = 1; i < argv.length; i += 2) out[argv[i].replace(/^--/, '')] = argv[i + 1];
  return out;
}

function contentHash(body) {
  return crypto.createHash('sha256').update(body.length ? body : Buffer.from('{}')).digest('base64');
}

function sign(a) {
  const body = a.body ? fs.readFileSync(a.body) : Buffer.alloc(0);
  const pem = fs.readFileSync(a.cert, 'latin1');
  const key = crypto.createPrivateKey(fs.readFileSync(a.key));
  const variant = a.variant || 'postman';
  let destination = a.url.toLowerCase();
  let certHeader = Buffer.from(pem, 'latin1').toString('base64');
  if (variant === 'dotnet') {
    // System.Uri's string form: scheme and host lower-cased, path as given.
    const u = a.url.match(/^([^:]+:\/\/[^/]*)(.*)$/);
    destination = u[1].toLowerCase() + u[2];
    certHeader = new crypto.X509Certificate(pem).raw.toString('base64');
  } else if (variant === 'go') {
    certHeader = Buffer.from(pem.replace(/\r\n/g, '\n'), 'latin1').toString('base64');
  }
  const hash = contentHash(body);
  const message = `${(a.method || 'POST').toUpperCase()};${destination};${a.date};${hash}`;
  const options = {key};
  if (key.asymmetricKeyType === 'ec') options.dsaEncoding = a.ecdsa === 'p1363' ? 'ieee-p1363' : 'der';
  const sig = crypto.sign('sha256', Buffer.from(message), options);
  console.log(`X-DIP-Signature: ${sig.toString('base64')}`);
  console.log(`X-DIP-Signature-Date: ${a.date}`);
  console.log(`X-DIP-Signature-Certificate: ${certHeader}`);
  console.log(`X-DIP-Content-Hash: ${hash}`);
  return 0;
}

function verify(a) {
  const headers = {};
  for (const line of fs.readFileSync(a.headers, 'utf8').split('\n')) {
    const i = line.indexOf(':');
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const body = a.body ? fs.readFileSync(a.body) : Buffer.alloc(0);
  const hash = contentHash(body);
  if (headers['x-dip-content-hash'] !== hash) {
    console.log('content hash mismatch');
    return 1;
  }
  const raw = Buffer.from(headers['x-dip-signature-certificate'], 'base64');
  const cert = new crypto.X509Certificate(raw);
  const message = `${(a.method || 'POST').toUpperCase()};${a.url.toLowerCase()};` +
      `${headers['x-dip-signature-date']};${hash}`;
  const sig = Buffer.from(headers['x-dip-signature'], 'base64');
  const options = {key: cert.publicKey};
  if (cert.publicKey.asymmetricKeyType === 'ec') {
    options.dsaEncoding = sig.length === 64 ? 'ieee-p1363' : 'der';
  }
  if (!crypto.verify('sha256', Buffer.from(message), options, sig)) {
    console.log('signature mismatch');
    return 1;
  }
  console.log('ok');
  return 0;
}

const args = parse(process.argv.slice(2));
process.exit(args.cmd === 'sign' ? sign(args) : verify(args));
