"""Classroom: one server, a hub, an isolated rootless Docker engine per learner, a dashboard.

`stagelab classroom up --learners N` serves a workshop; see the README's Classroom section.
Layers, lowest first: layout; installs and rootless; accounts and board; hub and as_learner;
lifecycle; commands (the command line).
"""
