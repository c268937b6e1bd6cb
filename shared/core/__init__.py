"""What every part shares: the alert model, ledger and lease rules, errors, settings, logs."""
