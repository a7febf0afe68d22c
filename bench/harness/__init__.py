"""A deploy-faithful send harness: the send function as `make package` deploys it, on loopback.

- sesstub: an SES v2 SendEmail stand-in (recipient rate limit answering 429, latency, faults, records).
- deployed: reads dist/sam.json for the send function's batch size, concurrency, timeout and
  environment, and the send queue's visibility timeout and maximum receive count.
- worker: a process that polls the send queue like Lambda's SQS poller and calls `send_newsletter`.
- run: moto's server for SQS and DynamoDB shared by every process, a real dispatch, N workers,
  injected duplicate deliveries, and a worker killed mid-batch; returns what happened to everyone.
"""
