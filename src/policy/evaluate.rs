//! Evaluate compiled conditions against a request context (`spec/policy-language.md` §3).
//!
//! AWS reference: <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html>.

use super::compile::{
    CompiledCondition, CompiledValue, Truth, arn_patterns, substitute, tokens_text,
};
use super::context::Context;
use super::model::{BaseOperator, Comparison, SetQualifier};
use super::values::{Decimal, Timestamp, arn_segments, parse_bool};
use super::wildcard::Pattern;
use std::cmp::Ordering;
use std::net::IpAddr;

/// A condition block: false as soon as one condition is false; unevaluable when none
/// is false and at least one is unevaluable.
pub fn conditions_hold(conditions: &[CompiledCondition], ctx: &Context) -> Truth {
    let mut unevaluable = None;
    for c in conditions {
        match evaluate(c, ctx) {
            Truth::True => {}
            Truth::False => return Truth::False,
            Truth::Unevaluable(why) => {
                unevaluable.get_or_insert(why);
            }
        }
    }
    unevaluable.map_or(Truth::True, Truth::Unevaluable)
}

/// One condition: an operator on one key.
pub fn evaluate(c: &CompiledCondition, ctx: &Context) -> Truth {
    let values = ctx.get(&c.key).filter(|v| !v.is_empty());
    let op = &c.operator;
    if op.base == BaseOperator::Null {
        let absent = values.is_none();
        let holds = c
            .values
            .iter()
            .any(|v| matches!(v, CompiledValue::Null(want_absent) if *want_absent == absent));
        return truth(holds);
    }
    let Some(values) = values else {
        return truth(
            op.if_exists
                || match op.set {
                    Some(SetQualifier::ForAllValues) => true,
                    Some(SetQualifier::ForAnyValue) => false,
                    None => op.negated,
                },
        );
    };
    match op.set {
        None => match values {
            [one] => single(c, one, ctx),
            _ => Truth::Unevaluable(format!(
                "`{}` has {} values in this request but `{}` compares one",
                c.key,
                values.len(),
                op.name
            )),
        },
        Some(SetQualifier::ForAnyValue) => {
            let mut unevaluable = None;
            for v in values {
                match single(c, v, ctx) {
                    Truth::True => return Truth::True,
                    Truth::False => {}
                    Truth::Unevaluable(why) => {
                        unevaluable.get_or_insert(why);
                    }
                }
            }
            unevaluable.map_or(Truth::False, Truth::Unevaluable)
        }
        Some(SetQualifier::ForAllValues) => {
            let mut unevaluable = None;
            for v in values {
                match single(c, v, ctx) {
                    Truth::True => {}
                    Truth::False => return Truth::False,
                    Truth::Unevaluable(why) => {
                        unevaluable.get_or_insert(why);
                    }
                }
            }
            unevaluable.map_or(Truth::True, Truth::Unevaluable)
        }
    }
}

fn truth(b: bool) -> Truth {
    if b { Truth::True } else { Truth::False }
}

/// A request value read as the operator's type.
enum Request<'a> {
    Text(&'a str),
    Numeric(Decimal),
    Date(Timestamp),
    Bool(bool),
    Ip(IpAddr),
    Arn([&'a str; 6]),
}

fn read(base: BaseOperator, v: &str) -> Option<Request<'_>> {
    Some(match base {
        BaseOperator::StringEquals
        | BaseOperator::StringEqualsIgnoreCase
        | BaseOperator::StringLike
        | BaseOperator::BinaryEquals
        | BaseOperator::Null => Request::Text(v),
        BaseOperator::Numeric(_) => Request::Numeric(Decimal::parse(v)?),
        BaseOperator::Date(_) => Request::Date(Timestamp::parse(v)?),
        BaseOperator::Bool => Request::Bool(parse_bool(v)?),
        BaseOperator::IpAddress => Request::Ip(v.parse().ok()?),
        BaseOperator::ArnLike => Request::Arn(arn_segments(v)?),
    })
}

/// One request value against every policy value: a positive operator holds when
/// some value matches; a negated one when none does. A policy value whose variable
/// has no value matches nothing, and makes a negated operator unevaluable (it cannot
/// prove the request differs from a value it cannot know).
fn single(c: &CompiledCondition, v: &str, ctx: &Context) -> Truth {
    let op = &c.operator;
    let Some(request) = read(op.base, v) else {
        return Truth::Unevaluable(format!(
            "`{}` value `{v}` cannot be read for `{}`",
            c.key, op.name
        ));
    };
    let mut unresolved = false;
    let mut matched = false;
    for pv in &c.values {
        match value_matches(op.base, pv, &request, ctx) {
            Ok(true) => {
                matched = true;
                break;
            }
            Ok(false) => {}
            Err(ValueError::Unresolved) => unresolved = true,
            Err(ValueError::NotAnArn(value)) => {
                return Truth::Unevaluable(format!(
                    "`{}` value `{value}` is not an ARN of six segments after substitution",
                    op.name
                ));
            }
        }
    }
    match (op.negated, matched, unresolved) {
        (false, m, _) => truth(m),
        (true, true, _) => Truth::False,
        (true, false, true) => Truth::Unevaluable(format!(
            "a policy variable in `{}` on `{}` has no value for this request",
            op.name, c.key
        )),
        (true, false, false) => Truth::True,
    }
}

fn compare(ord: Ordering, cmp: Comparison) -> bool {
    match cmp {
        Comparison::Equals => ord == Ordering::Equal,
        Comparison::LessThan => ord == Ordering::Less,
        Comparison::LessThanEquals => ord != Ordering::Greater,
        Comparison::GreaterThan => ord == Ordering::Greater,
        Comparison::GreaterThanEquals => ord != Ordering::Less,
    }
}

/// Why a policy value could not be compared.
enum ValueError {
    /// A variable with no value and no default.
    Unresolved,
    /// An ARN operator value that is not six segments once substituted.
    NotAnArn(String),
}

fn value_matches(
    base: BaseOperator,
    pv: &CompiledValue,
    request: &Request<'_>,
    ctx: &Context,
) -> Result<bool, ValueError> {
    Ok(match (pv, request) {
        (CompiledValue::Equals(p), Request::Text(v)) => **p == **v,
        (CompiledValue::EqualsIgnoreCase(p), Request::Text(v)) => {
            p.chars().eq(v.chars().flat_map(char::to_lowercase))
        }
        (CompiledValue::Like(p), Request::Text(v)) => p.matches(v),
        (CompiledValue::Arn(p), Request::Arn(segs)) => {
            p.iter().zip(segs.iter()).all(|(p, s)| p.matches(s))
        }
        (CompiledValue::Dynamic(t), request) => {
            let wild = matches!(base, BaseOperator::StringLike | BaseOperator::ArnLike);
            let tokens = substitute(t, ctx, wild).ok_or(ValueError::Unresolved)?;
            match (base, request) {
                (BaseOperator::StringLike, Request::Text(v)) => {
                    Pattern::from_tokens(tokens).matches(v)
                }
                (BaseOperator::StringEqualsIgnoreCase, Request::Text(v)) => tokens_text(&tokens)
                    .to_lowercase()
                    .chars()
                    .eq(v.chars().flat_map(char::to_lowercase)),
                (BaseOperator::StringEquals, Request::Text(v)) => tokens_text(&tokens) == *v,
                (BaseOperator::ArnLike, Request::Arn(segs)) => {
                    let text = tokens_text(&tokens);
                    match arn_patterns(tokens) {
                        Some(p) => p.iter().zip(segs.iter()).all(|(p, s)| p.matches(s)),
                        None => return Err(ValueError::NotAnArn(text)),
                    }
                }
                _ => false,
            }
        }
        (CompiledValue::Numeric(p), Request::Numeric(v)) => match base {
            BaseOperator::Numeric(cmp) => compare(v.cmp(p), cmp),
            _ => false,
        },
        (CompiledValue::Date(p), Request::Date(v)) => match base {
            BaseOperator::Date(cmp) => compare(v.cmp(p), cmp),
            _ => false,
        },
        (CompiledValue::Bool(p), Request::Bool(v)) => p == v,
        (CompiledValue::Binary(p), Request::Text(v)) => p.as_slice() == v.as_bytes(),
        (CompiledValue::Ip(net), Request::Ip(ip)) => net.contains(*ip),
        _ => false,
    })
}
