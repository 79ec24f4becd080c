// The nav registry: each view module registers itself here ({id, title, roles, order, render}),
// and the shell shows the views whose roles include the signed-in person's. A new view (the
// admin's, say) is one module in views/ and one line in views/index.js; no other view changes.
//
//   register({id: "student", title: "My classes", roles: ["student"], order: 10,
//             render: async (main, ctx) => { ... }})
//
// render(main, ctx) fills `main`; ctx = {session, params (from the hash's query), navigate}.

const views = new Map();

export function register(view) {
  if (!view.id || !view.title || !Array.isArray(view.roles) || typeof view.render !== "function") {
    throw new Error(`a view needs id, title, roles and render: ${view.id}`);
  }
  views.set(view.id, { order: 100, ...view });
}

export function viewsFor(role) {
  return [...views.values()].filter((v) => v.roles.includes(role)).sort((a, b) => a.order - b.order);
}

export function find(id) {
  return views.get(id) || null;
}
