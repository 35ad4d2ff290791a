"""``mlkube validate --policy`` and ``--connectivity`` hold one cluster (environment) at a time (issue 22 item 3).

The rules and the traffic matrix look across the objects of one cluster, never across clusters, so each
environment folder is read, checked and dropped before the next: the findings are those of checking every
object at once (computed here the old way, as the oracle), and memory is that of the largest environment.
"""

from __future__ import annotations

import shutil
import tracemalloc
from pathlib import Path

from click.testing import CliRunner
from helpers import REPO_ROOT

from mlkube.cli import main
from mlkube.kube.loader import load_manifests_isolated
from mlkube.policy.cli import clusters
from mlkube.policy.engine import PolicyReport, check_policy
from mlkube.policy.model import PolicySettings
from mlkube.policy.report import format_text
from mlkube.traffic.matrix import cluster_matrix
from mlkube.validation.schemas import DEFAULT_KUBERNETES_VERSION

DIST = REPO_ROOT / "dist"


def _invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["validate", *args])
    return result.exit_code, result.stdout


def test_policy_findings_equal_checking_every_object_at_once(tmp_path: Path) -> None:
    manifests, _ = load_manifests_isolated([DIST])
    oracle = PolicyReport()
    for group in clusters(manifests, [DIST]):
        oracle.extend(check_policy(group, PolicySettings()))
    code, _ = _invoke(str(DIST), "--policy", "--output", str(tmp_path / "report.txt"))
    assert code == 0
    assert (tmp_path / "report.txt").read_text() == format_text(oracle)
    assert oracle.objects > 100 and oracle.findings  # the example's waived findings, and warnings


def test_connectivity_matrices_equal_checking_every_object_at_once() -> None:
    manifests, _ = load_manifests_isolated([DIST])
    groups = [group for group in clusters(manifests, [DIST]) if group]
    assert len(groups) == 3  # dev, staging, prod
    expected = "".join(("\n" if index else "") + f"== cluster {folder} ==\n{text}\n"
                       for index, (folder, text) in enumerate(cluster_matrix(group) for group in groups))
    code, output = _invoke(str(DIST), "--connectivity")
    assert code == 0
    assert output == expected + f"{len(manifests)} objects valid (Kubernetes {DEFAULT_KUBERNETES_VERSION}, strict)\n"


def _environments(root: Path, count: int) -> Path:
    """``count`` copies of the example's dev environment, each its own cluster (it has an _argocd folder)."""
    for index in range(count):
        shutil.copytree(DIST / "dev", root / f"env{index}", ignore=shutil.ignore_patterns("*.json"))
    return root


def _peak(*args: str) -> int:
    tracemalloc.start()
    try:
        code, output = _invoke(*args)
        assert code == 0, output
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_is_that_of_one_environment_not_of_all(tmp_path: Path) -> None:
    # Before, --policy and --connectivity read every object of every environment first: six environments
    # cost about six times one. Now each is dropped before the next is read.
    one, six = _environments(tmp_path / "one", 1), _environments(tmp_path / "six", 6)
    for flags in (["--policy", "--output", str(tmp_path / "report.txt")], ["--connectivity"]):
        small, large = _peak(str(one), *flags), _peak(str(six), *flags)
        assert large < 2 * small, (flags, small, large)
