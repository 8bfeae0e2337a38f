"""Performance figures of closed trades (``figures``), the running ledger of a scope
(``ledger``) and the snapshots published per scope and window (``snapshots``)."""
