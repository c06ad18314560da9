"""Plugin identity read from metadata.txt, the single source of the version."""

from configparser import ConfigParser
from pathlib import Path

PLUGIN_DIR = Path(__file__).resolve().parents[1]


def _metadata() -> dict:
    parser = ConfigParser(interpolation=None)
    parser.read(PLUGIN_DIR / "metadata.txt", encoding="utf-8")
    return dict(parser["general"])


METADATA = _metadata()
__title__ = METADATA["name"]
__version__ = METADATA["version"]
ICON_PATH = PLUGIN_DIR / METADATA["icon"]
