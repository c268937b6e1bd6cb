"""A local fake of Sentry's envelope ingestion endpoint that records what the SDK sends.

Run in a test::

    with FakeSentry() as sentry:
        env = {"SENTRY_DSN": sentry.dsn()}
        ...
        assert sentry.events()

Envelope format (develop.sentry.dev, "Envelopes"): newline-separated; a JSON envelope header,
then items, each a JSON item header with a ``type`` and an optional ``length`` in bytes,
followed by its payload (exactly ``length`` bytes, else up to the next newline).
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import zlib
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_ENVELOPE_PATH = re.compile(r"^/api/(\d+)/envelope/?$")


class MalformedEnvelope(ValueError):
    """The request body is not a Sentry envelope."""


@dataclass(frozen=True)
class Item:
    """One envelope item: its header and its payload (decoded JSON when it is JSON)."""

    headers: dict[str, Any]
    payload: Any


@dataclass(frozen=True)
class Envelope:
    """One accepted request."""

    project: str
    headers: dict[str, Any]
    items: tuple[Item, ...]
    raw: bytes  # the body as received, before any decompression
    body: bytes  # the decompressed envelope


def parse_envelope(body: bytes) -> tuple[dict[str, Any], tuple[Item, ...]]:
    """Split an envelope into its header and items; raise MalformedEnvelope if it is not one."""
    header_line, _, rest = body.partition(b"\n")
    headers = _json_object(header_line, "envelope header")
    items: list[Item] = []
    while rest.strip():
        item_line, _, rest = rest.partition(b"\n")
        item_headers = _json_object(item_line, "item header")
        if not isinstance(item_headers.get("type"), str):
            raise MalformedEnvelope("item header has no type")
        payload, rest = _payload(item_headers, rest)
        items.append(Item(item_headers, _decode(payload)))
    return headers, tuple(items)


def _payload(item_headers: dict[str, Any], rest: bytes) -> tuple[bytes, bytes]:
    length = item_headers.get("length")
    if length is None:
        payload, _, rest = rest.partition(b"\n")
        return payload, rest
    if not isinstance(length, int) or length < 0 or length > len(rest):
        raise MalformedEnvelope(f"item length {length!r} does not fit the envelope")
    payload, rest = rest[:length], rest[length:]
    if rest and not rest.startswith(b"\n"):
        raise MalformedEnvelope("no newline after an item payload")
    return payload, rest[1:]


def _json_object(line: bytes, what: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise MalformedEnvelope(f"{what} is not JSON: {error}") from error
    if not isinstance(value, dict):
        raise MalformedEnvelope(f"{what} is not a JSON object")
    return value


def _decode(payload: bytes) -> Any:
    try:
        return json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return payload  # attachments are not JSON


def _decompress(raw: bytes, encoding: str) -> bytes:
    try:
        if encoding == "gzip":
            return gzip.decompress(raw)
        if encoding == "deflate":
            return zlib.decompress(raw)
    except (OSError, EOFError, zlib.error) as error:
        raise MalformedEnvelope(f"body is not valid {encoding}: {error}") from error
    if encoding not in ("", "identity"):
        raise MalformedEnvelope(f"unsupported Content-Encoding {encoding!r}")
    return raw


class FakeSentry:
    """A ThreadingHTTPServer on 127.0.0.1 that accepts and records envelopes."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._envelopes: list[Envelope] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        """Return the port the fake listens on."""
        return int(self._server.server_address[1])

    def dsn(self, project: int = 1, key: str = "public") -> str:
        """Return a DSN that makes sentry-sdk send to this fake."""
        return f"http://{key}@127.0.0.1:{self.port}/{project}"

    def start(self) -> FakeSentry:
        """Start serving in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and free the port."""
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeSentry:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def record(self, envelope: Envelope) -> None:
        """Keep an accepted envelope."""
        with self._lock:
            self._envelopes.append(envelope)

    def envelopes(self) -> list[Envelope]:
        """Return every accepted envelope, oldest first."""
        with self._lock:
            return list(self._envelopes)

    def events(self) -> list[dict[str, Any]]:
        """Return the payloads of every ``event`` item received."""
        return [item.payload for envelope in self.envelopes() for item in envelope.items
                if item.headers.get("type") == "event"]

    def received_bytes(self) -> bytes:
        """Return everything received, raw and decompressed, for leak checks."""
        return b"\n".join(e.raw + b"\n" + e.body for e in self.envelopes())


def _handler(fake: FakeSentry) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            match = _ENVELOPE_PATH.match(self.path.split("?", 1)[0])
            if not match:
                self._answer(404, {"detail": f"no route {self.path}"})
                return
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = _decompress(raw, self.headers.get("Content-Encoding", "").strip().lower())
                headers, items = parse_envelope(body)
            except MalformedEnvelope as error:
                self._answer(400, {"detail": str(error)})
                return
            fake.record(Envelope(match.group(1), headers, items, raw, body))
            self._answer(200, {"id": headers.get("event_id")})

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler
