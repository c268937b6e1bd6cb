"""The edges: Pub/Sub, Firestore, Secret Manager, HTTP with retries, and Asana (the tracker)."""
