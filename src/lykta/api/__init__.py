"""The HTTP API: one router per area over the shared core, OpenAPI at /docs."""
