"""What Grafana's ingest part reads of the settings: how the contact point signs."""

from __future__ import annotations

from shared.sources.build import Build
from shared.sources.grafana.verify import Signing


def signing(build: Build) -> Signing:
    """Return the signature and timestamp headers and the replay window from the settings."""
    s = build.settings
    return Signing(signature_header=s.grafana_signature_header,
                   timestamp_header=s.grafana_timestamp_header,
                   replay_window_seconds=s.grafana_replay_window_seconds)
