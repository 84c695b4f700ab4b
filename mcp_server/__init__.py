"""medgym's MCP server: application, episodes, transports, settings and the CLI."""

__version__ = "0.1.0"
