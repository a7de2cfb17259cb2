//! The deployer under OpenShift's name: Custom strategy scripts written for OpenShift call
//! `openshift-deploy` (`openshift-deploy --until=50%`); the image links that name to `cutover`,
//! which invoked so is `cutover deploy`.

use std::path::PathBuf;
use std::process::{Command, Output};

fn linked_as_openshift_deploy() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("cutover-openshift-deploy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let link = dir.join("openshift-deploy");
    let _ = std::fs::remove_file(&link);
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_cutover"), &link).expect("symlink");
    link
}

fn run(program: &PathBuf, args: &[&str]) -> Output {
    let mut command = Command::new(program);
    for var in [
        "OPENSHIFT_DEPLOYMENT_NAME",
        "OPENSHIFT_DEPLOYMENT_NAMESPACE",
        "CUTOVER_DEPLOYMENT_NAME",
        "CUTOVER_DEPLOYMENT_NAMESPACE",
    ] {
        command.env_remove(var);
    }
    command.args(args).output().expect("run")
}

#[test]
fn openshift_deploy_is_cutover_deploy() {
    let link = linked_as_openshift_deploy();
    let cutover = PathBuf::from(env!("CARGO_BIN_EXE_cutover"));
    for (theirs, ours) in [
        (vec!["--help"], vec!["deploy", "--help"]),
        // No revision named: the same refusal, the same exit code.
        (vec!["--until=50%"], vec!["deploy", "--until=50%"]),
    ] {
        let (a, b) = (run(&link, &theirs), run(&cutover, &ours));
        assert_eq!(a.status.code(), b.status.code(), "{theirs:?}");
        assert_eq!(a.stdout, b.stdout, "{theirs:?}");
        assert_eq!(a.stderr, b.stderr, "{theirs:?}");
    }
    let help = String::from_utf8_lossy(&run(&link, &["--help"]).stdout).into_owned();
    assert!(help.contains("--until"), "{help}");
}
