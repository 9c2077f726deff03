"""IR model at fixed parameters -> the C source of its exhaustive search.

Plain string building: the model-independent C is in `runtime`, and every line that
depends on the model is built here (expressions in `cexprs`, step bodies in `csteps`).
The text depends only on the model and the parameters, so its hash names the compiled
program in the cache (`driver`).  Spec text reaches the file only in comments, through
`csteps._safe`.

Orders that make the C search meet states exactly as the Python simulator's `explore`
does (docs/prove.md, "Which counterexample"): slots as in `layout`; free initial values
odometer-style, the last free slot fastest; actions numbered instance-major (agents in
model order, instances by index, then the agent's steps in spec order), and `successors`
runs them in that order; choice values ascending.
"""
from __future__ import annotations

from dataclasses import dataclass

from compiler import ir
from compiler.backends.c import cexprs, csteps, runtime
from compiler.backends.c.cexprs import Names, Scope
from compiler.backends.c.layout import Layout, UnsupportedC, build

MAX_PROPS = 64  # failed checks travel as one 64-bit set
# What the coverage scan reads of a cut search's states (as many as the Python search keeps at
# its default cap); the program writes no more of them.
CUT_SCAN_STATES = 2_000_000
SMALL_ACTIONS = 65_535  # below this many actions a state's action fits 16 bits (UINT16_MAX: none)
MAX_ORDERS = 720  # orders of the movable CPUs tabulated (6 of them); beyond, the Python search reduces

# The Python simulator's `symmetry_tables()`: (movable CPUs, each one's own slots, the slots
# naming a CPU, per movable CPU the value naming it there, per order (src, fixes), tangled,
# each slot's bytes in the simulator's packing).
SymmetryTables = tuple[tuple[int, ...], list[list[int]], list[int], list[list[int]],
                       list[tuple[list[int], tuple[tuple[int, tuple[int, ...]], ...]]], bool, list[int]]
# Its `dead_tables()`: entries (conds, resets, props): each cond (pc slot, the locations where the
# variable is dead), each reset (slot, value), props the properties to be violated first (a ghost's).
DeadTables = list[tuple[tuple[tuple[int, tuple[int, ...]], ...], tuple[tuple[int, int], ...], tuple[str, ...]]]


@dataclass(frozen=True, slots=True)
class Program:
    source: str
    layout: Layout
    properties: tuple[str, ...]  # property number -> name, as the program's JSON gives them
    actions: int
    symmetry: tuple[int, ...] = ()  # the CPU ids the search permutes (empty: none)
    dead: bool = False  # it stores states with their dead variables reset
    state_bytes: int = 8  # what the search keeps per state: its cells bit-packed, in whole bytes
    link_bytes: int = 8  # and per state for its trace: the parent link and the action


def all_properties(model: ir.Model) -> list[ir.Property]:
    """The model's properties, then any check property a step fails without the list naming
    it, sorted: the Python simulator's property list (its generator's `_all_properties`)."""
    named = {p.name for p in model.properties}
    extra: dict[str, ir.Property] = {}
    for a in model.agents:
        for st in a.steps:
            for chk in _checks(st.body):
                if chk.prop not in named and chk.prop not in extra:
                    extra[chk.prop] = ir.Property(chk.prop, "check", None, None, chk.span)
    return [*model.properties, *(extra[k] for k in sorted(extra))]


def _checks(stmts: tuple[ir.Stmt, ...]) -> list[ir.Check]:
    out: list[ir.Check] = []
    for st in stmts:
        if isinstance(st, ir.Check):
            out.append(st)
        elif isinstance(st, ir.If):
            out += _checks(st.then) + _checks(st.else_)
    return out


def generate(model: ir.Model, params: dict[str, int], symmetry: SymmetryTables | None = None,
             dead: DeadTables | None = None) -> Program:
    """The program; with `symmetry`, one that keeps one state per orbit of the CPU permutations,
    choosing as its representative exactly the state the Python simulator's search keeps; with
    `dead`, one that resets the dead variables first, as that search does."""
    layout = build(model, params)
    props = all_properties(model)
    if len(props) > MAX_PROPS:
        raise UnsupportedC(f"{len(props)} properties (the C search handles up to {MAX_PROPS})")
    bits = {p.name: k for k, p in enumerate(props)}
    sc = Scope(model, layout, Names())
    steps, n_actions = _steps(model, sc, bits)
    preds = _predicates(props, sc)
    succ = _successors(model, layout)
    guards = _guards(model, sc, bits)  # after everything else: only agents some `enabled` names
    canon = [] if symmetry is None else _canon(layout, symmetry)
    reset = _dead(layout, dead, bits) if dead else []
    parts = [_header(model, params), runtime.PRELUDE, _tables(model, layout, props), _packing(layout), *guards, *steps,
             *preds, *succ, *canon, *reset, runtime.SEARCH]
    return Program("\n".join(parts), layout, tuple(p.name for p in props), n_actions,
                   () if symmetry is None else tuple(symmetry[0]), bool(reset), _bytes(layout), _link_bytes(n_actions))


def _dead(layout: Layout, tables: DeadTables, bits: dict[str, int]) -> list[str]:
    """`dead_reset(s)`: per entry, its conditions (a pc slot and, per location, whether the
    variable is dead there), the properties it waits for (a bit set) and its (slot, cell)
    pairs, in flat tables."""
    conds, starts = [0], [0]  # where each entry's conditions and resets begin
    waits = [sum(1 << bits[p] for p in props) for _, _, props in tables]
    pcs: list[int] = []
    at: list[int] = []
    ok: list[int] = []
    slots: list[int] = []
    cells: list[int] = []
    for where, resets, _ in tables:
        for pc, locs in where:
            pcs.append(pc)
            at.append(len(ok))
            ok += [int(loc in locs) for loc in range(layout.hi[pc] + 1)]
        conds.append(len(pcs))
        slots += [slot for slot, _ in resets]
        cells += [value - layout.lo[slot] for slot, value in resets]
        starts.append(len(slots))

    def array(ctype: str, name: str, xs: list[int]) -> str:
        return f"static const {ctype} {name}[{max(1, len(xs))}] = {{{', '.join(map(str, xs)) or '0'}}};"

    return ["/* ------------------------------------------------------------------ dead variables */",
            "#define DEAD 1", f"#define DEAD_N {len(tables)}",
            array("uint32_t", "DEAD_COND", conds), array("uint32_t", "DEAD_PC", pcs), array("uint32_t", "DEAD_AT", at),
            array("uint8_t", "DEAD_OK", ok), array("uint32_t", "DEAD_FROM", starts),
            array("uint32_t", "DEAD_SLOT", slots), array("cell", "DEAD_CELL", cells),
            f"static const uint64_t DEAD_PROPS[{max(1, len(waits))}] = "
            f"{{{', '.join(f'UINT64_C({w})' for w in waits) or '0'}}};", runtime.DEAD]


def _link_bytes(n_actions: int) -> int:
    """A state's parent (4 B) and the action that reached it (2 B, or 4 past 65,534 actions)."""
    return 4 + (2 if n_actions < SMALL_ACTIONS else 4)


def _packing(layout: Layout) -> str:
    """`pack`/`unpack` between a state's cells and the words the search keeps: each slot in the
    bits its range needs (a cell holds value - lo, so 0 .. hi - lo), one after the other in slot
    order, a slot crossing a word boundary split over the two words."""
    fields = []  # (slot, word, shift, bits)
    at = 0
    for j, (lo, hi) in enumerate(zip(layout.lo, layout.hi)):
        bits = (hi - lo).bit_length()
        if bits:
            fields.append((j, at // 64, at % 64, bits))
            at += bits
    words = _words(layout)
    pack = ["static void pack(const cell *t, uint64_t *w) {", "    memset(w, 0, PW * sizeof(uint64_t));"]
    unpack = ["static void unpack(const uint64_t *w, cell *t) {"]
    for j, word, shift, bits in fields:
        mask = f"UINT64_C({(1 << bits) - 1:#x})"
        pack.append(f"    w[{word}] |= (uint64_t)t[{j}] << {shift};")
        if shift + bits > 64:
            pack.append(f"    w[{word + 1}] |= (uint64_t)t[{j}] >> {64 - shift};")
            unpack.append(f"    t[{j}] = (cell)(((w[{word}] >> {shift}) | (w[{word + 1}] << {64 - shift})) & {mask});")
        else:
            unpack.append(f"    t[{j}] = (cell)((w[{word}] >> {shift}) & {mask});")
    unpack += [f"    t[{j}] = 0;" for j, (lo, hi) in enumerate(zip(layout.lo, layout.hi)) if hi == lo]
    return "\n".join([f"#define PW {words}", f"#define PB {_bytes(layout)}", *pack, "}", *unpack, "}"])


def _bits(layout: Layout) -> int:
    return sum((hi - lo).bit_length() for lo, hi in zip(layout.lo, layout.hi))


def _words(layout: Layout) -> int:
    """The 64-bit words a state is packed into while the search works on it."""
    return max(1, -(-_bits(layout) // 64))


def _bytes(layout: Layout) -> int:
    """The bytes the search keeps of a state: its packed words' first bytes (little-endian,
    so they hold every bit; the rest are 0)."""
    return max(1, -(-_bits(layout) // 8))


def _canon(layout: Layout, tables: SymmetryTables) -> list[str]:
    """`canon(s, out)`: the simulator's canonical image of s (its `_canonicaliser`): sort the
    movable CPUs by their own cells, then (untangled) by which naming slots hold them, then by
    id; the image of that order is tabulated.  Tangled, every order of the CPUs whose own cells
    tie is tried and the least image kept, compared as the simulator's packed bytes."""
    movable, sigs, names, refs, images, tangled, widths = tables
    if len(images) > MAX_ORDERS:
        raise UnsupportedC(f"{len(movable)} CPUs to permute (the compiled search tabulates up to {MAX_ORDERS} orders)")
    if tangled:
        names, refs = [], [[] for _ in movable]  # the least image decides ties, not the names
    k, lo, hi = len(movable), layout.lo, layout.hi
    n_fix = len(images[0][1])
    if any(len(fixes) != n_fix for _, fixes in images):
        raise UnsupportedC("the orders of the CPUs fix different numbers of slots")
    width = max((hi[slot] - lo[slot] + 1 for _, fixes in images for slot, _ in fixes), default=1)
    maps = []  # per order, per fixed slot: new cell by old cell
    for _, fixes in images:
        maps.append([[m[v] - lo[slot] for v in range(lo[slot], hi[slot] + 1)] + [0] * (width - hi[slot] + lo[slot] - 1)
                     for slot, m in fixes])

    def rows(table: list[list[int]]) -> str:
        return "{" + ", ".join("{" + ", ".join(map(str, r)) + "}" for r in table) + "}"

    return [
        "/* ------------------------------------------------------------------ CPU symmetry */",
        "#define SYMMETRY 1",
        *(["#define SYM_TANGLED 1",
           f"static const uint8_t PY_WIDTH[NSLOTS + 1] = {{{''.join(f'{x}, ' for x in widths)}0}};"] if tangled else []),
        f"#define SYM_K {k}",
        f"#define SYM_NSIG {len(sigs[0])}",
        f"#define SYM_NNAME {len(names)}",
        f"#define SYM_NFIX {n_fix}",
        f"static const uint32_t SYM_SIG[SYM_K][SYM_NSIG] = {rows(sigs)};",
        f"static const uint32_t SYM_NAME[SYM_NNAME + 1] = {{{''.join(f'{x}, ' for x in names)}0}};",
        f"static const int64_t SYM_REF[SYM_K][SYM_NNAME + 1] = "
        f"{rows([[v - lo[slot] for v, slot in zip(r, names)] + [0] for r in refs])};",
        f"static const uint32_t SYM_SRC[{len(images)}][NSLOTS] = {rows([src for src, _ in images])};",
        f"static const uint32_t SYM_FIX[{len(images)}][SYM_NFIX + 1] = "
        f"{rows([[slot for slot, _ in fixes] + [0] for _, fixes in images])};",
        f"static const cell SYM_MAP[{len(images)}][SYM_NFIX + 1][{width}] = "
        "{" + ", ".join(rows(m + [[0] * width]) for m in maps) + "};",
        runtime.CANON,
    ]


def _header(model: ir.Model, params: dict[str, int]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()))
    return (f"/* irqc-generated exhaustive search of spec {csteps._safe(model.name)} ({csteps._safe(shown)}),\n"
            f"   source hash {csteps._safe(model.source_hash)}.  Written by compiler/backends/c; do not edit. */")


def _tables(model: ir.Model, layout: Layout, props: list[ir.Property]) -> str:
    ctype = "uint8_t" if layout.cell_bits == 8 else "uint16_t"
    n_actions = sum(len(a.steps) * layout.count[a.name] for a in model.agents)
    per_word = 64 // layout.cell_bits
    width = -(-max(layout.size, 1) // per_word) * per_word  # cells, padded to whole 64-bit words
    for v, vs in layout.vars.items():
        if v.init is not None and not vs.lo <= ir.eval_const(v.init, layout.params) <= vs.hi:
            raise UnsupportedC("an initial value outside its type")
    lines = [
        f"typedef {ctype} cell;",
        f"#define NSLOTS {layout.size}",
        f"#define W {width}",
        f"#define WB (W * sizeof(cell))",
        f"#define NPROPS {len(props)}",
        f"#define CUT_SCAN_STATES UINT64_C({CUT_SCAN_STATES})",
        f"#define NACTIONS {n_actions}",
        *(["typedef uint16_t act_t;", "#define ACT_NONE UINT16_MAX"] if n_actions < SMALL_ACTIONS else
          ["typedef int32_t act_t;", "#define ACT_NONE (-1)"]),
        f"static const int64_t SLOT_LO[NSLOTS + 1] = {{{', '.join(map(str, layout.lo))}{', ' if layout.lo else ''}0}};",
        f"static const int HAS_PRED[NPROPS + 1] = {{{''.join(f'{int(p.expr is not None)}, ' for p in props)}0}};",
        "static void result(int aid, const cell *t, uint64_t failed);",
        "static int holds(int k, const cell *s);",
        "static void successors(const cell *s);",
    ]
    lines += [f"static int enabled_{k}(const cell *s, int64_t i);" for k in range(len(model.agents))]
    return "\n".join(lines)


def _steps(model: ir.Model, sc: Scope, bits: dict[str, int]) -> tuple[list[str], int]:
    out: list[str] = []
    n_actions = 0
    for k, a in enumerate(model.agents):
        for j, st in enumerate(a.steps):
            out.append(f"/* {csteps._safe(a.name)}.{csteps._safe(st.name)}: {csteps._safe(' '.join(st.text.split()))} */")
            out += csteps.step_function(f"step_{k}_{j}", a, st, sc, bits)
        n_actions += len(a.steps) * sc.layout.count[a.name]
    return out, n_actions


def _guards(model: ir.Model, sc: Scope, bits: dict[str, int]) -> list[str]:
    """Guard functions and `enabled_K` for every agent (unused ones cost the compiler little)."""
    out: list[str] = []
    for k, a in enumerate(model.agents):
        for j, st in enumerate(a.steps):
            out += csteps.guard_function(f"guard_{k}_{j}", a, st, sc, bits)
        out.append(f"static int enabled_{k}(const cell *s, int64_t i) {{")
        out.append("    (void)i;")
        where = f"{sc.layout.pc_base[a.name]}" + ("" if a.domain is None else " + i")
        out.append(f"    switch (s[{where}]) {{")
        for loc in range(len(a.locations)):
            fns = [f"guard_{k}_{j}(s, (int)i)" for j, st in enumerate(a.steps) if st.source == loc]
            if fns:
                out.append(f"    case {loc}: return {' || '.join(fns)};")
        out += ["    default: return 0;", "    }", "}"]
    return out


def _predicates(props: list[ir.Property], sc: Scope) -> list[str]:
    out = ["static int holds(int k, const cell *s) {", "    switch (k) {"]
    for k, p in enumerate(props):
        pred = p.invariant_expr()  # a cover's is its negation: a "violation" is its witness
        if pred is not None:
            out.append(f"    case {k}: return {cexprs.expr(pred, sc)};  /* {csteps._safe(p.name)} */")
    out += ["    default: return 1;", "    }", "}"]
    return out


def _successors(model: ir.Model, layout: Layout) -> list[str]:
    out = ["static void successors(const cell *s) {"]
    aid = 0
    for k, a in enumerate(model.agents):
        n, base, count = len(a.steps), layout.pc_base[a.name], layout.count[a.name]
        out.append(f"    for (int i = 0; i < {count}; i++) {{")
        out.append(f"        switch (s[{base} + i]) {{")
        for loc in range(len(a.locations)):
            calls = [f"step_{k}_{j}(s, i, {aid} + i * {n} + {j});" for j, st in enumerate(a.steps) if st.source == loc]
            if calls:
                out.append(f"        case {loc}: {' '.join(calls)} break;")
        out += ["        default: break;", "        }", "    }"]
        aid += n * count
    out.append("}")
    return out
