// Trading days as the performance figures count them: the CME session date of a trade's exit,
// its exit time in America/Chicago moved to the next day from 17:00 on, and from a Saturday or
// Sunday to the Monday. A day's trades are those that exit from the previous session's 17:00
// (Friday's for a Monday) to its own 17:00.

const ZONE = "America/Chicago";
const ROLLOVER_HOUR = 17;

function wallClock(at: number): number {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: ZONE,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  }).formatToParts(new Date(at));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  return Date.UTC(get("year"), get("month") - 1, get("day"), get("hour"), get("minute"), get("second"));
}

/** The UTC instant of ``hour``:00 on ``day`` (YYYY-MM-DD) in Chicago. */
export function chicagoInstant(day: string, hour: number): Date {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const wanted = Date.UTC(y, m - 1, d, hour);
  let guess = wanted + 6 * 3600_000;
  for (let i = 0; i < 3; i++) guess += wanted - wallClock(guess);
  return new Date(guess);
}

function shift(day: string, days: number): string {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  return new Date(Date.UTC(y, m - 1, d + days)).toISOString().slice(0, 10);
}

/** The exits of trading day ``day``: ``from`` inclusive, ``to`` exclusive, ISO 8601 UTC. */
export function tradingDayBounds(day: string): { from: string; to: string } {
  const [y, m, d] = day.split("-").map(Number) as [number, number, number];
  const weekday = new Date(Date.UTC(y, m - 1, d)).getUTCDay(); // 1 Monday
  const previous = shift(day, weekday === 1 ? -3 : -1);
  return {
    from: chicagoInstant(previous, ROLLOVER_HOUR).toISOString(),
    to: chicagoInstant(day, ROLLOVER_HOUR).toISOString(),
  };
}

/** The trading day of an exit time, as the API's /api/daily counts it. */
export function tradingDay(iso: string): string {
  const local = new Date(wallClock(Date.parse(iso)));
  let day = local.toISOString().slice(0, 10);
  if (local.getUTCHours() >= ROLLOVER_HOUR) day = shift(day, 1);
  const weekday = new Date(`${day}T00:00:00Z`).getUTCDay();
  if (weekday === 6) day = shift(day, 2);
  if (weekday === 0) day = shift(day, 1);
  return day;
}
