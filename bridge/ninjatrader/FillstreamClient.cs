// fillstream client for NinjaTrader 8: the JSON writer, the configuration file, the bounded
// in-memory queue and the background worker that posts batches to the fillstream bridge.
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
using System.Text.RegularExpressions;
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
                    case "backfill":
                        if (value == "true" || value == "false")
                            config.Backfill = value == "true";
                        else
                            warnings.Add(where + ": must be true or false, was '" + value + "'");
                        break;
                    case "excursion_period": if (value.Length > 0) config.ExcursionPeriod = value; break;
                    case "bars_instruments": config.BarsInstruments = SplitAccounts(value); break;
                    case "pin": config.Pins = FillstreamPin.ParseList(value, where, warnings); break;
                    default:
                        warnings.Add(where + ": unknown key (known: url, token, pin, accounts, connection, heartbeat_seconds, queue_capacity, batch_size, batch_ms, backfill, excursion_period, bars_instruments)");
                        break;
                }
            }
            if (config.Pins.Count > 0 && !config.Url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                warnings.Add(FileName + ": pin is set but url is not https://; the pin is only checked over HTTPS");
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
    public sealed class FillstreamHttpTransport : IFillstreamTransport
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
            using (CancellationTokenSource cancel = new CancellationTokenSource(timeoutMilliseconds))
            using (StringContent content = new StringContent(body, new UTF8Encoding(false), "application/json"))
            {
                try
                {
                    using (HttpResponseMessage response = http.PostAsync(path.TrimStart('/'), content, cancel.Token).GetAwaiter().GetResult())
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

    /// <summary>Queues events and posts them to the bridge from one background thread, in
    /// batches, retrying with backoff while the bridge is unreachable. Enqueueing never blocks
    /// and never does I/O, so NinjaTrader's event threads are never held up.</summary>
    public sealed class FillstreamClient : IDisposable
    {
        public const string Producer = "fillstream-nt8-addon/0.1.0";
        public const string EventsPath = "/v1/events";
        public const string AssignmentsPath = "/v1/assignments";
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

        /// <summary>A top-level string field of a small JSON answer, unescaped; null when absent.</summary>
        public static string ReadStringField(string json, string name)
        {
            Match match = Regex.Match(json ?? "", "\"" + Regex.Escape(name) + "\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
            return match.Success ? Regex.Unescape(match.Groups[1].Value) : null;
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
