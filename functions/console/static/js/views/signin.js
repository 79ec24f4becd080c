// Sign-in: "Sign in with Google / Microsoft / GitHub" starts at the API
// (GET /oauth/{provider}/authorize?redirectUri=<this console's callback>&returnTo=<the console>),
// which redirects to the provider with state, PKCE and nonce kept on the server; the provider
// sends the browser back to /console/callback with code and state, and the callback posts them to
// POST /oauth/authenticate, which answers this service's access and refresh tokens.
// Linking (account.js) starts at POST /oauth/{provider}/link and ends at the same callback.
// A service account (an integrator's machine identity) has no sign-in provider: it pastes an
// access token it was issued.

import * as api from "../api.js";
import * as session from "../session.js";
import { clear, flash, form, h, problemBlock } from "../ui.js";

export const PROVIDERS = [
  ["google", "Google"],
  ["microsoft", "Microsoft"],
  ["github", "GitHub"],
];

export function callbackUri() {
  return `${window.location.origin}/console/callback`;
}

export function returnTo() {
  return `${window.location.origin}/console/`;
}

function startSignIn(provider) {
  session.rememberPending({ provider, purpose: "sign-in" });
  const query = new URLSearchParams({ redirectUri: callbackUri(), returnTo: returnTo() });
  window.location.assign(`${api.API}/oauth/${provider}/authorize?${query}`);
}

export function renderSignIn(main) {
  clear(main);
  document.title = "Sign in: school integration console";
  const tokenForm = form({
    fields: [
      {
        name: "accessToken",
        label: "Access token",
        type: "password",
        required: true,
        hint: "A service account's token (integrators), or one from `make token` on a local stack.",
      },
    ],
    submit: "Use this token",
    onSubmit: async ({ accessToken }) => {
      const made = session.fromToken(accessToken);
      if (!made) {
        throw new api.ApiProblem(422, {
          title: "Not an access token",
          detail: "paste the whole token (three parts separated by dots)",
          errors: [{ field: "accessToken", reason: "not an access token of this service" }],
        });
      }
      session.save(made);
      window.location.hash = "";
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    },
  });
  main.append(
    h("h1", {}, "Sign in"),
    h("p", {}, "Sign in with an account you already have. A first sign-in opens a student account."),
    h(
      "div",
      { class: "providers" },
      PROVIDERS.map(([id, name]) =>
        h("button", { type: "button", class: `provider ${id}`, "data-provider": id, onclick: () => startSignIn(id) }, `Sign in with ${name}`),
      ),
    ),
    h("details", { class: "token-sign-in" }, h("summary", {}, "Sign in with an access token"), tokenForm.node),
  );
}

// /console/callback?code=...&state=... (or error=...): finish the sign-in or link it started.
export async function completeCallback(main) {
  const query = new URLSearchParams(window.location.search);
  const pending = session.takePending();
  const state = query.get("state");
  clear(main);
  main.append(h("h1", {}, "Signing in…"), h("p", { role: "status" }, "Checking with the provider."));
  // The code must not stay in the address bar or the history.
  window.history.replaceState(null, "", "/console/callback");
  const fail = (error) => {
    clear(main);
    main.append(
      h("h1", {}, pending?.purpose === "link" ? "Linking did not work" : "Sign-in did not work"),
      problemBlock(error),
      h("p", {}, h("a", { href: "/console/" }, "Back to the console")),
    );
  };
  if (!pending || !state) {
    fail(new api.ApiProblem(400, { title: "No sign-in in progress", detail: "start again from the sign-in page" }));
    return;
  }
  const body = { provider: pending.provider, redirectUri: callbackUri(), state };
  if (query.get("code")) body.code = query.get("code");
  if (query.get("error")) body.error = query.get("error").slice(0, 256);
  let answer;
  try {
    answer = await api.publicPost("/oauth/authenticate", body);
  } catch (error) {
    fail(error);
    return;
  }
  const previous = session.current();
  if (pending.purpose === "link" && previous?.refreshToken) {
    await api.signOut(); // the link answers a new session of the same person; end the old one
  }
  session.save(session.fromSignIn(answer, pending.purpose === "link" ? previous : null));
  const name = Object.fromEntries(PROVIDERS)[pending.provider] || pending.provider;
  flash(
    pending.purpose === "link"
      ? `Linked your ${name} account.`
      : answer.isNewUser
        ? `Welcome, ${answer.name}: your account is ready.`
        : `Signed in as ${answer.name}.`,
  );
  const target = pending.purpose === "link" ? "/console/#/account" : "/console/";
  window.history.replaceState(null, "", target);
}
