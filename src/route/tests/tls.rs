//! Terminations: the listeners each may use, the objects of a Route's own certificate and of
//! re-encrypt, and passthrough's TLSRoute.

use super::*;

#[test]
fn edge_routes_attach_to_https_only_unless_allowed_and_redirect_with_a_302() {
    let a = service("a", json!([{"port": 80}]));
    let with = |insecure| {
        hosted(RouteSpec {
            to: target("a", None),
            tls: tls("edge", insecure),
            ..Default::default()
        })
    };
    let r = with(None);
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    assert_eq!(
        sections(p.objects()[0]),
        ["Gateway/websecure"],
        "never plain HTTP"
    );

    let r = with(Some("Allow"));
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(
        sections(p.objects()[0]),
        ["Gateway/websecure", "Gateway/web"]
    );

    let r = with(Some("Redirect"));
    let p = plan(&inputs(&r, vec![&a]));
    // The main route last, after what it needs.
    assert_eq!(kinds(&p), ["HTTPRoute shop-redirect", "HTTPRoute shop"]);
    assert_eq!(sections(p.objects()[1]), ["Gateway/websecure"]);
    let redirect = p.objects()[0];
    assert_eq!(sections(redirect), ["Gateway/web"]);
    assert_eq!(
        redirect["spec"]["rules"][0]["filters"],
        json!([{"type": "RequestRedirect", "requestRedirect": {"scheme": "https", "statusCode": 302}}])
    );
    assert!(redirect["spec"]["rules"][0]["backendRefs"].is_null());
}

#[test]
fn a_tls_route_without_an_https_listener_for_its_host_is_refused_not_downgraded() {
    let a = service("a", json!([{"port": 80}]));
    let r = route(RouteSpec {
        host: Some("shop.other.test".into()),
        to: target("a", None),
        tls: tls("edge", Some("Allow")),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert!(p.objects().is_empty());
    assert_eq!(admitted(&p), ("False", "NoMatchingListener"));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "Gateway infra/public has no HTTPS listener for host shop.other.test: a TLS route is never served over plain HTTP"
    );
}

#[test]
fn a_routes_own_certificate_is_served_through_a_listener_set_when_the_gateway_allows() {
    let a = service("a", json!([{"port": 80}]));
    let (ca, certificate, key) = signed();
    let r = hosted(RouteSpec {
        to: target("a", None),
        tls: Some(TlsConfig {
            termination: "edge".into(),
            certificate: Some(certificate.clone()),
            key: Some(key.clone()),
            ca_certificate: Some(ca.trim_end().into()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let p = plan(&Inputs {
        gateway: Some(gateway("All")),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(
        kinds(&p),
        ["Secret shop-tls", "ListenerSet shop", "HTTPRoute shop"]
    );
    let secret = p.objects()[0];
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let chain = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        secret["data"]["tls.crt"].as_str().expect("crt"),
    )
    .expect("base64");
    assert_eq!(
        String::from_utf8_lossy(&chain),
        format!("{certificate}{ca}"),
        "the certificate, then its CA chain"
    );
    assert_eq!(
        secret["data"]["tls.key"],
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &key)
    );
    let set = p.objects()[1];
    assert_eq!(
        set["spec"]["parentRef"],
        json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra", "name": "public"})
    );
    assert_eq!(
        set["spec"]["listeners"][0],
        json!({"name": "https", "hostname": "shop.example.com", "port": 443, "protocol": "HTTPS",
               "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "name": "shop-tls"}]},
               "allowedRoutes": {"namespaces": {"from": "Same"}}})
    );
    assert_eq!(sections(p.objects()[2]), ["ListenerSet/https"]);

    // An externalCertificate is referenced where it is, not copied.
    let mut external = r.clone();
    if let Some(t) = external.spec.tls.as_mut() {
        t.certificate = None;
        t.key = None;
        t.external_certificate = Some(LocalObjectReference {
            name: "shop-cert".into(),
        });
    }
    let p = plan(&Inputs {
        gateway: Some(gateway("All")),
        ..inputs(&external, vec![&a])
    });
    assert_eq!(kinds(&p), ["ListenerSet shop", "HTTPRoute shop"]);
    assert_eq!(
        p.objects()[0]["spec"]["listeners"][0]["tls"]["certificateRefs"][0]["name"],
        "shop-cert"
    );

    // A Gateway that accepts no ListenerSets: its own HTTPS listener, and the status says whose
    // certificate is served.
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(kinds(&p), ["HTTPRoute shop"]);
    assert_eq!(sections(p.objects()[0]), ["Gateway/websecure"]);
    let applied = accepted(&p);
    let p = plan(&Inputs {
        applied: Some(&applied),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("True", ""));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "served with the certificate of Gateway infra/public listener websecure: the Gateway takes no ListenerSet from namespace ns and is not annotated cutover.io/manage-listeners: \"true\", so the route's own certificate is not used"
    );
}

#[test]
fn reencrypt_verifies_each_backend_against_the_destination_ca_or_the_system_trust() {
    let (ca, _, _) = signed();
    let a = service("a", json!([{"port": 8443}]));
    let b = service("b", json!([{"port": 8443}]));
    let mut r = hosted(RouteSpec {
        to: target("a", Some(50)),
        alternate_backends: Some(vec![target("b", Some(50))]),
        tls: Some(TlsConfig {
            termination: "reencrypt".into(),
            destination_ca_certificate: Some(ca.clone()),
            ..Default::default()
        }),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a, &b]));
    assert_eq!(
        kinds(&p),
        [
            "ConfigMap shop-destination-ca",
            "BackendTLSPolicy shop-a",
            "BackendTLSPolicy shop-b",
            "HTTPRoute shop"
        ]
    );
    assert_eq!(p.objects()[0]["data"], json!({"ca.crt": ca}));
    assert_eq!(
        p.objects()[1]["spec"],
        json!({"targetRefs": [{"group": "", "kind": "Service", "name": "a"}],
               "validation": {"hostname": "a.ns.svc",
                              "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "shop-destination-ca"}]}})
    );
    assert_eq!(sections(p.objects()[3]), ["Gateway/websecure"]);

    if let Some(t) = r.spec.tls.as_mut() {
        t.destination_ca_certificate = None;
    }
    let p = plan(&inputs(&r, vec![&a, &b]));
    assert_eq!(
        p.objects()[0]["spec"]["validation"],
        json!({"hostname": "a.ns.svc", "wellKnownCACertificates": "System"})
    );

    let p = plan(&Inputs {
        apis: Apis {
            backend_tls_policies: false,
            ..Apis::ALL
        },
        ..inputs(&r, vec![&a, &b])
    });
    assert!(p.objects().is_empty());
    assert_eq!(admitted(&p), ("False", "BackendTLSPolicyNotServed"));
}

#[test]
fn passthrough_becomes_a_tls_route_on_the_passthrough_listener() {
    let a = service("a", json!([{"port": 443}]));
    let r = hosted(RouteSpec {
        to: target("a", None),
        tls: tls("passthrough", Some("Redirect")),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(p.kind, RouteKind::Tls);
    assert_eq!(kinds(&p), ["HTTPRoute shop-redirect", "TLSRoute shop"]);
    assert_eq!(sections(p.objects()[1]), ["Gateway/passthrough"]);
    assert_eq!(
        p.objects()[1]["spec"]["hostnames"],
        json!(["shop.example.com"])
    );
}

/// Re-encrypt's TLS is for the port the Route targets: a Service that also serves plain HTTP on
/// another port keeps it plain (the policy names the port as its section).
#[test]
fn reencrypt_applies_to_the_targeted_port_alone() {
    let a = service(
        "a",
        json!([{"name": "http", "port": 8080}, {"name": "https", "port": 8443}]),
    );
    let r = hosted(RouteSpec {
        to: target("a", None),
        port: Some(RoutePort {
            target_port: IntOrString::String("https".into()),
        }),
        tls: Some(TlsConfig {
            termination: "reencrypt".into(),
            ..Default::default()
        }),
        ..Default::default()
    });
    let p = plan(&inputs(&r, vec![&a]));
    assert_eq!(
        p.objects()[0]["spec"]["targetRefs"],
        json!([{"group": "", "kind": "Service", "name": "a", "sectionName": "https"}])
    );
    assert_eq!(
        p.objects()[1]["spec"]["rules"][0]["backendRefs"][0]["port"],
        8443
    );
}
