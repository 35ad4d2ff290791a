"""Facts about Kubernetes kinds that several parts of mlkube share (where pods live, ...)."""
