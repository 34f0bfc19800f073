"""RateLimiter adapters: buckets in this process, or in Redis for every process."""
