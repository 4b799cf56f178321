"""The classroom's spawner: each learner's single-user server and rootless Docker engine.

JupyterHub's LocalProcessSpawner runs the single-user server as the learner's Unix user
(the hub runs as root). This subclass first starts that user's rootless engine (as that user,
through stagelab.classroom.rootless), points the server at it with DOCKER_HOST, and stops the
engine when the server stops (by the learner, the instructor or the idle culler). Where
systemd is PID 1 a learner's engine could be a systemd user service with linger instead; on
servers without systemd (and in containers) the spawner is what starts it.
"""

import asyncio

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Unicode

from stagelab.classroom import rootless
from stagelab.classroom.layout import Account


class RootlessDockerSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that starts the learner's rootless dockerd before their server."""

    engine_path = Unicode(help="PATH for the engine: RootlessKit, dockerd, the system").tag(
        config=True
    )
    venv = Unicode(help="The hub's environment, whose jupyterhub-singleuser runs").tag(config=True)

    @property
    def account(self) -> Account:
        """Return the learner's Unix account."""
        return Account.named(self.user.name)

    def get_env(self):
        """Add the learner's engine and stagelab's folders to the server's environment."""
        env = super().get_env()
        account = self.account
        env.update(
            {
                "DOCKER_HOST": account.docker_host,
                "XDG_RUNTIME_DIR": str(account.runtime_dir),
                "STAGELAB_HOME": str(account.home / ".stagelab"),
                "STAGELAB_LABS": str(account.home / "labs"),
                "PATH": f"{self.venv}/bin:{self.engine_path}",
            }
        )
        return env

    async def start(self):
        """Start the learner's engine (waiting until it answers), then their server."""
        await asyncio.to_thread(rootless.start_engine, self.account)
        try:
            return await super().start()
        except Exception:
            await asyncio.to_thread(rootless.stop_engine, self.account)
            raise

    async def stop(self, now=False):
        """Stop the learner's server, then their engine."""
        await super().stop(now=now)
        await asyncio.to_thread(rootless.stop_engine, self.account)
