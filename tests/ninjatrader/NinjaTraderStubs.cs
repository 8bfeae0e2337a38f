// Just enough of the NinjaTrader 8 API for mcs to type-check bridge/ninjatrader/*.cs and for the
// golden harness to drive the AddOn. Names and shapes follow the NT8 Help Guide (account_class,
// executionupdate, orderupdate, positionupdate, log) and the reflection listings in
// matdev83/ninjatrader-autodocs (Account, Execution, ExecutionEventArgs, Order, OrderEventArgs,
// Position, PositionEventArgs, AccountStatusEventArgs, OrderState, OrderType, OrderAction).
// Members marked "stub only" do not exist in NinjaTrader; only the harness uses them.

using System;
using System.Collections.ObjectModel;
using System.IO;

namespace NinjaTrader.Cbi
{
    public enum MarketPosition { Flat, Long, Short }

    public enum OrderAction { Buy, BuyToCover, Sell, SellShort }

    public enum OrderState
    {
        Accepted, Cancelled, Filled, Initialized, PartFilled, CancelSubmitted, ChangeSubmitted, Submitted,
        TriggerPending, Rejected, Working, CancelPending, ChangePending, Suspended, AcceptedByRisk, Unknown
    }

    public enum OrderType { Limit, Market, MIT, StopLimit, StopMarket, Unknown }

    public enum Operation { Add, Update, Remove }

    public enum ErrorCode
    {
        NoError, LoginFailed, OrderRejected, UnableToCancelOrder, UnableToChangeOrder, UnableToSubmitOrder,
        UserAbort, Panic, ServerConnectionIsBroken, InvalidInstrument, NotEnoughMargin
    }

    public enum ConnectionStatus { Connected, Connecting, ConnectionLost, Disconnected, Disconnecting }

    public enum LogLevel { Alert, Error, Information, Warning }

    public class MasterInstrument
    {
        public string Name { get; set; }
        public double PointValue { get; set; }
        public double TickSize { get; set; }
    }

    public class Instrument
    {
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

        public void RaiseAccountStatusUpdate(AccountStatusEventArgs e)
        {
            ConnectionStatus = e.Status;
            EventHandler<AccountStatusEventArgs> handler = AccountStatusUpdate;
            if (handler != null) handler(this, e);
        }

        /// <summary>Stub only: how many handlers are subscribed to the three update events.</summary>
        public int SubscriberCount
        {
            get
            {
                return Count(ExecutionUpdate) + Count(OrderUpdate) + Count(PositionUpdate);
            }
        }

        /// <summary>Stub only: handlers of the static AccountStatusUpdate event.</summary>
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

        /// <summary>Stub only: what GetOwnerStrategy returns.</summary>
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

namespace NinjaTrader.Core
{
    public class GeneralOptions
    {
        public TimeZoneInfo TimeZoneInfo { get; set; }
    }

    public static class Globals
    {
        private static readonly GeneralOptions generalOptions = new GeneralOptions { TimeZoneInfo = TimeZoneInfo.Utc };
        private static string userDataDir = Path.GetTempPath();

        /// <summary>Documents\NinjaTrader 8\ on a real installation (with the trailing separator).</summary>
        public static string UserDataDir
        {
            get { return userDataDir; }
            set { userDataDir = value; } // stub only
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
    using NinjaTrader.Cbi;

    public enum State
    {
        SetDefaults, Configure, Active, DataLoaded, Historical, Transition, Realtime, Terminated, Finalized
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
            Action<string> sink = PrintSink; // stub only: the harness collects the Output window
            if (sink != null) sink(Convert.ToString(value));
        }

        public void Log(string message, LogLevel logLevel)
        {
            Action<string> sink = LogSink; // stub only: the harness collects the Log tab
            if (sink != null) sink(logLevel + ": " + message);
        }

        /// <summary>Stub only.</summary>
        public static Action<string> PrintSink;
        /// <summary>Stub only.</summary>
        public static Action<string> LogSink;
    }

    public abstract class NinjaScriptBase : NinjaScript { }

    public abstract class AddOnBase : NinjaScript { }

    public abstract class StrategyBase : NinjaScriptBase { }
}
