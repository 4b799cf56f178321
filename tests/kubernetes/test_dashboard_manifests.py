"""The dashboard's own deployment (issue 24, item 14): classroom/kubernetes/dashboard.yaml.

Its service account may list pods and nothing else (no secrets, no pod create); the hub's pod,
service account and Role stay the chart's (config.yaml changes none of them); every object is
valid Kubernetes (1.32, strict).
"""

from __future__ import annotations

import sys
from pathlib import Path

import kubernetes_validate
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from chart import KUBERNETES_VERSION, chart_files, dashboard_objects, helm_merge, load_config

ACCOUNT = "stagelab-dashboard"


@pytest.mark.parametrize("kind", sorted(dashboard_objects()))
def test_each_object_is_valid_kubernetes(kind):
    kubernetes_validate.validate(dashboard_objects()[kind], KUBERNETES_VERSION, strict=True)


def test_the_dashboards_account_may_only_list_pods():
    objects = dashboard_objects()
    rules = objects["Role"]["rules"]
    assert rules == [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]
    granted = {
        (resource, verb)
        for rule in rules
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    for refused in [
        ("secrets", "get"),
        ("secrets", "list"),
        ("pods", "create"),
        ("pods", "delete"),
        ("pods/exec", "create"),
    ]:
        assert refused not in granted, refused
    # Bound to the dashboard's own account alone, and only through this Role (no ClusterRole).
    binding = objects["RoleBinding"]
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": objects["Role"]["metadata"]["name"],
    }
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": ACCOUNT}]
    assert objects["ServiceAccount"]["metadata"]["name"] == ACCOUNT
    assert "ClusterRole" not in objects and "ClusterRoleBinding" not in objects
    pod = objects["Deployment"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == ACCOUNT
    (container,) = pod["containers"]
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "limits" in container["resources"]


def test_the_hubs_pod_and_rbac_stay_the_charts():
    defaults, _ = chart_files()
    config = load_config()
    values = helm_merge(defaults, config)
    # The dashboard is no longer a container of the hub's pod, and nothing changes the hub's
    # service account or the chart's Role for it (templates/hub/rbac.yaml).
    assert "extraContainers" not in config["hub"]
    assert values["hub"]["extraContainers"] == defaults["hub"]["extraContainers"] == []
    assert "rbac" not in config and "serviceAccount" not in config["hub"]
    assert values["rbac"] == defaults["rbac"]
    assert values["hub"]["serviceAccount"] == defaults["hub"]["serviceAccount"]
    # Nor does it open the hub's pod to anything more than the chart does.
    assert "networkPolicy" not in config["hub"] and "service" not in config["hub"]
