#ifndef EXHIBIT_CLINUX_SHIM_H
#define EXHIBIT_CLINUX_SHIM_H

/* Linux calls that Swift's Glibc module does not export (they need _GNU_SOURCE). Declared here directly,
   with the glibc prototypes, so no header is compiled twice with different feature macros. */

extern int sync_file_range(int fd, long long offset, long long nbytes, unsigned int flags);

/* Starts writeback of a file's dirty pages without waiting for it (SYNC_FILE_RANGE_WRITE). */
static inline int exhibit_start_writeback(int fd) {
    return sync_file_range(fd, 0, 0, 2u);
}

#endif
