// Thin fetch wrapper: session cookie + CSRF header, JSON in/out, one error type carrying the server's code.

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly extra: Record<string, unknown>;

  constructor(status: number, code: string, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.extra = extra;
  }

  /** Field errors of a 400 as "field: message" lines. */
  fieldMessages(): string[] {
    const fields = this.extra.fields as Record<string, unknown> | undefined;
    if (!fields) return [];
    return Object.entries(fields).map(([name, messages]) => `${name}: ${flatten(messages).join(" ")}`);
  }
}

function flatten(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(flatten);
  if (value && typeof value === "object") return Object.values(value).flatMap(flatten);
  return [String(value)];
}

export function readCookie(name: string): string | null {
  const prefix = `${name}=`;
  for (const part of document.cookie.split(";")) {
    const item = part.trim();
    if (item.startsWith(prefix)) return decodeURIComponent(item.slice(prefix.length));
  }
  return null;
}

export interface Paginated<T> {
  count: number;
  results: T[];
}

type Body = Record<string, unknown> | unknown[] | FormData | undefined;

export async function request<T>(method: string, url: string, body?: Body): Promise<T> {
  const headers: Record<string, string> = { Accept: "application/json" };
  let payload: BodyInit | undefined;
  if (body instanceof FormData) {
    payload = body;
  } else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    payload = JSON.stringify(body);
  }
  if (method !== "GET" && method !== "HEAD") {
    const token = readCookie("csrftoken");
    if (token) headers["X-CSRFToken"] = token;
  }
  let response: Response;
  try {
    response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  } catch (err) {
    throw new ApiError(0, "network", `The server cannot be reached (${String(err)}).`);
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let data: unknown = undefined;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { message: text.slice(0, 200) };
    }
  }
  if (!response.ok) {
    const info = (data ?? {}) as { message?: string; code?: string; detail?: string; extra?: Record<string, unknown> };
    throw new ApiError(
      response.status,
      info.code ?? `http_${response.status}`,
      info.message ?? info.detail ?? response.statusText,
      info.extra ?? {},
    );
  }
  return data as T;
}

export const api = {
  get: <T>(url: string) => request<T>("GET", url),
  post: <T>(url: string, body?: Body) => request<T>("POST", url, body ?? {}),
  put: <T>(url: string, body: Body) => request<T>("PUT", url, body),
  patch: <T>(url: string, body: Body) => request<T>("PATCH", url, body),
  delete: (url: string) => request<void>("DELETE", url),
};

/** Every item of a paginated collection (pages of 1,000). Accepts a plain array too. */
export async function listAll<T>(url: string, params: Record<string, string | number> = {}): Promise<T[]> {
  const items: T[] = [];
  let offset = 0;
  for (;;) {
    const query = new URLSearchParams({ ...toStrings(params), limit: "1000", offset: String(offset) });
    const sep = url.includes("?") ? "&" : "?";
    const page = await api.get<Paginated<T> | T[]>(`${url}${sep}${query.toString()}`);
    if (Array.isArray(page)) return page;
    items.push(...page.results);
    offset += page.results.length;
    if (page.results.length === 0 || offset >= page.count) return items;
  }
}

function toStrings(params: Record<string, string | number>): Record<string, string> {
  return Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)]));
}
