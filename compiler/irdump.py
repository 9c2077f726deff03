"""A canonical text form of an `ir.Model`: what `irqc check --dump-ir` prints and
what the golden tests of lowering compare against."""
from __future__ import annotations

from compiler import ir


def dump(model: ir.Model) -> str:
    out: list[str] = [f"model {model.name}  // {model.title}" if model.title else f"model {model.name}"]
    for p in model.params:
        out.append(f"param {p.name} = {p.default}")
    for en in model.enums:
        out.append(f"enum {en.name} = {{{', '.join(en.members)}}}")
    for v in model.vars:
        init = "any" if v.init is None else ir.show(v.init)
        out.append(f"{v.kind} {v.name}: {v.type} = {init}")
    for e in model.initially:
        out.append(f"initially {ir.show(e)}")
    for a in model.agents:
        dom = f"[{a.domain}]" if a.domain is not None else ""
        out.append(f"agent {a.kind} {a.name}{dom}")
        for loc in a.locations:
            flags = "".join([" idle" if loc.idle else "", " terminal" if loc.terminal else ""])
            out.append(f"  loc {loc.index} {loc.name}{flags}  // line {loc.span.line}")
        for s in a.steps:
            out.append(f"  step {s.name} from {s.source}:  // line {s.span.line}: {s.text}")
            out.extend(_stmts(s.body, 4))
    for prop in model.properties:
        expr = f": {ir.show(prop.expr)}" if prop.expr is not None else ""
        expect = f"  (expect {prop.expect})" if prop.expect else ""
        out.append(f"property {prop.kind} {prop.name}{expr}{expect}")
    return "\n".join(out) + "\n"


def _stmts(stmts: tuple[ir.Stmt, ...], indent: int) -> list[str]:
    pad = " " * indent
    out: list[str] = []
    for s in stmts:
        if isinstance(s, ir.Assign):
            out.append(f"{pad}{ir.show(s.target)} := {ir.show(s.value)}")
        elif isinstance(s, ir.Assume):
            out.append(f"{pad}assume[{s.reason}] {ir.show(s.cond)}")
        elif isinstance(s, ir.Check):
            out.append(f"{pad}check[{s.prop}] {ir.show(s.cond)}")
        elif isinstance(s, ir.Choose):
            out.append(f"{pad}choose ?{s.choice.name}: {s.choice.type}")
        elif isinstance(s, ir.Goto):
            out.append(f"{pad}goto {s.target}")
        elif isinstance(s, ir.If):
            out.append(f"{pad}if {ir.show(s.cond)}:")
            out.extend(_stmts(s.then, indent + 2) or [f"{pad}  pass"])
            if s.else_:
                out.append(f"{pad}else:")
                out.extend(_stmts(s.else_, indent + 2))
        else:
            raise TypeError(f"no dump for {type(s).__name__}")
    return out
