/* rawclient: virDomainGetInfo round trips over raw libvirt RPC frames, for measuring a daemon
 * with a client that costs next to nothing (python3-libvirt spends 20-30 us of CPU per call).
 *
 * usage: rawclient SOCKET DAEMON_PID [SOCKET DAEMON_PID ...] THREADS SECONDS
 *        -> one JSON line per daemon on stdout, in the order given
 * Each thread opens its own connection to each daemon: CONNECT_OPEN("test:///default"),
 * DOMAIN_LOOKUP_BY_NAME("test"), then DOMAIN_GET_INFO on that domain in a loop, one call at a
 * time (send, poll for the reply, read it). Every reply is checked (length, program, procedure,
 * serial, status OK); anything else is counted as an error and ends the thread. With several
 * daemons the run is split into slices (BENCH_SLICE seconds, default 0.25) that take turns,
 * every thread calling only that slice's daemon, until each has had SECONDS: the daemons are
 * measured in the same conditions. Reports calls/s, the daemon's CPU per call (user+sys from
 * /proc/DAEMON_PID/stat over the whole run, during which it is idle outside its slices) and the
 * client's own CPU per call during that daemon's slices (getrusage, all threads).
 * Built by bench/run.py with `cc -O2 -pthread`. */
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define REMOTE_PROGRAM 0x20008086u
#define PROC_CONNECT_OPEN 1
#define PROC_DOMAIN_GET_INFO 16
#define PROC_DOMAIN_LOOKUP_BY_NAME 23
#define BUF 65536
#define MAX_DAEMONS 4

static int ndaemons;
static const char *sock_paths[MAX_DAEMONS];
static _Atomic int phase, running = 1;
static pthread_barrier_t opened, go;

struct worker {
    pthread_t tid;
    long calls[MAX_DAEMONS];
    int error[MAX_DAEMONS];
};

/* One thread's connection to one daemon, ready for GET_INFO calls. */
struct conn {
    int fd;
    uint32_t serial;
    unsigned char call[BUF];
    size_t len;
};

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void put32(unsigned char *p, uint32_t v) {
    v = htonl(v);
    memcpy(p, &v, 4);
}

static uint32_t get32(const unsigned char *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

/* XDR string into p; returns bytes written. */
static size_t put_str(unsigned char *p, const char *s) {
    size_t n = strlen(s), padded = (n + 3) & ~(size_t)3;
    put32(p, (uint32_t)n);
    memset(p + 4, 0, padded);
    memcpy(p + 4, s, n);
    return 4 + padded;
}

/* A call frame with `payload` into out; returns its length. */
static size_t frame(unsigned char *out, int proc, uint32_t serial, const unsigned char *payload,
                    size_t n) {
    put32(out, (uint32_t)(28 + n));
    put32(out + 4, REMOTE_PROGRAM);
    put32(out + 8, 1);
    put32(out + 12, (uint32_t)proc);
    put32(out + 16, 0); /* CALL */
    put32(out + 20, serial);
    put32(out + 24, 0); /* OK */
    memcpy(out + 28, payload, n);
    return 28 + n;
}

static int write_all(int fd, const unsigned char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Sends a call and reads its reply into `reply`; returns the reply payload length or -1. */
static long rpc(int fd, const unsigned char *call, size_t n, int proc, uint32_t serial,
                unsigned char *reply) {
    if (write_all(fd, call, n) < 0)
        return -1;
    size_t have = 0, want = 4;
    while (have < want) {
        /* Wait in poll() for input, as libvirt's client does: a reader blocked in read() would
         * also be woken each time the daemon consumes the call (socket write space), and that
         * wake-up would be charged to the daemon's CPU. */
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, -1) < 0)
            return -1;
        ssize_t r = read(fd, reply + have, BUF - have);
        if (r <= 0)
            return -1;
        have += (size_t)r;
        if (want == 4 && have >= 4) {
            want = get32(reply);
            if (want < 28 || want > BUF)
                return -1;
        }
    }
    if (have != want || get32(reply + 4) != REMOTE_PROGRAM || get32(reply + 12) != (uint32_t)proc ||
        get32(reply + 16) != 1 /* REPLY */ || get32(reply + 20) != serial ||
        get32(reply + 24) != 0 /* OK */)
        return -1;
    return (long)want - 28;
}

/* Opens `c` to `path` and prepares its GET_INFO call; returns 0 or -1. */
static int setup(struct conn *c, const char *path) {
    unsigned char args[512], reply[BUF];
    c->serial = 1;
    c->fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
    if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        return -1;
    /* CONNECT_OPEN: remote_string name (present), flags 0. */
    put32(args, 1);
    size_t n = 4 + put_str(args + 4, "test:///default");
    put32(args + n, 0);
    n += 4;
    size_t len = frame(c->call, PROC_CONNECT_OPEN, c->serial, args, n);
    if (rpc(c->fd, c->call, len, PROC_CONNECT_OPEN, c->serial, reply) < 0)
        return -1;
    c->serial++;
    /* DOMAIN_LOOKUP_BY_NAME("test") -> remote_nonnull_domain, the GET_INFO argument as is. */
    n = put_str(args, "test");
    len = frame(c->call, PROC_DOMAIN_LOOKUP_BY_NAME, c->serial, args, n);
    long dom = rpc(c->fd, c->call, len, PROC_DOMAIN_LOOKUP_BY_NAME, c->serial, reply);
    if (dom < 0 || dom > (long)sizeof args)
        return -1;
    c->serial++;
    c->len = frame(c->call, PROC_DOMAIN_GET_INFO, c->serial, reply + 28, (size_t)dom);
    return 0;
}

static void *run(void *arg) {
    struct worker *w = arg;
    struct conn *conns = calloc((size_t)ndaemons, sizeof *conns);
    unsigned char reply[BUF];
    int ok = 1;
    for (int d = 0; d < ndaemons; d++)
        if (setup(&conns[d], sock_paths[d]) < 0) {
            w->error[d] = 1;
            ok = 0;
        }
    pthread_barrier_wait(&opened);
    pthread_barrier_wait(&go);
    while (ok && running) {
        int d = phase;
        struct conn *c = &conns[d];
        put32(c->call + 20, c->serial);
        if (rpc(c->fd, c->call, c->len, PROC_DOMAIN_GET_INFO, c->serial, reply) < 0) {
            w->error[d] = 1;
            break;
        }
        c->serial++;
        w->calls[d]++;
    }
    for (int d = 0; d < ndaemons; d++)
        if (conns[d].fd >= 0)
            close(conns[d].fd);
    free(conns);
    return NULL;
}

static double cpu_seconds(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

/* user+sys of process `pid`, in seconds. */
static double daemon_cpu(const char *pid) {
    char path[64], line[4096];
    snprintf(path, sizeof path, "/proc/%s/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = 0;
    /* After the ")" that ends the command name: state is field 3, utime 14, stime 15. */
    char *p = strrchr(line, ')');
    unsigned long long ut = 0, st = 0;
    if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

int main(int argc, char **argv) {
    if (argc < 5 || (argc - 3) % 2 || (argc - 3) / 2 > MAX_DAEMONS) {
        fprintf(stderr, "usage: %s SOCKET DAEMON_PID [SOCKET DAEMON_PID ...] THREADS SECONDS\n",
                argv[0]);
        return 2;
    }
    ndaemons = (argc - 3) / 2;
    const char *pids[MAX_DAEMONS];
    for (int d = 0; d < ndaemons; d++) {
        sock_paths[d] = argv[1 + 2 * d];
        pids[d] = argv[2 + 2 * d];
    }
    int threads = atoi(argv[argc - 2]);
    double seconds = atof(argv[argc - 1]);
    const char *slice_env = getenv("BENCH_SLICE");
    double slice = ndaemons == 1 ? seconds : (slice_env ? atof(slice_env) : 0.25);
    if (threads < 1 || seconds <= 0 || slice <= 0) {
        fprintf(stderr, "bad THREADS, SECONDS or BENCH_SLICE\n");
        return 2;
    }
    struct worker *ws = calloc((size_t)threads, sizeof *ws);
    pthread_barrier_init(&opened, NULL, (unsigned)threads + 1);
    pthread_barrier_init(&go, NULL, (unsigned)threads + 1);
    for (int i = 0; i < threads; i++)
        pthread_create(&ws[i].tid, NULL, run, &ws[i]);
    /* Every connection is open; the clock starts as the threads are released. */
    pthread_barrier_wait(&opened);
    double d0[MAX_DAEMONS], wall[MAX_DAEMONS] = {0}, client[MAX_DAEMONS] = {0};
    for (int d = 0; d < ndaemons; d++)
        d0[d] = daemon_cpu(pids[d]);
    phase = 0;
    pthread_barrier_wait(&go);
    for (int k = 0;; k++) {
        int d = k % ndaemons, left = 0;
        for (int e = 0; e < ndaemons; e++)
            left |= wall[e] < seconds;
        if (!left)
            break;
        if (wall[d] >= seconds)
            continue;
        phase = d;
        double t0 = now(), c0 = cpu_seconds(), len = slice;
        if (seconds - wall[d] < len)
            len = seconds - wall[d];
        struct timespec ts = {(time_t)len, (long)((len - (time_t)len) * 1e9)};
        nanosleep(&ts, NULL);
        wall[d] += now() - t0;
        client[d] += cpu_seconds() - c0;
    }
    running = 0;
    int failed = 0;
    long calls[MAX_DAEMONS] = {0};
    int errors[MAX_DAEMONS] = {0};
    for (int i = 0; i < threads; i++) {
        pthread_join(ws[i].tid, NULL);
        for (int d = 0; d < ndaemons; d++) {
            calls[d] += ws[i].calls[d];
            errors[d] += ws[i].error[d];
            failed |= ws[i].error[d];
        }
    }
    for (int d = 0; d < ndaemons; d++) {
        double dc = daemon_cpu(pids[d]) - d0[d];
        long per = calls[d] ? calls[d] : 1;
        printf("{\"socket\": \"%s\", \"threads\": %d, \"calls\": %ld, \"seconds\": %f, "
               "\"errors\": %d, \"calls_per_sec\": %f, \"daemon_cpu_us_per_call\": %f, "
               "\"client_cpu_us_per_call\": %f}\n",
               sock_paths[d], threads, calls[d], wall[d], errors[d], calls[d] / wall[d],
               dc * 1e6 / per, client[d] * 1e6 / per);
    }
    return failed ? 1 : 0;
}
