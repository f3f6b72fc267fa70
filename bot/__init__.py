"""Firebreak: incident response for GenAI serving fleets."""
