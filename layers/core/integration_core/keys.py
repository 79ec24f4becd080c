"""Every key and access pattern of the single DynamoDB table, in one place.

Table keys: PK (partition), SK (sort). One GSI, GSI1 (GSI1PK, GSI1SK), serves the alternate
lookups. Items that expire carry `expiresAt` (epoch seconds, the table's TTL attribute).

Items (PK, SK; GSI1PK / GSI1SK where the item is indexed):
- student: PK `STUDENT#<id>`, SK `PROFILE`; GSI1 `TYPE#student` / `<createdAt>#<id>`
- teacher: PK `TEACHER#<id>`, SK `PROFILE`; GSI1 `TYPE#teacher` / `<createdAt>#<id>`
- email uniqueness lock: PK `EMAIL#<kind>#<email>`, SK `LOCK`
- course: PK `COURSE#<id>`, SK `PROFILE`; GSI1 `TYPE#course` / `<createdAt>#<id>` (carries
  `enrolled_count`, kept by ADD with each enrollment, and `schedule`, its sessions' summary)
- catalog entry of a published course: PK `CATALOG`, SK `COURSE#<createdAt>#<courseId>`
- teacher -> course link: PK `TEACHER#<teacherId>`, SK `COURSE#<courseId>`
- class session: PK `COURSE#<courseId>`, SK `SESSION#<id>`; GSI1 `SESSIONS#<courseId>` / `<startsAt>#<id>`
  (a cancelled session moves to GSI1 `CANCELLED_SESSIONS#<courseId>`: listings stay exact, calendars
  still learn of the cancellation)
- enrollment (by course): PK `COURSE#<courseId>`, SK `ENROLLMENT#<stuId>`
- enrollment (by student): PK `STUDENT#<studentId>`, SK `ENROLLMENT#<crsId>`
- webhook: PK `WEBHOOK#<whkId>`, SK `PROFILE`; GSI1 `WEBHOOKS#<userId>` / `<createdAt>#<id>`
- webhook statistics: PK `WEBHOOK#<whkId>`, SK `STATS`; GSI1 `FAILING#WEBHOOKS*` / `<failingSince>#<id>`
- failed delivery marker: PK `WEBHOOK#<whkId>`, SK `FAILED#<createdAt>#<dlvId>`
- subscription (active): PK `SUBS#<eventType>`, SK `WEBHOOK#<whkId>`
- event (outbox): PK `EVENT#<evtId>`, SK `EVENT`; GSI1 `OUTBOX*` / `<createdAt>#<id>`
- delivery: PK `DELIVERY#<dlvId>`, SK `DELIVERY`; GSI1 `DELIVERIES#<whkId>` / `<createdAt>#<id>`
- delivery attempt (TTL): PK `DELIVERY#<dlvId>`, SK `ATTEMPT#<nnnn>`
- payment (ledger): PK `STUDENT#<studentId>`, SK `PAYMENT#<createdAt>#<payId>`;
  GSI1 `PAYMENTS#<stuId>#<provider>` / `<createdAt>#<id>`
- refund of a payment: PK `STUDENT#<studentId>`, SK `REFUND#<payId>#<providerRefundId>`
- subscription to a plan: PK `STUDENT#<studentId>`, SK `SUBSCRIPTION#<createdAt>#<sbsId>`
- student's provider customer: PK `STUDENT#<studentId>`, SK `PROVIDER#stripe`
- payment/subscription lookup: PK `PAYREF#<payId, sbsId or provider:providerId>`, SK `REF`
- plan: PK `PLAN#<plnId>`, SK `PROFILE`; GSI1 `TYPE#plan` / `<createdAt>#<id>`
- provider event applied (TTL 90 d): PK `PROVIDER_EVENT#<provider>#<eventId>`, SK `EVENT`
- domain event handled by an internal consumer (TTL 90 d): PK `HANDLED#<consumer>#<evtId>`, SK `HANDLED`
- class reminder scheduled (TTL: 2 d after it fires): PK `COURSE#<courseId>`, SK `REMINDER#<sesId>#<minutes>`
  (what EventBridge Scheduler was asked for: the schedule's name, its fire time, the session's version)
- class reminder sent to a student (TTL 30 d): PK `REMINDER_SENT#<sesId>#<minutes>#<version>#<stuId>`, SK `SENT`
- calendar feed by token: PK `CALENDAR_FEED#<sha256 of the token>`, SK `FEED` (owner id and kind; the
  token itself is never stored)
- a user's calendar feed: PK `STUDENT#<id>` or `TEACHER#<id>`, SK `CALENDAR_FEED` (the token's hash)
- calendar connection of a user (student or teacher): PK `CALENDAR#<userId>`, SK `CONNECTION` (Google
  account email, KMS-encrypted access and refresh tokens, token_version, calendar id, status)
- the refresh lease of a user's tokens (one refresher at a time): PK `CALENDAR#<userId>`, SK `REFRESH_LEASE`
- a synced class event: PK `CALENDAR#<userId>`, SK `CALEVENT#<courseId>#<sessionId>` (Google's event
  id, the session version synced, confirmed or cancelled)
- an authorization request's state (TTL ~10 min, single use): PK `OAUTH_STATE#<sha256 of state>`, SK `STATE`
- video meeting of a course: PK `MEETING#<mtgId>`, SK `PROFILE` (mtg id stable per course:
  `stable_id("meeting", courseId)`; provider, provider meeting id, occurrence -> session map, status
  `pending` until the provider's meeting is stored)
- video meeting lookup by the provider's id: PK `VIDEOREF#<provider>:<providerMeetingId>`, SK `REF`
- registrant of a meeting: PK `MEETING#<mtgId>`, SK `REGISTRANT#<stuId or email>` (registrant id, join link)
- recording of a meeting occurrence: PK `MEETING#<mtgId>`, SK `RECORDING#<occurrence uuid>`
- attendance of a meeting occurrence: PK `MEETING#<mtgId>`, SK `ATTENDANCE#<occurrence uuid>`
- a provider's notification subscription (Graph) to renew: PK `VIDEOSUBS`, SK `SUB#<subscription id>`
- a meeting whose attendance is read after its end (Teams): PK `VIDEOPOLL`, SK `POLL#<due>#<mtgId>#<provider id>`
- participant join/leave seen in a callback: PK `MEETING#<mtgId>`, SK `SEGMENT#<uuid>#<who>#<joinTime>`
- a join link (video's read model for the directory and calendar, written by video only): PK
  `JOINLINK#<courseId>`, SK `<stuId or TEACHER>#<sessionId or *>` (the person's link for that session,
  `*`: every session of the course; meeting id, provider, updated_at)
- a pending sign-in or link (TTL ~10 min, single use): PK `SIGNIN_PENDING#<sha256 of state>`, SK `SIGNIN_PENDING`
  (provider, PKCE verifier, nonce, redirect URI, returnTo, purpose sign-in|link, the linking user)
- an external identity: PK `IDENTITY#<provider>#<externalId>`, SK `IDENTITY` (the person it signs in)
- a person's linked sign-in method: PK `SIGNIN#<personId>`, SK `LINK#<provider>` (external id, email,
  linked at, last used, KMS-encrypted provider tokens)
- a person's count of sign-in methods: PK `SIGNIN#<personId>`, SK `METHODS` (ADD on link, conditional
  ADD -1 on unlink: the last one is never removed)
- a refresh-token family (TTL: its lifetime): PK `SESSION#<familyId>`, SK `FAMILY` (person, role, the
  current token's SHA-256, the used ones' hashes, revoked)
- a sign-in rate-limit counter (TTL: its window): PK `SIGNIN_RATE#<scope>#<sha256 of key>#<window>`, SK `COUNT`
- a provider's health (operations): PK `PROVIDER_HEALTH`, SK `PROVIDER#<name>` (last success, last
  failure and what failed; written where provider calls are made, at most once per provider, outcome
  and process every 30 s)
- broken calendar connection*: the connection item above with GSI1 `BROKEN#CALENDARS` / `<brokenAt>#<userId>`
- disabled webhook*: the webhook statistics item with GSI1 `DISABLED#WEBHOOKS` / `<disabledAt>#<whkId>`
  (set when the webhook is disabled for failing, instead of `FAILING#WEBHOOKS`)
(* sparse: present only while the webhook is failing or disabled / the event is not yet fanned out /
the calendar connection is broken)

Access patterns (all Query/GetItem/BatchGetItem, never Scan):
- a student, teacher or course by id: GetItem (PK, PROFILE)
- all students / teachers / courses, oldest first, paginated: Query GSI1 TYPE#<kind>
- a teacher's courses: Query PK=TEACHER#<id>, SK begins_with COURSE#
- a course's sessions in time order: Query GSI1 SESSIONS#<courseId> (cancelled: CANCELLED_SESSIONS#<courseId>)
- published courses (the catalog), oldest first: Query PK=CATALOG (the rows exist only while the
  course is published, written in the same transaction as the course), then BatchGetItem of the
  courses and of their teachers; seats left = capacity - enrolled_count of the course item
- a course's enrollments: Query PK=COURSE#<id>, SK begins_with ENROLLMENT#
- a student's enrollments (and so courses): Query PK=STUDENT#<id>, SK begins_with ENROLLMENT#,
  then BatchGetItem of the courses
- is this email taken: GetItem EMAIL#<kind>#<email> (written in the same transaction as the profile)
- a user's webhooks, oldest first: Query GSI1 WEBHOOKS#<userId>
- webhooks subscribed to an event type (fan-out): Query PK=SUBS#<type>; the rows exist only while
  the webhook is active, written in the same transaction as the webhook
- events recorded but not yet fanned out (the sweeper): Query GSI1 OUTBOX, oldest first
- a webhook's delivery history, newest first: Query GSI1 DELIVERIES#<whkId>
- a delivery with its attempts: Query PK=DELIVERY#<dlvId> (attempts expire by TTL)
- a webhook's failed deliveries since a time (replay): Query PK=WEBHOOK#<id>, SK begins_with FAILED#
- webhooks failing for longer than the auto-disable period: Query GSI1 FAILING#WEBHOOKS, oldest first
- statistics: GetItem (WEBHOOK#<id>, STATS), kept by ADD/SET updates with each attempt
- a student's payment history, newest first: Query PK=STUDENT#<id>, SK begins_with PAYMENT#,
  backwards; by provider: Query GSI1 PAYMENTS#<stuId>#<provider>, backwards (one Query per page)
- a payment or subscription by our id or the provider's (PaymentIntent, order, capture, invoice,
  sale, subscription): GetItem PAYREF#<ref>, then GetItem of the record it points at
- was this provider event applied: GetItem, and a conditional put in the same transaction as the
  change it causes
- plans: GetItem (PLAN#<id>, PROFILE); all plans: Query GSI1 TYPE#plan
- did this consumer handle this event (internal event handlers): GetItem HANDLED#<consumer>#<evtId>,
  and a conditional put in the same transaction as the change the handler makes
- a course's scheduled reminders: Query PK=COURSE#<id>, SK begins_with REMINDER#
- was this reminder sent to this student: a conditional put of REMINDER_SENT#... (with its
  class_reminder event in the same transaction), GetItem when it existed
- a calendar feed by its token: GetItem CALENDAR_FEED#<sha256(token)>; a user's feed: GetItem
  (STUDENT#/TEACHER#<id>, CALENDAR_FEED)
- a user's calendar connection: GetItem (CALENDAR#<userId>, CONNECTION); of a course's students:
  Query the course's enrollments, then BatchGetItem of their connections
- a user's synced events of one course: Query PK=CALENDAR#<userId>, SK begins_with CALEVENT#<courseId>#;
  of all courses: SK begins_with CALEVENT#
- an authorization's state: GetItem, then a conditional DeleteItem (single use)
- a pending sign-in: GetItem, then a conditional DeleteItem (single use)
- who an external account is: GetItem IDENTITY#<provider>#<externalId>
- a person's linked methods: Query PK=SIGNIN#<personId>, SK begins_with LINK#
- is this email someone's (a first sign-in): GetItem EMAIL#<kind>#<email> for each directory kind
- a refresh token: GetItem SESSION#<familyId>, then a conditional UpdateItem (rotation, reuse, sign-out)
- a rate-limit window: conditional UpdateItem ADD on SIGNIN_RATE#...

- a course's meeting: GetItem MEETING#<stable mtg id>; by the provider's id (callbacks): GetItem
  VIDEOREF#<provider>:<id>, then GetItem of the meeting
- a meeting's registrants / recordings / attendance / segments: Query PK=MEETING#<id>, SK begins_with
  REGISTRANT# / RECORDING# / ATTENDANCE# / SEGMENT#<uuid>#
- subscriptions to renew, attendance polls due: Query PK=VIDEOSUBS / VIDEOPOLL (oldest due first)
- was this provider callback applied: GetItem PROVIDER_EVENT#<provider>#<digest>, and a conditional
  put in the same transaction as its change
- a person's join links of a course (sessions view, calendar sync, feed): Query PK=JOINLINK#<courseId>,
  SK begins_with <stuId or TEACHER>#; all of a course's (its deletion): Query PK=JOINLINK#<courseId>

- the integrations' health (admins): Query PK=PROVIDER_HEALTH; broken calendar connections, newest
  first: Query GSI1 BROKEN#CALENDARS; failing webhooks: Query GSI1 FAILING#WEBHOOKS; disabled ones:
  Query GSI1 DISABLED#WEBHOOKS (then BatchGetItem of the webhooks)

Later capabilities add their rows to this table and their patterns to this list.
"""

from __future__ import annotations

PROFILE = "PROFILE"
LOCK = "LOCK"
GSI1 = "GSI1"


def entity_pk(kind: str, entity_id: str) -> str:
    return f"{kind.upper()}#{entity_id}"


def listing_pk(kind: str) -> str:
    return f"TYPE#{kind}"


def listing_sk(created_at: str, entity_id: str) -> str:
    return f"{created_at}#{entity_id}"


def email_lock_pk(kind: str, email: str) -> str:
    return f"EMAIL#{kind}#{email.lower()}"


COURSE_LINK_PREFIX = "COURSE#"
SESSION_PREFIX = "SESSION#"
ENROLLMENT_PREFIX = "ENROLLMENT#"


def course_link_sk(course_id: str) -> str:
    return f"{COURSE_LINK_PREFIX}{course_id}"


def course_id_of_link(sk: str) -> str:
    return sk.removeprefix(COURSE_LINK_PREFIX)


def session_sk(session_id: str) -> str:
    return f"{SESSION_PREFIX}{session_id}"


def sessions_pk(course_id: str) -> str:
    return f"SESSIONS#{course_id}"


def cancelled_sessions_pk(course_id: str) -> str:
    return f"CANCELLED_SESSIONS#{course_id}"


def enrollment_sk(other_id: str) -> str:
    return f"{ENROLLMENT_PREFIX}{other_id}"


CATALOG = "CATALOG"


def catalog_sk(created_at: str, course_id: str) -> str:
    return f"COURSE#{created_at}#{course_id}"


# ---------------------------------------------------------------- webhooks and events
STATS = "STATS"
EVENT = "EVENT"
DELIVERY = "DELIVERY"
OUTBOX = "OUTBOX"
FAILING_WEBHOOKS = "FAILING#WEBHOOKS"
DISABLED_WEBHOOKS = "DISABLED#WEBHOOKS"


def webhook_pk(webhook_id: str) -> str:
    return f"WEBHOOK#{webhook_id}"


def user_webhooks_pk(user_id: str) -> str:
    return f"WEBHOOKS#{user_id}"


def subscriptions_pk(event_type: str) -> str:
    return f"SUBS#{event_type}"


def subscription_sk(webhook_id: str) -> str:
    return f"WEBHOOK#{webhook_id}"


def event_pk(event_id: str) -> str:
    return f"EVENT#{event_id}"


def delivery_pk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def deliveries_pk(webhook_id: str) -> str:
    return f"DELIVERIES#{webhook_id}"


ATTEMPT_PREFIX = "ATTEMPT#"
FAILED_PREFIX = "FAILED#"


def attempt_sk(number: int) -> str:
    return f"{ATTEMPT_PREFIX}{number:04d}"


def failed_sk(created_at: str, delivery_id: str) -> str:
    return f"{FAILED_PREFIX}{created_at}#{delivery_id}"


# ---------------------------------------------------------------- internal event handlers
HANDLED = "HANDLED"


def handled_pk(consumer: str, event_id: str) -> str:
    return f"HANDLED#{consumer}#{event_id}"


# ---------------------------------------------------------------- payments (integration_core.stores.payments)
REF = "REF"
EVENT_SK = EVENT  # a provider event's record shares the outbox event's sort key name


def payment_sk(stamp: str, payment_id: str) -> str:
    return f"PAYMENT#{stamp}#{payment_id}"


PAYMENT_PREFIX = "PAYMENT#"


def payments_by_provider_pk(student_id: str, provider: str) -> str:
    return f"PAYMENTS#{student_id}#{provider}"


def refund_sk(payment_id: str, refund_id: str) -> str:
    return f"REFUND#{payment_id}#{refund_id}"


def subscription_record_sk(stamp: str, subscription_id: str) -> str:
    return f"SUBSCRIPTION#{stamp}#{subscription_id}"


def provider_customer_sk(provider: str) -> str:
    return f"PROVIDER#{provider}"


def payment_ref_pk(reference: str) -> str:
    return f"PAYREF#{reference}"


def provider_ref(provider: str, provider_id: str) -> str:
    """A lookup reference by the provider's own id (PaymentIntent, order, capture, subscription, ...)."""
    return f"{provider}:{provider_id}"


def plan_pk(plan_id: str) -> str:
    return f"PLAN#{plan_id}"


def provider_event_pk(provider: str, event_id: str) -> str:
    return f"PROVIDER_EVENT#{provider}#{event_id}"


# ---------------------------------------------------------------- class reminders (integration_core.stores.reminders)
REMINDER_PREFIX = "REMINDER#"
SENT = "SENT"


def reminder_sk(session_id: str, offset_minutes: int) -> str:
    return f"{REMINDER_PREFIX}{session_id}#{offset_minutes}"


def reminder_sent_pk(session_id: str, offset_minutes: int, version: int, student_id: str) -> str:
    return f"REMINDER_SENT#{session_id}#{offset_minutes}#{version}#{student_id}"


# ------------------------------------------------------- calendar feeds (integration_core.stores.calendar_feeds)
FEED = "FEED"
CALENDAR_FEED = "CALENDAR_FEED"


def calendar_feed_pk(token_hash: str) -> str:
    return f"CALENDAR_FEED#{token_hash}"


# ---------------------------------------------------------------- calendar (integration_core.stores.calendar)
CONNECTION = "CONNECTION"
REFRESH_LEASE = "REFRESH_LEASE"
STATE = "STATE"
CALEVENT_PREFIX = "CALEVENT#"


BROKEN_CALENDARS = "BROKEN#CALENDARS"


def calendar_user_pk(user_id: str) -> str:
    return f"CALENDAR#{user_id}"


def calendar_event_sk(course_id: str, session_id: str) -> str:
    return f"{CALEVENT_PREFIX}{course_id}#{session_id}"


def calendar_course_prefix(course_id: str) -> str:
    return f"{CALEVENT_PREFIX}{course_id}#"


def oauth_state_pk(state_digest: str) -> str:
    return f"OAUTH_STATE#{state_digest}"


# ---------------------------------------------------------------- video (integration_core.stores.video)
REGISTRANT_PREFIX = "REGISTRANT#"
RECORDING_PREFIX = "RECORDING#"
ATTENDANCE_PREFIX = "ATTENDANCE#"
SEGMENT_PREFIX = "SEGMENT#"


def meeting_pk(meeting_id: str) -> str:
    return f"MEETING#{meeting_id}"


def video_ref_pk(provider: str, provider_meeting_id: str) -> str:
    return f"VIDEOREF#{provider}:{provider_meeting_id}"


def registrant_sk(who: str) -> str:
    return f"{REGISTRANT_PREFIX}{who}"


def recording_sk(occurrence_uuid: str) -> str:
    return f"{RECORDING_PREFIX}{occurrence_uuid}"


def attendance_sk(occurrence_uuid: str) -> str:
    return f"{ATTENDANCE_PREFIX}{occurrence_uuid}"


def segments_prefix(occurrence_uuid: str) -> str:
    return f"{SEGMENT_PREFIX}{occurrence_uuid}#"


def segment_sk(occurrence_uuid: str, who: str, joined_at: str) -> str:
    return f"{SEGMENT_PREFIX}{occurrence_uuid}#{who}#{joined_at}"


# Provider subscriptions to renew (Graph) and meetings whose attendance is read after their end: one
# partition each, read oldest first by the video schedule (VideoMaintenance).
VIDEO_SUBSCRIPTIONS = "VIDEOSUBS"
SUBSCRIPTION_PREFIX = "SUB#"
VIDEO_POLLS = "VIDEOPOLL"
POLL_PREFIX = "POLL#"


def video_subscription_sk(subscription_id: str) -> str:
    return f"{SUBSCRIPTION_PREFIX}{subscription_id}"


def video_poll_sk(due: str, meeting_id: str, provider_meeting_id: str) -> str:
    return f"{POLL_PREFIX}{due}#{meeting_id}#{provider_meeting_id}"


# ---------------------------------------------------------------- join links (integration_core.stores.join_links)
TEACHER_LINK = "TEACHER"  # the course's teacher, whoever teaches it now (every session: "*", stores.join_links)


def join_links_pk(course_id: str) -> str:
    return f"JOINLINK#{course_id}"


def join_links_prefix(who: str) -> str:
    return f"{who}#"


def join_link_sk(who: str, session_id: str) -> str:
    return f"{who}#{session_id}"


# ---------------------------------------------------------------- sign-in (integration_core.stores.signin)
PENDING = "SIGNIN_PENDING"
IDENTITY = "IDENTITY"
METHODS = "METHODS"
FAMILY = "FAMILY"
COUNT = "COUNT"
LINK_PREFIX = "LINK#"


def signin_pending_pk(state_digest: str) -> str:
    return f"SIGNIN_PENDING#{state_digest}"


def identity_pk(provider: str, external_id: str) -> str:
    return f"IDENTITY#{provider}#{external_id}"


def signin_person_pk(person_id: str) -> str:
    return f"SIGNIN#{person_id}"


def link_sk(provider: str) -> str:
    return f"{LINK_PREFIX}{provider}"


def session_family_pk(family_id: str) -> str:
    return f"SESSION#{family_id}"


def signin_rate_pk(scope: str, key_digest: str, window: int) -> str:
    return f"SIGNIN_RATE#{scope}#{key_digest}#{window}"


# ---------------------------------------------------------------- operations (integration_core.stores.provider_health)
PROVIDER_HEALTH = "PROVIDER_HEALTH"


def provider_health_sk(provider: str) -> str:
    return f"PROVIDER#{provider}"
