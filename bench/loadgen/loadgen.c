/*
 * loadgen: Switchboard's WebSocket load generator.
 *
 * One epoll loop per process, no threads. Modes:
 *   echo       C connections, each keeping W messages in flight; every echo is
 *              checked byte for byte against the payload that was sent, which
 *              is recomputed from (connection id, sequence number)
 *   broadcast  N receivers + 1 sender; the sender sends "BCAST <ts> <seq> <fill>"
 *              keeping W broadcasts outstanding; receivers check order/content
 *   idle       open N connections, write a ready file, hold, close
 *   connect    K loops of connect -> handshake -> close handshake -> TCP close
 *   serve-raw  a plain TCP echo server (the ceiling for --raw echo runs)
 *   fanout     real-time pub/sub, spoken through a protocol profile (--profile):
 *              N subscribers run the profile's init and subscribe scripts, one
 *              publisher publishes with W publications outstanding; every
 *              subscriber checks each delivery (envelope, payload, order)
 *   rpc        request/response through a profile: C connections, W requests
 *              in flight each, every reply checked against its request
 *   storm      a reconnect storm through a profile: N subscribers connect,
 *              subscribe and receive one publication, then all disconnect; the
 *              publisher publishes K more; then all N reconnect at once and
 *              resume (the profile's resume script), each checking that it
 *              recovers exactly the K publications it missed, in order
 *
 * Output: one JSON line on stdout. Progress marks on stderr ("@window-start",
 * "@window-end") so a driver can sample the server around the measured window.
 *
 * Build: gcc -O2 -o loadgen loadgen.c -lz
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

/* ------------------------------------------------------------------ utils */

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "loadgen: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(2);
}

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) die("out of memory (%zu bytes)", n);
  return p;
}

static void *xrealloc(void *p, size_t n) {
  p = realloc(p, n ? n : 1);
  if (!p) die("out of memory (%zu bytes)", n);
  return p;
}

/* xoshiro-style generator is overkill; a 64-bit xorshift* is plenty for
 * masking keys and handshake nonces (seeded from getrandom). */
static uint64_t rng_s = 0x9e3779b97f4a7c15ull;

static uint64_t rng64(void) {
  uint64_t x = rng_s;
  x ^= x >> 12;
  x ^= x << 25;
  x ^= x >> 27;
  rng_s = x;
  return x * 0x2545f4914f6cdd1dull;
}

static void rng_seed(void) {
  uint64_t s = 0;
  if (getrandom(&s, sizeof s, 0) != sizeof s) s = now_ns() ^ ((uint64_t)getpid() << 32);
  rng_s = s | 1;
}

/* A fixed 64-bit mixer: deterministic pattern offsets from (id, seq). */
static uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* ------------------------------------------------------------ SHA-1, b64 */

typedef struct {
  uint32_t h[5];
  uint64_t total;
  uint8_t block[64];
  size_t fill;
} sha1_ctx;

static uint32_t rol32(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }

static void sha1_block(sha1_ctx *s, const uint8_t *p) {
  uint32_t w[80];
  for (int i = 0; i < 16; i++)
    w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
  for (int i = 16; i < 80; i++) w[i] = rol32(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
  uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
  for (int i = 0; i < 80; i++) {
    uint32_t f, k;
    if (i < 20) { f = (b & c) | (~b & d); k = 0x5a827999; }
    else if (i < 40) { f = b ^ c ^ d; k = 0x6ed9eba1; }
    else if (i < 60) { f = (b & c) | (b & d) | (c & d); k = 0x8f1bbcdc; }
    else { f = b ^ c ^ d; k = 0xca62c1d6; }
    uint32_t t = rol32(a, 5) + f + e + k + w[i];
    e = d; d = c; c = rol32(b, 30); b = a; a = t;
  }
  s->h[0] += a; s->h[1] += b; s->h[2] += c; s->h[3] += d; s->h[4] += e;
}

static void sha1_init(sha1_ctx *s) {
  s->h[0] = 0x67452301; s->h[1] = 0xefcdab89; s->h[2] = 0x98badcfe; s->h[3] = 0x10325476; s->h[4] = 0xc3d2e1f0;
  s->total = 0;
  s->fill = 0;
}

static void sha1_update(sha1_ctx *s, const void *data, size_t n) {
  const uint8_t *p = data;
  s->total += n;
  while (n > 0) {
    size_t k = MIN(n, 64 - s->fill);
    memcpy(s->block + s->fill, p, k);
    s->fill += k; p += k; n -= k;
    if (s->fill == 64) { sha1_block(s, s->block); s->fill = 0; }
  }
}

static void sha1_final(sha1_ctx *s, uint8_t out[20]) {
  uint64_t bits = s->total * 8;
  uint8_t pad = 0x80;
  sha1_update(s, &pad, 1);
  uint8_t zero = 0;
  while (s->fill != 56) sha1_update(s, &zero, 1);
  uint8_t len[8];
  for (int i = 0; i < 8; i++) len[i] = (uint8_t)(bits >> (56 - 8 * i));
  sha1_update(s, len, 8);
  for (int i = 0; i < 5; i++) {
    out[4 * i] = (uint8_t)(s->h[i] >> 24); out[4 * i + 1] = (uint8_t)(s->h[i] >> 16);
    out[4 * i + 2] = (uint8_t)(s->h[i] >> 8); out[4 * i + 3] = (uint8_t)s->h[i];
  }
}

static size_t b64_encode(const uint8_t *in, size_t n, char *out) {
  static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t o = 0;
  for (size_t i = 0; i < n; i += 3) {
    uint32_t v = (uint32_t)in[i] << 16;
    if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
    if (i + 2 < n) v |= in[i + 2];
    out[o++] = tbl[(v >> 18) & 63];
    out[o++] = tbl[(v >> 12) & 63];
    out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
    out[o++] = i + 2 < n ? tbl[v & 63] : '=';
  }
  out[o] = 0;
  return o;
}

/* -------------------------------------------------------------- histogram */
/* Log-linear: values < 64 exact, then 64 sub-buckets per power of two
 * (bucket width / value <= 1/64; reporting the midpoint halves that). */

#define HSUB_BITS 6
#define HSUB (1 << HSUB_BITS)
#define HBUCKETS ((64 - HSUB_BITS + 1) * HSUB)

typedef struct {
  uint64_t n[HBUCKETS];
  uint64_t count, sum, max;
} hist_t;

static int hist_index(uint64_t v) {
  if (v < HSUB) return (int)v;
  int e = 63 - __builtin_clzll(v);
  return (e - HSUB_BITS + 1) * HSUB + (int)((v >> (e - HSUB_BITS)) & (HSUB - 1));
}

static double hist_value(int idx) {
  if (idx < HSUB) return idx;
  int e = idx / HSUB + HSUB_BITS - 1;
  uint64_t sub = (uint64_t)(idx % HSUB);
  double lo = (double)((HSUB + sub) << (e - HSUB_BITS));
  double w = (double)(1ull << (e - HSUB_BITS));
  return lo + w / 2;
}

static inline void hist_add(hist_t *h, uint64_t v) {
  h->n[hist_index(v)]++;
  h->count++;
  h->sum += v;
  if (v > h->max) h->max = v;
}

static void hist_merge(hist_t *a, const hist_t *b) {
  for (int i = 0; i < HBUCKETS; i++) a->n[i] += b->n[i];
  a->count += b->count;
  a->sum += b->sum;
  if (b->max > a->max) a->max = b->max;
}

static double hist_pct(const hist_t *h, double q) {
  if (h->count == 0) return 0;
  double want = q * (double)h->count;
  uint64_t rank = (uint64_t)want;
  if ((double)rank < want) rank++;
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < HBUCKETS; i++) {
    seen += h->n[i];
    if (seen >= rank) return MIN(hist_value(i), (double)h->max);
  }
  return (double)h->max;
}

/* ----------------------------------------------------------------- config */

enum { M_ECHO, M_BCAST, M_IDLE, M_CONNECT, M_SERVE_RAW, M_FANOUT, M_RPC, M_STORM, M_COUNT };
static const char *mode_names[] = {"echo", "broadcast", "idle", "connect", "serve-raw", "fanout", "rpc", "storm"};
#define SCRIPTED (cfg.mode == M_FANOUT || cfg.mode == M_RPC || cfg.mode == M_STORM)
/* modes with one publisher (connection 0) and subscribers */
#define PUBSUB (cfg.mode == M_FANOUT || cfg.mode == M_STORM)

typedef struct {
  int mode;
  const char *host;
  int port;
  const char *path;
  int conns;
  int window;
  size_t size;
  int binary;
  int json_payload;
  double duration, warmup, hold;
  int deflate, deflate_level;
  int raw;
  int procs;
  int max_pending;
  int src_addrs;
  size_t frag;
  const char *ready_file;
  const char *profile;
  const char *tokens; /* storm: a file of credentials, one a line ($T) */
  int recover;        /* storm: publications each subscriber must recover */
  int path_given;
  int verbose;
  uint64_t max_frame;
  double drain_timeout, close_timeout, connect_timeout;
  int marks;
} config_t;

static config_t cfg = {
    .mode = M_ECHO, .host = "127.0.0.1", .port = 9001, .path = "/", .conns = 100, .window = 1, .size = 32,
    .binary = 0, .json_payload = 0, .duration = 10, .warmup = 1, .hold = 10, .deflate = 0, .deflate_level = 1,
    .raw = 0, .procs = 0, .max_pending = 256, .src_addrs = -1, .frag = 0, .ready_file = NULL, .verbose = 0,
    .max_frame = 64ull << 20, .drain_timeout = 10, .close_timeout = 5, .connect_timeout = 10, .marks = 1, .recover = 10,
};

/* ------------------------------------------------------------------ stats */

enum { E_CONNECT, E_HANDSHAKE, E_PROTOCOL, E_MISMATCH, E_CLOSED, E_TIMEOUT, E_ORDER, E_CLOSE, E_RECOVERY, E_COUNT };
static const char *err_names[] = {"connect", "handshake", "protocol", "mismatch", "closed", "timeout", "order", "close", "recovery"};

typedef struct {
  uint64_t msgs, bytes, sent;   /* measured window */
  uint64_t bcasts;              /* broadcasts completed in the window */
  uint64_t acks;                /* fanout: publish acks in the window */
  uint64_t handshakes, cycles;  /* connect mode, in the window */
  uint64_t established, deflate_ok, deflate_refused, held;
  uint64_t storm_clients, recovered;  /* storm: subscribers that reconnected, and those that recovered everything */
  uint64_t err[E_COUNT];
  double cpu_s, window_s, setup_s;
  hist_t lat;
} stats_t;

static stats_t st;

/* ---------------------------------------------------------------- payload */

#define PAT_SPAN 65536u
static uint8_t *pattern;       /* PAT_SPAN + size bytes */
static size_t hdr_len;         /* min(16, size) */

static void make_pattern(size_t size, int binary, int json, int alnum) {
  size_t n = PAT_SPAN + size + 64;
  pattern = xmalloc(n);
  uint64_t s = 0x5eed5eed12345678ull; /* fixed: the same bytes every run */
  if (json) {
    static const char *words[] = {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
                                  "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"};
    static const char *keys[] = {"id", "user", "room", "text", "ts", "score", "active", "tags"};
    size_t o = 0;
    char rec[256];
    while (o < n) {
      s = mix64(s);
      int k = snprintf(rec, sizeof rec,
                       "{\"%s\":%u,\"%s\":\"%s-%u\",\"%s\":\"%s\",\"%s\":\"%s %s %s\",\"%s\":%u.%02u,\"%s\":%s},",
                       keys[0], (unsigned)(s % 100000), keys[1], words[s >> 8 & 15], (unsigned)(s >> 12 & 1023),
                       keys[2], words[s >> 22 & 15], keys[3], words[s >> 26 & 15], words[s >> 30 & 15],
                       words[s >> 34 & 15], keys[5], (unsigned)(s >> 38 & 255), (unsigned)(s >> 46 & 63), keys[6],
                       (s >> 52 & 1) ? "true" : "false");
      size_t kk = MIN((size_t)k, n - o);
      memcpy(pattern + o, rec, kk);
      o += kk;
    }
  } else {
    for (size_t i = 0; i < n; i++) {
      if ((i & 7) == 0) s = mix64(s);
      uint8_t b = (uint8_t)(s >> ((i & 7) * 8));
      pattern[i] = binary ? b : (uint8_t)(0x20 + b % 95); /* printable ASCII: valid UTF-8 */
    }
  }
  if (alnum) { /* letters and digits: a JSON string as is, never escaped */
    static const char an[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    for (size_t i = 0; i < n; i++) pattern[i] = (uint8_t)an[pattern[i] % 62];
  }
}

static inline uint64_t pat_offset(uint32_t id, uint64_t seq) { return mix64(((uint64_t)id << 40) ^ seq) % PAT_SPAN; }

static inline void msg_header(uint8_t hdr[16], uint32_t id, uint64_t seq) {
  static const char hex[] = "0123456789abcdef";
  uint32_t s32 = (uint32_t)seq;
  for (int i = 0; i < 8; i++) hdr[i] = (uint8_t)hex[(id >> (28 - 4 * i)) & 15];
  for (int i = 0; i < 8; i++) hdr[8 + i] = (uint8_t)hex[(s32 >> (28 - 4 * i)) & 15];
}

/* XOR-mask while copying; pos = position of dst[0] within the frame payload */
static void mask_copy(uint8_t *dst, const uint8_t *src, size_t len, uint32_t key, size_t pos) {
  uint8_t k[4];
  memcpy(k, &key, 4);
  size_t i = 0;
  while (i < len && ((pos + i) & 3)) { dst[i] = src[i] ^ k[(pos + i) & 3]; i++; }
  uint64_t k64;
  memcpy(&k64, k, 4);
  memcpy((uint8_t *)&k64 + 4, k, 4);
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, src + i, 8);
    v ^= k64;
    memcpy(dst + i, &v, 8);
  }
  for (; i < len; i++) dst[i] = src[i] ^ k[(pos + i) & 3];
}

/* ---------------------------------------------------------------- profile */
/* A protocol profile (--profile FILE) describes, as text templates, how the
 * fanout, rpc and storm modes speak a real-time protocol over WebSocket text
 * messages. One directive per line ('#' starts a comment line):
 *
 *   path PATH               request path (unless --path is given)
 *   subprotocol NAME        offered in Sec-WebSocket-Protocol; the server must pick it
 *   ping GLOB               a server message that must be answered with ...
 *   pong TEXT               ... this message
 *   init send TEXT          script run by every connection after the handshake:
 *   init expect GLOB        send a message / wait for one (it must match)
 *   subscribe send TEXT     fanout, storm: script run next by every subscriber (not
 *   subscribe expect GLOB   by the publisher); a connection is ready at its end
 *   publish TEXT            fanout, storm: what the publisher sends
 *   publish-ack GLOB        fanout: the server's answer to each publish (optional;
 *                           storm: required)
 *   delivery GLOB           fanout, storm: what a subscriber receives for each publish
 *   request TEXT            rpc: a request
 *   reply GLOB              rpc: its reply
 *   resume send TEXT        storm: the script a subscriber runs, in place of init
 *   resume expect GLOB      and subscribe, when it reconnects
 *   recover-item GLOB       storm: one recovered publication: a message of its own
 *                           (during or after the resume script), or, where a
 *                           resume step has $R, an element of that step's list
 *   ignore GLOB             server messages to accept and drop (any number)
 *
 * Templates: $P = the payload (--size bytes of ASCII letters, digits and spaces,
 * so it sits in a JSON string as is), $I = the message's id (10 + its sequence
 * number), $$ = '$'. In a GLOB, * matches any run of bytes, $* is a literal
 * '*', $P matches exactly --size bytes (checked afterwards) and $I a decimal
 * number (checked against the ids in flight); a GLOB must match the whole
 * message. Storm only: $T = the connection's credential (--tokens, in a TEXT);
 * $1..$4 = the connection's variables: in a GLOB, a variable not yet set
 * matches the shortest run of bytes that lets the rest match and is set to it
 * (at most 63 bytes), a variable set matches exactly its value; in a TEXT it is
 * replaced by its value. Variables outlive the connection, so what the first
 * connection learnt (a session id, a stream position) is what the reconnection
 * presents. $R (in a resume expect) = the K (--recover) recovered publications,
 * each matching recover-item, separated by ','. */

enum { T_LIT, T_STAR, T_P, T_I, T_T, T_V, T_R };

typedef struct {
  uint8_t kind;
  uint8_t idx;  /* T_P: which payload of the message; T_V: which variable */
  uint32_t len; /* T_LIT */
  char *s;
} tok_t;

typedef struct {
  tok_t *t;
  int n;
  int np, ni, nt, nv, nr;
  size_t lit; /* literal bytes */
  char *src;
} tmpl_t;

typedef struct {
  int send;
  tmpl_t t;
} step_t;

#define ID_BASE 10
#define NVARS 4
#define VAR_MAX 63
#define MAX_RECOVER 64

static struct {
  char *path, *subprotocol;
  int has_ping, has_pong, has_publish, has_ack, has_delivery, has_request, has_reply, has_item;
  tmpl_t ping, pong, publish, ack, delivery, request, reply, item;
  step_t *init, *sub, *res;
  int ninit, nsub, nres;
  int res_list; /* a resume step has $R: the recovered publications come in that step's message */
  tmpl_t *ignore;
  int nignore;
  size_t send_max; /* the longest message a send template makes, $P included */
} prof;

/* storm: the credentials of --tokens, one a line */
static char **tokens;
static size_t *token_len;
static int ntokens;
static size_t token_max;

static void load_tokens(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) die("cannot read tokens %s: %s", file, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  while (getline(&line, &cap, f) >= 0) {
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
    if (n == 0) continue;
    tokens = xrealloc(tokens, sizeof(char *) * (size_t)(ntokens + 1));
    token_len = xrealloc(token_len, sizeof(size_t) * (size_t)(ntokens + 1));
    tokens[ntokens] = strdup(line);
    token_len[ntokens++] = n;
    token_max = MAX(token_max, n);
  }
  free(line);
  fclose(f);
  if (ntokens == 0) die("%s: no tokens", file);
}

static void tmpl_compile(tmpl_t *t, const char *src, int glob, const char *where) {
  memset(t, 0, sizeof *t);
  t->src = strdup(src);
  size_t n = strlen(src);
  t->t = xmalloc(sizeof(tok_t) * (n + 1));
  memset(t->t, 0, sizeof(tok_t) * (n + 1));
  char *lit = xmalloc(n + 1);
  size_t ll = 0;
  int seen_var[NVARS + 1] = {0};
#define FLUSH_LIT()                                                            \
  do {                                                                         \
    if (ll) {                                                                  \
      tok_t *k = &t->t[t->n++];                                                \
      k->kind = T_LIT; k->len = (uint32_t)ll; k->s = xmalloc(ll);              \
      memcpy(k->s, lit, ll); t->lit += ll; ll = 0;                             \
    }                                                                          \
  } while (0)
  for (size_t i = 0; i < n; i++) {
    char ch = src[i];
    if (ch == '$') {
      char nx = i + 1 < n ? src[i + 1] : 0;
      i++;
      if (nx == '$' || nx == '*') { lit[ll++] = nx; continue; }
      FLUSH_LIT();
      tok_t *k = &t->t[t->n++];
      if (nx == 'P') { k->kind = T_P; t->np++; }
      else if (nx == 'I') { k->kind = T_I; t->ni++; }
      else if (nx == 'T') { k->kind = T_T; t->nt++; }
      else if (nx == 'R') { k->kind = T_R; t->nr++; }
      else if (nx >= '1' && nx <= '0' + NVARS) {
        k->kind = T_V;
        k->idx = (uint8_t)(nx - '1');
        t->nv++;
        if (glob && seen_var[k->idx]++) die("%s: a variable may appear once in a GLOB: '%s'", where, src);
      } else die("%s: '$' must be followed by P, I, T, R, 1..%d, $ or * in '%s'", where, NVARS, src);
      continue;
    }
    if (ch == '*' && glob) {
      FLUSH_LIT();
      if (t->n == 0 || t->t[t->n - 1].kind != T_STAR) t->t[t->n++].kind = T_STAR;
      continue;
    }
    lit[ll++] = ch;
  }
  FLUSH_LIT();
#undef FLUSH_LIT
  free(lit);
  if (t->np > 1 || t->ni > 1 || t->nr > 1 || t->nt > 1) die("%s: $P, $I, $T and $R may appear once each in '%s'", where, src);
  if (glob && t->nt) die("%s: $T is for what the client sends: '%s'", where, src);
  if (!glob && t->nr) die("%s: $R is for a resume expect: '%s'", where, src);
  if (t->nt && !cfg.tokens) die("%s: $T needs --tokens FILE: '%s'", where, src);
  if ((t->nt || t->nv || t->nr) && cfg.mode != M_STORM) die("%s: $T, $R and $1..$%d are for the storm mode: '%s'", where, NVARS, src);
}

/* $R of a resume expect: the K recovered items, each a copy of recover-item's tokens (its $P the i-th), joined by ',' */
static void tmpl_expand_list(tmpl_t *t, const tmpl_t *item, int k) {
  int cap = t->n + k * (item->n + 1);
  tok_t *out = xmalloc(sizeof(tok_t) * (size_t)cap);
  int o = 0;
  for (int i = 0; i < t->n; i++) {
    if (t->t[i].kind != T_R) { out[o++] = t->t[i]; continue; }
    for (int r = 0; r < k; r++) {
      if (r > 0) out[o++] = (tok_t){.kind = T_LIT, .len = 1, .s = ","};
      for (int j = 0; j < item->n; j++) {
        out[o] = item->t[j];
        if (out[o].kind == T_P) out[o].idx = (uint8_t)r;
        o++;
      }
    }
  }
  free(t->t);
  t->t = out;
  t->n = o;
  t->np = k;
  t->nr = 0;
}

/* what a glob captured: its payloads ($P, several with $R), id ($I) and the variables it set */
typedef struct {
  const uint8_t *p[MAX_RECOVER];
  uint64_t i;
  const uint8_t *vs[NVARS];
  size_t vl[NVARS];
  const uint8_t *vset;                 /* NULL, or which variables are set ... */
  const char (*vval)[VAR_MAX + 1];     /* ... and their values */
  const uint8_t *vlen;
} gcap_t;

static int glob_at(const tmpl_t *g, int k, const uint8_t *s, size_t n, gcap_t *cap);

/* a variable not yet set: the shortest run of bytes that lets the rest match */
static int glob_var_capture(const tmpl_t *g, int k, const uint8_t *s, size_t n, gcap_t *cap) {
  int v = g->t[k].idx;
  size_t lim = MIN(n, (size_t)VAR_MAX);
  size_t j = 0;
  const tok_t *nl = k + 1 < g->n && g->t[k + 1].kind == T_LIT ? &g->t[k + 1] : NULL;
  while (j <= lim) {
    if (nl) { /* jump to the next occurrence of the next literal */
      const uint8_t *hit = memmem(s + j, n - j, nl->s, nl->len);
      if (!hit || (size_t)(hit - s) > lim) return 0;
      j = (size_t)(hit - s);
    }
    cap->vs[v] = s;
    cap->vl[v] = j;
    if (glob_at(g, k + 1, s + j, n - j, cap)) return 1;
    j++;
  }
  return 0;
}

/* Does the message match g from token k on? Captures $P (positions), $I and variables. */
static int glob_at(const tmpl_t *g, int k, const uint8_t *s, size_t n, gcap_t *cap) {
  for (; k < g->n; k++) {
    const tok_t *t = &g->t[k];
    switch (t->kind) {
    case T_LIT:
      if (n < t->len || memcmp(s, t->s, t->len) != 0) return 0;
      s += t->len;
      n -= t->len;
      break;
    case T_P:
      if (n < cfg.size) return 0;
      cap->p[t->idx] = s;
      s += cfg.size;
      n -= cfg.size;
      break;
    case T_I: {
      size_t i = 0;
      uint64_t v = 0;
      while (i < n && i < 19 && s[i] >= '0' && s[i] <= '9') v = v * 10 + (uint64_t)(s[i++] - '0');
      if (i == 0) return 0;
      cap->i = v;
      s += i;
      n -= i;
      break;
    }
    case T_V:
      if (cap->vset && cap->vset[t->idx]) {
        size_t l = cap->vlen[t->idx];
        if (n < l || memcmp(s, cap->vval[t->idx], l) != 0) return 0;
        s += l;
        n -= l;
        break;
      }
      return glob_var_capture(g, k, s, n, cap);
    default: /* T_STAR */
      if (k + 1 == g->n) return 1;
      if (g->t[k + 1].kind == T_LIT) { /* jump between occurrences of the next literal */
        const tok_t *nl = &g->t[k + 1];
        size_t j = 0;
        for (;;) {
          const uint8_t *hit = memmem(s + j, n - j, nl->s, nl->len);
          if (!hit) return 0;
          j = (size_t)(hit - s);
          if (glob_at(g, k + 1, s + j, n - j, cap)) return 1;
          j++;
        }
      }
      for (size_t j = 0; j <= n; j++)
        if (glob_at(g, k + 1, s + j, n - j, cap)) return 1;
      return 0;
    }
  }
  return n == 0;
}

/* no variables set, none captured yet (the payload slots need no clearing: a match fills them) */
static inline void cap_clear(gcap_t *cap) {
  for (int v = 0; v < NVARS; v++) cap->vs[v] = NULL;
  cap->vset = NULL;
  cap->i = 0;
}

static int glob_match(const tmpl_t *g, const uint8_t *s, size_t n, gcap_t *cap) {
  gcap_t local;
  if (!cap) { cap_clear(&local); cap = &local; }
  return glob_at(g, 0, s, n, cap);
}

/* Write a send template into dst (room: prof.send_max); its length, or (size_t)-1
 * when it names a variable the connection has not set. `vars` may be NULL. */
static size_t tmpl_render(const tmpl_t *t, uint8_t *dst, const uint8_t *payload, uint64_t id, uint32_t conn_id,
                          const uint8_t *vset, const char (*vval)[VAR_MAX + 1], const uint8_t *vlen) {
  size_t o = 0;
  for (int k = 0; k < t->n; k++) {
    const tok_t *x = &t->t[k];
    if (x->kind == T_LIT) { memcpy(dst + o, x->s, x->len); o += x->len; }
    else if (x->kind == T_P) { memcpy(dst + o, payload, cfg.size); o += cfg.size; }
    else if (x->kind == T_T) {
      size_t w = conn_id % (uint32_t)ntokens;
      memcpy(dst + o, tokens[w], token_len[w]);
      o += token_len[w];
    } else if (x->kind == T_V) {
      if (!vset || !vset[x->idx]) return (size_t)-1;
      memcpy(dst + o, vval[x->idx], vlen[x->idx]);
      o += vlen[x->idx];
    } else o += (size_t)sprintf((char *)dst + o, "%" PRIu64, id);
  }
  return o;
}

static char *trim_line(char *s) {
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r')) s[--n] = 0;
  return s;
}

static void load_profile(const char *file) {
  FILE *f = fopen(file, "r");
  if (!f) die("cannot read profile %s: %s", file, strerror(errno));
  char *line = NULL;
  size_t cap = 0;
  int lineno = 0;
  char where[512];
  while (getline(&line, &cap, f) >= 0) {
    lineno++;
    char *l = trim_line(line);
    while (*l == ' ' || *l == '\t') l++;
    if (*l == 0 || *l == '#') continue;
    snprintf(where, sizeof where, "%s:%d", file, lineno);
    char *sp = strchr(l, ' ');
    if (!sp) die("%s: a directive needs a value", where);
    *sp = 0;
    char *v = sp + 1;
    if (strcmp(l, "init") == 0 || strcmp(l, "subscribe") == 0 || strcmp(l, "resume") == 0) {
      char *sp2 = strchr(v, ' ');
      if (!sp2) die("%s: '%s send TEXT' or '%s expect GLOB'", where, l, l);
      *sp2 = 0;
      int send = strcmp(v, "send") == 0;
      if (!send && strcmp(v, "expect") != 0) die("%s: '%s send TEXT' or '%s expect GLOB'", where, l, l);
      step_t **arr = l[0] == 'i' ? &prof.init : l[0] == 's' ? &prof.sub : &prof.res;
      int *cnt = l[0] == 'i' ? &prof.ninit : l[0] == 's' ? &prof.nsub : &prof.nres;
      *arr = xrealloc(*arr, sizeof(step_t) * (size_t)(*cnt + 1));
      step_t *st1 = &(*arr)[(*cnt)++];
      st1->send = send;
      tmpl_compile(&st1->t, sp2 + 1, !send, where);
      if (st1->t.np || st1->t.ni) die("%s: no $P or $I in scripts", where);
      if (st1->t.nr && l[0] != 'r') die("%s: $R is for a resume expect", where);
      continue;
    }
    if (strcmp(l, "path") == 0) { prof.path = strdup(v); continue; }
    if (strcmp(l, "subprotocol") == 0) { prof.subprotocol = strdup(v); continue; }
    if (strcmp(l, "ignore") == 0) {
      prof.ignore = xrealloc(prof.ignore, sizeof(tmpl_t) * (size_t)(prof.nignore + 1));
      tmpl_compile(&prof.ignore[prof.nignore++], v, 1, where);
      continue;
    }
    static const struct { const char *name; int glob; } one[] = {
        {"ping", 1}, {"pong", 0}, {"publish", 0}, {"publish-ack", 1}, {"delivery", 1}, {"request", 0}, {"reply", 1}, {"recover-item", 1}};
    tmpl_t *dst[] = {&prof.ping, &prof.pong, &prof.publish, &prof.ack, &prof.delivery, &prof.request, &prof.reply, &prof.item};
    int *has[] = {&prof.has_ping, &prof.has_pong, &prof.has_publish, &prof.has_ack, &prof.has_delivery, &prof.has_request, &prof.has_reply, &prof.has_item};
    int found = 0;
    for (int i = 0; i < 8; i++) {
      if (strcmp(l, one[i].name) != 0) continue;
      if (*has[i]) die("%s: '%s' given twice", where, l);
      tmpl_compile(dst[i], v, one[i].glob, where);
      *has[i] = 1;
      found = 1;
    }
    if (!found) die("%s: unknown directive '%s'", where, l);
  }
  free(line);
  fclose(f);
  snprintf(where, sizeof where, "%s", file);
  if (prof.has_ping != prof.has_pong) die("%s: 'ping' and 'pong' go together", where);
  if (prof.ninit + prof.nsub > 200 || prof.nres > 200) die("%s: scripts of at most 200 steps", where);
  if (prof.has_pong && (prof.pong.np || prof.pong.ni || prof.pong.nv)) die("%s: no $P, $I or variables in 'pong'", where);
  if (prof.has_ping && (prof.ping.np || prof.ping.ni || prof.ping.nv)) die("%s: no $P, $I or variables in 'ping'", where);
  if (PUBSUB) {
    if (!prof.has_publish || !prof.has_delivery) die("%s: %s needs 'publish' and 'delivery'", where, mode_names[cfg.mode]);
    if (prof.publish.np != 1 || prof.delivery.np != 1) die("%s: 'publish' and 'delivery' need $P", where);
    if (prof.has_ack && prof.ack.np) die("%s: no $P in 'publish-ack'", where);
  }
  if (cfg.mode == M_RPC) {
    if (!prof.has_request || !prof.has_reply) die("%s: rpc needs 'request' and 'reply'", where);
    if (prof.request.np != 1 || prof.reply.np != 1) die("%s: 'request' and 'reply' need $P", where);
  }
  if (cfg.mode == M_STORM) {
    if (!prof.has_ack) die("%s: storm needs 'publish-ack' (the missed publications must be in before the reconnection)", where);
    if (prof.nres == 0 || !prof.has_item) die("%s: storm needs a 'resume' script and 'recover-item'", where);
    if (prof.item.np != 1 || prof.item.ni || prof.item.nr) die("%s: 'recover-item' needs $P (and no $I or $R)", where);
    for (int i = 0; i < prof.nres; i++) {
      if (!prof.res[i].t.nr) continue;
      if (prof.res_list) die("%s: $R in one resume step only", where);
      prof.res_list = 1;
      tmpl_expand_list(&prof.res[i].t, &prof.item, cfg.recover);
    }
  }
  /* the longest message a send template makes */
  size_t extra = token_max + NVARS * VAR_MAX;
  tmpl_t *sends[] = {&prof.pong, &prof.publish, &prof.request};
  for (int i = 0; i < 3; i++) prof.send_max = MAX(prof.send_max, sends[i]->lit + cfg.size + 24 + extra);
  for (int i = 0; i < prof.ninit; i++) prof.send_max = MAX(prof.send_max, prof.init[i].t.lit + extra);
  for (int i = 0; i < prof.nsub; i++) prof.send_max = MAX(prof.send_max, prof.sub[i].t.lit + extra);
  for (int i = 0; i < prof.nres; i++) prof.send_max = MAX(prof.send_max, prof.res[i].t.lit + extra);
  if (prof.path && !cfg.path_given) cfg.path = prof.path;
}

/* The payload: "<send time, 16 hex digits> <sequence number, 12 hex digits> "
 * then letters and digits from the pattern at an offset derived from (key, seq). */
#define PAY_HDR 30

static void pay_build(uint8_t *dst, uint64_t ts, uint64_t seq, uint32_t key) {
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < 16; i++) dst[i] = (uint8_t)hex[(ts >> (60 - 4 * i)) & 15];
  dst[16] = ' ';
  for (int i = 0; i < 12; i++) dst[17 + i] = (uint8_t)hex[(seq >> (44 - 4 * i)) & 15];
  dst[29] = ' ';
  memcpy(dst + PAY_HDR, pattern + pat_offset(key, seq), cfg.size - PAY_HDR);
}

static int hexval(uint8_t ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* Check a payload (cfg.size bytes) made with `key`; 0 and ts/seq when it is intact. */
static int pay_check(const uint8_t *p, uint32_t key, uint64_t *ts, uint64_t *seq) {
  uint64_t t = 0, q = 0;
  for (int i = 0; i < 16; i++) {
    int v = hexval(p[i]);
    if (v < 0) return -1;
    t = t << 4 | (uint64_t)v;
  }
  if (p[16] != ' ' || p[29] != ' ') return -1;
  for (int i = 0; i < 12; i++) {
    int v = hexval(p[17 + i]);
    if (v < 0) return -1;
    q = q << 4 | (uint64_t)v;
  }
  if (memcmp(p + PAY_HDR, pattern + pat_offset(key, q), cfg.size - PAY_HDR) != 0) return -1;
  *ts = t;
  *seq = q;
  return 0;
}

/* -------------------------------------------------------------- connection */

enum { ST_IDLE, ST_CONNECTING, ST_HS, ST_OPEN, ST_CLOSING, ST_WAIT_EOF, ST_DEAD };

typedef struct conn {
  int fd;
  uint32_t id;
  uint8_t state;
  uint8_t in_msg, msg_op, msg_z;
  uint8_t deflate, client_no_ctx, counted_open, z_ended;
  int8_t client_wbits;
  uint8_t *rbuf;
  size_t rlen, rcap, need;
  uint8_t *wbuf;
  size_t woff, wlen, wcap;
  char accept[32];
  uint64_t t_start, deadline, retry_at;
  /* message being received */
  uint64_t msg_off;
  uint8_t exp_hdr[16];
  uint64_t exp_base;
  uint8_t *mbuf; /* broadcast: accumulated message */
  size_t mlen, mcap;
  /* echo */
  uint64_t next_send, next_recv;
  uint64_t *sent_ts;
  /* broadcast, fanout */
  uint64_t bc_next;
  uint8_t receiver; /* counted in bc_live */
  /* profile script: next step, and whether it is still running */
  uint8_t step, scripting;
  uint64_t acked; /* fanout publisher: publish acks received */
  /* storm: which script (1: init + subscribe, 2: resume), the variables (kept
   * across reconnections), recovered publications checked */
  uint8_t round, storm_ok, recovered, failed;
  uint16_t rec;
  uint8_t vset[NVARS], vlen[NVARS];
  char var[NVARS][VAR_MAX + 1];
  /* deflate */
  z_stream *zd, *zi;
} conn_t;

static conn_t *conns;
static int nconns;
static uint32_t id_base;
static int epfd;
static uint8_t *gbuf;
#define GBUF_SZ (256 * 1024)
static uint8_t *zout; /* inflate output chunk */
#define ZOUT_SZ (64 * 1024)
static uint8_t *scratch; /* plain message for deflate */
static uint8_t *zsend;   /* compressed message */
static size_t zsend_cap;

enum { PH_SETUP, PH_WAIT_GO, PH_WARMUP, PH_MEASURE, PH_DRAIN, PH_DONE };
static int phase = PH_SETUP;
static uint64_t t_go, t_ms, t_me, t_hard_end;
static int opened, pending, active, open_count;
static struct sockaddr_in srv_addr;

/* broadcast state (of this process; see bc_shm_t for several) */
static uint64_t bc_sent, bc_done;
static uint32_t *bc_cnt;
static int bc_live;

/* broadcast and fanout over several processes (--procs): the window's counts,
 * the number of receivers and the sender's progress live in shared memory; the
 * sender's process (the first) is woken through an eventfd when another one
 * completes a broadcast or loses a receiver. One process: none of this. */
typedef struct {
  uint64_t sent, done;
  int live;
  uint32_t cnt[];
} bc_shm_t;
static bc_shm_t *shm;
static int shm_wake = -1;
static int sender_here = 1; /* this process holds the sender (connection 0) */

static inline void live_add(int d) {
  if (shm) __atomic_add_fetch(&shm->live, d, __ATOMIC_ACQ_REL);
  else bc_live += d;
}
static inline int live_get(void) { return shm ? __atomic_load_n(&shm->live, __ATOMIC_ACQUIRE) : bc_live; }
static inline uint64_t sent_get(void) { return shm && !sender_here ? __atomic_load_n(&shm->sent, __ATOMIC_ACQUIRE) : bc_sent; }
static inline uint64_t done_get(void) { return shm && !sender_here ? __atomic_load_n(&shm->done, __ATOMIC_ACQUIRE) : bc_done; }
static void wake_sender(void) {
  uint64_t one = 1;
  if (write(shm_wake, &one, sizeof one) < 0 && errno != EAGAIN) die("eventfd write: %s", strerror(errno));
}

static void conn_start(conn_t *c);
static int write_full(int fd, const void *buf, size_t n);
static void conn_kill(conn_t *c, int err);
static void begin_close(conn_t *c, uint16_t code);
static void echo_send(conn_t *c);
static void bc_pump(void);
static void bc_advance(void);
static void open_more(void);
static void conn_opened(conn_t *c);

static void wreserve(conn_t *c, size_t n) {
  if (c->woff == c->wlen) c->woff = c->wlen = 0;
  if (c->wcap - c->wlen >= n) return;
  if (c->woff > 0) {
    memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
    c->wlen -= c->woff;
    c->woff = 0;
    if (c->wcap - c->wlen >= n) return;
  }
  size_t want = MAX(c->wcap * 2, c->wlen + n);
  want = MAX(want, 4096);
  c->wbuf = xrealloc(c->wbuf, want);
  c->wcap = want;
}

static void rreserve(conn_t *c, size_t total) {
  if (c->rcap >= total) return;
  size_t want = MAX(c->rcap * 2, total);
  want = MAX(want, 16384);
  c->rbuf = xrealloc(c->rbuf, want);
  c->rcap = want;
}

static size_t put_frame_header(uint8_t *h, int fin, int rsv1, int op, uint64_t len, uint32_t key) {
  size_t n;
  h[0] = (uint8_t)((fin ? 0x80 : 0) | (rsv1 ? 0x40 : 0) | op);
  if (len < 126) { h[1] = (uint8_t)(0x80 | len); n = 2; }
  else if (len < 65536) { h[1] = 0x80 | 126; h[2] = (uint8_t)(len >> 8); h[3] = (uint8_t)len; n = 4; }
  else {
    h[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) h[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    n = 10;
  }
  memcpy(h + n, &key, 4);
  return n + 4;
}

/* Frame `len` contiguous bytes as one message (fragmented when --frag). */
static void send_bytes_as_message(conn_t *c, int op, int rsv1, const uint8_t *data, size_t len) {
  size_t frag = (cfg.frag && op < 8) ? cfg.frag : (len ? len : 1);
  size_t off = 0;
  int first = 1;
  do {
    size_t k = MIN(frag, len - off);
    int fin = off + k == len;
    uint32_t key = (uint32_t)rng64();
    wreserve(c, k + 14);
    uint8_t *h = c->wbuf + c->wlen;
    size_t hl = put_frame_header(h, fin, first && rsv1, first ? op : 0, k, key);
    mask_copy(h + hl, data + off, k, key, 0);
    c->wlen += hl + k;
    off += k;
    first = 0;
  } while (off < len);
}

static void flush(conn_t *c) {
  while (c->woff < c->wlen) {
    ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);
    if (n > 0) { c->woff += (size_t)n; continue; }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    conn_kill(c, phase >= PH_DRAIN ? -1 : E_CLOSED);
    return;
  }
  c->woff = c->wlen = 0;
}

/* ---------------------------------------------------------------- deflate */

static int deflate_message(conn_t *c, const uint8_t *in, size_t len, size_t *outlen) {
  if (!c->zd) {
    c->zd = xmalloc(sizeof *c->zd);
    memset(c->zd, 0, sizeof *c->zd);
    int wb = c->client_wbits > 0 ? c->client_wbits : 15;
    if (wb < 9) wb = 9; /* zlib cannot produce an 8-bit window; see README */
    if (deflateInit2(c->zd, cfg.deflate_level, Z_DEFLATED, -wb, 8, Z_DEFAULT_STRATEGY) != Z_OK) die("deflateInit2");
  }
  size_t bound = deflateBound(c->zd, len) + 16;
  if (zsend_cap < bound) { zsend = xrealloc(zsend, bound); zsend_cap = bound; }
  z_stream *z = c->zd;
  z->next_in = (Bytef *)in;
  z->avail_in = (uInt)len;
  size_t out = 0;
  for (;;) {
    z->next_out = zsend + out;
    z->avail_out = (uInt)(zsend_cap - out);
    int r = deflate(z, Z_SYNC_FLUSH);
    if (r != Z_OK && r != Z_BUF_ERROR) return -1;
    out = zsend_cap - z->avail_out;
    if (z->avail_out != 0) break;
    zsend_cap *= 2;
    zsend = xrealloc(zsend, zsend_cap);
  }
  if (out < 4 || memcmp(zsend + out - 4, "\x00\x00\xff\xff", 4) != 0) return -1;
  *outlen = out - 4;
  if (c->client_no_ctx) deflateReset(z);
  return 0;
}

/* ---------------------------------------------------------------- handshake */

static void make_request(conn_t *c) {
  uint8_t nonce[16];
  for (int i = 0; i < 16; i += 8) { uint64_t r = rng64(); memcpy(nonce + i, &r, 8); }
  char key[32];
  b64_encode(nonce, 16, key);
  sha1_ctx s;
  sha1_init(&s);
  sha1_update(&s, key, strlen(key));
  sha1_update(&s, "258EAFA5-E914-47DA-95CA-C5AB0DC85B11", 36);
  uint8_t dig[20];
  sha1_final(&s, dig);
  b64_encode(dig, 20, c->accept);
  char req[2048];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s%s\r\n",
                   cfg.path, cfg.host, cfg.port, key,
                   cfg.deflate ? "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" : "",
                   prof.subprotocol ? "Sec-WebSocket-Protocol: " : "", prof.subprotocol ? prof.subprotocol : "",
                   prof.subprotocol ? "\r\n" : "");
  if (n < 0 || (size_t)n >= sizeof req) die("request line too long (--path?)");
  wreserve(c, (size_t)n);
  memcpy(c->wbuf + c->wlen, req, (size_t)n);
  c->wlen += (size_t)n;
}

static int has_token(const char *v, const char *tok) {
  size_t tl = strlen(tok);
  const char *p = v;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == ',') p++;
    const char *s = p;
    while (*p && *p != ',') p++;
    const char *e = p;
    while (e > s && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if ((size_t)(e - s) == tl && strncasecmp(s, tok, tl) == 0) return 1;
  }
  return 0;
}

static void trim(char **s) {
  while (**s == ' ' || **s == '\t') (*s)++;
  char *e = *s + strlen(*s);
  while (e > *s && (e[-1] == ' ' || e[-1] == '\t')) *--e = 0;
}

/* permessage-deflate response parameters */
static int parse_extensions(conn_t *c, char *v) {
  if (strchr(v, ',')) return -1; /* we offered one extension */
  char *save = NULL;
  char *part = strtok_r(v, ";", &save);
  if (!part) return -1;
  trim(&part);
  if (strcasecmp(part, "permessage-deflate") != 0) return -1;
  while ((part = strtok_r(NULL, ";", &save))) {
    trim(&part);
    char *eq = strchr(part, '=');
    char *val = NULL;
    if (eq) { *eq = 0; val = eq + 1; trim(&val); trim(&part); if (*val == '"') { val++; char *q = strchr(val, '"'); if (q) *q = 0; } }
    if (strcasecmp(part, "server_no_context_takeover") == 0 && !val) continue;
    if (strcasecmp(part, "client_no_context_takeover") == 0 && !val) { c->client_no_ctx = 1; continue; }
    if (strcasecmp(part, "server_max_window_bits") == 0 && val) {
      int b = atoi(val);
      if (b < 8 || b > 15) return -1;
      continue;
    }
    if (strcasecmp(part, "client_max_window_bits") == 0) {
      if (!val) continue;
      int b = atoi(val);
      if (b < 8 || b > 15) return -1;
      c->client_wbits = (int8_t)b;
      continue;
    }
    return -1;
  }
  c->deflate = 1;
  return 0;
}

/* returns bytes consumed (0 = need more), or -1 on failure (conn killed) */
static long handle_handshake(conn_t *c, uint8_t *buf, size_t len) {
  uint8_t *end = memmem(buf, len, "\r\n\r\n", 4);
  if (!end) {
    if (len > 16384) { conn_kill(c, E_HANDSHAKE); return -1; }
    return 0;
  }
  size_t hlen = (size_t)(end - buf) + 4;
  char *head = xmalloc(hlen + 1);
  memcpy(head, buf, hlen);
  head[hlen] = 0;
  int ok = 1, up = 0, conn_hdr = 0, acc = 0, proto = 0;
  const char *why = "";
  char *save = NULL;
  char *line = strtok_r(head, "\r\n", &save);
  if (!line || strncmp(line, "HTTP/1.1 101", 12) != 0 || (line[12] != ' ' && line[12] != 0)) { ok = 0; why = "status"; }
  while (ok && (line = strtok_r(NULL, "\r\n", &save))) {
    char *colon = strchr(line, ':');
    if (!colon) { ok = 0; why = "header line"; break; }
    *colon = 0;
    char *name = line, *val = colon + 1;
    trim(&name);
    trim(&val);
    if (strcasecmp(name, "upgrade") == 0) up = has_token(val, "websocket");
    else if (strcasecmp(name, "connection") == 0) conn_hdr = has_token(val, "upgrade");
    else if (strcasecmp(name, "sec-websocket-accept") == 0) acc = strcmp(val, c->accept) == 0;
    else if (strcasecmp(name, "sec-websocket-extensions") == 0) {
      if (!cfg.deflate || c->deflate || parse_extensions(c, val) != 0) { ok = 0; why = "extensions"; }
    } else if (strcasecmp(name, "sec-websocket-protocol") == 0) {
      if (!prof.subprotocol || proto || strcmp(val, prof.subprotocol) != 0) { ok = 0; why = "subprotocol"; }
      proto = 1;
    }
  }
  if (ok && prof.subprotocol && !proto) { ok = 0; why = "subprotocol (none selected)"; }
  if (ok && !up) { ok = 0; why = "Upgrade"; }
  if (ok && !conn_hdr) { ok = 0; why = "Connection"; }
  if (ok && !acc) { ok = 0; why = "Sec-WebSocket-Accept"; }
  if (!ok) {
    if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: bad handshake (%s): %.80s\n", c->id, why, (char *)buf);
    free(head);
    conn_kill(c, E_HANDSHAKE);
    return -1;
  }
  free(head);
  return (long)hlen;
}

/* ----------------------------------------------------------- message check */

static inline void expect_begin(conn_t *c, uint64_t seq) {
  msg_header(c->exp_hdr, c->id, seq);
  c->exp_base = pat_offset(c->id, seq);
  c->msg_off = 0;
}

static inline int expect_chunk(conn_t *c, const uint8_t *p, size_t n) {
  uint64_t off = c->msg_off;
  if (off + n > cfg.size) return -1;
  if (off < hdr_len) {
    size_t k = MIN(n, hdr_len - off);
    if (memcmp(p, c->exp_hdr + off, k) != 0) return -1;
    p += k; n -= k; off += k;
  }
  if (n && memcmp(p, pattern + c->exp_base + (off - hdr_len), n) != 0) return -1;
  c->msg_off = off + n;
  return 0;
}

static void build_plain(uint8_t *dst, uint32_t id, uint64_t seq) {
  uint8_t hdr[16];
  msg_header(hdr, id, seq);
  memcpy(dst, hdr, hdr_len);
  memcpy(dst + hdr_len, pattern + pat_offset(id, seq), cfg.size - hdr_len);
}

static void echo_send(conn_t *c) {
  uint64_t seq = c->next_send++;
  c->sent_ts[seq % (uint64_t)cfg.window] = now_ns();
  if (phase == PH_MEASURE) st.sent++;
  int op = cfg.binary ? 2 : 1;
  if (cfg.raw) {
    wreserve(c, cfg.size);
    build_plain(c->wbuf + c->wlen, c->id, seq);
    c->wlen += cfg.size;
    return;
  }
  if (c->deflate) {
    build_plain(scratch, c->id, seq);
    size_t zl;
    if (deflate_message(c, scratch, cfg.size, &zl) != 0) { conn_kill(c, E_PROTOCOL); return; }
    send_bytes_as_message(c, op, 1, zsend, zl);
    return;
  }
  if (cfg.frag) {
    build_plain(scratch, c->id, seq);
    send_bytes_as_message(c, op, 0, scratch, cfg.size);
    return;
  }
  /* common path: mask straight from the header and the pattern */
  uint8_t hdr[16];
  msg_header(hdr, c->id, seq);
  uint32_t key = (uint32_t)rng64();
  wreserve(c, cfg.size + 14);
  uint8_t *h = c->wbuf + c->wlen;
  size_t hl = put_frame_header(h, 1, 0, op, cfg.size, key);
  mask_copy(h + hl, hdr, hdr_len, key, 0);
  mask_copy(h + hl + hdr_len, pattern + pat_offset(c->id, seq), cfg.size - hdr_len, key, hdr_len);
  c->wlen += hl + cfg.size;
}

static void echo_done(conn_t *c, uint64_t now) {
  uint64_t seq = c->next_recv++;
  if (phase == PH_MEASURE) {
    st.msgs++;
    st.bytes += cfg.size;
    hist_add(&st.lat, now - c->sent_ts[seq % (uint64_t)cfg.window]);
  }
  if (phase == PH_WARMUP || phase == PH_MEASURE) echo_send(c);
  else if (phase >= PH_DRAIN && c->next_recv == c->next_send && c->state == ST_OPEN) {
    if (cfg.raw) conn_kill(c, -1);
    else begin_close(c, 1000);
  }
}

/* text messages of the profile modes */

static uint8_t *pbuf; /* one payload */

static void send_text(conn_t *c, const uint8_t *data, size_t len) {
  if (c->deflate) {
    size_t zl;
    if (deflate_message(c, data, len, &zl) != 0) { conn_kill(c, E_PROTOCOL); return; }
    send_bytes_as_message(c, 1, 1, zsend, zl);
  } else {
    send_bytes_as_message(c, 1, 0, data, len);
  }
}

static void send_tmpl(conn_t *c, const tmpl_t *t, const uint8_t *payload, uint64_t id) {
  size_t n = tmpl_render(t, scratch, payload, id, c->id, c->vset, (const char (*)[VAR_MAX + 1])c->var, c->vlen);
  if (n == (size_t)-1) {
    if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: '%s' names a variable not set\n", c->id, t->src);
    conn_kill(c, E_HANDSHAKE);
    return;
  }
  send_text(c, scratch, n);
}

/* ---------------------------------------------------------------- broadcast */

static size_t bc_prefix(char *out, uint64_t ts, uint64_t seq) {
  return (size_t)sprintf(out, "%" PRIu64 " %" PRIu64 " ", ts, seq);
}

static void bc_send_one(void) {
  conn_t *s = &conns[0];
  uint64_t seq = bc_sent++;
  if (shm) __atomic_store_n(&shm->sent, bc_sent, __ATOMIC_RELEASE); /* before the receivers can see it */
  if (PUBSUB) {
    pay_build(pbuf, now_ns(), seq, 0);
    send_tmpl(s, &prof.publish, pbuf, ID_BASE + seq);
    return;
  }
  char pre[64];
  size_t pl = bc_prefix(pre, now_ns(), seq);
  size_t total = 6 + cfg.size;
  memcpy(scratch, "BCAST ", 6);
  memcpy(scratch + 6, pre, pl);
  memcpy(scratch + 6 + pl, pattern + (seq * 131) % PAT_SPAN, cfg.size - pl);
  if (s->deflate) {
    size_t zl;
    if (deflate_message(s, scratch, total, &zl) != 0) { conn_kill(s, E_PROTOCOL); return; }
    send_bytes_as_message(s, 1, 1, zsend, zl);
  } else {
    send_bytes_as_message(s, 1, 0, scratch, total);
  }
}

static void bc_pump(void) {
  conn_t *s = &conns[0];
  if (!sender_here || s->state != ST_OPEN || cfg.mode == M_STORM) return; /* the storm publishes by stages (storm_step) */
  int sent = 0;
  while ((phase == PH_WARMUP || phase == PH_MEASURE) && bc_sent - bc_done < (uint64_t)cfg.window) {
    bc_send_one();
    sent = 1;
    if (s->state != ST_OPEN) return;
  }
  if (sent) flush(s);
}

static void bc_advance(void) {
  if (cfg.mode == M_STORM) return; /* no window: the storm counts by stages */
  if (!sender_here) { wake_sender(); return; }
  for (;;) {
    uint32_t *slot = &bc_cnt[bc_done % (uint64_t)cfg.window];
    if (bc_done >= bc_sent || (int)(shm ? __atomic_load_n(slot, __ATOMIC_ACQUIRE) : *slot) < live_get()) break;
    if (shm) __atomic_store_n(slot, 0, __ATOMIC_RELEASE);
    else *slot = 0;
    bc_done++;
    if (shm) __atomic_store_n(&shm->done, bc_done, __ATOMIC_RELEASE);
    if (phase == PH_MEASURE) st.bcasts++;
  }
  bc_pump();
}

/* a delivery of publication `seq`, sent at `ts`, intact: order and counts */
static int bc_account(conn_t *c, uint64_t ts, uint64_t seq, uint64_t now) {
  if (seq != c->bc_next) return E_ORDER;
  if (seq >= sent_get()) return E_MISMATCH; /* never sent */
  c->bc_next++;
  if (phase == PH_MEASURE) {
    st.msgs++;
    st.bytes += cfg.size;
    hist_add(&st.lat, now > ts ? now - ts : 0);
  }
  uint32_t *slot = &bc_cnt[seq % (uint64_t)cfg.window];
  uint32_t k = shm ? __atomic_add_fetch(slot, 1, __ATOMIC_ACQ_REL) : ++*slot;
  if (sender_here) {
    if (seq == bc_done) bc_advance();
  } else if ((int)k >= live_get()) {
    wake_sender(); /* this process gave a broadcast its last delivery */
  }
  return -1;
}

static int bc_deliver(conn_t *c, uint64_t now) {
  const uint8_t *m = c->mbuf;
  size_t n = c->mlen, i = 0;
  uint64_t ts = 0, seq = 0;
  if (n != cfg.size) return E_MISMATCH;
  while (i < n && m[i] >= '0' && m[i] <= '9') ts = ts * 10 + (m[i++] - '0');
  if (i == 0 || i >= n || m[i] != ' ') return E_MISMATCH;
  size_t j = ++i;
  while (i < n && m[i] >= '0' && m[i] <= '9') seq = seq * 10 + (m[i++] - '0');
  if (i == j || i >= n || m[i] != ' ') return E_MISMATCH;
  i++;
  if (memcmp(m + i, pattern + (seq * 131) % PAT_SPAN, n - i) != 0) return E_MISMATCH;
  return bc_account(c, ts, seq, now);
}

/* ------------------------------------------------------- profile modes */

static inline int is_publisher(const conn_t *c) { return PUBSUB && c->id == 0; }

/* a storm subscriber's reconnection runs the resume script, not init + subscribe */
static inline int resuming(const conn_t *c) { return cfg.mode == M_STORM && c->round == 2; }

static int script_len(const conn_t *c) {
  if (resuming(c)) return prof.nres;
  return prof.ninit + (PUBSUB && !is_publisher(c) ? prof.nsub : 0);
}

static const step_t *script_step(const conn_t *c, int i) {
  if (resuming(c)) return &prof.res[i];
  return i < prof.ninit ? &prof.init[i] : &prof.sub[i - prof.ninit];
}

/* Send the script's messages up to its next expect; the connection is ready
 * (opened, in the counts) when the script ends. */
static void script_advance(conn_t *c) {
  int n = script_len(c);
  while (c->step < n && script_step(c, c->step)->send) {
    send_tmpl(c, &script_step(c, c->step)->t, NULL, 0);
    if (c->state != ST_OPEN) return;
    c->step++;
  }
  if (c->step == n) {
    c->scripting = 0;
    conn_opened(c);
  }
}

static void script_begin(conn_t *c) {
  c->state = ST_OPEN;
  c->scripting = 1;
  c->step = 0;
  script_advance(c);
}

static int ignored(const uint8_t *m, size_t n) {
  for (int i = 0; i < prof.nignore; i++)
    if (glob_match(&prof.ignore[i], m, n, NULL)) return 1;
  return 0;
}

static void rpc_send(conn_t *c) {
  uint64_t seq = c->next_send++;
  uint64_t ts = now_ns();
  c->sent_ts[seq % (uint64_t)cfg.window] = ts;
  if (phase == PH_MEASURE) st.sent++;
  pay_build(pbuf, ts, seq, c->id);
  send_tmpl(c, &prof.request, pbuf, ID_BASE + seq);
}

static void rpc_fill(conn_t *c) {
  while (c->state == ST_OPEN && c->next_send - c->next_recv < (uint64_t)cfg.window) rpc_send(c);
}

/* A reply: its payload must be the one of a request in flight, and $I its id.
 * Replies may come in any order; each request gets exactly one. */
static int rpc_reply(conn_t *c, const uint8_t *p, const uint64_t *id, uint64_t now) {
  uint64_t ts, seq;
  if (pay_check(p, c->id, &ts, &seq) != 0) return E_MISMATCH;
  if (id && *id != ID_BASE + seq) return E_MISMATCH;
  if (seq < c->next_recv || seq >= c->next_send) return E_MISMATCH;
  uint64_t *slot = &c->sent_ts[seq % (uint64_t)cfg.window];
  if (*slot != ts) return E_MISMATCH; /* answered already, or not this request's payload */
  *slot = 0;
  if (phase == PH_MEASURE) {
    st.msgs++;
    st.bytes += cfg.size;
    hist_add(&st.lat, now - ts);
  }
  while (c->next_recv < c->next_send && c->sent_ts[c->next_recv % (uint64_t)cfg.window] == 0) c->next_recv++;
  if (phase == PH_WARMUP || phase == PH_MEASURE) rpc_fill(c);
  else if (phase >= PH_DRAIN && c->next_recv == c->next_send && c->state == ST_OPEN) begin_close(c, 1000);
  return -1;
}

static uint64_t rpc_in_flight(const conn_t *c) {
  uint64_t k = 0;
  for (uint64_t s = c->next_recv; s < c->next_send; s++) k += c->sent_ts[s % (uint64_t)cfg.window] != 0;
  return k;
}

/* every publication delivered everywhere, and (with publish-ack) acknowledged */
static int bc_complete(void) {
  if (done_get() != sent_get()) return 0;
  if (PUBSUB && prof.has_ack && conns[0].state == ST_OPEN && conns[0].acked != bc_sent) return 0;
  return 1;
}

/* ---------------------------------------------------------------- storm */
/* Stages after every connection ran its script (phase PH_WARMUP, unmeasured):
 * MARK   the publisher publishes one publication (seq 0) and every subscriber
 *        receives it (the delivery template may set variables: its position)
 * LEAVE  every subscriber that has it closes (closing handshake, then TCP)
 * MISS   the publisher publishes K more (seq 1..K), all acknowledged
 * STORM  (measured: @window-start) every subscriber reconnects at once and runs
 *        the resume script; it is recovered once the script has ended and it
 *        has checked K recovered publications, seq 1..K in order. The window
 *        ends (@window-end) when every subscriber recovered or failed. */
enum { SP_MARK, SP_LEAVE, SP_MISS, SP_STORM, SP_END };
static int sp = SP_MARK;
static uint64_t sp_deadline, t_storm;
static int storm_marked, storm_failed, storm_next;

/* a variable template's captures become the connection's variables */
static int vars_commit(conn_t *c, const gcap_t *cap) {
  for (int v = 0; v < NVARS; v++) {
    if (c->vset[v] || !cap->vs[v]) continue;
    if (cap->vl[v] > VAR_MAX) return -1;
    memcpy(c->var[v], cap->vs[v], cap->vl[v]);
    c->vlen[v] = (uint8_t)cap->vl[v];
    c->vset[v] = 1;
  }
  return 0;
}

static void cap_init(gcap_t *cap, const conn_t *c) {
  cap_clear(cap);
  cap->vset = c->vset;
  cap->vval = (const char (*)[VAR_MAX + 1])c->var;
  cap->vlen = c->vlen;
}

static void storm_check_done(conn_t *c, uint64_t now) {
  if (!resuming(c) || c->recovered || c->scripting || c->rec != (uint16_t)cfg.recover || c->state != ST_OPEN) return;
  c->recovered = 1;
  st.recovered++;
  hist_add(&st.lat, now - t_storm); /* from the storm's start: how long this client was without its stream */
}

/* one recovered publication: intact, and the next one missed */
static int storm_item(conn_t *c, const uint8_t *p) {
  uint64_t ts, seq;
  if (pay_check(p, 0, &ts, &seq) != 0) return E_MISMATCH;
  if (c->rec >= cfg.recover || seq != (uint64_t)c->rec + 1) return E_ORDER;
  c->rec++;
  st.msgs++;
  st.bytes += cfg.size;
  return -1;
}

static void storm_publish(uint64_t seq) {
  conn_t *s = &conns[0];
  bc_sent = seq + 1;
  pay_build(pbuf, now_ns(), seq, 0);
  send_tmpl(s, &prof.publish, pbuf, ID_BASE + seq);
}

static void enter_measure(uint64_t now);
static void enter_drain(uint64_t now);

/* reconnect the next subscribers while fewer than --max-pending are connecting or resuming */
static void storm_open_more(void) {
  while (storm_next < nconns && pending < cfg.max_pending) {
    conn_t *c = &conns[storm_next++];
    if (!c->storm_ok) continue;
    c->round = 2;
    conn_start(c);
    if (c->state == ST_DEAD && !c->failed) { c->failed = 1; storm_failed++; }
    sp_deadline = MAX(sp_deadline, c->t_start + (uint64_t)((cfg.connect_timeout + 2) * 1e9));
  }
}

/* advance the storm's stages; called on every turn of the loop */
static void storm_step(uint64_t now) {
  conn_t *pub = &conns[0];
  if (sp == SP_END || (phase != PH_WARMUP && phase != PH_MEASURE)) return;
  if (sp != SP_STORM && pub->state != ST_OPEN) die("the publisher lost its connection (stage %d)", sp);
  if (sp == SP_MARK) {
    int done = pub->acked >= 1 && storm_marked >= live_get();
    if (!done && now < sp_deadline) return;
    if (pub->acked < 1) die("the first publication was not acknowledged");
    for (int i = 1; i < nconns; i++) {
      conn_t *c = &conns[i];
      if (c->state != ST_OPEN) continue;
      if (c->bc_next == 1) {
        c->storm_ok = 1;
        st.storm_clients++;
        begin_close(c, 1000);
      } else {
        conn_kill(c, E_TIMEOUT); /* never got the first publication */
      }
    }
    sp = SP_LEAVE;
    sp_deadline = now + (uint64_t)((cfg.close_timeout + 2) * 1e9);
    return;
  }
  if (sp == SP_LEAVE) {
    if (active > 1) return; /* sweep() ends closes that take too long */
    for (uint64_t seq = 1; seq <= (uint64_t)cfg.recover && pub->state == ST_OPEN; seq++) storm_publish(seq);
    if (pub->state == ST_OPEN) flush(pub);
    sp = SP_MISS;
    sp_deadline = now + (uint64_t)(cfg.connect_timeout * 1e9);
    return;
  }
  if (sp == SP_MISS) {
    if (pub->acked < bc_sent) {
      if (now >= sp_deadline) die("the missed publications were not acknowledged (%" PRIu64 " of %" PRIu64 ")", pub->acked, bc_sent);
      return;
    }
    /* every subscriber wants its stream back now; --max-pending of them reconnect at a time */
    enter_measure(now);
    sp = SP_STORM;
    t_storm = now;
    sp_deadline = now + (uint64_t)((cfg.connect_timeout + 2) * 1e9);
    storm_next = 1;
    storm_open_more();
    return;
  }
  /* SP_STORM */
  if ((uint64_t)storm_failed + st.recovered < st.storm_clients && now < sp_deadline) return;
  for (int i = 1; i < nconns; i++) {
    conn_t *c = &conns[i];
    if (!c->storm_ok || c->recovered || c->failed) continue;
    if (c->state != ST_DEAD) conn_kill(c, E_TIMEOUT);
    else { c->failed = 1; storm_failed++; st.err[E_TIMEOUT]++; } /* never got its turn */
  }
  sp = SP_END;
  enter_drain(now);
}

/* a whole text message in a profile mode */
static int rt_message(conn_t *c, uint64_t now) {
  const uint8_t *m = c->mbuf;
  size_t n = c->mlen;
  gcap_t cap;
  cap_init(&cap, c);
  if (c->msg_op != 1) return c->scripting ? E_HANDSHAKE : E_MISMATCH;
  if (prof.has_ping && glob_match(&prof.ping, m, n, NULL)) {
    if (c->state == ST_OPEN) send_tmpl(c, &prof.pong, NULL, 0);
    return -1;
  }
  if (c->scripting) {
    const tmpl_t *want = &script_step(c, c->step)->t;
    if (glob_match(want, m, n, &cap)) {
      if (vars_commit(c, &cap) != 0) return E_HANDSHAKE;
      for (int i = 0; i < want->np; i++) { /* $R: the recovered publications in this message */
        int e = storm_item(c, cap.p[i]);
        if (e >= 0) return e;
      }
      c->step++;
      script_advance(c);
      storm_check_done(c, now);
      return -1;
    }
    /* recovered publications of their own may come before the resume script ends */
    if (resuming(c) && !prof.res_list && glob_match(&prof.item, m, n, &cap)) return storm_item(c, cap.p[0]);
    if (ignored(m, n)) return -1;
    if (cfg.verbose)
      fprintf(stderr, "loadgen: conn %u: script step %d wants '%s', got '%.*s'\n", c->id, c->step + 1, want->src,
              (int)MIN(n, 200), (const char *)m);
    return resuming(c) ? E_RECOVERY : E_HANDSHAKE;
  }
  if (cfg.mode == M_STORM && !is_publisher(c)) {
    if (resuming(c) && !prof.res_list && glob_match(&prof.item, m, n, &cap)) {
      int e = storm_item(c, cap.p[0]);
      if (e < 0) storm_check_done(c, now);
      return e;
    }
    if (!resuming(c) && glob_match(&prof.delivery, m, n, &cap)) { /* the first publication */
      uint64_t ts, seq;
      if (pay_check(cap.p[0], 0, &ts, &seq) != 0) return E_MISMATCH;
      if (seq != 0 || c->bc_next != 0) return E_ORDER;
      if (vars_commit(c, &cap) != 0) return E_MISMATCH;
      c->bc_next = 1;
      storm_marked++;
      return -1;
    }
  } else if (cfg.mode == M_FANOUT && !is_publisher(c)) {
    if (glob_match(&prof.delivery, m, n, &cap)) {
      uint64_t ts, seq;
      if (pay_check(cap.p[0], 0, &ts, &seq) != 0) return E_MISMATCH;
      return bc_account(c, ts, seq, now);
    }
  } else if (PUBSUB) {
    if (prof.has_ack && glob_match(&prof.ack, m, n, &cap)) {
      if (c->acked >= bc_sent) return E_MISMATCH;                   /* an ack of nothing */
      if (prof.ack.ni && cap.i != ID_BASE + c->acked) return E_ORDER; /* acks come in order */
      c->acked++;
      if (phase == PH_MEASURE) st.acks++;
      return -1;
    }
  } else if (glob_match(&prof.reply, m, n, &cap)) {
    return rpc_reply(c, cap.p[0], prof.reply.ni ? &cap.i : NULL, now);
  }
  if (ignored(m, n)) return -1;
  if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: unexpected message '%.*s'\n", c->id, (int)MIN(n, 200), (const char *)m);
  return E_MISMATCH;
}

/* ----------------------------------------------------------------- frames */

static void send_control(conn_t *c, int op, const uint8_t *data, size_t len) {
  send_bytes_as_message(c, op, 0, data, len);
}

static void begin_close(conn_t *c, uint16_t code) {
  if (c->state != ST_OPEN) return;
  uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
  send_control(c, 8, p, 2);
  c->state = ST_CLOSING;
  c->deadline = now_ns() + (uint64_t)(cfg.close_timeout * 1e9);
  flush(c);
}

/* deliver a piece of (decoded) message payload */
static int deliver(conn_t *c, const uint8_t *p, size_t n) {
  if (cfg.mode == M_ECHO) return expect_chunk(c, p, n) == 0 ? -1 : E_MISMATCH;
  if (cfg.mode == M_BCAST) {
    if (c->mlen + n > cfg.size) return E_MISMATCH;
    if (c->mcap < cfg.size) { c->mbuf = xrealloc(c->mbuf, cfg.size); c->mcap = cfg.size; }
    memcpy(c->mbuf + c->mlen, p, n);
    c->mlen += n;
    return -1;
  }
  if (SCRIPTED) { /* whole messages, bounded */
    size_t lim = MAX((size_t)65536, 2 * cfg.size + 4096);
    if (c->mlen + n > lim) return c->scripting ? E_HANDSHAKE : E_MISMATCH;
    if (c->mcap < c->mlen + n) {
      c->mcap = MIN(lim, MAX(c->mlen + n, MAX(2 * c->mcap, (size_t)256)));
      c->mbuf = xrealloc(c->mbuf, c->mcap);
    }
    memcpy(c->mbuf + c->mlen, p, n);
    c->mlen += n;
    return -1;
  }
  return -1; /* idle/connect: data is unexpected but harmless */
}

static int inflate_piece(conn_t *c, const uint8_t *p, size_t n) {
  z_stream *z = c->zi;
  if (c->z_ended) return -1;
  z->next_in = (Bytef *)p;
  z->avail_in = (uInt)n;
  for (;;) {
    z->next_out = zout;
    z->avail_out = ZOUT_SZ;
    int r = inflate(z, Z_SYNC_FLUSH);
    if (r != Z_OK && r != Z_BUF_ERROR && r != Z_STREAM_END) {
      if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: inflate: %d %s\n", c->id, r, z->msg ? z->msg : "");
      return E_PROTOCOL;
    }
    size_t got = ZOUT_SZ - z->avail_out;
    if (got) {
      int e = deliver(c, zout, got);
      if (e >= 0) return e;
    }
    if (r == Z_STREAM_END) {
      /* the message ended with a final (BFINAL) block: the next message starts
       * a new stream, and the rest of this one (our 00 00 ff ff) is not data */
      inflateReset(z);
      c->z_ended = 1;
      return -1;
    }
    if (z->avail_in == 0 && z->avail_out != 0) return -1;
    if (r == Z_BUF_ERROR && got == 0) return -1;
  }
}

static int message_end(conn_t *c, uint64_t now) {
  int want_op = cfg.binary ? 2 : 1;
  if (cfg.mode == M_ECHO) {
    if (c->msg_op != want_op || c->msg_off != cfg.size) return E_MISMATCH;
    if (c->next_recv >= c->next_send) return E_PROTOCOL; /* an echo of nothing */
    echo_done(c, now);
    if (c->state == ST_OPEN && c->next_recv < c->next_send) expect_begin(c, c->next_recv);
    return -1;
  }
  if (cfg.mode == M_BCAST) {
    if (c->msg_op != 1) return E_MISMATCH;
    int e = bc_deliver(c, now);
    c->mlen = 0;
    return e;
  }
  if (SCRIPTED) {
    int e = rt_message(c, now);
    c->mlen = 0;
    return e;
  }
  return -1;
}

/* returns -1 ok, else error code */
static int handle_frame(conn_t *c, int fin, int rsv, int op, const uint8_t *p, size_t n) {
  if (c->state == ST_WAIT_EOF) return -1; /* the closing handshake is over: ignore the rest */
  if (op >= 8) {
    if (!fin || n > 125 || rsv) return E_PROTOCOL;
    if (op == 9) { /* ping -> pong */
      if (c->state == ST_OPEN) send_control(c, 10, p, n);
      return -1;
    }
    if (op == 10) return -1;
    if (op != 8) return E_PROTOCOL;
    if (n == 1) return E_PROTOCOL;
    uint16_t code = n >= 2 ? (uint16_t)(p[0] << 8 | p[1]) : 1005;
    if (c->state == ST_CLOSING) { /* reply to ours */
      c->state = ST_WAIT_EOF;
      c->deadline = now_ns() + 1000000000ull;
      return -1;
    }
    /* the server started the close */
    int err = (phase >= PH_DRAIN) ? -1 : E_CLOSED;
    if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: server closed with %u\n", c->id, code);
    uint8_t rp[2] = {(uint8_t)(code >> 8), (uint8_t)code};
    if (code == 1005) send_control(c, 8, NULL, 0);
    else send_control(c, 8, rp, 2);
    c->state = ST_WAIT_EOF;
    c->deadline = now_ns() + 1000000000ull;
    if (err >= 0) st.err[err]++;
    if (c->counted_open) {
      c->counted_open = 0;
      open_count--;
      if (c->receiver) { c->receiver = 0; live_add(-1); bc_advance(); }
    }
    return -1;
  }
  if (op == 0) {
    if (!c->in_msg || rsv) return E_PROTOCOL;
  } else if (op == 1 || op == 2) {
    if (c->in_msg) return E_PROTOCOL;
    if ((rsv & 3) || ((rsv & 4) && !c->deflate)) return E_PROTOCOL;
    c->in_msg = 1;
    c->msg_op = (uint8_t)op;
    c->msg_z = (rsv & 4) != 0;
    c->z_ended = 0;
    c->mlen = 0;
    if (cfg.mode == M_ECHO) {
      if (c->next_recv >= c->next_send) return E_PROTOCOL;
      expect_begin(c, c->next_recv);
    }
    if (c->msg_z && !c->zi) {
      c->zi = xmalloc(sizeof *c->zi);
      memset(c->zi, 0, sizeof *c->zi);
      if (inflateInit2(c->zi, -15) != Z_OK) die("inflateInit2");
    }
  } else {
    return E_PROTOCOL;
  }
  if (c->state != ST_OPEN && c->state != ST_CLOSING) return -1; /* discard after close */
  int e;
  if (c->msg_z) {
    if (n && (e = inflate_piece(c, p, n)) >= 0) return e;
    if (fin && (e = inflate_piece(c, (const uint8_t *)"\x00\x00\xff\xff", 4)) >= 0) return e;
  } else if (n && (e = deliver(c, p, n)) >= 0) {
    return e;
  }
  if (fin) {
    c->in_msg = 0;
    return message_end(c, now_ns());
  }
  return -1;
}

/* parse frames; returns bytes consumed. Stops when the conn dies. */
static size_t parse_frames(conn_t *c, const uint8_t *buf, size_t len) {
  size_t off = 0;
  c->need = 0;
  while (c->state == ST_OPEN || c->state == ST_CLOSING || c->state == ST_WAIT_EOF) {
    size_t avail = len - off;
    const uint8_t *h = buf + off;
    if (avail < 2) { c->need = 2; break; }
    int fin = h[0] >> 7, rsv = (h[0] >> 4) & 7, op = h[0] & 15;
    if (h[1] & 0x80) { conn_kill(c, E_PROTOCOL); break; } /* servers must not mask */
    uint64_t plen = h[1] & 0x7f;
    size_t hl = 2;
    if (plen == 126) {
      if (avail < 4) { c->need = 4; break; }
      plen = (uint64_t)h[2] << 8 | h[3];
      hl = 4;
    } else if (plen == 127) {
      if (avail < 10) { c->need = 10; break; }
      plen = 0;
      for (int i = 0; i < 8; i++) plen = plen << 8 | h[2 + i];
      hl = 10;
    }
    if (plen > cfg.max_frame) { conn_kill(c, E_PROTOCOL); break; }
    if (avail < hl + plen) { c->need = hl + (size_t)plen; break; }
    int e = handle_frame(c, fin, rsv, op, h + hl, (size_t)plen);
    off += hl + (size_t)plen;
    if (e >= 0) {
      if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: %s error (op %d, len %" PRIu64 ")\n", c->id, err_names[e], op, plen);
      conn_kill(c, e);
      break;
    }
  }
  return off;
}

/* raw TCP echo: the stream is the concatenation of the messages */
static size_t parse_raw(conn_t *c, const uint8_t *buf, size_t len) {
  size_t off = 0;
  while (off < len && c->state == ST_OPEN) {
    if (c->next_recv >= c->next_send) { conn_kill(c, E_PROTOCOL); break; }
    size_t k = MIN(len - off, cfg.size - c->msg_off);
    if (expect_chunk(c, buf + off, k) != 0) { conn_kill(c, E_MISMATCH); break; }
    off += k;
    if (c->msg_off == cfg.size) {
      echo_done(c, now_ns());
      if (c->state == ST_OPEN && c->next_recv < c->next_send) expect_begin(c, c->next_recv);
    }
  }
  return off;
}

static void conn_opened(conn_t *c);

static size_t consume(conn_t *c, uint8_t *buf, size_t len) {
  size_t off = 0;
  if (c->state == ST_HS) {
    long r = handle_handshake(c, buf, len);
    if (r <= 0) return 0;
    off = (size_t)r;
    if (SCRIPTED) script_begin(c);
    else conn_opened(c);
    if (c->state != ST_OPEN) return off;
  }
  if (cfg.raw) return off + parse_raw(c, buf + off, len - off);
  return off + parse_frames(c, buf + off, len - off);
}

/* -------------------------------------------------------------- lifecycle */

static void conn_reset(conn_t *c) {
  c->rlen = c->need = 0;
  c->woff = c->wlen = 0;
  c->in_msg = 0;
  c->deflate = 0;
  c->client_no_ctx = 0;
  c->client_wbits = 0;
  c->mlen = 0;
  c->next_send = c->next_recv = 0;
  c->bc_next = 0;
  c->receiver = 0;
  c->step = c->scripting = 0;
  c->acked = 0;
  c->rec = 0;
  c->counted_open = 0;
  if (c->zd) { deflateEnd(c->zd); free(c->zd); c->zd = NULL; }
  if (c->zi) { inflateEnd(c->zi); free(c->zi); c->zi = NULL; }
}

static void conn_kill(conn_t *c, int err) {
  if (c->state == ST_DEAD || c->state == ST_IDLE) return;
  if (err >= 0) st.err[err]++;
  int was = c->state;
  if (cfg.mode == M_STORM && c->round == 2 && c->storm_ok && !c->recovered && !c->failed) {
    c->failed = 1;
    storm_failed++;
  }
  close(c->fd);
  c->fd = -1;
  c->state = ST_DEAD;
  active--;
  if (was == ST_CONNECTING || was == ST_HS || c->scripting) {
    c->scripting = 0;
    if (cfg.mode != M_CONNECT) { pending--; open_more(); }
  }
  if (c->counted_open) {
    c->counted_open = 0;
    open_count--;
    if (c->receiver) { c->receiver = 0; live_add(-1); bc_advance(); }
  }
  if (cfg.mode == M_CONNECT && (phase == PH_WARMUP || phase == PH_MEASURE))
    c->retry_at = now_ns() + (err >= 0 ? 10000000ull : 0);
  /* free big buffers; keep the struct */
  if (c->rcap > 65536) { free(c->rbuf); c->rbuf = NULL; c->rcap = 0; }
  if (c->wcap > 65536) { free(c->wbuf); c->wbuf = NULL; c->wcap = 0; }
  if (c->zd) { deflateEnd(c->zd); free(c->zd); c->zd = NULL; }
  if (c->zi) { inflateEnd(c->zi); free(c->zi); c->zi = NULL; }
}

static void conn_opened(conn_t *c) {
  uint64_t now = now_ns();
  c->state = ST_OPEN;
  if (cfg.deflate) { if (c->deflate) st.deflate_ok++; else st.deflate_refused++; }
  if (cfg.mode == M_CONNECT) {
    if (phase == PH_MEASURE) { st.handshakes++; hist_add(&st.lat, now - c->t_start); }
    begin_close(c, 1000);
    return;
  }
  pending--;
  st.established++;
  open_count++;
  c->counted_open = 1;
  if (cfg.mode == M_BCAST || (PUBSUB && !is_publisher(c))) {
    c->receiver = 1;
    live_add(1);
  }
  open_more();
  if (cfg.mode == M_STORM) storm_check_done(c, now);
}


static void conn_start(conn_t *c) {
  conn_reset(c);
  uint64_t now = now_ns();
  c->t_start = now;
  c->deadline = now + (uint64_t)(cfg.connect_timeout * 1e9);
  c->retry_at = 0;
  c->state = ST_DEAD;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) goto fail;
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (cfg.src_addrs > 0) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(0x7f000002u + (c->id % (uint32_t)cfg.src_addrs));
    if (bind(fd, (struct sockaddr *)&a, sizeof a) != 0) goto fail_fd;
  }
  if (connect(fd, (struct sockaddr *)&srv_addr, sizeof srv_addr) != 0 && errno != EINPROGRESS) goto fail_fd;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) goto fail_fd;
  c->fd = fd;
  c->state = ST_CONNECTING;
  active++;
  if (cfg.mode != M_CONNECT) pending++;
  return;
fail_fd:
  if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: connect: %s\n", c->id, strerror(errno));
  close(fd);
fail:
  st.err[E_CONNECT]++;
  c->fd = -1;
  if (cfg.mode == M_CONNECT) c->retry_at = now + 10000000ull;
}

static void open_more(void) {
  if (cfg.mode == M_STORM && sp == SP_STORM) { storm_open_more(); return; }
  if (phase != PH_SETUP || cfg.mode == M_CONNECT) return;
  while (opened < nconns && pending < cfg.max_pending) conn_start(&conns[opened++]);
}

static void on_eof(conn_t *c) {
  if (c->state == ST_WAIT_EOF) {
    if (cfg.mode == M_CONNECT && phase == PH_MEASURE) st.cycles++;
    conn_kill(c, -1);
    return;
  }
  if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: unexpected EOF in state %d\n", c->id, c->state);
  conn_kill(c, c->state == ST_CLOSING ? E_CLOSE : (c->state == ST_HS ? E_HANDSHAKE : E_CLOSED));
}

static void on_readable(conn_t *c, uint32_t ev) {
  int hup = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
  for (;;) {
    int direct = c->rlen == 0 && c->state >= ST_OPEN;
    uint8_t *dst;
    size_t room;
    if (direct) {
      dst = gbuf;
      room = GBUF_SZ;
    } else {
      rreserve(c, MAX(c->need, c->rlen + 16384));
      dst = c->rbuf + c->rlen;
      room = c->rcap - c->rlen;
    }
    ssize_t n = recv(c->fd, dst, room, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: recv: %s\n", c->id, strerror(errno));
      conn_kill(c, c->state == ST_WAIT_EOF ? -1 : (phase >= PH_DRAIN ? E_CLOSE : E_CLOSED));
      return;
    }
    if (n == 0) { on_eof(c); return; }
    if (direct) {
      size_t used = consume(c, gbuf, (size_t)n);
      if (c->state == ST_DEAD) return;
      if (used < (size_t)n) {
        size_t left = (size_t)n - used;
        rreserve(c, MAX(left, c->need));
        memcpy(c->rbuf, gbuf + used, left);
        c->rlen = left;
      }
    } else {
      c->rlen += (size_t)n;
      size_t used = consume(c, c->rbuf, c->rlen);
      if (c->state == ST_DEAD) return;
      if (used) {
        memmove(c->rbuf, c->rbuf + used, c->rlen - used);
        c->rlen -= used;
      }
    }
    if ((size_t)n < room && !hup) break; /* drained; edge-triggered epoll will tell us about more */
  }
  if (c->state != ST_DEAD) flush(c);
}

static void on_event(conn_t *c, uint32_t ev) {
  if (c->state == ST_DEAD || c->state == ST_IDLE) return;
  if (c->state == ST_CONNECTING) {
    if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err || (ev & EPOLLERR)) {
      if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: connect: %s\n", c->id, strerror(err));
      conn_kill(c, E_CONNECT);
      return;
    }
    if (cfg.raw) {
      conn_opened(c);
      if (c->state != ST_OPEN) return;
    } else {
      make_request(c);
      c->state = ST_HS;
      flush(c);
      if (c->state == ST_DEAD) return;
    }
  }
  if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(c, ev);
  if (c->state != ST_DEAD && (ev & EPOLLOUT) && c->woff < c->wlen) flush(c);
}

/* ------------------------------------------------------------------ phases */

static int sync_in = -1, sync_out = -1; /* pipes to the parent when forked */
static struct rusage ru0;
static uint64_t t_ms_real, drain_deadline;
static uint64_t setup_t0;

static double ru_seconds(const struct rusage *r) {
  return (double)r->ru_utime.tv_sec + r->ru_utime.tv_usec / 1e6 + (double)r->ru_stime.tv_sec + r->ru_stime.tv_usec / 1e6;
}

static void mark(const char *what) {
  if (!cfg.marks || sync_out >= 0) return;
  fprintf(stderr, "@%s %.6f\n", what, now_ns() / 1e9);
  fflush(stderr);
}

static void write_ready_file(uint64_t established) {
  if (!cfg.ready_file) return;
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", cfg.ready_file);
  FILE *f = fopen(tmp, "w");
  if (!f) die("cannot write %s: %s", tmp, strerror(errno));
  fprintf(f, "{\"established\":%" PRIu64 "}\n", established);
  fclose(f);
  if (rename(tmp, cfg.ready_file) != 0) die("rename %s: %s", tmp, strerror(errno));
}

static void go(uint64_t t0) {
  t_go = t0;
  if (cfg.mode == M_IDLE) {
    t_ms = t0;
    t_me = t0 + (uint64_t)(cfg.hold * 1e9);
  } else {
    t_ms = t0 + (uint64_t)(cfg.warmup * 1e9);
    t_me = t_ms + (uint64_t)(cfg.duration * 1e9);
  }
  phase = PH_WARMUP;
  if (sync_out < 0 && cfg.mode == M_IDLE) write_ready_file(st.established);
  if (cfg.mode == M_ECHO) {
    for (int i = 0; i < nconns; i++) {
      conn_t *c = &conns[i];
      if (c->state != ST_OPEN) continue;
      expect_begin(c, 0);
      for (int k = 0; k < cfg.window && c->state == ST_OPEN; k++) echo_send(c);
      if (c->state == ST_OPEN) flush(c);
    }
  } else if (cfg.mode == M_RPC) {
    for (int i = 0; i < nconns; i++) {
      conn_t *c = &conns[i];
      if (c->state != ST_OPEN) continue;
      rpc_fill(c);
      if (c->state == ST_OPEN) flush(c);
    }
  } else if (cfg.mode == M_BCAST || cfg.mode == M_FANOUT) {
    bc_pump();
  } else if (cfg.mode == M_STORM) {
    t_ms = t_me = UINT64_MAX; /* the stages decide, not the clock */
    sp = SP_MARK;
    sp_deadline = t0 + (uint64_t)(cfg.connect_timeout * 1e9);
    storm_publish(0);
    if (conns[0].state == ST_OPEN) flush(&conns[0]);
  } else if (cfg.mode == M_CONNECT) {
    for (int i = 0; i < nconns; i++) conn_start(&conns[i]);
  }
}

static void enter_measure(uint64_t now) {
  getrusage(RUSAGE_SELF, &ru0);
  t_ms_real = now;
  phase = PH_MEASURE;
  mark("window-start");
}

static void close_all(void) {
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    if (c->state == ST_OPEN) {
      if (cfg.raw) conn_kill(c, -1);
      else begin_close(c, 1000);
    } else if (c->state == ST_CONNECTING || c->state == ST_HS) {
      conn_kill(c, -1);
    }
  }
}

static void enter_drain(uint64_t now) {
  struct rusage ru1;
  getrusage(RUSAGE_SELF, &ru1);
  st.cpu_s = ru_seconds(&ru1) - ru_seconds(&ru0);
  st.window_s = (double)(now - t_ms_real) / 1e9;
  phase = PH_DRAIN;
  mark("window-end");
  drain_deadline = now + (uint64_t)(cfg.drain_timeout * 1e9);
  t_hard_end = drain_deadline + (uint64_t)((cfg.close_timeout + 2) * 1e9);
  if (cfg.mode == M_IDLE) {
    st.held = (uint64_t)open_count;
    close_all();
  } else if (cfg.mode == M_ECHO || cfg.mode == M_RPC) {
    for (int i = 0; i < nconns; i++) {
      conn_t *c = &conns[i];
      if (c->state == ST_OPEN && c->next_recv == c->next_send) {
        if (cfg.raw) conn_kill(c, -1);
        else begin_close(c, 1000);
      }
    }
  } else if (cfg.mode == M_BCAST || cfg.mode == M_FANOUT) {
    if (bc_complete()) close_all();
  } else if (cfg.mode == M_STORM) {
    close_all();
  }
}

static void drain_check(uint64_t now) {
  if ((cfg.mode == M_BCAST || cfg.mode == M_FANOUT) && bc_complete() && live_get() > 0) {
    int any_open = 0;
    for (int i = 0; i < nconns && !any_open; i++) any_open = conns[i].state == ST_OPEN;
    if (any_open) close_all();
  }
  if (now >= drain_deadline && drain_deadline) {
    drain_deadline = 0;
    for (int i = 0; i < nconns; i++) {
      conn_t *c = &conns[i];
      if (c->state != ST_OPEN) continue;
      if (cfg.mode == M_ECHO) st.err[E_TIMEOUT] += c->next_send - c->next_recv;
      if (cfg.mode == M_RPC) st.err[E_TIMEOUT] += rpc_in_flight(c);
      if (cfg.mode != M_STORM && c->receiver && sent_get() > c->bc_next) st.err[E_TIMEOUT] += sent_get() - c->bc_next;
      if (is_publisher(c) && prof.has_ack && bc_sent > c->acked) st.err[E_TIMEOUT] += bc_sent - c->acked;
    }
    close_all();
  }
  if (now >= t_hard_end) {
    for (int i = 0; i < nconns; i++) {
      conn_t *c = &conns[i];
      if (c->state == ST_DEAD || c->state == ST_IDLE) continue;
      conn_kill(c, c->state == ST_CLOSING ? E_CLOSE : -1);
    }
  }
}

static void sweep(uint64_t now) {
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    switch (c->state) {
    case ST_CONNECTING:
      if (now > c->deadline) conn_kill(c, E_CONNECT);
      break;
    case ST_HS:
      if (now > c->deadline) conn_kill(c, E_HANDSHAKE);
      break;
    case ST_CLOSING:
      if (now > c->deadline) conn_kill(c, E_CLOSE);
      break;
    case ST_OPEN: /* a profile script that never finished */
      if (c->scripting && now > c->deadline) {
        if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: script step %d timed out\n", c->id, c->step + 1);
        conn_kill(c, E_HANDSHAKE);
      } else if (resuming(c) && !c->recovered && now > c->deadline && phase == PH_MEASURE) {
        if (cfg.verbose) fprintf(stderr, "loadgen: conn %u: recovered %u of %d in time\n", c->id, c->rec, cfg.recover);
        conn_kill(c, E_TIMEOUT);
      }
      break;
    case ST_WAIT_EOF:
      if (now > c->deadline) {
        if (cfg.mode == M_CONNECT && phase == PH_MEASURE) st.cycles++;
        conn_kill(c, -1);
      }
      break;
    default:
      break;
    }
  }
}

static void run_worker(void) {
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1: %s", strerror(errno));
  if (sync_in >= 0) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, sync_in, &ev);
  }
  gbuf = xmalloc(GBUF_SZ);
  zout = xmalloc(ZOUT_SZ);
  scratch = xmalloc(MAX(cfg.size + 64, prof.send_max + 64));
  pbuf = xmalloc(cfg.size + 1);
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    c->id = id_base + (uint32_t)i;
    c->fd = -1;
    c->state = ST_IDLE;
    if (cfg.mode == M_ECHO || cfg.mode == M_RPC) {
      c->sent_ts = xmalloc(sizeof(uint64_t) * (size_t)cfg.window);
      memset(c->sent_ts, 0, sizeof(uint64_t) * (size_t)cfg.window);
    }
  }
  if (shm) {
    bc_cnt = shm->cnt;
    if (sender_here) {
      struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &shm_wake};
      if (epoll_ctl(epfd, EPOLL_CTL_ADD, shm_wake, &ev) != 0) die("epoll_ctl (eventfd): %s", strerror(errno));
    }
  } else if (cfg.mode == M_BCAST || PUBSUB) {
    bc_cnt = xmalloc(sizeof(uint32_t) * (size_t)cfg.window);
    memset(bc_cnt, 0, sizeof(uint32_t) * (size_t)cfg.window);
  }
  setup_t0 = now_ns();
  phase = PH_SETUP;
  open_more();
  struct epoll_event evs[512];
  uint64_t next_sweep = now_ns() + 50000000ull;
  int setup_reported = 0;
  for (;;) {
    uint64_t now = now_ns();
    /* phase transitions */
    if (phase == PH_SETUP) {
      int done = cfg.mode == M_CONNECT || (opened == nconns && pending == 0);
      if (done && !setup_reported) {
        setup_reported = 1;
        st.setup_s = (double)(now - setup_t0) / 1e9;
        if (sender_here && cfg.mode == M_BCAST && conns[0].state != ST_OPEN) die("the broadcast sender could not connect");
        if (sender_here && PUBSUB && conns[0].state != ST_OPEN) die("the publisher could not connect");
        if (sync_out >= 0) {
          uint8_t r[9] = {'R'};
          memcpy(r + 1, &st.established, 8);
          if (write_full(sync_out, r, sizeof r) != 0) die("sync write");
          phase = PH_WAIT_GO;
        } else {
          go(now);
        }
      }
    }
    if (cfg.mode == M_STORM) storm_step(now);
    if (phase == PH_WARMUP && now >= t_ms) enter_measure(now);
    if (phase == PH_MEASURE && now >= t_me) enter_drain(now);
    if (phase == PH_DRAIN) {
      drain_check(now);
      if (active == 0) break;
    }
    if (cfg.mode == M_CONNECT && (phase == PH_WARMUP || phase == PH_MEASURE)) {
      for (int i = 0; i < nconns; i++)
        if (conns[i].state == ST_DEAD && conns[i].retry_at <= now) conn_start(&conns[i]);
    }
    if (now >= next_sweep) {
      sweep(now);
      next_sweep = now + 50000000ull;
    }
    /* wait */
    uint64_t wake = next_sweep;
    if (phase == PH_WARMUP) wake = MIN(wake, t_ms);
    if (phase == PH_MEASURE) wake = MIN(wake, t_me);
    if (cfg.mode == M_CONNECT) wake = MIN(wake, now + 10000000ull);
    int timeout = wake > now ? (int)((wake - now + 999999) / 1000000) : 0;
    int n = epoll_wait(epfd, evs, 512, timeout);
    if (n < 0) {
      if (errno == EINTR) continue;
      die("epoll_wait: %s", strerror(errno));
    }
    for (int i = 0; i < n; i++) {
      conn_t *c = evs[i].data.ptr;
      if (c == (conn_t *)(void *)&shm_wake) { /* another process completed a broadcast or lost a receiver */
        uint64_t v;
        if (read(shm_wake, &v, sizeof v) < 0 && errno != EAGAIN) die("eventfd read: %s", strerror(errno));
        bc_advance();
        continue;
      }
      if (!c) {
        uint64_t t0;
        ssize_t r = read(sync_in, &t0, sizeof t0);
        if (r != sizeof t0) die("lost the parent process");
        epoll_ctl(epfd, EPOLL_CTL_DEL, sync_in, NULL);
        go(t0);
        continue;
      }
      on_event(c, evs[i].events);
    }
  }
}

/* ---------------------------------------------------------------- output */

static void print_json(int procs, int total_conns) {
  double w = st.window_s > 0 ? st.window_s : 1e-9;
  const hist_t *h = &st.lat;
  uint64_t total_err = 0;
  for (int i = 0; i < E_COUNT; i++) total_err += st.err[i];
  printf("{\"mode\":\"%s\",\"port\":%d,\"conns\":%d,\"procs\":%d,\"established\":%" PRIu64, mode_names[cfg.mode], cfg.port,
         total_conns, procs, st.established);
  if (cfg.mode == M_ECHO || cfg.mode == M_BCAST)
    printf(",\"window\":%d,\"size\":%zu,\"type\":\"%s\",\"payload\":\"%s\"", cfg.window, cfg.size,
           cfg.mode == M_BCAST ? "text" : (cfg.binary ? "binary" : "text"), cfg.json_payload ? "json" : "random");
  if (SCRIPTED) {
    printf(",\"window\":%d,\"size\":%zu,\"type\":\"text\",\"profile\":\"", cfg.window, cfg.size);
    for (const char *q = cfg.profile; *q; q++) {
      if (*q == '"' || *q == '\\') putchar('\\');
      if ((unsigned char)*q >= 0x20) putchar(*q);
    }
    putchar('"');
  }
  printf(",\"raw\":%s,\"deflate\":%s,\"deflate_negotiated\":%" PRIu64 ",\"deflate_refused\":%" PRIu64, cfg.raw ? "true" : "false",
         cfg.deflate ? "true" : "false", st.deflate_ok, st.deflate_refused);
  printf(",\"warmup_s\":%.3f,\"duration_s\":%.3f,\"setup_s\":%.3f", cfg.mode == M_IDLE ? 0.0 : cfg.warmup, st.window_s, st.setup_s);
  if (cfg.mode == M_ECHO || cfg.mode == M_BCAST || SCRIPTED)
    printf(",\"msgs\":%" PRIu64 ",\"msgs_per_s\":%.1f,\"bytes\":%" PRIu64 ",\"mb_per_s\":%.3f", st.msgs, st.msgs / w, st.bytes,
           st.bytes / w / 1e6);
  if (cfg.mode == M_ECHO || cfg.mode == M_RPC) printf(",\"sent\":%" PRIu64, st.sent);
  if (cfg.mode == M_RPC) printf(",\"round_trips\":%" PRIu64 ",\"round_trips_per_s\":%.1f", st.msgs, st.msgs / w);
  if (cfg.mode == M_STORM)
    printf(",\"subscribers\":%d,\"recover\":%d,\"storm_clients\":%" PRIu64 ",\"recovered\":%" PRIu64
           ",\"recovered_publications\":%" PRIu64 ",\"storm_s\":%.3f,\"recovered_per_s\":%.1f",
           total_conns - 1, cfg.recover, st.storm_clients, st.recovered, st.msgs, st.window_s, st.recovered / w);
  if (cfg.mode == M_FANOUT)
    printf(",\"subscribers\":%d,\"publications\":%" PRIu64 ",\"publications_per_s\":%.1f,\"publish_acks\":%" PRIu64
           ",\"deliveries\":%" PRIu64 ",\"deliveries_per_s\":%.1f",
           total_conns - 1, st.bcasts, st.bcasts / w, st.acks, st.msgs, st.msgs / w);
  if (cfg.mode == M_BCAST)
    printf(",\"receivers\":%d,\"broadcasts\":%" PRIu64 ",\"broadcasts_per_s\":%.1f,\"deliveries_per_s\":%.1f", total_conns,
           st.bcasts, st.bcasts / w, st.msgs / w);
  if (cfg.mode == M_CONNECT)
    printf(",\"handshakes\":%" PRIu64 ",\"handshakes_per_s\":%.1f,\"cycles\":%" PRIu64, st.handshakes, st.handshakes / w, st.cycles);
  if (cfg.mode == M_IDLE) printf(",\"held\":%" PRIu64 ",\"hold_s\":%.3f", st.held, cfg.hold);
  printf(",\"latency_us\":{\"count\":%" PRIu64 ",\"mean\":%.1f,\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f,\"p999\":%.1f,\"max\":%.1f}",
         h->count, h->count ? (double)h->sum / h->count / 1e3 : 0.0, hist_pct(h, 0.5) / 1e3, hist_pct(h, 0.9) / 1e3,
         hist_pct(h, 0.99) / 1e3, hist_pct(h, 0.999) / 1e3, h->max / 1e3);
  printf(",\"client_cpu_s\":%.3f,\"client_cpu_pct\":%.1f", st.cpu_s, 100.0 * st.cpu_s / w);
  printf(",\"errors\":{\"total\":%" PRIu64, total_err);
  for (int i = 0; i < E_COUNT; i++) printf(",\"%s\":%" PRIu64, err_names[i], st.err[i]);
  printf("}}\n");
  fflush(stdout);
}

/* ------------------------------------------------------- multi-process run */

static int read_full(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t r = write(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static void sleep_until(uint64_t t) {
  for (;;) {
    uint64_t now = now_ns();
    if (now >= t) return;
    uint64_t d = t - now;
    struct timespec ts = {.tv_sec = (time_t)(d / 1000000000ull), .tv_nsec = (long)(d % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
}

static int run_forked(int procs, int total) {
  int per = (total + procs - 1) / procs;
  int *up = xmalloc(sizeof(int) * (size_t)procs), *down = xmalloc(sizeof(int) * (size_t)procs);
  pid_t *pids = xmalloc(sizeof(pid_t) * (size_t)procs);
  fflush(stdout);
  fflush(stderr);
  if (cfg.mode == M_BCAST || cfg.mode == M_FANOUT) { /* one window over every process */
    size_t sz = sizeof(bc_shm_t) + sizeof(uint32_t) * (size_t)cfg.window;
    shm = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (shm == MAP_FAILED) die("mmap: %s", strerror(errno));
    memset(shm, 0, sz);
    shm_wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (shm_wake < 0) die("eventfd: %s", strerror(errno));
  }
  for (int i = 0; i < procs; i++) {
    int u[2], d[2];
    if (pipe2(u, O_CLOEXEC) || pipe2(d, O_CLOEXEC)) die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) die("fork: %s", strerror(errno));
    if (pid == 0) {
      close(u[0]);
      close(d[1]);
      for (int j = 0; j < i; j++) { close(up[j]); close(down[j]); }
      rng_seed();
      sender_here = i == 0;
      id_base = (uint32_t)(i * per);
      nconns = MIN(per, total - i * per);
      if (nconns < 0) nconns = 0;
      conns = xmalloc(sizeof(conn_t) * (size_t)MAX(nconns, 1));
      memset(conns, 0, sizeof(conn_t) * (size_t)MAX(nconns, 1));
      sync_out = u[1];
      sync_in = d[0];
      run_worker();
      if (write_full(sync_out, &st, sizeof st) != 0) _exit(1);
      _exit(0);
    }
    close(u[1]);
    close(d[0]);
    up[i] = u[0];
    down[i] = d[1];
    pids[i] = pid;
  }
  uint64_t established = 0;
  for (int i = 0; i < procs; i++) {
    uint8_t r[9];
    if (read_full(up[i], r, sizeof r) != 0 || r[0] != 'R') die("worker %d failed during setup", i);
    uint64_t e;
    memcpy(&e, r + 1, 8);
    established += e;
  }
  uint64_t t0 = now_ns() + 2000000ull;
  for (int i = 0; i < procs; i++)
    if (write_full(down[i], &t0, sizeof t0) != 0) die("worker %d went away", i);
  uint64_t ms = cfg.mode == M_IDLE ? t0 : t0 + (uint64_t)(cfg.warmup * 1e9);
  uint64_t me = cfg.mode == M_IDLE ? t0 + (uint64_t)(cfg.hold * 1e9) : ms + (uint64_t)(cfg.duration * 1e9);
  stats_t *all = xmalloc(sizeof(stats_t) * (size_t)procs);
  if (cfg.mode == M_IDLE) write_ready_file(established);
  sleep_until(ms);
  if (cfg.marks) { fprintf(stderr, "@window-start %.6f\n", now_ns() / 1e9); fflush(stderr); }
  sleep_until(me);
  if (cfg.marks) { fprintf(stderr, "@window-end %.6f\n", now_ns() / 1e9); fflush(stderr); }
  memset(&st, 0, sizeof st);
  double wsum = 0;
  int failed = 0;
  for (int i = 0; i < procs; i++) {
    if (read_full(up[i], &all[i], sizeof(stats_t)) != 0) { failed++; continue; }
    stats_t *s = &all[i];
    st.msgs += s->msgs; st.bytes += s->bytes; st.sent += s->sent; st.bcasts += s->bcasts; st.acks += s->acks;
    st.handshakes += s->handshakes; st.cycles += s->cycles; st.established += s->established;
    st.deflate_ok += s->deflate_ok; st.deflate_refused += s->deflate_refused; st.held += s->held;
    for (int e = 0; e < E_COUNT; e++) st.err[e] += s->err[e];
    st.cpu_s += s->cpu_s;
    wsum += s->window_s;
    st.setup_s = MAX(st.setup_s, s->setup_s);
    hist_merge(&st.lat, &s->lat);
  }
  for (int i = 0; i < procs; i++) waitpid(pids[i], NULL, 0);
  if (failed) die("%d worker(s) failed", failed);
  st.window_s = wsum / procs;
  return 0;
}

/* -------------------------------------------------------------- serve-raw */

typedef struct {
  int fd;
  uint8_t *buf;
  size_t off, len, cap;
} rawc_t;

static void raw_close(rawc_t *r) {
  close(r->fd);
  free(r->buf);
  free(r);
}

/* echo what can be read; stash what cannot be written yet */
static void raw_pump(rawc_t *r) {
  for (;;) {
    while (r->off < r->len) {
      ssize_t n = send(r->fd, r->buf + r->off, r->len - r->off, MSG_NOSIGNAL);
      if (n > 0) { r->off += (size_t)n; continue; }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return; /* wait for EPOLLOUT */
      raw_close(r);
      return;
    }
    r->off = r->len = 0;
    ssize_t n = recv(r->fd, gbuf, GBUF_SZ, 0);
    if (n == 0) { raw_close(r); return; }
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      raw_close(r);
      return;
    }
    ssize_t w = send(r->fd, gbuf, (size_t)n, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { raw_close(r); return; }
      w = 0;
    }
    if (w < n) {
      size_t left = (size_t)(n - w);
      if (r->cap < left) { r->buf = xrealloc(r->buf, left); r->cap = left; }
      memcpy(r->buf, gbuf + w, left);
      r->len = left;
    }
  }
}

static int serve_raw(void) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(ls, (struct sockaddr *)&srv_addr, sizeof srv_addr) != 0) die("bind: %s", strerror(errno));
  if (listen(ls, 4096) != 0) die("listen: %s", strerror(errno));
  epfd = epoll_create1(EPOLL_CLOEXEC);
  gbuf = xmalloc(GBUF_SZ);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(epfd, EPOLL_CTL_ADD, ls, &ev);
  struct epoll_event evs[512];
  for (;;) {
    int n = epoll_wait(epfd, evs, 512, -1);
    for (int i = 0; i < n; i++) {
      rawc_t *r = evs[i].data.ptr;
      if (!r) {
        for (;;) {
          int fd = accept4(ls, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          rawc_t *c = xmalloc(sizeof *c);
          memset(c, 0, sizeof *c);
          c->fd = fd;
          struct epoll_event e2 = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
          epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e2);
        }
        continue;
      }
      raw_pump(r);
    }
  }
  return 0;
}

/* ------------------------------------------------------------------- main */

static void usage(FILE *f) {
  fprintf(f,
          "usage: loadgen --mode echo|broadcast|idle|connect|serve-raw|fanout|rpc|storm [options]\n"
          "  -h, --host ADDR         server address (127.0.0.1)\n"
          "  -p, --port PORT         server port (9001)\n"
          "      --path PATH         request path (/)\n"
          "  -c, --conns N           connections (echo, idle, rpc), receivers (broadcast), subscribers (fanout, storm),\n"
          "                          churners (connect)\n"
          "  -w, --window W          echo, rpc: messages in flight per connection; broadcast, fanout: outstanding\n"
          "  -s, --size BYTES        message size (k/m suffixes); broadcast: size each receiver gets;\n"
          "                          fanout, rpc, storm: the payload ($P) inside each message, >= 32\n"
          "      --profile FILE      fanout, rpc, storm: the protocol profile (templates; see bench/loadgen/profiles)\n"
          "      --tokens FILE       storm: credentials, one a line ($T; connection i gets line i mod lines)\n"
          "      --recover K         storm: publications each subscriber misses and must recover (10)\n"
          "      --connect-timeout S handshake + profile script time-out per connection; storm: also the\n"
          "                          time each reconnection has to recover (10)\n"
          "      --text | --binary   message type for echo (text)\n"
          "      --payload KIND      random | json (random)\n"
          "  -d, --duration S        measured window in seconds (10)\n"
          "      --warmup S          unmeasured traffic before the window (1)\n"
          "  -H, --hold S            idle: how long to hold the connections (10)\n"
          "      --ready-file FILE   idle: written once every connection is open\n"
          "      --deflate           offer permessage-deflate; client_max_window_bits\n"
          "      --deflate-level N   zlib level for what the client compresses (1)\n"
          "      --frag BYTES        fragment client messages into frames of at most BYTES\n"
          "      --raw               echo over plain TCP, no WebSocket (use with serve-raw)\n"
          "      --procs N           worker processes (auto: as many as RLIMIT_NOFILE needs); broadcast and\n"
          "                          fanout share one window between them (shared memory)\n"
          "      --src-addrs N       bind connections to 127.0.0.2..(N+1) (auto: one per 4000 connections above 4000)\n"
          "      --max-pending N     handshakes in progress at once while connecting (256); storm: also\n"
          "                          reconnections in progress (handshake and resume script) at once\n"
          "      --drain-timeout S   how long to wait for outstanding echoes after the window (10)\n"
          "      --no-marks          do not print @window-start/@window-end on stderr\n"
          "  -v, --verbose           log errors as they happen\n");
}

static size_t parse_size(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (end == s || v < 0) die("bad size '%s'", s);
  if (*end == 'k' || *end == 'K') v *= 1024;
  else if (*end == 'm' || *end == 'M') v *= 1024 * 1024;
  else if (*end) die("bad size '%s'", s);
  return (size_t)v;
}

int main(int argc, char **argv) {
  enum { OPT_PATH = 256, OPT_PROFILE, OPT_TEXT, OPT_BIN, OPT_PAYLOAD, OPT_WARMUP, OPT_READY, OPT_DEFLATE, OPT_DLEVEL, OPT_FRAG, OPT_RAW, OPT_PROCS,
         OPT_SRC, OPT_MAXP, OPT_DRAIN, OPT_NOMARKS, OPT_MODE, OPT_TOKENS, OPT_RECOVER, OPT_CTIMEOUT, OPT_HELP };
  static struct option opts[] = {
      {"mode", required_argument, 0, OPT_MODE},       {"host", required_argument, 0, 'h'},
      {"port", required_argument, 0, 'p'},          {"path", required_argument, 0, OPT_PATH},
      {"conns", required_argument, 0, 'c'},         {"window", required_argument, 0, 'w'},
      {"size", required_argument, 0, 's'},          {"text", no_argument, 0, OPT_TEXT},
      {"binary", no_argument, 0, OPT_BIN},            {"payload", required_argument, 0, OPT_PAYLOAD},
      {"duration", required_argument, 0, 'd'},      {"warmup", required_argument, 0, OPT_WARMUP},
      {"hold", required_argument, 0, 'H'},          {"ready-file", required_argument, 0, OPT_READY},
      {"deflate", no_argument, 0, OPT_DEFLATE},       {"deflate-level", required_argument, 0, OPT_DLEVEL},
      {"frag", required_argument, 0, OPT_FRAG},       {"raw", no_argument, 0, OPT_RAW},
      {"procs", required_argument, 0, OPT_PROCS},     {"src-addrs", required_argument, 0, OPT_SRC},
      {"max-pending", required_argument, 0, OPT_MAXP}, {"drain-timeout", required_argument, 0, OPT_DRAIN},
      {"no-marks", no_argument, 0, OPT_NOMARKS},      {"verbose", no_argument, 0, 'v'},
      {"profile", required_argument, 0, OPT_PROFILE},  {"tokens", required_argument, 0, OPT_TOKENS},
      {"recover", required_argument, 0, OPT_RECOVER},  {"connect-timeout", required_argument, 0, OPT_CTIMEOUT},
      {"help", no_argument, 0, OPT_HELP},             {0, 0, 0, 0}};
  int o;
  while ((o = getopt_long(argc, argv, "h:p:c:w:s:d:H:v", opts, NULL)) != -1) {
    switch (o) {
    case OPT_MODE: {
      int m = -1;
      for (int i = 0; i < M_COUNT; i++) if (strcmp(optarg, mode_names[i]) == 0) m = i;
      if (m < 0) die("unknown mode '%s'", optarg);
      cfg.mode = m;
      break;
    }
    case 'h': cfg.host = optarg; break;
    case 'p': cfg.port = atoi(optarg); break;
    case OPT_PATH: cfg.path = optarg; cfg.path_given = 1; break;
    case OPT_PROFILE: cfg.profile = optarg; break;
    case OPT_TOKENS: cfg.tokens = optarg; break;
    case OPT_RECOVER: cfg.recover = atoi(optarg); break;
    case OPT_CTIMEOUT: cfg.connect_timeout = atof(optarg); break;
    case 'c': cfg.conns = atoi(optarg); break;
    case 'w': cfg.window = atoi(optarg); break;
    case 's': cfg.size = parse_size(optarg); break;
    case OPT_TEXT: cfg.binary = 0; break;
    case OPT_BIN: cfg.binary = 1; break;
    case OPT_PAYLOAD:
      if (strcmp(optarg, "json") == 0) cfg.json_payload = 1;
      else if (strcmp(optarg, "random") == 0) cfg.json_payload = 0;
      else die("--payload is random or json");
      break;
    case 'd': cfg.duration = atof(optarg); break;
    case OPT_WARMUP: cfg.warmup = atof(optarg); break;
    case 'H': cfg.hold = atof(optarg); break;
    case OPT_READY: cfg.ready_file = optarg; break;
    case OPT_DEFLATE: cfg.deflate = 1; break;
    case OPT_DLEVEL: cfg.deflate_level = atoi(optarg); break;
    case OPT_FRAG: cfg.frag = parse_size(optarg); break;
    case OPT_RAW: cfg.raw = 1; break;
    case OPT_PROCS: cfg.procs = atoi(optarg); break;
    case OPT_SRC: cfg.src_addrs = atoi(optarg); break;
    case OPT_MAXP: cfg.max_pending = atoi(optarg); break;
    case OPT_DRAIN: cfg.drain_timeout = atof(optarg); break;
    case OPT_NOMARKS: cfg.marks = 0; break;
    case 'v': cfg.verbose = 1; break;
    case OPT_HELP: usage(stdout); return 0;
    default: usage(stderr); return 2;
    }
  }
  if (optind < argc) die("unexpected argument '%s'", argv[optind]);
  if (cfg.conns < 1 || cfg.window < 1 || cfg.max_pending < 1) die("conns, window and max-pending must be >= 1");
  if (cfg.json_payload && cfg.binary) die("--payload json is text");
  if (cfg.raw && (cfg.mode != M_ECHO || cfg.deflate || cfg.frag)) die("--raw is for echo without --deflate/--frag");
  if (cfg.mode == M_BCAST && cfg.size < 48) die("broadcast needs --size >= 48 (timestamp and sequence number)");
  if (cfg.mode == M_ECHO && cfg.size < 1) die("--size must be >= 1");
  if (SCRIPTED && !cfg.profile) die("%s needs --profile FILE", mode_names[cfg.mode]);
  if (!SCRIPTED && cfg.profile) die("--profile is for the fanout, rpc and storm modes");
  if (cfg.mode != M_STORM && cfg.tokens) die("--tokens is for the storm mode");
  if (cfg.recover < 1 || cfg.recover > MAX_RECOVER) die("--recover is 1..%d", MAX_RECOVER);
  if (!(cfg.connect_timeout > 0)) die("--connect-timeout must be > 0");
  if (SCRIPTED && cfg.size < PAY_HDR + 2) die("%s needs --size >= %d (timestamp and sequence number)", mode_names[cfg.mode], PAY_HDR + 2);
  if (cfg.deflate_level < 0 || cfg.deflate_level > 9) die("--deflate-level is 0..9");
  if (cfg.duration <= 0) die("--duration must be > 0");
  signal(SIGPIPE, SIG_IGN);
  rng_seed();

  memset(&srv_addr, 0, sizeof srv_addr);
  srv_addr.sin_family = AF_INET;
  srv_addr.sin_port = htons((uint16_t)cfg.port);
  if (inet_pton(AF_INET, cfg.host, &srv_addr.sin_addr) != 1) die("--host must be an IPv4 address");

  hdr_len = MIN(cfg.size, 16);
  make_pattern(MAX(cfg.size, 64), cfg.binary, cfg.json_payload, SCRIPTED);
  if (cfg.mode == M_SERVE_RAW) return serve_raw();
  if (cfg.tokens) load_tokens(cfg.tokens);
  if (SCRIPTED) load_profile(cfg.profile);

  /* descriptors: raise the soft limit to the hard one */
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  long per_proc = (long)rl.rlim_cur - 32;
  int total = cfg.mode == M_BCAST || PUBSUB ? cfg.conns + 1 : cfg.conns;
  int procs = cfg.procs;
  if (procs <= 0) procs = (int)((total + per_proc - 1) / per_proc);
  if (procs < 1) procs = 1;
  if (cfg.mode == M_STORM && procs > 1) die("storm runs in one process: at most %ld connections here", per_proc);
  /* connect() gets slow when most of the ephemeral port range is in use (the
   * kernel searches it for a free port): spread big runs over source addresses */
  if (cfg.src_addrs < 0) cfg.src_addrs = total > 4000 ? (total + 3999) / 4000 : 0;
  if (cfg.mode == M_IDLE) cfg.warmup = 0;

  if (procs == 1) {
    nconns = total;
    conns = xmalloc(sizeof(conn_t) * (size_t)total);
    memset(conns, 0, sizeof(conn_t) * (size_t)total);
    run_worker();
  } else {
    run_forked(procs, total);
  }
  print_json(procs, total);
  uint64_t e = 0;
  for (int i = 0; i < E_COUNT; i++) e += st.err[i];
  return e ? 1 : 0;
}
