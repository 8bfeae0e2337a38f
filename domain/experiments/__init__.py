"""A/B experiments: the model, deterministic assignment and ramp (``model``, ``rollout``), the
statistics (``stats``, ``bootstrap``, ``distributions``), tallies, reports and guardrails."""
