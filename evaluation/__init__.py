"""Scripted MCP clients: `medgym eval` (agents over a task selection), results and reports."""
