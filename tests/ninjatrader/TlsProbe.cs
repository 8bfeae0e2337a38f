// A driver for the TLS tests (tests/unit/bridge/test_ninjatrader_tls.py,
// tests/integration/test_bridge_tls.py), compiled with the AddOn's sources and the stubs:
//
//     mono TlsProbe.exe post <fillstream.config>   post one heartbeat through the AddOn's client
//                                                  (FillstreamClient over FillstreamHttpTransport,
//                                                  built as the AddOn builds it); prints what the
//                                                  client logged, then "outcome: sent" or
//                                                  "outcome: not sent"
//     mono TlsProbe.exe pin <certificate.der>...   the pin of each certificate (FillstreamPin.Of)
//     mono TlsProbe.exe config <fillstream.config> the pins the config holds and its warnings
//
// C# 5, like the AddOn.

using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using NinjaTrader.NinjaScript.AddOns;

namespace Fillstream.Tests
{
    public static class TlsProbe
    {
        public static int Main(string[] args)
        {
            string mode = args.Length > 1 ? args[0] : "";
            switch (mode)
            {
                case "post":
                    return Post(args[1]);
                case "pin":
                    for (int i = 1; i < args.Length; i++)
                    {
                        try
                        {
                            Console.WriteLine(FillstreamPin.Of(File.ReadAllBytes(args[i])));
                        }
                        catch (FormatException e)
                        {
                            Console.WriteLine("unreadable: " + e.Message);
                        }
                    }
                    return 0;
                case "config":
                    List<string> warnings = new List<string>();
                    FillstreamConfig config = FillstreamConfig.Load(args[1], warnings);
                    foreach (string pin in config.Pins)
                        Console.WriteLine("pin: " + pin);
                    foreach (string warning in warnings)
                        Console.WriteLine("warning: " + warning);
                    return 0;
                default:
                    Console.Error.WriteLine("usage: TlsProbe.exe post <fillstream.config> | pin <certificate.der>... | config <fillstream.config>");
                    return 2;
            }
        }

        private static int Post(string path)
        {
            List<string> warnings = new List<string>();
            FillstreamConfig config = FillstreamConfig.Load(path, warnings);
            foreach (string warning in warnings)
                Console.WriteLine("config: " + warning);
            ManualResetEvent failed = new ManualResetEvent(false);
            FillstreamClient client = new FillstreamClient(config, new FillstreamHttpTransport(config.Url, config.Token, config.Pins));
            client.RetryInitial = TimeSpan.FromMilliseconds(50);
            client.Log = delegate(string message, FillstreamLogLevel level)
            {
                lock (failed)
                    Console.WriteLine(level + ": " + message);
                if (level != FillstreamLogLevel.Information)
                    failed.Set();
            };
            client.EnqueueHeartbeat();
            client.Start();
            DateTime deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            bool sent = false;
            while (DateTime.UtcNow < deadline && !failed.WaitOne(20))
            {
                // Flush is also true once a refused batch is dropped, which logs an error first
                if (client.Flush(TimeSpan.Zero) && !failed.WaitOne(0))
                {
                    sent = true;
                    break;
                }
            }
            client.Stop(TimeSpan.FromMilliseconds(500));
            lock (failed)
                Console.WriteLine(sent ? "outcome: sent" : "outcome: not sent");
            return 0;
        }
    }
}
