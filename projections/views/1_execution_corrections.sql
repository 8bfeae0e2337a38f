-- The execution corrections projection's view, over its live version's table (written as
-- version 1's here): every ExecutionCorrected ('corrected': the broker amended the execution;
-- the new side, quantity, price and costs) and ExecutionBusted ('busted': it never happened),
-- beside the execution as it was reported (null when that one is not projected).
CREATE VIEW execution_corrections AS
SELECT c.event_id, c.kind, c.account, c.execution_id, c.instrument,
       c.side, c.quantity, c.price, c.commission, c.fees, c.executed_at, c.order_id,
       c.order_number, c.reason, c.ts_event AS corrected_at,
       e.side AS reported_side, e.quantity AS reported_quantity, e.price AS reported_price,
       e.commission AS reported_commission, e.fees AS reported_fees, e.time AS reported_at,
       c.kafka_topic, c.kafka_partition, c.kafka_offset, c.ts_ingested
FROM execution_corrections_v1 c
LEFT JOIN executions_v1 e ON e.account = c.account AND e.execution_id = c.execution_id;
