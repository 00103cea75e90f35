#!/usr/bin/env python3
"""Generate tests/corpus/operators.json: every condition operator x key present/absent
x IfExists x set prefix, with the expected decision derived from the rules of
spec/policy-language.md section 3, written out here independently of the Rust engine.

Each case uses one organization policy with two statements: statement 0 allows
s3:GetObject to everyone; statement 1 denies it under the condition being tested. So a
condition that holds gives explicit_deny (statement 1), one that is false gives allow
(statement 0), and one that is unevaluable gives explicit_deny with one error (fail
closed). Run: python3 tests/corpus/gen_operators.py > tests/corpus/operators.json
"""
import json

M, N, U = "match", "nomatch", "unreadable"

# operator family: (key, policy value, {sample: M|N|U}), with negation per name.
FAMILIES = [
    (["StringEquals", "StringNotEquals"], "s3:prefix", "logs/", {"logs/": M, "Logs/": N}),
    (["StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"], "aws:UserAgent", "Curl/8", {"curl/8": M, "wget": N}),
    (["StringLike", "StringNotLike"], "s3:prefix", "logs/*/x?", {"logs/a/b/xy": M, "logs/xy": N}),
    (["NumericEquals", "NumericNotEquals"], "s3:max-keys", "10", {"10.0": M, "11": N, "ten": U}),
    (["NumericLessThan"], "s3:max-keys", "10", {"9.5": M, "10": N, "x": U}),
    (["NumericLessThanEquals"], "s3:max-keys", "10", {"10": M, "10.01": N, "": U}),
    (["NumericGreaterThan"], "s3:max-keys", "10", {"11": M, "10": N, "1e": U}),
    (["NumericGreaterThanEquals"], "s3:max-keys", "10", {"1e1": M, "9": N, "nine": U}),
    (["DateEquals", "DateNotEquals"], "aws:CurrentTime", "2026-01-01T00:00:00Z", {"1767225600": M, "2026-01-02T00:00:00Z": N, "soon": U}),
    (["DateLessThan"], "aws:CurrentTime", "2026-01-01T00:00:00Z", {"2025-12-31T23:59:59Z": M, "2026-01-01T00:00:00Z": N, "never": U}),
    (["DateLessThanEquals"], "aws:CurrentTime", "2026-01-01T00:00:00Z", {"2026-01-01T01:00:00+01:00": M, "2026-01-01T00:00:01Z": N, "2026-13-01": U}),
    (["DateGreaterThan"], "aws:EpochTime", "1767225600", {"2026-01-01T00:00:01Z": M, "1767225600": N, "later": U}),
    (["DateGreaterThanEquals"], "aws:EpochTime", "1767225600", {"1767225600": M, "1767225599": N, "x": U}),
    (["Bool"], "aws:SecureTransport", "true", {"true": M, "false": N, "maybe": U}),
    (["BinaryEquals"], "aws:UserAgent", "Y3VybA==", {"curl": M, "wget": N}),
    (["IpAddress", "NotIpAddress"], "aws:SourceIp", "203.0.113.0/24", {"203.0.113.7": M, "198.51.100.1": N, "not-an-ip": U}),
    (["ArnEquals", "ArnNotEquals"], "aws:PrincipalArn", "arn:aws:iam::111122223333:user/*", {"arn:aws:iam::111122223333:user/a": M, "arn:aws:iam::444455556666:user/a": N, "alice": U}),
    (["ArnLike", "ArnNotLike"], "aws:PrincipalArn", "arn:aws:iam::*:user/a?", {"arn:aws:iam::1:user/ab": M, "arn:aws:iam::1:role/ab": N, "arn:aws": U}),
    # A multivalued key: only with a set prefix.
    (["StringEquals", "StringNotEquals"], "s3:RequestObjectTagKeys", "project", {"project": M, "owner": N}),
]

NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "NumericNotEquals",
           "DateNotEquals", "NotIpAddress", "ArnNotEquals", "ArnNotLike"}

T, F, UE = "true", "false", "unevaluable"


def single(label, negated):
    if label == U:
        return UE
    matched = label == M
    return (not matched) if negated else matched


def truth(values, negated, if_exists, qualifier):
    """values: None (absent) or a list of sample labels."""
    if not values:  # absent, or present with an empty set: counts as absent
        if if_exists:
            return T
        if qualifier == "ForAllValues":
            return T
        if qualifier == "ForAnyValue":
            return F
        return T if negated else F
    if qualifier is None:
        if len(values) != 1:
            return UE  # a bare operator compares one value
        r = single(values[0], negated)
        return {True: T, False: F}.get(r, r)
    results = [single(v, negated) for v in values]
    if qualifier == "ForAnyValue":
        if True in results:
            return T
        return UE if UE in results else F
    if False in results:
        return F
    return UE if UE in results else T


def expect(t):
    allow = {"layer": "org", "policy": "org/base", "statement": 0, "sid": "AllowAll", "effect": "Allow"}
    deny = {"layer": "org", "policy": "org/base", "statement": 1, "sid": "DenyIf", "effect": "Deny"}
    if t == T:
        return {"decision": "explicit_deny", "reasons": [deny], "errors": 0}
    if t == F:
        return {"decision": "allow", "reasons": [allow], "errors": 0}
    return {"decision": "explicit_deny", "reasons": [deny], "errors": 1}


def main():
    files = []
    for names, key, pv, samples in FAMILIES:
        multivalued = key == "s3:RequestObjectTagKeys"
        by_label = {}
        for sample, label in samples.items():
            by_label.setdefault(label, sample)
        states = [("absent", None), ("empty", [])]
        for label in (M, N, U):
            if label in by_label:
                states.append((label, [label]))
        states += [("match+nomatch", [M, N]), ("nomatch+nomatch", [N, N]), ("match+match", [M, M])]
        if U in by_label:
            states.append(("match+unreadable", [M, U]))
            states.append(("nomatch+unreadable", [N, U]))
        second = {M: None, N: None, U: None}
        for sample, label in samples.items():
            if by_label[label] != sample:
                second[label] = sample
        for name in names:
            negated = name in NEGATED
            for qualifier in ([None, "ForAnyValue", "ForAllValues"] if not multivalued else ["ForAnyValue", "ForAllValues"]):
                for if_exists in (False, True):
                    op = (qualifier + ":" if qualifier else "") + name + ("IfExists" if if_exists else "")
                    doc = {
                        "description": f"{op} on {key}",
                        "derive": False,
                        "policies": {"org": {"base": {"Version": "2012-10-17", "Statement": [
                            {"Sid": "AllowAll", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"},
                            {"Sid": "DenyIf", "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Resource": "*",
                             "Condition": {op: {key: pv}}},
                        ]}}},
                        "cases": [],
                    }
                    for state, labels in states:
                        ctx = {}
                        if labels is not None:
                            used = []
                            for label in labels:
                                sample = by_label[label]
                                if sample in used and second.get(label):
                                    sample = second[label]
                                used.append(sample)
                            ctx[key] = used
                        doc["cases"].append({
                            "name": f"{op} {key} {state}",
                            "principal": "anonymous",
                            "action": "s3:GetObject",
                            "resource": "arn:aws:s3:::b/k",
                            "context": ctx,
                            "expect": expect(truth(labels, negated, if_exists, qualifier)),
                        })
                    files.append(doc)
    # One corpus file holds many worlds: emit them as a list under "worlds".
    print(json.dumps({"worlds": files}, indent=1))


if __name__ == "__main__":
    main()
