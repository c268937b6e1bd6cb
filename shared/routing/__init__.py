"""Routing: teams.yaml, ownership, boards, priority, an alert's own settings, task rendering."""
