"""The video capability: a meeting per course at a video provider (Zoom now; Teams later), its
participants, recordings and attendance (meetings.py), provider callbacks (callbacks.py) and the
reactions to the directory's events (reactions.py). No provider is named here: the adapters are
chosen by meetings.ADAPTERS."""
