//! A release is one version everywhere a user reads it: Cargo.toml (so `--version` and the
//! default deployer image), the Helm chart's version and appVersion, the operator image in
//! `deploy/`, and a section of CHANGELOG.md; each released section names its commit.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).expect(path)
}

/// `X.Y.Z` or `X.Y.Z-dev` as (X, Y, Z, released).
fn version(text: &str) -> Option<(u64, u64, u64, bool)> {
    let (core, released) = match text.strip_suffix("-dev") {
        Some(core) => (core, false),
        None => (text, true),
    };
    let mut parts = core.split('.').map(|p| p.parse::<u64>().ok());
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(Some(x)), Some(Some(y)), Some(Some(z)), None) => Some((x, y, z, released)),
        _ => None,
    }
}

#[test]
fn the_version_is_semver_and_main_says_dev() {
    assert!(
        version(VERSION).is_some(),
        "Cargo.toml's version {VERSION} is X.Y.Z or X.Y.Z-dev"
    );
}

#[test]
fn the_chart_and_the_manifests_carry_the_crate_version() {
    let chart: Value =
        serde_saphyr::from_str(&read("deploy/helm/cutover/Chart.yaml")).expect("Chart.yaml");
    assert_eq!(chart["version"], VERSION, "the chart's version");
    assert_eq!(chart["appVersion"], VERSION, "the chart's appVersion");
    let manifest = read("deploy/20-deployment.yaml");
    let images = manifest.matches("ghcr.io/cutover/cutover:").count();
    let this = format!("ghcr.io/cutover/cutover:{VERSION}\"");
    assert_eq!(images, 2, "the operator's image and its deployer image");
    assert_eq!(
        manifest.matches(&this).count(),
        images,
        "deploy/20-deployment.yaml runs {this}"
    );
}

#[test]
fn both_binaries_say_the_version() {
    for bin in [
        env!("CARGO_BIN_EXE_cutover"),
        env!("CARGO_BIN_EXE_kubectl-dc"),
    ] {
        let out = Command::new(bin).arg("--version").output().expect(bin);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{bin} --version");
        assert!(
            text.trim_end().ends_with(&format!(" {VERSION}")),
            "{bin} --version says {text:?}"
        );
    }
}

/// The changelog's `## ` headings: `Unreleased` on a `-dev` version, then each release as
/// `## X.Y.Z — YYYY-MM-DD — <commit>`, newest first, each older than this version, each with a
/// `### CRDs` section (what an upgrade must know about the schemas).
#[test]
fn the_changelog_has_this_version_and_each_release_its_commit() {
    let changelog = read("CHANGELOG.md");
    let sections: Vec<(&str, &str)> = changelog
        .split("\n## ")
        .skip(1)
        .map(|s| s.split_once('\n').unwrap_or((s, "")))
        .collect();
    let this = version(VERSION).expect("semver");
    let (first, _) = sections.first().expect("a first section");
    if this.3 {
        assert!(
            first.starts_with(&format!("{VERSION} — ")),
            "a released version's section comes first"
        );
    } else {
        assert_eq!(
            *first, "Unreleased",
            "a -dev version keeps its changes under Unreleased, first"
        );
        assert!(
            sections[0].1.contains("\n### CRDs\n"),
            "Unreleased has CRDs"
        );
    }
    // The releases, from this version's own (when released) down; each strictly older.
    let mut newer: Option<(u64, u64, u64)> = None;
    for (heading, body) in sections.iter().skip(usize::from(!this.3)) {
        let fields: Vec<&str> = heading.split(" — ").collect();
        let [number, date, commit] = fields[..] else {
            panic!("release heading {heading:?} is `X.Y.Z — YYYY-MM-DD — <commit>`")
        };
        let Some((x, y, z, true)) = version(number) else {
            panic!("{number} is a released X.Y.Z")
        };
        let core = (x, y, z);
        assert!(
            core < (this.0, this.1, this.2) || this.3,
            "{number} is older than {VERSION}"
        );
        assert!(
            newer.is_none_or(|n| core < n),
            "{number} is older than the section above it"
        );
        newer = Some(core);
        assert!(
            date.len() == 10 && date.chars().filter(|c| *c == '-').count() == 2,
            "{number}'s date {date:?} is YYYY-MM-DD"
        );
        assert!(
            commit.len() == 40 && commit.chars().all(|c| c.is_ascii_hexdigit()),
            "{number} names its whole commit, not {commit:?}"
        );
        assert!(body.contains("\n### CRDs\n"), "{number} has a CRDs section");
    }
}
