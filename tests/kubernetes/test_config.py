"""classroom/kubernetes/config.yaml: valid for the chart, and in step with the images.

The first tests check the config as the chart will see it (merged over the chart's defaults,
validated against its values schema); the others fail when the config, the Dockerfile, the
images' scripts and stagelab's constants drift apart.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import tomllib

sys.path.insert(0, str(Path(__file__).parent))
from chart import (
    KUBERNETES_VERSION,
    ROOT,
    SYSBOX,
    chart_files,
    dashboard_objects,
    helm_merge,
    load_config,
)

from stagelab.classroom import hubconfig
from stagelab.classroom.kubernetes.board import (
    ATTEMPTS_PATH,
    ENGINE_CONTAINER,
    POD_SELECTOR,
    SERVER_PORT,
)
from stagelab.classroom.kubernetes.layout import (
    ENGINE,
    KUBERNETES_DASHBOARD_MODULE,
    LEARNER,
    SOCKET_DIR,
    image_folder,
)
from stagelab.labs.attempts import DASHBOARD_URL_ENV

IMAGE_FOLDER = image_folder(ROOT)
DOCKERFILE = (IMAGE_FOLDER / "Dockerfile").read_text()


@pytest.mark.parametrize("overlays", [(), (SYSBOX,)], ids=["privileged", "sysbox"])
def test_the_config_validates_against_the_charts_schema(overlays):
    defaults, schema = chart_files()
    jsonschema.validate(helm_merge(defaults, load_config(*overlays)), schema)


@pytest.mark.parametrize(
    "path, wrong",
    [
        (["singleuser", "extraContainer"], []),  # a misspelt key
        (["cull", "timeout"], "1h"),  # a string where the chart wants a number
        (["prePuller", "extraImages", "stagelab-engine"], {"name": "stagelab/classroom-engine"}),
    ],
    ids=["misspelt-key", "wrong-type", "missing-tag"],
)
def test_the_schema_check_catches_mistakes(path, wrong):
    defaults, schema = chart_files()
    config = load_config()
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = wrong
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(helm_merge(defaults, config), schema)


def test_helm_merge_keeps_defaults_replaces_lists_and_deletes_nulls():
    defaults = {"a": {"b": 1, "c": [1, 2]}, "d": 4}
    assert helm_merge(defaults, {"a": {"c": [3]}, "d": None}) == {"a": {"b": 1, "c": [3]}}
    assert defaults == {"a": {"b": 1, "c": [1, 2]}, "d": 4}


# ---------------------------------------------------------------- the config and the images


def _container(containers: list[dict], name: str) -> dict:
    (found,) = [container for container in containers if container["name"] == name]
    return found


def test_the_config_names_the_images_stagelab_builds():
    config = load_config()
    single = config["singleuser"]
    assert f"{single['image']['name']}:{single['image']['tag']}" == LEARNER.ref
    engine = _container(single["extraContainers"], ENGINE_CONTAINER)
    assert engine["image"] == ENGINE.ref
    puller = config["prePuller"]["extraImages"]["stagelab-engine"]
    assert f"{puller['name']}:{puller['tag']}" == ENGINE.ref
    dashboard = dashboard_objects()["Deployment"]["spec"]["template"]["spec"]
    assert _container(dashboard["containers"], "dashboard")["image"] == LEARNER.ref


def test_the_engine_sidecar_shares_its_socket_with_the_learner():
    single = load_config()["singleuser"]
    engine = _container(single["extraContainers"], ENGINE_CONTAINER)
    assert engine["securityContext"]["privileged"] is True
    mounts = {mount["name"]: mount["mountPath"] for mount in engine["volumeMounts"]}
    assert mounts == {"engine-socket": SOCKET_DIR, "engine-data": "/var/lib/docker"}
    assert {"name": "engine-socket", "mountPath": SOCKET_DIR} in single["storage"][
        "extraVolumeMounts"
    ]
    volumes = {volume["name"] for volume in single["storage"]["extraVolumes"]}
    assert volumes == {"engine-socket", "engine-data"}
    probe = engine["readinessProbe"]["exec"]["command"]
    assert f"unix://{SOCKET_DIR}/docker.sock" in probe
    # The learner's server reaches that socket: DOCKER_HOST in the image, the engine script's
    # default folder, and the socket's group, which is the pod's fsGid and the learner's group.
    assert f"DOCKER_HOST=unix://{SOCKET_DIR}/docker.sock" in DOCKERFILE
    start = (IMAGE_FOLDER / "engine-start").read_text()
    assert f"STAGELAB_ENGINE_SOCKET_DIR:-{SOCKET_DIR}}}" in start
    assert f"STAGELAB_ENGINE_SOCKET_GROUP:-{single['fsGid']}}}" in start
    assert f"useradd --uid {single['uid']} --gid {single['fsGid']} " in DOCKERFILE


def test_the_dashboard_service_is_wired_end_to_end():
    hub = load_config()["hub"]
    found = re.fullmatch(r"http://([a-z-]+):(\d+)", hub["services"]["dashboard"]["url"])
    host, port = found[1], int(found[2])
    objects = dashboard_objects()
    service = objects["Service"]
    assert service["metadata"]["name"] == host
    assert service["spec"]["ports"] == [{"name": "dashboard", "port": port, "targetPort": port}]
    pod = objects["Deployment"]["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    # The chart's hub admits this label to its API; the dashboard admits the proxy's pods.
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    (egress,) = load_config()["proxy"]["chp"]["networkPolicy"]["egress"]
    assert (
        egress["to"][0]["podSelector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    )
    assert egress["ports"] == [{"port": port, "protocol": "TCP"}]
    (ingress,) = objects["NetworkPolicy"]["spec"]["ingress"]
    assert ingress["ports"] == [{"port": port, "protocol": "TCP"}]
    # The proxy's pods (the instructor's page) and the learners' (their checks' posts: the
    # label KubeSpawner gives every server's pod, which the board lists pods by) get in.
    sources = [source["podSelector"]["matchLabels"] for source in ingress["from"]]
    learners = dict([POD_SELECTOR.split("=")])
    assert sources == [{"component": "proxy"}, learners]
    container = _container(pod["spec"]["containers"], "dashboard")
    assert container["ports"] == [{"name": "dashboard", "containerPort": port}]
    env = {item["name"]: item.get("value", item.get("valueFrom")) for item in container["env"]}
    assert env["JUPYTERHUB_SERVICE_URL"] == f"http://0.0.0.0:{port}"
    # The hub's service is `hub` in the release's namespace, its API on the chart's port.
    assert env["JUPYTERHUB_API_URL"] == "http://hub:8081/hub/api"
    assert env["JUPYTERHUB_API_TOKEN"]["secretKeyRef"] == {
        "name": "hub",
        "key": "hub.services.dashboard.apiToken",
    }
    # The command is the package's dashboard module (the image installs the package's wheel),
    # and the course it reads is where the learner image's Dockerfile puts it.
    command = container["command"]
    assert command[:3] == ["python", "-m", KUBERNETES_DASHBOARD_MODULE]
    module = ROOT / "src" / Path(*KUBERNETES_DASHBOARD_MODULE.split(".")).with_suffix(".py")
    assert module.is_file()
    assert "pip install --no-deps --no-index /wheels/*.whl" in DOCKERFILE
    arguments = dict(zip(command[3::2], command[4::2]))
    assert arguments == {"--course": "/opt/stagelab/course", "--instructor": "instructor"}
    assert "COPY --from=stagelab-source labs /opt/stagelab/course/labs" in DOCKERFILE
    assert "COPY --from=stagelab-source notebooks /opt/stagelab/course/notebooks" in DOCKERFILE
    # No environment variable points stagelab at the course: it is found (course.py).
    assert not {name for name in env if name.startswith("STAGELAB_")}
    assert "STAGELAB_LABS" not in DOCKERFILE


def test_roles_give_no_person_access_to_a_learners_server_and_learners_only_their_own():
    roles = load_config()["hub"]["loadRoles"]
    assert roles["user"]["scopes"] == ["self"]
    assert roles["instructor"]["users"] == ["instructor"]
    assert "access:services!service=dashboard" in roles["instructor"]["scopes"]
    assert not any(scope.startswith("access:servers") for scope in roles["instructor"]["scopes"])
    # The dashboard reaches no server either: learners' checks post to it (board.py).
    assert not any(scope.startswith("access:servers") for scope in roles["dashboard"]["scopes"])
    assert roles["dashboard"]["services"] == ["dashboard"]
    single = load_config()["singleuser"]
    url = single["extraEnv"][DASHBOARD_URL_ENV]
    service_url = load_config()["hub"]["services"]["dashboard"]["url"]
    assert url == f"{service_url}/services/dashboard/{ATTEMPTS_PATH}"
    (egress,) = single["networkPolicy"]["egress"]
    assert egress["ports"] == [{"port": int(service_url.rsplit(":", 1)[1]), "protocol": "TCP"}]
    pod_labels = dashboard_objects()["Deployment"]["spec"]["template"]["metadata"]["labels"]
    assert egress["to"][0]["podSelector"]["matchLabels"].items() <= pod_labels.items()
    # The same roles as the single-server hub's (hubconfig.py).
    assert roles["user"]["scopes"] == hubconfig.LEARNER_SCOPES
    assert roles["instructor"]["scopes"] == hubconfig.INSTRUCTOR_SCOPES


def test_idle_servers_are_culled():
    cull = load_config()["cull"]
    assert cull["enabled"] is True and 0 < cull["timeout"] <= 4 * 3600


def test_the_single_user_server_port_is_kubespawners_default():
    assert SERVER_PORT == 8888 and "port" not in load_config()["singleuser"]


def test_the_learner_image_pins_stagelabs_dependencies_as_pyproject_does():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pins = dict(
        re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)$",
            (IMAGE_FOLDER / "requirements.txt").read_text(),
            re.MULTILINE,
        )
    )
    required = dict(pin.split("==") for pin in project["dependencies"])
    assert {name: pins.get(name) for name in required} == required


# ---------------------------------------------------------------- what the chart passes through
# The chart's schema takes containers and volumes as they are (arrays of anything): a typo in
# one reaches the cluster. Kubernetes' own schemas (strict: no unknown fields) check them.


def _pod(containers: list[dict], volumes: list[dict]) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "checked"},
        "spec": {"containers": containers, "volumes": volumes},
    }


@pytest.mark.parametrize("overlays", [(), (SYSBOX,)], ids=["privileged", "sysbox"])
def test_the_learners_pod_pieces_are_valid_kubernetes(overlays):
    single = load_config(*overlays)["singleuser"]
    notebook = {
        "name": "notebook",
        "image": LEARNER.ref,
        "volumeMounts": single["storage"]["extraVolumeMounts"],
    }
    pod = _pod([notebook] + single["extraContainers"], single["storage"]["extraVolumes"])
    pod["metadata"]["annotations"] = single.get("extraAnnotations", {})
    pod["spec"].update(single.get("extraPodConfig", {}))
    kubernetes_validate.validate(pod, KUBERNETES_VERSION, strict=True)


def test_the_engine_sidecar_has_cpu_and_memory_limits_in_both_forms():
    for overlays in [(), (SYSBOX,)]:
        single = load_config(*overlays)["singleuser"]
        limits = _container(single["extraContainers"], ENGINE_CONTAINER)["resources"]["limits"]
        assert {"cpu", "memory", "ephemeral-storage"} <= set(limits), overlays


def test_under_sysbox_the_engine_is_unprivileged_and_otherwise_the_same():
    privileged = load_config()["singleuser"]
    sysbox = load_config(SYSBOX)["singleuser"]
    assert sysbox["extraPodConfig"]["runtimeClassName"] == "sysbox-runc"
    assert sysbox["extraAnnotations"]["io.kubernetes.cri-o.userns-mode"].startswith("auto")
    engine = _container(sysbox["extraContainers"], ENGINE_CONTAINER)
    assert engine["securityContext"]["privileged"] is False
    # Helm replaces lists whole: the overlay restates the engine container; only its
    # privilege may differ from config.yaml's, and it adds no other container.
    assert [container["name"] for container in sysbox["extraContainers"]] == [
        container["name"] for container in privileged["extraContainers"]
    ]
    same = dict(_container(privileged["extraContainers"], ENGINE_CONTAINER))
    assert {**same, "securityContext": engine["securityContext"]} == engine


def test_the_network_policies_the_config_adds_are_valid_kubernetes():
    config = load_config()
    for name, egress in [
        ("proxy", config["proxy"]["chp"]["networkPolicy"]["egress"]),
        ("singleuser", config["singleuser"]["networkPolicy"]["egress"]),
    ]:
        kubernetes_validate.validate(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": name},
                "spec": {"podSelector": {}, "egress": egress},
            },
            KUBERNETES_VERSION,
            strict=True,
        )


def test_the_kubernetes_check_catches_a_misspelt_container_field():
    single = load_config()["singleuser"]
    engine = dict(_container(single["extraContainers"], ENGINE_CONTAINER))
    engine["securityContex"] = engine.pop("securityContext")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            _pod([engine], single["storage"]["extraVolumes"]), KUBERNETES_VERSION, strict=True
        )


# JupyterHub's changelog (docs/source/reference/changelog.md of 6.1.1): 6.1.0's security fixes
# "have all been backported to 5.5.3", and 6.1.1's fix "has also been backported to 5.5.4".
SAME_SECURITY_FIXES = {"6.1.1": "5.5.4"}


def test_the_learners_jupyterhub_has_the_single_server_hubs_security_fixes():
    pins = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["stagelab"]["pins"]
    versions = {
        group: dict(pin.split("==") for pin in pins[group])["jupyterhub"]
        for group in ("classroom-hub", "kubernetes-learner")
    }
    hub, learner = versions["classroom-hub"], versions["kubernetes-learner"]
    assert learner in (hub, SAME_SECURITY_FIXES[hub]), versions
    requirements = (IMAGE_FOLDER / "requirements.txt").read_text()
    assert f"\njupyterhub=={learner}\n" in requirements


def test_under_sysbox_no_container_of_a_learners_pod_is_privileged():
    defaults, _ = chart_files()
    privileged = helm_merge(defaults, load_config())["singleuser"]
    sysbox = helm_merge(defaults, load_config(SYSBOX))["singleuser"]
    # The chart adds a privileged init container that blocks the cloud metadata server with
    # iptables when blockWithIptables is on (its values.schema.yaml); under Sysbox it is off,
    # and the network policy blocks the server instead (never both: the schema says so).
    assert privileged["cloudMetadata"]["blockWithIptables"] is True
    assert sysbox["cloudMetadata"]["blockWithIptables"] is False
    assert sysbox["networkPolicy"]["enabled"] is True
    assert sysbox["networkPolicy"]["egressAllowRules"]["cloudMetadataServer"] is False
    containers = sysbox["extraContainers"] + sysbox["initContainers"]
    assert [c for c in containers if c.get("securityContext", {}).get("privileged")] == []
    assert [c for c in privileged["extraContainers"] if c["securityContext"]["privileged"]]
