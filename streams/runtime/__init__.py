"""What runs a stage: the transactional consume-transform-produce loop (``deriver``), its local
state store (``store``), stall detection (``stalls``) and the worker's metrics (``metrics``)."""
