"""FlowAPI: the HTTP API, where only redacted aggregates leave."""
