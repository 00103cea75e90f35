//! The organization statement index: for each action, the statements whose resources
//! are confined to one bucket (looked up by that bucket) and the rest (`generic`), so
//! a decision looks only at statements that can match, however many buckets exist.

use super::catalog::Action;
use super::compile::CompiledPolicy;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// FNV-1a: a fast hash for the small string keys (bucket names) looked up on every
/// decision. The maps' keys come from operator-written policies, never from clients,
/// so a keyed hash buys nothing here.
#[derive(Default)]
pub struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

/// A statement of an organization policy, by position.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct StatementRef {
    pub policy: u32,
    pub statement: u32,
}

#[derive(Debug, Default)]
struct ActionIndex {
    generic: Vec<StatementRef>,
    by_bucket: FastMap<Box<str>, Vec<StatementRef>>,
}

/// Organization statements by action, then by bucket.
#[derive(Debug)]
pub struct OrgIndex {
    by_action: Vec<ActionIndex>,
}

impl OrgIndex {
    pub fn build(org: &[CompiledPolicy]) -> OrgIndex {
        let mut by_action: Vec<ActionIndex> = (0..Action::count())
            .map(|_| ActionIndex::default())
            .collect();
        for (pi, policy) in org.iter().enumerate() {
            for (si, s) in policy.statements.iter().enumerate() {
                let r = StatementRef {
                    policy: u32::try_from(pi).unwrap_or(u32::MAX),
                    statement: u32::try_from(si).unwrap_or(u32::MAX),
                };
                let mut buckets = s.resources.bucket_keys();
                if let Some(bs) = &mut buckets {
                    bs.sort();
                    bs.dedup();
                }
                for action in s.actions.iter() {
                    let Some(entry) = by_action.get_mut(action.index()) else {
                        continue;
                    };
                    match &buckets {
                        Some(bs) => {
                            for b in bs {
                                entry
                                    .by_bucket
                                    .entry(b.as_str().into())
                                    .or_default()
                                    .push(r);
                            }
                        }
                        None => entry.generic.push(r),
                    }
                }
            }
        }
        OrgIndex { by_action }
    }

    /// The statements that may apply to `action` on `bucket`, in (policy, statement)
    /// order.
    pub fn candidates<'a>(
        &'a self,
        action: Action,
        bucket: Option<&str>,
    ) -> impl Iterator<Item = StatementRef> + 'a {
        let entry = self.by_action.get(action.index());
        let generic = entry.map_or(&[][..], |e| e.generic.as_slice());
        let specific = entry
            .zip(bucket)
            .and_then(|(e, b)| e.by_bucket.get(b))
            .map_or(&[][..], Vec::as_slice);
        merge(generic, specific)
    }
}

/// Two sorted statement lists merged in order.
fn merge<'a>(
    a: &'a [StatementRef],
    b: &'a [StatementRef],
) -> impl Iterator<Item = StatementRef> + 'a {
    let (mut i, mut j) = (0, 0);
    std::iter::from_fn(move || match (a.get(i), b.get(j)) {
        (Some(x), Some(y)) if x <= y => {
            i += 1;
            Some(*x)
        }
        (_, Some(y)) => {
            j += 1;
            Some(*y)
        }
        (Some(x), None) => {
            i += 1;
            Some(*x)
        }
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_order() {
        let r = |p, s| StatementRef {
            policy: p,
            statement: s,
        };
        let a = [r(0, 1), r(2, 0)];
        let b = [r(0, 0), r(1, 5), r(3, 0)];
        let merged: Vec<_> = merge(&a, &b).collect();
        assert_eq!(merged, vec![r(0, 0), r(0, 1), r(1, 5), r(2, 0), r(3, 0)]);
    }
}
