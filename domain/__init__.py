"""The pure domain: matching, contract specs, exit reasons, market context, paper fills, the
regime classifier, performance figures, experiments and alert rules. No I/O: it imports only the
standard library, numpy, the contract's event types and ``core.errors``."""
