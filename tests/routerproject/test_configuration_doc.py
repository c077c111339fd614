"""docs/configuration.md lists every environment variable the code reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "configuration.md"
SOURCES = (
    "routerproject",
    "routing",
    "monitoring",
    "authjwt",
    "configversions",
    "dashboard",
    "docker",
)
PYTHON_READS = re.compile(
    r"""env_(?:str|int|bool|float|list)\(\s*["']([A-Z][A-Z0-9_]+)["']"""
    r"""|os\.environ(?:\.get|\.pop|\.setdefault)?[(\[]\s*["']([A-Z][A-Z0-9_]+)["']"""
)
SHELL_READS = re.compile(r"\$\{([A-Z][A-Z0-9_]+)")


def variables_read() -> set[str]:
    names: set[str] = set()
    files = [path for source in SOURCES for path in (ROOT / source).rglob("*.py")]
    files.append(ROOT / "tests" / "backends.py")
    for path in files:
        for match in PYTHON_READS.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    for path in (ROOT / "docker").rglob("*.sh"):
        names.update(SHELL_READS.findall(path.read_text()))
    return names


def documented() -> set[str]:
    return set(re.findall(r"`([A-Z][A-Z0-9_]+)`", DOC.read_text()))


def test_the_scan_finds_the_variables_it_should():
    # Guards the scan itself: these are read in three different ways.
    assert {"DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR", "TEST_POSTGRES_URL"} <= variables_read()


def test_every_environment_variable_is_documented():
    missing = sorted(variables_read() - documented())
    assert not missing, f"add these to docs/configuration.md: {missing}"
