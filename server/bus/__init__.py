"""The scale-out bus (docs/operations.md, section 5): gateways publish accepted TrackFrames to NATS JetStream, site
workers consume them. `codec` is pure; `jetstream` holds the NATS parts (stream, consumers, the publishing sink)."""
