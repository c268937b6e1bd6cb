"""alert-bridge: turn alerts into owned Asana tasks. The map of its packages is .importlinter."""
