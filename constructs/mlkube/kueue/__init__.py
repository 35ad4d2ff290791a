"""Kueue capability: LocalQueues for the queues jobs name, and the check that every queued job fits its ClusterQueue."""
