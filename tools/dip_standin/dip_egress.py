"""The DIP sandbox's egress: webhook deliveries to registered callbacks.

Messages are queued per subscription (kind, channel, recipient), batched up
to the subscription's maxMessageCount (and maxPayloadSize, in KB) or until
--batch-linger has passed since the oldest queued message, signed with the
sandbox's own DIP identity (dip_peer, the Postman scheme: the destination is
the callback URL lower-cased) and POSTed over HTTPS (mutual TLS with the
--callback-client-cert) with one worker thread per subscription, so each
subscription's messages arrive in order. Answers 2xx are delivered; 408, 429,
500, 502, 503, 504, other 5xx and transport errors are retried per the retry
schedule (honouring Retry-After); 400, 401, 403, 404, 405, 406, 413, 505 and
any other status are given up at once.
"""
import datetime
import email.utils
import http.client
import json
import ssl
import threading
import time
import urllib.parse

from dip_peer import signature_headers

RETRY = {408, 429, 500, 502, 503, 504}
NO_RETRY = {400, 401, 403, 404, 405, 406, 413, 505}
DEFAULT_MAX_MESSAGES = 10
MAX_RETRY_AFTER = 300.0


def retry_after_seconds(value):
    """Seconds from a Retry-After header (delta-seconds or HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return max(0.0, (when - datetime.datetime.now(datetime.timezone.utc)).total_seconds())


def retryable(status):
    """The spec's callback rule: retry 408, 429, 500, 502, 503, 504 (and, the
    sandbox's choice, other 5xx and transport errors: status None)."""
    return status is None or status in RETRY or (status >= 500 and status not in NO_RETRY)


class Subscription:
    """One registered callback: a pubconfig (kind "channel") or a status
    message config (kind "statusmessage")."""

    def __init__(self, kind, channel, recipient, config):
        self.kind, self.channel, self.recipient = kind, channel, recipient
        self.url = config["callbackURL"]
        self.max_messages = int(config.get("maxMessageCount") or DEFAULT_MAX_MESSAGES)
        size = config.get("maxPayloadSize")
        self.max_bytes = int(size * 1024) if size else None


class Egress:
    def __init__(self, outcomes, signer_cert=None, signer_key=None, callback_ca=None,
                 client_cert=None, client_key=None, schedule=(0.2, 0.5, 1, 2, 5),
                 linger=0.2, timeout=10.0, mpo="recipient"):
        self.outcomes = outcomes
        self.signer_cert = open(signer_cert, "rb").read() if signer_cert else None
        self.signer_key = open(signer_key, "rb").read() if signer_key else None
        self.schedule = list(schedule)
        self.linger = linger
        self.timeout = timeout
        self.mpo = mpo
        self.tls = ssl.create_default_context(cafile=callback_ca)
        self.tls.minimum_version = ssl.TLSVersion.TLSv1_2
        if client_cert:
            self.tls.load_cert_chain(client_cert, client_key)
        self.lock = threading.Condition()
        self.subscriptions = {}  # (kind, channel, recipient) -> Subscription
        self.queues = {}         # (kind, channel, recipient) -> [item]
        self.workers = {}
        self.batches = 0

    # -- subscriptions -------------------------------------------------------

    def subscribe(self, kind, channel, recipient, config):
        with self.lock:
            self.subscriptions[(kind, channel, recipient)] = Subscription(
                kind, channel, recipient, config)

    def unsubscribe(self, kind, channel, recipient):
        with self.lock:
            return self.subscriptions.pop((kind, channel, recipient), None) is not None

    def subscription(self, kind, channel, recipient):
        with self.lock:
            return self.subscriptions.get((kind, channel, recipient))

    # -- queueing ------------------------------------------------------------

    def publish(self, kind, channel, recipient, item, transaction_id, replay=False):
        """Queues one egress item (a {"payload": ...} for channels, a
        StandardResponseBodyType for status messages). False when the
        recipient has no callback registered."""
        key = (kind, channel, recipient)
        with self.lock:
            if key not in self.subscriptions:
                return False
            data = json.dumps(item, separators=(",", ":")).encode()
            self.queues.setdefault(key, []).append(
                {"item": item, "bytes": len(data), "id": transaction_id, "replay": replay,
                 "queued": time.monotonic()})
            if key not in self.workers:
                t = threading.Thread(target=self._worker, args=(key,), daemon=True,
                                     name=f"egress-{kind}-{channel}-{recipient}")
                self.workers[key] = t
                t.start()
            self.lock.notify_all()
        return True

    def _next_batch(self, key):
        """Waits for a batch of one subscription: full, or lingered long enough."""
        with self.lock:
            while True:
                queue = self.queues.get(key) or []
                sub = self.subscriptions.get(key)
                if queue:
                    limit = sub.max_messages if sub else DEFAULT_MAX_MESSAGES
                    wait = queue[0]["queued"] + self.linger - time.monotonic()
                    if len(queue) >= limit or wait <= 0:
                        batch, size, replay = [], 2, queue[0]["replay"]
                        # One batch is all replays or all first deliveries.
                        while queue and len(batch) < limit and queue[0]["replay"] == replay:
                            if (batch and sub and sub.max_bytes
                                    and size + 1 + queue[0]["bytes"] > sub.max_bytes):
                                break
                            size += 1 + queue[0]["bytes"]
                            batch.append(queue.pop(0))
                        return batch
                    self.lock.wait(wait)
                else:
                    self.lock.wait()

    def _worker(self, key):
        while True:
            batch = self._next_batch(key)
            try:
                self._deliver(key, batch)
            except Exception as e:  # never lose the worker
                self.outcomes.write("gave_up", kind=key[0], channel=key[1], recipient=key[2],
                                    url=None, attempts=0, transactionIDs=[b["id"] for b in batch],
                                    replay=batch[0]["replay"], why=f"sandbox error: {e!r}")

    # -- delivery ------------------------------------------------------------

    def _deliver(self, key, batch):
        kind, channel, recipient = key
        ids = [b["id"] for b in batch]
        replay = batch[0]["replay"]
        body = json.dumps([b["item"] for b in batch], separators=(",", ":")).encode()
        with self.lock:
            self.batches += 1
            batch_no = self.batches
        common = {"kind": kind, "channel": channel, "recipient": recipient, "batch": batch_no,
                  "transactionIDs": ids, "replay": replay}
        attempt, last = 0, None
        while True:
            attempt += 1
            sub = self.subscription(kind, channel, recipient)
            if sub is None:
                self.outcomes.write("gave_up", url=None, attempts=attempt - 1,
                                    why="callback configuration deleted", **common)
                return
            if not (self.signer_cert and self.signer_key):
                self.outcomes.write("gave_up", url=sub.url, attempts=attempt - 1,
                                    why="the sandbox has no --dip-cert/--dip-key to sign with",
                                    **common)
                return
            status, error, retry_after = self._post(sub, body)
            self.outcomes.write("callback_attempt", url=sub.url, attempt=attempt,
                                status=status, error=error, **common)
            if status is not None and 200 <= status < 300:
                self.outcomes.write("delivered", url=sub.url, attempts=attempt, status=status,
                                    **common)
                return
            last = f"HTTP {status}" if status is not None else error
            if not retryable(status):
                self.outcomes.write("gave_up", url=sub.url, attempts=attempt, status=status,
                                    why=f"no retry on HTTP {status}", **common)
                return
            if attempt > len(self.schedule):
                self.outcomes.write("gave_up", url=sub.url, attempts=attempt, status=status,
                                    why=f"retry schedule exhausted after {attempt} attempts "
                                        f"(last: {last})", **common)
                return
            delay = self.schedule[attempt - 1]
            if retry_after is not None:
                delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
            time.sleep(delay)

    def _post(self, sub, body):
        """One attempt: (HTTP status or None, transport error or None, Retry-After)."""
        url = urllib.parse.urlsplit(sub.url)
        headers = signature_headers("POST", sub.url, body, self.signer_key, self.signer_cert,
                                    "postman")
        headers["Content-Type"] = "application/json"
        if self.mpo == "recipient":
            headers["X-DIP-MPO"] = sub.recipient
        elif self.mpo != "none":
            headers["X-DIP-MPO"] = self.mpo
        path = (url.path or "/") + (f"?{url.query}" if url.query else "")
        try:
            if url.scheme == "https":
                conn = http.client.HTTPSConnection(url.hostname, url.port or 443,
                                                   context=self.tls, timeout=self.timeout)
            else:
                conn = http.client.HTTPConnection(url.hostname, url.port or 80,
                                                  timeout=self.timeout)
            try:
                conn.request("POST", path, body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                return r.status, None, retry_after_seconds(r.getheader("Retry-After"))
            finally:
                conn.close()
        except (OSError, http.client.HTTPException) as e:
            return None, f"{type(e).__name__}: {e}"[:300], None
