"""Lookup tables: class value of a land-cover product -> semantic-palette class (or "nodata").

A table is a CSV with the columns ``value,class`` (more columns, e.g. ``label``, are kept as documentation) and
``#`` comment lines; the shipped tables (``resources/land_cover/``) name their source and list the product's full
code list in a ``# product codes:`` comment, so a test can check that every code is mapped. Classes are looked up
as class indices (palette id + 1; 0 is no data), so maps stay exact palette colours and never blended ones.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from ..runtime.protocol import UserError
from .landcover import palette

NODATA = "nodata"
SHIPPED = {
    "CORINE Land Cover (level 3)": "corine_clc_level3.csv",
    "ESA WorldCover (v100/v200)": "esa_worldcover.csv",
    "Dynamic World (V1)": "dynamic_world.csv",
    "FLAIR-1 (19 classes)": "flair1.csv",
}
OWN = "Own CSV (TABLE_FILE)"
CHOICES = (*SHIPPED, OWN)
# The plugin ships the tables in <plugin>/resources/land_cover; the QGIS side always passes the file (TABLE_FILE),
# the backend finds them itself only when it runs from the plugin's source tree (make setup, the CLI in the repo).
SHIPPED_DIR = Path(__file__).resolve().parents[4] / "resources" / "land_cover"


def key(value: object) -> str:
    """One spelling per class value: 111, 111.0 and "111" are the same code; text values stay text."""
    text = str(value).strip()
    try:
        number = float(text)
    except ValueError:
        return text
    return str(int(number)) if number.is_integer() else text


@dataclass(frozen=True)
class LookupTable:
    path: Path
    classes: dict[str, str]  # value key -> palette class key or NODATA
    product_codes: tuple[str, ...]  # from the "# product codes:" comment (shipped tables), else ()

    @property
    def name(self) -> str:
        return self.path.name

    def class_index(self, value: object) -> int | None:
        """Palette id + 1 of a value's class, 0 for no data, None for a value outside the table."""
        cls = self.classes.get(key(value))
        if cls is None:
            return None
        return 0 if cls == NODATA else class_ids()[cls] + 1

    def lookup(self, values: np.ndarray, valid: np.ndarray | None = None) -> tuple[np.ndarray, set[str]]:
        """Class indices (uint8) of an array of class values, and the values the table does not know (which become
        no data). ``valid`` False marks the source's own no data (never reported)."""
        out = np.zeros(values.shape, np.uint8)
        unknown: set[str] = set()
        if valid is None:
            valid = np.ones(values.shape, bool)
        uniques, inverse = np.unique(values[valid], return_inverse=True)
        indices = np.zeros(len(uniques), np.uint8)
        for position, value in enumerate(uniques.tolist()):
            index = self.class_index(value)
            if index is None:
                unknown.add(key(value))
            else:
                indices[position] = index
        out[valid] = indices[inverse.reshape(-1)]
        return out, unknown


def palette_version() -> int:
    text = resources.files("mapsynth_backend").joinpath("data/semantic_palette.json").read_text()
    return int(json.loads(text)["version"])


def class_ids() -> dict[str, int]:
    return {name: number for number, name in enumerate(palette())}


def colour_lut() -> np.ndarray:
    """(256, 3) uint8: class index -> RGB (index 0, no data, is black, a colour of no class)."""
    lut = np.zeros((256, 3), np.uint8)
    for name, rgb in palette().items():
        lut[class_ids()[name] + 1] = rgb
    return lut


def resolve_table(table: str, table_file: str) -> Path:
    """The CSV of TABLE (a shipped table) or TABLE_FILE (a user's own; it wins when given)."""
    if table_file:
        path = Path(table_file)
    elif table == OWN:
        raise UserError("TABLE_FILE: TABLE is 'own CSV' but no CSV file was given")
    else:
        path = SHIPPED_DIR / SHIPPED[table]
    if not path.is_file():
        raise UserError(f"TABLE_FILE: lookup table not found: {path}")
    return path


def read_table(path: Path) -> LookupTable:
    """Read and check a lookup table: columns value and class, each value once, every class in the palette."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"TABLE_FILE: cannot read {path}: {exc}") from exc
    comments = [line.lstrip("#").strip() for line in text.splitlines() if line.lstrip().startswith("#")]
    codes: list[str] = []
    listing = False
    for line in comments:
        if line.lower().startswith("product codes:"):
            listing, line = True, line.split(":", 1)[1]
        elif ":" in line or not line[:1].isdigit():
            listing = False
        if listing:
            codes += [key(code) for code in line.split()]
    rows = csv.DictReader(io.StringIO("\n".join(ln for ln in text.splitlines() if not ln.lstrip().startswith("#"))))
    fields = [name.strip().lower() for name in rows.fieldnames or []]
    if "value" not in fields or "class" not in fields:
        raise UserError(f"TABLE_FILE: {path} needs a header row with the columns value,class (found {fields})")
    rows.fieldnames = fields
    known = set(palette())
    classes: dict[str, str] = {}
    for number, row in enumerate(rows, start=2):
        value, cls = key(row.get("value") or ""), (row.get("class") or "").strip()
        if not value:
            raise UserError(f"TABLE_FILE: {path} row {number}: empty value")
        if cls != NODATA and cls not in known:
            raise UserError(
                f"TABLE_FILE: {path} row {number}: class {cls!r} is not in the semantic palette"
                f" (use one of {', '.join(sorted(known))}, or {NODATA})"
            )
        if value in classes:
            raise UserError(f"TABLE_FILE: {path} row {number}: value {value} is listed twice")
        classes[value] = cls
    if not classes:
        raise UserError(f"TABLE_FILE: {path} maps no value")
    return LookupTable(path, classes, tuple(codes))
