"""Adapters: one module per AWS service and per provider. No business rules here."""
