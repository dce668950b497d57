// SPDX-License-Identifier: MIT
// Raw copy bandwidth, the ceilings the benchmark's ratios are taken against.
//
//   copybw memcpy SIZE TRIALS   memcpy of SIZE bytes between two private buffers
//   copybw pvw SIZE TRIALS      process_vm_writev of SIZE bytes into a forked child
//   copybw memcpy2 SIZE TRIALS  memcpy of SIZE bytes split over two threads, one on
//                               core 0 and one on core 1 (half each)
//
// Prints one JSON line: {"op":..,"size":..,"samples":[seconds per copy, ...]}.
// Each sample is the mean over a batch of copies (enough to take ~20 ms).
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *pages(size_t size) {
  void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    perror("mmap");
    exit(1);
  }
  memset(p, 0x5a, size);
  return p;
}

static pid_t child;
static char *src, *dst;
static size_t size;

// memcpy2: two threads, each copying its half, meeting at a barrier per copy.
static pthread_barrier_t start_b, end_b;
static volatile int stop2;
static void pin(int core) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(core, &set);
  sched_setaffinity(0, sizeof(set), &set);  // best effort: one CPU leaves both on it
}
static void *half(void *arg) {
  size_t h = size / 2;
  pin(1);
  for (;;) {
    pthread_barrier_wait(&start_b);
    if (stop2) return NULL;
    memcpy(dst + h, src + h, size - h);
    __asm__ __volatile__("" ::: "memory");
    pthread_barrier_wait(&end_b);
  }
  (void)arg;
}

static int two;
static void copy_once(int pvw) {
  if (two) {
    pthread_barrier_wait(&start_b);
    memcpy(dst, src, size / 2);
    __asm__ __volatile__("" ::: "memory");
    pthread_barrier_wait(&end_b);
    return;
  }
  if (!pvw) {
    memcpy(dst, src, size);
    __asm__ __volatile__("" ::: "memory");
    return;
  }
  struct iovec l = {src, size}, r = {dst, size};
  ssize_t n = process_vm_writev(child, &l, 1, &r, 1, 0);
  if (n != (ssize_t)size) {
    perror("process_vm_writev");
    kill(child, SIGKILL);
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: copybw memcpy|pvw|memcpy2 SIZE TRIALS\n");
    return 2;
  }
  int pvw = strcmp(argv[1], "pvw") == 0;
  two = strcmp(argv[1], "memcpy2") == 0;
  size = strtoull(argv[2], NULL, 0);
  int trials = atoi(argv[3]);
  src = pages(size);
  dst = pages(size);
  if (pvw) {
    child = fork();
    if (child < 0) {
      perror("fork");
      return 1;
    }
    if (child == 0) {
      memset(dst, 0xa5, size);  // the child's own pages (no copy-on-write left)
      for (;;) pause();
    }
    usleep(20000);  // let the child touch its pages
  }
  pthread_t helper;
  if (two) {
    pin(0);
    pthread_barrier_init(&start_b, NULL, 2);
    pthread_barrier_init(&end_b, NULL, 2);
    if (pthread_create(&helper, NULL, half, NULL) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      return 1;
    }
  }
  // Warm-up, and the batch size: copies per ~20 ms.
  double t0 = now();
  int warm = 0;
  while (now() - t0 < 0.02 || warm < 2) {
    copy_once(pvw);
    warm++;
  }
  int batch = warm;
  printf("{\"op\":\"%s\",\"size\":%zu,\"samples\":[", pvw ? "process_vm_writev" : two ? "memcpy-2core" : "memcpy", size);
  for (int t = 0; t < trials; t++) {
    double a = now();
    for (int i = 0; i < batch; i++) copy_once(pvw);
    double s = (now() - a) / batch;
    printf("%s%.9g", t ? "," : "", s);
  }
  printf("]}\n");
  if (two) {
    stop2 = 1;
    pthread_barrier_wait(&start_b);
    pthread_join(helper, NULL);
  }
  if (pvw) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
  }
  return 0;
}
