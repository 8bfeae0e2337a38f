-- The market projection's view (every closed bar), over its live version's table (written as
-- version 1's here; `fillstream migrate` and a switch point it at the live one).
CREATE VIEW market_bars AS
SELECT instrument, period, close_time, open, high, low, close, volume, bid, ask,
       event_id, ts_ingested
FROM market_bars_v1;
