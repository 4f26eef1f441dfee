"""MCP client: the tools of Model Context Protocol servers the user runs (stdio child
processes and streamable HTTP endpoints) offered to the agent as tools like the built-in
ones, under the same permission rules and the same sanitise/bound/mask path.

- ``config``: ``[mcp.servers.NAME]`` tables (and a trusted project ``.mcp.json``);
- ``trust``: which project ``.mcp.json`` files the user trusted (by content hash);
- ``client``: one server's connection (started on first use, restarted once, timeouts);
- ``sdk``: the SDK's import, log, errors and results, the stdio transport;
- ``tools``: a server's tools as agent tools (prefixed names, bounded descriptions);
- ``manager``: every configured server for one agent session;
- ``edit``: adding, changing, disabling servers in config.toml (Settings → MCP).

The SDK (PyPI ``mcp``) is imported only in ``client`` and ``sdk``, when a server
starts: Rung's start-up never pays for it.
"""
