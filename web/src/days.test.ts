import { chicagoInstant, tradingDay, tradingDayBounds } from "./days";

describe("trading days", () => {
  it("rolls over at 17:00 in Chicago, daylight saving or not", () => {
    expect(chicagoInstant("2026-09-25", 17).toISOString()).toBe("2026-09-25T22:00:00.000Z");
    expect(chicagoInstant("2026-01-15", 17).toISOString()).toBe("2026-01-15T23:00:00.000Z");
  });

  it("counts a Friday evening's exits on Monday", () => {
    expect(tradingDay("2026-09-25T21:59:59.000000Z")).toBe("2026-09-25");
    expect(tradingDay("2026-09-25T22:00:00.000000Z")).toBe("2026-09-28");
    expect(tradingDay("2026-09-27T23:30:00.000000Z")).toBe("2026-09-28");
    expect(tradingDayBounds("2026-09-28")).toEqual({
      from: "2026-09-25T22:00:00.000Z",
      to: "2026-09-28T22:00:00.000Z",
    });
  });

  it("bounds every day by the previous session's close", () => {
    const { from, to } = tradingDayBounds("2026-03-10"); // after the spring change
    expect(from).toBe("2026-03-09T22:00:00.000Z");
    expect(to).toBe("2026-03-10T22:00:00.000Z");
    for (const at of [from, "2026-03-10T12:00:00.000000Z"]) expect(tradingDay(at)).toBe("2026-03-10");
    expect(tradingDay(to)).toBe("2026-03-11");
  });
});
