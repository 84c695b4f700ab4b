"""MCP wiring only: the server app, its lifespan, tool registration, transports, auth, identity, recording."""
