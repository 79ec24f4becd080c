// The school staff's view (admin): every integration's health at a glance (GET /admin/integrations),
// the dead letters of each queue replayable from the page with progress (/admin/dead-letters), a
// student's payments with their refunds and a refund action (/payments/history, /payments/refund),
// and the courses with their sessions and class reminder schedules (their Zoom meetings are not
// shown: the API has no lookup of a course's meeting yet).
import * as api from "../api.js";
import { register } from "../nav.js";
import { act, badge, clear, flash, form, h, loading, problemBlock, progress, section, table, when } from "../ui.js";

function button(label, onclick, attrs = {}) {
  return h("button", { type: "button", ...attrs, onclick }, label);
}

function healthBadge(healthy) {
  if (healthy === null || healthy === undefined) return badge("never called", "");
  return healthy ? badge("answering", "ok") : badge("failing", "bad");
}

async function render(main) {
  main.append(
    h("h1", {}, "Integrations"),
    h("p", { class: "muted" }, "What every integration is doing now, and what needs a person."),
  );
  const healthBox = h("div", {}, loading());
  const deadBox = h("div", {});
  const paymentsBox = h("div", {});
  const coursesBox = h("div", {});
  main.append(
    section("Health at a glance", h("div", { class: "actions" }, button("Refresh", () => fillHealth())), healthBox),
    section("Dead letters", deadBox),
    section("Payments", paymentsBox),
    section("Courses", coursesBox),
  );

  async function fillHealth() {
    clear(healthBox).append(loading());
    let health;
    try {
      health = await api.get("/admin/integrations");
    } catch (error) {
      clear(healthBox).append(problemBlock(error));
      return;
    }
    clear(healthBox).append(
      h("p", { class: "muted" }, `Checked ${when(health.checkedAt)}.`),
      h("h3", {}, "Providers"),
      table(
        [
          { label: "Provider", cell: (p) => p.title },
          { label: "State", cell: (p) => healthBadge(p.healthy) },
          { label: "Last success", cell: (p) => when(p.lastSuccessAt) || "never" },
          { label: "Last failure", cell: (p) => (p.lastFailureAt ? `${when(p.lastFailureAt)}: ${p.lastFailure || ""}` : "none") },
        ],
        health.providers,
      ),
      h("h3", {}, "Broken calendar connections"),
      table(
        [
          { label: "Person", cell: (c) => h("code", {}, c.userId) },
          { label: "Google account", cell: (c) => c.googleEmail || "" },
          { label: "Broken", cell: (c) => when(c.brokenAt) },
          { label: "Why", cell: (c) => c.brokenReason || "" },
        ],
        health.brokenCalendars,
        { empty: "No broken calendar connection." },
      ),
      h("h3", {}, "Webhooks failing or disabled"),
      table(
        [
          { label: "Endpoint", cell: (w) => w.url || w.webhookId },
          { label: "Owner", cell: (w) => h("code", {}, w.userId || "") },
          { label: "State", cell: (w) => badge(w.state, w.state === "disabled" ? "bad" : "warn") },
          { label: "Since", cell: (w) => when(w.failingSince) },
          { label: "Failures in a row", cell: (w) => String(w.consecutiveFailures) },
          { label: "Reason", cell: (w) => w.disabledReason || "" },
        ],
        health.webhooks,
        { empty: "Every webhook is delivering." },
      ),
      h("h3", {}, "Queues"),
      table(
        [
          { label: "Queue", cell: (q) => `${q.name} (${q.carries})` },
          { label: "State", cell: (q) => (q.behind ? badge("behind", "warn") : badge("keeping up", "ok")) },
          { label: "Waiting", cell: (q) => String(q.backlog) },
          { label: "In flight", cell: (q) => String(q.inFlight) },
          {
            label: "Oldest message",
            cell: (q) => (q.oldestMessageAgeSeconds === null ? "unknown" : `${q.oldestMessageAgeSeconds} s`),
          },
          {
            label: "Dead letters",
            cell: (q) =>
              q.deadLetters
                ? button(`${q.deadLetters} dead letter${q.deadLetters === 1 ? "" : "s"}`, () => fillDead(q.name), {
                    class: "link",
                    "data-queue": q.name,
                  })
                : "0",
          },
        ],
        health.queues,
      ),
    );
    const troubled =
      health.queues.find((q) => q.name === "webhooks" && q.deadLetters > 0) || health.queues.find((q) => q.deadLetters > 0);
    if (!deadBox.dataset.queue) fillDead(troubled ? troubled.name : "webhooks");
  }

  // shown: a finished replay's progress, kept above the list read again after it
  async function fillDead(queue, shown = null) {
    deadBox.dataset.queue = queue;
    clear(deadBox).append(loading());
    let page;
    try {
      page = await api.get("/admin/dead-letters", { queue });
    } catch (error) {
      clear(deadBox).append(problemBlock(error));
      return;
    }
    const notices = h("div", {});
    const bar = h("div", {}, shown);
    const replayAll = button(`Replay all ${page.approximateCount}`, () => replay(null, replayAll), {
      disabled: page.approximateCount === 0,
    });
    clear(deadBox).append(
      h(
        "p",
        {},
        `Queue `,
        h("strong", {}, queue),
        `: about ${page.approximateCount} dead letter${page.approximateCount === 1 ? "" : "s"}`,
        page.more ? ` (the ${page.items.length} latest listed)` : "",
        ".",
      ),
      h("div", { class: "actions" }, replayAll, button("Refresh", () => fillDead(queue))),
      notices,
      bar,
      table(
        [
          { label: "First queued", cell: (d) => when(d.firstQueuedAt) },
          {
            label: "What",
            cell: (d) =>
              d.carries === "deliveries"
                ? [h("code", {}, d.deliveryId || d.messageId), " to ", d.webhookUrl || d.webhookId || "?"]
                : [d.eventType || "event", " ", h("code", {}, d.eventId || d.messageId)],
          },
          { label: "Event", cell: (d) => d.eventType || "" },
          { label: "Status", cell: (d) => (d.status ? badge(d.status, d.status === "succeeded" ? "ok" : "bad") : "") },
          {
            label: "Attempts",
            cell: (d) =>
              d.attempts === null || d.attempts === undefined
                ? String(d.receiveCount)
                : `${d.attempts}${d.lastStatusCode ? ` (last ${d.lastStatusCode})` : ""}`,
          },
          { label: "Last error", cell: (d) => d.lastError || "" },
          {
            label: "Replay",
            cell: (d) => {
              const one = button("Replay", () => replay([d.messageId], one), { "data-message-id": d.messageId });
              return one;
            },
          },
        ],
        page.items,
        { empty: "No dead letters in this queue." },
      ),
    );

    // One or all; all goes 20 a call, the bar counting down what remains.
    async function replay(ids, trigger) {
      clear(notices);
      const meter = progress(ids ? "Replaying one" : "Replaying all");
      clear(bar).append(meter.node);
      let replayed = 0;
      let done = 0;
      let kept = 0;
      const total = ids ? ids.length : Math.max(1, page.approximateCount);
      await act(trigger, notices, async () => {
        for (let round = 0; round < 100; round += 1) {
          const answer = await api.post("/admin/dead-letters/replay", ids ? { queue, messageIds: ids } : { queue });
          replayed += answer.replayed;
          done += answer.alreadyDone;
          kept += answer.kept;
          meter.update({
            done: Math.min(total, replayed + done + kept),
            total,
            text: `${replayed} replayed, ${answer.remaining} left`,
          });
          if (ids || answer.replayed + answer.alreadyDone === 0 || answer.remaining === 0) {
            if (ids && answer.notFound.length) {
              notices.append(h("p", { class: "muted" }, "Not in the queue any more (replayed already?)."));
            }
            break;
          }
        }
        const parts = [`Replayed ${replayed}`];
        if (done) parts.push(`${done} had nothing left to do`);
        if (kept) parts.push(`${kept} kept (their webhook is disabled)`);
        meter.finish(`${parts.join(", ")}.`);
        flash(`${parts.join(", ")}.`);
        await fillDead(queue, meter.node);
        fillHealth();
      });
    }
  }

  // ---------------------------------------------------------------- payments
  async function fillPayments() {
    let students;
    try {
      students = (await api.get("/directory/students", { limit: 100 })).items;
    } catch (error) {
      clear(paymentsBox).append(problemBlock(error));
      return;
    }
    const list = h("div", {});
    const picker = h(
      "select",
      { id: "payments-student", onchange: () => showPayments(picker.value, list) },
      h("option", { value: "" }, "Choose a student"),
      students.map((s) => h("option", { value: s.id }, `${s.name} (${s.email})`)),
    );
    clear(paymentsBox).append(
      h("div", { class: "field" }, h("label", { for: "payments-student" }, "Payments of"), picker),
      list,
    );
  }

  async function showPayments(studentId, box) {
    clear(box);
    if (!studentId) return;
    box.append(loading());
    let page;
    try {
      page = await api.get(`/payments/history/${studentId}`, { limit: 50 });
    } catch (error) {
      clear(box).append(problemBlock(error));
      return;
    }
    const notices = h("div", {});
    clear(box).append(
      notices,
      table(
        [
          { label: "Created", cell: (p) => when(p.createdAt) },
          { label: "Course", cell: (p) => p.courseName || p.courseId || p.planId || "" },
          { label: "Provider", cell: (p) => p.provider },
          { label: "Status", cell: (p) => badge(p.status, p.status === "succeeded" ? "ok" : "") },
          { label: "Amount", cell: (p) => `${p.amount} ${p.currency}` },
          { label: "Refunded", cell: (p) => (Number(p.refundedMinor) ? `${p.refundedAmount} ${p.currency}` : "") },
          {
            label: "Refund",
            cell: (p) => {
              const refundable = ["succeeded", "partially_refunded"].includes(p.status) && p.refundedMinor < p.amountMinor;
              if (!refundable) return "";
              const refund = form({
                fields: [{ name: "amount", label: "Amount (empty: all that is left)", placeholder: p.amount }],
                submit: "Refund",
                onSubmit: async (values) => {
                  const body = { transactionId: p.paymentId, provider: p.provider, reason: "requested_by_customer" };
                  if (values.amount) body.amount = values.amount;
                  const done = await api.post("/payments/refund", body, {
                    headers: { "Idempotency-Key": api.idempotencyKey() },
                  });
                  flash(`Refunded ${done.amount ?? ""} ${done.currency ?? ""}`.trim() + ".");
                  await showPayments(studentId, box);
                },
              });
              return h("details", {}, h("summary", {}, "Refund"), refund.node);
            },
          },
        ],
        page.items,
        { empty: "No payments." },
      ),
    );
  }

  // ---------------------------------------------------------------- courses
  async function fillCourses() {
    let courses;
    try {
      courses = (await api.get("/directory/courses", { limit: 50 })).items;
    } catch (error) {
      clear(coursesBox).append(problemBlock(error));
      return;
    }
    clear(coursesBox).append(
      courses.length
        ? h(
            "ul",
            { class: "plain" },
            courses.map((course) => {
              const detail = h("div", {});
              const item = h(
                "details",
                {},
                h("summary", {}, course.title),
                detail,
              );
              item.addEventListener("toggle", () => {
                if (item.open && !detail.dataset.filled) fillCourse(course, detail);
              });
              return h("li", {}, item);
            }),
          )
        : h("p", { class: "muted" }, "No courses yet."),
    );
  }

  async function fillCourse(course, box) {
    box.dataset.filled = "1";
    box.append(loading());
    const [sessions, reminders] = await Promise.allSettled([
      api.get(`/directory/courses/${course.id}/sessions`, { limit: 100 }),
      api.get(`/google-calendar/reminders/${course.id}`),
    ]);
    clear(box);
    box.append(h("h4", {}, "Sessions"));
    if (sessions.status === "fulfilled") {
      box.append(
        table(
          [
            { label: "Starts", cell: (s) => when(s.startsAt) },
            { label: "Ends", cell: (s) => when(s.endsAt) },
            { label: "Local time", cell: (s) => `${s.localStartsAt.slice(0, 16).replace("T", " ")} ${s.timeZone}` },
            { label: "Status", cell: (s) => s.status || "" },
          ],
          sessions.value.items,
          { empty: "No sessions." },
        ),
      );
    } else box.append(problemBlock(sessions.reason));
    box.append(h("h4", {}, "Reminder schedules"));
    if (reminders.status === "fulfilled") {
      box.append(
        table(
          [
            { label: "Session", cell: (r) => h("code", {}, r.sessionId) },
            { label: "Minutes before", cell: (r) => String(r.offsetMinutes) },
            { label: "Fires at", cell: (r) => when(r.fireAt) },
          ],
          reminders.value.items,
          { empty: "No reminder scheduled." },
        ),
      );
    } else box.append(problemBlock(reminders.reason));
  }

  await fillHealth();
  fillPayments();
  fillCourses();
}

register({ id: "admin", title: "Integrations", roles: ["admin"], order: 5, render });
