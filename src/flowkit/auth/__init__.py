"""FlowAuth: users, roles, servers and the tokens that carry their scopes."""
