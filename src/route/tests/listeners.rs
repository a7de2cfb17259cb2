//! A Route's own certificate on a listener of its own that cutover adds to a Gateway annotated
//! `cutover.io/manage-listeners` (for implementations without ListenerSet): the listener, its
//! grant and finalizer, and how it goes.

use super::*;

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
