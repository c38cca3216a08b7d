/*
 * Guest threads for lockstep's threads=on (plugin-src/threads.c), static
 * glibc. argv[1] picks the workload, each with four worker threads:
 *
 *   mutex    a shared counter under a mutex
 *   condvar  a bounded queue with condition variables, two producers and
 *            two consumers
 *   futex    the same queue on raw futex calls (wait and wake on a word)
 *   race     an unprotected shared counter and array: a data race on
 *            purpose, whose result depends on the threads' order
 *   fork     the mutex workload, and worker 0 forks a child midway, which
 *            exits at once
 *   sleep    a short sleep every 64 steps, a call that blocks or returns
 *            first as the host's timing has it, and an unprotected value
 *            that records the order the threads ran in
 *
 * With -DVARIANT the third thread the program makes (worker 2) adds one
 * more at its 1000th step (a value in its data; the code is the same): a
 * difference in one thread. In "sleep" it also takes another path there:
 * a difference in control flow, which the fast pass sees.
 */
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WORKERS 4
#define STEPS 20000
#define QUEUE 16

/* Only the data differs between the two builds: the code is the same. */
#ifdef VARIANT
static volatile unsigned plant_step = 1000;
#else
static volatile unsigned plant_step = 0xffffffff;
#endif
#define PLANT(w, i) ((w) == 2 && (i) == plant_step)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t counter;
static volatile uint64_t racy;
static volatile uint32_t racy_cells[64];

/* The queue: a ring of QUEUE items, with a mutex and two conditions... */
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static uint64_t ring[QUEUE];
static unsigned head, tail;
static uint64_t consumed[WORKERS];

/* ...or on futex words: the count of items and of free slots. */
static atomic_uint items;
static atomic_uint slots = QUEUE;
static atomic_uint ring_lock;

static long futex(atomic_uint *word, int op, unsigned val)
{
    return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* Take one of *word, waiting on the futex while there is none. */
static void futex_down(atomic_uint *word)
{
    for (;;) {
        unsigned v = atomic_load(word);
        if (v > 0 && atomic_compare_exchange_weak(word, &v, v - 1)) {
            return;
        }
        if (v == 0) {
            futex(word, FUTEX_WAIT_PRIVATE, 0);
        }
    }
}

static void futex_up(atomic_uint *word)
{
    atomic_fetch_add(word, 1);
    futex(word, FUTEX_WAKE_PRIVATE, 1);
}

static void spin_lock(atomic_uint *l)
{
    unsigned zero = 0;
    while (!atomic_compare_exchange_weak(l, &zero, 1)) {
        zero = 0;
        futex(l, FUTEX_WAIT_PRIVATE, 1);
    }
}

static void spin_unlock(atomic_uint *l)
{
    atomic_store(l, 0);
    futex(l, FUTEX_WAKE_PRIVATE, 1);
}

static const char *mode;

static void *worker(void *arg)
{
    unsigned w = (unsigned)(uintptr_t)arg;

    for (unsigned i = 0; i < STEPS; i++) {
        if (!strcmp(mode, "fork") && w == 0 && i == STEPS / 2) {
            pid_t child = fork();
            if (child == 0) {
                _exit(0);
            }
            waitpid(child, NULL, 0);
        }
        if (!strcmp(mode, "mutex") || !strcmp(mode, "fork")) {
            pthread_mutex_lock(&lock);
            counter += 1 + PLANT(w, i);
            pthread_mutex_unlock(&lock);
        } else if (!strcmp(mode, "race")) {
            racy = racy + 1 + PLANT(w, i);
            racy_cells[(racy * 7 + w) % 64] += w;
        } else if (!strcmp(mode, "sleep")) {
            if (i % 64 == 0) {
                struct timespec ts = { 0, 10000 };
                nanosleep(&ts, NULL);
            }
            racy = racy * 3 + w;
            if (PLANT(w, i)) {
                for (unsigned k = 0; k < 64; k++) {
                    racy_cells[k] += k;
                }
            }
        } else if (!strcmp(mode, "condvar")) {
            pthread_mutex_lock(&lock);
            if (w % 2 == 0) {
                while (tail - head == QUEUE) {
                    pthread_cond_wait(&not_full, &lock);
                }
                ring[tail++ % QUEUE] = (uint64_t)w << 32 | (i + PLANT(w, i));
                pthread_cond_signal(&not_empty);
            } else {
                while (tail == head) {
                    pthread_cond_wait(&not_empty, &lock);
                }
                consumed[w] = consumed[w] * 31 + ring[head++ % QUEUE];
                pthread_cond_signal(&not_full);
            }
            pthread_mutex_unlock(&lock);
        } else {
            if (w % 2 == 0) {
                futex_down(&slots);
                spin_lock(&ring_lock);
                ring[tail++ % QUEUE] = (uint64_t)w << 32 | (i + PLANT(w, i));
                spin_unlock(&ring_lock);
                futex_up(&items);
            } else {
                futex_down(&items);
                spin_lock(&ring_lock);
                consumed[w] = consumed[w] * 31 + ring[head++ % QUEUE];
                spin_unlock(&ring_lock);
                futex_up(&slots);
            }
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    pthread_t t[WORKERS];
    uint64_t cells = 0;

    mode = argc > 1 ? argv[1] : "mutex";
    for (unsigned w = 0; w < WORKERS; w++) {
        pthread_create(&t[w], NULL, worker, (void *)(uintptr_t)w);
    }
    for (unsigned w = 0; w < WORKERS; w++) {
        pthread_join(t[w], NULL);
    }
    for (unsigned k = 0; k < 64; k++) {
        cells = cells * 33 + racy_cells[k];
    }
    printf("%s: counter %llu racy %llu cells %llx consumed %llx %llx\n", mode,
           (unsigned long long)counter, (unsigned long long)racy,
           (unsigned long long)cells, (unsigned long long)consumed[1],
           (unsigned long long)consumed[3]);
    return 0;
}
