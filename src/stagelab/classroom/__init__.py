"""Classroom: one server, a hub, an isolated rootless Docker engine per learner, a dashboard;
and the same classroom on Kubernetes (the `kubernetes` subpackage).

`stagelab classroom up --learners N` serves a workshop; see the README's Classroom section.
Every path is ClassroomLayout's (layout.py), read when called; the hub's configuration is a
function of the class's settings (hubconfig.py), loaded by jupyterhub_config.py. Layers, lowest
first: layout; settings; installs and rootless; accounts, board and preflight; hub, as_learner
and hubconfig; lifecycle and the hub's dashboard and spawner; commands (the command line),
jupyterhub_config and kubernetes.
"""
