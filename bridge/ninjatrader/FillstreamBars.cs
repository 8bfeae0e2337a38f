// Market context from the AddOn itself: closed bars of the excursion period (excursion_period= in
// fillstream.config, default "1 Minute", like the backend's FILLSTREAM_EXCURSION_PERIOD) for every
// instrument with an open position in a captured account, and for those listed in
// bars_instruments=, posted as "bar" events. Manual and ATM trades get MAE/MFE, regimes and live
// marks without any strategy code.
//
// NinjaTrader's BarsRequest (help: barsrequest) loads a few bars back and, while it is not disposed,
// raises Update as bars form; a bar is closed once a later one exists. A bar's identity is its
// instrument, period and time (NinjaTrader stamps a time-based bar with its end): the feed keeps the
// last time sent per instrument and period and never sends one at or before it, so a reconnect that
// delivers bars again, a new subscription, and FillstreamSignals.Bar from a strategy on the same
// series never duplicate a bar. Memory is bounded: at most MaxSubscriptions instruments and
// MaxSeries last-sent times. Handlers only convert and enqueue; subscribing and disposing run on the
// thread pool. A position going flat keeps its instrument subscribed until the next bar closes (the
// bar holding the exit), then the request is disposed unless the instrument is listed.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.Threading;
using NinjaTrader.Cbi;
using NinjaTrader.Data;

namespace NinjaTrader.NinjaScript.AddOns
{
    public static class FillstreamMarketFeed
    {
        public const int MaxSubscriptions = 64;
        public const int MaxSeries = 1024;
        /// <summary>Bars loaded back when a subscription starts (the closed ones are sent).</summary>
        public const int BarsBack = 3;
        public const string DefaultPeriod = "1 Minute";

        private static readonly object gate = new object();
        private static readonly Dictionary<string, Subscription> subscriptions = new Dictionary<string, Subscription>();
        // instrument → accounts with an open position in it
        private static readonly Dictionary<string, HashSet<string>> open = new Dictionary<string, HashSet<string>>();
        private static readonly HashSet<string> listed = new HashSet<string>();
        private static readonly object sentGate = new object();
        private static readonly Dictionary<string, DateTime> lastSent = new Dictionary<string, DateTime>();
        private static readonly Queue<string> sentOrder = new Queue<string>();
        private static bool started;
        private static bool warnedFull;
        private static string period = DefaultPeriod;
        private static BarsPeriod barsPeriod = new BarsPeriod { BarsPeriodType = BarsPeriodType.Minute, Value = 1 };

        /// <summary>Runs subscription changes off the caller's thread; tests make it synchronous.</summary>
        public static Action<WaitCallback> Dispatch = delegate(WaitCallback work) { ThreadPool.QueueUserWorkItem(work); };

        private sealed class Subscription
        {
            public Instrument Instrument;
            public BarsRequest Request;
            public bool CloseAfterNextBar;
        }

        /// <summary>The period bars are sent for, as in the "bar" events ("1 Minute").</summary>
        public static string Period
        {
            get { lock (gate) return period; }
        }

        public static int SubscriptionCount
        {
            get { lock (gate) return subscriptions.Count; }
        }

        public static int SeriesCount
        {
            get { lock (sentGate) return lastSent.Count; }
        }

        /// <summary>Starts the feed with the shared client's configuration: its period, the listed
        /// instruments and those of positions already open in the captured accounts (NinjaTrader
        /// raises no PositionUpdate for them) are subscribed. Does nothing without a client or
        /// when started.</summary>
        public static void Start()
        {
            FillstreamClient client = FillstreamClient.Shared;
            if (client == null)
                return;
            Start(client.Config.ExcursionPeriod, client.Config.BarsInstruments);
            List<Account> accounts;
            lock (Account.All)
                accounts = new List<Account>(Account.All);
            foreach (Account account in accounts)
            {
                if (account == null || !client.Config.Includes(account.Name))
                    continue;
                List<Position> positions;
                lock (account.Positions)
                    positions = new List<Position>(account.Positions);
                foreach (Position position in positions)
                    if (position != null && position.MarketPosition != MarketPosition.Flat && position.Quantity > 0)
                        OnPositionChanged(account, position.Instrument, position.MarketPosition);
            }
        }

        public static void Start(string excursionPeriod, IEnumerable<string> instruments)
        {
            List<Instrument> toSubscribe = new List<Instrument>();
            lock (gate)
            {
                if (started)
                    return;
                string problem;
                BarsPeriod parsed = ParsePeriod(excursionPeriod, out problem);
                if (parsed == null)
                {
                    Report(FillstreamLogLevel.Warning, "fillstream: excursion_period: " + problem + "; using " + DefaultPeriod);
                    parsed = ParsePeriod(DefaultPeriod, out problem);
                }
                barsPeriod = parsed;
                period = PeriodName(parsed);
                started = true;
                listed.Clear();
                foreach (string name in instruments ?? new string[0])
                {
                    Instrument instrument = Instrument.GetInstrument(name, false);
                    if (instrument == null)
                    {
                        Report(FillstreamLogLevel.Warning, "fillstream: bars_instruments: NinjaTrader knows no instrument '" + name + "'");
                        continue;
                    }
                    listed.Add(instrument.FullName);
                    toSubscribe.Add(instrument);
                }
            }
            foreach (Instrument instrument in toSubscribe)
                Want(instrument);
        }

        /// <summary>Disposes every bar request; the last-sent times are kept, so a restart of the
        /// AddOn in the same NinjaTrader session sends no bar twice.</summary>
        public static void Stop()
        {
            List<Subscription> all;
            lock (gate)
            {
                started = false;
                all = new List<Subscription>(subscriptions.Values);
                subscriptions.Clear();
                open.Clear();
                listed.Clear();
                warnedFull = false;
            }
            foreach (Subscription subscription in all)
                DisposeRequest(subscription);
        }

        /// <summary>The AddOn's position handler calls this for every position update: an open
        /// position subscribes its instrument, the last account going flat unsubscribes it after
        /// the next closed bar (unless listed).</summary>
        public static void OnPositionChanged(Account account, Instrument instrument, MarketPosition position)
        {
            if (instrument == null || string.IsNullOrEmpty(instrument.FullName))
                return;
            string name = instrument.FullName;
            string accountName = FillstreamEvents.AccountName(account);
            bool want;
            lock (gate)
            {
                if (!started)
                    return;
                HashSet<string> accounts;
                if (!open.TryGetValue(name, out accounts))
                {
                    if (position == MarketPosition.Flat)
                        return;
                    open[name] = accounts = new HashSet<string>();
                }
                if (position == MarketPosition.Flat)
                    accounts.Remove(accountName);
                else
                    accounts.Add(accountName);
                want = accounts.Count > 0;
                if (!want)
                    open.Remove(name);
                Subscription subscription;
                if (subscriptions.TryGetValue(name, out subscription))
                {
                    subscription.CloseAfterNextBar = !want && !listed.Contains(name);
                    return;
                }
            }
            if (want)
                Want(instrument);
        }

        /// <summary>Sends a closed bar unless one at or after its time was already sent for the
        /// instrument and period; true when it was queued. <paramref name="time"/> in the platform
        /// time zone. FillstreamSignals.Bar goes through here too.</summary>
        public static bool Post(FillstreamClient client, string instrument, string barPeriod, double open, double high,
            double low, double close, double volume, double bid, double ask, DateTime time)
        {
            if (client == null)
                return false;
            string key = instrument + "|" + barPeriod;
            lock (sentGate)
            {
                DateTime last;
                if (lastSent.TryGetValue(key, out last) && time <= last)
                    return false;
                string problem;
                string json = FillstreamSignals.BarJson(instrument, barPeriod, open, high, low, close, volume, bid, ask,
                    FillstreamTime.ToUtc(time, FillstreamSetup.PlatformZone()), out problem);
                if (json == null)
                {
                    client.Report(FillstreamLogLevel.Warning, "fillstream: bar not sent: " + problem);
                    return false;
                }
                if (!lastSent.ContainsKey(key))
                {
                    sentOrder.Enqueue(key);
                    while (sentOrder.Count > MaxSeries)
                        lastSent.Remove(sentOrder.Dequeue());
                }
                lastSent[key] = time;
                client.Enqueue(json);
                return true;
            }
        }

        /// <summary>"1 Minute", "5 Minute", "2000 Tick", "1 Day" → a BarsPeriod; null with the reason otherwise.</summary>
        public static BarsPeriod ParsePeriod(string text, out string problem)
        {
            problem = null;
            string[] parts = (text ?? "").Trim().Split(new[] { ' ' }, StringSplitOptions.RemoveEmptyEntries);
            int value;
            BarsPeriodType type;
            if (parts.Length != 2 || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out value) || value <= 0)
                problem = "expected a count and a bar type like '1 Minute', was '" + text + "'";
            else if (!TryType(parts[1], out type))
                problem = "bar type must be Tick, Volume, Range, Second, Minute, Day, Week, Month or Year, was '" + parts[1] + "'";
            else
                return new BarsPeriod { BarsPeriodType = type, Value = value };
            return null;
        }

        public static string PeriodName(BarsPeriod barsPeriod)
        {
            return barsPeriod.Value.ToString(CultureInfo.InvariantCulture) + " " + barsPeriod.BarsPeriodType;
        }

        private static bool TryType(string name, out BarsPeriodType type)
        {
            BarsPeriodType[] allowed =
            {
                BarsPeriodType.Tick, BarsPeriodType.Volume, BarsPeriodType.Range, BarsPeriodType.Second,
                BarsPeriodType.Minute, BarsPeriodType.Day, BarsPeriodType.Week, BarsPeriodType.Month, BarsPeriodType.Year,
            };
            foreach (BarsPeriodType candidate in allowed)
                if (string.Equals(candidate.ToString(), name, StringComparison.OrdinalIgnoreCase))
                {
                    type = candidate;
                    return true;
                }
            type = BarsPeriodType.Minute;
            return false;
        }

        private static void Want(Instrument instrument)
        {
            Subscription subscription;
            lock (gate)
            {
                if (!started || subscriptions.ContainsKey(instrument.FullName))
                    return;
                if (subscriptions.Count >= MaxSubscriptions)
                {
                    if (!warnedFull)
                        Report(FillstreamLogLevel.Warning, string.Format(
                            "fillstream: already {0} instruments subscribed for bars; {1} gets none", MaxSubscriptions, instrument.FullName));
                    warnedFull = true;
                    return;
                }
                subscription = new Subscription { Instrument = instrument };
                subscriptions[instrument.FullName] = subscription;
            }
            Dispatch(delegate { Subscribe(subscription); });
        }

        private static void Subscribe(Subscription subscription)
        {
            try
            {
                BarsPeriod requested;
                lock (gate)
                    requested = new BarsPeriod { BarsPeriodType = barsPeriod.BarsPeriodType, Value = barsPeriod.Value };
                BarsRequest request = new BarsRequest(subscription.Instrument, BarsBack);
                request.BarsPeriod = requested;
                MasterInstrument master = subscription.Instrument.MasterInstrument;
                request.TradingHours = (master == null ? null : master.TradingHours) ?? TradingHours.Get("Default 24 x 7");
                request.Update += OnBarsUpdate;
                lock (gate)
                {
                    Subscription current;
                    if (!subscriptions.TryGetValue(subscription.Instrument.FullName, out current) || current != subscription)
                    {
                        request.Update -= OnBarsUpdate;
                        request.Dispose(); // stopped meanwhile
                        return;
                    }
                    subscription.Request = request;
                }
                request.Request(OnBarsLoaded);
            }
            catch (Exception e)
            {
                Report(FillstreamLogLevel.Error, "fillstream: no bars for " + subscription.Instrument.FullName + ": " + e.Message);
            }
        }

        private static void OnBarsLoaded(BarsRequest request, ErrorCode errorCode, string errorMessage)
        {
            try
            {
                if (errorCode != ErrorCode.NoError)
                {
                    Report(FillstreamLogLevel.Warning, "fillstream: no bars for " + FillstreamEvents.InstrumentName(request.Instrument)
                        + ": " + errorCode + (string.IsNullOrEmpty(errorMessage) ? "" : " " + errorMessage));
                    return;
                }
                Send(request, request.Bars.BarsSeries, 0, request.Bars.Count - 1);
            }
            catch (Exception e)
            {
                Report(FillstreamLogLevel.Error, "fillstream: bars not sent: " + e.Message);
            }
        }

        private static void OnBarsUpdate(object sender, BarsUpdateEventArgs e)
        {
            try
            {
                BarsRequest request = sender as BarsRequest;
                if (request != null && e.BarsSeries != null)
                    Send(request, e.BarsSeries, e.MinIndex, e.MaxIndex);
            }
            catch (Exception ex)
            {
                Report(FillstreamLogLevel.Error, "fillstream: bars not sent: " + ex.Message);
            }
        }

        /// <summary>Sends the closed bars among <paramref name="min"/>..<paramref name="max"/>: every
        /// bar but the last of the series, which is still forming.</summary>
        private static void Send(BarsRequest request, BarsSeries series, int min, int max)
        {
            FillstreamClient client = FillstreamClient.Shared;
            string instrument = FillstreamEvents.InstrumentName(request.Instrument);
            string name = request.BarsPeriod == null ? Period : PeriodName(request.BarsPeriod);
            int lastClosed = Math.Min(max, series.Count - 2);
            bool sent = false;
            for (int i = Math.Max(0, min - 1); i <= lastClosed; i++)
                sent |= Post(client, instrument, name, series.GetOpen(i), series.GetHigh(i), series.GetLow(i), series.GetClose(i),
                    series.GetVolume(i), series.GetBid(i), series.GetAsk(i), series.GetTime(i));
            if (sent)
                CloseIfFlat(request);
        }

        private static void CloseIfFlat(BarsRequest request)
        {
            Subscription subscription;
            lock (gate)
            {
                string name = FillstreamEvents.InstrumentName(request.Instrument);
                if (!subscriptions.TryGetValue(name, out subscription) || subscription.Request != request || !subscription.CloseAfterNextBar)
                    return;
                subscriptions.Remove(name);
            }
            // never dispose a request inside its own Update handler
            Dispatch(delegate { DisposeRequest(subscription); });
        }

        private static void DisposeRequest(Subscription subscription)
        {
            try
            {
                BarsRequest request = subscription.Request;
                if (request == null)
                    return;
                request.Update -= OnBarsUpdate;
                request.Dispose();
            }
            catch (Exception e)
            {
                Report(FillstreamLogLevel.Warning, "fillstream: could not end the bars of " + subscription.Instrument.FullName + ": " + e.Message);
            }
        }

        private static void Report(FillstreamLogLevel level, string message)
        {
            FillstreamClient client = FillstreamClient.Shared;
            if (client != null)
                client.Report(level, message);
        }
    }
}
