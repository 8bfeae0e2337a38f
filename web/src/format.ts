// How figures are written on the page. Money arrives as exact decimal strings and is shown
// rounded to cents with the sign; the exact value stays in the element's data-value.

const money = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const plain = new Intl.NumberFormat("en-US", { maximumFractionDigits: 2 });

export function formatMoney(value: string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const n = Number(value);
  if (!Number.isFinite(n)) return value;
  return (n < 0 ? "−" : "") + money.format(Math.abs(n));
}

export function formatNumber(value: string | number | null | undefined, digits = 2): string {
  if (value === null || value === undefined) return "–";
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  return new Intl.NumberFormat("en-US", { maximumFractionDigits: digits }).format(n);
}

export function formatPercent(value: string | number | null | undefined, digits = 1): string {
  if (value === null || value === undefined) return "–";
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isFinite(n)) return String(value);
  return `${(n * 100).toFixed(digits)} %`;
}

export function formatTime(iso: string | null | undefined): string {
  if (!iso) return "–";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z").replace(/Z$/, " UTC");
}

export function formatSeconds(value: string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  const s = Number(value);
  if (!Number.isFinite(s)) return value;
  if (s < 60) return `${plain.format(s)} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.round((s % 3600) / 60)} min`;
}

/** The sign of a money value: "gain", "loss" or "flat", for colours. */
export function tone(value: string | number | null | undefined): "gain" | "loss" | "flat" {
  const n = Number(value);
  if (!Number.isFinite(n) || n === 0) return "flat";
  return n > 0 ? "gain" : "loss";
}
