// The student's view: their courses, the catalog with a pay button, sessions, payments.
import { register } from "../nav.js";
import { h } from "../ui.js";

async function render(main) {
  main.append(h("h1", {}, "My classes"));
}

register({ id: "student", title: "My classes", roles: ["student"], order: 10, render });
