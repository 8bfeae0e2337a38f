"""Alert rules (``rules``: the rules file's document, validated) and their engine (``engine``:
when a rule fires and resolves, in event time)."""
