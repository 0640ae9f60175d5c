"""The HTTP API: reads projections, publishes commands and streams events, per tenant."""
