"""Lifecycle and carbon events: intake (validation, authorization), projections."""
