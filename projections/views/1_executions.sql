-- The executions projection's view, over its live version's table (written as version 1's
-- here; `fillstream migrate` and a switch point it at the live one). Each execution as it was
-- reported; `correction` is the kind of its latest correction ('corrected' or 'busted', null
-- when none), whose details `execution_corrections` shows.
CREATE VIEW executions AS
SELECT e.account, e.execution_id, e.instrument, e.side, e.quantity, e.price, e.commission,
       e.fees, e.order_id, e.order_name, e.position_effect, e.strategy, e.variant, e.signal_id,
       e.nt_trade_id, e.time, e.source, e.producer, e.event_id, e.kafka_topic,
       e.kafka_partition, e.kafka_offset, e.ts_ingested, c.kind AS correction
FROM executions_v1 e
LEFT JOIN (
    SELECT DISTINCT ON (account, execution_id) account, execution_id, kind
    FROM execution_corrections_v1
    ORDER BY account, execution_id, ts_event DESC, kafka_offset DESC
) c ON c.account = e.account AND c.execution_id = e.execution_id;
