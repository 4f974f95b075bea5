"""The MQTT_* keys: each bad value is one line naming the key and the fix;
the password comes from a root-only file and is shown nowhere; the
resident service does not load paho unless MQTT is configured (the broker
itself: tests/netns/test_mqtt_live.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotshare.config import ConfigError, from_mapping

BASE = {"WIFI_IFACE": "wlan0", "INTERNET_IFACE": "ppp0", "SSID": "net", "PASSPHRASE": "a long passphrase"}
CA = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
REPO = Path(__file__).resolve().parents[2]


def password_file(tmp_path: Path, mode: int = 0o600, text: str = "pw\n") -> str:
    p = tmp_path / "pw"
    p.write_text(text)
    p.chmod(mode)
    return str(p)


def test_defaults_and_values(tmp_path: Path) -> None:
    assert not from_mapping(BASE).mqtt.enabled
    ca = tmp_path / "ca.pem"
    ca.write_text(CA)
    m = from_mapping({**BASE, "MQTT_BROKER": "mqtt.example.com", "MQTT_TLS": str(ca), "MQTT_USERNAME": "b17",
                      "MQTT_PASSWORD_FILE": password_file(tmp_path, text="se cret\r\nignored\n"),
                      "MQTT_TOPIC": "fleet/eu/board-17", "MQTT_USAGE_INTERVAL": "0", "MQTT_QUEUE_LIMIT": "50"}).mqtt
    assert (m.broker, m.port, m.topic, m.ca_file, m.username, m.password, m.usage_interval, m.queue_limit) == (
        "mqtt.example.com", 8883, "fleet/eu/board-17", str(ca), "b17", "se cret", 0, 50)
    plain = from_mapping({**BASE, "MQTT_BROKER": "10.0.0.5"}).mqtt
    assert (plain.port, plain.topic.split("/")[0], plain.usage_interval, plain.queue_limit) == (1883, "hotshare",
                                                                                               300, 1000)
    assert from_mapping({**BASE, "MQTT_BROKER": "[2001:db8::1]:1884"}).mqtt.port == 1884


def test_the_password_is_masked(tmp_path: Path) -> None:
    cfg = from_mapping({**BASE, "MQTT_BROKER": "10.0.0.5", "MQTT_USERNAME": "b17",
                        "MQTT_PASSWORD_FILE": password_file(tmp_path, text="hunter2-long\n")})
    assert "hunter2-long" not in json.dumps(cfg.public(), default=str) and "hunter2-long" not in repr(cfg)


@pytest.mark.parametrize(("keys", "key", "fix"), [
    ({"MQTT_BROKER": "mqtt.example.com:99999"}, "MQTT_BROKER", "from 1 to 65535"),
    ({"MQTT_BROKER": "mqtt example"}, "MQTT_BROKER", "HOST:PORT"),
    ({"MQTT_BROKER": "host:"}, "MQTT_BROKER", "HOST:PORT"),
    ({"MQTT_BROKER": "[nothex]:1"}, "MQTT_BROKER", "2001:db8::1"),
    ({"MQTT_TOPIC": "fleet"}, "MQTT_TOPIC", "set MQTT_BROKER"),
    ({"MQTT_BROKER": "h", "MQTT_TOPIC": "fleet/+/x"}, "MQTT_TOPIC", "no + or #"),
    ({"MQTT_BROKER": "h", "MQTT_TOPIC": "fleet/#"}, "MQTT_TOPIC", "no + or #"),
    ({"MQTT_BROKER": "h", "MQTT_TOPIC": "fleet//x"}, "MQTT_TOPIC", "separated by /"),
    ({"MQTT_BROKER": "h", "MQTT_TOPIC": "/fleet"}, "MQTT_TOPIC", "separated by /"),
    ({"MQTT_BROKER": "h", "MQTT_TOPIC": "$SYS/x"}, "MQTT_TOPIC", "separated by /"),
    ({"MQTT_BROKER": "h", "MQTT_TLS": "/nonexistent/ca.pem"}, "MQTT_TLS", "CA certificate"),
    ({"MQTT_BROKER": "h", "MQTT_TLS": "relative.pem"}, "MQTT_TLS", "absolute path"),
    ({"MQTT_BROKER": "h", "MQTT_USAGE_INTERVAL": "5"}, "MQTT_USAGE_INTERVAL", "10 to 86400"),
    ({"MQTT_BROKER": "h", "MQTT_USAGE_INTERVAL": "soon"}, "MQTT_USAGE_INTERVAL", "from 0 to 86400"),
    ({"MQTT_BROKER": "h", "MQTT_QUEUE_LIMIT": "0"}, "MQTT_QUEUE_LIMIT", "from 1 to 100000"),
    ({"MQTT_BROKER": "h", "MQTT_USERNAME": "a\u2028b"}, "MQTT_USERNAME", "remove it"),
    ({"MQTT_BROKER": "h", "MQTT_PASSWORD_FILE": "/nonexistent/pw"}, "MQTT_PASSWORD_FILE", "chmod 600"),
])
def test_bad_values_are_one_line_naming_the_key_and_the_fix(keys: dict[str, str], key: str, fix: str) -> None:
    with pytest.raises(ConfigError) as e:
        from_mapping({**BASE, **keys})
    assert str(e.value).startswith(f"{key}: ") and fix in str(e.value) and "\n" not in str(e.value), str(e.value)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644])
def test_a_password_file_others_can_read_is_refused(tmp_path: Path, mode: int) -> None:
    path = password_file(tmp_path, mode)
    with pytest.raises(ConfigError, match=f"^MQTT_PASSWORD_FILE: .* can be read by others .*chmod 600 {path}$"):
        from_mapping({**BASE, "MQTT_BROKER": "h", "MQTT_USERNAME": "u", "MQTT_PASSWORD_FILE": path})


def test_a_password_file_through_a_link_or_without_a_user_is_refused(tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(password_file(tmp_path))
    with pytest.raises(ConfigError, match="^MQTT_PASSWORD_FILE: cannot read"):
        from_mapping({**BASE, "MQTT_BROKER": "h", "MQTT_USERNAME": "u", "MQTT_PASSWORD_FILE": str(link)})
    with pytest.raises(ConfigError, match="^MQTT_PASSWORD_FILE: is set but MQTT_USERNAME is not"):
        from_mapping({**BASE, "MQTT_BROKER": "h", "MQTT_PASSWORD_FILE": password_file(tmp_path)})
    with pytest.raises(ConfigError, match="^MQTT_TLS: .* is not a PEM certificate"):
        from_mapping({**BASE, "MQTT_BROKER": "h", "MQTT_TLS": password_file(tmp_path)})


def test_the_service_loads_paho_only_for_mqtt() -> None:
    code = ("import sys; import hotshare.service.hotspot, hotshare.cli.main; "
            "print(any(m.startswith('paho') for m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO / "python")}).stdout
    assert out.strip() == "False"



def test_without_paho_up_refuses_mqtt_before_anything_changes(tmp_path: Path) -> None:
    """`up` looks for paho without importing it; without it (a python with the
    standard library alone, as an image without BR2_PACKAGE_HOTSHARE_MQTT),
    one line naming MQTT_BROKER, exit 2, even for --dry-run."""
    bare = "/usr/bin/python3"
    if subprocess.run([bare, "-c", "import paho"], capture_output=True).returncode == 0:
        pytest.skip(f"{bare} has paho-mqtt: no python without it here")
    conf = tmp_path / "c.conf"
    conf.write_text("MQTT_BROKER=10.0.0.5\n")
    proc = subprocess.run([bare, "-m", "hotshare", "up", "--dry-run", "--config", str(conf), "lan0", "ppp0"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO / "python")})
    assert proc.returncode == 2 and proc.stderr.strip().count("\n") == 0, proc.stderr
    assert "MQTT_BROKER: needs paho-mqtt" in proc.stderr and "BR2_PACKAGE_HOTSHARE_MQTT" in proc.stderr
