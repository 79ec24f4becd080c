// Small DOM helpers shared by the views. Text always goes in as text nodes (never innerHTML), so
// nothing an API returns can become markup.

import { ApiProblem } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (value === true) node.setAttribute(name, "");
    else node.setAttribute(name, String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  while (node.firstChild) node.firstChild.remove();
  return node;
}

let counter = 0;
export function uid(prefix = "f") {
  counter += 1;
  return `${prefix}-${counter}`;
}

// A flash message at the top of the page (a polite live region).
export function flash(text, kind = "info") {
  const box = document.getElementById("flash");
  if (!box) return;
  clear(box);
  if (text) box.append(h("p", { class: `flash ${kind}` }, text));
}

// An API problem as a block: its title and detail, then each field's reason.
export function problemBlock(error) {
  if (!(error instanceof ApiProblem)) {
    return h("div", { class: "problem", role: "alert" }, h("strong", {}, "Something went wrong"), " ", String(error));
  }
  return h(
    "div",
    { class: "problem", role: "alert", dataset: { status: String(error.status) } },
    h("strong", {}, `${error.title}`),
    error.status ? ` (${error.status})` : "",
    error.detail ? h("p", {}, error.detail) : null,
    error.errors.length ? h("ul", {}, error.errors.map((e) => h("li", {}, h("code", {}, e.field), ": ", e.reason))) : null,
    error.retryAfter ? h("p", {}, `Try again in ${error.retryAfter} s.`) : null,
  );
}

// A form whose fields show the API's problem field by field.
//   fields: [{name, label, type?, value?, required?, options?: [[value, label]], hint?, multiple?}]
//   onSubmit(values, form) -> a promise; an ApiProblem's errors land beside their fields.
export function form({ fields, submit = "Save", onSubmit, extra = [] }) {
  const summary = h("div", { class: "form-problem" });
  const inputs = {};
  const errors = {};
  const rows = fields.map((field) => {
    const id = uid(field.name);
    const errorId = `${id}-error`;
    const hintId = field.hint ? `${id}-hint` : null;
    let input;
    const common = {
      id,
      name: field.name,
      required: field.required,
      "aria-describedby": [hintId, errorId].filter(Boolean).join(" "),
    };
    if (field.options) {
      input = h(
        "select",
        { ...common, multiple: field.multiple, size: field.multiple ? Math.min(8, field.options.length) : undefined },
        field.options.map(([value, label]) =>
          h("option", { value, selected: field.multiple ? (field.value || []).includes(value) : value === field.value }, label),
        ),
      );
    } else if (field.type === "checkbox") {
      input = h("input", { ...common, type: "checkbox", checked: Boolean(field.value) });
    } else if (field.type === "textarea") {
      input = h("textarea", { ...common, rows: 4 }, field.value ?? "");
    } else {
      input = h("input", {
        ...common,
        type: field.type || "text",
        value: field.value ?? "",
        placeholder: field.placeholder,
        autocomplete: field.autocomplete || "off",
      });
    }
    inputs[field.name] = input;
    errors[field.name] = h("span", { class: "field-error", id: errorId });
    return h(
      "div",
      { class: `field ${field.type === "checkbox" ? "check" : ""}` },
      h("label", { for: id }, field.label),
      input,
      field.hint ? h("span", { class: "hint", id: hintId }, field.hint) : null,
      errors[field.name],
    );
  });
  const button = h("button", { type: "submit" }, submit);
  const node = h("form", { class: "form", novalidate: true }, summary, rows, h("div", { class: "actions" }, button, extra));

  function values() {
    const out = {};
    for (const field of fields) {
      const input = inputs[field.name];
      if (field.type === "checkbox") out[field.name] = input.checked;
      else if (field.multiple) out[field.name] = [...input.selectedOptions].map((o) => o.value);
      else out[field.name] = input.value.trim();
    }
    return out;
  }

  function reset() {
    clear(summary);
    for (const [name, box] of Object.entries(errors)) {
      clear(box);
      inputs[name].removeAttribute("aria-invalid");
    }
  }

  node.addEventListener("submit", async (event) => {
    event.preventDefault();
    reset();
    button.disabled = true;
    try {
      await onSubmit(values(), node);
    } catch (error) {
      showProblem(error);
    } finally {
      button.disabled = false;
    }
  });

  function showProblem(error) {
    const unplaced = [];
    let first = null;
    for (const item of error instanceof ApiProblem ? error.errors : []) {
      const name = String(item.field || "").split(".")[0];
      if (errors[name]) {
        errors[name].append(document.createTextNode(item.reason));
        inputs[name].setAttribute("aria-invalid", "true");
        first = first || inputs[name];
      } else unplaced.push(item);
    }
    summary.append(problemBlock(error));
    (first || summary).focus?.();
    return unplaced;
  }

  return { node, inputs, values, reset, showProblem };
}

// Long work: a progress bar and a status line in a live region. `run(step)` calls
// step(update) where update({done, total, text}) moves the bar.
export function progress(label) {
  const bar = h("progress", { "aria-label": label });
  const text = h("span", { class: "progress-text" });
  const node = h("div", { class: "progress", role: "status", "aria-live": "polite" }, h("span", {}, label), bar, text);
  return {
    node,
    update({ done, total, text: line } = {}) {
      if (total) {
        bar.max = total;
        bar.value = done ?? 0;
      }
      if (line !== undefined) text.textContent = line;
    },
    finish(line) {
      bar.max = 1;
      bar.value = 1;
      text.textContent = line;
      node.classList.add("done");
    },
  };
}

export function section(title, ...children) {
  const id = uid("section");
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), children);
}

export function table(columns, rows, { caption, empty = "Nothing yet." } = {}) {
  if (!rows.length) return h("p", { class: "muted" }, empty);
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      {},
      caption ? h("caption", {}, caption) : null,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c.label)))),
      h(
        "tbody",
        {},
        rows.map((row) => h("tr", {}, columns.map((c) => h("td", { "data-label": c.label }, c.cell(row))))),
      ),
    ),
  );
}

export function badge(text, kind = "") {
  return h("span", { class: `badge ${kind}` }, text);
}

export function when(value) {
  if (!value) return "";
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? String(value) : date.toLocaleString();
}

export function money(amount) {
  if (!amount) return "";
  if (typeof amount === "object" && "amount" in amount) {
    try {
      return new Intl.NumberFormat(undefined, { style: "currency", currency: amount.currency }).format(Number(amount.amount));
    } catch {
      return `${amount.amount} ${amount.currency}`;
    }
  }
  return String(amount);
}

// Run an action from a button, showing its problem in `where` (or a flash) when it fails.
export async function act(button, where, action) {
  button.disabled = true;
  try {
    return await action();
  } catch (error) {
    if (where) {
      where.prepend(problemBlock(error));
    } else {
      flash(error.message || String(error), "error");
    }
    return undefined;
  } finally {
    button.disabled = false;
  }
}

export function loading(text = "Loading…") {
  return h("p", { class: "muted", role: "status" }, text);
}
