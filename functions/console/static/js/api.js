// The API client: same origin (the console is served by the stack that serves the API), the
// signed-in person's bearer token, one refresh on a 401 (POST /oauth/token rotates the refresh
// token; concurrent calls share one refresh), and every error as an ApiProblem carrying the
// RFC 9457 problem details the API answers (title, detail, errors: [{field, reason}], retryAfter).

import * as session from "./session.js";

export const API = "/api/v1/integration";

export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.title = problem.title || `HTTP ${status}`;
    this.detail = problem.detail || "";
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = problem.retryAfter ?? null;
    this.problem = problem;
  }
}

let refreshing = null;

async function refreshSession() {
  const now = session.current();
  if (!now || !now.refreshToken) return false;
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const answer = await send("POST", "/oauth/token", { body: { refreshToken: now.refreshToken }, auth: false });
        session.save(session.fromSignIn(answer, now));
        return true;
      } catch {
        return false;
      } finally {
        refreshing = null;
      }
    })();
  }
  return refreshing;
}

function url(path, query) {
  const target = new URL(API + path, window.location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(name, value);
  }
  return target.pathname + target.search;
}

async function parse(response) {
  if (response.status === 204) return null;
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { detail: text.slice(0, 300) };
  }
}

async function send(method, path, { body, query, auth = true, headers = {} } = {}) {
  const sent = { Accept: "application/json, application/problem+json", ...headers };
  const token = auth ? session.current()?.accessToken : null;
  if (token) sent.Authorization = `Bearer ${token}`;
  if (body !== undefined) sent["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url(path, query), {
      method,
      headers: sent,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiProblem(0, { title: "The API cannot be reached", detail: String(error.message || error) });
  }
  const answer = await parse(response);
  if (!response.ok) {
    const problem = answer && typeof answer === "object" ? answer : {};
    if (response.headers.get("Retry-After") && problem.retryAfter == null) {
      problem.retryAfter = Number(response.headers.get("Retry-After"));
    }
    throw new ApiProblem(response.status, problem);
  }
  return answer;
}

const GET_RETRIES = [500, 1500]; // ms before each new try of a GET the gateway failed (5xx)

// A GET is safe to try again: a gateway or function failure (a cold start past its timeout, a
// throttle) is tried twice more; a POST, PATCH or DELETE is never repeated here.
async function sendSafely(method, path, options) {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await send(method, path, options);
    } catch (error) {
      const again = method === "GET" && error instanceof ApiProblem && error.status >= 500 && attempt < GET_RETRIES.length;
      if (!again) throw error;
      const wait = error.retryAfter ? Math.min(5, error.retryAfter) * 1000 : GET_RETRIES[attempt];
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}

// A call as the signed-in person; a 401 refreshes the session once and tries again, and when it
// cannot be refreshed the session ends (the page goes back to sign-in).
export async function call(method, path, options = {}) {
  try {
    return await sendSafely(method, path, options);
  } catch (error) {
    if (!(error instanceof ApiProblem) || error.status !== 401 || options.auth === false) throw error;
    if (await refreshSession()) return sendSafely(method, path, options);
    session.clear();
    throw error;
  }
}

export const get = (path, query) => call("GET", path, { query });
export const post = (path, body, options = {}) => call("POST", path, { body, ...options });
export const patch = (path, body) => call("PATCH", path, { body });
export const del = (path) => call("DELETE", path);

// Public calls (sign-in): no token.
export const publicPost = (path, body) => send("POST", path, { body, auth: false });

export function idempotencyKey() {
  return `console-${crypto.randomUUID()}`;
}

export async function signOut() {
  const now = session.current();
  session.clear();
  if (now?.refreshToken) {
    try {
      await send("POST", "/oauth/sign-out", { body: { refreshToken: now.refreshToken }, auth: false });
    } catch {
      // Signed out here either way; the session expires on the server by its TTL.
    }
  }
}
