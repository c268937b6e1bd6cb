# The worker's de-duplication ledger. The code checks expiry itself; the TTL policy only
# keeps the collection from growing forever.

resource "google_firestore_database" "default" {
  name        = "(default)"
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  delete_protection_state = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy         = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.api]
}

# The two-way sync's Asana webhooks (ASANA_HOOKS_DATABASE): per project the hash of its target
# URL's token, the handshake's secret and the last verified delivery. A database of its own so
# that ingest, the public function that verifies them, gets no access to the ledger (iam.tf).
resource "google_firestore_database" "hooks" {
  name        = var.asana_hooks_database
  location_id = var.firestore_location
  type        = "FIRESTORE_NATIVE"

  delete_protection_state = var.deletion_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  deletion_policy         = var.deletion_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.api]
}

resource "google_firestore_field" "ledger_ttl" {
  database   = google_firestore_database.default.name
  collection = var.ledger_collection
  field      = "expires_at"

  ttl_config {}

  # A TTL field with a monotonic timestamp makes a write hotspot if indexed; nothing
  # queries it, so it gets no single-field indexes.
  index_config {}
}
