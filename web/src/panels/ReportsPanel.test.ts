import { describe, expect, it } from "vitest";
import { deliveryText } from "./ReportsPanel";

describe("deliveryText", () => {
  it("says how each delivery went", () => {
    const d = { channel: "mail", late: false, delivered_at: null };
    expect(deliveryText({ ...d, outcome: "delivered" })).toEqual({ text: "delivered", tone: "gain" });
    expect(deliveryText({ ...d, outcome: "delivered", late: true })).toEqual({ text: "delivered late", tone: "flat" });
    expect(deliveryText({ ...d, outcome: "failed" })).toEqual({ text: "failed, retried", tone: "loss" });
    expect(deliveryText({ ...d, outcome: "skipped" })).toEqual({ text: "skipped (too old)", tone: "flat" });
    expect(deliveryText({ ...d, outcome: "pending" })).toEqual({ text: "sending", tone: "flat" });
  });
});
