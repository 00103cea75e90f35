//! The `Condition` element: operators, keys and typed values (`spec/policy-language.md` §3–§4).

use super::template::split_template;
use super::{Parser, child, scalar_text};
use crate::policy::catalog::ConditionKey;
use crate::policy::json::Json;
use crate::policy::model::*;
use crate::policy::values::{Cidr, Decimal, Timestamp, parse_bool};
use base64::Engine as _;

impl Parser<'_, '_> {
    pub(super) fn conditions(&mut self, path: &str, json: &Json) -> Option<Vec<Condition>> {
        let Json::Object(ops) = json else {
            self.error(
                path,
                format!("Condition must be an object, not {}", json.type_name()),
            );
            return None;
        };
        let before = self.errors.len();
        let mut out = Vec::new();
        for (op_name, block) in ops {
            let op_path = child(path, op_name);
            let operator = parse_operator(op_name);
            if operator.is_none() {
                self.error(&op_path, format!("Invalid Condition type: `{op_name}`"));
            }
            let Json::Object(keys) = block else {
                self.error(
                    &op_path,
                    format!(
                        "condition block must be an object of keys, not {}",
                        block.type_name()
                    ),
                );
                continue;
            };
            if keys.is_empty() {
                self.error(&op_path, "condition block must name at least one key");
                continue;
            }
            let Some(operator) = operator else { continue };
            for (key_name, values) in keys {
                if let Some(c) =
                    self.condition(&child(&op_path, key_name), &operator, key_name, values)
                {
                    out.push(c);
                }
            }
        }
        (self.errors.len() == before).then_some(out)
    }

    pub(super) fn condition(
        &mut self,
        path: &str,
        operator: &Operator,
        key_name: &str,
        json: &Json,
    ) -> Option<Condition> {
        let key = match ConditionKey::lookup(key_name) {
            Some(k) => k,
            None if self.opts.allow_unknown_condition_keys => {
                self.warn(path, format!("unknown condition key `{key_name}` accepted: it is absent from every request"));
                ConditionKey::unknown(key_name)
            }
            None => {
                self.error(
                    path,
                    format!("Policy has an invalid condition key: `{key_name}`"),
                );
                return None;
            }
        };
        if operator.base != BaseOperator::Null {
            if key.is_multivalued() && operator.set.is_none() {
                self.error(
                    path,
                    format!(
                        "`{key_name}` is a multivalued key: use `ForAnyValue:{0}` or `ForAllValues:{0}`",
                        operator.name
                    ),
                );
                return None;
            }
            if !key.is_multivalued()
                && operator.set.is_some()
                && !matches!(key, ConditionKey::Unknown(_))
            {
                self.warn(path, format!("`{}` on the single-valued key `{key_name}`: a set qualifier is meant for multivalued keys", operator.name));
            }
        }
        let raw: Vec<(String, String)> = match json {
            Json::Array(items) if items.is_empty() => {
                self.error(path, "condition values must not be an empty array");
                return None;
            }
            Json::Array(items) => {
                let mut out = Vec::new();
                for (i, item) in items.iter().enumerate() {
                    let ip = format!("{path}[{i}]");
                    match scalar_text(item) {
                        Some(t) => out.push((ip, t)),
                        None => self.error(
                            &ip,
                            format!(
                                "condition value must be a string, number or boolean, not {}",
                                item.type_name()
                            ),
                        ),
                    }
                }
                if out.len() != items.len() {
                    return None;
                }
                out
            }
            other => {
                match scalar_text(other) {
                    Some(t) => vec![(path.to_owned(), t)],
                    None => {
                        self.error(path, format!("condition value must be a string, number, boolean or array, not {}", other.type_name()));
                        return None;
                    }
                }
            }
        };
        let mut values = Vec::with_capacity(raw.len());
        for (vp, text) in &raw {
            if let Some(v) = self.condition_value(vp, operator, text) {
                values.push(v);
            }
        }
        (values.len() == raw.len()).then(|| Condition {
            operator: operator.clone(),
            key,
            key_name: key_name.to_owned(),
            values,
        })
    }

    pub(super) fn condition_value(
        &mut self,
        path: &str,
        operator: &Operator,
        text: &str,
    ) -> Option<ConditionValue> {
        let bad = |what: &str| format!("`{text}` is not a valid {what} for `{}`", operator.name);
        let value = match operator.base {
            BaseOperator::StringEquals
            | BaseOperator::StringEqualsIgnoreCase
            | BaseOperator::StringLike => {
                return self.template(path, text).map(ConditionValue::String);
            }
            BaseOperator::ArnLike => {
                let t = self.template(path, text)?;
                if t.is_static() && split_template(&t).is_none() {
                    self.error(
                        path,
                        bad("ARN (six segments, `arn:partition:service:region:account:resource`)"),
                    );
                    return None;
                }
                return Some(ConditionValue::Arn(t));
            }
            BaseOperator::Numeric(_) => Decimal::parse(text)
                .map(ConditionValue::Numeric)
                .ok_or_else(|| bad("number")),
            BaseOperator::Date(_) => Timestamp::parse(text)
                .map(ConditionValue::Date)
                .ok_or_else(|| bad("date (ISO 8601 or epoch seconds)")),
            BaseOperator::Bool => parse_bool(text)
                .map(ConditionValue::Bool)
                .ok_or_else(|| bad("boolean (`true` or `false`)")),
            BaseOperator::Null => parse_bool(text)
                .map(ConditionValue::Null)
                .ok_or_else(|| bad("`Null` value (`true` or `false`)")),
            BaseOperator::BinaryEquals => base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()
                .map(ConditionValue::Binary)
                .ok_or_else(|| bad("base64 value")),
            BaseOperator::IpAddress => Cidr::parse(text)
                .map(ConditionValue::Ip)
                .ok_or_else(|| bad("IP address or CIDR")),
        };
        match value {
            Ok(v) => Some(v),
            Err(message) => {
                self.error(path, message);
                None
            }
        }
    }
}

/// Parse an operator name: `[ForAnyValue:|ForAllValues:]Name[IfExists]`, case-sensitive.
pub fn parse_operator(name: &str) -> Option<Operator> {
    let (set, rest) = if let Some(r) = name.strip_prefix("ForAnyValue:") {
        (Some(SetQualifier::ForAnyValue), r)
    } else if let Some(r) = name.strip_prefix("ForAllValues:") {
        (Some(SetQualifier::ForAllValues), r)
    } else {
        (None, name)
    };
    let (if_exists, base_name) = match rest.strip_suffix("IfExists") {
        Some(b) => (true, b),
        None => (false, rest),
    };
    use BaseOperator as B;
    use Comparison as C;
    let (base, negated) = match base_name {
        "StringEquals" => (B::StringEquals, false),
        "StringNotEquals" => (B::StringEquals, true),
        "StringEqualsIgnoreCase" => (B::StringEqualsIgnoreCase, false),
        "StringNotEqualsIgnoreCase" => (B::StringEqualsIgnoreCase, true),
        "StringLike" => (B::StringLike, false),
        "StringNotLike" => (B::StringLike, true),
        "NumericEquals" => (B::Numeric(C::Equals), false),
        "NumericNotEquals" => (B::Numeric(C::Equals), true),
        "NumericLessThan" => (B::Numeric(C::LessThan), false),
        "NumericLessThanEquals" => (B::Numeric(C::LessThanEquals), false),
        "NumericGreaterThan" => (B::Numeric(C::GreaterThan), false),
        "NumericGreaterThanEquals" => (B::Numeric(C::GreaterThanEquals), false),
        "DateEquals" => (B::Date(C::Equals), false),
        "DateNotEquals" => (B::Date(C::Equals), true),
        "DateLessThan" => (B::Date(C::LessThan), false),
        "DateLessThanEquals" => (B::Date(C::LessThanEquals), false),
        "DateGreaterThan" => (B::Date(C::GreaterThan), false),
        "DateGreaterThanEquals" => (B::Date(C::GreaterThanEquals), false),
        "Bool" => (B::Bool, false),
        "BinaryEquals" => (B::BinaryEquals, false),
        "IpAddress" => (B::IpAddress, false),
        "NotIpAddress" => (B::IpAddress, true),
        "ArnEquals" | "ArnLike" => (B::ArnLike, false),
        "ArnNotEquals" | "ArnNotLike" => (B::ArnLike, true),
        "Null" if !if_exists && set.is_none() => (B::Null, false),
        _ => return None,
    };
    Some(Operator {
        base,
        negated,
        if_exists,
        set,
        name: name.to_owned(),
    })
}
