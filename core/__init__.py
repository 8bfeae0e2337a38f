"""The base every package stands on: errors, settings, the Kafka client factories, the
PostgreSQL connection, the control-log reader, health reporting and serving, the daemon frame,
process helpers, progress and text. It imports nothing of ours but the contract (``schemas``)."""
