"""jobledger views: folds of the event stream into SQLite tables, and the queries on them."""
