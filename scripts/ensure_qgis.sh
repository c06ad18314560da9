#!/usr/bin/env bash
# Make sure QGIS (>= 3.22) with its Python bindings, and Chromium (the report test renders HTML in it), are
# installed, and Xvfb for the GUI test tier (QGIS desktop in a virtual display); install them from Debian when we
# are root.
set -euo pipefail
QGIS_PYTHON=${QGIS_PYTHON:-/usr/bin/python3}
QGIS_PROCESS=${QGIS_PROCESS:-/usr/bin/qgis_process.bin}
PACKAGES="qgis python3-qgis qgis-providers gdal-bin python3-gdal chromium xvfb xauth"

have_qgis() { [ -x "$QGIS_PROCESS" ] && [ -x /usr/bin/chromium ] && command -v xvfb-run >/dev/null && command -v xauth >/dev/null && "$QGIS_PYTHON" -c "import qgis.core, osgeo.ogr" 2>/dev/null; }

if have_qgis; then exit 0; fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "Installing QGIS from Debian packages: $PACKAGES"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q $PACKAGES
    have_qgis && exit 0
    echo "QGIS was installed but '$QGIS_PYTHON -c \"import qgis.core\"' still fails" >&2
    exit 1
fi
cat >&2 <<MSG
QGIS with Python bindings is missing ($QGIS_PROCESS or 'import qgis.core' in $QGIS_PYTHON). Install it:
    sudo apt-get install -y $PACKAGES
or point QGIS_PYTHON / QGIS_PROCESS at your QGIS installation (make QGIS_PYTHON=... QGIS_PROCESS=...).
MSG
exit 1
