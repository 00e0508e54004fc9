"""Domain services: keyword-only functions taking ``session``; they never commit (callers do)."""
