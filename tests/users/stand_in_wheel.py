"""Write a metadata-only wheel: a stand-in distribution NAME VERSION with no code in it.

pip decides what to install from distributions' metadata alone, so a stand-in `torch 2.5.1` shows what
pip does to a user's venv holding a torch other than this machine's 2.13.0+cpu, without downloading a
torch build (every other torch release on PyPI for Linux pulls several GB of CUDA packages). It shows
pip's decision, not that the oracles run on that torch. Usage: python stand_in_wheel.py NAME VERSION DIR
"""
import base64
import hashlib
import sys
import zipfile
from pathlib import Path


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def stand_in_wheel(name: str, version: str, folder: Path) -> Path:
    info = f"{name}-{version}.dist-info"
    files = {
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                            f"Summary: metadata-only stand-in (tests/users/stand_in_wheel.py)\n".encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: stand_in_wheel\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "\n".join(_record_line(path, data) for path, data in files.items()) + f"\n{info}/RECORD,,\n"
    wheel = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, data in {**files, f"{info}/RECORD": record.encode()}.items():
            archive.writestr(path, data)
    return wheel


if __name__ == "__main__":
    print(stand_in_wheel(sys.argv[1], sys.argv[2], Path(sys.argv[3])))
