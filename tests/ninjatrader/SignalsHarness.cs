// Drives the sample strategy (bridge/ninjatrader/samples/), FillstreamSignals and the AddOn's market
// feed over the NinjaTrader stubs, with a scripted bridge and fixed values.
//
//   mono SignalsHarness.exe golden [DIR]     what the AddOn posts while the sample strategy trades a
//                                             scripted NQ morning: DIR/sample_strategy.json, or stdout
//   mono SignalsHarness.exe selfcheck GROUP   checks of one group: names, links, nonblocking, registry,
//                                             bars, bounds; prints "GROUP ok" or the failures
//
// The scripted bridge answers assignments as fillstream's bridge does for the experiment
// "sample-wide-stop" (strategy FillstreamSample, control tight-stop, treatment wide-stop) at its
// first ramp step (10 %): bucket = the first 8 bytes of SHA-256("experiment|signal_id") × 10000 / 2^64,
// treatment below 1000 (domain.experiments.model.bucket). tests/unit/bridge/test_ninjatrader_signals.py
// runs it.

using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Threading;
using NinjaTrader.Cbi;
using NinjaTrader.Core;
using NinjaTrader.Data;
using NinjaTrader.NinjaScript;
using NinjaTrader.NinjaScript.AddOns;
using NinjaTrader.NinjaScript.Strategies;

namespace FillstreamSignalsHarness
{
    /// <summary>The bridge as the AddOn sees it: events are accepted; assignments are answered as the
    /// real bridge would for one experiment, optionally held until released or failing.</summary>
    internal sealed class ScriptedBridge : IFillstreamTransport
    {
        public const string Experiment = "sample-wide-stop";
        public const string ControlVariant = "tight-stop";
        public const string TreatmentVariant = "wide-stop";
        public int TreatmentPercent = 10;
        public readonly List<string> Requests = new List<string>();
        /// <summary>Assignments wait for this to be set (null: answer at once).</summary>
        public ManualResetEvent Gate;
        public bool Fail;
        public int Answered;

        public FillstreamResponse Post(string path, string body, int timeoutMilliseconds)
        {
            if (path != FillstreamClient.AssignmentsPath)
                return new FillstreamResponse(202, "{\"accepted\": 1}");
            lock (Requests)
                Requests.Add(body);
            ManualResetEvent gate = Gate;
            if (gate != null && !gate.WaitOne(timeoutMilliseconds))
                return new FillstreamResponse(0, "timed out");
            if (Fail)
                return new FillstreamResponse(503, "{\"error\": \"Kafka is unreachable\"}");
            string signalId = FillstreamClient.ReadStringField(body, "signal_id");
            string strategy = FillstreamClient.ReadStringField(body, "strategy");
            int drawn = Bucket(Experiment, signalId);
            bool treated = drawn < TreatmentPercent * 100;
            Interlocked.Increment(ref Answered);
            return new FillstreamResponse(200, FillstreamJson.Object()
                .String("signal_id", signalId)
                .String("strategy", strategy)
                .String("experiment", Experiment)
                .String("arm", treated ? "treatment" : "control")
                .String("variant", treated ? TreatmentVariant : ControlVariant)
                .Integer("step", 0)
                .Integer("treatment_percent", TreatmentPercent)
                .String("reason", "bucket " + drawn + (treated ? " < " : " >= ") + TreatmentPercent * 100)
                .ToString());
        }

        public static int Bucket(string experiment, string signalId)
        {
            byte[] digest;
            using (SHA256 sha = SHA256.Create())
                digest = sha.ComputeHash(Encoding.UTF8.GetBytes(experiment + "|" + signalId));
            ulong head = 0;
            for (int i = 0; i < 8; i++)
                head = (head << 8) | digest[i];
            return (int)decimal.Floor((decimal)head * 10000m / 18446744073709551616m);
        }

        public void Dispose() { }
    }

    internal sealed class Bar
    {
        public DateTime Time; // the bar's end, platform time
        public double Open, High, Low, Close;
        public long Volume;
    }

    /// <summary>One account, NQ and ES, the platform in New York's September offset (UTC-4), the
    /// AddOn active with the market feed listing ES, and a fixed clock.</summary>
    internal sealed class World
    {
        public static readonly TimeZoneInfo Platform = TimeZoneInfo.CreateCustomTimeZone(
            "Harness UTC-4", TimeSpan.FromHours(-4), "Harness UTC-4", "Harness UTC-4");

        public readonly Account Sim = new Account
        {
            Name = "Sim101", ConnectionStatus = ConnectionStatus.Connected,
            Connection = new Connection { Options = new ConnectOptions { Name = "Simulated" } },
        };
        public readonly Instrument Nq = NewInstrument("NQ 12-26", "NQ", "Nasdaq-100", 20);
        public readonly Instrument Es = NewInstrument("ES 12-26", "ES", "S&P 500", 50);
        public readonly ScriptedBridge Bridge = new ScriptedBridge();
        public readonly FillstreamClient Client;
        public readonly FillstreamBridgeAddOn AddOn = new FillstreamBridgeAddOn();
        public readonly List<string> Output = new List<string>();
        public readonly string Directory;
        public DateTime Now = new DateTime(2026, 9, 22, 13, 30, 0, DateTimeKind.Utc);
        private long nextOrderNumber = 41207;
        private int nextExecution;

        public World(string extraConfig)
        {
            Directory = Path.Combine(Path.GetTempPath(), "fillstream-signals-" + Guid.NewGuid().ToString("N"));
            System.IO.Directory.CreateDirectory(Directory);
            Globals.GeneralOptions.TimeZoneInfo = Platform;
            Globals.UserDataDir = Directory;
            NinjaTrader.NinjaScript.NinjaScript.PrintSink = Collect;
            NinjaTrader.NinjaScript.NinjaScript.LogSink = Collect;
            Instrument.Register(Nq);
            Instrument.Register(Es);
            BarsRequest.ClearCreated();
            lock (Account.All)
            {
                Account.All.Clear();
                Account.All.Add(Sim);
            }
            List<string> warnings = new List<string>();
            FillstreamConfig config = FillstreamConfig.Parse("token=harness-token-0123456789\naccounts=Sim101\nbackfill=false\n"
                + "connection=nt8-harness\nexcursion_period=1 Minute\n" + extraConfig, warnings);
            if (warnings.Count > 0)
                throw new InvalidOperationException(string.Join("; ", warnings));
            Client = new FillstreamClient(config, Bridge);
            Client.UtcNow = delegate { return Now; };
            Client.Log = delegate(string message, FillstreamLogLevel level) { Collect(level + ": " + message); };
            FillstreamClient.InstallShared(Client);
            FillstreamSignals.Registry = new FillstreamLinkRegistry(Path.Combine(Directory, FillstreamLinkRegistry.FileName), 4096);
            int counter = 0;
            FillstreamSignals.NewToken = delegate
            {
                counter++;
                return "t" + counter.ToString("D7", CultureInfo.InvariantCulture);
            };
            FillstreamSignals.Dispatch = delegate(WaitCallback work) { ThreadPool.QueueUserWorkItem(work); };
            FillstreamSignals.AssignTimeoutMilliseconds = 2000;
            FillstreamMarketFeed.Dispatch = delegate(WaitCallback work) { work(null); };
        }

        public void Activate()
        {
            AddOn.SetState(State.SetDefaults);
            AddOn.SetState(State.Active);
        }

        public void Terminate()
        {
            AddOn.SetState(State.Terminated);
            FillstreamMarketFeed.Stop();
        }

        public void Collect(string line)
        {
            lock (Output)
                Output.Add(line);
        }

        public string OutputText()
        {
            lock (Output)
                return string.Join("\n", Output);
        }

        public static DateTime At(int hour, int minute, int second)
        {
            return new DateTime(2026, 9, 22, hour, minute, second, DateTimeKind.Unspecified);
        }

        public void SetNow(DateTime platformTime)
        {
            Now = TimeZoneInfo.ConvertTimeToUtc(DateTime.SpecifyKind(platformTime, DateTimeKind.Unspecified), Platform);
        }

        public Order NewOrder(Instrument instrument, string name, string fromEntrySignal, OrderAction action,
            OrderType type, int quantity, double limit, double stop, StrategyBase owner)
        {
            long number = nextOrderNumber++;
            return new Order
            {
                Account = Sim, Instrument = instrument, Name = name, FromEntrySignal = fromEntrySignal ?? "",
                OrderAction = action, OrderType = type, Quantity = quantity, LimitPrice = limit, StopPrice = stop,
                Id = number, OrderId = "nt-order-" + number.ToString(CultureInfo.InvariantCulture), OwnerStrategy = owner,
                OrderState = OrderState.Working,
            };
        }

        /// <summary>One fill of <paramref name="order"/>, raised on the account as NinjaTrader does.</summary>
        public Execution Fill(Order order, int quantity, double price, bool isEntry, DateTime time)
        {
            nextExecution++;
            bool buy = order.OrderAction == OrderAction.Buy || order.OrderAction == OrderAction.BuyToCover;
            Execution execution = new Execution
            {
                Account = Sim, Instrument = order.Instrument, Order = order, OrderId = order.OrderId,
                ExecutionId = "sim-exec-" + nextExecution.ToString("D4", CultureInfo.InvariantCulture),
                MarketPosition = buy ? MarketPosition.Long : MarketPosition.Short, Quantity = quantity, Price = price,
                Commission = 2.09 * quantity, Name = order.Name, IsEntry = isEntry, IsExit = !isEntry, Time = time,
            };
            order.Filled += quantity;
            order.AverageFillPrice = price;
            order.OrderState = order.Filled >= order.Quantity ? OrderState.Filled : OrderState.PartFilled;
            SetNow(time.AddMilliseconds(150));
            lock (Sim.Executions)
                Sim.Executions.Add(execution);
            Sim.RaiseExecutionUpdate(new ExecutionEventArgs
            {
                Execution = execution, ExecutionId = execution.ExecutionId, OrderId = execution.OrderId, Price = price,
                Quantity = quantity, MarketPosition = execution.MarketPosition, Time = time, Operation = Operation.Add,
            });
            return execution;
        }

        public void Position(Instrument instrument, MarketPosition marketPosition, int quantity, double averagePrice,
            Operation operation)
        {
            Position position = new Position
            {
                Account = Sim, Instrument = instrument, MarketPosition = marketPosition, Quantity = quantity,
                AveragePrice = averagePrice,
            };
            Sim.RaisePositionUpdate(new PositionEventArgs
            {
                Position = position, MarketPosition = marketPosition, Quantity = quantity, AveragePrice = averagePrice,
                Operation = operation,
            });
        }

        /// <summary>Every batch queued so far, merged into one JSON array.</summary>
        public string TakeAll()
        {
            List<string> bodies = new List<string>();
            string body;
            while ((body = Client.TakeBatchBody()) != null)
                bodies.Add(body.Substring(1, body.Length - 2));
            return bodies.Count == 0 ? null : "[" + string.Join(",", bodies) + "]";
        }

        public static Instrument NewInstrument(string fullName, string root, string description, double pointValue)
        {
            return new Instrument
            {
                FullName = fullName, Exchange = Exchange.Globex,
                MasterInstrument = new MasterInstrument
                {
                    Name = root, Description = description, PointValue = pointValue, TickSize = 0.25,
                    Currency = Currency.UsDollar, InstrumentType = InstrumentType.Future,
                    TradingHours = new NinjaTrader.Data.TradingHours { Name = "CME US Index Futures ETH" },
                },
            };
        }
    }

    /// <summary>The scripted morning: the sample strategy on NQ 1 Minute, its market orders filled at
    /// the next bar's open (the first entry in two parts), stops and targets when a bar reaches them,
    /// the feed sending ES (listed) and NQ (while a position is open).</summary>
    internal static class SampleMorning
    {
        // NQ closes from the 09:31 bar (its end time) on; opens are the previous close
        private static readonly double[] NqCloses =
        {
            20994.50, 20996.25, 20993.75, 20997.00, 20995.50, 20998.25, 20996.00, 20997.75, 20995.25, 20998.50, // 09:31-09:40
            21003.75, 21005.50, 21007.25, 21009.00, 21012.50, 21013.25, 21011.75, 21012.00, 21011.25, 21012.75, // 09:41-09:50 breakout, target
            21011.50, 21012.25, 21010.75, 21006.00, 21007.50, 21010.25, 21012.50, 21013.75, 21012.25, 21011.50, // 09:51-10:00 breakdown, stopped
            21012.75, 21013.00, 21012.00, 21013.50, 21017.50, 21018.25, 21019.00, 21018.50, 21019.75, 21018.75, // 10:01-10:10 breakout
            21019.50, 21018.00, 21019.25, 21020.00, 21019.00, 21018.75, 21020.25, 21019.50, 21020.75, 21019.75, // 10:11-10:20 drift
            21020.25, 21019.50, 21020.00,                                                                         // 10:21-10:23 time exit
        };
        private static readonly double[] NqWick = { 1.0, 0.75, 1.25, 0.5, 1.0 };

        public static List<Bar> Nq()
        {
            List<Bar> bars = new List<Bar>();
            double open = 20995.25;
            for (int i = 0; i < NqCloses.Length; i++)
            {
                double close = NqCloses[i];
                double wick = NqWick[i % NqWick.Length];
                bars.Add(new Bar
                {
                    Time = World.At(9, 31, 0).AddMinutes(i), Open = open, Close = close,
                    High = Math.Max(open, close) + wick, Low = Math.Min(open, close) - NqWick[(i + 2) % NqWick.Length],
                    Volume = 1400 + (i * 397) % 900,
                });
                open = close;
            }
            return bars;
        }

        public static List<Bar> Es(List<Bar> nq)
        {
            // ES moves about a quarter of NQ's points here; rounded to its 0.25 tick
            List<Bar> bars = new List<Bar>();
            foreach (Bar b in nq)
                bars.Add(new Bar
                {
                    Time = b.Time, Open = Es(b.Open), High = Es(b.High), Low = Es(b.Low), Close = Es(b.Close),
                    Volume = b.Volume * 3 + 211,
                });
            return bars;
        }

        private static double Es(double nq)
        {
            return Math.Round((5750 + (nq - 21000) / 4) * 4) / 4;
        }

        private sealed class Working
        {
            public Order Order;
        }

        public static void Run(World w)
        {
            List<Bar> nq = Nq();
            List<Bar> es = Es(nq);
            FillstreamSampleStrategy strategy = new FillstreamSampleStrategy();
            strategy.SetState(State.SetDefaults);
            strategy.Account = w.Sim;
            strategy.Instrument = w.Nq;
            strategy.BarsPeriod = new BarsPeriod { BarsPeriodType = BarsPeriodType.Minute, Value = 1 };
            strategy.Position = new Position { Account = w.Sim, Instrument = w.Nq, MarketPosition = MarketPosition.Flat };
            strategy.SetState(State.Configure);
            strategy.SetState(State.DataLoaded);
            strategy.SetState(State.Realtime);

            // every assignment is held until the strategy's bar is done: the arm comes a bar later
            w.Bridge.Gate = new ManualResetEvent(false);
            List<Working> working = new List<Working>();
            string entryName = null;
            int position = 0; // signed
            double average = 0;

            for (int i = 0; i <= nq.Count; i++)
            {
                Bar bar = i < nq.Count ? nq[i] : null;
                DateTime start = bar != null ? bar.Time.AddMinutes(-1) : nq[i - 1].Time;
                // the first tick of bar i closes bar i-1: the feed's requests and the strategy see it
                w.SetNow(start.AddMilliseconds(40));
                foreach (BarsRequest request in BarsRequest.Created)
                {
                    if (request.IsDisposed || !request.IsRequested)
                        continue;
                    List<Bar> series = request.Instrument == w.Es ? es : nq;
                    if (bar != null)
                        request.Tick(Stub(series[i]));
                }
                if (i > 0)
                {
                    FillstreamDecision before = FillstreamSignals.Registry.NewestDecision();
                    w.SetNow(start.AddMilliseconds(60));
                    strategy.StubBarClosed(nq[i - 1].Time, nq[i - 1].Open, nq[i - 1].High, nq[i - 1].Low, nq[i - 1].Close,
                        nq[i - 1].Volume);
                    FillstreamDecision made = FillstreamSignals.Registry.NewestDecision();
                    if (made != before && made != null)
                    {
                        // the bridge answers while the strategy waits for its next bar
                        if (made.IsAssigned)
                            throw new InvalidOperationException("the arm was known before the bridge answered");
                        w.Bridge.Gate.Set();
                        // once fixed, the decision has queued its signal
                        if (!made.WaitAssigned(10000))
                            throw new TimeoutException("waited 10 s for the arm of " + made.SignalId);
                        w.Bridge.Gate.Reset();
                    }
                }
                if (bar == null)
                    break;
                if (i == 0)
                    FeedSubscriptions(w, nq, es, i);

                // orders the strategy placed at the close: market orders fill at this bar's open
                foreach (StubOrderRequest asked in strategy.TakeOrderRequests())
                {
                    bool entry = asked.FromEntrySignal == null;
                    bool buy = asked.Action == OrderAction.Buy || asked.Action == OrderAction.BuyToCover;
                    Order order = w.NewOrder(w.Nq, asked.SignalName, asked.FromEntrySignal, asked.Action, OrderType.Market,
                        asked.Quantity, 0, 0, strategy);
                    DateTime fillTime = start.AddMilliseconds(310);
                    if (entry && asked.Quantity > 1 && entryName == null && position == 0 && working.Count == 0 && FirstEntry)
                    {
                        // the first entry fills in two parts, a tick apart
                        FirstEntry = false;
                        w.Fill(order, 1, bar.Open, true, fillTime);
                        w.Fill(order, asked.Quantity - 1, bar.Open + 0.25, true, fillTime.AddMilliseconds(420));
                        average = (bar.Open + (asked.Quantity - 1) * (bar.Open + 0.25)) / asked.Quantity;
                    }
                    else
                    {
                        w.Fill(order, asked.Quantity, bar.Open, entry, fillTime);
                        average = entry ? bar.Open : average;
                    }
                    if (entry)
                    {
                        entryName = asked.SignalName;
                        position = buy ? asked.Quantity : -asked.Quantity;
                        Positions(w, strategy, nq, es, i, position, average);
                        // NinjaTrader submits the stop and the target once the entry fills
                        StubBracket stop = strategy.StopFor(entryName);
                        StubBracket target = strategy.TargetFor(entryName);
                        OrderAction exitAction = buy ? OrderAction.Sell : OrderAction.BuyToCover;
                        working.Add(new Working { Order = w.NewOrder(w.Nq, "Stop loss", entryName, exitAction, OrderType.StopMarket, asked.Quantity, 0, stop.Value, strategy) });
                        working.Add(new Working { Order = w.NewOrder(w.Nq, "Profit target", entryName, exitAction, OrderType.Limit, asked.Quantity, target.Value, 0, strategy) });
                    }
                    else
                    {
                        position = 0;
                        working.Clear(); // the stop and the target are cancelled
                        entryName = null;
                        Positions(w, strategy, nq, es, i, 0, 0);
                    }
                }

                // the stop or the target during the bar (the stop first when the bar reaches both)
                if (position != 0)
                {
                    bool isLong = position > 0;
                    Working hit = null;
                    foreach (Working order in working)
                    {
                        bool stopHit = order.Order.OrderType == OrderType.StopMarket
                            && (isLong ? bar.Low <= order.Order.StopPrice : bar.High >= order.Order.StopPrice);
                        bool targetHit = order.Order.OrderType == OrderType.Limit
                            && (isLong ? bar.High >= order.Order.LimitPrice : bar.Low <= order.Order.LimitPrice);
                        if (stopHit || (targetHit && hit == null))
                            hit = order;
                    }
                    if (hit != null)
                    {
                        double price = hit.Order.OrderType == OrderType.StopMarket ? hit.Order.StopPrice : hit.Order.LimitPrice;
                        w.Fill(hit.Order, Math.Abs(position), price, false, bar.Time.AddSeconds(-23));
                        position = 0;
                        working.Clear();
                        entryName = null;
                        Positions(w, strategy, nq, es, i, 0, 0);
                    }
                }
            }
        }

        /// <summary>Whether the next entry is the one filled in two parts.</summary>
        private static bool FirstEntry = true;

        private static void Positions(World w, FillstreamSampleStrategy strategy, List<Bar> nq, List<Bar> es, int i,
            int position, double average)
        {
            MarketPosition side = position > 0 ? MarketPosition.Long : position < 0 ? MarketPosition.Short : MarketPosition.Flat;
            strategy.Position = new Position
            {
                Account = w.Sim, Instrument = w.Nq, MarketPosition = side, Quantity = Math.Abs(position), AveragePrice = average,
            };
            w.Position(w.Nq, side, Math.Abs(position), average, position == 0 ? Operation.Remove : Operation.Update);
            FeedSubscriptions(w, nq, es, i);
        }

        /// <summary>Answers the feed's new bar requests with the bars loaded so far (three back,
        /// the last one still forming).</summary>
        private static void FeedSubscriptions(World w, List<Bar> nq, List<Bar> es, int i)
        {
            foreach (BarsRequest request in BarsRequest.Created)
            {
                if (!request.IsRequested || request.IsDisposed || request.Bars.Count > 0)
                    continue;
                List<Bar> series = request.Instrument == w.Es ? es : nq;
                for (int k = Math.Max(0, i - request.BarsBack + 1); k <= i; k++)
                    request.Bars.BarsSeries.AddStubBar(Stub(series[k]));
                request.Complete(ErrorCode.NoError, "");
            }
        }

        public static StubBar Stub(Bar bar)
        {
            return new StubBar
            {
                Time = bar.Time, Open = bar.Open, High = bar.High, Low = bar.Low, Close = bar.Close, Volume = bar.Volume,
            };
        }

        public static void WaitFor(Func<bool> condition, string what)
        {
            Stopwatch watch = Stopwatch.StartNew();
            while (!condition())
            {
                if (watch.ElapsedMilliseconds > 10000)
                    throw new TimeoutException("waited 10 s for " + what);
                Thread.Sleep(1);
            }
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
                if (mode == "selfcheck" && args.Length == 2)
                    return SelfCheck(args[1]);
            }
            catch (Exception e)
            {
                Console.Error.WriteLine("harness failed: " + e);
                return 2;
            }
            Console.Error.WriteLine("usage: SignalsHarness.exe golden [DIR] | selfcheck names|links|nonblocking|registry|bars|bounds");
            return 64;
        }

        private static int Golden(string directory)
        {
            World w = new World("bars_instruments=ES 12-26\n");
            FillstreamSignals.AssignTimeoutMilliseconds = 60000; // a loaded machine must not turn an arm into control
            w.Activate();
            SampleMorning.Run(w);
            string body = w.TakeAll();
            w.Terminate();
            if (body == null)
                throw new InvalidOperationException("the sample strategy queued nothing");
            if (directory == null)
                Console.Out.Write("### sample_strategy.json\n" + body + "\n");
            else
                File.WriteAllBytes(Path.Combine(directory, "sample_strategy.json"), new UTF8Encoding(false).GetBytes(body));
            string output = w.OutputText();
            if (output.Contains("Error") || output.Contains("Warning"))
                Console.Error.WriteLine(output);
            return 0;
        }

        private static void Check(bool condition, string what)
        {
            if (!condition)
                failures.Add(what);
        }

        private static void Equal<T>(T expected, T actual, string what)
        {
            if (!EqualityComparer<T>.Default.Equals(expected, actual))
                failures.Add(what + ": expected " + expected + ", was " + actual);
        }

        private static int SelfCheck(string group)
        {
            switch (group)
            {
                case "names": Names(); break;
                case "links": Links(); break;
                case "nonblocking": NonBlocking(); break;
                case "registry": Registry(); break;
                case "bars": Bars(); break;
                case "bounds": Bounds(); break;
                default:
                    Console.Error.WriteLine("unknown group " + group);
                    return 64;
            }
            foreach (string failure in failures)
                Console.Out.WriteLine("FAIL " + failure);
            Console.Out.WriteLine(failures.Count == 0 ? group + " ok" : failures.Count + " " + group + " failures");
            return failures.Count == 0 ? 0 : 1;
        }

        private static List<string> Events(World w, string type)
        {
            List<string> found = new List<string>();
            string body;
            while ((body = w.Client.TakeBatchBody()) != null)
                foreach (string part in body.Substring(1, body.Length - 2).Split(new[] { "},{" }, StringSplitOptions.None))
                    if (part.Contains("\"type\":\"" + type + "\""))
                        found.Add(part);
            return found;
        }

        // entry names: at most 50 characters, the token always whole, the label cut
        private static void Names()
        {
            World w = new World("");
            string longLabel = new string('L', 120);
            FillstreamDecision d = FillstreamSignals.Signal("S", w.Nq, w.Sim, null, MarketPosition.Long, 0.5, 0, 0, null, longLabel);
            Check(d.EntryName.Length <= FillstreamSignals.MaxSignalNameLength, "an entry name stays within 50: " + d.EntryName.Length);
            Equal(50, d.EntryName.Length, "a long label fills the 50 characters");
            Check(d.EntryName.EndsWith(" fs:t0000001"), "the token ends the name: " + d.EntryName);
            Equal("t0000001", FillstreamSignals.TokenIn(d.EntryName), "the token is read back");
            Equal("fs:t0000002", FillstreamSignals.Signal("S", w.Nq, w.Sim, null, MarketPosition.Long, 0.5, 0, 0, null, null).EntryName, "no label: the token alone");
            Equal("Long fs:t0000003", FillstreamSignals.Signal("S", w.Nq, w.Sim, null, MarketPosition.Long, 0.5, 0, 0, null, "  Long ").EntryName, "a short label is kept");
            Equal("a x b fs:abcdefgh", FillstreamSignals.EntryNameFor("a fs:x b", "abcdefgh"), "a label cannot fake a token");
            Equal(null, FillstreamSignals.TokenIn("Long fs:ABCDEFGH"), "upper case is no token");
            Equal(null, FillstreamSignals.TokenIn("Long fs:abc"), "a short token is no token");
            Equal(null, FillstreamSignals.TokenIn("Profit target"), "a plain name has no token");
            Equal(null, FillstreamSignals.TokenIn(null), "no name");
            string unicode = new string('\u00e9', 60);
            Check(FillstreamSignals.EntryNameFor(unicode, "abcdefgh").Length <= 50, "50 characters, not bytes");
            Equal("fs-t0000001", d.SignalId, "a signal id is made when none is given");
            Equal("ft-t0000001", d.TradeId, "the trade id");
            // the stub refuses a name over 50 as NinjaTrader does; the sample's names pass
            FillstreamSampleStrategy strategy = new FillstreamSampleStrategy();
            strategy.SetState(State.SetDefaults);
            strategy.EnterLong(1, d.EntryName);
            Equal(1, strategy.TakeOrderRequests().Count, "the entry name is accepted");
        }

        // which executions carry which link
        private static void Links()
        {
            World w = new World("");
            FillstreamSignals.Dispatch = delegate(WaitCallback work) { work(null); };
            StrategyBase owner = new FillstreamSampleStrategy { Name = "FillstreamSample" };
            FillstreamDecision a = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, "FillstreamSample-20260922-0954",
                MarketPosition.Short, 0.6, 21010, 21000, 21012, 21000, null, "Breakout short");
            Check(a.IsAssigned, "an answered assignment fixes the arm");
            Equal("treatment", a.Arm, "the scripted bridge's arm");
            Equal("wide-stop", a.Variant, "the experiment's variant name");
            Equal(21012.0, a.IntendedStop, "the treatment's stop");

            Order entry = w.NewOrder(w.Nq, a.EntryName, null, OrderAction.SellShort, OrderType.Market, 3, 0, 0, owner);
            Execution part1 = w.Fill(entry, 1, 21006, true, World.At(9, 55, 0));
            Execution part2 = w.Fill(entry, 2, 21006.25, true, World.At(9, 55, 1));
            LinkIs(a, FillstreamSignals.LinkFor(part1), "first partial fill");
            LinkIs(a, FillstreamSignals.LinkFor(part2), "second partial fill");

            Order again = w.NewOrder(w.Nq, a.EntryName, null, OrderAction.SellShort, OrderType.Market, 1, 0, 0, owner);
            LinkIs(a, FillstreamSignals.LinkFor(w.Fill(again, 1, 21004, true, World.At(9, 57, 0))), "scale-in with the same signal");

            FillstreamDecision b = FillstreamSignals.ScaleIn(a, w.Nq, w.Sim, null, 0.7, 21009, 20998, null, "Add short");
            Check(b.IsAssigned, "a scale-in of an assigned decision is assigned at once");
            Check(b.SignalId != a.SignalId && b.EntryName != a.EntryName, "a scale-in has its own signal id and name");
            Equal(a.TradeId, b.TradeId, "a scale-in keeps the trade id");
            Equal(a.Variant, b.Variant, "a scale-in keeps the variant");
            Order add = w.NewOrder(w.Nq, b.EntryName, null, OrderAction.SellShort, OrderType.Market, 1, 0, 0, owner);
            FillstreamLink addLink = FillstreamSignals.LinkFor(w.Fill(add, 1, 21003, true, World.At(9, 58, 0)));
            Check(addLink != null && addLink.SignalId == b.SignalId && addLink.TradeId == a.TradeId && addLink.Variant == "wide-stop",
                "a scale-in's execution carries its own signal and the first's trade");

            Order stop = w.NewOrder(w.Nq, "Stop loss", a.EntryName, OrderAction.BuyToCover, OrderType.StopMarket, 4, 0, 21012, owner);
            LinkIs(a, FillstreamSignals.LinkFor(w.Fill(stop, 4, 21012, false, World.At(10, 1, 0))), "a stop placed from the signal (FromEntrySignal)");
            Order exit = w.NewOrder(w.Nq, "Time exit", b.EntryName, OrderAction.BuyToCover, OrderType.Market, 1, 0, 0, owner);
            Equal(b.SignalId, SignalOf(FillstreamSignals.LinkFor(w.Fill(exit, 1, 21001, false, World.At(10, 2, 0)))), "an exit from the scale-in's signal");

            // no order, but NinjaTrader's execution name still carries the entry's name
            Execution orphan = new Execution { Name = a.EntryName, Account = w.Sim, Instrument = w.Nq };
            LinkIs(a, FillstreamSignals.LinkFor(orphan), "an execution without an order, named after the entry");

            // what belongs to no signal
            AtmStrategy atm = new AtmStrategy { Name = "ATM 2 targets" };
            Order atmEntry = w.NewOrder(w.Nq, "Entry", null, OrderAction.Buy, OrderType.Market, 2, 0, 0, atm);
            Order atmStop = w.NewOrder(w.Nq, "Stop1", "Entry", OrderAction.Sell, OrderType.StopMarket, 2, 0, 20990, atm);
            Equal(null, FillstreamSignals.LinkFor(w.Fill(atmEntry, 2, 21000, true, World.At(10, 5, 0))), "an ATM entry has no link");
            Equal(null, FillstreamSignals.LinkFor(w.Fill(atmStop, 2, 20990, false, World.At(10, 6, 0))), "an ATM bracket has no link");
            Order manual = w.NewOrder(w.Nq, "Buy", null, OrderAction.Buy, OrderType.Market, 1, 0, 0, null);
            Equal(null, FillstreamSignals.LinkFor(w.Fill(manual, 1, 21000, true, World.At(10, 7, 0))), "a manual order has no link");
            Equal(null, FillstreamSignals.LinkFor(new Execution { Name = "Exit on session close" }), "a session-close execution has no link");
            Equal(null, FillstreamSignals.LinkFor(new Execution { Name = "Long fs:zzzzzzzz" }), "an unknown token has no link");
            Equal(null, FillstreamSignals.LinkFor(null), "no execution");

            // a decision whose first fill comes before its arm: fixed control then and there
            FillstreamSignals.Dispatch = delegate(WaitCallback work) { };
            FillstreamDecision early = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, "early-1", MarketPosition.Long,
                0.5, 20990, 21010, null, "Early");
            Check(!early.IsAssigned, "no answer yet");
            Order earlyOrder = w.NewOrder(w.Nq, early.EntryName, null, OrderAction.Buy, OrderType.Market, 1, 0, 0, owner);
            FillstreamLink earlyLink = FillstreamSignals.LinkFor(w.Fill(earlyOrder, 1, 21000, true, World.At(10, 9, 0)));
            Check(early.IsAssigned && early.Arm == "control", "the first linked execution fixes control");
            Check(earlyLink != null && earlyLink.Variant == null, "control without an experiment name: no variant");
            Check(earlyLink != null && earlyLink.SignalId == "early-1~unassigned" && early.SignalId == "early-1~unassigned",
                "fixed without the answer: an id no assignment names");
            early.Answer("treatment", "wide-stop");
            Equal("control", early.Arm, "a late answer changes nothing");

            // the AddOn's executions carry the link (signal_id, variant, trade_id) when it asks for it
            w.Activate();
            Order linked = w.NewOrder(w.Nq, a.EntryName, null, OrderAction.SellShort, OrderType.Market, 1, 0, 0, owner);
            w.Fill(linked, 1, 21002, true, World.At(10, 10, 0));
            Order unlinked = w.NewOrder(w.Nq, "Sell", null, OrderAction.SellShort, OrderType.Market, 1, 0, 0, null);
            w.Fill(unlinked, 1, 21002, true, World.At(10, 11, 0));
            List<string> executions = Events(w, "execution");
            Equal(2, executions.Count, "two executions reported");
            if (executions.Count == 2)
            {
                Check(executions[0].Contains("\"signal_id\":\"" + a.SignalId + "\"") && executions[0].Contains("\"variant\":\"wide-stop\"")
                    && executions[0].Contains("\"trade_id\":\"" + a.TradeId + "\""), "the AddOn sends the link: " + executions[0]);
                Check(!executions[1].Contains("signal_id") && !executions[1].Contains("trade_id"), "a manual execution has none: " + executions[1]);
            }
            w.Terminate();
        }

        private static string SignalOf(FillstreamLink link)
        {
            return link == null ? null : link.SignalId;
        }

        private static void LinkIs(FillstreamDecision decision, FillstreamLink link, string what)
        {
            if (link == null)
            {
                failures.Add(what + ": no link");
                return;
            }
            Equal(decision.SignalId, link.SignalId, what + ": signal id");
            Equal(decision.Strategy, link.Strategy, what + ": strategy");
            Equal(decision.Variant, link.Variant, what + ": variant");
            Equal(decision.TradeId, link.TradeId, what + ": trade id");
        }

        // Signal returns before a slow bridge answers; a bridge that never answers gives control
        private static void NonBlocking()
        {
            World w = new World("");
            w.Bridge.Gate = new ManualResetEvent(false);
            Stopwatch watch = Stopwatch.StartNew();
            FillstreamDecision slow = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, "FillstreamSample-20260922-0954",
                MarketPosition.Short, 0.6, 21010, 21000, 21012, 21000, null, "Short");
            long took = watch.ElapsedMilliseconds;
            // the bridge holds its answer until released below: a blocking Signal would wait here
            // for the whole timeout (2 s)
            Check(took < 1000, "Signal returns before the bridge answers, took " + took + " ms");
            Equal(0, w.Bridge.Answered, "the bridge has not answered yet");
            Check(!slow.IsAssigned && slow.Arm == null && double.IsNaN(slow.IntendedStop), "no arm yet");
            Equal(0, Events(w, "signal").Count, "the signal waits for its arm");
            SampleMorning.WaitFor(delegate { return w.Bridge.Requests.Count == 1; }, "the request");
            w.Bridge.Gate.Set();
            Check(slow.WaitAssigned(5000), "the answer arrives in the background");
            Equal("treatment", slow.Arm, "the answered arm");
            List<string> signals = Events(w, "signal");
            Equal(1, signals.Count, "one signal once the arm is known");
            Check(signals.Count == 1 && signals[0].Contains("\"variant\":\"wide-stop\"") && signals[0].Contains("\"intended_stop\":\"21012\""),
                "the signal carries the variant and the treatment's stop: " + string.Join("", signals));
            Check(signals.Count == 1 && signals[0].Contains("\"ts_event\":\"2026-09-22T13:30:00.000000Z\""), "the signal is timed at the decision");

            // a bridge that never answers: control after the timeout, without a variant
            w.Bridge.Gate = new ManualResetEvent(false);
            FillstreamSignals.AssignTimeoutMilliseconds = 200;
            watch = Stopwatch.StartNew();
            FillstreamDecision lost = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, "lost-1", MarketPosition.Long,
                double.NaN, 20990, 21010, null, "Long");
            Check(watch.ElapsedMilliseconds < 1000, "Signal returns at once with a silent bridge");
            Check(lost.WaitAssigned(5000), "the timeout fixes the arm");
            Equal("control", lost.Arm, "no answer: control");
            Equal(null, lost.Variant, "no answer: no variant");
            Equal("lost-1~unassigned", lost.SignalId, "no answer: reported under an id no assignment names");
            lock (w.Bridge.Requests)
                Check(w.Bridge.Requests.Exists(delegate(string r) { return r.Contains("\"signal_id\":\"lost-1\""); }),
                    "the bridge was asked about the decision's own id");
            Equal(20990.0, lost.IntendedStop, "control's stop");
            signals = Events(w, "signal");
            Check(signals.Count == 1 && !signals[0].Contains("variant"), "the signal is sent without a variant: " + string.Join("", signals));
            Check(signals.Count == 1 && signals[0].Contains("\"signal_id\":\"lost-1~unassigned\""), "the signal is sent under the unassigned id: " + string.Join("", signals));
            w.Bridge.Gate.Set();

            // a failing bridge: control at once
            w.Bridge.Fail = true;
            FillstreamDecision failed = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, "failed-1", MarketPosition.Long,
                0.5, 20990, 21010, null, "Long");
            Check(failed.WaitAssigned(5000) && failed.Arm == "control", "a refused assignment: control");
            Equal("failed-1~unassigned", failed.SignalId, "a refused assignment: the unassigned id");
            w.Bridge.Fail = false;

            // ArmNow before the answer: control, the signal sent once, the late answer ignored
            w.Bridge.Gate = new ManualResetEvent(false);
            FillstreamSignals.AssignTimeoutMilliseconds = 2000;
            Events(w, "signal");
            int answered = w.Bridge.Answered;
            FillstreamDecision now = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, "FillstreamSample-20260922-1003",
                MarketPosition.Long, 0.5, 20990, 21010, 20985, 21010, null, "Long");
            Equal("control", now.ArmNow(), "ArmNow without an answer: control");
            Equal(20990.0, now.IntendedStop, "control's stop");
            Equal("FillstreamSample-20260922-1003~unassigned", now.SignalId, "ArmNow without an answer: the unassigned id");
            w.Bridge.Gate.Set();
            SampleMorning.WaitFor(delegate { return w.Bridge.Answered > answered; }, "the late answer");
            Thread.Sleep(50);
            Equal("control", now.Arm, "the late answer is ignored");
            Equal(1, Events(w, "signal").Count, "one signal per decision");

            // without a client (no fillstream.config): a usable decision, control
            FillstreamClient.InstallShared(null);
            FillstreamDecision offline = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, null, MarketPosition.Long,
                0.5, 20990, 21010, null, "Long");
            Check(offline.IsAssigned && offline.Arm == "control" && offline.EntryName.Length > 0, "no client: control at once");
            Check(!offline.SignalId.EndsWith("~unassigned"), "nothing asked, nothing recorded: the id stays");
            FillstreamClient.InstallShared(w.Client);
        }

        // the links survive a restart (the file), the registry is bounded
        private static void Registry()
        {
            World w = new World("");
            FillstreamSignals.Dispatch = delegate(WaitCallback work) { work(null); };
            string path = FillstreamSignals.Registry.Path;
            FillstreamDecision a = FillstreamSignals.Signal("FillstreamSample", w.Nq, w.Sim, "FillstreamSample-20260922-0954",
                MarketPosition.Short, 0.6, 21010, 21000, 21012, 21000, null, "Short");
            FillstreamDecision b = FillstreamSignals.Signal("Other \t strategy", w.Nq, w.Sim, "sig-b", MarketPosition.Long,
                0.6, 21000, 21010, null, "Long");
            Check(FillstreamSignals.Registry.WaitSaved(5000), "saved in the background");
            Check(File.Exists(path), "the links file is written to the user data folder");

            // NinjaTrader restarts: a new registry reads the file
            FillstreamSignals.Registry = new FillstreamLinkRegistry(path, 4096);
            LinkIs(a, FillstreamSignals.LinkFor(new Execution { Name = "Stop loss", Order = new Order { Name = "Stop loss", FromEntrySignal = a.EntryName } }),
                "a stop after a restart");
            FillstreamLink bLink = FillstreamSignals.LinkFor(new Execution { Name = b.EntryName });
            Check(bLink != null && bLink.Strategy == "Other   strategy" && bLink.Variant == "tight-stop", "tabs in a name do not break the file");

            // bounded: the oldest go first, a looked-up one is kept
            FillstreamLinkRegistry small = new FillstreamLinkRegistry(Path.Combine(w.Directory, "small.tsv"), 3);
            FillstreamSignals.Registry = small;
            List<FillstreamDecision> made = new List<FillstreamDecision>();
            for (int i = 0; i < 3; i++)
                made.Add(FillstreamSignals.Signal("S", w.Nq, w.Sim, "s-" + i, MarketPosition.Long, 0.5, 0, 0, null, "L"));
            Check(FillstreamSignals.LinkFor(new Execution { Name = made[0].EntryName }) != null, "the first is still known");
            for (int i = 3; i < 5; i++)
                made.Add(FillstreamSignals.Signal("S", w.Nq, w.Sim, "s-" + i, MarketPosition.Long, 0.5, 0, 0, null, "L"));
            Equal(3, small.Count, "the registry keeps its capacity");
            Check(FillstreamSignals.LinkFor(new Execution { Name = made[0].EntryName }) != null, "a recently used link is kept");
            Check(FillstreamSignals.LinkFor(new Execution { Name = made[1].EntryName }) == null, "the least recently used goes");
            Check(small.WaitSaved(5000), "saved");
            int lines = 0;
            foreach (string line in File.ReadAllLines(small.Path))
                if (!line.StartsWith("#"))
                    lines++;
            Equal(3, lines, "the file holds what the registry holds");

            // a damaged file costs the links, not the AddOn
            File.WriteAllText(path, "garbage\nno\ttabs enough\n\u0000\n");
            FillstreamSignals.Registry = new FillstreamLinkRegistry(path, 4096);
            Equal(null, FillstreamSignals.LinkFor(new Execution { Name = a.EntryName }), "unreadable lines are skipped");
        }

        private static StubBar BarAt(int minute, double close)
        {
            return new StubBar
            {
                Time = World.At(9, 30, 0).AddMinutes(minute), Open = close - 1, High = close + 1.5, Low = close - 2, Close = close,
                Volume = 1000 + minute,
            };
        }

        // bars of instruments with a position; no bar twice after a reconnect; unsubscribed after flat
        private static void Bars()
        {
            World w = new World("bars_instruments=ES 12-26\n");
            w.Activate();
            Equal("1 Minute", FillstreamMarketFeed.Period, "the excursion period from the config");
            Equal(1, FillstreamMarketFeed.SubscriptionCount, "the listed instrument is subscribed at start");
            BarsRequest esRequest = BarsRequest.Created[0];
            Check(esRequest.Instrument == w.Es && esRequest.BarsPeriod.BarsPeriodType == BarsPeriodType.Minute
                && esRequest.BarsPeriod.Value == 1 && esRequest.IsRequested, "a 1 Minute request for ES");
            esRequest.Bars.BarsSeries.AddStubBar(BarAt(1, 5750));
            esRequest.Bars.BarsSeries.AddStubBar(BarAt(2, 5751));
            esRequest.Bars.BarsSeries.AddStubBar(BarAt(3, 5752)); // forming
            esRequest.Complete(ErrorCode.NoError, "");
            List<string> bars = Events(w, "bar");
            Equal(2, bars.Count, "the loaded bars but the forming one are sent");
            esRequest.Tick(BarAt(4, 5753));
            bars = Events(w, "bar");
            Check(bars.Count == 1 && bars[0].Contains("\"ts_event\":\"2026-09-22T13:33:00.000000Z\"") && bars[0].Contains("\"close\":\"5752\""),
                "a new bar closes the previous one: " + string.Join("", bars));
            // a reconnect: the provider delivers the series again, and updates of the forming bar
            esRequest.Raise(0, 3);
            esRequest.Raise(3, 3);
            esRequest.Complete(ErrorCode.NoError, "");
            Equal(0, Events(w, "bar").Count, "no bar is sent twice after a reconnect");

            // NQ: subscribed when a position opens, kept until the bar of the exit closes
            w.Position(w.Nq, MarketPosition.Long, 1, 21000, Operation.Update);
            Equal(2, FillstreamMarketFeed.SubscriptionCount, "an open position subscribes its instrument");
            BarsRequest nqRequest = BarsRequest.Created[1];
            Check(nqRequest.Instrument == w.Nq, "the request is for NQ");
            nqRequest.Bars.BarsSeries.AddStubBar(BarAt(3, 21000));
            nqRequest.Bars.BarsSeries.AddStubBar(BarAt(4, 21001));
            nqRequest.Complete(ErrorCode.NoError, "");
            Equal(1, Events(w, "bar").Count, "its loaded bars are sent");
            // the strategy sends the same bar: once only
            FillstreamSignals.Bar(w.Nq, "1 Minute", 21000, 21002.5, 20999, 21001, 1004, 0, 0, World.At(9, 34, 0));
            FillstreamSignals.Bar(w.Nq, "1 Minute", 21000, 21002.5, 20999, 21001, 1004, 0, 0, World.At(9, 33, 0));
            Equal(1, Events(w, "bar").Count, "a strategy's bar already sent by the feed is not sent again, an older one neither");
            nqRequest.Tick(BarAt(5, 21002));
            Equal(0, Events(w, "bar").Count, "the strategy had sent 09:34 already");
            w.Position(w.Nq, MarketPosition.Long, 2, 21000.5, Operation.Update);
            Equal(2, FillstreamMarketFeed.SubscriptionCount, "a second update does not subscribe twice");
            Equal(2, BarsRequest.Created.Count, "no new request");
            w.Position(w.Nq, MarketPosition.Flat, 0, 0, Operation.Remove);
            Equal(2, FillstreamMarketFeed.SubscriptionCount, "flat: kept until the next bar closes");
            Check(!nqRequest.IsDisposed, "not disposed yet");
            nqRequest.Tick(BarAt(6, 21003));
            Equal(1, Events(w, "bar").Count, "the bar of the exit is sent");
            Check(nqRequest.IsDisposed, "then the request is disposed");
            Equal(1, FillstreamMarketFeed.SubscriptionCount, "flat: unsubscribed");
            nqRequest.Tick(BarAt(7, 21004));
            Equal(0, Events(w, "bar").Count, "a disposed request sends nothing");

            // the position opens again: a new request, its history deduplicated
            w.Position(w.Nq, MarketPosition.Short, 1, 21003, Operation.Update);
            BarsRequest again = BarsRequest.Created[2];
            again.Bars.BarsSeries.AddStubBar(BarAt(5, 21002));
            again.Bars.BarsSeries.AddStubBar(BarAt(6, 21003));
            again.Bars.BarsSeries.AddStubBar(BarAt(7, 21004));
            again.Bars.BarsSeries.AddStubBar(BarAt(8, 21005));
            again.Complete(ErrorCode.NoError, "");
            bars = Events(w, "bar");
            Check(bars.Count == 2 && bars[0].Contains("\"ts_event\":\"2026-09-22T13:36:00.000000Z\"")
                && bars[1].Contains("\"ts_event\":\"2026-09-22T13:37:00.000000Z\""), "only the bars not sent before: " + string.Join("", bars));

            // the listed instrument stays after flat; an error is logged, not thrown
            w.Position(w.Es, MarketPosition.Long, 1, 5752, Operation.Update);
            w.Position(w.Es, MarketPosition.Flat, 0, 0, Operation.Remove);
            esRequest.Tick(BarAt(5, 5754));
            Check(!esRequest.IsDisposed, "a listed instrument stays subscribed");
            again.Complete(ErrorCode.UserAbort, "no data");
            Check(w.OutputText().Contains("no bars for NQ 12-26: UserAbort no data"), "a failed request is logged: " + w.OutputText());

            w.Terminate();
            Check(esRequest.IsDisposed && again.IsDisposed, "stop disposes every request");
            Equal(0, FillstreamMarketFeed.SubscriptionCount, "stop: nothing subscribed");

            // NinjaTrader restarted with a position open: no PositionUpdate comes, the feed looks
            World restarted = new World("");
            restarted.Sim.Positions.Add(new Position
            {
                Account = restarted.Sim, Instrument = restarted.Nq, MarketPosition = MarketPosition.Short, Quantity = 1,
                AveragePrice = 21000,
            });
            restarted.Activate();
            Equal(1, FillstreamMarketFeed.SubscriptionCount, "a position open at start is subscribed");
            Check(BarsRequest.Created.Count == 1 && BarsRequest.Created[0].Instrument == restarted.Nq
                && BarsRequest.Created[0].TradingHours.Name == "CME US Index Futures ETH", "with the instrument's trading hours");
            restarted.Terminate();

            string problem;
            Check(FillstreamMarketFeed.ParsePeriod("5 Minute", out problem).Value == 5, "5 Minute");
            Check(FillstreamMarketFeed.ParsePeriod("2000 tick", out problem).BarsPeriodType == BarsPeriodType.Tick, "2000 Tick");
            Check(FillstreamMarketFeed.ParsePeriod("Minute", out problem) == null && problem.Contains("'Minute'"), "a period needs a count: " + problem);
            Check(FillstreamMarketFeed.ParsePeriod("1 Renko", out problem) == null && problem.Contains("Renko"), "unsupported types are named: " + problem);
        }

        // memory: bounded subscriptions, last-sent times and registry
        private static void Bounds()
        {
            World w = new World("");
            w.Activate();
            for (int i = 0; i < FillstreamMarketFeed.MaxSubscriptions + 6; i++)
            {
                Instrument instrument = World.NewInstrument("X" + i + " 12-26", "X" + i, "X", 10);
                w.Position(instrument, MarketPosition.Long, 1, 100, Operation.Update);
            }
            Equal(FillstreamMarketFeed.MaxSubscriptions, FillstreamMarketFeed.SubscriptionCount, "subscriptions are capped");
            int warnings = 0;
            foreach (string line in w.Output)
                if (line.StartsWith("Warning: ") && line.Contains("instruments subscribed for bars"))
                    warnings++;
            Equal(1, warnings, "the cap is reported once");
            for (int i = 0; i < FillstreamMarketFeed.MaxSeries + 500; i++)
                FillstreamMarketFeed.Post(w.Client, "Y" + i, "1 Minute", 10, 11, 9, 10, 5, 0, 0, World.At(10, 0, 0));
            Equal(FillstreamMarketFeed.MaxSeries, FillstreamMarketFeed.SeriesCount, "last-sent times are capped");
            w.Terminate();
            FillstreamSignals.Dispatch = delegate(WaitCallback work) { work(null); };
            FillstreamLinkRegistry registry = new FillstreamLinkRegistry(Path.Combine(w.Directory, "bounded.tsv"), 100);
            FillstreamSignals.Registry = registry;
            for (int i = 0; i < 1000; i++)
                FillstreamSignals.Signal("S", w.Nq, w.Sim, "b-" + i, MarketPosition.Long, 0.5, 0, 0, null, "L");
            Equal(100, registry.Count, "the registry is capped");
        }
    }
}
