"""Marshmallow schemas shared by the node's API, CLI and OpenAPI document."""
