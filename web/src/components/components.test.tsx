import { act, fireEvent, render, screen } from "@testing-library/react";
import { Calendar, shade } from "./Calendar";
import { ToastProvider, useToast } from "./Toasts";
import { perSecond } from "./charts";
import { checksText, figureName } from "../panels/AIPerformanceMonitor";
import { formatMoney, formatPercent, tone } from "../format";

describe("the calendar", () => {
  const days = [
    { day: "2026-09-25", trades: 3, net_pnl: "120.50" },
    { day: "2026-09-28", trades: 6, net_pnl: "-482.07" },
  ];

  it("colours a day by its sign, deeper for a larger one", () => {
    expect(shade(-482.07, 482.07)).toEqual({ tone: "loss", strength: 1 });
    expect(shade(120.5, 482.07).tone).toBe("gain");
    expect(shade(120.5, 482.07).strength).toBeLessThan(1);
    expect(shade(0, 482.07)).toEqual({ tone: "flat", strength: 0 });
  });

  it("shows each trading day as a button that filters to it, and again to all", () => {
    const chosen: (string | null)[] = [];
    const { rerender } = render(<Calendar days={days} selected={null} onSelect={(d) => chosen.push(d)} />);
    const monday = screen.getByRole("button", { name: /2026-09-28: −482.07 over 6 trades/ });
    expect(monday.className).toContain("loss");
    expect(monday.getAttribute("data-value")).toBe("-482.07");
    fireEvent.click(monday);
    rerender(<Calendar days={days} selected="2026-09-28" onSelect={(d) => chosen.push(d)} />);
    fireEvent.click(screen.getByRole("button", { name: /2026-09-28/ }));
    expect(chosen).toEqual(["2026-09-28", null]);
    expect(screen.getAllByRole("button")).toHaveLength(2); // days without trades are not buttons
  });
});

describe("toasts", () => {
  function Raise() {
    const notify = useToast();
    return (
      <button type="button" onClick={() => notify({ title: "Alert: daily_loss", body: "Sim101 lost 600", severity: "critical" })}>
        raise
      </button>
    );
  }

  it("announces a critical alert at once and goes after a while", () => {
    vi.useFakeTimers();
    render(
      <ToastProvider>
        <Raise />
      </ToastProvider>,
    );
    fireEvent.click(screen.getByText("raise"));
    expect(screen.getByRole("alert").textContent).toContain("Sim101 lost 600");
    act(() => vi.advanceTimersByTime(11_000));
    expect(screen.queryByRole("alert")).toBeNull();
    vi.useRealTimers();
  });
});

describe("the equity points", () => {
  it("are one a second, keeping the last equity and the deepest drawdown", () => {
    const points = perSecond([
      { time: "2026-09-22T14:00:00.100000Z", equity: "10", drawdown: "0", trades: 1 },
      { time: "2026-09-22T14:00:00.900000Z", equity: "-5", drawdown: "15", trades: 1 },
      { time: "2026-09-22T14:00:01.000000Z", equity: "7", drawdown: "3", trades: 1 },
    ]);
    expect(points).toEqual([
      { time: 1790085600, equity: -5, drawdown: 15 },
      { time: 1790085601, equity: 7, drawdown: 3 },
    ]);
  });
});

describe("figures on the page", () => {
  it("write money to the cent with its sign, shares as percentages", () => {
    expect(formatMoney("-402.585")).toBe("−402.59");
    expect(formatMoney("10660.79")).toBe("10,660.79");
    expect(formatMoney(null)).toBe("–");
    expect(formatPercent("0.649123")).toBe("64.9 %");
    expect([tone("-1"), tone("0"), tone("2"), tone(null)]).toEqual(["loss", "flat", "gain", "flat"]);
  });

  it("say what each process's error count counts", () => {
    expect(figureName("worker", "errors_total")).toBe("worker: dead letters");
    expect(figureName("bridge", "errors_total")).toBe("bridge: events rejected");
    expect(figureName("bridge", "feed_age_seconds|nt-1")).toBe("bridge: seconds since nt-1 last sent");
  });

  it("name the checks that fail", () => {
    expect(checksText({ kafka: true, postgresql: true })).toBe("all 2 pass");
    expect(checksText({ kafka: true, live_feed: false })).toBe("1 of 2 fail: live_feed");
  });
});
