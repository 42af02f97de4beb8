"""Ingestion: operator CDR files become FlowDB rows, pseudonymised and quality-checked."""
