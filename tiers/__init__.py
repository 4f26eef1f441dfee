"""Model backends: no UI here."""
