"""A TCP fault proxy: sits between the service and one dependency and breaks the link on demand.

The service is pointed at the proxy's port instead of the dependency's (an emulator, a fake
API); the test then switches the proxy between modes while traffic flows::

    with FaultProxy(("127.0.0.1", firestore_port), name="firestore") as proxy:
        env["FIRESTORE_EMULATOR_HOST"] = proxy.address
        proxy.refuse()        # connection refused, and every open connection reset
        proxy.pass_through()

Modes (``pass_through`` heals every one of them):

- ``refuse()``: the listener is closed, so a new connection is refused (``reset=True``: it is
  accepted and reset at once). Open connections are reset too: gRPC clients keep one HTTP/2
  connection for minutes, and a refusal that spared it would refuse nothing.
- ``blackhole()``: connections are accepted and nothing is forwarded either way, on new and
  open connections alike: what a client sees of a partitioned network. Leaving the mode resets
  the connections that lost bytes (their streams are corrupt).
- ``latency(seconds)``: every chunk is forwarded ``seconds`` after it arrived, both ways.
- ``reset_mid_response(after_bytes)``: the next answer bytes of each connection are forwarded
  up to ``after_bytes``, then the connection is reset: the request was carried out, its answer
  is lost half-way.

Threads, two per connection, plain blocking sockets; stdlib only.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass
from typing import Self

PASS, REFUSE, RESET, BLACKHOLE, LATENCY, RESET_MID = (
    "pass", "refuse", "refuse-reset", "blackhole", "latency", "reset-mid-response")
CHUNK = 65536


@dataclass
class Stats:
    """What the proxy did, for assertions and the history logs."""

    accepted: int = 0
    refused: int = 0  # connections reset on accept (reset=True)
    cut: int = 0  # connections reset by a mode change or a mid-response reset
    forwarded_up: int = 0  # bytes client -> dependency
    forwarded_down: int = 0  # bytes dependency -> client


def _abort(sock: socket.socket | None) -> None:
    """Reset ``sock`` (RST, not FIN), waking a thread blocked reading it."""
    if sock is None:
        return
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RD)  # a recv() blocked in another thread returns now
    with contextlib.suppress(OSError):
        sock.close()


class _Connection:
    """One client connection and its upstream twin, pumped by one thread per direction."""

    def __init__(self, proxy: FaultProxy, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.closed = False
        self.poisoned = False  # bytes were dropped (black-holed): the stream is corrupt
        self.budget: int | None = None  # answer bytes left before a mid-response reset
        self._lock = threading.Lock()
        self._open_directions = 0

    def start(self, connect: bool) -> None:
        """Connect upstream (unless black-holed) and start pumping."""
        if connect:
            try:
                self.upstream = socket.create_connection(self.proxy.target, timeout=5)
                self.upstream.settimeout(None)
                self.upstream.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                self._end(reset=True, counted=False)
                return
        pumps = [(self.client, True)] + ([(self.upstream, False)] if self.upstream else [])
        self._open_directions = len(pumps)
        for source, upward in pumps:
            threading.Thread(target=self._pump, args=(source, upward), daemon=True,
                             name=f"proxy-{self.proxy.name}").start()

    def cut(self) -> None:
        """Reset both sides (a mode change or a mid-response reset)."""
        self._end(reset=True, counted=True)

    def _end(self, *, reset: bool, counted: bool) -> None:
        with self._lock:
            if self.closed:
                return
            self.closed = True
        for sock in (self.client, self.upstream):
            if reset:
                _abort(sock)
            elif sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        self.proxy._forget(self, counted=counted)

    def _pump(self, source: socket.socket, upward: bool) -> None:
        target = self.upstream if upward else self.client
        try:
            while True:
                data = source.recv(CHUNK)
                arrived = time.monotonic()
                if self.closed:
                    return
                if not data:
                    break
                if not self._forward(data, arrived, target, upward):
                    return
        except OSError:
            # One side reset the connection (or it was cut): the other side learns it too.
            self._end(reset=True, counted=False)
            return
        # End of stream: pass the FIN on; close once both directions have ended.
        if target is not None:
            with contextlib.suppress(OSError):
                target.shutdown(socket.SHUT_WR)
        with self._lock:
            self._open_directions -= 1
            finished = self._open_directions <= 0 or target is None
        if finished:
            self._end(reset=False, counted=False)

    def _forward(self, data: bytes, arrived: float, target: socket.socket | None,
                 upward: bool) -> bool:
        """Forward one chunk as the current mode says; False once the connection is cut."""
        mode, delay = self.proxy.mode, self.proxy.delay
        if mode == BLACKHOLE or target is None:
            self.poisoned = True
            return True
        if mode == LATENCY:
            time.sleep(max(0.0, arrived + delay - time.monotonic()))
        budget = None if upward else self.budget
        if budget is not None:
            data = data[:budget]
            self.budget = budget - len(data)
        target.sendall(data)
        self.proxy._count(len(data), upward)
        if budget is not None and budget - len(data) <= 0:
            self.cut()
            return False
        return True


class FaultProxy:
    """Forward 127.0.0.1:<port> to ``target``; switch modes at run time (see the module doc)."""

    def __init__(self, target: tuple[str, int], name: str = "proxy", port: int = 0) -> None:
        self.target = target
        self.name = name
        self.mode = PASS
        self.delay = 0.0
        self.stats = Stats()
        self._port = port
        self._listener: socket.socket | None = None
        self._connections: set[_Connection] = set()
        self._lock = threading.Lock()
        self._reset_after: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """Return the port the service must connect to."""
        return self._port

    @property
    def address(self) -> str:
        """Return ``host:port``, the form the emulator variables take."""
        return f"127.0.0.1:{self._port}"

    def start(self) -> Self:
        """Listen and forward."""
        self._listen()
        return self

    def stop(self) -> None:
        """Stop listening and reset every connection."""
        self._close_listener()
        self._cut_all()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- modes -------------------------------------------------------------------------------

    def pass_through(self) -> None:
        """Forward everything again (and reset the connections a black hole corrupted)."""
        with self._lock:
            was, self.mode, self.delay, self._reset_after = self.mode, PASS, 0.0, None
            poisoned = [c for c in self._connections if c.poisoned]
            for connection in self._connections:
                connection.budget = None
        for connection in poisoned:
            connection.cut()
        if was == REFUSE:
            self._listen()

    def refuse(self, reset: bool = False) -> None:
        """Refuse new connections (closed port, or accept-and-reset) and reset open ones."""
        with self._lock:
            self.mode = RESET if reset else REFUSE
        if not reset:
            self._close_listener()
        elif self._listener is None:
            self._listen()
        self._cut_all()

    def blackhole(self) -> None:
        """Accept connections and forward nothing, on new and open connections alike."""
        with self._lock:
            self.mode = BLACKHOLE
        if self._listener is None:
            self._listen()

    def latency(self, seconds: float) -> None:
        """Forward every chunk ``seconds`` after it arrived."""
        with self._lock:
            self.mode, self.delay = LATENCY, seconds
        if self._listener is None:
            self._listen()

    def reset_mid_response(self, after_bytes: int = 1) -> None:
        """Cut each connection after ``after_bytes`` more bytes of its answers."""
        with self._lock:
            self.mode, self._reset_after = RESET_MID, after_bytes
            for connection in self._connections:
                connection.budget = after_bytes
        if self._listener is None:
            self._listen()

    def cut(self) -> int:
        """Reset every open connection now, in any mode; return how many."""
        return self._cut_all()

    def open_connections(self) -> int:
        """Return how many connections are open."""
        with self._lock:
            return len(self._connections)

    # -- internals ---------------------------------------------------------------------------

    def _listen(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self._port))
        listener.listen(128)
        self._port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True,
                         name=f"proxy-{self.name}-accept").start()

    def _close_listener(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
            with contextlib.suppress(OSError):
                listener.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # the listener was closed
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                mode = self.mode
                if mode in (RESET, REFUSE):  # REFUSE: accepted just before the port closed
                    self.stats.refused += 1
                else:
                    self.stats.accepted += 1
                    connection = _Connection(self, client)
                    connection.budget = self._reset_after
                    self._connections.add(connection)
            if mode in (RESET, REFUSE):
                _abort(client)
                continue
            connection.start(connect=mode != BLACKHOLE)

    def _cut_all(self) -> int:
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            connection.cut()
        return len(connections)

    def _forget(self, connection: _Connection, counted: bool) -> None:
        with self._lock:
            self._connections.discard(connection)
            if counted:
                self.stats.cut += 1

    def _count(self, size: int, upward: bool) -> None:
        with self._lock:
            if upward:
                self.stats.forwarded_up += size
            else:
                self.stats.forwarded_down += size
