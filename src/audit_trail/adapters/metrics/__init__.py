"""Metrics adapters: the core's ``Metrics`` port and the HTTP layer's request timings."""
