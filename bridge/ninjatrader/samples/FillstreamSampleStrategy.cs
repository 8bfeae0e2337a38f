// A sample NinjaScript strategy using every part of the fillstream strategy API: one decision per
// signal (FillstreamSignals.Signal) with a stop and a target, the experiment arm chosen by the bridge
// (the treatment runs a wider stop), entries named so that every execution is linked to its signal,
// variant and trade, an exit placed from the signal, and bars (FillstreamSignals.Bar; the AddOn's
// market feed sends the same bars once, whichever comes first).
//
// The trading rule is deliberately simple (a breakout of the last five bars' range, one position at
// a time, out after TimeExitBars bars if neither stop nor target was hit); it shows the plumbing, it
// is not advice. Install: copy this file to Documents\NinjaTrader 8\bin\Custom\Strategies next to the
// AddOn's files and compile (F5). An experiment for it is sample-wide-stop.toml next to this file:
//   fillstream experiments create --config sample-wide-stop.toml

using System;
using System.Collections.Generic;
using NinjaTrader.Cbi;
using NinjaTrader.NinjaScript.AddOns;

namespace NinjaTrader.NinjaScript.Strategies
{
    public class FillstreamSampleStrategy : Strategy
    {
        public const string ControlVariant = "tight-stop";
        public const string TreatmentVariant = "wide-stop";

        private FillstreamDecision waiting; // signalled, arm not known yet
        private FillstreamDecision current; // its entry is placed
        private int entryBar;

        /// <summary>The stop, in ticks, of the control arm and of the treatment arm.</summary>
        public int StopTicks { get; set; }
        public int TreatmentStopTicks { get; set; }
        public int TargetTicks { get; set; }
        public int Quantity { get; set; }
        public int TimeExitBars { get; set; }
        /// <summary>Bars to wait for the assignment before running control without it.</summary>
        public int MaxWaitBars { get; set; }

        protected override void OnStateChange()
        {
            if (State == State.SetDefaults)
            {
                Name = "FillstreamSample";
                Description = "Breakout sample reporting signals, arms and bars to fillstream.";
                Calculate = Calculate.OnBarClose;
                EntriesPerDirection = 1;
                EntryHandling = EntryHandling.UniqueEntries;
                StopTicks = 12;
                TreatmentStopTicks = 20;
                TargetTicks = 24;
                Quantity = 2;
                TimeExitBars = 15;
                MaxWaitBars = 2;
            }
        }

        protected override void OnBarUpdate()
        {
            if (BarsPeriod != null)
                FillstreamSignals.Bar(Instrument, BarsPeriod.Value + " " + BarsPeriod.BarsPeriodType, Open[0], High[0], Low[0],
                    Close[0], Volume[0], 0, 0, Time[0]);
            if (CurrentBar < 5)
                return;

            if (waiting != null)
            {
                // the arm is asked for in the background; run control if it takes too long
                if (waiting.IsAssigned || CurrentBar - entryBar >= MaxWaitBars)
                    Enter(waiting);
                return;
            }

            if (Position.MarketPosition != MarketPosition.Flat)
            {
                if (current != null && CurrentBar - entryBar >= TimeExitBars)
                {
                    if (Position.MarketPosition == MarketPosition.Long)
                        ExitLong(Position.Quantity, "Time exit", current.EntryName);
                    else
                        ExitShort(Position.Quantity, "Time exit", current.EntryName);
                    current = null;
                }
                return;
            }

            double highest = Math.Max(Math.Max(High[1], High[2]), Math.Max(Math.Max(High[3], High[4]), High[5]));
            double lowest = Math.Min(Math.Min(Low[1], Low[2]), Math.Min(Math.Min(Low[3], Low[4]), Low[5]));
            MarketPosition direction = Close[0] > highest ? MarketPosition.Long
                : Close[0] < lowest ? MarketPosition.Short : MarketPosition.Flat;
            if (direction == MarketPosition.Flat)
                return;

            double sign = direction == MarketPosition.Long ? 1 : -1;
            double range = highest - lowest;
            Dictionary<string, double> features = new Dictionary<string, double>();
            features.Add("range_5", range);
            features.Add("breakout_ticks", Math.Round(sign * (Close[0] - (sign > 0 ? highest : lowest)) / TickSize));
            features.Add("bar_volume", Volume[0]);
            double confidence = Math.Round(Math.Min(0.95, 0.5 + range / (100 * TickSize)), 2);
            string signalId = Name + "-" + Time[0].ToString("yyyyMMdd-HHmm", System.Globalization.CultureInfo.InvariantCulture);
            waiting = FillstreamSignals.Signal(Name, Instrument, Account, signalId, direction, confidence,
                Close[0] - sign * StopTicks * TickSize, Close[0] + sign * TargetTicks * TickSize,
                Close[0] - sign * TreatmentStopTicks * TickSize, Close[0] + sign * TargetTicks * TickSize,
                features, direction == MarketPosition.Long ? "Breakout long" : "Breakout short");
            entryBar = CurrentBar;
            if (waiting.IsAssigned)
                Enter(waiting);
        }

        private void Enter(FillstreamDecision decision)
        {
            if (!decision.IsAssigned)
                decision.ArmNow(); // control, and the signal is reported as such
            // the treatment's wider stop, or the control's: the decision knows its arm's prices
            SetStopLoss(decision.EntryName, CalculationMode.Price, decision.IntendedStop, false);
            SetProfitTarget(decision.EntryName, CalculationMode.Price, decision.IntendedTarget);
            if (decision.Direction == MarketPosition.Long)
                EnterLong(Quantity, decision.EntryName);
            else
                EnterShort(Quantity, decision.EntryName);
            Print(string.Format("{0}: {1} {2} ({3}), stop {4}, target {5}", decision.SignalId, decision.Direction,
                decision.EntryName, decision.Variant ?? decision.Arm, decision.IntendedStop, decision.IntendedTarget));
            waiting = null;
            current = decision;
            entryBar = CurrentBar;
        }
    }
}
