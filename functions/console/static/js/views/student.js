// The student's view: their courses with the coming sessions (and each session's join link when
// the API gives one), the catalog with a pay button (a card through Stripe, or PayPal's approval),
// add-to-calendar (the secret ICS feed URL to copy, the Google Calendar connection's status), and
// their payments with refunds.
//
// Cards: the console sends Stripe a PaymentMethod id. In the sandbox and in Stripe's test mode
// these are Stripe's test payment methods (pm_card_visa, ...); taking real card numbers needs
// Stripe.js (Elements), which this console does not load (its policy allows only its own origin).

import * as api from "../api.js";
import { register } from "../nav.js";
import { act, badge, clear, flash, form, h, loading, problemBlock, progress, section, table, when } from "../ui.js";

const TEST_CARDS = [
  ["pm_card_visa", "Visa •••• 4242 (test card: pays)"],
  ["pm_card_mastercard", "Mastercard •••• 4444 (test card: pays)"],
  ["pm_card_chargeDeclined", "Visa •••• 0002 (test card: declined)"],
];
const SESSIONS_SHOWN = 5;

const price = (p) => (p ? `${p.amount} ${p.currency}` : "");

async function render(main, ctx) {
  const me = ctx.session.userId;
  main.append(h("h1", {}, "My classes"));
  const mine = h("div", {}, loading());
  const shop = h("div", {}, loading());
  const calendar = h("div", {}, loading());
  const payments = h("div", {}, loading());
  main.append(
    section("My courses", mine),
    section("Catalog", shop),
    section("Add to my calendar", calendar),
    section("My payments", payments),
  );
  const refresh = async () => {
    const enrolled = await fillCourses(mine, me);
    await Promise.all([fillCatalog(shop, me, enrolled, refresh), fillPayments(payments, me)]);
  };
  await Promise.all([refresh(), fillCalendar(calendar).catch((e) => clear(calendar).append(problemBlock(e)))]);
}

async function fillCourses(box, me) {
  const enrollments = (await api.get("/directory/enrollments", { studentId: me, limit: 100 })).items;
  clear(box);
  if (!enrollments.length) {
    box.append(h("p", { class: "muted" }, "You are not enrolled in a course yet: pick one in the catalog."));
    return new Set();
  }
  const cards = await Promise.all(
    enrollments.map(async (enrollment) => {
      const [course, sessions] = await Promise.all([
        api.get(`/directory/courses/${enrollment.courseId}`),
        api.get(`/directory/courses/${enrollment.courseId}/sessions`, { limit: 100 }),
      ]);
      const upcoming = sessions.items
        .filter((s) => s.status === "scheduled" && Date.parse(s.endsAt) > Date.now())
        .slice(0, SESSIONS_SHOWN);
      return h(
        "article",
        { class: "card course", "data-course-id": course.id },
        h("h3", {}, course.title),
        h("p", { class: "muted" }, `Enrolled ${when(enrollment.enrolledAt)}`),
        syncButton(course),
        table(
          [
            { label: "Class", cell: (s) => when(s.startsAt) },
            { label: "Local time", cell: (s) => `${s.localStartsAt.replace("T", " ").slice(0, 16)} (${s.timeZone})` },
            {
              label: "Join",
              cell: (s) =>
                s.joinUrl
                  ? h("a", { href: s.joinUrl, target: "_blank", rel: "noopener noreferrer", class: "join" }, "Join class")
                  : h("span", { class: "muted" }, "link not ready"),
            },
          ],
          upcoming,
          { caption: "Coming classes", empty: "No class is scheduled yet." },
        ),
      );
    }),
  );
  box.append(h("div", { class: "grid" }, cards));
  return new Set(enrollments.map((e) => e.courseId));
}

// Long work: the course's classes written into the student's Google calendar, with progress.
function syncButton(course) {
  const where = h("div", { class: "sync" });
  const button = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: () =>
        act(button, where, async () => {
          const bar = progress(`Syncing ${course.title} to Google Calendar`);
          clear(where).append(bar.node);
          let synced;
          try {
            synced = await api.post(`/google-calendar/sync-course/${course.id}`, undefined);
          } catch (error) {
            clear(where);
            throw error;
          }
          bar.finish(`${synced.eventsSynced} classes in your calendar, ${synced.eventsCancelled} cancelled.`);
        }),
    },
    "Sync to my Google Calendar",
  );
  return h("div", {}, button, where);
}

async function fillCatalog(box, me, enrolled, refresh) {
  const courses = [];
  let cursor = null;
  for (let pages = 0; pages < 10; pages += 1) {
    const page = await api.get("/directory/catalog", { limit: 100, cursor });
    courses.push(...page.items);
    cursor = page.nextCursor;
    if (!cursor) break;
  }
  clear(box);
  box.append(
    h(
      "div",
      { class: "grid" },
      courses.map((course) => {
        const outcome = h("div", { "aria-live": "polite" });
        const card = h(
          "article",
          { class: "card offer", "data-course-id": course.id },
          h("h3", {}, course.title),
          course.description ? h("p", {}, course.description) : null,
          h(
            "dl",
            { class: "facts" },
            h("dt", {}, "Teacher"),
            h("dd", {}, course.teacher?.name || ""),
            h("dt", {}, "Price"),
            h("dd", {}, price(course.price)),
            h("dt", {}, "Seats left"),
            h("dd", {}, course.seatsLeft == null ? "no limit" : String(course.seatsLeft)),
          ),
          enrolled.has(course.id) ? badge("enrolled", "ok") : payChoices(course, me, outcome, refresh),
          outcome,
        );
        return card;
      }),
    ),
  );
  if (!courses.length) box.append(h("p", { class: "muted" }, "No course is published yet."));
}

function payChoices(course, me, outcome, refresh) {
  const card = form({
    fields: [{ name: "paymentMethod", label: "Card", options: TEST_CARDS, value: TEST_CARDS[0][0] }],
    submit: `Pay ${price(course.price)} by card`,
    onSubmit: async ({ paymentMethod }) => {
      clear(outcome).append(h("p", { role: "status" }, "Paying…"));
      const started = await api.post(
        "/payments/stripe/initialize",
        { courseId: course.id, amount: course.price.amount, currency: course.price.currency },
        { headers: { "Idempotency-Key": api.idempotencyKey() } },
      );
      try {
        await api.post(
          "/payments/confirm",
          { transactionId: started.paymentIntentId, provider: "stripe", paymentMethod },
          { headers: { "Idempotency-Key": api.idempotencyKey() } },
        );
      } catch (error) {
        clear(outcome);
        throw error;
      }
      clear(outcome);
      flash(`Paid: you are enrolled in ${course.title}.`);
      await refresh();
    },
  });
  const paypal = h(
    "button",
    {
      type: "button",
      class: "secondary",
      onclick: (event) =>
        act(event.currentTarget, outcome, async () => {
          const order = await api.post(
            "/payments/paypal/process",
            { courseId: course.id, amount: course.price.amount, currency: course.price.currency },
            { headers: { "Idempotency-Key": api.idempotencyKey() } },
          );
          window.open(order.approvalUrl, "_blank", "noopener");
          const complete = h(
            "button",
            {
              type: "button",
              onclick: (e) =>
                act(e.currentTarget, outcome, async () => {
                  await api.post(
                    "/payments/confirm",
                    { transactionId: order.orderId, provider: "paypal" },
                    { headers: { "Idempotency-Key": api.idempotencyKey() } },
                  );
                  flash(`Paid with PayPal: you are enrolled in ${course.title}.`);
                  await refresh();
                }),
            },
            "I approved it at PayPal: complete the payment",
          );
          clear(outcome).append(
            h("p", {}, "Approve the payment in the PayPal window, then come back here. ", h("a", { href: order.approvalUrl, target: "_blank", rel: "noopener" }, "Open PayPal again")),
            complete,
          );
        }),
    },
    "Pay with PayPal",
  );
  return h("div", { class: "pay" }, card.node, paypal);
}

async function fillCalendar(box) {
  const [feed, google] = await Promise.all([
    api.get("/calendar/feed"),
    api.get("/google-calendar/status").catch(() => null),
  ]);
  clear(box);
  const shown = h("div", { "aria-live": "polite" });
  const make = h(
    "button",
    {
      type: "button",
      onclick: (event) =>
        act(event.currentTarget, shown, async () => {
          const made = await api.post("/calendar/feed", undefined);
          const input = h("input", { type: "text", readonly: true, value: made.url, id: "feed-url", "aria-label": "Calendar feed URL" });
          const copy = h(
            "button",
            {
              type: "button",
              class: "secondary",
              onclick: async () => {
                input.select();
                try {
                  await navigator.clipboard.writeText(made.url);
                  flash("Feed URL copied.");
                } catch {
                  flash("Select the URL and copy it (the browser did not allow copying).");
                }
              },
            },
            "Copy",
          );
          clear(shown).append(
            h("label", { for: "feed-url" }, "Your calendar feed (shown once; anyone with it sees your classes)"),
            h("div", { class: "actions" }, input, copy),
            made.rotated ? h("p", { class: "muted" }, "The earlier URL no longer works.") : "",
          );
        }),
    },
    feed.exists || feed.active ? "Make a new feed URL" : "Make my feed URL",
  );
  box.append(
    h("h3", {}, "Any calendar app (ICS feed)"),
    h("p", {}, "Subscribe to your classes from Google Calendar, Outlook or Apple Calendar with a secret URL."),
    make,
    shown,
    h("h3", {}, "Google Calendar"),
    google
      ? h(
          "p",
          { class: "google-status" },
          google.connected
            ? `Connected${google.email ? ` as ${google.email}` : ""}; ${google.eventCount} classes synced${google.lastSyncedAt ? `, last ${when(google.lastSyncedAt)}` : ""}.`
            : google.status === "broken"
              ? `The connection is broken (${google.brokenReason || "Google refused it"}): connect again.`
              : "Not connected.",
        )
      : h("p", { class: "muted" }, "The Google Calendar status is not available."),
    google && !google.connected ? connectGoogle() : "",
  );
}

function connectGoogle() {
  const where = h("div");
  return h(
    "div",
    {},
    h(
      "button",
      {
        type: "button",
        class: "secondary",
        onclick: (event) =>
          act(event.currentTarget, where, async () => {
            const started = await api.get("/google-calendar/authorize");
            window.location.assign(started.authorizationUrl);
          }),
      },
      "Connect Google Calendar",
    ),
    where,
  );
}

async function fillPayments(box, me) {
  const page = await api.get(`/payments/history/${me}`, { limit: 100 });
  clear(box).append(
    table(
      [
        { label: "Course", cell: (p) => p.courseName || p.courseId || p.planId || "" },
        { label: "Provider", cell: (p) => p.provider },
        { label: "Amount", cell: (p) => `${p.amount} ${p.currency}` },
        {
          label: "Status",
          cell: (p) => badge(p.status, p.status === "succeeded" ? "ok" : p.status.includes("refund") ? "warn" : ""),
        },
        { label: "Refunded", cell: (p) => (p.refundedMinor ? `${p.refundedAmount} ${p.currency}` : "") },
        { label: "Date", cell: (p) => when(p.succeededAt || p.createdAt) },
        {
          label: "Receipt",
          cell: (p) => (p.receiptUrl ? h("a", { href: p.receiptUrl, target: "_blank", rel: "noopener noreferrer" }, "Receipt") : ""),
        },
      ],
      page.items,
      { caption: "Newest first", empty: "No payment yet." },
    ),
  );
}

register({ id: "student", title: "My classes", roles: ["student"], order: 10, render });
