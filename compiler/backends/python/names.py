"""Python identifiers for the names of one model.

Spec names ("desc.inprogress", "cpu") are not Python identifiers, and two of
them may mangle to the same text ("a.b" and "a_b"), so every identifier comes
from one table that hands out each name once.  The table is filled in model
order, which keeps the generated text deterministic.
"""
from __future__ import annotations

import keyword
import re
from dataclasses import dataclass, field

from compiler import ir

_NOT_IDENT = re.compile(r"[^0-9A-Za-z_]")


def mangle(text: str) -> str:
    """A readable identifier fragment for a spec name ("desc.lock" -> "desc_lock")."""
    out = _NOT_IDENT.sub("_", text)
    return out if out and not out[0].isdigit() else "_" + out


@dataclass(slots=True)
class Names:
    """One identifier per IR object (compared by identity) or per key string."""

    _taken: set[str] = field(default_factory=set)
    _by_key: dict[object, str] = field(default_factory=dict)

    def fresh(self, prefix: str, text: str) -> str:
        base = f"{prefix}{mangle(text)}"
        name, n = base, 1
        while name in self._taken or keyword.iskeyword(name):
            n += 1
            name = f"{base}_{n}"
        self._taken.add(name)
        return name

    def of(self, key: object, prefix: str, text: str) -> str:
        """The identifier of `key`, made on first use.  Keys are IR declarations,
        which hash by identity, or tuples like ("pc", agent name)."""
        found = self._by_key.get(key)
        if found is None:
            found = self.fresh(prefix, text)
            self._by_key[key] = found
        return found

    def param(self, p: ir.Param) -> str:
        return self.of(p, "p_", p.name)

    def var_offset(self, v: ir.Var) -> str:
        return self.of(v, "O_", v.name)

    def var_stride(self, v: ir.Var, dim: int) -> str:
        return self.of(("stride", v, dim), f"S{dim}_", v.name)

    def pc_base(self, agent: str) -> str:
        return self.of(("pc", agent), "PC_", agent)

    def choice(self, c: ir.Choice) -> str:
        return self.of(c, "c_", c.name)

    def bound(self, b: ir.Bound) -> str:
        return self.of(b, "b_", b.name)

    def step(self, agent: str, step: str) -> str:
        return self.of(("step", agent, step), "step_", f"{agent}__{step}")

    def guard(self, agent: str, step: str) -> str:
        return self.of(("guard", agent, step), "guard_", f"{agent}__{step}")

    def guards_at(self, agent: str) -> str:
        return self.of(("guards_at", agent), "GUARDS_", agent)

    def enabled(self, agent: str) -> str:
        return self.of(("enabled", agent), "enabled_", agent)

    def steps_at(self, agent: str) -> str:
        return self.of(("steps_at", agent), "AT_", agent)

    def prop(self, name: str) -> str:
        return self.of(("prop", name), "prop_", name)

