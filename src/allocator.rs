//! The global allocator of the static musl build (`src/main.rs`): mimalloc, called the way Rust's own
//! `System` allocator calls the C `malloc`.
//!
//! musl's allocator takes a lock on every call, which held the handler to about a third of the bare
//! HTTP stack's throughput (BENCHMARKS.md). The `mimalloc` crate's allocator calls
//! `mi_malloc_aligned` for every allocation. For a size class that has no page yet, and for every
//! block over 1 KiB, that takes mimalloc's generic aligned path, which allocates `size + align - 1`
//! bytes when the size is not a power of two: one size class up whenever that crosses a class's
//! bound (microsoft/mimalloc#889). Callgrind, per invocation: 57 allocations, 8.8 of them on that
//! path, 4,250 instructions in `mi_malloc_aligned` of the 63,558 an invocation took; with this
//! allocator, 2,320 in `mi_malloc`.
//!
//! Every mimalloc block is aligned to the machine word: block sizes are whole words, blocks are laid
//! out from an aligned page start, and a free block holds the free list's next pointer, so a
//! misaligned block could not be freed. Layouts that need no more than that go to `mi_malloc`,
//! `mi_zalloc` and `mi_realloc`, as `std` sends them to `malloc` when they need no more than
//! `malloc` guarantees. Only over-aligned layouts, rare in this code, use the `_aligned` calls.
//! `mi_free` frees both kinds.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout};
use std::ffi::c_void;

/// What every mimalloc block is aligned to, whatever its size: a word. Not `MI_MAX_ALIGN_SIZE` (16):
/// a 24-byte block is only word-aligned (microsoft/mimalloc#206).
const WORD_ALIGN: usize = std::mem::align_of::<*mut c_void>();

/// mimalloc as the global allocator: `mi_malloc` for word-aligned layouts, `mi_malloc_aligned` for the
/// rest.
#[derive(Debug, Clone, Copy, Default)]
pub struct MiMalloc;

// SAFETY: every pointer returned comes from mimalloc with at least the layout's size and alignment
// (word alignment for `mi_malloc`, see the module docs; the `_aligned` calls for more), and is freed by
// `mi_free`, which accepts pointers from all of them.
unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: plain C allocation calls; a null return is passed on as the trait asks.
        unsafe {
            if layout.align() <= WORD_ALIGN {
                mi::mi_malloc(layout.size()).cast()
            } else {
                mi::mi_malloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        unsafe {
            if layout.align() <= WORD_ALIGN {
                mi::mi_zalloc(layout.size()).cast()
            } else {
                mi::mi_zalloc_aligned(layout.size(), layout.align()).cast()
            }
        }
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, _layout: Layout) {
        // SAFETY: `ptr` came from this allocator (the trait's contract), so from mimalloc.
        unsafe { mi::mi_free(ptr.cast()) }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr` came from this allocator with `layout`; the new block keeps its alignment.
        unsafe {
            if layout.align() <= WORD_ALIGN {
                mi::mi_realloc(ptr.cast(), new_size).cast()
            } else {
                mi::mi_realloc_aligned(ptr.cast(), new_size, layout.align()).cast()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sizes around every small size class (up to 1 KiB), the medium and large classes, and a block of
    /// its own (over 16 MiB in mimalloc 3).
    fn sizes() -> impl Iterator<Item = usize> {
        (1..=1100).chain((1..=40).map(|k| k * 1000 + 24)).chain([
            64 << 10,
            (64 << 10) + 8,
            1 << 20,
            (1 << 20) + 24,
            17 << 20,
        ])
    }

    fn pattern(i: usize) -> u8 {
        (i % 251) as u8
    }

    /// Writes the first bytes of a block (at most 64) and, past them, its last byte.
    unsafe fn fill(p: *mut u8, size: usize) {
        for i in 0..size.min(64) {
            unsafe { p.add(i).write(pattern(i)) };
        }
        if size > 64 {
            unsafe { p.add(size - 1).write(0xA5) };
        }
    }

    /// Checks what `fill` wrote into a block of `size` bytes after a realloc that kept `kept` of them.
    unsafe fn check(p: *mut u8, size: usize, kept: usize, what: &str) {
        for i in 0..kept.min(64) {
            assert_eq!(unsafe { p.add(i).read() }, pattern(i), "{what}, byte {i}");
        }
        if kept == size && size > 64 {
            assert_eq!(unsafe { p.add(size - 1).read() }, 0xA5, "{what}, last byte");
        }
    }

    #[test]
    fn every_layout_gets_its_alignment_and_keeps_its_bytes_through_realloc() {
        let a = MiMalloc;
        for align in [1, 2, 4, 8, 16, 32, 64, 4096] {
            for size in sizes() {
                let layout = Layout::from_size_align(size, align).unwrap();
                let what = format!("{layout:?}");
                unsafe {
                    let mut p = a.alloc(layout);
                    assert!(!p.is_null(), "{what}");
                    assert_eq!(p as usize % align, 0, "{what}");
                    fill(p, size);
                    for new_size in [size / 2 + 1, size * 2 + 8] {
                        let q = a.realloc(p, layout, new_size);
                        let what = format!("{what} -> {new_size}");
                        assert!(!q.is_null(), "{what}");
                        assert_eq!(q as usize % align, 0, "{what}");
                        check(q, size, size.min(new_size), &what);
                        let grown = Layout::from_size_align(new_size, align).unwrap();
                        p = a.realloc(q, grown, size);
                        assert!(!p.is_null(), "{what} -> {size}");
                        assert_eq!(p as usize % align, 0, "{what} -> {size}");
                        check(p, size, size.min(new_size), &what);
                        fill(p, size);
                    }
                    a.dealloc(p, layout);

                    let z = a.alloc_zeroed(layout);
                    assert!(!z.is_null(), "{what} zeroed");
                    assert_eq!(z as usize % align, 0, "{what} zeroed");
                    for i in (0..size).step_by(if size > 1 << 16 { 4093 } else { 1 }) {
                        assert_eq!(z.add(i).read(), 0, "{what} zeroed, byte {i}");
                    }
                    a.dealloc(z, layout);
                }
            }
        }
    }
}
