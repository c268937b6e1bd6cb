"""An oversized request costs ingest no memory: 413 without the body being buffered."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scripts.bench_ingest_memory import FRAMINGS, MIB, ingest_on_emulator, oversized_burst
from scripts.localstack import Service

#: Generous: buffering even two of the sixteen 32 MiB bodies would exceed it.
MAX_GROWTH_MIB = 64


@pytest.fixture(scope="module")
def ingest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with ingest_on_emulator(Path(tmp_path_factory.mktemp("ingest-memory"))) as edge:
        yield edge.ingest


@pytest.mark.reliability
@pytest.mark.parametrize("framing", FRAMINGS)
def test_sixteen_concurrent_32_mib_posts_leave_memory_flat(ingest: Service,
                                                           framing: str) -> None:
    result = oversized_burst(ingest.url, ingest.process.pid, framing=framing,
                             concurrency=16, size=32 * MIB)
    assert result["statuses"] == [413]
    assert isinstance(result["growth_mib"], float)
    assert result["growth_mib"] < MAX_GROWTH_MIB, result
