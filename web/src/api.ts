// Calls to the read API, typed by the OpenAPI document the API serves (src/generated/api.ts is
// generated from it in the build, so a field the API does not serve fails to compile).
import type { components, paths } from "./generated/api";

export type Schemas = components["schemas"];
export type Trade = Schemas["TradesRow"];
export type Position = Schemas["PositionsRow"];
export type PerformanceRow = Schemas["PerformanceRow"];
export type Alert = Schemas["AlertsRow"];
export type ActiveAlert = Schemas["AlertsActiveRow"];
export type Summary = Schemas["SummaryAnswer"];
export type EquityPoint = Schemas["EquityAnswer"]["items"][number];
export type Day = Schemas["DailyAnswer"]["items"][number];
export type Bin = Schemas["DistributionAnswer"]["items"][number];
export type Group = Schemas["BreakdownAnswer"]["items"][number];
export type Excursion = Schemas["ExcursionsAnswer"]["items"][number];
export type Calibration = Schemas["CalibrationAnswer"];
export type TradeDetail = Schemas["TradeDetail"];
export type Service = Schemas["Service"];
export type Definitions = Schemas["Definitions"];
export type Silence = Schemas["Silence"];
export type Pipeline = Schemas["Pipeline"];
export type Uptime = Schemas["UptimeDailyRow"];
export type UptimeMonth = Schemas["UptimeMonthlyRow"];
export type RegimeRow = Schemas["RegimesRow"];
export type RegimePerformance = Schemas["PerformanceByRegimeRow"];
export type PaperRow = Schemas["PaperComparisonRow"];
export type Decision = Schemas["DecisionsRow"];
export type GateRuleValue = Schemas["GateRuleValue"];
export type GateGroup = Schemas["GateGroup"];

export type TradeColumn = keyof Trade;
export type TradeSort = NonNullable<
  NonNullable<paths["/api/trades"]["get"]["parameters"]["query"]>["sort"]
>;
export type Breakdown = NonNullable<
  NonNullable<paths["/api/breakdown"]["get"]["parameters"]["query"]>["by"]
>;

export interface Page<T> {
  items: T[];
  next: string | null;
}

/** The filters every trades figure takes. */
export interface Filters {
  account?: string;
  instrument?: string;
  strategy?: string;
  variant?: string;
  source?: string;
  from?: string;
  to?: string;
}

export class Unauthorized extends Error {
  constructor() {
    super("not signed in: open the login URL that `fillstream dashboard` prints");
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function url(path: string, params: Record<string, string | number | undefined> = {}): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== "") search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `${path}?${text}` : path;
}

async function answer<T>(response: Response): Promise<T> {
  if (response.status === 401) throw new Unauthorized();
  if (!response.ok) {
    const body = (await response.json().catch(() => null)) as { error?: string } | null;
    throw new ApiError(response.status, body?.error ?? `${response.status} ${response.statusText}`);
  }
  return (await response.json()) as T;
}

export async function get<T>(
  path: string,
  params: Record<string, string | number | undefined> = {},
): Promise<T> {
  const response = await fetch(url(path, params), {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  return answer<T>(response);
}

/** A change: the browser sends its Origin, which the API checks. */
export async function post<T>(path: string, body: unknown): Promise<T> {
  const response = await fetch(path, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify(body),
  });
  return answer<T>(response);
}
