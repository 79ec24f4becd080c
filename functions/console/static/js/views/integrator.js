// The integrator's webhook portal over the /webhooks API.
import { register } from "../nav.js";
import { h } from "../ui.js";

async function render(main) {
  main.append(h("h1", {}, "Webhooks"));
}

register({ id: "integrator", title: "Webhooks", roles: ["service", "admin"], order: 20, render });
