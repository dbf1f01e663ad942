"""Sign-in state: one immutable snapshot, changed only by :func:`app.auth.transition.transition`."""
