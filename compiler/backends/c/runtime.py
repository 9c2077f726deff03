"""The model-independent C of the generated search (a plain string: it has no holes).

PRELUDE comes before the model's code (includes and macros), SEARCH
after it (the hash set, the breadth-first loop, the JSON report and `main`).  The model's
code defines: W, WB, PW, PB, NSLOTS, NPROPS, cell, SLOT_LO, holds(k, s) with HAS_PRED[k], successors(s),
pack(t, w) and unpack(w, t).
The initial states come from a file the driver writes: the simulator's `initial_states()`
(one enumeration of `initially`, pruned clause by clause, for both searches).
"""
from __future__ import annotations

PRELUDE = r"""
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BIT(k) (UINT64_C(1) << (k))

/* A computed index outside its array, or a store outside its type: lowering's in_range
   checks make both impossible, so reaching one is a bug in irqc (exit 70, like irqc). */
static void bug(const char *what, int64_t v) {
    fprintf(stderr, "irqc C search: %s (%" PRId64 ")\n", what, v);
    exit(70);
}

#define IX(e, lo, n) __extension__ ({ int64_t x_ = (int64_t)(e) - (lo); \
    if ((uint64_t)x_ >= (uint64_t)(n)) bug("index out of range", x_ + (lo)); x_; })
#define ST(t, k, v, lo, hi) do { int64_t v_ = (v); \
    if (v_ < (lo) || v_ > (hi)) { bug("store out of range", v_); } \
    (t)[k] = (cell)(v_ - (lo)); } while (0)
"""

CANON = r"""
/* The position (in SYM_K's order) of movable CPU a comes before b's: by their own cells, then
   by which naming slots hold them (not before holding), then by position. */
static int sym_before(const cell *s, int a, int b) {
    for (int m = 0; m < SYM_NSIG; m++) {
        cell x = s[SYM_SIG[a][m]], y = s[SYM_SIG[b][m]];
        if (x != y) return x < y;
    }
    for (int m = 0; m < SYM_NNAME; m++) {
        int x = s[SYM_NAME[m]] == SYM_REF[a][m], y = s[SYM_NAME[m]] == SYM_REF[b][m];
        if (x != y) return x < y;
    }
    return a < b;
}

/* The order's place among itertools.permutations(range(SYM_K)): its row of the tables. */
static int sym_rank(const int *ord) {
    int rank = 0;
    for (int j = 0; j < SYM_K; j++) {
        int smaller = 0;
        for (int m = j + 1; m < SYM_K; m++) smaller += ord[m] < ord[j];
        rank = rank * (SYM_K - j) + smaller;
    }
    return rank;
}

static void sym_apply(const cell *s, int rank, cell *out) {
    if (rank == 0) { memcpy(out, s, WB); return; }  /* the first order is the identity: no slot moves */
    memset(out, 0, WB);
    for (int j = 0; j < NSLOTS; j++) out[j] = s[SYM_SRC[rank][j]];
    for (int f = 0; f < SYM_NFIX; f++) out[SYM_FIX[rank][f]] = SYM_MAP[rank][f][out[SYM_FIX[rank][f]]];
}

#ifdef SYM_TANGLED
/* a before b as the simulator's packed bytes: slot by slot, each little-endian in PY_WIDTH bytes. */
static int py_less(const cell *a, const cell *b) {
    for (int j = 0; j < NSLOTS; j++) {
        if (a[j] == b[j]) continue;
        uint64_t x = (uint64_t)((int64_t)a[j] + SLOT_LO[j]), y = (uint64_t)((int64_t)b[j] + SLOT_LO[j]);
        for (int i = 0; i < PY_WIDTH[j]; i++) {
            unsigned bx = (unsigned)(x >> (8 * i)) & 0xffu, by = (unsigned)(y >> (8 * i)) & 0xffu;
            if (bx != by) return bx < by;
        }
    }
    return 0;
}

static int sym_tie(const cell *s, int a, int b) {
    for (int m = 0; m < SYM_NSIG; m++) if (s[SYM_SIG[a][m]] != s[SYM_SIG[b][m]]) return 0;
    return 1;
}

/* The next permutation of ord[lo..hi) in lexicographic order; 0 (and ascending again) after the last. */
static int next_order(int *ord, int lo, int hi) {
    int i = hi - 2;
    while (i >= lo && ord[i] > ord[i + 1]) i--;
    if (i < lo) {
        for (int a = lo, b = hi - 1; a < b; a++, b--) { int t = ord[a]; ord[a] = ord[b]; ord[b] = t; }
        return 0;
    }
    int j = hi - 1;
    while (ord[j] < ord[i]) j--;
    int t = ord[i]; ord[i] = ord[j]; ord[j] = t;
    for (int a = i + 1, b = hi - 1; a < b; a++, b--) { t = ord[a]; ord[a] = ord[b]; ord[b] = t; }
    return 1;
}
#endif

static void canon(const cell *s, cell *out) {
    int ord[SYM_K];
    for (int j = 0; j < SYM_K; j++) {
        int m = j;
        while (m > 0 && sym_before(s, j, ord[m - 1])) { ord[m] = ord[m - 1]; m--; }
        ord[m] = j;
    }
#ifdef SYM_TANGLED
    /* The classes of CPUs whose own cells tie (each ascending, as the sort left them): every
       order of each, the least image (the simulator's _least_image). */
    int start[SYM_K + 1], nclass = 0, tied = 0;
    for (int j = 0; j < SYM_K; j++) {
        if (j == 0 || !sym_tie(s, ord[j - 1], ord[j])) start[nclass++] = j;
        else tied = 1;
    }
    start[nclass] = SYM_K;
    sym_apply(s, sym_rank(ord), out);
    if (!tied) return;
    cell cand[W];
    for (;;) {
        int c = nclass - 1;
        while (c >= 0 && !next_order(ord, start[c], start[c + 1])) c--;
        if (c < 0) return;
        sym_apply(s, sym_rank(ord), cand);
        if (py_less(cand, out)) memcpy(out, cand, WB);
    }
#else
    sym_apply(s, sym_rank(ord), out);
#endif
}
"""

DEAD = r"""
/* Each variable dead where every instance that mentions it stands takes a fixed cell (the
   simulator's dead_tables(), compiler/liveness.py): states that differ only there are one. */
static uint64_t dead_settled;  /* the properties violated before the layer being met (a ghost's) */
static void dead_reset(cell *s) {
    for (int e = 0; e < DEAD_N; e++) {
        if (DEAD_PROPS[e] & ~dead_settled) continue;
        uint32_t c = DEAD_COND[e];
        while (c < DEAD_COND[e + 1] && DEAD_OK[DEAD_AT[c] + (uint32_t)s[DEAD_PC[c]]]) c++;
        if (c < DEAD_COND[e + 1]) continue;
        for (uint32_t k = DEAD_FROM[e]; k < DEAD_FROM[e + 1]; k++) s[DEAD_SLOT[k]] = DEAD_CELL[k];
    }
}
"""

SEARCH = r"""
/* ------------------------------------------------------------------ the search */

static volatile sig_atomic_t stop_signal = 0;
static void on_signal(int sig) { stop_signal = sig; }

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the arena keeps a state's packed words' first PB bytes: little-endian only"
#endif

static unsigned char *arena;  /* state k is arena[k * PB .. k * PB + PB): its packed words' first PB bytes */
static uint32_t *parent;      /* UINT32_MAX: an initial state */
static act_t *action;         /* the action that first reached it; ACT_NONE: initial */
static uint64_t n_states, cap;
static uint32_t *table;       /* open addressing, linear probing: (tag << TAG_SHIFT) | (state + 1); 0 is empty */
static uint64_t tsize;        /* its slots: any number (fastrange), so the last growth fits the cap */
static int tag_shift = 32;    /* the bits a state number + 1 needs under the cap; the rest hold a tag */
static int out_of_memory;

static uint32_t cur;          /* the state being expanded */
static int64_t cur_depth;
static int found[NPROPS];
static unsigned char taken[NACTIONS + 1];  /* the action had a successor from some state expanded */
static int64_t found_depth[NPROPS];
static uint32_t found_state[NPROPS];
static int32_t found_action[NPROPS];  /* the failing action of a check; -1 for a state predicate */
static int nfound;

#define BATCH 64
static cell batch_state[BATCH][W];  /* the successors' cells (the predicates read them) */
static uint64_t batch_packed[BATCH][PW];  /* and packed (the hash set keeps them so) */
static act_t batch_aid[BATCH];
static uint64_t batch_hash[BATCH];
static int nbatch;
static void flush(void);

static uint64_t hash_state(const uint64_t *t) {
    uint64_t h = UINT64_C(0x9E3779B97F4A7C15);
    for (size_t k = 0; k < PW; k++) {
        uint64_t w = t[k];
        h = (h ^ w) * UINT64_C(0xff51afd7ed558ccd);
        h ^= h >> 32;
    }
    h ^= h >> 33; h *= UINT64_C(0xc4ceb9fe1a85ec53); h ^= h >> 33;
    return h;
}

static uint64_t most_states = UINT64_MAX;  /* --max-states, and the successors of its last state */

static int grow_states(void) {
    uint64_t n = cap ? cap * 2 : 1 << 16;
    if (n > most_states) n = most_states;  /* the last growth: to the cap, not twice it */
    if (n <= cap) return 0;
    unsigned char *a = realloc(arena, n * PB);
    if (!a) return 0;
    arena = a;
    uint32_t *p = realloc(parent, n * sizeof *parent);
    if (!p) return 0;
    parent = p;
    act_t *q = realloc(action, n * sizeof *action);
    if (!q) return 0;
    action = q;
    cap = n;
    return 1;
}

/* State k's packed words (the bytes past PB are 0). */
static void load(uint64_t k, uint64_t *w) {
    w[PW - 1] = 0;
    memcpy(w, arena + k * PB, PB);
}

static uint64_t slot_of(uint64_t h, uint64_t n) { return (uint64_t)(((unsigned __int128)h * n) >> 64); }

/* The tag: hash bits the slot's position does not use (it comes from the high ones), so most
   states met in another's slot are told apart without reading the arena. */
static uint32_t tag_of(uint64_t h) { return tag_shift >= 32 ? 0 : (uint32_t)(h & ((UINT64_C(1) << (32 - tag_shift)) - 1)); }
static uint32_t entry(uint64_t h, uint64_t k) { return tag_shift >= 32 ? (uint32_t)(k + 1) : (tag_of(h) << tag_shift) | (uint32_t)(k + 1); }
static uint64_t state_of(uint32_t e) { return (tag_shift >= 32 ? e : e & ((UINT32_C(1) << tag_shift) - 1)) - 1; }

/* Twice the slots, or (the last growth) what the cap needs at 3/4 full.  The slots hold no
   hash, so the states are hashed again from the arena, in order. */
static int grow_table(void) {
    uint64_t n = tsize ? tsize * 2 : 1 << 17;
    if (most_states != UINT64_MAX && n > most_states / 3 * 4 + 4 && most_states / 3 * 4 + 4 > tsize)
        n = most_states / 3 * 4 + 4;
    uint32_t *t = calloc(n, sizeof *t);
    if (!t) return 0;
    uint64_t w[PW], hs[BATCH];
    for (uint64_t k0 = 0; k0 < n_states; k0 += BATCH) {  /* a batch's slots fetched at once, as in flush */
        uint64_t m = n_states - k0 < BATCH ? n_states - k0 : BATCH;
        for (uint64_t i = 0; i < m; i++) {
            load(k0 + i, w);
            hs[i] = hash_state(w);
            __builtin_prefetch(&t[slot_of(hs[i], n)], 1);
        }
        for (uint64_t i = 0; i < m; i++) {
            uint64_t b = slot_of(hs[i], n);
            while (t[b]) b = b + 1 == n ? 0 : b + 1;
            t[b] = entry(hs[i], k0 + i);
        }
    }
    free(table);
    table = t;
    tsize = n;
    return 1;
}

/* The new state's number, or -1 when it was seen before (or memory ran out). */
static int64_t insert_hashed(const uint64_t *t, uint64_t h) {
    uint64_t b = slot_of(h, tsize);
    uint32_t tag = tag_of(h);
    for (;;) {
        uint32_t e = table[b];
        if (!e) break;
        if ((tag_shift >= 32 || e >> tag_shift == tag) && !memcmp(arena + state_of(e) * PB, t, PB)) return -1;
        b = b + 1 == tsize ? 0 : b + 1;
    }
    if (n_states >= UINT32_MAX - 1 || (n_states == cap && !grow_states())) { out_of_memory = 1; return -1; }
    memcpy(arena + n_states * PB, t, PB);
    table[b] = entry(h, n_states);
    uint64_t k = n_states++;
    if (4 * n_states > 3 * tsize && !grow_table()) out_of_memory = 1;  /* at most 3/4 full */
    return (int64_t)k;
}

static int64_t insert(const cell *t) {
    uint64_t w[PW];
    pack(t, w);
    return insert_hashed(w, hash_state(w));
}

/* State k, whose cells are t, met at `depth`: the state predicates it violates. */
static void note_predicates(uint32_t k, const cell *t, int64_t depth) {
    for (int p = 0; p < NPROPS; p++) {
        if (HAS_PRED[p] && !found[p] && !holds(p, t)) {
            found[p] = 1; found_depth[p] = depth; found_state[p] = k; found_action[p] = -1; nfound++;
        }
    }
}

static void result(int aid, const cell *t, uint64_t failed) {
    while (failed) {
        int p = __builtin_ctzll(failed);
        failed &= failed - 1;
        if (!found[p]) {
            found[p] = 1; found_depth[p] = cur_depth + 1; found_state[p] = cur; found_action[p] = aid; nfound++;
        }
    }
    if (!t) return;
    taken[aid] = 1;
#ifdef DEAD
    cell live[W];  /* t is the step's own: its other paths may still read it */
    memcpy(live, t, WB);
    dead_reset(live);
    t = live;
#endif
#ifdef SYMMETRY
    canon(t, batch_state[nbatch]);
#else
    memcpy(batch_state[nbatch], t, WB);
#endif
    pack(batch_state[nbatch], batch_packed[nbatch]);
    batch_aid[nbatch] = aid;
    if (++nbatch == BATCH) flush();
}

/* The successors of one state go in a batch: all their hash-set slots are fetched from memory
   at once, then they are inserted in order (the order, hence the numbering, is unchanged). */
static void flush(void) {
    for (int k = 0; k < nbatch; k++) {
        batch_hash[k] = hash_state(batch_packed[k]);
        __builtin_prefetch(&table[slot_of(batch_hash[k], tsize)]);
    }
    for (int k = 0; k < nbatch; k++) {
        int64_t j = insert_hashed(batch_packed[k], batch_hash[k]);
        if (j < 0) continue;
        parent[j] = cur;
        action[j] = batch_aid[k];
        note_predicates((uint32_t)j, batch_state[k], cur_depth + 1);
    }
    nbatch = 0;
}

/* The initial states, NSLOTS cells each (value - SLOT_LO), in the simulator's order. */
static void initial_states(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) bug("cannot open the initial states", 0);
    cell s[W];
    memset(s, 0, WB);
    while (fread(s, sizeof(cell), NSLOTS, f) == NSLOTS) {
#ifdef DEAD
        dead_reset(s);
#endif
#ifdef SYMMETRY
        cell image[W];
        canon(s, image);
#else
        cell *image = s;
#endif
        int64_t k = insert(image);
        if (k >= 0) { parent[k] = UINT32_MAX; action[k] = ACT_NONE; note_predicates((uint32_t)k, image, 0); }
        if (out_of_memory) break;
    }
    fclose(f);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void print_state(uint32_t k) {
    cell t[W];
    uint64_t w[PW];
    load(k, w);
    unpack(w, t);
    putchar('[');
    for (int j = 0; j < NSLOTS; j++) printf("%s%" PRId64, j ? "," : "", (int64_t)t[j] + SLOT_LO[j]);
    putchar(']');
}

static void print_path(int p) {
    uint32_t chain_len = 0;
    for (uint32_t k = found_state[p]; k != UINT32_MAX; k = parent[k]) chain_len++;
    uint32_t *chain = malloc((chain_len ? chain_len : 1) * sizeof *chain);
    if (!chain) bug("no memory for a path", chain_len);
    uint32_t n = chain_len;
    for (uint32_t k = found_state[p]; k != UINT32_MAX; k = parent[k]) chain[--n] = k;
    putchar('[');
    for (uint32_t j = 0; j < chain_len; j++) {
        if (j) putchar(',');
        if (action[chain[j]] == ACT_NONE) printf("[null,"); else printf("[%d,", (int)action[chain[j]]);
        print_state(chain[j]);
        putchar(']');
    }
    if (found_action[p] >= 0) {  /* a check: the step from the last state fails it; the trace repeats it */
        printf(",[%" PRId32 ",", found_action[p]);
        print_state(found_state[p]);
        putchar(']');
    }
    putchar(']');
    free(chain);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s MAX_STATES MAX_SECONDS DUMP_FILE|- INITIAL_STATES_FILE\n", argv[0]);
        return 2;
    }
    int64_t max_states = strtoll(argv[1], NULL, 10);
    double max_seconds = strtod(argv[2], NULL);
    if (max_states >= 0) most_states = (uint64_t)max_states + (1 << 16);
    if (most_states < UINT32_MAX - 1) {
        tag_shift = 1;
        while ((UINT64_C(1) << tag_shift) <= most_states + 1) tag_shift++;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGUSR1, on_signal);  /* irqc's own "stop now" (a limit it watches): keep the states */
    double t0 = now(), next_report = t0 + 0.25;
    if (!grow_states() || !grow_table()) bug("no memory to start", 0);
    initial_states(argv[4]);
    uint64_t lo = 0, hi = n_states, expanded = 0;
    int64_t depth = 0;
    const char *stopped = out_of_memory ? "memory" : NULL;
    cell s[W];
    uint64_t w[PW];
    memset(s, 0, WB);  /* unpack writes the NSLOTS cells; the padding stays 0 */
    while (!stopped && lo < hi && nfound < NPROPS) {
        for (cur = (uint32_t)lo; cur < hi; cur++) {
            if (max_states >= 0 && n_states >= (uint64_t)max_states) { stopped = "max-states"; break; }
            if (!(++expanded & 255)) {
                double t = now();
                if (stop_signal) {
                    stopped = stop_signal == SIGINT ? "SIGINT" : stop_signal == SIGTERM ? "SIGTERM" : "watch";
                    break;
                }
                if (max_seconds >= 0 && t - t0 > max_seconds) { stopped = "timeout"; break; }
                if (t >= next_report) {
                    fprintf(stderr, "progress %" PRIu64 " %" PRId64 "\n", n_states, depth);
                    fflush(stderr);
                    next_report = t + 0.25;
                }
            }
            cur_depth = depth;
#ifdef DEAD
            if (cur == lo) {  /* the layer after: the ghosts of every property violated by now */
                dead_settled = 0;
                for (int p = 0; p < NPROPS; p++) if (found[p] && found_depth[p] <= depth) dead_settled |= BIT(p);
            }
#endif
            load(cur, w);
            unpack(w, s);
            successors(s);
            flush();
            if (out_of_memory) { stopped = "memory"; break; }
        }
        if (stopped) break;
        if (n_states > hi) depth++;
        lo = hi;
        hi = n_states;
    }
    double seconds = now() - t0;
    int complete = !(lo < hi);
    /* After the user's stop signal nobody reads the states: write them only otherwise. */
    int dumped = 0;
    if ((argv[3][0] != '-' || argv[3][1]) && stop_signal != SIGINT && stop_signal != SIGTERM) {
        FILE *f = fopen(argv[3], "wb");
        int ok = f != NULL;
        cell t[W];
        memset(t, 0, WB);
        /* As cells: what the simulator reads back.  Of a cut search, only what the coverage
           scan reads of it (CUT_SCAN_STATES): the rest could be gigabytes nobody reads. */
        uint64_t keep = complete || n_states < CUT_SCAN_STATES ? n_states : CUT_SCAN_STATES;
        for (uint64_t k = 0; ok && k < keep; k++) {
            load(k, w);
            unpack(w, t);
            ok = fwrite(t, WB, 1, f) == 1;
        }
        dumped = (f && !fclose(f)) && ok;
    }
    uint64_t memory = cap * (PB + sizeof *parent + sizeof *action) + tsize * sizeof *table;
    printf("{\"complete\":%s,\"states\":%" PRIu64 ",\"depth\":%" PRId64 ",\"bound\":",
           complete ? "true" : "false", n_states, depth);
    if (complete) printf("null"); else printf("%" PRId64, depth);
    printf(",\"seconds\":%.6f,\"expanded\":%" PRIu64 ",\"memory\":%" PRIu64 ",\"stopped\":", seconds, expanded, memory);
    if (stopped) printf("\"%s\"", stopped); else printf("null");
    printf(",\"dumped\":%s,\"taken\":[", dumped ? "true" : "false");
    for (int a = 0, sep = 0; a < NACTIONS; a++) {
        if (taken[a]) { printf("%s%d", sep ? "," : "", a); sep = 1; }
    }
    printf("],\"violations\":[");
    int first = 1;
    for (int p = 0; p < NPROPS; p++) {
        if (!found[p]) continue;
        printf("%s{\"prop\":%d,\"depth\":%" PRId64 ",\"path\":", first ? "" : ",", p, found_depth[p]);
        print_path(p);
        putchar('}');
        first = 0;
    }
    printf("]}\n");
    return fflush(stdout) ? 1 : 0;
}
"""
