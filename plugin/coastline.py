"""Sea polygons from OpenStreetMap coastline ways (land on the left of the way, water on the right).

OSM has no sea polygons: the sea is what lies on the water side of ``natural=coastline``. Ways clipped by the
extract are extended from their loose ends to the edge of the area, the area is cut into faces by the
coastline, and each face is sea when more coastline segments have it on their right than on their left.
"""

from __future__ import annotations

import math

from qgis.core import QgsGeometry, QgsPointXY, QgsRectangle

SIDE_OFFSET_M = 0.5


def _ends(line: list[QgsPointXY]) -> tuple[QgsPointXY, QgsPointXY]:
    return line[0], line[-1]


def _extension(tip: QgsPointXY, previous: QgsPointXY, length: float) -> QgsGeometry:
    dx, dy = tip.x() - previous.x(), tip.y() - previous.y()
    norm = math.hypot(dx, dy) or 1.0
    far = QgsPointXY(tip.x() + dx / norm * length, tip.y() + dy / norm * length)
    return QgsGeometry.fromPolylineXY([tip, far])


def _polylines(geometry: QgsGeometry) -> list[list[QgsPointXY]]:
    if geometry.isMultipart():
        return [line for line in geometry.asMultiPolyline() if len(line) > 1]
    line = geometry.asPolyline()
    return [line] if len(line) > 1 else []


def sea_polygons(coastlines: list[QgsGeometry], area: QgsRectangle) -> list[QgsGeometry]:
    """Sea faces inside ``area`` (same CRS as the coastlines, metric)."""
    lines = [line for geometry in coastlines for line in _polylines(geometry)]
    if not lines:
        return []
    reach = 2.0 * math.hypot(area.width(), area.height())
    endpoints = [point for line in lines for point in _ends(line)]

    def shared(point: QgsPointXY) -> bool:
        return sum(1 for other in endpoints if other.sqrDist(point) < 1e-8) > 1

    pieces = [QgsGeometry.fromPolylineXY(line) for line in lines]
    for line in lines:
        if not shared(line[0]):
            pieces.append(_extension(line[0], line[1], reach))
        if not shared(line[-1]):
            pieces.append(_extension(line[-1], line[-2], reach))
    frame = QgsGeometry.fromRect(area)
    pieces.append(QgsGeometry.fromPolylineXY(frame.asPolygon()[0]))
    noded = QgsGeometry.unaryUnion(pieces)
    faces_collection = QgsGeometry.polygonize([noded])
    faces = [face.intersection(frame) for face in faces_collection.asGeometryCollection()]
    faces = [face for face in faces if not face.isEmpty() and face.area() > 0]
    engines = []
    for face in faces:
        engine = QgsGeometry.createGeometryEngine(face.constGet())
        engine.prepareGeometry()
        engines.append(engine)
    votes = [0] * len(faces)
    for line in lines:
        for start, end in zip(line[:-1], line[1:]):
            dx, dy = end.x() - start.x(), end.y() - start.y()
            norm = math.hypot(dx, dy)
            if norm == 0 or not area.contains(QgsPointXY((start.x() + end.x()) / 2, (start.y() + end.y()) / 2)):
                continue
            mx, my = (start.x() + end.x()) / 2, (start.y() + end.y()) / 2
            right = QgsGeometry.fromPointXY(QgsPointXY(mx + dy / norm * SIDE_OFFSET_M, my - dx / norm * SIDE_OFFSET_M))
            left = QgsGeometry.fromPointXY(QgsPointXY(mx - dy / norm * SIDE_OFFSET_M, my + dx / norm * SIDE_OFFSET_M))
            for index, engine in enumerate(engines):
                if engine.contains(right.constGet()):
                    votes[index] += 1
                if engine.contains(left.constGet()):
                    votes[index] -= 1
    return [face for face, vote in zip(faces, votes) if vote > 0]
