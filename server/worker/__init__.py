"""Site workers (`retail-server worker`): fusion + analytics of the sites NATS JetStream places on this process
(`service`), with their durable per-site progress (`progress`)."""
