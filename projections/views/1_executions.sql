-- The executions projection's view, over its live version's table (written as version 1's
-- here; `fillstream migrate` and a switch point it at the live one).
CREATE VIEW executions AS
SELECT account, execution_id, instrument, side, quantity, price, commission, fees, order_id,
       order_name, position_effect, strategy, variant, signal_id, nt_trade_id, time, source,
       producer, event_id, kafka_topic, kafka_partition, kafka_offset, ts_ingested
FROM executions_v1;
