"""jobledger demo: the simulated IPS day that `jobledger demo` records through the ledger's API."""

from jobledger.demo.recording import record_demo

__all__ = ["record_demo"]
