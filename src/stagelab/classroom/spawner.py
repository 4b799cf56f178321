"""The classroom's spawner: each learner's single-user server and rootless Docker engine.

JupyterHub's LocalProcessSpawner runs the single-user server as the learner's Unix user
(the hub runs as root). This subclass first starts that user's rootless engine (as that user,
through rootless.start_engine), points the server at it (rootless.server_environment), starts
the server confined like the engine (confine.py: in the learner's cgroup, with private
temporary folders, as the learner), and when the server stops (by the learner, the instructor
or the idle culler) stops the engine and ends whatever else the learner left running (the
cgroup's kill). Where systemd is PID 1 a learner's engine could be a systemd user service with
linger instead; on servers without systemd (and in containers) the spawner is what starts it.
The hub's configuration (hubconfig.configure_hub) names this class and sets its traits.

After a hub restart the spawner knows its server by the state it saved: the pid with the
process's uid and start time (processes.ProcessIdentity). It signals or trusts that pid only
while all three match: the number may since belong to another process, another learner's even.
"""

import asyncio
from pathlib import Path

from jupyterhub.spawner import LocalProcessSpawner
from traitlets import Dict, Instance, Unicode

from . import rootless
from .cgroups import CgroupFs
from .disks import mount_runtime
from .layout import Account, ClassroomError, ClassroomLayout
from .processes import ProcessIdentity


class RootlessDockerSpawner(LocalProcessSpawner):
    """LocalProcessSpawner that starts the learner's rootless dockerd before their server."""

    engine_path = Unicode(help="PATH for the engine: RootlessKit, dockerd, the system").tag(
        config=True
    )
    venv = Unicode(help="The hub's environment, whose jupyterhub-singleuser runs").tag(config=True)
    classroom_layout = Dict(help="The classroom's layout (ClassroomLayout.to_json())").tag(
        config=True
    )
    identity = Instance(ProcessIdentity, allow_none=True, help="The server process, as started")

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
        env.update(
            rootless.server_environment(
                self.account, Path(self.venv), self.engine_path, self.layout.image_library
            )
        )
        return env

    def make_preexec_fn(self, name):
        """Return what the server's process runs before exec: join the learner's cgroup, take
        private temporary folders, drop to the learner (confine.py), start in their home."""
        return rootless.confinement(self.layout, self.layout.account(name)).preexec()

    def load_state(self, state):
        """Restore the server's identity (pid, uid, start time) after a hub restart."""
        super().load_state(state)
        self.identity = ProcessIdentity.from_text(state.get("identity", ""))

    def get_state(self):
        """Save the server's identity with its pid."""
        state = super().get_state()
        if self.identity is not None:
            state["identity"] = self.identity.to_text()
        return state

    def clear_state(self):
        """Forget the server's pid and identity."""
        super().clear_state()
        self.identity = None

    async def _signal(self, sig):
        """Signal the server only while its pid is still that process; else it has ended."""
        if self.identity is None or self.identity.pid != self.pid:
            return False
        return self.identity.signal(sig)

    def _prepare(self) -> None:
        account = self.account
        if not CgroupFs().account(account.name).exists():
            raise ClassroomError(
                f"{account.name} has no cgroup: run `stagelab classroom up` again as root."
            )
        mount_runtime(account)
        rootless.start_engine(self.layout, account)

    async def start(self):
        """Start the learner's engine (waiting until it answers), then their server."""
        await asyncio.to_thread(self._prepare)
        try:
            address = await super().start()
        except Exception:
            await asyncio.to_thread(self._end_all)
            raise
        # Popen returns once the child has exec'd: this start time is the server's for good.
        self.identity = ProcessIdentity.of(self.pid)
        return address

    def _end_all(self) -> None:
        rootless.stop_engine(self.account)
        left = CgroupFs().account(self.user.name).kill()
        if left:
            self.log.warning("%s: processes %s did not end", self.user.name, sorted(left))

    async def stop(self, now=False):
        """Stop the learner's server, then their engine and anything else they left running."""
        await super().stop(now=now)
        await asyncio.to_thread(self._end_all)
