"""Ports for local stacks: chosen where no outgoing connection can take them first."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import localstack


def test_ports_are_below_the_ephemeral_range_and_never_handed_out_twice() -> None:
    ports = [localstack.free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)
    low, high = (int(n) for n in Path("/proc/sys/net/ipv4/ip_local_port_range")
                 .read_text().split())
    assert all(port < low or port > high for port in ports)


def test_a_port_taken_before_the_service_binds_is_named_as_the_cause(tmp_path: Path) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    # A process that fails to bind the way the emulators do, after our check passed.
    argv = [sys.executable, "-c", "import socket, sys; s = socket.socket(); "
            f"s.bind(('127.0.0.1', {port}))"]
    service = localstack.Service("probe", f"http://127.0.0.1:{port}",
                                 subprocess.Popen(argv, stdout=(tmp_path / "probe.log").open("wb"),
                                                  stderr=subprocess.STDOUT),
                                 tmp_path / "probe.log")
    service.process.wait()
    with pytest.raises(RuntimeError, match="another process took the port first"):
        localstack._wait_ready(service, None, timeout=5)
    holder.close()
