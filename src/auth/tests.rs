//! Gate decisions against a real tokens file and live configuration.

use super::*;
use crate::config::{Source, parse_str};

const VIEWER: &str = "viewer-secret";
const ADMIN: &str = "admin-secret";

fn gate(extra: &str) -> (tempfile::TempDir, Arc<Gate>, ConfigHandle, Observers) {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.toml");
    let body = format!(
        "[[tokens]]\nname = \"watcher\"\nrole = \"viewer\"\nsha256 = \"{}\"\n\
         [[tokens]]\nname = \"root\"\nrole = \"admin\"\nsha256 = \"{}\"\n\
         [[clients]]\nname = \"agent.fleet\"\nrole = \"viewer\"\n",
        hash_token(VIEWER),
        hash_token(ADMIN)
    );
    std::fs::write(&tokens, body).unwrap();
    let text = format!("version = 1\n[auth]\ntokens_file = {:?}\n{extra}", tokens.display());
    let handle = ConfigHandle::new(parse_str(&text, Source::Inline, []).unwrap());
    let observers = Observers::default();
    let gate = Gate::start(&handle, &observers, Default::default()).unwrap();
    (dir, gate, handle, observers)
}

fn call<'a>(authorization: Option<&'a str>, required: Option<Role>) -> Call<'a> {
    Call {
        method: "rebound.v1.X/Y",
        authorization,
        certificate: None,
        peer: "10.0.0.1:5".into(),
        required,
        limit: None,
    }
}

fn code(result: Result<Principal, Box<Refusal>>) -> Result<String, String> {
    result.map(|p| p.name).map_err(|r| format!("{:?}", std::mem::discriminant(&r.error)))
}

#[test]
fn no_tokens_file_means_everyone_is_anonymous() {
    let handle = ConfigHandle::new(crate::config::load(None, []).unwrap());
    let gate = Gate::start(&handle, &Observers::default(), Default::default()).unwrap();
    assert!(!gate.enabled());
    let principal = gate.admit(call(None, Some(Role::Admin))).unwrap();
    assert_eq!((principal.name.as_str(), principal.role), ("peer:10.0.0.1:5", None));
}

#[test]
fn tokens_are_checked_and_roles_enforced() {
    let (_dir, gate, _, _) = gate("");
    assert!(gate.enabled());
    let denied = |auth, role| gate.admit(call(auth, Some(role))).unwrap_err().error;
    assert!(matches!(denied(None, Role::Viewer), Error::Unauthenticated(_)));
    assert!(matches!(denied(Some("Bearer nope"), Role::Viewer), Error::Unauthenticated(_)));
    assert!(matches!(denied(Some("Basic abc"), Role::Viewer), Error::Unauthenticated(_)));
    let bearer = format!("Bearer {VIEWER}");
    let refusal = gate.admit(call(Some(&bearer), Some(Role::Operator))).unwrap_err();
    assert!(matches!(refusal.error, Error::PermissionDenied(_)));
    assert_eq!(refusal.principal.name, "watcher", "the refused caller is named for the audit");
    assert_eq!(code(gate.admit(call(Some(&bearer), Some(Role::Viewer)))), Ok("watcher".into()));
    let admin = format!("bearer {ADMIN}");
    assert_eq!(code(gate.admit(call(Some(&admin), Some(Role::Operator)))), Ok("root".into()));
    // Open calls never fail, and are named when a valid token comes along.
    assert_eq!(code(gate.admit(call(None, None))), Ok("peer:10.0.0.1:5".into()));
    assert_eq!(code(gate.admit(call(Some(&admin), None))), Ok("root".into()));
}

#[test]
fn listed_certificates_get_their_role_and_a_token_takes_precedence() {
    let (_dir, gate, _, _) = gate("");
    let listed = ClientCert { identity: Some("agent.fleet".into()) };
    let unlisted = ClientCert { identity: Some("stranger".into()) };
    let unnamed = ClientCert { identity: None };
    let with = |certificate, authorization, role| Call {
        certificate: Some(certificate),
        ..call(authorization, Some(role))
    };
    let principal = gate.admit(with(&listed, None, Role::Viewer)).unwrap();
    assert_eq!((principal.name.as_str(), principal.role), ("cert:agent.fleet", Some(Role::Viewer)));
    let refusal = gate.admit(with(&listed, None, Role::Operator)).unwrap_err();
    assert!(matches!(refusal.error, Error::PermissionDenied(_)));
    assert_eq!(refusal.principal.name, "cert:agent.fleet");

    let refusal = gate.admit(with(&unlisted, None, Role::Viewer)).unwrap_err();
    assert!(matches!(&refusal.error, Error::Unauthenticated(m) if m.contains("\"stranger\"")));
    assert_eq!(refusal.principal.name, "cert:stranger", "the refused identity is audited");
    let refusal = gate.admit(with(&unnamed, None, Role::Viewer)).unwrap_err();
    assert!(matches!(&refusal.error, Error::Unauthenticated(m) if m.contains("no identity")));

    let admin = format!("Bearer {ADMIN}");
    assert_eq!(code(gate.admit(with(&unlisted, Some(&admin), Role::Admin))), Ok("root".into()));
    let wrong = gate.admit(with(&listed, Some("Bearer nope"), Role::Viewer)).unwrap_err();
    assert!(matches!(wrong.error, Error::Unauthenticated(_)), "a bad token is not excused");
}

#[test]
fn restarts_are_limited_per_principal() {
    let (_dir, gate, _, _) = gate("[rate_limit]\nrestarts_per_minute = 1\n");
    let admin = format!("Bearer {ADMIN}");
    let restart = || Call { limit: Some(Class::Restart), ..call(Some(&admin), Some(Role::Admin)) };
    assert!(gate.admit(restart()).is_ok());
    let refusal = gate.admit(restart()).unwrap_err();
    match refusal.error {
        Error::RateLimited { retry_after, .. } => assert!(retry_after <= WINDOW),
        other => panic!("{other:?}"),
    }
}

#[test]
fn reload_rereads_the_file_and_a_bad_file_keeps_the_old_tokens() {
    let (dir, gate, handle, observers) = gate("");
    let observer = observers.all().pop().unwrap();
    let config = handle.config();
    let path = dir.path().join("tokens.toml");
    std::fs::write(
        &path,
        format!(
            "[[tokens]]\nname = \"new\"\nrole = \"viewer\"\nsha256 = \"{}\"\n",
            hash_token("n")
        ),
    )
    .unwrap();
    observer.refresh(&config).unwrap();
    assert!(gate.admit(call(Some("Bearer n"), Some(Role::Viewer))).is_ok());
    let old = format!("Bearer {VIEWER}");
    assert!(gate.admit(call(Some(&old), Some(Role::Viewer))).is_err(), "rotated out");
    std::fs::write(&path, "[[tokens]]\nname = 1\n").unwrap();
    assert!(observer.refresh(&config).unwrap_err().contains("tokens.toml"));
    assert!(gate.admit(call(Some("Bearer n"), Some(Role::Viewer))).is_ok(), "old tokens kept");
}

#[test]
fn an_empty_tokens_file_is_refused_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tokens.toml");
    std::fs::write(&path, "# nobody yet\n").unwrap();
    let config = |extra: &str| {
        let text = format!("version = 1\n[auth]\ntokens_file = {:?}\n{extra}", path.display());
        ConfigHandle::new(parse_str(&text, Source::Inline, []).unwrap())
    };
    let refused = Gate::start(&config(""), &Observers::default(), Default::default())
        .err()
        .unwrap()
        .to_string();
    assert!(refused.contains("tokens.toml") && refused.contains("allow_empty_tokens"), "{refused}");
    let allowed = Gate::start(
        &config("allow_empty_tokens = true"),
        &Observers::default(),
        Default::default(),
    )
    .unwrap();
    assert!(allowed.enabled(), "allowed: on, and nobody gets in");
    assert!(allowed.admit(call(Some("Bearer x"), Some(Role::Viewer))).is_err());

    let (dir, gate, handle, observers) = gate("");
    let observer = observers.all().pop().unwrap();
    std::fs::write(dir.path().join("tokens.toml"), "").unwrap();
    let reason = observer.refresh(&handle.config()).unwrap_err();
    assert!(reason.contains("no [[tokens]] or [[clients]]"), "{reason}");
    let old = format!("Bearer {VIEWER}");
    assert!(gate.admit(call(Some(&old), Some(Role::Viewer))).is_ok(), "old tokens kept");
    std::fs::write(
        dir.path().join("tokens.toml"),
        "[[clients]]\nname = \"a\"\nrole = \"viewer\"\n",
    )
    .unwrap();
    observer.refresh(&handle.config()).expect("clients only is not empty");
}
