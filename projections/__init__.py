"""jobledger projections."""
