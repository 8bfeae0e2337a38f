-- The orders projection's view (each order's latest state), over its live version's table
-- (written as version 1's here; `fillstream migrate` and a switch point it at the live one).
CREATE VIEW orders AS
SELECT account, order_id, instrument, side, order_type, state, quantity, filled, limit_price,
       stop_price, average_fill_price, order_name, strategy, error, updated, source, event_id,
       kafka_topic, kafka_partition, kafka_offset, ts_ingested
FROM orders_v1;
