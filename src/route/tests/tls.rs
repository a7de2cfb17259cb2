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

/// infra/public as `gateway("None")`, annotated to let cutover add listeners, and holding
/// `extra` listeners besides its own.
fn managed_gateway(namespace: &str, extra: &[Value]) -> Gateway {
    let mut listeners = vec![
        json!({"name": "web", "protocol": "HTTP", "port": 80}),
        json!({"name": "websecure", "protocol": "HTTPS", "port": 443, "hostname": "*.example.com"}),
    ];
    listeners.extend(extra.iter().cloned());
    Gateway::from_json(
        namespace,
        "public",
        &json!({
            "metadata": {"annotations": {"cutover.io/manage-listeners": "true"}},
            "spec": {"listeners": listeners}
        }),
    )
}

fn own_certificate() -> Route {
    let (ca, certificate, key) = signed();
    hosted(RouteSpec {
        to: target("a", None),
        tls: Some(TlsConfig {
            termination: "edge".into(),
            certificate: Some(certificate),
            key: Some(key),
            ca_certificate: Some(ca),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// Where the Gateway takes no ListenerSet (Traefik 3.6) but lets cutover add listeners, the
/// Route gets one of its own for its host, serving its Secret; its finalizer comes first, so
/// the listener never outlives it; its HTTPRoute attaches to that listener alone.
#[test]
fn a_routes_own_certificate_is_served_on_a_listener_of_its_own_where_the_gateway_lets_cutover_add_one()
 {
    let a = service("a", json!([{"port": 80}]));
    let r = own_certificate();
    let p = plan(&Inputs {
        gateway: Some(managed_gateway("infra", &[])),
        ..inputs(&r, vec![&a])
    });
    // The Gateway is in another namespace than the Route: a ReferenceGrant lets it read the Secret.
    assert_eq!(
        kinds(&p),
        [
            "Secret shop-tls",
            "ReferenceGrant shop-tls",
            "HTTPRoute shop"
        ]
    );
    let grant = p.objects()[1];
    assert_eq!(
        grant["spec"],
        json!({"from": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "namespace": "infra"}],
               "to": [{"group": "", "kind": "Secret", "name": "shop-tls"}]})
    );
    assert_eq!(
        said(&p),
        [
            "check Secret shop-tls for uid-r",
            "check ReferenceGrant shop-tls for uid-r",
            "check HTTPRoute shop for uid-r",
            "apply Secret shop-tls",
            "apply ReferenceGrant shop-tls",
            "finalizer",
            "listener on infra/public",
            "apply HTTPRoute shop (main)",
        ]
    );
    let Some(RouteAction::ApplyListener {
        namespace,
        gateway,
        apply,
    }) = p
        .actions
        .iter()
        .find(|a| matches!(a, RouteAction::ApplyListener { .. }))
    else {
        panic!("no listener applied: {:?}", p.actions);
    };
    assert_eq!((namespace.as_str(), gateway.as_str()), ("infra", "public"));
    assert_eq!(
        apply,
        &json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
            "metadata": {"name": "public", "namespace": "infra"},
            "spec": {"listeners": [{
                "name": "cutover.ns.shop", "hostname": "shop.example.com", "port": 443, "protocol": "HTTPS",
                "tls": {"mode": "Terminate", "certificateRefs": [{"group": "", "kind": "Secret", "namespace": "ns", "name": "shop-tls"}]},
                "allowedRoutes": {
                    "namespaces": {"from": "Selector", "selector": {"matchLabels": {"kubernetes.io/metadata.name": "ns"}}},
                    "kinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}]
                }
            }]}
        })
    );
    assert_eq!(
        sections(p.main().expect("main")),
        ["Gateway/cutover.ns.shop"]
    );
    let applied = accepted(&p);
    let p = plan(&Inputs {
        gateway: Some(managed_gateway("infra", &[])),
        applied: Some(&applied),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(admitted(&p), ("True", ""));
    assert_eq!(
        p.status.ingress[0].conditions[0].message,
        "served with the route's own certificate (Secret shop-tls) on Gateway infra/public listener cutover.ns.shop"
    );

    // A Gateway of the Route's own namespace needs no grant.
    let p = plan(&Inputs {
        gateway: Some(managed_gateway("ns", &[])),
        gateway_ref: GatewayRef::parse("public"),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(kinds(&p), ["Secret shop-tls", "HTTPRoute shop"]);
}

/// The listeners cutover adds are never another Route's to attach to, and go when their Route
/// stops asking (its certificate removed, another Gateway) or goes; its finalizer then goes.
#[test]
fn a_routes_listener_goes_when_it_is_no_longer_wanted_and_before_the_route_does() {
    let a = service("a", json!([{"port": 80}]));
    let mine = json!({"name": "cutover.ns.shop", "protocol": "HTTPS", "port": 443, "hostname": "shop.example.com"});
    let gw = managed_gateway("infra", &[mine]);
    assert_eq!(
        gw.listeners_for(gateway::Protocol::Https, "shop.example.com")
            .iter()
            .map(|l| l.name.as_str())
            .collect::<Vec<_>>(),
        ["websecure"],
        "a Route's listener is not the Gateway's to offer"
    );
    let mut r = own_certificate();
    r.metadata.finalizers = Some(vec!["route.cutover.io/gateway-listener".into()]);
    let held = vec![
        ("infra".to_string(), "public".to_string()),
        ("infra".to_string(), "old".to_string()),
    ];
    // Still wanted on infra/public: kept there (applied again), taken off infra/old.
    let p = plan(&Inputs {
        gateway: Some(gw.clone()),
        listeners_held: held.clone(),
        ..inputs(&r, vec![&a])
    });
    assert_eq!(
        said(&p)[3..],
        [
            "apply Secret shop-tls",
            "apply ReferenceGrant shop-tls",
            "listener on infra/public",
            "apply HTTPRoute shop (main)",
            "remove listener cutover.ns.shop from infra/old",
        ]
    );
    // Its certificate removed: served with the Gateway's, its listeners go, then its finalizer.
    let mut plain = r.clone();
    if let Some(t) = plain.spec.tls.as_mut() {
        (t.certificate, t.key) = (None, None);
    }
    let p = plan(&Inputs {
        gateway: Some(gw.clone()),
        listeners_held: held.clone(),
        ..inputs(&plain, vec![&a])
    });
    assert_eq!(sections(p.main().expect("main")), ["Gateway/websecure"]);
    assert_eq!(
        said(&p)[2..],
        [
            "remove listener cutover.ns.shop from infra/public",
            "remove listener cutover.ns.shop from infra/old",
            "no finalizer",
        ]
    );
    // Deleted: the same, and nothing else.
    assert_eq!(
        departing(&r, &held[..1]),
        [
            RouteAction::RemoveListener {
                namespace: "infra".into(),
                gateway: "public".into(),
                name: "cutover.ns.shop".into()
            },
            RouteAction::RemoveFinalizer
        ]
    );
    // A Route without the finalizer (another's) has nothing of cutover's to release.
    let mut other = r.clone();
    other.metadata.finalizers = Some(vec!["example.com/keep".into()]);
    assert!(departing(&other, &[]).is_empty());
}

/// A listener's name is a SectionName: at most 253 characters, dot-separated labels.
#[test]
fn a_route_listener_name_reads_back_and_fits_a_section_name() {
    assert_eq!(
        manifest::route_listener_name("shop", "web.v2"),
        "cutover.shop.web.v2"
    );
    let long = "a".repeat(240);
    let name = manifest::route_listener_name("shop", &format!("x.{long}"));
    assert!(name.len() <= 253, "{}", name.len());
    assert!(name.starts_with("cutover.shop.x.a"));
    assert!(!name.contains(".-") && !name.contains("-."), "{name}");
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
