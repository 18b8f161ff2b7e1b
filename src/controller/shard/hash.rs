//! Which shard serves a resource: a stable, consistent hash of its uid over the shard count.

/// FNV-1a, 64 bit: stable across processes, versions and platforms (unlike std's `Hasher`s,
/// which are randomly seeded or may change between Rust releases).
fn fnv1a64(bytes: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// Jump consistent hash (Lamping and Veach, 2014): the bucket of `key` out of `buckets`. When
/// the count grows from n to n+1, a key either stays or moves to the new bucket n, so only
/// 1/(n+1) of the resources change shards.
fn jump(mut key: u64, buckets: u32) -> u32 {
    let (mut b, mut j): (i64, i64) = (-1, 0);
    while j < i64::from(buckets) {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // As the reference: ((b + 1) * 2^31 / ((key >> 33) + 1)), in floating point.
        j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
    }
    u32::try_from(b).unwrap_or(0)
}

/// The shard (`0..shards`) that serves the resource with `uid`; 0 when `shards` is 0 or 1.
/// The same as kube-state-metrics' sharding: the jump hash of the 64-bit FNV-1a of the uid.
pub fn shard_of(uid: &str, shards: u32) -> u32 {
    if shards <= 1 {
        return 0;
    }
    jump(fnv1a64(uid.as_bytes()), shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_the_published_test_vectors() {
        // From the FNV reference (www.isthe.com/chongo/tech/comp/fnv), as Go's hash/fnv.
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn shard_of_is_stable_and_in_range() {
        let uid = "4c3d9a3e-6f0b-4c1e-9f5e-2d7b8a1c0e11";
        for shards in [0, 1] {
            assert_eq!(shard_of(uid, shards), 0);
        }
        for shards in 2..=16 {
            let shard = shard_of(uid, shards);
            assert!(shard < shards);
            assert_eq!(shard, shard_of(uid, shards), "stable");
        }
    }

    #[test]
    fn a_grown_count_moves_resources_only_to_the_new_shard() {
        let uids: Vec<String> = (0..2000)
            .map(|i| format!("00000000-0000-4000-8000-{i:012x}"))
            .collect();
        for shards in 1..12 {
            let mut moved = 0;
            for uid in &uids {
                let (before, after) = (shard_of(uid, shards), shard_of(uid, shards + 1));
                if before != after {
                    assert_eq!(after, shards, "{uid}: {before} -> {after}");
                    moved += 1;
                }
            }
            // About 1/(n+1) of them.
            let expected = uids.len() / (shards as usize + 1);
            assert!(
                moved > expected * 3 / 4 && moved < expected * 5 / 4,
                "{shards} -> {}: {moved} moved, about {expected} expected",
                shards + 1
            );
        }
    }

    #[test]
    fn uids_spread_over_every_shard() {
        let shards = 3;
        let mut counts = [0usize; 3];
        for i in 0..3000 {
            let uid = format!("00000000-0000-4000-8000-{i:012x}");
            counts[shard_of(&uid, shards) as usize] += 1;
        }
        // About a third each; a hash that sent most to one shard would fail this.
        for count in counts {
            assert!((800..=1200).contains(&count), "{counts:?}");
        }
    }
}
