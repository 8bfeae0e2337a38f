// fillstream bridge AddOn for NinjaTrader 8: reports every execution, order change and position
// change of the configured accounts to the fillstream bridge (POST /v1/events), and follows the
// halts of its pre-trade gate (GET /v1/halts), flattening a halted account when configured to.
//
// Install: copy FillstreamBridgeAddOn.cs, FillstreamBars.cs, FillstreamClient.cs and
// FillstreamSignals.cs into Documents\NinjaTrader 8\bin\Custom\AddOns and compile (NinjaScript
// Editor, F5). Settings are in Documents\NinjaTrader 8\fillstream.config (written with defaults on
// first start); see README.
//
// Event handlers only convert and enqueue; FillstreamClient posts from its own thread.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Reflection;
using System.Threading;
using NinjaTrader.Cbi;
using NinjaTrader.Core;

namespace NinjaTrader.NinjaScript.AddOns
{
    public class FillstreamBridgeAddOn : AddOnBase
    {
        // the executions sent this session (id → what was sent), bounded. Reconnects re-fire
        // executions (the bridge's consumers dedupe too; this saves the traffic), and it tells a
        // back-office amendment (Operation.Update) from a repeat. An amendment of an execution
        // not in it goes as the execution followed by the amendment.
        public const int SentExecutionsCapacity = 50000;
        /// <summary>How long a read of the halts in force may take.</summary>
        public const int HaltsTimeoutMilliseconds = 2000;
        private const int HandledHaltsCapacity = 4096;

        private readonly object sync = new object();
        private readonly List<Account> subscribed = new List<Account>();
        private readonly FillstreamRecentMap sentExecutions = new FillstreamRecentMap(SentExecutionsCapacity);
        private readonly HashSet<string> definedRoots = new HashSet<string>(StringComparer.Ordinal);
        private long skippedSod;
        private volatile FillstreamClient client;
        // the halts acted on this run, by halt id and account: a halt of every account is acted on
        // for each, also for an account that connects after the halt was first read
        private readonly object haltGate = new object();
        private FillstreamRecentSet handledHalts = new FillstreamRecentSet(HandledHaltsCapacity);
        private string haltsProblem;
        private Timer haltTimer;

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

        /// <summary>Start-of-day statement executions not sent in the current run of them (the
        /// count is logged and reset when the run ends).</summary>
        public long SkippedStartOfDay
        {
            get { return Interlocked.Read(ref skippedSod); }
        }

        private void Activate()
        {
            client = FillstreamClient.EnsureShared(delegate { return FillstreamSetup.CreateClient(Write); });
            if (client == null)
                return;
            client.Log = Write;
            lock (sync)
                definedRoots.Clear();
            Account.AccountStatusUpdate += OnAccountStatusUpdate;
            List<Account> accounts;
            lock (Account.All)
                accounts = new List<Account>(Account.All);
            foreach (Account account in accounts)
                Subscribe(account);
            StartHaltPoll(client.Config);
            try
            {
                FillstreamMarketFeed.Start();
            }
            catch (Exception ex)
            {
                Write("fillstream: the market feed did not start: " + ex.Message, FillstreamLogLevel.Error);
            }
        }

        private void Deactivate()
        {
            // NinjaTrader also terminates instances that never became active
            if (client == null)
                return;
            StopHaltPoll();
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
            try
            {
                FillstreamMarketFeed.Stop();
            }
            catch (Exception ex)
            {
                Write("fillstream: the market feed did not stop cleanly: " + ex.Message, FillstreamLogLevel.Warning);
            }
            ReportSkippedSod();
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
            {
                if (execution.IsSod)
                {
                    SkipSod(execution.ExecutionId);
                    continue;
                }
                ReportExecution(account, execution, Operation.Add, execution.ExecutionId, execution.OrderId,
                    execution.Price, execution.Quantity, execution.MarketPosition, execution.Time);
            }
            ReportSkippedSod();
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
                if (e.Execution == null)
                    return;
                if (e.IsSod || e.Execution.IsSod)
                {
                    SkipSod(e.ExecutionId ?? e.Execution.ExecutionId);
                    return;
                }
                ReportSkippedSod();
                // the by-value arguments, not the Execution object, which later updates change (NT8 help)
                ReportExecution(sender as Account, e.Execution, e.Operation, e.ExecutionId, e.OrderId, e.Price,
                    e.Quantity, e.MarketPosition, e.Time);
            }
            catch (Exception ex)
            {
                Write("fillstream: an execution was not captured: " + ex.Message, FillstreamLogLevel.Error);
            }
        }

        /// <summary>Start-of-day statement executions replay fills of earlier sessions, which
        /// were reported when they happened: counted, never sent.</summary>
        private void SkipSod(string executionId)
        {
            if (Interlocked.Increment(ref skippedSod) == 1)
                Write("fillstream: start-of-day statement executions (IsSod) are not sent, first " + executionId,
                    FillstreamLogLevel.Information);
        }

        /// <summary>One line per run of start-of-day executions, when the run ends.</summary>
        private void ReportSkippedSod()
        {
            long count = Interlocked.Exchange(ref skippedSod, 0);
            if (count > 0)
                Write("fillstream: " + count.ToString(CultureInfo.InvariantCulture)
                    + " start-of-day statement executions (IsSod) were not sent", FillstreamLogLevel.Information);
        }

        private void ReportExecution(Account account, Execution execution, Operation operation, string executionId,
            string orderId, double price, int quantity, MarketPosition marketPosition, DateTime time)
        {
            FillstreamClient current = client;
            if (current == null)
                return;
            string accountName = FillstreamEvents.AccountName(execution.Account ?? account);
            string id = FillstreamEvents.ExecutionIdOf(accountName, execution, executionId, orderId, price, quantity, time);
            string key = accountName + "|" + id;
            if (operation == Operation.Remove)
            {
                lock (sync)
                    sentExecutions.Remove(key);
                string bust = FillstreamEvents.Busted(accountName, execution, id, current.UtcNow());
                if (bust != null)
                    current.EnqueueExecution(bust);
                return;
            }
            string problem;
            FillstreamFill fill = FillstreamEvents.Fill(accountName, execution, id, orderId, price, quantity,
                marketPosition, time, FillstreamSetup.PlatformZone(), out problem);
            if (fill == null)
            {
                Write(problem, FillstreamLogLevel.Error);
                return;
            }
            string sent;
            lock (sync)
            {
                sent = sentExecutions.Get(key);
                if (sent == fill.Amendable)
                    return; // a repeat (reconnect, backfill) or an update that changed nothing sent
                if (sent != null && operation != Operation.Update)
                    return; // a re-fired Add never amends
                sentExecutions.Put(key, fill.Amendable);
            }
            DefineInstrument(current, execution.Instrument);
            if (sent == null)
                current.EnqueueExecution(FillstreamEvents.Execution(fill, SignalLink(execution)));
            // an amendment of an execution this session did not send (before a restart, or
            // evicted): the execution, which the bridge takes for a repeat if it has it, then
            // the amendment, which changes nothing if the execution was new
            if (sent != null || operation == Operation.Update)
                current.EnqueueExecution(FillstreamEvents.Corrected(fill, current.UtcNow()));
        }

        private FillstreamLink SignalLink(Execution execution)
        {
            try
            {
                return FillstreamSignals.LinkFor(execution);
            }
            catch (Exception ex)
            {
                Write("fillstream: no signal link for execution " + execution.ExecutionId + ": " + ex.Message,
                    FillstreamLogLevel.Warning);
                return null;
            }
        }

        /// <summary>An "instrument" event the first time this session sees the instrument's root.</summary>
        private void DefineInstrument(FillstreamClient current, Instrument instrument)
        {
            if (instrument == null || instrument.MasterInstrument == null)
                return;
            string root = instrument.MasterInstrument.Name ?? "";
            lock (sync)
            {
                if (!definedRoots.Add(root))
                    return;
            }
            string problem;
            string json = FillstreamEvents.InstrumentDefined(instrument, current.UtcNow(), out problem);
            if (json == null)
                Write(problem, FillstreamLogLevel.Warning);
            else
                current.Enqueue(json);
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
                {
                    Write(problem, FillstreamLogLevel.Warning);
                    return;
                }
                DefineInstrument(current, e.Order.Instrument);
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
                {
                    Write(problem, FillstreamLogLevel.Warning);
                    return;
                }
                Position position = e.Position;
                DefineInstrument(current, position.Instrument);
                current.Enqueue(json);
                // the feed follows the instruments with an open position (it only starts or stops a request)
                FillstreamMarketFeed.OnPositionChanged(position.Account ?? sender as Account, position.Instrument,
                    FillstreamEvents.MarketPositionOf(e));
            }
            catch (Exception ex)
            {
                Write("fillstream: a position update was not captured: " + ex.Message, FillstreamLogLevel.Error);
            }
        }

        private void StartHaltPoll(FillstreamConfig config)
        {
            lock (haltGate)
            {
                handledHalts = new FillstreamRecentSet(HandledHaltsCapacity);
                haltsProblem = null;
            }
            if (config.HaltPollSeconds <= 0)
                return;
            // a thread-pool timer, never NinjaTrader's UI thread; armed again after each poll, so
            // a slow bridge never has two polls running
            haltTimer = new Timer(OnHaltTimer, null, TimeSpan.FromSeconds(config.HaltPollSeconds), Timeout.InfiniteTimeSpan);
        }

        private void StopHaltPoll()
        {
            Timer timer = Interlocked.Exchange(ref haltTimer, null);
            if (timer != null)
                timer.Dispose();
        }

        private void OnHaltTimer(object state)
        {
            PollHalts();
            FillstreamClient current = client;
            Timer timer = haltTimer;
            if (current == null || timer == null)
                return;
            try
            {
                timer.Change(TimeSpan.FromSeconds(current.Config.HaltPollSeconds), Timeout.InfiniteTimeSpan);
            }
            catch (ObjectDisposedException)
            {
                // terminated meanwhile
            }
        }

        /// <summary>Reads the halts in force (GET /v1/halts) and acts on each new one for every
        /// captured account it applies to: flattens the account when flatten_on_halt is true, else
        /// logs it. The halt timer calls it; never throws.</summary>
        public void PollHalts()
        {
            FillstreamClient current = client;
            if (current == null || !Monitor.TryEnter(haltGate))
                return; // not running, or a poll is still under way
            try
            {
                string problem;
                List<FillstreamHalt> halts = current.Halts(HaltsTimeoutMilliseconds, out problem);
                ReportHaltsProblem(current, problem);
                if (halts == null)
                    return;
                foreach (FillstreamHalt halt in halts)
                {
                    List<Account> accounts = new List<Account>();
                    lock (sync)
                        foreach (Account account in subscribed)
                            if (halt.AppliesTo(account.Name))
                                accounts.Add(account);
                    foreach (Account account in accounts)
                        if (handledHalts.Add(halt.HaltId + "|" + account.Name))
                            OnHalt(current, halt, account);
                }
            }
            catch (Exception ex)
            {
                Write("fillstream: halts not followed: " + ex.Message, FillstreamLogLevel.Error);
            }
            finally
            {
                Monitor.Exit(haltGate);
            }
        }

        /// <summary>One line when reading halts starts failing, one when it works again.</summary>
        private void ReportHaltsProblem(FillstreamClient current, string problem)
        {
            string previous = haltsProblem;
            haltsProblem = problem;
            if (problem != null && previous == null)
                Write("fillstream: cannot read the halts in force from " + current.Config.Url + " (" + problem
                    + "); trying again every " + current.Config.HaltPollSeconds + " s", FillstreamLogLevel.Warning);
            else if (problem == null && previous != null)
                Write("fillstream: reading the halts in force again", FillstreamLogLevel.Information);
        }

        private void OnHalt(FillstreamClient current, FillstreamHalt halt, Account account)
        {
            string what = "fillstream: halt " + halt.HaltId + " of " + account.Name
                + (halt.Instrument == null ? "" : " in " + halt.Instrument) + " (" + halt.Rule + ": " + halt.Reason + ")";
            if (!current.Config.FlattenOnHalt)
            {
                Write(what + "; flatten_on_halt is false: positions left as they are", FillstreamLogLevel.Warning);
                return;
            }
            List<string> flattened;
            string reason;
            if (halt.Strategy != null) // an account's positions are not kept per strategy: the strategy's own exits apply
            {
                flattened = new List<string>();
                reason = "not flattened: the halt is of strategy " + halt.Strategy
                    + " alone, and an account's positions are not kept per strategy";
            }
            else
                reason = Flatten(account, halt.Instrument, out flattened);
            Write(what + ": " + reason, FillstreamLogLevel.Warning);
            current.Enqueue(FillstreamEvents.Flattened(account.Name, halt.HaltId, flattened, reason, current.UtcNow()));
        }

        /// <summary>Flattens the account's open positions, only <paramref name="instrumentName"/>'s
        /// when given, with Account.Flatten (which also cancels those instruments' orders); says what
        /// it did.</summary>
        private static string Flatten(Account account, string instrumentName, out List<string> flattened)
        {
            flattened = new List<string>();
            List<Instrument> instruments = new List<Instrument>();
            List<Position> positions;
            lock (account.Positions)
                positions = new List<Position>(account.Positions);
            foreach (Position position in positions)
            {
                string name = FillstreamEvents.InstrumentName(position.Instrument);
                if (position.MarketPosition == MarketPosition.Flat || position.Quantity <= 0 || name.Length == 0
                    || flattened.Contains(name))
                    continue;
                if (instrumentName != null && !string.Equals(name, instrumentName, StringComparison.OrdinalIgnoreCase))
                    continue;
                flattened.Add(name);
                instruments.Add(position.Instrument);
            }
            if (instruments.Count == 0)
                return instrumentName == null ? "no open position" : "no open position in " + instrumentName;
            try
            {
                account.Flatten(instruments);
            }
            catch (Exception ex)
            {
                string names = string.Join(", ", flattened);
                flattened.Clear();
                return "could not flatten " + names + ": " + ex.Message;
            }
            return "flattened " + instruments.Count.ToString(CultureInfo.InvariantCulture)
                + (instruments.Count == 1 ? " position" : " positions");
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

    /// <summary>A bounded map that forgets its oldest keys first.</summary>
    public sealed class FillstreamRecentMap
    {
        private readonly int capacity;
        private readonly Dictionary<string, string> values = new Dictionary<string, string>(StringComparer.Ordinal);
        private readonly Queue<string> order = new Queue<string>();

        public FillstreamRecentMap(int capacity)
        {
            this.capacity = Math.Max(1, capacity);
        }

        public int Count
        {
            get { return values.Count; }
        }

        /// <summary>The value kept for <paramref name="key"/>, or null.</summary>
        public string Get(string key)
        {
            string value;
            return values.TryGetValue(key, out value) ? value : null;
        }

        public void Put(string key, string value)
        {
            if (!values.ContainsKey(key))
            {
                order.Enqueue(key);
                while (order.Count > capacity)
                    values.Remove(order.Dequeue());
            }
            values[key] = value;
        }

        /// <summary>Forgets the key (its place in the eviction order goes when it comes up).</summary>
        public void Remove(string key)
        {
            values.Remove(key);
        }
    }

    /// <summary>An execution as the bridge receives it, validated; <see cref="Amendable"/> is
    /// what a back-office amendment may change, to tell an amendment from a repeat.</summary>
    public sealed class FillstreamFill
    {
        public string Account;
        public string ExecutionId;
        public string Instrument;
        public string Side;
        public int Quantity;
        public string Price;
        public string Commission;
        public string Fees;
        public DateTime ExecutedAt;
        public string OrderId;
        public string OrderNumber;
        public string OrderName;
        public string PositionEffect;
        public string Strategy;

        public string Amendable
        {
            get
            {
                return string.Join("|", new[]
                {
                    Side, Quantity.ToString(CultureInfo.InvariantCulture), Price, Commission, Fees,
                    ExecutedAt.Ticks.ToString(CultureInfo.InvariantCulture), OrderId ?? "", OrderNumber ?? "",
                });
            }
        }
    }

    /// <summary>NinjaTrader's account updates → the bridge's event JSON. Each returns null and
    /// names the problem when the bridge would reject the event, so one bad event never costs a
    /// whole batch.</summary>
    public static class FillstreamEvents
    {
        // Execution.Fee is in NinjaTrader 8.1 but not in its documentation: read by reflection so
        // the AddOn compiles (and sends fees 0) on builds without it
        private static readonly PropertyInfo FeeProperty = DoubleProperty(typeof(Execution), "Fee");

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

        /// <summary>The execution's fields as the bridge takes them, or null with the reason.</summary>
        public static FillstreamFill Fill(string accountName, Execution execution, string executionId, string orderId,
            double price, int quantity, MarketPosition marketPosition, DateTime time, TimeZoneInfo platformZone,
            out string problem)
        {
            string instrument = InstrumentName(execution.Instrument);
            string priceText = FillstreamJson.Decimal(price);
            double commission = Finite(execution.Commission);
            double fees = Finite(FeeOf(execution));
            Order order = execution.Order;
            problem = Missing("execution " + executionId, accountName, instrument)
                ?? Positive("execution " + executionId, quantity)
                ?? (priceText == null || price <= 0 ? "execution " + executionId + ": price must be positive, was " + price.ToString(CultureInfo.InvariantCulture) : null)
                ?? (commission < 0 ? "execution " + executionId + ": commission must not be negative, was " + commission.ToString(CultureInfo.InvariantCulture) : null)
                ?? (fees < 0 ? "execution " + executionId + ": fees must not be negative, was " + fees.ToString(CultureInfo.InvariantCulture) : null);
            if (problem != null)
                return null;
            string side = order != null ? Side(order.OrderAction) : Side(marketPosition);
            if (side == null)
            {
                problem = "execution " + executionId + ": no side (no order and market position " + marketPosition + ")";
                return null;
            }
            return new FillstreamFill
            {
                Account = accountName,
                ExecutionId = executionId,
                Instrument = instrument,
                Side = side,
                Quantity = quantity,
                Price = priceText,
                Commission = FillstreamJson.Decimal(commission),
                Fees = FillstreamJson.Decimal(fees),
                ExecutedAt = FillstreamTime.ToUtc(time, platformZone),
                OrderId = !string.IsNullOrEmpty(orderId) ? orderId : order != null ? order.OrderId : execution.OrderId,
                OrderNumber = OrderNumber(order),
                OrderName = execution.Name,
                PositionEffect = PositionEffect(execution),
                Strategy = StrategyName(order),
            };
        }

        /// <summary>An "execution" event; <paramref name="link"/> (may be null) names the signal
        /// behind it, and the strategy when the order names none.</summary>
        public static string Execution(FillstreamFill fill, FillstreamLink link)
        {
            string strategy = fill.Strategy ?? (link == null ? null : link.Strategy);
            return Envelope("execution", fill.ExecutedAt)
                .String("execution_id", fill.ExecutionId)
                .String("account", fill.Account)
                .String("instrument", fill.Instrument)
                .String("side", fill.Side)
                .Integer("quantity", fill.Quantity)
                .Decimal("price", fill.Price)
                .Decimal("commission", fill.Commission)
                .Decimal("fees", fill.Fees)
                .String("order_id", fill.OrderId)
                .String("order_number", fill.OrderNumber)
                .String("order_name", fill.OrderName)
                .String("position_effect", fill.PositionEffect)
                .String("strategy", strategy)
                .String("signal_id", link == null ? null : link.SignalId)
                .String("variant", link == null ? null : link.Variant)
                .String("trade_id", link == null ? null : link.TradeId)
                .ToString();
        }

        /// <summary>An "execution_corrected" event: the back office amended an execution already
        /// sent; ts_event is when the amendment arrived, executed_at the fill's own time.</summary>
        public static string Corrected(FillstreamFill fill, DateTime utcNow)
        {
            return Envelope("execution_corrected", utcNow)
                .String("execution_id", fill.ExecutionId)
                .String("account", fill.Account)
                .String("instrument", fill.Instrument)
                .String("side", fill.Side)
                .Integer("quantity", fill.Quantity)
                .Decimal("price", fill.Price)
                .Decimal("commission", fill.Commission)
                .Decimal("fees", fill.Fees)
                .String("executed_at", FillstreamJson.Timestamp(fill.ExecutedAt))
                .String("order_id", fill.OrderId)
                .String("order_number", fill.OrderNumber)
                .ToString();
        }

        /// <summary>An "execution_busted" event (ExecutionUpdate with Operation.Remove), or null
        /// when the execution names no account or instrument.</summary>
        public static string Busted(string accountName, Execution execution, string executionId, DateTime utcNow)
        {
            string instrument = InstrumentName(execution.Instrument);
            if (Missing("execution " + executionId, accountName, instrument) != null)
                return null;
            return Envelope("execution_busted", utcNow)
                .String("execution_id", executionId)
                .String("account", accountName)
                .String("instrument", instrument)
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
                .String("order_number", OrderNumber(order))
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

        /// <summary>The position after the update: flat when NinjaTrader removes the position
        /// (Operation.Remove still carries the last direction).</summary>
        public static MarketPosition MarketPositionOf(PositionEventArgs e)
        {
            return e.Operation == Operation.Remove ? MarketPosition.Flat : e.MarketPosition;
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
            MarketPosition marketPosition = MarketPositionOf(e);
            bool flat = marketPosition == MarketPosition.Flat;
            string accountName = AccountName(position.Account ?? sender);
            string instrument = InstrumentName(position.Instrument);
            string averagePrice = FillstreamJson.Decimal(flat ? 0 : e.AveragePrice);
            problem = Missing("position", accountName, instrument)
                ?? (!flat && e.Quantity < 0 ? "position " + instrument + ": quantity must not be negative, was " + e.Quantity : null)
                ?? (averagePrice == null ? "position " + instrument + ": average price is not a number" : null);
            if (problem != null)
                return null;
            return Envelope("position", utcNow)
                .String("account", accountName)
                .String("instrument", instrument)
                .String("market_position", MarketPositionName(marketPosition))
                .Integer("quantity", flat ? 0 : e.Quantity)
                .Decimal("average_price", averagePrice)
                .ToString();
        }

        /// <summary>A "flattened" event: what the AddOn did about a halt of the pre-trade gate in one
        /// account (<paramref name="instruments"/>: the full names flattened, possibly none).</summary>
        public static string Flattened(string accountName, string haltId, IEnumerable<string> instruments, string reason,
            DateTime utcNow)
        {
            return Envelope("flattened", utcNow)
                .String("account", accountName)
                .String("halt_id", haltId)
                .Strings("instruments", instruments)
                .String("reason", reason)
                .ToString();
        }

        /// <summary>An "instrument" event from the instrument's MasterInstrument, or null with the
        /// reason when the bridge would refuse it.</summary>
        public static string InstrumentDefined(Instrument instrument, DateTime utcNow, out string problem)
        {
            MasterInstrument master = instrument.MasterInstrument;
            string root = master.Name ?? "";
            string tickSize = PositivePrice(master.TickSize);
            string pointValue = PositivePrice(master.PointValue);
            string currency = CurrencyCode(master.Currency);
            problem = root.Length == 0 || root != root.Trim().ToUpperInvariant() || root.Contains(" ")
                ? "instrument " + InstrumentName(instrument) + ": root must be upper case without spaces, was \"" + root + "\""
                : tickSize == null ? "instrument " + root + ": tick size must be positive"
                : pointValue == null ? "instrument " + root + ": point value must be positive"
                : currency == null ? "instrument " + root + ": no ISO code for currency " + master.Currency
                : null;
            if (problem != null)
                return null;
            string tradingHours = null;
            if (master.TradingHours != null)
                tradingHours = master.TradingHours.Name;
            return Envelope("instrument", utcNow)
                .String("root", root)
                .String("instrument", InstrumentName(instrument))
                .String("name", string.IsNullOrEmpty(master.Description) ? root : master.Description)
                .Decimal("tick_size", tickSize)
                .Decimal("point_value", pointValue)
                .String("currency", currency)
                .String("exchange", instrument.Exchange == Exchange.Default ? null : instrument.Exchange.ToString())
                .String("session_template", tradingHours)
                .String("instrument_type", InstrumentTypeName(master.InstrumentType))
                .ToString();
        }

        /// <summary>NinjaTrader's Currency as its ISO 4217 code; null for one without.</summary>
        public static string CurrencyCode(Currency currency)
        {
            switch (currency)
            {
                case Currency.AustralianDollar: return "AUD";
                case Currency.BritishPound: return "GBP";
                case Currency.CanadianDollar: return "CAD";
                case Currency.Euro: return "EUR";
                case Currency.HongKongDollar: return "HKD";
                case Currency.JapaneseYen: return "JPY";
                case Currency.SwissFranc: return "CHF";
                case Currency.UsDollar: return "USD";
                case Currency.KoreanWon: return "KRW";
                case Currency.IndianRupee: return "INR";
                case Currency.SwedishKrona: return "SEK";
                case Currency.MexicanPeso: return "MXN";
                case Currency.BrazilianReal: return "BRL";
                case Currency.SingaporeDollar: return "SGD";
                case Currency.ChinaYuan: return "CNY";
                case Currency.MalaysiaRinggit: return "MYR";
                case Currency.ThailandBaht: return "THB";
                case Currency.TaiwanNewDollar: return "TWD";
                case Currency.NewZealandDollar: return "NZD";
                case Currency.SouthAfricanRand: return "ZAR";
                case Currency.CzechRepublicKoruna: return "CZK";
                case Currency.NorwayKrone: return "NOK";
                case Currency.DenmarkKrone: return "DKK";
                case Currency.HungaryForint: return "HUF";
                case Currency.PolandZloty: return "PLN";
                case Currency.TurkeyLira: return "TRY";
                case Currency.IsraeliShekel: return "ILS";
                case Currency.RussiaRuble: return "RUB";
                case Currency.SaudiRiyal: return "SAR";
                default: return null;
            }
        }

        /// <summary>"future", "stock", …, "crypto_currency"; null for Unknown.</summary>
        public static string InstrumentTypeName(InstrumentType type)
        {
            switch (type)
            {
                case InstrumentType.Future: return "future";
                case InstrumentType.Stock: return "stock";
                case InstrumentType.Index: return "index";
                case InstrumentType.Option: return "option";
                case InstrumentType.Forex: return "forex";
                case InstrumentType.Cfd: return "cfd";
                case InstrumentType.Spread: return "spread";
                case InstrumentType.CryptoCurrency: return "crypto_currency";
                default: return null;
            }
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

        /// <summary>The NinjaScript strategy that submitted the order; null for manual and
        /// broker-side orders, and for ATM orders (GetOwnerStrategy returns their AtmStrategy).</summary>
        public static string StrategyName(Order order)
        {
            if (order == null)
                return null;
            try
            {
                StrategyBase strategy = order.GetOwnerStrategy();
                return strategy == null || strategy is AtmStrategy ? null : strategy.Name;
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>Order.Id in decimal digits: NinjaTrader's own number for the order, which
        /// stays while OrderId ("not a unique value and can change") may not.</summary>
        public static string OrderNumber(Order order)
        {
            return order == null ? null : order.Id.ToString(CultureInfo.InvariantCulture);
        }

        /// <summary>Execution.Fee where this NinjaTrader has it, else 0.</summary>
        public static double FeeOf(Execution execution)
        {
            return ReadDouble(FeeProperty, execution);
        }

        /// <summary>The public readable double property <paramref name="name"/> of
        /// <paramref name="type"/>, or null when it has none.</summary>
        public static PropertyInfo DoubleProperty(Type type, string name)
        {
            try
            {
                PropertyInfo property = type.GetProperty(name, BindingFlags.Public | BindingFlags.Instance);
                return property != null && property.CanRead && property.PropertyType == typeof(double)
                    && property.GetIndexParameters().Length == 0 ? property : null;
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>The property's value on <paramref name="target"/>; 0 when there is no property.</summary>
        public static double ReadDouble(PropertyInfo property, object target)
        {
            if (property == null || target == null)
                return 0;
            try
            {
                return (double)property.GetValue(target, null);
            }
            catch (Exception)
            {
                return 0;
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

        private static double Finite(double value)
        {
            return double.IsNaN(value) || double.IsInfinity(value) ? 0 : value;
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
                FillstreamClient client = new FillstreamClient(config, new FillstreamHttpTransport(config.Url, config.Token, config.Pins));
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
