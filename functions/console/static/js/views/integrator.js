// The integrator's webhook portal over the /webhooks API: endpoints (create, edit, disable, delete,
// rotate the secret with its overlap shown), the event catalog with each type's schema and
// example, the deliveries and their attempts (status, latency, response excerpt and headers),
// retry one, replay everything failed since a time (with progress), a test send, and the
// statistics with a chart of outcomes over time. #/integrator?webhook=whk_... opens one endpoint.

import * as api from "../api.js";
import { register } from "../nav.js";
import { act, badge, clear, flash, form, h, loading, problemBlock, progress, section, table, when } from "../ui.js";
import { outcomeChart } from "../chart.js";

const STATUS_KIND = { succeeded: "ok", pending: "warn", failed: "bad" };
const POLL_MS = 1500;
const POLL_LIMIT = 80; // at most two minutes of watching pending deliveries

let catalogCache = null;
async function catalog() {
  if (!catalogCache) catalogCache = (await api.get("/webhooks/events")).items;
  return catalogCache;
}

function statusBadge(webhook) {
  if (webhook.isActive) return badge("active", "ok");
  return badge(webhook.disabledReason ? `disabled: ${webhook.disabledReason}` : "disabled", "bad");
}

async function render(main, ctx) {
  main.append(h("h1", {}, "Webhooks"));
  const types = await catalog();
  const subscribable = types.filter((t) => t.subscribable).map((t) => [t.name, t.name]);
  const list = h("div", {}, loading());
  const created = h("div", { "aria-live": "polite" });
  const add = form({
    fields: [
      { name: "url", label: "Receiver URL", type: "url", required: true, placeholder: "https://crm.example/hooks" },
      {
        name: "events",
        label: "Events",
        options: subscribable,
        multiple: true,
        required: true,
        hint: "Hold Ctrl (⌘ on a Mac) to pick several.",
      },
      { name: "description", label: "Description" },
    ],
    submit: "Add endpoint",
    onSubmit: async (values) => {
      const body = { url: values.url, events: values.events };
      if (values.description) body.description = values.description;
      const made = await api.post("/webhooks", body, { headers: { "Idempotency-Key": api.idempotencyKey() } });
      clear(created).append(secretShown(made.secret, "The endpoint's signing secret"));
      add.node.reset();
      await fillList(list, ctx);
    },
  });
  main.append(
    section("Endpoints", list, h("h3", {}, "Add an endpoint"), add.node, created),
  );
  const detail = h("div", { id: "endpoint" });
  main.append(detail);
  main.append(catalogSection(types));
  await fillList(list, ctx);
  if (ctx.params.webhook) await renderEndpoint(detail, ctx, ctx.params.webhook);
}

function secretShown(secret, label) {
  return h(
    "div",
    { class: "card secret" },
    h("p", {}, h("strong", {}, `${label} (shown once: keep it now)`)),
    h("pre", { class: "secret-value" }, secret),
  );
}

async function fillList(box, ctx) {
  const owner = ctx.session.role === "admin" && ctx.params.userId ? { userId: ctx.params.userId } : {};
  const page = await api.get("/webhooks", { ...owner, limit: 100 });
  clear(box).append(
    table(
      [
        { label: "URL", cell: (w) => h("a", { href: `#/integrator?webhook=${w.webhookId}` }, w.url) },
        { label: "Events", cell: (w) => w.events.join(", ") },
        { label: "Status", cell: statusBadge },
        { label: "Description", cell: (w) => w.description || "" },
      ],
      page.items,
      { caption: "Your endpoints", empty: "No endpoint yet: add one below." },
    ),
  );
}

function catalogSection(types) {
  return section(
    "Event catalog",
    h("p", {}, "What each event's data holds (JSON Schema) and an example payload."),
    types.map((t) =>
      h(
        "details",
        { class: "event-type" },
        h("summary", {}, t.name, " ", t.subscribable ? "" : badge("not subscribable")),
        h("p", {}, t.description),
        h("p", { class: "muted" }, `Published by ${t.publishedBy}`),
        h("h3", {}, "Schema"),
        h("pre", {}, JSON.stringify(t.schema, null, 2)),
        h("h3", {}, "Example"),
        h("pre", {}, JSON.stringify(t.example, null, 2)),
      ),
    ),
  );
}

// ------------------------------------------------------------------ one endpoint
async function renderEndpoint(box, ctx, webhookId) {
  clear(box).append(loading());
  let webhook;
  try {
    webhook = await api.get(`/webhooks/${webhookId}`);
  } catch (error) {
    clear(box).append(problemBlock(error));
    return;
  }
  clear(box);
  const types = await catalog();
  const notices = h("div", { "aria-live": "polite" });
  const stats = h("div", {}, loading());
  const deliveries = h("div", {}, loading());
  const attempts = h("div", { id: "attempts" });

  const edit = form({
    fields: [
      { name: "url", label: "Receiver URL", type: "url", value: webhook.url, required: true },
      {
        name: "events",
        label: "Events",
        options: types.filter((t) => t.subscribable).map((t) => [t.name, t.name]),
        multiple: true,
        value: webhook.events,
      },
      { name: "description", label: "Description", value: webhook.description || "" },
    ],
    submit: "Save changes",
    onSubmit: async (values) => {
      await api.patch(`/webhooks/${webhookId}`, {
        url: values.url,
        events: values.events,
        description: values.description || null,
      });
      flash("Endpoint saved.");
      ctx.navigate("integrator", { webhook: webhookId });
    },
  });

  const button = (label, handler, kind = "secondary") =>
    h("button", { type: "button", class: kind, onclick: (e) => act(e.currentTarget, notices, handler) }, label);

  const actions = h(
    "div",
    { class: "actions" },
    button("Send test", async () => {
      const tested = await api.post(`/webhooks/${webhookId}/test`, undefined);
      clear(notices).append(
        h(
          "p",
          { class: `test-result ${tested.success ? "ok" : "bad"}` },
          tested.success ? "Test delivered: " : "Test failed: ",
          tested.statusCode ? `HTTP ${tested.statusCode}` : tested.error || "no answer",
          ` in ${Math.round(tested.responseTimeMs)} ms`,
          tested.responseBody ? ` — “${tested.responseBody.slice(0, 120)}”` : "",
        ),
      );
      await refresh();
    }),
    button(webhook.isActive ? "Disable" : "Enable", async () => {
      await api.patch(`/webhooks/${webhookId}`, { isActive: !webhook.isActive });
      flash(webhook.isActive ? "Endpoint disabled." : "Endpoint enabled.");
      ctx.navigate("integrator", { webhook: webhookId });
    }),
    button("Rotate secret", async () => {
      const rotated = await api.post(`/webhooks/${webhookId}/rotate-secret`, undefined);
      clear(notices).append(
        secretShown(rotated.secret, "The new signing secret"),
        h(
          "p",
          { class: "overlap" },
          `Both the previous and the new secret sign every delivery until ${when(rotated.previousSecretValidUntil)}: `,
          "switch your receiver to the new one before then.",
        ),
      );
    }),
    button(
      "Delete",
      async () => {
        if (!window.confirm(`Delete the endpoint ${webhook.url}? Its history goes with it.`)) return;
        await api.del(`/webhooks/${webhookId}`);
        flash("Endpoint deleted.");
        ctx.navigate("integrator");
      },
      "danger",
    ),
  );

  const since = new Date(Date.now() - 24 * 3600 * 1000);
  const replayProgress = h("div");
  const replay = form({
    fields: [
      {
        name: "since",
        label: "Replay failed deliveries since",
        type: "datetime-local",
        value: localInput(since),
        required: true,
      },
    ],
    submit: "Replay",
    onSubmit: async (values) => {
      const bar = progress("Replaying");
      clear(replayProgress).append(bar.node);
      const from = new Date(values.since);
      if (Number.isNaN(from.getTime())) {
        throw new api.ApiProblem(422, { title: "Not a time", errors: [{ field: "since", reason: "pick a date and time" }] });
      }
      let total = 0;
      for (let round = 0; round < 50; round += 1) {
        const answer = await api.post(`/webhooks/${webhookId}/replay`, { since: from.toISOString() });
        total += answer.replayed;
        bar.update({ done: round + 1, total: answer.more ? round + 2 : round + 1, text: `${total} queued again` });
        if (!answer.more) break;
      }
      bar.finish(`Replayed ${total} failed ${total === 1 ? "delivery" : "deliveries"}.`);
      await refresh();
    },
  });

  box.append(
    section(
      `Endpoint ${webhook.url}`,
      h(
        "dl",
        { class: "facts" },
        h("dt", {}, "Id"),
        h("dd", {}, h("code", {}, webhook.webhookId)),
        h("dt", {}, "Status"),
        h("dd", {}, statusBadge(webhook)),
        h("dt", {}, "Events"),
        h("dd", {}, webhook.events.join(", ")),
        h("dt", {}, "Created"),
        h("dd", {}, when(webhook.createdAt)),
        h("dt", {}, "Secret rotated"),
        h("dd", {}, webhook.secretRotatedAt ? when(webhook.secretRotatedAt) : "never"),
      ),
      actions,
      notices,
      h("details", {}, h("summary", {}, "Edit"), edit.node),
    ),
    section("Statistics", stats),
    section("Deliveries", h("div", { class: "actions" }, button("Refresh", () => refresh())), deliveries, attempts),
    section("Replay", replay.node, replayProgress),
  );

  let polls = 0;
  let timer = null;
  let latest = 0;
  async function refresh() {
    const mine = ++latest;
    const [page, numbers] = await Promise.all([
      api.get(`/webhooks/${webhookId}/deliveries`, { limit: 100 }),
      api.get(`/webhooks/${webhookId}/statistics`),
    ]);
    // An older refresh answering late (a slow request) must not overwrite a newer one's page, nor
    // cancel the watch the newer one started.
    if (mine !== latest) return;
    fillStats(stats, numbers, page.items);
    fillDeliveries(deliveries, page.items, webhookId, attempts, refresh);
    const open = attempts.dataset.deliveryId;
    if (open) await showAttempts(attempts, webhookId, open, refresh);
    // Watch while anything is still being tried (bounded), so retries appear as they happen; by the
    // statistics too: read at once with the list, they may come from just before its last record.
    clearTimeout(timer);
    const trying = page.items.some((d) => d.status === "pending") || numbers.pending > 0;
    if (trying && polls < POLL_LIMIT && box.isConnected) {
      polls += 1;
      timer = setTimeout(() => refresh().catch(() => {}), POLL_MS);
    } else polls = 0;
  }
  await refresh();
}

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function fillStats(box, numbers, recent) {
  const rate = numbers.successRate == null ? "—" : `${Math.round(numbers.successRate * 1000) / 10} %`;
  clear(box).append(
    h(
      "dl",
      { class: "facts stats" },
      h("dt", {}, "Deliveries"),
      h("dd", { "data-stat": "total" }, String(numbers.total)),
      h("dt", {}, "Succeeded"),
      h("dd", { "data-stat": "succeeded" }, String(numbers.succeeded)),
      h("dt", {}, "Failed"),
      h("dd", { "data-stat": "failed" }, String(numbers.failed)),
      h("dt", {}, "Pending"),
      h("dd", { "data-stat": "pending" }, String(numbers.pending)),
      h("dt", {}, "Success rate"),
      h("dd", {}, rate),
      h("dt", {}, "Average latency"),
      h("dd", {}, numbers.averageLatencyMs == null ? "—" : `${numbers.averageLatencyMs} ms`),
      h("dt", {}, "Last success"),
      h("dd", {}, when(numbers.lastSuccessAt) || "—"),
      h("dt", {}, "Failing since"),
      h("dd", {}, numbers.failingSince ? `${when(numbers.failingSince)} (${numbers.consecutiveFailures} failures in a row)` : "—"),
    ),
    outcomeChart(recent),
  );
}

function fillDeliveries(box, items, webhookId, attempts, refresh) {
  clear(box).append(
    table(
      [
        { label: "Event", cell: (d) => d.eventType },
        { label: "Status", cell: (d) => badge(d.status, STATUS_KIND[d.status] || "") },
        { label: "Attempts", cell: (d) => String(d.attempts) },
        { label: "Last answer", cell: (d) => (d.responseStatus ? `HTTP ${d.responseStatus}` : d.lastError || "") },
        { label: "Created", cell: (d) => when(d.createdAt) },
        {
          label: "Actions",
          cell: (d) =>
            h(
              "div",
              { class: "actions" },
              h(
                "button",
                {
                  type: "button",
                  class: "secondary",
                  "aria-label": `Attempts of ${d.eventType} ${d.deliveryId}`,
                  onclick: (e) => act(e.currentTarget, box, () => showAttempts(attempts, webhookId, d.deliveryId, refresh)),
                },
                "Attempts",
              ),
              d.status === "failed"
                ? h(
                    "button",
                    {
                      type: "button",
                      "aria-label": `Retry ${d.eventType} ${d.deliveryId}`,
                      onclick: (e) =>
                        act(e.currentTarget, box, async () => {
                          await api.post(`/webhooks/${webhookId}/deliveries/${d.deliveryId}/retry`, undefined);
                          flash("Delivery queued again.");
                          await refresh();
                        }),
                    },
                    "Retry",
                  )
                : null,
            ),
        },
      ],
      items,
      { caption: "Latest deliveries, newest first", empty: "No delivery yet: send a test." },
    ),
  );
  for (const [index, d] of items.entries()) box.querySelectorAll("tbody tr")[index]?.setAttribute("data-delivery-id", d.deliveryId);
}

async function showAttempts(box, webhookId, deliveryId, refresh) {
  const detail = await api.get(`/webhooks/${webhookId}/deliveries/${deliveryId}`);
  box.dataset.deliveryId = deliveryId;
  clear(box).append(
    h("h3", {}, `Attempts of ${detail.eventType} (${detail.deliveryId})`),
    table(
      [
        { label: "#", cell: (a) => String(a.attempt) },
        { label: "At", cell: (a) => when(a.at) },
        { label: "Result", cell: (a) => badge(a.success ? "ok" : "failed", a.success ? "ok" : "bad") },
        { label: "Status", cell: (a) => (a.statusCode ? String(a.statusCode) : a.errorClass || "") },
        { label: "Latency", cell: (a) => `${Math.round(a.latencyMs)} ms` },
        { label: "Error", cell: (a) => a.error || "" },
        {
          label: "Response",
          cell: (a) =>
            h(
              "details",
              {},
              h("summary", {}, a.responseBody ? a.responseBody.slice(0, 40) : "(no body)"),
              h("h4", {}, "Headers"),
              h(
                "pre",
                { class: "response-headers" },
                Object.entries(a.responseHeaders || {})
                  .map(([k, v]) => `${k}: ${v}`)
                  .join("\n") || "(none)",
              ),
              h("h4", {}, "Body excerpt"),
              h("pre", { class: "response-body" }, a.responseBody || ""),
            ),
        },
      ],
      detail.attemptHistory,
      { caption: "Every attempt, first to last", empty: "Not tried yet." },
    ),
    detail.nextAttemptAt ? h("p", {}, `Next attempt at ${when(detail.nextAttemptAt)}.`) : "",
    h("details", {}, h("summary", {}, "Payload as sent"), h("pre", {}, JSON.stringify(detail.payload, null, 2))),
  );
  return refresh;
}

register({ id: "integrator", title: "Webhooks", roles: ["service", "admin"], order: 20, render });
