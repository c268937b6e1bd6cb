"""The fault proxy against a local echo server: each mode does to a client what it promises."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from tests.reliability.proxy import FaultProxy

TIMEOUT = 2.0


class EchoServer:
    """Echo every byte back; ``ANSWER <n>`` makes it send n bytes instead (a long response)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        with client:
            try:
                while data := client.recv(4096):
                    if data.startswith(b"ANSWER "):
                        client.sendall(b"x" * int(data.split()[1]))
                    else:
                        client.sendall(data)
            except OSError:
                return

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    yield server
    server.close()


@pytest.fixture
def proxy(echo: EchoServer) -> Iterator[FaultProxy]:
    with FaultProxy(("127.0.0.1", echo.port), name="echo") as started:
        yield started


def connect(proxy: FaultProxy) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", proxy.port), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def round_trip(sock: socket.socket, payload: bytes = b"ping") -> bytes:
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        chunk = sock.recv(4096)
        if not chunk:
            break
        received += chunk
    return received


def read_exactly(sock: socket.socket, size: int) -> bytes:
    received = b""
    while len(received) < size and (chunk := sock.recv(4096)):
        received += chunk
    return received


def is_reset(sock: socket.socket) -> bool:
    """Tell whether the peer reset the connection (a read fails, or ends at once)."""
    try:
        sock.sendall(b"after")
        return sock.recv(4096) == b""
    except (ConnectionResetError, BrokenPipeError):
        return True
    except TimeoutError:
        return False


def test_pass_through_forwards_both_ways(proxy: FaultProxy) -> None:
    with connect(proxy) as sock:
        assert round_trip(sock, b"hello") == b"hello"
        assert round_trip(sock, b"x" * 200_000) == b"x" * 200_000
    assert proxy.stats.forwarded_up >= 200_005 and proxy.stats.forwarded_down >= 200_005


def test_refuse_closes_the_port_and_resets_open_connections(proxy: FaultProxy) -> None:
    with connect(proxy) as open_before:
        assert round_trip(open_before) == b"ping"
        proxy.refuse()
        assert is_reset(open_before)  # a long-lived (gRPC) connection is cut too
        with pytest.raises(ConnectionRefusedError):
            connect(proxy)
    proxy.pass_through()
    with connect(proxy) as again:  # the same port answers again
        assert round_trip(again) == b"ping"


def test_refuse_with_reset_accepts_then_resets(proxy: FaultProxy) -> None:
    proxy.refuse(reset=True)
    try:
        sock = connect(proxy)
    except ConnectionResetError:
        pass  # the reset can reach the client before connect() returns
    else:
        with sock:
            assert is_reset(sock)
    assert proxy.stats.refused == 1
    proxy.pass_through()
    with connect(proxy) as sock:
        assert round_trip(sock) == b"ping"


def test_blackhole_accepts_and_never_answers(proxy: FaultProxy, echo: EchoServer) -> None:
    with connect(proxy) as open_before:
        assert round_trip(open_before) == b"ping"
        proxy.blackhole()
        with connect(proxy) as new:
            new.settimeout(0.5)
            new.sendall(b"lost")
            with pytest.raises(TimeoutError):
                new.recv(4096)
        open_before.settimeout(0.5)
        open_before.sendall(b"lost too")
        with pytest.raises(TimeoutError):
            open_before.recv(4096)
        assert echo.connections == 1  # the new connection never reached the server
        proxy.pass_through()
        open_before.settimeout(TIMEOUT)
        assert is_reset(open_before)  # its stream lost bytes: reset, not resumed
    with connect(proxy) as sock:
        assert round_trip(sock) == b"ping"


def test_latency_delays_each_direction(proxy: FaultProxy) -> None:
    proxy.latency(0.3)
    with connect(proxy) as sock:
        started = time.monotonic()
        assert round_trip(sock) == b"ping"
        assert 0.55 <= time.monotonic() - started < 1.5
        proxy.pass_through()
        started = time.monotonic()
        assert round_trip(sock) == b"ping"
        assert time.monotonic() - started < 0.2


def test_reset_mid_response_forwards_part_of_the_answer(proxy: FaultProxy) -> None:
    with connect(proxy) as open_before:
        assert round_trip(open_before) == b"ping"
        proxy.reset_mid_response(after_bytes=1000)
        open_before.sendall(b"ANSWER 50000")
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := open_before.recv(4096):
                received += chunk
        assert received == b"x" * 1000
    with connect(proxy) as new:
        new.sendall(b"ANSWER 5000")
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while chunk := new.recv(4096):
                received += chunk
        assert received == b"x" * 1000
    proxy.pass_through()
    with connect(proxy) as sock:
        sock.sendall(b"ANSWER 7000")
        assert read_exactly(sock, 7000) == b"x" * 7000  # the whole answer again


def test_stop_resets_everything(echo: EchoServer) -> None:
    proxy = FaultProxy(("127.0.0.1", echo.port)).start()
    sock = connect(proxy)
    assert round_trip(sock) == b"ping"
    proxy.stop()
    assert is_reset(sock)
    sock.close()
    assert proxy.open_connections() == 0
