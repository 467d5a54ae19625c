"""Doing a thing once however often it is asked: API idempotency keys and one-time form tokens."""
