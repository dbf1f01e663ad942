"""Pure view decisions: what the page shows for a given state, with no DOM in sight."""
