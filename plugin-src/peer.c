/*
 * SPDX-License-Identifier: GPL-2.0-or-later
 *
 * peer.c - the sockets and the reader thread. It connects to the
 * orchestrator's control socket and to the peer (side a listens, side b
 * connects), sends the peer checkpoints, ends and stops, and runs the one
 * thread that reads both: the peer's messages into `peer_news`, the
 * orchestrator's commands into `commands`, both guarded by peer_news.lock,
 * with peer_news.cond broadcast on every change.
 */
#include "lockstep.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/*
 * Side b connects to side a's socket, which may not exist yet (QEMU is
 * still starting, loading firmware): retry every 10 ms for 30 s. Side a
 * waits as long for side b.
 */
#define CONNECT_TRIES 3000
#define CONNECT_RETRY_US 10000
#define ACCEPT_TIMEOUT_MS 30000

/*
 * One command line from the orchestrator: "regs" lists up to a few hundred
 * register indices, far below this.
 */
#define CMD_LINE_MAX (1 << 14)

PeerNews peer_news = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cond = PTHREAD_COND_INITIALIZER,
};
Commands commands;

/* The two sockets; fixed once installed. */
static struct {
    int peer_fd;
    int ctl_fd;
} sock = { .peer_fd = -1, .ctl_fd = -1 };

static int unix_socket(const char *path, struct sockaddr_un *addr)
{
    if (strlen(path) >= sizeof(addr->sun_path)) {
        fprintf(stderr, "lockstep: socket path too long: %s\n", path);
        return -1;
    }
    memset(addr, 0, sizeof(*addr));
    addr->sun_family = AF_UNIX;
    strcpy(addr->sun_path, path);
    return socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
}

/* Connect to the orchestrator's control socket; its fd, or -1. */
int ctl_connect(const char *path)
{
    struct sockaddr_un addr;
    int fd = unix_socket(path, &addr);

    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "lockstep: cannot connect to %s: %s\n", path,
                strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    sock.ctl_fd = fd;
    return fd;
}

/* Connect, retrying while the listener is not there yet. */
static int connect_to(const char *path)
{
    struct sockaddr_un addr;

    for (int tries = 0; tries < CONNECT_TRIES; tries++) {
        int fd = unix_socket(path, &addr);
        if (fd < 0) {
            return -1;
        }
        if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0) {
            return fd;
        }
        close(fd);
        if (errno != ENOENT && errno != ECONNREFUSED) {
            break;
        }
        usleep(CONNECT_RETRY_US);
    }
    fprintf(stderr, "lockstep: cannot connect to %s: %s\n", path,
            strerror(errno));
    return -1;
}

/* Listen on path and accept the peer. */
static int accept_peer(const char *path)
{
    struct sockaddr_un addr;
    struct pollfd pfd;
    int lfd = unix_socket(path, &addr);
    int fd = -1;

    if (lfd < 0) {
        return -1;
    }
    unlink(path);
    if (bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(lfd, 1) < 0) {
        fprintf(stderr, "lockstep: cannot listen on %s: %s\n", path,
                strerror(errno));
        close(lfd);
        return -1;
    }
    pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
    if (poll(&pfd, 1, ACCEPT_TIMEOUT_MS) == 1) {
        fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    }
    if (fd < 0) {
        fprintf(stderr, "lockstep: side b did not connect to %s\n", path);
    } else if (dup3(fd, lfd, O_CLOEXEC) == lfd) {
        /* In the listening socket's place, where side b's socket is: both
         * QEMUs then hold the same descriptors, and the guest's next open
         * gets the same number on both sides. */
        close(fd);
        fd = lfd;
        lfd = -1;
    }
    if (lfd >= 0) {
        close(lfd);
    }
    unlink(path);
    return fd;
}

/*
 * The peer's socket for this QEMU's process: the guest's first is
 * peer=, every other one's is named by its path next to it (process.c).
 */
static char *peer_socket(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(options.peer_path);

    return g_str_equal(path, "1") ? g_strdup(options.peer_path)
                                  : g_strdup_printf("%s/peer-%s.sock", dir, path);
}

/* Connect to the peer: listen=on waits for it, otherwise connect. */
int peer_connect(void)
{
    g_autofree char *name = peer_socket(process.path);

    sock.peer_fd = options.listen ? accept_peer(name) : connect_to(name);
    return sock.peer_fd;
}

void send_peer(uint32_t type, uint64_t a, uint64_t b)
{
    PeerMsg m = { .type = type, .epoch = comparison.epoch, .a = a, .b = b };

    if (send(sock.peer_fd, &m, sizeof(m), MSG_NOSIGNAL) != sizeof(m)) {
        pthread_mutex_lock(&peer_news.lock);
        peer_news.lost = true;
        pthread_mutex_unlock(&peer_news.lock);
    }
}

bool peer_is_lost(void)
{
    bool lost;

    pthread_mutex_lock(&peer_news.lock);
    lost = peer_news.lost;
    pthread_mutex_unlock(&peer_news.lock);
    return lost;
}

/*
 * QEMU is exiting (plugin_exit(), on this thread): from now on "quit" makes
 * the waits on this thread return instead of ending the process, so that
 * QEMU ends with its own exit status.
 */
void peer_exiting(void)
{
    pthread_mutex_lock(&peer_news.lock);
    commands.exiting = true;
    commands.exit_thread = pthread_self();
    pthread_mutex_unlock(&peer_news.lock);
}

/*
 * Whether a wait on this thread should return for "quit"; with
 * peer_news.lock held.
 */
bool quit_here(void)
{
    return commands.quit && pthread_equal(commands.exit_thread, pthread_self());
}

/*
 * Never run on: wait for the orchestrator's "quit". The reader thread then
 * ends the process, unless QEMU is exiting: on the exiting thread this
 * returns, and QEMU exits with its own status.
 */
void wait_for_quit(void)
{
    pthread_mutex_lock(&peer_news.lock);
    while (!quit_here()) {
        threads_peer_wait(1);
        pthread_cond_wait(&peer_news.cond, &peer_news.lock);
        threads_peer_wait(-1);
    }
    pthread_mutex_unlock(&peer_news.lock);
}

/* One unsigned decimal number, all of str, at most max. */
static bool parse_number(const char *str, uint64_t max, uint64_t *out)
{
    return g_ascii_string_to_unsigned(str, 10, 0, max, out, NULL);
}

/* "resync EPOCH ORIGIN LIMIT REGS_NEXT": four numbers, into `commands`. */
static bool parse_resync(const char *args)
{
    g_auto(GStrv) w = g_strsplit(args, " ", -1);
    uint64_t epoch;

    if (g_strv_length(w) != 4 || !parse_number(w[0], UINT32_MAX, &epoch) ||
        !parse_number(w[1], UINT64_MAX, &commands.origin) ||
        !parse_number(w[2], UINT64_MAX, &commands.limit) ||
        !parse_number(w[3], UINT64_MAX, &commands.regs_next)) {
        return false;
    }
    commands.epoch = epoch;
    return true;
}

/*
 * One command line from the orchestrator; with peer_news.lock held. Returns
 * NULL, or why it was refused (the caller reports it; the plugin carries
 * on as if the line had not come). Only what the vCPU waits for is
 * accepted: "regs" during the handshake, "resync" while a stop waits;
 * regs.c and sync.c check the values against their state.
 */
static char *command(char *line)
{
    char *args = strchr(line, ' ');

    args = args ? (*args = 0, args + 1) : line + strlen(line);
    if (strcmp(line, LS_CMD_QUIT) == 0) {
        if (!commands.exiting) {
            _exit(EXIT_QUIT);
        }
        commands.quit = true;
    } else if (strcmp(line, LS_CMD_REGS) == 0) {
        if (!commands.want_regs || commands.regs_choice) {
            return g_strdup("a regs command came when no register list was "
                            "asked for");
        }
        commands.regs_choice = g_strdup(args);
    } else if (strcmp(line, LS_CMD_RESYNC) == 0) {
        if (!commands.want_resync || commands.resync) {
            return g_strdup("a resync command came when this side was not "
                            "waiting for one");
        }
        if (!parse_resync(args)) {
            return g_strdup_printf("a resync command wants four unsigned "
                                   "numbers (epoch < 2^32): resync %.80s",
                                   args);
        }
        commands.resync = true;
    } else {
        return g_strdup_printf("unknown command from the orchestrator: "
                               "%.80s", line);
    }
    pthread_cond_broadcast(&peer_news.cond);
    return NULL;
}

/* What the reader has of a line or message not complete yet. */
typedef struct {
    char line[CMD_LINE_MAX];
    size_t used;
    bool overlong;          /* dropping the rest of a line too long */
    uint8_t msg[sizeof(PeerMsg)];
    size_t msg_used;
} Partial;

/* Run one complete command line (len bytes, NUL-terminated). */
static void run_line(char *line, size_t len)
{
    g_autofree char *why = NULL;

    if (len == 0) {
        return;     /* an empty line says nothing */
    }
    if (strlen(line) != len) {
        why = g_strdup("a command line holds a NUL byte");
    } else if (options.locating && strcmp(line, LS_CMD_WHERE) == 0) {
        report_where();     /* the vCPU waits for nothing: no lock */
    } else {
        pthread_mutex_lock(&peer_news.lock);
        why = command(line);
        pthread_mutex_unlock(&peer_news.lock);
    }
    if (why) {
        report_error(why);
    }
}

/* The orchestrator wrote to the control socket: run its complete lines. */
static void read_commands(Partial *in)
{
    ssize_t r = read(sock.ctl_fd, in->line + in->used,
                     sizeof(in->line) - 1 - in->used);
    char *nl;

    if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    /* The orchestrator is gone: never run on alone. */
    if (r <= 0) {
        _exit(EXIT_ORCHESTRATOR_LOST);
    }
    in->used += r;
    while ((nl = memchr(in->line, '\n', in->used))) {
        size_t len = nl - in->line;

        *nl = 0;
        if (!in->overlong) {
            run_line(in->line, len);
        }
        in->overlong = false;
        in->used -= len + 1;
        memmove(in->line, nl + 1, in->used);
    }
    if (in->used == sizeof(in->line) - 1) {
        if (!in->overlong) {
            report_error("a command line is longer than the plugin reads: "
                         "dropped");
        }
        in->overlong = true;
        in->used = 0;
    }
}

/*
 * The peer wrote (or is gone): take what there is of its next message,
 * without waiting for the rest; a whole one goes into `peer_news`. A message
 * cut short by the peer's end is lost with it.
 */
static void read_peer(struct pollfd *pfd, Partial *in)
{
    PeerMsg m;
    ssize_t r = recv(sock.peer_fd, in->msg + in->msg_used,
                     sizeof(m) - in->msg_used, MSG_DONTWAIT);

    if (r < 0 && (errno == EINTR || errno == EAGAIN)) {
        return;
    }
    pthread_mutex_lock(&peer_news.lock);
    if (r <= 0) {
        peer_news.lost = true;
        pfd->fd = -1;
        pthread_cond_broadcast(&peer_news.cond);
        pthread_mutex_unlock(&peer_news.lock);
        return;
    }
    in->msg_used += r;
    if (in->msg_used < sizeof(m)) {
        pthread_mutex_unlock(&peer_news.lock);
        return;
    }
    in->msg_used = 0;
    memcpy(&m, in->msg, sizeof(m));
    if (m.epoch > peer_news.epoch) {
        /* The peer resumed after an excursion: forget its past. */
        peer_news.epoch = m.epoch;
        peer_news.ckpt_count = 0;
        peer_news.ended = peer_news.stopped = false;
    }
    if (m.epoch < peer_news.epoch) {
        /* Sent before the peer resumed: no longer relevant. */
    } else if (m.type == MSG_CKPT) {
        peer_news.ckpt_hash[(m.a - 1) % CKPT_RING] = m.b;
        peer_news.ckpt_count = m.a;
    } else if (m.type == MSG_END || m.type == MSG_LIMIT) {
        peer_news.ended = true;
        peer_news.end_pos = m.a;
        peer_news.end_hash = m.b;
    } else if (m.type == MSG_STOP) {
        peer_news.stopped = true;
        peer_news.stop_good = MIN(m.a, m.b);
        peer_news.stop_bad = m.b;
    }
    pthread_cond_broadcast(&peer_news.cond);
    pthread_mutex_unlock(&peer_news.lock);
    /* Outside peer_news.lock: threads.c sends while it holds its own. */
    if (m.type == MSG_SCHED) {
        threads_peer_record(m.a, m.b);
    }
}

/*
 * Reads the peer's messages and the orchestrator's commands. Neither can
 * block the other: poll() says which has bytes, and each read takes only
 * what is there.
 */
static void *reader(void *arg)
{
    struct pollfd fds[2] = {
        { .fd = sock.peer_fd, .events = POLLIN },
        { .fd = sock.ctl_fd, .events = POLLIN },
    };
    Partial *in = g_new0(Partial, 1);

    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            break;
        }
        if (fds[1].revents) {
            read_commands(in);
        }
        if (fds[0].revents) {
            read_peer(&fds[0], in);
        }
    }
    return NULL;
}
/*
 * A forked child (process.c): the connections are its parent's. Closing
 * them here drops only the child's reference; the parent's stay open.
 */
void peer_forget(void)
{
    if (sock.peer_fd >= 0) {
        close(sock.peer_fd);
    }
    if (sock.ctl_fd >= 0) {
        close(sock.ctl_fd);
    }
    sock.peer_fd = sock.ctl_fd = -1;
}

/*
 * The reader thread takes no signal: QEMU's handler serves the guest's
 * threads only, and on another thread crashes QEMU (a forked child's
 * SIGCHLD, SIGTERM). It inherits a full mask from its start.
 */
/*
 * A forked child compares with the peer's child of the same path
 * (process.c), over a socket of its own named by the path, next to the
 * parent's, read by a reader thread of its own (no thread survives a
 * fork). The peer's checkpoints up to the fork are the parent's concern:
 * the child starts knowing them as its own. False when the peer's child
 * did not come (the sides forked differently, or the run ends).
 */
bool peer_pair_child(const char *path)
{
    g_autofree char *name = peer_socket(path);

    sock.peer_fd = options.listen ? accept_peer(name) : connect_to(name);
    if (sock.peer_fd < 0) {
        return false;
    }
    peer_news.ckpt_count = comparison.ckpt_count;
    memcpy(peer_news.ckpt_hash, comparison.ckpt_hash,
           sizeof(peer_news.ckpt_hash));
    peer_news.ended = peer_news.stopped = peer_news.lost = false;
    peer_news.epoch = comparison.epoch;
    g_clear_pointer(&commands.regs_choice, g_free);
    memset(&commands, 0, sizeof(commands));
    return peer_start_reader();
}

bool peer_start_reader(void)
{
    pthread_t thread;
    sigset_t all, old;
    int err;

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&thread, NULL, reader, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        fprintf(stderr, "lockstep: cannot start reader thread\n");
        return false;
    }
    pthread_detach(thread);
    return true;
}
