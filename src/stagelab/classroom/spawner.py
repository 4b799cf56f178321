"""The classroom's spawner: each learner's single-user server and rootless Docker engine.

JupyterHub's LocalProcessSpawner runs the single-user server as the learner's Unix user
(the hub runs as root). This subclass first starts that user's rootless engine (as that user,
through rootless.start_engine), points the server at it (rootless.server_environment), and
stops the engine when the server stops (by the learner, the instructor or the idle culler).
Where systemd is PID 1 a learner's engine could be a systemd user service with linger instead;
on servers without systemd (and in containers) the spawner is what starts it. The hub's
configuration (hubconfig.configure_hub) names this class and sets its traits.
"""

import asyncio
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Dict, Unicode

from . import rootless
from .layout import Account, ClassroomLayout


class RootlessDockerSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that starts the learner's rootless dockerd before their server."""

    engine_path = Unicode(help="PATH for the engine: RootlessKit, dockerd, the system").tag(
        config=True
    )
    venv = Unicode(help="The hub's environment, whose jupyterhub-singleuser runs").tag(config=True)
    classroom_layout = Dict(help="The classroom's layout (ClassroomLayout.to_json())").tag(
        config=True
    )

    @property
    def layout(self) -> ClassroomLayout:
        """Return the classroom's layout, as the hub's settings gave it."""
        return ClassroomLayout.from_json(self.classroom_layout)

    @property
    def account(self) -> Account:
        """Return the learner's Unix account."""
        return self.layout.account(self.user.name)

    def get_env(self):
        """Add the learner's engine and the hub environment's tools to the server's environment."""
        env = super().get_env()
        env.update(rootless.server_environment(self.account, Path(self.venv), self.engine_path))
        return env

    async def start(self):
        """Start the learner's engine (waiting until it answers), then their server."""
        await asyncio.to_thread(rootless.start_engine, self.layout, self.account)
        try:
            return await super().start()
        except Exception:
            await asyncio.to_thread(rootless.stop_engine, self.account)
            raise

    async def stop(self, now=False):
        """Stop the learner's server, then their engine."""
        await super().stop(now=now)
        await asyncio.to_thread(rootless.stop_engine, self.account)
