"""Randomized histories (Jepsen-style) of alerts, people and faults against one deployment."""
