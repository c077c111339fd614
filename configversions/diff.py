"""What differs between two snapshots, as flat paths: `services.chat.instances[m@http://h].weight`."""

from typing import Any


def _flatten(node: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(node, dict) and node:
        for key in sorted(node):
            _flatten(node[key], f"{path}.{key}" if path else str(key), out)
    elif (
        isinstance(node, list)
        and node
        and all(isinstance(i, dict) and "instanceId" in i for i in node)
    ):
        # Instances are identified by their id, not their position: reordering is not a change.
        for item in node:
            _flatten(item, f"{path}[{item['instanceId']}]", out)
    else:
        out[path] = node


def flatten(snapshot: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    _flatten(snapshot, "", out)
    return out


def snapshot_diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    before, after = flatten(old), flatten(new)
    return {
        "added": {path: after[path] for path in sorted(after.keys() - before.keys())},
        "removed": {path: before[path] for path in sorted(before.keys() - after.keys())},
        "changed": {
            path: {"from": before[path], "to": after[path]}
            for path in sorted(before.keys() & after.keys())
            if before[path] != after[path]
        },
    }
