/* A hand-written breadth-first search of specs/simple_irq_concurrent_drop.irqspec (the model
   its IR dump, tests/golden/ir/simple_irq_concurrent_drop.ir, states), for
   bench/hand_bfs_bench.py: what a C programmer would write for this one model.  Every
   variable of the IR is kept (a hand-written model would have them), a state is unpacked into
   a struct to be expanded and packed into 64 bits to be stored, the visited set is open
   addressing on those 64 bits, and both properties are evaluated on every new state.  It
   keeps no parent links: it counts states and reports the shallowest violation's depth.

   cc -O2 -o hand_bfs bench/hand_bfs.c && ./hand_bfs CPUS   (CPUS <= 8) */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAXN 8
static int N;

typedef struct {
    int msir[MAXN], frame, inprogress, pending, replay, disabled, action, eff_aff, outstanding;
    int ret_can[MAXN], ret_actions[MAXN], ret_pm[MAXN];
    int lock;  /* -1: free; else the owner's instance id (dev 0, cpu i 1 + i, set_affinity N + 1) */
    int pc[MAXN];
} st;

static uint64_t pack(const st *s) {
    uint64_t w = 0;
    int b = 0;
#define PUT(v, bits) do { w |= (uint64_t)(v) << b; b += (bits); } while (0)
    for (int i = 0; i < N; i++) PUT(s->msir[i], 1);
    PUT(s->frame, 3); PUT(s->inprogress, 1); PUT(s->pending, 1); PUT(s->replay, 1);
    PUT(s->disabled, 1); PUT(s->action, 1); PUT(s->eff_aff, 3); PUT(s->outstanding, 1);
    for (int i = 0; i < N; i++) { PUT(s->ret_can[i], 1); PUT(s->ret_actions[i], 1); PUT(s->ret_pm[i], 1); }
    PUT(s->lock + 1, 4);
    for (int i = 0; i < N; i++) PUT(s->pc[i], 2);
    return w;
}

static void unpack(uint64_t w, st *s) {
    int b = 0;
#define GET(bits) (int)((w >> (b += (bits), b - (bits))) & ((UINT64_C(1) << (bits)) - 1))
    for (int i = 0; i < N; i++) s->msir[i] = GET(1);
    s->frame = GET(3); s->inprogress = GET(1); s->pending = GET(1); s->replay = GET(1);
    s->disabled = GET(1); s->action = GET(1); s->eff_aff = GET(3); s->outstanding = GET(1);
    for (int i = 0; i < N; i++) { s->ret_can[i] = GET(1); s->ret_actions[i] = GET(1); s->ret_pm[i] = GET(1); }
    s->lock = GET(4) - 1;
    for (int i = 0; i < N; i++) s->pc[i] = GET(2);
}

/* ------------------------------------------------------------------ visited set and queue */
static uint64_t *keys;  /* 0 is empty: stored keys are pack() + 1 (pack is never all ones) */
static uint64_t cap, nstates, *queue;

static uint64_t mix(uint64_t x) {
    x ^= x >> 33; x *= UINT64_C(0xff51afd7ed558ccd); x ^= x >> 33; x *= UINT64_C(0xc4ceb9fe1a85ec53);
    return x ^ (x >> 33);
}

static uint64_t qcap;

static void grow(void) {  /* double the set when it is half full, the queue when it is full */
    if (nstates + 1 > qcap) {
        qcap *= 2;
        queue = realloc(queue, qcap * sizeof *queue);
        if (!queue) { fprintf(stderr, "out of memory\n"); exit(1); }
    }
    if (2 * (nstates + 1) <= cap) return;
    uint64_t *old = keys, n = cap;
    cap *= 2;
    keys = calloc(cap, sizeof *keys);
    if (!keys) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (uint64_t j = 0; j < n; j++) {
        if (!old[j]) continue;
        uint64_t i = mix(old[j]) & (cap - 1);
        while (keys[i]) i = (i + 1) & (cap - 1);
        keys[i] = old[j];
    }
    free(old);
}

static int insert(uint64_t w) {
    grow();
    uint64_t k = w + 1, i = mix(k) & (cap - 1);
    while (keys[i]) {
        if (keys[i] == k) return 0;
        i = (i + 1) & (cap - 1);
    }
    keys[i] = k;
    queue[nstates++] = w;
    return 1;
}

/* ------------------------------------------------------------------ properties */
static int no_lost_interrupt(const st *s) {
    int quiet = s->lock == -1;
    for (int i = 0; i < N && quiet; i++) quiet = s->pc[i] == 0 && !s->msir[i];
    return !quiet || !s->outstanding;
}

static int64_t found_depth = -1, depth;
static void add(const st *t) {
    if (insert(pack(t)) && found_depth < 0 && !no_lost_interrupt(t)) found_depth = depth + 1;
    /* deadlock holds in every state: the device's step is always enabled */
}

/* ------------------------------------------------------------------ the steps */
static void successors(const st *s) {
    st t = *s;  /* dev.fire */
    t.outstanding = 1;
    t.msir[t.frame] = 1;
    add(&t);
    for (int i = 0; i < N; i++) {
        t = *s;
        switch (s->pc[i]) {
        case 0:  /* idle: await (frame[c].msir) */
            if (!s->msir[i]) break;
            t.msir[i] = 0;
            t.pc[i] = 1;
            add(&t);
            break;
        case 1: {  /* handle_simple_irq: under desc->lock */
            if (s->lock != -1) break;
            int can;
            if (t.inprogress) {
                can = 0;
            } else {
                t.replay = 0;
                if (!t.action || t.disabled) {
                    t.pending = 1;
                    can = 0;
                } else {
                    can = 1;
                }
            }
            t.ret_can[i] = t.ret_actions[i] = t.ret_pm[i] = 0;
            if (can) {
                t.pending = 0;
                t.inprogress = 1;
                t.pc[i] = 3;
            } else {
                t.pc[i] = 0;
            }
            t.lock = -1;
            add(&t);
            break;
        }
        case 2:  /* handle_irq_event: the second desc->lock section */
            if (s->lock != -1) break;
            t.inprogress = 0;
            t.pc[i] = 0;
            add(&t);
            break;
        case 3:  /* handle_irq_event_percpu */
            if (t.action) t.outstanding = 0;
            t.pc[i] = 2;
            add(&t);
            break;
        }
    }
    if (s->lock == -1) {  /* set_affinity: any other CPU */
        for (int c = 0; c < N; c++) {
            if (c == s->eff_aff) continue;
            t = *s;
            t.eff_aff = c;
            t.frame = c;
            add(&t);
        }
    }
}

int main(int argc, char **argv) {
    N = argc > 1 ? atoi(argv[1]) : 2;
    if (N < 1 || N > MAXN) { fprintf(stderr, "CPUS must be 1..%d\n", MAXN); return 2; }
    cap = qcap = UINT64_C(1) << 16;
    keys = calloc(cap, sizeof *keys);
    queue = malloc(qcap * sizeof *queue);
    if (!keys || !queue) { fprintf(stderr, "out of memory\n"); return 1; }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    st s;
    memset(&s, 0, sizeof s);
    s.action = 1;
    s.lock = -1;
    insert(pack(&s));
    uint64_t lo = 0, hi = nstates;
    depth = 0;
    while (lo < hi) {
        for (uint64_t k = lo; k < hi; k++) {
            unpack(queue[k], &s);
            successors(&s);
        }
        lo = hi;
        hi = nstates;
        if (lo < hi) depth++;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("{\"states\": %llu, \"depth\": %lld, \"no_lost_interrupt\": %lld, \"seconds\": %.6f, \"bytes\": %llu}\n",
           (unsigned long long)nstates, (long long)depth, (long long)found_depth, seconds,
           (unsigned long long)(cap * sizeof *keys + qcap * sizeof *queue));
    return 0;
}
