"""jobledger store: the codec, the SQLite and PostgreSQL recorders with their hash chains, the bulk
appender, store settings and failures, and the reader port (store/reader.py) the views read through."""
