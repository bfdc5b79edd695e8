//! glibc malloc settings for a process whose memory is a few very large tables that grow by doubling.

/// Allocations from this size up get their own mapping, returned to the
/// kernel when freed.
const MMAP_THRESHOLD: libc::c_int = 256 * 1024;

/// Fixes glibc's mmap threshold. By default it starts at 128 KiB and rises
/// to the size of every large block freed (up to 32 MiB): after the first
/// hash-table doubling, the next tables (and the RIB's per-batch vectors)
/// come from the heap, where the blocks freed by later doublings stay
/// resident. At a million prefixes that left RSS ~40 MB above the live
/// heap (`bash scripts/bench-ingest.sh`); with the threshold fixed, a
/// freed table goes back to the kernel at once.
pub fn tune() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; it is called
    // before the agent's threads start.
    unsafe {
        if libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1 {
            tracing::debug!("mallopt(M_MMAP_THRESHOLD) refused");
        }
    }
}

/// Returns the free pages inside the heap to the kernel. glibc only gives
/// back the top of a heap by itself; after a table transfer the blocks its
/// per-UPDATE buffers used sit between long-lived allocations (attribute
/// sets), so they stayed resident (~11 MB after a 1M-prefix load).
pub fn release_free() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}
