"""Before release: a new assignment (scaffold), lint, the audit of hidden checks, release."""
