"""The server extension turns off Nagle's algorithm on kernel websockets, and is on
whenever the package is installed (the config file the wheel ships)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from s3_upload_widget import _server_extension as ext

ROOT = Path(__file__).resolve().parent.parent


class FakeHandler:
    def __init__(self, fail: bool = False):
        self.nodelay = None
        self.fail = fail

    def set_nodelay(self, value):
        if self.fail:
            raise OSError("socket gone")
        self.nodelay = value


class BaseConnection:
    """Stands for jupyter_server's ZMQChannelsWebsocketConnection: connect() returns a
    future the handler awaits."""

    def __init__(self, handler):
        self.websocket_handler = handler
        self.connected_with = None

    def connect(self):
        self.connected_with = self.websocket_handler.nodelay
        return "future"


def test_connections_set_no_delay_before_connecting():
    cls = ext.no_delay(BaseConnection)
    assert issubclass(cls, BaseConnection) and cls is not BaseConnection
    connection = cls(FakeHandler())
    assert connection.connect() == "future"
    assert connection.connected_with is True  # set before the kernel's first message


def test_a_socket_that_refuses_still_connects():
    connection = ext.no_delay(BaseConnection)(FakeHandler(fail=True))
    assert connection.connect() == "future"


def test_wrapping_twice_wraps_once():
    once = ext.no_delay(BaseConnection)
    assert ext.no_delay(once) is once


def test_loading_wraps_the_class_the_server_uses():
    class GatewayConnection(BaseConnection):
        pass

    app = SimpleNamespace(
        web_app=SimpleNamespace(settings={"kernel_websocket_connection_class": GatewayConnection}),
        kernel_websocket_connection_class=BaseConnection,
        log=SimpleNamespace(info=lambda *a: None),
    )
    ext._load_jupyter_server_extension(app)
    wrapped = app.web_app.settings["kernel_websocket_connection_class"]
    assert issubclass(wrapped, GatewayConnection)  # another extension's choice is kept


def test_the_shipped_config_enables_the_extension():
    config = ROOT / "jupyter-config" / "server-config" / "s3_upload_widget.json"
    assert json.loads(config.read_text())["ServerApp"]["jpserver_extensions"] == {
        "s3_upload_widget": True
    }
    import s3_upload_widget

    (point,) = s3_upload_widget._jupyter_server_extension_points()
    assert point["module"] == ext.__name__


def test_the_installed_server_loads_it():
    """`jupyter server extension list` of this environment: enabled, and it imports."""
    out = subprocess.run(
        [sys.executable, "-m", "jupyter", "server", "extension", "list"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    text = out.stdout + out.stderr
    assert "s3_upload_widget \x1b[32menabled" in text or "s3_upload_widget enabled" in text, text
    assert "s3_upload_widget 0.1.0 \x1b[32mOK" in text or "s3_upload_widget 0.1.0 OK" in text, text


def test_the_wheel_ships_the_config(tmp_path):
    """A user's `pip install` puts the config where Jupyter reads it."""
    import zipfile

    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert any(
        n.endswith(".data/data/etc/jupyter/jupyter_server_config.d/s3_upload_widget.json")
        for n in names
    ), names
