"""Benchmarks: ``make bench`` runs them and writes ``.fillstream/bench/report.json``.

Each benchmark reports a ratio to a baseline measured in the same run on the same machine
(machines here are noisy): ``{name, value, unit, baseline, ratio, goal}``.
"""
