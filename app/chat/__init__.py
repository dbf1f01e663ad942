"""The chat's pure half: the session core, the conversation, frame parsing and the words the
panel shows.  Downloaded only after sign-in is confirmed (:data:`app.ui.chat_loader.CHAT_FILES`);
the panel and the socket adapter are in :mod:`app.browser`.
"""
