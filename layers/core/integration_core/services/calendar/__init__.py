"""The calendar capability: a user's Google Calendar connection and the sync of their classes.

- connection.py: authorization URL (state + PKCE kept server-side), code exchange, tokens (KMS,
  refreshed once under concurrency), broken connections, revoke;
- events.py: events of the API (create, patch, upcoming);
- sync.py: a course's sessions into students' calendars without duplicates;
- status.py: what GET /google-calendar/status shows;
- reactions.py: sync on its own when enrollments and schedules change (internal event handlers);
- deps.py: the seams (store, provider, cipher) unit tests replace with fakes.
"""
