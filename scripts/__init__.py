"""Developer and deploy scripts (not deployed)."""
