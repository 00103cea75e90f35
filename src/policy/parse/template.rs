//! Policy variables (`${key}`, `${key, 'default'}`, `${*}`; `spec/policy-language.md` §5)
//! and splitting templates into ARN segments.

use super::Parser;
use crate::policy::catalog::ConditionKey;
use crate::policy::model::*;

impl Parser<'_, '_> {
    /// Read text with policy variables (`${key}`, `${key, 'default'}`, `${*}`), or as
    /// plain text under Version 2008-10-17.
    pub(super) fn template(&mut self, path: &str, text: &str) -> Option<Template> {
        if self.version == Version::V2008_10_17 {
            if text.contains("${") {
                self.warn(path, "policy variables are plain text under Version 2008-10-17; use \"Version\": \"2012-10-17\"");
            }
            return Some(Template::text(text));
        }
        match parse_template(text) {
            Ok(raw) => {
                let mut pieces = Vec::with_capacity(raw.len());
                for piece in raw {
                    pieces.push(match piece {
                        RawPiece::Text(t) => Piece::Text(t),
                        RawPiece::Literal(t) => Piece::Literal(t),
                        RawPiece::Variable(name, default) => {
                            let key = self.variable_key(path, &name)?;
                            Piece::Variable { key, default }
                        }
                    });
                }
                Some(Template { pieces })
            }
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }

    pub(super) fn variable_key(&mut self, path: &str, name: &str) -> Option<ConditionKey> {
        match ConditionKey::lookup(name) {
            Some(k) if k.is_multivalued() => {
                self.error(
                    path,
                    format!("policy variable `${{{name}}}` names a multivalued key"),
                );
                None
            }
            Some(k) => Some(k),
            None if self.opts.allow_unknown_condition_keys => {
                self.warn(path, format!("unknown condition key `{name}` in a policy variable: it has no value in any request"));
                Some(ConditionKey::unknown(name))
            }
            None => {
                self.error(
                    path,
                    format!("Policy has an invalid condition key in a policy variable: `{name}`"),
                );
                None
            }
        }
    }
}

enum RawPiece {
    Text(String),
    Literal(String),
    Variable(String, Option<String>),
}

/// Split text into literal runs and `${…}` variables.
fn parse_template(text: &str) -> Result<Vec<RawPiece>, String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 {
            pieces.push(RawPiece::Text(rest.get(..start).unwrap_or("").to_owned()));
        }
        let body = rest.get(start + 2..).unwrap_or("");
        let (piece, consumed) = parse_variable(body)
            .ok_or_else(|| format!("malformed policy variable in `{text}` (expected `${{key}}` or `${{key, 'default'}}`)"))?;
        pieces.push(piece);
        rest = body.get(consumed..).unwrap_or("");
    }
    if !rest.is_empty() {
        pieces.push(RawPiece::Text(rest.to_owned()));
    }
    Ok(pieces)
}

/// Parse the inside of `${…}`; returns the piece and the bytes used, `}` included.
fn parse_variable(body: &str) -> Option<(RawPiece, usize)> {
    for (escape, lit) in [("*}", "*"), ("?}", "?"), ("$}", "$")] {
        if body.starts_with(escape) {
            return Some((RawPiece::Literal(lit.to_owned()), 2));
        }
    }
    let end_key = body.find([',', '}'])?;
    let key = body.get(..end_key)?.trim();
    if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic()) {
        return None;
    }
    if body.get(end_key..)?.starts_with('}') {
        return Some((RawPiece::Variable(key.to_owned(), None), end_key + 1));
    }
    // `, 'default'` with `''` for a quote inside.
    let after_comma = body.get(end_key + 1..)?;
    let trimmed = after_comma.trim_start();
    let mut pos = end_key + 1 + (after_comma.len() - trimmed.len());
    let quoted = trimmed.strip_prefix('\'')?;
    pos += 1;
    let mut default = String::new();
    let mut chars = quoted.char_indices().peekable();
    loop {
        let (i, c) = chars.next()?;
        if c == '\'' {
            if let Some((_, '\'')) = chars.peek() {
                chars.next();
                default.push('\'');
                continue;
            }
            pos += i + 1;
            break;
        }
        default.push(c);
    }
    let tail = body.get(pos..)?;
    let tail_trimmed = tail.trim_start();
    pos += tail.len() - tail_trimmed.len();
    tail_trimmed
        .starts_with('}')
        .then(|| (RawPiece::Variable(key.to_owned(), Some(default)), pos + 1))
}

/// Split a template into six ARN segments at the first five `:` of its text pieces
/// (a variable's value never splits segments).
pub fn split_template(t: &Template) -> Option<Box<[Template; 6]>> {
    let mut segments: Vec<Template> = vec![Template::default()];
    for piece in &t.pieces {
        match piece {
            Piece::Text(text) => {
                let mut rest = text.as_str();
                while segments.len() < 6 {
                    let Some((head, tail)) = rest.split_once(':') else {
                        break;
                    };
                    if !head.is_empty() {
                        segments
                            .last_mut()?
                            .pieces
                            .push(Piece::Text(head.to_owned()));
                    }
                    segments.push(Template::default());
                    rest = tail;
                }
                if !rest.is_empty() {
                    segments
                        .last_mut()?
                        .pieces
                        .push(Piece::Text(rest.to_owned()));
                }
            }
            other => segments.last_mut()?.pieces.push(other.clone()),
        }
    }
    let array: [Template; 6] = segments.try_into().ok()?;
    Some(Box::new(array))
}

/// Tokens of a static template: `Text` wildcards are wildcards when `wild`.
pub fn template_tokens(t: &Template, wild: bool) -> Vec<crate::policy::wildcard::Token> {
    use crate::policy::wildcard::{glob_tokens, literal_tokens};
    let mut out = Vec::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) if wild => out.extend(glob_tokens(s)),
            Piece::Text(s) | Piece::Literal(s) => out.extend(literal_tokens(s)),
            Piece::Variable { .. } => {}
        }
    }
    out
}

/// The literal characters at the start of a resource segment, up to the first
/// wildcard or variable.
pub(super) fn literal_prefix(t: &Template) -> String {
    let mut out = String::new();
    for piece in &t.pieces {
        match piece {
            Piece::Text(s) => match s.find(['*', '?']) {
                Some(i) => {
                    out.push_str(s.get(..i).unwrap_or(""));
                    return out;
                }
                None => out.push_str(s),
            },
            Piece::Literal(s) => out.push_str(s),
            Piece::Variable { .. } => return out,
        }
    }
    out
}

/// True when the segment is all literal (its literal prefix is the whole of it).
pub(super) fn prefix_is_whole(t: &Template) -> bool {
    t.pieces.iter().all(|p| match p {
        Piece::Text(s) => !s.contains(['*', '?']),
        Piece::Literal(_) => true,
        Piece::Variable { .. } => false,
    })
}
