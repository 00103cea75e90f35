//! The policy engine against the naive reference evaluator of `tests/support/naive.rs`:
//! worlds of organization, identity and bucket policies and requests chosen by the
//! fuzzer, from the property test's pools and from operators, keys and values combined
//! freely. A disagreement is a crash; a world whose policies do not parse is skipped.
#![no_main]

#[path = "../../tests/support/naive.rs"]
mod naive;

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use naive::*;

const VALUES: &[&str] = &[
    "a*",
    "alice",
    "${aws:username}",
    "${aws:username}/*",
    "${s3:prefix}",
    "${aws:userid, 'anon'}",
    "10.0.0.0/8",
    "::/0",
    "10.1.2.3",
    "2026-01-01T00:00:00Z",
    "1767225600",
    "5",
    "100.5",
    "-1",
    "true",
    "false",
    "YQ==",
    "arn:aws:iam::*:user/a*",
    "arn:aws:iam::111122223333:user/alice",
    "",
    "*",
    "?",
];

fn pick<'a, T>(u: &mut Unstructured<'_>, list: &'a [T]) -> Result<&'a T> {
    u.choose(list)
}

fn json_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn value(u: &mut Unstructured<'_>) -> Result<String> {
    if u.ratio(3, 4)? {
        Ok((*pick(u, VALUES)?).to_owned())
    } else {
        let s: &str = u.arbitrary()?;
        Ok(s.chars().take(24).collect())
    }
}

fn condition(u: &mut Unstructured<'_>) -> Result<(String, String, String)> {
    if u.ratio(1, 2)? {
        let (op, key, values) = *pick(u, CONDITIONS)?;
        return Ok((op.to_owned(), key.to_owned(), values.to_owned()));
    }
    let (prefix, suffix) = *pick(u, OPERATOR_FORMS)?;
    let op = format!("{prefix}{}{suffix}", pick(u, OPERATORS)?);
    let key = (*pick(u, KEYS)?).to_owned();
    let n = u.int_in_range(1..=3)?;
    let mut values = Vec::new();
    for _ in 0..n {
        values.push(json_string(&value(u)?));
    }
    let values = if n == 1 && u.arbitrary()? {
        values.remove(0)
    } else {
        format!("[{}]", values.join(", "))
    };
    Ok((op, key, values))
}

fn subset(u: &mut Unstructured<'_>, list: &'static [&'static str]) -> Result<Vec<&'static str>> {
    let n = u.int_in_range(1..=2)?;
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(*pick(u, list)?);
    }
    Ok(out)
}

fn stmt(
    u: &mut Unstructured<'_>,
    with_principal: bool,
    resources: &'static [&'static str],
) -> Result<Stmt> {
    let deny = u.arbitrary()?;
    let principal = if with_principal {
        Some((u.ratio(1, 5)?, subset(u, PRINCIPALS)?))
    } else {
        None
    };
    let actions = (u.ratio(1, 7)?, subset(u, ACTIONS)?);
    let resources = (u.ratio(1, 7)?, subset(u, resources)?);
    let n = u.int_in_range(0..=2)?;
    let mut conditions = Vec::new();
    for _ in 0..n {
        conditions.push(condition(u)?);
    }
    Ok(Stmt {
        deny,
        principal,
        actions,
        resources,
        conditions,
    })
}

fn stmts(
    u: &mut Unstructured<'_>,
    min: usize,
    max: usize,
    with_principal: bool,
    resources: &'static [&'static str],
) -> Result<Vec<Stmt>> {
    let n = u.int_in_range(min..=max)?;
    (0..n).map(|_| stmt(u, with_principal, resources)).collect()
}

fn request(u: &mut Unstructured<'_>) -> Result<Req> {
    let principal = u.int_in_range(0..=3)?;
    let action = *pick(u, REQUEST_ACTIONS)?;
    let resource = *pick(u, REQUEST_RESOURCES)?;
    let mut context = Vec::new();
    for (key, options) in REQUEST_KEYS {
        if !u.ratio(1, 3)? {
            continue;
        }
        let values = if u.ratio(3, 4)? {
            pick(u, options)?.iter().map(|s| (*s).to_owned()).collect()
        } else {
            let n = u.int_in_range(0..=2)?;
            (0..n).map(|_| value(u)).collect::<Result<Vec<_>>>()?
        };
        context.push((*key, values));
    }
    Ok(Req {
        principal,
        action,
        resource,
        context,
    })
}

fn world(u: &mut Unstructured<'_>) -> Result<(World, Vec<Req>)> {
    let world = World {
        aws_mode: u.arbitrary()?,
        org1: stmts(u, 1, 4, true, ORG_RESOURCES)?,
        org2: stmts(u, 0, 2, true, ORG_RESOURCES)?,
        ident: stmts(u, 0, 2, false, IDENTITY_RESOURCES)?,
        b1: stmts(u, 0, 3, true, B1_RESOURCES)?,
    };
    let n = u.int_in_range(1..=6)?;
    let reqs = (0..n).map(|_| request(u)).collect::<Result<Vec<_>>>()?;
    Ok((world, reqs))
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok((w, reqs)) = world(&mut u) else {
        return;
    };
    if let Err(Mismatch::Disagree(why)) = compare(&w, &reqs) {
        panic!("the engine and the reference evaluator disagree: {why}");
    }
});
