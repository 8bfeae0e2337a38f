// fillstream bridge AddOn for NinjaTrader 8: reports every execution, order change and position
// change of the configured accounts to the fillstream bridge (POST /v1/events).
//
// Install: copy FillstreamBridgeAddOn.cs, FillstreamClient.cs and FillstreamSignals.cs into
// Documents\NinjaTrader 8\bin\Custom\AddOns and compile (NinjaScript Editor, F5). Settings are in
// Documents\NinjaTrader 8\fillstream.config (written with defaults on first start); see README.
//
// Event handlers only convert and enqueue; FillstreamClient posts from its own thread.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using NinjaTrader.Cbi;
using NinjaTrader.Core;

namespace NinjaTrader.NinjaScript.AddOns
{
    public class FillstreamBridgeAddOn : AddOnBase
    {
        private readonly object sync = new object();
        private readonly List<Account> subscribed = new List<Account>();
        // reconnects re-fire executions; the bridge's consumers dedupe too, this saves the traffic
        private readonly FillstreamRecentSet seenExecutions = new FillstreamRecentSet(50000);
        private volatile FillstreamClient client;

        protected override void OnStateChange()
        {
            if (State == State.SetDefaults)
            {
                Name = "Fillstream bridge";
                Description = "Reports executions, orders and positions to the fillstream bridge.";
            }
            else if (State == State.Active)
                Activate();
            else if (State == State.Terminated)
                Deactivate();
        }

        private void Activate()
        {
            client = FillstreamClient.EnsureShared(delegate { return FillstreamSetup.CreateClient(Write); });
            if (client == null)
                return;
            client.Log = Write;
            Account.AccountStatusUpdate += OnAccountStatusUpdate;
            List<Account> accounts;
            lock (Account.All)
                accounts = new List<Account>(Account.All);
            foreach (Account account in accounts)
                Subscribe(account);
        }

        private void Deactivate()
        {
            // NinjaTrader also terminates instances that never became active
            if (client == null)
                return;
            Account.AccountStatusUpdate -= OnAccountStatusUpdate;
            lock (sync)
            {
                foreach (Account account in subscribed)
                {
                    account.ExecutionUpdate -= OnExecutionUpdate;
                    account.OrderUpdate -= OnOrderUpdate;
                    account.PositionUpdate -= OnPositionUpdate;
                }
                subscribed.Clear();
            }
            client = null;
            // stops the worker thread: after a NinjaScript recompile the old assembly stays loaded
            FillstreamClient.ShutdownShared();
        }

        private void Subscribe(Account account)
        {
            FillstreamClient current = client;
            if (current == null || account == null || !current.Config.Includes(account.Name))
                return;
            List<string> names = new List<string>();
            lock (sync)
            {
                if (subscribed.Contains(account))
                    return;
                subscribed.Add(account);
                account.ExecutionUpdate += OnExecutionUpdate;
                account.OrderUpdate += OnOrderUpdate;
                account.PositionUpdate += OnPositionUpdate;
                foreach (Account a in subscribed)
                    names.Add(a.Name);
            }
            current.SetAccounts(names);
            Write("fillstream: capturing account " + account.Name, FillstreamLogLevel.Information);
            if (current.Config.Backfill)
                Backfill(account);
        }

        /// <summary>Today's executions the account already holds (fills made while NinjaTrader
        /// ran without this AddOn); the bridge derives the same event ids, so repeats are harmless.</summary>
        private void Backfill(Account account)
        {
            List<Execution> executions;
            lock (account.Executions)
                executions = new List<Execution>(account.Executions);
            foreach (Execution execution in executions)
                ReportExecution(account, execution, execution.ExecutionId, execution.OrderId, execution.Price,
                    execution.Quantity, execution.MarketPosition, execution.Time);
        }

        private void OnAccountStatusUpdate(object sender, AccountStatusEventArgs e)
        {
            try
            {
                if (e.Status == ConnectionStatus.Connected)
                    Subscribe(e.Account);
            }
            catch (Exception ex)
            {
                Write("fillstream: could not subscribe to a connected account: " + ex.Message, FillstreamLogLevel.Error);
            }
        }

        private void OnExecutionUpdate(object sender, ExecutionEventArgs e)
        {
            try
            {
                if (e.Execution == null || e.Operation == Operation.Remove)
                    return;
                // the by-value arguments, not the Execution object, which later updates change (NT8 help)
                ReportExecution(sender as Account, e.Execution, e.ExecutionId, e.OrderId, e.Price, e.Quantity,
                    e.MarketPosition, e.Time);
            }
            catch (Exception ex)
            {
                Write("fillstream: an execution was not captured: " + ex.Message, FillstreamLogLevel.Error);
            }
        }

        private void ReportExecution(Account account, Execution execution, string executionId, string orderId,
            double price, int quantity, MarketPosition marketPosition, DateTime time)
        {
            FillstreamClient current = client;
            if (current == null)
                return;
            string accountName = FillstreamEvents.AccountName(execution.Account ?? account);
            string id = FillstreamEvents.ExecutionIdOf(accountName, execution, executionId, orderId, price, quantity, time);
            if (!seenExecutions.Add(accountName + "|" + id))
                return;
            string problem;
            string json = FillstreamEvents.Execution(accountName, execution, id, orderId, price, quantity, marketPosition,
                time, FillstreamSetup.PlatformZone(), out problem);
            if (json == null)
                Write(problem, FillstreamLogLevel.Error);
            else
                current.EnqueueExecution(json);
        }

        private void OnOrderUpdate(object sender, OrderEventArgs e)
        {
            try
            {
                FillstreamClient current = client;
                if (current == null)
                    return;
                string problem;
                string json = FillstreamEvents.Order(sender as Account, e, FillstreamSetup.PlatformZone(), current.UtcNow(), out problem);
                if (json == null)
                    Write(problem, FillstreamLogLevel.Warning);
                else
                    current.Enqueue(json);
            }
            catch (Exception ex)
            {
                Write("fillstream: an order update was not captured: " + ex.Message, FillstreamLogLevel.Error);
            }
        }

        private void OnPositionUpdate(object sender, PositionEventArgs e)
        {
            try
            {
                FillstreamClient current = client;
                if (current == null)
                    return;
                string problem;
                string json = FillstreamEvents.Position(sender as Account, e, current.UtcNow(), out problem);
                if (json == null)
                    Write(problem, FillstreamLogLevel.Warning);
                else
                    current.Enqueue(json);
            }
            catch (Exception ex)
            {
                Write("fillstream: a position update was not captured: " + ex.Message, FillstreamLogLevel.Error);
            }
        }

        private void Write(string message, FillstreamLogLevel level)
        {
            Print(message);
            if (level == FillstreamLogLevel.Warning)
                Log(message, LogLevel.Warning);
            else if (level == FillstreamLogLevel.Error)
                Log(message, LogLevel.Error);
        }
    }

    /// <summary>NinjaTrader's account updates → the bridge's event JSON. Each returns null and
    /// names the problem when the bridge would reject the event, so one bad event never costs a
    /// whole batch.</summary>
    public static class FillstreamEvents
    {
        public static string AccountName(Account account)
        {
            return account == null ? "" : account.Name ?? "";
        }

        /// <summary>NinjaTrader's execution id; executions without one (seen from some brokers)
        /// get a deterministic stand-in, so a re-fired one is still recognised.</summary>
        public static string ExecutionIdOf(string accountName, Execution execution, string executionId, string orderId,
            double price, int quantity, DateTime time)
        {
            if (!string.IsNullOrEmpty(executionId))
                return executionId;
            if (!string.IsNullOrEmpty(execution.ExecutionId))
                return execution.ExecutionId;
            return string.Format(CultureInfo.InvariantCulture, "nt-{0}-{1}-{2}-{3}-{4}-{5}",
                accountName, InstrumentName(execution.Instrument), time.Ticks, orderId ?? execution.OrderId ?? "", quantity,
                FillstreamJson.Decimal(price));
        }

        public static string Execution(string accountName, Execution execution, string executionId, string orderId,
            double price, int quantity, MarketPosition marketPosition, DateTime time, TimeZoneInfo platformZone,
            out string problem)
        {
            string instrument = InstrumentName(execution.Instrument);
            string priceText = FillstreamJson.Decimal(price);
            double commission = double.IsNaN(execution.Commission) || double.IsInfinity(execution.Commission) ? 0 : execution.Commission;
            Order order = execution.Order;
            problem = Missing("execution " + executionId, accountName, instrument)
                ?? Positive("execution " + executionId, quantity)
                ?? (priceText == null || price <= 0 ? "execution " + executionId + ": price must be positive, was " + price.ToString(CultureInfo.InvariantCulture) : null)
                ?? (commission < 0 ? "execution " + executionId + ": commission must not be negative, was " + commission.ToString(CultureInfo.InvariantCulture) : null);
            if (problem != null)
                return null;
            string side = order != null ? Side(order.OrderAction) : Side(marketPosition);
            if (side == null)
            {
                problem = "execution " + executionId + ": no side (no order and market position " + marketPosition + ")";
                return null;
            }
            return Envelope("execution", FillstreamTime.ToUtc(time, platformZone))
                .String("execution_id", executionId)
                .String("account", accountName)
                .String("instrument", instrument)
                .String("side", side)
                .Integer("quantity", quantity)
                .Decimal("price", priceText)
                .Decimal("commission", FillstreamJson.Decimal(commission))
                .Decimal("fees", "0")
                .String("order_id", !string.IsNullOrEmpty(orderId) ? orderId : order != null ? order.OrderId : execution.OrderId)
                .String("order_name", execution.Name)
                .String("position_effect", PositionEffect(execution))
                .String("strategy", StrategyName(order))
                .ToString();
        }

        public static string Order(Account sender, OrderEventArgs e, TimeZoneInfo platformZone, DateTime utcNow, out string problem)
        {
            Order order = e.Order;
            if (order == null)
            {
                problem = "order update " + e.OrderId + " without an order";
                return null;
            }
            string orderId = !string.IsNullOrEmpty(e.OrderId) ? e.OrderId
                : !string.IsNullOrEmpty(order.OrderId) ? order.OrderId
                : "nt-" + order.Id.ToString(CultureInfo.InvariantCulture);
            string accountName = AccountName(order.Account ?? sender);
            string instrument = InstrumentName(order.Instrument);
            problem = Missing("order " + orderId, accountName, instrument) ?? Positive("order " + orderId, e.Quantity);
            if (problem != null)
                return null;
            DateTime time = e.Time == default(DateTime) ? utcNow : FillstreamTime.ToUtc(e.Time, platformZone);
            string error = null;
            if (e.Error != ErrorCode.NoError)
                error = string.IsNullOrEmpty(e.Comment) ? e.Error.ToString() : e.Error + ": " + e.Comment;
            return Envelope("order", time)
                .String("order_id", orderId)
                .String("account", accountName)
                .String("instrument", instrument)
                .String("side", Side(order.OrderAction))
                .String("order_type", OrderTypeName(order.OrderType))
                .String("state", OrderStateName(e.OrderState))
                .Integer("quantity", e.Quantity)
                .Integer("filled", Math.Max(0, e.Filled))
                .Decimal("limit_price", PositivePrice(e.LimitPrice)) // NinjaTrader uses 0 for "none"
                .Decimal("stop_price", PositivePrice(e.StopPrice))
                .Decimal("average_fill_price", e.Filled > 0 ? PositivePrice(e.AverageFillPrice) : null)
                .String("order_name", order.Name)
                .String("strategy", StrategyName(order))
                .String("error", error)
                .ToString();
        }

        /// <summary>PositionEventArgs carries no time: ts_event is when the update arrived.</summary>
        public static string Position(Account sender, PositionEventArgs e, DateTime utcNow, out string problem)
        {
            Position position = e.Position;
            if (position == null)
            {
                problem = "position update without a position";
                return null;
            }
            string accountName = AccountName(position.Account ?? sender);
            string instrument = InstrumentName(position.Instrument);
            string averagePrice = FillstreamJson.Decimal(e.MarketPosition == MarketPosition.Flat ? 0 : e.AveragePrice);
            problem = Missing("position", accountName, instrument)
                ?? (e.Quantity < 0 ? "position " + instrument + ": quantity must not be negative, was " + e.Quantity : null)
                ?? (averagePrice == null ? "position " + instrument + ": average price is not a number" : null);
            if (problem != null)
                return null;
            return Envelope("position", utcNow)
                .String("account", accountName)
                .String("instrument", instrument)
                .String("market_position", MarketPositionName(e.MarketPosition))
                .Integer("quantity", e.MarketPosition == MarketPosition.Flat ? 0 : e.Quantity)
                .Decimal("average_price", averagePrice)
                .ToString();
        }

        /// <summary>Buy and BuyToCover buy; Sell and SellShort sell.</summary>
        public static string Side(OrderAction action)
        {
            switch (action)
            {
                case OrderAction.Buy:
                case OrderAction.BuyToCover:
                    return "buy";
                case OrderAction.Sell:
                case OrderAction.SellShort:
                    return "sell";
                default:
                    return null;
            }
        }

        /// <summary>An execution's MarketPosition is the side of the fill: Long bought, Short sold.</summary>
        public static string Side(MarketPosition marketPosition)
        {
            switch (marketPosition)
            {
                case MarketPosition.Long: return "buy";
                case MarketPosition.Short: return "sell";
                default: return null;
            }
        }

        public static string MarketPositionName(MarketPosition marketPosition)
        {
            switch (marketPosition)
            {
                case MarketPosition.Long: return "long";
                case MarketPosition.Short: return "short";
                default: return "flat";
            }
        }

        public static string OrderTypeName(OrderType orderType)
        {
            switch (orderType)
            {
                case OrderType.Market: return "market";
                case OrderType.Limit: return "limit";
                case OrderType.StopMarket: return "stop_market";
                case OrderType.StopLimit: return "stop_limit";
                case OrderType.MIT: return "market_if_touched";
                default: return "unknown";
            }
        }

        /// <summary>NinjaTrader's OrderState names in snake_case; AcceptedByRisk counts as
        /// accepted; Suspended and states the bridge does not know are "unknown".</summary>
        public static string OrderStateName(OrderState state)
        {
            switch (state)
            {
                case OrderState.Initialized: return "initialized";
                case OrderState.Submitted: return "submitted";
                case OrderState.Accepted: return "accepted";
                case OrderState.AcceptedByRisk: return "accepted";
                case OrderState.TriggerPending: return "trigger_pending";
                case OrderState.Working: return "working";
                case OrderState.ChangePending: return "change_pending";
                case OrderState.ChangeSubmitted: return "change_submitted";
                case OrderState.CancelPending: return "cancel_pending";
                case OrderState.CancelSubmitted: return "cancel_submitted";
                case OrderState.Cancelled: return "cancelled";
                case OrderState.PartFilled: return "part_filled";
                case OrderState.Filled: return "filled";
                case OrderState.Rejected: return "rejected";
                default: return "unknown";
            }
        }

        /// <summary>"entry" or "exit"; left out when NinjaTrader says both (a fill that reverses
        /// through zero) or neither.</summary>
        public static string PositionEffect(Execution execution)
        {
            if (execution.IsEntry && !execution.IsExit)
                return "entry";
            if (execution.IsExit && !execution.IsEntry)
                return "exit";
            return null;
        }

        /// <summary>The NinjaScript strategy that submitted the order; null for manual, ATM and
        /// broker-side orders.</summary>
        public static string StrategyName(Order order)
        {
            if (order == null)
                return null;
            try
            {
                StrategyBase strategy = order.GetOwnerStrategy();
                return strategy == null ? null : strategy.Name;
            }
            catch (Exception)
            {
                return null;
            }
        }

        public static string InstrumentName(Instrument instrument)
        {
            return instrument == null ? "" : instrument.FullName ?? "";
        }

        public static FillstreamJsonObject Envelope(string type, DateTime utc)
        {
            return FillstreamJson.Object()
                .String("type", type)
                .String("ts_event", FillstreamJson.Timestamp(utc))
                .String("source", "live")
                .String("producer", FillstreamClient.Producer);
        }

        private static string PositivePrice(double price)
        {
            return price > 0 ? FillstreamJson.Decimal(price) : null;
        }

        private static string Missing(string what, string accountName, string instrument)
        {
            if (accountName.Length == 0)
                return what + ": no account";
            if (instrument.Length == 0)
                return what + ": no instrument";
            return null;
        }

        private static string Positive(string what, int quantity)
        {
            return quantity > 0 ? null : what + ": quantity must be positive, was " + quantity.ToString(CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Where the configuration lives and how the shared client is made from it.</summary>
    public static class FillstreamSetup
    {
        private static readonly object gate = new object();
        private static DateTime lastFailure = DateTime.MinValue;

        /// <summary>Documents\NinjaTrader 8\fillstream.config</summary>
        public static string ConfigPath
        {
            get { return Path.Combine(Globals.UserDataDir, FillstreamConfig.FileName); }
        }

        /// <summary>The platform time zone (Tools > Options > General), in which NinjaTrader
        /// reports execution, order and bar times.</summary>
        public static TimeZoneInfo PlatformZone()
        {
            try
            {
                TimeZoneInfo zone = Globals.GeneralOptions.TimeZoneInfo;
                return zone ?? TimeZoneInfo.Local;
            }
            catch (Exception)
            {
                return TimeZoneInfo.Local;
            }
        }

        /// <summary>A client configured from fillstream.config (not started); null, with the
        /// reason logged, when the file has no token. A missing file is written with defaults.</summary>
        public static FillstreamClient CreateClient(Action<string, FillstreamLogLevel> log)
        {
            Action<string, FillstreamLogLevel> write = log ?? delegate(string message, FillstreamLogLevel level)
            {
                System.Diagnostics.Trace.WriteLine(message);
            };
            string path = ConfigPath;
            try
            {
                if (!File.Exists(path))
                {
                    File.WriteAllText(path, FillstreamConfig.Template());
                    write("fillstream: wrote " + path + "; set token= to the bridge's token and restart NinjaTrader", FillstreamLogLevel.Error);
                    return null;
                }
                List<string> warnings = new List<string>();
                FillstreamConfig config = FillstreamConfig.Load(path, warnings);
                foreach (string warning in warnings)
                    write("fillstream: " + warning, FillstreamLogLevel.Warning);
                if (config.Token.Length == 0)
                {
                    write("fillstream: no token= in " + path + "; nothing is sent to the bridge", FillstreamLogLevel.Error);
                    return null;
                }
                FillstreamClient client = new FillstreamClient(config, new FillstreamHttpTransport(config.Url, config.Token));
                client.Log = write;
                return client;
            }
            catch (Exception e)
            {
                write("fillstream: cannot use " + path + ": " + e.Message, FillstreamLogLevel.Error);
                return null;
            }
        }

        /// <summary>The shared client, created on first use when the AddOn has not started it
        /// (tried again at most once a minute while the configuration is unusable).</summary>
        public static FillstreamClient SharedClient()
        {
            FillstreamClient client = FillstreamClient.Shared;
            if (client != null)
                return client;
            lock (gate)
            {
                if (DateTime.UtcNow - lastFailure < TimeSpan.FromMinutes(1))
                    return null;
                client = FillstreamClient.EnsureShared(delegate { return CreateClient(null); });
                if (client == null)
                    lastFailure = DateTime.UtcNow;
                return client;
            }
        }
    }
}
