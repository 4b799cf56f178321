"""The file the class's JupyterHub loads (`jupyterhub -f` this file, started by hub.start).

All of the configuration is hubconfig.configure_hub, applied to the class's settings
($STAGELAB_CLASSROOM_SETTINGS). `get_config` is given by JupyterHub when it loads this file.
"""

from stagelab.classroom.hubconfig import configure_hub
from stagelab.classroom.settings import HubSettings

configure_hub(get_config(), HubSettings.read())  # noqa: F821
