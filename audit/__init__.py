"""jobledger audit: the hash chain's verify and digest, the global event log, export and import."""
