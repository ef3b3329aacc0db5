//! `memcpy` and `memmove` for the static musl build on x86-64, in place of musl's.
//!
//! Rust moves values with `memcpy`: futures into their boxes, structs out of functions, strings into
//! buffers, about 110 calls per invocation (callgrind). About six move futures of 1.2–1.9 KiB; the
//! rest are a few hundred bytes or less. musl's x86-64 `memcpy` copies
//! the unaligned head and tail a byte at a time and the rest with `rep movsq`, whose start-up cost
//! dominates such short copies: it was 13 % of the handler's CPU time under load (`perf record`,
//! BENCHMARKS.md), where glibc's takes a few instructions.
//!
//! This one does what glibc and the Linux kernel do on current CPUs: copies of up to 64 bytes with
//! unaligned 16, 8, 4, 2 or 1-byte moves, every load before any store, so no loop and no byte loop;
//! longer copies with `rep movsb`, which CPUs with ERMS (Intel since 2012, AMD since Zen 3) and FSRM
//! run at full speed from the first byte. A backward `memmove` over 64 bytes takes `std; rep movsb`,
//! as musl's does with `movsq`: slow, and rare (shifting a `Vec` towards its end).
//!
//! The functions hold no loop that the compiler could turn back into a call to `memcpy`.
//! `memmove` is defined too: musl's `memmove` jumps into its own `memcpy`, which would clash with
//! this one at link time. Only builds for `x86_64-unknown-linux-musl` export them: the shipped
//! `handler`, and the library's tests that CI runs on that target, so every copy those tests make
//! goes through it. The tests check [`copy`] against a byte-by-byte reference on every target.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128};

/// Copies `n` bytes from `src` to `dst`; the two may overlap (the `memmove` contract, which covers
/// `memcpy`'s).
///
/// # Safety
/// `src` must be valid for reads and `dst` for writes of `n` bytes.
#[inline(always)]
pub(crate) unsafe fn copy(dst: *mut u8, src: *const u8, n: usize) {
    unsafe {
        if n <= 64 {
            copy_short(dst, src, n);
        } else if (dst as usize).wrapping_sub(src as usize) >= n {
            // `dst` is below `src`, or past its end: a forward copy never reads a byte it wrote.
            rep_movsb(dst, src, n);
        } else {
            rep_movsb_backward(dst, src, n);
        }
    }
}

/// Up to 64 bytes: every load before any store, so overlapping regions are copied right too.
#[inline(always)]
unsafe fn copy_short(dst: *mut u8, src: *const u8, n: usize) {
    unsafe {
        if n >= 32 {
            let a = load16(src);
            let b = load16(src.add(16));
            let c = load16(src.add(n - 32));
            let d = load16(src.add(n - 16));
            store16(dst, a);
            store16(dst.add(16), b);
            store16(dst.add(n - 32), c);
            store16(dst.add(n - 16), d);
        } else if n >= 16 {
            let a = load16(src);
            let d = load16(src.add(n - 16));
            store16(dst, a);
            store16(dst.add(n - 16), d);
        } else if n >= 8 {
            let a = src.cast::<u64>().read_unaligned();
            let d = src.add(n - 8).cast::<u64>().read_unaligned();
            dst.cast::<u64>().write_unaligned(a);
            dst.add(n - 8).cast::<u64>().write_unaligned(d);
        } else if n >= 4 {
            let a = src.cast::<u32>().read_unaligned();
            let d = src.add(n - 4).cast::<u32>().read_unaligned();
            dst.cast::<u32>().write_unaligned(a);
            dst.add(n - 4).cast::<u32>().write_unaligned(d);
        } else if n >= 2 {
            let a = src.cast::<u16>().read_unaligned();
            let d = src.add(n - 2).cast::<u16>().read_unaligned();
            dst.cast::<u16>().write_unaligned(a);
            dst.add(n - 2).cast::<u16>().write_unaligned(d);
        } else if n == 1 {
            *dst = *src;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn load16(p: *const u8) -> __m128i {
    // SAFETY: SSE2 is part of x86-64; the load is unaligned.
    unsafe { _mm_loadu_si128(p.cast()) }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn store16(p: *mut u8, v: __m128i) {
    // SAFETY: as `load16`.
    unsafe { _mm_storeu_si128(p.cast(), v) }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn load16(p: *const u8) -> u128 {
    unsafe { p.cast::<u128>().read_unaligned() }
}

#[cfg(not(target_arch = "x86_64"))]
#[inline(always)]
unsafe fn store16(p: *mut u8, v: u128) {
    unsafe { p.cast::<u128>().write_unaligned(v) }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rep_movsb(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract; the direction flag is clear on entry (System V ABI).
    unsafe {
        std::arch::asm!(
            "rep movsb",
            inout("rcx") n => _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack, preserves_flags),
        );
    }
}

#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn rep_movsb_backward(dst: *mut u8, src: *const u8, n: usize) {
    // SAFETY: the caller's contract; the direction flag is set for the copy and cleared after it, as
    // the System V ABI requires at every call and return.
    unsafe {
        std::arch::asm!(
            "std",
            "rep movsb",
            "cld",
            inout("rcx") n => _,
            inout("rdi") dst.add(n - 1) => _,
            inout("rsi") src.add(n - 1) => _,
            options(nostack),
        );
    }
}

// Elsewhere only the tests use `copy`, through the standard library's own copies.
#[cfg(not(target_arch = "x86_64"))]
unsafe fn rep_movsb(dst: *mut u8, src: *const u8, n: usize) {
    unsafe { std::ptr::copy(src, dst, n) }
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn rep_movsb_backward(dst: *mut u8, src: *const u8, n: usize) {
    unsafe { std::ptr::copy(src, dst, n) }
}

/// The C `memcpy`, for every copy in the static musl build (Rust's and musl's own).
///
/// # Safety
/// The C contract: `src` valid for reads and `dst` for writes of `n` bytes.
#[cfg(all(target_env = "musl", target_arch = "x86_64"))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    unsafe { copy(dst, src, n) };
    dst
}

/// The C `memmove`: [`memcpy`] already copies overlapping regions right.
///
/// # Safety
/// As [`memcpy`].
#[cfg(all(target_env = "musl", target_arch = "x86_64"))]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    unsafe { copy(dst, src, n) };
    dst
}

#[cfg(test)]
mod tests {
    use super::copy;

    /// What `memmove` means, a byte at a time.
    fn reference(buf: &mut [u8], to: usize, from: usize, n: usize) {
        let original = buf.to_vec();
        buf[to..to + n].copy_from_slice(&original[from..from + n]);
    }

    fn lengths() -> impl Iterator<Item = usize> {
        (0..=300).chain([511, 512, 513, 4095, 4096, 4097, 65_536 + 3])
    }

    #[test]
    fn copies_every_length_at_every_offset() {
        for n in lengths() {
            for (from, to) in [(0, 0), (1, 0), (0, 1), (3, 13), (15, 8), (7, 7), (63, 1)] {
                let src: Vec<u8> = (0..n + 64).map(|i| (i * 7 + 3) as u8).collect();
                let mut dst = vec![0xEEu8; n + 64];
                unsafe { copy(dst.as_mut_ptr().add(to), src.as_ptr().add(from), n) };
                assert_eq!(
                    &dst[to..to + n],
                    &src[from..from + n],
                    "n {n}, {from} -> {to}"
                );
                assert!(dst[..to].iter().all(|b| *b == 0xEE), "n {n}: wrote before");
                assert!(
                    dst[to + n..].iter().all(|b| *b == 0xEE),
                    "n {n}: wrote after"
                );
            }
        }
    }

    #[test]
    fn overlapping_copies_move_as_memmove_does_both_ways() {
        for n in lengths().filter(|n| *n > 0) {
            for shift in [1, 2, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, n / 2 + 1] {
                for (from, to) in [(0, shift), (shift, 0)] {
                    let mut buf: Vec<u8> = (0..n + shift + 8).map(|i| (i * 13 + 5) as u8).collect();
                    let mut expected = buf.clone();
                    reference(&mut expected, to, from, n);
                    let p = buf.as_mut_ptr();
                    unsafe { copy(p.add(to), p.add(from), n) };
                    assert!(buf == expected, "n {n}, {from} -> {to}");
                }
            }
        }
    }
}
