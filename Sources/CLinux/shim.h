#ifndef EXHIBIT_CLINUX_SHIM_H
#define EXHIBIT_CLINUX_SHIM_H

/* Linux calls that Swift's Glibc module does not export (they need _GNU_SOURCE). Declared here directly,
   with the glibc prototypes, so no header is compiled twice with different feature macros. */

extern int sync_file_range(int fd, long long offset, long long nbytes, unsigned int flags);

/* Starts writeback of a file's dirty pages without waiting for it (SYNC_FILE_RANGE_WRITE). */
static inline int exhibit_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, 2u);
}

/* preadv2(2) with RWF_NOWAIT (Linux 4.14): reads only what is already in the page cache, never waiting for the
   disk; returns -1 with errno EAGAIN when the data is not cached (then read it on a thread that may block). */
struct iovec;
extern long preadv2(int fd, const struct iovec *iov, int iovcnt, long offset, int flags);

struct exhibit_iovec { void *base; unsigned long length; };

static inline long exhibit_pread_nowait(int fd, void *buffer, unsigned long length, long offset) {
    struct exhibit_iovec vector = { buffer, length };
    return preadv2(fd, (const struct iovec *)&vector, 1, offset, 0x00000008 /* RWF_NOWAIT */);
}

/* mallopt(M_ARENA_MAX, arenas) from <malloc.h>, which Swift's Glibc module leaves out: at most `arenas` malloc
   arenas for the process (glibc's default allows eight per core, each keeping what was freed in it). */
extern int mallopt(int param, int value);

static inline int exhibit_limit_malloc_arenas(int arenas) {
    return mallopt(-8 /* M_ARENA_MAX */, arenas);
}

#endif
