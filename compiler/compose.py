"""Phase 1: a spec and the chain of bases it extends -> one flat list of declarations.

A patch spec names its base (`spec fix extends base;`); `replace` swaps a base
declaration in place, anything else is added.  The base is looked up as
`<base>.irqspec` in the directory of the spec that extends it, or, when quoted
(`extends "../specs/base.irqspec"`), by that path relative to that directory.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
from dataclasses import dataclass

from dsl import ast
from dsl.diagnostics import Diagnostics, Label
from dsl.parser import parse
from dsl.parser import read_source
from dsl.source import SourceFile


@dataclass(frozen=True, slots=True)
class Composed:
    spec: ast.Spec  # the top spec (its name, title and path)
    items: tuple[ast.Item, ...]
    chain: tuple[str, ...]  # paths, base first
    source_hash: str


def compose(path: str, diags: Diagnostics) -> Composed | None:
    chain: list[ast.Spec] = []
    texts: list[str] = []
    if not _load_chain(path, diags, chain, texts, seen=[]):
        return None
    items = _merge(chain, diags)
    if items is None:
        return None
    digest = hashlib.sha256("\0".join(texts).encode("utf-8")).hexdigest()
    return Composed(chain[-1], tuple(items), tuple(s.path for s in chain), digest)


def _load_chain(path: str, diags: Diagnostics, chain: list[ast.Spec], texts: list[str],
                seen: list[tuple[str, str]]) -> bool:
    """`seen`: (name, real path) of each spec that extends this one, the top spec first."""
    text = read_source(path, diags)
    if text is None:
        return False
    spec = parse(SourceFile(path, text), diags)
    if spec is None:
        return False
    stem = os.path.splitext(os.path.basename(path))[0]
    if spec.name != stem:
        diags.error("E212", f"spec `{spec.name}` is in a file named `{stem}.irqspec`", spec.name_span,
                    f"name the spec `{stem}`, or the file `{spec.name}.irqspec`: `extends` finds bases by file name")
        return False
    # Files, not names, make a cycle: a patch spec by path may share its base's name.
    here = (spec.name, os.path.realpath(path))
    if here[1] in (p for _, p in seen):
        diags.error("E204", f"`{spec.name}` extends itself through " + " -> ".join([n for n, _ in seen] + [spec.name]),
                    spec.base_span)
        return False
    if spec.base is not None:
        base_path = _base_path(path, spec)
        if base_path is None:
            diags.error("E203", f"`extends \"{spec.base}\"`: a base spec's path ends in `.irqspec`", spec.base_span,
                        "write the path of the file, relative to this one, or the bare name of a spec beside it")
            return False
        base_name = os.path.splitext(os.path.basename(base_path))[0]
        if os.path.realpath(base_path) in (p for _, p in seen + [here]):
            diags.error("E204", "cycle of extends: " + " -> ".join([n for n, _ in seen] + [spec.name, base_name]),
                        spec.base_span, "a patch spec extends its base; the base must not extend the patch")
            return False
        if not os.path.isfile(base_path):
            hint = "" if spec.base_is_path else _nearby_specs(os.path.dirname(path), spec.base)
            diags.error("E203", f"base spec `{spec.base}` not found (looked for `{base_path}`)", spec.base_span,
                        hint or ("a path is relative to the folder of the spec that extends it"
                                 if spec.base_is_path else ""))
            return False
        if not _load_chain(base_path, diags, chain, texts, seen + [here]):
            return False
    chain.append(spec)
    texts.append(text)
    return True


def _base_path(path: str, spec: ast.Spec) -> str | None:
    """Where `spec`'s base is: `NAME.irqspec` beside it, or the quoted path relative to its folder."""
    assert spec.base is not None
    if not spec.base_is_path:
        return os.path.join(os.path.dirname(path), spec.base + ".irqspec")
    if not spec.base.endswith(".irqspec"):
        return None
    return os.path.join(os.path.dirname(path), spec.base)


def _nearby_specs(directory: str, wanted: str) -> str:
    import difflib

    try:
        names = [f[:-8] for f in os.listdir(directory or ".") if f.endswith(".irqspec")]
    except OSError:
        return ""
    close = difflib.get_close_matches(wanted, names, n=1)
    return f"did you mean `{close[0]}`?" if close else ""


def _merge(chain: list[ast.Spec], diags: Diagnostics) -> list[ast.Item] | None:
    items: list[ast.Item] = []
    where: dict[tuple[str, str], int] = {}
    ok = True
    for depth, spec in enumerate(chain):
        own: dict[tuple[str, str], ast.Item] = {}
        for decl in spec.decls:
            key = ast.decl_key(decl.item)
            if key is None:
                items.append(decl.item)
                continue
            if key in own:
                diags.error("E202", f"`{key[1]}` is declared twice in this spec", decl.item.span,
                            labels=[Label(own[key].span, "first declared here")])
                ok = False
                continue
            own[key] = decl.item
            if isinstance(decl.item, ast.MemberDecl):
                ok = _merge_member(decl.item, decl.replace, items, where, diags) and ok
                continue
            if decl.replace:
                if key not in where:
                    what = "a base spec" if depth > 0 else "a base spec (this spec extends nothing)"
                    diags.error("E205", f"`replace {key[1]}`: {what} has no `{key[1]}` to replace", decl.span,
                                "drop `replace` to add a new declaration")
                    ok = False
                    continue
                old, new = ast.decl_kind(items[where[key]]), ast.decl_kind(decl.item)
                if old != new:
                    diags.error("E205", f"`replace {new} {key[1]}`: the base declares `{key[1]}` as a {old}",
                                decl.span, f"write `replace {old} {key[1]} ...`",
                                labels=[Label(items[where[key]].span, "declared here")])
                    ok = False
                    continue
                items[where[key]] = decl.item
            else:
                if key in where:
                    diags.error("E202", f"`{key[1]}` is already declared by the base spec", decl.item.span,
                                "write `replace` before the declaration to change the base's",
                                labels=[Label(items[where[key]].span, "declared here")])
                    ok = False
                    continue
                where[key] = len(items)
                items.append(decl.item)
    return items if ok else None


def _merge_member(m: ast.MemberDecl, replace: bool, items: list[ast.Item], where: dict[tuple[str, str], int],
                  diags: Diagnostics) -> bool:
    """Swap (`replace`) or add one member of a block declared earlier, in place: the block keeps
    its position and its other members."""
    kind = ast.decl_kind(m)
    what = f"{'replace ' if replace else ''}{kind} {m.owner}.{m.member.name}"
    i = where.get(("name", m.owner))
    owner = items[i] if i is not None else None
    fits = (isinstance(owner, ast.AgentDecl) and (kind == "var" or (kind == "step" and owner.kind == "device"))
            or isinstance(owner, ast.GroupDecl) and kind in ("var", "lock"))
    if i is None or owner is None or not fits:
        owner_kind = ast.decl_kind(owner) if owner is not None else ""
        has = f"is a{'n' if owner_kind[:1] in 'aeiou' else ''} {owner_kind}" if owner else "is not declared before this"
        diags.error("E205", f"`{what}`: `{m.owner}` {has}, so it has no {kind}s", m.span,
                    "steps belong to a device; vars to a cpu, thread, device or block; locks to a block")
        return False
    assert isinstance(owner, (ast.AgentDecl, ast.GroupDecl))
    members: list[ast.VarDecl | ast.LockDecl | ast.StepDecl] = list(
        owner.members if isinstance(owner, ast.GroupDecl) else (*owner.vars, *owner.steps))
    at = next((k for k, x in enumerate(members) if x.name == m.member.name), None)
    if replace and (at is None or ast.decl_kind(ast.MemberDecl(m.owner, members[at])) != kind):
        found = "" if at is None else f" (it is a {ast.decl_kind(ast.MemberDecl(m.owner, members[at]))})"
        diags.error("E205", f"`{what}`: `{m.owner}` has no {kind} `{m.member.name}` to replace{found}", m.span,
                    "drop `replace` to add a new member", labels=[Label(owner.span, "declared here")])
        return False
    if not replace and at is not None:
        diags.error("E202", f"`{m.owner}` already has a member `{m.member.name}`", m.span,
                    f"write `replace {kind} {m.owner}.{m.member.name} ...` to change it",
                    labels=[Label(members[at].span, "declared here")])
        return False
    if at is None:
        members.append(m.member)
    else:
        members[at] = m.member
    if isinstance(owner, ast.GroupDecl):
        items[i] = dataclasses.replace(owner, members=tuple(x for x in members if not isinstance(x, ast.StepDecl)))
    else:
        items[i] = dataclasses.replace(owner, vars=tuple(x for x in members if isinstance(x, ast.VarDecl)),
                                       steps=tuple(x for x in members if isinstance(x, ast.StepDecl)))
    return True
