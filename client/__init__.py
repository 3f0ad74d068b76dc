"""jobledger client: JobLedger's methods over HTTP, against `jobledger serve`."""

from jobledger.client.client import Client
from jobledger.client.connection import AccessDeniedError, ServerError, ServerUnavailableError

__all__ = ["AccessDeniedError", "Client", "ServerError", "ServerUnavailableError"]
