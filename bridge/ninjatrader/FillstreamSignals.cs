// What NinjaScript strategies call to report signals and bars to fillstream, and to ask which
// experiment arm a signal runs. Events go through the same background queue as the AddOn's;
// only Assign waits for the bridge, and never longer than its timeout.
//
//   using NinjaTrader.NinjaScript.AddOns;
//   ...
//   string arm = FillstreamSignals.Assign(signalId, Name);   // "control" unless an experiment says otherwise
//   FillstreamSignals.Emit(Name, Instrument, Account, signalId, MarketPosition.Long, arm, 0.72,
//       stopPrice, targetPrice, new Dictionary<string, double> { { "atr_14", atr } });
//   FillstreamSignals.Bar(Instrument, "1 Minute", Open[0], High[0], Low[0], Close[0], Volume[0],
//       GetCurrentBid(), GetCurrentAsk(), Time[0]);

using System;
using System.Collections.Generic;
using NinjaTrader.Cbi;

namespace NinjaTrader.NinjaScript.AddOns
{
    /// <summary>What ties an execution to the signal that caused it.</summary>
    public sealed class FillstreamLink
    {
        public string SignalId { get; set; }
        public string Strategy { get; set; }
        public string Variant { get; set; }
        public string TradeId { get; set; }
    }

    public static class FillstreamSignals
    {
        public const int DefaultAssignTimeoutMilliseconds = 200;

        /// <summary>The signal behind <paramref name="execution"/>, or null when it belongs to none
        /// (manual and ATM orders).</summary>
        public static FillstreamLink LinkFor(Execution execution)
        {
            return null;
        }

        /// <summary>Reports a "signal" event. variant, account and features may be null; a NaN
        /// confidence and a stop or target of 0 or NaN are left out.</summary>
        public static void Emit(string strategyName, Instrument instrument, Account account, string signalId,
            MarketPosition direction, string variant, double confidence, double intendedStop, double intendedTarget,
            IDictionary<string, double> features)
        {
            FillstreamClient client = FillstreamSetup.SharedClient();
            if (client == null)
                return;
            try
            {
                string problem;
                string json = SignalJson(strategyName, FillstreamEvents.InstrumentName(instrument),
                    account == null ? null : account.Name, signalId, direction, variant, confidence, intendedStop,
                    intendedTarget, features, client.UtcNow(), out problem);
                if (json == null)
                    client.Report(FillstreamLogLevel.Warning, "fillstream: signal not sent: " + problem);
                else
                    client.Enqueue(json);
            }
            catch (Exception e)
            {
                client.Report(FillstreamLogLevel.Error, "fillstream: signal not sent: " + e.Message);
            }
        }

        /// <summary>Reports a closed "bar" event; <paramref name="period"/> like "1 Minute",
        /// <paramref name="time"/> the bar's time in the platform time zone (Time[0]). A bid or ask
        /// of 0 or NaN is left out.</summary>
        public static void Bar(Instrument instrument, string period, double open, double high, double low, double close,
            double volume, double bid, double ask, DateTime time)
        {
            FillstreamClient client = FillstreamSetup.SharedClient();
            if (client == null)
                return;
            try
            {
                string problem;
                string json = BarJson(FillstreamEvents.InstrumentName(instrument), period, open, high, low, close, volume,
                    bid, ask, FillstreamTime.ToUtc(time, FillstreamSetup.PlatformZone()), out problem);
                if (json == null)
                    client.Report(FillstreamLogLevel.Warning, "fillstream: bar not sent: " + problem);
                else
                    client.Enqueue(json);
            }
            catch (Exception e)
            {
                client.Report(FillstreamLogLevel.Error, "fillstream: bar not sent: " + e.Message);
            }
        }

        /// <summary>The experiment arm for this signal (POST /v1/assignments), waiting at most
        /// <paramref name="timeoutMs"/>; "control" when the bridge does not answer in time or at all.</summary>
        public static string Assign(string signalId, string strategy, int timeoutMs = DefaultAssignTimeoutMilliseconds)
        {
            FillstreamClient client = FillstreamSetup.SharedClient();
            return client == null ? "control" : client.Assign(signalId, strategy, timeoutMs);
        }

        public static string SignalJson(string strategyName, string instrument, string account, string signalId,
            MarketPosition direction, string variant, double confidence, double intendedStop, double intendedTarget,
            IDictionary<string, double> features, DateTime utc, out string problem)
        {
            problem = null;
            if (string.IsNullOrEmpty(signalId))
                problem = "no signal id";
            else if (string.IsNullOrEmpty(strategyName))
                problem = "signal " + signalId + ": no strategy name";
            else if (string.IsNullOrEmpty(instrument))
                problem = "signal " + signalId + ": no instrument";
            else if (direction == MarketPosition.Flat)
                problem = "signal " + signalId + ": direction must be Long or Short, was Flat";
            else if (!double.IsNaN(confidence) && !(confidence >= 0 && confidence <= 1))
                problem = "signal " + signalId + ": confidence must be between 0 and 1 (or NaN for none), was " + confidence;
            if (problem != null)
                return null;
            FillstreamJsonObject json = FillstreamEvents.Envelope("signal", utc)
                .String("signal_id", signalId)
                .String("account", account)
                .String("instrument", instrument)
                .String("strategy", strategyName)
                .String("variant", variant)
                .String("direction", FillstreamEvents.MarketPositionName(direction))
                .Number("confidence", confidence)
                .Decimal("intended_stop", PositivePrice(intendedStop))
                .Decimal("intended_target", PositivePrice(intendedTarget));
            if (features != null)
                json.Numbers("features", features);
            return json.ToString();
        }

        public static string BarJson(string instrument, string period, double open, double high, double low, double close,
            double volume, double bid, double ask, DateTime utc, out string problem)
        {
            problem = null;
            string[] prices = { PositivePrice(open), PositivePrice(high), PositivePrice(low), PositivePrice(close) };
            if (string.IsNullOrEmpty(instrument))
                problem = "no instrument";
            else if (string.IsNullOrEmpty(period))
                problem = "bar of " + instrument + ": no period";
            else if (Array.IndexOf(prices, null) >= 0)
                problem = "bar of " + instrument + ": open, high, low and close must be positive";
            else if (!(volume >= 0 && volume < int.MaxValue))
                problem = "bar of " + instrument + ": volume must be from 0 to " + int.MaxValue + ", was " + volume;
            if (problem != null)
                return null;
            return FillstreamEvents.Envelope("bar", utc)
                .String("instrument", instrument)
                .String("period", period)
                .Decimal("open", prices[0])
                .Decimal("high", prices[1])
                .Decimal("low", prices[2])
                .Decimal("close", prices[3])
                .Integer("volume", (long)Math.Round(volume))
                .Decimal("bid", PositivePrice(bid))
                .Decimal("ask", PositivePrice(ask))
                .ToString();
        }

        private static string PositivePrice(double price)
        {
            return price > 0 ? FillstreamJson.Decimal(price) : null;
        }
    }
}
