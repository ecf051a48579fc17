"""The two decisions a system file's roles make (docs/systems.md, "Roles, sidecars, a probe and
the order of starts"): which node has which role, and in which waves the nodes start.

A deployment of a replicated store is seldom one command on every node: one primary and its
replicas (Redis's `replicaof`, PostgreSQL's standbys), a leader-elect ensemble beside witnesses.
A role names the nodes that share a command. Roles are given out in the file's order: each role
with a `count` takes that many nodes, the one role without a count the nodes left; a node that
names its role (`[nodes.node.NAME] role`) takes it first, and counts towards it. A role's `after`
says which roles' nodes must all be ready before its own start, as a replica's first sync needs
its primary (Jepsen sets a primary up apart: its `Primary` protocol's `setup-primary!`,
jepsen/src/jepsen/db.clj); the nodes of one wave start together, as every node did before roles
(meshcheck/systems/run.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Protocol

from meshcheck import words


class _Role(Protocol):
    """What of a role (system_file.py `Role`) the decisions read."""

    @property
    def name(self) -> str: ...

    @property
    def count(self) -> int | None: ...

    @property
    def after(self) -> tuple[str, ...]: ...


class _Named(Protocol):
    """What of a node's own settings (system_file.py `NodeSettings`) the decisions read."""

    @property
    def node(self) -> str: ...

    @property
    def role(self) -> str: ...


def assign(
    roles: Sequence[_Role], settings: Sequence[_Named], names: Sequence[str]
) -> dict[str, str]:
    """Each of `names`'s role (the empty string for every node of a file without roles): a node
    that names its role has it; the others, in order, fill the counted roles in the file's order,
    then the role without a count. ValueError (why, for the file's error line) when a role would
    get more or fewer nodes than its count, or a node none."""
    if not roles:
        return dict.fromkeys(names, "")
    fixed = {s.node: s.role for s in settings if s.role and s.node in names}
    need: dict[str, int] = {}  # what each counted role still needs, in the file's order
    for r in roles:
        if r.count is not None:
            need[r.name] = r.count
    for role in fixed.values():
        if role in need:
            need[role] -= 1
    for role, left in need.items():
        if left < 0:
            named = sorted(n for n, r in fixed.items() if r == role)
            verb = "names" if len(named) == 1 else "name"
            raise ValueError(
                f"{words.count(len(named), 'node')} ({', '.join(named)}) {verb} role {role}, "
                f"whose count is {len(named) + left}"
            )
    rest = next((r.name for r in roles if r.count is None), None)
    out: dict[str, str] = {}
    for name in names:
        if name in fixed:
            out[name] = fixed[name]
            continue
        given = next((r for r, left in need.items() if left > 0), rest)
        if given is None:
            counted = sum(r.count or 0 for r in roles)
            raise ValueError(f"node {name} gets no role: the roles' counts add up to {counted}")
        if given in need:
            need[given] -= 1
        out[name] = given
    for role, left in need.items():
        if left > 0:
            count = next(r.count or 0 for r in roles if r.name == role)
            some = f"{len(names)} node{'' if len(names) == 1 else 's'}"
            raise ValueError(f"with {some} role {role} gets {count - left} of its {count}")
    return out


def cycle(roles: Sequence[_Role]) -> list[str]:
    """A cycle of `after` among `roles`, as the roles along it (its first again at its end); []
    when there is none. Every `after` must name one of `roles` (checked before)."""
    after = {r.name: r.after for r in roles}
    done: set[str] = set()

    def visit(role: str, path: list[str]) -> list[str]:
        if role in path:
            return [*path[path.index(role) :], role]
        if role in done:
            return []
        for before in after[role]:
            found = visit(before, [*path, role])
            if found:
                return found
        done.add(role)
        return []

    for r in roles:
        found = visit(r.name, [])
        if found:
            return found
    return []


def waves(roles: Sequence[_Role], assigned: Mapping[str, str]) -> list[list[str]]:
    """The nodes of `assigned` (node to role, in the nodes' order) in the waves they start in:
    a role's nodes one wave after the last of the roles it starts after; one wave of every node
    without roles. Waves with no node are left out. `roles` has no cycle (`cycle`)."""
    after = {r.name: r.after for r in roles}
    depth: dict[str, int] = {}

    def level(role: str) -> int:
        if role not in depth:
            depth[role] = 1 + max((level(b) for b in after.get(role, ())), default=-1)
        return depth[role]

    out: dict[int, list[str]] = {}
    for node, role in assigned.items():
        out.setdefault(level(role) if role else 0, []).append(node)
    return [out[k] for k in sorted(out)]
