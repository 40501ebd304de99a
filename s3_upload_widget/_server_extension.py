"""A Jupyter server extension: the kernel websocket sends each message at once.

jupyter_server leaves Nagle's algorithm on for the kernel websocket. A request from a
widget is answered with several small messages (the kernel's "busy" status, the reply,
"idle"); with Nagle on, the reply waits until the browser acknowledges the first, and a
browser delays that acknowledgement (40 ms on Linux). So every kernel round trip of
every widget took ~50 ms on localhost, whatever the kernel did. With TCP_NODELAY it
takes what the kernel takes (docs/LEARNED.md has the measurement).

Enabled by ``etc/jupyter/jupyter_server_config.d/s3_upload_widget.json`` when the
package is installed; ``jupyter server extension disable s3_upload_widget`` turns it
off. It wraps whichever connection class the server uses (a gateway's too) and changes
nothing else.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)


def no_delay(base: type) -> type:
    """A subclass of the kernel websocket connection class ``base`` whose connections
    set TCP_NODELAY on their websocket before connecting to the kernel."""
    if getattr(base, "_s3uw_no_delay", False):
        return base

    class NoDelayConnection(base):  # type: ignore[misc, valid-type]
        _s3uw_no_delay = True

        def connect(self) -> Any:
            try:
                self.websocket_handler.set_nodelay(True)
            except Exception:  # never stand between a notebook and its kernel
                log.debug("s3-upload-widget: could not set TCP_NODELAY", exc_info=True)
            return super().connect()

    NoDelayConnection.__name__ = NoDelayConnection.__qualname__ = f"{base.__name__}NoDelay"
    NoDelayConnection.__module__ = __name__
    return NoDelayConnection


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Called by jupyter_server at start: wrap the kernel websocket connection class."""
    settings = serverapp.web_app.settings
    base = settings.get("kernel_websocket_connection_class")
    if base is None:
        base = serverapp.kernel_websocket_connection_class
    settings["kernel_websocket_connection_class"] = no_delay(base)
    serverapp.log.info("s3-upload-widget: kernel websockets send without delay (TCP_NODELAY)")
