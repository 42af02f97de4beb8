"""OPAL: the web portal serving FlowKit aggregates to ministries, statistics offices and NGOs."""
