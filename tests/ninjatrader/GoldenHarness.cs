// Drives the real AddOn and FillstreamSignals over the NinjaTrader stubs with fixed values.
//
//   mono GoldenHarness.exe golden [DIR]    the exact batch bodies the AddOn would POST, one per
//                                           scenario: DIR/<scenario>.json, or to stdout
//   mono GoldenHarness.exe requests [DIR]  the exact bodies of the other requests (Decide's), one per
//                                           request: DIR/<request>.json, or to stdout
//   mono GoldenHarness.exe selfcheck       queue, retry, dedupe, subscription and timeout checks
//   mono GoldenHarness.exe selfcheck GROUP the checks of one group: decide (the pre-trade gate),
//                                           halts (following halts, flatten_on_halt)
//   mono GoldenHarness.exe send URL TOKEN  the same scenarios through the real HTTP client and
//                                           worker thread to a running bridge, then one invalid
//                                           event and an assignment request
//
// tests/unit/bridge/test_ninjatrader.py and tests/integration/test_ninjascript_contract.py run it.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Threading;
using NinjaTrader.Cbi;
using NinjaTrader.Core;
using NinjaTrader.NinjaScript;
using NinjaTrader.NinjaScript.AddOns;

namespace FillstreamHarness
{
    internal sealed class StubStrategy : StrategyBase
    {
        public StubStrategy(string name)
        {
            Name = name;
        }
    }

    /// <summary>Records every POST and answers from a script (default 202); answers GET /v1/halts
    /// from its own script (default: Halts).</summary>
    internal sealed class ScriptedTransport : IFillstreamGetTransport
    {
        public readonly List<string> Bodies = new List<string>();
        public readonly Queue<FillstreamResponse> Answers = new Queue<FillstreamResponse>();
        public bool Throw;
        public readonly List<string> Gets = new List<string>();
        /// <summary>Per GET: whether it came on a thread-pool thread.</summary>
        public readonly List<bool> GetsOnPool = new List<bool>();
        public readonly Queue<FillstreamResponse> GetAnswers = new Queue<FillstreamResponse>();
        public string Halts = "{\"halts\": []}";

        public FillstreamResponse Get(string path, int timeoutMilliseconds)
        {
            lock (this)
            {
                if (Throw)
                    throw new InvalidOperationException("transport exploded");
                Gets.Add(path);
                GetsOnPool.Add(Thread.CurrentThread.IsThreadPoolThread);
                return GetAnswers.Count > 0 ? GetAnswers.Dequeue() : new FillstreamResponse(200, Halts);
            }
        }

        /// <summary>The body of the last POST to <paramref name="path"/>, or null.</summary>
        public string LastBody(string path)
        {
            lock (this)
            {
                for (int i = Bodies.Count - 1; i >= 0; i--)
                    if (Bodies[i].StartsWith(path + " ", StringComparison.Ordinal))
                        return Bodies[i].Substring(path.Length + 1);
                return null;
            }
        }

        public FillstreamResponse Post(string path, string body, int timeoutMilliseconds)
        {
            lock (this)
            {
                if (Throw)
                    throw new InvalidOperationException("transport exploded");
                Bodies.Add(path + " " + body);
                return Answers.Count > 0 ? Answers.Dequeue() : new FillstreamResponse(202, "{\"accepted\": 1}");
            }
        }

        public void Dispose() { }
    }

    /// <summary>Two accounts, two instruments, a fixed clock and platform time zone (UTC-5),
    /// and the AddOn subscribed to both accounts.</summary>
    internal sealed class World
    {
        public static readonly TimeZoneInfo Platform = TimeZoneInfo.CreateCustomTimeZone(
            "Harness UTC-5", TimeSpan.FromHours(-5), "Harness UTC-5", "Harness UTC-5");

        public readonly Account Sim = NewAccount("Sim101");
        public readonly Account Apex = NewAccount("Apex-12345");
        public readonly Instrument Nq = NewInstrument("NQ 12-26", "NQ", "Nasdaq-100", 20, 0.25, Currency.UsDollar, Exchange.Globex);
        public readonly Instrument Es = NewInstrument("ES 12-26", "ES", "S&P 500", 50, 0.25, Currency.UsDollar, Exchange.Globex);
        public readonly List<string> Output = new List<string>();
        public readonly FillstreamClient Client;
        public readonly IFillstreamTransport Transport;
        public readonly FillstreamBridgeAddOn AddOn = new FillstreamBridgeAddOn();
        public DateTime Now = new DateTime(2026, 9, 22, 13, 30, 0, DateTimeKind.Utc);
        private long nextOrderNumber = 4711000001;

        public World(FillstreamConfig config, IFillstreamTransport transport)
        {
            Globals.GeneralOptions.TimeZoneInfo = Platform;
            Globals.UserDataDir = Path.GetTempPath();
            NinjaTrader.NinjaScript.NinjaScript.PrintSink = Collect;
            NinjaTrader.NinjaScript.NinjaScript.LogSink = Collect;
            lock (Account.All)
            {
                Account.All.Clear();
                Account.All.Add(Sim);
                Account.All.Add(Apex);
            }
            Transport = transport;
            Client = new FillstreamClient(config, transport);
            Client.UtcNow = delegate { return Now; };
            FillstreamClient.InstallShared(Client);
        }

        public static FillstreamConfig Config(string extra)
        {
            List<string> warnings = new List<string>();
            FillstreamConfig config = FillstreamConfig.Parse(
                "token=harness-token-0123456789\naccounts=Sim101,Apex-12345\nbackfill=false\nconnection=nt8-harness\n"
                + "halt_poll_seconds=3600\n" + extra, warnings); // halts are read by hand (PollHalts): the timer's first read is an hour away
            if (warnings.Count > 0)
                throw new InvalidOperationException(string.Join("; ", warnings));
            return config;
        }

        public void Activate()
        {
            AddOn.SetState(State.SetDefaults);
            AddOn.SetState(State.Active);
        }

        public void Terminate()
        {
            AddOn.SetState(State.Terminated);
        }

        private void Collect(string line)
        {
            lock (Output)
                Output.Add(line);
        }

        public static DateTime At(int hour, int minute, int second, long extraTicks)
        {
            // platform time (kind Unspecified), as NinjaTrader reports it
            return new DateTime(2026, 9, 22, hour, minute, second, DateTimeKind.Unspecified).AddTicks(extraTicks);
        }

        public Order NewOrder(Account account, Instrument instrument, string orderId, string name, OrderAction action,
            OrderType type, int quantity, double limit, double stop, string strategy)
        {
            Order order = new Order
            {
                Account = account, Instrument = instrument, OrderId = orderId, Name = name, OrderAction = action,
                OrderType = type, Quantity = quantity, LimitPrice = limit, StopPrice = stop, Id = nextOrderNumber++,
            };
            if (strategy != null)
                order.OwnerStrategy = new StubStrategy(strategy);
            return order;
        }

        public Execution NewExecution(Account account, Order order, string executionId, Instrument instrument,
            MarketPosition side, int quantity, double price, double commission, string name, DateTime time)
        {
            return new Execution
            {
                Account = account, Instrument = instrument, Order = order, OrderId = order == null ? "" : order.OrderId,
                ExecutionId = executionId, MarketPosition = side, Quantity = quantity, Price = price,
                Commission = commission, Name = name, IsEntry = true, Time = time,
            };
        }

        /// <summary>ExecutionUpdate as NinjaTrader raises it, with the execution's current values.</summary>
        public void Raise(Account account, Execution execution, Operation operation, bool isSod)
        {
            account.RaiseExecutionUpdate(new ExecutionEventArgs
            {
                Execution = execution, ExecutionId = execution.ExecutionId, OrderId = execution.OrderId,
                Price = execution.Price, Quantity = execution.Quantity, MarketPosition = execution.MarketPosition,
                Time = execution.Time, Operation = operation, IsSod = isSod,
            });
        }

        public void Fill(Account account, Order order, string executionId, string orderId, Instrument instrument,
            MarketPosition side, int quantity, double price, double commission, string name, bool isEntry, bool isExit,
            DateTime time)
        {
            Execution execution = new Execution
            {
                Account = account, Instrument = instrument, Order = order, OrderId = orderId, ExecutionId = executionId,
                MarketPosition = side, Quantity = quantity, Price = price, Commission = commission, Name = name,
                IsEntry = isEntry, IsExit = isExit, Time = time,
            };
            lock (account.Executions)
                account.Executions.Add(execution);
            Refire(account, execution);
        }

        /// <summary>NinjaTrader firing ExecutionUpdate for an execution (again, after a reconnect).</summary>
        public void Refire(Account account, Execution execution)
        {
            Raise(account, execution, Operation.Add, false);
        }

        public void Update(Order order, OrderState state, int filled, double averageFillPrice, DateTime time,
            ErrorCode error, string comment)
        {
            Update(order, order.OrderId, state, filled, averageFillPrice, time, error, comment);
        }

        /// <summary>An order update whose OrderId is <paramref name="orderId"/> (brokers may change it).</summary>
        public void Update(Order order, string orderId, OrderState state, int filled, double averageFillPrice,
            DateTime time, ErrorCode error, string comment)
        {
            order.OrderId = orderId;
            order.OrderState = state;
            order.Filled = filled;
            order.AverageFillPrice = averageFillPrice;
            order.Account.RaiseOrderUpdate(new OrderEventArgs
            {
                Order = order, OrderId = orderId, OrderState = state, Quantity = order.Quantity, Filled = filled,
                AverageFillPrice = averageFillPrice, LimitPrice = order.LimitPrice, StopPrice = order.StopPrice,
                Time = time, Error = error, Comment = comment,
            });
        }

        public void Position(Account account, Instrument instrument, MarketPosition marketPosition, int quantity,
            double averagePrice)
        {
            Position(account, instrument, marketPosition, quantity, averagePrice, Operation.Update);
        }

        public void Position(Account account, Instrument instrument, MarketPosition marketPosition, int quantity,
            double averagePrice, Operation operation)
        {
            Position position = new Position
            {
                Account = account, Instrument = instrument, MarketPosition = marketPosition, Quantity = quantity,
                AveragePrice = averagePrice,
            };
            account.RaisePositionUpdate(new PositionEventArgs
            {
                Position = position, MarketPosition = marketPosition, Quantity = quantity, AveragePrice = averagePrice,
                Operation = operation,
            });
        }

        private static Account NewAccount(string name)
        {
            return new Account
            {
                Name = name, ConnectionStatus = ConnectionStatus.Connected,
                Connection = new Connection { Options = new ConnectOptions { Name = name == "Sim101" ? "Simulated" : "Rithmic" } },
            };
        }

        public static Instrument NewInstrument(string fullName, string master, string description, double pointValue,
            double tickSize, Currency currency, Exchange exchange)
        {
            return new Instrument
            {
                FullName = fullName, Exchange = exchange,
                MasterInstrument = new MasterInstrument
                {
                    Name = master, Description = description, PointValue = pointValue, TickSize = tickSize,
                    Currency = currency, InstrumentType = InstrumentType.Future,
                    TradingHours = new NinjaTrader.Data.TradingHours { Name = "CME US Index Futures ETH" },
                },
            };
        }
    }

    /// <summary>The golden scenarios; each ends with a call to <c>done(name)</c>.</summary>
    internal static class Scenarios
    {
        // in this order: instrument_defined first, so the other scenarios' instruments are known
        public static readonly string[] Names =
        {
            "instrument_defined", "executions_entry_exit_partial", "order_lifecycle", "position_update",
            "signal_with_features", "bar", "heartbeat", "reversal", "position_removed", "execution_amended",
            "execution_removed", "sod_filtered", "atm_order", "fee_by_reflection", "order_number", "halt_flattened",
        };

        public static void Run(World w, Action<string> done)
        {
            Action<World>[] scenarios =
            {
                InstrumentDefined, ExecutionsEntryExitPartial, OrderLifecycle, PositionUpdate, SignalWithFeatures,
                Bars, Heartbeats, Reversal, PositionRemoved, ExecutionAmended, ExecutionRemoved, SodFiltered, AtmOrder,
                FeeByReflection, OrderNumber, HaltFlattened,
            };
            for (int i = 0; i < scenarios.Length; i++)
            {
                scenarios[i](w);
                done(Names[i]);
            }
        }

        // the first order, position or execution of a root defines it once per session, from its
        // MasterInstrument; another contract of the same root does not
        private static void InstrumentDefined(World w)
        {
            w.Now = new DateTime(2026, 9, 22, 13, 30, 0, 500, DateTimeKind.Utc);
            Order entry = EntryOrder(w);
            w.Update(entry, OrderState.Initialized, 0, 0, World.At(8, 30, 0, 0), ErrorCode.NoError, "");
            w.Update(entry, OrderState.Cancelled, 0, 0, World.At(8, 30, 1, 0), ErrorCode.NoError, "");
            w.Position(w.Apex, w.Es, MarketPosition.Flat, 0, 0);
            Instrument fdax = World.NewInstrument("FDAX 12-26", "FDAX", "DAX Futures", 25, 1, Currency.Euro, Exchange.Eurex);
            fdax.MasterInstrument.TradingHours = null;
            Order buy = w.NewOrder(w.Apex, fdax, "884422001", "Buy", OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            w.Fill(w.Apex, buy, "7301240001", buy.OrderId, fdax, MarketPosition.Long, 1, 24100, 2.1, "Buy", true, false,
                World.At(3, 0, 0, 0));
            Instrument nqMarch = World.NewInstrument("NQ 03-27", "NQ", "Nasdaq-100", 20, 0.25, Currency.UsDollar, Exchange.Globex);
            w.Position(w.Sim, nqMarch, MarketPosition.Flat, 0, 0);
        }

        // NinjaTrader removes a closed position with Operation.Remove, still naming its last direction
        private static void PositionRemoved(World w)
        {
            w.Now = new DateTime(2026, 9, 22, 15, 0, 0, DateTimeKind.Utc);
            w.Position(w.Sim, w.Es, MarketPosition.Short, 2, 5752.25);
            w.Now = new DateTime(2026, 9, 22, 15, 10, 0, DateTimeKind.Utc);
            w.Position(w.Sim, w.Es, MarketPosition.Short, 2, 5752.25, Operation.Remove);
        }

        // the back office amends a fill's price and commission (Operation.Update): sent as a
        // correction; the same values again are not re-sent; an update of an execution never seen
        // is a plain execution
        private static void ExecutionAmended(World w)
        {
            Order order = w.NewOrder(w.Sim, w.Es, "6a5b4c3d2e1f40a9b8c7d6e5f4a3b2c1", "Long", OrderAction.Buy,
                OrderType.Market, 2, 0, 0, null);
            w.Now = new DateTime(2026, 9, 22, 15, 30, 0, 100, DateTimeKind.Utc);
            Execution fill = w.NewExecution(w.Sim, order, "a1b2c3d4e5f60718293a4b5c6d7e8f90", w.Es, MarketPosition.Long, 2,
                5755.25, 2.58, "Long", World.At(10, 30, 0, 0));
            w.Raise(w.Sim, fill, Operation.Add, false);
            w.Now = new DateTime(2026, 9, 22, 21, 45, 0, DateTimeKind.Utc);
            fill.Price = 5755.5;
            fill.Commission = 2.7;
            w.Raise(w.Sim, fill, Operation.Update, false);
            w.Raise(w.Sim, fill, Operation.Update, false);
            Execution unseen = w.NewExecution(w.Sim, order, "b2c3d4e5f60718293a4b5c6d7e8f90a1", w.Es, MarketPosition.Long, 1,
                5756, 1.29, "Long", World.At(10, 31, 0, 0));
            w.Raise(w.Sim, unseen, Operation.Update, false);
        }

        // the back office removes a fill (Operation.Remove): a bust
        private static void ExecutionRemoved(World w)
        {
            Order order = w.NewOrder(w.Apex, w.Nq, "884422150", "Sell", OrderAction.SellShort, OrderType.Market, 1, 0, 0, null);
            w.Now = new DateTime(2026, 9, 22, 16, 0, 0, DateTimeKind.Utc);
            Execution fill = w.NewExecution(w.Apex, order, "7301247777", w.Nq, MarketPosition.Short, 1, 21050.75, 1.29,
                "Sell", World.At(11, 0, 0, 0));
            w.Raise(w.Apex, fill, Operation.Add, false);
            w.Now = new DateTime(2026, 9, 22, 16, 20, 0, DateTimeKind.Utc);
            w.Raise(w.Apex, fill, Operation.Remove, false);
        }

        // start-of-day statement executions replay earlier fills: only the live one is sent
        private static void SodFiltered(World w)
        {
            Order order = w.NewOrder(w.Apex, w.Es, "884422160", "Buy", OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            Execution yesterday = w.NewExecution(w.Apex, order, "7301230001", w.Es, MarketPosition.Long, 1, 5740.5, 1.29,
                "Buy", World.At(9, 45, 0, 0).AddDays(-1));
            yesterday.IsSod = true;
            w.Raise(w.Apex, yesterday, Operation.Add, true);
            Execution other = w.NewExecution(w.Apex, order, "7301230002", w.Es, MarketPosition.Short, 1, 5744, 1.29,
                "Sell", World.At(10, 15, 0, 0).AddDays(-1));
            other.IsSod = true;
            w.Raise(w.Apex, other, Operation.Add, true);
            Execution live = w.NewExecution(w.Apex, order, "7301248888", w.Es, MarketPosition.Long, 1, 5751.75, 1.29,
                "Buy", World.At(11, 30, 0, 0));
            w.Raise(w.Apex, live, Operation.Add, false);
        }

        // an ATM strategy's orders: GetOwnerStrategy returns the AtmStrategy, which is no NinjaScript strategy
        private static void AtmOrder(World w)
        {
            Order entry = w.NewOrder(w.Sim, w.Nq, "2b3c4d5e6f7a48b9c0d1e2f3a4b5c6d7", "Entry", OrderAction.Buy,
                OrderType.Limit, 1, 21040.25, 0, null);
            entry.OwnerStrategy = new AtmStrategy { Name = "ATM 2R" };
            w.Update(entry, OrderState.Working, 0, 0, World.At(11, 40, 0, 0), ErrorCode.NoError, "");
            w.Fill(w.Sim, entry, "c3d4e5f60718293a4b5c6d7e8f90a1b2", entry.OrderId, w.Nq, MarketPosition.Long, 1, 21040.25,
                2.09, "Entry", true, false, World.At(11, 41, 0, 0));
        }

        // Execution.Fee (8.1, read by reflection) is sent as fees
        private static void FeeByReflection(World w)
        {
            Order order = w.NewOrder(w.Apex, w.Nq, "884422170", "Buy", OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            Execution fill = w.NewExecution(w.Apex, order, "7301249100", w.Nq, MarketPosition.Long, 1, 21060.5, 1.29,
                "Buy", World.At(12, 0, 0, 0));
            fill.Fee = 0.62;
            w.Raise(w.Apex, fill, Operation.Add, false);
        }

        // a broker that re-numbers an order's OrderId: order_number (Order.Id) stays the same
        private static void OrderNumber(World w)
        {
            Order order = w.NewOrder(w.Apex, w.Nq, "884422180", "Sell", OrderAction.Sell, OrderType.Limit, 1, 21070, 0, null);
            w.Update(order, OrderState.Accepted, 0, 0, World.At(12, 10, 0, 0), ErrorCode.NoError, "");
            w.Update(order, "884422181", OrderState.Working, 0, 0, World.At(12, 10, 5, 0), ErrorCode.NoError, "");
            w.Fill(w.Apex, order, "7301249200", order.OrderId, w.Nq, MarketPosition.Short, 1, 21070, 1.29, "Sell", false,
                true, World.At(12, 12, 0, 0));
        }

        // flatten_on_halt: a daily-loss halt of Sim101 flattens its open positions (not the flat
        // one); a halt of ES 12-26 in every account flattens Sim101's ES and finds none in
        // Apex-12345; a halt of an account not captured is left alone; read again, nothing changes
        private static void HaltFlattened(World w)
        {
            ScriptedTransport scripted = w.Transport as ScriptedTransport;
            if (scripted == null)
                return; // sent to a real bridge: its halts, if any
            w.Sim.Positions.Add(new Position { Account = w.Sim, Instrument = w.Nq, MarketPosition = MarketPosition.Long, Quantity = 2, AveragePrice = 21000.25 });
            w.Sim.Positions.Add(new Position { Account = w.Sim, Instrument = w.Es, MarketPosition = MarketPosition.Short, Quantity = 1, AveragePrice = 5750.25 });
            Instrument nqMarch = World.NewInstrument("NQ 03-27", "NQ", "Nasdaq-100", 20, 0.25, Currency.UsDollar, Exchange.Globex);
            w.Sim.Positions.Add(new Position { Account = w.Sim, Instrument = nqMarch, MarketPosition = MarketPosition.Flat, Quantity = 0 });
            scripted.Halts = Halts(
                Halt("h-2026-09-22-sim101-daily-loss", "Sim101", null, "daily_loss", "the day's loss 1250 reached the limit 1000"),
                Halt("h-2026-09-22-sim102-daily-loss", "Sim102", null, "daily_loss", "the day's loss 600 reached the limit 500"),
                Halt("h-2026-09-22-es-max-loss", null, "ES 12-26", "instrument_loss", "ES 12-26 lost 2000 today, the limit is 1500"));
            w.Now = new DateTime(2026, 9, 22, 17, 0, 0, 250, DateTimeKind.Utc);
            w.AddOn.PollHalts();
            w.Now = new DateTime(2026, 9, 22, 17, 0, 5, 250, DateTimeKind.Utc);
            w.AddOn.PollHalts();
        }

        /// <summary>An answer of GET /v1/halts.</summary>
        public static string Halts(params string[] halts)
        {
            return "{\"halts\": [" + string.Join(", ", halts) + "]}";
        }

        public static string Halt(string haltId, string account, string instrument, string rule, string reason)
        {
            return "{\"halt_id\": \"" + haltId + "\", \"account\": " + (account == null ? "null" : "\"" + account + "\"")
                + ", \"strategy\": null, \"instrument\": " + (instrument == null ? "null" : "\"" + instrument + "\"")
                + ", \"rule\": \"" + rule + "\", \"reason\": \"" + reason + "\", \"since\": \"2026-09-22T16:59:58.125000Z\"}";
        }

        private static Order EntryOrder(World w)
        {
            return w.NewOrder(w.Sim, w.Nq, "3f6e2d1c0b9a48879c6d5e4f3a2b1c0d", "Long", OrderAction.Buy, OrderType.Limit,
                3, 21000.5, 0, "OpeningRange");
        }

        private static Order TargetOrder(World w)
        {
            return w.NewOrder(w.Sim, w.Nq, "8c7b6a5f4e3d42c1b0a9f8e7d6c5b4a3", "Profit target", OrderAction.Sell,
                OrderType.Limit, 3, 21010.75, 0, "OpeningRange");
        }

        // a limit entry filled in two parts, the first re-fired after a reconnect, then one exit fill
        private static void ExecutionsEntryExitPartial(World w)
        {
            Order entry = EntryOrder(w);
            Order target = TargetOrder(w);
            w.Fill(w.Sim, entry, "e2a9c4f0b7d34c1e9a8b7c6d5e4f3a21", entry.OrderId, w.Nq, MarketPosition.Long, 2,
                21000.25, 4.18, "Long", true, false, World.At(8, 35, 0, 1234567));
            w.Fill(w.Sim, entry, "f7b3d5e1c9a24b6d8e0f1a2b3c4d5e6f", entry.OrderId, w.Nq, MarketPosition.Long, 1,
                21000.5, 2.09, "Long", true, false, World.At(8, 35, 0, 5000000));
            w.Refire(w.Sim, w.Sim.Executions[0]);
            w.Fill(w.Sim, target, "0a1b2c3d4e5f40718293a4b5c6d7e8f9", target.OrderId, w.Nq, MarketPosition.Short, 3,
                21010.75, 6.27, "Profit target", false, true, World.At(8, 41, 30, 2500000));
        }

        // every order type and the states an order passes through, a rejection with its reason
        private static void OrderLifecycle(World w)
        {
            Order entry = EntryOrder(w);
            w.Update(entry, OrderState.Submitted, 0, 0, World.At(8, 34, 59, 9000000), ErrorCode.NoError, "");
            w.Update(entry, OrderState.Accepted, 0, 0, World.At(8, 34, 59, 9500000), ErrorCode.NoError, "");
            w.Update(entry, OrderState.Working, 0, 0, World.At(8, 34, 59, 9600000), ErrorCode.NoError, "");
            w.Update(entry, OrderState.PartFilled, 2, 21000.25, World.At(8, 35, 0, 1234567), ErrorCode.NoError, "");
            w.Update(entry, OrderState.Filled, 3, (2 * 21000.25 + 21000.5) / 3, World.At(8, 35, 0, 5000000), ErrorCode.NoError, "");
            Order stop = w.NewOrder(w.Sim, w.Nq, "5d4c3b2a1f0e49d8c7b6a5f4e3d2c1b0", "Stop loss", OrderAction.Sell,
                OrderType.StopMarket, 3, 0, 20990.25, "OpeningRange");
            w.Update(stop, OrderState.Accepted, 0, 0, World.At(8, 35, 0, 6000000), ErrorCode.NoError, "");
            w.Update(stop, OrderState.CancelPending, 0, 0, World.At(8, 41, 30, 3000000), ErrorCode.NoError, "");
            w.Update(stop, OrderState.Cancelled, 0, 0, World.At(8, 41, 30, 4000000), ErrorCode.NoError, "");
            Order stopLimit = w.NewOrder(w.Sim, w.Nq, "9e8d7c6b5a4f43e2d1c0b9a8f7e6d5c4", "Breakout", OrderAction.Buy,
                OrderType.StopLimit, 1, 21020.5, 21020.25, null);
            w.Update(stopLimit, OrderState.TriggerPending, 0, 0, World.At(8, 50, 0, 0), ErrorCode.NoError, "");
            Order touched = w.NewOrder(w.Sim, w.Nq, "1c2d3e4f5a6b47c8d9e0f1a2b3c4d5e6", "Fade", OrderAction.SellShort,
                OrderType.MIT, 1, 0, 21030, null);
            w.Update(touched, OrderState.Working, 0, 0, World.At(8, 50, 1, 0), ErrorCode.NoError, "");
            Order market = w.NewOrder(w.Apex, w.Nq, "884422117", "Buy", OrderAction.BuyToCover, OrderType.Market,
                2, 0, 0, null);
            w.Update(market, OrderState.Rejected, 0, 0, World.At(8, 51, 0, 0), ErrorCode.OrderRejected,
                "Order would exceed the account's \"max position\" of 1");
        }

        private static void PositionUpdate(World w)
        {
            w.Now = new DateTime(2026, 9, 22, 13, 35, 0, 200, DateTimeKind.Utc).AddTicks(1234);
            w.Position(w.Sim, w.Nq, MarketPosition.Long, 2, 21000.25);
            w.Now = new DateTime(2026, 9, 22, 13, 35, 0, 600, DateTimeKind.Utc);
            w.Position(w.Sim, w.Nq, MarketPosition.Long, 3, (2 * 21000.25 + 21000.5) / 3);
            w.Now = new DateTime(2026, 9, 22, 13, 41, 30, 300, DateTimeKind.Utc);
            w.Position(w.Sim, w.Nq, MarketPosition.Flat, 0, 0);
        }

        private static void SignalWithFeatures(World w)
        {
            w.Now = new DateTime(2026, 9, 22, 13, 34, 58, DateTimeKind.Utc);
            Dictionary<string, double> features = new Dictionary<string, double>();
            features.Add("atr_14", 12.5);
            features.Add("rsi_14", 61.25);
            features.Add("zscore_20", -1.375);
            features.Add("bars_since_open", 5);
            features.Add("gap_ticks", double.NaN); // not a number: left out
            FillstreamSignals.Emit("Opening Range \u2013 v2", w.Nq, w.Sim, "or-2026-09-22-0935", MarketPosition.Long,
                "breakout \"B\"", 0.72, 20990.25, 21025.5, features);
            w.Now = new DateTime(2026, 9, 22, 13, 52, 0, DateTimeKind.Utc);
            FillstreamSignals.Emit("Fade", w.Nq, null, "fade-2026-09-22-0952", MarketPosition.Short, null, double.NaN,
                0, double.NaN, null);
        }

        private static void Bars(World w)
        {
            FillstreamSignals.Bar(w.Nq, "1 Minute", 21000.25, 21004.75, 20998.5, 21003, 1834, 21002.75, 21003.25,
                World.At(8, 36, 0, 0));
            FillstreamSignals.Bar(w.Es, "5 Minute", 5750.25, 5751, 5748.75, 5749.5, 0, 0, double.NaN,
                World.At(8, 40, 0, 0));
        }

        private static void Heartbeats(World w)
        {
            w.Now = new DateTime(2026, 9, 22, 13, 40, 0, DateTimeKind.Utc);
            w.Client.EnqueueHeartbeat();
            w.Now = new DateTime(2026, 9, 22, 13, 40, 10, DateTimeKind.Utc);
            w.Client.EnqueueHeartbeat();
        }

        // a manual long, a sell of twice the size that reverses through zero in one fill, and a
        // broker-side exit on session close that has no Order and a numeric id
        private static void Reversal(World w)
        {
            Order buy = w.NewOrder(w.Apex, w.Es, "884422118", "Buy", OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            w.Now = new DateTime(2026, 9, 22, 14, 0, 0, 100, DateTimeKind.Utc);
            w.Fill(w.Apex, buy, "7301245566", buy.OrderId, w.Es, MarketPosition.Long, 1, 5750.25, 1.29, "Buy", true,
                false, World.At(9, 0, 0, 0));
            w.Position(w.Apex, w.Es, MarketPosition.Long, 1, 5750.25);
            Order sell = w.NewOrder(w.Apex, w.Es, "884422119", "Sell", OrderAction.Sell, OrderType.Market, 2, 0, 0, null);
            w.Now = new DateTime(2026, 9, 22, 14, 5, 0, 100, DateTimeKind.Utc);
            w.Fill(w.Apex, sell, "7301245601", sell.OrderId, w.Es, MarketPosition.Short, 2, 5748.5, 2.58, "Sell", true,
                true, World.At(9, 5, 0, 0));
            w.Position(w.Apex, w.Es, MarketPosition.Short, 1, 5748.5);
            w.Now = new DateTime(2026, 9, 22, 20, 59, 30, 100, DateTimeKind.Utc);
            w.Fill(w.Apex, null, "7301249999", "", w.Es, MarketPosition.Long, 1, 5745, 1.29, "Exit on session close",
                false, true, World.At(15, 59, 30, 0));
            w.Position(w.Apex, w.Es, MarketPosition.Flat, 0, 0);
        }
    }

    internal static class Program
    {
        private static readonly List<string> failures = new List<string>();

        public static int Main(string[] args)
        {
            string mode = args.Length > 0 ? args[0] : "";
            try
            {
                if (mode == "golden")
                    return Golden(args.Length > 1 ? args[1] : null);
                if (mode == "requests")
                    return Requests(args.Length > 1 ? args[1] : null);
                if (mode == "selfcheck")
                    return SelfCheck(args.Length > 1 ? args[1] : null);
                if (mode == "send" && args.Length == 3)
                    return Send(args[1], args[2]);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("harness failed: " + e);
                return 2;
            }
            Console.Error.WriteLine("usage: GoldenHarness.exe golden [DIR] | requests [DIR] | selfcheck [decide|halts] | send URL TOKEN");
            return 64;
        }

        private static int Golden(string directory)
        {
            World w = new World(World.Config("flatten_on_halt=true\n"), new ScriptedTransport());
            w.Activate();
            Scenarios.Run(w, delegate(string name)
            {
                string body = w.Client.TakeBatchBody();
                if (body == null)
                    throw new InvalidOperationException("scenario " + name + " queued nothing");
                if (w.Client.TakeBatchBody() != null)
                    throw new InvalidOperationException("scenario " + name + " needs more than one batch");
                if (directory == null)
                    Console.Out.Write("### " + name + ".json\n" + body + "\n");
                else
                    File.WriteAllBytes(Path.Combine(directory, name + ".json"), new UTF8Encoding(false).GetBytes(body));
            });
            w.Terminate();
            return 0;
        }

        /// <summary>The request bodies Decide posts: the golden files of tests/golden/ninjatrader-requests.</summary>
        private static int Requests(string directory)
        {
            ScriptedTransport transport = new ScriptedTransport();
            FillstreamClient client = new FillstreamClient(World.Config(""), transport);
            transport.Answers.Enqueue(new FillstreamResponse(200, Gate.AllowAnswer));
            client.Decide(Gate.FullRequest());
            string body = transport.LastBody(FillstreamClient.DecisionsPath);
            if (body == null)
                throw new InvalidOperationException("Decide posted nothing");
            if (directory == null)
                Console.Out.Write("### decide_request.json\n" + body + "\n");
            else
                File.WriteAllBytes(Path.Combine(directory, "decide_request.json"), new UTF8Encoding(false).GetBytes(body));
            return 0;
        }

        private static int Send(string url, string token)
        {
            FillstreamConfig config = World.Config("heartbeat_seconds=3600\nbatch_ms=20\n");
            config.Url = url;
            config.Token = token;
            World w = new World(config, new FillstreamHttpTransport(url, token));
            w.Client.Start();
            w.Activate();
            // the AddOn routes the client's messages to Print and Log; show them
            NinjaTrader.NinjaScript.NinjaScript.PrintSink = delegate(string line) { Console.Out.WriteLine("print " + line); };
            NinjaTrader.NinjaScript.NinjaScript.LogSink = delegate(string line) { Console.Out.WriteLine("log " + line); };
            Scenarios.Run(w, delegate(string name)
            {
                if (!w.Client.Flush(TimeSpan.FromSeconds(30)))
                    throw new InvalidOperationException("scenario " + name + " not delivered within 30 s");
                Console.Out.WriteLine("sent " + name);
            });
            // the bridge refuses this one (422): logged, dropped, never retried
            w.Client.Enqueue("{\"type\":\"execution\",\"ts_event\":\"2026-09-22T13:35:00Z\",\"execution_id\":\"bad-1\",\"price\":\"-1\"}");
            w.Client.Flush(TimeSpan.FromSeconds(30));
#pragma warning disable 618 // the blocking Assign, kept for strategies written against it
            Console.Out.WriteLine("arm=" + FillstreamSignals.Assign("or-2026-09-22-0935", "Opening Range \u2013 v2"));
#pragma warning restore 618
            w.Terminate();
            Console.Out.WriteLine("done");
            return 0;
        }

        internal static void Check(bool condition, string what)
        {
            if (!condition)
                failures.Add(what);
        }

        internal static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                failures.Add(what + ": expected " + expected + ", was " + actual);
        }

        private static int SelfCheck(string group)
        {
            if (group == "decide")
                Gate.Check();
            else if (group == "halts")
                HaltChecks.Check();
            else if (group == null)
                CoreChecks();
            else
                throw new ArgumentException("unknown selfcheck group " + group + " (decide, halts)");
            foreach (string failure in failures)
                Console.Out.WriteLine("FAIL " + failure);
            Console.Out.WriteLine(failures.Count == 0 ? "selfcheck ok" : failures.Count + " selfcheck failures");
            return failures.Count == 0 ? 0 : 1;
        }

        private static void CoreChecks()
        {
            QueuePolicy();
            DropWarnings();
            Batching();
            RetryPolicy();
            WorkerRetriesAndDrops();
            Assignments();
            Subscriptions();
            Configuration();
            Formatting();
            InvalidEventsAreNotQueued();
            StartOfDayAndBackfill();
            ApiDetails();
            RecentMap();
        }

        private static void QueuePolicy()
        {
            FillstreamQueue queue = new FillstreamQueue(3);
            Equal(FillstreamDrop.None, queue.Add("E1", true), "queue: room");
            queue.Add("O1", false);
            queue.Add("O2", false);
            Equal(FillstreamDrop.OldestOther, queue.Add("O3", false), "queue full: oldest other goes");
            Equal(FillstreamDrop.OldestOther, queue.Add("E2", true), "queue full, execution in: oldest other goes");
            Equal(FillstreamDrop.OldestOther, queue.Add("E3", true), "queue full, execution in: last other goes");
            Equal(FillstreamDrop.Incoming, queue.Add("O4", false), "only executions queued: a new other is dropped");
            Equal(FillstreamDrop.OldestExecution, queue.Add("E4", true), "only executions queued: oldest execution goes");
            Equal("E2,E3,E4", string.Join(",", queue.TakeNow(10)), "queue keeps the newest executions in order");
            queue.Add("A", false);
            queue.Add("B", true);
            queue.Add("C", false);
            Equal("A,B", string.Join(",", queue.TakeNow(2)), "take merges both kinds in arrival order");
            Equal("C", string.Join(",", queue.TakeNow(2)), "take leaves the rest");
        }

        private static void DropWarnings()
        {
            List<string> log = new List<string>();
            FillstreamClient client = new FillstreamClient(World.Config("queue_capacity=2\n"), new ScriptedTransport());
            client.Log = delegate(string message, FillstreamLogLevel level) { log.Add(level + " " + message); };
            client.Enqueue("{}");
            client.Enqueue("{}");
            for (int i = 0; i < 100; i++)
                client.Enqueue("{}");
            Equal(1, log.Count, "a full queue warns once a minute, not per event");
            Check(log.Count > 0 && log[0].StartsWith("Warning fillstream: queue full (2 events"), "the warning names the capacity: " + string.Join("|", log));
            client.EnqueueExecution("{\"x\":1}");
            client.EnqueueExecution("{\"x\":2}");
            client.EnqueueExecution("{\"x\":3}");
            Equal(2, log.Count, "losing an execution is always reported");
            Check(log.Count > 1 && log[1].StartsWith("Error ") && log[1].Contains("oldest execution"), "execution loss is an error: " + string.Join("|", log));
            Equal(103L, client.Dropped, "dropped count");
        }

        private static void Batching()
        {
            FillstreamClient client = new FillstreamClient(World.Config(""), new ScriptedTransport());
            for (int i = 0; i < 1200; i++)
                client.Enqueue("{\"n\":" + i + "}");
            List<int> sizes = new List<int>();
            string body;
            while ((body = client.TakeBatchBody()) != null)
                sizes.Add(body.Split(new[] { "},{" }, StringSplitOptions.None).Length);
            Equal("500,500,200", string.Join(",", sizes), "batches of at most 500");
            string big = "{\"s\":\"" + new string('x', 100000) + "\"}";
            for (int i = 0; i < 7; i++)
                client.Enqueue(big);
            sizes.Clear();
            while ((body = client.TakeBatchBody()) != null)
            {
                Check(body.Length <= FillstreamQueue.MaxBatchChars, "a batch body stays under the bridge's 1 MiB even in UTF-8: " + body.Length);
                sizes.Add(body.Split(new[] { "},{" }, StringSplitOptions.None).Length);
            }
            Equal("2,2,2,1", string.Join(",", sizes), "large events: batches bounded by size");
        }

        private static void RetryPolicy()
        {
            foreach (int status in new[] { 0, 429, 500, 502, 503, 504 })
                Check(FillstreamRetry.IsRetryable(status), status + " is retried");
            foreach (int status in new[] { 400, 401, 403, 404, 413, 415, 422 })
                Check(!FillstreamRetry.IsRetryable(status), status + " is not retried");
            Random random = new Random(7);
            TimeSpan initial = TimeSpan.FromMilliseconds(500);
            for (int attempt = 0; attempt < 40; attempt++)
            {
                double step = Math.Min(30000, 500 * Math.Pow(2, Math.Min(attempt, 30)));
                double delay = FillstreamRetry.Backoff(attempt, initial, random).TotalMilliseconds;
                Check(delay >= step / 2 && delay <= step && delay <= 30000, "backoff " + attempt + " within [step/2, step] and 30 s: " + delay);
            }
        }

        private static void WorkerRetriesAndDrops()
        {
            ScriptedTransport transport = new ScriptedTransport();
            transport.Answers.Enqueue(new FillstreamResponse(0, "connection refused"));
            transport.Answers.Enqueue(new FillstreamResponse(503, "{\"error\": \"Kafka did not acknowledge\"}"));
            transport.Answers.Enqueue(new FillstreamResponse(429, ""));
            transport.Answers.Enqueue(new FillstreamResponse(202, "{\"accepted\": 2}"));
            transport.Answers.Enqueue(new FillstreamResponse(422, "{\"error\": \"invalid events\", \"errors\": [{\"field\": \"[0].price\"}]}"));
            List<string> log = new List<string>();
            FillstreamClient client = new FillstreamClient(World.Config("heartbeat_seconds=3600\nbatch_ms=0\n"), transport);
            client.Log = delegate(string message, FillstreamLogLevel level) { lock (log) log.Add(level + " " + message); };
            client.RetryInitial = TimeSpan.FromMilliseconds(1);
            client.EnqueueExecution("{\"n\":1}");
            client.Enqueue("{\"n\":2}");
            client.Start();
            Check(client.Flush(TimeSpan.FromSeconds(10)), "retried batch delivered");
            client.Enqueue("{\"n\":3}");
            Check(client.Flush(TimeSpan.FromSeconds(10)), "refused batch given up");
            client.Enqueue("{\"n\":4}");
            Check(client.Flush(TimeSpan.FromSeconds(10)), "next batch delivered");
            client.Stop(TimeSpan.FromSeconds(1));
            List<string> posted;
            lock (transport)
                posted = new List<string>(transport.Bodies);
            Equal(string.Join("|", new[]
            {
                "/v1/events [{\"n\":1},{\"n\":2}]", "/v1/events [{\"n\":1},{\"n\":2}]", "/v1/events [{\"n\":1},{\"n\":2}]",
                "/v1/events [{\"n\":1},{\"n\":2}]", "/v1/events [{\"n\":3}]", "/v1/events [{\"n\":4}]",
            }), string.Join("|", posted), "the same batch is retried on no answer, 503 and 429; a 422 is not retried");
            string all;
            lock (log)
                all = string.Join("\n", log);
            Check(all.Contains("retrying with backoff"), "a failing bridge is reported once: " + all);
            Check(all.Contains("refused 1 events with 422") && all.Contains("[0].price"), "the refusal and the bridge's reasons are logged: " + all);
        }

        private static void Assignments()
        {
            FillstreamConfig config = World.Config("");
            ScriptedTransport transport = new ScriptedTransport();
            FillstreamClient client = new FillstreamClient(config, transport);
            transport.Answers.Enqueue(new FillstreamResponse(200, "{\"signal_id\": \"s-1\", \"experiment\": \"exits\", \"arm\": \"trail\\u00e9\", \"reason\": \"x\"}"));
            Equal("trail\u00e9", client.Assign("s-1", "OpeningRange", 200), "assignment answer is read");
            Equal("/v1/assignments {\"signal_id\":\"s-1\",\"strategy\":\"OpeningRange\"}", transport.Bodies[0], "assignment request body");
            transport.Answers.Enqueue(new FillstreamResponse(200, "{\"arm\": null}"));
            Equal("control", client.Assign("s-1", "OpeningRange", 200), "no arm: control");
            transport.Answers.Enqueue(new FillstreamResponse(503, ""));
            Equal("control", client.Assign("s-1", "OpeningRange", 200), "an error: control");
            transport.Throw = true;
            Equal("control", client.Assign("s-1", "OpeningRange", 200), "a failing transport: control");

            // a bridge that accepts the connection and never answers: the timeout holds
            TcpListener silent = new TcpListener(IPAddress.Loopback, 0);
            silent.Start();
            try
            {
                int port = ((IPEndPoint)silent.LocalEndpoint).Port;
                FillstreamClient real = new FillstreamClient(config, new FillstreamHttpTransport("http://127.0.0.1:" + port, "t"));
                real.Assign("warm-up", "s", 200); // mono's first HTTP request also loads the stack
                Stopwatch watch = Stopwatch.StartNew();
                Equal("control", real.Assign("s-2", "OpeningRange", 200), "no answer in time: control");
                Check(watch.ElapsedMilliseconds < 1500, "assign gives up after its timeout, took " + watch.ElapsedMilliseconds + " ms");
                real.Dispose();
            }
            finally
            {
                silent.Stop();
            }
            FillstreamClient refused = new FillstreamClient(config, new FillstreamHttpTransport("http://127.0.0.1:1", "t"));
            Equal("control", refused.Assign("s-3", "OpeningRange", 200), "connection refused: control");
        }

        private static void Subscriptions()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = new World(World.Config("backfill=true\n"), transport);
            Order order = w.NewOrder(w.Sim, w.Nq, "o-1", "Long", OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            Execution earlier = new Execution
            {
                Account = w.Sim, Instrument = w.Nq, Order = order, OrderId = "o-1", ExecutionId = "x-earlier",
                MarketPosition = MarketPosition.Long, Quantity = 1, Price = 21000, Commission = 2.09, Name = "Long",
                IsEntry = true, Time = World.At(8, 0, 0, 0),
            };
            w.Sim.Executions.Add(earlier);
            Account other = new Account { Name = "Sim102" };
            Account.All.Add(other);
            w.Activate();
            Equal(3, w.Sim.SubscriberCount, "configured account subscribed to three events");
            Equal(0, other.SubscriberCount, "accounts not in accounts= are left alone");
            Equal(1, Account.StatusSubscriberCount, "subscribed to account status updates");
            Equal(2, w.Client.QueueDepth, "today's executions are backfilled (after their instrument)");
            w.Refire(w.Sim, earlier);
            w.Refire(w.Sim, earlier);
            Equal(2, w.Client.QueueDepth, "re-fired executions are deduplicated by execution id");
            earlier.Commission = 2.5;
            w.Refire(w.Sim, earlier);
            Equal(2, w.Client.QueueDepth, "a re-fired Add with other values is no amendment");
            w.Sim.RaiseExecutionUpdate(new ExecutionEventArgs { Execution = earlier, ExecutionId = "x-earlier", Operation = Operation.Remove });
            Equal(3, w.Client.QueueDepth, "a removed execution is reported as busted");
            w.Raise(w.Sim, earlier, Operation.Add, false);
            Equal(4, w.Client.QueueDepth, "an execution removed and added again is sent again");

            Account late = new Account { Name = "Apex-12345" };
            lock (Account.All)
            {
                Account.All.Remove(w.Apex);
                Account.All.Add(late);
            }
            late.RaiseAccountStatusUpdate(new AccountStatusEventArgs { Account = late, Status = ConnectionStatus.Connected, PreviousStatus = ConnectionStatus.Connecting });
            Equal(3, late.SubscriberCount, "an account that connects later is subscribed");
            late.RaiseAccountStatusUpdate(new AccountStatusEventArgs { Account = late, Status = ConnectionStatus.Connected, PreviousStatus = ConnectionStatus.ConnectionLost });
            Equal(3, late.SubscriberCount, "a reconnect does not subscribe twice");
            string heartbeat = w.Client.HeartbeatJson();
            Check(heartbeat.Contains("\"accounts\":[\"Apex-12345\",\"Sim101\"]"), "heartbeat lists the subscribed accounts: " + heartbeat);

            w.Terminate();
            Equal(0, w.Sim.SubscriberCount + w.Apex.SubscriberCount + late.SubscriberCount, "terminate unsubscribes");
            Equal(0, Account.StatusSubscriberCount, "terminate unsubscribes from account status updates");
            Check(FillstreamClient.Shared == null, "terminate stops the shared client");
            w.Fill(w.Sim, order, "x-after", "o-1", w.Nq, MarketPosition.Long, 1, 21001, 2.09, "Long", true, false, World.At(8, 1, 0, 0));
            Equal(4, w.Client.QueueDepth, "nothing is queued after terminate");
        }

        private static void Configuration()
        {
            List<string> warnings = new List<string>();
            FillstreamConfig config = FillstreamConfig.Parse(
                "# comment\r\n\r\n url = http://10.0.0.5:8787/ \r\ntoken= abc \r\naccounts = Sim101, Apex-1 ,\r\n"
                + "heartbeat_seconds=ten\r\nqueue_capacity=5000\r\ncolour=blue\r\nnonsense\r\n", warnings);
            Equal("http://10.0.0.5:8787", config.Url, "url, trailing slash removed");
            Equal("abc", config.Token, "token trimmed");
            Equal("Sim101|Apex-1", string.Join("|", config.Accounts), "accounts list");
            Equal(10, config.HeartbeatSeconds, "a bad number keeps the default");
            Equal(5000, config.QueueCapacity, "queue capacity");
            Equal(3, warnings.Count, "bad number, unknown key and a line without '=' are reported: " + string.Join("; ", warnings));
            Check(config.Includes("Sim101") && !config.Includes("Sim102"), "only listed accounts");
            FillstreamConfig defaults = FillstreamConfig.Parse("accounts=*", warnings);
            Check(defaults.Includes("anything"), "* means every account");
            Equal("http://127.0.0.1:8787", defaults.Url, "default url");
            Equal(10, defaults.HeartbeatSeconds, "default heartbeat");
            Equal(100000, defaults.QueueCapacity, "default capacity");
            Check(!defaults.FlattenOnHalt, "flatten_on_halt is off by default");
            Equal(5, defaults.HaltPollSeconds, "halts are read every 5 s by default");
            FillstreamConfig halting = FillstreamConfig.Parse("flatten_on_halt=true\nhalt_poll_seconds=2\n", warnings = new List<string>());
            Check(halting.FlattenOnHalt && halting.HaltPollSeconds == 2 && warnings.Count == 0, "flatten_on_halt and halt_poll_seconds are read: " + string.Join("; ", warnings));
            FillstreamConfig bad = FillstreamConfig.Parse("flatten_on_halt=yes\nhalt_poll_seconds=-1\n", warnings = new List<string>());
            Check(!bad.FlattenOnHalt && bad.HaltPollSeconds == 5 && warnings.Count == 2, "bad values keep the defaults, each reported: " + string.Join("; ", warnings));
            FillstreamConfig never = FillstreamConfig.Parse("flatten_on_halt=true\nhalt_poll_seconds=0\n", warnings = new List<string>());
            Check(never.HaltPollSeconds == 0 && warnings.Count == 1 && warnings[0].Contains("nothing is flattened"), "flatten_on_halt without polling is reported: " + string.Join("; ", warnings));
            FillstreamConfig template = FillstreamConfig.Parse(FillstreamConfig.Template(), warnings = new List<string>());
            Equal(0, warnings.Count, "the template parses cleanly");
            Equal("", template.Token, "the template leaves the token to fill in");
        }

        private static void Formatting()
        {
            Equal("\"a\\\"b\\\\c\\n\\t\\u0001\u00e9\u20ac\"", FillstreamJson.Quote("a\"b\\c\n\t\u0001\u00e9\u20ac"), "string escaping");
            Equal("21000.25", FillstreamJson.Decimal(21000.25), "price");
            Equal("0.3", FillstreamJson.Decimal(0.1 + 0.2), "binary noise is not sent");
            Equal("2.09", FillstreamJson.Decimal(2.09), "commission");
            Equal("0", FillstreamJson.Decimal(1e-11), "beyond 10 places");
            Equal("1234567.12345679", FillstreamJson.Decimal(1234567.123456789), "15 significant digits, as (decimal) keeps");
            Equal(null, FillstreamJson.Decimal(double.NaN), "NaN has no decimal");
            Equal(null, FillstreamJson.Decimal(double.PositiveInfinity), "infinity has no decimal");
            Equal("-1.375", FillstreamJson.Number(-1.375), "number");
            Equal(null, FillstreamJson.Number(double.NaN), "NaN is not a JSON number");
            DateTime ticks = new DateTime(2026, 9, 22, 13, 35, 0, DateTimeKind.Utc).AddTicks(9999999);
            Equal("2026-09-22T13:35:00.999999Z", FillstreamJson.Timestamp(ticks), "the 7th digit is cut, never rounded up into the next second");
            Equal(new DateTime(2026, 9, 22, 13, 35, 0, DateTimeKind.Utc), FillstreamTime.ToUtc(new DateTime(2026, 9, 22, 8, 35, 0), World.Platform), "platform time to UTC");
            Equal("{}", FillstreamJson.Object().String("empty", "").String("none", null).ToString(), "empty and null strings are left out");
        }

        private static void StartOfDayAndBackfill()
        {
            World w = new World(World.Config("backfill=true\n"), new ScriptedTransport());
            Order order = w.NewOrder(w.Sim, w.Es, "o-sod", "Buy", OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            for (int i = 0; i < 3; i++)
            {
                Execution old = w.NewExecution(w.Sim, order, "x-sod-" + i, w.Es, MarketPosition.Long, 1, 5740, 1.29, "Buy",
                    World.At(9, 0, i, 0).AddDays(-1));
                old.IsSod = true;
                w.Sim.Executions.Add(old);
            }
            w.Sim.Executions.Add(w.NewExecution(w.Sim, order, "x-today", w.Es, MarketPosition.Long, 1, 5741, 1.29, "Buy",
                World.At(9, 0, 0, 0)));
            w.Activate();
            Equal(2, w.Client.QueueDepth, "backfill sends today's execution (and its instrument), not the statement's");
            Execution flagged = w.NewExecution(w.Sim, order, "x-sod-args", w.Es, MarketPosition.Long, 1, 5740, 1.29, "Buy",
                World.At(9, 0, 0, 0));
            w.Raise(w.Sim, flagged, Operation.Add, true);
            w.Raise(w.Sim, flagged, Operation.Add, true);
            Equal(2, w.Client.QueueDepth, "ExecutionEventArgs.IsSod executions are not sent");
            Equal(2L, w.AddOn.SkippedStartOfDay, "start-of-day executions are counted until the run ends");
            w.Raise(w.Sim, w.NewExecution(w.Sim, order, "x-live", w.Es, MarketPosition.Long, 1, 5742, 1.29, "Buy",
                World.At(9, 1, 0, 0)), Operation.Add, false);
            Equal(3, w.Client.QueueDepth, "the next live execution is sent");
            Equal(0L, w.AddOn.SkippedStartOfDay, "the count is logged and reset when the run ends");
            string output;
            lock (w.Output)
                output = string.Join("\n", w.Output);
            Check(output.Contains("3 start-of-day statement executions (IsSod) were not sent")
                && output.Contains("2 start-of-day statement executions (IsSod) were not sent"),
                "one line per run of start-of-day executions: " + output);
            w.Terminate();
        }

        private static void ApiDetails()
        {
            Check(FillstreamEvents.DoubleProperty(typeof(Execution), "Fee") != null, "Execution.Fee is found by reflection");
            Equal(null, FillstreamEvents.DoubleProperty(typeof(Order), "Fee"), "a type without Fee: no property");
            Equal(null, FillstreamEvents.DoubleProperty(typeof(Execution), "Name"), "a property that is no double is not read");
            Equal(0.0, FillstreamEvents.ReadDouble(null, new Execution { Fee = 3 }), "no property reads 0");
            Equal(0.75, FillstreamEvents.FeeOf(new Execution { Fee = 0.75 }), "FeeOf reads Execution.Fee");
            HashSet<string> codes = new HashSet<string>();
            foreach (Currency currency in Enum.GetValues(typeof(Currency)))
            {
                string code = FillstreamEvents.CurrencyCode(currency);
                Check(code != null && code.Length == 3 && code == code.ToUpperInvariant(), currency + " has an ISO code: " + code);
                Check(code == null || codes.Add(code), currency + " has its own ISO code: " + code);
            }
            Equal("USD|EUR|GBP|JPY|CAD|AUD|CHF", string.Join("|", new[]
            {
                FillstreamEvents.CurrencyCode(Currency.UsDollar), FillstreamEvents.CurrencyCode(Currency.Euro),
                FillstreamEvents.CurrencyCode(Currency.BritishPound), FillstreamEvents.CurrencyCode(Currency.JapaneseYen),
                FillstreamEvents.CurrencyCode(Currency.CanadianDollar), FillstreamEvents.CurrencyCode(Currency.AustralianDollar),
                FillstreamEvents.CurrencyCode(Currency.SwissFranc),
            }), "the common currencies");
            Equal(null, FillstreamEvents.StrategyName(new Order { OwnerStrategy = new AtmStrategy { Name = "ATM" } }), "ATM orders name no strategy");
            Equal("S", FillstreamEvents.StrategyName(new Order { OwnerStrategy = new StubStrategy("S") }), "NinjaScript strategies are named");
            Account account = new Account { Name = "Sim101" };
            Instrument nq = World.NewInstrument("NQ 12-26", "NQ", "Nasdaq-100", 20, 0.25, Currency.UsDollar, Exchange.Globex);
            Order manual = new Order { Account = account, Instrument = nq, OrderId = "o-9", OrderAction = OrderAction.Buy, Id = 77 };
            Execution linked = new Execution { Account = account, Instrument = nq, Order = manual, ExecutionId = "x-9", Name = "Buy" };
            string why;
            FillstreamFill fill = FillstreamEvents.Fill("Sim101", linked, "x-9", "o-9", 21000, 1, MarketPosition.Long,
                World.At(9, 0, 0, 0), World.Platform, out why);
            FillstreamLink link = new FillstreamLink { SignalId = "s-9", Strategy = "ORB", Variant = "trail", TradeId = "t-9" };
            string json = fill == null ? why : FillstreamEvents.Execution(fill, link);
            Check(json.EndsWith("\"order_number\":\"77\",\"order_name\":\"Buy\",\"strategy\":\"ORB\",\"signal_id\":\"s-9\",\"variant\":\"trail\",\"trade_id\":\"t-9\"}"),
                "a linked execution carries the signal, and the link's strategy when the order names none: " + json);
            manual.OwnerStrategy = new StubStrategy("OpeningRange");
            fill = FillstreamEvents.Fill("Sim101", linked, "x-9", "o-9", 21000, 1, MarketPosition.Long, World.At(9, 0, 0, 0),
                World.Platform, out why);
            json = fill == null ? why : FillstreamEvents.Execution(fill, link);
            Check(json.Contains("\"strategy\":\"OpeningRange\",\"signal_id\":\"s-9\""), "the order's strategy comes first: " + json);
            Instrument lower = World.NewInstrument("mnq 12-26", "mnq", "Micro", 2, 0.25, Currency.UsDollar, Exchange.Globex);
            string problem;
            Equal(null, FillstreamEvents.InstrumentDefined(lower, DateTime.UtcNow, out problem), "a root the bridge refuses is not sent");
            Check(problem != null && problem.Contains("upper case"), "the refused root is named: " + problem);
        }

        private static void RecentMap()
        {
            FillstreamRecentMap map = new FillstreamRecentMap(2);
            map.Put("a", "1");
            map.Put("b", "2");
            map.Put("a", "3");
            Equal("3", map.Get("a"), "a key keeps its newest value");
            map.Put("c", "4");
            Equal(null, map.Get("a"), "the oldest key goes first");
            Equal(2, map.Count, "bounded");
            map.Remove("b");
            Equal(null, map.Get("b"), "removed");
        }

        private static void InvalidEventsAreNotQueued()
        {
            World w = new World(World.Config(""), new ScriptedTransport());
            w.Activate();
            Order order = w.NewOrder(w.Sim, w.Nq, "o-2", "Long", OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            w.Fill(w.Sim, order, "x-zero-price", "o-2", w.Nq, MarketPosition.Long, 1, 0, 2.09, "Long", true, false, World.At(8, 0, 0, 0));
            Order empty = w.NewOrder(w.Sim, w.Nq, "o-3", "Long", OrderAction.Buy, OrderType.Market, 0, 0, 0, null);
            w.Update(empty, OrderState.Submitted, 0, 0, World.At(8, 0, 0, 0), ErrorCode.NoError, "");
            FillstreamSignals.Emit("S", w.Nq, null, "s-1", MarketPosition.Long, null, 1.5, 0, 0, null);
            FillstreamSignals.Bar(w.Nq, "1 Minute", 0, 1, 1, 1, 10, 0, 0, World.At(8, 0, 0, 0));
            Equal(0, w.Client.QueueDepth, "events the bridge would refuse are not queued");
            string output;
            lock (w.Output)
                output = string.Join("\n", w.Output);
            Check(output.Contains("Error: execution x-zero-price: price must be positive, was 0"), "a refused execution is logged as an error: " + output);
            Check(output.Contains("order o-3: quantity must be positive, was 0"), "a refused order is logged: " + output);
            w.Terminate();
        }
    }


    /// <summary>Decide and the pre-trade gate's answers (selfcheck decide).</summary>
    internal static class Gate
    {
        // the top-level quantity (1) is not sizing's (3), which comes first
        public const string AllowAnswer = "{\"decision_id\": \"d-7f3a\", \"decision\": \"allow\", "
            + "\"sizing\": {\"method\": \"fixed_risk\", \"quantity\": 3, \"arithmetic\": \"500 / (10 ticks \\u00d7 5) = 10, capped at 3\"}, "
            + "\"quantity\": 1, \"rules\": ["
            + "{\"rule\": \"max_position\", \"kind\": \"position_limit\", \"mode\": \"enforce\", \"verdict\": \"pass\", \"value\": \"1\", \"limit\": \"3\", \"reason\": \"1 of 3 contracts\", \"halt\": false}, "
            + "{\"rule\": \"min_confidence\", \"kind\": \"confidence_floor\", \"mode\": \"observe\", \"verdict\": \"fail\", \"value\": \"0.41\", \"limit\": \"0.5\", \"reason\": \"calibrated confidence 0.41 is below 0.5\", \"halt\": false}], "
            + "\"calibrated_confidence\": 0.41, \"calibration_version\": \"iso-3\", \"rules_version\": \"r-12\", \"halted\": null}";
        public const string DenyAnswer = "{\"decision_id\": \"d-7f3b\", \"decision\": \"deny\", \"quantity\": 0, \"rules\": ["
            + "{\"rule\": \"daily_loss\", \"kind\": \"daily_loss_limit\", \"mode\": \"enforce\", \"verdict\": \"fail\", \"value\": \"1250\", \"limit\": \"1000\", \"reason\": \"the day's loss 1250 reached the limit 1000\", \"halt\": true}, "
            + "{\"rule\": \"max_position\", \"kind\": \"position_limit\", \"mode\": \"enforce\", \"verdict\": \"pass\", \"value\": null, \"limit\": \"3\", \"reason\": \"0 of 3 contracts\", \"halt\": false}], "
            + "\"sizing\": {\"method\": \"fixed\", \"quantity\": 2, \"arithmetic\": \"2\"}, \"calibrated_confidence\": null, "
            + "\"calibration_version\": null, \"rules_version\": \"r-12\", \"halted\": {\"halt_id\": \"h-1\", \"rule\": \"daily_loss\"}}";

        /// <summary>Every field set: the golden request (tests/golden/ninjatrader-requests).</summary>
        public static FillstreamGateRequest FullRequest()
        {
            return new FillstreamGateRequest
            {
                SignalId = "or-2026-09-22-0935", Account = "Sim101", Instrument = "NQ 12-26", Strategy = "Opening Range \u2013 v2",
                Variant = "wide-stop", Direction = FillstreamGateRequest.Long, EntryPrice = 21000.25, IntendedStop = 20990.25,
                IntendedTarget = 21025.5, Confidence = 0.72, Quantity = 2,
            };
        }

        /// <summary>Only what is required: the rest is written as null.</summary>
        public static FillstreamGateRequest MinimalRequest()
        {
            return new FillstreamGateRequest
            {
                SignalId = "fade-1", Account = "Apex-12345", Instrument = "ES 12-26", Strategy = "Fade", Direction = "Short",
                EntryPrice = 5750.5, IntendedTarget = 0, Quantity = 1,
            };
        }

        public static void Check()
        {
            Requests();
            Answers();
            Failures();
            Timeouts();
            Shared();
            Reader();
        }

        private static void Requests()
        {
            ScriptedTransport transport = new ScriptedTransport();
            FillstreamClient client = new FillstreamClient(World.Config(""), transport);
            transport.Answers.Enqueue(new FillstreamResponse(200, AllowAnswer));
            client.Decide(MinimalRequest());
            Program.Equal("/v1/decisions {\"signal_id\":\"fade-1\",\"account\":\"Apex-12345\",\"instrument\":\"ES 12-26\",\"strategy\":\"Fade\","
                + "\"variant\":null,\"direction\":\"short\",\"entry_price\":5750.5,\"intended_stop\":null,\"intended_target\":null,"
                + "\"confidence\":null,\"quantity\":1}", transport.Bodies[0], "a minimal request: every field, null where there is none");
            Program.Equal(null, FullRequest().Problem(), "the full request is valid");
            FillstreamGateRequest request = MinimalRequest();
            request.Quantity = 0;
            Program.Equal("decision fade-1: quantity must be positive, was 0", request.Problem(), "quantity");
            request = MinimalRequest();
            request.Direction = "flat";
            Program.Equal("decision fade-1: direction must be long or short, was 'flat'", request.Problem(), "direction");
            request = MinimalRequest();
            request.Confidence = 1.5;
            Program.Check(request.Problem() != null && request.Problem().Contains("confidence"), "confidence above 1");
            request = MinimalRequest();
            request.EntryPrice = double.NaN;
            Program.Check(request.Problem() != null && request.Problem().Contains("entry price"), "no entry price");
            request = MinimalRequest();
            request.IntendedStop = -1;
            Program.Check(request.Problem() != null && request.Problem().Contains("intended stop"), "a negative stop");
        }

        private static void Answers()
        {
            ScriptedTransport transport = new ScriptedTransport();
            FillstreamClient client = new FillstreamClient(World.Config(""), transport);
            transport.Answers.Enqueue(new FillstreamResponse(200, AllowAnswer));
            FillstreamGateAnswer allow = client.Decide(FullRequest());
            Program.Check(allow.Allowed && allow.FromGate && allow.FailureReason == null, "an allow: " + allow);
            Program.Equal(1, allow.Quantity, "the gate's top-level quantity, not sizing's");
            Program.Equal("d-7f3a", allow.DecisionId, "decision id");
            Program.Equal("min_confidence: calibrated confidence 0.41 is below 0.5", string.Join("|", allow.Reasons),
                "the failing rules, observe mode too; passing rules are no reasons");
            Program.Equal(AllowAnswer, allow.Raw, "the raw answer");
            Program.Equal("allow 1 (min_confidence: calibrated confidence 0.41 is below 0.5)", allow.ToString(), "an allow, printed");

            transport.Answers.Enqueue(new FillstreamResponse(200, DenyAnswer));
            FillstreamGateAnswer deny = client.Decide(FullRequest(), 250, FillstreamGateFailure.Open);
            Program.Check(!deny.Allowed && deny.FromGate, "a deny is a deny, fail-open or not: " + deny);
            Program.Equal(0, deny.Quantity, "denied: quantity 0");
            Program.Equal("d-7f3b", deny.DecisionId, "deny's decision id");
            Program.Equal("daily_loss: the day's loss 1250 reached the limit 1000", string.Join("|", deny.Reasons), "deny's reason");

            transport.Answers.Enqueue(new FillstreamResponse(200, "{\"decision\": \"allow\", \"quantity\": 0, \"decision_id\": \"d-0\"}"));
            FillstreamGateAnswer zero = client.Decide(FullRequest());
            Program.Check(!zero.Allowed && zero.FromGate && zero.Quantity == 0, "an allow of 0 contracts enters nothing: " + zero);
            Program.Equal("sizing: the gate allowed a quantity of 0", string.Join("|", zero.Reasons), "and says so");
        }

        private static void Failures()
        {
            ScriptedTransport transport = new ScriptedTransport();
            List<string> log = new List<string>();
            FillstreamClient client = new FillstreamClient(World.Config(""), transport);
            client.Log = delegate(string message, FillstreamLogLevel level) { lock (log) log.Add(level + " " + message); };

            transport.Answers.Enqueue(new FillstreamResponse(503, "{\"error\": \"the gate is not loaded yet\"}"));
            FillstreamGateAnswer closed = client.Decide(FullRequest());
            Program.Check(!closed.Allowed && !closed.FromGate && closed.Quantity == 0, "503, fail-closed: denied: " + closed);
            Program.Equal("the gate could not decide (503): the gate is not loaded yet", closed.FailureReason, "503: why");
            Program.Equal("{\"error\": \"the gate is not loaded yet\"}", closed.Raw, "503: the raw answer");
            Program.Equal("deny 0, fail-closed: the gate could not decide (503): the gate is not loaded yet", closed.ToString(), "503, printed");

            transport.Answers.Enqueue(new FillstreamResponse(503, "{\"error\": \"the decision could not be stored\"}"));
            FillstreamGateAnswer open = client.Decide(FullRequest(), 250, FillstreamGateFailure.Open);
            Program.Check(open.Allowed && !open.FromGate && open.Quantity == 2, "503, fail-open: the strategy's quantity: " + open);
            Program.Equal(null, open.DecisionId, "the policy's answer has no decision id");

            transport.Answers.Enqueue(new FillstreamResponse(422, "{\"error\": \"invalid decision request\", \"errors\": [{\"field\": \"entry_price\", \"reason\": \"must be positive\"}]}"));
            Program.Equal("the gate refused the request (422): invalid decision request; entry_price: must be positive",
                client.Decide(FullRequest()).FailureReason, "a 4xx: the bridge's reasons");
            transport.Answers.Enqueue(new FillstreamResponse(0, "connection refused"));
            Program.Equal("no answer from the gate (connection refused)", client.Decide(FullRequest()).FailureReason, "no answer");
            foreach (string body in new[] { "not json", "{\"decision\": \"maybe\"}", "{\"decision\": \"allow\"}", "[1, 2]", "{\"decision\": \"allow\", \"quantity\": 1.5}" })
            {
                transport.Answers.Enqueue(new FillstreamResponse(200, body));
                FillstreamGateAnswer unreadable = client.Decide(FullRequest());
                Program.Check(!unreadable.Allowed && !unreadable.FromGate && unreadable.FailureReason.StartsWith("the gate's answer could not be read: "),
                    "an unreadable 200 is a failure: " + body + " -> " + unreadable);
            }

            int posted = transport.Bodies.Count;
            FillstreamGateRequest invalid = FullRequest();
            invalid.Quantity = 0;
            FillstreamGateAnswer notAsked = client.Decide(invalid, 250, FillstreamGateFailure.Open);
            Program.Equal(posted, transport.Bodies.Count, "an invalid request is not sent");
            Program.Check(!notAsked.Allowed && !notAsked.FromGate, "nothing to allow for quantity 0, even fail-open: " + notAsked);
            Program.Equal("not asked, invalid request: decision or-2026-09-22-0935: quantity must be positive, was 0", notAsked.FailureReason, "why");
            Program.Check(!client.Decide(null).FromGate, "no request: the policy answers");

            transport.Throw = true;
            FillstreamGateAnswer exploded = client.Decide(FullRequest(), 250, FillstreamGateFailure.Open);
            Program.Check(exploded.Allowed && exploded.Quantity == 2, "a throwing transport: the policy answers: " + exploded);
            Program.Equal("the gate could not be asked: transport exploded", exploded.FailureReason, "a throwing transport: why");

            string all;
            lock (log)
                all = string.Join("\n", log);
            Program.Equal(1, log.Count, "gate failures are logged once a minute: " + all);
            Program.Check(all.StartsWith("Warning fillstream: the pre-trade gate did not decide signal or-2026-09-22-0935: the gate could not decide (503)")
                && all.EndsWith("fail-closed: denied"), "the warning names the signal, the reason and the policy: " + all);
        }

        private static void Timeouts()
        {
            FillstreamConfig config = World.Config("");
            // a bridge that accepts the connection and never answers: the timeout holds
            TcpListener silent = new TcpListener(IPAddress.Loopback, 0);
            silent.Start();
            try
            {
                int port = ((IPEndPoint)silent.LocalEndpoint).Port;
                FillstreamClient real = new FillstreamClient(config, new FillstreamHttpTransport("http://127.0.0.1:" + port, "t"));
                real.Decide(FullRequest(), 200); // mono's first HTTP request also loads the stack
                Stopwatch watch = Stopwatch.StartNew();
                FillstreamGateAnswer late = real.Decide(FullRequest(), 250);
                long took = watch.ElapsedMilliseconds;
                Program.Check(!late.Allowed && !late.FromGate, "no answer in time, fail-closed: denied: " + late);
                Program.Equal("no answer from the gate (no answer within 250 ms)", late.FailureReason, "timeout: why");
                Program.Check(took < 1500, "decide gives up after its timeout, took " + took + " ms");
                FillstreamGateAnswer lateOpen = real.Decide(FullRequest(), 250, FillstreamGateFailure.Open);
                Program.Check(lateOpen.Allowed && lateOpen.Quantity == 2, "no answer in time, fail-open: allowed: " + lateOpen);
                real.Dispose();
            }
            finally
            {
                silent.Stop();
            }
            FillstreamClient refused = new FillstreamClient(config, new FillstreamHttpTransport("http://127.0.0.1:1", "t"));
            FillstreamGateAnswer broken = refused.Decide(FullRequest());
            Program.Check(!broken.Allowed && !broken.FromGate && broken.FailureReason.StartsWith("no answer from the gate ("),
                "connection refused, fail-closed: denied: " + broken);
        }

        private static void Shared()
        {
            FillstreamClient.InstallShared(null);
            FillstreamGateAnswer none = FillstreamGate.Decide(FullRequest(), 250, FillstreamGateFailure.Open);
            Program.Check(none.Allowed && !none.FromGate && none.FailureReason.StartsWith("no fillstream client"),
                "without a client the policy answers: " + none);
            ScriptedTransport transport = new ScriptedTransport();
            FillstreamClient client = new FillstreamClient(World.Config(""), transport);
            FillstreamClient.InstallShared(client);
            transport.Answers.Enqueue(new FillstreamResponse(200, DenyAnswer));
            FillstreamGateAnswer deny = FillstreamGate.Decide(FullRequest());
            Program.Check(!deny.Allowed && deny.FromGate, "FillstreamGate.Decide asks through the shared client: " + deny);
            FillstreamClient.InstallShared(null);
        }

        private static void Reader()
        {
            string problem;
            Dictionary<string, object> json = FillstreamJsonReader.ReadObject(
                " {\"s\": \"a\\\"b\\\\c\\/\\u00e9\\n\", \"n\": -1.5e2, \"t\": true, \"f\": false, \"z\": null, \"a\": [1, {\"b\": []}], \"o\": {}} ", out problem);
            Program.Check(json != null && problem == null, "a valid object is read: " + problem);
            Program.Equal("a\"b\\c/\u00e9\n", FillstreamJsonReader.GetString(json, "s"), "escapes");
            Program.Equal(-150.0, FillstreamJsonReader.GetNumber(json, "n").GetValueOrDefault(), "a number");
            Program.Equal(true, FillstreamJsonReader.GetBool(json, "t").GetValueOrDefault(), "true");
            Program.Equal(null, FillstreamJsonReader.GetString(json, "z"), "null");
            Program.Equal(2, FillstreamJsonReader.GetArray(json, "a").Count, "an array");
            Program.Equal(-150, FillstreamJsonReader.GetInteger(json, "n").GetValueOrDefault(), "a whole number as an integer");
            Program.Equal(null, FillstreamJsonReader.GetString(json, "missing"), "a missing field");
            foreach (string bad in new[] { "", "{", "{\"a\": 1,}", "{\"a\" 1}", "{\"a\": tru}", "{\"a\": \"\\x\"}", "{\"a\": 1} x", "{'a': 1}", "{\"a\": 1e999}" })
                Program.Check(FillstreamJsonReader.ReadObject(bad, out problem) == null && problem != null, "invalid JSON is refused: " + bad);
            Program.Check(FillstreamJsonReader.ReadObject(new string('[', 20) + new string(']', 20), out problem) == null
                && problem == "not a JSON object", "nested arrays are read, and are no object: " + problem);
            Program.Check(FillstreamJsonReader.ReadObject("{\"a\": " + new string('[', 40) + new string(']', 40) + "}", out problem) == null
                && problem.Contains("nested deeper"), "nesting is bounded: " + problem);
            Program.Equal("y", FillstreamClient.ReadStringField("{\"sizing\": {\"arm\": \"x\"}, \"arm\": \"y\"}", "arm"), "ReadStringField reads the top level");
            Program.Equal(null, FillstreamClient.ReadStringField("{\"sizing\": {\"arm\": \"x\"}}", "arm"), "a nested field is not the top level's");
        }
    }

    /// <summary>Following halts: flatten_on_halt, once per halt and account (selfcheck halts).</summary>
    internal static class HaltChecks
    {
        private static readonly string SimHalt = Scenarios.Halt("h-sim", "Sim101", null, "daily_loss", "the day's loss reached the limit");
        private static readonly string EveryEs = Scenarios.Halt("h-es", null, "ES 12-26", "instrument_loss", "ES lost too much");

        public static void Check()
        {
            OffByDefault();
            FlattensOnce();
            StrategyHalt();
            LateAccount();
            FlattenFails();
            BridgeProblems();
            Timer();
        }

        private static World Open(string extra, ScriptedTransport transport)
        {
            World w = new World(World.Config(extra), transport);
            w.Sim.Positions.Add(new Position { Account = w.Sim, Instrument = w.Nq, MarketPosition = MarketPosition.Long, Quantity = 2, AveragePrice = 21000 });
            w.Sim.Positions.Add(new Position { Account = w.Sim, Instrument = w.Es, MarketPosition = MarketPosition.Short, Quantity = 1, AveragePrice = 5750 });
            w.Apex.Positions.Add(new Position { Account = w.Apex, Instrument = w.Es, MarketPosition = MarketPosition.Long, Quantity = 3, AveragePrice = 5751 });
            return w;
        }

        private static string Output(World w)
        {
            lock (w.Output)
                return string.Join("\n", w.Output);
        }

        private static int Count(string text, string part)
        {
            int count = 0;
            for (int at = text.IndexOf(part, StringComparison.Ordinal); at >= 0; at = text.IndexOf(part, at + 1, StringComparison.Ordinal))
                count++;
            return count;
        }

        private static void OffByDefault()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = Open("", transport);
            w.Activate();
            transport.Halts = Scenarios.Halts(SimHalt);
            w.AddOn.PollHalts();
            w.AddOn.PollHalts();
            Program.Equal(2, transport.Gets.Count, "halts are read even with flatten_on_halt off");
            Program.Equal("/v1/halts", transport.Gets[0], "from GET /v1/halts");
            Program.Equal(0, w.Sim.FlattenCalls.Count + w.Apex.FlattenCalls.Count, "flatten_on_halt off: nothing is flattened");
            Program.Equal(0, w.Client.QueueDepth, "and nothing is reported");
            string output = Output(w);
            Program.Equal(1, Count(output, "Warning: fillstream: halt h-sim"), "the halt is logged (Log tab) once: " + output);
            Program.Check(output.Contains("fillstream: halt h-sim of Sim101 (daily_loss: the day's loss reached the limit); flatten_on_halt is false"),
                "the log names halt, account, rule and reason: " + output);
            w.Terminate();
        }

        private static void FlattensOnce()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = Open("flatten_on_halt=true\n", transport);
            w.Activate();
            transport.Halts = Scenarios.Halts(SimHalt, Scenarios.Halt("h-other", "Sim102", null, "daily_loss", "not ours"), EveryEs);
            w.AddOn.PollHalts();
            Program.Equal("NQ 12-26,ES 12-26|ES 12-26", string.Join("|", w.Sim.FlattenCalls), "Sim101: its halt, then the ES halt");
            Program.Equal("ES 12-26", string.Join("|", w.Apex.FlattenCalls), "Apex-12345: the ES halt of every account");
            Program.Equal(3, w.Client.QueueDepth, "one flattened event per halt and account; none for an account not captured");
            w.AddOn.PollHalts();
            transport.Halts = Scenarios.Halts(EveryEs, SimHalt);
            w.AddOn.PollHalts();
            Program.Equal(3, w.Sim.FlattenCalls.Count + w.Apex.FlattenCalls.Count, "each halt is acted on once per account");
            Program.Equal(3, w.Client.QueueDepth, "and reported once");
            string body = w.Client.TakeBatchBody() ?? "";
            Program.Check(body.Contains("\"type\":\"flattened\"") && body.Contains("\"account\":\"Apex-12345\",\"halt_id\":\"h-es\",\"instruments\":[\"ES 12-26\"],\"reason\":\"flattened 1 position\""),
                "the flattened event: " + body);
            transport.Halts = Scenarios.Halts(Scenarios.Halt("h-nq", "Apex-12345", "NQ 12-26", "instrument_loss", "NQ"));
            w.AddOn.PollHalts();
            string none = w.Client.TakeBatchBody() ?? "";
            Program.Check(none.Contains("\"instruments\":[],\"reason\":\"no open position in NQ 12-26\""), "nothing to flatten is reported too: " + none);
            Program.Equal(1, w.Apex.FlattenCalls.Count, "and Flatten is not called");
            w.Terminate();
            transport.Halts = Scenarios.Halts(Scenarios.Halt("h-after", "Sim101", null, "daily_loss", "after"));
            w.AddOn.PollHalts();
            Program.Equal(2, w.Sim.FlattenCalls.Count, "nothing after terminate");
        }

        private static void StrategyHalt()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = Open("flatten_on_halt=true\n", transport);
            w.Activate();
            transport.Halts = Scenarios.Halts(Scenarios.Halt("h-orb", "Sim101", null, "max_trades", "ORB traded enough").Replace("\"strategy\": null", "\"strategy\": \"ORB\""));
            w.AddOn.PollHalts();
            Program.Equal(0, w.Sim.FlattenCalls.Count, "a strategy's halt flattens nothing: an account's positions are not per strategy");
            string body = w.Client.TakeBatchBody() ?? "";
            Program.Check(body.Contains("\"halt_id\":\"h-orb\",\"instruments\":[],\"reason\":\"not flattened: the halt is of strategy ORB alone"),
                "and says so, once: " + body);
            w.Terminate();
        }

        private static void LateAccount()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = Open("flatten_on_halt=true\n", transport);
            lock (Account.All)
                Account.All.Remove(w.Apex);
            w.Activate();
            transport.Halts = Scenarios.Halts(EveryEs);
            w.AddOn.PollHalts();
            Program.Equal("ES 12-26", string.Join("|", w.Sim.FlattenCalls), "the connected account is flattened");
            Program.Equal(0, w.Apex.FlattenCalls.Count, "an account not connected yet is not");
            lock (Account.All)
                Account.All.Add(w.Apex);
            w.Apex.RaiseAccountStatusUpdate(new AccountStatusEventArgs { Account = w.Apex, Status = ConnectionStatus.Connected, PreviousStatus = ConnectionStatus.Connecting });
            w.AddOn.PollHalts();
            Program.Equal("ES 12-26", string.Join("|", w.Apex.FlattenCalls), "a halt of every account reaches an account that connects later");
            Program.Equal(1, w.Sim.FlattenCalls.Count, "and not the first account again");
            w.Terminate();
        }

        private static void FlattenFails()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = Open("flatten_on_halt=true\n", transport);
            w.Activate();
            w.Sim.FlattenError = "the connection is lost";
            transport.Halts = Scenarios.Halts(SimHalt);
            w.AddOn.PollHalts();
            string body = w.Client.TakeBatchBody() ?? "";
            Program.Check(body.Contains("\"instruments\":[],\"reason\":\"could not flatten NQ 12-26, ES 12-26: the connection is lost\""),
                "a failed flatten is reported, never thrown: " + body);
            w.Terminate();
        }

        private static void BridgeProblems()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = Open("flatten_on_halt=true\n", transport);
            w.Activate();
            transport.GetAnswers.Enqueue(new FillstreamResponse(404, "{\"error\": \"not found\"}"));
            transport.GetAnswers.Enqueue(new FillstreamResponse(0, "no answer within 2000 ms"));
            transport.GetAnswers.Enqueue(new FillstreamResponse(200, "{\"halted\": []}"));
            for (int i = 0; i < 3; i++)
                w.AddOn.PollHalts();
            transport.Halts = Scenarios.Halts(SimHalt);
            w.AddOn.PollHalts();
            transport.Throw = true;
            w.AddOn.PollHalts();
            string output = Output(w);
            Program.Equal(2, Count(output, "Warning: fillstream: cannot read the halts in force"), "a failing read is logged once per run of failures: " + output);
            Program.Check(output.Contains("(HTTP 404: the bridge serves no /v1/halts (older than the AddOn?))"), "a bridge without halts is named: " + output);
            Program.Equal(1, Count(output, "reading the halts in force again"), "and its end: " + output);
            Program.Equal(1, w.Sim.FlattenCalls.Count, "halts are acted on once the bridge answers");
            transport.Throw = false;
            w.Terminate();
        }

        private static void Timer()
        {
            ScriptedTransport transport = new ScriptedTransport();
            World w = Open("flatten_on_halt=true\nhalt_poll_seconds=1\n", transport);
            transport.Halts = Scenarios.Halts(SimHalt);
            w.Activate();
            Stopwatch watch = Stopwatch.StartNew();
            while (w.Sim.FlattenCalls.Count == 0 && watch.ElapsedMilliseconds < 10000)
                Thread.Sleep(20);
            Program.Equal(1, w.Sim.FlattenCalls.Count, "the timer reads the halts and acts on them");
            bool onPool;
            lock (transport)
                onPool = transport.GetsOnPool.Count > 0 && transport.GetsOnPool.TrueForAll(delegate(bool pool) { return pool; });
            Program.Check(onPool, "halts are read on thread-pool threads, never the caller's");
            w.Terminate();
            int reads;
            lock (transport)
                reads = transport.Gets.Count;
            Thread.Sleep(1300);
            lock (transport)
                Program.Equal(reads, transport.Gets.Count, "terminate stops the polling");
        }
    }
}
