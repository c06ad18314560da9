"""Clip the demo's OpenStreetMap extract from a larger one: every node inside a lon/lat box, every way with a node
inside it (complete: all its nodes) and every relation with such a member (its member ways and their nodes
complete, so multipolygons close), written as .osm.pbf whose header bbox is the box (the render's data bounds).
Run with the backend venv (osmium is a backend test dependency):

    .venv-backend/bin/python scripts/make_demo_data.py SOURCE.osm.pbf OUT.osm.pbf LON_MIN LAT_MIN LON_MAX LAT_MAX
"""

import sys
from pathlib import Path

import osmium


def clip(source: str, out: str, box: tuple[float, float, float, float]) -> dict[str, int]:
    x0, y0, x1, y1 = box
    inside = set()
    for node in osmium.FileProcessor(source, osmium.osm.NODE):
        if x0 <= node.location.lon <= x1 and y0 <= node.location.lat <= y1:
            inside.add(node.id)
    ways, way_nodes = set(), {}
    for way in osmium.FileProcessor(source, osmium.osm.WAY):
        refs = [n.ref for n in way.nodes]
        way_nodes[way.id] = refs
        if any(ref in inside for ref in refs):
            ways.add(way.id)
    relations = set()
    member_ways = set()
    for relation in osmium.FileProcessor(source, osmium.osm.RELATION):
        members = [(m.type, m.ref) for m in relation.members]
        if any((kind == "w" and ref in ways) or (kind == "n" and ref in inside) for kind, ref in members):
            relations.add(relation.id)
            member_ways.update(ref for kind, ref in members if kind == "w")
    ways |= {w for w in member_ways if w in way_nodes}
    nodes = set(inside)
    for way in ways:
        nodes.update(way_nodes[way])
    header = osmium.io.Header()
    header.add_box(osmium.osm.Box(osmium.osm.Location(x0, y0), osmium.osm.Location(x1, y1)))
    header.set("generator", "MapSynth scripts/make_demo_data.py (pyosmium)")
    Path(out).unlink(missing_ok=True)
    writer = osmium.SimpleWriter(out, header=header)
    kept = {"nodes": 0, "ways": 0, "relations": 0}
    for obj in osmium.FileProcessor(source):
        keep = {"n": nodes, "w": ways, "r": relations}[obj.type_str()]
        if obj.id in keep:
            writer.add(obj)
            kept[{"n": "nodes", "w": "ways", "r": "relations"}[obj.type_str()]] += 1
    writer.close()
    return kept


if __name__ == "__main__":
    source, target, *corners = sys.argv[1:]
    print(clip(source, target, tuple(float(v) for v in corners)))
