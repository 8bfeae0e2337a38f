// What NinjaScript strategies call to report their decisions, signals and bars to fillstream, and
// what ties every resulting execution back to its signal, experiment variant and trade. Nothing
// here waits for the bridge on the strategy's thread (which can be NinjaTrader's UI thread).
//
//   using NinjaTrader.NinjaScript.AddOns;
//   ...
//   // once per decision; returns at once, the experiment arm is asked for on a background thread.
//   // The control's stop and target, then the treatment's (here: a wider stop).
//   FillstreamDecision d = FillstreamSignals.Signal(Name, Instrument, Account, signalId, MarketPosition.Long,
//       0.72, Close[0] - 12 * TickSize, Close[0] + 24 * TickSize, Close[0] - 20 * TickSize, Close[0] + 24 * TickSize,
//       features, "Long");
//   // on this bar if d.IsAssigned, else on a later one (or at once with control: d.ArmNow()):
//   SetStopLoss(d.EntryName, CalculationMode.Price, d.IntendedStop, false);
//   SetProfitTarget(d.EntryName, CalculationMode.Price, d.IntendedTarget);
//   EnterLong(2, d.EntryName);
//   FillstreamSignals.Bar(Instrument, "1 Minute", Open[0], High[0], Low[0], Close[0], Volume[0], 0, 0, Time[0]);
//
// bridge/ninjatrader/samples/FillstreamSampleStrategy.cs is a whole strategy doing this.
//
// How an execution finds its signal. NinjaTrader copies the entry's signal name into Order.Name and
// Execution.Name, and the entry's name into Order.FromEntrySignal of every exit placed from it
// (ExitLong(..., fromEntrySignal), SetStopLoss/SetProfitTarget(fromEntrySignal, ...)). So the entry
// name carries a compact token ("Long fs:k3x9a2bq": a label, " fs:" and 8 characters, never more
// than NinjaTrader's 50), and an in-process registry maps the token to {signal_id, strategy, variant,
// trade_id}; the AddOn asks it with LinkFor(execution). Chosen over a registry of order ids because
// the name exists before the order does (no race between EnterLong returning and the first fill),
// survives order id changes (Order.OrderId "can change"), reaches exits through FromEntrySignal
// without any call from the strategy, and is visible in NinjaTrader's grids. The registry is bounded
// (the newest 4096 decisions) and saved to fillstream-links.tsv in Documents\NinjaTrader 8, so the
// links of positions still open when NinjaTrader restarts survive.
//
// - Scale-in with the same signal: enter again with the same EntryName (EntryHandling.AllEntries or
//   EntriesPerDirection > 1): same link. With a new signal: FillstreamSignals.ScaleIn(first, ...)
//   gives a new signal id and entry name with the first decision's trade id and arm.
// - Partial fills: every execution of the order carries the same name, hence the same link.
// - Exits placed from the entry (FromEntrySignal) carry the entry's link; exits without a
//   FromEntrySignal carry none, and matching takes the signal and variant from the entry's lot.
// - Manual orders, ATM strategies (their orders are named "Entry", "Stop1", "Target1", ...) and
//   executions without an Order whose name carries no token (session close: "Exit on session
//   close") get no link: LinkFor returns null and they are reported as before.
//
// The arm ("control" or "treatment") is fixed once: by the bridge's answer, by the assignment
// timeout (AssignTimeoutMilliseconds, 2 s: nothing waits for it) or a failure (control), by
// ArmNow() (control unless the answer is in), or by the first execution linked to the decision
// (its orders were placed without the arm). Variant is the experiment's name of the arm (the
// bridge's "variant"; null without an experiment or an answer): the "signal" event and the linked
// executions carry it, the guardrails read it. The "signal" event is sent once, when the arm is
// fixed, stamped with the time of the decision. Place orders once IsAssigned. A decision whose arm
// was asked for but fixed without the answer runs control while the bridge may have recorded the
// treatment for it: it is reported under SignalId + "~unassigned" (the signal event and every
// execution), an id no assignment names, so its trades count for no arm of the experiment.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Text;
using System.Threading;
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

    /// <summary>One decision of a strategy (FillstreamSignals.Signal): the entry signal name to
    /// place its orders with, its trade id, and the experiment arm once it is known.</summary>
    public sealed class FillstreamDecision
    {
        public const string Control = "control";
        public const string Treatment = "treatment";
        /// <summary>Appended to the signal id of a decision whose arm was asked for but fixed
        /// without the answer (timeout, failure, ArmNow, or a fill first): the bridge may have
        /// recorded another arm for the original id, so the decision is reported under an id no
        /// assignment names, and its trades stay out of the experiment's figures.</summary>
        public const string UnassignedSuffix = "~unassigned";

        private readonly object gate = new object();
        private readonly List<FillstreamDecision> followers = new List<FillstreamDecision>();
        private string arm;
        private string variant;
        private string answeredArm;
        private string answeredVariant;
        private Func<FillstreamDecision, string> pendingSignal; // the "signal" event, sent once the arm is fixed
        private bool asked; // the arm was asked of the bridge
        private string signalId;
        private readonly double controlStop, controlTarget, treatmentStop, treatmentTarget;
        private readonly ManualResetEvent fixedEvent = new ManualResetEvent(false);

        internal FillstreamDecision(string token, string signalId, string strategy, string tradeId, string entryName,
            MarketPosition direction, double controlStop, double controlTarget, double treatmentStop, double treatmentTarget)
        {
            this.controlStop = controlStop;
            this.controlTarget = controlTarget;
            this.treatmentStop = treatmentStop;
            this.treatmentTarget = treatmentTarget;
            Token = token;
            this.signalId = signalId;
            Strategy = strategy;
            TradeId = tradeId;
            EntryName = entryName;
            Direction = direction;
        }

        /// <summary>The registry key carried in EntryName.</summary>
        public string Token { get; private set; }
        /// <summary>The signal's id; taken at the decision, with UnassignedSuffix once the arm is
        /// fixed without the bridge's answer.</summary>
        public string SignalId
        {
            get { lock (gate) return signalId; }
        }
        public string Strategy { get; private set; }
        /// <summary>The round trip's id: every execution of this decision (and of its scale-ins) carries it.</summary>
        public string TradeId { get; private set; }
        /// <summary>Pass to EnterLong/EnterShort(quantity, EntryName) and as fromEntrySignal of the
        /// exits, stops and targets; at most 50 characters.</summary>
        public string EntryName { get; private set; }
        public MarketPosition Direction { get; private set; }

        /// <summary>True once the arm is fixed (answered, timed out, failed or fixed by ArmNow).</summary>
        public bool IsAssigned
        {
            get { lock (gate) return arm != null; }
        }

        /// <summary>"control" or "treatment" once assigned; null before.</summary>
        public string Arm
        {
            get { lock (gate) return arm; }
        }

        /// <summary>The experiment's name of the arm (sent as "variant"); null without an experiment.</summary>
        public string Variant
        {
            get { lock (gate) return variant; }
        }

        public bool IsTreatment
        {
            get { return Arm == Treatment; }
        }

        /// <summary>The stop price of the arm (the treatment's when it runs the treatment, else the
        /// control's); NaN until assigned or when none was given. The "signal" event carries it.</summary>
        public double IntendedStop
        {
            get
            {
                string a = Arm;
                return a == null ? double.NaN : a == Treatment ? treatmentStop : controlStop;
            }
        }

        /// <summary>The target price of the arm; NaN until assigned or when none was given.</summary>
        public double IntendedTarget
        {
            get
            {
                string a = Arm;
                return a == null ? double.NaN : a == Treatment ? treatmentTarget : controlTarget;
            }
        }

        /// <summary>Fixes the arm now, without waiting: the bridge's answer if it came, else
        /// "control" (a later answer is then ignored). Returns the arm.</summary>
        public string ArmNow()
        {
            Fix(null, null, true);
            return Arm;
        }

        /// <summary>Waits for the arm; for tests and tools, never on a strategy's thread.</summary>
        internal bool WaitAssigned(int timeoutMilliseconds)
        {
            return fixedEvent.WaitOne(timeoutMilliseconds);
        }

        /// <summary>Fixes control when the assignment takes too long (kept here so it is not collected).</summary>
        internal Timer Deadline;

        internal FillstreamLink Link()
        {
            lock (gate)
                return new FillstreamLink { SignalId = signalId, Strategy = Strategy, Variant = variant, TradeId = TradeId };
        }

        internal void SetPendingSignal(Func<FillstreamDecision, string> json)
        {
            lock (gate)
                pendingSignal = json;
        }

        /// <summary>A scale-in follows this decision's arm.</summary>
        internal void AddFollower(FillstreamDecision follower)
        {
            bool fixedAlready;
            string a, v;
            lock (gate)
            {
                fixedAlready = arm != null;
                a = arm;
                v = variant;
                if (!fixedAlready)
                    followers.Add(follower);
            }
            if (fixedAlready)
                follower.Fix(a, v, false);
        }

        /// <summary>The arm is being asked of the bridge: fixed without its answer, the decision
        /// takes an unassigned signal id.</summary>
        internal void MarkAsked()
        {
            lock (gate)
                asked = true;
        }

        /// <summary>Records the bridge's answer (null arm: failure or timeout) and fixes the arm.</summary>
        internal void Answer(string answerArm, string answerVariant)
        {
            lock (gate)
            {
                if (arm != null)
                    return;
                answeredArm = answerArm;
                answeredVariant = answerVariant;
            }
            Fix(null, null, true);
        }

        /// <summary>Fixes the arm: <paramref name="forcedArm"/> when given, else the answer when
        /// <paramref name="useAnswer"/>, else control. Then sends the signal and fixes the followers.</summary>
        internal void Fix(string forcedArm, string forcedVariant, bool useAnswer)
        {
            Func<FillstreamDecision, string> signal;
            List<FillstreamDecision> next;
            lock (gate)
            {
                if (arm != null)
                    return;
                if (forcedArm != null)
                {
                    arm = forcedArm;
                    variant = forcedVariant;
                }
                else if (useAnswer && answeredArm != null)
                {
                    arm = answeredArm;
                    variant = answeredVariant;
                }
                else
                {
                    arm = Control;
                    variant = null;
                    if (asked) // the bridge may hold another arm for the id it was asked about
                        signalId = signalId + UnassignedSuffix;
                }
                signal = pendingSignal;
                pendingSignal = null;
                next = new List<FillstreamDecision>(followers);
                followers.Clear();
            }
            Timer deadline = Deadline;
            if (deadline != null)
                deadline.Dispose();
            FillstreamSignals.Registry.Fixed(this);
            if (signal != null)
                FillstreamSignals.SendSignal(signal, this);
            fixedEvent.Set();
            foreach (FillstreamDecision follower in next)
                follower.Fix(Arm, Variant, false);
        }
    }

    /// <summary>Entry-name token → link, bounded, saved to a small file so that a restart keeps the
    /// links of open positions.</summary>
    public sealed class FillstreamLinkRegistry
    {
        public const string FileName = "fillstream-links.tsv";
        public const int DefaultCapacity = 4096;

        private readonly object gate = new object();
        private readonly int capacity;
        // insertion order = age; a looked-up token moves to the end, the oldest goes first
        private readonly LinkedList<string> order = new LinkedList<string>();
        private readonly Dictionary<string, LinkedListNode<string>> nodes = new Dictionary<string, LinkedListNode<string>>();
        private readonly Dictionary<string, FillstreamDecision> live = new Dictionary<string, FillstreamDecision>();
        private readonly Dictionary<string, FillstreamLink> saved = new Dictionary<string, FillstreamLink>();
        private readonly string path;
        private bool loaded;
        private int saving;
        private volatile bool dirty;

        public FillstreamLinkRegistry(string path, int capacity)
        {
            this.path = path;
            this.capacity = Math.Max(1, capacity);
        }

        public int Count
        {
            get { lock (gate) return nodes.Count; }
        }

        public string Path
        {
            get { return path; }
        }

        internal void Add(FillstreamDecision decision)
        {
            lock (gate)
            {
                EnsureLoaded();
                live[decision.Token] = decision;
                saved.Remove(decision.Token);
                Touch(decision.Token);
                Trim();
            }
        }

        /// <summary>The link of <paramref name="token"/>, or null. A decision still waiting for its
        /// arm is fixed now: an execution exists, so its orders were placed without the arm.</summary>
        public FillstreamLink Find(string token)
        {
            FillstreamDecision decision;
            lock (gate)
            {
                EnsureLoaded();
                if (!nodes.ContainsKey(token))
                    return null;
                Touch(token);
                FillstreamLink link;
                if (saved.TryGetValue(token, out link))
                    return Copy(link);
                decision = live[token];
            }
            if (!decision.IsAssigned)
                decision.Fix(null, null, true);
            return decision.Link();
        }

        /// <summary>The decision made last in this session, or null (tests).</summary>
        internal FillstreamDecision NewestDecision()
        {
            lock (gate)
            {
                for (LinkedListNode<string> node = order.Last; node != null; node = node.Previous)
                {
                    FillstreamDecision decision;
                    if (live.TryGetValue(node.Value, out decision))
                        return decision;
                }
                return null;
            }
        }

        internal void Fixed(FillstreamDecision decision)
        {
            dirty = true;
            SaveSoon();
        }

        /// <summary>Writes the file now (the background save does the same).</summary>
        public void Save()
        {
            if (path == null)
                return;
            StringBuilder text = new StringBuilder("# fillstream: entry-name tokens of NinjaScript decisions (token, signal_id, strategy, variant, trade_id)\n");
            lock (gate)
            {
                dirty = false;
                foreach (string token in order)
                {
                    FillstreamLink link;
                    if (!saved.TryGetValue(token, out link))
                    {
                        FillstreamDecision decision = live[token];
                        if (!decision.IsAssigned)
                            continue;
                        link = decision.Link();
                    }
                    text.Append(token).Append('\t').Append(Clean(link.SignalId)).Append('\t').Append(Clean(link.Strategy))
                        .Append('\t').Append(Clean(link.Variant)).Append('\t').Append(Clean(link.TradeId)).Append('\n');
                }
            }
            string temporary = path + ".tmp";
            File.WriteAllText(temporary, text.ToString(), new UTF8Encoding(false));
            if (File.Exists(path))
                File.Replace(temporary, path, null);
            else
                File.Move(temporary, path);
        }

        private void SaveSoon()
        {
            if (path == null || Interlocked.CompareExchange(ref saving, 1, 0) != 0)
                return;
            ThreadPool.QueueUserWorkItem(delegate
            {
                try
                {
                    while (dirty)
                        Save();
                }
                catch (Exception e)
                {
                    FillstreamSignals.Warn("fillstream: could not save " + path + ": " + e.Message);
                }
                finally
                {
                    Interlocked.Exchange(ref saving, 0);
                }
            });
        }

        /// <summary>Waits until no background save is running (tests).</summary>
        internal bool WaitSaved(int timeoutMilliseconds)
        {
            DateTime deadline = DateTime.UtcNow.AddMilliseconds(timeoutMilliseconds);
            while (Interlocked.CompareExchange(ref saving, 0, 0) != 0 || dirty)
            {
                if (DateTime.UtcNow > deadline)
                    return false;
                Thread.Sleep(5);
            }
            return true;
        }

        private void EnsureLoaded()
        {
            if (loaded)
                return;
            loaded = true;
            if (path == null || !File.Exists(path))
                return;
            try
            {
                foreach (string line in File.ReadAllLines(path, Encoding.UTF8))
                {
                    if (line.Length == 0 || line.StartsWith("#"))
                        continue;
                    string[] parts = line.Split('\t');
                    if (parts.Length != 5 || parts[0].Length == 0 || parts[1].Length == 0)
                        continue;
                    saved[parts[0]] = new FillstreamLink
                    {
                        SignalId = parts[1], Strategy = Empty(parts[2]), Variant = Empty(parts[3]), TradeId = Empty(parts[4]),
                    };
                    Touch(parts[0]);
                }
                Trim();
            }
            catch (Exception e)
            {
                FillstreamSignals.Warn("fillstream: could not read " + path + " (links of positions opened before the restart are lost): " + e.Message);
            }
        }

        private void Touch(string token)
        {
            LinkedListNode<string> node;
            if (nodes.TryGetValue(token, out node))
                order.Remove(node);
            nodes[token] = order.AddLast(token);
        }

        private void Trim()
        {
            while (nodes.Count > capacity)
            {
                string oldest = order.First.Value;
                order.RemoveFirst();
                nodes.Remove(oldest);
                live.Remove(oldest);
                saved.Remove(oldest);
            }
        }

        private static FillstreamLink Copy(FillstreamLink link)
        {
            return new FillstreamLink { SignalId = link.SignalId, Strategy = link.Strategy, Variant = link.Variant, TradeId = link.TradeId };
        }

        private static string Clean(string value)
        {
            return (value ?? "").Replace('\t', ' ').Replace('\n', ' ').Replace('\r', ' ');
        }

        private static string Empty(string value)
        {
            return value.Length == 0 ? null : value;
        }
    }

    public static class FillstreamSignals
    {
        public const int DefaultAssignTimeoutMilliseconds = 200;
        /// <summary>NinjaTrader's limit for a signal name.</summary>
        public const int MaxSignalNameLength = 50;
        public const string TokenMarker = "fs:";
        public const int TokenLength = 8;
        private const string TokenAlphabet = "0123456789abcdefghijklmnopqrstuvwxyz";

        /// <summary>How long the background assignment request may take before the decision runs
        /// control; nothing waits for it.</summary>
        public static int AssignTimeoutMilliseconds = 2000;

        private static readonly object tokenGate = new object();
        private static readonly Random tokenRandom = new Random(Guid.NewGuid().GetHashCode());
        private static readonly object registryGate = new object();
        private static FillstreamLinkRegistry registry;

        /// <summary>Runs the assignment request off the strategy's thread; tests may run it in place.</summary>
        public static Action<WaitCallback> Dispatch = delegate(WaitCallback work) { ThreadPool.QueueUserWorkItem(work); };

        /// <summary>Makes the tokens of entry names (8 characters from 0-9 and a-z); replaceable for tests.</summary>
        public static Func<string> NewToken = RandomToken;

        /// <summary>The links of this NinjaTrader session (loaded from Documents\NinjaTrader 8 on first use).</summary>
        public static FillstreamLinkRegistry Registry
        {
            get
            {
                lock (registryGate)
                {
                    if (registry == null)
                        registry = new FillstreamLinkRegistry(DefaultRegistryPath(), FillstreamLinkRegistry.DefaultCapacity);
                    return registry;
                }
            }
            set
            {
                lock (registryGate)
                    registry = value;
            }
        }

        /// <summary>One decision of a strategy: returns at once with the entry name, the trade id and
        /// the arm to come. The experiment arm is asked for on a background thread (at most
        /// AssignTimeoutMilliseconds, "control" on failure); the "signal" event (direction,
        /// confidence, intended stop and target, features, variant) is sent once the arm is fixed.
        /// <paramref name="signalId"/> null: one is made ("fs-" + the token); <paramref name="label"/>
        /// starts the entry name (e.g. "Long"; cut so the name stays within 50 characters).
        /// Never throws: a problem is logged and the decision still gives a usable entry name.</summary>
        public static FillstreamDecision Signal(string strategyName, Instrument instrument, Account account, string signalId,
            MarketPosition direction, double confidence, double intendedStop, double intendedTarget,
            IDictionary<string, double> features, string label)
        {
            return Decide(null, strategyName, instrument, account, signalId, direction, confidence, intendedStop,
                intendedTarget, intendedStop, intendedTarget, features, label);
        }

        /// <summary>Signal(...) for an experiment that changes the stop or the target: the
        /// decision's IntendedStop and IntendedTarget (and the "signal" event) are the treatment's
        /// when it runs the treatment, the control's otherwise.</summary>
        public static FillstreamDecision Signal(string strategyName, Instrument instrument, Account account, string signalId,
            MarketPosition direction, double confidence, double controlStop, double controlTarget, double treatmentStop,
            double treatmentTarget, IDictionary<string, double> features, string label)
        {
            return Decide(null, strategyName, instrument, account, signalId, direction, confidence, controlStop,
                controlTarget, treatmentStop, treatmentTarget, features, label);
        }

        /// <summary>A new signal adding to the position <paramref name="first"/> opened: its own
        /// signal id and entry name, the first decision's trade id and arm (no new assignment).</summary>
        public static FillstreamDecision ScaleIn(FillstreamDecision first, Instrument instrument, Account account, string signalId,
            double confidence, double intendedStop, double intendedTarget, IDictionary<string, double> features, string label)
        {
            if (first == null)
                throw new ArgumentNullException("first");
            return Decide(first, first.Strategy, instrument, account, signalId, first.Direction, confidence, intendedStop,
                intendedTarget, intendedStop, intendedTarget, features, label);
        }

        /// <summary>The signal behind <paramref name="execution"/> (from the token in Order.Name,
        /// Order.FromEntrySignal or Execution.Name), or null when it belongs to none (manual and
        /// ATM orders, executions without an order, tokens older than the registry keeps).</summary>
        public static FillstreamLink LinkFor(Execution execution)
        {
            if (execution == null)
                return null;
            try
            {
                Order order = execution.Order;
                string token = order == null ? null : TokenIn(order.Name) ?? TokenIn(order.FromEntrySignal);
                token = token ?? TokenIn(execution.Name);
                return token == null ? null : Registry.Find(token);
            }
            catch (Exception)
            {
                return null; // an execution is reported without its link rather than not at all
            }
        }

        /// <summary>The token in a signal name ("... fs:" + 8 characters of 0-9, a-z), or null.</summary>
        public static string TokenIn(string name)
        {
            if (string.IsNullOrEmpty(name))
                return null;
            int at = name.LastIndexOf(TokenMarker, StringComparison.Ordinal);
            if (at < 0 || at + TokenMarker.Length + TokenLength > name.Length)
                return null;
            string token = name.Substring(at + TokenMarker.Length, TokenLength);
            foreach (char c in token)
                if (TokenAlphabet.IndexOf(c) < 0)
                    return null;
            return token;
        }

        /// <summary>label + " fs:" + token, the label cut so the whole stays within 50 characters.</summary>
        public static string EntryNameFor(string label, string token)
        {
            string suffix = TokenMarker + token;
            string head = (label ?? "").Replace(TokenMarker, "").Trim();
            int room = MaxSignalNameLength - suffix.Length - 1;
            if (head.Length > room)
                head = head.Substring(0, room).TrimEnd();
            return head.Length == 0 ? suffix : head + " " + suffix;
        }

        private static FillstreamDecision Decide(FillstreamDecision first, string strategyName, Instrument instrument,
            Account account, string signalId, MarketPosition direction, double confidence, double controlStop,
            double controlTarget, double treatmentStop, double treatmentTarget, IDictionary<string, double> features,
            string label)
        {
            string token = NextToken();
            FillstreamDecision decision = new FillstreamDecision(token, string.IsNullOrEmpty(signalId) ? "fs-" + token : signalId,
                strategyName ?? "", first != null ? first.TradeId : "ft-" + token, EntryNameFor(label, token), direction,
                controlStop, controlTarget, treatmentStop, treatmentTarget);
            FillstreamClient client = null;
            try
            {
                Registry.Add(decision);
                client = FillstreamSetup.SharedClient();
                if (client != null)
                {
                    string problem;
                    string accountName = account == null ? null : account.Name;
                    string instrumentName = FillstreamEvents.InstrumentName(instrument);
                    DateTime decided = client.UtcNow();
                    Dictionary<string, double> copy = features == null ? null : new Dictionary<string, double>(features);
                    if (SignalJson(strategyName, instrumentName, accountName, decision.SignalId, direction, null, confidence, controlStop,
                        controlTarget, copy, decided, out problem) == null)
                        client.Report(FillstreamLogLevel.Warning, "fillstream: signal not sent: " + problem);
                    else
                        decision.SetPendingSignal(delegate(FillstreamDecision d)
                        {
                            string ignored;
                            return SignalJson(strategyName, instrumentName, accountName, d.SignalId, direction, d.Variant, confidence,
                                d.IntendedStop, d.IntendedTarget, copy, decided, out ignored);
                        });
                }
            }
            catch (Exception e)
            {
                if (client != null)
                    client.Report(FillstreamLogLevel.Error, "fillstream: signal not sent: " + e.Message);
            }
            if (first != null)
                first.AddFollower(decision);
            else if (client == null || string.IsNullOrEmpty(strategyName))
                decision.Fix(FillstreamDecision.Control, null, false);
            else
                AskArm(client, decision);
            return decision;
        }

        private static void AskArm(FillstreamClient client, FillstreamDecision decision)
        {
            int timeout = AssignTimeoutMilliseconds;
            decision.MarkAsked();
            string signalId = decision.SignalId; // asked about: the id before any renaming
            // the transport gives up after the timeout; the timer fixes control even if it does not
            decision.Deadline = new Timer(delegate
            {
                decision.Fix(null, null, false);
            }, null, timeout + 250, Timeout.Infinite);
            Action<WaitCallback> dispatch = Dispatch ?? delegate(WaitCallback work) { ThreadPool.QueueUserWorkItem(work); };
            dispatch(delegate
            {
                string arm = null, variant = null;
                try
                {
                    string answer = client.AssignmentAnswer(signalId, decision.Strategy, timeout);
                    arm = FillstreamClient.ReadStringField(answer, "arm");
                    variant = FillstreamClient.ReadStringField(answer, "variant");
                    if (string.IsNullOrEmpty(arm))
                    {
                        arm = null;
                        if (answer == null)
                            client.Report(FillstreamLogLevel.Warning, "fillstream: no assignment for signal " + signalId + " (bridge unreachable or slow): it runs control as " + signalId + FillstreamDecision.UnassignedSuffix);
                    }
                }
                catch (Exception)
                {
                    arm = null;
                }
                decision.Answer(arm, arm == null ? null : variant);
            });
        }

        /// <summary>Enqueues a decision's "signal" event with its variant.</summary>
        internal static void SendSignal(Func<FillstreamDecision, string> pending, FillstreamDecision decision)
        {
            FillstreamClient client = FillstreamClient.Shared;
            if (client != null)
                client.Enqueue(pending(decision));
        }

        internal static void Warn(string message)
        {
            FillstreamClient client = FillstreamClient.Shared;
            if (client != null)
                client.Report(FillstreamLogLevel.Warning, message);
        }

        private static string NextToken()
        {
            Func<string> make = NewToken ?? RandomToken;
            string token = make();
            if (TokenIn(TokenMarker + token) != token || token.Length != TokenLength)
                throw new InvalidOperationException("a token must be 8 characters of 0-9 and a-z, was '" + token + "'");
            return token;
        }

        private static string RandomToken()
        {
            char[] chars = new char[TokenLength];
            lock (tokenGate)
                for (int i = 0; i < chars.Length; i++)
                    chars[i] = TokenAlphabet[tokenRandom.Next(TokenAlphabet.Length)];
            return new string(chars);
        }

        private static string DefaultRegistryPath()
        {
            try
            {
                return System.IO.Path.Combine(NinjaTrader.Core.Globals.UserDataDir, FillstreamLinkRegistry.FileName);
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>Reports a "signal" event. variant, account and features may be null; a NaN
        /// confidence and a stop or target of 0 or NaN are left out. Prefer Signal(...), which also
        /// links the executions.</summary>
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
        /// of 0 or NaN is left out. A bar the AddOn's market feed (or an earlier call) already sent
        /// for the instrument, period and time is not sent again.</summary>
        public static void Bar(Instrument instrument, string period, double open, double high, double low, double close,
            double volume, double bid, double ask, DateTime time)
        {
            FillstreamClient client = FillstreamSetup.SharedClient();
            if (client == null)
                return;
            try
            {
                FillstreamMarketFeed.Post(client, FillstreamEvents.InstrumentName(instrument), period, open, high, low, close,
                    volume, bid, ask, time);
            }
            catch (Exception e)
            {
                client.Report(FillstreamLogLevel.Error, "fillstream: bar not sent: " + e.Message);
            }
        }

        /// <summary>The experiment arm for this signal (POST /v1/assignments), waiting at most
        /// <paramref name="timeoutMs"/>; "control" when the bridge does not answer in time or at all.</summary>
        [Obsolete("blocks the calling thread (possibly NinjaTrader's UI thread) for up to its timeout; use Signal(...) and FillstreamDecision.Arm")]
        public static string Assign(string signalId, string strategy, int timeoutMs = 200)
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
