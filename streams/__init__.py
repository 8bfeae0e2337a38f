"""The stream worker's derivations: ``stages`` adapt the pure ``domain`` folds (matching,
performance, regimes, paper trading, alerts) to Kafka records, and ``runtime`` runs each stage as
a transactional consume-transform-produce loop with its state in a changelog and a local store."""
