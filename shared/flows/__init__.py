"""The flows over injected dependencies; they look sources up in the table, never name one."""
