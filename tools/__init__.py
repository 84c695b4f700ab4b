"""One plain typed function per MCP tool. No MCP imports: the server wraps these."""
