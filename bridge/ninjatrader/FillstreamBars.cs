// Market context from the AddOn itself: closed bars of the excursion period for every instrument
// with an open position or in the configured list, posted as "bar" events.

using System;
using NinjaTrader.Cbi;

namespace NinjaTrader.NinjaScript.AddOns
{
    public static class FillstreamMarketFeed
    {
        public static void Start()
        {
        }

        public static void Stop()
        {
        }

        public static void OnPositionChanged(Account account, Instrument instrument, MarketPosition position)
        {
        }
    }
}
