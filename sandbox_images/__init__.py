"""Sandbox image definitions (data files: Dockerfile, offline build script, package lists)."""
