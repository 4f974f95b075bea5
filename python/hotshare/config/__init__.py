"""config: parse and validate the configuration (create_ap's file and command line). Pure."""

from ..errors import ConfigError
from .conffile import parse_conf_text, read_conf_file, to_conf_text
from .keys import IGNORED_KEYS, KNOWN_KEYS
from .model import HotspotConfig
from .settings import from_mapping, require_ap_settings

__all__ = ["IGNORED_KEYS", "KNOWN_KEYS", "ConfigError", "HotspotConfig", "from_mapping", "parse_conf_text",
           "read_conf_file", "require_ap_settings", "to_conf_text"]
