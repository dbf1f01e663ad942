"""The chat panel and its connection: downloaded and imported only after sign-in is confirmed.

Nothing here is in pyscript.toml's start-up list; see :data:`app.ui.chat_loader.CHAT_FILES`.
"""
