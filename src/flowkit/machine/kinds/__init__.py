"""One module per query kind; importing this package registers them all."""

from flowkit.machine.kinds import (  # noqa: F401
    daily_location,
    flows,
    location_event_counts,
    modal_location,
    spatial_aggregate,
    unique_subscriber_counts,
)
