"""The AG-UI relay: an :class:`~backend.agent.Agent` that forwards each turn to an AG-UI HTTP
endpoint (``--agent-url``) and hands back its validated events.

* :mod:`~backend.relay.sse` decodes ``text/event-stream`` bytes (no I/O);
* :mod:`~backend.relay.events` validates each event with the ``ag-ui-protocol`` models;
* :mod:`~backend.relay.projection` rebuilds what the page may see;
* :mod:`~backend.relay.headers` reads the upstream headers without ever showing their values;
* :mod:`~backend.relay.client` is the I/O: one aiohttp POST per run, its deadlines and limits.
"""
