"""The generic commands: check and explain-route, replay dead letters, reconcile once."""
