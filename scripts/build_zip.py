"""Build the plugin zip as `make zip` does: `git archive` of a commit (export-ignore applies), its metadata.txt
filled from the build's contact variables. A development zip says so (version X.Y.Z-dev, experimental=True);
a release keeps the version and must pass validate_zip.py --release (real contacts, no reserved domains).
Usage: python build_zip.py OUT.zip [--release] [--email E] [--repository URL] [--tracker URL] [--homepage URL]"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
METADATA = "mapsynth/metadata.txt"


def render_metadata(text: str, values: dict[str, str], release: bool) -> str:
    """The committed metadata.txt with the given keys replaced; comments (dev-placeholder notes) dropped."""
    values = {k: v for k, v in values.items() if v}
    version = re.search(r"^version=(.*)$", text, re.M).group(1).strip()
    if not release:
        values.update(version=f"{version}-dev", experimental="True")
    lines = []
    for line in text.splitlines():
        if line.lstrip().startswith(("#", ";")):
            continue
        key = line.split("=", 1)[0].strip()
        top_level = "=" in line and not line[:1].isspace()  # not a continuation line (changelog)
        lines.append(f"{key}={values[key]}" if top_level and key in values else line)
    return "\n".join(lines) + "\n"


def build(out: Path, values: dict[str, str], release: bool, ref: str = "HEAD") -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.zip"
        subprocess.run(["git", "-C", str(ROOT), "archive", "--format=zip", "--prefix=mapsynth/", "-o", str(raw),
                        ref], check=True)
        partial = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(raw) as source, zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                data = source.read(info)
                if info.filename == METADATA:
                    data = render_metadata(data.decode("utf-8"), values, release).encode("utf-8")
                target.writestr(info, data)
        os.replace(partial, out)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--release", action="store_true")
    parser.add_argument("--ref", default="HEAD")
    for key in ("email", "repository", "tracker", "homepage"):
        parser.add_argument(f"--{key}", default="")
    args = parser.parse_args()
    values = {k: getattr(args, k) for k in ("email", "repository", "tracker", "homepage")}
    print(build(args.out, values, args.release, args.ref))
    return 0


if __name__ == "__main__":
    sys.exit(main())
