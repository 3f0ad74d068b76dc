"""jobledger web: the operator's dashboard, served by `jobledger serve` around the API."""

from jobledger.web.dashboard import Dashboard

__all__ = ["Dashboard"]
