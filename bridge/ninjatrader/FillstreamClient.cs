// fillstream client for NinjaTrader 8: the JSON writer and reader, the configuration file, the
// bounded in-memory queue and the background worker that posts batches to the fillstream bridge,
// and the strategies' pre-trade gate (FillstreamGate.Decide) and the halts it reads.
//
// Nothing here touches NinjaTrader types, so it can be compiled and tested on its own.
// Written for C# 5 (the NinjaScript compiler): no string interpolation, no ?. operator.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Threading;

namespace NinjaTrader.NinjaScript.AddOns
{
    public enum FillstreamLogLevel
    {
        Information,
        Warning,
        Error
    }

    /// <summary>Settings read from fillstream.config (key=value lines, '#' comments).</summary>
    public sealed class FillstreamConfig
    {
        public const string FileName = "fillstream.config";

        public string Url = "http://127.0.0.1:8787";
        public string Token = "";
        /// <summary>Account names to capture; empty means every account.</summary>
        public List<string> Accounts = new List<string>();
        public int HeartbeatSeconds = 10;
        public int QueueCapacity = 100000;
        public int BatchSize = 500;
        public int BatchMilliseconds = 250;
        public bool Backfill = true;
        /// <summary>Pins of the bridge's certificate (pin=, see FillstreamPin); empty: the
        /// certificate must be trusted by the machine's certificate store.</summary>
        public List<string> Pins = new List<string>();
        public string Connection = "nt8-" + Environment.MachineName;
        /// <summary>The bar period the AddOn sends bars of (FillstreamMarketFeed), like the backend's
        /// FILLSTREAM_EXCURSION_PERIOD.</summary>
        public string ExcursionPeriod = "1 Minute";
        /// <summary>Instruments whose bars are sent even without an open position (full names).</summary>
        public List<string> BarsInstruments = new List<string>();
        /// <summary>Flatten a captured account's positions when the bridge's pre-trade gate halts it
        /// (GET /v1/halts); off by default: flattening places orders.</summary>
        public bool FlattenOnHalt = false;
        /// <summary>How often the AddOn reads the halts in force; 0: never.</summary>
        public int HaltPollSeconds = 5;

        public bool Includes(string accountName)
        {
            return Accounts.Count == 0 || Accounts.Contains(accountName);
        }

        /// <summary>Parses key=value lines; each problem is added to <paramref name="warnings"/>
        /// and the default kept.</summary>
        public static FillstreamConfig Parse(string text, ICollection<string> warnings)
        {
            FillstreamConfig config = new FillstreamConfig();
            string[] lines = (text ?? "").Split('\n');
            for (int i = 0; i < lines.Length; i++)
            {
                string line = lines[i].Trim();
                if (line.Length == 0 || line.StartsWith("#"))
                    continue;
                int equals = line.IndexOf('=');
                if (equals <= 0)
                {
                    warnings.Add(string.Format("{0} line {1}: expected key=value, was '{2}'", FileName, i + 1, line));
                    continue;
                }
                string key = line.Substring(0, equals).Trim().ToLowerInvariant();
                string value = line.Substring(equals + 1).Trim();
                string where = string.Format("{0} line {1}: {2}", FileName, i + 1, key);
                switch (key)
                {
                    case "url": config.Url = value.TrimEnd('/'); break;
                    case "token": config.Token = value; break;
                    case "accounts": config.Accounts = SplitAccounts(value); break;
                    case "connection": if (value.Length > 0) config.Connection = value; break;
                    case "heartbeat_seconds": config.HeartbeatSeconds = ParseInt(value, 1, 3600, config.HeartbeatSeconds, where, warnings); break;
                    case "queue_capacity": config.QueueCapacity = ParseInt(value, 1, 10000000, config.QueueCapacity, where, warnings); break;
                    case "batch_size": config.BatchSize = ParseInt(value, 1, 1000, config.BatchSize, where, warnings); break;
                    case "batch_ms": config.BatchMilliseconds = ParseInt(value, 0, 10000, config.BatchMilliseconds, where, warnings); break;
                    case "backfill": config.Backfill = ParseBool(value, config.Backfill, where, warnings); break;
                    case "flatten_on_halt": config.FlattenOnHalt = ParseBool(value, config.FlattenOnHalt, where, warnings); break;
                    case "halt_poll_seconds": config.HaltPollSeconds = ParseInt(value, 0, 3600, config.HaltPollSeconds, where, warnings); break;
                    case "excursion_period": if (value.Length > 0) config.ExcursionPeriod = value; break;
                    case "bars_instruments": config.BarsInstruments = SplitAccounts(value); break;
                    case "pin": config.Pins = FillstreamPin.ParseList(value, where, warnings); break;
                    default:
                        warnings.Add(where + ": unknown key (known: url, token, pin, accounts, connection, heartbeat_seconds, queue_capacity, batch_size, batch_ms, backfill, excursion_period, bars_instruments, flatten_on_halt, halt_poll_seconds)");
                        break;
                }
            }
            if (config.Pins.Count > 0 && !config.Url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                warnings.Add(FileName + ": pin is set but url is not https://; the pin is only checked over HTTPS");
            if (config.FlattenOnHalt && config.HaltPollSeconds == 0)
                warnings.Add(FileName + ": flatten_on_halt is true but halt_poll_seconds is 0, so halts are never read and nothing is flattened");
            return config;
        }

        public static FillstreamConfig Load(string path, ICollection<string> warnings)
        {
            return Parse(File.ReadAllText(path, Encoding.UTF8), warnings);
        }

        /// <summary>What a first start writes, so that only the token is left to fill in.</summary>
        public static string Template()
        {
            return "# fillstream bridge settings (key=value; lines starting with # are ignored)\r\n"
                + "url=http://127.0.0.1:8787\r\n"
                + "# a bridge on another machine: url=https://<its address>:8787 and the pin fillstream certs printed\r\n"
                + "# pin=sha256//...\r\n"
                + "# the bridge's bearer token (FILLSTREAM_TOKEN, or .fillstream/token on the bridge machine)\r\n"
                + "token=\r\n"
                + "# comma-separated account names; * or empty: every account\r\n"
                + "accounts=*\r\n"
                + "heartbeat_seconds=10\r\n"
                + "queue_capacity=100000\r\n"
                + "# connection=nt8-" + Environment.MachineName + "\r\n";
        }

        private static List<string> SplitAccounts(string value)
        {
            List<string> accounts = new List<string>();
            foreach (string part in value.Split(','))
            {
                string name = part.Trim();
                if (name == "*")
                    return new List<string>();
                if (name.Length > 0 && !accounts.Contains(name))
                    accounts.Add(name);
            }
            return accounts;
        }

        private static bool ParseBool(string value, bool fallback, string where, ICollection<string> warnings)
        {
            if (value == "true" || value == "false")
                return value == "true";
            warnings.Add(where + ": must be true or false, was '" + value + "'");
            return fallback;
        }

        private static int ParseInt(string value, int min, int max, int fallback, string where, ICollection<string> warnings)
        {
            int number;
            if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out number) && number >= min && number <= max)
                return number;
            warnings.Add(string.Format("{0}: must be a whole number from {1} to {2}, was '{3}'; using {4}", where, min, max, value, fallback));
            return fallback;
        }
    }

    /// <summary>A tiny JSON writer: invariant culture, decimals as strings, UTC timestamps with Z.</summary>
    public static class FillstreamJson
    {
        public const int MaxDecimalPlaces = 10;

        public static FillstreamJsonObject Object()
        {
            return new FillstreamJsonObject();
        }

        /// <summary>A JSON array of already-written JSON values (a batch body).</summary>
        public static string Array(IList<string> values)
        {
            StringBuilder builder = new StringBuilder();
            builder.Append('[');
            for (int i = 0; i < values.Count; i++)
            {
                if (i > 0)
                    builder.Append(',');
                builder.Append(values[i]);
            }
            return builder.Append(']').ToString();
        }

        public static string Quote(string value)
        {
            StringBuilder builder = new StringBuilder(value.Length + 2);
            AppendQuoted(builder, value);
            return builder.ToString();
        }

        public static void AppendQuoted(StringBuilder builder, string value)
        {
            builder.Append('"');
            foreach (char c in value)
            {
                switch (c)
                {
                    case '"': builder.Append("\\\""); break;
                    case '\\': builder.Append("\\\\"); break;
                    case '\n': builder.Append("\\n"); break;
                    case '\r': builder.Append("\\r"); break;
                    case '\t': builder.Append("\\t"); break;
                    case '\b': builder.Append("\\b"); break;
                    case '\f': builder.Append("\\f"); break;
                    default:
                        if (c < ' ' || c == '\u2028' || c == '\u2029')
                            builder.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                        else
                            builder.Append(c);
                        break;
                }
            }
            builder.Append('"');
        }

        /// <summary>A price or amount as a decimal string ("21000.25"), at most 10 places;
        /// null when the double is not a finite number.</summary>
        public static string Decimal(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value) || Math.Abs(value) >= 1e17)
                return null;
            // (decimal) keeps 15 significant digits, so 21000.25 stays 21000.25, not 21000.2500000000036
            decimal exact = Math.Round((decimal)value, MaxDecimalPlaces, MidpointRounding.AwayFromZero);
            return exact.ToString("0.##########", CultureInfo.InvariantCulture);
        }

        /// <summary>A JSON number for a double (shortest round-trip form); null when not finite.</summary>
        public static string Number(double value)
        {
            if (double.IsNaN(value) || double.IsInfinity(value))
                return null;
            return value.ToString("R", CultureInfo.InvariantCulture);
        }

        /// <summary>ISO 8601 in UTC with microseconds and Z. .NET ticks carry a 7th fractional
        /// digit, which is cut off: the bridge reads at most microseconds.</summary>
        public static string Timestamp(DateTime utc)
        {
            if (utc.Kind == DateTimeKind.Local)
                utc = utc.ToUniversalTime();
            return utc.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture);
        }
    }

    /// <summary>Builds one JSON object; fields are written in the order they are added, and a
    /// null or empty value leaves the field out.</summary>
    public sealed class FillstreamJsonObject
    {
        private readonly StringBuilder builder = new StringBuilder(256);
        private bool first = true;

        private StringBuilder Key(string name)
        {
            builder.Append(first ? '{' : ',');
            first = false;
            FillstreamJson.AppendQuoted(builder, name);
            return builder.Append(':');
        }

        public FillstreamJsonObject String(string name, string value)
        {
            if (!string.IsNullOrEmpty(value))
                FillstreamJson.AppendQuoted(Key(name), value);
            return this;
        }

        /// <summary>A string, or null when it is null or empty: for requests whose fields are all
        /// written (events leave absent values out, see String).</summary>
        public FillstreamJsonObject StringOrNull(string name, string value)
        {
            if (string.IsNullOrEmpty(value))
                Key(name).Append("null");
            else
                FillstreamJson.AppendQuoted(Key(name), value);
            return this;
        }

        /// <summary>A JSON number already written (FillstreamJson.Decimal or Number), or null when
        /// there is none.</summary>
        public FillstreamJsonObject NumberOrNull(string name, string number)
        {
            Key(name).Append(number ?? "null");
            return this;
        }

        public FillstreamJsonObject Integer(string name, long value)
        {
            Key(name).Append(value.ToString(CultureInfo.InvariantCulture));
            return this;
        }

        /// <summary>A decimal string; left out when null (see FillstreamJson.Decimal).</summary>
        public FillstreamJsonObject Decimal(string name, string value)
        {
            return String(name, value);
        }

        public FillstreamJsonObject Number(string name, double value)
        {
            string number = FillstreamJson.Number(value);
            if (number != null)
                Key(name).Append(number);
            return this;
        }

        public FillstreamJsonObject Strings(string name, IEnumerable<string> values)
        {
            StringBuilder b = Key(name).Append('[');
            bool firstItem = true;
            foreach (string value in values)
            {
                if (!firstItem)
                    b.Append(',');
                firstItem = false;
                FillstreamJson.AppendQuoted(b, value);
            }
            b.Append(']');
            return this;
        }

        /// <summary>An object of numbers; non-finite values are left out.</summary>
        public FillstreamJsonObject Numbers(string name, IDictionary<string, double> values)
        {
            if (values == null)
                return this;
            StringBuilder b = Key(name).Append('{');
            bool firstItem = true;
            foreach (KeyValuePair<string, double> pair in values)
            {
                string number = FillstreamJson.Number(pair.Value);
                if (number == null || string.IsNullOrEmpty(pair.Key))
                    continue;
                if (!firstItem)
                    b.Append(',');
                firstItem = false;
                FillstreamJson.AppendQuoted(b, pair.Key);
                b.Append(':').Append(number);
            }
            b.Append('}');
            return this;
        }

        public override string ToString()
        {
            return first ? "{}" : builder.ToString() + "}";
        }
    }

    /// <summary>Reads the bridge's small JSON answers: an object becomes a Dictionary of string to
    /// object, an array a List of object, a number a double, true and false a bool, null null.
    /// Only JSON is accepted, nested at most MaxDepth deep.</summary>
    public static class FillstreamJsonReader
    {
        public const int MaxDepth = 32;

        /// <summary>The object <paramref name="json"/> holds; null, with the problem, when it is not
        /// valid JSON or not an object.</summary>
        public static Dictionary<string, object> ReadObject(string json, out string problem)
        {
            problem = null;
            string text = json ?? "";
            try
            {
                int at = 0;
                object value = Value(text, ref at, 0);
                SkipSpace(text, ref at);
                if (at < text.Length)
                    throw Invalid(at, "more text after the value");
                Dictionary<string, object> found = value as Dictionary<string, object>;
                if (found == null)
                    problem = "not a JSON object";
                return found;
            }
            catch (FormatException e)
            {
                problem = e.Message;
                return null;
            }
        }

        /// <summary>The string field <paramref name="name"/>; null when absent, null or not a string.</summary>
        public static string GetString(IDictionary<string, object> json, string name)
        {
            return Get(json, name) as string;
        }

        /// <summary>The number field <paramref name="name"/>; null when absent or not a number.</summary>
        public static double? GetNumber(IDictionary<string, object> json, string name)
        {
            object value = Get(json, name);
            return value is double ? (double?)(double)value : null;
        }

        /// <summary>The whole-number field <paramref name="name"/> within int's range; null otherwise.</summary>
        public static int? GetInteger(IDictionary<string, object> json, string name)
        {
            double? number = GetNumber(json, name);
            if (number == null || number.Value != Math.Floor(number.Value) || Math.Abs(number.Value) > int.MaxValue)
                return null;
            return (int)number.Value;
        }

        public static bool? GetBool(IDictionary<string, object> json, string name)
        {
            object value = Get(json, name);
            return value is bool ? (bool?)(bool)value : null;
        }

        public static List<object> GetArray(IDictionary<string, object> json, string name)
        {
            return Get(json, name) as List<object>;
        }

        private static object Get(IDictionary<string, object> json, string name)
        {
            object value;
            return json != null && json.TryGetValue(name, out value) ? value : null;
        }

        private static object Value(string text, ref int at, int depth)
        {
            if (depth > MaxDepth)
                throw Invalid(at, "nested deeper than " + MaxDepth);
            SkipSpace(text, ref at);
            if (at >= text.Length)
                throw Invalid(at, "the text ends where a value should be");
            char c = text[at];
            switch (c)
            {
                case '{': return ObjectValue(text, ref at, depth);
                case '[': return ArrayValue(text, ref at, depth);
                case '"': return StringValue(text, ref at);
                case 't': Word(text, ref at, "true"); return true;
                case 'f': Word(text, ref at, "false"); return false;
                case 'n': Word(text, ref at, "null"); return null;
                default:
                    if (c == '-' || (c >= '0' && c <= '9'))
                        return NumberValue(text, ref at);
                    throw Invalid(at, "unexpected '" + c + "'");
            }
        }

        private static Dictionary<string, object> ObjectValue(string text, ref int at, int depth)
        {
            Dictionary<string, object> found = new Dictionary<string, object>(StringComparer.Ordinal);
            at++; // {
            SkipSpace(text, ref at);
            if (at < text.Length && text[at] == '}')
            {
                at++;
                return found;
            }
            while (true)
            {
                SkipSpace(text, ref at);
                if (at >= text.Length || text[at] != '"')
                    throw Invalid(at, "a name in quotes expected");
                string name = StringValue(text, ref at);
                SkipSpace(text, ref at);
                if (at >= text.Length || text[at] != ':')
                    throw Invalid(at, "':' expected");
                at++;
                found[name] = Value(text, ref at, depth + 1);
                if (Next(text, ref at, '}'))
                    return found;
            }
        }

        private static List<object> ArrayValue(string text, ref int at, int depth)
        {
            List<object> found = new List<object>();
            at++; // [
            SkipSpace(text, ref at);
            if (at < text.Length && text[at] == ']')
            {
                at++;
                return found;
            }
            while (true)
            {
                found.Add(Value(text, ref at, depth + 1));
                if (Next(text, ref at, ']'))
                    return found;
            }
        }

        /// <summary>After a member: true at the closing character, false at a comma.</summary>
        private static bool Next(string text, ref int at, char close)
        {
            SkipSpace(text, ref at);
            if (at < text.Length && (text[at] == ',' || text[at] == close))
                return text[at++] == close;
            throw Invalid(at, "',' or '" + close + "' expected");
        }

        private static string StringValue(string text, ref int at)
        {
            StringBuilder builder = new StringBuilder();
            at++; // "
            while (true)
            {
                if (at >= text.Length)
                    throw Invalid(at, "a string is not closed");
                char c = text[at++];
                if (c == '"')
                    return builder.ToString();
                if (c < ' ')
                    throw Invalid(at - 1, "a control character inside a string");
                if (c != '\\')
                {
                    builder.Append(c);
                    continue;
                }
                if (at >= text.Length)
                    throw Invalid(at, "a string is not closed");
                char escaped = text[at++];
                switch (escaped)
                {
                    case '"': builder.Append('"'); break;
                    case '\\': builder.Append('\\'); break;
                    case '/': builder.Append('/'); break;
                    case 'b': builder.Append('\b'); break;
                    case 'f': builder.Append('\f'); break;
                    case 'n': builder.Append('\n'); break;
                    case 'r': builder.Append('\r'); break;
                    case 't': builder.Append('\t'); break;
                    case 'u':
                        int code;
                        if (at + 4 > text.Length || !int.TryParse(text.Substring(at, 4), NumberStyles.AllowHexSpecifier,
                            CultureInfo.InvariantCulture, out code))
                            throw Invalid(at, "\\u needs four hex digits");
                        builder.Append((char)code);
                        at += 4;
                        break;
                    default:
                        throw Invalid(at - 1, "unknown escape '\\" + escaped + "'");
                }
            }
        }

        private static double NumberValue(string text, ref int at)
        {
            int start = at;
            while (at < text.Length && "+-0123456789.eE".IndexOf(text[at]) >= 0)
                at++;
            double number;
            string literal = text.Substring(start, at - start);
            if (!double.TryParse(literal, NumberStyles.Float, CultureInfo.InvariantCulture, out number)
                || double.IsInfinity(number))
                throw Invalid(start, "not a number: " + literal);
            return number;
        }

        private static void Word(string text, ref int at, string word)
        {
            if (string.CompareOrdinal(text, at, word, 0, word.Length) != 0)
                throw Invalid(at, "unexpected '" + text[at] + "'");
            at += word.Length;
        }

        private static void SkipSpace(string text, ref int at)
        {
            while (at < text.Length && (text[at] == ' ' || text[at] == '\t' || text[at] == '\n' || text[at] == '\r'))
                at++;
        }

        private static FormatException Invalid(int at, string what)
        {
            return new FormatException("invalid JSON at character " + at.ToString(CultureInfo.InvariantCulture) + ": " + what);
        }
    }

    /// <summary>Times to UTC. NinjaTrader reports times in the platform time zone
    /// (Tools > Options > General), as DateTimes of kind Unspecified.</summary>
    public static class FillstreamTime
    {
        public static DateTime ToUtc(DateTime time, TimeZoneInfo platformZone)
        {
            if (time.Kind == DateTimeKind.Utc)
                return time;
            if (time.Kind == DateTimeKind.Local || platformZone == null)
                return time.ToUniversalTime();
            DateTime unspecified = DateTime.SpecifyKind(time, DateTimeKind.Unspecified);
            if (platformZone.IsInvalidTime(unspecified)) // inside a spring-forward gap
                return DateTime.SpecifyKind(unspecified - platformZone.BaseUtcOffset, DateTimeKind.Utc);
            return TimeZoneInfo.ConvertTimeToUtc(unspecified, platformZone);
        }
    }

    public enum FillstreamDrop
    {
        None,
        OldestOther,
        Incoming,
        OldestExecution
    }

    /// <summary>A bounded FIFO of JSON events. When full it drops the oldest non-execution event
    /// (or the incoming one when it is not an execution); an execution is dropped only when the
    /// queue holds nothing but executions.</summary>
    public sealed class FillstreamQueue
    {
        private struct Entry
        {
            public long Sequence;
            public string Json;
        }

        private readonly object gate = new object();
        private readonly Queue<Entry> executions = new Queue<Entry>();
        private readonly Queue<Entry> others = new Queue<Entry>();
        private readonly int capacity;
        private long sequence;
        private int taken;
        private bool closed;

        public FillstreamQueue(int capacity)
        {
            this.capacity = Math.Max(1, capacity);
        }

        public int Count
        {
            get { lock (gate) return executions.Count + others.Count; }
        }

        /// <summary>Queued events plus those of the batch last taken by Take and not yet Done.</summary>
        public int Pending
        {
            get { lock (gate) return executions.Count + others.Count + taken; }
        }

        public FillstreamDrop Add(string json, bool isExecution)
        {
            lock (gate)
            {
                FillstreamDrop drop = FillstreamDrop.None;
                if (executions.Count + others.Count >= capacity)
                {
                    if (others.Count > 0)
                    {
                        others.Dequeue();
                        drop = FillstreamDrop.OldestOther;
                    }
                    else if (!isExecution)
                        return FillstreamDrop.Incoming;
                    else
                    {
                        executions.Dequeue();
                        drop = FillstreamDrop.OldestExecution;
                    }
                }
                Entry entry = new Entry { Sequence = ++sequence, Json = json };
                (isExecution ? executions : others).Enqueue(entry);
                Monitor.PulseAll(gate);
                return drop;
            }
        }

        /// <summary>The bridge refuses bodies over 1 MiB; 300,000 characters stay below it even
        /// when every character takes three bytes in UTF-8.</summary>
        public const int MaxBatchChars = 300000;

        /// <summary>Up to <paramref name="max"/> events in arrival order, without waiting.</summary>
        public List<string> TakeNow(int max)
        {
            lock (gate)
                return TakeLocked(max);
        }

        /// <summary>Waits for a first event, then up to <paramref name="lingerMs"/> more for the
        /// batch to fill; returns an empty list once closed.</summary>
        public List<string> Take(int max, int lingerMs)
        {
            lock (gate)
            {
                while (!closed && executions.Count + others.Count == 0)
                    Monitor.Wait(gate);
                if (closed)
                    return new List<string>();
                DateTime deadline = DateTime.UtcNow.AddMilliseconds(lingerMs);
                while (!closed && executions.Count + others.Count < max)
                {
                    TimeSpan left = deadline - DateTime.UtcNow;
                    if (left <= TimeSpan.Zero)
                        break;
                    Monitor.Wait(gate, left);
                }
                List<string> batch = TakeLocked(max);
                taken = batch.Count;
                return batch;
            }
        }

        /// <summary>The batch last taken by Take was sent or given up.</summary>
        public void Done()
        {
            lock (gate)
                taken = 0;
        }

        /// <summary>Wakes a waiting Take, which then returns nothing; TakeNow still drains.</summary>
        public void Close()
        {
            lock (gate)
            {
                closed = true;
                Monitor.PulseAll(gate);
            }
        }

        private List<string> TakeLocked(int max)
        {
            List<string> batch = new List<string>(Math.Min(max, executions.Count + others.Count));
            int chars = 2;
            while (batch.Count < max && executions.Count + others.Count > 0)
            {
                bool fromExecutions = others.Count == 0
                    || (executions.Count > 0 && executions.Peek().Sequence < others.Peek().Sequence);
                Queue<Entry> source = fromExecutions ? executions : others;
                chars += source.Peek().Json.Length + 1;
                if (batch.Count > 0 && chars > MaxBatchChars)
                    break;
                batch.Add(source.Dequeue().Json);
            }
            return batch;
        }
    }

    /// <summary>A bounded set of recently seen keys (execution ids: reconnects re-fire them).</summary>
    public sealed class FillstreamRecentSet
    {
        private readonly object gate = new object();
        private readonly HashSet<string> keys = new HashSet<string>(StringComparer.Ordinal);
        private readonly Queue<string> order = new Queue<string>();
        private readonly int capacity;

        public FillstreamRecentSet(int capacity)
        {
            this.capacity = Math.Max(1, capacity);
        }

        /// <summary>True the first time a key is seen (within the last capacity keys).</summary>
        public bool Add(string key)
        {
            lock (gate)
            {
                if (!keys.Add(key))
                    return false;
                order.Enqueue(key);
                if (order.Count > capacity)
                    keys.Remove(order.Dequeue());
                return true;
            }
        }
    }

    /// <summary>The bridge's answer; Status 0 means no answer (connection refused, timeout).</summary>
    public sealed class FillstreamResponse
    {
        public int Status;
        public string Body = "";
        public TimeSpan? RetryAfter;

        public FillstreamResponse(int status, string body)
        {
            Status = status;
            Body = body ?? "";
        }
    }

    public interface IFillstreamTransport : IDisposable
    {
        /// <summary>POSTs a JSON body to a path of the bridge; never throws.</summary>
        FillstreamResponse Post(string path, string body, int timeoutMilliseconds);
    }

    /// <summary>A transport that can also GET (the halts in force). Separate, so a transport that
    /// only posts keeps compiling; with one, the client reads no halts.</summary>
    public interface IFillstreamGetTransport : IFillstreamTransport
    {
        /// <summary>GETs a path of the bridge; never throws.</summary>
        FillstreamResponse Get(string path, int timeoutMilliseconds);
    }

    /// <summary>A pin of the bridge's certificate, as curl's --pinnedpubkey and HPKP write it:
    /// "sha256//" and the base64 SHA-256 of the certificate's SubjectPublicKeyInfo (DER), which
    /// `fillstream certs` prints. It names the key, so a certificate renewed with the same key
    /// keeps its pin.</summary>
    public static class FillstreamPin
    {
        public const string Prefix = "sha256//";

        /// <summary>The pin of a certificate (its DER bytes, X509Certificate.GetRawCertData()).</summary>
        public static string Of(byte[] certificate)
        {
            using (SHA256 sha = SHA256.Create())
                return Prefix + Convert.ToBase64String(sha.ComputeHash(SubjectPublicKeyInfo(certificate)));
        }

        /// <summary>The pin normalized (prefix in lower case), or null when it is not "sha256//"
        /// and the base64 of 32 bytes.</summary>
        public static string Normalize(string text)
        {
            text = (text ?? "").Trim();
            if (!text.StartsWith(Prefix, StringComparison.OrdinalIgnoreCase))
                return null;
            string digest = text.Substring(Prefix.Length);
            try
            {
                return Convert.FromBase64String(digest).Length == 32 ? Prefix + digest : null;
            }
            catch (FormatException)
            {
                return null;
            }
        }

        /// <summary>Pins separated by ';' (several while a key is being replaced); each bad one
        /// is added to <paramref name="warnings"/> and left out.</summary>
        public static List<string> ParseList(string value, string where, ICollection<string> warnings)
        {
            List<string> pins = new List<string>();
            foreach (string part in value.Split(';'))
            {
                if (part.Trim().Length == 0)
                    continue;
                string pin = Normalize(part);
                if (pin == null)
                    warnings.Add(where + ": must be sha256// and the base64 SHA-256 of the bridge's public key, as fillstream certs prints it; was '" + part.Trim() + "'");
                else if (!pins.Contains(pin))
                    pins.Add(pin);
            }
            return pins;
        }

        /// <summary>The SubjectPublicKeyInfo element of a DER certificate: Certificate is
        /// SEQUENCE { tbsCertificate SEQUENCE { [0] version OPTIONAL, serialNumber, signature,
        /// issuer, validity, subject, subjectPublicKeyInfo, ... }, ... }.</summary>
        public static byte[] SubjectPublicKeyInfo(byte[] der)
        {
            int offset = 0;
            Enter(der, ref offset, 0x30); // Certificate
            Enter(der, ref offset, 0x30); // tbsCertificate
            if (offset < der.Length && der[offset] == 0xA0)
                Skip(der, ref offset); // version
            for (int i = 0; i < 5; i++)
                Skip(der, ref offset); // serialNumber, signature, issuer, validity, subject
            int start = offset;
            if (start >= der.Length || der[start] != 0x30)
                throw new FormatException("no SubjectPublicKeyInfo where the certificate should hold it");
            Skip(der, ref offset);
            byte[] spki = new byte[offset - start];
            Array.Copy(der, start, spki, 0, spki.Length);
            return spki;
        }

        private static void Enter(byte[] der, ref int offset, byte tag)
        {
            if (offset >= der.Length || der[offset] != tag)
                throw new FormatException("not a DER certificate");
            offset++;
            Length(der, ref offset);
        }

        private static void Skip(byte[] der, ref int offset)
        {
            if (offset >= der.Length)
                throw new FormatException("the certificate ends early");
            offset++;
            int length = Length(der, ref offset);
            offset += length;
        }

        /// <summary>Reads a definite DER length at offset (which then points past it); the
        /// content must lie within the array.</summary>
        private static int Length(byte[] der, ref int offset)
        {
            if (offset >= der.Length)
                throw new FormatException("the certificate ends early");
            int first = der[offset++];
            int length = first;
            if (first >= 0x80)
            {
                int bytes = first & 0x7F;
                if (bytes == 0 || bytes > 3 || offset + bytes > der.Length)
                    throw new FormatException("a DER length the certificate cannot hold");
                length = 0;
                for (int i = 0; i < bytes; i++)
                    length = (length << 8) | der[offset++];
            }
            if (length > der.Length - offset)
                throw new FormatException("the certificate ends early");
            return length;
        }
    }

    /// <summary>Checks the bridge's certificate for one HttpClient (never process-wide: the
    /// ServicePointManager callback would change every connection NinjaTrader makes). With
    /// pins, only a certificate whose public key matches one is accepted, whoever signed it;
    /// without, the machine's usual validation decides (a self-signed certificate fails).</summary>
    public sealed class FillstreamCertificateCheck
    {
        private readonly List<string> pins;
        private string problem;

        public FillstreamCertificateCheck(IList<string> pins)
        {
            this.pins = pins == null ? new List<string>() : new List<string>(pins);
        }

        public bool Validate(HttpRequestMessage request, X509Certificate2 certificate, X509Chain chain, SslPolicyErrors errors)
        {
            string refused = Refusal(certificate == null ? null : certificate.RawData, errors);
            if (refused != null)
                problem = refused;
            return refused == null;
        }

        /// <summary>Why the certificate is refused, or null when it is accepted.</summary>
        public string Refusal(byte[] certificate, SslPolicyErrors errors)
        {
            if (pins.Count == 0)
            {
                if (errors == SslPolicyErrors.None)
                    return null;
                return "the bridge's TLS certificate is not trusted by this machine (" + errors + "); for a self-signed "
                    + "certificate add the pin= line fillstream certs printed to " + FillstreamConfig.FileName;
            }
            if (certificate == null)
                return "the bridge sent no TLS certificate";
            string pin;
            try
            {
                pin = FillstreamPin.Of(certificate);
            }
            catch (FormatException e)
            {
                return "the bridge's TLS certificate cannot be read (" + e.Message + ")";
            }
            if (pins.Contains(pin))
                return null;
            return "the bridge's TLS certificate (" + pin + ") does not match pin= in " + FillstreamConfig.FileName
                + "; refused (fillstream certs --show on the bridge's machine prints its pin)";
        }

        /// <summary>Why the last certificate was refused, once; null when none was.</summary>
        public string TakeProblem()
        {
            return Interlocked.Exchange(ref problem, null);
        }
    }

    /// <summary>HTTP with a bearer token; one HttpClient, so connections are reused and a
    /// restarted bridge is reconnected to transparently. An https:// url is checked by
    /// FillstreamCertificateCheck.</summary>
    public sealed class FillstreamHttpTransport : IFillstreamGetTransport
    {
        private readonly HttpClient http;
        private readonly FillstreamCertificateCheck certificateCheck;

        public FillstreamHttpTransport(string url, string token)
            : this(url, token, null)
        {
        }

        public FillstreamHttpTransport(string url, string token, IList<string> pins)
        {
            Uri baseUri = new Uri(url.TrimEnd('/') + "/");
            HttpClientHandler handler = new HttpClientHandler();
            if (baseUri.IsLoopback)
                handler.UseProxy = false;
            if (baseUri.Scheme == Uri.UriSchemeHttps)
            {
                certificateCheck = new FillstreamCertificateCheck(pins);
                handler.ServerCertificateCustomValidationCallback = certificateCheck.Validate;
            }
            http = new HttpClient(handler);
            http.BaseAddress = baseUri;
            http.Timeout = Timeout.InfiniteTimeSpan; // each request has its own deadline
            http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
            http.DefaultRequestHeaders.UserAgent.ParseAdd("fillstream-nt8-addon/0.1.0");
        }

        public FillstreamResponse Post(string path, string body, int timeoutMilliseconds)
        {
            using (StringContent content = new StringContent(body, new UTF8Encoding(false), "application/json"))
                return Send(HttpMethod.Post, path, content, timeoutMilliseconds);
        }

        public FillstreamResponse Get(string path, int timeoutMilliseconds)
        {
            return Send(HttpMethod.Get, path, null, timeoutMilliseconds);
        }

        private FillstreamResponse Send(HttpMethod method, string path, HttpContent content, int timeoutMilliseconds)
        {
            using (CancellationTokenSource cancel = new CancellationTokenSource(timeoutMilliseconds))
            using (HttpRequestMessage request = new HttpRequestMessage(method, path.TrimStart('/')))
            {
                request.Content = content;
                try
                {
                    using (HttpResponseMessage response = http.SendAsync(request, cancel.Token).GetAwaiter().GetResult())
                    {
                        string text = response.Content == null ? "" : response.Content.ReadAsStringAsync().GetAwaiter().GetResult();
                        FillstreamResponse answer = new FillstreamResponse((int)response.StatusCode, text);
                        RetryConditionHeaderValue retryAfter = response.Headers.RetryAfter;
                        if (retryAfter != null && retryAfter.Delta.HasValue)
                            answer.RetryAfter = retryAfter.Delta.Value;
                        return answer;
                    }
                }
                catch (Exception e) // refused, reset, DNS, timeout (TaskCanceledException)
                {
                    Exception inner = e;
                    while (inner.InnerException != null)
                        inner = inner.InnerException;
                    string reason = e is OperationCanceledException ? "no answer within " + timeoutMilliseconds + " ms" : inner.Message;
                    string refused = certificateCheck == null ? null : certificateCheck.TakeProblem();
                    return new FillstreamResponse(0, refused ?? reason);
                }
            }
        }

        public void Dispose()
        {
            http.Dispose();
        }
    }

    /// <summary>Which answers are worth retrying, and how long to wait before the next try.</summary>
    public static class FillstreamRetry
    {
        public static readonly TimeSpan Cap = TimeSpan.FromSeconds(30);

        /// <summary>No answer, 429 and 5xx are retried; any other 4xx is final.</summary>
        public static bool IsRetryable(int status)
        {
            return status == 0 || status == 429 || status >= 500;
        }

        public static bool IsSuccess(int status)
        {
            return status >= 200 && status < 300;
        }

        /// <summary>Exponential backoff from <paramref name="initial"/>, capped at 30 s, with
        /// "equal jitter": between half and all of the step, so clients do not retry in lockstep.</summary>
        public static TimeSpan Backoff(int attempt, TimeSpan initial, Random random)
        {
            double step = Math.Min(Cap.TotalMilliseconds, initial.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30)));
            return TimeSpan.FromMilliseconds(step / 2 + random.NextDouble() * step / 2);
        }
    }

    /// <summary>What Decide answers when the pre-trade gate gives no usable answer (no answer in
    /// time, a network failure, a 4xx or 5xx, an answer it cannot read, an invalid request).</summary>
    public enum FillstreamGateFailure
    {
        /// <summary>Deny: no entry without the gate's allow. The default.</summary>
        Closed,
        /// <summary>Allow the strategy's own quantity, as if there were no gate.</summary>
        Open
    }

    /// <summary>A proposed entry for the pre-trade gate (POST /v1/decisions).</summary>
    public sealed class FillstreamGateRequest
    {
        public const string Long = "long";
        public const string Short = "short";

        public string SignalId;
        /// <summary>The account's name (Account.Name).</summary>
        public string Account;
        /// <summary>The instrument's full name (Instrument.FullName).</summary>
        public string Instrument;
        public string Strategy;
        /// <summary>The experiment variant, or null.</summary>
        public string Variant;
        /// <summary>"long" or "short".</summary>
        public string Direction;
        public double EntryPrice;
        /// <summary>NaN or 0: none.</summary>
        public double IntendedStop = double.NaN;
        /// <summary>NaN or 0: none.</summary>
        public double IntendedTarget = double.NaN;
        /// <summary>From 0 to 1; NaN: none.</summary>
        public double Confidence = double.NaN;
        /// <summary>What the strategy would trade; more than 0.</summary>
        public int Quantity;

        /// <summary>Why the gate would refuse the request, or null when it is valid.</summary>
        public string Problem()
        {
            string direction = (Direction ?? "").Trim().ToLowerInvariant();
            string what = "decision " + (SignalId ?? "");
            if (string.IsNullOrEmpty(SignalId))
                return "decision: no signal id";
            if (string.IsNullOrEmpty(Account))
                return what + ": no account";
            if (string.IsNullOrEmpty(Instrument))
                return what + ": no instrument";
            if (string.IsNullOrEmpty(Strategy))
                return what + ": no strategy";
            if (direction != Long && direction != Short)
                return what + ": direction must be long or short, was '" + Direction + "'";
            if (!(EntryPrice > 0) || FillstreamJson.Decimal(EntryPrice) == null)
                return what + ": entry price must be positive, was " + EntryPrice.ToString(CultureInfo.InvariantCulture);
            if (IntendedStop < 0 || double.IsInfinity(IntendedStop))
                return what + ": intended stop must be positive (0 or NaN for none), was " + IntendedStop.ToString(CultureInfo.InvariantCulture);
            if (IntendedTarget < 0 || double.IsInfinity(IntendedTarget))
                return what + ": intended target must be positive (0 or NaN for none), was " + IntendedTarget.ToString(CultureInfo.InvariantCulture);
            if (!double.IsNaN(Confidence) && !(Confidence >= 0 && Confidence <= 1))
                return what + ": confidence must be from 0 to 1 (NaN for none), was " + Confidence.ToString(CultureInfo.InvariantCulture);
            if (Quantity <= 0)
                return what + ": quantity must be positive, was " + Quantity.ToString(CultureInfo.InvariantCulture);
            return null;
        }

        /// <summary>The request body: every field, null where there is no value; prices as JSON
        /// numbers written like the events' decimals (invariant, at most 10 places).</summary>
        public string ToJson()
        {
            return FillstreamJson.Object()
                .String("signal_id", SignalId)
                .String("account", Account)
                .String("instrument", Instrument)
                .String("strategy", Strategy)
                .StringOrNull("variant", Variant)
                .String("direction", (Direction ?? "").Trim().ToLowerInvariant())
                .NumberOrNull("entry_price", FillstreamJson.Decimal(EntryPrice))
                .NumberOrNull("intended_stop", PositiveDecimal(IntendedStop))
                .NumberOrNull("intended_target", PositiveDecimal(IntendedTarget))
                .NumberOrNull("confidence", FillstreamJson.Number(Confidence))
                .Integer("quantity", Quantity)
                .ToString();
        }

        private static string PositiveDecimal(double price)
        {
            return price > 0 ? FillstreamJson.Decimal(price) : null;
        }
    }

    /// <summary>The pre-trade gate's answer to Decide, or the failure policy's when the gate gave
    /// none (FromGate false, FailureReason says why).</summary>
    public sealed class FillstreamGateAnswer
    {
        private FillstreamGateAnswer(bool allowed, int quantity, string decisionId, IList<string> reasons, string raw,
            string failureReason)
        {
            Allowed = allowed;
            Quantity = quantity;
            DecisionId = decisionId;
            Reasons = new System.Collections.ObjectModel.ReadOnlyCollection<string>(reasons);
            Raw = raw;
            FailureReason = failureReason;
        }

        /// <summary>Enter, with Quantity.</summary>
        public bool Allowed { get; private set; }
        /// <summary>What to trade when allowed (the gate may size it down); 0 when denied.</summary>
        public int Quantity { get; private set; }
        /// <summary>The gate's id of the decision; null when the failure policy answered.</summary>
        public string DecisionId { get; private set; }
        /// <summary>"rule: reason" of every failing rule, also those in observe mode (which do not deny).</summary>
        public IList<string> Reasons { get; private set; }
        /// <summary>The bridge's answer as it came (also a 4xx or 5xx one); null when there was none.</summary>
        public string Raw { get; private set; }
        /// <summary>Why the failure policy answered; null when the gate did.</summary>
        public string FailureReason { get; private set; }

        public bool FromGate
        {
            get { return FailureReason == null; }
        }

        /// <summary>The answer to a response of POST /v1/decisions: the gate's when it answered 2xx
        /// with a decision, else the failure policy's.</summary>
        public static FillstreamGateAnswer FromResponse(FillstreamResponse response, int proposedQuantity,
            FillstreamGateFailure onFailure)
        {
            if (response.Status == 0)
                return FromPolicy(proposedQuantity, onFailure, "no answer from the gate (" + response.Body + ")", null);
            if (!FillstreamRetry.IsSuccess(response.Status))
                return FromPolicy(proposedQuantity, onFailure, Refusal(response), response.Body);
            string problem;
            Dictionary<string, object> answer = FillstreamJsonReader.ReadObject(response.Body, out problem);
            string decision = FillstreamJsonReader.GetString(answer, "decision");
            int? quantity = FillstreamJsonReader.GetInteger(answer, "quantity");
            if (problem == null && decision != "allow" && decision != "deny")
                problem = "decision must be allow or deny, was " + (decision ?? "missing");
            if (problem == null && decision == "allow" && !(quantity >= 0))
                problem = "an allow without a whole quantity";
            if (problem != null)
                return FromPolicy(proposedQuantity, onFailure, "the gate's answer could not be read: " + problem, response.Body);
            List<string> reasons = FailingRules(answer);
            bool allowed = decision == "allow" && quantity > 0;
            if (decision == "allow" && !allowed)
                reasons.Add("sizing: the gate allowed a quantity of 0");
            return new FillstreamGateAnswer(allowed, allowed ? quantity.Value : 0,
                FillstreamJsonReader.GetString(answer, "decision_id"), reasons, response.Body, null);
        }

        /// <summary>The failure policy's answer: Closed denies, Open allows the proposed quantity.</summary>
        public static FillstreamGateAnswer FromPolicy(int proposedQuantity, FillstreamGateFailure onFailure, string why,
            string raw)
        {
            bool allowed = onFailure == FillstreamGateFailure.Open && proposedQuantity > 0;
            return new FillstreamGateAnswer(allowed, allowed ? proposedQuantity : 0, null, new List<string>(), raw,
                why ?? "no reason given");
        }

        /// <summary>"allow 2", "deny 0 (daily_loss: ...)", "deny 0, fail-closed: no answer from the gate (...)".</summary>
        public override string ToString()
        {
            string head = (Allowed ? "allow " : "deny ") + Quantity.ToString(CultureInfo.InvariantCulture);
            if (!FromGate)
                return head + (Allowed ? ", fail-open: " : ", fail-closed: ") + FailureReason;
            return Reasons.Count == 0 ? head : head + " (" + string.Join("; ", Reasons) + ")";
        }

        private static List<string> FailingRules(Dictionary<string, object> answer)
        {
            List<string> reasons = new List<string>();
            List<object> rules = FillstreamJsonReader.GetArray(answer, "rules");
            if (rules == null)
                return reasons;
            foreach (object item in rules)
            {
                Dictionary<string, object> rule = item as Dictionary<string, object>;
                if (rule != null && FillstreamJsonReader.GetString(rule, "verdict") == "fail")
                    reasons.Add((FillstreamJsonReader.GetString(rule, "rule") ?? "?") + ": "
                        + (FillstreamJsonReader.GetString(rule, "reason") ?? ""));
            }
            return reasons;
        }

        /// <summary>"the gate refused the request (422): invalid ...; quantity: must be positive".</summary>
        private static string Refusal(FillstreamResponse response)
        {
            string ignored;
            Dictionary<string, object> answer = FillstreamJsonReader.ReadObject(response.Body, out ignored);
            List<string> parts = new List<string>();
            string error = FillstreamJsonReader.GetString(answer, "error");
            if (!string.IsNullOrEmpty(error))
                parts.Add(error);
            List<object> errors = FillstreamJsonReader.GetArray(answer, "errors");
            if (errors != null)
                foreach (object item in errors)
                {
                    Dictionary<string, object> field = item as Dictionary<string, object>;
                    if (field != null)
                        parts.Add(FillstreamJsonReader.GetString(field, "field") + ": " + FillstreamJsonReader.GetString(field, "reason"));
                }
            string detail = parts.Count > 0 ? string.Join("; ", parts)
                : response.Body.Length <= 300 ? response.Body : response.Body.Substring(0, 300) + "...";
            string status = response.Status.ToString(CultureInfo.InvariantCulture);
            if (response.Status >= 400 && response.Status < 500)
                return "the gate refused the request (" + status + "): " + detail;
            if (response.Status >= 500)
                return "the gate could not decide (" + status + "): " + detail;
            return "the gate answered " + status + ": " + detail;
        }
    }

    /// <summary>What strategies call: the pre-trade gate through the AddOn's client.</summary>
    public static class FillstreamGate
    {
        /// <summary>Asks the bridge's pre-trade gate whether to enter and with what quantity; see
        /// FillstreamClient.Decide. Without a running client (the AddOn has no token) the failure
        /// policy answers.</summary>
        public static FillstreamGateAnswer Decide(FillstreamGateRequest request,
            int timeoutMilliseconds = FillstreamClient.DecideTimeoutMilliseconds,
            FillstreamGateFailure onFailure = FillstreamGateFailure.Closed)
        {
            FillstreamClient client = FillstreamClient.Shared;
            if (client == null)
                return FillstreamGateAnswer.FromPolicy(request == null ? 0 : request.Quantity, onFailure,
                    "no fillstream client (the AddOn is not running, or " + FillstreamConfig.FileName + " has no token)", null);
            return client.Decide(request, timeoutMilliseconds, onFailure);
        }
    }

    /// <summary>A halt in force at the bridge's pre-trade gate (GET /v1/halts); a null account,
    /// strategy or instrument means every one.</summary>
    public sealed class FillstreamHalt
    {
        public string HaltId;
        public string Account;
        public string Strategy;
        public string Instrument;
        public string Rule;
        public string Reason;
        /// <summary>ISO 8601 UTC, as the bridge wrote it.</summary>
        public string Since;

        public bool AppliesTo(string accountName)
        {
            return Account == null || Account == accountName;
        }

        /// <summary>The halts of an answer of GET /v1/halts; null, with the problem, when it cannot
        /// be read. A halt without a halt_id is left out: it could not be acted on only once.</summary>
        public static List<FillstreamHalt> ReadAll(string json, out string problem)
        {
            Dictionary<string, object> answer = FillstreamJsonReader.ReadObject(json, out problem);
            if (answer == null)
                return null;
            List<object> items = FillstreamJsonReader.GetArray(answer, "halts");
            if (items == null)
            {
                problem = "no \"halts\" array in the answer";
                return null;
            }
            List<FillstreamHalt> halts = new List<FillstreamHalt>();
            foreach (object item in items)
            {
                Dictionary<string, object> halt = item as Dictionary<string, object>;
                string id = FillstreamJsonReader.GetString(halt, "halt_id");
                if (string.IsNullOrEmpty(id))
                    continue;
                halts.Add(new FillstreamHalt
                {
                    HaltId = id,
                    Account = NonEmpty(FillstreamJsonReader.GetString(halt, "account")),
                    Strategy = NonEmpty(FillstreamJsonReader.GetString(halt, "strategy")),
                    Instrument = NonEmpty(FillstreamJsonReader.GetString(halt, "instrument")),
                    Rule = FillstreamJsonReader.GetString(halt, "rule") ?? "",
                    Reason = FillstreamJsonReader.GetString(halt, "reason") ?? "",
                    Since = FillstreamJsonReader.GetString(halt, "since"),
                });
            }
            return halts;
        }

        private static string NonEmpty(string value)
        {
            return string.IsNullOrEmpty(value) ? null : value;
        }
    }

    /// <summary>Queues events and posts them to the bridge from one background thread, in
    /// batches, retrying with backoff while the bridge is unreachable. Enqueueing never blocks
    /// and never does I/O, so NinjaTrader's event threads are never held up.</summary>
    public sealed class FillstreamClient : IDisposable
    {
        public const string Producer = "fillstream-nt8-addon/0.1.0";
        public const string EventsPath = "/v1/events";
        public const string AssignmentsPath = "/v1/assignments";
        public const string DecisionsPath = "/v1/decisions";
        public const string HaltsPath = "/v1/halts";
        /// <summary>How long Decide waits for the gate unless told otherwise.</summary>
        public const int DecideTimeoutMilliseconds = 250;
        /// <summary>The longest Decide waits, whatever it is told.</summary>
        public const int MaxDecideTimeoutMilliseconds = 10000;
        private const int PostTimeoutMilliseconds = 10000;

        private static readonly object sharedGate = new object();
        private static FillstreamClient shared;

        private readonly FillstreamConfig config;
        private readonly IFillstreamTransport transport;
        private readonly FillstreamQueue queue;
        private readonly ManualResetEvent stopping = new ManualResetEvent(false);
        private readonly Random random = new Random();
        private readonly object accountsGate = new object();
        private string[] accounts = new string[0];
        private Thread worker;
        private Timer heartbeatTimer;
        private int heartbeatSequence;
        private long dropped;
        private DateTime lastDropWarning = DateTime.MinValue;
        private DateTime lastGateWarning = DateTime.MinValue;

        /// <summary>Where messages go (the AddOn routes them to NinjaTrader's Print and Log).</summary>
        public Action<string, FillstreamLogLevel> Log = DefaultLog;
        /// <summary>The clock for events NinjaTrader gives no time for (positions, signals, heartbeats).</summary>
        public Func<DateTime> UtcNow = DefaultUtcNow;
        /// <summary>First retry delay; doubles per attempt up to 30 s.</summary>
        public TimeSpan RetryInitial = TimeSpan.FromMilliseconds(500);

        public FillstreamClient(FillstreamConfig config, IFillstreamTransport transport)
        {
            this.config = config;
            this.transport = transport;
            queue = new FillstreamQueue(config.QueueCapacity);
        }

        public FillstreamConfig Config
        {
            get { return config; }
        }

        public int QueueDepth
        {
            get { return queue.Count; }
        }

        public long Dropped
        {
            get { return Interlocked.Read(ref dropped); }
        }

        /// <summary>The client shared by the AddOn and strategies (null until started).</summary>
        public static FillstreamClient Shared
        {
            get { lock (sharedGate) return shared; }
        }

        /// <summary>The shared client, created and started by <paramref name="create"/> when there
        /// is none yet; null when <paramref name="create"/> returns null.</summary>
        public static FillstreamClient EnsureShared(Func<FillstreamClient> create)
        {
            lock (sharedGate)
            {
                if (shared == null)
                {
                    shared = create();
                    if (shared != null)
                        shared.Start();
                }
                return shared;
            }
        }

        /// <summary>Makes <paramref name="client"/> the shared one without starting it (tests).</summary>
        public static void InstallShared(FillstreamClient client)
        {
            lock (sharedGate)
                shared = client;
        }

        /// <summary>Stops the shared client, sending what is queued for up to two seconds.</summary>
        public static void ShutdownShared()
        {
            FillstreamClient client;
            lock (sharedGate)
            {
                client = shared;
                shared = null;
            }
            if (client != null)
                client.Dispose();
        }

        public void SetAccounts(IEnumerable<string> names)
        {
            List<string> sorted = new List<string>();
            foreach (string name in names)
                if (!string.IsNullOrEmpty(name) && !sorted.Contains(name))
                    sorted.Add(name);
            sorted.Sort(StringComparer.Ordinal);
            lock (accountsGate)
                accounts = sorted.ToArray();
        }

        public void Enqueue(string json)
        {
            Add(json, false);
        }

        public void EnqueueExecution(string json)
        {
            Add(json, true);
        }

        public void EnqueueHeartbeat()
        {
            Enqueue(HeartbeatJson());
        }

        /// <summary>The next heartbeat: connection, accounts, a sequence number counting the
        /// heartbeats of this client, and how many events wait in the queue.</summary>
        public string HeartbeatJson()
        {
            string[] names;
            lock (accountsGate)
                names = accounts;
            return FillstreamJson.Object()
                .String("type", "heartbeat")
                .String("ts_event", FillstreamJson.Timestamp(UtcNow()))
                .String("source", "live")
                .String("producer", Producer)
                .String("connection", config.Connection)
                .Strings("accounts", names)
                .Integer("sequence", Interlocked.Increment(ref heartbeatSequence))
                .Integer("queue_depth", queue.Count)
                .ToString();
        }

        /// <summary>The next batch body as it would be posted, or null when nothing is queued.</summary>
        public string TakeBatchBody()
        {
            List<string> batch = queue.TakeNow(config.BatchSize);
            return batch.Count == 0 ? null : FillstreamJson.Array(batch);
        }

        public void Start()
        {
            if (worker != null)
                return;
            worker = new Thread(Run);
            worker.IsBackground = true; // never keeps NinjaTrader from exiting
            worker.Name = "fillstream bridge client";
            worker.Start();
            TimeSpan every = TimeSpan.FromSeconds(config.HeartbeatSeconds);
            heartbeatTimer = new Timer(OnHeartbeatTimer, null, every, every);
            Report(FillstreamLogLevel.Information, "fillstream: posting to " + config.Url + " as " + config.Connection);
        }

        /// <summary>True once everything queued so far has been posted (or dropped).</summary>
        public bool Flush(TimeSpan timeout)
        {
            DateTime deadline = DateTime.UtcNow + timeout;
            while (queue.Pending > 0)
            {
                if (DateTime.UtcNow >= deadline)
                    return false;
                Thread.Sleep(10);
            }
            return true;
        }

        /// <summary>Stops the heartbeat and the worker; what is still queued gets one last
        /// attempt each, for up to <paramref name="flushTimeout"/>.</summary>
        public void Stop(TimeSpan flushTimeout)
        {
            if (heartbeatTimer != null)
            {
                heartbeatTimer.Dispose();
                heartbeatTimer = null;
            }
            if (worker == null)
                return;
            stopping.Set();
            queue.Close();
            worker.Join(flushTimeout + TimeSpan.FromSeconds(1));
            worker = null;
            DateTime deadline = DateTime.UtcNow + flushTimeout;
            while (DateTime.UtcNow < deadline)
            {
                List<string> batch = queue.TakeNow(config.BatchSize);
                if (batch.Count == 0)
                    break;
                FillstreamResponse response = transport.Post(EventsPath, FillstreamJson.Array(batch), 1000);
                if (!FillstreamRetry.IsSuccess(response.Status))
                    break;
            }
            int left = queue.Count;
            if (left > 0)
                Report(FillstreamLogLevel.Warning, "fillstream: stopped with " + left + " events not sent (bridge unreachable)");
        }

        public void Dispose()
        {
            Stop(TimeSpan.FromSeconds(2));
            transport.Dispose();
        }

        /// <summary>The bridge's JSON answer to POST /v1/assignments (arm, and the experiment's
        /// variant name), waiting at most <paramref name="timeoutMilliseconds"/>; null on any failure.
        /// FillstreamSignals.Signal calls it from a background thread.</summary>
        public string AssignmentAnswer(string signalId, string strategy, int timeoutMilliseconds)
        {
            try
            {
                string body = FillstreamJson.Object().String("signal_id", signalId).String("strategy", strategy).ToString();
                FillstreamResponse response = transport.Post(AssignmentsPath, body, timeoutMilliseconds);
                return FillstreamRetry.IsSuccess(response.Status) ? response.Body : null;
            }
            catch (Exception)
            {
                return null;
            }
        }

        /// <summary>Asks the bridge which experiment arm runs this signal, waiting at most
        /// <paramref name="timeoutMilliseconds"/>; "control" on any failure.</summary>
        public string Assign(string signalId, string strategy, int timeoutMilliseconds)
        {
            const string fallback = "control";
            try
            {
                string body = FillstreamJson.Object().String("signal_id", signalId).String("strategy", strategy).ToString();
                FillstreamResponse response = transport.Post(AssignmentsPath, body, timeoutMilliseconds);
                if (!FillstreamRetry.IsSuccess(response.Status))
                    return fallback;
                string arm = ReadStringField(response.Body, "arm");
                return string.IsNullOrEmpty(arm) ? fallback : arm;
            }
            catch (Exception)
            {
                return fallback;
            }
        }

        /// <summary>A top-level string field of a small JSON answer, unescaped; null when absent or
        /// when the answer is not a JSON object.</summary>
        public static string ReadStringField(string json, string name)
        {
            string ignored;
            return FillstreamJsonReader.GetString(FillstreamJsonReader.ReadObject(json, out ignored), name);
        }

        /// <summary>Asks the bridge's pre-trade gate (POST /v1/decisions) whether to enter and with
        /// what quantity, blocking the calling thread for at most <paramref name="timeoutMilliseconds"/>
        /// (0 or less: DecideTimeoutMilliseconds; never more than MaxDecideTimeoutMilliseconds).
        /// Never throws: without a usable answer (none in time, a network failure, a 4xx or 5xx, an
        /// unreadable answer, an invalid request, which is not sent) <paramref name="onFailure"/>
        /// answers, and FailureReason says why.</summary>
        public FillstreamGateAnswer Decide(FillstreamGateRequest request, int timeoutMilliseconds = DecideTimeoutMilliseconds,
            FillstreamGateFailure onFailure = FillstreamGateFailure.Closed)
        {
            int proposed = request == null ? 0 : request.Quantity;
            FillstreamGateAnswer answer;
            try
            {
                string problem = request == null ? "decision: no request" : request.Problem();
                if (problem != null)
                    answer = FillstreamGateAnswer.FromPolicy(proposed, onFailure, "not asked, invalid request: " + problem, null);
                else
                {
                    int timeout = timeoutMilliseconds <= 0 ? DecideTimeoutMilliseconds
                        : Math.Min(timeoutMilliseconds, MaxDecideTimeoutMilliseconds);
                    answer = FillstreamGateAnswer.FromResponse(transport.Post(DecisionsPath, request.ToJson(), timeout),
                        proposed, onFailure);
                }
            }
            catch (Exception e)
            {
                answer = FillstreamGateAnswer.FromPolicy(proposed, onFailure, "the gate could not be asked: " + e.Message, null);
            }
            if (!answer.FromGate)
                WarnGateFailure(request == null ? null : request.SignalId, answer);
            return answer;
        }

        /// <summary>The halts in force (GET /v1/halts), waiting at most
        /// <paramref name="timeoutMilliseconds"/>; null, with the problem, when the bridge gives none.</summary>
        public List<FillstreamHalt> Halts(int timeoutMilliseconds, out string problem)
        {
            try
            {
                IFillstreamGetTransport getter = transport as IFillstreamGetTransport;
                if (getter == null)
                {
                    problem = "the transport cannot GET";
                    return null;
                }
                FillstreamResponse response = getter.Get(HaltsPath, timeoutMilliseconds);
                if (FillstreamRetry.IsSuccess(response.Status))
                    return FillstreamHalt.ReadAll(response.Body, out problem);
                problem = response.Status == 0 ? response.Body
                    : response.Status == 404 ? "HTTP 404: the bridge serves no " + HaltsPath + " (older than the AddOn?)"
                    : "HTTP " + response.Status.ToString(CultureInfo.InvariantCulture) + ": " + Shorten(response.Body);
                return null;
            }
            catch (Exception e)
            {
                problem = e.Message;
                return null;
            }
        }

        private void Add(string json, bool isExecution)
        {
            if (json == null)
                return;
            FillstreamDrop drop = queue.Add(json, isExecution);
            if (drop == FillstreamDrop.None)
                return;
            long total = Interlocked.Increment(ref dropped);
            DateTime now = DateTime.UtcNow;
            bool executionLost = drop == FillstreamDrop.OldestExecution;
            // one warning per minute: excessive Log() calls cost NinjaTrader memory
            if (!executionLost && now - lastDropWarning < TimeSpan.FromMinutes(1))
                return;
            lastDropWarning = now;
            Report(executionLost ? FillstreamLogLevel.Error : FillstreamLogLevel.Warning, string.Format(
                "fillstream: queue full ({0} events, bridge unreachable?): dropped {1} ({2} dropped so far){3}",
                config.QueueCapacity,
                executionLost ? "the oldest execution" : drop == FillstreamDrop.Incoming ? "a new non-execution event" : "the oldest non-execution event",
                total,
                executionLost ? "; import NinjaTrader's Executions grid later to fill the gap" : ""));
        }

        /// <summary>At most one warning a minute: a strategy may ask on every bar.</summary>
        private void WarnGateFailure(string signalId, FillstreamGateAnswer answer)
        {
            DateTime now = DateTime.UtcNow;
            if (now - lastGateWarning < TimeSpan.FromMinutes(1))
                return;
            lastGateWarning = now;
            Report(FillstreamLogLevel.Warning, "fillstream: the pre-trade gate did not decide signal " + (signalId ?? "?")
                + ": " + answer.FailureReason + (answer.Allowed ? "; fail-open: allowed " + answer.Quantity : "; fail-closed: denied"));
        }

        private void OnHeartbeatTimer(object state)
        {
            try
            {
                EnqueueHeartbeat();
            }
            catch (Exception e)
            {
                Report(FillstreamLogLevel.Error, "fillstream: heartbeat failed: " + e.Message);
            }
        }

        private void Run()
        {
            while (!stopping.WaitOne(0))
            {
                try
                {
                    List<string> batch = queue.Take(config.BatchSize, config.BatchMilliseconds);
                    if (batch.Count == 0)
                        continue;
                    try
                    {
                        Send(batch);
                    }
                    finally
                    {
                        queue.Done();
                    }
                }
                catch (ThreadAbortException)
                {
                    throw; // NinjaTrader (or the runtime) is unloading: end quietly
                }
                catch (Exception e) // a bug must not end the thread silently
                {
                    Report(FillstreamLogLevel.Error, "fillstream: worker error: " + e);
                    stopping.WaitOne(1000);
                }
            }
        }

        private void Send(List<string> batch)
        {
            string body = FillstreamJson.Array(batch);
            for (int attempt = 0; ; attempt++)
            {
                FillstreamResponse response = transport.Post(EventsPath, body, PostTimeoutMilliseconds);
                if (FillstreamRetry.IsSuccess(response.Status))
                {
                    if (attempt > 0)
                        Report(FillstreamLogLevel.Information, string.Format("fillstream: bridge reachable again; sent {0} events after {1} retries", batch.Count, attempt));
                    return;
                }
                if (!FillstreamRetry.IsRetryable(response.Status))
                {
                    string hint = response.Status == 401 ? " (check token= in " + FillstreamConfig.FileName + ")" : "";
                    Report(FillstreamLogLevel.Error, string.Format("fillstream: the bridge refused {0} events with {1}{2}; dropped them: {3}",
                        batch.Count, response.Status, hint, Shorten(response.Body)));
                    return;
                }
                TimeSpan delay = FillstreamRetry.Backoff(attempt, RetryInitial, random);
                if (response.RetryAfter.HasValue && response.RetryAfter.Value > delay)
                    delay = response.RetryAfter.Value < FillstreamRetry.Cap ? response.RetryAfter.Value : FillstreamRetry.Cap;
                if (attempt == 0)
                    Report(FillstreamLogLevel.Warning, string.Format("fillstream: bridge at {0} did not take {1} events ({2}); retrying with backoff, {3} more queued",
                        config.Url, batch.Count, response.Status == 0 ? response.Body : "HTTP " + response.Status, queue.Count));
                if (stopping.WaitOne(delay))
                {
                    // shutting down: one last try, then give up on this batch
                    if (!FillstreamRetry.IsSuccess(transport.Post(EventsPath, body, 1000).Status))
                        Report(FillstreamLogLevel.Warning, "fillstream: stopped with " + batch.Count + " unsent events");
                    return;
                }
            }
        }

        /// <summary>Sends a message to <see cref="Log"/>; never throws.</summary>
        public void Report(FillstreamLogLevel level, string message)
        {
            try
            {
                Action<string, FillstreamLogLevel> log = Log;
                if (log != null)
                    log(message, level);
            }
            catch (Exception)
            {
                // logging must never break the client
            }
        }

        private static string Shorten(string text)
        {
            text = (text ?? "").Replace('\r', ' ').Replace('\n', ' ');
            return text.Length <= 2000 ? text : text.Substring(0, 2000) + "...";
        }

        private static void DefaultLog(string message, FillstreamLogLevel level)
        {
            System.Diagnostics.Trace.WriteLine(level + ": " + message);
        }

        private static DateTime DefaultUtcNow()
        {
            return DateTime.UtcNow;
        }
    }
}
