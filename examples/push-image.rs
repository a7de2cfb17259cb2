//! Pushes a small image (one layer with /hello.txt holding TEXT) to a registry, for the image
//! demo: `cargo run --example push-image -- REFERENCE TEXT` with REGISTRY_USER,
//! REGISTRY_PASSWORD and REGISTRY_CA (a PEM file) in the environment. Prints the digest.

// The demo pushes single images; the tests also push multi-architecture ones.
#[allow(dead_code)]
#[path = "../tests/support/push.rs"]
mod push;

use oci_client::secrets::RegistryAuth;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [reference, text] = args.as_slice() else {
        eprintln!("usage: push-image REFERENCE TEXT");
        return std::process::ExitCode::from(2);
    };
    let var = |name: &str| std::env::var(name).unwrap_or_default();
    let ca = match std::fs::read(var("REGISTRY_CA")) {
        Ok(ca) => ca,
        Err(e) => {
            eprintln!("push-image: REGISTRY_CA: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let auth = RegistryAuth::Basic(var("REGISTRY_USER"), var("REGISTRY_PASSWORD"));
    match push::push(&push::client(&ca), reference, &auth, text).await {
        Ok(digest) => {
            println!("{digest}");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("push-image: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
