"""Protocol-neutral core: the request the engine runs, the events it yields, and the conversions.

Imports only ``protocol`` and ``errors``; never FastAPI or the engine.
"""
