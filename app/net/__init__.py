"""Network policy in pure Python: backoff, the close policy, the socket's state machine, the
registry of leases on it, and the server interface (:mod:`.link`) the page talks through."""
