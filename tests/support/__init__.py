"""Helpers shared by the unit and component tests."""
