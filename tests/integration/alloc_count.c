/* LD_PRELOAD shim that counts heap calls process-wide, for the relay's no-malloc test.
 * Every malloc/calloc/realloc/free/posix_memalign/aligned_alloc/memalign/valloc is counted
 * with a relaxed atomic and passed to glibc's own entry points (__libc_*), which avoids
 * dlsym() and its allocation on first use. On SIGUSR2 the counts are written to the file
 * named by IW_ALLOC_COUNT_FILE (written to FILE.tmp, then renamed, so a reader never sees
 * a partial file) using only async-signal-safe calls. The shim owns SIGUSR2: a later
 * sigaction()/signal() for it is ignored and it is removed from blocked sets, so a server that
 * uses SIGUSR2 itself (coturn reloads certificates on it) still answers. */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);
extern void *__libc_memalign(size_t align, size_t n);

/* Exported so the linker sees every interposed symbol even with -Wmissing-prototypes. */
void *memalign(size_t align, size_t n);
void *valloc(size_t n);

enum { C_MALLOC, C_CALLOC, C_REALLOC, C_FREE, C_MEMALIGN, C_COUNT };

static const char *const names[C_COUNT] = { "malloc", "calloc", "realloc", "free", "memalign" };
static atomic_ulong counts[C_COUNT];
static char out_path[512];
static char tmp_path[516];
static bool armed;

static void bump(int i)
{
	atomic_fetch_add_explicit(&counts[i], 1, memory_order_relaxed);
}

void *malloc(size_t n)
{
	bump(C_MALLOC);
	return __libc_malloc(n);
}

void *calloc(size_t n, size_t m)
{
	bump(C_CALLOC);
	return __libc_calloc(n, m);
}

void *realloc(void *p, size_t n)
{
	bump(C_REALLOC);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	if (p)
		bump(C_FREE);
	__libc_free(p);
}

void *memalign(size_t align, size_t n)
{
	bump(C_MEMALIGN);
	return __libc_memalign(align, n);
}

void *aligned_alloc(size_t align, size_t n)
{
	bump(C_MEMALIGN);
	return __libc_memalign(align, n);
}

void *valloc(size_t n)
{
	bump(C_MEMALIGN);
	return __libc_memalign((size_t)sysconf(_SC_PAGESIZE), n);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	bump(C_MEMALIGN);
	if (align < sizeof(void *) || (align & (align - 1)) != 0)
		return EINVAL;
	p = __libc_memalign(align, n);
	if (!p && n)
		return ENOMEM;
	*out = p;
	return 0;
}

/* Async-signal-safe decimal formatting. */
static size_t put_u(char *buf, unsigned long v)
{
	char tmp[24];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	return n;
}

static void on_usr2(int sig)
{
	char buf[256];
	size_t len = 0;
	int saved = errno, fd;

	(void)sig;
	for (int i = 0; i < C_COUNT; i++) {
		size_t k = strlen(names[i]);
		memcpy(buf + len, names[i], k);
		len += k;
		buf[len++] = ' ';
		len += put_u(buf + len, atomic_load_explicit(&counts[i], memory_order_relaxed));
		buf[len++] = '\n';
	}
	fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0) {
		ssize_t w = write(fd, buf, len);
		close(fd);
		if (w == (ssize_t)len)
			rename(tmp_path, out_path);
	}
	errno = saved;
}

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);
typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

static int real_sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
	static sigaction_fn fn;

	if (!fn)
		fn = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
	return fn ? fn(sig, sa, old) : -1;
}

int sigaction(int sig, const struct sigaction *sa, struct sigaction *old)
{
	if (armed && sig == SIGUSR2)
		return real_sigaction(sig, NULL, old);
	return real_sigaction(sig, sa, old);
}

sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction sa, old;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

/* Keep SIGUSR2 deliverable: drop it from any set being blocked. */
static int mask_call(const char *name, int how, const sigset_t *set, sigset_t *old)
{
	sigmask_fn fn = (sigmask_fn)dlsym(RTLD_NEXT, name);
	sigset_t copy;

	if (!fn)
		return -1;
	if (armed && set && how != SIG_UNBLOCK) {
		copy = *set;
		sigdelset(&copy, SIGUSR2);
		set = &copy;
	}
	return fn(how, set, old);
}

int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	return mask_call("sigprocmask", how, set, old);
}

int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	return mask_call("pthread_sigmask", how, set, old);
}

__attribute__((constructor)) static void alloc_count_init(void)
{
	const char *p = getenv("IW_ALLOC_COUNT_FILE");
	struct sigaction sa;
	size_t n;

	if (!p || (n = strlen(p)) == 0 || n >= sizeof out_path)
		return;
	memcpy(out_path, p, n + 1);
	memcpy(tmp_path, p, n);
	memcpy(tmp_path + n, ".tmp", 5);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr2;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	real_sigaction(SIGUSR2, &sa, NULL);
	armed = true;
}
