"""`make run` (scripts.localstack) as an operator meets it: refusals are one line, Ctrl-C at any
moment of the start-up leaves no process behind, and a second run leaves the first one's files."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.localstack import REPO, free_port, run_lock


def run_env(run_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith("_EMULATOR_HOST") and k not in ("ASANA_PAT", "ENVIRONMENT")}
    env.update({"RUN_DIR": str(run_dir), "INGEST_PORT": str(ports["ingest"]),
                "WORKER_PORT": str(ports["worker"]), "PUBSUB_PORT": str(ports["pubsub"]),
                "FIRESTORE_PORT": str(ports["firestore"])})
    return env


@pytest.fixture
def ports() -> dict[str, int]:
    return {name: free_port() for name in ("ingest", "worker", "pubsub", "firestore")}


def make_run(env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "scripts.localstack"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def survivors(ports: dict[str, int]) -> list[str]:
    """Return the command lines of live processes serving one of ``ports``."""
    flags = {f"--port={port}" for port in ports.values()}
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            argv = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if flags & {arg.decode(errors="replace") for arg in argv}:
            found.append(" ".join(a.decode(errors="replace") for a in argv))
    return found


def test_a_busy_port_is_one_line_naming_its_variable_and_no_banner(
        tmp_path: Path, ports: dict[str, int]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports["worker"]))
        taken.listen()
        done = subprocess.run([sys.executable, "-m", "scripts.localstack"], cwd=REPO,
                              env=run_env(tmp_path, ports), capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"make run: port {ports['worker']} is busy (WORKER_PORT): stop what listens there, "
        "or set WORKER_PORT to a free port"]
    assert "running" not in done.stdout
    assert not (tmp_path / "logs").exists()


def test_a_second_run_refuses_and_leaves_the_first_runs_logs(
        tmp_path: Path, ports: dict[str, int]) -> None:
    log = tmp_path / "logs" / "worker.log"
    log.parent.mkdir(parents=True)
    log.write_text("the first run's log\n")
    with run_lock(tmp_path):
        done = subprocess.run([sys.executable, "-m", "scripts.localstack"], cwd=REPO,
                              env=run_env(tmp_path, ports), capture_output=True, text=True,
                              timeout=60)
    assert done.returncode == 1
    [line] = done.stderr.splitlines()
    assert line.startswith(f"make run: another `make run` (pid {os.getpid()}) is using {tmp_path}")
    assert log.read_text() == "the first run's log\n"
    assert sorted(p.name for p in (tmp_path / "logs").iterdir()) == ["worker.log"]


# The last process forked (ingest) is the tightest moment: everything else already runs.
@pytest.mark.parametrize("started", ["pubsub-emulator.log", "ingest.log"],
                         ids=["while-the-emulators-boot", "as-the-last-process-is-forked"])
def test_ctrl_c_during_start_up_stops_everything_it_started(
        tmp_path: Path, ports: dict[str, int], started: str) -> None:
    process = make_run(run_env(tmp_path, ports))
    try:
        deadline = time.monotonic() + 60
        while not (tmp_path / "logs" / started).exists():
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, f"{started} never appeared"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, err
    assert "Traceback" not in err
    left = survivors(ports)
    deadline = time.monotonic() + 5
    while left and time.monotonic() < deadline:  # a killed process may take a moment to go
        time.sleep(0.1)
        left = survivors(ports)
    assert left == []
