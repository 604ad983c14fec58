//! The deploy files, checked as the tools of their ecosystems check them: the compose
//! file against the Compose specification's schema (`check-jsonschema`, bundled
//! `vendor.compose-spec`), the Kubernetes manifests rendered by `kubectl kustomize`
//! and every built-in kind validated strictly (`kubernetes-validate`, unknown fields
//! refused), the Dockerfile by `hadolint`. The Python tools come from
//! tests/requirements.txt (tests/run.sh installs them beside RABT_TEST_PYTHON);
//! `kubectl` from the machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use rabt_test_support::{TempDir, python};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// A tool installed beside the suite's Python (its venv's `bin`).
fn tool(name: &str) -> PathBuf {
    let python = PathBuf::from(python());
    let beside = python.parent().map(|bin| bin.join(name));
    match beside {
        Some(path) if path.exists() => path,
        _ => panic!(
            "`{name}` is not installed beside {} (tests/run.sh installs tests/requirements.txt into a venv and sets RABT_TEST_PYTHON)",
            python.display()
        ),
    }
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[test]
fn the_compose_file_follows_the_compose_specification() {
    let output = run(Command::new(tool("check-jsonschema"))
        .args(["--builtin-schema", "vendor.compose-spec"])
        .arg(repo().join("deploy/compose.yaml")));
    assert!(output.status.success(), "{}", text(&output));
    let compose = std::fs::read_to_string(repo().join("deploy/compose.yaml")).unwrap();
    for service in [
        "rabbitmq-1:",
        "rabbitmq-2:",
        "rabbitmq-3:",
        "postgres:",
        "migrate:",
        "api-a:",
        "api-b:",
        "worker:",
        "simulators:",
    ] {
        assert!(
            compose.contains(&format!("\n  {service}")),
            "no service {service}"
        );
    }
}

/// Renders an overlay with `kubectl kustomize`.
fn render(overlay: &str) -> String {
    let output = run(Command::new("kubectl")
        .arg("kustomize")
        .arg(repo().join("deploy/k8s").join(overlay)));
    assert!(
        output.status.success(),
        "kubectl kustomize {overlay}: {}",
        text(&output)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The custom resources of the operators, which have no schema here.
const CUSTOM: [&str; 5] = [
    "ScaledObject",
    "TriggerAuthentication",
    "ServiceMonitor",
    "Cluster",
    "RabbitmqCluster",
];

fn validate(rendered: &str, dir: &Path) -> Output {
    let file = dir.join("rendered.yaml");
    std::fs::write(&file, rendered).unwrap();
    run(Command::new(tool("kubernetes-validate"))
        .args(["--strict", "-k", "1.32.0"])
        .arg(&file))
}

#[test]
fn the_kubernetes_manifests_render_and_every_built_in_kind_validates_strictly() {
    let dir = TempDir::create("rabt-k8s-").unwrap();
    for overlay in ["base", "overlays/production"] {
        let rendered = render(overlay);
        let output = validate(&rendered, dir.path());
        let report = text(&output);
        assert!(output.status.success(), "{overlay}: {report}");
        let kinds: Vec<&str> = rendered
            .lines()
            .filter_map(|l| l.strip_prefix("kind: "))
            .collect();
        let built_in = kinds.iter().filter(|k| !CUSTOM.contains(k)).count();
        assert_eq!(
            report.matches("passed for resource").count(),
            built_in,
            "{overlay}: every built-in kind validated: {report}"
        );
        for warning in report
            .lines()
            .filter(|l| l.contains("Couldn't find schema"))
        {
            assert!(
                CUSTOM
                    .iter()
                    .any(|k| warning.contains(&format!("kind {k} "))),
                "{overlay}: a built-in kind without a schema? {warning}"
            );
        }
        for kind in [
            "Deployment",
            "PodDisruptionBudget",
            "HorizontalPodAutoscaler",
            "Job",
            "NetworkPolicy",
            "ConfigMap",
            "ScaledObject",
            "ServiceMonitor",
        ] {
            assert!(kinds.contains(&kind), "{overlay}: no {kind}");
        }
        // Secrets are referenced, never inlined.
        assert!(!kinds.contains(&"Secret"), "{overlay}: a Secret in git");
        assert!(rendered.contains("secretKeyRef"), "{overlay}");
        assert!(
            !rendered.contains("whsec_") && !rendered.contains("password:"),
            "{overlay}"
        );
    }
    let production = render("overlays/production");
    assert!(production.contains("kind: RabbitmqCluster") && production.contains("kind: Cluster"));

    // The validator does refuse what Kubernetes would: an unknown field.
    let wrong = render("base").replacen("replicas: 2", "replicas: 2\n  replicaz: 2", 1);
    let output = validate(&wrong, dir.path());
    assert!(
        !output.status.success(),
        "strict validation let an unknown field by: {}",
        text(&output)
    );
}

#[test]
fn the_dockerfile_passes_hadolint() {
    let output = run(Command::new(tool("hadolint"))
        .arg("--config")
        .arg(repo().join(".hadolint.yaml"))
        .arg(repo().join("Dockerfile")));
    assert!(output.status.success(), "{}", text(&output));
    let dockerfile = std::fs::read_to_string(repo().join("Dockerfile")).unwrap();
    assert!(
        dockerfile.contains("\nUSER 10001:10001\n"),
        "the runtime runs without root"
    );
    assert_eq!(dockerfile.matches("\nFROM ").count(), 2, "multi-stage");
}
