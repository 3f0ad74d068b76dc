"""jobledger demo: the simulated IPS day that `jobledger demo` records through the ledger's API."""
