"""Local mode: PeerPost on loopback with moto, an outbox, and a runner for scheduled and queue handlers."""
