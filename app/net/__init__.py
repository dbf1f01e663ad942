"""Network policy that is pure Python: backoff and (later) close codes and the socket machine."""
