"""Azure Monitor alerts delivered by an action group's webhook or Secure Webhook."""
