"""``mlkube boot``: run an app's pods locally in podman, under their own security context.

``pods.py`` turns manifests into the pods a cluster would start (one per Deployment, the parallel pods of
a Job with their completion indexes, one run of a CronJob); ``environment.py`` resolves each container's
env and ``$(VAR)`` references the way the kubelet does; ``volumes.py`` makes the pod's volumes on disk;
``podman.py`` runs the pods (init containers in order, native sidecars, main containers), waits for them
and tears everything down.
"""

from .podman import BootOptions, BootReport, boot
from .pods import PodToBoot, pods_to_boot

__all__ = ["BootOptions", "BootReport", "PodToBoot", "boot", "pods_to_boot"]
