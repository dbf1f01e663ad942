"""Preview mode's pure half: the server simulated in the page, the UI states and the stress
content.  Downloaded only when preview mode is on (see :mod:`app.ui.preview_loader`); its
toolbar is :mod:`app.browser.preview_toolbar`.
"""
