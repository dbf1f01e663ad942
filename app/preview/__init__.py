"""Preview mode: the app against a server simulated in the page, with a toolbar that puts the UI
into every state.  Downloaded only when preview mode is on (see :mod:`app.ui.preview_loader`).
"""
