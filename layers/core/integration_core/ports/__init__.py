"""Ports: what a capability asks of its providers, one small Protocol each; adapters implement them."""
