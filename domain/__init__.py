"""jobledger domain."""
