"""The object layer: facts about Kubernetes objects that the rest of mlkube shares (where each kind keeps its pods,
quantities, label selectors, NetworkPolicy semantics, reading and writing manifests). It imports nothing of mlkube
above it (only ``mlkube.errors``)."""
