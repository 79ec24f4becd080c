"""Stores: one per aggregate family, owning its item shapes, keys, conditions and transactions."""
