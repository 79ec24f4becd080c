"""Sign-in with Google, Microsoft and GitHub: starting (start.py), the callback and the account
rules (accounts.py), linked methods and provider tokens (links.py), the service's session
(sessions.py), rate limits (limits.py); the seams in deps.py."""
