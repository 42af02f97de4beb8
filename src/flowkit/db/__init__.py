"""FlowDB: FlowKit's standard schema on embedded DuckDB, and the synthetic country that fills it."""

from flowkit.db.flowdb import FlowDB

__all__ = ["FlowDB"]
