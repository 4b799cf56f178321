"""The classroom on Kubernetes: Zero to JupyterHub with a Docker engine per learner's pod.

The chart's config is classroom/kubernetes/config.yaml in a checkout (see the README there);
its tests are tests/kubernetes/. This package builds the two images it names, runs them the
way the pod would (`stagelab classroom image [--smoke]`), and serves the instructor's dashboard
with the learners' pods as its rows. Layers, lowest first: layout and board; build; smoke;
commands and dashboard.
"""
