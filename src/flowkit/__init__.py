"""FlowKit: CDR analytics that only lets anonymous aggregates out."""
