"""Thin routers: parse, check roles, call a service, shape the answer."""
