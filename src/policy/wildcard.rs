//! Wildcard patterns (`*` any run of characters, `?` exactly one character), matched in
//! time linear in the input for any pattern: no backtracking.
//!
//! A pattern `S0*S1*…*Sk` is matched by anchoring `S0` at the start and `Sk` at the end,
//! then finding each middle segment at its leftmost position (greedy leftmost is exact
//! for `*`-separated segments). Each search is a bit-parallel Shift-And over the input,
//! so a segment of `m` units costs `O(n·⌈m/64⌉)` for an input of `n` characters.

use std::collections::BTreeMap;

/// One unit of a pattern as built by the compiler: wildcards or a literal character.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    Literal(char),
    AnyOne,
    AnyMany,
}

/// Turn glob text into tokens: `*` and `?` are wildcards, everything else literal.
pub fn glob_tokens(text: &str) -> impl Iterator<Item = Token> + '_ {
    text.chars().map(|c| match c {
        '*' => Token::AnyMany,
        '?' => Token::AnyOne,
        c => Token::Literal(c),
    })
}

/// Tokens that match `text` literally.
pub fn literal_tokens(text: &str) -> impl Iterator<Item = Token> + '_ {
    text.chars().map(Token::Literal)
}

/// A compiled wildcard pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// No wildcard at all: plain string equality.
    Exact(Box<str>),
    /// `*` alone (or only stars): matches everything.
    Everything,
    /// No star, but `?` somewhere: a fixed-length match.
    Fixed(Box<Segment>),
    /// At least one star.
    Starred(Box<Starred>),
}

/// `first*middle…*last`.
#[derive(Clone, Debug)]
struct Starred {
    first: Segment,
    middle: Vec<Segment>,
    last: Segment,
}

/// A star-free run of units; `None` is `?`.
#[derive(Clone, Debug, Default)]
struct Segment {
    units: Vec<Option<char>>,
    /// The segment as text when it has no `?` and is anchored at the start or the
    /// end: matched with `starts_with` / `ends_with`. (Middle segments always use
    /// Shift-And, which measured faster than `str::find` on short inputs.)
    literal: Option<Box<str>>,
    /// Shift-And tables, built only for middle segments (which are searched).
    search: Option<ShiftAnd>,
}

#[derive(Clone, Debug)]
struct ShiftAnd {
    words: usize,
    /// Bits set where the unit is `?` (matches any character).
    any: Vec<u64>,
    /// Per ASCII character, bits set where the unit is that character.
    ascii: Vec<u64>,
    /// Per other character present in the segment, its bits.
    other: BTreeMap<char, Vec<u64>>,
}

impl Pattern {
    /// Compile glob text (`*`, `?` wildcards).
    pub fn glob(text: &str) -> Pattern {
        Pattern::from_tokens(glob_tokens(text))
    }

    /// Compile a sequence of tokens.
    pub fn from_tokens(tokens: impl IntoIterator<Item = Token>) -> Pattern {
        let mut segments: Vec<Vec<Option<char>>> = vec![Vec::new()];
        let mut stars = 0usize;
        let mut wild = false;
        for t in tokens {
            match t {
                Token::AnyMany => {
                    stars += 1;
                    wild = true;
                    if segments.last().is_some_and(|s| !s.is_empty()) || segments.len() == 1 {
                        segments.push(Vec::new());
                    }
                }
                Token::AnyOne => {
                    wild = true;
                    if let Some(s) = segments.last_mut() {
                        s.push(None);
                    }
                }
                Token::Literal(c) => {
                    if let Some(s) = segments.last_mut() {
                        s.push(Some(c));
                    }
                }
            }
        }
        if !wild {
            let text: String = segments.concat().into_iter().flatten().collect();
            return Pattern {
                kind: Kind::Exact(text.into()),
            };
        }
        if stars == 0 {
            let units = segments.concat();
            return Pattern {
                kind: Kind::Fixed(Box::new(Segment::plain(units))),
            };
        }
        // segments[0] is before the first star, the last is after the last star;
        // empty runs between consecutive stars were never pushed.
        let first = segments.first().cloned().unwrap_or_default();
        let last = if segments.len() >= 2 {
            segments.last().cloned().unwrap_or_default()
        } else {
            Vec::new()
        };
        let middle: Vec<Segment> = segments
            .iter()
            .skip(1)
            .take(segments.len().saturating_sub(2))
            .filter(|s| !s.is_empty())
            .map(|s| Segment::searchable(s.clone()))
            .collect();
        if first.is_empty() && last.is_empty() && middle.is_empty() {
            return Pattern {
                kind: Kind::Everything,
            };
        }
        Pattern {
            kind: Kind::Starred(Box::new(Starred {
                first: Segment::plain(first),
                middle,
                last: Segment::plain(last),
            })),
        }
    }

    /// True when the pattern has no wildcard.
    pub fn as_literal(&self) -> Option<&str> {
        match &self.kind {
            Kind::Exact(s) => Some(s),
            _ => None,
        }
    }

    /// The literal characters before the first wildcard.
    pub fn literal_prefix(&self) -> String {
        match &self.kind {
            Kind::Exact(s) => s.to_string(),
            Kind::Everything => String::new(),
            Kind::Fixed(seg) => seg.units.iter().map_while(|u| *u).collect(),
            Kind::Starred(st) => st.first.units.iter().map_while(|u| *u).collect(),
        }
    }

    /// Does the whole of `input` match the pattern?
    pub fn matches(&self, input: &str) -> bool {
        match &self.kind {
            Kind::Exact(s) => **s == *input,
            Kind::Everything => true,
            Kind::Fixed(seg) => {
                let mut chars = input.chars();
                seg.units
                    .iter()
                    .all(|u| chars.next().is_some_and(|c| unit_matches(*u, c)))
                    && chars.next().is_none()
            }
            Kind::Starred(st) => {
                let Starred {
                    first,
                    middle,
                    last,
                } = &**st;
                let start = match &first.literal {
                    Some(lit) if input.starts_with(&**lit) => lit.len(),
                    Some(_) => return false,
                    None => match match_prefix(&first.units, input) {
                        Some(start) => start,
                        None => return false,
                    },
                };
                let end = match &last.literal {
                    Some(lit) if input.ends_with(&**lit) => input.len() - lit.len(),
                    Some(_) => return false,
                    None => match match_suffix(&last.units, input) {
                        Some(end) => end,
                        None => return false,
                    },
                };
                if end < start {
                    return false;
                }
                let Some(mut window) = input.get(start..end) else {
                    return false;
                };
                let ascii = window.is_ascii();
                for seg in middle {
                    match seg.find_end(window, ascii) {
                        Some(after) => window = window.get(after..).unwrap_or(""),
                        None => return false,
                    }
                }
                true
            }
        }
    }
}

fn unit_matches(unit: Option<char>, c: char) -> bool {
    unit.is_none_or(|u| u == c)
}

/// Byte offset after `units` matched at the start of `input`.
fn match_prefix(units: &[Option<char>], input: &str) -> Option<usize> {
    let mut iter = input.char_indices();
    for u in units {
        let (_, c) = iter.next()?;
        if !unit_matches(*u, c) {
            return None;
        }
    }
    Some(iter.next().map_or(input.len(), |(i, _)| i))
}

/// Byte offset where `units` matched at the end of `input` begin.
fn match_suffix(units: &[Option<char>], input: &str) -> Option<usize> {
    let mut iter = input.char_indices().rev();
    let mut start = input.len();
    for u in units.iter().rev() {
        let (i, c) = iter.next()?;
        if !unit_matches(*u, c) {
            return None;
        }
        start = i;
    }
    Some(start)
}

impl Segment {
    fn literal_text(units: &[Option<char>]) -> Option<Box<str>> {
        units
            .iter()
            .copied()
            .collect::<Option<String>>()
            .map(String::into_boxed_str)
    }

    /// A segment matched only at the start or the end.
    fn plain(units: Vec<Option<char>>) -> Segment {
        Segment {
            literal: Segment::literal_text(&units),
            units,
            search: None,
        }
    }

    fn searchable(units: Vec<Option<char>>) -> Segment {
        let words = units.len().div_ceil(64).max(1);
        let mut any = vec![0u64; words];
        let mut ascii = vec![0u64; 128 * words];
        let mut other: BTreeMap<char, Vec<u64>> = BTreeMap::new();
        for (i, u) in units.iter().enumerate() {
            let (w, bit) = (i / 64, 1u64 << (i % 64));
            match u {
                None => {
                    if let Some(x) = any.get_mut(w) {
                        *x |= bit;
                    }
                }
                Some(c) if c.is_ascii() => {
                    if let Some(x) = ascii.get_mut(*c as usize * words + w) {
                        *x |= bit;
                    }
                }
                Some(c) => {
                    let entry = other.entry(*c).or_insert_with(|| vec![0u64; words]);
                    if let Some(x) = entry.get_mut(w) {
                        *x |= bit;
                    }
                }
            }
        }
        Segment {
            units,
            literal: None,
            search: Some(ShiftAnd {
                words,
                any,
                ascii,
                other,
            }),
        }
    }

    /// The byte offset just after the leftmost occurrence of the segment in `input`.
    /// `ascii` says whether `input` is all ASCII (checked once per match, not per
    /// segment, to keep the whole match linear).
    fn find_end(&self, input: &str, ascii: bool) -> Option<usize> {
        let table = self.search.as_ref()?;
        let len = self.units.len();
        if len == 0 {
            return Some(0);
        }
        let top_word = (len - 1) / 64;
        let top_bit = 1u64 << ((len - 1) % 64);
        if table.words == 1 {
            let any = table.any.first().copied().unwrap_or(0);
            let mut state = 0u64;
            if ascii {
                // One byte is one character: index the table directly.
                let ascii: &[u64; 128] = table.ascii.as_slice().try_into().ok()?;
                for (i, b) in input.bytes().enumerate() {
                    let mask = ascii.get(usize::from(b & 0x7f)).copied().unwrap_or(0);
                    state = ((state << 1) | 1) & (any | mask);
                    if state & top_bit != 0 {
                        return Some(i + 1);
                    }
                }
                return None;
            }
            for (i, c) in input.char_indices() {
                let mask = any | table.mask_word(c, 0);
                state = ((state << 1) | 1) & mask;
                if state & top_bit != 0 {
                    return Some(i + c.len_utf8());
                }
            }
            return None;
        }
        let mut state = vec![0u64; table.words];
        for (i, c) in input.char_indices() {
            let mut carry = 1u64;
            for (w, s) in state.iter_mut().enumerate() {
                let next_carry = *s >> 63;
                let mask = table.any.get(w).copied().unwrap_or(0) | table.mask_word(c, w);
                *s = ((*s << 1) | carry) & mask;
                carry = next_carry;
            }
            if state.get(top_word).is_some_and(|s| s & top_bit != 0) {
                return Some(i + c.len_utf8());
            }
        }
        None
    }
}

impl ShiftAnd {
    fn mask_word(&self, c: char, w: usize) -> u64 {
        if c.is_ascii() {
            self.ascii
                .get(c as usize * self.words + w)
                .copied()
                .unwrap_or(0)
        } else {
            self.other
                .get(&c)
                .and_then(|v| v.get(w))
                .copied()
                .unwrap_or(0)
        }
    }
}

/// A direct recursive matcher, exponential in the worst case: the test oracle only.
#[cfg(test)]
pub fn naive_matches(pattern: &[Token], input: &[char]) -> bool {
    match pattern.split_first() {
        None => input.is_empty(),
        Some((Token::AnyMany, rest)) => (0..=input.len()).any(|i| naive_matches(rest, &input[i..])),
        Some((Token::AnyOne, rest)) => !input.is_empty() && naive_matches(rest, &input[1..]),
        Some((Token::Literal(c), rest)) => {
            input.first() == Some(c) && naive_matches(rest, &input[1..])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, s: &str) -> bool {
        Pattern::glob(p).matches(s)
    }

    #[test]
    fn basics() {
        assert!(m("abc", "abc"));
        assert!(!m("abc", "abcd"));
        assert!(m("*", ""));
        assert!(m("**", "anything/at:all"));
        assert!(m("a*", "a"));
        assert!(m("*c", "abc"));
        assert!(!m("*c", "abd"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXcYYb"));
        assert!(m("a?c", "abc"));
        assert!(!m("a?c", "ac"));
        assert!(m("?", "é"));
        assert!(!m("?", "ab"));
        assert!(m("*é*ü?", "xéyüz"));
        assert!(!m("ab*ba", "aba"));
        assert!(m("ab*ab", "abab"));
        assert!(m("*aab", "aaab"));
        assert!(m("a*aa*a", "aaaa"));
        assert!(!m("a*aa*a", "aaa"));
    }

    #[test]
    fn long_segments_use_multiword_tables() {
        let seg: String = "ab?".repeat(50);
        let input = format!("zz{}yy", "abc".repeat(50));
        assert!(m(&format!("*{seg}*"), &input));
        assert!(!m(&format!("*{seg}d*"), &input));
    }

    #[test]
    fn hostile_pattern_is_fast() {
        let pattern = "*a".repeat(64) + "*b";
        let input = "a".repeat(1024);
        // A backtracking matcher would not finish this in any reasonable time; the
        // timing itself is measured in `benches/policy.rs`.
        let p = Pattern::glob(&pattern);
        assert!(!p.matches(&input));
        assert!(p.matches(&(input.clone() + "b")));
    }

    fn token() -> impl Strategy<Value = Token> {
        prop_oneof![
            Just(Token::AnyMany),
            Just(Token::AnyOne),
            prop::sample::select(vec!['a', 'b', '/', 'é']).prop_map(Token::Literal),
        ]
    }

    proptest! {
        #[test]
        fn agrees_with_naive(pattern in prop::collection::vec(token(), 0..10),
                             input in "[ab/é]{0,12}") {
            let chars: Vec<char> = input.chars().collect();
            prop_assert_eq!(
                Pattern::from_tokens(pattern.clone()).matches(&input),
                naive_matches(&pattern, &chars)
            );
        }
    }
}
