import { applyPosition } from "./live";
import type { Page, Position } from "./api";

const open = (account: string, quantity: number): Position =>
  ({ account, strategy: null, instrument: "NQ 12-26", quantity, average_price: "21000" }) as Position;

describe("a position event", () => {
  it("replaces the book's row, first", () => {
    const page: Page<Position> = { items: [open("Sim101", 1), open("Apex-1", 2)], next: null };
    const after = applyPosition(page, open("Apex-1", 3));
    expect(after?.items.map((p) => [p.account, p.quantity])).toEqual([["Apex-1", 3], ["Sim101", 1]]);
  });

  it("removes a book closed", () => {
    const page: Page<Position> = { items: [open("Sim101", 1)], next: null };
    const closed = { account: "Sim101", strategy: null, instrument: "NQ 12-26", closed: true as const };
    expect(applyPosition(page, closed)?.items).toEqual([]);
  });
});
