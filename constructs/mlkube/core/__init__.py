"""The core layer: specs, constructs, the pod builder, the Platform and its synth pipeline.

It builds on the object layer (``mlkube.kube``) and imports no capability (images, pinning, policy, GitOps...):
see "Package layout" in the README.
"""
