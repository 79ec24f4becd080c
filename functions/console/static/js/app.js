// The console's shell: sign-in when nobody is signed in, the sign-in callback, otherwise the nav
// of the views the person's role may see (nav.js) and the view the location's hash names
// (#/student, #/integrator?webhook=whk_...). Views are modules of views/ (views/index.js).

import * as api from "./api.js";
import * as nav from "./nav.js";
import * as session from "./session.js";
import { clear, flash, h, problemBlock } from "./ui.js";
import { VIEW_MODULES } from "./views/index.js";
import * as signin from "./views/signin.js";

const main = document.getElementById("main");
const navBox = document.getElementById("nav");
const whoBox = document.getElementById("who");

function route() {
  const hash = window.location.hash.replace(/^#\/?/, "");
  const [id, query = ""] = hash.split("?");
  return { id, params: Object.fromEntries(new URLSearchParams(query)) };
}

export function navigate(id, params = {}) {
  const query = new URLSearchParams(params).toString();
  const target = `#/${id}${query ? `?${query}` : ""}`;
  if (window.location.hash === target) render();
  else window.location.hash = target;
}

function renderChrome(now, views, active) {
  clear(navBox);
  navBox.append(
    h(
      "ul",
      {},
      views.map((view) =>
        h(
          "li",
          {},
          h("a", { href: `#/${view.id}`, "aria-current": view.id === active ? "page" : undefined }, view.title),
        ),
      ),
    ),
  );
  clear(whoBox);
  const label = now.name || now.email || now.userId;
  whoBox.append(
    h("span", { class: "who-name", "data-user-id": now.userId }, label),
    " ",
    h("span", { class: "badge role" }, now.role),
    " ",
    h(
      "button",
      {
        type: "button",
        class: "link",
        onclick: async () => {
          await api.signOut();
          flash("Signed out.");
          window.location.hash = "";
        },
      },
      "Sign out",
    ),
  );
}

let rendering = 0;

async function render() {
  const ticket = ++rendering;
  const now = session.current();
  if (!now) {
    clear(navBox);
    clear(whoBox);
    signin.renderSignIn(main);
    return;
  }
  const views = nav.viewsFor(now.role);
  const { id, params } = route();
  const view = nav.find(id) && views.includes(nav.find(id)) ? nav.find(id) : views[0];
  renderChrome(now, views, view?.id);
  clear(main);
  if (!view) {
    main.append(h("h1", {}, "Nothing to show"), h("p", {}, `The console has no view for the role ${now.role}.`));
    return;
  }
  document.title = `${view.title}: school integration console`;
  try {
    await view.render(main, { session: now, params, navigate });
  } catch (error) {
    if (ticket === rendering) main.append(problemBlock(error));
  }
  if (ticket === rendering) main.querySelector("h1")?.setAttribute("tabindex", "-1");
}

async function start() {
  for (const module of VIEW_MODULES) await import(`./views/${module.slice(2)}`);
  if (window.location.pathname === "/console/callback") {
    await signin.completeCallback(main);
    if (window.location.pathname === "/console/callback") return; // the callback shows what failed
  }
  window.addEventListener("hashchange", async () => {
    await render();
    main.querySelector("h1")?.focus();
  });
  window.addEventListener("console:session", () => {
    if (!session.current()) render();
  });
  await render();
}

start();
