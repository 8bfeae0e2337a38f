import { render, screen, within } from "@testing-library/react";
import { RuleRow } from "./Gate";
import type { GateRuleValue } from "../api";

const helps: GateRuleValue = {
  rule: "confidence",
  kind: "min_confidence",
  mode: "enforce",
  failed: { signals: 21, with_outcome: 20, mean: -52.75, ci_low: -115.3, ci_high: 8.1, win_rate: 0.3, total: "-1055.00" },
  passed: { signals: 140, with_outcome: 131, mean: 27.35, ci_low: 5.2, ci_high: 49.9, win_rate: 0.55, total: "3582.85" },
  difference: { mean: -80.1, ci_low: -150.2, ci_high: -11.9 },
};

function row(value: GateRuleValue) {
  render(
    <table>
      <tbody>
        <RuleRow value={value} />
      </tbody>
    </table>,
  );
  return within(screen.getByRole("row", { name: new RegExp(value.rule) }));
}

describe("a rule of the gate report", () => {
  it("sets the failed signals' mean and interval beside the passed ones'", () => {
    const cells = row(helps);
    expect(cells.getByRole("rowheader").textContent).toBe("confidence");
    expect(cells.getByText("20/21")).toBeTruthy();
    expect(cells.getByText("−52.75 (−115.30 to 8.10)").className).toContain("loss");
    expect(cells.getByText("27.35 (5.20 to 49.90)").className).toContain("gain");
  });

  it("shows a rule that helps (failed below passed) as a gain", () => {
    const cell = row(helps).getByTestId("gate-difference-confidence");
    expect(cell.textContent).toBe("−80.10 (−150.20 to −11.90)");
    expect(cell.className).toContain("gain");
  });

  it("shows no difference without two outcomes a side, and no interval for one outcome", () => {
    const cells = row({
      ...helps,
      rule: "one-a-day",
      mode: "observe",
      passed: { signals: 1, with_outcome: 1, mean: 75.82, ci_low: null, ci_high: null, win_rate: 1, total: "75.82" },
      difference: null,
    });
    expect(cells.getByTestId("gate-difference-one-a-day").textContent).toBe("–");
    expect(cells.getByText("75.82")).toBeTruthy();
    expect(cells.getByText("observe")).toBeTruthy();
  });
});
