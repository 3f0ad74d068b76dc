"""`jobledger serve`: the HTTP API, group commit, the event stream and metrics (see server/app.py)."""
