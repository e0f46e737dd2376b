"""Transport: the only package that knows protobuf and gRPC (encoder, spool, uplink, enrollment)."""
