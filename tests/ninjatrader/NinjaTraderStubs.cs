// Just enough of the NinjaTrader 8 API for mcs to type-check bridge/ninjatrader/*.cs and for the
// golden harness to drive the AddOn. Every type, member and enum value here is in
// tests/ninjatrader/api-listing.txt (public reflection listings of NinjaTrader 8, with a supplement
// from the Help Guide for the events and types those listings omit) with the same type and signature;
// tests/unit/bridge/test_ninjatrader_stubs.py checks it. Members the harness alone needs are marked
// [StubOnly]: they do not exist in NinjaTrader, and bridge/ninjatrader/*.cs must not use them.
// NinjaTraderStrategyStubs.cs declares the strategy and bars side of the API.

using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.IO;

namespace FillstreamStubs
{
    /// <summary>Marks a stub type or member that NinjaTrader does not have (harness plumbing);
    /// the listing check skips it.</summary>
    [AttributeUsage(AttributeTargets.All)]
    public sealed class StubOnlyAttribute : Attribute
    {
    }
}

namespace NinjaTrader.Cbi
{
    using FillstreamStubs;

    public enum MarketPosition { Long = 0, Short = 1, Flat = 2 }

    public enum OrderAction { Buy = 0, BuyToCover = 1, Sell = 2, SellShort = 3 }

    public enum OrderState
    {
        Accepted = 0, Cancelled = 1, Filled = 2, Initialized = 3, PartFilled = 4, CancelSubmitted = 5,
        ChangeSubmitted = 6, Submitted = 7, TriggerPending = 8, Rejected = 9, Working = 10, CancelPending = 11,
        ChangePending = 12, Suspended = 13, AcceptedByRisk = 50, Unknown = 99
    }

    public enum OrderType { Limit = 0, Market = 1, MIT = 2, StopLimit = 3, StopMarket = 4, Unknown = 99 }

    public enum Operation { Add = 0, Update = 1, Remove = 2 }

    public enum ErrorCode
    {
        NoError = 0, LogOnFailed = 1, OrderRejected = 3, UnableToCancelOrder = 5, UnableToChangeOrder = 6,
        UnableToSubmitOrder = 7, UserAbort = 8, OrderRejectedByRisk = 9, LoginExpired = 10, Panic = 18
    }

    public enum ConnectionStatus { Disconnected = 0, Disconnecting = 1, ConnectionLost = 2, Connected = 3, Connecting = 4 }

    public enum LogLevel { Alert = 0, Information = 1, Warning = 2, Error = 3 }

    public enum Currency
    {
        AustralianDollar = 0, BritishPound = 1, CanadianDollar = 2, Euro = 3, HongKongDollar = 4,
        JapaneseYen = 5, SwissFranc = 6, UsDollar = 7, KoreanWon = 8, IndianRupee = 9, SwedishKrona = 10,
        MexicanPeso = 11, BrazilianReal = 12, SingaporeDollar = 13, ChinaYuan = 14, MalaysiaRinggit = 15,
        ThailandBaht = 16, TaiwanNewDollar = 17, NewZealandDollar = 18, SouthAfricanRand = 19,
        CzechRepublicKoruna = 20, NorwayKrone = 21, DenmarkKrone = 22, HungaryForint = 23, PolandZloty = 24,
        TurkeyLira = 25, IsraeliShekel = 26, RussiaRuble = 27, SaudiRiyal = 28
    }

    public enum InstrumentType
    {
        Future = 0, Stock = 1, Index = 2, Option = 3, Forex = 4, Cfd = 5, Spread = 6, CryptoCurrency = 7,
        Unknown = 99
    }

    public enum Exchange
    {
        Ace = 0, Amex = 1, Arca = 2, Belfox = 3, Bse = 4, Box = 5, Brut = 6, BTrade = 7, Cfe = 8, Default = 9,
        ECbot = 10, Eurex = 11, EurexSW = 12, EurexUS = 13, Fta = 14, Hkfe = 15, IBIdeal = 16, IBTmbr = 17,
        IBVwap = 18, Idem = 19, Inca = 20, Ise = 21, Island = 22, Globex = 23, Liffe = 24, Lse = 25, Me = 26,
        Meff = 27, Monep = 28, Nnm = 29, Nqlx = 30, Nscm = 31, Nymex = 32, Nyse = 33, Oes = 34, One = 35,
        Opra = 36, Ose = 37, OtcBB = 38, Phlx = 39, Pse = 40, Redi = 41, SDot = 42, Sfe = 43, Sfx = 44,
        Sgx = 45, Snfe = 46, Soes = 47, Swb = 48, Swx = 49, Tse = 50, Tsx = 51, TsxV = 52, VirtX = 53,
        Xetra = 54, IBIdealPro = 55, Nybot = 56, Cboe = 57, Nasdaq = 58, Caes = 59, Ipe = 60, Matif = 61,
        BrokerTec = 62, ClearPort = 63, Kse = 64, LiffeCommodities = 65, Aeb = 66, Asx = 67, Ice = 68,
        Aex = 69, Nse = 70, Bvme = 72, Hkex = 73, Sbf = 74, Bm = 75, Vse = 76, Sfb = 77, Omx = 78, Mexi = 79,
        Bovespa = 80, Czce = 81, Dce = 82, Shfe = 83, Shse = 84, Szse = 85, Tadawul = 86, Gdax = 87,
        FairX = 88
    }

    public class MasterInstrument
    {
        public Currency Currency { get; set; }
        public string Description { get; set; }
        public InstrumentType InstrumentType { get; set; }
        public string Name { get; set; }
        public double PointValue { get; set; }
        public double TickSize { get; set; }
        public NinjaTrader.Data.TradingHours TradingHours { get; set; }
    }

    public partial class Instrument
    {
        public Exchange Exchange { get; set; }
        public string FullName { get; set; }
        public MasterInstrument MasterInstrument { get; set; }
    }

    public class ConnectOptions
    {
        public string Name { get; set; }
    }

    public class Connection
    {
        public ConnectOptions Options { get; set; }
        public ConnectionStatus Status { get; set; }
    }

    public class Account
    {
        private static readonly Collection<Account> all = new Collection<Account>();

        public Account()
        {
            Executions = new Collection<Execution>();
            Orders = new Collection<Order>();
            Positions = new Collection<Position>();
            FlattenCalls = new List<string>();
        }

        public static Collection<Account> All { get { return all; } }

        public static event EventHandler<AccountStatusEventArgs> AccountStatusUpdate;

        public string Name { get; set; }
        public Connection Connection { get; set; }
        public ConnectionStatus ConnectionStatus { get; set; }
        public Collection<Execution> Executions { get; private set; }
        public Collection<Order> Orders { get; private set; }
        public Collection<Position> Positions { get; private set; }

        public event EventHandler<ExecutionEventArgs> ExecutionUpdate;
        public event EventHandler<OrderEventArgs> OrderUpdate;
        public event EventHandler<PositionEventArgs> PositionUpdate;

        public void RaiseExecutionUpdate(ExecutionEventArgs e)
        {
            EventHandler<ExecutionEventArgs> handler = ExecutionUpdate;
            if (handler != null) handler(this, e);
        }

        public void RaiseOrderUpdate(OrderEventArgs e)
        {
            EventHandler<OrderEventArgs> handler = OrderUpdate;
            if (handler != null) handler(this, e);
        }

        public void RaisePositionUpdate(PositionEventArgs e)
        {
            EventHandler<PositionEventArgs> handler = PositionUpdate;
            if (handler != null) handler(this, e);
        }

        /// <summary>Cancels the orders and closes the positions of these instruments (NT8 help,
        /// Account > Flatten()). The stub records the call, or throws FlattenError.</summary>
        public void Flatten(ICollection<Instrument> instruments)
        {
            if (FlattenError != null)
                throw new InvalidOperationException(FlattenError);
            List<string> names = new List<string>();
            foreach (Instrument instrument in instruments)
                names.Add(instrument.FullName);
            lock (FlattenCalls)
                FlattenCalls.Add(string.Join(",", names));
        }

        /// <summary>One entry per Flatten call: the instruments' full names, comma-separated.</summary>
        [StubOnly]
        public List<string> FlattenCalls { get; private set; }

        /// <summary>Set: Flatten throws with this message.</summary>
        [StubOnly]
        public string FlattenError { get; set; }

        public void RaiseAccountStatusUpdate(AccountStatusEventArgs e)
        {
            ConnectionStatus = e.Status;
            EventHandler<AccountStatusEventArgs> handler = AccountStatusUpdate;
            if (handler != null) handler(this, e);
        }

        /// <summary>How many handlers are subscribed to the three update events.</summary>
        [StubOnly]
        public int SubscriberCount
        {
            get
            {
                return Count(ExecutionUpdate) + Count(OrderUpdate) + Count(PositionUpdate);
            }
        }

        /// <summary>Handlers of the static AccountStatusUpdate event.</summary>
        [StubOnly]
        public static int StatusSubscriberCount
        {
            get { return Count(AccountStatusUpdate); }
        }

        private static int Count(Delegate handler)
        {
            return handler == null ? 0 : handler.GetInvocationList().Length;
        }

        public override string ToString()
        {
            return Name;
        }
    }

    public class Execution
    {
        public Account Account { get; set; }
        public int BarsInProgress { get; set; }
        public double Commission { get; set; }
        public string ExecutionId { get; set; }
        /// <summary>In the 8.1 listing but not in the Help Guide: the AddOn reads it by reflection.</summary>
        public double Fee { get; set; }
        public Instrument Instrument { get; set; }
        public bool IsEntry { get; set; }
        public bool IsExit { get; set; }
        public bool IsSod { get; set; }
        public MarketPosition MarketPosition { get; set; }
        public string Name { get; set; }
        public Order Order { get; set; }
        public string OrderId { get; set; }
        public int Position { get; set; }
        public double Price { get; set; }
        public int Quantity { get; set; }
        public double Rate { get; set; }
        public DateTime Time { get; set; }
    }

    public class Order
    {
        public Account Account { get; set; }
        public double AverageFillPrice { get; set; }
        public int Filled { get; set; }
        public string FromEntrySignal { get; set; }
        public long Id { get; set; }
        public Instrument Instrument { get; set; }
        public double LimitPrice { get; set; }
        public string Name { get; set; }
        public string Oco { get; set; }
        public OrderAction OrderAction { get; set; }
        public string OrderId { get; set; }
        public OrderState OrderState { get; set; }
        public OrderType OrderType { get; set; }
        public int Quantity { get; set; }
        public double StopPrice { get; set; }
        public DateTime Time { get; set; }

        /// <summary>What GetOwnerStrategy returns.</summary>
        [StubOnly]
        public NinjaTrader.NinjaScript.StrategyBase OwnerStrategy { get; set; }

        public NinjaTrader.NinjaScript.StrategyBase GetOwnerStrategy()
        {
            return OwnerStrategy;
        }
    }

    public class Position
    {
        public Account Account { get; set; }
        public double AveragePrice { get; set; }
        public Instrument Instrument { get; set; }
        public MarketPosition MarketPosition { get; set; }
        public int Quantity { get; set; }
    }

    public class ExecutionEventArgs : EventArgs
    {
        public Exchange Exchange { get; set; }
        public Execution Execution { get; set; }
        public string ExecutionId { get; set; }
        public bool IsSod { get; set; }
        public MarketPosition MarketPosition { get; set; }
        public Operation Operation { get; set; }
        public string OrderId { get; set; }
        public double Price { get; set; }
        public int Quantity { get; set; }
        public DateTime StatementDate { get; set; }
        public DateTime Time { get; set; }
    }

    public class OrderEventArgs : EventArgs
    {
        public double AverageFillPrice { get; set; }
        public string Comment { get; set; }
        public ErrorCode Error { get; set; }
        public int Filled { get; set; }
        public double LimitPrice { get; set; }
        public Order Order { get; set; }
        public string OrderId { get; set; }
        public OrderState OrderState { get; set; }
        public int Quantity { get; set; }
        public double StopPrice { get; set; }
        public DateTime Time { get; set; }
    }

    public class PositionEventArgs : EventArgs
    {
        public double AveragePrice { get; set; }
        public MarketPosition MarketPosition { get; set; }
        public Operation Operation { get; set; }
        public Position Position { get; set; }
        public int Quantity { get; set; }
    }

    public class AccountStatusEventArgs : EventArgs
    {
        public Account Account { get; set; }
        public string Message { get; set; }
        public ConnectionStatus PreviousStatus { get; set; }
        public ConnectionStatus Status { get; set; }
    }
}

namespace NinjaTrader.Data
{
    /// <summary>Partial: NinjaTraderStrategyStubs.cs may declare more of it.</summary>
    public partial class TradingHours
    {
        public string Name { get; set; }
    }
}

namespace NinjaTrader.Core
{
    using FillstreamStubs;

    /// <summary>What Globals.GeneralOptions returns (Tools > Options > General). The listing has
    /// no name for its type: code reaches it only through Globals.GeneralOptions.</summary>
    [StubOnly]
    public class GeneralOptions
    {
        public TimeZoneInfo TimeZoneInfo { get; set; }
    }

    public static class Globals
    {
        private static readonly GeneralOptions generalOptions = new GeneralOptions { TimeZoneInfo = TimeZoneInfo.Utc };
        private static string userDataDir = Path.GetTempPath();

        /// <summary>Documents\NinjaTrader 8\ on a real installation (with the trailing separator);
        /// the setter is the harness's.</summary>
        public static string UserDataDir
        {
            get { return userDataDir; }
            set { userDataDir = value; }
        }

        /// <summary>Tools > Options > General; TimeZoneInfo is the platform time zone.</summary>
        public static GeneralOptions GeneralOptions
        {
            get { return generalOptions; }
        }
    }
}

namespace NinjaTrader.NinjaScript
{
    using FillstreamStubs;
    using NinjaTrader.Cbi;

    public enum State
    {
        Undefined = 0, SetDefaults = 1, Configure = 2, Active = 3, DataLoaded = 4, Historical = 5,
        Transition = 6, Realtime = 7, Terminated = 8, Finalized = 9
    }

    public abstract class NinjaScript
    {
        public string Name { get; set; }
        public string Description { get; set; }
        public State State { get; private set; }

        protected virtual void OnStateChange() { }

        /// <summary>NinjaTrader moves scripts through their states; the harness does it here.</summary>
        public void SetState(State state)
        {
            State = state;
            OnStateChange();
        }

        public void Print(object value)
        {
            Action<string> sink = PrintSink;
            if (sink != null) sink(Convert.ToString(value));
        }

        public void Log(string message, LogLevel logLevel)
        {
            Action<string> sink = LogSink;
            if (sink != null) sink(logLevel + ": " + message);
        }

        /// <summary>The harness collects the Output window here.</summary>
        [StubOnly]
        public static Action<string> PrintSink;
        /// <summary>The harness collects the Log tab here.</summary>
        [StubOnly]
        public static Action<string> LogSink;
    }

    public abstract partial class NinjaScriptBase : NinjaScript { }

    public abstract class AddOnBase : NinjaScript { }

    public abstract partial class StrategyBase : NinjaScriptBase { }

    /// <summary>What Order.GetOwnerStrategy returns for an order of an ATM strategy.</summary>
    public class AtmStrategy : StrategyBase { }
}
