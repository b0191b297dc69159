"""tracebus stream processing: settings, Kafka plumbing, capture, the router and sink runners."""
