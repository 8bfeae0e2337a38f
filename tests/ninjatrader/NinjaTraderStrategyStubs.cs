// The part of the NinjaTrader 8 API the sample strategy (bridge/ninjatrader/samples/) and the
// AddOn's market feed (bridge/ninjatrader/FillstreamBars.cs) use: bar requests, bar series and the
// managed order methods of a strategy. Names, signatures and enum values follow the reflection
// listings of matdev83/ninjatrader-autodocs (NinjaTrader.Data.BarsRequest, BarsSeries, Bars,
// BarsPeriod, BarsPeriodType, BarsUpdateEventArgs, TradingHours; NinjaTrader.NinjaScript.StrategyBase,
// CalculationMode, ISeries; NinjaTrader.Cbi.Instrument) and the NT8 Help Guide pages barsrequest
// (constructors, the Update event), ninjascriptbase members (Close, High, Low, Open, Volume, Time,
// CurrentBar, Instrument, BarsPeriod, TickSize, OnBarUpdate). Members marked [StubOnly] do not exist
// in NinjaTrader: only the harnesses use them, to feed bars and to see the orders a strategy placed.

using System;
using System.Collections.Generic;
using FillstreamStubs;
using NinjaTrader.Cbi;
using NinjaTrader.Data;

namespace NinjaTrader.Cbi
{
    public partial class Instrument
    {
        private static readonly Dictionary<string, Instrument> known = new Dictionary<string, Instrument>();

        /// <summary>The instrument of that name (e.g. "NQ 12-26"); null when NinjaTrader has none
        /// and <paramref name="create"/> is false.</summary>
        public static Instrument GetInstrument(string instrumentName, bool create)
        {
            lock (known)
            {
                Instrument instrument;
                return instrumentName != null && known.TryGetValue(instrumentName, out instrument) ? instrument : null;
            }
        }

        /// <summary>Makes <paramref name="instrument"/> known to GetInstrument.</summary>
        [StubOnly]
        public static void Register(Instrument instrument)
        {
            lock (known)
                known[instrument.FullName] = instrument;
        }
    }
}

namespace NinjaTrader.Data
{
    public enum BarsPeriodType
    {
        Tick = 0, Volume = 1, Range = 2, Second = 3, Minute = 4, Day = 5, Week = 6, Month = 7, Year = 8,
        HeikenAshi = 9, Kagi = 10, Renko = 11, PointAndFigure = 12, LineBreak = 13, Volumetric = 14, Delta = 15,
        PriceOnVolume = 16
    }

    public class BarsPeriod
    {
        public BarsPeriodType BarsPeriodType { get; set; }
        public int Value { get; set; }
    }

    /// <summary>One bar of a stub series.</summary>
    [StubOnly]
    public sealed class StubBar
    {
        public DateTime Time;
        public double Open, High, Low, Close, Bid, Ask;
        public long Volume;
    }

    public class BarsSeries
    {
        private readonly List<StubBar> bars = new List<StubBar>();

        public BarsPeriod BarsPeriod { get; set; }
        public Instrument Instrument { get; set; }

        public int Count
        {
            get { lock (bars) return bars.Count; }
        }

        public DateTime GetTime(int index) { return At(index).Time; }
        public double GetOpen(int index) { return At(index).Open; }
        public double GetHigh(int index) { return At(index).High; }
        public double GetLow(int index) { return At(index).Low; }
        public double GetClose(int index) { return At(index).Close; }
        public long GetVolume(int index) { return At(index).Volume; }
        public double GetBid(int index) { return At(index).Bid; }
        public double GetAsk(int index) { return At(index).Ask; }

        /// <summary>Appends a bar (the one in progress is the last).</summary>
        [StubOnly]
        public void AddStubBar(StubBar bar)
        {
            lock (bars)
                bars.Add(bar);
        }

        private StubBar At(int index)
        {
            lock (bars)
                return bars[index];
        }
    }

    public class Bars
    {
        public Bars()
        {
            BarsSeries = new BarsSeries();
        }

        public BarsPeriod BarsPeriod { get; set; }
        public BarsSeries BarsSeries { get; set; }
        public Instrument Instrument { get; set; }
        public TradingHours TradingHours { get; set; }

        public int Count
        {
            get { return BarsSeries.Count; }
        }

        public DateTime GetTime(int index) { return BarsSeries.GetTime(index); }
        public double GetOpen(int index) { return BarsSeries.GetOpen(index); }
        public double GetHigh(int index) { return BarsSeries.GetHigh(index); }
        public double GetLow(int index) { return BarsSeries.GetLow(index); }
        public double GetClose(int index) { return BarsSeries.GetClose(index); }
        public long GetVolume(int index) { return BarsSeries.GetVolume(index); }
        public double GetBid(int index) { return BarsSeries.GetBid(index); }
        public double GetAsk(int index) { return BarsSeries.GetAsk(index); }
    }

    public class BarsUpdateEventArgs : EventArgs
    {
        public BarsSeries BarsSeries { get; set; }
        public int MaxIndex { get; set; }
        public int MinIndex { get; set; }
    }

    public partial class TradingHours
    {
        private static readonly List<TradingHours> all = new List<TradingHours>();

        /// <summary>The trading hours template of that name, or null.</summary>
        public static TradingHours Get(string name)
        {
            lock (all)
            {
                foreach (TradingHours hours in all)
                    if (hours.Name == name)
                        return hours;
                TradingHours made = new TradingHours { Name = name }; // the stub knows every template
                all.Add(made);
                return made;
            }
        }
    }

    /// <summary>Historical bars of an instrument and, while it is not disposed, its bar updates.</summary>
    public class BarsRequest : IDisposable
    {
        private static readonly List<BarsRequest> created = new List<BarsRequest>();
        private Action<BarsRequest, ErrorCode, string> callback;

        public BarsRequest(Instrument instrument, int barsBack)
        {
            Instrument = instrument;
            BarsBack = barsBack;
            Bars = new Bars { Instrument = instrument };
            Bars.BarsSeries.Instrument = instrument;
            lock (created)
                created.Add(this);
        }

        public BarsRequest(Instrument instrument, DateTime fromLocal, DateTime toLocal)
            : this(instrument, 0)
        {
            FromLocal = fromLocal;
            ToLocal = toLocal;
        }

        public event EventHandler<BarsUpdateEventArgs> Update;

        public Bars Bars { get; set; }
        public int BarsBack { get; set; }
        public BarsPeriod BarsPeriod { get; set; }
        public DateTime FromLocal { get; set; }
        public Instrument Instrument { get; set; }
        public DateTime ToLocal { get; set; }
        public TradingHours TradingHours { get; set; }

        public void Request(Action<BarsRequest, ErrorCode, string> callback)
        {
            this.callback = callback;
            Bars.BarsPeriod = BarsPeriod;
            Bars.BarsSeries.BarsPeriod = BarsPeriod;
            Bars.TradingHours = TradingHours;
            IsRequested = true;
        }

        public void Dispose()
        {
            IsDisposed = true;
            Update = null;
        }

        /// <summary>Every request made so far (the harness plays the data provider).</summary>
        [StubOnly]
        public static List<BarsRequest> Created
        {
            get { lock (created) return new List<BarsRequest>(created); }
        }

        [StubOnly]
        public static void ClearCreated()
        {
            lock (created)
                created.Clear();
        }

        [StubOnly]
        public bool IsRequested { get; private set; }

        [StubOnly]
        public bool IsDisposed { get; private set; }

        /// <summary>Answers Request: NinjaTrader calls back once the historical bars are loaded.</summary>
        [StubOnly]
        public void Complete(ErrorCode errorCode, string errorMessage)
        {
            Action<BarsRequest, ErrorCode, string> answer = callback;
            if (answer != null)
                answer(this, errorCode, errorMessage);
        }

        /// <summary>Appends a bar and raises Update for it, as a bar update from the data feed does
        /// (the previous bar is then closed).</summary>
        [StubOnly]
        public void Tick(StubBar bar)
        {
            Bars.BarsSeries.AddStubBar(bar);
            Raise(Bars.Count - 1, Bars.Count - 1);
        }

        /// <summary>Raises Update for bars already in the series (a re-delivery after a reconnect).</summary>
        [StubOnly]
        public void Raise(int minIndex, int maxIndex)
        {
            EventHandler<BarsUpdateEventArgs> handler = Update;
            if (handler != null)
                handler(this, new BarsUpdateEventArgs { BarsSeries = Bars.BarsSeries, MinIndex = minIndex, MaxIndex = maxIndex });
        }
    }
}

namespace NinjaTrader.NinjaScript
{
    public enum CalculationMode { Currency = 0, Percent = 1, Price = 2, Ticks = 3, Pips = 4 }

    public enum EntryHandling { AllEntries = 0, UniqueEntries = 1 }

    public enum Calculate { OnBarClose = 0, OnEachTick = 1, OnPriceChange = 2 }

    /// <summary>A series indexed by bars ago ([0] is the current bar).</summary>
    public interface ISeries<T>
    {
        int Count { get; }
        T this[int barsAgo] { get; }
    }

    /// <summary>The stub's series: values in bar order.</summary>
    [StubOnly]
    public sealed class StubSeries<T> : ISeries<T>
    {
        private readonly List<T> values = new List<T>();

        public int Count
        {
            get { return values.Count; }
        }

        public T this[int barsAgo]
        {
            get { return values[values.Count - 1 - barsAgo]; }
        }

        public void Add(T value)
        {
            values.Add(value);
        }
    }

    /// <summary>An order a strategy asked for, as the stub saw it.</summary>
    [StubOnly]
    public sealed class StubOrderRequest
    {
        public OrderAction Action;
        public int Quantity;
        public string SignalName;
        public string FromEntrySignal;
    }

    /// <summary>A stop or target a strategy set for an entry signal.</summary>
    [StubOnly]
    public sealed class StubBracket
    {
        public string FromEntrySignal;
        public CalculationMode Mode;
        public double Value;
    }

    public abstract partial class NinjaScriptBase
    {
        private readonly StubSeries<double> open = new StubSeries<double>();
        private readonly StubSeries<double> high = new StubSeries<double>();
        private readonly StubSeries<double> low = new StubSeries<double>();
        private readonly StubSeries<double> close = new StubSeries<double>();
        private readonly StubSeries<double> volume = new StubSeries<double>();
        private readonly StubSeries<DateTime> time = new StubSeries<DateTime>();

        public BarsPeriod BarsPeriod { get; set; }
        public Calculate Calculate { get; set; }
        public ISeries<double> Close { get { return close; } }
        public int CurrentBar { get { return close.Count - 1; } }
        public ISeries<double> High { get { return high; } }
        public Instrument Instrument { get; set; }
        public ISeries<double> Low { get { return low; } }
        public ISeries<double> Open { get { return open; } }
        public double TickSize { get { return Instrument == null ? 0 : Instrument.MasterInstrument.TickSize; } }
        public ISeries<DateTime> Time { get { return time; } }
        public ISeries<double> Volume { get { return volume; } }

        protected virtual void OnBarUpdate() { }

        /// <summary>A closed bar (Calculate.OnBarClose): appends it to the series and calls OnBarUpdate.</summary>
        [StubOnly]
        public void StubBarClosed(DateTime barTime, double o, double h, double l, double c, double v)
        {
            open.Add(o);
            high.Add(h);
            low.Add(l);
            close.Add(c);
            volume.Add(v);
            time.Add(barTime);
            OnBarUpdate();
        }
    }

    public abstract partial class StrategyBase
    {
        private readonly List<StubOrderRequest> requests = new List<StubOrderRequest>();
        private readonly List<StubBracket> stops = new List<StubBracket>();
        private readonly List<StubBracket> targets = new List<StubBracket>();

        public Account Account { get; set; }
        public int EntriesPerDirection { get; set; }
        public EntryHandling EntryHandling { get; set; }
        public Position Position { get; set; }

        public Order EnterLong(int quantity, string signalName)
        {
            return Request(OrderAction.Buy, quantity, signalName, null);
        }

        public Order EnterShort(int quantity, string signalName)
        {
            return Request(OrderAction.SellShort, quantity, signalName, null);
        }

        public Order ExitLong(int quantity, string signalName, string fromEntrySignal)
        {
            return Request(OrderAction.Sell, quantity, signalName, fromEntrySignal);
        }

        public Order ExitShort(int quantity, string signalName, string fromEntrySignal)
        {
            return Request(OrderAction.BuyToCover, quantity, signalName, fromEntrySignal);
        }

        public void SetStopLoss(string fromEntrySignal, CalculationMode mode, double value, bool isSimulatedStop)
        {
            stops.Add(new StubBracket { FromEntrySignal = fromEntrySignal, Mode = mode, Value = value });
        }

        public void SetProfitTarget(string fromEntrySignal, CalculationMode mode, double value)
        {
            targets.Add(new StubBracket { FromEntrySignal = fromEntrySignal, Mode = mode, Value = value });
        }

        /// <summary>The orders asked for since the last call (the harness fills them).</summary>
        [StubOnly]
        public List<StubOrderRequest> TakeOrderRequests()
        {
            List<StubOrderRequest> taken = new List<StubOrderRequest>(requests);
            requests.Clear();
            return taken;
        }

        /// <summary>The last stop loss set for the entry signal, or null.</summary>
        [StubOnly]
        public StubBracket StopFor(string fromEntrySignal)
        {
            return Last(stops, fromEntrySignal);
        }

        /// <summary>The last profit target set for the entry signal, or null.</summary>
        [StubOnly]
        public StubBracket TargetFor(string fromEntrySignal)
        {
            return Last(targets, fromEntrySignal);
        }

        private Order Request(OrderAction action, int quantity, string signalName, string fromEntrySignal)
        {
            if (signalName != null && signalName.Length > 50)
                throw new ArgumentException("NinjaTrader refuses a signal name over 50 characters: " + signalName);
            requests.Add(new StubOrderRequest { Action = action, Quantity = quantity, SignalName = signalName, FromEntrySignal = fromEntrySignal });
            return null; // NinjaTrader returns the order; the stub leaves the order to the harness
        }

        private static StubBracket Last(List<StubBracket> brackets, string fromEntrySignal)
        {
            for (int i = brackets.Count - 1; i >= 0; i--)
                if (brackets[i].FromEntrySignal == fromEntrySignal)
                    return brackets[i];
            return null;
        }
    }
}

namespace NinjaTrader.NinjaScript.Strategies
{
    /// <summary>The base class of every NinjaScript strategy.</summary>
    public class Strategy : StrategyBase { }
}
