"""Where an OpenStreetMap extract holds data: the bounding box its writer declared (the OSM PBF header's bbox, the
<bounds> element of an .osm file, also gzip- or bzip2-compressed), else the extent of its data. Outside it a map
knows nothing, so the render marks those pixels "outside the data" (docs/SEMANTIC_STYLE.md) and generation leaves
them nodata. Pure Python (stdlib), no QGIS: the PBF header is read with a few lines of protobuf decoding, no
osmium needed."""

from __future__ import annotations

import bz2
import gzip
import re
import struct
import zlib
from pathlib import Path

NANO = 1e-9  # PBF HeaderBBox coordinates are nanodegrees
_BOUNDS = re.compile(rb"<bounds\s+([^>]*)/?>")
_ATTRIBUTE = re.compile(rb'(minlat|minlon|maxlat|maxlon)\s*=\s*["\']([-0-9.eE+]+)["\']')


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    value, shift = 0, 0
    while True:
        if pos >= len(data):
            raise ValueError("truncated varint")
        byte = data[pos]
        value |= (byte & 0x7F) << shift
        pos += 1
        if byte < 0x80:
            return value, pos
        shift += 7


def _fields(data: bytes):
    """(field number, wire type, value) of a protobuf message: ints for varints, bytes for length-delimited."""
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        elif wire == 1:
            value, pos = data[pos : pos + 8], pos + 8
        elif wire == 5:
            value, pos = data[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        yield number, wire, value


def _zigzag(value: int) -> int:
    return (value >> 1) ^ -(value & 1)


def pbf_header_bbox(path: str | Path) -> tuple[float, float, float, float] | None:
    """(lon min, lat min, lon max, lat max) from the OSMHeader block of an .osm.pbf, or None without a bbox."""
    with open(path, "rb") as f:
        (header_size,) = struct.unpack(">I", f.read(4))
        if header_size > 64 * 1024:
            return None
        header = dict((n, v) for n, _, v in _fields(f.read(header_size)))
        if header.get(1) != b"OSMHeader" or not 0 < header.get(3, 0) <= 32 * 1024 * 1024:
            return None
        blob = dict((n, v) for n, _, v in _fields(f.read(header[3])))
    if 1 in blob:
        block = blob[1]
    elif 3 in blob:
        block = zlib.decompress(blob[3])
    else:
        return None  # lzma/lz4/zstd headers: fall back to the extent of the data
    bbox = next((v for n, w, v in _fields(block) if n == 1 and w == 2), None)
    if bbox is None:
        return None
    sides = {n: _zigzag(v) * NANO for n, w, v in _fields(bbox) if w == 0}
    if not all(k in sides for k in (1, 2, 3, 4)):
        return None
    return tuple(round(sides[k], 9) for k in (1, 4, 2, 3))  # left, bottom, right, top


def osm_xml_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """(lon min, lat min, lon max, lat max) from the <bounds> element near the start of an .osm file (plain, .gz
    or .bz2)."""
    name = str(path).lower()
    opener = gzip.open if name.endswith(".gz") else bz2.open if name.endswith(".bz2") else open
    with opener(path, "rb") as f:
        head = f.read(64 * 1024)
    match = _BOUNDS.search(head)
    if match is None:
        return None
    values = {k.decode(): float(v) for k, v in _ATTRIBUTE.findall(match.group(1))}
    if len(values) != 4:
        return None
    return values["minlon"], values["minlat"], values["maxlon"], values["maxlat"]


def declared_bounds(path: str | Path) -> tuple[float, float, float, float] | None:
    """The bbox the file declares (PBF header or .osm <bounds>); None when it declares none (e.g. a GeoPackage)."""
    name = str(path).lower()
    try:
        if name.endswith(".pbf"):
            return pbf_header_bbox(path)
        if name.endswith((".osm", ".osm.gz", ".osm.bz2")):
            return osm_xml_bounds(path)
    except (OSError, EOFError, ValueError, struct.error, zlib.error):
        return None  # a damaged file is reported by the OGR read that follows
    return None
