"""jobledger cli."""
