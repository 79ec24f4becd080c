// The signed-in person's session, kept in sessionStorage (this tab only; gone when it closes):
// this service's access token, its refresh token (rotated on every use) and who the token names.
// The claims are read for display and navigation only: the API checks the token on every call.

const KEY = "console.session";
const PENDING = "console.pending";

function decodeClaims(token) {
  const part = String(token).split(".")[1];
  if (!part) throw new Error("not a JWT");
  const text = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
  return JSON.parse(decodeURIComponent(escape(text)));
}

export function claimsOf(token) {
  try {
    return decodeClaims(token);
  } catch {
    return null;
  }
}

export function current() {
  try {
    const raw = sessionStorage.getItem(KEY);
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}

export function save(session) {
  sessionStorage.setItem(KEY, JSON.stringify(session));
  window.dispatchEvent(new CustomEvent("console:session"));
}

export function clear() {
  sessionStorage.removeItem(KEY);
  window.dispatchEvent(new CustomEvent("console:session"));
}

// From an answer of POST /oauth/authenticate or POST /oauth/token (SignedIn / SignInSession).
export function fromSignIn(answer, previous = null) {
  const claims = claimsOf(answer.accessToken) || {};
  return {
    accessToken: answer.accessToken,
    refreshToken: answer.refreshToken || null,
    userId: answer.userId || claims.sub,
    role: answer.role || claims.role,
    expiresAt: Date.now() + 1000 * (answer.expiresIn || 0),
    name: answer.name || previous?.name || null,
    email: answer.email || previous?.email || null,
    provider: answer.provider || previous?.provider || null,
  };
}

// A pasted access token (a service account's, or `make token`): no refresh token.
export function fromToken(token) {
  const claims = claimsOf(token.trim());
  if (!claims || !claims.sub || !claims.role) return null;
  return {
    accessToken: token.trim(),
    refreshToken: null,
    userId: claims.sub,
    role: claims.role,
    expiresAt: 1000 * (claims.exp || 0),
    name: null,
    email: null,
    provider: null,
  };
}

// What the callback page needs to finish what the sign-in page started (the provider, sign-in or link).
export function rememberPending(pending) {
  sessionStorage.setItem(PENDING, JSON.stringify(pending));
}

export function takePending() {
  const raw = sessionStorage.getItem(PENDING);
  sessionStorage.removeItem(PENDING);
  try {
    return raw ? JSON.parse(raw) : null;
  } catch {
    return null;
  }
}
