"""The extra config file of each learner's single-user server on a class served over TLS.

hubconfig.server_args passes it (`--config` this file, as installed beside hubconfig.py in the
hub's root-owned environment) to `jupyterhub-singleuser`; no file of the learner's can change
it (`Spawner.disable_user_config`), and the command line's options still win over it. It makes
Jupyter Server's `_xsrf` cookie Secure, on the server's own path (JUPYTERHUB_SERVICE_PREFIX,
as Jupyter Server sets it when given no cookie options: jupyter_server/serverapp.py), like the
hub's own cookies (hubconfig: `cookie_options`). `get_config` is given by traitlets when it
loads this file.
"""

import os

get_config().ServerApp.tornado_settings = {  # noqa: F821
    "xsrf_cookie_kwargs": {
        "secure": True,
        "path": os.environ.get("JUPYTERHUB_SERVICE_PREFIX", "/"),
    }
}
