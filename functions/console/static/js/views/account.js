// My account: who is signed in, the linked sign-in methods (GET /oauth/linked-accounts/{userId}),
// linking another provider (POST /oauth/{provider}/link, then the provider, then the callback)
// and unlinking (never the last method: the API refuses it and the page says why).

import * as api from "../api.js";
import { register } from "../nav.js";
import * as session from "../session.js";
import { act, clear, h, loading, section, table, when } from "../ui.js";
import { callbackUri, PROVIDERS, returnTo } from "./signin.js";

async function startLink(provider, where) {
  const started = await api.post(`/oauth/${provider}/link`, { redirectUri: callbackUri(), returnTo: returnTo() });
  session.rememberPending({ provider, purpose: "link" });
  window.location.assign(started.authorizationUrl);
  return where;
}

async function render(main, ctx) {
  const me = ctx.session;
  main.append(h("h1", {}, "My account"));
  main.append(
    section(
      "Signed in",
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Name"),
        h("dd", {}, me.name || "—"),
        h("dt", {}, "Email"),
        h("dd", {}, me.email || "—"),
        h("dt", {}, "Id"),
        h("dd", {}, h("code", { class: "user-id" }, me.userId)),
        h("dt", {}, "Role"),
        h("dd", {}, me.role),
      ),
    ),
  );
  const box = h("div", {}, loading());
  main.append(section("Sign-in methods", box));
  await fill(box, me);
}

async function fill(box, me) {
  const linked = await api.get(`/oauth/linked-accounts/${me.userId}`);
  clear(box);
  const names = Object.fromEntries(PROVIDERS);
  box.append(
    table(
      [
        { label: "Provider", cell: (a) => names[a.provider] || a.provider },
        { label: "Email", cell: (a) => a.email || "(no verified email)" },
        { label: "Linked", cell: (a) => when(a.linkedAt) },
        { label: "Last used", cell: (a) => when(a.lastUsedAt) },
        {
          label: "Action",
          cell: (a) =>
            h(
              "button",
              {
                type: "button",
                class: "secondary",
                "aria-label": `Unlink ${names[a.provider]}`,
                onclick: (event) =>
                  act(event.currentTarget, box, async () => {
                    await api.del(`/oauth/linked-accounts/${me.userId}/${a.provider}`);
                    await fill(box, me);
                  }),
              },
              "Unlink",
            ),
        },
      ],
      linked.accounts,
      { caption: "Linked accounts", empty: "No provider is linked: you signed in with an access token." },
    ),
  );
  const have = new Set(linked.accounts.map((a) => a.provider));
  const missing = PROVIDERS.filter(([id]) => !have.has(id));
  if (missing.length) {
    box.append(
      h("p", {}, "Link another account to sign in with it too (you confirm it at the provider):"),
      h(
        "div",
        { class: "providers" },
        missing.map(([id, name]) =>
          h(
            "button",
            {
              type: "button",
              class: `provider ${id}`,
              "data-link": id,
              onclick: (event) => act(event.currentTarget, box, () => startLink(id, box)),
            },
            `Link ${name}`,
          ),
        ),
      ),
    );
  }
}

register({ id: "account", title: "My account", roles: ["student", "teacher", "admin"], order: 90, render });
