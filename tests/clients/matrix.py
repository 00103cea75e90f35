#!/usr/bin/env python3
"""Client matrix: the aws CLI, boto3, s3cmd and rclone, each with its default
settings, doing put/get/list/multipart/presigned GET/delete and a refused upload
through the gateway. Run by tests/clients.rs; a missing tool is a failure.

Usage: matrix.py ENDPOINT ACCESS_KEY SECRET BUCKET WORKDIR [CA_CERT]
"""
import hashlib
import os
import shutil
import ssl
import subprocess
import sys
import urllib.request

ENDPOINT, AK, SK, BUCKET, WORK = sys.argv[1:6]
CA = sys.argv[6] if len(sys.argv) > 6 else None
HOSTPORT = ENDPOINT.split("://", 1)[1]
TLS = ENDPOINT.startswith("https://")
# Each run (http / https) works under its own prefixes.
RUN = "tls" if TLS else "plain"
SMALL = os.path.join(WORK, "small.txt")
BIG = os.path.join(WORK, "big.bin")
with open(SMALL, "wb") as f:
    f.write(b"hello from the client matrix\n")
with open(BIG, "wb") as f:
    f.write(bytes(i % 251 for i in range(12 * 1024 * 1024)))
BIG_SHA = hashlib.sha256(open(BIG, "rb").read()).hexdigest()


def fetch(url):
    ctx = ssl.create_default_context(cafile=CA) if TLS else None
    with urllib.request.urlopen(url, context=ctx, timeout=30) as r:
        return r.read()


def run(cmd, env=None, expect_ok=True):
    p = subprocess.run(cmd, env=env, capture_output=True, timeout=300)
    if expect_ok and p.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({p.returncode}): {p.stderr.decode(errors='replace')[-2000:]}")
    return p


def refused(p, what):
    text = (p.stdout + p.stderr).decode(errors="replace")
    if p.returncode == 0 or ("AccessDenied" not in text and "403" not in text):
        raise AssertionError(f"{what} was not refused with AccessDenied: {p.returncode} {text[-1000:]}")


def check_boto3():
    import boto3
    from boto3.s3.transfer import TransferConfig
    from botocore.config import Config
    from botocore.exceptions import ClientError
    s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id=AK,
                      aws_secret_access_key=SK, verify=CA if TLS else None,
                      config=Config(s3={"addressing_style": "path"}))
    s3.put_object(Bucket=BUCKET, Key=f"boto3-{RUN}/small.txt", Body=open(SMALL, "rb").read())
    assert s3.get_object(Bucket=BUCKET, Key=f"boto3-{RUN}/small.txt")["Body"].read() == open(SMALL, "rb").read()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"boto3-{RUN}/").get("Contents", [])]
    assert keys == [f"boto3-{RUN}/small.txt"], keys
    cfg = TransferConfig(multipart_threshold=5 * 1024 * 1024, multipart_chunksize=5 * 1024 * 1024)
    s3.upload_file(BIG, BUCKET, f"boto3-{RUN}/big.bin", Config=cfg)
    out = os.path.join(WORK, "boto3-big.out")
    s3.download_file(BUCKET, f"boto3-{RUN}/big.bin", out)
    assert hashlib.sha256(open(out, "rb").read()).hexdigest() == BIG_SHA
    url = s3.generate_presigned_url("get_object", Params={"Bucket": BUCKET, "Key": f"boto3-{RUN}/small.txt"}, ExpiresIn=300)
    assert fetch(url) == open(SMALL, "rb").read()
    try:
        s3.put_object(Bucket=BUCKET, Key="forbidden/boto3.txt", Body=b"no")
        raise AssertionError("boto3: upload to forbidden/ was not refused")
    except ClientError as e:
        assert e.response["Error"]["Code"] == "AccessDenied", e.response
    s3.delete_object(Bucket=BUCKET, Key=f"boto3-{RUN}/small.txt")


def check_awscli():
    conf = os.path.join(WORK, "aws-config")
    with open(conf, "w") as f:
        f.write("[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n")
    env = dict(os.environ, AWS_ACCESS_KEY_ID=AK, AWS_SECRET_ACCESS_KEY=SK, AWS_CONFIG_FILE=conf,
               AWS_SHARED_CREDENTIALS_FILE=os.path.join(WORK, "none"))
    if TLS:
        env["AWS_CA_BUNDLE"] = CA
    aws = ["aws", "--endpoint-url", ENDPOINT]
    run(aws + ["s3", "cp", SMALL, f"s3://{BUCKET}/awscli-{RUN}/small.txt"], env)
    got = run(aws + ["s3", "cp", f"s3://{BUCKET}/awscli-{RUN}/small.txt", "-"], env).stdout
    assert got == open(SMALL, "rb").read(), got
    assert b"small.txt" in run(aws + ["s3", "ls", f"s3://{BUCKET}/awscli-{RUN}/"], env).stdout
    run(aws + ["s3", "cp", BIG, f"s3://{BUCKET}/awscli-{RUN}/big.bin"], env)
    out = os.path.join(WORK, "awscli-big.out")
    run(aws + ["s3", "cp", f"s3://{BUCKET}/awscli-{RUN}/big.bin", out], env)
    assert hashlib.sha256(open(out, "rb").read()).hexdigest() == BIG_SHA
    url = run(aws + ["s3", "presign", f"s3://{BUCKET}/awscli-{RUN}/small.txt", "--expires-in", "300"], env).stdout.decode().strip()
    assert fetch(url) == open(SMALL, "rb").read()
    refused(run(aws + ["s3", "cp", SMALL, f"s3://{BUCKET}/forbidden/awscli.txt"], env, expect_ok=False), "aws s3 cp")
    run(aws + ["s3", "rm", f"s3://{BUCKET}/awscli-{RUN}/small.txt"], env)


def check_s3cmd():
    conf = os.path.join(WORK, "s3cfg")
    open(conf, "w").close()
    base = ["s3cmd", f"--config={conf}", f"--access_key={AK}", f"--secret_key={SK}", f"--host={HOSTPORT}",
            f"--host-bucket={HOSTPORT}", "--region=us-east-1", "--no-preserve"]
    base += (["--ssl", f"--ca-certs={CA}"] if TLS else ["--no-ssl"])
    run(base + ["put", SMALL, f"s3://{BUCKET}/s3cmd-{RUN}/small.txt"])
    out = os.path.join(WORK, "s3cmd-small.out")
    run(base + ["get", "--force", f"s3://{BUCKET}/s3cmd-{RUN}/small.txt", out])
    assert open(out, "rb").read() == open(SMALL, "rb").read()
    assert b"small.txt" in run(base + ["ls", f"s3://{BUCKET}/s3cmd-{RUN}/"]).stdout
    run(base + ["put", "--multipart-chunk-size-mb=5", BIG, f"s3://{BUCKET}/s3cmd-{RUN}/big.bin"])
    out = os.path.join(WORK, "s3cmd-big.out")
    run(base + ["get", "--force", f"s3://{BUCKET}/s3cmd-{RUN}/big.bin", out])
    assert hashlib.sha256(open(out, "rb").read()).hexdigest() == BIG_SHA
    # s3cmd presigns with SigV2.
    url = run(base + ["signurl", f"s3://{BUCKET}/s3cmd-{RUN}/small.txt", "+300"]).stdout.decode().strip()
    if TLS and url.startswith("http://"):
        # s3cmd prints http:// URLs even with --ssl; the signature does not cover the scheme.
        url = "https://" + url[len("http://"):]
    assert fetch(url) == open(SMALL, "rb").read()
    refused(run(base + ["put", SMALL, f"s3://{BUCKET}/forbidden/s3cmd.txt"], expect_ok=False), "s3cmd put")
    run(base + ["del", f"s3://{BUCKET}/s3cmd-{RUN}/small.txt"])


def check_rclone():
    env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
    env.update(RCLONE_CONFIG_GW_TYPE="s3", RCLONE_CONFIG_GW_PROVIDER="Other", RCLONE_CONFIG_GW_ACCESS_KEY_ID=AK,
               RCLONE_CONFIG_GW_SECRET_ACCESS_KEY=SK, RCLONE_CONFIG_GW_ENDPOINT=ENDPOINT,
               RCLONE_CONFIG_GW_REGION="us-east-1", RCLONE_CONFIG_GW_FORCE_PATH_STYLE="true",
               RCLONE_CONFIG="/dev/null")
    rc = ["rclone", "--s3-no-check-bucket", "--retries", "1", "--low-level-retries", "1"]
    if TLS:
        rc += ["--ca-cert", CA]
    run(rc + ["copyto", SMALL, f"gw:{BUCKET}/rclone-{RUN}/small.txt"], env)
    assert run(rc + ["cat", f"gw:{BUCKET}/rclone-{RUN}/small.txt"], env).stdout == open(SMALL, "rb").read()
    assert b"small.txt" in run(rc + ["lsf", f"gw:{BUCKET}/rclone-{RUN}/"], env).stdout
    run(rc + ["copyto", "--s3-upload-cutoff", "5M", "--s3-chunk-size", "5M", BIG, f"gw:{BUCKET}/rclone-{RUN}/big.bin"], env)
    out = os.path.join(WORK, "rclone-big.out")
    run(rc + ["copyto", f"gw:{BUCKET}/rclone-{RUN}/big.bin", out], env)
    assert hashlib.sha256(open(out, "rb").read()).hexdigest() == BIG_SHA
    url = run(rc + ["link", "--expire", "5m", f"gw:{BUCKET}/rclone-{RUN}/small.txt"], env).stdout.decode().strip()
    assert fetch(url) == open(SMALL, "rb").read()
    refused(run(rc + ["copyto", SMALL, f"gw:{BUCKET}/forbidden/rclone.txt"], env, expect_ok=False), "rclone copyto")
    run(rc + ["deletefile", f"gw:{BUCKET}/rclone-{RUN}/small.txt"], env)


failures = []
for name, check in [("boto3", check_boto3), ("aws", check_awscli), ("s3cmd", check_s3cmd), ("rclone", check_rclone)]:
    if name != "boto3" and shutil.which(name) is None:
        failures.append(f"{name}: not installed")
        continue
    try:
        check()
        print(f"ok: {name} over {'https' if TLS else 'http'}")
    except Exception as e:  # noqa: BLE001 - every failure is reported
        import traceback
        failures.append(f"{name}: {e!r}\n{traceback.format_exc()[-1500:]}")
for f in failures:
    print(f"FAILED: {f}")
print(f"{4 - len(failures)} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
